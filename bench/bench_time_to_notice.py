#!/usr/bin/env python3
"""Time to notice: from one Alertmanager webhook POST to every affected customer's email, through
the real receiver and the real delivery worker, each a process of its own.

    .venv/bin/python bench/bench_time_to_notice.py [--accounts 10000] [--db postgresql://…/postgres]

The world: one service CI (``bench-payments``) on which N external accounts (default 10,000)
each have an install base item, each account with a primary email contact. The config file
opens the proactive case by rule when the incident opens (``[workflow] open_proactive_case =
"on_incident"``), accepts its major case at once (``on_proactive_case = "accept"``), and points
``[delivery.email]`` at an aiosmtpd server on loopback, in this process, that records when it
accepted each recipient. ``pcso serve`` and ``pcso worker`` run on that config as subprocesses;
once both say they are ready, one critical alert for the CI is POSTed.

It prints the time from the POST to the first and to the last message accepted by the SMTP
server, with the count (it must equal the contacts to be told, or the script fails), the stages
the event log shows, the targets (first notice ≤ 2 s, all 10,000 ≤ 15 s) and the load average.

The database is a fresh SQLite file by default. ``--db URL`` names a PostgreSQL server: a
database of its own is created on it for the run and dropped afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import aiohttp
from aiosmtpd.controller import Controller
from sqlalchemy import func, insert, select

from pcso_tui.domain.core.models import (
    Account,
    Case,
    ConfigurationItem,
    Contact,
    Event,
    InstallBaseItem,
    Notice,
    Product,
)
from pcso_tui.domain.core.roles import SYSTEM
from pcso_tui.domain.core.service import Domain

CI_NAME = "bench-payments"
TARGET_FIRST = 2.0
TARGET_ALL = 15.0
TARGET_ACCOUNTS = 10_000
CHUNK = 5_000


# --- the world ------------------------------------------------------------------------------


async def seed(url: str, accounts: int) -> None:
    """One customer-facing service CI, a product, N external accounts each with a primary email
    contact and one install base item on the CI. Core inserts through the domain's engine, so
    the same code seeds SQLite and PostgreSQL."""
    domain = await Domain.open(url, upgrade=True)
    try:
        async with domain.transaction(SYSTEM) as tx:
            s = tx.session
            ci_id = await s.scalar(
                insert(ConfigurationItem)
                .values(
                    name=CI_NAME,
                    kind="service",
                    customer_facing=True,
                    public_name="Card payments",
                )
                .returning(ConfigurationItem.id)
            )
            product_id = await s.scalar(
                insert(Product)
                .values(number="PRD-PAY", name="Payments gateway", public_name="Card payments")
                .returning(Product.id)
            )
            for start in range(1, accounts + 1, CHUNK):
                numbers = range(start, min(start + CHUNK, accounts + 1))
                await s.execute(
                    insert(Account),
                    [
                        {"id": i, "number": f"ACC-{i:06d}", "name": f"Customer {i}", "created_at": tx.now}
                        for i in numbers
                    ],
                )
                await s.execute(
                    insert(Contact),
                    [
                        {
                            "id": i,
                            "number": f"CON-{i:06d}",
                            "account_id": i,
                            "name": f"Contact {i}",
                            "email": recipient(i),
                            "preferred_channel": "email",
                            "is_primary": True,
                        }
                        for i in numbers
                    ],
                )
                await s.execute(
                    insert(InstallBaseItem),
                    [
                        {
                            "id": i,
                            "number": f"IB-{i:06d}",
                            "name": f"Payments for customer {i}",
                            "account_id": i,
                            "product_id": product_id,
                            "ci_id": ci_id,
                        }
                        for i in numbers
                    ],
                )
        if domain.db.is_postgresql:
            # Explicit ids leave the sequences behind; the chain inserts cases and notices after them.
            async with domain.transaction(SYSTEM) as tx:
                for table in ("account", "contact", "install_base_item"):
                    await tx.session.execute(select(func.setval(func.pg_get_serial_sequence(table, "id"), accounts)))
    finally:
        await domain.close()


def recipient(i: int) -> str:
    return f"contact{i}@bench.example"


def alert_message() -> dict[str, Any]:
    """One firing critical alert on the CI, as Alertmanager sends it (webhook version 4)."""
    starts = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return {
        "version": "4",
        "groupKey": '{}:{alertname="PaymentsDown"}',
        "truncatedAlerts": 0,
        "status": "firing",
        "receiver": "pcso",
        "groupLabels": {"alertname": "PaymentsDown"},
        "commonLabels": {"alertname": "PaymentsDown", "severity": "critical"},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.example:9093",
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": "PaymentsDown", "ci": CI_NAME, "severity": "critical"},
                "annotations": {"summary": "payment authorisations failing"},
                "startsAt": starts,
                "endsAt": "0001-01-01T00:00:00Z",
                "fingerprint": "bench-payments-down",
            }
        ],
    }


# --- PostgreSQL: a database of the run's own ------------------------------------------------


class PostgresDatabase:
    def __init__(self, server_url: str) -> None:
        from sqlalchemy.engine import make_url

        self.server = make_url(server_url).set(drivername="postgresql")
        self.name = f"pcso_notice_{secrets.token_hex(4)}"

    def url(self, database: str | None = None) -> str:
        return self.server.set(database=database or self.name).render_as_string(hide_password=False)

    async def _admin(self, sql: str) -> None:
        import asyncpg

        conn = await asyncpg.connect(self.url(self.server.database or "postgres"))
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    async def create(self) -> str:
        await self._admin(f'CREATE DATABASE "{self.name}"')
        return self.url()

    async def drop(self) -> None:
        await self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


# --- the SMTP server ------------------------------------------------------------------------


@dataclass
class Inbox:
    """What the loopback SMTP server accepted: each recipient with the monotonic time of each
    message it got. The handler runs on the controller's thread."""

    received: dict[str, list[float]] = field(default_factory=dict)
    count: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    all_in: threading.Event = field(default_factory=threading.Event)
    expected: int = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        at = time.monotonic()
        with self.lock:
            for rcpt in envelope.rcpt_tos:
                self.received.setdefault(rcpt, []).append(at)
                self.count += 1
            if self.count >= self.expected:
                self.all_in.set()
        return "250 OK"

    def times(self) -> list[float]:
        with self.lock:
            return sorted(t for got in self.received.values() for t in got)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- the processes --------------------------------------------------------------------------


