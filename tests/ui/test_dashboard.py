"""The dashboard screen driven with keys, on the hand-built history of
``tests.domain.test_dashboard`` (now: Monday 2026-11-23 09:00 UTC): period changes show the
known figures, the drill-down lists as many records as the KPI counts, the screen shows what
``pcso report`` prints, and a new event elsewhere refreshes the figures."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from click.testing import CliRunner
from tests.domain.test_dashboard import HOSTILE
from tests.identity import signed_in_as
from tests.ui.conftest import screen_text, until_ready, wait_for
from tests.ui.dashboard_world import add_history, board, open_proactive_case_elsewhere
from textual.pilot import Pilot
from textual.widgets import Static

from pcso_tui.app import PcsoApp
from pcso_tui.cli import main
from pcso_tui.domain.reporting.dashboard import KPI_BY_KEY, KPIS
from pcso_tui.screens.dashboard import DashboardScreen, DrillDownScreen
from pcso_tui.screens.help import HelpScreen
from pcso_tui.widgets.kpi import bar, change_text, fit_title, records_text, sparkline

KEYS = [k.key for k in KPIS]


def dashboard_of(app: PcsoApp) -> DashboardScreen:
    for screen in app.screen_stack:
        if isinstance(screen, DashboardScreen):
            return screen
    raise AssertionError("no dashboard on the stack")


async def opened(pilot: Pilot[Any], user: str = "manager") -> DashboardScreen:
    """Sign in, press F6, wait for the first figures."""
    app = pilot.app
    await until_ready(pilot)
    if not isinstance(app.screen, DashboardScreen):
        await pilot.press("f6")
    await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen), what="the dashboard")
    screen = app.screen
    assert isinstance(screen, DashboardScreen)
    await wait_for(pilot, lambda: screen.board is not None, what="the first figures")
    await pilot.pause()
    return screen


async def settled(pilot: Pilot[Any], screen: DashboardScreen, label: str) -> None:
    """Wait until the figures of the period ``label`` are on screen and nothing is pending."""
    await wait_for(
        pilot,
        lambda: (
            screen.board is not None
            and screen.board.current.label == label
            and not screen.refresher.running
            and screen.refresher.timer is None
        ),
        what=f"the figures of {label}",
    )
    await pilot.pause()


def shown(screen: DashboardScreen, key: str) -> tuple[str, str]:
    """(value, records) as the KPI's row shows them."""
    row = screen.table.row_plain(key)
    return row[1], row[2]


def focus_text(screen: DashboardScreen) -> str:
    """The focused KPI's panel (title, figure, parts, definition), unwrapped."""
    content = screen.query_one("#kpi-detail", Static).content
    return getattr(content, "plain", str(content))


def row_of(screen: DashboardScreen) -> dict[str, tuple[str, ...]]:
    return {key: screen.table.row_plain(key) for key in KEYS}


