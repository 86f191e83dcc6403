"""Connections: the embedded SQLite file by default, any SQLAlchemy async URL otherwise.

SQLite is tuned for several processes on one file: WAL (readers never block the writer),
foreign keys on, a busy timeout, and every write transaction begun IMMEDIATE so that two
writers queue for the lock up front instead of deadlocking on an upgrade from read to write.
Writes in one process go through a one-connection pool, so they queue on the event loop
rather than spin in SQLite's busy handler.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event, inspect, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, InvalidRequestError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from pcso_tui.domain.core.errors import DomainError, InvalidInput

BUSY_TIMEOUT_MS = 30_000
# Pages of write-ahead log before a commit copies them back into the database file (SQLite's
# default is 1,000, 4 MB). Alert bursts rewrite the same pages again and again: with a larger
# log each page is copied back once per checkpoint instead of many times, and the checkpoints
# (each with its fsyncs) come ten times less often. Ingest commits ~25% faster.
WAL_AUTOCHECKPOINT_PAGES = 10_000
DATABASE_FILE = "pcso.db"
CREATE_HINT = "create one with `pcso db upgrade --db URL`"


class DatabaseUnavailable(DomainError):
    """The database named cannot be opened: missing, not a pcso database, or unreachable."""

    code = "database_unavailable"
    exit_code = 11


def default_database_path() -> Path:
    """The embedded database in the user's data directory (``$XDG_DATA_HOME/pcso-tui``)."""
    from platformdirs import user_data_path

    return user_data_path("pcso-tui") / DATABASE_FILE


def normalize_url(url: str | Path | None) -> URL:
    """Accept a plain path, ``sqlite:///``, ``postgresql://`` or a full async URL.

    Drivers are filled in (aiosqlite, asyncpg) so users can paste the URL they already have.
    """
    if url is None or str(url) == "":
        return make_url(f"sqlite+aiosqlite:///{default_database_path()}")
    text = str(url)
    if "://" not in text:
        return make_url(f"sqlite+aiosqlite:///{Path(text).expanduser().resolve()}")
    try:
        parsed = make_url(text)
    except Exception as exc:  # sqlalchemy raises ArgumentError with a terse message
        raise InvalidInput(f"not a database URL: {text!r} ({exc})") from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if parsed.database in (None, "", ":memory:"):
            raise InvalidInput("an in-memory SQLite database cannot be shared; give a file path")
        return parsed.set(drivername="sqlite+aiosqlite")
    if backend in ("postgresql", "postgres"):
        # An explicit async driver is kept (its absence is reported when the engine is made).
        driver = parsed.drivername if "+" in parsed.drivername else "postgresql+asyncpg"
        return parsed.set(drivername=driver.replace("postgres+", "postgresql+"))
    shown = parsed.render_as_string(hide_password=True)
    raise DatabaseUnavailable(
        f"unsupported database URL {shown!r}: use a file path, sqlite:///PATH or postgresql://USER@HOST/NAME"
    )


def _prepare_sqlite_file(path: Path, *, create: bool) -> None:
    """Create the directory (0770) and file (0660) before SQLite does, so only the owner and the
    group (the agents and operators sharing the host) can read or write them. SQLite gives the
    ``-wal`` and ``-shm`` files the main file's mode. Modes are set explicitly, whatever the umask.

    Without ``create`` the file must exist: a mistyped path is an error, not a new database."""
    if not create:
        if not path.exists():
            raise DatabaseUnavailable(f"no database at {path}: check the path, or {CREATE_HINT}")
        if not path.is_file():
            raise DatabaseUnavailable(f"{path} is not a database file")
        return
    if path.exists() and not path.is_file():
        raise DatabaseUnavailable(f"{path} is not a database file")
    if not path.parent.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o770)
        os.chmod(path.parent, 0o770)
    if not path.exists():
        fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o660)
        os.close(fd)
        os.chmod(path, 0o660)


def _configure_sqlite(engine: AsyncEngine, *, begin: str) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Hand transaction control to SQLAlchemy (pysqlite would otherwise BEGIN lazily).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute(f"PRAGMA wal_autocheckpoint = {WAL_AUTOCHECKPOINT_PAGES}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql(begin)


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


class Database:
    """The two ways into storage: ``reading()`` and ``writing()``, each a session in a transaction."""

    def __init__(self, url: str | Path | URL | None = None, *, echo: bool = False, create: bool = True) -> None:
        """``create``: make a missing SQLite file (and its directory). A server database is never
        created here: ``createdb`` is the server admin's step."""
        self.url: URL = url if isinstance(url, URL) else normalize_url(url)
        self.dialect: str = self.url.get_backend_name()
        try:
            if self.is_sqlite:
                assert self.url.database is not None
                self.path: Path | None = Path(self.url.database)
                _prepare_sqlite_file(self.path, create=create)
                self.write_engine = create_async_engine(
                    self.url, echo=echo, pool_size=1, max_overflow=0, pool_timeout=600
                )
                self.read_engine = create_async_engine(self.url, echo=echo, pool_size=4, max_overflow=4)
                _configure_sqlite(self.write_engine, begin="BEGIN IMMEDIATE")
                _configure_sqlite(self.read_engine, begin="BEGIN")
            else:
                self.path = None
                self.write_engine = create_async_engine(self.url, echo=echo, pool_size=5, max_overflow=10)
                self.read_engine = self.write_engine
        except (ImportError, ArgumentError, InvalidRequestError) as exc:
            # A driver that is not installed, or not an asyncio one (postgresql+psycopg2).
            raise DatabaseUnavailable(f"cannot open {self.describe()}: {_first_line(exc)}") from None
        except OSError as exc:
            raise DatabaseUnavailable(f"cannot create the database {self.url.database}: {exc.strerror}") from None
        self._write_sessions = async_sessionmaker(self.write_engine, expire_on_commit=False)
        self._read_sessions = async_sessionmaker(self.read_engine, expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @property
    def is_postgresql(self) -> bool:
        return self.dialect == "postgresql"

    async def check_open(self) -> None:
        """Reach the database once: an unreachable server, a database that does not exist or a
        file that is not SQLite becomes one line (``DatabaseUnavailable``), not a traceback."""
        try:
            async with self.read_engine.connect() as conn:
                if self.is_sqlite:
                    await conn.execute(text("SELECT count(*) FROM sqlite_master"))
                else:
                    await conn.execute(text("SELECT 1"))
        except DBAPIError as exc:
            raise DatabaseUnavailable(f"cannot open {self.describe()}: {_first_line(exc.orig or exc)}") from None
        except (OSError, TimeoutError) as exc:
            raise DatabaseUnavailable(f"cannot reach {self.describe()}: {_first_line(exc)}") from None

    async def table_names(self) -> list[str]:
        async with self.read_engine.connect() as conn:
            return await conn.run_sync(lambda sync: inspect(sync).get_table_names())

    def describe(self) -> str:
        """The URL without its password, for messages."""
        return self.url.render_as_string(hide_password=True)

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncSession]:
        """A session for queries. It never commits; closing it ends the read transaction."""
        async with self._read_sessions() as session:
            yield session

    @asynccontextmanager
    async def writing(self) -> AsyncIterator[AsyncSession]:
        """A session in a write transaction: committed on success, rolled back on any error."""
        async with self._write_sessions() as session:
            async with session.begin():
                yield session

    async def dispose(self) -> None:
        await self.write_engine.dispose()
        if self.read_engine is not self.write_engine:
            await self.read_engine.dispose()
