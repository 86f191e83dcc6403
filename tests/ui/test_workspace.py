"""The workspace booted for real against a seeded database, driven with Pilot."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.ui.conftest import HOSTILE, screen_text, until_ready, wait_for, write_event
from textual.widget import Widget

from pcso_tui.app import PcsoApp
from pcso_tui.domain.core.event_kinds import ArticleAttached
from pcso_tui.screens.agent import AgentScreen
from pcso_tui.screens.connecting import ConnectingScreen
from pcso_tui.screens.dashboard import DashboardScreen
from pcso_tui.screens.help import HelpScreen, key_words
from pcso_tui.screens.manager import ManagerScreen
from pcso_tui.screens.operator import OperatorScreen
from pcso_tui.screens.portal import PortalScreen
from pcso_tui.widgets.event_ticker import EventTicker
from pcso_tui.widgets.feed import EventsArrived
from pcso_tui.widgets.header import WorkspaceHeader

LANDING = [
    ("admin", "operator", OperatorScreen, "Ada Admin"),
    ("operator", "operator", OperatorScreen, "Olive Operator"),
    ("agent", "agent", AgentScreen, "Aggie Agent"),
    ("manager", "manager", ManagerScreen, "Manny Manager"),
    ("customer", "portal", PortalScreen, "Cora Customer"),
]


def ticker_kinds(app: PcsoApp) -> list[str]:
    """The event kinds the screen's ticker shows; screens without one (agent, manager): the
    events the App handed out, newest first."""
    tickers = app.screen.query(EventTicker)
    if tickers:
        return [line.kind for line in tickers.first().lines]
    return [event.kind for event in reversed(app.recent_events)]


@pytest.mark.parametrize(("user", "mode", "screen_type", "display"), LANDING)
async def test_each_role_lands_on_its_mode(any_world_url, make_app, user, mode, screen_type, display) -> None:
    app = make_app(any_world_url, user)
    async with app.run_test(size=(80, 24)) as pilot:
        assert isinstance(app.screen, ConnectingScreen)  # the first frame, before the database opens
        await until_ready(pilot)
        assert app.current_mode == mode
        assert type(app.screen) is screen_type
        header = app.screen.query_one(WorkspaceHeader)
        assert (header.user, header.role) == (display, app.session.actor.role.value)
        assert "● live" in screen_text(app)
        kinds = ticker_kinds(app)
        if user == "customer":
            # The event log spans every account: a customer sees none of it here.
            assert kinds == []
        else:
            assert kinds[:3] == ["case.opened", "incident.opened", "alert.opened"]  # newest first


async def test_an_unknown_user_gets_one_clear_line_and_exit_code_8(world_url, make_app) -> None:
    app = make_app(world_url, "nobody")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.failure is not None, what="sign-in to fail")
        screen = app.screen
        assert isinstance(screen, ConnectingScreen)
        assert screen.status == (
            "pcso: no pcso user named 'nobody': ask an admin to run `pcso users add nobody --role agent`"
        )
        await pilot.pause()
        assert "Press q to quit." in screen_text(app)
        assert app.session is None
        await pilot.press("q")
    assert app.return_code == 8


async def test_help_lists_every_key_of_the_screen_and_app(world_url, make_app) -> None:
    app = make_app(world_url, "operator")
    async with app.run_test(size=(80, 24)) as pilot:
        await until_ready(pilot)
        mode_screen = app.screen
        expected = {
            key_words(app.get_key_display(active.binding))
            for active in mode_screen.active_bindings.values()
            if not active.binding.system and active.binding.action != "mode_closed"
        } - {None}
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), what="the help screen")
        listed = app.screen.listed()
        shown_keys = {key for keys, _, _ in listed for key in keys.split(" / ")}
        assert expected <= shown_keys
        described = {what for _, what, _ in listed}
        assert {"Help", "Quit", "Dashboard", "Command palette"} <= described
        assert ("? / F1", "Help", "Everywhere") in listed
        # Modes this user may not open are not offered; the one shown is listed.
        assert "Agent" not in described and "Manager" not in described
        assert ("F2", "Operator (this screen)", "Everywhere") in listed
        # In the user's words: no widget class, no key a terminal never sends.
        text = " ".join(" ".join(row) for row in listed)
        for internal in ("FixedWidthTable", "SafeTable", "AlertTable", "super+", "^c", "Focus Next"):
            assert internal not in text, internal
        assert ("Ctrl+C", "Copy the selected text", "This screen") in listed or "Ctrl+C" not in text
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is mode_screen, what="help to close")


async def test_palette_switches_theme_and_the_choice_is_remembered(world_url, make_app, state_file: Path) -> None:
    app = make_app(world_url, "operator")
    async with app.run_test(size=(80, 24)) as pilot:
        await until_ready(pilot)
        assert app.theme == "pcso-dark"
        await pilot.press("ctrl+p")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "CommandPalette", what="the palette")
        await pilot.press(*"theme pcso-light")
        palette = app.screen

        def first_hit_is_light() -> bool:
            from textual.command import CommandList

            options = palette.query_one(CommandList)
            return options.option_count > 0 and "pcso-light" in str(options.get_option_at_index(0).prompt)

        await wait_for(pilot, first_hit_is_light, what="the theme command")
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.theme == "pcso-light", what="the theme to change")
    assert json.loads(state_file.read_text()) == {"theme": "pcso-light"}

    again = make_app(world_url, "operator")
    async with again.run_test(size=(80, 24)) as pilot:
        await until_ready(pilot)
        assert again.theme == "pcso-light"


async def test_outside_demo_worlds_everyone_stays_in_their_role(world_url, make_app) -> None:
    app = make_app(world_url, "operator")
    async with app.run_test(size=(80, 24)) as pilot:
        await until_ready(pilot)
        assert app.check_action("switch_to", ("agent",)) is False
        await pilot.press("f3", "f4", "f5")  # agent, manager, portal: not for an operator
        await pilot.pause()
        assert app.current_mode == "operator"
        await app.run_action("switch_to('manager')")
        assert app.current_mode == "operator"
        assert app.session.actor.name == "operator"
        # Any staff member may open the dashboard, and come back.
        await pilot.press("f6")
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen), what="the dashboard")
        await pilot.press("f2")
        await wait_for(pilot, lambda: isinstance(app.screen, OperatorScreen), what="the operator screen")


def notes(app) -> list[str]:
    return [str(n.message) for n in app._notifications]


async def test_a_key_for_a_closed_screen_says_why_at_once(world_url, make_app) -> None:
    app = make_app(world_url, "agent")
    async with app.run_test(size=(80, 24)) as pilot:
        await until_ready(pilot)
        await pilot.press("f4")
        await wait_for(pilot, lambda: notes(app), what="the message")
        assert notes(app) == ["F4 (Major cases) is the major case manager's screen; you are signed in as an agent"]
        assert app.current_mode == "agent"
        await pilot.press("f2")
        await wait_for(pilot, lambda: len(notes(app)) == 2, what="the second message")
        assert notes(app)[1].startswith("F2 (Operator) is the NOC operator's screen")
        await pilot.press("f3")  # the screen shown: nothing to say
        await pilot.pause()
        assert len(notes(app)) == 2


async def test_an_admin_opens_the_staff_screens_and_is_told_about_the_portal(world_url, make_app) -> None:
    app = make_app(world_url, "admin")
    async with app.run_test(size=(80, 24)) as pilot:
        await until_ready(pilot)
        assert app.current_mode == "operator"
        # The other screens share one footer entry, so the footer keeps q Quit at 80 columns.
        await wait_for(pilot, lambda: "F3 F4 F6 screens q Quit" in screen_text(app).splitlines()[-1], what="footer")
        await pilot.press("f3")
        await wait_for(pilot, lambda: isinstance(app.screen, AgentScreen), what="the agent screen")
        await pilot.press("f4")
        await wait_for(pilot, lambda: isinstance(app.screen, ManagerScreen), what="the manager screen")
        assert app.session.actor.name == "admin"  # as themselves: no persona outside demo worlds
        await pilot.press("f5")
        await wait_for(pilot, lambda: notes(app), what="the message")
        assert notes(app)[0].startswith("F5 (Customer portal) is the customer's portal; you are signed in as an admin")
        assert isinstance(app.screen, ManagerScreen)


async def test_a_customer_cannot_open_the_dashboard(world_url, make_app) -> None:
    app = make_app(world_url, "customer")
    async with app.run_test(size=(80, 24)) as pilot:
        await until_ready(pilot)
        await pilot.press("f6", "f2")
        await pilot.pause()
        assert app.current_mode == "portal"
        assert app.check_action("switch_to", ("dashboard",)) is False


async def test_demo_worlds_switch_role_and_persona(demo_url, make_app) -> None:
    app = make_app(demo_url, "operator")
    async with app.run_test(size=(80, 24)) as pilot:
        await until_ready(pilot)
        await pilot.press("f4")
        await wait_for(pilot, lambda: isinstance(app.screen, ManagerScreen), what="the manager screen")
        actor = app.session.actor
        assert (actor.name, actor.role.value, actor.impersonator) == ("maria", "manager", "operator")
        assert app.screen.query_one(WorkspaceHeader).user == "Maria Santos (via operator)"
        await pilot.press("f5")
        await wait_for(pilot, lambda: isinstance(app.screen, PortalScreen), what="the portal")
        assert (app.session.actor.name, app.session.actor.role.value) == ("carl", "customer")
        # Back to the operator screen: rebuilt for the operator persona, not the customer's.
        await pilot.press("f2")
        await wait_for(pilot, lambda: isinstance(app.screen, OperatorScreen), what="the operator screen")
        assert (app.session.actor.name, app.session.actor.role.value) == ("olivia", "operator")
        assert app.screen.query_one(WorkspaceHeader).role == "operator"


async def test_the_ticker_shows_an_event_written_elsewhere_within_a_second(any_world_url, make_app) -> None:
    app = make_app(any_world_url, "operator")
    async with app.run_test(size=(80, 24)) as pilot:
        await until_ready(pilot)
        await pilot.press("4")  # the operator's Feed view: the ticker in front
        await write_event(any_world_url, ArticleAttached(article="KB0000001", title="Printer on fire"))
        # The one-second latency itself is checked on the follower across processes
        # (tests/domain/test_events.py); here, on a loaded test machine, that the screen shows it.
        await wait_for(
            pilot, lambda: "article.attached" in ticker_kinds(app), timeout=5.0, what="the event in the ticker"
        )
        line = app.screen.query_one(EventTicker).lines[0]
        assert (line.actor, line.kind, line.subject) == ("elsewhere", "article.attached", "CS0000007 Printer on fire")
        assert "CS0000007 Printer on fire" in screen_text(app)


async def test_the_feed_survives_mode_changes(world_url, make_app) -> None:
    app = make_app(world_url, "operator")
    async with app.run_test(size=(80, 24)) as pilot:
        await until_ready(pilot)
        home_screen = app.screen
        await pilot.press("f6")
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen), what="the dashboard")
        await write_event(world_url, ArticleAttached(article="KB0000001", title="while on the dashboard"))
        await wait_for(pilot, lambda: "article.attached" in ticker_kinds(app), what="the event on the dashboard")
        # The suspended home screen got it too.
        kinds = [line.kind for line in home_screen.query_one(EventTicker).lines]
        assert kinds[0] == "article.attached"


class FeedProbe(Widget):
    """Records every feed message it is handed."""

    def __init__(self) -> None:
        super().__init__()
        self.received: list[list[int]] = []

    def on_events_arrived(self, message: EventsArrived) -> None:
        self.received.append([e.id for e in message.events])


async def test_bursts_coalesce_into_few_messages_in_order(world_url, make_app) -> None:
    app = make_app(world_url, "operator")
    async with app.run_test(size=(80, 24)) as pilot:
        await until_ready(pilot)
        probe = FeedProbe()
        await app.screen.mount(probe)
        app.subscribe_events(probe)
        for n in range(10):
            await write_event(world_url, ArticleAttached(article="KB0000001", title=f"burst {n}"))
        await wait_for(pilot, lambda: sum(map(len, probe.received)) >= 10, what="the burst")
        ids = [i for batch in probe.received for i in batch]
        assert ids == sorted(ids) and len(ids) == 10
        # Ten commits, one after the other: the feed hands them over in a few batches.
        assert len(probe.received) < 10
        assert app.recent_events[-1].payload["title"] == "burst 9"


def test_queued_feed_messages_merge_without_losing_events() -> None:
    from datetime import UTC, datetime

    from pcso_tui.domain.core.views import EventView

    def event(n: int) -> EventView:
        return EventView(n, datetime(2026, 1, 1, tzinfo=UTC), "x", None, "k", "case", n)

    older, newer = EventsArrived([event(1), event(2)]), EventsArrived([event(3)])
    assert older.can_replace(newer) is True
    assert [e.id for e in newer.events] == [1, 2, 3]


async def test_hostile_names_and_payloads_are_shown_literally(world_url, make_app) -> None:
    app = make_app(world_url, "mallory")
    async with app.run_test(size=(80, 24)) as pilot:
        await until_ready(pilot)
        await pilot.press("4")  # the operator screen's live feed view
        await write_event(world_url, ArticleAttached(article="KB0000001", title="[bold]boom[/ \x1b[2J"))
        await wait_for(pilot, lambda: "article.attached" in ticker_kinds(app), what="the hostile event")
        header = app.screen.query_one(WorkspaceHeader)
        assert header.user == HOSTILE
        assert app.screen.query_one(EventTicker).lines[0].subject == "CS0000007 [bold]boom[/ \\x1b[2J"
        await pilot.pause()
        text = screen_text(app)
        assert "\x1b" not in text
        assert "[bold]Mal[/ \\x1b[2J" in text  # the display name, in the header and the intro
        assert "CS0000007 [bold]boom[/ \\x1b[2J" in text  # the payload, in the ticker


async def test_a_broken_config_file_is_named_on_the_first_screen(world_url, make_app, tmp_path: Path) -> None:
    config = tmp_path / "broken.toml"
    config.write_text("[workflow]\naccount_treshold = 3\n")
    app = make_app(world_url, "operator")
    app.connection.config_option = config
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.failure is not None, what="the config error")
        assert isinstance(app.screen, ConnectingScreen)
        assert "unknown key 'account_treshold'" in app.screen.status
        assert app.domain is None  # the database was never opened
        await pilot.press("q")
    assert app.return_code == 6


async def test_the_palette_offers_what_fits_here_and_what_the_screen_adds(world_url, make_app) -> None:
    from pcso_tui.widgets.palette import PaletteCommand, WorkspaceCommands

    app = make_app(world_url, "agent")
    async with app.run_test(size=(80, 24)) as pilot:
        await until_ready(pilot)
        acknowledged: list[bool] = []
        app.screen.palette_commands = lambda: [  # type: ignore[method-assign]
            PaletteCommand("Case: take [bold]next[/]", "Take the next case", lambda: acknowledged.append(True))
        ]
        provider = WorkspaceCommands(app.screen)
        offered = [hit.text async for hit in provider.discover()]
        assert "Open: Dashboard" in offered and "Open: Operator" not in offered  # not an agent's mode
        assert "Theme: pcso-light" in offered and "Theme: pcso-dark" not in offered  # the current one
        assert {"Help: keys", "Quit", "Case: take [bold]next[/]"} <= set(offered)
        hits = [hit async for hit in provider.search("take next")]
        assert [hit.text for hit in hits] == ["Case: take [bold]next[/]"]
        assert "[bold]" in hits[0].prompt.plain  # the name is text, not markup
        hits[0].command()
        assert acknowledged == [True]


async def test_the_header_says_stale_while_the_feed_fails_and_live_again_after(
    world_url, make_app, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pcso_tui.domain.core.feed import EventFollower

    app = make_app(world_url, "operator")
    async with app.run_test(size=(80, 24)) as pilot:
        await until_ready(pilot)
        healthy = EventFollower.poll

        async def failing(self: EventFollower) -> list:
            raise OSError("disk I/O error")

        monkeypatch.setattr(EventFollower, "poll", failing)
        await wait_for(pilot, lambda: app.feed_state == "stale", what="the feed to go stale")
        await pilot.pause()
        assert "◌ stale" in screen_text(app)
        monkeypatch.setattr(EventFollower, "poll", healthy)
        await wait_for(pilot, lambda: app.feed_state == "live", what="the feed to recover")
        await write_event(world_url, ArticleAttached(article="KB0000001", title="after the outage"))
        await wait_for(pilot, lambda: "article.attached" in ticker_kinds(app), what="events to flow again")


async def test_the_help_of_a_screen_opened_on_top_is_titled_after_it(world_url, make_app) -> None:
    from pcso_tui.screens.outbox import OutboxScreen

    app = make_app(world_url, "manager")
    async with app.run_test(size=(80, 24)) as pilot:
        await until_ready(pilot)
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), what="the help")
        assert app.screen.title_text == "Keys — Major cases"
        await pilot.press("escape")
        await pilot.press("o")
        await wait_for(pilot, lambda: isinstance(app.screen, OutboxScreen), what="the outbox")
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), what="the outbox's help")
        assert app.screen.title_text == "Keys — Outbox"
