"""Impact on the 1,000,000-item world: the domain against raw sqlite3, and the event loop.

    .venv/bin/python bench/bench_impact.py            # builds bench/out/impact_world.db once (~1 min)
    .venv/bin/python bench/bench_impact.py --quick    # fewer repetitions

For a leaf, a host, a cluster and a datacentre CI it times

- ``impact_of`` (totals, nearest CIs, first page of 200 accounts with characteristics and
  health) through the domain, against the very same statements replayed on a fresh raw
  ``sqlite3`` connection (recursive CTEs and INSERT … SELECT into temporary tables — the same
  result, without SQLAlchemy, aiosqlite or the event loop), interleaved run by run;
- ``insert_case_impact`` for a new case, likewise (both rolled back, so the world stays);
- the longest event-loop stall while the domain computes: a ticker task sleeps 1 ms at a time
  and records the longest gap between its wake-ups.

Once per CI it also times the old single recursive CTE (CIs → items with their components →
distinct accounts) as a reference. Last, a fresh process opens the domain on the world, runs
a datacentre impact and reports its resident memory. Targets (issue 3): datacentre within 1.5×
of raw, leaf under 5 ms, no stall over 50 ms; the operator workspace under 200 MiB resident.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from impact_world import WORLD, ensure_world, layers
from pcso_tui.domain.core.models import Case
from pcso_tui.domain.core.roles import SYSTEM
from pcso_tui.domain.core.service import Domain
from pcso_tui.domain.install_base import impact


class Rollback(Exception):
    pass


class Ticker:
    """Measures the longest gap between 1 ms sleeps on the event loop."""

    def __init__(self) -> None:
        self.longest = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(0.001)
            self.longest = max(self.longest, time.perf_counter() - before - 0.001)

    async def __aenter__(self) -> Ticker:
        self.longest = 0.0
        self._task = asyncio.create_task(self._run())
        await asyncio.sleep(0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


class Recorder:
    """Records the statements impact runs (SQL and parameters), to replay them raw."""

    def __init__(self) -> None:
        self.statements: list[tuple[str, dict[str, Any]]] = []
        self._rows, self._run = impact._Sql.rows, impact._Sql.run

    def __enter__(self) -> Recorder:
        recorded = self.statements
        rows, run = self._rows, self._run

        def rec_rows(sql_self: Any, sql: str, params: dict[str, Any] | None = None) -> Any:
            recorded.append((sql, dict(params or {})))
            return (yield from rows(sql_self, sql, params))

        def rec_run(sql_self: Any, sql: str, params: dict[str, Any] | None = None) -> Any:
            recorded.append((sql, dict(params or {})))
            return (yield from run(sql_self, sql, params))

        impact._Sql.rows, impact._Sql.run = rec_rows, rec_run  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        impact._Sql.rows, impact._Sql.run = self._rows, self._run  # type: ignore[method-assign]


def raw_connection(*, check_same_thread: bool = True) -> sqlite3.Connection:
    """Like the product's connections: WAL, foreign keys on, busy timeout; transactions by hand."""
    con = sqlite3.connect(WORLD, isolation_level=None, check_same_thread=check_same_thread)
    con.execute("PRAGMA busy_timeout = 30000")
    con.execute("PRAGMA foreign_keys = ON")
    con.execute("PRAGMA synchronous = NORMAL")
    # As on the domain's read connections: the temporary tables made once, outside transactions.
    for name, columns in impact._TEMP_TABLES.items():
        con.execute(f"CREATE TEMPORARY TABLE IF NOT EXISTS {name} ({columns})")
    return con


def replay(con: sqlite3.Connection, statements: list[tuple[str, dict[str, Any]]], begin: str = "BEGIN") -> float:
    started = time.perf_counter()
    con.execute(begin)
    try:
        for sql, params in statements:
            con.execute(sql, params).fetchall()
    finally:
        con.execute("ROLLBACK")
    return time.perf_counter() - started


def old_single_cte(con: sqlite3.Connection, ci: int) -> tuple[float, tuple[int, int]]:
    """The first version on main: one recursive CTE, distinct items and accounts."""
    started = time.perf_counter()
    row = con.execute(
        "WITH RECURSIVE aci(ci_id) AS (SELECT ? UNION SELECT d.ci_id FROM ci_dependency d "
        "JOIN aci ON d.depends_on_id = aci.ci_id), "
        "items(item_id, account_id) AS (SELECT i.id, i.account_id FROM install_base_item i "
        "WHERE i.ci_id IN (SELECT ci_id FROM aci) "
        "UNION SELECT c.id, c.account_id FROM install_base_item c JOIN items p ON c.parent_id = p.item_id) "
        "SELECT count(*), count(DISTINCT account_id) FROM items",
        (ci,),
    ).fetchone()
    return time.perf_counter() - started, (row[0], row[1])


