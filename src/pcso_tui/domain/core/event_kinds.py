"""Every kind of event, with its payload typed: the one list writers and readers share.

A command records ``tx.record(case.id, MajorCaseRejected(number=number, reason=reason))``; a
reader turns a stored event back into the same class with ``event.typed()`` and dispatches on
its type. One frozen dataclass per kind: ``kind`` and ``subject_type`` (class variables) say
what is stored in the event's own columns, the fields are the payload.

The stored form is the one the event table, ``pcso events list --json`` and the live feed have
always carried: ``stored()`` writes a field under its own name (or under ``key(...)``, for JSON
keys that are Python keywords or clash with ``kind``), and leaves out an optional field (one
with a default) that is None, so events that never carried a key still do not. Reading is
tolerant: a key an old row lacks, or a value of another type than declared, reads as None.

Standard library only: the screens and the timeline import it before the database stack.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import MISSING, dataclass, field, fields
from typing import Any, ClassVar, TypeVar, dataclass_transform

P = TypeVar("P", bound="Payload")


class Payload:
    """The payload of one kind of event. Subclasses are made with ``@event_kind``."""

    __slots__ = ()
    kind: ClassVar[str]
    subject_type: ClassVar[str]
    # Other subject types this kind may be recorded against (``tx.record(..., subject_type=)``).
    other_subjects: ClassVar[tuple[str, ...]] = ()
    # Filled in by @event_kind: (attribute, JSON key, left out when None, accepts the value).
    _layout: ClassVar[tuple[tuple[str, str, bool, Callable[[Any], bool]], ...]]

    def stored(self) -> dict[str, Any]:
        """The payload as stored (JSON-ready): compiled per class by ``@event_kind``, so only a
        declared kind can be written."""
        raise TypeError(f"{type(self).__name__} is not an event kind: declare it with @event_kind")

    @classmethod
    def from_stored(cls: type[P], payload: Mapping[str, Any]) -> P:
        """The payload read back from a stored dict, tolerant of old and odd rows."""
        values: dict[str, Any] = {}
        for attr, json_key, _optional, accepts in cls._layout:
            value = payload.get(json_key)
            values[attr] = value if value is not None and accepts(value) else None
        return cls(**values)


REGISTRY: dict[str, type[Payload]] = {}


def key(name: str, **kwargs: Any) -> Any:
    """A field stored under another JSON key (``from``, or ``kind`` beside the class's own)."""
    return field(metadata={"key": name}, **kwargs)


def _accepts(annotation: Any) -> Callable[[Any], bool]:
    """A check of a stored value against a field's declared type (outer type only)."""
    options = typing.get_args(annotation) if isinstance(annotation, types.UnionType) else (annotation,)
    kinds = tuple(typing.get_origin(o) or o for o in options if o is not type(None))
    if int in kinds and bool not in kinds:  # True is an int to isinstance, never a count here
        return lambda value: isinstance(value, kinds) and not isinstance(value, bool)
    return lambda value: isinstance(value, kinds)


# Type checkers see each kind as the keyword-only frozen dataclass it becomes.
@dataclass_transform(kw_only_default=True, frozen_default=True, field_specifiers=(field, key))
def event_kind(cls: type[P]) -> type[P]:
    """Make ``cls`` a frozen, keyword-only dataclass, register its kind and compile ``stored``."""
    if cls.__dict__.get("kind") in REGISTRY:
        raise ValueError(f"event kind {cls.kind!r} declared twice")
    made: type[P] = dataclass(frozen=True, slots=True, kw_only=True)(cls)
    hints = typing.get_type_hints(made)
    layout = tuple(
        (f.name, f.metadata.get("key", f.name), f.default is not MISSING, _accepts(hints[f.name]))
        for f in fields(typing.cast(Any, made))
    )
    made._layout = layout
    made.stored = _compile_stored(made.__name__, layout)  # type: ignore[method-assign,assignment]
    REGISTRY[made.kind] = made
    return made


def _compile_stored(name: str, layout: tuple[tuple[str, str, bool, Any], ...]) -> Callable[[Any], dict[str, Any]]:
    # Generated source, like dataclasses' own __init__: bulk paths build 10,000+ payloads per
    # command, and a dict display is several times faster than a loop over the fields. Keys
    # keep the declared order (SQLite stores the JSON text as written).
    leading = []
    for attr, json_key, optional, _ in layout:
        if optional:
            break
        leading.append(f"{json_key!r}: self.{attr}")
    lines = ["def stored(self):", f"    d = {{{', '.join(leading)}}}"]
    for attr, json_key, optional, _ in layout[len(leading) :]:
        if optional:
            lines += [f"    if self.{attr} is not None:", f"        d[{json_key!r}] = self.{attr}"]
        else:
            lines.append(f"    d[{json_key!r}] = self.{attr}")
    lines.append("    return d")
    namespace: dict[str, Any] = {}
    exec("\n".join(lines), {}, namespace)  # source built from field names only
    stored: Callable[[Any], dict[str, Any]] = namespace["stored"]
    stored.__qualname__ = f"{name}.stored"
    return stored


def typed(kind: str, payload: Mapping[str, Any] | None) -> Payload | None:
    """The catalogue object for a stored event; None for a kind not (or no longer) listed."""
    cls = REGISTRY.get(kind)
    return None if cls is None else cls.from_stored(payload if isinstance(payload, Mapping) else {})


# --- alerts ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertChange(Payload):
    """An alert's state change (not a kind itself: its five kinds below share its fields)."""

    fingerprint: str
    name: str
    severity: str
    ci: str | None
    from_: str | None = key("from")  # the state before; None for a new alert


@event_kind
class AlertOpened(AlertChange):
    kind = "alert.opened"
    subject_type = "alert"


@event_kind
class AlertReopened(AlertChange):
    kind = "alert.reopened"
    subject_type = "alert"


@event_kind
class AlertClosed(AlertChange):
    kind = "alert.closed"
    subject_type = "alert"


@event_kind
class AlertFlapping(AlertChange):
    kind = "alert.flapping"
    subject_type = "alert"


@event_kind
class AlertSettled(AlertChange):
    kind = "alert.settled"
    subject_type = "alert"


# An ingest's state changes by their name there (``alerts._transition``).
ALERT_CHANGES: dict[str, type[AlertChange]] = {
    "opened": AlertOpened,
    "reopened": AlertReopened,
    "closed": AlertClosed,
    "flapping": AlertFlapping,
    "settled": AlertSettled,
}


@event_kind
class AlertsLeftOut(Payload):
    """A sender left alerts out of a group it posted (Alertmanager's ``max_alerts``:
    ``truncatedAlerts``): their state is unknown here. Recorded against the first alert of
    the post."""

    kind = "alerts.left_out"
    subject_type = "alert"
    source: str
    left_out: int
    received: int

    def describe(self) -> str:
        """``3 alerts left out by Alertmanager's max_alerts (12 received)``."""
        n = self.left_out or 0
        by = {"alertmanager": "Alertmanager's max_alerts", "grafana": "Grafana's max_alerts"}.get(
            self.source or "", f"the sender ({self.source})"
        )
        return f"{n:,} alert{'s' if n != 1 else ''} left out by {by} ({self.received or 0:,} received)"


@event_kind
class AlertAcknowledged(Payload):
    kind = "alert.acknowledged"
    subject_type = "alert"
    fingerprint: str
    name: str


@event_kind
class AlertUnacknowledged(Payload):
    kind = "alert.unacknowledged"
    subject_type = "alert"
    fingerprint: str
    name: str


@event_kind
class MaintenanceAdded(Payload):
    kind = "maintenance.added"
    subject_type = "maintenance_window"
    ci: str
    starts_at: str  # ISO 8601, as every time in a payload
    ends_at: str
    reason: str
    alerts_flagged: int


# --- incidents ------------------------------------------------------------------------------


@event_kind
class IncidentOpened(Payload):
    kind = "incident.opened"
    subject_type = "incident"
    number: str
    title: str
    severity: str
    rule: str | None  # the correlation rule; None when opened by hand
    alert_ids: list[int]
    cis: list[str]
    root_ci: str | None
    # The incident its alerts would have joined had that one still taken alerts (its major
    # case resolved, or quiet too long): this one follows it.
    follows: str | None = None


@event_kind
class IncidentAlertJoined(Payload):
    kind = "incident.alert_joined"
    subject_type = "incident"
    alert_id: int
    fingerprint: str
    ci: str | None


@event_kind
class IncidentSeverityChanged(Payload):
    kind = "incident.severity_changed"
    subject_type = "incident"
    from_: str | None = key("from")
    to: str


@event_kind
class IncidentRootCauseChanged(Payload):
    kind = "incident.root_cause_changed"
    subject_type = "incident"
    from_: str | None = key("from")
    to: str | None


@event_kind
class IncidentWorkNoteAdded(Payload):
    kind = "incident.work_note_added"
    subject_type = "incident"
    entry_id: int


@event_kind
class IncidentProgressPosted(Payload):
    kind = "incident.progress_posted"
    subject_type = "incident"
    entry_id: int


@event_kind
class IncidentStateChanged(Payload):
    kind = "incident.state_changed"
    subject_type = "incident"
    entry_id: int
    from_: str = key("from")
    to: str


@event_kind
class IncidentClosed(Payload):
    kind = "incident.closed"
    subject_type = "incident"
    entry_id: int
    from_: str = key("from")
    to: str


@event_kind
class IncidentEtaSet(Payload):
    kind = "incident.eta_set"
    subject_type = "incident"
    entry_id: int
    eta: str | None  # None: the ETA was cleared


@event_kind
class IncidentResolved(Payload):
    kind = "incident.resolved"
    subject_type = "incident"
    entry_id: int
    code: str


# --- cases ----------------------------------------------------------------------------------


@event_kind
class CaseOpened(Payload):
    """Every way a case opens; each way stores the fields that describe it."""

    kind = "case.opened"
    subject_type = "case"
    number: str
    case_kind: str
    candidate_id: int | None = None  # a major case made from a proposed case
    incident_id: int | None = None
    alert_id: int | None = None
    priority: int | None = None
    accounts: int | None = None
    items: int | None = None
    account: str | None = None  # a reactive case: the customer's account number
    channel: str | None = None
    parent_id: int | None = None  # a child case: its major case and account
    account_id: int | None = None
    by_rule: bool | None = None  # a proactive case the workflow rule opened on its incident


@event_kind
class CaseStateChanged(Payload):
    """A state change; ``by`` says why when it was not the case's own command (``sync`` and
    ``cascade`` from the major case ``parent_id``, ``customer reply``)."""

    kind = "case.state_changed"
    subject_type = "case"
    number: str | None = None
    from_: str | None = key("from", default=None)
    to: str
    by: str | None = None
    parent_id: int | None = None
    code: str | None = None
    proposal_cancelled: bool | None = None
    children_synced: int | None = None


@event_kind
class CasePriorityChanged(Payload):
    kind = "case.priority_changed"
    subject_type = "case"
    number: str | None = None
    from_: int | None = key("from", default=None)
    to: int
    by: str | None = None
    parent_id: int | None = None
    children_synced: int | None = None


@event_kind
class CaseWorded(Payload):
    """The customer-facing title and summary of a case were set (by a person, or prefilled
    from the neutral template: ``by="template"``)."""

    kind = "case.worded"
    subject_type = "case"
    number: str | None = None
    title: str | None = None
    summary: str | None = None
    by: str | None = None


@event_kind
class CaseNoted(Payload):
    kind = "case.noted"
    subject_type = "case"
    number: str
    entry_id: int
    line_kind: str
    visibility: str
    children: int  # child cases the line was copied to
    notices: int | None = None  # a staff comment: notices queued to the case's contacts
    account: str | None = None  # a customer's reply: their account
    from_case_id: int | None = None  # a reply on a child, shown on its major case too
    from_case: str | None = None
    via: str | None = None  # a customer's reply that came by "email" (None: the portal)


@event_kind
class CaseAttached(Payload):
    kind = "case.attached"
    subject_type = "case"
    number: str
    parent_id: int
    by: str | None = None
    deflected: bool | None = None
    children: int | None = None
    notices: int | None = None
    notices_skipped: int | None = None


@event_kind
class CaseIncidentSynced(Payload):
    kind = "case.incident_synced"
    subject_type = "case"
    incident_id: int
    entry_id: int
    entry_kind: str = key("kind")  # the incident journal line's kind
    visibility: str


# --- major cases ----------------------------------------------------------------------------


@event_kind
class MajorCaseProposed(Payload):
    kind = "major_case.proposed"
    subject_type = "case"
    number: str
    reason: str
    business_impact: str
    by_rule: bool


@event_kind
class MajorCaseApproved(Payload):
    kind = "major_case.approved"
    subject_type = "case"
    number: str
    candidate_id: int
    created_new_major: bool
    children: int
    notices: int
    notices_skipped: int
    outage: str | None  # the outage the approval declared on the status page
    by_rule: bool


@event_kind
class MajorCaseRejected(Payload):
    kind = "major_case.rejected"
    subject_type = "case"
    number: str
    reason: str


@event_kind
class MajorCaseAccountsAdded(Payload):
    kind = "major_case.accounts_added"
    subject_type = "case"
    number: str
    accounts_added: int
    accounts_already: int
    children: int
    notices: int
    notices_skipped: int
    source: str


@event_kind
class MajorCaseResolved(Payload):
    kind = "major_case.resolved"
    subject_type = "case"
    number: str
    code: str
    children: int
    children_skipped: int
    notices: int
    notices_skipped: int
    outages_ended: int


@event_kind
class MajorCaseClosed(Payload):
    kind = "major_case.closed"
    subject_type = "case"
    number: str
    children: int
    children_skipped: int


@event_kind
class StatementPosted(Payload):
    kind = "statement.posted"
    subject_type = "case"
    number: str
    statement_id: int
    children: int
    notices: int
    notices_skipped: int


@event_kind
class InsightGrouped(Payload):
    """Similar cases grouped under a new major case candidate."""

    kind = "insight.grouped"
    subject_type = "case"
    case_ids: list[int]
    accounts: int


# --- communications -------------------------------------------------------------------------


@event_kind
class ArticleCreated(Payload):
    kind = "article.created"
    subject_type = "article"
    number: str
    title: str
    customer_visible: bool


@event_kind
class ArticleUpdated(Payload):
    kind = "article.updated"
    subject_type = "article"
    number: str
    changed: list[str]


@event_kind
class ArticleAttached(Payload):
    kind = "article.attached"
    subject_type = "case"
    article: str
    title: str


@event_kind
class ArticleDetached(Payload):
    kind = "article.detached"
    subject_type = "case"
    article: str


@event_kind
class ArticleViewed(Payload):
    """A customer opened a published article (self-service: the dashboard counts these)."""

    kind = "article.viewed"
    subject_type = "article"
    number: str


@event_kind
class NoticeRetried(Payload):
    kind = "notice.retried"
    subject_type = "notice"
    was: str
    error: str | None
    case_id: int | None


@event_kind
class NoticesRetried(Payload):
    """Dead notices queued again: of one case, or (subject ``notice``, no id) all of them."""

    kind = "notices.retried"
    subject_type = "case"
    other_subjects = ("notice",)
    count: int


@event_kind
class NoticesDelivered(Payload):
    """One delivery batch's outcome for one major case (or outage, or neither)."""

    kind = "notices.delivered"
    subject_type = "case"
    other_subjects = ("outage", "notice")
    sent: int
    retrying: int
    dead: int
    skipped: int
    channels: dict[str, int] = field(default_factory=dict)


# Kinds about delivering notices: the outbox follows them; they change nothing a customer sees.
NOTICE_KINDS = frozenset({NoticeRetried.kind, NoticesRetried.kind, NoticesDelivered.kind})


@event_kind
class OutageCreated(Payload):
    kind = "outage.created"
    subject_type = "outage"
    number: str
    type: str
    title: str
    case_id: int | None
    by: str | None = None  # declared by a major case's approval or reopening
    notices: int
    notices_skipped: int = 0


@event_kind
class OutageUpdated(Payload):
    kind = "outage.updated"
    subject_type = "outage"
    number: str
    changed: list[str]
    notices: int
    notices_skipped: int = 0


@event_kind
class OutageEnded(Payload):
    kind = "outage.ended"
    subject_type = "outage"
    number: str
    ends_at: str
    by: str | None = None  # "resolution": ended by its major case's


# --- users, the world, imports --------------------------------------------------------------


@event_kind
class UserAdded(Payload):
    kind = "user.added"
    subject_type = "user"
    name: str
    role: str
    account: str | None


@event_kind
class WebSignInLinkSent(Payload):
    """A one-time sign-in link to the web portal was queued for a contact."""

    kind = "web.sign_in_link_sent"
    subject_type = "contact"
    contact: str
    account: str


@event_kind
class WebSessionStarted(Payload):
    """A contact signed in to the web portal with a link."""

    kind = "web.session_started"
    subject_type = "contact"
    contact: str
    account: str


@event_kind
class WebSessionEnded(Payload):
    """A contact signed out of the web portal."""

    kind = "web.session_ended"
    subject_type = "contact"
    contact: str


@event_kind
class UserBootstrapped(Payload):
    """The first admin, added by whoever installed pcso."""

    kind = "user.bootstrapped"
    subject_type = "user"
    name: str
    role: str
    account: str | None


@event_kind
class UserKeyAdded(Payload):
    """An SSH public key registered for a user: it signs them in to ``pcso gateway``."""

    kind = "user.key_added"
    subject_type = "user"
    name: str
    fingerprint: str
    algorithm: str


@event_kind
class UserKeyRemoved(Payload):
    kind = "user.key_removed"
    subject_type = "user"
    name: str
    fingerprint: str


@event_kind
class GatewaySecretCreated(Payload):
    """``pcso gateway`` made the secret its session tickets are signed with (first start)."""

    kind = "gateway.secret_created"
    subject_type = "gateway"


@event_kind
class WorldDemo(Payload):
    """This database holds the demo world."""

    kind = "world.demo"
    subject_type = "world"


@event_kind
class WorldSeeded(Payload):
    kind = "world.seeded"
    subject_type = "world"
    size: str
    seed: int
    rows: int
    counts: dict[str, int]


@event_kind
class CatalogueChanged(Payload):
    """A product or CI's place in the public service catalogue: the name customers know it by
    and whether they are told about it (``customer_facing`` None: decided by the CI's kind)."""

    kind = "catalogue.changed"
    subject_type = "catalogue"
    entry: str  # product or ci
    name: str
    public_name: str | None = None
    customer_facing: bool | None = None


@event_kind
class ImportCompleted(Payload):
    kind = "import.completed"
    subject_type = "import"
    import_kind: str = key("kind")  # accounts, contacts, …
    file_name: str
    rows: int
    inserted: int
    updated: int
    unchanged: int
    rerooted: int
