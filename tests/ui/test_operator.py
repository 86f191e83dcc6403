"""The operator screen driven with keys: alert → incident → note/ETA → proactive case, live rows,
filter and search, hostile text, and the page bound with 10,000 open alerts."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from tests.conftest import FROZEN_AT
from tests.ui.conftest import Messages, screen_text, until_ready, wait_for
from tests.ui.operator_world import HOSTILE, alert, build_service_map, send, send_many

from pcso_tui.domain.core.clock import FrozenClock
from pcso_tui.domain.core.models import Case, Incident, JournalEntry
from pcso_tui.domain.core.service import Domain
from pcso_tui.domain.operations.alerts import AlertInput
from pcso_tui.screens.incident_dialogs import ConfirmDialog, EtaDialog, NoteDialog, parse_eta
from pcso_tui.screens.operator import OperatorScreen
from pcso_tui.widgets.alert_table import AlertTable


@pytest.fixture
def fast_refresh(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(OperatorScreen, "REFRESH_SECONDS", 0.2)
    monkeypatch.setattr(OperatorScreen, "COALESCE_SECONDS", 0.05)


def operator_screen(app: Any) -> OperatorScreen:
    screen = app.screen
    assert isinstance(screen, OperatorScreen)
    return screen


async def until_alerts(pilot: Any, n: int) -> OperatorScreen:
    await until_ready(pilot)
    screen = operator_screen(pilot.app)
    await wait_for(pilot, lambda: screen.alert_table.row_count == n, what=f"{n} alert rows")
    return screen


async def read(url: str, query: Any) -> list[Any]:
    domain = await Domain.open(url, clock=FrozenClock(FROZEN_AT))
    try:
        async with domain.reading() as session:
            return list((await session.execute(query)).all())
    finally:
        await domain.close()


async def test_from_alert_to_proactive_case_with_keys_only(any_world_url: str, make_app: Any) -> None:
    world_url = any_world_url  # SQLite, and PostgreSQL when PCSO_TEST_DATABASE_URL is set
    await build_service_map(world_url)
    await send(world_url, [alert("fp-web", "HighLatency", severity="minor")])
    app = make_app(world_url, "operator")
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await until_alerts(pilot, 1)
        table = screen.alert_table
        assert table.selected is not None and table.selected.incident_id is None

        await pilot.press("i")  # one key: an incident from the selected alert
        await wait_for(
            pilot, lambda: screen.current_view == "incidents" and screen.detail is not None, what="the incident"
        )
        detail = screen.detail
        assert detail is not None
        assert detail.incident.severity == "minor"
        assert [a.id for a in detail.alerts] == [table.selected.id]
        assert detail.root_cause is not None and detail.root_cause.ci_name == "host-1"
        number = detail.incident.number
        assert number in screen_text(app)
        assert "Root cause: host-1" in screen_text(app)
        await wait_for(pilot, lambda: number[3:] in table.row_plain(table.selected.id)[6], what="the joined mark")

        await pilot.press("w")
        await wait_for(pilot, lambda: isinstance(app.screen, NoteDialog), what="the note form")
        await pilot.press(*"Restarted the [bold] balancer", "enter")
        await wait_for(pilot, lambda: any(e.kind == "work_note" for e in screen.detail.journal), what="the note")

        await pilot.press("e")
        await wait_for(pilot, lambda: isinstance(app.screen, EtaDialog), what="the ETA form")
        await pilot.press(*"+2h", "enter")
        await wait_for(
            pilot, lambda: screen.detail.incident.eta == FROZEN_AT + timedelta(hours=2), what="the ETA to be set"
        )

        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog), what="the confirmation")
        assert "Priority 3 (moderate)" in str(app.screen.question)
        await pilot.press("y")
        await wait_for(pilot, lambda: "proactive case CS" in screen.last_result, what="the case")
        assert "priority 3 (moderate), 3 affected accounts" in screen.last_result
        await wait_for(pilot, lambda: "Opened proactive case" in screen_text(app), what="the result shown")

        await pilot.press("3")  # the impact of the selected incident
        await wait_for(pilot, lambda: screen.impact is not None, what="the impact")
        assert screen.impact.account_count == 3
        assert screen.impact_table.row_count == 3
        assert "3 accounts (2 external)" in screen_text(app)

    rows = await read(world_url, select(Case.priority, Case.kind, Case.incident_id))
    assert rows == [(3, "proactive", detail.incident.id)]
    notes = await read(
        world_url, select(JournalEntry.kind, JournalEntry.body).where(JournalEntry.incident_id.is_not(None))
    )
    assert ("work_note", "Restarted the [bold] balancer") in notes
    (eta,) = await read(world_url, select(Incident.eta))
    assert eta[0].replace(tzinfo=None) == (FROZEN_AT + timedelta(hours=2)).replace(tzinfo=None)


async def test_a_version_conflict_shows_its_message(world_url: str, make_app: Any) -> None:
    await build_service_map(world_url)
    await send(world_url, [alert("fp-web", severity="minor")])
    app = make_app(world_url, "operator")
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await until_alerts(pilot, 1)
        await pilot.press("i")
        await wait_for(pilot, lambda: screen.detail is not None, what="the incident")
        incident = screen.detail.incident
        await pilot.press("e")  # the form opens on the version this operator sees
        await wait_for(pilot, lambda: isinstance(app.screen, EtaDialog), what="the ETA form")
        # Meanwhile someone else changes the incident (another process).
        from pcso_tui.domain.core.roles import SYSTEM
        from pcso_tui.domain.operations.incidents import set_incident_state

        other = await Domain.open(world_url, clock=FrozenClock(FROZEN_AT))
        try:
            await set_incident_state(other, SYSTEM, incident.id, "in_progress")
        finally:
            await other.close()
        await pilot.press(*"+1h", "enter")
        await wait_for(
            pilot, lambda: any("was changed by" in str(n.message) for n in app._notifications), what="the conflict"
        )
        (eta,) = await read(world_url, select(Incident.eta))
        assert eta == (None,)


async def test_a_repeat_of_an_alert_updates_its_row_in_place(world_url: str, make_app: Any, fast_refresh: None) -> None:
    await send(world_url, [alert(f"fp-{n}", f"Alert{n}", severity="warning", minutes_ago=n) for n in range(1, 6)])
    app = make_app(world_url, "operator")
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await until_alerts(pilot, 5)
        table = screen.alert_table
        await pilot.press("down", "down")
        selected = table.cursor_key
        before = table.row_keys()
        target = before[3]
        fingerprint = table.alerts[target].fingerprint
        assert table.row_plain(target)[4] == "1"

        await send(world_url, [alert(fingerprint, table.alerts[target].name, severity="warning", summary="again")])
        await wait_for(pilot, lambda: table.row_plain(target)[4] == "2", what="the count to go up")
        assert "again" in table.row_plain(target)[2]
        assert table.row_keys() == before  # updated in place, not re-added
        assert table.cursor_key == selected

        # A new alert sorts in on top (latest change first); the cursor stays on its alert.
        await send(world_url, [alert("fp-new", "Brandnew", severity="warning", minutes_ago=0)])
        await wait_for(pilot, lambda: table.row_count == 6, what="the new alert")
        assert table.cursor_key == selected


async def test_alerts_left_out_by_the_sender_show_on_the_status_line(
    world_url: str, make_app: Any, fast_refresh: None
) -> None:
    await send(world_url, [alert("fp-1", "Alert1", severity="warning", minutes_ago=1)])
    app = make_app(world_url, "operator")
    async with app.run_test(size=(140, 30)) as pilot:
        screen = await until_alerts(pilot, 1)
        assert "left out" not in screen_text(app)
        # Alertmanager's max_alerts cut a group: 3 of its alerts did not come.
        await send(world_url, [alert("fp-2", "Alert2", severity="warning")], truncated=3)
        await wait_for(pilot, lambda: "3 alerts left out by" in screen_text(app), what="the warning")
        assert screen.alerts_view.left_out is not None


async def test_a_new_alert_above_keeps_the_selected_row_where_it_is_on_screen(world_url: str, make_app: Any) -> None:
    await send(
        world_url, [alert(f"fp-{n:02d}", f"Alert{n}", severity="info", ci=None, minutes_ago=n) for n in range(60)]
    )
    app = make_app(world_url, "operator")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await until_alerts(pilot, 60)
        table = screen.alert_table
        await pilot.press(*["down"] * 40)
        await pilot.pause()
        selected, row, top = table.cursor_key, table.cursor_row, table.scroll_y
        assert top > 0  # scrolled

        def line_on_screen() -> int:
            return int(table.scrollable_content_region.y + table.cursor_row - table.scroll_y)

        line = line_on_screen()
        await send(world_url, [alert("fp-top", "Newest", severity="info", ci=None, minutes_ago=0)])
        await wait_for(pilot, lambda: table.row_count == 61, what="the new alert")
        await pilot.pause()
        assert table.row_keys()[0] != selected and table.alerts[table.row_keys()[0]].name == "Newest"
        assert (table.cursor_key, table.cursor_row) == (selected, row + 1)
        assert line_on_screen() == line  # the selected row did not move on screen (the marker took a line above)


async def test_a_new_critical_above_a_scrolled_list_is_announced_and_home_jumps_to_it(
    world_url: str, make_app: Any
) -> None:
    await send(
        world_url, [alert(f"fp-{n:02d}", f"Alert{n}", severity="info", ci=None, minutes_ago=n) for n in range(60)]
    )
    app = make_app(world_url, "operator")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await until_alerts(pilot, 60)
        table = screen.alert_table
        assert "new above" not in screen_text(app)
        await pilot.press(*["down"] * 40)
        await pilot.pause()
        selected = table.cursor_key
        await send(world_url, [alert("fp-top", "DatacentrePower", severity="critical", ci=None, minutes_ago=0)])
        await wait_for(pilot, lambda: "↑ 1 new above · Home: newest" in screen_text(app), what="the marker")
        assert table.cursor_key == selected  # the cursor stays on its alert
        assert table.new_above == 1
        await pilot.press("home")  # one key to the newest
        await wait_for(pilot, lambda: table.cursor_row == 0, what="the newest alert")
        assert table.selected is not None and table.selected.name == "DatacentrePower"
        await pilot.pause()
        assert table.new_above == 0 and "new above" not in screen_text(app)
        await pilot.press("end")
        await wait_for(pilot, lambda: table.cursor_row == 60, what="the last alert")


async def test_a_new_incident_above_a_scrolled_incident_list_is_announced(world_url: str, make_app: Any) -> None:
    await send(
        world_url,
        [alert(f"fp-{n:02d}", f"Outage{n}", severity="critical", ci=None, minutes_ago=30 - n) for n in range(20)],
    )
    app = make_app(world_url, "operator")
    async with app.run_test(size=(80, 24)) as pilot:
        await until_ready(pilot)
        screen = operator_screen(app)
        await pilot.press("2")
        table = screen.incidents_view.table
        await wait_for(pilot, lambda: table.row_count == 20, what="20 incidents")
        table.focus()
        await pilot.press(*["down"] * 15)
        await pilot.pause()
        selected = table.cursor_key
        assert table.scroll_y > 0
        await send(world_url, [alert("fp-new", "DatacentrePower", severity="critical", ci=None, minutes_ago=0)])
        await wait_for(pilot, lambda: "↑ 1 new above · Home: newest" in screen_text(app), what="the marker")
        assert table.cursor_key == selected
        await pilot.press("home")
        await wait_for(pilot, lambda: table.cursor_row == 0 and table.new_above == 0, what="the newest incident")


async def test_new_alerts_above_scrolled_into_view_are_no_longer_counted(world_url: str, make_app: Any) -> None:
    await send(
        world_url, [alert(f"fp-{n:02d}", f"Alert{n}", severity="info", ci=None, minutes_ago=n) for n in range(60)]
    )
    app = make_app(world_url, "operator")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await until_alerts(pilot, 60)
        table = screen.alert_table
        await pilot.press(*["down"] * 40)
        await send(
            world_url, [alert(f"fp-new{n}", f"New{n}", severity="major", ci=None, minutes_ago=0) for n in (1, 2)]
        )
        await wait_for(pilot, lambda: "↑ 2 new above" in screen_text(app), what="the marker")
        await pilot.press(*["up"] * 60)  # scrolling up to them is seeing them
        await wait_for(pilot, lambda: table.new_above == 0, what="the marker to go")
        assert "new above" not in screen_text(app)


async def test_at_the_top_a_new_alert_shows_at_once(world_url: str, make_app: Any) -> None:
    await send(
        world_url, [alert(f"fp-{n:02d}", f"Alert{n}", severity="info", ci=None, minutes_ago=n) for n in range(5)]
    )
    app = make_app(world_url, "operator")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await until_alerts(pilot, 5)
        table = screen.alert_table
        selected = table.cursor_key
        await send(world_url, [alert("fp-top", "Newest", severity="critical", ci=None, minutes_ago=0)])
        await wait_for(pilot, lambda: table.row_count == 6, what="the new alert")
        await pilot.pause()
        assert table.cursor_key == selected and table.scroll_y == 0
        assert "Newest" in screen_text(app) and table.new_above == 0


@pytest.mark.parametrize("bell", ["critical", "never"])
async def test_the_bell_rings_for_a_new_critical_when_the_user_asks_for_it(
    world_url: str, make_app: Any, tmp_path: Any, bell: str
) -> None:
    (tmp_path / "no-config.toml").write_text(f'[workspace]\nbell = "{bell}"\n')  # the config file make_app reads
    await send(world_url, [alert("fp-1", "Alert1", severity="info", ci=None)])
    app = make_app(world_url, "operator")
    rung: list[str] = []
    app.bell = lambda: rung.append("bell")  # type: ignore[method-assign]  # the terminal is the test's
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await until_alerts(pilot, 1)
        await send(world_url, [alert("fp-2", "Minor one", severity="minor", ci=None, minutes_ago=0)])
        await send(world_url, [alert("fp-3", "Core router down", severity="critical", ci=None, minutes_ago=0)])
        await wait_for(pilot, lambda: screen.alert_table.row_count == 3, what="the new alerts")
        await pilot.pause()
        notes = [str(n.message) for n in app._notifications]
        if bell == "critical":
            await wait_for(pilot, lambda: rung, what="the bell")
            assert rung == ["bell"]
            notes = [str(n.message) for n in app._notifications]
            assert any(n.startswith("New critical alert: Core router down") for n in notes), notes
        else:
            assert rung == [] and not any("New critical" in n for n in notes)


async def test_a_burst_of_alerts_is_read_in_a_few_queries(world_url: str, make_app: Any, messages: Messages) -> None:
    app = make_app(world_url, "operator")
    async with app.run_test(size=(100, 30), message_hook=messages) as pilot:
        await until_ready(pilot)
        screen = operator_screen(app)
        await messages.wait(pilot, "operator-alerts", what="the first page")
        before = messages.count("operator-alerts")
        domain = await Domain.open(world_url, clock=FrozenClock(FROZEN_AT))
        try:
            from pcso_tui.domain.core.roles import SYSTEM
            from pcso_tui.domain.operations.alerts import ParsedBatch, ingest

            for n in range(30):  # thirty transactions, thirty events
                await ingest(domain, SYSTEM, ParsedBatch((alert(f"burst-{n}", f"Burst{n}", severity="info", ci=None),)))
        finally:
            await domain.close()
        await wait_for(pilot, lambda: screen.alert_table.row_count == 30, what="the burst")
        assert messages.count("operator-alerts") - before < 10


async def test_filter_and_search_are_done_in_sql(world_url: str, make_app: Any) -> None:
    await send(
        world_url,
        [
            alert("fp-a", "DiskFull", severity="critical", ci="db-01"),
            alert("fp-b", "HighLatency", severity="warning", ci="web-01"),
            alert("fp-c", "CertExpiry", severity="info", ci="web-02"),
            alert("fp-d", "OldThing", severity="major", ci="web-03", status="resolved"),
        ],
    )
    app = make_app(world_url, "operator")
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await until_alerts(pilot, 3)  # active only: the resolved one is closed
        table = screen.alert_table

        def names() -> set[str]:
            return {a.name for a in table.alerts.values()}

        await pilot.press("f", "f", "f")  # severity ≥ major
        await wait_for(pilot, lambda: names() == {"DiskFull"}, what="≥ major")
        assert "f sev ≥ major" in screen_text(app)
        await pilot.press("f", "f")  # back to any
        await wait_for(pilot, lambda: table.row_count == 3, what="any severity")

        await pilot.press("t", "t", "t")  # closed
        await wait_for(pilot, lambda: names() == {"OldThing"}, what="closed alerts")
        await pilot.press("t")  # all
        await wait_for(pilot, lambda: table.row_count == 4, what="all alerts")

        await pilot.press("slash", *"web-0")
        await wait_for(pilot, lambda: names() == {"HighLatency", "CertExpiry", "OldThing"}, what="the search")
        await pilot.press("enter")
        assert table.has_focus
        assert "/ “web-0”" in screen_text(app)
        await pilot.press("slash", "escape")
        await wait_for(pilot, lambda: table.row_count == 4, what="the search cleared")

        await pilot.press("s")  # by severity
        await wait_for(pilot, lambda: next(table.alerts[k].name for k in table.row_keys()) == "DiskFull", what="sorted")
        assert [table.alerts[k].severity for k in table.row_keys()] == ["critical", "major", "warning", "info"]


async def test_acknowledge_toggles_and_a_refusal_is_a_notification(world_url: str, make_app: Any) -> None:
    await send(world_url, [alert("fp-a", "DiskFull", severity="warning", ci="db-01")])
    app = make_app(world_url, "operator")
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await until_alerts(pilot, 1)
        table = screen.alert_table
        key = table.cursor_key
        await pilot.press("a")
        await wait_for(pilot, lambda: "ack" in table.row_plain(key)[6], what="acknowledged")
        await pilot.press("a")
        await wait_for(pilot, lambda: "ack" not in table.row_plain(key)[6], what="unacknowledged")
        await pilot.press("i")
        await wait_for(pilot, lambda: screen.detail is not None, what="the incident")
        await pilot.press("1", "i")  # again: the alert is in an active incident already
        await wait_for(
            pilot,
            lambda: any("already belongs to" in str(n.message) for n in app._notifications),
            what="the refusal",
        )


async def test_an_incident_with_a_chosen_title_and_severity(world_url: str, make_app: Any) -> None:
    await send(world_url, [alert("fp-a", "DiskFull", severity="warning", ci="db-01", summary="/var at 97%")])
    app = make_app(world_url, "operator")
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await until_alerts(pilot, 1)
        await pilot.press("I")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "OpenIncidentDialog", what="the form")
        await pilot.press(*" on db-01", "tab")  # the title is the alert's summary, to edit
        await pilot.press("up", "enter")  # warning (the alert's) → minor, and open it
        await wait_for(pilot, lambda: screen.detail is not None, what="the incident")
        incident = screen.detail.incident
        assert (incident.title, incident.severity, incident.alert_count) == ("/var at 97% on db-01", "minor", 1)


async def test_state_and_resolution_from_the_screen(world_url: str, make_app: Any) -> None:
    await send(world_url, [alert("fp-a", "DiskFull", severity="warning", ci="db-01")])
    app = make_app(world_url, "operator")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await until_alerts(pilot, 1)
        await pilot.press("i")
        await wait_for(pilot, lambda: screen.detail is not None, what="the incident")
        await pilot.press("u")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "StateDialog", what="the state form")
        await pilot.press("tab", *"on it", "enter")  # the first choice (in progress), with a note
        await wait_for(pilot, lambda: screen.detail.incident.state == "in_progress", what="in progress")
        assert screen.detail.journal[-1].body == "State: new → in_progress\non it"
        await pilot.press("r")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "ResolveDialog", what="the resolve form")
        await pilot.press("enter", "enter")  # empty notes: refused in the form, which stays open
        assert app.screen.error == "the resolution notes are empty"
        await pilot.press(*"disk cleaned", "enter")
        await wait_for(pilot, lambda: screen.detail.incident.state == "resolved", what="resolved")
        assert (screen.detail.resolution_code, screen.detail.resolution_notes) == ("fixed", "disk cleaned")
        assert "Resolution: fixed — disk cleaned" in screen_text(app)


async def test_hostile_alert_text_is_shown_literally(world_url: str, make_app: Any) -> None:
    await send(world_url, [alert("fp-evil", HOSTILE, severity="warning", ci=HOSTILE, summary=HOSTILE)])
    app = make_app(world_url, "operator")
    async with app.run_test(size=(160, 30)) as pilot:
        screen = await until_alerts(pilot, 1)
        table = screen.alert_table
        cells = table.row_plain(table.cursor_key)
        assert cells[2] == "[bold]Mal[/ \\x1b[2J: [bold]Mal[/ \\x1b[2J"
        assert cells[3] == "unmapped [bold]Mal[/ \\x1b[2J"
        text = screen_text(app)
        assert "[bold]Mal[/ \\x1b[2J" in text
        assert "\x1b" not in text
        await pilot.press("enter")  # the alert in full: labels, annotations, fingerprint
        await wait_for(pilot, lambda: type(app.screen).__name__ == "AlertDetailDialog", what="the alert detail")
        await pilot.pause()
        text = screen_text(app)
        assert "unmapped (label value [bold]Mal[/ \\x1b[2J)" in text
        assert "fp-evil" in text
        assert "\x1b" not in text
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is screen, what="the detail to close")
        await pilot.press("I")  # the form shows the title literally too
        await wait_for(pilot, lambda: type(app.screen).__name__ == "OpenIncidentDialog", what="the form")
        await pilot.press("escape")


BIDI = "db\u202eevil\u202c\u200b\u2066x\u2069\ufeff"
BIDI_RAW = ("\u202e", "\u202c", "\u200b", "\u2066", "\u2069", "\ufeff")


async def test_bidi_and_zero_width_characters_never_reach_the_terminal_raw(world_url: str, make_app: Any) -> None:
    labels = {"ci": BIDI, "team\u202e": "ops\u200b"}
    hostile = AlertInput.build(BIDI, fingerprint="fp-bidi", severity="critical", summary=BIDI, labels=labels)
    await send(world_url, [hostile])
    app = make_app(world_url, "operator")
    async with app.run_test(size=(140, 30)) as pilot:
        screen = await until_alerts(pilot, 1)
        table = screen.alert_table
        cells = table.row_plain(table.cursor_key)
        shown = "db\\u202eevil\\u202c\\u200b\\u2066x\\u2069\\ufeff"
        # Cut to their columns with an ellipsis, and never inside a shown escape.
        assert cells[2].startswith(f"{shown}: ") and cells[2].endswith("…")
        assert cells[3].startswith("unmapped db\\u202eevil") and cells[3].endswith("…")
        whole_escapes = re.compile(r"(?:[^\\]|\\x[0-9a-f]{2}|\\u[0-9a-f]{4})*…?")
        assert whole_escapes.fullmatch(cells[2]) and whole_escapes.fullmatch(cells[3]), cells
        text = screen_text(app)
        assert "\\u202e" in text
        assert not any(c in text for c in BIDI_RAW)
        await pilot.press("enter")  # the alert in full, labels too
        await wait_for(pilot, lambda: type(app.screen).__name__ == "AlertDetailDialog", what="the alert detail")
        await pilot.pause()
        text = screen_text(app)
        assert "team\\u202e" in text and "ops\\u200b" in text
        assert not any(c in text for c in BIDI_RAW)


async def test_ten_thousand_open_alerts_mount_one_page(world_url: str, make_app: Any, messages: Messages) -> None:
    await send_many(world_url, 10_000)
    app = make_app(world_url, "operator")
    async with app.run_test(size=(80, 24), message_hook=messages) as pilot:
        screen = await until_alerts(pilot, OperatorScreen.PAGE_SIZE)
        table = screen.alert_table
        assert screen.total == 10_000
        assert table.row_count == OperatorScreen.PAGE_SIZE
        assert "1–200 of 10,000" in screen_text(app)
        assert "Marks" not in screen_text(app)  # past the right edge at 80 columns …
        await pilot.press(*["right"] * 20)  # one column of characters a press
        await wait_for(pilot, lambda: "Marks" in screen_text(app), what="the marks column")  # … → shows it
        await pilot.press(*["left"] * 20)
        first_page = set(table.row_keys())
        pages = messages.count("operator-alerts")
        await pilot.press("n")
        await messages.wait(pilot, "operator-alerts", after=pages, what="page 2")
        assert screen.page_offset == 200
        await wait_for(pilot, lambda: not (set(table.row_keys()) & first_page), what="page 2 rows")
        assert table.row_count == OperatorScreen.PAGE_SIZE
        assert "201–400 of 10,000" in screen_text(app)
        await pilot.press("p")
        await wait_for(pilot, lambda: set(table.row_keys()) == first_page, what="page 1 again")


def test_eta_text() -> None:
    now = FROZEN_AT
    assert parse_eta("+2h", now) == now + timedelta(hours=2)
    assert parse_eta("+1d 4h", now) == now + timedelta(days=1, hours=4)
    assert parse_eta("+90m", now) == now + timedelta(minutes=90)
    assert parse_eta("", now) is None
    assert parse_eta("2026-11-23T11:00:00+00:00", now) == now + timedelta(hours=2)
    with pytest.raises(ValueError, match="not a time"):
        parse_eta("soon", now)
    with pytest.raises(ValueError, match="not a duration"):
        parse_eta("+soon", now)


async def test_alert_table_rows_stay_bounded() -> None:
    from textual.app import App

    from pcso_tui.widgets.safe_table import TableFull

    class Tiny(App[None]):
        def compose(self) -> Any:
            yield AlertTable(page_size=3)

    app = Tiny()
    async with app.run_test():
        table = app.query_one(AlertTable)
        assert table.max_rows == 3
        with pytest.raises(TableFull):
            table.upsert_rows({n: ("x",) for n in range(4)})
        assert table.row_count == 0
