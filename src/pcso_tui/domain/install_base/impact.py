"""Impact: which CIs, install base items, accounts and contacts an outage touches.

From the broken CIs, walk the service map downstream (every CI that depends on them,
transitively), then to the install base items on those CIs and every item below those in their
component hierarchy (``parent_id``), then to accounts, their contacts and characteristics.

How it is computed, and why (measured on the 1,000,000-item world of ``bench/bench_impact.py``)
------------------------------------------------------------------------------------------------

A handful of set-based statements, all in SQL, over temporary tables that live only in the
caller's transaction:

1. ``impact_ci(ci_id, distance)``: a breadth-first walk, one ``INSERT … SELECT`` per level, so
   every CI gets its exact distance and a cycle in the map cannot loop.
2. ``impact_closure(item_id, account_id)``: the items hit only through a parent (components
   with no CI of their own, or on an unaffected CI). Small outages probe the items on the
   affected CIs for children; large ones scan the components once through the partial covering
   index ``ix_install_base_item_component`` and walk each up to its first affected ancestor
   (a datacentre puts ~520,000 items on its CIs, the world has 200,000 components: the scan
   costs a third of the probes). Two bounded counts pick the side. The items on the affected
   CIs themselves are never copied: later statements stream them from the covering index
   ``ix_install_base_item_ci_account``.
3. ``impact_account``: one ``GROUP BY`` over the affected items, with tier rank and number;
   totals and the page (``ORDER BY … LIMIT``) read it. ``impact_page`` holds the page's items
   (from whichever side is smaller) for their products, characteristics and health.
4. Health walks up from the page's CIs: one statement per CI for a small page; for a large one
   the upstream CIs are collected once and the worst severity is pushed down level by level.

Only totals and one page of accounts come back, so no 100,000-row result is ever processed in
Python (docs/performance.md measured a 140 ms event-loop freeze for that). The statements are
written once, as generators of statements (``Steps``); on SQLite the whole sequence runs as
one job on aiosqlite's own thread, inside the session's transaction, so the event loop only
waits on a future — SQLAlchemy's per-statement work on the loop (≈0.5 ms a statement here,
against ≈0.1 ms for an aiosqlite round trip) would alone have spent the leaf's 5 ms on the
twenty statements. (That uses aiosqlite's ``_execute``; if it ever goes away, the same steps
run one statement at a time through its public API.) PostgreSQL runs the same SQL through the
session, with JIT off: without statistics on the temporary tables it JIT-compiled tiny walks.

The other road, an in-memory index of the service map and install base kept current by events,
was weighed with docs/performance.md's measurements: 3–30× faster for the walk itself, but 0.6–0.9 s
to load and ~50 MiB of the operator workspace's 200 MiB budget, a reload whenever another
process imports install base data, and neither a one-shot CLI call nor a write transaction
(``insert_case_impact``) could use it — while the accounts' tiers, characteristics, contacts
and health still come from SQL. The SQL road keeps the loop free and costs the workspace
nothing resident between calls; ``bench/bench_impact.py`` prints the numbers (see
``bench/README.md``).

Semantics
---------
- Health is the worst *active* alert (state open or flapping, severity above ``clear``,
  acknowledged or in maintenance alike) on an item's CI, on the CIs of its ancestors (a
  component runs where its parent runs), or on anything upstream of those: an item's health
  is exactly the worst alert whose own impact contains the item.
- Accounts are ordered by business weight: tier (``TIER_ORDER``; unknown tiers last), then the
  number of affected items (most first), then account number — a total order, so pages are
  stable and together cover every affected account once.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from collections.abc import Awaitable, Callable, Generator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import CTE, Select, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from pcso_tui.domain.core.errors import InvalidInput, NotFound, PermissionDenied
from pcso_tui.domain.core.events import Transaction
from pcso_tui.domain.core.models import CIDependency, ConfigurationItem, InstallBaseItem
from pcso_tui.domain.core.roles import Actor, Permission, Role, require, require_account
from pcso_tui.domain.core.service import Domain
from pcso_tui.domain.core.states import AlertState, Severity
from pcso_tui.domain.core.views import incident_number
from pcso_tui.domain.install_base.views import ImpactAccountView, ImpactCIView, ImpactView, ItemHealthView

T = TypeVar("T")

# Business weight of an account, most important first; other tiers sort after these. Both
# common vocabularies (metals; enterprise / business / standard) rank, interleaved.
TIER_ORDER = ("platinum", "enterprise", "gold", "business", "silver", "bronze", "standard")
ACTIVE_ALERT_STATES = (AlertState.OPEN.value, AlertState.FLAPPING.value)
MAX_PAGE_SIZE = 1000
MAX_SEEDS = 10_000
MAX_SEARCH = 200
# How many of the nearest affected CIs an ImpactView lists.
CI_LIST_LIMIT = 100
# Closure side: probe the items on the affected CIs for children while they are few (fewer
# than PROBE_ALWAYS, or fewer than half the components); otherwise scan the components.
PROBE_ALWAYS = 5_000
COUNT_CAP = 200_000
# Component hierarchies are followed this deep when scanning up from the components (a guard
# against a cycle of parent links; real hierarchies are a few levels deep).
MAX_COMPONENT_DEPTH = 1000
# Up to this many affected items, a page's items are picked from the affected side (the
# covering index by CI); beyond it, from the page's accounts.
PAGE_FROM_AFFECTED = 100_000
# Up to this many items on a page, health walks up from each of their CIs in one statement;
# beyond it, the worst severity is propagated down the upstream CIs once, level by level.
HEALTH_PER_CI = 2_000
# Seeds per statement (bound parameters).
_CHUNK = 500

_TIER_RANK = (
    "CASE lower(a.tier) "
    + " ".join(f"WHEN '{tier}' THEN {rank}" for rank, tier in enumerate(TIER_ORDER))
    + f" ELSE {len(TIER_ORDER)} END"
)
_SEVERITY_RANK = (
    "CASE lower(al.severity) "
    + " ".join(f"WHEN '{s.value}' THEN {s.rank}" for s in Severity if s.rank > 0)
    + " ELSE 0 END"
)
_SEVERITY_BY_RANK = {s.rank: s.value for s in Severity if s.rank > 0}
_ACTIVE = "al.state IN (" + ", ".join(f"'{s}'" for s in ACTIVE_ALERT_STATES) + ")"
# Characteristics shown first in an account's summary; any others follow by name.
_CHARACTERISTIC_ORDER = ("version", "region", "deployment", "usage")


# --- query builders (SQLAlchemy Core), for callers that compose impact into their own queries --


def dependent_cis(ci_ids: Sequence[int]) -> CTE:
    """A recursive CTE of ``ci_id``: the given CIs and everything that depends on them."""
    seed = select(ConfigurationItem.id.label("ci_id")).where(ConfigurationItem.id.in_(ci_ids))
    affected = seed.cte("affected_ci", recursive=True)
    return affected.union(select(CIDependency.ci_id).join(affected, CIDependency.depends_on_id == affected.c.ci_id))


def affected_items(ci_ids: Sequence[int]) -> Select[tuple[int, int]]:
    """(item id, account id) of every install base item on an affected CI, and its components."""
    affected = dependent_cis(ci_ids)
    on_ci = select(InstallBaseItem.id.label("item_id"), InstallBaseItem.account_id).where(
        InstallBaseItem.ci_id.in_(select(affected.c.ci_id))
    )
    items = on_ci.cte("affected_item", recursive=True)
    items = items.union(
        select(InstallBaseItem.id, InstallBaseItem.account_id).join(items, InstallBaseItem.parent_id == items.c.item_id)
    )
    return select(items.c.item_id, items.c.account_id)


# --- running the statements -------------------------------------------------------------------


# The temporary tables, all empty outside the transaction that fills them.
_TEMP_TABLES = {
    "impact_ci": "ci_id INTEGER PRIMARY KEY, distance INTEGER NOT NULL",
    "impact_closure": "item_id INTEGER PRIMARY KEY, account_id INTEGER NOT NULL",
    "impact_account": "account_id INTEGER PRIMARY KEY, items INTEGER NOT NULL, tier_rank INTEGER NOT NULL, "
    "number VARCHAR(40) NOT NULL, external INTEGER NOT NULL",
    "impact_page": "item_id INTEGER PRIMARY KEY, account_id INTEGER NOT NULL, product_id INTEGER NOT NULL, "
    "ci_id INTEGER, parent_id INTEGER",
    "impact_health": "ci_id INTEGER PRIMARY KEY, sev INTEGER NOT NULL",
}

# The statements are written once, as generators that yield ("rows" | "run", sql, params) and
# receive the rows or the row count; a driver runs them on a connection.
Request = tuple[str, str, dict[str, Any]]
Steps = Generator[Request, Any, T]


class _Sql:
    """Builds the statements for one dialect (text SQL with ``:name`` parameters)."""

    def __init__(self, dialect: str) -> None:
        self.dialect = dialect
        # SQLite keeps the written join order with CROSS JOIN; PostgreSQL plans its own.
        self.join = "CROSS JOIN" if dialect == "sqlite" else "JOIN"

    def rows(self, sql: str, params: dict[str, Any] | None = None) -> Steps[list[tuple[Any, ...]]]:
        rows: list[tuple[Any, ...]] = yield ("rows", sql, params or {})
        return rows

    def run(self, sql: str, params: dict[str, Any] | None = None) -> Steps[int]:
        """A statement that returns no rows; the number of rows it changed."""
        changed: int = yield ("run", sql, params or {})
        return changed

    def scalar(self, sql: str, params: dict[str, Any] | None = None) -> Steps[Any]:
        rows = yield from self.rows(sql, params)
        return rows[0][0] if rows else None

    def create_temp(self, name: str) -> Steps[None]:
        if self.dialect == "postgresql":
            yield from self.run(f"CREATE TEMPORARY TABLE {name} ({_TEMP_TABLES[name]}) ON COMMIT DROP")
        else:
            # IF NOT EXISTS: a read connection keeps its (empty) tables between calls, see _read.
            yield from self.run(f"CREATE TEMPORARY TABLE IF NOT EXISTS {name} ({_TEMP_TABLES[name]})")


# Run SQLite's steps all at once on aiosqlite's own thread (one round trip; the event loop only
# waits). Off, each statement is its own round trip through aiosqlite's public API.
ONE_ROUND_TRIP = True


async def _run_steps(session: AsyncSession, dialect: str, steps: Steps[T]) -> T:
    """Run the steps on the session's connection, inside its transaction."""
    try:
        if dialect == "sqlite":
            connection = await session.connection()
            raw: Any = (await connection.get_raw_connection()).driver_connection  # aiosqlite's connection
            on_thread = getattr(raw, "_execute", None)
            con = getattr(raw, "_connection", None)
            if ONE_ROUND_TRIP and callable(on_thread) and isinstance(con, sqlite3.Connection):
                return await on_thread(_steps_on_sqlite, con, steps)  # type: ignore[no-any-return]  # aiosqlite's internals are untyped

            async def on_aiosqlite(kind: str, sql: str, params: dict[str, Any]) -> Any:
                if kind == "rows":
                    return list(await raw.execute_fetchall(sql, params))
                cursor = await raw.execute(sql, params)
                try:
                    return cursor.rowcount
                finally:
                    await cursor.close()

            return await _steps_each(on_aiosqlite, steps)
        if dialect == "postgresql":
            # The temporary tables have no statistics, so PostgreSQL guesses millions of rows and
            # JIT-compiles even a tiny walk (~0.8 s measured); impact's statements never gain from it.
            await session.execute(text("SET LOCAL jit = off"))

        async def on_session(kind: str, sql: str, params: dict[str, Any]) -> Any:
            result = await session.execute(text(sql), params)
            # A statement's result is a CursorResult, which has rowcount (the stubs say Result).
            return [tuple(row) for row in result.all()] if kind == "rows" else result.rowcount  # type: ignore[attr-defined]

        return await _steps_each(on_session, steps)
    finally:
        steps.close()


