"""The unit of work and the events it records.

A command runs inside ``domain.transaction(actor)``: one session, one write transaction, one
timestamp (``tx.now``). It records events as it goes, each a class from ``event_kinds``
(``tx.record(case.id, MajorCaseRejected(...))``); they are written at the end, in the same
transaction as the change, so an event exists exactly when its change does.

On PostgreSQL the event insert takes a transaction-scoped advisory lock, so event ids are
handed out in commit order and a follower reading "id > last" never skips one that commits
late; then ``pg_notify`` wakes the followers at commit.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import insert, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from pcso_tui.domain.core.event_kinds import Payload
from pcso_tui.domain.core.models import Event
from pcso_tui.domain.core.roles import Actor
from pcso_tui.domain.core.views import EventView

NOTIFY_CHANNEL = "pcso_events"
EVENT_ORDER_LOCK = 727_002
EVENT_CHUNK = 100


@dataclass
class Transaction:
    session: AsyncSession
    actor: Actor
    now: datetime
    dialect: str
    # Whom notice fan-outs in this transaction address: ``[delivery] notify`` (see recipients).
    notify: str | tuple[str, ...] = "all"
    _events: list[dict[str, Any]] = field(default_factory=list)

    def record(self, subject_id: int | None, event: Payload, *, subject_type: str | None = None) -> None:
        """Record ``event`` about a subject (of the event's own subject type, or one of its
        ``other_subjects`` named here); written when the transaction commits."""
        payload = event.stored()
        if subject_type is None:
            subject_type = event.subject_type
        elif subject_type != event.subject_type and subject_type not in event.other_subjects:
            raise ValueError(f"{event.kind} is not recorded about a {subject_type}")
        self._events.append(
            {"kind": event.kind, "subject_type": subject_type, "subject_id": subject_id, "payload": payload}
        )

    def record_many(self, events: Iterable[tuple[int | None, Payload]]) -> None:
        """Record one event per (subject_id, event), e.g. one per child case created."""
        self._events.extend(
            {"kind": e.kind, "subject_type": e.subject_type, "subject_id": sid, "payload": e.stored()}
            for sid, e in events
        )

    @property
    def recorded(self) -> list[dict[str, Any]]:
        return list(self._events)

    async def write_events(self) -> None:
        if not self._events:
            return
        if self.dialect == "postgresql":
            await self.session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": EVENT_ORDER_LOCK})
        common = {
            "at": self.now,
            "actor_id": self.actor.user_id,
            "actor_name": self.actor.name,
            "impersonator": self.actor.impersonator,
            "key_fingerprint": self.actor.key_fingerprint,
        }
        if self.dialect == "sqlite":
            await self._write_events_sqlite(common)
            self._events.clear()
            return
        # In chunks: SQLAlchemy prepares parameters on the event loop, and 10,000 events in one
        # executemany held the loop for 100–400 ms; in chunks of 100 the longest stall stays ~20 ms.
        statement = insert(Event.__table__)
        for start in range(0, len(self._events), EVENT_CHUNK):
            await self.session.execute(statement, [common | e for e in self._events[start : start + EVENT_CHUNK]])
        if self.dialect == "postgresql":
            await self.session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": NOTIFY_CHANNEL})
        self._events.clear()

    async def _write_events_sqlite(self, common: dict[str, Any]) -> None:
        """SQLAlchemy's own INSERT, compiled once, its parameters converted by the column types'
        own processors, sent with the driver's ``executemany`` on the transaction's connection:
        a quarter of the event loop's time per event of ``session.execute`` (which matters when a
        command records thousands: an alert burst, a fan-out of child cases)."""
        connection = await self.session.connection()
        insert_sql = _sqlite_event_insert(connection.dialect)
        fixed = [insert_sql.convert(key, value) for key, value in common.items()]
        driver: Any = (await connection.get_raw_connection()).driver_connection  # aiosqlite's connection
        for start in range(0, len(self._events), SQLITE_EVENT_CHUNK):
            rows = [
                (
                    *fixed,
                    e["kind"],
                    e["subject_type"],
                    e["subject_id"],
                    insert_sql.payload(e["payload"]),
                )
                for e in self._events[start : start + SQLITE_EVENT_CHUNK]
            ]
            try:
                await driver.executemany(insert_sql.sql, rows)
            except sqlite3.Error as exc:  # as SQLAlchemy reports it ("locked" becomes StorageBusy)
                raise DBAPIError.instance(insert_sql.sql, None, exc, sqlite3.Error, dialect=connection.dialect) from exc


_EVENT_COMMON = ("at", "actor_id", "actor_name", "impersonator", "key_fingerprint")
_EVENT_OWN = ("kind", "subject_type", "subject_id", "payload")
# Rows built on the event loop per chunk: ~3 µs each, so a chunk holds the loop ~3 ms.
SQLITE_EVENT_CHUNK = 1000


@dataclass(frozen=True)
class _EventInsert:
    sql: str
    processors: dict[str, Any]

    def convert(self, key: str, value: Any) -> Any:
        process = self.processors.get(key)
        return value if value is None or process is None else process(value)

    def payload(self, value: Any) -> Any:
        return self.convert("payload", value)


@lru_cache(maxsize=4)
def _sqlite_event_insert(dialect: Any) -> _EventInsert:
    columns = Event.__table__.c
    keys = [*_EVENT_COMMON, *_EVENT_OWN]
    compiled = insert(Event.__table__).compile(dialect=dialect, column_keys=keys)
    if list(compiled.positiontup or ()) != keys:  # the row tuples are built in this order
        raise RuntimeError(f"unexpected event insert: {compiled.string}")
    processors = {key: columns[key].type.dialect_impl(dialect).bind_processor(dialect) for key in keys}
    return _EventInsert(compiled.string, {k: p for k, p in processors.items() if p is not None})


def event_view(row: Any) -> EventView:
    return EventView(
        id=row.id,
        at=row.at,
        actor_name=row.actor_name,
        impersonator=row.impersonator,
        key_fingerprint=row.key_fingerprint,
        kind=row.kind,
        subject_type=row.subject_type,
        subject_id=row.subject_id,
        payload=row.payload or {},
    )


async def events_after(session: AsyncSession, after_id: int, *, limit: int = 1000) -> list[EventView]:
    """Events with id greater than ``after_id``, oldest first."""
    rows = await session.execute(select(Event).where(Event.id > after_id).order_by(Event.id).limit(limit))
    return [event_view(e) for e in rows.scalars()]


async def events_of(session: AsyncSession, subject_type: str, subject_id: int) -> list[EventView]:
    rows = await session.execute(
        select(Event).where(Event.subject_type == subject_type, Event.subject_id == subject_id).order_by(Event.id)
    )
    return [event_view(e) for e in rows.scalars()]


async def last_event_id(session: AsyncSession) -> int:
    from sqlalchemy import func

    return (await session.execute(select(func.coalesce(func.max(Event.id), 0)))).scalar_one()
