"""One screenshot per mode at 80×24: frozen clock, UTC, no cursor blink, the same seeded world.

Update after an intended change with ``pytest tests/ui/test_snapshots.py --snapshot-update``
and look at the SVGs in ``__snapshots__`` before committing them.
"""

from __future__ import annotations

from typing import Any

import pytest
from tests.ui.conftest import until_ready, wait_for
from textual.pilot import Pilot

from pcso_tui.screens.dashboard import DashboardScreen
from pcso_tui.screens.help import HelpScreen


@pytest.mark.parametrize(
    ("user", "mode"),
    # The portal's screenshots wait for its data: tests/ui/test_portal_snapshots.py.
    [("operator", "operator"), ("agent", "agent"), ("manager", "manager")],
)
def test_mode_screen(snap_compare: Any, make_app: Any, world_url: str, user: str, mode: str) -> None:
    app = make_app(world_url, user)

    async def ready(pilot: Pilot[Any]) -> None:
        await until_ready(pilot)
        assert app.current_mode == mode

    assert snap_compare(app, terminal_size=(80, 24), run_before=ready)


def test_dashboard_screen(snap_compare: Any, make_app: Any, world_url: str) -> None:
    app = make_app(world_url, "agent")

    async def open_dashboard(pilot: Pilot[Any]) -> None:
        await until_ready(pilot)
        await pilot.press("f6")
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen), what="the dashboard")
        await wait_for(pilot, lambda: app.screen.board is not None, what="the figures")
        await pilot.pause()

    assert snap_compare(app, terminal_size=(80, 24), run_before=open_dashboard)


def test_help_screen(snap_compare: Any, make_app: Any, world_url: str) -> None:
    app = make_app(world_url, "operator")

    async def open_help(pilot: Pilot[Any]) -> None:
        await until_ready(pilot)
        await pilot.press("f1")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), what="the help screen")
        await pilot.pause()

    assert snap_compare(app, terminal_size=(80, 24), run_before=open_help)


def test_unknown_user_screen(snap_compare: Any, make_app: Any, world_url: str) -> None:
    app = make_app(world_url, "nobody")

    async def failed(pilot: Pilot[Any]) -> None:
        await wait_for(pilot, lambda: app.failure is not None, what="sign-in to fail")
        await pilot.pause()

    assert snap_compare(app, terminal_size=(80, 24), run_before=failed)