async def _read(domain: Domain, steps: Steps[T]) -> T:
    """Run the steps in a read transaction of their own.

    On SQLite the transaction itself is begun and ended inside the one job on aiosqlite's thread:
    a session would spend three more round trips on BEGIN and ROLLBACK, a third of a leaf's time.
    Everything written goes into temporary tables and is rolled back.
    """
    db = domain.db
    if db.is_sqlite and ONE_ROUND_TRIP:
        async with db.read_engine.connect() as connection:
            raw = (await connection.get_raw_connection()).driver_connection
            on_thread = getattr(raw, "_execute", None)
            con = getattr(raw, "_connection", None)
            if callable(on_thread) and isinstance(con, sqlite3.Connection):
                return await on_thread(_steps_in_read_transaction, con, steps)  # type: ignore[no-any-return]  # aiosqlite's internals are untyped
    async with domain.reading() as session:
        return await _run_steps(session, db.dialect, steps)


def _steps_in_read_transaction(con: sqlite3.Connection, steps: Steps[T]) -> T:
    # The temporary tables are made once per connection, outside any transaction, and stay
    # (empty: what a call writes into them is rolled back). Creating them on every call would
    # change the schema each time and make SQLite prepare every statement again.
    for name, columns in _TEMP_TABLES.items():
        con.execute(f"CREATE TEMPORARY TABLE IF NOT EXISTS {name} ({columns})")
    con.execute("BEGIN")
    try:
        return _steps_on_sqlite(con, steps)
    finally:
        steps.close()
        if con.in_transaction:  # (an error may have ended it already)
            con.execute("ROLLBACK")