async def test_every_kpi_is_shown_with_its_trend_and_definition(world_url, make_app) -> None:
    await add_history(world_url)
    app = make_app(world_url, "manager")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await opened(pilot)
        assert screen.board is not None and screen.board.current.label == "2026-11"
        assert screen.table.row_keys() == KEYS
        # November, worked out in tests/domain/test_dashboard.py.
        assert shown(screen, "proactive_cases") == ("3", "3")
        assert shown(screen, "promoted_to_major") == ("33.3%", "1/3")
        assert shown(screen, "affected_accounts") == ("5", "5")
        assert shown(screen, "alerts_to_proactive") == ("33.3%", "2/6")
        assert shown(screen, "active_outages_per_day") == ("0.78", "18/23")
        assert shown(screen, "outage_duration") == ("6.7 h", "3")
        assert shown(screen, "open_outages") == ("3", "3")
        assert shown(screen, "alert_to_notice_p90") == ("106.0 min", "3")
        assert shown(screen, "mttr") == ("14.0 h", "3")
        assert shown(screen, "children_per_major") == ("2.50", "10/4")
        # Trend: seven periods, May to November; the change from October, glyph and figure.
        rows = row_of(screen)
        assert rows["proactive_cases"][3] == "▁▁▁▁▁▆█" and rows["proactive_cases"][4] == "▲ +1"
        assert rows["promoted_to_major"][3] == "·····█▆" and rows["promoted_to_major"][4] == "▼ -16.7 pt"
        assert rows["mttr"][4] == ""  # October had nothing to measure
        # The highlighted KPI's definition, the same text as docs/dashboard.md and pcso report.
        text = screen_text(app)
        assert "Proactive cases  Established measure" in text
        assert "The number of proactive cases opened in the" in text  # wrapped to the panel
        assert focus_text(screen).count(KPI_BY_KEY["proactive_cases"].definition) == 1
        assert "2026-10    ██████▋    2" in text and "[3 month]" in text and "▶ running" in text
        # Moving down shows the next KPI's definition.
        await pilot.press("down")
        await pilot.pause()
        assert KPI_BY_KEY["promoted_to_major"].definition in focus_text(screen)
        assert "2026-11: 33.3%  —  1 of 3 cases" in focus_text(screen)
        # Top impacted customers: the names are customer text, shown literally.
        await pilot.press(*["down"] * 8)
        await pilot.pause()
        assert screen.selected is not None and screen.selected.key == "top_customers"
        assert " 1. A5 A5 [bold]red[…  2 outages, 15,000 min" in focus_text(screen)
        assert " 5. A2 A2 [bold]red[…  1 outage, 240 min" in focus_text(screen)
        assert "\x1b" not in screen_text(app)


async def test_period_keys_show_the_known_figures(world_url, make_app) -> None:
    await add_history(world_url)
    app = make_app(world_url, "agent")
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await opened(pilot)
        assert screen.check_action("shift", (1,)) is False  # nothing after the running period

        await pilot.press("4")  # quarter
        await settled(pilot, screen, "2026-Q4")
        assert [p.label for p in screen.board.periods][-2:] == ["2026-Q3", "2026-Q4"]
        assert shown(screen, "proactive_cases") == ("5", "5")
        assert shown(screen, "promoted_to_major") == ("40.0%", "2/5")
        assert shown(screen, "affected_items") == ("6", "6")
        assert shown(screen, "active_outages_per_day") == ("0.37", "20/54")
        assert shown(screen, "outage_duration") == ("5.5 h", "4")
        assert shown(screen, "alert_to_notice_median") == ("45.0 min", "4")

        await pilot.press("3", "left_square_bracket")  # October
        await settled(pilot, screen, "2026-10")
        assert shown(screen, "proactive_cases") == ("2", "2")
        assert shown(screen, "promoted_to_major") == ("50.0%", "1/2")
        assert shown(screen, "deflected_calls") == ("1", "1")
        assert shown(screen, "mttr") == ("—", "0")  # nothing resolved: no value, not zero
        assert "■ closed" in screen_text(app)

        await pilot.press("left_square_bracket")  # September
        await settled(pilot, screen, "2026-09")
        assert shown(screen, "open_outages") == ("1", "1")  # O5, open at the end of September
        assert shown(screen, "promoted_to_major") == ("—", "0/0")

        await pilot.press("right_square_bracket", "right_square_bracket")  # back to November
        await settled(pilot, screen, "2026-11")
        assert screen.at is None  # the running period again: it follows the clock
        assert screen.check_action("shift", (1,)) is False

        await pilot.press("2")  # this week: Monday 00:00 to now
        await settled(pilot, screen, "2026-W48")
        assert shown(screen, "alerts_to_proactive") == ("0.0%", "0/1")  # AL10
        assert shown(screen, "active_outages_per_day") == ("3.00", "3/1")
        await pilot.press("left_square_bracket")
        await settled(pilot, screen, "2026-W47")
        assert shown(screen, "active_outages_per_day") == ("1.57", "11/7")

        await pilot.press("1", "t")  # today
        await settled(pilot, screen, "2026-11-23")
        assert shown(screen, "proactive_cases") == ("0", "0")

        # Presses add up at once, without waiting for the figures in between.
        await pilot.press("3", "left_square_bracket", "left_square_bracket", "left_square_bracket")
        assert "[ 2026-08 ]" in screen_text(app)
        await settled(pilot, screen, "2026-08")
        assert shown(screen, "proactive_cases") == ("0", "0")
        assert screen.board.kpi("proactive_cases").series[-3:] == (0.0, 0.0, 0.0)  # June to August


