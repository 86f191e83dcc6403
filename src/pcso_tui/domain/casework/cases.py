"""Cases: proactive and reactive cases, their states and journals, and the queries screens read.

- A **proactive case** is opened by an operator on an incident (DESIGN §2 step 4). It carries
  the incident, its worst alert, a priority from the incident's severity and the affected
  install base items and accounts (impact, written set-based by ``impact.insert_case_impact``).
  One active proactive case per incident. The workflow rule (a pluggy hook) may then propose it
  as a major case, or accept it at once, in the same transaction.
- A **reactive case** is a customer's call, logged by an agent.
- The **journal** keeps work notes (internal) apart from comments customers can read; every
  line carries its visibility, and customers only ever get the customer-visible ones.

Major cases (propose, approve, statements, cascade) live in ``major_cases``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import timedelta
from enum import StrEnum
from typing import overload

from sqlalchemy import case as sql_case
from sqlalchemy import func, insert, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from pcso_tui.domain.casework import major_cases
from pcso_tui.domain.casework.records import (
    ACTIVE,
    MAX_PAGE,
    MAX_SHORT,
    case_rows_query,
    case_view,
    case_view_from_row,
    clean_text,
    copy_line_to_children,
    load_case,
    require_own_case,
)
from pcso_tui.domain.casework.views import (
    AffectedAccountView,
    AffectedItemView,
    AutoCloseResult,
    CaseAlertView,
    CaseDetail,
    CaseIncidentView,
    CaseView,
    JournalLineView,
    StatementView,
    journal_label,
)
from pcso_tui.domain.casework.wording import prefill_wording
from pcso_tui.domain.communications.delivery import GENERIC_TITLE
from pcso_tui.domain.communications.outages import declare_major_case_outage
from pcso_tui.domain.core.errors import Conflict, IllegalTransition, InvalidInput, NotFound, PermissionDenied
from pcso_tui.domain.core.event_kinds import CaseNoted, CaseOpened, CasePriorityChanged, CaseStateChanged
from pcso_tui.domain.core.events import Transaction
from pcso_tui.domain.core.models import (
    Account,
    Alert,
    Case,
    CaseAccount,
    CaseItem,
    ConfigurationItem,
    Contact,
    Incident,
    IncidentCI,
    InstallBaseItem,
    JournalEntry,
    Notice,
    Product,
    Statement,
    User,
)
from pcso_tui.domain.core.roles import Actor, Permission, Role, require, require_account
from pcso_tui.domain.core.service import Domain
from pcso_tui.domain.core.states import (
    ACTIVE_INCIDENT_STATES,
    PRIORITY_NAMES,
    CaseKind,
    CaseState,
    MajorCaseState,
    Severity,
    check_case,
    check_major_case,
    priority_for,
)
from pcso_tui.domain.core.versions import check_version
from pcso_tui.domain.core.views import case_number, incident_number
from pcso_tui.domain.install_base import impact

REACTIVE_CHANNELS = ("phone", "email", "portal", "web")

# What a journal line is, in words, and who can read it.

_SEVERITY_RANK = sql_case(
    {s.value: s.rank for s in Severity},
    value=Alert.severity,
    else_=0,
)


@overload
def _enum(value: str, allowed: type[StrEnum], what: str) -> str: ...
@overload
def _enum(value: str | None, allowed: type[StrEnum], what: str) -> str | None: ...
def _enum(value: str | None, allowed: type[StrEnum], what: str) -> str | None:
    if value is None:
        return None
    try:
        return allowed(value).value
    except ValueError:
        raise InvalidInput(f"unknown {what} {value!r}; one of: {', '.join(v.value for v in allowed)}") from None


# The notice a customer-visible comment from staff sends to the case's contacts.
COMMENT_NOTICE = "case_comment"
# How often the delivery worker runs ``close_resolved_cases`` (seconds).
AUTO_CLOSE_EVERY = 600.0

# --- commands ------------------------------------------------------------------------------


async def open_proactive_case(
    domain: Domain, actor: Actor, incident_id: int, *, alert_id: int | None = None
) -> CaseView:
    """Open the proactive case of an incident (operator), with its impact; then the workflow
    rule decides, in the same transaction, whether to propose or accept it as a major case."""
    require(actor, Permission.OPEN_PROACTIVE_CASE)
    async with domain.transaction(actor) as tx:
        case = await open_proactive_case_in(domain, tx, incident_id, alert_id=alert_id)
        return await case_view(tx.session, case.id, tx.now)


async def open_proactive_case_in(
    domain: Domain, tx: Transaction, incident_id: int, *, alert_id: int | None = None, by_rule: bool = False
) -> Case:
    """``open_proactive_case`` inside the caller's transaction, after the caller's role check
    (the workflow rule opens it as the process that changed the incident). When the impact
    holds exactly one external account, the case carries that account and its primary contact:
    one customer can be told without a major case."""
    session = tx.session
    # The incident row lock keeps two operators from opening two cases at once (PostgreSQL).
    incident = (
        await session.execute(select(Incident).where(Incident.id == incident_id).with_for_update())
    ).scalar_one_or_none()
    if incident is None:
        raise NotFound(f"no incident {incident_number(incident_id)}")
    inc_no = incident_number(incident.id)
    if incident.state not in {s.value for s in ACTIVE_INCIDENT_STATES}:
        raise IllegalTransition(f"{inc_no} is {incident.state}: proactive cases are opened on active incidents")
    existing = await session.scalar(
        select(func.min(Case.id)).where(
            Case.incident_id == incident.id, Case.kind == CaseKind.PROACTIVE, Case.state.in_(ACTIVE)
        )
    )
    if existing is not None:
        raise Conflict(f"{inc_no} already has an open proactive case, {case_number(existing)}")

    alert: Alert | None
    if alert_id is not None:
        alert = await session.get(Alert, alert_id)
        if alert is None:
            raise NotFound(f"no alert {alert_id}")
        if alert.incident_id != incident.id:
            raise InvalidInput(f"alert {alert_id} is not part of {inc_no}")
    else:
        alert = (
            await session.execute(
                select(Alert)
                .where(Alert.incident_id == incident.id)
                .order_by(_SEVERITY_RANK.desc(), (Alert.state == "closed").asc(), Alert.id)
                .limit(1)
            )
        ).scalar_one_or_none()

    description = f"Opened on {inc_no} ({incident.severity})."
    if alert is not None:
        description += f"\nAlert {alert.id}: {alert.name} ({alert.severity}) {alert.summary}".rstrip()
    case = Case(
        kind=CaseKind.PROACTIVE.value,
        state=CaseState.NEW.value,
        major_case_state=MajorCaseState.NONE.value,
        priority=priority_for(incident.severity),
        short_description=" ".join(incident.title.splitlines())[:MAX_SHORT] or inc_no,
        description=description,
        channel="monitoring",
        ci_id=incident.root_ci_id if incident.root_ci_id is not None else (alert.ci_id if alert else None),
        incident_id=incident.id,
        alert_id=alert.id if alert else None,
        opened_at=tx.now,
        opened_by_id=tx.actor.user_id,
        updated_at=tx.now,
    )
    session.add(case)
    await session.flush()

    ci_ids = list(await session.scalars(select(IncidentCI.ci_id).where(IncidentCI.incident_id == incident.id)))
    if not ci_ids and case.ci_id is not None:
        ci_ids = [case.ci_id]
    accounts, items = await impact.insert_case_impact(tx, case.id, sorted(ci_ids))
    external, only = (
        await session.execute(
            select(func.count(), func.min(CaseAccount.account_id))
            .select_from(CaseAccount)
            .join(Account, Account.id == CaseAccount.account_id)
            .where(CaseAccount.case_id == case.id, Account.is_external.is_(True))
        )
    ).one()
    if external == 1:
        case.account_id = only
        case.contact_id = await session.scalar(
            select(func.min(Contact.id)).where(Contact.account_id == only, Contact.is_primary.is_(True))
        )
    tx.record(
        case.id,
        CaseOpened(
            number=case_number(case.id),
            case_kind=case.kind,
            incident_id=incident.id,
            alert_id=case.alert_id,
            priority=case.priority,
            accounts=accounts,
            items=items,
            by_rule=by_rule or None,
        ),
    )

    await prefill_wording(tx, case, domain.settings.casework)
    await major_cases.apply_proactive_rule(
        domain,
        tx,
        case,
        accounts=accounts,
        external_accounts=external or 0,
        items=items,
        severity=incident.severity,
    )
    return case


async def open_proactive_cases_by_rule(domain: Domain, actor: Actor, incident_ids: Iterable[int]) -> list[int]:
    """The workflow rule that opens the proactive case (``[workflow] open_proactive_case =
    "on_incident"``): each of these incidents that is active, at least
    ``proactive_min_severity``, with at least ``proactive_min_accounts`` external accounts
    affected, and that never had a proactive case, gets one, opened as ``actor`` (the process
    that changed the incident) and marked ``by_rule``; then the major-case rule decides as for
    any proactive case. Returns the ids of the cases opened.

    Callers run it right after the transaction that opened the incident or grew its impact, in
    its own transaction: the alerts (or the incident) are stored whatever happens here, and a
    failure is retried by the next change to the incident. "Never twice" holds under
    concurrency: the incident row is locked (FOR UPDATE on PostgreSQL; SQLite's IMMEDIATE
    transactions serialize writers) before the check for an earlier proactive case, and any
    earlier one counts, even closed or canceled (an operator closed it on purpose)."""
    require(actor, Permission.OPEN_PROACTIVE_CASE)
    rule = domain.settings.workflow
    ids = sorted(set(incident_ids))
    if rule.open_proactive_case != "on_incident" or not ids:
        return []
    least = Severity(rule.proactive_min_severity).rank
    active = [s.value for s in ACTIVE_INCIDENT_STATES]
    opened: list[int] = []
    async with domain.transaction(actor) as tx:
        session = tx.session
        for incident_id in ids:
            locked = (
                await session.execute(
                    select(Incident.state, Incident.severity).where(Incident.id == incident_id).with_for_update()
                )
            ).first()
            if locked is None or locked.state not in active or Severity(locked.severity).rank < least:
                continue
            earlier = await session.scalar(
                select(func.count()).where(Case.incident_id == incident_id, Case.kind == CaseKind.PROACTIVE.value)
            )
            if earlier:
                continue
            if rule.proactive_min_accounts > 0:
                ci_ids = list(
                    await session.scalars(select(IncidentCI.ci_id).where(IncidentCI.incident_id == incident_id))
                )
                if not ci_ids:
                    continue
                items = impact.affected_items(ci_ids).subquery("items")
                external = await session.scalar(
                    select(func.count(func.distinct(items.c.account_id)))
                    .select_from(items)
                    .join(Account, Account.id == items.c.account_id)
                    .where(Account.is_external.is_(True))
                )
                if (external or 0) < rule.proactive_min_accounts:
                    continue
            case = await open_proactive_case_in(domain, tx, incident_id, by_rule=True)
            opened.append(case.id)
    return opened


async def open_reactive_case(
    domain: Domain,
    actor: Actor,
    *,
    account_number: str,
    contact_number: str | None = None,
    short_description: str,
    description: str = "",
    product_number: str | None = None,
    channel: str = "phone",
) -> CaseView:
    """Log a customer's call (agent). The contact defaults to the account's primary contact."""
    require(actor, Permission.OPEN_REACTIVE_CASE)
    short = clean_text(short_description, "a short description", limit=MAX_SHORT)
    description = clean_text(description, "the description", required=False)
    if channel not in REACTIVE_CHANNELS:
        raise InvalidInput(f"unknown channel {channel!r}; one of: {', '.join(REACTIVE_CHANNELS)}")
    async with domain.transaction(actor) as tx:
        session = tx.session
        account = (await session.execute(select(Account).where(Account.number == account_number))).scalar_one_or_none()
        if account is None:
            raise NotFound(f"no account numbered {account_number!r}")
        if contact_number:
            contact = (
                await session.execute(select(Contact).where(Contact.number == contact_number))
            ).scalar_one_or_none()
            if contact is None:
                raise NotFound(f"no contact numbered {contact_number!r}")
            if contact.account_id != account.id:
                raise InvalidInput(f"contact {contact_number!r} does not belong to account {account_number!r}")
        else:
            contact = (
                await session.execute(
                    select(Contact)
                    .where(Contact.account_id == account.id, Contact.is_primary.is_(True))
                    .order_by(Contact.id)
                    .limit(1)
                )
            ).scalar_one_or_none()
        product_id = None
        if product_number:
            product_id = await session.scalar(select(Product.id).where(Product.number == product_number))
            if product_id is None:
                raise NotFound(f"no product numbered {product_number!r}")
        case_id = await insert_reactive_case(
            tx,
            account_id=account.id,
            account_number=account.number,
            contact_id=contact.id if contact else None,
            product_id=product_id,
            short_description=short,
            description=description,
            channel=channel,
        )
        return await case_view(session, case_id, tx.now)


async def insert_reactive_case(
    tx: Transaction,
    *,
    account_id: int,
    account_number: str,
    contact_id: int | None,
    product_id: int | None,
    short_description: str,
    description: str,
    channel: str,
) -> int:
    """A customer's case, written in the caller's transaction after its checks (agents log
    calls here; customers open their own from the portal). Returns its id."""
    case = Case(
        kind=CaseKind.REACTIVE.value,
        state=CaseState.NEW.value,
        major_case_state=MajorCaseState.NONE.value,
        priority=3,
        short_description=short_description,
        description=description,
        channel=channel,
        account_id=account_id,
        contact_id=contact_id,
        product_id=product_id,
        opened_at=tx.now,
        opened_by_id=tx.actor.user_id,
        updated_at=tx.now,
    )
    tx.session.add(case)
    await tx.session.flush()
    await tx.session.execute(insert(CaseAccount).values(case_id=case.id, account_id=account_id, source="reported"))
    tx.record(
        case.id,
        CaseOpened(number=case_number(case.id), case_kind=case.kind, account=account_number, channel=channel),
    )
    return case.id


async def set_case_state(
    domain: Domain, actor: Actor, case_id: int, state: str, *, expected_version: int | None = None
) -> CaseView:
    """Move a case along its state machine (``check_case``).

    An accepted major case moves only between open and awaiting_info here, and its active
    children follow (state is a synced field); resolving and closing it cascade with
    ``resolve_major_case``/``close_major_case``. A proposed case that stops being active has its
    proposal cancelled (only active cases can become major cases).
    """
    require(actor, Permission.WORK_CASE)
    target = CaseState(_enum(state, CaseState, "case state"))
    async with domain.transaction(actor) as tx:
        session = tx.session
        case = await load_case(session, case_id, lock=True)
        number = case_number(case.id)
        await check_version(session, "case", case.id, number, case.version, expected_version)
        check_case(number, case.state, target)
        is_major = case.kind == CaseKind.MAJOR and case.major_case_state == MajorCaseState.ACCEPTED
        if is_major and target not in (CaseState.OPEN, CaseState.AWAITING_INFO):
            command = {CaseState.RESOLVED: "resolve", CaseState.CLOSED: "close"}.get(target)
            how = f"use `pcso case {command}`" if command else "a major case is never canceled, only resolved"
            raise IllegalTransition(f"{number} is a major case and cascades to its children: {how}")
        before = case.state
        case.state = target.value
        case.updated_at = tx.now
        if target is CaseState.RESOLVED:
            case.resolved_at = tx.now
        elif target is CaseState.CLOSED:
            case.closed_at = tx.now
        elif target is CaseState.OPEN and before == CaseState.RESOLVED:
            case.resolved_at = None
        withdrawn = False
        if case.major_case_state == MajorCaseState.PROPOSED and target.value not in ACTIVE:
            check_major_case(number, case.major_case_state, MajorCaseState.CANCELLED)
            case.major_case_state = MajorCaseState.CANCELLED.value
            withdrawn = True
        await session.flush()
        synced: list[int] = []
        if is_major:
            synced = list(
                await session.scalars(
                    update(Case.__table__)
                    .where(Case.__table__.c.parent_id == case.id, Case.__table__.c.state.in_(ACTIVE))
                    .where(Case.__table__.c.state != target.value)
                    .values(state=target.value, updated_at=tx.now, version=Case.__table__.c.version + 1)
                    .returning(Case.__table__.c.id)
                )
            )
            tx.record_many((cid, CaseStateChanged(to=target.value, by="sync", parent_id=case.id)) for cid in synced)
            if before == CaseState.RESOLVED:
                await declare_major_case_outage(tx, case, by="reopening")
        tx.record(
            case.id,
            CaseStateChanged(
                number=number,
                from_=before,
                to=target.value,
                proposal_cancelled=withdrawn,
                children_synced=len(synced),
            ),
        )
        return await case_view(session, case.id, tx.now)


async def set_case_priority(
    domain: Domain, actor: Actor, case_id: int, priority: int, *, expected_version: int | None = None
) -> CaseView:
    """Change a case's priority (1 critical … 4 low). On an accepted major case the active
    children follow (priority is a synced field); terminal children keep theirs."""
    require(actor, Permission.WORK_CASE)
    if priority not in PRIORITY_NAMES:
        raise InvalidInput(f"priority must be 1 (critical) to 4 (low), not {priority}")
    async with domain.transaction(actor) as tx:
        session = tx.session
        case = await load_case(session, case_id, lock=True)
        number = case_number(case.id)
        await check_version(session, "case", case.id, number, case.version, expected_version)
        if case.state in (CaseState.CLOSED, CaseState.CANCELED):
            raise IllegalTransition(f"{number} is {case.state}; its priority no longer changes")
        before = case.priority
        case.priority = priority
        case.updated_at = tx.now
        await session.flush()
        synced: list[int] = []
        if case.kind == CaseKind.MAJOR and case.major_case_state == MajorCaseState.ACCEPTED:
            t = Case.__table__
            synced = list(
                await session.scalars(
                    update(t)
                    .where(t.c.parent_id == case.id, t.c.state.in_(ACTIVE), t.c.priority != priority)
                    .values(priority=priority, updated_at=tx.now, version=t.c.version + 1)
                    .returning(t.c.id)
                )
            )
            tx.record_many((cid, CasePriorityChanged(to=priority, by="sync", parent_id=case.id)) for cid in synced)
        tx.record(
            case.id,
            CasePriorityChanged(number=number, from_=before, to=priority, children_synced=len(synced)),
        )
        return await case_view(session, case.id, tx.now)


async def add_case_note(domain: Domain, actor: Actor, case_id: int, body: str, *, customer_visible: bool) -> int:
    """Add a journal line; returns its id.

    Staff write work notes (internal; operators too) or, when working the case, comments the
    customer can read. Customers reply on their own account's cases, always customer-visible.
    A customer-visible comment on a major case is copied to its active children (comments are
    a synced field). Staff's customer-visible comment notifies the case's contacts (the opted-in
    contacts of its account; on a major case, its children's contacts): a ``case_comment``
    notice each. Closed and canceled cases take no more lines.
    """
    if actor.role is Role.CUSTOMER:
        require(actor, Permission.COMMENT_OWN_CASE)
        if not customer_visible:
            raise PermissionDenied(f"{actor.name} (customer) may only write customer-visible replies")
        kind = "reply"
    elif customer_visible:
        require(actor, Permission.WORK_CASE)
        kind = "comment"
    else:
        require(actor, Permission.ADD_WORK_NOTE)
        kind = "work_note"
    text = clean_text(body, "the note")
    visibility = "customer" if customer_visible else "internal"
    async with domain.transaction(actor) as tx:
        session = tx.session
        case = await load_case(session, case_id)
        require_own_case(actor, case_id, case.account_id)
        number = case_number(case.id)
        if case.state in (CaseState.CLOSED, CaseState.CANCELED):
            raise IllegalTransition(f"{number} is {case.state} and takes no more notes")
        entry = JournalEntry(
            case_id=case.id,
            kind=kind,
            visibility=visibility,
            body=text,
            author_id=actor.user_id,
            author_name=actor.name,
            created_at=tx.now,
        )
        session.add(entry)
        await session.flush()
        copied = notices = 0
        if customer_visible and case.kind == CaseKind.MAJOR and case.major_case_state == MajorCaseState.ACCEPTED:
            copied = await copy_line_to_children(tx, case.id, entry.id)
            if kind == "comment":
                notices, _ = await major_cases.queue_child_notices(
                    tx, case.id, key_prefix=f"comment:{entry.id}:", kind=COMMENT_NOTICE
                )
        elif kind == "comment" and case.account_id is not None:
            # Staff's customer-visible comment: the case's account's contacts are told.
            notices = await major_cases.queue_account_notices(
                tx, case.id, case.account_id, key_prefix=f"comment:{entry.id}:", kind=COMMENT_NOTICE
            )
        case.updated_at = tx.now
        tx.record(
            case.id,
            CaseNoted(
                number=number,
                entry_id=entry.id,
                line_kind=kind,
                visibility=visibility,
                children=copied,
                notices=notices or None,
            ),
        )
        return entry.id


async def close_resolved_cases(domain: Domain, actor: Actor) -> AutoCloseResult:
    """Close every case (not a major case: its manager closes it) resolved at least
    ``[casework] auto_close_days`` ago, as ServiceNow does; 0 days: never. Set-based: one
    UPDATE … RETURNING, one executemany of events (``case.state_changed`` by ``auto-close``),
    and with ``notify_on_auto_close`` one INSERT … SELECT of ``closed`` notices to each closed
    case's contact. The delivery worker runs it on its schedule; ``pcso case auto-close``."""
    require(actor, Permission.RESOLVE_MAJOR_CASE)
    settings = domain.settings.casework
    if settings.auto_close_days <= 0:
        return AutoCloseResult(closed=0, notices_queued=0, resolved_before=None)
    async with domain.transaction(actor) as tx:
        cutoff = tx.now - timedelta(days=settings.auto_close_days)
        table = Case.__table__
        closed = list(
            await tx.session.execute(
                update(table)
                .where(
                    table.c.state == CaseState.RESOLVED.value,
                    table.c.kind != CaseKind.MAJOR.value,
                    table.c.resolved_at <= cutoff,
                )
                .values(state=CaseState.CLOSED.value, closed_at=tx.now, updated_at=tx.now, version=table.c.version + 1)
                .returning(table.c.id, table.c.parent_id)
            )
        )
        tx.record_many(
            (
                cid,
                CaseStateChanged(
                    number=case_number(cid), from_="resolved", to="closed", by="auto-close", parent_id=parent
                ),
            )
            for cid, parent in closed
        )
        notices = 0
        if settings.notify_on_auto_close and closed:
            notices = await major_cases.queue_closed_notices(tx, [cid for cid, _ in closed])
        return AutoCloseResult(closed=len(closed), notices_queued=notices, resolved_before=cutoff)


# --- queries -------------------------------------------------------------------------------


def _scope(actor: Actor) -> int | None:
    """The account a customer is limited to (None for staff), after the role check."""
    if actor.role is Role.CUSTOMER:
        require(actor, Permission.VIEW_OWN_ACCOUNT)
        return actor.account_id
    require(actor, Permission.VIEW_CASES)
    return None


async def list_cases(
    domain: Domain,
    actor: Actor,
    *,
    kind: str | None = None,
    state: str | None = None,
    major_case_state: str | None = None,
    account: str | None = None,
    parent_id: int | None = None,
    incident_id: int | None = None,
    active: bool | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[CaseView]:
    """A page of cases, most urgent first (priority, then oldest). Customers see only their
    own account's cases."""
    scope = _scope(actor)
    kind = _enum(kind, CaseKind, "case kind")
    state = _enum(state, CaseState, "case state")
    major_case_state = _enum(major_case_state, MajorCaseState, "major case state")
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"limit must be between 1 and {MAX_PAGE}")
    if offset < 0:
        raise InvalidInput("offset must not be negative")
    now = domain.clock()
    async with domain.reading() as session:
        query = case_rows_query(now)
        if account is not None:
            account_id = await session.scalar(select(Account.id).where(Account.number == account))
            if account_id is None and scope is None:
                raise NotFound(f"no account numbered {account!r}")
            require_account(actor, account_id)
            query = query.where(Case.account_id == account_id)
        if scope is not None:
            query = query.where(Case.account_id == scope)
        if kind:
            query = query.where(Case.kind == kind)
        if state:
            query = query.where(Case.state == state)
        if active is not None:
            query = query.where(Case.state.in_(ACTIVE) if active else Case.state.not_in(ACTIVE))
        if major_case_state:
            query = query.where(Case.major_case_state == major_case_state)
        if parent_id is not None:
            query = query.where(Case.parent_id == parent_id)
        if incident_id is not None:
            query = query.where(Case.incident_id == incident_id)
        query = query.order_by(Case.priority, Case.opened_at, Case.id).limit(limit).offset(offset)
        views = [case_view_from_row(row, now) for row in await session.execute(query)]
        if scope is not None:
            # A customer's list: the customer's words, and no incident (our internal record).
            words = await _customer_words(session, [v.id for v in views])
            views = [
                replace(
                    v, short_description=words[v.id][0], incident_id=None, incident_number=None, incident_state=None
                )
                for v in views
            ]
        return views


async def _customer_words(session: AsyncSession, case_ids: list[int]) -> dict[int, tuple[str, str]]:
    """What a customer is told each of these cases is, as (title, summary): the portal's rule.
    A reactive case shows what the customer typed (theirs) unless a person worded it; a case we
    opened (proactive, major, child) only its customer-facing wording or its major case's, never
    its internal short description or description."""
    if not case_ids:
        return {}
    parent = aliased(Case)
    rows = await session.execute(
        select(
            Case.id,
            Case.kind,
            Case.short_description,
            Case.description,
            Case.public_title,
            Case.public_summary,
            parent.public_title.label("parent_title"),
            parent.public_summary.label("parent_summary"),
        )
        .outerjoin(parent, parent.id == Case.parent_id)
        .where(Case.id.in_(case_ids))
    )
    words: dict[int, tuple[str, str]] = {}
    for r in rows:
        if r.kind == CaseKind.REACTIVE.value:
            words[r.id] = (r.public_title or r.short_description, r.public_summary or r.description)
        else:
            title = r.public_title or r.parent_title or GENERIC_TITLE
            words[r.id] = (title, r.public_summary or r.parent_summary or "")
    return words


async def get_case(
    domain: Domain,
    actor: Actor,
    case_id: int,
    *,
    accounts_limit: int = 50,
    accounts_offset: int = 0,
    items_limit: int = 50,
    items_offset: int = 0,
    journal_limit: int = 200,
) -> CaseDetail:
    """One case with a page of its affected accounts and items, its incident and alert, the
    newest journal lines, its children and notices counted by state, and its statements."""
    scope = _scope(actor)
    for value, what in ((accounts_limit, "accounts_limit"), (items_limit, "items_limit"), (journal_limit, "journal")):
        if not 1 <= value <= MAX_PAGE:
            raise InvalidInput(f"{what} must be between 1 and {MAX_PAGE}")
    if accounts_offset < 0 or items_offset < 0:
        raise InvalidInput("offsets must not be negative")
    now = domain.clock()
    async with domain.reading() as session:
        case = await session.get(Case, case_id)
        if case is None:
            raise NotFound(f"no case {case_number(case_id)}")
        require_own_case(actor, case_id, case.account_id)
        customer = scope is not None
        view = await case_view(session, case.id, now)
        description = case.description
        if customer:
            title, description = (await _customer_words(session, [case.id]))[case.id]
            view = replace(view, short_description=title, incident_id=None, incident_number=None, incident_state=None)

        names = await _user_names(session, {case.proposed_by_id, case.decided_by_id} - {None})
        contact = await session.get(Contact, case.contact_id) if case.contact_id else None
        product_name = await session.scalar(
            select(func.coalesce(Product.public_name, Product.name)).where(
                Product.id == case.product_id, Product.customer_facing.is_(True) if customer else true()
            )
        )

        accounts, accounts_total = await _affected_accounts(session, case.id, scope, accounts_limit, accounts_offset)
        items, items_total = await _affected_items(session, case.id, scope, items_limit, items_offset)

        incident = alert = None
        if not customer and case.incident_id is not None:
            inc = await session.get(Incident, case.incident_id)
            if inc is not None:
                incident = CaseIncidentView(
                    id=inc.id,
                    number=incident_number(inc.id),
                    title=inc.title,
                    state=inc.state,
                    severity=inc.severity,
                    eta=inc.eta,
                    opened_at=inc.opened_at,
                )
        if not customer and case.alert_id is not None:
            a = await session.get(Alert, case.alert_id)
            if a is not None:
                alert = CaseAlertView(
                    id=a.id, name=a.name, severity=a.severity, state=a.state, ci_key=a.ci_key, summary=a.summary
                )

        journal_query = select(JournalEntry).where(JournalEntry.case_id == case.id)
        if customer:
            journal_query = journal_query.where(JournalEntry.visibility == "customer")
        lines = list(await session.scalars(journal_query.order_by(JournalEntry.id.desc()).limit(journal_limit)))
        journal = tuple(
            JournalLineView(
                id=e.id,
                at=e.created_at,
                author_name=e.author_name,
                kind=e.kind,
                visibility=e.visibility,
                label=journal_label(e.kind, e.visibility),
                body=e.body,
                statement_id=e.statement_id,
                source_entry_id=e.source_entry_id,
            )
            for e in reversed(lines)
        )

        children: dict[str, int] = {}
        notices: dict[str, int] = {}
        if not customer:
            rows = await session.execute(
                select(Case.state, func.count()).where(Case.parent_id == case.id).group_by(Case.state)
            )
            children = {s: n for s, n in rows}
            child = aliased(Case)
            rows = await session.execute(
                select(Notice.state, func.count())
                .outerjoin(child, child.id == Notice.case_id)
                .where((Notice.case_id == case.id) | (child.parent_id == case.id))
                .group_by(Notice.state)
            )
            notices = {s: n for s, n in rows}

        statement_rows = await session.execute(
            select(Statement, User.name)
            .outerjoin(User, User.id == Statement.author_id)
            .where(Statement.case_id == case.id)
            .order_by(Statement.id)
        )
        statements = tuple(
            StatementView(id=s.id, at=s.created_at, author_name=author or "system", body=s.body)
            for s, author in statement_rows
        )

        return CaseDetail(
            case=view,
            description=description,
            contact_number=contact.number if contact else None,
            contact_name=contact.name if contact else None,
            contact_channel=contact.preferred_channel if contact else None,
            product_name=product_name,
            propose_reason=None if customer else case.propose_reason,
            business_impact=None if customer else case.business_impact,
            proposed_at=None if customer else case.proposed_at,
            proposed_by=None if customer else names.get(case.proposed_by_id),
            decided_at=None if customer else case.decided_at,
            decided_by=None if customer else names.get(case.decided_by_id),
            reject_reason=None if customer else case.reject_reason,
            resolution_code=case.resolution_code,
            resolution_notes=case.resolution_notes,
            resolved_at=case.resolved_at,
            closed_at=case.closed_at,
            accounts=accounts,
            accounts_total=accounts_total,
            items=items,
            items_total=items_total,
            incident=incident,
            alert=alert,
            journal=journal,
            children_by_state=children,
            children_total=sum(children.values()),
            statements=statements,
            notices_by_state=notices,
        )


async def _user_names(session: AsyncSession, ids: set[int | None]) -> dict[int | None, str]:
    if not ids:
        return {}
    rows = await session.execute(select(User.id, User.name).where(User.id.in_(ids)))
    return {uid: name for uid, name in rows}


async def _affected_accounts(
    session: AsyncSession, case_id: int, scope: int | None, limit: int, offset: int
) -> tuple[tuple[AffectedAccountView, ...], int]:
    where = [CaseAccount.case_id == case_id]
    if scope is not None:
        where.append(CaseAccount.account_id == scope)
    total = await session.scalar(select(func.count()).select_from(CaseAccount).where(*where)) or 0
    primary = aliased(Contact)
    child = aliased(Case)
    first_child = (
        select(child.account_id, func.min(child.id).label("child_id"))
        .where(child.parent_id == case_id, child.account_id.is_not(None))
        .group_by(child.account_id)
        .subquery()
    )
    child_state = aliased(Case)
    primary_id = (
        select(func.min(Contact.id))
        .where(Contact.account_id == CaseAccount.account_id, Contact.is_primary.is_(True))
        .correlate(CaseAccount)
        .scalar_subquery()
    )
    rows = await session.execute(
        select(
            Account.id,
            Account.number,
            Account.name,
            Account.tier,
            Account.region,
            Account.is_external,
            CaseAccount.source,
            primary.name.label("contact_name"),
            primary.preferred_channel,
            first_child.c.child_id,
            child_state.state.label("child_state"),
        )
        .select_from(CaseAccount)
        .join(Account, Account.id == CaseAccount.account_id)
        .outerjoin(primary, primary.id == primary_id)
        .outerjoin(first_child, first_child.c.account_id == CaseAccount.account_id)
        .outerjoin(child_state, child_state.id == first_child.c.child_id)
        .where(*where)
        .order_by(Account.number)
        .limit(limit)
        .offset(offset)
    )
    return (
        tuple(
            AffectedAccountView(
                account_id=r.id,
                number=r.number,
                name=r.name,
                tier=r.tier,
                region=r.region,
                is_external=r.is_external,
                source=r.source,
                contact_name=r.contact_name,
                contact_channel=r.preferred_channel,
                child_id=r.child_id,
                child_number=case_number(r.child_id) if r.child_id else None,
                child_state=r.child_state,
            )
            for r in rows
        ),
        total,
    )


async def _affected_items(
    session: AsyncSession, case_id: int, scope: int | None, limit: int, offset: int
) -> tuple[tuple[AffectedItemView, ...], int]:
    where = [CaseItem.case_id == case_id]
    if scope is not None:
        where.append(InstallBaseItem.account_id == scope)
    base = select(CaseItem.item_id).join(InstallBaseItem, InstallBaseItem.id == CaseItem.item_id).where(*where)
    total = await session.scalar(select(func.count()).select_from(base.subquery())) or 0
    rows = await session.execute(
        select(
            InstallBaseItem.id,
            InstallBaseItem.number,
            InstallBaseItem.name,
            Product.name.label("product_name"),
            Account.number.label("account_number"),
            ConfigurationItem.name.label("ci_name"),
        )
        .select_from(CaseItem)
        .join(InstallBaseItem, InstallBaseItem.id == CaseItem.item_id)
        .join(Product, Product.id == InstallBaseItem.product_id)
        .join(Account, Account.id == InstallBaseItem.account_id)
        .outerjoin(ConfigurationItem, ConfigurationItem.id == InstallBaseItem.ci_id)
        .where(*where)
        .order_by(InstallBaseItem.number)
        .limit(limit)
        .offset(offset)
    )
    return (
        tuple(
            AffectedItemView(
                item_id=r.id,
                number=r.number,
                name=r.name,
                product_name=r.product_name,
                account_number=r.account_number,
                ci_name=r.ci_name,
            )
            for r in rows
        ),
        total,
    )