def _steps_on_sqlite(con: sqlite3.Connection, steps: Steps[T]) -> T:
    result: Any = None
    try:
        while True:
            kind, sql, params = steps.send(result)
            cursor = con.execute(sql, params)
            try:
                result = cursor.fetchall() if kind == "rows" else cursor.rowcount
            finally:
                cursor.close()
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]  # the steps' return value: a T


async def _steps_each(execute: Callable[[str, str, dict[str, Any]], Awaitable[Any]], steps: Steps[T]) -> T:
    result: Any = None
    try:
        while True:
            kind, sql, params = steps.send(result)
            result = await execute(kind, sql, params)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]  # the steps' return value: a T


def _placeholders(prefix: str, values: Sequence[Any]) -> tuple[str, dict[str, Any]]:
    params = {f"{prefix}{i}": v for i, v in enumerate(values)}
    return ", ".join(f":{k}" for k in params), params


def _chunks(values: Sequence[Any], size: int = _CHUNK) -> list[Sequence[Any]]:
    return [values[i : i + size] for i in range(0, len(values), size)]


@dataclass
class _Walk:
    """How many affected CIs sit at each distance from the broken ones."""

    levels: list[int]

    @property
    def ci_count(self) -> int:
        return sum(self.levels)


def _walk(sql: _Sql, seeds: Sequence[int]) -> Steps[_Walk]:
    """Fill ``impact_ci`` (the service-map walk) and ``impact_closure`` (items hit via a parent)."""
    j = sql.join
    yield from sql.create_temp("impact_ci")
    yield from sql.create_temp("impact_closure")
    found = 0
    for chunk in _chunks(seeds):
        marks, params = _placeholders("s", chunk)
        found += yield from sql.run(
            f"INSERT INTO impact_ci (ci_id, distance) SELECT id, 0 FROM ci WHERE id IN ({marks})", params
        )
    levels = [found]
    while levels[-1]:
        level = len(levels) - 1
        added = yield from sql.run(
            "INSERT INTO impact_ci (ci_id, distance) "
            f"SELECT DISTINCT d.ci_id, CAST(:next AS INTEGER) FROM impact_ci p {j} ci_dependency d "
            "ON d.depends_on_id = p.ci_id "
            "WHERE p.distance = :level AND NOT EXISTS (SELECT 1 FROM impact_ci x WHERE x.ci_id = d.ci_id)",
            {"level": level, "next": level + 1},
        )
        levels.append(added)
    levels.pop()
    if levels:
        probe = yield from _probe_side(sql)
        yield from sql.run(_closure_sql(sql, probe=probe))
    return _Walk(levels)


