"""``pcso demo``: a fresh demo world, an outage simulation and the workspace, in one command.

1. The demo database (``demo.db`` in the user data directory unless ``--db``) is replaced —
   only ever a file that is missing or already a demo world, never a real database.
2. A small world is seeded (the ``pcso seed`` world, ``--accounts`` big) and marked demo:
   anyone may switch roles (F2–F6) and act as the seed's personas.
3. The workspace opens as olivia (operator), with two background jobs in the same process,
   started after the first screen is up: the outage simulation (``world.simulation``:
   alerts through the normal ingest path; up to ``DEMO_CALLERS`` affected customers of each
   outage call in, logged by adam through the agent's intake) and the delivery worker, whose email, webhook and
   sms channels are the demo channels (``plugins.channels.demo``: nothing leaves the machine)
   and which keeps the status page in ``demo-status/`` beside the database current (unless
   the configuration names a status page directory).

The simulation compresses time, so the demo runs with a one-minute correlation window
(``simulation.demo_settings``); everything else comes from the user's configuration.
``--steps N`` runs N simulation steps without the workspace and prints what each did.
"""

from __future__ import annotations

import os
import re
import sqlite3
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from pcso_tui.cli.common import CliContext, pass_cli, run
from pcso_tui.cli.world import ProgressBar

if TYPE_CHECKING:
    import asyncio

    from pcso_tui.domain.core.service import Domain
    from pcso_tui.world.views import WorldSummary

DEMO_FILE = "demo.db"
PERSONA = "olivia"
DEFAULT_ACCOUNTS = 500
# The agent persona who takes the simulated customers' calls, and how many customers of each
# outage call or write in at most (the live demo keeps the agent's queue readable).
AGENT = "adam"
DEMO_CALLERS = 15
WELCOME = (
    "A simulated outage is under way: alerts arrive, flap and resolve; incidents and proactive "
    "cases open; affected customers call in. F2–F6 switch roles (operator, agent, manager, portal, "
    "dashboard); ? lists the "
    "keys; q quits."
)


def default_demo_path() -> Path:
    from platformdirs import user_data_path

    return user_data_path("pcso-tui") / DEMO_FILE


def _demo_state(path: Path) -> str:
    """``missing``, ``demo`` or ``other``: what is at ``path`` (read without opening it for writing)."""
    if not path.exists():
        return "missing"
    if not path.is_file():
        return "other"
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            row = conn.execute("SELECT value FROM setting WHERE key = 'demo'").fetchone()
        finally:
            conn.close()
    except sqlite3.Error:
        return "other"
    return "demo" if row is not None and row[0] in ("true", 1) else "other"


def _remove(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)


def _demo_context(ctx: CliContext, path: Path, persona: str) -> CliContext:
    """The user's configuration on the demo database, correlation paced for the simulation."""
    from dataclasses import replace

    from pcso_tui.domain.core.errors import DomainError
    from pcso_tui.world.simulation import demo_settings

    try:
        config = ctx.config
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    demo_config = replace(config, settings=demo_settings(config.settings), database_url=str(path))
    return CliContext(
        db_option=str(path),
        config_option=ctx.config_option,
        as_name=persona,
        _config=demo_config,
        authenticated_user=ctx.authenticated_user,
    )


async def _build(ctx: CliContext, accounts: int, seed: int, progress: Any) -> WorldSummary:
    """Seed a world into the new database and mark it demo."""
    from pcso_tui.domain.core.roles import Actor, Role
    from pcso_tui.domain.core.users import add_user, mark_demo, sign_in
    from pcso_tui.world.world import seed_world

    domain = await ctx.open_domain(upgrade=True, create=True)
    try:
        # The demo's own admin bootstraps itself; the events name who ran `pcso demo`.
        founder = Actor(user_id=None, name="admin", role=Role.CUSTOMER, impersonator=ctx.user_name())
        await add_user(domain, founder, "admin", Role.ADMIN, display_name="Administrator")
        admin = await sign_in(domain, "admin")
        summary = await seed_world(domain, admin, accounts=accounts, seed=seed, progress=progress)
        await mark_demo(domain, admin)
        return summary
    finally:
        await domain.close()


