"""Seeding throughput: ``seed_world`` against raw ``sqlite3.executemany`` of the same rows.

    python bench/bench_seed.py                 # the medium world (200,000 items)
    python bench/bench_seed.py --size large    # the full 1,000,000-item world

The world is generated once. Each chunk is written by ``seed_world`` into one database and,
right after, by plain ``sqlite3.executemany`` into a second database with the same schema,
pragmas and foreign keys; both writes are timed, per chunk, in the same run, so the ratio
holds even while the machine's speed drifts. Rows reach the raw writer already converted
to what SQLite stores; converting them is part of our cost, not of the baseline's.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from pcso_tui.domain.core.roles import Actor, Role
from pcso_tui.domain.core.service import Domain
from pcso_tui.world.world import SQLITE_CACHE_KIB, driver_rows, insert_sql, seed_world, size_names
from pcso_tui.world.worldgen import PHASES, Rows


class StallProbe:
    """The longest time the event loop went without running a 10 ms timer, the twin's share aside."""

    def __init__(self, twin: RawTwin) -> None:
        self.twin = twin
        self.running = True
        self.longest = 0.0

    async def run(self) -> None:
        while self.running:
            started, busy = time.perf_counter(), self.twin.busy
            await asyncio.sleep(0.01)
            late = time.perf_counter() - started - 0.01 - (self.twin.busy - busy)
            self.longest = max(self.longest, late)


class RawTwin:
    """The same chunks, written with nothing but the sqlite3 module."""

    def __init__(self, path: Path, ours: Path) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None)
        for pragma in ("journal_mode = WAL", "synchronous = NORMAL", "foreign_keys = ON", "busy_timeout = 30000"):
            self.conn.execute(f"PRAGMA {pragma}")
        # The same page cache seed_world uses while it loads.
        self.conn.execute(f"PRAGMA cache_size = {SQLITE_CACHE_KIB}")
        self.ours = ours
        self.started = False
        self.seconds: dict[str, float] = defaultdict(float)
        self.ours_seconds: dict[str, float] = defaultdict(float)
        self.rows: dict[str, int] = defaultdict(int)
        self.tables: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0.0])
        # Seconds this twin held the event loop (so the stall probe can leave them out).
        self.busy = 0.0

    def __call__(self, chunk: Rows, seconds: float) -> None:
        entered = time.perf_counter()
        if not self.started:
            # The users seed_world added before the world (history refers to them).
            self.conn.execute("ATTACH DATABASE ? AS ours", (str(self.ours),))
            self.conn.execute("INSERT INTO app_user SELECT * FROM ours.app_user")
            self.conn.execute("DETACH DATABASE ours")
            self.conn.execute("BEGIN IMMEDIATE")
            self.started = True
        rows = driver_rows(chunk.table, chunk.columns, chunk.rows)
        sql = insert_sql(chunk.table, chunk.columns)
        started = time.perf_counter()
        self.conn.executemany(sql, rows)
        raw = time.perf_counter() - started
        self.seconds[chunk.phase] += raw
        self.ours_seconds[chunk.phase] += seconds
        self.rows[chunk.phase] += len(rows)
        entry = self.tables[chunk.table]
        entry[0] += len(rows)
        entry[1] += seconds
        entry[2] += raw
        self.busy += time.perf_counter() - entered

    def commit(self) -> float:
        started = time.perf_counter()
        self.conn.execute("COMMIT")
        return time.perf_counter() - started


def counts(path: Path, tables: list[str]) -> dict[str, int]:
    conn = sqlite3.connect(path)
    try:
        return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables}
    finally:
        conn.close()


async def run(size: str, seed: int, directory: Path) -> int:
    ours_path, raw_path = directory / "ours.db", directory / "raw.db"
    for path in (ours_path, raw_path):
        # Same migrated schema in both.
        await (await Domain.open(path, upgrade=True)).close()
    twin = RawTwin(raw_path, ours_path)
    domain = await Domain.open(ours_path)
    admin = Actor(user_id=None, name="bench", role=Role.ADMIN)
    stall = StallProbe(twin)
    probe = asyncio.create_task(stall.run())
    started = time.perf_counter()
    try:
        summary = await seed_world(domain, admin, size=size, seed=seed, observer=twin)
    finally:
        stall.running = False
        await probe
        await domain.close()
    wall = time.perf_counter() - started
    raw_commit = twin.commit()
    twin.conn.close()

    raw_total = sum(twin.seconds.values())
    ours_total = sum(twin.ours_seconds.values())
    rows_total = sum(twin.rows.values())
    print(f"seed {size} world (seed {seed}): {rows_total:,} rows in {len(twin.tables)} tables")
    print()
    print(f"{'phase':<14}{'rows':>12}{'ours s':>9}{'ours rows/s':>13}{'raw s':>9}{'raw rows/s':>12}{'ratio':>8}")
    for phase in PHASES:
        n, ours, raw = twin.rows[phase], twin.ours_seconds[phase], twin.seconds[phase]
        print(f"{phase:<14}{n:>12,}{ours:>9.2f}{n / ours:>13,.0f}{raw:>9.2f}{n / raw:>12,.0f}{ours / raw:>7.2f}×")
    print(
        f"{'all writes':<14}{rows_total:>12,}{ours_total:>9.2f}{rows_total / ours_total:>13,.0f}"
        f"{raw_total:>9.2f}{rows_total / raw_total:>12,.0f}{ours_total / raw_total:>7.2f}×"
    )
    print()
    print(f"{'table':<20}{'rows':>11}{'ours s':>9}{'raw s':>9}{'ratio':>8}")
    for table, (n, ours, raw) in twin.tables.items():
        print(f"{table:<20}{int(n):>11,}{ours:>9.2f}{raw:>9.2f}{ours / raw:>7.2f}×")
    print()
    # End to end: generation, conversion, users, writes and commit, minus the raw twin's share.
    ours_wall = wall - twin.busy
    print(
        f"seed_world end to end: {ours_wall:.1f} s, {rows_total / ours_wall:,.0f} rows/s "
        f"(writes {ours_total:.1f} s; raw writes {raw_total:.1f} s + commit {raw_commit:.2f} s)"
    )
    print(f"longest event-loop stall during seed_world: {stall.longest * 1000:.0f} ms")
    print(
        f"install base items: {summary.counts['install_base_item']:,}, accounts: {summary.counts['account']:,}, "
        f"CIs: {summary.counts['ci']:,}"
    )

    tables = sorted(twin.tables)
    ours_counts, raw_counts = counts(ours_path, tables), counts(raw_path, tables)
    # Only ours holds the events of adding the users and of the seeding itself.
    extra = ours_counts["event"] - raw_counts["event"]
    ours_counts["event"] = raw_counts["event"]
    if ours_counts != raw_counts or not 0 < extra < 10:
        print("MISMATCH between the two databases:", ours_counts, raw_counts, file=sys.stderr)
        return 1
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=size_names(), default="medium")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--dir", type=Path, help="where to put the two databases (default: a temporary directory)")
    args = parser.parse_args()
    if args.dir:
        args.dir.mkdir(parents=True, exist_ok=True)
        for stale in args.dir.glob("*.db*"):
            stale.unlink()
        return asyncio.run(run(args.size, args.seed, args.dir))
    with tempfile.TemporaryDirectory(prefix="pcso-bench-seed-") as directory:
        return asyncio.run(run(args.size, args.seed, Path(directory)))


if __name__ == "__main__":
    sys.exit(main())
