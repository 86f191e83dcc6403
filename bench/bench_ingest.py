"""Alert ingest throughput: pcso's ``ingest`` against raw sqlite3 upserts in the same run.

Builds Alertmanager webhook messages (``--batch`` alerts each, ``--alerts`` in all) from a pool of
``--distinct`` fingerprints, so most alerts are repeats of one already stored and dedup matters;
about one in ten arrives resolved and fires again later (close, reopen). Four in five alerts name
a known CI by their ``instance`` label, the rest an unknown one (unmapped).

Then, each into a fresh migrated embedded database:

- ``ingest``: the parsed batches through ``pcso_tui.domain.operations.alerts.ingest`` (one transaction per
  batch: CI lookup, existing-state read, upsert, events, as the receiver does);
- ``parse + ingest``: the same from the JSON bodies (``ingest_payload``), as a POST arrives;
- ``ingest + correlation``: the first ``--correlated`` messages through ``ingest`` with the real
  correlation (``domain/operations/correlation.py``, another area), which the two sides above leave out;
- ``raw sqlite3``: the same rows upserted with the standard library, one transaction per batch,
  ``INSERT … ON CONFLICT(fingerprint, source) DO UPDATE`` with ``executemany`` (labels encoded as JSON,
  CI ids from a dictionary loaded beforehand, no state logic, no events: the least work that
  stores the same alerts).

    .venv/bin/python bench/bench_ingest.py [--alerts 100000] [--batch 200] [--distinct 20000]

Targets (issue 3): ingest ≥ 20,000 alerts/s and within 3× of raw sqlite3. Only ratios taken in
one run mean anything: the machine's speed drifts, both sides run in the same process.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import sqlite3
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pcso_tui.domain.core.db import WAL_AUTOCHECKPOINT_PAGES
from pcso_tui.domain.core.extensions import Extensions
from pcso_tui.domain.core.models import ConfigurationItem
from pcso_tui.domain.core.roles import SYSTEM
from pcso_tui.domain.core.service import Domain
from pcso_tui.domain.core.settings import Settings
from pcso_tui.domain.operations import alerts as alerts_module
from pcso_tui.domain.operations.alert_formats import parse_alerts
from pcso_tui.domain.operations.alerts import ParsedBatch, ingest, ingest_payload
from pcso_tui.plugins import new_plugin_manager

CIS = 2_000
ZERO = "0001-01-01T00:00:00Z"
SEVERITIES = ("critical", "warning", "warning", "info", "major")


def build_bodies(alerts: int, batch: int, distinct: int, seed: int = 7) -> list[bytes]:
    rng = random.Random(seed)
    start = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
    bodies = []
    for b in range(alerts // batch):
        # A group: a run of neighbouring fingerprints, as Alertmanager groups by labels.
        first = rng.randrange(0, max(1, distinct - batch))
        items = []
        for n in range(first, first + batch):
            resolved = rng.random() < 0.1
            host = f"host-{n % (CIS * 5 // 4)}"  # a fifth of the hosts are not known CIs
            starts = (start + timedelta(seconds=n)).isoformat().replace("+00:00", "Z")
            items.append(
                {
                    "status": "resolved" if resolved else "firing",
                    "labels": {
                        "alertname": f"Rule{n % 50}",
                        "instance": f"{host}:9100",
                        "job": "node",
                        "severity": SEVERITIES[n % len(SEVERITIES)],
                    },
                    "annotations": {"summary": f"{host} is unwell ({n})", "description": "see the runbook"},
                    "startsAt": starts,
                    "endsAt": (
                        (start + timedelta(seconds=n + 30 + b)).isoformat().replace("+00:00", "Z") if resolved else ZERO
                    ),
                    "generatorURL": f"http://prometheus.example/graph?g0.expr=rule{n % 50}",
                    "fingerprint": f"{n:016x}",
                }
            )
        message = {
            "version": "4",
            "groupKey": f'{{}}:{{group="{b}"}}',
            "truncatedAlerts": 0,
            "status": "firing",
            "receiver": "pcso",
            "groupLabels": {},
            "commonLabels": {"job": "node"},
            "commonAnnotations": {},
            "externalURL": "http://alertmanager.example:9093",
            "alerts": items,
        }
        bodies.append(json.dumps(message).encode())
    return bodies


async def make_template(folder: Path) -> Path:
    path = folder / "template.db"
    domain = await Domain.open(path, upgrade=True)
    async with domain.transaction(SYSTEM) as tx:
        from sqlalchemy import insert

        await tx.session.execute(
            insert(ConfigurationItem.__table__), [{"name": f"host-{c}", "kind": "host"} for c in range(CIS)]
        )
    await domain.close()
    return path


RAW_COLUMNS = (
    "fingerprint",
    "source",
    "name",
    "severity",
    "state",
    "acknowledged",
    "maintenance",
    "summary",
    "description",
    "labels",
    "annotations",
    "ci_key",
    "ci_id",
    "generator_url",
    "starts_at",
    "ends_at",
    "first_seen_at",
    "last_seen_at",
    "last_change_at",
    "receive_count",
    "flap_score",
    "version",
)


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")


def raw_rows(batch: ParsedBatch, now: str, ci_ids: dict[str, int]) -> list[tuple[Any, ...]]:
    rows = []
    for a in batch.alerts:
        host = a.labels.get("instance", "").split(":")[0]
        rows.append(
            (
                a.fingerprint,
                a.source,
                a.name,
                a.severity,
                "closed" if a.status == "resolved" else "open",
                0,
                0,
                a.summary,
                a.description,
                json.dumps(a.labels),
                json.dumps(a.annotations),
                host,
                ci_ids.get(host),
                a.generator_url,
                _time(a.starts_at) or now,
                _time(a.ends_at),
                now,
                now,
                now,
                1,
                0,
                1,
            )
        )
    return rows


class Raw:
    """The baseline: the standard library's sqlite3, one transaction and one executemany per batch."""

    def __init__(self, path: Path) -> None:
        keep = {"fingerprint", "source", "first_seen_at", "receive_count", "version"}
        updates = ", ".join(f"{c} = excluded.{c}" for c in RAW_COLUMNS if c not in keep)
        self.sql = (
            f"INSERT INTO alert ({', '.join(RAW_COLUMNS)}) VALUES ({', '.join('?' * len(RAW_COLUMNS))}) "
            f"ON CONFLICT(fingerprint, source) DO UPDATE SET {updates}, "
            "receive_count = receive_count + excluded.receive_count, version = version + 1"
        )
        self.connection = sqlite3.connect(path, isolation_level=None)
        # The pragmas pcso's own connections use (domain/core/db.py).
        pragmas = ("journal_mode = WAL", "synchronous = NORMAL", "foreign_keys = ON", "busy_timeout = 30000")
        for pragma in (*pragmas, f"wal_autocheckpoint = {WAL_AUTOCHECKPOINT_PAGES}"):
            self.connection.execute(f"PRAGMA {pragma}")
        # A generous baseline: every CI id known in advance, in memory, instead of looked up.
        self.ci_ids = dict(self.connection.execute("SELECT name, id FROM ci").fetchall())

    def upsert(self, batch: ParsedBatch) -> None:
        now = _time(datetime.now(UTC))
        self.connection.execute("BEGIN IMMEDIATE")
        self.connection.executemany(self.sql, raw_rows(batch, now, self.ci_ids))
        self.connection.execute("COMMIT")

    def close(self) -> None:
        self.connection.close()