async def test_the_screen_shows_what_pcso_report_prints(world_url, make_app) -> None:
    await add_history(world_url)

    def report() -> Any:
        # A past month: the command runs on the real clock, October's figures do not depend on it.
        env = {"PCSO_CONFIG": "/nonexistent/pcso-config.toml"}
        with signed_in_as("manager"):
            return CliRunner().invoke(
                main, ["--db", world_url, "report", "--at", "2026-10-01", "--format", "json"], env=env
            )

    result = await asyncio.to_thread(report)
    assert result.exit_code == 0, result.output
    printed = {k["key"]: k for k in json.loads(result.stdout)["kpis"]}

    app = make_app(world_url, "manager")
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await opened(pilot)
        await pilot.press("left_square_bracket")
        await settled(pilot, screen, "2026-10")
        domain_board = await board(world_url, "manager", period="month", at=screen.board.current.start)
        for kpi in domain_board.kpis:
            value, records = shown(screen, kpi.key)
            assert (value, records) == (kpi.shown, records_text(kpi.current)), kpi.key
            reported = printed[kpi.key]
            assert (reported["shown"], reported["count"], reported["base"]) == (kpi.shown, kpi.count, kpi.base)
            assert [p["value"] for p in reported["trend"]] == list(kpi.trend_values), kpi.key
            assert screen.board.kpi(kpi.key).definition == reported["definition"]


@pytest.mark.parametrize(
    ("downs", "key", "total"),
    [
        (0, "proactive_cases", 3),
        (1, "promoted_to_major", 1),
        (5, "active_outages_per_day", 18),
        (9, "top_customers", 5),
    ],
)
async def test_drill_down_lists_as_many_records_as_the_kpi_counts(
    world_url, make_app, monkeypatch, messages, downs: int, key: str, total: int
) -> None:
    await add_history(world_url)
    monkeypatch.setattr(DrillDownScreen, "PAGE_SIZE", 5)
    app = make_app(world_url, "manager")
    async with app.run_test(size=(80, 24), message_hook=messages) as pilot:
        dashboard = await opened(pilot)
        for _ in range(downs):
            await pilot.press("down")
        assert dashboard.selected is not None and dashboard.selected.key == key
        expected = dashboard.selected.count
        assert expected == total

        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DrillDownScreen), what="the drill-down")
        drill = app.screen
        assert isinstance(drill, DrillDownScreen)
        await wait_for(pilot, lambda: drill.drill is not None, what="the first page")
        assert drill.drill is not None and drill.drill.total == expected
        # Page through with n: every record once, as many as the KPI counts.
        numbers: list[tuple[str, ...]] = []
        while True:
            numbers += [drill.table.row_plain(k) for k in drill.table.row_keys()]
            assert drill.table.row_count <= 5
            if not drill.check_action("page", (1,)):
                break
            loads = messages.count("dashboard-drill")
            await pilot.press("n")
            await messages.wait(pilot, "dashboard-drill", after=loads, what="the next page")
        assert len(numbers) == expected
        assert len(set(numbers)) == expected
        assert f"{expected} {drill.kpi.drills_to}" in screen_text(app)
        if expected > 5:
            loads = messages.count("dashboard-drill")
            await pilot.press("p")
            await messages.wait(pilot, "dashboard-drill", after=loads, what="the page before")
            assert drill.page_offset == (expected - 1) // 5 * 5 - 5

        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is dashboard, what="back to the dashboard")
        assert dashboard.selected is not None and dashboard.selected.key == key  # the cursor kept its KPI


