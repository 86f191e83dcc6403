"""Bringing a database's schema up to date.

The embedded database is upgraded on start; a server database with ``pcso db upgrade``.
Start-up checks the current revision with one query and imports Alembic only when there is
something to do.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from pcso_tui.domain.core.db import Database, DatabaseUnavailable
from pcso_tui.domain.core.errors import DomainError
from pcso_tui.domain.core.migrations import HEAD as HEAD  # re-exported: transfer and `pcso db` read schema.HEAD

MIGRATIONS = Path(__file__).parent / "migrations"
# Any constant will do: it keeps two processes from upgrading one PostgreSQL at once.
_UPGRADE_LOCK = 727_001


class SchemaOutdated(DomainError):
    code = "schema_outdated"
    exit_code = 9


def alembic_config(connection: Any = None) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


async def current_revision(db: Database) -> str | None:
    """The revision the database is at, or None for an empty database."""
    async with db.read_engine.connect() as conn:
        try:
            row = (await conn.execute(text("SELECT version_num FROM alembic_version"))).first()
        except DBAPIError:
            return None
    return row[0] if row else None


async def opened_revision(db: Database) -> str | None:
    """``current_revision`` of a database first checked to be reachable and a pcso database
    (at some revision, or empty): never another application's tables."""
    await db.check_open()
    revision = await current_revision(db)
    if revision is None and await db.table_names():
        raise DatabaseUnavailable(f"{db.describe()} is not a pcso database (it holds other tables)")
    return revision


def _upgrade_sync(connection: Any, target: str) -> None:
    from alembic import command

    command.upgrade(alembic_config(connection), target)


async def upgrade(db: Database, target: str = "head") -> str | None:
    """Apply every pending migration in one transaction; returns the revision reached."""
    await opened_revision(db)
    async with db.write_engine.begin() as conn:
        if db.is_postgresql:
            await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _UPGRADE_LOCK})
        await conn.run_sync(_upgrade_sync, target)
    return await current_revision(db)


async def ensure_current(db: Database, *, upgrade_if_needed: bool) -> None:
    """Make sure the schema is current: upgrade it, or say how to."""
    revision = await opened_revision(db)
    if revision == HEAD:
        return
    if upgrade_if_needed:
        await upgrade(db)
        return
    at = f"revision {revision}" if revision else "empty"
    raise SchemaOutdated(
        f"the database {db.describe()} is {at}; this pcso needs revision {HEAD}: run `pcso db upgrade`"
    )
