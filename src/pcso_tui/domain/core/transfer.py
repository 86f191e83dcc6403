"""Copy every row from one database to another (``pcso db copy``): moving from the embedded
database to PostgreSQL, or back.

Set-based and table by table in dependency order (parents before children), each batch of rows
in one transaction on the target. Columns that point into their own table (a child case's
``parent_id``, an item's ``root_id``) are written empty first and filled in after the whole
table is there, so the order of rows within a table never matters. On PostgreSQL the id
sequences are moved past the copied ids. Both databases must be at this pcso's schema, and the
target must hold no rows: the copy never merges.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import bindparam, func, insert, select, text, update

from pcso_tui.domain.core import schema
from pcso_tui.domain.core.db import Database
from pcso_tui.domain.core.errors import Conflict, InvalidInput
from pcso_tui.domain.core.models import Base

BATCH = 5_000

Progress = Callable[[str, int], None]


async def _row_counts(db: Database) -> dict[str, int]:
    async with db.reading() as session:
        return {
            t.name: int(await session.scalar(select(func.count()).select_from(t)) or 0)
            for t in Base.metadata.sorted_tables
        }


async def copy_database(
    source: Database, target: Database, *, batch: int = BATCH, progress: Progress | None = None
) -> dict[str, int]:
    """Copy all rows from ``source`` into the empty ``target``; return rows copied per table."""
    for db, which in ((source, "source"), (target, "target")):
        revision = await schema.opened_revision(db)
        if revision != schema.HEAD:
            raise InvalidInput(
                f"the {which} database {db.describe()} is at {revision or 'no schema'}, not {schema.HEAD}: "
                f"run `pcso db upgrade --db …` on it first"
            )
    occupied = {name: n for name, n in (await _row_counts(target)).items() if n}
    if occupied:
        listed = ", ".join(f"{name} ({n})" for name, n in sorted(occupied.items()))
        raise Conflict(f"the target database already holds rows: {listed}; copy only into an empty database")
    copied: dict[str, int] = {}
    for table in Base.metadata.sorted_tables:
        pk = list(table.primary_key.columns)
        self_refs = [fk.parent for fk in table.foreign_keys if fk.column.table is table]
        deferred: list[dict[str, object]] = []
        done = 0
        offset = 0
        while True:
            async with source.reading() as session:
                rows = [
                    dict(r._mapping)
                    for r in await session.execute(select(table).order_by(*pk).limit(batch).offset(offset))
                ]
            if not rows:
                break
            offset += len(rows)
            if self_refs:
                for row in rows:
                    later = {c.name: row[c.name] for c in self_refs if row[c.name] is not None}
                    if later:
                        deferred.append({"b_" + k: v for k, v in ({pk[0].name: row[pk[0].name]} | later).items()})
                    for c in self_refs:
                        row[c.name] = None
            async with target.writing() as session:
                await (await session.connection()).execute(insert(table), rows)
            done += len(rows)
            if progress:
                progress(table.name, done)
        for start in range(0, len(deferred), batch):
            chunk = deferred[start : start + batch]
            names = [c.name for c in self_refs]
            async with target.writing() as session:
                for name in names:  # one statement per column: only rows that set it
                    params = [p for p in chunk if "b_" + name in p]
                    if params:
                        stmt = (
                            update(table)
                            .where(pk[0] == bindparam("b_" + pk[0].name))
                            .values({name: bindparam("b_" + name)})
                        )
                        await (await session.connection()).execute(stmt, params)
        copied[table.name] = done
    if target.is_postgresql:
        async with target.writing() as session:
            for table in Base.metadata.sorted_tables:
                pk = list(table.primary_key.columns)
                if len(pk) == 1 and pk[0].name == "id" and copied.get(table.name):
                    await session.execute(
                        text(
                            f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                            f"(SELECT max(id) FROM {table.name}))"
                        )
                    )
    return copied
