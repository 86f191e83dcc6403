"""Shared fixtures for the workspace: a tiny seeded world, the App built for it, waiting helpers.

Everything a screenshot shows is fixed: the clock is frozen (events at 09:00:00 UTC), the time
zone is UTC, the theme starts from an empty state file, cursors do not blink, and the database
sits at ``…/world/pcso.db`` so the header names it the same way every run.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import FROZEN_AT
from textual.message import Message
from textual.pilot import Pilot

from pcso_tui.app import PcsoApp, create_app
from pcso_tui.connection import Connection
from pcso_tui.domain.core.clock import FrozenClock
from pcso_tui.domain.core.event_kinds import AlertOpened, CaseOpened, IncidentOpened, Payload
from pcso_tui.domain.core.roles import Actor, Role
from pcso_tui.domain.core.service import Domain
from pcso_tui.domain.core.views import case_number, incident_number
from pcso_tui.screens.base import Loaded, ModeScreen
from pcso_tui.widgets.themes import builtin_themes_dir

HOSTILE = "[bold]Mal[/ \x1b[2J"

# name, role, display name
PEOPLE = [
    ("admin", Role.ADMIN, "Ada Admin"),
    ("operator", Role.OPERATOR, "Olive Operator"),
    ("agent", Role.AGENT, "Aggie Agent"),
    ("manager", Role.MANAGER, "Manny Manager"),
    ("customer", Role.CUSTOMER, "Cora Customer"),
    ("mallory", Role.OPERATOR, HOSTILE),
]
# Demo worlds also hold the personas ``pcso seed`` creates (``screens.modes.DEMO_PERSONAS``).
DEMO_PEOPLE = [
    ("olivia", Role.OPERATOR, "Olivia Okafor"),
    ("adam", Role.AGENT, "Adam Novak"),
    ("maria", Role.MANAGER, "Maria Santos"),
    ("carl", Role.CUSTOMER, "Carl Jensen"),
]


async def seed_world(url: str, *, demo: bool = False) -> None:
    """Users of every role, an account, and a few events — all at the frozen time."""
    from pcso_tui.domain.core.models import Account, Setting
    from pcso_tui.domain.core.users import add_user, sign_in
    from pcso_tui.plugins import new_plugin_manager

    domain = await Domain.open(
        url, clock=FrozenClock(FROZEN_AT), hooks=new_plugin_manager(load_entry_points=False).hook
    )
    try:
        await add_user(
            domain, Actor(user_id=None, name="setup", role=Role.CUSTOMER), "admin", Role.ADMIN, display_name="Ada Admin"
        )
        admin = await sign_in(domain, "admin")
        async with domain.transaction(admin) as tx:
            tx.session.add(Account(number="ACC-T1", name="Test Customer One", created_at=tx.now))
            if demo:
                tx.session.add(Setting(key="demo", value=True))
        for name, role, display in PEOPLE[1:] + (DEMO_PEOPLE if demo else []):
            account = "ACC-T1" if role is Role.CUSTOMER else None
            await add_user(domain, admin, name, role, account_number=account, display_name=display)
        operator = await sign_in(domain, "operator")
        async with domain.transaction(operator) as tx:
            disk = AlertOpened(
                fingerprint="disk-db-01", name="Disk full on db-01", severity="critical", ci="db-01", from_=None
            )
            tx.record(1, disk)
            storage = IncidentOpened(
                number=incident_number(1),
                title="Storage cluster degraded",
                severity="critical",
                rule=None,
                alert_ids=[1],
                cis=["db-01"],
                root_ci="db-01",
            )
            tx.record(1, storage)
            tx.record(1, CaseOpened(number=case_number(1), case_kind="proactive"))
    finally:
        await domain.close()


async def write_event(url: str, event: Payload) -> None:
    """Another Domain instance (its own connections) records one event about record 7."""
    domain = await Domain.open(url, clock=FrozenClock(FROZEN_AT))
    try:
        async with domain.transaction(Actor(user_id=None, name="elsewhere", role=Role.ADMIN)) as tx:
            tx.record(7, event)
    finally:
        await domain.close()


@pytest.fixture(autouse=True)
def fixed_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    monkeypatch.setenv("TZ", "UTC")
    monkeypatch.delenv("PCSO_ASCII", raising=False)
    # Nothing may reach the user's real config, state or data.
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg-state"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def world_url(sqlite_template: Path, tmp_path: Path) -> str:
    """A seeded SQLite world (not a demo) at a stable-looking path."""
    path = tmp_path / "world" / "pcso.db"
    path.parent.mkdir()
    shutil.copyfile(sqlite_template, path)
    asyncio.run(seed_world(str(path)))
    return str(path)


@pytest.fixture
def demo_url(sqlite_template: Path, tmp_path: Path) -> str:
    path = tmp_path / "demo" / "pcso.db"
    path.parent.mkdir()
    shutil.copyfile(sqlite_template, path)
    asyncio.run(seed_world(str(path), demo=True))
    return str(path)


@pytest.fixture
async def any_world_url(database_url: str) -> str:
    """The seeded world on SQLite and, when configured, PostgreSQL."""
    await seed_world(database_url)
    return database_url


@pytest.fixture
def state_file(tmp_path: Path) -> Path:
    return tmp_path / "state" / "ui.json"


@pytest.fixture
def make_app(tmp_path: Path, state_file: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., PcsoApp]:
    def make(url: str, user: str, *, as_name: str | None = None, **options: Any) -> PcsoApp:
        connection = Connection(
            db_option=url, config_option=tmp_path / "no-config.toml", as_name=as_name, authenticated_user=user
        )
        options.setdefault("clock", FrozenClock(FROZEN_AT))
        options.setdefault("state_file", state_file)
        options.setdefault("theme_dirs", [builtin_themes_dir()])
        options.setdefault("cursor_blink", False)
        return create_app(connection, **options)

    return make


async def wait_for(
    pilot: Pilot[Any], condition: Callable[[], object], *, timeout: float = 10.0, what: str = ""
) -> None:
    """Let the App run until ``condition()`` holds (never a fixed sleep)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or condition}")
        await pilot.pause(0.02)


