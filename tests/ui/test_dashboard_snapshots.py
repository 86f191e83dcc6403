"""Screenshots of the dashboard at 80×24 on the hand-built history (frozen clock: Monday
2026-11-23 09:00 UTC, UTC, no cursor blink; see tests/ui/conftest.py).

Update after an intended change with
``pytest tests/ui/test_dashboard_snapshots.py --snapshot-update`` and look at the SVGs in
``__snapshots__`` before committing them.
"""

from __future__ import annotations

import asyncio
from typing import Any

from tests.ui.conftest import until_ready, wait_for
from tests.ui.dashboard_world import add_history
from textual.pilot import Pilot

from pcso_tui.screens.dashboard import DashboardScreen, DrillDownScreen


async def _dashboard(pilot: Pilot[Any]) -> DashboardScreen:
    app = pilot.app
    await until_ready(pilot)
    await pilot.press("f6")
    await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen), what="the dashboard")
    screen = app.screen
    assert isinstance(screen, DashboardScreen)
    await wait_for(pilot, lambda: screen.board is not None, what="the figures")
    await pilot.pause()
    return screen


def test_dashboard_on_a_history(snap_compare: Any, make_app: Any, world_url: str) -> None:
    asyncio.run(add_history(world_url))
    app = make_app(world_url, "agent")

    async def ready(pilot: Pilot[Any]) -> None:
        screen = await _dashboard(pilot)
        await pilot.press("down")  # the share: its definition and the bars of its trend
        await pilot.pause()
        assert screen.selected is not None and screen.selected.key == "promoted_to_major"

    assert snap_compare(app, terminal_size=(80, 24), run_before=ready)


def test_drill_down_of_top_customers(snap_compare: Any, make_app: Any, world_url: str) -> None:
    asyncio.run(add_history(world_url))
    app = make_app(world_url, "manager")

    async def ready(pilot: Pilot[Any]) -> None:
        await _dashboard(pilot)
        await pilot.press(*["down"] * 9, "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DrillDownScreen), what="the drill-down")
        drill = app.screen
        assert isinstance(drill, DrillDownScreen)
        await wait_for(pilot, lambda: drill.drill is not None, what="the accounts")
        await pilot.pause()

    assert snap_compare(app, terminal_size=(80, 24), run_before=ready)
