"""The customer portal at 80×24: the outage list with its detail, a case with its updates,
and a staff preview. Frozen clock, UTC, no cursor blink, the same seeded world
(``tests/ui/conftest.py`` and ``tests/ui/portal_world.py``). Update after an intended change with
``pytest tests/ui/test_portal_snapshots.py --snapshot-update`` and look at the SVGs in
``__snapshots__`` before committing them.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from tests.ui.portal_world import build_portal_world
from tests.ui.test_portal import loaded, select_case
from textual.pilot import Pilot


@pytest.fixture
def portal_url(world_url: str) -> str:
    asyncio.run(build_portal_world(world_url))
    return world_url


def test_portal_outages(snap_compare: Any, make_app: Any, portal_url: str) -> None:
    app = make_app(portal_url, "customer")

    async def ready(pilot: Pilot[Any]) -> None:
        await loaded(pilot)

    assert snap_compare(app, terminal_size=(80, 24), run_before=ready)


def test_portal_case_with_updates(snap_compare: Any, make_app: Any, portal_url: str) -> None:
    app = make_app(portal_url, "customer")

    async def open_case(pilot: Pilot[Any]) -> None:
        screen = await loaded(pilot)
        child = next(c.id for c in screen.cases.values() if c.kind == "child")
        await select_case(pilot, screen, child)
        await pilot.pause()

    assert snap_compare(app, terminal_size=(80, 24), run_before=open_case)


def test_portal_preview(snap_compare: Any, make_app: Any, portal_url: str) -> None:
    app = make_app(portal_url, "agent", preview_account="ACC-T1")

    async def ready(pilot: Pilot[Any]) -> None:
        await loaded(pilot)

    assert snap_compare(app, terminal_size=(80, 24), run_before=ready)
