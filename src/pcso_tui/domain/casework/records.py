"""What every casework module shares about a case: loading it, its one-line view, the
limits on its text, and copying a customer-visible line to a major case's children.

Kept apart from ``cases`` and ``major_cases`` so that both can use it without importing each
other (``cases`` calls the major-case workflow rule; ``major_cases`` never calls back).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, Select, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from pcso_tui.domain.casework.views import CaseView
from pcso_tui.domain.core.errors import InvalidInput, NotFound
from pcso_tui.domain.core.events import Transaction
from pcso_tui.domain.core.models import Account, Case, CaseAccount, Incident, JournalEntry
from pcso_tui.domain.core.roles import Actor, Role
from pcso_tui.domain.core.states import ACTIVE_CASE_STATES, PRIORITY_NAMES
from pcso_tui.domain.core.views import case_number, incident_number

ACTIVE = tuple(s.value for s in ACTIVE_CASE_STATES)
MAX_SHORT = 500
MAX_TEXT = 20_000
MAX_PAGE = 1000


def clean_text(value: str | None, what: str, *, required: bool = True, limit: int = MAX_TEXT) -> str:
    """Trimmed text, refused with a precise line when missing or too long."""
    text = (value or "").strip()
    if required and not text:
        raise InvalidInput(f"{what} is required")
    if len(text) > limit:
        raise InvalidInput(f"{what} is {len(text)} characters long; the limit is {limit}")
    return text


async def load_case(session: AsyncSession, case_id: int, *, lock: bool = False) -> Case:
    """The case, or NotFound naming it. ``lock`` takes a row lock on PostgreSQL (SQLite's
    IMMEDIATE write transactions already serialize writers)."""
    query = select(Case).where(Case.id == case_id)
    if lock:
        query = query.with_for_update()
    case = (await session.execute(query)).scalar_one_or_none()
    if case is None:
        raise NotFound(f"no case {case_number(case_id)}")
    return case


def require_own_case(actor: Actor, case_id: int, account_id: int | None) -> None:
    """A customer reaches only their own account's cases; another account's case answers
    exactly like a missing one, so a case number tells a customer nothing."""
    if actor.role is Role.CUSTOMER and (account_id is None or account_id != actor.account_id):
        raise NotFound(f"no case {case_number(case_id)}")


def case_rows_query(now: datetime) -> Select[*tuple[Any, ...]]:
    affected = select(func.count()).select_from(CaseAccount).where(CaseAccount.case_id == Case.id).scalar_subquery()
    return (
        select(
            Case.id,
            Case.kind,
            Case.state,
            Case.major_case_state,
            Case.priority,
            Case.short_description,
            Case.channel,
            Account.number.label("account_number"),
            Account.name.label("account_name"),
            affected.label("affected"),
            Case.incident_id,
            Incident.state.label("incident_state"),
            Case.opened_at,
            Case.updated_at,
            Case.parent_id,
            Case.deflected,
            Case.version,
        )
        .outerjoin(Account, Account.id == Case.account_id)
        .outerjoin(Incident, Incident.id == Case.incident_id)
    )


def case_view_from_row(row: Any, now: datetime) -> CaseView:
    return CaseView(
        id=row.id,
        number=case_number(row.id),
        kind=row.kind,
        state=row.state,
        major_case_state=row.major_case_state,
        priority=row.priority,
        priority_name=PRIORITY_NAMES.get(row.priority, str(row.priority)),
        short_description=row.short_description,
        channel=row.channel,
        account_number=row.account_number,
        account_name=row.account_name,
        affected_accounts=row.affected or 0,
        incident_id=row.incident_id,
        incident_number=incident_number(row.incident_id) if row.incident_id else None,
        incident_state=row.incident_state,
        opened_at=row.opened_at,
        updated_at=row.updated_at,
        age_seconds=max(0, int((now - row.opened_at).total_seconds())),
        parent_id=row.parent_id,
        parent_number=case_number(row.parent_id) if row.parent_id else None,
        deflected=row.deflected,
        version=row.version,
    )


async def case_view(session: AsyncSession, case_id: int, now: datetime) -> CaseView:
    row = (await session.execute(case_rows_query(now).where(Case.id == case_id))).one()
    return case_view_from_row(row, now)


async def copy_line_to_children(tx: Transaction, parent_id: int, entry_id: int) -> int:
    """Copy one customer-visible line of a major case to its active children (INSERT … SELECT)."""
    source = aliased(JournalEntry)
    t = Case.__table__
    result = await tx.session.execute(
        insert(JournalEntry.__table__).from_select(
            [
                "case_id",
                "kind",
                "visibility",
                "body",
                "author_id",
                "author_name",
                "created_at",
                "statement_id",
                "source_entry_id",
            ],
            select(
                t.c.id,
                source.kind,
                source.visibility,
                source.body,
                source.author_id,
                source.author_name,
                source.created_at,
                source.statement_id,
                source.id,
            )
            .select_from(t)
            .join(source, source.id == entry_id)
            .where(t.c.parent_id == parent_id, t.c.state.in_(ACTIVE)),
        )
    )
    return cast("CursorResult[Any]", result).rowcount or 0  # an INSERT's result: its stubs say Result
