"""Timeline entries from events: pure functions, no database (the screens import this module
before the database stack is loaded; ``timeline.py`` holds the queries).

``entry_from_event`` turns one event into a ``TimelineEntry`` (a screen does it at once for a
live event; the text an event only points at, a statement's body or an incident note, comes
with the next query): it reads the event as its ``event_kinds`` class and calls that class's
wording in ``WORDINGS``. ``group_timeline`` merges dense stretches (notice deliveries close
together) into one line: "12 notices delivered" from 10:02 to 10:04.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeVar

from pcso_tui.domain.casework.views import TimelineEntry, TimelineLine, journal_label
from pcso_tui.domain.core import event_kinds as ek
from pcso_tui.domain.core.states import CaseKind
from pcso_tui.domain.core.views import EventView, case_number, incident_number

GROUP_WINDOW = timedelta(minutes=5)
# Events on the candidate a major case came from that belong on the major case's timeline.
CANDIDATE_KINDS = (ek.MajorCaseProposed.kind, ek.MajorCaseRejected.kind)
# Tallies of a notice delivery batch, in the order they are told.
NOTICE_TALLIES = ("sent", "retrying", "dead", "skipped")


def _n(value: int | None) -> int:
    return value or 0


def _s(value: object) -> str:
    return "" if value is None else str(value)


def _named(word: str, name: object) -> str:
    """``Outage OUT0000003``, or just ``Outage`` when an old row lacks the number."""
    return f"{word} {name}" if name not in (None, "") else word


def _aside(*parts: object) -> str:
    """`` (major, db-01)`` from the parts an event has; nothing when it has none."""
    shown = ", ".join(str(p) for p in parts if p not in (None, ""))
    return f" ({shown})" if shown else ""


def _plural(n: int | None, word: str) -> str:
    n = _n(n)
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def notices_title(tallies: Mapping[str, int]) -> str:
    """``12 notices delivered, 2 retrying, 1 failed, 3 skipped`` (zero counts left out)."""
    parts = [f"{_plural(tallies.get('sent', 0), 'notice')} delivered"]
    if tallies.get("retrying"):
        parts.append(f"{tallies['retrying']} retrying")
    if tallies.get("dead"):
        parts.append(f"{tallies['dead']} failed")
    if tallies.get("skipped"):
        parts.append(f"{tallies['skipped']} skipped")
    return ", ".join(parts)


@dataclass(frozen=True, slots=True)
class Said:
    """What one event says on a timeline (a ``TimelineEntry`` without the event's own columns)."""

    category: str
    title: str
    detail: str = ""
    group: str | None = None
    tallies: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Texts:
    """Text an event only points at: journal entry id → body, statement id → body."""

    entries: Mapping[int, str]
    statements: Mapping[int, str]


Wording = Callable[[Any, Texts], Said]
W = TypeVar("W", bound=Wording)
# Every kind in the catalogue has its wording here (tests/domain/test_event_kinds.py checks).
WORDINGS: dict[type[ek.Payload], Wording] = {}


def wording(*kinds: type[ek.Payload]) -> Callable[[W], W]:
    """Decorate the wording of ``kinds`` (one function may word several alike)."""

    def register(function: W) -> W:
        for kind in kinds:
            WORDINGS[kind] = function
        return function

    return register


def entry_from_event(
    event: EventView, *, texts: Mapping[int, str] | None = None, statements: Mapping[int, str] | None = None
) -> TimelineEntry:
    """What one event means on a timeline. ``texts`` (journal entry id → body) and
    ``statements`` (statement id → body) fill in text the event only points at."""
    payload = event.typed()
    if payload is None:
        said = Said("other", event.kind)
    else:
        said = WORDINGS[type(payload)](payload, Texts(texts or {}, statements or {}))
    return TimelineEntry(
        event_id=event.id,
        at=event.at,
        category=said.category,
        title=said.title,
        detail=said.detail,
        actor_name=event.actor_name,
        group=said.group,
        tallies=dict(said.tallies),
    )


# --- cases and major cases ------------------------------------------------------------------


@wording(ek.CaseOpened)
def _case_opened(p: ek.CaseOpened, texts: Texts) -> Said:
    if p.case_kind == CaseKind.MAJOR and p.candidate_id:
        return Said("state", f"Major case opened from {case_number(p.candidate_id)}")
    return Said("state", f"Case opened ({p.case_kind or 'case'})" + (" by the workflow rule" if p.by_rule else ""))


@wording(ek.CaseStateChanged)
def _case_state_changed(p: ek.CaseStateChanged, texts: Texts) -> Said:
    title = f"State {p.from_ or '?'} → {_s(p.to)}"
    if p.children_synced:
        title += f"; {_plural(p.children_synced, 'child case')} followed"
    if p.proposal_cancelled:
        title += "; proposal withdrawn"
    if p.by == "superseded":
        title += "; the customer's own case is the account's child now"
    if p.by == "auto-close":
        title += f" automatically, {_s(p.from_) or 'resolved'} long enough"
    return Said("state", title)


@wording(ek.CasePriorityChanged)
def _case_priority_changed(p: ek.CasePriorityChanged, texts: Texts) -> Said:
    return Said("state", f"Priority {_s(p.from_)} → {_s(p.to)}")


@wording(ek.CaseWorded)
def _case_worded(p: ek.CaseWorded, texts: Texts) -> Said:
    source = " (from the template)" if p.by == "template" else ""
    return Said("state", f"Customer-facing wording{source}: {_s(p.title)}")


@wording(ek.CaseNoted)
def _case_noted(p: ek.CaseNoted, texts: Texts) -> Said:
    label = journal_label(_s(p.line_kind), _s(p.visibility))
    title = label[:1].upper() + label[1:]
    if p.via:
        title += f" by {_s(p.via)}"
    if p.children:
        title += f", copied to {_plural(p.children, 'child case')}"
    if p.notices:
        title += f", {_plural(p.notices, 'notice')} queued"
    return Said("note", title, texts.entries.get(_n(p.entry_id), ""))


@wording(ek.CaseAttached)
def _case_attached(p: ek.CaseAttached, texts: Texts) -> Said:
    title = f"Attached to major case {case_number(p.parent_id)}" if p.parent_id else "Attached to a major case"
    if p.notices:
        title += f", {_plural(p.notices, 'notice')} queued"
    return Said("children", title)


@wording(ek.CaseIncidentSynced)
def _case_incident_synced(p: ek.CaseIncidentSynced, texts: Texts) -> Said:
    label = journal_label(_s(p.entry_kind), _s(p.visibility))
    return Said("incident", f"{incident_number(_n(p.incident_id))} {label}", texts.entries.get(_n(p.entry_id), ""))


@wording(ek.MajorCaseProposed)
def _proposed(p: ek.MajorCaseProposed, texts: Texts) -> Said:
    title = "Proposed as a major case" + (" by the workflow rule" if p.by_rule else "")
    return Said("proposal", title, f"Reason: {_s(p.reason)}\nBusiness impact: {_s(p.business_impact)}")


@wording(ek.MajorCaseRejected)
def _rejected(p: ek.MajorCaseRejected, texts: Texts) -> Said:
    return Said("proposal", "Proposal rejected", f"Reason: {_s(p.reason)}")


@wording(ek.MajorCaseApproved)
def _approved(p: ek.MajorCaseApproved, texts: Texts) -> Said:
    title = f"Approved: {_plural(p.children, 'child case')}, {_plural(p.notices, 'notice')} queued"
    if p.notices_skipped:
        title += f" ({p.notices_skipped} skipped)"
    if p.outage:
        title += f"; {p.outage} on the status page"
    return Said("approval", title, tallies={"children": _n(p.children), "notices": _n(p.notices)})


@wording(ek.MajorCaseAccountsAdded)
def _accounts_added(p: ek.MajorCaseAccountsAdded, texts: Texts) -> Said:
    title = (
        f"{_plural(p.accounts_added, 'account')} added: "
        f"{_plural(p.children, 'child case')}, {_plural(p.notices, 'notice')} queued"
    )
    return Said("children", title, tallies={"children": _n(p.children), "notices": _n(p.notices)})


@wording(ek.StatementPosted)
def _statement(p: ek.StatementPosted, texts: Texts) -> Said:
    title = f"Statement to {_plural(p.children, 'child case')}, {_plural(p.notices, 'notice')} queued"
    if p.notices_skipped:
        title += f" ({p.notices_skipped} skipped)"
    return Said("statement", title, texts.statements.get(_n(p.statement_id), ""))


@wording(ek.MajorCaseResolved)
def _resolved(p: ek.MajorCaseResolved, texts: Texts) -> Said:
    title = (
        f"Resolved ({_s(p.code)}): {_plural(p.children, 'child case')} resolved, "
        f"{_n(p.children_skipped)} left as they were, {_plural(p.notices, 'notice')} queued"
    )
    if p.notices_skipped:
        title += f" ({p.notices_skipped} skipped)"
    if p.outages_ended:
        title += f"; {_plural(p.outages_ended, 'outage')} ended on the status page"
    return Said("resolution", title, tallies={"children": _n(p.children)})


@wording(ek.MajorCaseClosed)
def _closed(p: ek.MajorCaseClosed, texts: Texts) -> Said:
    title = f"Closed: {_plural(p.children, 'child case')} closed, {_n(p.children_skipped)} left as they were"
    return Said("resolution", title, tallies={"children": _n(p.children)})


@wording(ek.InsightGrouped)
def _grouped(p: ek.InsightGrouped, texts: Texts) -> Said:
    return Said(
        "children", f"Groups {_plural(len(p.case_ids or ()), 'similar case')} from {_plural(p.accounts, 'account')}"
    )


# --- notices and articles -------------------------------------------------------------------


@wording(ek.NoticesDelivered)
def _delivered(p: ek.NoticesDelivered, texts: Texts) -> Said:
    tallies = {k: _n(getattr(p, k)) for k in NOTICE_TALLIES}
    return Said("notices", notices_title(tallies), group="notices", tallies=tallies)


@wording(ek.NoticesRetried)
def _notices_retried(p: ek.NoticesRetried, texts: Texts) -> Said:
    return Said("notices", f"{_plural(p.count, 'notice')} sent again")


@wording(ek.NoticeRetried)
def _notice_retried(p: ek.NoticeRetried, texts: Texts) -> Said:
    return Said("notices", f"Notice sent again (was {_s(p.was)})", _s(p.error))


@wording(ek.ArticleAttached)
def _article_attached(p: ek.ArticleAttached, texts: Texts) -> Said:
    return Said("other", f"{_named('Article', p.article)} attached", _s(p.title))


@wording(ek.ArticleDetached)
def _article_detached(p: ek.ArticleDetached, texts: Texts) -> Said:
    return Said("other", f"{_named('Article', p.article)} detached")


@wording(ek.ArticleViewed)
def _article_viewed(p: ek.ArticleViewed, texts: Texts) -> Said:
    return Said("other", f"{_named('Article', p.number)} read by a customer")


@wording(ek.ArticleCreated)
def _article_created(p: ek.ArticleCreated, texts: Texts) -> Said:
    shown = "customers" if p.customer_visible else "staff"
    return Said("other", f"{_named('Article', p.number)} written (shown to {shown})", _s(p.title))


@wording(ek.ArticleUpdated)
def _article_updated(p: ek.ArticleUpdated, texts: Texts) -> Said:
    return Said("other", f"{_named('Article', p.number)} updated: {', '.join(p.changed or ()) or 'nothing'}")


# --- outages --------------------------------------------------------------------------------


@wording(ek.OutageCreated)
def _outage_created(p: ek.OutageCreated, texts: Texts) -> Said:
    title = f"{_named('Outage', p.number)}{_aside(p.type)} on the status page"
    if p.notices:
        title += f", {_plural(p.notices, 'notice')} queued"
    if p.notices_skipped:
        title += f" ({p.notices_skipped} skipped)"
    return Said("statement", title, _s(p.title))


@wording(ek.OutageUpdated)
def _outage_updated(p: ek.OutageUpdated, texts: Texts) -> Said:
    title = f"{_named('Outage', p.number)} updated: {', '.join(p.changed or ()) or 'nothing'}"
    if p.notices:
        title += f", {_plural(p.notices, 'notice')} queued"
    if p.notices_skipped:
        title += f" ({p.notices_skipped} skipped)"
    return Said("statement", title)


@wording(ek.OutageEnded)
def _outage_ended(p: ek.OutageEnded, texts: Texts) -> Said:
    return Said("resolution", f"{_named('Outage', p.number)} ended")


# --- incidents and alerts -------------------------------------------------------------------


@wording(ek.IncidentOpened)
def _incident_opened(p: ek.IncidentOpened, texts: Texts) -> Said:
    title = f"{_named('Incident', p.number)} opened{_aside(p.severity, _plural(len(p.alert_ids or ()), 'alert'))}"
    if p.follows:
        title += f", following {_s(p.follows)}"
    return Said("incident", title, _s(p.title))


@wording(ek.IncidentAlertJoined)
def _alert_joined(p: ek.IncidentAlertJoined, texts: Texts) -> Said:
    return Said("incident", f"Alert on {_s(p.ci) or 'an unmapped CI'} joined")


@wording(ek.IncidentSeverityChanged)
def _incident_severity(p: ek.IncidentSeverityChanged, texts: Texts) -> Said:
    return Said("incident", f"Severity {p.from_ or '?'} → {_s(p.to)}")


@wording(ek.IncidentRootCauseChanged)
def _root_cause(p: ek.IncidentRootCauseChanged, texts: Texts) -> Said:
    return Said("incident", f"Probable root cause {p.from_ or '?'} → {p.to or '?'}")


@wording(ek.IncidentWorkNoteAdded, ek.IncidentProgressPosted)
def _incident_line(p: ek.IncidentWorkNoteAdded | ek.IncidentProgressPosted, texts: Texts) -> Said:
    title = "Work note" if isinstance(p, ek.IncidentWorkNoteAdded) else "Progress update"
    return Said("incident", title, texts.entries.get(_n(p.entry_id), ""))


@wording(ek.IncidentStateChanged, ek.IncidentClosed)
def _incident_state(p: ek.IncidentStateChanged | ek.IncidentClosed, texts: Texts) -> Said:
    return Said("incident", f"Incident state {p.from_ or '?'} → {_s(p.to)}", texts.entries.get(_n(p.entry_id), ""))


@wording(ek.IncidentEtaSet)
def _eta(p: ek.IncidentEtaSet, texts: Texts) -> Said:
    return Said("incident", f"ETA {p.eta}" if p.eta else "ETA cleared")


@wording(ek.IncidentResolved)
def _incident_resolved(p: ek.IncidentResolved, texts: Texts) -> Said:
    return Said("resolution", f"Incident resolved{_aside(p.code)}", texts.entries.get(_n(p.entry_id), ""))


@wording(*ek.ALERT_CHANGES.values())
def _alert_change(p: ek.AlertChange, texts: Texts) -> Said:
    verb = p.kind.removeprefix("alert.")
    return Said("incident", f"{_named('Alert', p.name)} {verb}{_aside(p.severity, p.ci or 'unmapped')}")


@wording(ek.AlertsLeftOut)
def _alerts_left_out(p: ek.AlertsLeftOut, texts: Texts) -> Said:
    return Said("incident", p.describe())


@wording(ek.AlertAcknowledged, ek.AlertUnacknowledged)
def _alert_ack(p: ek.AlertAcknowledged | ek.AlertUnacknowledged, texts: Texts) -> Said:
    done = "acknowledged" if isinstance(p, ek.AlertAcknowledged) else "no longer acknowledged"
    return Said("incident", f"{_named('Alert', p.name)} {done}")


@wording(ek.MaintenanceAdded)
def _maintenance(p: ek.MaintenanceAdded, texts: Texts) -> Said:
    window = f"{p.starts_at} – {p.ends_at}" if p.starts_at and p.ends_at else None
    title = f"{_named('Maintenance on', p.ci)}{_aside(window)}"
    if p.alerts_flagged:
        title += f", {_plural(p.alerts_flagged, 'alert')} flagged"
    return Said("other", title, _s(p.reason))


# --- users, the world, imports --------------------------------------------------------------


@wording(ek.WebSignInLinkSent)
def _web_link(p: ek.WebSignInLinkSent, texts: Texts) -> Said:
    return Said("other", f"Web portal sign-in link sent to {_named('contact', p.contact)}{_aside(p.account)}")


@wording(ek.WebSessionStarted)
def _web_in(p: ek.WebSessionStarted, texts: Texts) -> Said:
    return Said("other", f"{_named('Contact', p.contact)} signed in to the web portal{_aside(p.account)}")


@wording(ek.WebSessionEnded)
def _web_out(p: ek.WebSessionEnded, texts: Texts) -> Said:
    return Said("other", f"{_named('Contact', p.contact)} signed out of the web portal")


@wording(ek.UserAdded, ek.UserBootstrapped)
def _user(p: ek.UserAdded | ek.UserBootstrapped, texts: Texts) -> Said:
    return Said("other", f"{_named('User', p.name)} added{_aside(p.role, p.account)}")


@wording(ek.UserKeyAdded)
def _key_added(p: ek.UserKeyAdded, texts: Texts) -> Said:
    return Said("other", f"SSH key {p.fingerprint} added for {_named('user', p.name)}{_aside(p.algorithm)}")


@wording(ek.UserKeyRemoved)
def _key_removed(p: ek.UserKeyRemoved, texts: Texts) -> Said:
    return Said("other", f"SSH key {p.fingerprint} removed from {_named('user', p.name)}")


@wording(ek.GatewaySecretCreated)
def _gateway_secret(p: ek.GatewaySecretCreated, texts: Texts) -> Said:
    return Said("other", "SSH gateway ticket secret created")


@wording(ek.WorldDemo)
def _demo(p: ek.WorldDemo, texts: Texts) -> Said:
    return Said("other", "Demo world")


@wording(ek.WorldSeeded)
def _seeded(p: ek.WorldSeeded, texts: Texts) -> Said:
    seed = None if p.seed is None else f"seed {p.seed}"
    return Said("other", f"World seeded{_aside(p.size, seed)}: {_n(p.rows):,} rows")


@wording(ek.CatalogueChanged)
def _catalogue_changed(p: ek.CatalogueChanged, texts: Texts) -> Said:
    facing = {True: "customer-facing", False: "internal", None: "by its kind"}[p.customer_facing]
    public = f" as {p.public_name!r}" if p.public_name else ""
    return Said("other", f"Catalogue: {p.entry} {p.name}{public}, {facing}")


@wording(ek.ImportCompleted)
def _imported(p: ek.ImportCompleted, texts: Texts) -> Said:
    title = (
        f"{_named('Imported', p.import_kind)}{_aside(p.file_name)}: {_n(p.inserted)} new, "
        f"{_n(p.updated)} updated, {_n(p.unchanged)} unchanged"
    )
    return Said("other", title)


def _merged(stretch: Sequence[TimelineEntry]) -> TimelineLine:
    first, last = stretch[0], stretch[-1]
    if len(stretch) == 1:
        title = first.title
    else:
        tallies: dict[str, int] = {}
        for entry in stretch:
            for key, n in entry.tallies.items():
                tallies[key] = tallies.get(key, 0) + n
        title = notices_title(tallies) if first.group == "notices" else f"{first.title} (×{len(stretch)})"
    actors = {e.actor_name for e in stretch}
    return TimelineLine(
        at=first.at,
        until=last.at,
        category=first.category,
        title=title,
        detail="\n".join(e.detail for e in stretch if e.detail),
        actor_name=first.actor_name if len(actors) == 1 else f"{len(actors)} people",
        event_ids=tuple(e.event_id for e in stretch),
    )


def group_timeline(entries: Iterable[TimelineEntry], *, window: timedelta = GROUP_WINDOW) -> list[TimelineLine]:
    """Entries in time order as lines: a run of entries of one ``group``, each within
    ``window`` of the one before, becomes one line adding up their tallies."""
    ordered = sorted(entries, key=lambda e: (e.at, e.event_id))
    lines: list[TimelineLine] = []
    stretch: list[TimelineEntry] = []
    for entry in ordered:
        if (
            stretch
            and entry.group is not None
            and entry.group == stretch[-1].group
            and entry.at - stretch[-1].at <= window
        ):
            stretch.append(entry)
            continue
        if stretch:
            lines.append(_merged(stretch))
        stretch = [entry]
    if stretch:
        lines.append(_merged(stretch))
    return lines
