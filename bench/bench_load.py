"""Many hands on one embedded database: N simulated agents and operators (each its own OS
process) acting at once, plus a receiver taking a steady alert stream.

    .venv/bin/python bench/bench_load.py [--agents 4] [--operators 4] [--seconds 10] [--alerts-per-second 20]

Agents open reactive cases, change priorities, write work notes and read their queue; operators
list and acknowledge alerts; the receiver ingests one Alertmanager message every
1/``--alerts-per-second`` s. Every operation is timed in its process. Prints operations per
second, the slowest operation, and errors: any exception other than an ordinary refusal (an alert
already acknowledged by someone else). "database is locked" would be one.

Target (issue 8): at N = 8 (4 agents + 4 operators), zero errors and the slowest operation under
a second. ``--json`` prints the totals as one JSON object (the concurrency test uses it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ACCOUNTS = 40
FINGERPRINTS = 60


def alert_message(i: int) -> dict[str, Any]:
    fp = f"load-{i % FINGERPRINTS}"
    firing = (i // FINGERPRINTS) % 4 != 3  # now and then a fingerprint resolves, then fires again
    return {
        "version": "4",
        "status": "firing" if firing else "resolved",
        "receiver": "pcso",
        "groupKey": fp,
        "alerts": [
            {
                "status": "firing" if firing else "resolved",
                "labels": {"alertname": f"Load{i % 7}", "instance": f"host-{i % 11}:9100", "severity": "warning"},
                "annotations": {"summary": f"load test alert {fp}"},
                "startsAt": "2026-11-23T08:55:00Z",
                "endsAt": "0001-01-01T00:00:00Z" if firing else "2026-11-23T09:00:00Z",
                "fingerprint": fp,
            }
        ],
    }


async def seed(url: str, agents: int, operators: int) -> None:
    from sqlalchemy import insert

    from pcso_tui.domain.core.models import Account, Contact
    from pcso_tui.domain.core.roles import Actor, Role
    from pcso_tui.domain.core.service import Domain
    from pcso_tui.domain.core.users import add_user, sign_in
    from pcso_tui.plugins import plugin_manager

    domain = await Domain.open(url, hooks=plugin_manager().hook)
    try:
        await add_user(domain, Actor(None, "root", Role.ADMIN), "admin", Role.ADMIN)
        admin = await sign_in(domain, "admin")
        for i in range(agents):
            await add_user(domain, admin, f"agent{i}", Role.AGENT)
        for i in range(operators):
            await add_user(domain, admin, f"operator{i}", Role.OPERATOR)
        async with domain.transaction(admin) as tx:
            await tx.session.execute(
                insert(Account),
                [{"number": f"L-{i}", "name": f"Load Customer {i}", "created_at": tx.now} for i in range(ACCOUNTS)],
            )
            await tx.session.flush()
            await tx.session.execute(
                insert(Contact),
                [
                    {
                        "number": f"L-CON-{i}",
                        "account_id": i + 1,
                        "name": f"Contact {i}",
                        "email": f"c{i}@load.example",
                        "preferred_channel": "email",
                        "is_primary": True,
                    }
                    for i in range(ACCOUNTS)
                ],
            )
    finally:
        await domain.close()


# What each kind of actor does; with --min-ops, each does every one of them at least once.
OPERATIONS = {
    "agent": {"open case", "priority", "work note", "queue"},
    "operator": {"alerts", "acknowledge"},
    "receiver": {"ingest"},
}
# With --min-ops, how long past --seconds the actors may take to reach it before they give up.
MIN_OPS_GRACE = 120.0


async def act(
    url: str, kind: str, name: str, go: str, seconds: float, rate: float, think: float, min_ops: int, actors: int
) -> dict[str, Any]:
    from pcso_tui.domain.casework import cases
    from pcso_tui.domain.core.errors import DomainError, IllegalTransition
    from pcso_tui.domain.core.roles import SYSTEM
    from pcso_tui.domain.core.service import Domain
    from pcso_tui.domain.core.users import sign_in
    from pcso_tui.domain.operations import alerts
    from pcso_tui.plugins import plugin_manager

    domain = await Domain.open(url, hooks=plugin_manager().hook)
    ops: dict[str, int] = {}
    acted = 0.0
    slowest: tuple[float, str] = (0.0, "")
    errors: list[str] = []
    latencies: list[float] = []
    rng = random.Random(name)
    try:
        actor = SYSTEM if kind == "receiver" else await sign_in(domain, name)
        print("ready", flush=True)
        while not os.path.exists(go):
            await asyncio.sleep(0.005)
        mine: list[int] = []
        began = time.monotonic()
        end = began + seconds
        # With min_ops, the run ends on a condition, not a clock alone: every actor keeps going
        # until all of them did min_ops operations, every kind of theirs included, so a loaded
        # machine makes the run longer rather than thinner.
        done_dir = Path(go + ".done")
        reached = min_ops == 0
        i = 0
        while True:
            now = time.monotonic()
            if not reached and sum(ops.values()) >= min_ops and OPERATIONS[kind] <= ops.keys():
                reached = True
                (done_dir / name).touch()
            if now >= end and (min_ops == 0 or len(os.listdir(done_dir)) >= actors or now >= end + MIN_OPS_GRACE):
                acted = now - began
                break
            i += 1
            if kind == "receiver":
                op = "ingest"
                call: Any = alerts.ingest_payload(domain, actor, alert_message(i + rng.randrange(1000)))
            elif kind == "agent":
                roll = rng.random()
                if not mine or roll < 0.15:
                    op = "open case"
                    call = cases.open_reactive_case(
                        domain, actor, account_number=f"L-{rng.randrange(ACCOUNTS)}", short_description=f"call {i}"
                    )
                elif roll < 0.4:
                    op = "priority"
                    call = cases.set_case_priority(domain, actor, rng.choice(mine), rng.randint(1, 4))
                elif roll < 0.7:
                    op = "work note"
                    call = cases.add_case_note(domain, actor, rng.choice(mine), f"note {i}", customer_visible=False)
                else:
                    op = "queue"
                    call = cases.list_cases(domain, actor, active=True, limit=50)
            else:
                roll = rng.random()
                if roll < 0.5 or not mine:
                    op = "alerts"
                    call = alerts.list_alerts(domain, actor)
                else:
                    op = "acknowledge"
                    call = alerts.acknowledge_alert(domain, actor, rng.choice(mine))
            t0 = time.perf_counter()
            try:
                result = await call
            except IllegalTransition:
                result = None  # someone else acknowledged it first, or it closed: an ordinary refusal
            except DomainError as exc:
                errors.append(f"{op}: {exc}")
                result = None
            except Exception as exc:
                errors.append(f"{op}: {type(exc).__name__}: {exc}")
                result = None
            took = time.perf_counter() - t0
            ops[op] = ops.get(op, 0) + 1
            latencies.append(took)
            slowest = max(slowest, (took, op))
            if op == "open case" and result is not None:
                mine.append(result.id)
            elif op == "alerts" and result:
                mine = [a.id for a in result if not a.acknowledged][:20]
            if kind == "receiver":
                await asyncio.sleep(max(0.0, 1 / rate - took))
            elif think:
                await asyncio.sleep(rng.expovariate(1 / think))  # a person reads before acting again
    finally:
        await domain.close()
    return {"ops": ops, "slowest": slowest, "errors": errors, "latencies": latencies, "acted": acted}


def run(args: argparse.Namespace) -> dict[str, Any]:
    here = Path(__file__).resolve()
    tmp = Path(tempfile.mkdtemp(prefix="pcso-load-"))
    url = args.db or str(tmp / "load.db")
    asyncio.run(seed(url, args.agents, args.operators))
    go = str(tmp / "go")
    Path(go + ".done").mkdir()
    people = [("agent", f"agent{i}") for i in range(args.agents)]
    people += [("operator", f"operator{i}") for i in range(args.operators)]
    people.append(("receiver", "receiver"))
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                str(here),
                "--actor",
                kind,
                name,
                url,
                go,
                str(args.seconds),
                str(args.alerts_per_second),
                str(args.think),
                str(args.min_ops),
                str(len(people)),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for kind, name in people
    ]
    for proc in procs:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        if line != "ready":
            raise SystemExit(f"an actor did not start: {line} {proc.stderr.read() if proc.stderr else ''}")
    Path(go).touch()
    total: dict[str, int] = {}
    slowest: tuple[float, str] = (0.0, "")
    errors: list[str] = []
    latencies: list[float] = []
    elapsed = args.seconds  # longer when --min-ops held the actors
    for proc in procs:
        out, err = proc.communicate(timeout=args.seconds + MIN_OPS_GRACE + 120)
        if proc.returncode != 0:
            errors.append(f"process exited {proc.returncode}: {err.strip().splitlines()[-1:]}")
            continue
        report = json.loads(out.strip().splitlines()[-1])
        for op, n in report["ops"].items():
            total[op] = total.get(op, 0) + n
        slowest = max(slowest, tuple(report["slowest"]))  # type: ignore[arg-type]
        errors += report["errors"]
        latencies += report["latencies"]
        elapsed = max(elapsed, report["acted"])
    count = sum(total.values())
    latencies.sort()
    p99 = latencies[int(len(latencies) * 0.99)] if latencies else 0.0
    return {
        "agents": args.agents,
        "operators": args.operators,
        "seconds": args.seconds,
        "think": args.think,
        "operations": count,
        "elapsed_seconds": round(elapsed, 1),
        "ops_per_second": round(count / elapsed, 1),
        "by_operation": total,
        "slowest_seconds": round(slowest[0], 3),
        "slowest_operation": slowest[1],
        "p99_seconds": round(p99, 3),
        "over_one_second": sum(1 for t in latencies if t >= 1.0),
        "errors": errors,
    }


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--actor":
        kind, name, url, go, seconds, rate, think, min_ops, actors = sys.argv[2:11]
        report = asyncio.run(
            act(url, kind, name, go, float(seconds), float(rate), float(think), int(min_ops), int(actors))
        )
        print(json.dumps(report), flush=True)
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agents", type=int, default=4)
    parser.add_argument("--operators", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--alerts-per-second", type=float, default=20.0)
    parser.add_argument(
        "--think", type=float, default=0.0, help="mean pause between one person's actions, s (0: flat out)"
    )
    parser.add_argument(
        "--min-ops",
        type=int,
        default=0,
        help="go on past --seconds until every actor did this many operations, each of its kinds at least once",
    )
    parser.add_argument("--db", help="an existing empty database URL (default: a new embedded file)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = run(args)
    if args.json:
        print(json.dumps(result))
        return
    print(
        f"{args.agents} agents + {args.operators} operators + receiver at {args.alerts_per_second:g} alerts/s, "
        f"{args.seconds:g} s on one embedded database, think time {args.think:g} s"
    )
    print(f"  operations: {result['operations']} ({result['ops_per_second']} ops/s)")
    for op, n in sorted(result["by_operation"].items()):
        print(f"    {op:<12} {n}")
    print(f"  slowest operation: {result['slowest_seconds']:.3f} s ({result['slowest_operation']})")
    print(f"  99th percentile: {result['p99_seconds']:.3f} s; operations over 1 s: {result['over_one_second']}")
    print(f"  errors: {len(result['errors'])}")
    for line in result["errors"][:10]:
        print(f"    {line}")


if __name__ == "__main__":
    main()
