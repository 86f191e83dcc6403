"""Resident memory of the operator workspace with many open alerts, against a minimal Textual app.

    .venv/bin/python bench/bench_operator_memory.py [--size small] [--alerts 10000] [--runs 1]

Builds a world of ``--size`` (``seed_world``; default ``small``: 20,000 install base items, so
it runs in about a minute — ``large`` is the 1,000,000-item world of the issue's budget) in a
fresh embedded database and ingests ``--alerts`` open alerts (default 10,000) through the real
ingest, on the world's CIs (a third of them) and on unknown ones (unmapped). Then, each in a
fresh process of its own, headless (``App.run_test`` at 80×24):

- **minimal**: a Textual app with one ``Static``, after its first frame;
- **operator**: the pcso workspace signed in as the world's operator, once the alert page is
  mounted (the count says ``--alerts``), the page re-read and diffed ten times (the longest
  event-loop stall meanwhile is printed), the incident list loaded, and the impact of the newest
  incident computed (its view opened, as an operator would). That incident is opened on the
  world's first datacentre CI: the widest impact there is (≈100,000 accounts on ``large``).

Each child prints its resident set (``VmRSS``) and peak (``VmHWM``) from ``/proc/self/status``;
the parent prints both in MiB, the difference and the ratio. The issue's budget: the operator
workspace on the 1,000,000-item world with 10,000 open alerts under 200 MiB resident.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

MIB = 1024 * 1024
REFRESHES = 10


def memory() -> dict[str, float]:
    """Resident and peak resident set of this process, in MiB."""
    found: dict[str, float] = {}
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                key, _, value = line.partition(":")
                if key in ("VmRSS", "VmHWM"):
                    found[key] = int(value.split()[0]) * 1024 / MIB
    except OSError:
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / MIB
        found = {"VmRSS": peak, "VmHWM": peak}
    return {"rss": found["VmRSS"], "peak": found["VmHWM"]}


# --- children -------------------------------------------------------------------------------


def minimal_child() -> dict[str, Any]:
    from textual.app import App
    from textual.widgets import Static

    class Minimal(App[None]):
        def compose(self) -> Any:
            yield Static("minimal")

    async def run() -> dict[str, Any]:
        app = Minimal()
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            return memory()

    return asyncio.run(run())


def operator_child(database: str, folder: Path, alerts: int) -> dict[str, Any]:
    from textual.message import Message

    from pcso_tui.app import create_app
    from pcso_tui.connection import Connection
    from pcso_tui.screens.base import Loaded
    from pcso_tui.screens.operator import OperatorScreen

    pages_read = [0]  # alert pages read and shown (``Loaded`` messages of the alerts view)

    def count_pages(message: Message) -> None:
        if isinstance(message, Loaded) and message.name == "operator-alerts":
            pages_read[0] += 1

    async def until(pilot: Any, condition: Any, what: str, timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise SystemExit(f"timed out waiting for {what}")
            await pilot.pause(0.05)

    async def run() -> dict[str, Any]:
        connection = Connection(
            db_option=database, config_option=folder / "none.toml", as_name=None, authenticated_user="olivia"
        )
        app = create_app(connection, state_file=folder / "state.json", cursor_blink=False)
        started = time.perf_counter()
        async with app.run_test(size=(80, 24), message_hook=count_pages) as pilot:
            await until(pilot, lambda: isinstance(app.screen, OperatorScreen), "the operator screen")
            screen = app.screen
            assert isinstance(screen, OperatorScreen)
            await until(pilot, lambda: screen.total == alerts and pages_read[0] > 0, "the alert page")
            page = time.perf_counter() - started
            mounted = screen.alert_table.row_count
            # Responsiveness: the longest the event loop went without running a 5 ms timer
            # while the page was re-read and diffed REFRESHES times (what a burst of alerts does).
            stall = [0.0]
            probing = [True]

            async def probe() -> None:
                while probing[0]:
                    before = time.perf_counter()
                    await asyncio.sleep(0.005)
                    stall[0] = max(stall[0], time.perf_counter() - before - 0.005)

            task = asyncio.get_running_loop().create_task(probe())
            refresh_started = time.perf_counter()
            for _ in range(REFRESHES):
                before = pages_read[0]
                screen.request("alerts")
                await until(pilot, lambda before=before: pages_read[0] > before, "a refresh")
            refresh = (time.perf_counter() - refresh_started) / REFRESHES
            probing[0] = False
            await task
            await until(pilot, lambda: bool(screen.incidents), "the incidents")
            await pilot.press("3")
            await until(pilot, lambda: screen.impact is not None, "the impact")
            impact = screen.impact
            await pilot.pause()
            result = memory()
            result.update(
                seconds_to_page=page,
                refresh_ms=refresh * 1000,
                stall_ms=stall[0] * 1000,
                mounted=mounted,
                total=screen.total,
                incidents=len(screen.incidents),
                impact_accounts=impact.account_count if impact else 0,
            )
            return result

    return asyncio.run(run())


# --- the world --------------------------------------------------------------------------------


async def build(database: Path, size: str, alerts: int) -> tuple[float, float]:
    from sqlalchemy import select

    from pcso_tui.domain.core.models import ConfigurationItem
    from pcso_tui.domain.core.roles import SYSTEM
    from pcso_tui.domain.core.service import Domain
    from pcso_tui.domain.operations.alerts import AlertInput, ParsedBatch, ingest
    from pcso_tui.domain.operations.incidents import open_incident
    from pcso_tui.plugins import new_plugin_manager
    from pcso_tui.world.world import seed_world

    domain = await Domain.open(database, upgrade=True, hooks=new_plugin_manager(load_entry_points=False).hook)
    try:
        started = time.perf_counter()
        await seed_world(domain, SYSTEM, size=size)
        seeded = time.perf_counter() - started
        async with domain.reading() as session:
            cis = list(await session.scalars(select(ConfigurationItem.name).order_by(ConfigurationItem.id)))
        started = time.perf_counter()
        severities = ("warning", "minor", "info", "warning", "major")
        batch: list[AlertInput] = []
        for n in range(alerts):
            ci = cis[n % len(cis)] if n % 3 == 0 else f"retired-{n}"
            batch.append(
                AlertInput.build(
                    f"Bench{n % 97}",
                    fingerprint=f"bench-{n:07d}",
                    severity=severities[n % len(severities)],
                    summary=f"synthetic alert {n} [bold]not markup[/]",
                    labels={"instance": ci, "job": "bench"},
                    ci=ci,
                )
            )
            if len(batch) == 2000:
                await ingest(domain, SYSTEM, ParsedBatch(tuple(batch)))
                batch = []
        if batch:
            await ingest(domain, SYSTEM, ParsedBatch(tuple(batch)))
        ingested = time.perf_counter() - started
        # The newest incident, the one the operator's impact view opens on: a datacentre down,
        # the widest impact the world has.
        async with domain.reading() as session:
            datacentre = await session.scalar(
                select(ConfigurationItem.name)
                .where(ConfigurationItem.kind == "datacentre")
                .order_by(ConfigurationItem.id)
            )
        if datacentre is not None:
            await open_incident(
                domain, SYSTEM, title=f"{datacentre} power lost", severity="critical", ci_names=[datacentre]
            )
    finally:
        await domain.close()
    return seeded, ingested


def run_child(kind: str, args: list[str], env: dict[str, str]) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", kind, *args], env=env, capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        raise SystemExit(f"the {kind} child failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default="small", help="world size (tiny, small, medium, large)")
    parser.add_argument("--alerts", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=1, help="children of each kind (alternating)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--database", help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    options = parser.parse_args()

    if options.child == "minimal":
        print(json.dumps(minimal_child()))
        return
    if options.child == "operator":
        print(json.dumps(operator_child(options.database, Path(options.folder), options.alerts)))
        return

    with tempfile.TemporaryDirectory(prefix="pcso-bench-operator-") as tmp:
        folder = Path(tmp)
        database = folder / "pcso.db"
        print(f"world {options.size}, {options.alerts:,} open alerts …", flush=True)
        seeded, ingested = asyncio.run(build(database, options.size, options.alerts))
        print(f"  seeded in {seeded:.1f} s, alerts ingested in {ingested:.1f} s", flush=True)
        env = dict(
            os.environ,
            TZ="UTC",
            XDG_CONFIG_HOME=str(folder / "config"),
            XDG_STATE_HOME=str(folder / "state"),
            XDG_DATA_HOME=str(folder / "data"),
        )
        env.pop("PCSO_DATABASE_URL", None)
        env.pop("PCSO_CONFIG", None)
        child_args = ["--database", str(database), "--folder", str(folder), "--alerts", str(options.alerts)]
        minimal: list[dict[str, Any]] = []
        operator: list[dict[str, Any]] = []
        for _ in range(max(1, options.runs)):
            minimal.append(run_child("minimal", child_args, env))
            operator.append(run_child("operator", child_args, env))

    def best(rows: list[dict[str, Any]], key: str) -> float:
        return min(row[key] for row in rows)

    last = operator[-1]
    print(
        f"operator screen: {last['mounted']} rows mounted of {last['total']:,} open alerts, "
        f"{last['incidents']} incidents listed, impact of the newest: {last['impact_accounts']:,} accounts; "
        f"first page after {last['seconds_to_page']:.1f} s"
    )
    print(
        f"page re-read and diffed: {last['refresh_ms']:.0f} ms each (mean of {REFRESHES}), "
        f"longest event-loop stall {last['stall_ms']:.0f} ms"
    )
    print("                          resident      peak   (MiB, lowest of the runs)")
    print(f"minimal Textual app     {best(minimal, 'rss'):9.1f} {best(minimal, 'peak'):9.1f}")
    print(f"operator workspace      {best(operator, 'rss'):9.1f} {best(operator, 'peak'):9.1f}")
    rss, base = best(operator, "rss"), best(minimal, "rss")
    verdict = "ok" if rss < 200 else "OVER"
    print(f"difference {rss - base:.1f} MiB, ratio {rss / base:.2f}×; budget 200 MiB resident: {verdict}")


if __name__ == "__main__":
    main()
