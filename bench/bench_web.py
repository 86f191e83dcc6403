#!/usr/bin/env python3
"""The web portal under load: signed-in customers polling their outage page while a statement
goes out to all of them.

    .venv/bin/python bench/bench_web.py [--customers 1000] [--in-flight 50] [--rounds 2]

The world of ``bench_time_to_notice.py`` (one service CI, N external accounts with one email
contact each), and its chain: ``pcso serve``, ``pcso worker`` and ``pcso web`` as processes of
their own, a loopback SMTP server in this process. One critical alert opens the outage, the
workflow rule accepts its major case and every customer is told. Then each of the N contacts
gets a web session (``web_access.start_session``, as a sign-in plugin would), and rounds
alternate:

- **quiet**: a statement is posted to the major case; the time until the SMTP server has
  accepted all N notices is measured;
- **loaded**: the same, while the N customers poll their outage page (``GET /outages/ID``, each
  with its own session cookie, each every ``--every`` seconds — 1,000 customers every 10 s is
  100 pages/s — at most ``--in-flight`` at a time, an aiohttp client on loopback) from before
  the statement until its last notice and for at least ``--min-seconds``.

It prints the page time percentiles and errors under load, and the statement's delivery time
quiet and loaded. Targets (issue 16): p99 page time ≤ 100 ms, zero errors, the statement's
notices slowed by no more than 20%. Best case and realistic path are the same here: every page
is the full server-rendered page through the portal's domain queries.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import aiohttp
from aiosmtpd.controller import Controller
from sqlalchemy import select

from bench_time_to_notice import Inbox, Process, alert_message, free_port, seed, write_config
from pcso_tui.domain.casework.major_cases import post_statement
from pcso_tui.domain.casework.web_access import WEB, start_session
from pcso_tui.domain.core.models import Case, Contact, Outage
from pcso_tui.domain.core.roles import Actor, Role
from pcso_tui.domain.core.service import Domain

TARGET_P99_MS = 100.0
TARGET_SLOWDOWN = 1.20
MANAGER = Actor(user_id=None, name="bench-manager", role=Role.MANAGER)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


async def wait_for(inbox: Inbox, count: int, timeout: float) -> float:
    """Seconds until the inbox holds ``count`` messages (or the timeout)."""
    started = time.monotonic()
    while inbox.count < count and time.monotonic() - started < timeout:
        await asyncio.sleep(0.02)
    return time.monotonic() - started


async def poll(
    base: str, tokens: list[str], path: str, every: float, in_flight: int, stop: asyncio.Event
) -> tuple[list[float], int]:
    """Each customer GETs ``path`` with their own session every ``every`` seconds (starting at a
    random moment of the first period), at most ``in_flight`` requests at a time."""
    times: list[float] = []
    errors = 0
    limit = asyncio.Semaphore(in_flight)
    connector = aiohttp.TCPConnector(limit=in_flight)
    rng = random.Random(1)

    async def customer(client: aiohttp.ClientSession) -> None:
        nonlocal errors
        await asyncio.sleep(rng.uniform(0, every))
        while not stop.is_set():
            due = time.monotonic() + every
            async with limit:
                began = time.perf_counter()
                try:
                    async with client.get(path, allow_redirects=False) as response:
                        await response.read()
                        ok = response.status == 200
                except aiohttp.ClientError:
                    ok = False
                times.append((time.perf_counter() - began) * 1000)
                errors += not ok
            await asyncio.sleep(max(0.0, due - time.monotonic()))

    clients = [
        aiohttp.ClientSession(base_url=base, cookies={"pcso_session": t}, connector=connector, connector_owner=False)
        for t in tokens
    ]
    try:
        tasks = [asyncio.create_task(customer(c)) for c in clients]
        await stop.wait()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        await asyncio.gather(*(c.close() for c in clients))
        await connector.close()
    return times, errors


async def run(args: argparse.Namespace, tmp: Path) -> int:
    url = f"sqlite:///{tmp / 'pcso.db'}"
    n = args.customers
    await seed(url, n)
    inbox = Inbox(expected=10**9)
    smtp = Controller(inbox, hostname="127.0.0.1", port=free_port(), server_hostname="localhost")
    smtp.start()
    config = tmp / "config.toml"
    write_config(config, smtp.port)
    web_port, http_port = free_port(), free_port()
    with config.open("a", encoding="utf-8") as out:
        out.write(f'\n[web]\nhost = "127.0.0.1"\nport = {web_port}\n')
    common = ["--db", url, "--config", str(config)]
    procs = [
        Process("serve", [*common, "serve", "--port", str(http_port)], tmp / "serve.log"),
        Process("worker", [*common, "worker"], tmp / "worker.log"),
        Process("web", [*common, "web"], tmp / "web.log"),
    ]
    domain = await Domain.open(url)
    try:
        for proc, marker in zip(
            procs, ("receiving alerts on", "delivering notices", "customer portal on"), strict=True
        ):
            await proc.ready(marker, 60)
        async with aiohttp.ClientSession() as http:
            endpoint = f"http://127.0.0.1:{http_port}/api/v1/alerts/alertmanager"
            async with http.post(endpoint, json=alert_message()) as response:
                assert response.status == 200, await response.text()
        await wait_for(inbox, n, 120)
        if inbox.count < n:
            print(f"bench_web: FAILED: only {inbox.count} of {n} opening notices arrived", file=sys.stderr)
            return 1
        async with domain.reading() as session:
            major_id = await session.scalar(select(Case.id).where(Case.kind == "major"))
            outage_id = await session.scalar(select(Outage.id))
            contacts = list(await session.scalars(select(Contact.number).order_by(Contact.id)))
        assert major_id is not None and outage_id is not None
        tokens = [(await start_session(domain, WEB, number)).token for number in contacts]
        base = f"http://127.0.0.1:{web_port}"
        path = f"/outages/{outage_id}"
        print(
            f"{n:,} customers signed in, each loading GET {path} every {args.every:g} s "
            f"(at most {args.in_flight} in flight) "
            f"(load average {os.getloadavg()[0]:.1f})"
        )

        quiet: list[float] = []
        loaded: list[float] = []
        pages: list[float] = []
        errors = 0
        for r in range(1, args.rounds + 1):
            for mode in ("quiet", "loaded"):
                expected = inbox.count + n
                stop = asyncio.Event()
                load = (
                    asyncio.create_task(poll(base, tokens, path, args.every, args.in_flight, stop))
                    if mode == "loaded"
                    else None
                )
                if load is not None:
                    await asyncio.sleep(1)  # the load is on before the statement goes out
                began = time.monotonic()
                await post_statement(domain, MANAGER, major_id, f"Update {r} ({mode}): we are still working on it.")
                seconds = await wait_for(inbox, expected, 300)
                (quiet if mode == "quiet" else loaded).append(seconds)
                if load is not None:
                    remaining = args.min_seconds - (time.monotonic() - began)
                    if remaining > 0:
                        await asyncio.sleep(remaining)
                    stop.set()
                    times, failed = await load
                    pages += times
                    errors += failed
                print(f"  round {r} {mode:6}: statement to all {n:,} notices in {seconds:6.2f} s")
                if inbox.count < expected:
                    print(f"bench_web: FAILED: {expected - inbox.count} notices missing", file=sys.stderr)
                    return 1
    finally:
        await domain.close()
        for proc in procs:
            proc.stop()
        smtp.stop()

    p50, p99 = percentile(pages, 0.50), percentile(pages, 0.99)
    slowdown = statistics.median(loaded) / statistics.median(quiet)
    rate = n / args.every
    print(
        f"pages under load: {len(pages):,} (offered {rate:,.0f}/s), p50 {p50:.1f} ms, p99 {p99:.1f} ms, "
        f"max {max(pages):.1f} ms, errors {errors}"
    )
    print(f"statement delivery: quiet {statistics.median(quiet):.2f} s, loaded {statistics.median(loaded):.2f} s")
    checks = {
        f"p99 page time ≤ {TARGET_P99_MS:.0f} ms": p99 <= TARGET_P99_MS,
        "zero errors": errors == 0,
        f"notices slowed ≤ {(TARGET_SLOWDOWN - 1) * 100:.0f}% ({(slowdown - 1) * 100:+.0f}%)": slowdown
        <= TARGET_SLOWDOWN,
    }
    for name, met in checks.items():
        print(f"  {name}: {'met' if met else 'MISSED'}")
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    return 0 if errors == 0 else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--every", type=float, default=10.0, help="Seconds between one customer's page loads.")
    parser.add_argument("--in-flight", type=int, default=50, help="Requests in flight at most.")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--min-seconds", type=float, default=10.0, help="How long each loaded round polls at least.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pcso-bench-web-") as tmp:
        raise SystemExit(asyncio.run(run(args, Path(tmp))))


if __name__ == "__main__":
    main()