def simulation_job(seed: int, *, interval: float | None = None, operator: str = PERSONA, agent: str = AGENT) -> Any:
    """The outage simulation as a background job (``app.BackgroundJob``): affected customers
    call in too, taken by the ``agent`` persona."""

    async def outage_simulation(domain: Domain, stop: asyncio.Event) -> None:
        from dataclasses import replace

        from pcso_tui.domain.core.errors import DomainError
        from pcso_tui.domain.core.users import sign_in
        from pcso_tui.world.simulation import OutageSimulation, SimulationSettings

        try:
            actor = await sign_in(domain, operator)
        except DomainError:
            actor = None  # no operator persona: alerts and incidents only
        try:
            taker = await sign_in(domain, agent)
        except DomainError:
            taker = None  # no agent persona: no customer calls
        settings = SimulationSettings(max_callers=DEMO_CALLERS)
        if interval is not None:
            settings = replace(settings, interval=interval)
        await OutageSimulation(domain, seed=seed, settings=settings, operator=actor, agent=taker).run(stop)

    return outage_simulation


def demo_status_dir(path: Path) -> Path:
    """Where the demo writes its status page: ``demo-status/`` beside ``demo.db``."""
    return path.with_name(f"{path.stem}-status")


def _publish_to(domain: Domain, status_dir: Path | None) -> None:
    """The demo's status page directory, unless the configuration names one of its own."""
    from pcso_tui.domain.communications.delivery import with_status_page_dir

    if status_dir is not None and not domain.settings.delivery.status_page_dir:
        with_status_page_dir(domain, str(status_dir))


def delivery_job(status_dir: Path | None = None) -> Any:
    """The delivery worker on the demo channels as a background job; it also keeps the
    status page in ``status_dir`` current."""

    async def delivery_worker(domain: Domain, stop: asyncio.Event) -> None:
        from pcso_tui.domain.communications.delivery import DeliveryWorker
        from pcso_tui.plugins.channels.demo import demo_channels

        _publish_to(domain, status_dir)
        async with DeliveryWorker(domain, channels=demo_channels()) as worker:
            await worker.run(stop)

    return delivery_worker


async def _play(ctx: CliContext, seed: int, steps: int, status_dir: Path | None = None) -> None:
    """``--steps``: run the simulation and the delivery worker headless, one line per step;
    then write the status page."""
    from pcso_tui.domain.communications.delivery import DeliveryWorker
    from pcso_tui.domain.core.users import sign_in
    from pcso_tui.domain.core.views import case_number, incident_number
    from pcso_tui.plugins.channels.demo import demo_channels
    from pcso_tui.world.simulation import OutageSimulation, SimulationSettings

    domain = await ctx.open_domain()
    _publish_to(domain, status_dir)
    try:
        simulation = OutageSimulation(
            domain,
            seed=seed,
            settings=SimulationSettings(max_callers=DEMO_CALLERS),
            operator=await sign_in(domain, PERSONA),
            agent=await sign_in(domain, AGENT),
        )
        async with DeliveryWorker(domain, channels=demo_channels()) as worker:
            for _ in range(steps):
                step = await simulation.step()
                delivered = await worker.drain()
                alerts = "1 alert" if step.sent == 1 else f"{step.sent} alerts"
                line = (
                    f"step {step.step}: sent {alerts} ({step.fired} firing, {step.resolved} resolved,"
                    f" {step.flapping} now flapping)"
                )
                if step.incident_ids:
                    line += "; incidents " + ", ".join(incident_number(i) for i in step.incident_ids)
                if step.case_ids:
                    line += "; proactive cases " + ", ".join(case_number(c) for c in step.case_ids)
                if step.calls:
                    line += f"; customer calls {len(step.calls)} ({len(step.attached)} to known outages)"
                elif step.attached:
                    line += f"; calls attached to known outages {len(step.attached)}"
                if delivered.claimed:
                    line += f"; notices sent {delivered.sent}"
                click.echo(line)
            await worker.publish_status_page()
    finally:
        await domain.close()


