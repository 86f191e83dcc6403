"""The live feed: follow the event table and hand new events to in-process subscribers.

One follower per process. It reads ``id > last`` in order (events are committed in id order,
see ``events``), so every subscriber sees every event once, in order, whichever process wrote
it. On SQLite it polls (an indexed range read that usually returns nothing); on PostgreSQL it
LISTENs and polls only as a safety net.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from pcso_tui.domain.core.db import Database
from pcso_tui.domain.core.events import NOTIFY_CHANNEL, events_after, last_event_id
from pcso_tui.domain.core.views import EventView

log = logging.getLogger(__name__)

Subscriber = Callable[[list[EventView]], Awaitable[None] | None]


class EventFollower:
    def __init__(
        self,
        db: Database,
        *,
        after_id: int | None = None,
        interval: float = 0.2,
        batch: int = 1000,
    ) -> None:
        self.db = db
        self.last_id = after_id
        self.interval = interval
        self.batch = batch
        self._subscribers: list[Subscriber] = []
        self._wake = asyncio.Event()
        self._listen_conn: Any = None

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Call ``subscriber(events)`` with each batch of new events; returns an unsubscribe."""
        self._subscribers.append(subscriber)

        def unsubscribe() -> None:
            if subscriber in self._subscribers:
                self._subscribers.remove(subscriber)

        return unsubscribe

    def wake(self) -> None:
        """Poll now rather than at the next tick (e.g. right after this process committed)."""
        self._wake.set()

    async def start(self) -> None:
        """Begin after the newest event (unless told where), and LISTEN on PostgreSQL."""
        if self.last_id is None:
            async with self.db.reading() as session:
                self.last_id = await last_event_id(session)
        if self.db.is_postgresql and self._listen_conn is None:
            await self._listen()

    async def _listen(self) -> None:
        conn = await self.db.read_engine.connect()
        raw = await conn.get_raw_connection()
        driver: Any = raw.driver_connection  # asyncpg's connection (untyped)
        await driver.add_listener(NOTIFY_CHANNEL, lambda *_: self._wake.set())
        self._listen_conn = conn

    async def poll(self) -> list[EventView]:
        """Read and deliver whatever is new; returns what was delivered."""
        if self.last_id is None:
            await self.start()
        assert self.last_id is not None
        async with self.db.reading() as session:
            events = await events_after(session, self.last_id, limit=self.batch)
        if not events:
            return events
        self.last_id = events[-1].id
        for subscriber in list(self._subscribers):
            try:
                result = subscriber(events)
                if inspect.isawaitable(result):
                    await result
            except Exception:  # one broken subscriber must not stop the feed for the others
                log.exception("event subscriber %r failed", subscriber)
        return events

    async def run(self) -> None:
        """Follow forever (until cancelled)."""
        await self.start()
        # With LISTEN the poll is only a safety net.
        idle = self.interval * 10 if self._listen_conn is not None else self.interval
        try:
            while True:
                events = await self.poll()
                if len(events) >= self.batch:
                    continue  # more waiting: catch up before sleeping
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=idle)
        finally:
            await self.close()

    async def close(self) -> None:
        if self._listen_conn is not None:
            conn, self._listen_conn = self._listen_conn, None
            try:
                await conn.close()
            except Exception:
                log.debug("closing the LISTEN connection failed", exc_info=True)
