"""Incidents: opened by rule (see ``correlation``) or by an operator; worked with notes, state,
ETA and resolution (DESIGN §2 steps 2 and 7).

Every update writes one line on the incident's journal and one event, then hands the line to
``major_cases.sync_incident_update`` in the same transaction, so the major cases linked to the
incident follow it.

Journal visibility: every line on an incident is ``internal`` — customers never read an incident;
what reaches them is a statement a manager writes on the major case. The kinds differ in what
may be quoted: ``work_note`` is for staff only; ``progress``, ``eta``, ``state`` and
``resolution`` are written to be customer-safe (``CUSTOMER_SAFE_KINDS``), so a manager may quote
them, and the major-case sync may offer them as statement material.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, case, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import flag_modified

from pcso_tui.domain.casework import major_cases
from pcso_tui.domain.core.errors import Conflict, IllegalTransition, InvalidInput, NotFound
from pcso_tui.domain.core.event_kinds import (
    IncidentClosed,
    IncidentEtaSet,
    IncidentOpened,
    IncidentProgressPosted,
    IncidentResolved,
    IncidentStateChanged,
    IncidentWorkNoteAdded,
    Payload,
)
from pcso_tui.domain.core.events import Transaction
from pcso_tui.domain.core.models import (
    Alert,
    ConfigurationItem,
    Incident,
    IncidentCI,
    JournalEntry,
    User,
)
from pcso_tui.domain.core.roles import Actor, Permission, require
from pcso_tui.domain.core.service import Domain
from pcso_tui.domain.core.states import ACTIVE_INCIDENT_STATES, IncidentState, Severity, check_incident
from pcso_tui.domain.core.text import one_line
from pcso_tui.domain.core.versions import check_version
from pcso_tui.domain.core.views import incident_number
from pcso_tui.domain.operations.correlation import (
    FIRING_STATES,
    RootCause,
    incident_title,
    open_proactive_cases_after,
    root_cause_of,
    root_causes,
    severity_rank,
    worst_severity,
)
from pcso_tui.domain.operations.views import (
    IncidentAlertView,
    IncidentCIView,
    IncidentDetail,
    IncidentJournalView,
    IncidentView,
    RootCauseView,
)

NOTE_KINDS = ("work_note", "progress")
CUSTOMER_SAFE_KINDS = frozenset({"progress", "eta", "state", "resolution"})
TITLE_LENGTH = 500
BODY_LENGTH = 20_000
CODE_LENGTH = 64
SEVERITIES = tuple(s.value for s in Severity if s is not Severity.CLEAR)
ACTIVE_STATES = tuple(s.value for s in ACTIVE_INCIDENT_STATES)
# Bounded: an incident of a storm may hold thousands of alerts; the count says how many.
DETAIL_ALERTS = 500


# --- helpers ------------------------------------------------------------------------------


def _text(value: str, what: str, limit: int) -> str:
    value = (value or "").strip()
    if not value:
        raise InvalidInput(f"{what} is empty")
    if len(value) > limit:
        raise InvalidInput(f"{what} is {len(value)} characters long; at most {limit}")
    return value


def _severity(value: str) -> str:
    if value not in SEVERITIES:
        raise InvalidInput(f"unknown severity {value!r}; severities: {', '.join(SEVERITIES)}")
    return value


def _at(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC")


async def _load(session: AsyncSession, incident_id: int) -> Incident:
    incident = await session.get(Incident, incident_id)
    if incident is None:
        raise NotFound(f"no incident {incident_number(incident_id)}")
    return incident


async def _check_version(session: AsyncSession, incident: Incident, expected_version: int | None) -> None:
    """Optimistic locking: refuse when the incident changed since the caller read it, saying
    who changed it and when (the last event on it)."""
    await check_version(
        session, "incident", incident.id, incident_number(incident.id), incident.version, expected_version
    )


async def _update(
    tx: Transaction, incident: Incident, entry_kind: str, body: str, event: Callable[..., Payload], /, **payload: object
) -> JournalEntry:
    """The common tail of every update: touch the incident, write the journal line and the
    event (``event`` with the line's ``entry_id`` and ``payload``), and hand the line to the
    major-case sync."""
    incident.updated_at = tx.now
    # Always an UPDATE (and a new version), even when the clock has not moved since the last.
    flag_modified(incident, "updated_at")
    entry = JournalEntry(
        incident_id=incident.id,
        kind=entry_kind,
        visibility="internal",
        body=body,
        author_id=tx.actor.user_id,
        author_name=tx.actor.name,
        created_at=tx.now,
    )
    tx.session.add(entry)
    await tx.session.flush()
    tx.record(incident.id, event(entry_id=entry.id, **payload))
    await major_cases.sync_incident_update(tx, incident.id, entry.id)
    return entry


def _journal_view(entry: JournalEntry) -> IncidentJournalView:
    return IncidentJournalView(
        id=entry.id,
        kind=entry.kind,
        visibility=entry.visibility,
        customer_safe=entry.kind in CUSTOMER_SAFE_KINDS,
        body=entry.body,
        author_name=entry.author_name,
        created_at=entry.created_at,
    )


async def _views(
    session: AsyncSession,
    now: datetime,
    *,
    ids: Sequence[int] | None = None,
    active_only: bool = False,
    limit: int | None = None,
    offset: int = 0,
) -> list[IncidentView]:
    alerts = select(func.count()).where(Alert.incident_id == Incident.id).scalar_subquery()
    firing = (
        select(func.count()).where(Alert.incident_id == Incident.id, Alert.state.in_(FIRING_STATES)).scalar_subquery()
    )
    cis = select(func.count()).where(IncidentCI.incident_id == Incident.id).scalar_subquery()
    query = (
        select(Incident, ConfigurationItem.name, User.name, alerts, firing, cis)
        .outerjoin(ConfigurationItem, ConfigurationItem.id == Incident.root_ci_id)
        .outerjoin(User, User.id == Incident.opened_by_id)
    )
    if ids is not None:
        query = query.where(Incident.id.in_(ids))
    if active_only:
        query = query.where(Incident.state.in_(ACTIVE_STATES))
    query = query.order_by(Incident.opened_at.desc(), Incident.id.desc())
    if limit is not None:
        query = query.limit(limit).offset(offset)
    rows = await session.execute(query)
    return [
        IncidentView(
            id=i.id,
            number=incident_number(i.id),
            title=i.title,
            state=i.state,
            severity=i.severity,
            root_ci_name=root,
            alert_count=n_alerts,
            firing_count=n_firing,
            ci_count=n_cis,
            opened_at=i.opened_at,
            opened_by=opener,
            opened_by_rule=i.opened_by_rule,
            eta=i.eta,
            updated_at=i.updated_at,
            age_seconds=max(0, int((now - i.opened_at).total_seconds())),
            version=i.version,
        )
        for i, root, opener, n_alerts, n_firing, n_cis in rows
    ]


# --- commands -----------------------------------------------------------------------------


async def open_incident(
    domain: Domain,
    actor: Actor,
    *,
    title: str = "",
    severity: str | None = None,
    ci_names: Sequence[str] = (),
    ci_ids: Sequence[int] = (),
    alert_ids: Sequence[int] = (),
) -> IncidentView:
    """An operator opens an incident on CIs and/or alerts (one key on the operator screen).

    With alerts, the title and severity default to theirs (the worst alert's), their CIs join
    the incident's, and they join it; an alert already in an active incident is refused."""
    require(actor, Permission.OPEN_INCIDENT)
    if not (title or "").strip() and not alert_ids:
        raise InvalidInput("an incident needs a title (or alerts to take it from)")
    if title.strip():
        title = _text(title, "the title", TITLE_LENGTH)
    if severity is not None:
        severity = _severity(severity)
    elif not alert_ids:
        raise InvalidInput(f"an incident needs a severity: {', '.join(SEVERITIES)}")

    async with domain.transaction(actor) as tx:
        session = tx.session
        wanted: dict[int, str] = {}
        if ci_names:
            rows = dict(
                (
                    await session.execute(
                        select(ConfigurationItem.name, ConfigurationItem.id).where(
                            ConfigurationItem.name.in_(set(ci_names))
                        )
                    )
                ).all()
            )
            missing = sorted(set(ci_names) - set(rows))
            if missing:
                raise NotFound(f"no CI named {missing[0]!r}", details=[f"unknown CI {m!r}" for m in missing])
            wanted.update({ci_id: name for name, ci_id in rows.items()})
        if ci_ids:
            names = dict(
                (
                    await session.execute(
                        select(ConfigurationItem.id, ConfigurationItem.name).where(
                            ConfigurationItem.id.in_(set(ci_ids))
                        )
                    )
                ).all()
            )
            missing_ids = sorted(set(ci_ids) - set(names))
            if missing_ids:
                raise NotFound(f"no CI with id {missing_ids[0]}", details=[f"unknown CI id {m}" for m in missing_ids])
            wanted.update(names)
        alerts: Sequence[Row[*tuple[Any, ...]]] = []
        if alert_ids:
            alerts = (
                await session.execute(
                    select(
                        Alert.id,
                        Alert.name,
                        Alert.severity,
                        Alert.ci_id,
                        Alert.ci_key,
                        Alert.last_change_at.label("at"),
                        ConfigurationItem.name.label("ci_name"),
                        Alert.incident_id,
                        Incident.state.label("incident_state"),
                    )
                    .outerjoin(ConfigurationItem, ConfigurationItem.id == Alert.ci_id)
                    .outerjoin(Incident, Incident.id == Alert.incident_id)
                    .where(Alert.id.in_(set(alert_ids)))
                    .order_by(Alert.id)
                )
            ).all()
            missing_alerts = sorted(set(alert_ids) - {a.id for a in alerts})
            if missing_alerts:
                raise NotFound(
                    f"no alert with id {missing_alerts[0]}", details=[f"unknown alert {m}" for m in missing_alerts]
                )
            taken = [a for a in alerts if a.incident_id is not None and a.incident_state in ACTIVE_STATES]
            if taken:
                raise Conflict(
                    f"alert {taken[0].id} already belongs to {incident_number(taken[0].incident_id)}",
                    details=[f"alert {a.id} is in {incident_number(a.incident_id)}" for a in taken],
                )
            wanted.update({a.ci_id: a.ci_name for a in alerts if a.ci_id is not None})
            if not title.strip():
                title = incident_title(alerts)
            if severity is None:
                severity = worst_severity(a.severity for a in alerts)
                if severity_rank(severity) == 0:
                    raise InvalidInput(f"the alerts are all clear; give a severity: {', '.join(SEVERITIES)}")
        assert severity is not None
        cause = await root_cause_of(session, list(wanted), domain.settings.correlation.root_cause_max_hops)
        incident = Incident(
            title=title,
            state=IncidentState.NEW.value,
            severity=severity,
            root_ci_id=cause.ci_id if cause else None,
            opened_at=tx.now,
            opened_by_id=actor.user_id,
            updated_at=tx.now,
        )
        session.add(incident)
        await session.flush()
        if wanted:
            await session.execute(
                insert(IncidentCI.__table__), [{"incident_id": incident.id, "ci_id": ci} for ci in sorted(wanted)]
            )
        if alerts:
            table = Alert.__table__
            await session.execute(
                update(table)
                .where(table.c.id.in_([a.id for a in alerts]))
                .values(incident_id=incident.id, version=table.c.version + 1)
            )
        tx.record(
            incident.id,
            IncidentOpened(
                number=incident_number(incident.id),
                title=title,
                severity=severity,
                rule=None,
                alert_ids=[a.id for a in alerts],
                cis=sorted(wanted.values()),
                root_ci=cause.ci_name if cause else None,
            ),
        )
        (view,) = await _views(session, tx.now, ids=[incident.id])
    # The rule that opens proactive cases, right after (see open_proactive_cases_by_rule).
    await open_proactive_cases_after(domain, actor, [view.id])
    return view


async def add_incident_note(
    domain: Domain,
    actor: Actor,
    incident_id: int,
    body: str,
    *,
    kind: str = "work_note",
    expected_version: int | None = None,
) -> IncidentJournalView:
    """A work note (staff only) or a progress update (customer-safe) on the incident."""
    if kind not in NOTE_KINDS:
        raise InvalidInput(f"unknown note kind {kind!r}; kinds: {', '.join(NOTE_KINDS)}")
    require(actor, Permission.ADD_WORK_NOTE if kind == "work_note" else Permission.UPDATE_INCIDENT)
    body = _text(body, "the note", BODY_LENGTH)
    async with domain.transaction(actor) as tx:
        incident = await _load(tx.session, incident_id)
        await _check_version(tx.session, incident, expected_version)
        if incident.state in (IncidentState.CLOSED, IncidentState.CANCELED):
            raise IllegalTransition(f"{incident_number(incident.id)} is {incident.state}: it takes no more notes")
        event = IncidentWorkNoteAdded if kind == "work_note" else IncidentProgressPosted
        entry = await _update(tx, incident, kind, body, event)
        return _journal_view(entry)


async def set_incident_state(
    domain: Domain,
    actor: Actor,
    incident_id: int,
    state: str,
    *,
    expected_version: int | None = None,
    note: str = "",
) -> IncidentView:
    """Move the incident through its states (``check_incident``). Resolving needs a code and
    notes: see :func:`resolve_incident`."""
    require(actor, Permission.UPDATE_INCIDENT)
    try:
        target = IncidentState(state)
    except ValueError:
        raise InvalidInput(
            f"unknown incident state {state!r}; states: {', '.join(s.value for s in IncidentState)}"
        ) from None
    if target is IncidentState.RESOLVED:
        raise InvalidInput("resolving needs a resolution code and notes: use `pcso incident resolve`")
    note = (note or "").strip()
    if len(note) > BODY_LENGTH:
        raise InvalidInput(f"the note is {len(note)} characters long; at most {BODY_LENGTH}")
    async with domain.transaction(actor) as tx:
        incident = await _load(tx.session, incident_id)
        await _check_version(tx.session, incident, expected_version)
        current = incident.state
        check_incident(incident_number(incident.id), current, target)
        incident.state = target.value
        if target is IncidentState.CLOSED:
            incident.closed_at = tx.now
        if current == IncidentState.RESOLVED and target is IncidentState.IN_PROGRESS:
            incident.resolved_at = None  # reopened
        body = f"State: {current} → {target.value}" + (f"\n{note}" if note else "")
        event = IncidentClosed if target is IncidentState.CLOSED else IncidentStateChanged
        await _update(tx, incident, "state", body, event, from_=current, to=target.value)
        (view,) = await _views(tx.session, tx.now, ids=[incident.id])
        return view


async def close_incident(
    domain: Domain, actor: Actor, incident_id: int, *, expected_version: int | None = None, note: str = ""
) -> IncidentView:
    """Close a resolved incident (final)."""
    return await set_incident_state(
        domain, actor, incident_id, IncidentState.CLOSED.value, expected_version=expected_version, note=note
    )


async def set_incident_eta(
    domain: Domain,
    actor: Actor,
    incident_id: int,
    eta: datetime | None,
    *,
    expected_version: int | None = None,
) -> IncidentView:
    """When service is expected back (None clears it). Only on an active incident, never past."""
    require(actor, Permission.UPDATE_INCIDENT)
    if eta is not None and eta.tzinfo is None:
        raise InvalidInput("the ETA needs a time zone (e.g. 2026-11-23T11:00:00+00:00)")
    async with domain.transaction(actor) as tx:
        incident = await _load(tx.session, incident_id)
        await _check_version(tx.session, incident, expected_version)
        number = incident_number(incident.id)
        if incident.state not in ACTIVE_STATES:
            raise IllegalTransition(f"{number} is {incident.state}: an ETA is only set on an active incident")
        if eta is not None and eta <= tx.now:
            raise InvalidInput(f"the ETA {_at(eta)} is not in the future (now {_at(tx.now)})")
        incident.eta = eta
        body = f"ETA: {_at(eta)}" if eta else "ETA cleared"
        await _update(tx, incident, "eta", body, IncidentEtaSet, eta=eta.isoformat() if eta else None)
        (view,) = await _views(tx.session, tx.now, ids=[incident.id])
        return view


async def resolve_incident(
    domain: Domain,
    actor: Actor,
    incident_id: int,
    code: str,
    notes: str,
    *,
    expected_version: int | None = None,
) -> IncidentView:
    """Resolve with a resolution code (a short word, e.g. ``fixed``, ``workaround``) and notes."""
    require(actor, Permission.UPDATE_INCIDENT)
    code = _text(code, "the resolution code", CODE_LENGTH)
    if one_line(code) != code:
        raise InvalidInput("the resolution code must be one line of printable text")
    notes = _text(notes, "the resolution notes", BODY_LENGTH)
    async with domain.transaction(actor) as tx:
        incident = await _load(tx.session, incident_id)
        await _check_version(tx.session, incident, expected_version)
        current = incident.state
        check_incident(incident_number(incident.id), current, IncidentState.RESOLVED)
        incident.state = IncidentState.RESOLVED.value
        incident.resolved_at = tx.now
        incident.resolution_code = code
        incident.resolution_notes = notes
        await _update(tx, incident, "resolution", f"Resolved ({code}): {notes}", IncidentResolved, code=code)
        (view,) = await _views(tx.session, tx.now, ids=[incident.id])
        return view


# --- queries ------------------------------------------------------------------------------


async def list_incidents(
    domain: Domain, actor: Actor, *, active_only: bool = True, limit: int = 100, offset: int = 0
) -> list[IncidentView]:
    """Incidents, newest first (active ones only unless told otherwise), one page."""
    require(actor, Permission.VIEW_OPERATIONS)
    if not 1 <= limit <= 1000:
        raise InvalidInput(f"limit {limit} must be between 1 and 1000")
    if offset < 0:
        raise InvalidInput(f"offset {offset} must not be negative")
    async with domain.reading() as session:
        return await _views(session, domain.clock(), active_only=active_only, limit=limit, offset=offset)


async def get_incident(domain: Domain, actor: Actor, incident_id: int) -> IncidentDetail:
    """One incident with its alerts (worst first, at most ``DETAIL_ALERTS``), CIs, journal and
    probable root cause with its explanation."""
    require(actor, Permission.VIEW_OPERATIONS)
    max_hops = domain.settings.correlation.root_cause_max_hops
    async with domain.reading() as session:
        views = await _views(session, domain.clock(), ids=[incident_id])
        if not views:
            raise NotFound(f"no incident {incident_number(incident_id)}")
        incident = await session.get(Incident, incident_id)
        assert incident is not None
        rank = case(*((Alert.severity == s.value, s.rank) for s in Severity), else_=0)
        alert_rows = await session.execute(
            select(Alert, ConfigurationItem.name)
            .outerjoin(ConfigurationItem, ConfigurationItem.id == Alert.ci_id)
            .where(Alert.incident_id == incident_id)
            .order_by(rank.desc(), Alert.last_change_at, Alert.id)
            .limit(DETAIL_ALERTS)
        )
        alerts = tuple(
            IncidentAlertView(
                id=a.id,
                fingerprint=a.fingerprint,
                name=a.name,
                severity=a.severity,
                state=a.state,
                ci_name=ci_name,
                ci_key=a.ci_key,
                summary=a.summary,
                maintenance=a.maintenance,
                last_change_at=a.last_change_at,
            )
            for a, ci_name in alert_rows
        )
        ci_rows = (
            await session.execute(
                select(ConfigurationItem.id, ConfigurationItem.name, ConfigurationItem.kind)
                .join(IncidentCI, IncidentCI.ci_id == ConfigurationItem.id)
                .where(IncidentCI.incident_id == incident_id)
                .order_by(ConfigurationItem.name)
            )
        ).all()
        cause = (await root_causes(session, [incident_id], max_hops)).get(incident_id)
        journal = tuple(
            _journal_view(e)
            for e in await session.scalars(
                select(JournalEntry).where(JournalEntry.incident_id == incident_id).order_by(JournalEntry.id)
            )
        )
    hops = cause.hops if cause else {}
    cis = tuple(IncidentCIView(id=r.id, name=r.name, kind=r.kind, hops_to_root=hops.get(r.id)) for r in ci_rows)
    root_view, note = None, ""
    if cause is not None:
        root_view = RootCauseView(cause.ci_id, cause.ci_name, cause.total_hops, _explain(cause, cis))
    elif not cis:
        note = "no CI on this incident (its alerts are unmapped, or none were named)"
    else:
        note = f"no single CI within {max_hops} hops is upstream of all {len(cis)} CIs of this incident"
    view = views[0]
    return IncidentDetail(
        incident=view,
        resolution_code=incident.resolution_code,
        resolution_notes=incident.resolution_notes,
        resolved_at=incident.resolved_at,
        closed_at=incident.closed_at,
        root_cause=root_view,
        root_cause_note=note,
        alerts=alerts,
        cis=cis,
        journal=journal,
    )


def _explain(cause: RootCause, cis: Sequence[IncidentCIView]) -> str:
    if len(cis) == 1:
        return f"{cause.ci_name} is the only CI of this incident"
    parts = []
    for ci in sorted(cis, key=lambda c: (c.hops_to_root or 0, c.name)):
        hops = ci.hops_to_root or 0
        parts.append(f"{ci.name} is it" if hops == 0 else f"{ci.name} {hops} hop{'s' if hops > 1 else ''}")
    return (
        f"{cause.ci_name} is the nearest CI that all {len(cis)} CIs of this incident are or depend on "
        f"({', '.join(parts)}; {cause.total_hops} hops in all)"
    )
