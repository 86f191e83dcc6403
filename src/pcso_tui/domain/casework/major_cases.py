"""Major issue management: propose, approve (one child per account), statements, cascade.

See DESIGN §2 steps 5–9 and §3. The rules, in ServiceNow's terms:

- **Candidates.** An ordinary (reactive or proactive) case that is new, open or awaiting_info
  may be *proposed*. Approving it creates a NEW major case (copying description, priority,
  incident, alert and affected accounts/items) and makes the original its child. A case opened
  directly as a candidate (``open_major_candidate``, kind ``major``) becomes the major case itself.
- **Children.** Every case whose ``parent_id`` is the major case is its child. The major case
  creates one ``kind='child'`` case per affected account, with the account's primary contact;
  an account already covered by a child (for instance the original reactive case) gets none.
  ``INSERT … SELECT`` over the accounts not yet covered, plus the partial unique index
  ``uq_support_case_child_account``, make a second child per account impossible however often,
  or by however many managers at once, approval or "add accounts" runs. The open cases a
  proposal grouped (insight) become children as it is approved, so their accounts get no
  generated child. An attached reactive case keeps its kind; it is marked ``deflected`` only
  when a known outage answered it (a call that came in once the major case existed), never
  when it is one of the calls that made the major case.
- **Notices.** One notice per contact of the accounts of the active children that
  ``[delivery] notify`` names (every contact, the primary one, or some roles; see
  ``core/recipients.py``), and to the caller of an attached case, by each contact's preferred
  channel (a caller whose own case is the child is told it is linked, ``case_linked``, not that
  we found a problem), in the ``notice`` outbox with a stable ``idempotency_key``
  (``approved:<major>:<contact>``, ``statement:<statement>:<contact>``,
  ``resolved:<major>:<contact>``). Opted-out contacts and internal accounts get a ``skipped``
  notice (with the reason in ``last_error``) so the record shows who was not told and why.
- **Sync.** Parent→child, one way, for the declared fields ``SYNCED_FIELDS``: state
  (open/awaiting_info via ``set_case_state``; resolve and close cascade), priority
  (``set_case_priority``), customer-facing comments (``add_case_note``) and statements,
  resolution code and notes. Children already resolved, closed or canceled are skipped.
  Closing the major case closes its new/open/awaiting_info children.
- **Status page.** Approval declares an unplanned outage for the major case (a neutral public
  title, never the incident's; ``outages.declare_major_case_outage``), resolution ends it, and a
  reopened major case declares another.
- **Incident sync.** ``sync_incident_update`` copies an incident's journal line to the major
  cases linked to the incident, keeping its visibility. It never changes a case's state: an
  incident resolution appears on the major case as a line, and the manager resolves the major
  case (with customer-facing resolution notes, which incident notes are not), which cascades.

Fan-outs are a handful of set-based statements (INSERT … SELECT … RETURNING, Core UPDATE …
RETURNING, one executemany of events); the major case row is locked first (``FOR UPDATE`` on
PostgreSQL; SQLite's IMMEDIATE write transactions already serialize writers).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Integer, String, Text, and_, cast, exists, func, insert, literal, not_, or_, select, update
from sqlalchemy import case as sql_case
from sqlalchemy.ext.asyncio import AsyncSession

from pcso_tui.domain.casework.records import ACTIVE, MAX_SHORT, case_view, clean_text, copy_line_to_children, load_case
from pcso_tui.domain.casework.views import (
    AccountsAddedResult,
    ApprovalPreview,
    ApprovalResult,
    CascadeResult,
    CaseView,
    ProactiveCaseFacts,
    StatementResult,
)
from pcso_tui.domain.casework.wording import prefill_wording, template_wording
from pcso_tui.domain.communications.outages import (
    case_service_name,
    declare_major_case_outage,
    end_major_case_outages,
    has_open_disruption,
)
from pcso_tui.domain.core.errors import Conflict, IllegalTransition, InvalidInput, NotFound
from pcso_tui.domain.core.event_kinds import (
    CaseAttached,
    CaseIncidentSynced,
    CaseOpened,
    CaseStateChanged,
    InsightGrouped,
    MajorCaseAccountsAdded,
    MajorCaseApproved,
    MajorCaseClosed,
    MajorCaseProposed,
    MajorCaseRejected,
    MajorCaseResolved,
    StatementPosted,
)
from pcso_tui.domain.core.events import Transaction
from pcso_tui.domain.core.models import (
    Account,
    Case,
    CaseAccount,
    CaseItem,
    Contact,
    Event,
    Incident,
    JournalEntry,
    Notice,
    Statement,
    UTCDateTime,
)
from pcso_tui.domain.core.recipients import describe, notified
from pcso_tui.domain.core.roles import Actor, Permission, require
from pcso_tui.domain.core.service import Domain
from pcso_tui.domain.core.settings import CaseworkSettings
from pcso_tui.domain.core.states import (
    CaseKind,
    CaseState,
    MajorCaseState,
    check_case,
    check_major_case,
)
from pcso_tui.domain.core.versions import check_version
from pcso_tui.domain.core.views import case_number, incident_number, outage_number

# The fields a major case hands down to its children (DESIGN §3).
SYNCED_FIELDS = ("state", "priority", "comments", "resolution_code", "resolution_notes")
ACCOUNT_SOURCES = ("impact", "reported", "likely", "manual")
MAX_STATEMENT = 10_000
MAX_CODE = 64
_ACCOUNT_CHUNK = 5_000
_TERMINAL_MAJOR = ("closed", "canceled")
# The notice a customer gets when the case they raised is linked to a major case.
LINKED_NOTICE = "case_linked"

_case = Case.__table__
_account = Account.__table__
_contact = Contact.__table__
_notice = Notice.__table__
_journal = JournalEntry.__table__
_case_account = CaseAccount.__table__
_case_item = CaseItem.__table__


def _at(tx: Transaction) -> Any:
    """``tx.now`` as a typed bind (aware UTC in, naive UTC stored)."""
    return literal(tx.now, UTCDateTime())


def _is_major(case: Case) -> bool:
    return case.kind == CaseKind.MAJOR and case.major_case_state == MajorCaseState.ACCEPTED


def _require_major(case: Case) -> None:
    if not _is_major(case):
        what = "a proposed candidate" if case.major_case_state == MajorCaseState.PROPOSED else f"a {case.kind} case"
        raise IllegalTransition(f"{case_number(case.id)} is {what}, not an approved major case")


def journal_line(tx: Transaction, case_id: int, kind: str, visibility: str, body: str, **extra: Any) -> JournalEntry:
    """Add one line to a case's journal, in the caller's transaction, as ``tx.actor``."""
    entry = JournalEntry(
        case_id=case_id,
        kind=kind,
        visibility=visibility,
        body=body,
        author_id=tx.actor.user_id,
        author_name=tx.actor.name,
        created_at=tx.now,
        **extra,
    )
    tx.session.add(entry)
    return entry


# --- set-based fan-outs ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _FanOut:
    children: list[tuple[int, int]]
    notices_queued: int
    notices_skipped: int


async def _create_children(tx: Transaction, major: Case, opened_by_id: int | None) -> list[tuple[int, int]]:
    """One ``kind='child'`` case per affected account not yet covered by a child; returns
    (child id, account id) of those created. One INSERT … SELECT … RETURNING."""
    ca = _case_account
    existing = _case.alias("existing")
    covered = select(existing.c.account_id).where(existing.c.parent_id == major.id, existing.c.account_id.is_not(None))
    pc = _contact.alias("pc")
    primary = (
        select(func.min(pc.c.id)).where(pc.c.account_id == ca.c.account_id, pc.c.is_primary.is_(True)).scalar_subquery()
    )
    rows = select(
        literal(CaseKind.CHILD.value),
        literal(CaseState.NEW.value),
        literal(MajorCaseState.NONE.value),
        literal(major.priority, Integer()),
        literal(major.short_description, String()),
        literal(major.public_title, String()),
        literal(major.public_summary, Text()),
        literal("", String()),
        literal(major.channel, String()),
        ca.c.account_id,
        primary,
        literal(major.ci_id, Integer()),
        literal(major.id, Integer()),
        literal(major.incident_id, Integer()),
        _at(tx),
        literal(opened_by_id, Integer()),
        _at(tx),
        literal(False),
        literal(1, Integer()),
    ).where(ca.c.case_id == major.id, ca.c.account_id.not_in(covered))
    columns = [
        "kind",
        "state",
        "major_case_state",
        "priority",
        "short_description",
        "public_title",
        "public_summary",
        "description",
        "channel",
        "account_id",
        "contact_id",
        "ci_id",
        "parent_id",
        "incident_id",
        "opened_at",
        "opened_by_id",
        "updated_at",
        "deflected",
        "version",
    ]
    result = await tx.session.execute(
        insert(_case).from_select(columns, rows.order_by(ca.c.account_id)).returning(_case.c.id, _case.c.account_id)
    )
    created = [(cid, aid) for cid, aid in result]
    tx.record_many(
        (cid, CaseOpened(number=case_number(cid), case_kind="child", parent_id=major.id, account_id=aid))
        for cid, aid in created
    )
    return created


async def _queue_notices(
    tx: Transaction,
    parent_id: int,
    *,
    key_prefix: str,
    kind: str,
    statement_id: int | None = None,
    own_case_kind: str | None = None,
) -> tuple[int, int]:
    """One notice per contact of the accounts of the parent's active children that
    ``[delivery] notify`` names (``tx.notify``), plus the caller of an attached case (a case the
    customer opened is answered whatever the setting), unless one with the same idempotency key
    exists. Returns (queued, skipped). One INSERT … SELECT … RETURNING.

    With ``own_case_kind``, a caller whose child is the case they raised (a reactive case
    linked or grouped) gets that kind instead: they told us, so they are told their case is
    linked, not that we found a problem."""
    child = _case.alias("c")
    who = _contact.alias("who")
    own = func.max(
        sql_case((and_(child.c.kind == CaseKind.REACTIVE.value, who.c.id == child.c.contact_id), 1), else_=0)
    )
    per_contact = (
        select(who.c.id.label("contact_id"), func.min(child.c.id).label("case_id"), own.label("own"))
        .select_from(child)
        .join(who, who.c.account_id == child.c.account_id)
        .where(
            child.c.parent_id == parent_id,
            child.c.state.in_(ACTIVE),
            or_(notified(who, tx.notify), and_(child.c.kind != CaseKind.CHILD.value, who.c.id == child.c.contact_id)),
        )
        .group_by(who.c.id)
        .subquery("per_contact")
    )
    key = literal(key_prefix, String()) + cast(per_contact.c.contact_id, String())
    internal = not_(_account.c.is_external)
    existing = _notice.alias("existing")
    rows = (
        select(
            key,
            sql_case((per_contact.c.own == 1, literal(own_case_kind, String())), else_=literal(kind, String()))
            if own_case_kind
            else literal(kind, String()),
            per_contact.c.contact_id,
            _contact.c.account_id,
            per_contact.c.case_id,
            literal(statement_id, Integer()),
            _contact.c.preferred_channel,
            sql_case((or_(_contact.c.opted_out, internal), "skipped"), else_="pending"),
            literal(0, Integer()),
            _at(tx),
            sql_case(
                (_contact.c.opted_out, "contact opted out"),
                (internal, "internal account"),
                else_=None,
            ),
            _at(tx),
            literal(1, Integer()),
        )
        .select_from(per_contact)
        .join(_contact, _contact.c.id == per_contact.c.contact_id)
        .join(_account, _account.c.id == _contact.c.account_id)
        .where(~exists().where(existing.c.idempotency_key == key))
    )
    columns = [
        "idempotency_key",
        "kind",
        "contact_id",
        "account_id",
        "case_id",
        "statement_id",
        "channel",
        "state",
        "attempts",
        "next_attempt_at",
        "last_error",
        "created_at",
        "version",
    ]
    result = await tx.session.execute(insert(_notice).from_select(columns, rows).returning(_notice.c.state))
    states = [s for (s,) in result]
    skipped = sum(1 for s in states if s == "skipped")
    return len(states) - skipped, skipped


async def queue_child_notices(tx: Transaction, parent_id: int, *, key_prefix: str, kind: str) -> tuple[int, int]:
    """One notice per contact on a major case's active children (a comment copied to them).
    Returns (queued, skipped)."""
    return await _queue_notices(tx, parent_id, key_prefix=key_prefix, kind=kind)


# A pending notice queued by INSERT … SELECT from the contact table (``_pending_notices``).
_PENDING_COLUMNS = [
    "idempotency_key",
    "kind",
    "contact_id",
    "account_id",
    "case_id",
    "channel",
    "state",
    "attempts",
    "next_attempt_at",
    "created_at",
    "version",
]


def _pending_notices(tx: Transaction, key: Any, kind: str, case_id: Any) -> Any:
    """The SELECT of pending notices to ``_contact`` rows, in ``_PENDING_COLUMNS`` order; the
    caller joins and filters the contacts."""
    return select(
        key,
        literal(kind, String()),
        _contact.c.id,
        _contact.c.account_id,
        case_id,
        _contact.c.preferred_channel,
        literal("pending", String()),
        literal(0, Integer()),
        _at(tx),
        _at(tx),
        literal(1, Integer()),
    )


async def queue_account_notices(tx: Transaction, case_id: int, account_id: int, *, key_prefix: str, kind: str) -> int:
    """One notice per opted-in contact that ``[delivery] notify`` names of one external account
    about ``case_id``, by each contact's preferred channel, unless one with the same idempotency
    key exists (a case of a single account: a comment on it, its automatic closure). Returns how
    many were queued. One INSERT … SELECT … RETURNING."""
    key = literal(key_prefix, String()) + cast(_contact.c.id, String())
    existing = _notice.alias("existing")
    rows = (
        _pending_notices(tx, key, kind, literal(case_id, Integer()))
        .join(_account, _account.c.id == _contact.c.account_id)
        .where(
            _contact.c.account_id == account_id,
            notified(_contact, tx.notify),
            not_(_contact.c.opted_out),
            _account.c.is_external,
            ~exists().where(existing.c.idempotency_key == key),
        )
    )
    result = await tx.session.execute(insert(_notice).from_select(_PENDING_COLUMNS, rows).returning(_notice.c.id))
    return len(result.all())


async def queue_closed_notices(tx: Transaction, case_ids: list[int]) -> int:
    """A ``closed`` notice to the contacts of each of these cases that ``[delivery] notify``
    names, and its caller (opted-in contacts of external accounts), keyed
    ``closed:<case>:<contact>``. One INSERT … SELECT … RETURNING per 5,000 cases."""
    c = _case.alias("c")
    key = literal("closed:", String()) + cast(c.c.id, String()) + literal(":", String()) + cast(_contact.c.id, String())
    existing = _notice.alias("existing")
    queued = 0
    for start in range(0, len(case_ids), _ACCOUNT_CHUNK):
        rows = (
            _pending_notices(tx, key, "closed", c.c.id)
            .select_from(c)
            .join(
                _contact,
                or_(
                    and_(_contact.c.account_id == c.c.account_id, notified(_contact, tx.notify)),
                    _contact.c.id == c.c.contact_id,
                ),
            )
            .join(_account, _account.c.id == _contact.c.account_id)
            .where(
                c.c.id.in_(case_ids[start : start + _ACCOUNT_CHUNK]),
                not_(_contact.c.opted_out),
                _account.c.is_external,
                ~exists().where(existing.c.idempotency_key == key),
            )
        )
        result = await tx.session.execute(insert(_notice).from_select(_PENDING_COLUMNS, rows).returning(_notice.c.id))
        queued += len(result.all())
    return queued


async def _fan_out(tx: Transaction, major: Case, opened_by_id: int | None) -> _FanOut:
    children = await _create_children(tx, major, opened_by_id)
    queued, skipped = await _queue_notices(
        tx, major.id, key_prefix=f"approved:{major.id}:", kind="major_case_opened", own_case_kind=LINKED_NOTICE
    )
    return _FanOut(children, queued, skipped)


async def _copy_impact(tx: Transaction, from_case: int, to_case: int) -> None:
    """Add one case's affected accounts and items to another's (those it lacks)."""
    have_accounts = select(_case_account.c.account_id).where(_case_account.c.case_id == to_case)
    await tx.session.execute(
        insert(_case_account).from_select(
            ["case_id", "account_id", "source"],
            select(literal(to_case, Integer()), _case_account.c.account_id, _case_account.c.source).where(
                _case_account.c.case_id == from_case, _case_account.c.account_id.not_in(have_accounts)
            ),
        )
    )
    have_items = select(_case_item.c.item_id).where(_case_item.c.case_id == to_case)
    await tx.session.execute(
        insert(_case_item).from_select(
            ["case_id", "item_id"],
            select(literal(to_case, Integer()), _case_item.c.item_id).where(
                _case_item.c.case_id == from_case, _case_item.c.item_id.not_in(have_items)
            ),
        )
    )


async def _grouped_ids(session: AsyncSession, major_id: int) -> list[int]:
    """The cases a proposal from insight grouped (its ``insight.grouped`` events)."""
    payloads = await session.scalars(
        select(Event.payload).where(
            Event.subject_type == "case", Event.subject_id == major_id, Event.kind == InsightGrouped.kind
        )
    )
    return sorted({int(i) for p in payloads for i in InsightGrouped.from_stored(p or {}).case_ids or ()} - {major_id})


def _adoptable(table: Any, ids: list[int]) -> Any:
    """Of these cases, those approval makes children: open, unattached, ordinary, not proposed."""
    return and_(
        table.c.id.in_(ids),
        table.c.parent_id.is_(None),
        table.c.state.in_(ACTIVE),
        table.c.kind.in_((CaseKind.REACTIVE.value, CaseKind.PROACTIVE.value)),
        table.c.major_case_state.in_((MajorCaseState.NONE.value, MajorCaseState.REJECTED.value)),
    )


async def _adopt_grouped(tx: Transaction, major: Case) -> list[int]:
    """The open cases a proposal grouped (``insight.grouped``) become the major case's children
    as it is approved, before the fan-out: each covers its own account, which so gets no second,
    generated child. Not deflected: these calls are what made the major case. Set-based: one
    UPDATE … RETURNING, one insert of journal lines, one executemany of events."""
    ids = await _grouped_ids(tx.session, major.id)
    if not ids:
        return []
    adopted = list(
        await tx.session.scalars(
            update(_case)
            .where(_adoptable(_case, ids))
            .values(parent_id=major.id, deflected=False, updated_at=_at(tx), version=_case.c.version + 1)
            .returning(_case.c.id)
        )
    )
    if adopted:
        await tx.session.execute(
            insert(_journal),
            [
                {
                    "case_id": cid,
                    "kind": "state",
                    "visibility": "internal",
                    "body": f"Attached to major case {case_number(major.id)} as it was approved",
                    "author_id": tx.actor.user_id,
                    "author_name": tx.actor.name,
                    "created_at": tx.now,
                }
                for cid in adopted
            ],
        )
        tx.record_many(
            (cid, CaseAttached(number=case_number(cid), parent_id=major.id, by="approval", deflected=False))
            for cid in adopted
        )
    return adopted


# --- propose, approve, reject ---------------------------------------------------------------


async def propose_case_in(
    tx: Transaction,
    case: Case,
    *,
    reason: str,
    business_impact: str,
    rule: bool,
    wording: CaseworkSettings | None = None,
) -> None:
    """Propose ``case`` as a major case inside the caller's transaction, after their role check.
    Its customer-facing wording starts from the ``wording`` template where still empty."""
    number = case_number(case.id)
    if case.parent_id is not None:
        raise IllegalTransition(
            f"{number} is already a child of {case_number(case.parent_id)}; work on the major case instead"
        )
    if case.state not in ACTIVE:
        raise IllegalTransition(f"{number} is {case.state}: only new, open or awaiting_info cases can be proposed")
    check_major_case(number, case.major_case_state, MajorCaseState.PROPOSED)
    case.major_case_state = MajorCaseState.PROPOSED.value
    case.proposed_at = tx.now
    case.proposed_by_id = None if rule else tx.actor.user_id
    case.propose_reason = reason
    case.business_impact = business_impact
    case.reject_reason = None
    case.updated_at = tx.now
    journal_line(
        tx, case.id, "state", "internal", f"Proposed as a major case: {reason}\nBusiness impact: {business_impact}"
    )
    tx.record(case.id, MajorCaseProposed(number=number, reason=reason, business_impact=business_impact, by_rule=rule))
    await prefill_wording(tx, case, wording or CaseworkSettings())


async def _approve(
    tx: Transaction, case: Case, *, rule: bool, wording: CaseworkSettings | None = None
) -> ApprovalResult:
    number = case_number(case.id)
    check_major_case(number, case.major_case_state, MajorCaseState.ACCEPTED)
    if case.state not in ACTIVE:
        raise IllegalTransition(f"{number} is {case.state}: only an active case can become a major case")
    await prefill_wording(tx, case, wording or CaseworkSettings())
    session = tx.session
    decider = None if rule else tx.actor.user_id
    created = case.kind != CaseKind.MAJOR
    if created:
        major = Case(
            kind=CaseKind.MAJOR.value,
            state=CaseState.OPEN.value,
            major_case_state=MajorCaseState.ACCEPTED.value,
            priority=case.priority,
            short_description=case.short_description,
            description=case.description,
            public_title=case.public_title,
            public_summary=case.public_summary,
            channel=case.channel,
            product_id=case.product_id,
            ci_id=case.ci_id,
            incident_id=case.incident_id,
            alert_id=case.alert_id,
            opened_at=tx.now,
            opened_by_id=decider,
            updated_at=tx.now,
            proposed_at=case.proposed_at,
            proposed_by_id=case.proposed_by_id,
            propose_reason=case.propose_reason,
            business_impact=case.business_impact,
            decided_at=tx.now,
            decided_by_id=decider,
        )
        session.add(major)
        await session.flush()
        await _copy_impact(tx, case.id, major.id)
        case.parent_id = major.id
        case.major_case_state = MajorCaseState.ACCEPTED.value
        case.decided_at = tx.now
        case.decided_by_id = decider
        case.updated_at = tx.now
        journal_line(tx, case.id, "state", "internal", f"Approved: now a child of major case {case_number(major.id)}")
        tx.record(
            major.id,
            CaseOpened(
                number=case_number(major.id),
                case_kind=CaseKind.MAJOR.value,
                candidate_id=case.id,
                incident_id=major.incident_id,
            ),
        )
        tx.record(case.id, CaseAttached(number=number, parent_id=major.id, by="approval"))
    else:
        major = case
        major.major_case_state = MajorCaseState.ACCEPTED.value
        if major.state == CaseState.NEW:
            major.state = CaseState.OPEN.value
        major.decided_at = tx.now
        major.decided_by_id = decider
        major.updated_at = tx.now
    await session.flush()
    await _adopt_grouped(tx, major)
    fan = await _fan_out(tx, major, decider)
    outage_id = await declare_major_case_outage(tx, major)
    major_no = case_number(major.id)
    journal_line(
        tx,
        major.id,
        "state",
        "internal",
        f"Approved as a major case: {len(fan.children)} child cases, {fan.notices_queued} notices queued"
        f" ({fan.notices_skipped} skipped)" + (f"; {outage_number(outage_id)} on the status page" if outage_id else ""),
    )
    tx.record(
        major.id,
        MajorCaseApproved(
            number=major_no,
            candidate_id=case.id,
            created_new_major=created,
            children=len(fan.children),
            notices=fan.notices_queued,
            notices_skipped=fan.notices_skipped,
            outage=outage_number(outage_id) if outage_id else None,
            by_rule=rule,
        ),
    )
    return ApprovalResult(
        major_case_id=major.id,
        major_case_number=major_no,
        candidate_id=case.id,
        candidate_number=number,
        created_new_major=created,
        children_created=len(fan.children),
        notices_queued=fan.notices_queued,
        notices_skipped=fan.notices_skipped,
        outage_number=outage_number(outage_id) if outage_id else None,
    )


async def propose_major_case(
    domain: Domain,
    actor: Actor,
    case_id: int,
    *,
    reason: str,
    business_impact: str,
    expected_version: int | None = None,
) -> CaseView:
    """Propose a new/open/awaiting_info case as a major case (agents and managers)."""
    require(actor, Permission.PROPOSE_MAJOR_CASE)
    reason = clean_text(reason, "a reason")
    business_impact = clean_text(business_impact, "the business impact")
    async with domain.transaction(actor) as tx:
        case = await load_case(tx.session, case_id, lock=True)
        await check_version(tx.session, "case", case.id, case_number(case.id), case.version, expected_version)
        await propose_case_in(
            tx, case, reason=reason, business_impact=business_impact, rule=False, wording=domain.settings.casework
        )
        await tx.session.flush()
        return await case_view(tx.session, case.id, tx.now)


async def open_major_candidate(
    domain: Domain,
    actor: Actor,
    *,
    short_description: str,
    reason: str,
    business_impact: str,
    description: str = "",
    priority: int = 2,
    incident_id: int | None = None,
    account_numbers: Iterable[str] = (),
) -> CaseView:
    """Open a case directly as a major case candidate; approving it makes it the major case."""
    require(actor, Permission.PROPOSE_MAJOR_CASE)
    short = clean_text(short_description, "a short description", limit=MAX_SHORT)
    description = clean_text(description, "the description", required=False)
    reason = clean_text(reason, "a reason")
    business_impact = clean_text(business_impact, "the business impact")
    if priority not in (1, 2, 3, 4):
        raise InvalidInput(f"priority must be 1 (critical) to 4 (low), not {priority}")
    numbers = clean_account_numbers(account_numbers, required=False)
    async with domain.transaction(actor) as tx:
        session = tx.session
        if incident_id is not None and await session.get(Incident, incident_id) is None:
            raise NotFound(f"no incident {incident_number(incident_id)}")
        account_ids = await account_ids_for(tx, numbers)
        case = Case(
            kind=CaseKind.MAJOR.value,
            state=CaseState.NEW.value,
            major_case_state=MajorCaseState.NONE.value,
            priority=priority,
            short_description=short,
            description=description,
            channel="monitoring" if incident_id else "phone",
            incident_id=incident_id,
            opened_at=tx.now,
            opened_by_id=actor.user_id,
            updated_at=tx.now,
        )
        session.add(case)
        await session.flush()
        if account_ids:
            await session.execute(
                insert(_case_account), [{"case_id": case.id, "account_id": a, "source": "manual"} for a in account_ids]
            )
        tx.record(case.id, CaseOpened(number=case_number(case.id), case_kind=case.kind, accounts=len(account_ids)))
        await propose_case_in(
            tx, case, reason=reason, business_impact=business_impact, rule=False, wording=domain.settings.casework
        )
        await session.flush()
        return await case_view(session, case.id, tx.now)


async def approve_major_case(
    domain: Domain, actor: Actor, case_id: int, *, expected_version: int | None = None
) -> ApprovalResult:
    """Approve a proposed case, in one transaction: the major case, one child per affected
    account with its primary contact, one notice per contact, and the events."""
    require(actor, Permission.DECIDE_MAJOR_CASE)
    async with domain.transaction(actor) as tx:
        case = await load_case(tx.session, case_id, lock=True)
        await check_version(tx.session, "case", case.id, case_number(case.id), case.version, expected_version)
        return await _approve(tx, case, rule=False, wording=domain.settings.casework)


async def reject_major_case(
    domain: Domain, actor: Actor, case_id: int, *, reason: str, expected_version: int | None = None
) -> CaseView:
    """Reject a proposal; the case goes back to being an ordinary case (it may be proposed again)."""
    require(actor, Permission.DECIDE_MAJOR_CASE)
    reason = clean_text(reason, "a reason")
    async with domain.transaction(actor) as tx:
        case = await load_case(tx.session, case_id, lock=True)
        number = case_number(case.id)
        await check_version(tx.session, "case", case.id, number, case.version, expected_version)
        check_major_case(number, case.major_case_state, MajorCaseState.REJECTED)
        case.major_case_state = MajorCaseState.REJECTED.value
        case.reject_reason = reason
        case.decided_at = tx.now
        case.decided_by_id = actor.user_id
        case.updated_at = tx.now
        journal_line(tx, case.id, "state", "internal", f"Major case proposal rejected: {reason}")
        tx.record(case.id, MajorCaseRejected(number=number, reason=reason))
        await tx.session.flush()
        return await case_view(tx.session, case.id, tx.now)


async def preview_approval(domain: Domain, actor: Actor, case_id: int) -> ApprovalPreview:
    """How many child cases and notices approving this proposal will create, who is told, what
    customers will read, and whether it puts a new outage on the status page."""
    require(actor, Permission.DECIDE_MAJOR_CASE)
    async with domain.reading() as session:
        case = await load_case(session, case_id)
        number = case_number(case.id)
        check_major_case(number, case.major_case_state, MajorCaseState.ACCEPTED)
        if case.state not in ACTIVE:
            raise IllegalTransition(f"{number} is {case.state}: only an active case can become a major case")
        creates_new = case.kind != CaseKind.MAJOR
        grouped: list[int] = []
        ca = _case_account
        existing = _case.alias("existing")
        if creates_new:
            covered_ids = [case.account_id] if case.account_id is not None else []
            not_covered: Any = ca.c.account_id.not_in(covered_ids) if covered_ids else literal(True)
        else:
            not_covered = ca.c.account_id.not_in(
                select(existing.c.account_id).where(existing.c.parent_id == case.id, existing.c.account_id.is_not(None))
            )
            # The cases a proposal grouped become children as it is approved: their accounts
            # are covered, their contacts told their case is linked.
            grouped = await _grouped_ids(session, case.id)
            if grouped:
                callers = select(existing.c.account_id).where(
                    _adoptable(existing, grouped), existing.c.account_id.is_not(None)
                )
                not_covered = and_(not_covered, ca.c.account_id.not_in(callers))
        notify = domain.settings.delivery.notify
        total = await session.scalar(select(func.count()).select_from(ca).where(ca.c.case_id == case.id)) or 0
        new_accounts = select(ca.c.account_id).where(ca.c.case_id == case.id, not_covered)
        children = await session.scalar(select(func.count()).select_from(new_accounts.subquery())) or 0
        # Who the fan-out will address: the named contacts of the accounts getting a child; of
        # the original case's account with its caller (it becomes a child); and of the grouped
        # cases' accounts with their callers (they become children).
        reached: Any = and_(_contact.c.account_id.in_(new_accounts), notified(_contact, notify))
        if creates_new and case.account_id is not None:
            reached = or_(
                reached,
                and_(_contact.c.account_id == case.account_id, notified(_contact, notify)),
                _contact.c.id == literal(case.contact_id, Integer()),
            )
        if grouped:
            adopted = select(existing.c.account_id).where(_adoptable(existing, grouped))
            adopted_callers = select(existing.c.contact_id).where(
                _adoptable(existing, grouped), existing.c.contact_id.is_not(None)
            )
            reached = or_(
                reached,
                and_(_contact.c.account_id.in_(adopted), notified(_contact, notify)),
                _contact.c.id.in_(adopted_callers),
            )
        skipped = or_(_contact.c.opted_out, not_(_account.c.is_external))
        notices, notices_skipped = (
            await session.execute(
                select(
                    func.coalesce(func.sum(sql_case((skipped, 0), else_=1)), 0),
                    func.coalesce(func.sum(sql_case((skipped, 1), else_=0)), 0),
                )
                .select_from(_contact)
                .join(_account, _account.c.id == _contact.c.account_id)
                .where(reached)
            )
        ).one()
        with_contact = (
            await session.scalar(
                select(func.count(func.distinct(_contact.c.account_id))).where(
                    _contact.c.account_id.in_(new_accounts), notified(_contact, notify)
                )
            )
            or 0
        )
        title, summary = case.public_title or "", case.public_summary or ""
        if not (title and summary):
            # What approval's template will say (``prefill_wording``), so the manager sees it.
            filled = template_wording(domain.settings.casework, await case_service_name(session, case.id))
            title, summary = title or filled[0], summary or filled[1]
        return ApprovalPreview(
            case_id=case.id,
            number=number,
            short_description=case.short_description,
            propose_reason=case.propose_reason,
            business_impact=case.business_impact,
            creates_new_major=creates_new,
            accounts=total,
            children=children,
            notices=notices,
            notices_skipped=notices_skipped,
            accounts_without_contact=children - with_contact,
            declares_outage=creates_new or not await has_open_disruption(session, case.id, domain.clock()),
            public_title=title,
            public_summary=summary,
            recipients=describe(notify),
        )


# --- the workflow rule --------------------------------------------------------------------


async def apply_proactive_rule(
    domain: Domain,
    tx: Transaction,
    case: Case,
    *,
    accounts: int,
    external_accounts: int,
    items: int,
    severity: str,
) -> str:
    """Ask the workflow rules what to do with a proactive case that just opened, and do it in
    the caller's transaction. Returns the decision: none, propose or accept."""
    assert case.incident_id is not None
    facts = ProactiveCaseFacts(
        case_id=case.id,
        case_number=case_number(case.id),
        incident_id=case.incident_id,
        incident_number=incident_number(case.incident_id),
        severity=severity,
        priority=case.priority,
        accounts=accounts,
        external_accounts=external_accounts,
        items=items,
    )
    answer = domain.extensions.proactive_case_decision(facts)
    if answer is None:
        return "none"
    decision, _, reason = str(answer).partition(":")
    decision, reason = decision.strip(), reason.strip()
    if decision not in ("none", "propose", "accept"):
        raise InvalidInput(f"a workflow rule answered {answer!r}; expected none, propose or accept")
    if decision == "none":
        return decision
    reason = reason or f"rule: {external_accounts} accounts affected"
    impact = (
        f"{external_accounts} customer accounts ({accounts} in all) and {items} install base items affected by "
        f"{facts.incident_number} ({severity})"
    )
    await propose_case_in(tx, case, reason=reason, business_impact=impact, rule=True, wording=domain.settings.casework)
    if decision == "accept":
        await tx.session.flush()
        await _approve(tx, case, rule=True, wording=domain.settings.casework)
    return decision