def _probe_side(sql: _Sql) -> Steps[bool]:
    """Whether to find components by probing the affected items (True) or scanning components."""
    j = sql.join
    on_cis: int = yield from sql.scalar(
        f"SELECT count(*) FROM (SELECT 1 FROM impact_ci s {j} install_base_item i ON i.ci_id = s.ci_id LIMIT :cap) t",
        {"cap": COUNT_CAP},
    )
    if on_cis < PROBE_ALWAYS:
        return True
    components: int = yield from sql.scalar(
        "SELECT count(*) FROM (SELECT 1 FROM install_base_item WHERE parent_id IS NOT NULL LIMIT :cap) t",
        {"cap": COUNT_CAP},
    )
    return 2 * on_cis < components


def _closure_sql(sql: _Sql, *, probe: bool) -> str:
    """Items hit only through a parent: below an item on an affected CI, not on one themselves."""
    j = sql.join
    not_affected = "IS NULL OR {0} NOT IN (SELECT ci_id FROM impact_ci)"
    if probe:
        # Down from the items on the affected CIs, child by child.
        return (
            "INSERT INTO impact_closure (item_id, account_id) "
            "WITH RECURSIVE cl (item_id, account_id, ci_id) AS ("
            f"SELECT c.id, c.account_id, c.ci_id FROM impact_ci s {j} install_base_item p ON p.ci_id = s.ci_id "
            f"{j} install_base_item c ON c.parent_id = p.id "
            f"UNION SELECT c.id, c.account_id, c.ci_id FROM cl {j} install_base_item c ON c.parent_id = cl.item_id) "
            f"SELECT cl.item_id, cl.account_id FROM cl WHERE cl.ci_id {not_affected.format('cl.ci_id')} "
            "ORDER BY cl.item_id"
        )
    # Up from every component not on an affected CI, ancestor by ancestor, until the first
    # affected one (kept) or the root (dropped). Each component yields at most one row.
    return (
        "INSERT INTO impact_closure (item_id, account_id) "
        "WITH RECURSIVE up (item_id, account_id, anc_ci, anc_parent, depth) AS ("
        f"SELECT c.id, c.account_id, p.ci_id, p.parent_id, 1 FROM install_base_item c {j} install_base_item p "
        f"ON p.id = c.parent_id WHERE c.parent_id IS NOT NULL AND (c.ci_id {not_affected.format('c.ci_id')}) "
        "UNION ALL SELECT up.item_id, up.account_id, g.ci_id, g.parent_id, up.depth + 1 "
        f"FROM up {j} install_base_item g ON g.id = up.anc_parent "
        f"WHERE (up.anc_ci {not_affected.format('up.anc_ci')}) AND up.depth < {MAX_COMPONENT_DEPTH}) "
        "SELECT up.item_id, up.account_id FROM up WHERE up.anc_ci IN (SELECT ci_id FROM impact_ci) "
        "ORDER BY up.item_id"
    )


def _affected_union(sql: _Sql, *, item: bool = False) -> str:
    """Every affected item once: those on the affected CIs, then those hit through a parent."""
    column = "item_id" if item else "account_id"
    source = "i.id" if item else "i.account_id"
    return (
        f"SELECT {source} AS {column} FROM impact_ci s {sql.join} install_base_item i ON i.ci_id = s.ci_id "
        f"UNION ALL SELECT {column} FROM impact_closure"
    )


def _drop_temp(sql: _Sql) -> Steps[None]:
    for name in ("impact_closure", "impact_ci"):
        yield from sql.run(f"DROP TABLE {name}")


# --- permissions and input --------------------------------------------------------------------


def _require_staff(actor: Actor) -> None:
    if not (actor.can(Permission.VIEW_OPERATIONS) or actor.can(Permission.VIEW_CASES)):
        raise PermissionDenied(f"{actor.name} ({actor.role}) may not {Permission.VIEW_OPERATIONS.value}")


def _check_page(page_size: int, offset: int, search: str | None) -> None:
    if not isinstance(page_size, int) or isinstance(page_size, bool) or not 1 <= page_size <= MAX_PAGE_SIZE:
        raise InvalidInput(f"page size must be between 1 and {MAX_PAGE_SIZE}, not {page_size!r}")
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
        raise InvalidInput(f"offset must be 0 or more, not {offset!r}")
    if search is not None and len(search) > MAX_SEARCH:
        raise InvalidInput(f"search text is {len(search)} characters long; at most {MAX_SEARCH}")