def write_config(path: Path, smtp_port: int) -> None:
    path.write_text(
        f"""\
[workflow]
open_proactive_case = "on_incident"
on_proactive_case = "accept"

[delivery.email]
host = "127.0.0.1"
port = {smtp_port}
security = "none"
from_address = "status@bench.example"
from_name = "Bench service status"
helo_name = "bench"
""",
        encoding="utf-8",
    )


class Process:
    """A ``pcso`` subprocess with its output in a log file; ready when a line says so."""

    def __init__(self, name: str, args: list[str], log: Path) -> None:
        self.name, self.log = name, log
        env = {k: v for k, v in os.environ.items() if k not in ("PCSO_DATABASE_URL", "PCSO_CONFIG")}
        with log.open("wb") as out:
            self.popen = subprocess.Popen(
                [sys.executable, "-m", "pcso_tui", *args], stdout=out, stderr=subprocess.STDOUT, env=env
            )

    async def ready(self, marker: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while marker not in self.log.read_text(encoding="utf-8", errors="replace"):
            if self.popen.poll() is not None:
                fail(f"{self.name} exited with {self.popen.returncode} before it was ready:\n{self.tail()}")
            if time.monotonic() > deadline:
                fail(f"{self.name} was not ready after {timeout:.0f} s:\n{self.tail()}")
            await asyncio.sleep(0.05)

    def cpu(self) -> float:
        """CPU seconds (user + system) the process has used so far, from /proc."""
        try:
            fields = Path(f"/proc/{self.popen.pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            return float("nan")
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()

    def tail(self, lines: int = 20) -> str:
        text = self.log.read_text(encoding="utf-8", errors="replace").splitlines()
        return "\n".join(f"  {self.name}| {line}" for line in text[-lines:])


def fail(message: str) -> None:
    print(f"bench_time_to_notice: FAILED: {message}", file=sys.stderr, flush=True)
    sys.exit(1)


# --- what the event log saw -----------------------------------------------------------------


@dataclass(frozen=True)
class Stages:
    """Wall-clock times (UTC) from the database: each event's ``at`` is its transaction's time."""

    alert_stored: datetime | None
    incident_opened: datetime | None
    proactive_case_opened: datetime | None
    major_case_accepted: datetime | None
    children: int
    notices: int
    notices_to_send: int
    first_sent: datetime | None
    last_sent: datetime | None
    states: dict[str, int]


async def read_stages(url: str) -> Stages:
    domain = await Domain.open(url)
    try:
        async with domain.reading() as s:

            async def first(kind: str) -> datetime | None:
                return await s.scalar(select(func.min(Event.at)).where(Event.kind == kind))

            major_id = await s.scalar(select(Case.id).where(Case.kind == "major"))
            children = await s.scalar(select(func.count()).where(Case.parent_id == major_id)) or 0
            opened = await s.scalar(
                select(func.min(Event.at)).where(
                    Event.kind == "case.opened",
                    Event.subject_id.in_(select(Case.id).where(Case.kind == "proactive")),
                )
            )
            by_state = await s.execute(select(Notice.state, func.count()).group_by(Notice.state))
            states = {state: count for state, count in by_state}
            sent = (await s.execute(select(func.min(Notice.sent_at), func.max(Notice.sent_at)))).one()
            # Who should be told: the notices of the approval to external, opted-in contacts.
            to_send = await s.scalar(
                select(func.count())
                .select_from(Notice)
                .join(Contact, Contact.id == Notice.contact_id)
                .join(Account, Account.id == Notice.account_id)
                .where(Account.is_external.is_(True), Contact.opted_out.is_(False), Notice.channel == "email")
            )
            return Stages(
                alert_stored=await first("alert.opened"),
                incident_opened=await first("incident.opened"),
                proactive_case_opened=opened,
                major_case_accepted=await first("major_case.approved"),
                children=children,
                notices=sum(states.values()),
                notices_to_send=to_send or 0,
                first_sent=sent[0],
                last_sent=sent[1],
                states=states,
            )
    finally:
        await domain.close()


# --- the run --------------------------------------------------------------------------------


async def run(args: argparse.Namespace, tmp: Path) -> int:
    postgres = PostgresDatabase(args.db) if args.db else None
    url = await postgres.create() if postgres else str(tmp / "bench.db")
    try:
        return await run_on(url, args, tmp)
    finally:
        if postgres:
            await postgres.drop()


async def run_on(url: str, args: argparse.Namespace, tmp: Path) -> int:
    n = args.accounts
    started = time.perf_counter()
    await seed(url, n)
    backend = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
    print(f"world: {n:,} external accounts on {CI_NAME}, one email contact each ({backend}), "
          f"seeded in {time.perf_counter() - started:.1f} s")  # fmt: skip

    inbox = Inbox(expected=n)
    smtp = Controller(inbox, hostname="127.0.0.1", port=free_port(), server_hostname="localhost")
    smtp.start()
    config = tmp / "config.toml"
    write_config(config, smtp.port)
    http_port = free_port()
    common = ["--db", url, "--config", str(config)]
    receiver = Process("serve", [*common, "serve", "--port", str(http_port)], tmp / "serve.log")
    worker = Process("worker", [*common, "worker", "--verbose"], tmp / "worker.log")
    try:
        await receiver.ready("receiving alerts on", args.start_timeout)
        await worker.ready("pcso worker: delivering notices", args.start_timeout)
        load_before = os.getloadavg()

        cpu_before = {"serve": receiver.cpu(), "worker": worker.cpu(), "smtp": time.process_time()}
        post_wall = datetime.now(UTC)
        post_at = time.monotonic()
        async with aiohttp.ClientSession() as http:
            endpoint = f"http://127.0.0.1:{http_port}/api/v1/alerts/alertmanager"
            async with http.post(endpoint, json=alert_message()) as response:
                body = await response.text()
                answered_at = time.monotonic()
                if response.status != 200:
                    fail(f"the receiver answered {response.status}: {body}\n{receiver.tail()}")
        all_in = await asyncio.to_thread(inbox.all_in.wait, args.timeout)
        waited_until = time.monotonic()
        cpu_after = {"serve": receiver.cpu(), "worker": worker.cpu(), "smtp": time.process_time()}
        cpu = {name: cpu_after[name] - cpu_before[name] for name in cpu_before}
        # Anything beyond the expected count would be a duplicate; give it a moment to show.
        await asyncio.sleep(args.settle)
        load_after = os.getloadavg()
    finally:
        worker.stop()
        receiver.stop()
        smtp.stop()

    stages = await read_stages(url)
    times = inbox.times()
    received = len(times)
    expected = stages.notices_to_send
    duplicates = sum(len(got) - 1 for got in inbox.received.values() if len(got) > 1)

    def since_post(at: datetime | None) -> str:
        if at is None:
            return "      —"
        if at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        return f"{(at - post_wall).total_seconds():7.3f} s"

    first = times[0] - post_at if times else None
    last = times[-1] - post_at if times else None
    before, after = (" ".join(f"{x:.2f}" for x in load) for load in (load_before, load_after))
    print(f"load average before the POST  {before}   after: {after}   ({os.cpu_count()} cores)")
    print(
        f"CPU during the chain: receiver {cpu['serve']:.2f} s, worker {cpu['worker']:.2f} s,"
        f" SMTP server (this process) {cpu['smtp']:.2f} s"
    )
    print()
    print("from the POST (event log: each stage's transaction time)")
    print(f"  alert stored, incident opened          {since_post(stages.alert_stored)}")
    print(f"  proactive case opened by rule          {since_post(stages.proactive_case_opened)}")
    print(f"  major case accepted, {stages.children:,} child cases{since_post(stages.major_case_accepted)}")
    print(f"  receiver answered 200 (all committed)  {answered_at - post_at:7.3f} s")
    print(f"  first notice recorded sent             {since_post(stages.first_sent)}")
    print(f"  last notice recorded sent              {since_post(stages.last_sent)}")
    print()
    print("                                         measured   target")
    if first is not None and last is not None:
        meets_first = "ok" if first <= TARGET_FIRST else "MISSED"
        meets_all = "ok" if last <= TARGET_ALL else "MISSED"
        if not all_in:  # the last one received is not the last one there is
            meets_all = "INCOMPLETE"
        scale = "" if n == TARGET_ACCOUNTS else f"  (target is for {TARGET_ACCOUNTS:,})"
        print(f"  POST → first notice at SMTP server     {first:7.3f} s   ≤ {TARGET_FIRST:g} s   {meets_first}")
        print(f"  POST → last notice at SMTP server      {last:7.3f} s   ≤ {TARGET_ALL:g} s  {meets_all}{scale}")
        if last > first:
            print(f"  delivery rate, first to last           {(received - 1) / (last - first):7,.0f} messages/s")
    print(f"  notices received by the SMTP server    {received:,} of {expected:,} to be told"
          f" ({stages.notices:,} notices: {stages.states})")  # fmt: skip
    ok = (
        all_in
        and received == expected == n
        and duplicates == 0
        and set(inbox.received) == {recipient(i) for i in range(1, n + 1)}
    )
    if not ok:
        why = "timed out waiting" if not all_in else "count or recipients differ"
        print(receiver.tail(), worker.tail(), sep="\n", file=sys.stderr)
        fail(
            f"{received:,} messages received ({duplicates} duplicates) for {expected:,} contacts to be told"
            f" (of {n:,} accounts) — {why} after {waited_until - post_at:.1f} s"
        )
    print(f"all notices received: yes ({received:,}, each contact exactly once)")
    return 0


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=TARGET_ACCOUNTS, help="affected external accounts")
    parser.add_argument("--db", metavar="URL", help="a PostgreSQL server (default: a fresh SQLite file)")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for every notice")
    parser.add_argument("--start-timeout", type=float, default=60.0, help="seconds to wait for the processes")
    parser.add_argument("--settle", type=float, default=0.5, help="seconds to watch for duplicates after the last")
    args = parser.parse_args(argv)
    if args.accounts < 1:
        parser.error("--accounts: at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    with tempfile.TemporaryDirectory(prefix="pcso-notice-") as tmp:
        return asyncio.run(run(args, Path(tmp)))


if __name__ == "__main__":
    os.environ.pop("PCSO_DATABASE_URL", None)
    sys.exit(main())