# --- after approval: accounts, attached cases, statements ---------------------------------------


def clean_account_numbers(numbers: Iterable[str], *, required: bool = True) -> list[str]:
    cleaned = list(dict.fromkeys(n.strip() for n in numbers if n and n.strip()))
    if required and not cleaned:
        raise InvalidInput("give at least one account number")
    return cleaned


async def account_ids_for(tx: Transaction, numbers: list[str]) -> list[int]:
    """Account ids for these numbers; NotFound naming every unknown number."""
    found: dict[str, int] = {}
    for start in range(0, len(numbers), _ACCOUNT_CHUNK):
        chunk = numbers[start : start + _ACCOUNT_CHUNK]
        rows = await tx.session.execute(select(_account.c.number, _account.c.id).where(_account.c.number.in_(chunk)))
        found.update({number: aid for number, aid in rows})
    unknown = [n for n in numbers if n not in found]
    if unknown:
        shown = [f"unknown account {n!r}" for n in unknown[:50]]
        if len(unknown) > 50:
            shown.append(f"… and {len(unknown) - 50} more")
        raise NotFound(
            f"{len(unknown)} of {len(numbers)} account numbers are unknown; nothing was added", details=shown
        )
    return [found[n] for n in numbers]


async def add_affected_accounts(
    domain: Domain, actor: Actor, major_case_id: int, account_numbers: Iterable[str], *, source: str = "manual"
) -> AccountsAddedResult:
    """Add affected accounts to a major case (or a proposed candidate). On an approved major
    case each new account gets its child case and its contact a notice; accounts already
    affected get nothing new."""
    require(actor, Permission.MANAGE_CHILD_CASES)
    if source not in ACCOUNT_SOURCES:
        raise InvalidInput(f"unknown source {source!r}; one of: {', '.join(ACCOUNT_SOURCES)}")
    numbers = clean_account_numbers(account_numbers)
    async with domain.transaction(actor) as tx:
        session = tx.session
        case = await load_case(session, major_case_id, lock=True)
        number = case_number(case.id)
        if not (_is_major(case) or case.major_case_state == MajorCaseState.PROPOSED):
            raise IllegalTransition(f"{number} is neither a major case nor a proposed one")
        if case.state not in ACTIVE:
            raise IllegalTransition(f"{number} is {case.state}: accounts are added to active cases only")
        ids = await account_ids_for(tx, numbers)
        present = set(
            await session.scalars(select(_case_account.c.account_id).where(_case_account.c.case_id == case.id))
        )
        new_ids = [a for a in ids if a not in present]
        if new_ids:
            await session.execute(
                insert(_case_account), [{"case_id": case.id, "account_id": a, "source": source} for a in new_ids]
            )
        fan = _FanOut([], 0, 0)
        if _is_major(case):
            fan = await _fan_out(tx, case, actor.user_id)
        case.updated_at = tx.now
        tx.record(
            case.id,
            MajorCaseAccountsAdded(
                number=number,
                accounts_added=len(new_ids),
                accounts_already=len(ids) - len(new_ids),
                children=len(fan.children),
                notices=fan.notices_queued,
                notices_skipped=fan.notices_skipped,
                source=source,
            ),
        )
        return AccountsAddedResult(
            case_id=case.id,
            number=number,
            accounts_added=len(new_ids),
            accounts_already=len(ids) - len(new_ids),
            children_created=len(fan.children),
            notices_queued=fan.notices_queued,
            notices_skipped=fan.notices_skipped,
        )