async def test_drill_down_by_outage_type_and_hostile_text_shown_literally(world_url, make_app, messages) -> None:
    await add_history(world_url)
    app = make_app(world_url, "operator")
    async with app.run_test(size=(80, 24), message_hook=messages) as pilot:
        dashboard = await opened(pilot)
        await pilot.press("enter")  # proactive cases: titles are case text
        await wait_for(pilot, lambda: isinstance(app.screen, DrillDownScreen), what="the drill-down")
        drill = app.screen
        assert isinstance(drill, DrillDownScreen)
        await wait_for(pilot, lambda: drill.drill is not None, what="the records")
        titles = [drill.table.row_plain(k)[1] for k in drill.table.row_keys()]
        assert titles[0] == "P3 [bold]red[/] \\x1b[2J [/"
        assert "\x1b" not in screen_text(app) and "[bold]red[/]" in screen_text(app)
        assert drill.check_action("cycle_part", ()) is False  # only outages by type is split
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is dashboard, what="the dashboard")

        for _ in range(8):
            await pilot.press("down")
        assert dashboard.selected is not None and dashboard.selected.key == "outages_by_type"
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DrillDownScreen), what="the drill-down")
        drill = app.screen
        assert isinstance(drill, DrillDownScreen)
        await wait_for(pilot, lambda: drill.drill is not None, what="the outages")
        assert drill.drill is not None and drill.drill.total == 5
        # t: unplanned (3), planned (1), degradation (1), then all again.
        for part, count in (("unplanned", 3), ("planned", 1), ("degradation", 1), (None, 5)):
            loads = messages.count("dashboard-drill")
            await pilot.press("t")
            await messages.wait(pilot, "dashboard-drill", after=loads, what=f"the {part} outages")
            assert (drill.part, drill.drill.total, drill.expected) == (part, count, count)
            assert drill.table.row_count == count
        assert HOSTILE not in screen_text(app)  # never raw: the escape sequence is made visible


async def test_a_new_event_refreshes_the_figures(any_world_url, make_app, messages) -> None:
    world_url = any_world_url
    await add_history(world_url)
    app = make_app(world_url, "manager")
    async with app.run_test(size=(80, 24), message_hook=messages) as pilot:
        screen = await opened(pilot)
        assert shown(screen, "proactive_cases") == ("3", "3")
        loads = messages.count("dashboard-kpis")
        await open_proactive_case_elsewhere(world_url, "elsewhere [bold]now[/]")
        await wait_for(pilot, lambda: shown(screen, "proactive_cases") == ("4", "4"), what="the new figure")
        assert shown(screen, "promoted_to_major") == ("25.0%", "1/4")
        await messages.wait(pilot, "dashboard-kpis", after=loads, what="the figures shown")
        await pilot.pause()
        assert messages.count("dashboard-kpis") == loads + 1  # one computation for the burst
        assert screen.table.row_keys() == KEYS  # rows updated in place

        # Not in front: the figures wait, and catch up when the dashboard is back.
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DrillDownScreen), what="the drill-down")
        drill = app.screen
        assert isinstance(drill, DrillDownScreen)
        await wait_for(pilot, lambda: drill.drill is not None, what="the records")
        assert drill.drill is not None and drill.drill.total == 4
        await open_proactive_case_elsewhere(world_url, "another")
        await wait_for(pilot, lambda: drill.drill is not None and drill.drill.total == 5, what="the drill-down refresh")
        assert "the dashboard showed 4" in screen_text(app)
        assert shown(screen, "proactive_cases") == ("4", "4")
        await pilot.press("escape")
        await wait_for(pilot, lambda: shown(screen, "proactive_cases") == ("5", "5"), what="the catch-up")


