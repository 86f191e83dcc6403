"""The demo workspace (``pcso demo``): alerts arrive while you watch, roles switch, it quits cleanly."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from tests.ui.conftest import screen_text, until_ready, wait_for

from pcso_tui.app import DemoApp
from pcso_tui.cli.common import CliContext
from pcso_tui.cli.demo import WELCOME, _build, _demo_context, delivery_job, simulation_job
from pcso_tui.screens.manager import ManagerScreen
from pcso_tui.screens.operator import OperatorScreen
from pcso_tui.widgets.themes import builtin_themes_dir


@pytest.fixture
def demo_world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliContext:
    """A demo world as ``pcso demo`` builds it (small), and the context it opens the workspace with."""
    config = tmp_path / "config.toml"
    config.write_text("", encoding="utf-8")
    path = tmp_path / "demo" / "demo.db"
    path.parent.mkdir()
    context = _demo_context(
        CliContext(db_option=None, config_option=config, as_name=None, authenticated_user="newcomer"), path, "olivia"
    )
    asyncio.run(_build(context, 30, 1, None))
    return context


class NotedDemoApp(DemoApp):
    """Keeps every notification it shows (``notes``)."""

    notes: list[tuple[str, str]]

    def notify(self, message: str, *, title: str = "", **options: Any) -> None:  # type: ignore[override]
        self.notes = [*getattr(self, "notes", []), (message, title)]
        super().notify(message, title=title, **options)


def make_demo_app(context: CliContext, tmp_path: Path, **options: Any) -> NotedDemoApp:
    return NotedDemoApp(
        context,
        state_file=tmp_path / "state" / "ui.json",
        theme_dirs=[builtin_themes_dir()],
        cursor_blink=False,
        **options,
    )


def simulated_alerts(app: DemoApp) -> list[str]:
    return [str(e.payload.get("name")) for e in app.recent_events if e.actor_name == "simulator"]


async def test_alerts_arrive_within_a_few_simulated_seconds(demo_world: CliContext, tmp_path: Path) -> None:
    # Simulated seconds pass fast: a step every 50 ms instead of every 2 s.
    app = make_demo_app(
        demo_world, tmp_path, background=[simulation_job(1, interval=0.05), delivery_job()], welcome=WELCOME
    )
    async with app.run_test(size=(100, 30)) as pilot:
        await until_ready(pilot)
        assert isinstance(app.screen, OperatorScreen)
        assert app.session.demo and app.session.actor.name == "olivia"
        await wait_for(pilot, lambda: app.background_running == 2, what="the simulation and the delivery worker")
        await wait_for(pilot, lambda: len(simulated_alerts(app)) >= 3, what="simulated alerts in the feed")
        kinds = {e.kind for e in app.recent_events if e.actor_name == "simulator"}
        assert "alert.opened" in kinds
        # The first outage: correlation opens its incident, and olivia its proactive case.
        await wait_for(
            pilot,
            lambda: {"incident.opened", "case.opened"} <= {e.kind for e in app.recent_events},
            what="the outage's incident and proactive case",
        )
        # The alert list shows them (its refresh follows the feed; on a busy machine it lags).
        await wait_for(
            pilot,
            lambda: any(name in screen_text(app) for name in simulated_alerts(app)),
            what="simulated alerts on the screen",
        )
        assert [message for message, _title in app.notes] == [WELCOME]  # the welcome note, once


async def test_the_simulation_goes_on_across_a_role_switch_and_stops_on_quit(
    demo_world: CliContext, tmp_path: Path
) -> None:
    app = make_demo_app(demo_world, tmp_path, background=[simulation_job(1, interval=0.05)])
    async with app.run_test(size=(80, 24)) as pilot:
        await until_ready(pilot)
        await wait_for(pilot, lambda: app.background_running == 1, what="the simulation")
        await pilot.press("f4")
        await wait_for(pilot, lambda: isinstance(app.screen, ManagerScreen), what="the manager screen")
        assert app.session.actor.name == "maria"
        seen = len(simulated_alerts(app))
        await wait_for(pilot, lambda: len(simulated_alerts(app)) > seen, what="more alerts after the switch")
        await pilot.press("ctrl+c")  # quits a demo (a newcomer's first reflex)
        await wait_for(pilot, lambda: app.return_code is not None, what="the exit")
    assert app.return_code == 0
    assert app.background_running == 0
    assert app.domain is None  # closed after the jobs stopped


async def test_background_jobs_wait_for_the_first_screen(demo_world: CliContext, tmp_path: Path) -> None:
    started: list[bool] = []

    async def probe(domain: Any, stop: asyncio.Event) -> None:
        started.append(isinstance(app.screen, OperatorScreen) and app.screen.is_mounted)
        await stop.wait()

    app = make_demo_app(demo_world, tmp_path, background=[probe])
    async with app.run_test(size=(80, 24)) as pilot:
        await until_ready(pilot)
        await wait_for(pilot, lambda: started, what="the job")
    assert started == [True]


async def test_a_failing_background_job_is_named_and_the_workspace_goes_on(
    demo_world: CliContext, tmp_path: Path
) -> None:
    async def broken_feed(domain: Any, stop: asyncio.Event) -> None:
        raise RuntimeError("the [bold]feed[/] broke")

    app = make_demo_app(demo_world, tmp_path, background=[broken_feed])
    async with app.run_test(size=(80, 24)) as pilot:
        await until_ready(pilot)
        await wait_for(pilot, lambda: getattr(app, "notes", None), what="the failure note")
        assert app.notes == [("broken_feed stopped: the [bold]feed[/] broke", "")]
        assert app.background_running == 0
        await pilot.press("f4")
        await wait_for(pilot, lambda: isinstance(app.screen, ManagerScreen), what="the manager screen")
