#!/usr/bin/env python3
"""The dashboard over a year of history for 100,000 accounts, against the same SQL run with raw
``sqlite3``, in the same run.

    .venv/bin/python bench/bench_dashboard.py [--accounts 100000] [--incidents 3000] [--rounds 5]
                                              [--keep FILE]

The history is written with raw sqlite3 ``executemany`` into a database whose schema comes
from ``Domain.open`` (see ``build_history``): a year of incidents with their alerts, noise
alerts, proactive cases with their affected accounts and items, major cases with one child
per affected customer account, notices (approval, statements, resolution), customer calls
(some attached to the major case: deflected), outage records (unplanned, degradation,
planned). Then, each round:

- **pcso**: ``dashboard.kpis(period="month", periods_back=12)`` — 13 months of every KPI —
  through SQLAlchemy and aiosqlite, as the screen and ``pcso report`` call it;
- **raw sqlite3**: the very statements that call sent (captured from the engine, with their
  parameters), executed and fetched on a plain ``sqlite3`` connection.

It prints the median and best times, the ratio pcso ÷ raw, the longest event-loop stall during
``kpis`` (a 2 ms ticker), the slowest statements, and one drill-down. Target (issue 7): the
dashboard opens in about a second. The machine drifts; compare only ratios from one run.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from random import Random
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from sqlalchemy import event

from pcso_tui.domain.core.clock import FrozenClock
from pcso_tui.domain.core.roles import SYSTEM
from pcso_tui.domain.core.service import Domain
from pcso_tui.domain.reporting import dashboard

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
YEAR = timedelta(days=365)
ITEMS_PER_ACCOUNT = 10
CHANNELS = ("email", "webhook", "sms", "portal")


def stamp(t: datetime | None) -> str | None:
    return None if t is None else t.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


# --- the history --------------------------------------------------------------------------------


class History:
    """Rows per table, with ids handed out here."""

    def __init__(self, rng: Random, accounts: int) -> None:
        self.rng = rng
        self.accounts = accounts
        self.rows: dict[str, list[tuple[Any, ...]]] = {}
        self.ids: dict[str, int] = {}

    def id(self, table: str) -> int:
        self.ids[table] = self.ids.get(table, 0) + 1
        return self.ids[table]

    def add(self, table: str, row: tuple[Any, ...]) -> None:
        self.rows.setdefault(table, []).append(row)

    def internal(self, account: int) -> bool:
        return account % 100 == 0

    def impacted(self) -> list[int]:
        """A block of accounts hit by one incident: log-normal size (median 30, a long tail)."""
        n = min(self.accounts, max(1, int(self.rng.lognormvariate(math.log(30), 1.6))))
        first = self.rng.randrange(1, self.accounts - n + 2)
        return list(range(first, first + n))

    def case(self, kind: str, opened: datetime, **kw: Any) -> int:
        cid = self.id("support_case")
        resolved, closed = kw.get("resolved"), kw.get("closed")
        state = kw.get("state") or ("closed" if closed else "resolved" if resolved else "open")
        self.add(
            "support_case",
            (
                cid, kind, state, kw.get("mcs", "none"), kw.get("priority", 3), kw.get("title", f"{kind} case"),
                "", kw.get("channel", "monitoring"), kw.get("account"), kw.get("contact"), kw.get("parent"),
                kw.get("incident"), stamp(opened), stamp(closed or resolved or opened), stamp(kw.get("decided")),
                1 if kw.get("deflected") else 0, stamp(resolved), stamp(closed), 1,
            ),
        )  # fmt: skip
        return cid

    def notice(self, key: str, kind: str, account: int, case: int, created: datetime, sent: datetime | None) -> None:
        state = "skipped" if self.internal(account) else ("sent" if sent else "pending")
        self.add(
            "notice",
            (
                self.id("notice"), key, kind, account, account, case, CHANNELS[account % 4], state, 1,
                stamp(created), stamp(created), stamp(sent if state == "sent" else None), 1,
            ),
        )  # fmt: skip


def generate(accounts: int, incidents: int, seed: int = 7) -> History:
    rng = Random(seed)
    h = History(rng, accounts)
    start = NOW - YEAR
    for i in range(1, accounts + 1):
        h.add("account", (i, f"ACC-{i:06d}", f"Customer {i}", "standard", "eu", "", 0 if h.internal(i) else 1))
        h.add("contact", (i, f"C-{i:06d}", i, f"Contact {i}", f"c{i}@example.test", CHANNELS[i % 4], 1, 0))
    h.add("product", (1, "P-1", "Cloud PBX", "voice"))
    for c in range(1, 1001):
        h.add("ci", (c, f"ci-{c}", "service", "", "production", "", 0))
    for i in range(1, accounts * ITEMS_PER_ACCOUNT + 1):
        a = (i - 1) // ITEMS_PER_ACCOUNT + 1
        h.add("install_base_item", (i, f"IB-{i:07d}", "", a, 1, i % 1000 + 1, "in_use"))

    # Noise: alerts that never became incidents (mostly warnings; a few critical, some acknowledged).
    for _ in range(incidents * 12):
        seen = start + timedelta(seconds=rng.uniform(0, YEAR.total_seconds()))
        severity = rng.choices(("critical", "major", "minor", "warning", "info"), (3, 7, 20, 50, 20))[0]
        alert(h, seen, severity, None, acknowledged=rng.random() < 0.1, maintenance=rng.random() < 0.03)

    for _ in range(incidents):
        opened = start + timedelta(seconds=rng.uniform(0, YEAR.total_seconds() - 3600))
        incident_at(h, opened)

    # Customer calls about anything else.
    for _ in range(accounts // 5):
        opened = start + timedelta(seconds=rng.uniform(0, YEAR.total_seconds()))
        account = rng.randrange(1, accounts + 1)
        cid = h.case("reactive", opened, account=account, contact=account, channel="phone",
                     resolved=min(NOW, opened + timedelta(hours=rng.uniform(1, 72))))  # fmt: skip
        h.add("case_account", (cid, account, "reported"))

    # Planned maintenance (a few still to come).
    for _ in range(120):
        begins = start + timedelta(days=rng.uniform(0, 375))
        outage(h, "planned", begins, begins + timedelta(hours=rng.choice((1, 2, 4))), None, None)
    return h


def alert(h: History, seen: datetime, severity: str, incident: int | None, **flags: bool) -> None:
    aid = h.id("alert")
    h.add(
        "alert",
        (
            aid, f"fp-{aid}", "bench", f"alert {aid}", severity, "closed", 1 if flags.get("acknowledged") else 0,
            1 if flags.get("maintenance") else 0, "", "", "{}", "{}", "svc", 1, stamp(seen), stamp(seen),
            stamp(seen), stamp(seen), 1, 0, incident, 1,
        ),
    )  # fmt: skip


def outage(
    h: History, kind: str, begins: datetime, ends: datetime | None, case: int | None, incident: int | None
) -> None:
    oid = h.id("outage")
    h.add("outage", (oid, kind, f"outage {oid}", "", 1, case, incident, stamp(begins), stamp(ends), stamp(begins), 1))


def incident_at(h: History, opened: datetime) -> None:
    rng = h.rng
    iid = h.id("incident")
    severity = rng.choices(("critical", "major", "minor", "warning"), (2, 3, 3, 2))[0]
    duration = timedelta(minutes=rng.lognormvariate(math.log(150), 0.9))
    resolved = opened + duration if opened + duration < NOW else None
    h.add("incident", (iid, f"incident {iid}", "resolved" if resolved else "in_progress", severity, 1,
                       stamp(opened), stamp(resolved or opened), stamp(resolved), 1))  # fmt: skip
    for n in range(rng.randint(2, 8)):
        seen = opened - timedelta(minutes=rng.uniform(0, 10)) + timedelta(minutes=n)
        alert(h, seen, severity if n == 0 else rng.choice(("major", "minor", "warning")), iid,
              acknowledged=rng.random() < 0.4)  # fmt: skip
    if rng.random() < 0.3:  # no customer impact
        return
    accounts = h.impacted()
    external = [a for a in accounts if not h.internal(a)]
    p_opened = opened + timedelta(minutes=rng.uniform(3, 20))
    promote = rng.random() < (0.6 if len(accounts) > 100 else 0.15)
    proactive = h.case("proactive", p_opened, incident=iid, priority=2,
                       mcs="accepted" if promote else rng.choice(("none", "none", "rejected")),
                       resolved=resolved)  # fmt: skip
    items = [(a - 1) * ITEMS_PER_ACCOUNT + 1 + rng.randrange(ITEMS_PER_ACCOUNT) for a in accounts]
    for a in accounts:
        h.add("case_account", (proactive, a, "impact"))
    for item in items:
        h.add("case_item", (proactive, item))
    if not promote:
        if severity in ("minor", "warning") and rng.random() < 0.5:
            outage(h, "degradation", opened, resolved, proactive, iid)
        return

    m_opened = p_opened + timedelta(minutes=rng.uniform(5, 40))
    # Resolved with the incident (or a little after the major case opened, if that was later).
    m_resolved = max(resolved, m_opened + timedelta(minutes=rng.uniform(20, 90))) if resolved else None
    m_resolved = m_resolved if m_resolved and m_resolved < NOW else None
    major = h.case("major", m_opened, incident=iid, mcs="accepted", priority=1, decided=m_opened,
                   resolved=m_resolved)  # fmt: skip
    row = h.rows["support_case"][proactive - 1]
    h.rows["support_case"][proactive - 1] = (*row[:10], major, *row[11:])  # the proactive case: a child now
    for a in accounts:
        h.add("case_account", (major, a, "impact"))
    for item in items:
        h.add("case_item", (major, item))
    if rng.random() < 0.5:
        outage(h, "unplanned", opened, m_resolved, major, iid)
    statements = [m_opened + timedelta(minutes=rng.uniform(20, 90)) for _ in range(rng.randint(0, 2))]
    for a in external:
        child = h.case("child", m_opened, account=a, contact=a, parent=major, incident=iid, resolved=m_resolved)
        h.notice(f"approved:{major}:{a}", "major_case_opened", a, child, m_opened,
                 m_opened + timedelta(seconds=rng.uniform(2, 300)))  # fmt: skip
        for n, at in enumerate(statements):
            if at < NOW:
                h.notice(f"statement:{major}-{n}:{a}", "statement", a, child, at, at + timedelta(seconds=30))
        if m_resolved:
            h.notice(f"resolved:{major}:{a}", "resolved", a, child, m_resolved, m_resolved + timedelta(seconds=30))
    end = m_resolved or NOW
    for a in rng.sample(external, k=min(len(external), int(len(external) * rng.uniform(0.02, 0.08)))):
        # Every call about the outage is attached to the major case; it was deflected when the
        # major case was already known as the customer called.
        called = opened + timedelta(seconds=rng.uniform(0, (end - opened).total_seconds()))
        cid = h.case("reactive", called, account=a, contact=a, channel="phone", parent=major,
                     deflected=called >= m_opened, resolved=m_resolved)  # fmt: skip
        h.add("case_account", (cid, a, "reported"))


INSERTS = {
    "account": "INSERT INTO account (id, number, name, tier, region, industry, is_external, created_at, version) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, '2025-01-01 00:00:00.000000', 1)",
    "contact": "INSERT INTO contact (id, number, account_id, name, email, preferred_channel, is_primary, opted_out, "
    "version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1)",
    "product": "INSERT INTO product (id, number, name, family, version) VALUES (?, ?, ?, ?, 1)",
    "ci": "INSERT INTO ci (id, name, kind, description, environment, location, multi_tenant, version) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, 1)",
    "install_base_item": "INSERT INTO install_base_item (id, number, name, account_id, product_id, ci_id, status, "
    "version) VALUES (?, ?, ?, ?, ?, ?, ?, 1)",
    "incident": "INSERT INTO incident (id, title, state, severity, root_ci_id, opened_at, updated_at, resolved_at, "
    "version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    "alert": "INSERT INTO alert (id, fingerprint, source, name, severity, state, acknowledged, maintenance, summary, "
    "description, labels, annotations, ci_key, ci_id, starts_at, first_seen_at, last_seen_at, last_change_at, "
    "receive_count, flap_score, incident_id, version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
    "?, ?, ?, ?)",
    "support_case": "INSERT INTO support_case (id, kind, state, major_case_state, priority, short_description, "
    "description, channel, account_id, contact_id, parent_id, incident_id, opened_at, updated_at, decided_at, "
    "deflected, resolved_at, closed_at, version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    "case_account": "INSERT OR IGNORE INTO case_account (case_id, account_id, source) VALUES (?, ?, ?)",
    "case_item": "INSERT OR IGNORE INTO case_item (case_id, item_id) VALUES (?, ?)",
    "notice": "INSERT INTO notice (id, idempotency_key, kind, contact_id, account_id, case_id, channel, state, "
    "attempts, next_attempt_at, created_at, sent_at, version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    "outage": "INSERT INTO outage (id, type, title, details, ci_id, case_id, incident_id, begins_at, ends_at, "
    "created_at, version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
}


def write(path: Path, h: History) -> dict[str, int]:
    conn = connect(path)
    conn.execute("PRAGMA foreign_keys = OFF")  # rows come in table order, not reference order
    conn.execute("BEGIN")
    for table, sql in INSERTS.items():
        conn.executemany(sql, h.rows.get(table, []))
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    counts = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in INSERTS}
    conn.close()
    return counts


# --- timing --------------------------------------------------------------------------------------


class StallMeter:
    """The longest time the event loop was late to wake a 2 ms ticker."""

    def __init__(self) -> None:
        self.worst = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            start = loop.time()
            await asyncio.sleep(0.002)
            self.worst = max(self.worst, loop.time() - start - 0.002)

    def __enter__(self) -> StallMeter:
        self._task = asyncio.get_running_loop().create_task(self._tick())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()


def raw_run(conn: sqlite3.Connection, statements: list[tuple[str, Any]]) -> tuple[float, float, list[float], int]:
    """Execute and fetch every statement: seconds (wall, CPU), seconds per statement, rows fetched."""
    each, rows = [], 0
    start = time.perf_counter()
    cpu = time.process_time()
    conn.execute("BEGIN")
    for sql, params in statements:
        t0 = time.perf_counter()
        rows += len(conn.execute(sql, params).fetchall())
        each.append(time.perf_counter() - t0)
    conn.execute("COMMIT")
    return time.perf_counter() - start, time.process_time() - cpu, each, rows


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--incidents", type=int, default=3000, help="incidents in the year (default 3,000)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--keep", type=Path, help="keep the database here (and reuse it if it exists)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        path = args.keep or Path(tmp) / "dashboard.db"
        if not path.exists():
            t0 = time.perf_counter()
            h = generate(args.accounts, args.incidents)
            domain = await Domain.open(path)
            await domain.close()
            counts = write(path, h)
            print(
                f"history written in {time.perf_counter() - t0:.1f}s: "
                + ", ".join(f"{n:,} {t}" for t, n in counts.items())
            )

        domain = await Domain.open(path, clock=FrozenClock(NOW))
        statements: list[tuple[str, Any]] = []

        def capture(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
            if statement.lstrip().upper().startswith(("SELECT", "WITH")):
                statements.append((statement, parameters))

        engine = domain.db.read_engine.sync_engine
        event.listen(engine, "before_cursor_execute", capture)
        board = await dashboard.kpis(domain, SYSTEM, period="month", periods_back=12)
        event.remove(engine, "before_cursor_execute", capture)

        raw = connect(path)
        ours, theirs, stalls, ours_cpu, theirs_cpu, current_only = [], [], [], [], [], []
        per_statement: list[list[float]] = []
        for _ in range(args.rounds):
            with StallMeter() as meter:
                await asyncio.sleep(0)
                t0, c0 = time.perf_counter(), time.process_time()
                await dashboard.kpis(domain, SYSTEM, period="month", periods_back=12)
                ours.append(time.perf_counter() - t0)
                ours_cpu.append(time.process_time() - c0)
            stalls.append(meter.worst)
            total, cpu, each, fetched = raw_run(raw, statements)
            theirs.append(total)
            theirs_cpu.append(cpu)
            per_statement.append(each)
            t0 = time.perf_counter()
            await dashboard.kpis(domain, SYSTEM, period="month", periods_back=0)
            current_only.append(time.perf_counter() - t0)

        t0 = time.perf_counter()
        drill = await dashboard.drill_down(domain, SYSTEM, "affected_accounts", period="month", limit=100)
        drill_time = time.perf_counter() - t0
        await domain.close()
        raw.close()

    print(f"\nkpis(period='month', periods_back=12): {len(statements)} statements, {fetched} rows fetched")
    print(f"{'':32}{'median':>9}{'best':>9}   (of {args.rounds} rounds)")
    print(f"{'pcso dashboard.kpis':32}{statistics.median(ours) * 1000:>7.0f}ms{min(ours) * 1000:>7.0f}ms")
    print(f"{'raw sqlite3, same statements':32}{statistics.median(theirs) * 1000:>7.0f}ms{min(theirs) * 1000:>7.0f}ms")
    print(f"{'  CPU time, pcso':32}{statistics.median(ours_cpu) * 1000:>7.0f}ms{min(ours_cpu) * 1000:>7.0f}ms")
    print(
        f"{'  CPU time, raw sqlite3':32}{statistics.median(theirs_cpu) * 1000:>7.0f}ms{min(theirs_cpu) * 1000:>7.0f}ms"
    )
    ratio_median = statistics.median(ours) / statistics.median(theirs)
    print(f"ratio pcso ÷ raw  {ratio_median:.2f}× median, {min(ours) / min(theirs):.2f}× best")
    print(f"current month only (periods_back=0): {statistics.median(current_only) * 1000:.0f}ms median")
    print("target (issue 7): the dashboard opens in about a second")
    print(f"longest event-loop stall during kpis: {max(stalls) * 1000:.0f} ms")
    slowest = sorted(
        ((statistics.median(r[i] for r in per_statement), sql) for i, (sql, _) in enumerate(statements)), reverse=True
    )
    print("slowest statements (raw, median):")
    for seconds, sql in slowest[:5]:
        print(f"  {seconds * 1000:6.0f}ms  {' '.join(sql.split())[:110]}")
    current = {k.key: k.shown for k in board.kpis}
    print(f"current month {board.current.label}: " + ", ".join(f"{k} {v}" for k, v in current.items()))
    print(f"drill-down affected_accounts (first 100 of {drill.total:,}): {drill_time * 1000:.0f} ms")


if __name__ == "__main__":
    asyncio.run(main())
