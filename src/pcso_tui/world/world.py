"""``seed_world``: fill an empty database with a synthetic world and six months of history.

The rows come from ``worldgen.WorldGenerator`` (deterministic by seed and clock) and are
written set-based: chunks of up to 20,000 rows of one table with explicit ids, all in one
transaction — the world appears whole or not at all. On SQLite each chunk is one driver
``executemany`` (values converted the way the ORM stores them), on PostgreSQL one COPY
(asyncpg), elsewhere one Core ``insert(table)`` with a list of dicts. Rows are generated
and converted on a worker thread, so the event loop stays free. The demo users are added through
``users.add_user`` like any other user: the staff before the world (history names them), the
customer ``carl`` after it (he belongs to one of its accounts).
"""

from __future__ import annotations

import asyncio
import gc
import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from time import perf_counter
from typing import Any

from sqlalchemy import Date, func, insert, literal, select, text, union_all
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.types import JSON

from pcso_tui.domain.core.errors import Conflict, InvalidInput
from pcso_tui.domain.core.event_kinds import WorldSeeded
from pcso_tui.domain.core.events import EVENT_ORDER_LOCK
from pcso_tui.domain.core.models import Base, Setting, User, UTCDateTime
from pcso_tui.domain.core.roles import Actor, Permission, Role, require
from pcso_tui.domain.core.service import Domain
from pcso_tui.domain.core.users import add_user
from pcso_tui.world.views import WorldSummary
from pcso_tui.world.worldgen import (
    COLUMNS,
    HISTORY_DAYS,
    SIZES,
    Progress,
    Rows,
    Staff,
    WorldGenerator,
    shape_for_accounts,
)

ProgressCallback = Callable[[str, int, int], None]
# Called after each chunk is written, with the chunk and the seconds converting and writing it
# took (bench/).
ChunkObserver = Callable[[Rows, float], None]

WORLD_SETTING = "world"
# Page cache while loading (negative: KiB), instead of SQLite's 2 MiB.
SQLITE_CACHE_KIB = -65536

# (name, role, display name) of the staff personas; history is attributed to them.
STAFF = (
    ("admin", Role.ADMIN, "Administrator"),
    ("olivia", Role.OPERATOR, "Olivia Okafor"),
    ("adam", Role.AGENT, "Adam Novak"),
    ("maria", Role.MANAGER, "Maria Santos"),
)
CUSTOMER = ("carl", "Carl Jensen")

# Tables a world fills with explicit ids: any row in them and seeding is refused.
_LABELS = {
    "account": ("account", "accounts"),
    "contact": ("contact", "contacts"),
    "product": ("product", "products"),
    "sold_product": ("sold product", "sold products"),
    "ci": ("CI", "CIs"),
    "install_base_item": ("install base item", "install base items"),
    "incident": ("incident", "incidents"),
    "alert": ("alert", "alerts"),
    "support_case": ("case", "cases"),
    "statement": ("statement", "statements"),
    "journal_entry": ("journal entry", "journal entries"),
    "article": ("article", "articles"),
    "outage": ("outage", "outages"),
    "notice": ("notice", "notices"),
    "maintenance_window": ("maintenance window", "maintenance windows"),
}


def _quiet(_phase: str, _done: int, _total: int) -> None:
    return None


async def _existing_rows(conn: AsyncConnection) -> dict[str, int]:
    tables = Base.metadata.tables
    query = union_all(
        *(select(literal(name).label("name"), func.count().label("n")).select_from(tables[name]) for name in _LABELS)
    )
    counts = dict((await conn.execute(query)).all())
    return {name: counts[name] for name in _LABELS if counts.get(name)}


def _refusal(existing: dict[str, int]) -> Conflict:
    held = ", ".join(f"{n:,} {_LABELS[name][n != 1]}" for name, n in list(existing.items())[:3])
    if len(existing) > 3:
        held += ", …"
    return Conflict(
        f"the database already holds data ({held}); pcso seed builds a world only in an empty database — "
        "give it a new one with --db"
    )


async def refuse_unless_empty(domain: Domain) -> None:
    """Raise ``Conflict`` (naming what is there) unless the database holds no world data."""
    async with domain.db.read_engine.connect() as conn:
        existing = await _existing_rows(conn)
    if existing:
        raise _refusal(existing)


async def has_users(domain: Domain) -> bool:
    async with domain.reading() as session:
        return (await session.scalar(select(func.count()).select_from(User))) != 0


def size_names() -> tuple[str, ...]:
    return tuple(SIZES)


# --- writing chunks ---------------------------------------------------------------------------
#
# Rows reach the driver as it takes them: on SQLite, datetimes, dates and JSON as the text
# the ORM would store; on PostgreSQL (asyncpg), naive UTC datetimes and JSON text, through
# COPY. Anything else goes through Core ``insert()`` and SQLAlchemy's own conversions.


