"""Insight: similarity of one new case against 10,000 open cases, and likely-affected accounts
over a large install base — the domain against raw sqlite3, and the event loop.

    .venv/bin/python bench/bench_insight.py                      # 200,000 items (quick)
    .venv/bin/python bench/bench_insight.py --items 1000000      # the issue's size (builds ~2 min)
    .venv/bin/python bench/bench_insight.py --cases 10000 --rounds 5

Builds (and caches in ``bench/out/``) a world with raw ``sqlite3.executemany`` into a database
migrated by ``Domain.open``: ``--items`` install base items with three characteristics each
(version, region, deployment) over ``items / 10`` accounts, and ``--cases`` open reactive cases
opened today (short descriptions from a small vocabulary, 1 in 50 about a VPN outage). A
planted fault: accounts that run version 4.2 in eu-west; 30 of them are the known-affected.

- **similarity**: ``recommend`` and ``similar_cases`` for a new VPN case (the candidate rows
  are loaded, normalized and matched on a worker thread), against raw sqlite3 fetching the same
  rows plus the same rapidfuzz matching in-line; and the longest event-loop stall while the
  domain runs (a task sleeping 1 ms at a time records its longest gap).
- **likelihood**: ``likely_affected`` for the 30 known accounts, against the very statements it
  sent replayed on a raw ``sqlite3`` connection (captured with an engine event), and the stall.

Ratios are domain ÷ raw, median of the rounds, taken in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import sqlite3
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

OUT = Path(__file__).parent / "out"
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
VERSION = 1
REGIONS = ["eu-west", "eu-central", "us-east", "us-west", "ap-south", "ap-east", "sa-east", "af-south"]
TIERS = ["platinum"] + ["gold"] * 4 + ["silver"] * 15 + ["bronze"] * 30 + ["standard"] * 50
SUBJECTS = [
    "invoice", "password", "licence", "printer", "report", "dashboard", "export", "login", "backup", "mailbox",
    "certificate", "storage", "api", "billing", "sso", "upload", "search", "calendar", "vpn", "database",
]  # fmt: skip
PROBLEMS = [
    "is slow", "fails with error 500", "shows the wrong total", "cannot be opened", "times out", "is missing",
    "needs a reset", "keeps asking again", "returns no results", "stopped working after the update",
]  # fmt: skip
KNOWN = 30


class Ticker:
    """The longest gap between 1 ms sleeps on the event loop."""

    def __init__(self) -> None:
        self.longest = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(0.001)
            self.longest = max(self.longest, time.perf_counter() - before - 0.001)

    async def __aenter__(self) -> Ticker:
        self._task = asyncio.create_task(self._run())
        await asyncio.sleep(0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


def build(path: Path, items: int, cases: int) -> None:
    from pcso_tui.domain.core.service import Domain

    started = time.perf_counter()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)

    async def make() -> None:
        domain = await Domain.open(path, upgrade=True)
        await domain.close()

    asyncio.run(make())
    rnd = random.Random(20261123)
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA synchronous = OFF")
    con.execute("BEGIN")
    n_accounts = max(100, items // 10)
    now = NOW.replace(tzinfo=None).isoformat(" ")
    con.executemany(
        "INSERT INTO account (id, number, name, tier, region, industry, is_external, created_at, version) "
        "VALUES (?,?,?,?,?,?,?,?,1)",
        (
            (a, f"ACC{a:07d}", f"Customer {a}", rnd.choice(TIERS), rnd.choice(REGIONS), "", 1, now)
            for a in range(1, n_accounts + 1)
        ),
    )
    con.executemany(
        "INSERT INTO product (id, number, name, family, version) VALUES (?,?,?,'',1)",
        ((p, f"PRD{p:04d}", f"Product {p:03d}") for p in range(1, 51)),
    )
    item_rows, char_rows = [], []
    for i in range(1, items + 1):
        account = 1 + int(n_accounts * rnd.random() ** 1.3)
        item_rows.append((i, f"IB{i:08d}", account, 1 + int(50 * rnd.random() ** 2)))
        char_rows += [
            (i, "version", f"{rnd.randrange(3, 6)}.{rnd.randrange(4)}"),
            (i, "region", rnd.choice(REGIONS)),
            (i, "deployment", rnd.choice(("cloud", "cloud", "on-premises", "hybrid"))),
        ]
    con.executemany(
        "INSERT INTO install_base_item (id, number, name, account_id, product_id, status, version) "
        "VALUES (?,?,'',?,?,'in_use',1)",
        item_rows,
    )
    con.executemany("INSERT INTO characteristic (item_id, name, value) VALUES (?,?,?)", char_rows)
    del item_rows, char_rows
    case_rows = []
    for c in range(1, cases + 1):
        if c % 50 == 0:
            text = rnd.choice(["VPN tunnel drops every few minutes", "vpn tunnel keeps dropping", "VPN drops again"])
        else:
            text = f"{rnd.choice(SUBJECTS)} {rnd.choice(PROBLEMS)} for {rnd.choice(['us', 'our team', 'one user'])}"
        opened = NOW.replace(hour=rnd.randrange(0, 9), tzinfo=None).isoformat(" ")
        case_rows.append((c, text, 1 + rnd.randrange(n_accounts), opened, opened))
    con.executemany(
        "INSERT INTO support_case (id, kind, state, major_case_state, priority, short_description, description, "
        "channel, account_id, opened_at, updated_at, deflected, version) "
        "VALUES (?, 'reactive', 'new', 'none', 3, ?, '', 'phone', ?, ?, ?, 0, 1)",
        case_rows,
    )
    con.execute("INSERT INTO setting (key, value) VALUES ('bench_insight', ?)", (f'"{VERSION}-{items}-{cases}"',))
    con.execute("COMMIT")
    con.execute("ANALYZE")
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    print(f"built {path.name}: {items:,} items, {n_accounts:,} accounts, {cases:,} cases in "
          f"{time.perf_counter() - started:.1f} s")  # fmt: skip


def ensure(items: int, cases: int) -> Path:
    path = OUT / f"insight_{items}_{cases}.db"
    if path.exists():
        with contextlib.suppress(sqlite3.Error):
            con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            row = con.execute("SELECT value FROM setting WHERE key = 'bench_insight'").fetchone()
            con.close()
            if row and row[0] == f'"{VERSION}-{items}-{cases}"':
                return path
    build(path, items, cases)
    return path


def known_accounts(path: Path) -> list[str]:
    con = sqlite3.connect(path)
    rows = con.execute(
        "SELECT DISTINCT a.number FROM account a JOIN install_base_item i ON i.account_id = a.id "
        "JOIN characteristic v ON v.item_id = i.id AND v.name = 'version' AND v.value = '4.2' "
        "JOIN characteristic r ON r.item_id = i.id AND r.name = 'region' AND r.value = 'eu-west' "
        "ORDER BY a.id LIMIT ?",
        (KNOWN,),
    ).fetchall()
    con.close()
    return [r[0] for r in rows]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.1f} ms"


async def timed(action: Callable[[], Awaitable[Any]]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = await action()
    return time.perf_counter() - started, result


async def bench(path: Path, items: int, cases: int, rounds: int) -> None:
    from rapidfuzz import fuzz, process
    from sqlalchemy import event

    from pcso_tui.domain.casework import insight
    from pcso_tui.domain.core.clock import FrozenClock
    from pcso_tui.domain.core.models import Case
    from pcso_tui.domain.core.roles import Actor, Role
    from pcso_tui.domain.core.service import Domain

    known = known_accounts(path)
    domain = await Domain.open(path, clock=FrozenClock(NOW))
    agent = Actor(user_id=None, name="bench", role=Role.AGENT)
    try:
        async with domain.transaction(agent) as tx:
            new = Case(
                kind="reactive",
                state="new",
                short_description="Our VPN tunnel drops every few minutes",
                channel="phone",
                account_id=1,
                opened_at=NOW,
                updated_at=NOW,
            )
            tx.session.add(new)
            await tx.session.flush()
            new_id = new.id

        # --- similarity ----------------------------------------------------------------------
        since = insight.window_start(NOW, domain.settings.insight.window_days).replace(tzinfo=None).isoformat(" ")
        raw = sqlite3.connect(path)

        def raw_similar() -> int:
            rows = raw.execute(
                "SELECT c.id, c.kind, c.state, c.short_description, c.account_id, a.number, c.product_id, c.ci_id, "
                "c.opened_at, c.priority FROM support_case c LEFT JOIN account a ON a.id = c.account_id "
                "WHERE c.id <> ? AND c.kind IN ('reactive','proactive') AND c.state IN ('new','open','awaiting_info') "
                "AND c.parent_id IS NULL AND c.major_case_state IN ('none','rejected') AND c.opened_at >= ? "
                "ORDER BY c.opened_at DESC, c.id DESC LIMIT 20000",
                (new_id, since),
            ).fetchall()
            query = insight.normalize("Our VPN tunnel drops every few minutes")
            texts = [insight.normalize(r[3]) for r in rows]
            hits = process.extract(
                query, texts, scorer=fuzz.token_set_ratio, processor=None, score_cutoff=50, limit=None
            )
            return sum(1 for _, _, i in hits if insight.text_similarity(query, texts[i]) >= 0.5)

        sims, recs, raws, stalls = [], [], [], []
        found = 0
        for _ in range(rounds):
            t, found_cases = await timed(lambda: insight.similar_cases(domain, agent, new_id, limit=200))
            sims.append(t)
            t, rec = await timed(lambda: insight.recommend(domain, agent, new_id))
            recs.append(t)
            started = time.perf_counter()
            raw_similar()
            raws.append(time.perf_counter() - started)
            async with Ticker() as ticker:
                await insight.recommend(domain, agent, new_id)
            stalls.append(ticker.longest)
            found = len(found_cases)
        print(f"\nsimilarity: one new case against {cases:,} open cases (median of {rounds})")
        print(f"  similar_cases            {ms(statistics.median(sims))}   ({found} similar)")
        print(f"  recommend                {ms(statistics.median(recs))}   → {rec.action}: {rec.headline}")
        print(f"  raw sqlite3 + rapidfuzz  {ms(statistics.median(raws))}")
        print(f"  ratio similar_cases ÷ raw  {statistics.median(sims) / statistics.median(raws):.2f}×")
        print(
            f"  longest event-loop stall during recommend: {ms(max(stalls))} (median {ms(statistics.median(stalls))})"
        )

        # --- likelihood ----------------------------------------------------------------------
        captured: list[tuple[str, Any]] = []

        def capture(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
            captured.append((statement, parameters))

        engine = domain.db.read_engine.sync_engine
        likes, replays, lstalls = [], [], []
        view = None
        for r in range(rounds):
            if r == 0:
                event.listen(engine, "before_cursor_execute", capture)
            t, view = await timed(lambda: insight.likely_affected(domain, agent, account_numbers=known, limit=50))
            if r == 0:
                event.remove(engine, "before_cursor_execute", capture)
            likes.append(t)
            con = sqlite3.connect(path)
            started = time.perf_counter()
            for statement, parameters in captured:
                con.execute(statement, parameters).fetchall()
            replays.append(time.perf_counter() - started)
            con.close()
            async with Ticker() as ticker:
                await insight.likely_affected(domain, agent, account_numbers=known, limit=50)
            lstalls.append(ticker.longest)
        assert view is not None
        print(f"\nlikelihood: {len(known)} known-affected accounts, {items:,} items, {view.population:,} accounts")
        for f in view.factors:
            print(f"  factor {f.label:24} {f.affected_with}/{f.affected} vs {f.base_with:,}/{f.base:,}  ×{f.lift:g}")
        top = view.accounts[0] if view.accounts else None
        print(f"  {view.total:,} other accounts share a factor; first: {top.number if top else '—'} "
              f"({top.factors if top else ''})")  # fmt: skip
        print(f"  likely_affected          {ms(statistics.median(likes))}   ({len(captured)} statements)")
        print(f"  raw sqlite3 (same SQL)   {ms(statistics.median(replays))}")
        print(f"  ratio                    {statistics.median(likes) / statistics.median(replays):.2f}×")
        print(f"  longest event-loop stall: {ms(max(lstalls))} (median {ms(statistics.median(lstalls))})")
    finally:
        await domain.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=200_000, help="install base items (1000000 for the issue's size)")
    parser.add_argument("--cases", type=int, default=10_000, help="open cases to compare a new case with")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    path = ensure(args.items, args.cases)
    asyncio.run(bench(path, args.items, args.cases, args.rounds))


if __name__ == "__main__":
    main()