@click.command("demo")
@click.option(
    "--db",
    "db_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help=f"The demo database file [default: {DEMO_FILE} in the user data directory].",
)
@click.option(
    "--fresh/--keep",
    default=True,
    show_default=True,
    help="Replace the demo database with a new world, or reopen the one there.",
)
@click.option(
    "--accounts",
    type=click.IntRange(10, 100_000),
    default=DEFAULT_ACCOUNTS,
    show_default=True,
    help="How many customer accounts the world has (10 install base items each).",
)
@click.option("--seed", "seed", type=int, default=1, show_default=True, help="The same seed builds the same world.")
@click.option("--no-simulation", is_flag=True, help="Open the world without the outage simulation.")
@click.option(
    "--steps",
    type=click.IntRange(1, 100_000),
    help="Run this many simulation steps without the workspace, print what each did, and exit.",
)
@click.option("--as", "persona", default=PERSONA, show_default=True, metavar="NAME", help="The persona to open as.")
@pass_cli
def demo(
    ctx: CliContext,
    db_path: Path | None,
    fresh: bool,
    accounts: int,
    seed: int,
    no_simulation: bool,
    steps: int | None,
    persona: str,
) -> None:
    """Open a live demo: a fresh synthetic world with an outage simulation running.

    Alerts arrive, flap and resolve; bursts on related CIs open incidents and proactive cases.
    Switch roles with F2–F6 (operator, agent, manager, customer portal, dashboard); q or
    Ctrl+C quits. Only demo databases are ever replaced: the real one is never touched.
    """
    if db_path is not None and re.match(r"[A-Za-z][A-Za-z0-9+.-]*:/", str(db_path)):
        raise click.UsageError("pcso demo runs on an embedded database: give --db a file path, not a URL")
    path = (db_path or default_demo_path()).expanduser().resolve()
    state = _demo_state(path)
    if state == "other":
        raise click.ClickException(
            f"{path} exists and is not a pcso demo database; pcso demo replaces only its own — "
            "give another file with --db"
        )
    context = _demo_context(ctx, path, persona)
    if fresh or state == "missing":
        click.echo(f"pcso demo: building a fresh demo world in {path}", err=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Built beside it and moved into place when whole: an interrupted build leaves nothing.
        building = path.with_name(f".{path.name}.building-{os.getpid()}")
        bar = ProgressBar(sys.stderr) if sys.stderr.isatty() else None
        started = time.perf_counter()
        try:
            _remove(building)
            summary = run(_build(_demo_context(ctx, building, persona), accounts, seed, bar))
            _remove(path)
            os.replace(building, path)
        finally:
            if bar is not None:
                bar.close()
            _remove(building)
        click.echo(
            f"pcso demo: {summary.counts.get('account', accounts):,} accounts, "
            f"{summary.counts.get('install_base_item', 0):,} install base items, "
            f"{summary.counts.get('ci', 0):,} CIs in {time.perf_counter() - started:.1f} s "
            f"(--keep reopens this world next time)",
            err=True,
        )
    else:
        click.echo(f"pcso demo: reopening the demo world in {path}", err=True)

    status_dir = demo_status_dir(path)
    if not context.config.settings.delivery.status_page_dir:
        click.echo(f"pcso demo: the status page is written to {status_dir / 'index.html'}", err=True)
    if steps is not None:
        run(_play(context, seed, steps, status_dir))
        return

    from pcso_tui.app import create_app

    jobs = [delivery_job(status_dir)]
    background = jobs if no_simulation else [simulation_job(seed), *jobs]
    app = create_app(context, demo=True, background=background, welcome=WELCOME if not no_simulation else None)
    try:
        app.run()
    except KeyboardInterrupt:
        sys.exit(130)
    sys.exit(app.return_code or 0)


group = demo