async def test_keys_are_in_the_footer_and_the_help(world_url, make_app) -> None:
    app = make_app(world_url, "agent")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await opened(pilot)
        # An empty database: counts are 0, the rest has nothing to measure.
        assert shown(screen, "proactive_cases") == ("0", "0")
        assert shown(screen, "mttr") == ("—", "0")
        footer = screen_text(app).splitlines()[-1]
        assert "Drill down" in footer and "Prev period" in footer
        await pilot.press("f1")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), what="the help")
        help_screen = app.screen
        assert isinstance(help_screen, HelpScreen)
        described = {row[1] for row in help_screen.listed()}
        # The month is shown and this is the running period: Month, Next period and Now wait.
        assert {"Day", "Week", "Quarter", "Prev period", "Drill down", "Definition", "Recompute"} <= described
        await pilot.press("escape")
        await pilot.press("d")
        await pilot.pause()
        assert screen.query_one("#kpi-focus").has_class("-tall")

        # The palette offers the same: other periods, the period before, the records behind the KPI.
        from pcso_tui.widgets.palette import WorkspaceCommands

        provider = WorkspaceCommands(screen)
        offered = {hit.text: hit async for hit in provider.discover()}
        assert {"Dashboard: by day", "Dashboard: by quarter", "Dashboard: previous period"} <= set(offered)
        assert "Dashboard: by month" not in offered and "Dashboard: next period" not in offered
        offered["Dashboard: by quarter"].command()
        await settled(pilot, screen, "2026-Q4")
        offered = {hit.text: hit async for hit in provider.discover()}
        offered["Dashboard: records behind Proactive cases"].command()
        await wait_for(pilot, lambda: isinstance(app.screen, DrillDownScreen), what="the drill-down")
        drill = app.screen
        assert isinstance(drill, DrillDownScreen)
        assert (drill.kpi.key, drill.period.label) == ("proactive_cases", "2026-Q4")


async def test_a_refusal_is_a_notification(world_url, make_app, monkeypatch) -> None:
    from pcso_tui.domain.core.errors import InvalidInput
    from pcso_tui.domain.reporting import dashboard

    async def refuse(*args: Any, **kw: Any) -> Any:
        raise InvalidInput("no figures [bold]today[/]")

    app = make_app(world_url, "manager")
    async with app.run_test(size=(80, 24)) as pilot:
        await until_ready(pilot)
        monkeypatch.setattr(dashboard, "kpis", refuse)
        await pilot.press("f6")
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen), what="the dashboard")
        await wait_for(pilot, lambda: any("no figures" in str(n.message) for n in app._notifications), what="a note")
        assert "computing…" in screen_text(app)


def test_trends_and_changes_read_without_colour_and_in_ascii() -> None:
    assert sparkline([None, 0.0, 1.0, 2.0, 4.0], ascii=False) == "·▁▃▅█"
    assert sparkline([None, 0.0, 1.0, 2.0, 4.0], ascii=True) == " _-=#"
    assert sparkline([0.0, 0.0], ascii=False) == "▁▁"
    assert change_text(50.0, 33.3333, "%", ascii=False) == "▼ -16.7 pt"
    assert change_text(2.0, 3.0, "cases", ascii=True) == "^ +1"
    assert change_text(3.0, 3.0, "h", ascii=True) == "= 0"
    assert change_text(None, 3.0, "h") == ""
    assert bar(1.0, 2.0, 10, ascii=False) == "█████"
    assert bar(1.0, 16.0, 10, ascii=False) == "▋"
    assert bar(1.0, 2.0, 10, ascii=True) == "#####"
    assert bar(0.0, 2.0, 10) == ""
    # Titles cut to the column keep what tells similar KPIs apart.
    assert fit_title("First alert to first notice (median)", 29) == "First alert to firs… (median)"
    assert fit_title("First alert to first notice (p90)", 29) == "First alert to first n… (p90)"
    assert fit_title("Alerts that led to a proactive case", 29) == "Alerts that led to a proacti…"
    assert fit_title("Proactive cases", 29) == "Proactive cases"
