"""Shared fixtures: real databases, a frozen clock, and one signed-in actor per role.

Domain tests take the ``domain`` fixture and run on the embedded SQLite database and, when
``PCSO_TEST_DATABASE_URL`` names a PostgreSQL server, on PostgreSQL too. Each test gets a
database of its own, copied from a migrated template made once per run; on PostgreSQL the
run's databases carry a random prefix and are dropped at the end, so runs never meet.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pcso_tui.domain.core.clock import FrozenClock
from pcso_tui.domain.core.roles import Actor, Role
from pcso_tui.domain.core.service import Domain

PG_ENV = "PCSO_TEST_DATABASE_URL"
FROZEN_AT = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def pytest_configure(config: pytest.Config) -> None:
    # Tests must never touch the user's real data or config.
    os.environ.pop("PCSO_DATABASE_URL", None)
    os.environ.pop("PCSO_CONFIG", None)


# --- SQLite ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty database at the newest schema, to copy per test."""
    path = tmp_path_factory.mktemp("template") / "template.db"

    async def make() -> None:
        domain = await Domain.open(path, upgrade=True)
        await domain.close()

    asyncio.run(make())
    return path


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    path = tmp_path / "pcso.db"
    shutil.copyfile(sqlite_template, path)
    return str(path)


# --- PostgreSQL ----------------------------------------------------------------------------


class PostgresServer:
    """Creates this run's template database and one database per test from it."""

    def __init__(self, url: str) -> None:
        from sqlalchemy.engine import make_url

        self.url = make_url(url).set(drivername="postgresql")
        self.prefix = f"pcso_t{secrets.token_hex(4)}"
        self.template = f"{self.prefix}_tpl"
        self.created: list[str] = []
        self._n = 0

    def _dsn(self, database: str | None = None) -> str:
        return self.url.set(database=database or self.url.database).render_as_string(hide_password=False)

    async def _admin(self, sql: str) -> None:
        import asyncpg

        conn = await asyncpg.connect(self._dsn())
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    async def start(self) -> None:
        await self._admin(f'CREATE DATABASE "{self.template}"')
        self.created.append(self.template)
        domain = await Domain.open(self._dsn(self.template), upgrade=True)
        await domain.close()

    async def new_database(self) -> str:
        self._n += 1
        name = f"{self.prefix}_{self._n}"
        await self._admin(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
        self.created.append(name)
        return self._dsn(name)

    async def drop(self, name: str) -> None:
        await self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if name in self.created:
            self.created.remove(name)

    async def drop_all(self) -> None:
        for name in reversed(list(self.created)):
            await self.drop(name)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    url = os.environ.get(PG_ENV)
    if not url:
        pytest.skip(f"{PG_ENV} is not set: PostgreSQL tests skipped")
    server = PostgresServer(url)
    try:
        asyncio.run(server.start())
    except OSError as exc:
        pytest.skip(f"PostgreSQL at {PG_ENV} is not reachable: {exc}")
    yield server
    asyncio.run(server.drop_all())


@pytest.fixture
async def postgres_url(postgres_server: PostgresServer) -> AsyncIterator[str]:
    url = await postgres_server.new_database()
    yield url
    await postgres_server.drop(url.rsplit("/", 1)[-1].split("?")[0])


# --- the domain ----------------------------------------------------------------------------


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(FROZEN_AT)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    """A fresh, migrated database: SQLite always, PostgreSQL when the server is configured."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_url")
    return request.getfixturevalue("postgres_url")


@pytest.fixture
async def domain(database_url: str, clock: FrozenClock) -> AsyncIterator[Domain]:
    from pcso_tui.plugins import new_plugin_manager

    d = await Domain.open(database_url, clock=clock, hooks=new_plugin_manager(load_entry_points=False).hook)
    yield d
    await d.close()


@pytest.fixture
async def actors(domain: Domain) -> dict[Role, Actor]:
    """One user per role (the customer on account ACC-T1), signed in."""
    from pcso_tui.domain.core.models import Account
    from pcso_tui.domain.core.users import add_user, sign_in

    bootstrap = Actor(user_id=None, name="root", role=Role.CUSTOMER)
    await add_user(domain, bootstrap, "admin", Role.ADMIN)
    admin = await sign_in(domain, "admin")
    async with domain.transaction(admin) as tx:
        tx.session.add(Account(number="ACC-T1", name="Test Customer One", created_at=tx.now))
    for role in (Role.OPERATOR, Role.AGENT, Role.MANAGER):
        await add_user(domain, admin, role.value, role)
    await add_user(domain, admin, "customer", Role.CUSTOMER, account_number="ACC-T1")
    return {role: await sign_in(domain, role.value) for role in Role}