async def attach_case(domain: Domain, actor: Actor, major_case_id: int, case_id: int) -> CaseView:
    """Make an existing reactive or proactive case a child of a major case. A customer call
    (reactive case) that came in once the major case was approved is ``deflected``: the known
    outage answered it. Its accounts join the major case's, and accounts new to the major case
    get their children and notices as if they had been added."""
    require(actor, Permission.MANAGE_CHILD_CASES)
    async with domain.transaction(actor) as tx:
        return await attach_case_in(tx, major_case_id, case_id)


async def attach_case_in(tx: Transaction, major_case_id: int, case_id: int, *, deflect: bool | None = None) -> CaseView:
    """``attach_case`` inside the caller's transaction, after the caller's own role check
    (insight lets an agent attach a caller to a known outage of theirs).

    ``deflect`` says whether a customer call attached counts as deflected: True when a known
    outage answered it at intake, False when it is one of the calls that made the major case
    (a group, a topic), None to decide by time (it came in once the major case was approved).
    Only reactive cases are ever deflected."""
    if major_case_id == case_id:
        raise InvalidInput(f"{case_number(case_id)} cannot be attached to itself")
    session = tx.session
    # Lock both rows in id order so two attaches never wait on each other crosswise.
    locked = {
        c.id: c
        for c in await session.scalars(
            select(Case).where(Case.id.in_([major_case_id, case_id])).order_by(Case.id).with_for_update()
        )
    }
    for cid in (major_case_id, case_id):
        if cid not in locked:
            raise NotFound(f"no case {case_number(cid)}")
    major, case = locked[major_case_id], locked[case_id]
    _require_major(major)
    major_no, number = case_number(major.id), case_number(case.id)
    if major.state not in ACTIVE:
        raise IllegalTransition(f"{major_no} is {major.state}: cases are attached to active major cases only")
    if case.kind not in (CaseKind.REACTIVE, CaseKind.PROACTIVE):
        raise IllegalTransition(f"{number} is a {case.kind} case; only reactive or proactive cases can be attached")
    if case.parent_id is not None:
        raise Conflict(f"{number} is already a child of {case_number(case.parent_id)}")
    if case.state not in ACTIVE:
        raise IllegalTransition(f"{number} is {case.state}: only active cases can be attached")
    if case.major_case_state == MajorCaseState.PROPOSED:
        raise IllegalTransition(f"{number} is itself proposed as a major case: reject the proposal first")
    case.parent_id = major.id
    if deflect is None:
        deflect = major.decided_at is not None and case.opened_at >= major.decided_at
    case.deflected = case.kind == CaseKind.REACTIVE and deflect
    case.updated_at = tx.now
    await session.flush()
    await _copy_impact(tx, case.id, major.id)
    fan = await _fan_out(tx, major, tx.actor.user_id)
    await _supersede_generated_child(tx, major, case)
    journal_line(tx, case.id, "state", "internal", f"Attached to major case {major_no}")
    journal_line(tx, major.id, "state", "internal", f"{number} attached as a child")
    major.updated_at = tx.now
    tx.record(
        case.id,
        CaseAttached(
            number=number,
            parent_id=major.id,
            deflected=case.deflected,
            children=len(fan.children),
            notices=fan.notices_queued,
            notices_skipped=fan.notices_skipped,
        ),
    )
    await session.flush()
    return await case_view(session, case.id, tx.now)