def _datetime_converter(as_text: bool) -> Callable[[Any], Any]:
    # Naive UTC, as the ORM stores it (``UTCDateTime``). Rows repeat times a lot (a fan-out
    # shares one), so each distinct one is converted once per chunk.
    memo: dict[datetime, Any] = {}

    def convert(value: datetime | None) -> Any:
        if value is None:
            return None
        found = memo.get(value)
        if found is None:
            naive = (value if value.tzinfo is UTC else value.astimezone(UTC)).replace(tzinfo=None)
            found = memo[value] = naive.isoformat(" ", "microseconds") if as_text else naive
        return found

    return convert


def _date_text(value: Any) -> str | None:
    return None if value is None else value.isoformat()


def _json_text(value: Any) -> str | None:
    return None if value is None else json.dumps(value)


def driver_converters(
    table: str, columns: Sequence[str], dialect: str = "sqlite"
) -> list[tuple[int, Callable[[Any], Any]]]:
    """(position, function) for every column whose Python value the driver cannot take as it is."""
    found: list[tuple[int, Callable[[Any], Any]]] = []
    table_columns = Base.metadata.tables[table].c
    sqlite = dialect == "sqlite"
    for i, name in enumerate(columns):
        kind = table_columns[name].type
        if isinstance(kind, UTCDateTime):
            found.append((i, _datetime_converter(as_text=sqlite)))
        elif isinstance(kind, Date) and sqlite:
            found.append((i, _date_text))
        elif isinstance(kind, JSON):
            found.append((i, _json_text))
    return found


def driver_rows(
    table: str, columns: Sequence[str], rows: list[tuple[Any, ...]], dialect: str = "sqlite"
) -> list[tuple[Any, ...]]:
    """Rows as the driver takes them (for SQLite: as it stores them)."""
    converters = driver_converters(table, columns, dialect)
    if not converters:
        return rows
    out = []
    for row in rows:
        values = list(row)
        for i, convert in converters:
            values[i] = convert(values[i])
        out.append(tuple(values))
    return out


def insert_sql(table: str, columns: Sequence[str], placeholder: str = "?") -> str:
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(placeholder for _ in columns)})"


class ChunkWriter:
    """Writes ``Rows`` chunks on one connection, inside the caller's transaction.

    ``prepare`` (pure Python: the driver's values) may run on a worker thread; ``write``
    sends what it prepared.
    """

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn
        self.dialect = conn.dialect.name
        self.driver = conn.dialect.driver

    def prepare(self, chunk: Rows) -> list[Any]:
        if self.dialect == "sqlite" or self.driver == "asyncpg":
            return driver_rows(chunk.table, chunk.columns, chunk.rows, self.dialect)
        return [dict(zip(chunk.columns, row, strict=True)) for row in chunk.rows]

    async def write(self, chunk: Rows, prepared: list[Any]) -> None:
        if not prepared:
            return
        if self.dialect == "sqlite":
            await self.conn.exec_driver_sql(insert_sql(chunk.table, chunk.columns), prepared)
        elif self.driver == "asyncpg":
            raw = await self.conn.get_raw_connection()
            driver: Any = raw.driver_connection  # asyncpg's connection (untyped)
            await driver.copy_records_to_table(chunk.table, records=prepared, columns=list(chunk.columns))
        else:
            await self.conn.execute(insert(Base.metadata.tables[chunk.table]), prepared)


async def _advance_sequences(conn: AsyncConnection, counts: dict[str, int]) -> None:
    """Explicit ids leave PostgreSQL's sequences behind; move them past the rows written."""
    for table in counts:
        if "id" in COLUMNS[table] and table != "event":
            await conn.execute(
                text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
            )


# --- the command ------------------------------------------------------------------------------


async def _ensure_staff(domain: Domain, actor: Actor, report: ProgressCallback) -> Staff:
    ids: dict[str, int] = {}
    for n, (name, role, display) in enumerate(STAFF, 1):
        async with domain.reading() as session:
            found = await session.scalar(select(User.id).where(User.name == name))
        if found is None:
            found = (await add_user(domain, actor, name, role, display_name=display, email=f"{name}@ops.example")).id
        ids[name] = found
        report("users", n, len(STAFF))
    return Staff(olivia=ids["olivia"], adam=ids["adam"], maria=ids["maria"])