def count_alerts(path: Path) -> int:
    connection = sqlite3.connect(path)
    try:
        return connection.execute("SELECT count(*) FROM alert").fetchone()[0]
    finally:
        connection.close()


async def _no_correlation(tx: Any, settings: Any, alert_ids: Any) -> list[int]:
    return []


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--alerts", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=200, help="alerts per webhook message (POST)")
    parser.add_argument("--distinct", type=int, default=20_000, help="distinct fingerprints")
    parser.add_argument(
        "--correlated", type=int, default=25, help="messages also run through ingest with correlation (default 25)"
    )
    parser.add_argument("--profile", action="store_true", help="profile the ingest run (cProfile, top 30)")
    args = parser.parse_args()

    bodies = build_bodies(args.alerts, args.batch, args.distinct)
    total = sum(len(json.loads(b)["alerts"]) for b in bodies)
    real_correlation = alerts_module.correlation.correlate_alerts
    sides = ("ingest", "payload", "raw", "correlated", "raw (same messages)")
    with tempfile.TemporaryDirectory(prefix="pcso-bench-ingest-") as tmp:
        folder = Path(tmp)
        template = await make_template(folder)
        copies = {}
        for name in ("ingest", "payload", "raw", "correlated"):
            copies[name] = folder / f"{name}.db"
            shutil.copyfile(template, copies[name])

        builtin = Extensions(new_plugin_manager(load_entry_points=False).hook, Settings())
        started = time.perf_counter()
        batches = [parse_alerts(builtin, body) for body in bodies]
        parse_seconds = time.perf_counter() - started

        # The sides run side by side, one message each in turn, so that the machine's drift (it
        # is shared) weighs on all of them alike; wall and CPU time are summed per side.
        hooks = new_plugin_manager(load_entry_points=False).hook
        plain, payload = await Domain.open(copies["ingest"]), await Domain.open(copies["payload"], hooks=hooks)
        correlated = await Domain.open(copies["correlated"])
        raw = Raw(copies["raw"])
        wall = dict.fromkeys(sides, 0.0)
        cpu = dict(wall)
        profiler = None
        if args.profile:
            import cProfile

            profiler = cProfile.Profile()
        try:
            for n, (batch, body) in enumerate(zip(batches, bodies, strict=True)):
                for side in sides[:4]:
                    if side == "correlated" and n >= args.correlated:
                        continue
                    # Correlation (domain/operations/correlation.py, another area) is left out of the first
                    # two sides, to measure ingest itself, and kept in the fourth.
                    alerts_module.correlation.correlate_alerts = (  # type: ignore[attr-defined]
                        real_correlation if side == "correlated" else _no_correlation
                    )
                    t, c = time.perf_counter(), time.process_time()
                    if side == "ingest":
                        if profiler:
                            profiler.enable()
                        await ingest(plain, SYSTEM, batch)
                        if profiler:
                            profiler.disable()
                    elif side == "payload":
                        await ingest_payload(payload, SYSTEM, body)
                    elif side == "correlated":
                        await ingest(correlated, SYSTEM, batch)
                    else:
                        raw.upsert(batch)
                    elapsed, used = time.perf_counter() - t, time.process_time() - c
                    wall[side] += elapsed
                    cpu[side] += used
                    if side == "raw" and n < args.correlated:
                        wall["raw (same messages)"] += elapsed
                        cpu["raw (same messages)"] += used
        finally:
            alerts_module.correlation.correlate_alerts = real_correlation  # type: ignore[attr-defined]
            for domain in (plain, payload, correlated):
                await domain.close()
            raw.close()
        if profiler:
            import pstats

            pstats.Stats(profiler).sort_stats("tottime").print_stats(30)
        stored = {name: count_alerts(path) for name, path in copies.items()}

    print(
        f"{total:,} alerts in {len(bodies):,} webhook messages of {args.batch}, "
        f"{args.distinct:,} fingerprints ({stored['ingest']:,} stored)"
    )
    assert stored["ingest"] == stored["payload"] == stored["raw"], stored
    print(f"  {'':40} {'wall':>7}    {'alerts/s':>10}  {'vs raw':>7}   {'CPU':>7}  {'vs raw':>7}")
    print(f"  {'parse only (parse_alerts)':40} {parse_seconds:7.2f} s  {total / parse_seconds:>10,.0f}")

    def line(label: str, side: str, base: str, count: int) -> None:
        print(
            f"  {label:40} {wall[side]:7.2f} s  {count / wall[side]:>10,.0f}  {wall[side] / wall[base]:6.2f}×"
            f"  {cpu[side]:7.2f} s  {cpu[side] / cpu[base]:6.2f}×"
        )

    line("ingest (parsed batches)", "ingest", "raw", total)
    line("parse + ingest (ingest_payload)", "payload", "raw", total)
    line("raw sqlite3 upsert", "raw", "raw", total)
    rate, ratio = total / wall["ingest"], wall["ingest"] / wall["raw"]
    verdict = "met" if rate >= 20_000 and ratio <= 3 else "MISSED"
    print(f"target (ingest ≥ 20,000 alerts/s and ≤ 3× raw, wall): {verdict} — {rate:,.0f}/s, {ratio:.2f}×")
    if args.correlated:
        count = sum(len(b) for b in batches[: args.correlated])
        print(f"the first {min(args.correlated, len(batches))} messages ({count:,} alerts) with correlation as well:")
        line("ingest + correlation", "correlated", "raw (same messages)", count)
        line("raw sqlite3 upsert (same messages)", "raw (same messages)", "raw (same messages)", count)


if __name__ == "__main__":
    asyncio.run(main())
