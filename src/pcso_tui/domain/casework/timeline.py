"""The major case timeline and the manager's queue: read-only queries over cases and events.

The timeline of a case is its events in time order, each made into a ``TimelineEntry``: the
proposal (on the candidate it was approved from, if any), the approval with its child and
notice counts, incident updates synced from the incident (with their text), statements (with
their text), notes, state changes, resolution and closing with what happened to the children,
and notice deliveries (``notices.delivered`` is written per batch on the major case).

Turning one event into an entry (``entry_from_event``) and merging dense stretches into one line
(``group_timeline``: "12 notices delivered" from 10:02 to 10:04) are pure and live in
``timeline_entries.py``, which screens import before the database stack is loaded.
"""

from __future__ import annotations

from sqlalchemy import and_, func, or_, select
from sqlalchemy import case as sql_case
from sqlalchemy.orm import aliased

from pcso_tui.domain.casework.records import ACTIVE, MAX_PAGE, case_rows_query, case_view_from_row
from pcso_tui.domain.casework.timeline_entries import CANDIDATE_KINDS, entry_from_event
from pcso_tui.domain.casework.views import CaseTimeline, MajorQueueRow
from pcso_tui.domain.core.errors import InvalidInput, NotFound
from pcso_tui.domain.core.event_kinds import (
    CaseIncidentSynced,
    CaseNoted,
    CaseOpened,
    MajorCaseApproved,
    StatementPosted,
)
from pcso_tui.domain.core.events import event_view
from pcso_tui.domain.core.models import Case, Event, Incident, JournalEntry, Statement, User
from pcso_tui.domain.core.roles import Actor, Permission, require
from pcso_tui.domain.core.service import Domain
from pcso_tui.domain.core.states import CaseKind, MajorCaseState
from pcso_tui.domain.core.views import case_number

DEFAULT_LIMIT = 500


async def case_timeline(domain: Domain, actor: Actor, case_id: int, *, limit: int = DEFAULT_LIMIT) -> CaseTimeline:
    """The newest ``limit`` events of a case (and its candidate's proposal), oldest first, as
    timeline entries with the statement and journal text they point at. Staff only."""
    require(actor, Permission.VIEW_CASES)
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"limit must be between 1 and {MAX_PAGE}")
    async with domain.reading() as session:
        case = await session.get(Case, case_id)
        if case is None:
            raise NotFound(f"no case {case_number(case_id)}")
        own = Event.subject_type == "case"
        rows = list(
            await session.scalars(
                select(Event).where(own, Event.subject_id == case.id).order_by(Event.id.desc()).limit(limit + 1)
            )
        )
        truncated = len(rows) > limit
        events = [event_view(e) for e in reversed(rows[:limit])]
        candidates = sorted(
            {
                c
                for e in events
                if isinstance(p := e.typed(), CaseOpened | MajorCaseApproved)
                and (c := p.candidate_id) is not None
                and c != case.id
            }
        )
        if candidates:
            more = await session.scalars(
                select(Event)
                .where(own, Event.subject_id.in_(candidates), Event.kind.in_(CANDIDATE_KINDS))
                .order_by(Event.id)
            )
            events.extend(event_view(e) for e in more)
        payloads = [e.typed() for e in events]
        entry_ids = {
            p.entry_id for p in payloads if isinstance(p, CaseNoted | CaseIncidentSynced) and p.entry_id is not None
        }
        statement_ids = {
            p.statement_id for p in payloads if isinstance(p, StatementPosted) and p.statement_id is not None
        }
        texts: dict[int, str] = {}
        if entry_ids:
            query = select(JournalEntry.id, JournalEntry.body).where(JournalEntry.id.in_(entry_ids))
            found = await session.execute(query)
            texts = {entry_id: body for entry_id, body in found}
        statements: dict[int, str] = {}
        if statement_ids:
            found = await session.execute(select(Statement.id, Statement.body).where(Statement.id.in_(statement_ids)))
            statements = {statement_id: body for statement_id, body in found}
        entries = sorted(
            (entry_from_event(e, texts=texts, statements=statements) for e in events),
            key=lambda x: (x.at, x.event_id),
        )
        return CaseTimeline(
            case_id=case.id,
            number=case_number(case.id),
            related_case_ids=tuple(candidates),
            entries=tuple(entries),
            truncated=truncated,
        )


async def list_major_queue(domain: Domain, actor: Actor, *, limit: int = 200) -> list[MajorQueueRow]:
    """The major case manager's queue: active proposals first (they wait for a decision), then
    approved major cases not yet closed, most urgent first. Staff only."""
    require(actor, Permission.VIEW_CASES)
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"limit must be between 1 and {MAX_PAGE}")
    now = domain.clock()
    ch = aliased(Case)
    children_total = select(func.count()).select_from(ch).where(ch.parent_id == Case.id).scalar_subquery()
    children_active = (
        select(func.count()).select_from(ch).where(ch.parent_id == Case.id, ch.state.in_(ACTIVE)).scalar_subquery()
    )
    proposer = aliased(User)
    proposed = and_(Case.major_case_state == MajorCaseState.PROPOSED.value, Case.state.in_(ACTIVE))
    major = and_(
        Case.kind == CaseKind.MAJOR.value,
        Case.major_case_state == MajorCaseState.ACCEPTED.value,
        Case.state.not_in(("closed", "canceled")),
    )
    query = (
        case_rows_query(now)
        .add_columns(
            Case.propose_reason,
            Case.business_impact,
            proposer.name.label("proposer_name"),
            Incident.title.label("incident_title"),
            children_total.label("children_total"),
            children_active.label("children_active"),
        )
        .outerjoin(proposer, proposer.id == Case.proposed_by_id)
        .where(or_(proposed, major))
        .order_by(sql_case((proposed, 0), else_=1), Case.priority, Case.opened_at, Case.id)
        .limit(limit)
    )
    async with domain.reading() as session:
        return [
            MajorQueueRow(
                case=case_view_from_row(row, now),
                propose_reason=row.propose_reason,
                business_impact=row.business_impact,
                proposed_by=row.proposer_name,
                incident_title=row.incident_title,
                children_total=row.children_total or 0,
                children_active=row.children_active or 0,
            )
            for row in await session.execute(query)
        ]
