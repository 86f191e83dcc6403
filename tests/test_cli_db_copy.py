"""``pcso db copy``: every row from the embedded database into PostgreSQL and back, unchanged;
the copy refuses a target that holds rows or is at another schema."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from pcso_tui.cli import main
from pcso_tui.domain.casework import major_cases as mc
from pcso_tui.domain.core.db import Database
from pcso_tui.domain.core.models import Base
from pcso_tui.domain.core.roles import Actor, Role
from pcso_tui.domain.core.service import Domain
from pcso_tui.domain.core.users import add_user, sign_in
from tests.domain.notice_world import make_world


async def build_source(path: str) -> None:
    domain = await Domain.open(path)
    try:
        await add_user(domain, Actor(None, "root", Role.ADMIN), "admin", Role.ADMIN)
        admin = await sign_in(domain, "admin")
        await add_user(domain, admin, "manager", Role.MANAGER)
        manager = await sign_in(domain, "manager")
        await make_world(domain, 5)
        candidate = await mc.open_major_candidate(
            domain,
            manager,
            short_description="[bold]x\x1b[2J",
            reason="r",
            business_impact="b",
            account_numbers=[f"W-ACC-{i}" for i in range(5)],
        )
        await mc.approve_major_case(domain, manager, candidate.id)
        await mc.post_statement(domain, manager, candidate.id, "We are on it — ✔")
    finally:
        await domain.close()


async def dump(url: str) -> dict[str, list[dict[str, Any]]]:
    db = Database(url)
    try:
        async with db.reading() as session:
            return {
                t.name: [dict(r._mapping) for r in await session.execute(select(t).order_by(*t.primary_key.columns))]
                for t in Base.metadata.sorted_tables
            }
    finally:
        await db.dispose()


def copy(source: str, target: str) -> Any:
    return CliRunner().invoke(main, ["db", "copy", "--from", source, "--to", target], catch_exceptions=False)


@pytest.mark.postgres
async def test_embedded_to_postgresql_and_back_keeps_every_row(
    postgres_url: str, sqlite_template: Path, tmp_path: Path
) -> None:
    source = str(tmp_path / "source.db")
    await build_source(source)
    back = tmp_path / "back.db"
    shutil.copyfile(sqlite_template, back)

    result = await asyncio.to_thread(copy, source, postgres_url)
    assert result.exit_code == 0, result.output
    assert "copied" in result.stdout
    original = await dump(source)
    assert await dump(postgres_url) == original
    assert sum(map(len, original.values())) > 50

    result = await asyncio.to_thread(copy, postgres_url, str(back))
    assert result.exit_code == 0, result.output
    assert await dump(str(back)) == original

    # The sequences moved past the copied ids: new rows on PostgreSQL just work.
    domain = await Domain.open(postgres_url)
    try:
        admin = await sign_in(domain, "admin")
        await add_user(domain, admin, "newcomer", Role.AGENT)
    finally:
        await domain.close()

    refused = await asyncio.to_thread(copy, source, postgres_url)
    assert refused.exit_code == 7 and "already holds rows" in refused.stderr


async def test_copy_refuses_a_target_without_the_schema(sqlite_url: str, tmp_path: Path) -> None:
    await build_source(sqlite_url)
    bare = tmp_path / "bare" / "empty.db"
    bare.parent.mkdir()
    bare.touch()
    refused = await asyncio.to_thread(copy, sqlite_url, str(bare))
    assert refused.exit_code == 6 and "run `pcso db upgrade" in refused.stderr
    target = tmp_path / "target.db"
    shutil.copyfile(sqlite_url, target)
    refused = await asyncio.to_thread(copy, sqlite_url, str(target))
    assert refused.exit_code == 7 and "already holds rows: " in refused.stderr