async def _supersede_generated_child(tx: Transaction, major: Case, case: Case) -> list[int]:
    """A customer's own case attached to a major case becomes its account's child: the child
    the approval generated for that account, if nobody has worked it yet (still new) and it
    reaches the same contact (or none), is canceled, so the account keeps one open case for the
    issue. A generated child for another contact stays: that contact keeps hearing."""
    if case.account_id is None:
        return []
    same_contact = (
        or_(_case.c.contact_id.is_(None), _case.c.contact_id == case.contact_id)
        if case.contact_id is not None
        else _case.c.contact_id.is_(None)
    )
    superseded = list(
        await tx.session.scalars(
            update(_case)
            .where(
                _case.c.parent_id == major.id,
                _case.c.kind == CaseKind.CHILD.value,
                _case.c.account_id == case.account_id,
                _case.c.state == CaseState.NEW.value,
                _case.c.id != case.id,
                same_contact,
            )
            .values(
                state=CaseState.CANCELED.value,
                resolution_notes=f"Superseded by the customer's own case {case_number(case.id)}",
                updated_at=_at(tx),
                version=_case.c.version + 1,
            )
            .returning(_case.c.id)
        )
    )
    tx.record_many(
        (
            cid,
            CaseStateChanged(number=case_number(cid), from_="new", to="canceled", by="superseded", parent_id=major.id),
        )
        for cid in superseded
    )
    return superseded


