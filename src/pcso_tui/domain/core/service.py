"""``Domain``: the product without a screen, as one object every caller holds.

It owns the database, the plugin hooks, the settings and the clock. Commands and queries are
plain functions in the domain modules that take it as their first argument::

    domain = await Domain.open(url)
    async with domain.transaction(actor) as tx:   # inside a command
        ...
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from pcso_tui.domain.core.clock import Clock, utcnow
from pcso_tui.domain.core.db import Database
from pcso_tui.domain.core.errors import DomainError
from pcso_tui.domain.core.events import Transaction
from pcso_tui.domain.core.extensions import Extensions
from pcso_tui.domain.core.roles import Actor
from pcso_tui.domain.core.settings import Settings
from pcso_tui.domain.core.versions import StaleRecord


class StorageBusy(DomainError):
    code = "busy"
    exit_code = 10


class Domain:
    def __init__(
        self,
        db: Database,
        *,
        settings: Settings | None = None,
        hooks: Any = None,
        clock: Clock = utcnow,
    ) -> None:
        self.db = db
        self.settings = settings or Settings()
        # pluggy's HookRelay (pm.hook), or None when no plugin manager was given.
        self.hooks = hooks
        self.clock = clock

    @classmethod
    async def open(
        cls,
        url: str | Path | None = None,
        *,
        settings: Settings | None = None,
        hooks: Any = None,
        clock: Clock = utcnow,
        upgrade: bool | None = None,
        create: bool = True,
    ) -> Domain:
        """Connect and make sure the schema is current.

        ``upgrade`` defaults to True for the embedded database (upgraded on start) and False for
        servers, where ``pcso db upgrade`` is a deliberate step. Without ``create`` a missing
        SQLite file is an error (``DatabaseUnavailable``) instead of a new database.
        """
        from pcso_tui.domain.core.schema import ensure_current

        db = Database(url, create=create)
        try:
            await ensure_current(db, upgrade_if_needed=db.is_sqlite if upgrade is None else upgrade)
        except BaseException:
            await db.dispose()
            raise
        return cls(db, settings=settings, hooks=hooks, clock=clock)

    @property
    def extensions(self) -> Extensions:
        """The plugin hooks behind a typed facade (``domain/core/extensions.py``)."""
        return Extensions(self.hooks, self.settings)

    async def close(self) -> None:
        await self.db.dispose()

    @asynccontextmanager
    async def transaction(self, actor: Actor) -> AsyncIterator[Transaction]:
        """One unit of work: committed with its events, or rolled back entirely."""
        try:
            async with self.db.writing() as session:
                tx = Transaction(
                    session=session,
                    actor=actor,
                    now=self.clock(),
                    dialect=self.db.dialect,
                    notify=self.settings.delivery.notify,
                )
                yield tx
                await session.flush()
                await tx.write_events()
        except StaleDataError:
            raise StaleRecord("the record was changed by someone else meanwhile — reload and try again") from None
        except OperationalError as exc:
            if "locked" in str(exc.orig):
                raise StorageBusy("the database stayed busy for 30 s; nothing was changed — try again") from None
            raise

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncSession]:
        async with self.db.reading() as session:
            yield session
