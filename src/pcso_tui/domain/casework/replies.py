"""The agents' reply queue: customers' replies on their cases, with account and case number.

A reply on a major case's child otherwise shows only on the major case's timeline, with no
account or child number. ``list_replies`` lists them newest first (unanswered only by default);
an agent answers with a customer-visible comment on the same case (``cases.add_case_note``),
which marks the reply answered.
"""

from __future__ import annotations

from sqlalchemy import and_, exists, select
from sqlalchemy.orm import aliased

from pcso_tui.domain.casework.views import ReplyView
from pcso_tui.domain.core.errors import InvalidInput
from pcso_tui.domain.core.models import Account, Case, JournalEntry
from pcso_tui.domain.core.roles import Actor, Permission, require
from pcso_tui.domain.core.service import Domain
from pcso_tui.domain.core.views import case_number

MAX_LIMIT = 500


async def list_replies(domain: Domain, actor: Actor, *, unanswered: bool = True, limit: int = 200) -> list[ReplyView]:
    """Customers' replies, newest first; ``unanswered``: only those no comment followed yet."""
    require(actor, Permission.WORK_CASE)
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}")
    answer = aliased(JournalEntry)
    answered = exists().where(
        and_(answer.case_id == JournalEntry.case_id, answer.kind == "comment", answer.id > JournalEntry.id)
    )
    query = (
        select(
            JournalEntry.id,
            JournalEntry.created_at,
            Case.id,
            Case.parent_id,
            Account.number,
            Account.name,
            JournalEntry.author_name,
            JournalEntry.body,
            answered.label("answered"),
        )
        .join(Case, Case.id == JournalEntry.case_id)
        .outerjoin(Account, Account.id == Case.account_id)
        .where(JournalEntry.kind == "reply")
        .order_by(JournalEntry.id.desc())
        .limit(limit)
    )
    if unanswered:
        query = query.where(~answered)
    async with domain.reading() as session:
        rows = (await session.execute(query)).all()
    return [
        ReplyView(
            entry_id=r[0],
            at=r[1],
            case_id=r[2],
            case_number=case_number(r[2]),
            major_case_number=case_number(r[3]) if r[3] is not None else None,
            account_number=r[4],
            account_name=r[5],
            author_name=r[6],
            body=r[7],
            answered=bool(r[8]),
        )
        for r in rows
    ]