async def post_statement(domain: Domain, actor: Actor, major_case_id: int, body: str) -> StatementResult:
    """Write a customer-facing statement on a major case: copied to every active child and
    queued as a notice to each of their contacts, in one transaction."""
    require(actor, Permission.WRITE_STATEMENT)
    text = clean_text(body, "the statement", limit=MAX_STATEMENT)
    async with domain.transaction(actor) as tx:
        session = tx.session
        major = await load_case(session, major_case_id, lock=True)
        _require_major(major)
        number = case_number(major.id)
        if major.state in _TERMINAL_MAJOR:
            raise IllegalTransition(f"{number} is {major.state} and takes no more statements")
        statement = Statement(case_id=major.id, body=text, author_id=actor.user_id, created_at=tx.now)
        session.add(statement)
        await session.flush()
        entry = journal_line(tx, major.id, "statement", "customer", text, statement_id=statement.id)
        major.updated_at = tx.now
        await session.flush()
        reached = await copy_line_to_children(tx, major.id, entry.id)
        queued, skipped = await _queue_notices(
            tx, major.id, key_prefix=f"statement:{statement.id}:", kind="statement", statement_id=statement.id
        )
        tx.record(
            major.id,
            StatementPosted(
                number=number, statement_id=statement.id, children=reached, notices=queued, notices_skipped=skipped
            ),
        )
        return StatementResult(
            statement_id=statement.id,
            major_case_id=major.id,
            major_case_number=number,
            children_reached=reached,
            notices_queued=queued,
            notices_skipped=skipped,
        )