def _resolve_seeds(
    sql: _Sql,
    ci_ids: Sequence[int] | None,
    ci_names: Sequence[str] | None,
    incident_id: int | None,
) -> Steps[list[int]]:
    if incident_id is not None:
        if not isinstance(incident_id, int) or isinstance(incident_id, bool):
            raise InvalidInput(f"not an incident id: {incident_id!r}")
        rows = yield from sql.rows(
            "SELECT n.root_ci_id, ic.ci_id FROM incident n LEFT JOIN incident_ci ic ON ic.incident_id = n.id "
            "WHERE n.id = :id",
            {"id": incident_id},
        )
        if not rows:
            raise NotFound(f"no incident {incident_number(incident_id)}")
        seeds = sorted({ci for _, ci in rows if ci is not None})
        # An incident with no CIs of its own yet is judged by its probable root cause.
        return seeds or ([rows[0][0]] if rows[0][0] is not None else [])
    if ci_ids is not None:
        if any(not isinstance(c, int) or isinstance(c, bool) for c in ci_ids):
            raise InvalidInput("CI ids must be integers")
        wanted = sorted(set(ci_ids))
        if not wanted:
            raise InvalidInput("name at least one CI")
        if len(wanted) > MAX_SEEDS:
            raise InvalidInput(f"{len(wanted)} CIs at once; at most {MAX_SEEDS}")
        found: set[int] = set()
        for chunk in _chunks(wanted):
            marks, params = _placeholders("c", chunk)
            rows = yield from sql.rows(f"SELECT id FROM ci WHERE id IN ({marks})", params)
            found.update(r[0] for r in rows)
        missing = [c for c in wanted if c not in found]
        if missing:
            raise NotFound(
                f"no CI with id {missing[0]}" if len(missing) == 1 else f"{len(missing)} CI ids are unknown",
                details=[f"no CI with id {c}" for c in missing[:20]] if len(missing) > 1 else None,
            )
        return wanted
    assert ci_names is not None
    if isinstance(ci_names, str) or any(not isinstance(n, str) for n in ci_names):
        raise InvalidInput("CI names must be a list of strings")
    names = sorted(set(ci_names))
    if not names:
        raise InvalidInput("name at least one CI")
    if len(names) > MAX_SEEDS:
        raise InvalidInput(f"{len(names)} CIs at once; at most {MAX_SEEDS}")
    by_name: dict[str, int] = {}
    for chunk in _chunks(names):
        marks, params = _placeholders("n", chunk)
        rows = yield from sql.rows(f"SELECT id, name FROM ci WHERE name IN ({marks})", params)
        by_name.update((r[1], r[0]) for r in rows)
    missing_names = [n for n in names if n not in by_name]
    if missing_names:
        raise NotFound(
            f"no CI named {missing_names[0]!r}"
            if len(missing_names) == 1
            else f"{len(missing_names)} CI names are unknown",
            details=[f"no CI named {n!r}" for n in missing_names[:20]] if len(missing_names) > 1 else None,
        )
    return sorted(set(by_name.values()))


# --- the public commands and queries ----------------------------------------------------------


async def insert_case_impact(tx: Transaction, case_id: int, ci_ids: Sequence[int]) -> tuple[int, int]:
    """Record a case's affected items and accounts with INSERT … SELECT; returns (accounts, items).

    Runs in the caller's transaction. Ids that are not CIs are ignored. Items and accounts the
    case already lists are kept (an account's ``source`` too); the counts are the case's totals.
    """
    seeds = sorted({int(c) for c in ci_ids})
    if not seeds:
        return (0, 0)
    await tx.session.flush()  # the case row must exist before rows referring to it
    return await _run_steps(tx.session, tx.dialect, _case_impact_steps(_Sql(tx.dialect), case_id, seeds))


def _case_impact_steps(sql: _Sql, case_id: int, seeds: list[int]) -> Steps[tuple[int, int]]:
    yield from _walk(sql, seeds)
    params = {"case_id": case_id}
    before_items, before_accounts = (
        yield from sql.rows(
            "SELECT (SELECT count(*) FROM case_item WHERE case_id = :case_id), "
            "(SELECT count(*) FROM case_account WHERE case_id = :case_id)",
            params,
        )
    )[0]
    keep = " ON CONFLICT DO NOTHING" if before_items or before_accounts else ""
    # In item order, the primary key index and the foreign key checks walk their b-trees in
    # order: six times faster than arrival order for a datacentre's 600,000 items.
    items = yield from sql.run(
        "INSERT INTO case_item (case_id, item_id) SELECT CAST(:case_id AS INTEGER), u.item_id "
        f"FROM ({_affected_union(sql, item=True)}) u WHERE 1 = 1 ORDER BY u.item_id{keep}",
        params,
    )
    accounts = yield from sql.run(
        "INSERT INTO case_account (case_id, account_id, source) "
        "SELECT CAST(:case_id AS INTEGER), u.account_id, 'impact' "
        f"FROM ({_affected_union(sql)}) u WHERE 1 = 1 GROUP BY u.account_id{keep}",
        params,
    )
    yield from _drop_temp(sql)
    return (before_accounts + accounts, before_items + items)


