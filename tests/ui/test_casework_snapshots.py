"""Screenshots of casework at 80×24 with a frozen clock: the agent screen on a proactive case,
the manager screen on an approved major case with its timeline, the approval dialog and the
status page outage dialog.

Update after an intended change with
``pytest tests/ui/test_casework_snapshots.py --snapshot-update`` and look at the SVGs in
``__snapshots__`` before committing them.
"""

from __future__ import annotations

import asyncio
from typing import Any

from tests.ui.casework import build_case_world, open_domain, signed_in
from tests.ui.conftest import until_ready, wait_for
from textual.pilot import Pilot

from pcso_tui.screens.agent import AgentScreen
from pcso_tui.screens.case_dialogs import ConfirmDialog, FormDialog
from pcso_tui.screens.manager import ManagerScreen


async def _proposed(url: str) -> int:
    world = await build_case_world(url)
    domain = await open_domain(url)
    try:
        from pcso_tui.domain.casework.major_cases import propose_major_case

        await propose_major_case(
            domain,
            await signed_in(domain, "agent"),
            world.case_id,
            reason="six customers lost voice",
            business_impact="[bold]all calls[/] fail",
        )
    finally:
        await domain.close()
    return world.case_id


async def _approved(url: str) -> int:
    case_id = await _proposed(url)
    domain = await open_domain(url)
    try:
        from pcso_tui.domain.casework.major_cases import approve_major_case, post_statement
        from pcso_tui.domain.operations.incidents import add_incident_note

        approval = await approve_major_case(domain, await signed_in(domain, "manager"), case_id)
        async with domain.reading() as session:
            from pcso_tui.domain.core.models import Case

            major = await session.get(Case, approval.major_case_id)
            assert major is not None and major.incident_id is not None
            incident_id = major.incident_id
        await add_incident_note(
            domain, await signed_in(domain, "operator"), incident_id, "Failover started", kind="progress"
        )
        await post_statement(
            domain, await signed_in(domain, "manager"), approval.major_case_id, "Calls fail; we are on it."
        )
        return approval.major_case_id
    finally:
        await domain.close()


def test_agent_screen_on_a_case(snap_compare: Any, make_app: Any, world_url: str) -> None:
    case_id = asyncio.run(build_case_world(world_url)).case_id
    app = make_app(world_url, "agent")

    async def ready(pilot: Pilot[Any]) -> None:
        await until_ready(pilot)
        screen = app.screen
        assert isinstance(screen, AgentScreen)
        await wait_for(
            pilot, lambda: screen.detail.case is not None and screen.detail.case.id == case_id, what="the detail"
        )
        await pilot.pause()

    assert snap_compare(app, terminal_size=(80, 24), run_before=ready)


def test_manager_screen_on_a_major_case(snap_compare: Any, make_app: Any, world_url: str) -> None:
    major_id = asyncio.run(_approved(world_url))
    app = make_app(world_url, "manager")

    async def ready(pilot: Pilot[Any]) -> None:
        await until_ready(pilot)
        screen = app.screen
        assert isinstance(screen, ManagerScreen)
        await wait_for(
            pilot,
            lambda: (
                screen.detail is not None
                and screen.detail.case.id == major_id
                and any(line.category == "statement" for line in screen.timeline.lines)
            ),
            what="the major case and its timeline",
        )
        scroll = screen.query_one("#timeline-scroll")
        await wait_for(
            pilot, lambda: scroll.max_scroll_y > 0 and scroll.scroll_y == scroll.max_scroll_y, what="the newest line"
        )
        await pilot.pause()

    assert snap_compare(app, terminal_size=(80, 24), run_before=ready)


def _dialog_on(make_app: Any, url: str, case_id: int, key: str, dialog: type) -> tuple[Any, Any]:
    """The manager screen on ``case_id`` with the dialog ``key`` opens, for ``snap_compare``."""
    app = make_app(url, "manager")

    async def ready(pilot: Pilot[Any]) -> None:
        await until_ready(pilot)
        screen = app.screen
        assert isinstance(screen, ManagerScreen)
        await wait_for(pilot, lambda: screen.detail is not None and screen.detail.case.id == case_id)
        await pilot.press(key)
        await wait_for(pilot, lambda: isinstance(app.screen, dialog), what=f"the dialog of {key}")
        await pilot.pause()

    return app, ready


def test_approval_dialog(snap_compare: Any, make_app: Any, world_url: str) -> None:
    app, ready = _dialog_on(make_app, world_url, asyncio.run(_proposed(world_url)), "a", ConfirmDialog)
    assert snap_compare(app, terminal_size=(80, 24), run_before=ready)


def test_status_page_outage_dialog(snap_compare: Any, make_app: Any, world_url: str) -> None:
    app, ready = _dialog_on(make_app, world_url, asyncio.run(_approved(world_url)), "u", FormDialog)
    assert snap_compare(app, terminal_size=(80, 24), run_before=ready)