@contextmanager
def _without_cyclic_gc() -> Iterator[None]:
    """Pause Python's cycle collector for the load.

    A load allocates millions of short-lived row tuples, and each full collection walks them
    all while holding the GIL: measured at up to half a second with the event loop frozen.
    The rows form no reference cycles, so reference counting frees them just the same.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _next_chunk(
    items: Iterator[Rows | Progress], writer: ChunkWriter
) -> tuple[Rows | Progress, list[Any], float] | None:
    """The next item and, for rows, the driver's values and the seconds preparing them took."""
    item = next(items, None)
    if item is None:
        return None
    if isinstance(item, Progress):
        return item, [], 0.0
    started = perf_counter()
    prepared = writer.prepare(item)
    return item, prepared, perf_counter() - started


async def _write(
    conn: AsyncConnection, generator: WorldGenerator, report: ProgressCallback, observer: ChunkObserver | None
) -> None:
    """Generate and convert on a worker thread (the event loop stays free), write on the connection."""
    writer = ChunkWriter(conn)
    items = generator.run()
    while (step := await asyncio.to_thread(_next_chunk, items, writer)) is not None:
        item, prepared, preparing = step
        if isinstance(item, Progress):
            report(item.phase, item.done, item.total)
        elif observer is None:
            await writer.write(item, prepared)
        else:
            started = perf_counter()
            await writer.write(item, prepared)
            observer(item, preparing + perf_counter() - started)


async def seed_world(
    domain: Domain,
    actor: Actor,
    *,
    size: str = "small",
    seed: int = 1,
    progress: ProgressCallback | None = None,
    observer: ChunkObserver | None = None,
    accounts: int | None = None,
) -> WorldSummary:
    """Build a synthetic world of ``size`` in an empty database; the same seed builds the same rows.

    ``accounts`` instead builds a world of that many accounts with the presets' proportions
    (its size is then named ``custom``).

    ``progress(phase, done, total)`` is called as the work goes (phases: users, accounts,
    service map, install base, history). Refused unless the actor may seed and the database
    holds no world data yet.
    """
    require(actor, Permission.SEED_WORLD)
    if accounts is not None:
        if isinstance(accounts, bool) or not isinstance(accounts, int) or accounts < 10:
            raise InvalidInput(f"a world needs a whole number of at least 10 accounts, not {accounts!r}")
        shape = shape_for_accounts(accounts)
        size = "custom"
    elif size not in SIZES:
        raise InvalidInput(f"unknown world size {size!r}; sizes: {', '.join(SIZES)}")
    else:
        shape = SIZES[size]
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise InvalidInput(f"the seed must be a whole number, not {seed!r}")
    await refuse_unless_empty(domain)
    report = progress or _quiet
    now = domain.clock()
    staff = await _ensure_staff(domain, actor, report)
    generator = WorldGenerator(shape, seed, now, staff)

    async with domain.transaction(actor) as tx:
        conn = await tx.session.connection()
        existing = await _existing_rows(conn)
        if existing:  # someone else filled it meanwhile
            raise _refusal(existing)
        if domain.db.is_postgresql:
            # Hold the event-order lock for the whole load, so followers never skip its events.
            await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": EVENT_ORDER_LOCK})
        cache = None
        if domain.db.is_sqlite:
            # A bigger page cache for the load: fewer pages spilled to the WAL and written again.
            cache = (await conn.exec_driver_sql("PRAGMA cache_size")).scalar()
            await conn.exec_driver_sql(f"PRAGMA cache_size = {SQLITE_CACHE_KIB}")
        try:
            with _without_cyclic_gc():
                await _write(conn, generator, report, observer)
        finally:
            if cache is not None:
                await conn.exec_driver_sql(f"PRAGMA cache_size = {int(cache)}")
        counts = generator.counts
        if domain.db.is_postgresql:
            await _advance_sequences(conn, counts)
        await tx.session.merge(
            Setting(key=WORLD_SETTING, value={"size": size, "seed": seed, "accounts": shape.accounts})
        )
        tx.record(None, WorldSeeded(size=size, seed=seed, rows=sum(counts.values()), counts=counts))

    carl_number = f"ACC-{generator.carl_account:06d}"
    async with domain.reading() as session:
        carl_exists = await session.scalar(select(User.id).where(User.name == CUSTOMER[0]))
    if carl_exists is None:
        await add_user(
            domain,
            actor,
            CUSTOMER[0],
            Role.CUSTOMER,
            account_number=carl_number,
            display_name=CUSTOMER[1],
            email=generator.carl_email,
        )
    history_to = generator.now
    return WorldSummary(
        size=size,
        seed=seed,
        counts=counts,
        users=(*(name for name, _r, _d in STAFF), CUSTOMER[0]),
        customer_account=carl_number,
        customer_account_name=generator.carl_account_name,
        history_from=history_to - timedelta(days=HISTORY_DAYS),
        history_to=history_to,
    )