async def impact_of(
    domain: Domain,
    actor: Actor,
    *,
    ci_ids: Sequence[int] | None = None,
    ci_names: Sequence[str] | None = None,
    incident_id: int | None = None,
    page_size: int = 200,
    offset: int = 0,
    search: str | None = None,
) -> ImpactView:
    """What an outage of some CIs (by id or name) or of an incident's CIs touches.

    Totals, the nearest ``CI_LIST_LIMIT`` affected CIs, and one page of affected accounts in
    business-weight order; ``search`` narrows the page to accounts whose number or name
    contains it (case-insensitive for ASCII). Staff only.
    """
    _require_staff(actor)
    if sum(x is not None for x in (ci_ids, ci_names, incident_id)) != 1:
        raise InvalidInput("say what broke: CI ids, CI names or an incident — exactly one of them")
    _check_page(page_size, offset, search)
    dialect = domain.db.dialect
    steps = _impact_steps(_Sql(dialect), ci_ids, ci_names, incident_id, page_size, offset, search or None)
    return await _read(domain, steps)


def _impact_steps(
    sql: _Sql,
    ci_ids: Sequence[int] | None,
    ci_names: Sequence[str] | None,
    incident_id: int | None,
    page_size: int,
    offset: int,
    search: str | None,
) -> Steps[ImpactView]:
    seeds = yield from _resolve_seeds(sql, ci_ids, ci_names, incident_id)
    if not seeds:
        return ImpactView(
            ci_ids=(),
            incident_id=incident_id,
            ci_count=0,
            item_count=0,
            account_count=0,
            external_account_count=0,
            contact_count=0,
            cis=(),
            accounts=(),
            matched_accounts=0,
            offset=offset,
            page_size=page_size,
            search=search,
        )
    walk = yield from _walk(sql, seeds)
    yield from _group_accounts(sql)
    accounts, items, external, contacts = (
        yield from sql.rows(
            "SELECT count(*), coalesce(sum(items), 0), coalesce(sum(external), 0), "
            f"(SELECT count(*) FROM impact_account x {sql.join} contact c ON c.account_id = x.account_id) "
            "FROM impact_account"
        )
    )[0]
    page, matched = yield from _page(sql, page_size, offset, search)
    page_views = yield from _account_views(sql, page, int(items))
    cis = yield from _ci_list(sql, walk)
    return ImpactView(
        ci_ids=tuple(seeds),
        incident_id=incident_id,
        ci_count=walk.ci_count,
        item_count=int(items),
        account_count=int(accounts),
        external_account_count=int(external),
        contact_count=int(contacts),
        cis=cis,
        accounts=page_views,
        matched_accounts=int(accounts if search is None else matched),
        offset=offset,
        page_size=page_size,
        search=search,
    )


def _group_accounts(sql: _Sql) -> Steps[None]:
    yield from sql.create_temp("impact_account")
    yield from sql.run(
        "INSERT INTO impact_account (account_id, items, tier_rank, number, external) "
        f"SELECT g.account_id, g.n, {_TIER_RANK}, a.number, CASE WHEN a.is_external THEN 1 ELSE 0 END "
        f"FROM (SELECT u.account_id, count(*) AS n FROM ({_affected_union(sql)}) u GROUP BY u.account_id) g "
        f"{sql.join} account a ON a.id = g.account_id"
    )


def _like_pattern(search: str) -> str:
    escaped = search.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _page(sql: _Sql, page_size: int, offset: int, search: str | None) -> Steps[tuple[list[tuple[Any, ...]], int]]:
    j = sql.join
    params: dict[str, Any] = {"limit": page_size, "offset": offset}
    where = ""
    matched = 0
    if search is not None:
        where = (
            f"{j} account fa ON fa.id = x.account_id "
            "WHERE lower(fa.number) LIKE :pattern ESCAPE '\\' OR lower(fa.name) LIKE :pattern ESCAPE '\\'"
        )
        params["pattern"] = _like_pattern(search)
        matched = yield from sql.scalar(
            f"SELECT count(*) FROM impact_account x {where}", {"pattern": params["pattern"]}
        )
    rows = yield from sql.rows(
        "SELECT ia.account_id, ia.items, a.number, a.name, a.tier, a.region, a.is_external, "
        "pc.name, pc.preferred_channel "
        f"FROM (SELECT x.account_id, x.items, x.tier_rank, x.number FROM impact_account x {where} "
        "ORDER BY x.tier_rank, x.items DESC, x.number LIMIT :limit OFFSET :offset) ia "
        f"{j} account a ON a.id = ia.account_id "
        "LEFT JOIN contact pc ON pc.id = (SELECT c.id FROM contact c WHERE c.account_id = ia.account_id "
        "ORDER BY c.is_primary DESC, c.opted_out, c.id LIMIT 1) "
        "ORDER BY ia.tier_rank, ia.items DESC, ia.number",
        params,
    )
    return rows, int(matched or 0)


