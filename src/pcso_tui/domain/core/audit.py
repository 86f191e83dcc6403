"""Reading the event log (the audit trail)."""

from __future__ import annotations

from pcso_tui.domain.core.events import events_after, events_of
from pcso_tui.domain.core.roles import Actor, Permission, require
from pcso_tui.domain.core.service import Domain
from pcso_tui.domain.core.views import EventView


async def list_events(domain: Domain, actor: Actor, *, since_id: int = 0, limit: int = 100) -> list[EventView]:
    require(actor, Permission.VIEW_EVENTS)
    async with domain.reading() as session:
        return await events_after(session, since_id, limit=limit)


async def history(domain: Domain, actor: Actor, subject_type: str, subject_id: int) -> list[EventView]:
    """Every event about one record, oldest first."""
    require(actor, Permission.VIEW_EVENTS)
    async with domain.reading() as session:
        return await events_of(session, subject_type, subject_id)
