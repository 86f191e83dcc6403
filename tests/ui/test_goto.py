"""Go-to by number from any screen: Ctrl+G or the palette finds a case, incident, alert, CI or
account and opens it where the user's role works on it; nothing found says so."""

from __future__ import annotations

from typing import Any

from tests.conftest import FROZEN_AT
from tests.ui.casework import build_case_world
from tests.ui.conftest import screen_text, until_ready, wait_for
from tests.ui.operator_world import alert, build_service_map, send
from tests.ui.test_agent import type_text
from tests.ui.test_manager import manager
from tests.ui.test_operator import until_alerts
from textual.command import CommandPalette

from pcso_tui.domain.core.clock import FrozenClock
from pcso_tui.domain.core.roles import SYSTEM
from pcso_tui.domain.core.service import Domain
from pcso_tui.domain.core.views import case_number
from pcso_tui.screens.case_record import CaseRecordScreen
from pcso_tui.screens.ci_impact import CiImpactScreen
from pcso_tui.screens.goto import GotoDialog
from pcso_tui.screens.incident_dialogs import AlertDetailDialog


async def goto(pilot: Any, text: str) -> GotoDialog:
    await pilot.press("ctrl+g")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, GotoDialog), what="the go-to dialog")
    dialog = pilot.app.screen
    await type_text(pilot, text)
    await pilot.press("enter")
    return dialog


async def test_the_operator_goes_to_an_incident_an_alert_and_a_ci(world_url: str, make_app: Any) -> None:
    await build_service_map(world_url)
    (result,) = [await send(world_url, [alert("fp-web", "HighLatency", severity="minor")])]
    domain = await Domain.open(world_url, clock=FrozenClock(FROZEN_AT))
    try:
        from pcso_tui.domain.operations.incidents import open_incident

        incident = await open_incident(domain, SYSTEM, title="Latency", severity="minor", ci_names=["host-1"])
        other = await open_incident(domain, SYSTEM, title="Other", severity="minor", ci_names=["svc-other"])
    finally:
        await domain.close()
    app = make_app(world_url, "operator")
    async with app.run_test(size=(120, 30)) as pilot:
        screen = await until_alerts(pilot, 1)
        await goto(pilot, incident.number)
        await wait_for(
            pilot,
            lambda: (
                screen.current_view == "incidents"
                and screen.detail is not None
                and screen.detail.incident.id == incident.id
            ),
            what="the incident selected",
        )
        await goto(pilot, other.number.lower())
        await wait_for(
            pilot, lambda: screen.detail is not None and screen.detail.incident.id == other.id, what="the other"
        )

        alert_id = screen.alert_table.selected.id if screen.alert_table.selected else 1
        await goto(pilot, str(alert_id))
        await wait_for(pilot, lambda: isinstance(app.screen, AlertDetailDialog), what="the alert's detail")
        assert "HighLatency" in app.screen.alert_title
        await pilot.press("escape")

        dialog = await goto(pilot, "svc")  # two CIs start with it: pick one
        await wait_for(pilot, lambda: len(dialog.found) == 2, what="two CIs")
        assert [r.number for r in dialog.found] == ["svc-1", "svc-other"]
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, CiImpactScreen), what="the CI's impact")
        ci_screen = app.screen
        await wait_for(pilot, lambda: ci_screen.impact is not None, what="the impact read")
        assert ci_screen.ci_name == "svc-1" and ci_screen.impact.account_count == 3
        await pilot.press("escape")

        dialog = await goto(pilot, "CS0999999")
        await wait_for(pilot, lambda: dialog.error is not None, what="nothing found")
        assert dialog.error == "Nothing found for 'CS0999999'"
        assert app.screen is dialog
        await pilot.press("escape")
        assert app.screen is screen
    assert result is not None


async def test_a_case_from_the_palette_opens_on_the_managers_screen(world_url: str, make_app: Any) -> None:
    world = await build_case_world(world_url)
    number = case_number(world.case_id)
    app = make_app(world_url, "manager")
    async with app.run_test(size=(120, 30)) as pilot:
        await until_ready(pilot)
        screen = manager(app)
        assert screen.detail is None  # the proactive case is not in the manager's queue
        await pilot.press("ctrl+p")
        await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette), what="the palette")
        await type_text(pilot, number)
        await wait_for(pilot, lambda: f"Go to Case {number}" in screen_text(app), what="the hit")
        await pilot.press("enter")
        # Not in the manager's queue (not proposed): shown read-only over the queue.
        await wait_for(pilot, lambda: isinstance(app.screen, CaseRecordScreen), what="the case")
        record = app.screen
        await wait_for(pilot, lambda: record.detail is not None and record.detail.case.id == world.case_id)
        await pilot.press("escape")

        from tests.ui.test_manager import as_user

        from pcso_tui.domain.casework.major_cases import propose_major_case

        await as_user(
            world_url, "agent", lambda d, a: propose_major_case(d, a, world.case_id, reason="r", business_impact="b")
        )
        await wait_for(pilot, lambda: screen.queue.has_row(world.case_id), what="the proposal listed")
        await goto(pilot, number)
        await wait_for(
            pilot,
            lambda: app.screen is screen and screen.detail is not None and screen.detail.case.id == world.case_id,
            what="the proposal in the manager's detail",
        )
        assert screen.queue.cursor_key == world.case_id


async def test_an_operator_sees_a_case_read_only_and_a_customer_finds_no_other_account(
    world_url: str, make_app: Any
) -> None:
    world = await build_case_world(world_url)
    number = case_number(world.case_id)
    app = make_app(world_url, "operator")
    async with app.run_test(size=(100, 30)) as pilot:
        await until_ready(pilot)
        await goto(pilot, number)
        await wait_for(pilot, lambda: isinstance(app.screen, CaseRecordScreen), what="the case")
        record = app.screen
        await wait_for(pilot, lambda: record.detail is not None, what="the case read")
        assert record.detail.case.number == number

    app = make_app(world_url, "customer")
    async with app.run_test(size=(100, 30)) as pilot:
        await until_ready(pilot)
        dialog = await goto(pilot, number)
        await wait_for(pilot, lambda: dialog.error is not None, what="nothing found")
        assert dialog.error == f"Nothing found for {number!r}"


async def test_an_agent_goes_to_an_incident_read_only(world_url: str, make_app: Any) -> None:
    """An agent has no operator screen: the incident opens read-only over the agent's screen."""
    await build_service_map(world_url)
    domain = await Domain.open(world_url, clock=FrozenClock(FROZEN_AT))
    try:
        from pcso_tui.domain.operations.incidents import open_incident

        incident = await open_incident(domain, SYSTEM, title="Latency [bold]x", severity="minor", ci_names=["host-1"])
    finally:
        await domain.close()
    app = make_app(world_url, "agent")
    async with app.run_test(size=(120, 30)) as pilot:
        await until_ready(pilot)
        agent_screen = app.screen
        await goto(pilot, incident.number)
        await wait_for(pilot, lambda: isinstance(app.screen, AlertDetailDialog), what="the incident, read-only")
        text = screen_text(app)
        assert incident.number in text and "Latency [bold]x" in text and "host-1" in text
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is agent_screen, what="back on the agent's screen")
