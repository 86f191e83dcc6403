"""How proactive are we, by policy: the demo's outage simulation, customers calling in, on a
fresh demo world, in simulated time (no waiting).

    python bench/bench_proactivity.py                       # 500 accounts, 60 simulated minutes
    python bench/bench_proactivity.py --minutes 240 --accounts 2000 --seed 3

One world is seeded, then copied for each policy, so both play the same outages and the same
customers (the simulation's generators are seeded):

- **automatic rules**: the proactive case opens as soon as the outage's incident does, and the
  workflow rule accepts the major case at once (children made, customers notified);
- **operator, N min**: the same rule, but the operator opens the proactive case N minutes
  (``--operator-minutes``, default 5) after the incident opened.

Every affected customer calls after a log-normal delay (median ``--call-median`` minutes,
``--never-call`` of them never do), through the agent's intake (log the call, check the known
outages, attach). Notices go out through the demo channels after every step. It prints the
dashboard's proactivity KPIs for the simulated day: the share of affected customers notified
before they contacted us, deflected calls, first alert to first notice, proactive cases.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from pcso_tui.domain.communications.delivery import DeliveryWorker
from pcso_tui.domain.core.clock import FrozenClock
from pcso_tui.domain.core.roles import Actor, Role
from pcso_tui.domain.core.service import Domain
from pcso_tui.domain.core.settings import Settings
from pcso_tui.domain.core.users import add_user, sign_in
from pcso_tui.plugins import new_plugin_manager
from pcso_tui.plugins.channels.demo import demo_channels
from pcso_tui.world.simulation import (
    OutageSimulation,
    SimulationSettings,
    play_in_simulated_time,
    policy_settings,
    proactivity,
)
from pcso_tui.world.world import seed_world

SEEDED_AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
# The simulated day begins after the seeded history: the dashboard's day holds it alone.
STARTS_AT = datetime(2026, 3, 3, 0, 1, tzinfo=UTC)


async def seed(path: Path, accounts: int, seed_no: int) -> None:
    hooks = new_plugin_manager(load_entry_points=False).hook
    domain = await Domain.open(path, clock=FrozenClock(SEEDED_AT), hooks=hooks)
    try:
        await add_user(domain, Actor(user_id=None, name="bench", role=Role.CUSTOMER), "admin", Role.ADMIN)
        await seed_world(domain, await sign_in(domain, "admin"), accounts=accounts, seed=seed_no)
    finally:
        await domain.close()


async def play(path: Path, args: argparse.Namespace, case_delay: float) -> tuple[dict[str, tuple[str, str]], str]:
    clock = FrozenClock(STARTS_AT)
    domain = await Domain.open(
        path,
        clock=clock,
        settings=policy_settings(Settings()),
        hooks=new_plugin_manager(load_entry_points=False).hook,
    )
    try:
        settings = SimulationSettings(
            interval=args.interval,
            case_delay=case_delay,
            call_median=args.call_median * 60,
            never_call=args.never_call,
        )
        simulation = OutageSimulation(
            domain,
            seed=args.seed,
            settings=settings,
            operator=await sign_in(domain, "olivia"),
            agent=await sign_in(domain, "adam"),
        )
        async with DeliveryWorker(domain, channels=demo_channels()) as worker:
            await play_in_simulated_time(simulation, clock, minutes=args.minutes, worker=worker)
        played = (
            f"{len(simulation.cases_opened)} proactive cases, {len(simulation.callers)} customers set to call "
            f"({len(simulation.calls_logged)} called so far, {len(simulation.calls_attached)} attached), "
            f"{len(simulation.never_called)} never"
        )
        return await proactivity(domain, await sign_in(domain, "admin"), clock.now), played
    finally:
        await domain.close()


async def main(args: argparse.Namespace) -> None:
    if args.minutes > 23 * 60:
        sys.exit("--minutes: at most 1380 (the KPIs are the simulated day's)")
    with tempfile.TemporaryDirectory(prefix="pcso-proactivity-") as tmp:
        template = Path(tmp) / "world.db"
        started = time.perf_counter()
        await seed(template, args.accounts, args.seed)
        print(f"world: {args.accounts:,} accounts seeded in {time.perf_counter() - started:.1f} s")
        policies = (
            ("automatic rules", 0.0),
            (f"operator, {args.operator_minutes:g} min", args.operator_minutes * 60),
        )
        for name, delay in policies:
            path = Path(tmp) / f"{name.split(',')[0].replace(' ', '-')}.db"
            shutil.copyfile(template, path)
            started = time.perf_counter()
            shown, played = await play(path, args, delay)
            print(f"\n{name} — {args.minutes:g} simulated minutes in {time.perf_counter() - started:.1f} s")
            print(f"  {played}")
            for title, value in shown.values():
                print(f"  {title:<40} {value}")


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--minutes", type=float, default=60.0, help="simulated minutes per policy")
    parser.add_argument("--interval", type=float, default=10.0, help="simulated seconds per step")
    parser.add_argument("--operator-minutes", type=float, default=5.0)
    parser.add_argument("--call-median", type=float, default=10.0, help="minutes")
    parser.add_argument("--never-call", type=float, default=0.3)
    return parser.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse()))
