"""Optimistic locking for records a person edits.

A screen (or script) reads a record with its ``version`` and hands that back as
``expected_version``; a command refuses the write when the record moved on since, naming who
changed it and when (the last event on it), so the second writer reloads instead of
overwriting. The ORM bumps ``version`` on every flush (``version_id_col``), so two writers that
both passed the check still cannot both commit: the loser's flush raises ``StaleDataError``,
which ``Domain.transaction`` turns into the same :class:`StaleRecord` refusal.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from pcso_tui.domain.core.errors import Conflict
from pcso_tui.domain.core.models import Event


class StaleRecord(Conflict):
    """The record changed since the caller read it; nothing was written."""

    code = "stale"


async def check_version(
    session: AsyncSession,
    subject_type: str,
    subject_id: int,
    label: str,
    current: int,
    expected: int | None,
) -> None:
    """Refuse with ``StaleRecord`` unless ``expected`` is None or equals ``current``.

    ``label`` is how a person names the record ("CASE-000012", "article KB-3", "alert 7").
    """
    if expected is None or expected == current:
        return
    last = (
        await session.execute(
            select(Event.actor_name, Event.impersonator, Event.at)
            .where(Event.subject_type == subject_type, Event.subject_id == subject_id)
            .order_by(Event.id.desc())
            .limit(1)
        )
    ).first()
    seen = f"(you had version {expected}, it is now {current})"
    if last is None:
        raise StaleRecord(f"{label} was changed meanwhile {seen} — reload")
    who = last.actor_name if not last.impersonator else f"{last.impersonator} as {last.actor_name}"
    raise StaleRecord(f"{label} was changed by {who} at {last.at:%H:%M} UTC {seen} — reload")