async def timed(action: Callable[[], Awaitable[Any]]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = await action()
    return time.perf_counter() - started, result


async def stall(action: Callable[[], Awaitable[Any]]) -> float:
    """The longest event-loop stall while ``action`` runs (timed separately: the ticker costs)."""
    async with Ticker() as ticker:
        await action()
    return ticker.longest


async def idle_stall(seconds: float = 2.0) -> float:
    """The longest stall with nothing running: what the machine itself does to the loop."""
    async with Ticker() as ticker:
        await asyncio.sleep(seconds)
    return ticker.longest


async def insert_for_new_case(domain: Domain, ci: int, out: list[Any]) -> None:
    """insert_case_impact for a new proactive case, rolled back afterwards."""
    try:
        async with domain.transaction(SYSTEM) as tx:
            case = Case(kind="proactive", short_description="bench", opened_at=tx.now, updated_at=tx.now)
            tx.session.add(case)
            await tx.session.flush()
            out.append((case.id, await impact.insert_case_impact(tx, case.id, [ci])))
            raise Rollback
    except Rollback:
        pass


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.1f}"


async def bench(quick: bool) -> tuple[list[dict[str, Any]], float]:
    L = layers()
    targets = [
        ("leaf", L["application"][100]),
        ("host", L["host"][100]),
        ("cluster", L["cluster"][1]),
        ("datacentre", L["datacentre"][0]),
    ]
    repeats = {"leaf": 100, "host": 20, "cluster": 5, "datacentre": 3}
    insert_repeats = {"leaf": 5, "host": 5, "cluster": 2, "datacentre": 1}
    if quick:
        repeats = {k: max(1, v // 3) for k, v in repeats.items()}
    domain = await Domain.open(WORLD)
    con = raw_connection()
    results: list[dict[str, Any]] = []
    idle = await idle_stall()
    print(f"idle event loop, nothing running: longest stall {idle * 1000:.1f} ms (the machine's own noise)")
    try:
        for label, ci in targets:
            # One untimed run records the statements (and warms the caches for both sides).
            with Recorder() as rec:
                view = await impact.impact_of(domain, SYSTEM, ci_ids=[ci])
            replay(con, rec.statements)
            ours, raws, stalls = [], [], []
            for _ in range(repeats[label]):
                elapsed, again = await timed(lambda ci=ci: impact.impact_of(domain, SYSTEM, ci_ids=[ci]))
                assert (again.item_count, again.account_count) == (view.item_count, view.account_count)
                ours.append(elapsed)
                raws.append(replay(con, rec.statements))
            for _ in range(min(3, repeats[label])):
                stalls.append(await stall(lambda ci=ci: impact.impact_of(domain, SYSTEM, ci_ids=[ci])))
            # The floor: the same statements on a thread of their own, nothing of ours on the loop.
            thread_con = raw_connection(check_same_thread=False)
            on_thread = rec.statements

            def in_thread(con: sqlite3.Connection = thread_con, steps: Any = on_thread) -> Awaitable[float]:
                return asyncio.to_thread(replay, con, steps)

            floor = max([await stall(in_thread) for _ in range(2)])
            thread_con.close()
            old, old_counts = old_single_cte(con, ci)
            assert old_counts == (view.item_count, view.account_count), (old_counts, view.item_count)

            made: list[Any] = []
            with Recorder() as irec:
                await insert_for_new_case(domain, ci, made)
            case_id, (accounts, items) = made[-1]
            assert (accounts, items) == (view.account_count, view.item_count)
            case_row = (
                "INSERT INTO support_case (id, kind, state, major_case_state, priority, short_description, "
                "description, channel, opened_at, updated_at, deflected, version) VALUES "
                "(:id, 'proactive', 'new', 'none', 4, 'bench', '', 'monitoring', "
                "'2026-11-23 09:00:00', '2026-11-23 09:00:00', 0, 1)"
            )
            istatements = [(case_row, {"id": case_id}), *irec.statements]
            i_ours, i_raws, i_stalls = [], [], []
            for _ in range(insert_repeats[label]):
                elapsed, _ = await timed(lambda ci=ci, made=made: insert_for_new_case(domain, ci, made))
                i_ours.append(elapsed)
                i_raws.append(replay(con, istatements, begin="BEGIN IMMEDIATE"))
            i_stalls.append(await stall(lambda ci=ci, made=made: insert_for_new_case(domain, ci, made)))
            results.append(
                {
                    "label": label,
                    "cis": view.ci_count,
                    "items": view.item_count,
                    "accounts": view.account_count,
                    "ours": statistics.median(ours),
                    "ours_min": min(ours),
                    "raw": statistics.median(raws),
                    "stall": max(stalls),
                    "floor": floor,
                    "old": old,
                    "statements": len(rec.statements),
                    "i_ours": statistics.median(i_ours),
                    "i_raw": statistics.median(i_raws),
                    "i_stall": max(i_stalls),
                }
            )
            r = results[-1]
            print(
                f"{label:10s} {r['cis']:6d} CIs {r['items']:7d} items {r['accounts']:6d} accounts | "
                f"impact_of {ms(r['ours'])} ms raw {ms(r['raw'])} ms ×{r['ours'] / r['raw']:.2f} "
                f"stall {ms(r['stall'])} ms (raw on a thread {ms(r['floor'])} ms) | "
                f"insert {ms(r['i_ours'])} ms raw {ms(r['i_raw'])} ms "
                f"×{r['i_ours'] / r['i_raw']:.2f} stall {ms(r['i_stall'])} ms | old CTE {ms(r['old'])} ms",
                flush=True,
            )
    finally:
        con.close()
        await domain.close()
    return results, idle


MEMORY_PROBE = """
import asyncio, resource, sys
sys.path.insert(0, {bench!r})
def rss():
    fields = dict(line.split(":", 1) for line in open("/proc/self/status"))
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024
async def main():
    from pcso_tui.domain.core.service import Domain
    from pcso_tui.domain.core.roles import SYSTEM
    from pcso_tui.domain.install_base import impact
    domain = await Domain.open({world!r})
    opened = rss()[0]
    await impact.impact_of(domain, SYSTEM, ci_ids=[{ci}])
    after, peak = rss()
    await domain.close()
    print(opened, after, peak)
asyncio.run(main())
"""


def memory(ci: int) -> tuple[float, float, float]:
    code = MEMORY_PROBE.format(bench=str(Path(__file__).parent), world=str(WORLD), ci=ci)
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    opened, after, peak = (float(x) for x in out.split())
    return opened, after, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    args = parser.parse_args()
    ensure_world()
    started = time.perf_counter()
    results, idle = asyncio.run(bench(args.quick))
    opened, after, peak = memory(layers()["datacentre"][0])
    print()
    print("| incident on | CIs | items | accounts | impact_of | raw sqlite3 | ratio | longest stall | "
          "raw on a thread: stall | insert_case_impact | raw | ratio | stall | old single CTE |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r['label']} | {r['cis']:,} | {r['items']:,} | {r['accounts']:,} | {r['ours'] * 1000:.1f} ms | "
            f"{r['raw'] * 1000:.1f} ms | {r['ours'] / r['raw']:.2f}× | {r['stall'] * 1000:.1f} ms | "
            f"{r['floor'] * 1000:.1f} ms | "
            f"{r['i_ours'] * 1000:.0f} ms | {r['i_raw'] * 1000:.0f} ms | {r['i_ours'] / r['i_raw']:.2f}× | "
            f"{r['i_stall'] * 1000:.1f} ms | {r['old'] * 1000:.0f} ms |"
        )
    print()
    print(
        f"memory: domain open on the world {opened:.0f} MiB resident; after a datacentre impact_of "
        f"{after:.0f} MiB (peak {peak:.0f} MiB) — impact keeps no index, so it adds {after - opened:.0f} MiB"
    )
    leaf = next(r for r in results if r["label"] == "leaf")
    dc = next(r for r in results if r["label"] == "datacentre")
    worst = max(max(r["stall"], r["i_stall"]) for r in results)
    print(
        f"targets: datacentre ×{dc['ours'] / dc['raw']:.2f} of raw (≤ 1.5) · leaf {leaf['ours'] * 1000:.1f} ms (< 5) · "
        f"(fastest {leaf['ours_min'] * 1000:.1f} ms) · longest stall {worst * 1000:.1f} ms (≤ 50; "
        f"idle loop here {idle * 1000:.1f} ms) · bench took {time.perf_counter() - started:.0f} s"
    )


if __name__ == "__main__":
    main()