def _fill_page(sql: _Sql, page: list[tuple[Any, ...]], item_count: int) -> Steps[None]:
    """``impact_page``: the affected items of the page's accounts."""
    j = sql.join
    marks, params = _placeholders("a", [row[0] for row in page])
    yield from sql.create_temp("impact_page")
    columns = "i.id, i.account_id, i.product_id, i.ci_id, i.parent_id"
    insert = "INSERT INTO impact_page (item_id, account_id, product_id, ci_id, parent_id) "
    if item_count <= PAGE_FROM_AFFECTED:
        # ``+`` keeps SQLite scanning each CI's index range rather than seeking every account in it.
        yield from sql.run(
            f"{insert}SELECT {columns} FROM impact_ci s {j} install_base_item i ON i.ci_id = s.ci_id "
            f"WHERE +i.account_id IN ({marks}) "
            f"UNION ALL SELECT {columns} FROM impact_closure x {j} install_base_item i ON i.id = x.item_id "
            f"WHERE x.account_id IN ({marks})",
            params,
        )
    else:
        # ``+`` keeps SQLite on the account index rather than seeking every CI for every account.
        yield from sql.run(
            f"{insert}SELECT {columns} FROM install_base_item i WHERE i.account_id IN ({marks}) "
            "AND (+i.ci_id IN (SELECT ci_id FROM impact_ci) OR +i.id IN (SELECT item_id FROM impact_closure))",
            params,
        )


# The page's accounts with the CIs their affected items run on, their own or an ancestor's.
_PAGE_CIS = (
    "anc (account_id, ci_id, parent_id) AS (SELECT account_id, ci_id, parent_id FROM impact_page "
    "UNION SELECT anc.account_id, p.ci_id, p.parent_id FROM anc {j} install_base_item p ON p.id = anc.parent_id)"
)


def _page_health(sql: _Sql, page_items: int) -> Steps[dict[int, int]]:
    """account id → worst active alert rank over the CIs its page items depend on."""
    j = sql.join
    anc = _PAGE_CIS.format(j=j)
    if page_items <= HEALTH_PER_CI:
        per_ci = yield from sql.rows(
            f"WITH RECURSIVE {anc}, "
            "up (origin, ci_id) AS (SELECT DISTINCT ci_id, ci_id FROM anc WHERE ci_id IS NOT NULL "
            f"UNION SELECT up.origin, d.depends_on_id FROM up {j} ci_dependency d ON d.ci_id = up.ci_id), "
            f"worst (origin, sev) AS (SELECT up.origin, max({_SEVERITY_RANK}) FROM up {j} alert al "
            f"ON al.ci_id = up.ci_id WHERE {_ACTIVE} GROUP BY up.origin) "
            f"SELECT anc.account_id, max(w.sev) FROM anc {j} worst w ON w.origin = anc.ci_id "
            "GROUP BY anc.account_id"
        )
        return dict(per_ci)
    # Many CIs: every CI upstream of the page once, with the worst alert on itself, then the
    # worst of its dependencies pushed down until nothing changes (a pass per level at most).
    yield from sql.create_temp("impact_health")
    yield from sql.run(
        "INSERT INTO impact_health (ci_id, sev) "
        f"WITH RECURSIVE {anc}, "
        "u (ci_id) AS (SELECT ci_id FROM anc WHERE ci_id IS NOT NULL "
        f"UNION SELECT d.depends_on_id FROM u {j} ci_dependency d ON d.ci_id = u.ci_id) "
        f"SELECT u.ci_id, coalesce((SELECT max({_SEVERITY_RANK}) FROM alert al "
        f"WHERE al.ci_id = u.ci_id AND {_ACTIVE}), 0) FROM u"
    )
    upstream = (
        f"(SELECT max(h.sev) FROM ci_dependency d {j} impact_health h ON h.ci_id = d.depends_on_id "
        "WHERE d.ci_id = impact_health.ci_id)"
    )
    for _ in range(MAX_COMPONENT_DEPTH):
        changed = yield from sql.run(f"UPDATE impact_health SET sev = {upstream} WHERE sev < {upstream}")
        if not changed:
            break
    propagated = yield from sql.rows(
        f"WITH RECURSIVE {anc} SELECT anc.account_id, max(h.sev) FROM anc {j} impact_health h "
        "ON h.ci_id = anc.ci_id GROUP BY anc.account_id"
    )
    return dict(propagated)


def _account_views(sql: _Sql, page: list[tuple[Any, ...]], item_count: int) -> Steps[tuple[ImpactAccountView, ...]]:
    if not page:
        return ()
    j = sql.join
    yield from _fill_page(sql, page, item_count)
    products: dict[int, list[tuple[str, int]]] = defaultdict(list)
    traits: dict[int, dict[str, list[tuple[str, int]]]] = defaultdict(lambda: defaultdict(list))
    summary = yield from sql.rows(
        f"SELECT p.account_id, '', pr.name, count(*) FROM impact_page p {j} product pr ON pr.id = p.product_id "
        "GROUP BY p.account_id, pr.name "
        f"UNION ALL SELECT p.account_id, ch.name, ch.value, count(*) FROM impact_page p {j} characteristic ch "
        "ON ch.item_id = p.item_id GROUP BY p.account_id, ch.name, ch.value"
    )
    for account_id, trait, value, n in summary:
        if trait == "":
            products[account_id].append((value, n))
        else:
            traits[account_id][trait].append((value, n))
    health = yield from _page_health(sql, sum(row[1] for row in page))
    return tuple(
        ImpactAccountView(
            account_id=account_id,
            number=number,
            name=name,
            tier=tier,
            region=region,
            is_external=bool(external),
            contact_name=contact,
            contact_channel=channel,
            items=int(items),
            products=_summary(products.get(account_id, []), shown=3),
            characteristics=_traits(traits.get(account_id, {})),
            health=_SEVERITY_BY_RANK.get(health.get(account_id) or 0, "ok"),
        )
        for account_id, items, number, name, tier, region, external, contact, channel in page
    )


