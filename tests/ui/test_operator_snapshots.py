"""The operator screen at 80×24 and 140×45: the alert list, and an incident with its detail and impact.

Frozen clock, UTC, no cursor blink, the same seeded world (``tests/ui/conftest.py``). Update after
an intended change with ``pytest tests/ui/test_operator_snapshots.py --snapshot-update`` and look
at the SVGs in ``__snapshots__`` before committing them.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from tests.ui.conftest import until_ready, wait_for
from tests.ui.operator_world import HOSTILE, alert, build_service_map, send
from textual.pilot import Pilot

from pcso_tui.screens.operator import OperatorScreen


async def _alerts(url: str) -> None:
    await build_service_map(url)
    await send(
        url,
        [
            alert("fp-lat", "HighLatency", severity="minor", minutes_ago=12),
            alert("fp-disk", "DiskFull", severity="warning", ci="db-01", summary="/var at 97%", minutes_ago=90),
            alert("fp-flap", "LinkDown", severity="warning", ci="svc-other", summary="eth0 down"),
            alert("fp-evil", HOSTILE, severity="info", ci="svc-other", summary=HOSTILE, minutes_ago=3),
        ],
    )
    for status in ("resolved", "firing", "resolved", "firing"):  # four changes: flapping
        await send(
            url, [alert("fp-flap", "LinkDown", severity="warning", ci="svc-other", summary="eth0 down", status=status)]
        )


@pytest.fixture
def operator_world(world_url: str) -> str:
    asyncio.run(_alerts(world_url))
    return world_url


def _screen(app: Any) -> OperatorScreen:
    assert isinstance(app.screen, OperatorScreen)
    return app.screen


def test_alert_list(snap_compare: Any, make_app: Any, operator_world: str) -> None:
    app = make_app(operator_world, "operator")

    async def ready(pilot: Pilot[Any]) -> None:
        await until_ready(pilot)
        screen = _screen(app)
        await wait_for(pilot, lambda: screen.alert_table.row_count == 4, what="the alerts")
        await pilot.pause()

    assert snap_compare(app, terminal_size=(80, 24), run_before=ready)


def test_incident_detail(snap_compare: Any, make_app: Any, operator_world: str) -> None:
    app = make_app(operator_world, "operator")

    async def open_incident(pilot: Pilot[Any]) -> None:
        await until_ready(pilot)
        screen = _screen(app)
        table = screen.alert_table
        await wait_for(pilot, lambda: table.row_count == 4, what="the alerts")
        while table.selected is None or table.selected.name != "HighLatency":
            await pilot.press("down")
        await pilot.press("i")
        await wait_for(pilot, lambda: screen.detail is not None, what="the incident")
        await pilot.press("w", *"Balancer restarted", "enter")
        await wait_for(pilot, lambda: len(screen.detail.journal) == 1, what="the note")
        app.clear_notifications()
        await pilot.pause()

    assert snap_compare(app, terminal_size=(80, 24), run_before=open_incident)


def test_alert_list_wide(snap_compare: Any, make_app: Any, operator_world: str) -> None:
    """At 140 columns the alert and CI columns share the width left over: whole names."""
    app = make_app(operator_world, "operator")

    async def ready(pilot: Pilot[Any]) -> None:
        await until_ready(pilot)
        screen = _screen(app)
        await wait_for(pilot, lambda: screen.alert_table.row_count == 4, what="the alerts")
        await pilot.pause()

    assert snap_compare(app, terminal_size=(140, 45), run_before=ready)
