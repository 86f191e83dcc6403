"""Delivery throughput: 10,000 email notices through the worker to an SMTP server on loopback.

    .venv/bin/python bench/bench_delivery.py [--notices 10000] [--batch 500] [--concurrency 8]

The SMTP server (aiosmtpd) runs in a process of its own, so it does not share the worker's
event loop; it counts what each recipient received. The script reports messages per second
(target: at least 1,000/s), checks that every contact got exactly one message, and times the
same work without SMTP (a channel that accepts everything) and a raw ``sqlite3`` read of the
same rows, for ratios taken in one run (the machine's speed drifts; compare ratios only).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from pcso_tui.domain.communications.delivery import DeliveryWorker
from pcso_tui.domain.core.channels import DeliveryOutcome, OutboundMessage
from pcso_tui.domain.core.service import Domain
from pcso_tui.domain.core.settings import DeliverySettings, EmailSettings
from pcso_tui.plugins import new_plugin_manager

SERVER = r"""
import asyncio, json, signal, sys, time
from aiosmtpd.smtp import SMTP

port, out = int(sys.argv[1]), sys.argv[2]
received = {}

class Handler:
    async def handle_DATA(self, server, session, envelope):
        for rcpt in envelope.rcpt_tos:
            received.setdefault(rcpt, []).append(len(envelope.original_content))
        return "250 OK"

async def main():
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    server = await loop.create_server(lambda: SMTP(Handler(), hostname="localhost"), "127.0.0.1", port)
    print("ready", flush=True)
    await stop.wait()
    server.close()
    with open(out, "w") as f:
        json.dump({"received": received, "cpu": time.process_time()}, f)

asyncio.run(main())
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def seed(path: Path, n: int) -> None:
    """n accounts, each with a primary contact, a child case of one major case, a notice."""
    now = datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" ")
    db = sqlite3.connect(path)
    with db:
        db.executemany(
            "INSERT INTO account (id, number, name, tier, region, industry, is_external, created_at, version)"
            " VALUES (?, ?, ?, 'standard', '', '', 1, ?, 1)",
            [(i, f"ACC-{i:06d}", f"Customer {i}", now) for i in range(1, n + 1)],
        )
        db.executemany(
            "INSERT INTO contact (id, number, account_id, name, email, preferred_channel, is_primary, opted_out,"
            " version) VALUES (?, ?, ?, ?, ?, 'email', 1, 0, 1)",
            [(i, f"CON-{i:06d}", i, f"Contact {i}", f"contact{i}@bench.example") for i in range(1, n + 1)],
        )
        case = (
            "INSERT INTO support_case (id, kind, state, major_case_state, priority, short_description, description,"
            " channel, account_id, contact_id, parent_id, opened_at, updated_at, deflected, version)"
            " VALUES (?, ?, 'open', ?, 2, 'Card payments failing', '', 'monitoring', ?, ?, ?, ?, ?, 0, 1)"
        )
        db.execute(case, (1, "major", "accepted", None, None, None, now, now))
        db.executemany(case, [(i + 1, "child", "none", i, i, 1, now, now) for i in range(1, n + 1)])
        db.execute(
            "INSERT INTO statement (id, case_id, body, created_at) VALUES (1, 1, ?, ?)",
            ("Card payments are failing for some card types. We are rolling back the change.", now),
        )
        db.execute(
            "INSERT INTO article (id, number, title, body, kind, customer_visible, created_at, updated_at, version)"
            " VALUES (1, 'KB0000001', 'Pay by bank transfer', 'Choose bank transfer at checkout.', 'workaround', 1,"
            " ?, ?, 1)",
            (now, now),
        )
        db.execute("INSERT INTO case_article (case_id, article_id) VALUES (1, 1)")
        db.executemany(
            "INSERT INTO notice (idempotency_key, kind, contact_id, account_id, case_id, statement_id, channel, state,"
            " attempts, next_attempt_at, created_at, version) VALUES (?, 'statement', ?, ?, ?, 1, 'email',"
            " 'pending', 0, ?, ?, 1)",
            [(f"statement:1:{i}", i, i, i + 1, now, now) for i in range(1, n + 1)],
        )
    db.close()


def requeue(path: Path) -> None:
    db = sqlite3.connect(path)
    with db:
        db.execute(
            "UPDATE notice SET state = 'pending', attempts = 0, rendered = NULL, sent_at = NULL,"
            " next_attempt_at = created_at"
        )
    db.close()


def raw_read(path: Path) -> float:
    """The same rows the worker reads, with plain sqlite3."""
    db = sqlite3.connect(path)
    start = time.perf_counter()
    rows = db.execute(
        "SELECT n.id, n.idempotency_key, n.kind, n.channel, n.attempts, n.created_at, n.rendered, n.case_id,"
        " n.statement_id, c.name, c.email, c.phone, c.webhook_url, c.opted_out, a.number, a.name, a.is_external,"
        " s.kind, s.parent_id FROM notice n JOIN contact c ON c.id = n.contact_id JOIN account a ON a.id ="
        " n.account_id LEFT JOIN support_case s ON s.id = n.case_id"
    ).fetchall()
    elapsed = time.perf_counter() - start
    db.close()
    assert rows
    return elapsed