def _summary(values: list[tuple[str, int]], *, shown: int, counts: bool = True) -> str:
    """``"A (3), B (1) +2"``: the most frequent values first, the rest counted."""
    values = sorted(values, key=lambda v: (-v[1], v[0]))
    head = ", ".join(f"{value} ({n})" if counts else value for value, n in values[:shown])
    rest = len(values) - shown
    return f"{head} +{rest}" if rest > 0 else head


def _traits(traits: dict[str, list[tuple[str, int]]]) -> str:
    """``"version 4.2, 4.3 +1; region eu-west"``: each characteristic's commonest values."""
    order = [n for n in _CHARACTERISTIC_ORDER if n in traits] + sorted(set(traits) - set(_CHARACTERISTIC_ORDER))
    return "; ".join(f"{name} {_summary(traits[name], shown=2, counts=False)}" for name in order)


def _ci_list(sql: _Sql, walk: _Walk) -> Steps[tuple[ImpactCIView, ...]]:
    # Only the nearest levels that hold the first CI_LIST_LIMIT CIs need sorting by name.
    reach, seen = 0, 0
    for reach, n in enumerate(walk.levels):  # noqa: B007
        seen += n
        if seen >= CI_LIST_LIMIT:
            break
    rows = yield from sql.rows(
        f"SELECT c.id, c.name, c.kind, s.distance FROM impact_ci s {sql.join} ci c ON c.id = s.ci_id "
        "WHERE s.distance <= :reach ORDER BY s.distance, c.name LIMIT :limit",
        {"reach": reach, "limit": CI_LIST_LIMIT},
    )
    return tuple(ImpactCIView(id=i, name=name, kind=kind, distance=d) for i, name, kind, d in rows)


async def account_health(domain: Domain, actor: Actor, account_id: int) -> list[ItemHealthView]:
    """Each install base item of an account with the worst active alert that reaches it.

    Staff see any account; a customer sees only their own.
    """
    if actor.role is Role.CUSTOMER:
        require(actor, Permission.VIEW_OWN_ACCOUNT)
        require_account(actor, account_id)
    else:
        _require_staff(actor)
    items, reach = await _read(domain, _health_steps(_Sql(domain.db.dialect), account_id))
    worst: dict[int, tuple[int, str]] = {}
    count: dict[int, int] = defaultdict(int)
    for item_id, ci_name, rank in reach:
        count[item_id] += 1
        best = worst.get(item_id)
        # The worst severity wins; among equals, the CI first by name.
        if best is None or rank > best[0] or (rank == best[0] and ci_name < best[1]):
            worst[item_id] = (rank, ci_name)
    views = [
        ItemHealthView(
            item_id=item_id,
            number=number,
            name=name,
            product=product,
            ci_name=ci_name,
            parent_number=parent,
            severity=_SEVERITY_BY_RANK.get(worst[item_id][0], "ok") if item_id in worst else "ok",
            alert_ci=worst[item_id][1] if item_id in worst else None,
            alert_count=count.get(item_id, 0),
        )
        for item_id, number, name, product, ci_name, parent in items
    ]
    views.sort(key=lambda v: (-(worst[v.item_id][0] if v.item_id in worst else 0), v.number))
    return views


def _health_steps(sql: _Sql, account_id: int) -> Steps[tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]]:
    if (yield from sql.scalar("SELECT id FROM account WHERE id = :a", {"a": account_id})) is None:
        raise NotFound(f"no account with id {account_id}")
    j = sql.join
    params = {"a": account_id}
    items = yield from sql.rows(
        "SELECT i.id, i.number, i.name, pr.name, c.name, par.number FROM install_base_item i "
        f"{j} product pr ON pr.id = i.product_id LEFT JOIN ci c ON c.id = i.ci_id "
        "LEFT JOIN install_base_item par ON par.id = i.parent_id WHERE i.account_id = :a",
        params,
    )
    # (item, CI carrying an active alert that reaches it, severity rank), one row per alert.
    reach = yield from sql.rows(
        "WITH RECURSIVE anc (item_id, ci_id, parent_id) AS ("
        "SELECT i.id, i.ci_id, i.parent_id FROM install_base_item i WHERE i.account_id = :a "
        f"UNION SELECT anc.item_id, p.ci_id, p.parent_id FROM anc {j} install_base_item p "
        "ON p.id = anc.parent_id), "
        "up (origin, ci_id) AS ("
        "SELECT DISTINCT ci_id, ci_id FROM anc WHERE ci_id IS NOT NULL "
        f"UNION SELECT up.origin, d.depends_on_id FROM up {j} ci_dependency d ON d.ci_id = up.ci_id), "
        "hit (item_id, alert_id, ci_id, sev) AS ("
        f"SELECT DISTINCT anc.item_id, al.id, al.ci_id, {_SEVERITY_RANK} FROM anc {j} up ON up.origin = anc.ci_id "
        f"{j} alert al ON al.ci_id = up.ci_id WHERE {_ACTIVE}) "
        f"SELECT hit.item_id, c.name, hit.sev FROM hit {j} ci c ON c.id = hit.ci_id WHERE hit.sev > 0",
        params,
    )
    return items, reach