# --- resolve and close: the cascade -----------------------------------------------------------


async def _children_count(tx: Transaction, major_id: int) -> int:
    return await tx.session.scalar(select(func.count()).select_from(_case).where(_case.c.parent_id == major_id)) or 0


async def resolve_major_case(
    domain: Domain,
    actor: Actor,
    major_case_id: int,
    *,
    code: str,
    notes: str,
    expected_version: int | None = None,
) -> CascadeResult:
    """Resolve a major case: its resolution code and notes go to every active child, which is
    resolved too, and each child's contact is told. Terminal children are left alone."""
    require(actor, Permission.RESOLVE_MAJOR_CASE)
    code = clean_text(code, "a resolution code", limit=MAX_CODE)
    notes = clean_text(notes, "resolution notes")
    async with domain.transaction(actor) as tx:
        session = tx.session
        major = await load_case(session, major_case_id, lock=True)
        _require_major(major)
        number = case_number(major.id)
        await check_version(session, "case", major.id, number, major.version, expected_version)
        check_case(number, major.state, CaseState.RESOLVED)
        major.state = CaseState.RESOLVED.value
        major.resolution_code = code
        major.resolution_notes = notes
        major.resolved_at = tx.now
        major.updated_at = tx.now
        entry = journal_line(tx, major.id, "resolution", "customer", f"Resolved ({code}): {notes}")
        await session.flush()
        await copy_line_to_children(tx, major.id, entry.id)
        queued, skipped = await _queue_notices(tx, major.id, key_prefix=f"resolved:{major.id}:", kind="resolved")
        ended = await end_major_case_outages(tx, major.id)
        resolved = list(
            await session.scalars(
                update(_case)
                .where(_case.c.parent_id == major.id, _case.c.state.in_(ACTIVE))
                .values(
                    state=CaseState.RESOLVED.value,
                    resolution_code=code,
                    resolution_notes=notes,
                    resolved_at=tx.now,
                    updated_at=tx.now,
                    version=_case.c.version + 1,
                )
                .returning(_case.c.id)
            )
        )
        total = await _children_count(tx, major.id)
        tx.record_many(
            (cid, CaseStateChanged(to="resolved", by="cascade", parent_id=major.id, code=code)) for cid in resolved
        )
        tx.record(
            major.id,
            MajorCaseResolved(
                number=number,
                code=code,
                children=len(resolved),
                children_skipped=total - len(resolved),
                notices=queued,
                notices_skipped=skipped,
                outages_ended=len(ended),
            ),
        )
        return CascadeResult(
            major_case_id=major.id,
            major_case_number=number,
            state=major.state,
            children_changed=len(resolved),
            children_skipped=total - len(resolved),
            notices_queued=queued,
            notices_skipped=skipped,
            outages_ended=len(ended),
        )