CPU: dict[int, float] = {}


class NullChannel:
    """Accepts everything at once: the worker's own cost, without SMTP."""

    name = "email"

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def send_batch(self, messages: Sequence[OutboundMessage]) -> list[DeliveryOutcome]:
        return [DeliveryOutcome.sent(m) for m in messages]


async def run_worker(
    path: Path, settings: DeliverySettings, expected: int, channels: list[object] | None = None
) -> float:
    domain = await Domain.open(path, hooks=new_plugin_manager(load_entry_points=False).hook)
    domain.settings = replace(domain.settings, delivery=settings)
    try:
        async with DeliveryWorker(domain, channels=channels) as worker:  # type: ignore[arg-type]
            start, cpu = time.perf_counter(), time.process_time()
            report = await worker.drain()
            elapsed = time.perf_counter() - start
            CPU[id(channels)] = time.process_time() - cpu
    finally:
        await domain.close()
    assert report.sent == report.claimed == expected, report
    return elapsed


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--notices", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--text-only", action="store_true", help="No HTML alternative ([delivery.email] html = false).")
    args = parser.parse_args()
    n = args.notices

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        domain = await Domain.open(path)  # migrates the new file
        await domain.close()
        seed(path, n)

        port = free_port()
        counts_file = Path(tmp) / "received.json"
        server = subprocess.Popen(
            [sys.executable, "-c", SERVER, str(port), str(counts_file)], stdout=subprocess.PIPE, text=True
        )
        assert server.stdout is not None and server.stdout.readline().strip() == "ready"
        email = EmailSettings(
            host="127.0.0.1",
            port=port,
            security="none",
            from_address="status@bench.example",
            helo_name="bench",
            html=not args.text_only,
        )
        settings = DeliverySettings(batch_size=args.batch, concurrency=args.concurrency, email=email)
        try:
            smtp_seconds = await run_worker(path, settings, n)
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=60)
        server_report = json.loads(counts_file.read_text())
        received: dict[str, list[int]] = server_report["received"]
        worker_cpu, server_cpu = CPU[id(None)], server_report["cpu"]

        db = sqlite3.connect(path)
        states = dict(db.execute("SELECT state, count(*) FROM notice GROUP BY state").fetchall())
        db.close()
        exactly_one = sum(1 for copies in received.values() if len(copies) == 1)
        expected = {f"contact{i}@bench.example" for i in range(1, n + 1)}

        requeue(path)
        null_seconds = await run_worker(path, settings, n, channels=[NullChannel()])
        raw_seconds = min(raw_read(path) for _ in range(3))

    rate = n / smtp_seconds
    body = "text only" if args.text_only else "text + HTML"
    print(f"notices                      {n:>10,}  (batch {args.batch}, {args.concurrency} SMTP connections, {body})")
    print(f"worker → SMTP on loopback    {smtp_seconds:>10.2f} s   {rate:>8,.0f} messages/s  (target ≥ 1,000/s)")
    print(f"worker, no SMTP (null)       {null_seconds:>10.2f} s   {n / null_seconds:>8,.0f} notices/s")
    print(f"CPU per message: worker {worker_cpu / n * 1000:.2f} ms, SMTP server {server_cpu / n * 1000:.2f} ms")
    bound = n / max(worker_cpu, server_cpu)
    print(f"CPU-bound rate on two idle cores (worker ∥ server) ≈ {bound:,.0f} messages/s")
    print(f"load average during the run  {os.getloadavg()[0]:>10.1f}  (2 cores)")
    print(f"raw sqlite3 read, same rows  {raw_seconds * 1000:>10.1f} ms")
    print(f"ratio worker+SMTP / raw read {smtp_seconds / raw_seconds:>10.0f}×")
    print(f"ratio worker null / raw read {null_seconds / raw_seconds:>10.0f}×")
    print(f"SMTP share of the work       {1 - null_seconds / smtp_seconds:>10.0%}")
    print(f"states after delivery        {states}")
    print(f"contacts with exactly one    {exactly_one:,} of {n:,}  (recipients seen: {len(received):,})")
    ok = set(received) == expected and exactly_one == n and states == {"sent": n}
    print("each contact got exactly one message:", "yes" if ok else "NO")
    if not ok:
        sys.exit(1)
    if rate < 1000:
        print(f"below target: {rate:,.0f} messages/s", file=sys.stderr)


if __name__ == "__main__":
    os.environ.pop("PCSO_DATABASE_URL", None)
    asyncio.run(main())
