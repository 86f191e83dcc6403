"""Migrations and models agree, on every backend."""

from __future__ import annotations

import os
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text

from pcso_tui.domain.core import schema
from pcso_tui.domain.core.db import Database
from pcso_tui.domain.core.migrations import HEAD
from pcso_tui.domain.core.models import Base, is_full_text_name
from pcso_tui.domain.core.service import Domain


def test_head_constant_matches_alembic() -> None:
    assert ScriptDirectory.from_config(schema.alembic_config()).get_current_head() == HEAD


async def test_migrated_schema_equals_the_models(domain: Domain) -> None:
    async with domain.db.read_engine.connect() as conn:
        diff = await conn.run_sync(
            lambda sync: compare_metadata(
                MigrationContext.configure(sync, opts={"include_name": lambda name, *_: not is_full_text_name(name)}),
                Base.metadata,
            )
        )
    assert diff == []


async def test_embedded_database_is_upgraded_on_start(tmp_path: Path) -> None:
    path = tmp_path / "fresh" / "pcso.db"
    old_umask = os.umask(0o022)  # a typical umask would strip group write without explicit modes
    try:
        domain = await Domain.open(path)
    finally:
        os.umask(old_umask)
    try:
        assert await schema.current_revision(domain.db) == HEAD
        async with domain.db.writing() as session:  # a write: the -wal and -shm files exist now
            await session.execute(text("CREATE TABLE t_mode (x INTEGER)"))
        # Readable (and writable) only by owner and group, the -wal and -shm files included.
        files = [path, Path(f"{path}-wal"), Path(f"{path}-shm")]
        assert {f.name: f.stat().st_mode & 0o777 for f in files} == {f.name: 0o660 for f in files}
    finally:
        await domain.close()
    assert path.parent.stat().st_mode & 0o777 == 0o770


async def test_server_database_is_not_upgraded_behind_the_admins_back(tmp_path: Path) -> None:
    import pytest

    from pcso_tui.domain.core.schema import SchemaOutdated

    with pytest.raises(SchemaOutdated, match="pcso db upgrade"):
        await Domain.open(tmp_path / "x.db", upgrade=False)
    database = Database(tmp_path / "x.db")
    try:
        assert await schema.current_revision(database) is None
    finally:
        await database.dispose()