async def close_major_case(
    domain: Domain, actor: Actor, major_case_id: int, *, expected_version: int | None = None
) -> CascadeResult:
    """Close a resolved major case and its new/open/awaiting_info children (resolved, closed
    and canceled children are left as they are). Children closed here take the major case's
    resolution code and notes unless they have their own."""
    require(actor, Permission.RESOLVE_MAJOR_CASE)
    async with domain.transaction(actor) as tx:
        session = tx.session
        major = await load_case(session, major_case_id, lock=True)
        _require_major(major)
        number = case_number(major.id)
        await check_version(session, "case", major.id, number, major.version, expected_version)
        check_case(number, major.state, CaseState.CLOSED)
        major.state = CaseState.CLOSED.value
        major.closed_at = tx.now
        major.updated_at = tx.now
        await session.flush()
        closed = list(
            await session.scalars(
                update(_case)
                .where(_case.c.parent_id == major.id, _case.c.state.in_(ACTIVE))
                .values(
                    state=CaseState.CLOSED.value,
                    resolution_code=func.coalesce(_case.c.resolution_code, major.resolution_code),
                    resolution_notes=func.coalesce(_case.c.resolution_notes, major.resolution_notes),
                    closed_at=tx.now,
                    updated_at=tx.now,
                    version=_case.c.version + 1,
                )
                .returning(_case.c.id)
            )
        )
        total = await _children_count(tx, major.id)
        journal_line(tx, major.id, "state", "internal", f"Closed; {len(closed)} active child cases closed with it")
        tx.record_many((cid, CaseStateChanged(to="closed", by="cascade", parent_id=major.id)) for cid in closed)
        tx.record(major.id, MajorCaseClosed(number=number, children=len(closed), children_skipped=total - len(closed)))
        return CascadeResult(
            major_case_id=major.id,
            major_case_number=number,
            state=major.state,
            children_changed=len(closed),
            children_skipped=total - len(closed),
            notices_queued=0,
            notices_skipped=0,
        )