class Messages:
    """What the App's screens and widgets say they loaded: ``app.run_test(message_hook=messages)``.

    Every ``screens.base.Loaded`` handled while the test runs is kept, in order."""

    def __init__(self) -> None:
        self.loaded: list[str] = []

    def __call__(self, message: Message) -> None:
        if isinstance(message, Loaded):
            self.loaded.append(message.name)

    def count(self, name: str) -> int:
        """How many times ``name`` (a load's group) was read and shown so far."""
        return self.loaded.count(name)

    async def wait(self, pilot: Pilot[Any], name: str, *, after: int = 0, what: str = "") -> None:
        """Until ``name`` was loaded more than ``after`` times (``after=messages.count(name)``: once more)."""
        await wait_for(pilot, lambda: self.count(name) > after, what=what or f"{name} to load")


@pytest.fixture
def messages() -> Messages:
    return Messages()


def is_ready(app: PcsoApp) -> bool:
    screen = app.screen
    return app.session is not None and isinstance(screen, ModeScreen) and screen.is_mounted and app.feed_state == "live"


async def until_ready(pilot: Pilot[Any]) -> None:
    app = pilot.app
    assert isinstance(app, PcsoApp)
    await wait_for(pilot, lambda: is_ready(app) or app.failure is not None, what="the workspace to open")
    assert app.failure is None, app.failure
    await pilot.pause()


def screen_text(app: PcsoApp) -> str:
    """What the terminal shows, as plain text."""
    strips = app.screen._compositor.render_strips()
    return "\n".join("".join(segment.text for segment in strip) for strip in strips)
