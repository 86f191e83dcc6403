"""Proposals that repeat another: the same outage proposed twice (a replayed rule, two agents).

``duplicate_proposals`` flags each open proposal that shares its incident with another open
proposal or active major case, or whose title is near-identical to one (rapidfuzz, the same
normalisation as ``insight``); the manager and agent queues show the other's number.
``merge_proposal`` folds a proposal into the active major case it repeats (rejected as a
duplicate and attached, in one transaction). (Why a case cannot be proposed at all:
``proposal_rules.proposal_refusal``.)
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rapidfuzz import fuzz, process
from sqlalchemy import and_, or_, select

from pcso_tui.domain.casework import major_cases
from pcso_tui.domain.casework.insight import normalize
from pcso_tui.domain.casework.records import ACTIVE, load_case
from pcso_tui.domain.casework.views import CaseView, DuplicateProposal
from pcso_tui.domain.core.event_kinds import MajorCaseRejected
from pcso_tui.domain.core.models import Case
from pcso_tui.domain.core.roles import Actor, Permission, require
from pcso_tui.domain.core.service import Domain
from pcso_tui.domain.core.states import CaseKind, MajorCaseState, check_major_case
from pcso_tui.domain.core.views import case_number, incident_number

# Titles at least this similar (0–1, token sort ratio of the normalised words) name one outage.
TITLE_THRESHOLD = 0.9
# Open proposals and major cases compared at once (a queue, not the archive).
MAX_COMPARED = 1000


@dataclass(frozen=True, slots=True)
class _Open:
    id: int
    proposal: bool
    incident_id: int | None
    text: str


def _pairs(rows: Sequence[_Open]) -> dict[int, DuplicateProposal]:
    """Runs on a worker thread: for each proposal, the earliest other it repeats (a major case first)."""
    texts = [r.text for r in rows]
    found: dict[int, DuplicateProposal] = {}
    by_incident: dict[int, list[_Open]] = {}
    for r in rows:
        if r.incident_id is not None:
            by_incident.setdefault(r.incident_id, []).append(r)
    for r in rows:
        if not r.proposal:
            continue
        candidates: list[tuple[_Open, str]] = []
        if r.incident_id is not None:
            same = f"same incident {incident_number(r.incident_id)}"
            candidates += [(o, same) for o in by_incident.get(r.incident_id, []) if o.id != r.id]
        if r.text:
            hits = process.extract(
                r.text,
                texts,
                scorer=fuzz.token_sort_ratio,
                processor=None,
                score_cutoff=TITLE_THRESHOLD * 100,
                limit=None,
            )
            candidates += [
                (rows[i], f"near-identical title ({score / 100:.2f})") for _, score, i in hits if rows[i].id != r.id
            ]
        if candidates:
            other, reason = min(candidates, key=lambda c: (c[0].proposal, c[0].id))
            found[r.id] = DuplicateProposal(
                case_id=r.id,
                other_id=other.id,
                other_number=case_number(other.id),
                other_is_major=not other.proposal,
                reason=reason,
            )
    return found


async def duplicate_proposals(domain: Domain, actor: Actor) -> dict[int, DuplicateProposal]:
    """Each open proposal that repeats another open proposal or active major case, by its id."""
    require(actor, Permission.VIEW_CASES)
    proposal = and_(Case.major_case_state == MajorCaseState.PROPOSED.value, Case.state.in_(ACTIVE))
    major = and_(
        Case.kind == CaseKind.MAJOR.value,
        Case.major_case_state == MajorCaseState.ACCEPTED.value,
        Case.state.in_(ACTIVE),
    )
    query = (
        select(Case.id, Case.major_case_state, Case.incident_id, Case.short_description)
        .where(or_(proposal, major))
        .order_by(Case.id.desc())
        .limit(MAX_COMPARED)
    )
    async with domain.reading() as session:
        result: list[Any] = list(await session.execute(query))
    rows = [
        _Open(
            id=r.id,
            proposal=r.major_case_state == MajorCaseState.PROPOSED.value,
            incident_id=r.incident_id,
            text=normalize(r.short_description),
        )
        for r in reversed(result)
    ]
    return await asyncio.to_thread(_pairs, rows)


async def merge_proposal(domain: Domain, actor: Actor, case_id: int, major_case_id: int) -> CaseView:
    """A proposal that repeats an active major case: reject it as a duplicate and attach its
    case to that major case, in one transaction (both or neither)."""
    require(actor, Permission.DECIDE_MAJOR_CASE)
    require(actor, Permission.MANAGE_CHILD_CASES)
    async with domain.transaction(actor) as tx:
        case = await load_case(tx.session, case_id, lock=True)
        number, major_no = case_number(case.id), case_number(major_case_id)
        check_major_case(number, case.major_case_state, MajorCaseState.REJECTED)
        reason = f"duplicate of major case {major_no}"
        case.major_case_state = MajorCaseState.REJECTED.value
        case.reject_reason = reason
        case.decided_at = tx.now
        case.decided_by_id = actor.user_id
        case.updated_at = tx.now
        major_cases.journal_line(tx, case.id, "state", "internal", f"Major case proposal rejected: {reason}")
        tx.record(case.id, MajorCaseRejected(number=number, reason=reason))
        await tx.session.flush()
        return await major_cases.attach_case_in(tx, major_case_id, case.id)