# --- incident → major case ------------------------------------------------------------------


async def sync_incident_update(tx: Transaction, incident_id: int, entry_id: int) -> int:
    """Copy one incident journal entry (progress, ETA, state, resolution, work note) to the
    major cases linked to the incident, inside the caller's transaction. Work notes stay
    internal. Returns how many major cases received it.

    Linked: approved major cases, not closed or canceled, whose incident is this one or that
    have a child carrying it (the candidate they were approved from, or an attached case).
    Idempotent: a case that already has a copy of the entry gets no second one. Nothing
    cascades to children and no state changes: an incident resolution shows on the major
    case, whose manager then resolves it with customer-facing notes (``resolve_major_case``).
    """
    entry = await tx.session.get(JournalEntry, entry_id)
    if entry is None or entry.incident_id != incident_id:
        raise InvalidInput(f"journal entry {entry_id} is not on {incident_number(incident_id)}")
    major = _case.alias("m")
    child = _case.alias("ch")
    copied = _journal.alias("copied")
    linked = select(major.c.id).where(
        major.c.kind == CaseKind.MAJOR.value,
        major.c.major_case_state == MajorCaseState.ACCEPTED.value,
        major.c.state.not_in(_TERMINAL_MAJOR),
        or_(
            major.c.incident_id == incident_id,
            exists().where(child.c.parent_id == major.c.id, child.c.incident_id == incident_id),
        ),
        ~exists().where(copied.c.case_id == major.c.id, copied.c.source_entry_id == entry.id),
    )
    ids = list(await tx.session.scalars(linked.order_by(major.c.id)))
    if not ids:
        return 0
    await tx.session.execute(
        insert(_journal),
        [
            {
                "case_id": cid,
                "incident_id": None,
                "kind": entry.kind,
                "visibility": entry.visibility,
                "body": entry.body,
                "author_id": entry.author_id,
                "author_name": entry.author_name,
                "created_at": entry.created_at,
                "statement_id": None,
                "source_entry_id": entry.id,
            }
            for cid in ids
        ],
    )
    tx.record_many(
        (
            cid,
            CaseIncidentSynced(
                incident_id=incident_id, entry_id=entry.id, entry_kind=entry.kind, visibility=entry.visibility
            ),
        )
        for cid in ids
    )
    return len(ids)
