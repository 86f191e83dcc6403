"""Read models: what queries hand to screens, the CLI and plugins.

Frozen dataclasses of plain values, safe to keep after the session that produced them has
closed. This module imports nothing but the standard library so that screens can import it
before the database stack is loaded (start-up time).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any


def case_number(case_id: int) -> str:
    return f"CS{case_id:07d}"


def incident_number(incident_id: int) -> str:
    return f"INC{incident_id:07d}"


def outage_number(outage_id: int) -> str:
    return f"OUT{outage_id:07d}"


def parse_number(text: str, prefix: str) -> int | None:
    """``CS0000042`` (or ``42``) → 42 for the given prefix; None if it is not such a number."""
    text = text.strip().upper()
    if text.startswith(prefix):
        text = text[len(prefix) :]
    return int(text) if text.isdigit() else None


def to_jsonable(value: Any) -> Any:
    """A read model (or a list of them) as JSON-ready data, for ``--json``."""
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if hasattr(value, "__dataclass_fields__"):
        return {k: to_jsonable(v) for k, v in asdict(value).items()}
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


@dataclass(frozen=True, slots=True)
class EventView:
    id: int
    at: datetime
    actor_name: str
    impersonator: str | None
    kind: str
    subject_type: str
    subject_id: int | None
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class UserView:
    id: int
    name: str
    display_name: str
    role: str
    account_number: str | None
    active: bool
    created_at: datetime


# --- install base: import and lists -------------------------------------------------------

# What ``pcso import KIND`` accepts, in the order a fresh world is best imported.
IMPORT_KINDS = ("accounts", "contacts", "products", "sold_products", "cis", "ci_relations", "install_base_items")


@dataclass(frozen=True, slots=True)
class ImportResult:
    """What one import did. ``rerooted`` counts items outside the file whose root moved with it."""

    kind: str
    file_name: str
    rows: int
    inserted: int
    updated: int
    unchanged: int
    rerooted: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.inserted or self.updated or self.rerooted)


@dataclass(frozen=True, slots=True)
class AccountView:
    number: str
    name: str
    tier: str
    region: str
    industry: str
    is_external: bool
    contacts: int
    items: int


@dataclass(frozen=True, slots=True)
class ContactView:
    number: str
    name: str
    email: str | None
    phone: str | None
    preferred_channel: str
    webhook_url: str | None
    is_primary: bool
    opted_out: bool


@dataclass(frozen=True, slots=True)
class InstallBaseItemView:
    number: str
    name: str
    product_number: str
    product_name: str
    sold_product_number: str | None
    parent_number: str | None
    root_number: str | None
    ci_name: str | None
    service_name: str | None
    status: str
    installed_on: date | None
    characteristics: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AccountDetail:
    """One account with its contacts and (the first ``len(items)`` of ``items_total``) items."""

    account: AccountView
    contacts: tuple[ContactView, ...]
    items: tuple[InstallBaseItemView, ...]
    items_total: int


@dataclass(frozen=True, slots=True)
class CIView:
    """A configuration item with the size of its neighbourhood in the service map."""

    name: str
    kind: str
    description: str
    environment: str
    location: str
    multi_tenant: bool
    dependencies: int
    dependents: int
    items: int


# --- incidents (domain/incidents.py, domain/correlation.py) -----------------------------------


@dataclass(frozen=True, slots=True)
class IncidentView:
    """One line of the incident list."""

    id: int
    number: str
    title: str
    state: str
    severity: str
    root_ci_name: str | None
    alert_count: int
    # Alerts of the incident still firing (open or flapping).
    firing_count: int
    ci_count: int
    opened_at: datetime
    # The user who opened it, or None when a rule did (see ``opened_by_rule``).
    opened_by: str | None
    opened_by_rule: str | None
    eta: datetime | None
    updated_at: datetime
    # Seconds since it opened, as of the query.
    age_seconds: int
    version: int


@dataclass(frozen=True, slots=True)
class IncidentAlertView:
    id: int
    fingerprint: str
    name: str
    severity: str
    state: str
    ci_name: str | None
    # The label value the CI was looked up by (shown when the alert is unmapped).
    ci_key: str | None
    summary: str
    maintenance: bool
    last_change_at: datetime


@dataclass(frozen=True, slots=True)
class IncidentCIView:
    id: int
    name: str
    kind: str
    # Hops from this CI up to the probable root cause (0 for the root itself), if any.
    hops_to_root: int | None


@dataclass(frozen=True, slots=True)
class IncidentJournalView:
    """A line on an incident's journal. Every incident line is ``internal``; ``customer_safe``
    marks the kinds (progress, eta, state, resolution) a manager may quote in a statement."""

    id: int
    kind: str
    visibility: str
    customer_safe: bool
    body: str
    author_name: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class RootCauseView:
    """The probable root cause: the nearest CI every CI of the incident depends on (or is)."""

    ci_id: int
    ci_name: str
    # Sum of the hops from each CI of the incident up to it (the smallest such sum wins).
    total_hops: int
    explanation: str


@dataclass(frozen=True, slots=True)
class IncidentDetail:
    incident: IncidentView
    resolution_code: str | None
    resolution_notes: str | None
    resolved_at: datetime | None
    closed_at: datetime | None
    root_cause: RootCauseView | None
    # Why there is no root cause, when there is none.
    root_cause_note: str
    alerts: tuple[IncidentAlertView, ...]
    cis: tuple[IncidentCIView, ...]
    journal: tuple[IncidentJournalView, ...]


@dataclass(frozen=True, slots=True)
class HeartbeatView:
    name: str
    reported_at: datetime
    reports: int


# --- cases and major cases (domain/cases.py, domain/major_cases.py) ------------------------


@dataclass(frozen=True, slots=True)
class CaseView:
    """One row of a case queue."""

    id: int
    number: str
    kind: str
    state: str
    major_case_state: str
    priority: int
    priority_name: str
    short_description: str
    channel: str
    account_number: str | None
    account_name: str | None
    # How many accounts the case affects (its case_account rows).
    affected_accounts: int
    incident_id: int | None
    incident_number: str | None
    incident_state: str | None
    opened_at: datetime
    updated_at: datetime
    # Seconds since it opened, by the domain's clock when the query ran.
    age_seconds: int
    parent_id: int | None
    parent_number: str | None
    deflected: bool
    version: int


@dataclass(frozen=True, slots=True)
class JournalLineView:
    """A journal line; ``label`` says what it is and who can read it ("work note · internal")."""

    id: int
    at: datetime
    author_name: str
    kind: str
    visibility: str
    label: str
    body: str
    statement_id: int | None
    source_entry_id: int | None


@dataclass(frozen=True, slots=True)
class AffectedAccountView:
    account_id: int
    number: str
    name: str
    tier: str
    region: str
    is_external: bool
    # impact | reported | likely | manual
    source: str
    contact_name: str | None
    contact_channel: str | None
    child_id: int | None
    child_number: str | None
    child_state: str | None


@dataclass(frozen=True, slots=True)
class AffectedItemView:
    item_id: int
    number: str
    name: str
    product_name: str
    account_number: str
    ci_name: str | None


@dataclass(frozen=True, slots=True)
class CaseIncidentView:
    id: int
    number: str
    title: str
    state: str
    severity: str
    eta: datetime | None
    opened_at: datetime


@dataclass(frozen=True, slots=True)
class CaseAlertView:
    id: int
    name: str
    severity: str
    state: str
    ci_key: str | None
    summary: str


@dataclass(frozen=True, slots=True)
class StatementView:
    id: int
    at: datetime
    author_name: str
    body: str


@dataclass(frozen=True, slots=True)
class CaseDetail:
    """Everything the case detail screen shows. Customers get their own view of it: only
    customer-visible journal lines, only their own account, no incident or alert."""

    case: CaseView
    description: str
    contact_number: str | None
    contact_name: str | None
    contact_channel: str | None
    product_name: str | None
    propose_reason: str | None
    business_impact: str | None
    proposed_at: datetime | None
    proposed_by: str | None
    decided_at: datetime | None
    decided_by: str | None
    reject_reason: str | None
    resolution_code: str | None
    resolution_notes: str | None
    resolved_at: datetime | None
    closed_at: datetime | None
    # One page of affected accounts and items, and how many there are in all.
    accounts: tuple[AffectedAccountView, ...]
    accounts_total: int
    items: tuple[AffectedItemView, ...]
    items_total: int
    incident: CaseIncidentView | None
    alert: CaseAlertView | None
    # The newest journal lines, oldest first.
    journal: tuple[JournalLineView, ...]
    children_by_state: dict[str, int]
    children_total: int
    statements: tuple[StatementView, ...]
    notices_by_state: dict[str, int]


@dataclass(frozen=True, slots=True)
class ApprovalPreview:
    """What approving a proposed case will do: for the confirmation dialog."""

    case_id: int
    number: str
    short_description: str
    propose_reason: str | None
    business_impact: str | None
    # True when the candidate is an ordinary case: a new major case is created, it becomes a child.
    creates_new_major: bool
    accounts: int
    children: int
    notices: int
    notices_skipped: int
    accounts_without_contact: int
    # False when an outage linked to the case is already open: approval declares no other.
    declares_outage: bool = True


@dataclass(frozen=True, slots=True)
class ApprovalResult:
    major_case_id: int
    major_case_number: str
    candidate_id: int
    candidate_number: str
    created_new_major: bool
    children_created: int
    notices_queued: int
    notices_skipped: int
    # The outage the approval put on the status page (None: one linked to the case was open).
    outage_number: str | None = None


@dataclass(frozen=True, slots=True)
class AccountsAddedResult:
    case_id: int
    number: str
    accounts_added: int
    accounts_already: int
    children_created: int
    notices_queued: int
    notices_skipped: int


@dataclass(frozen=True, slots=True)
class StatementResult:
    statement_id: int
    major_case_id: int
    major_case_number: str
    children_reached: int
    notices_queued: int
    notices_skipped: int


@dataclass(frozen=True, slots=True)
class CascadeResult:
    """A major case resolved or closed, and what happened to its children."""

    major_case_id: int
    major_case_number: str
    state: str
    children_changed: int
    children_skipped: int
    notices_queued: int
    notices_skipped: int
    # Resolution: the case's outages under way that ended with it (off the status page).
    outages_ended: int = 0


@dataclass(frozen=True, slots=True)
class ProactiveCaseFacts:
    """What a workflow rule knows about a proactive case that just opened."""

    case_id: int
    case_number: str
    incident_id: int
    incident_number: str
    severity: str
    priority: int
    accounts: int
    external_accounts: int
    items: int


# --- the synthetic world (``pcso seed``) -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WorldSummary:
    """What ``seed_world`` built: rows per table, the demo users, the stretch of history."""

    size: str
    seed: int
    counts: dict[str, int]
    users: tuple[str, ...]
    customer_account: str
    customer_account_name: str
    history_from: datetime
    history_to: datetime

    @property
    def total_rows(self) -> int:
        return sum(self.counts.values())


# --- notices, outages, articles and the status page ----------------------------------------


def article_number(article_id: int) -> str:
    return f"KB{article_id:07d}"


@dataclass(frozen=True, slots=True)
class NoticeView:
    id: int
    idempotency_key: str
    kind: str
    state: str
    channel: str
    contact_number: str
    contact_name: str
    account_number: str
    account_name: str
    case_number: str | None
    outage_number: str | None
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """What one batch (or a drain of several) did."""

    claimed: int = 0
    sent: int = 0
    retrying: int = 0
    dead: int = 0
    skipped: int = 0

    def __add__(self, other: DeliveryReport) -> DeliveryReport:
        return DeliveryReport(
            self.claimed + other.claimed,
            self.sent + other.sent,
            self.retrying + other.retrying,
            self.dead + other.dead,
            self.skipped + other.skipped,
        )


@dataclass(frozen=True, slots=True)
class OutageView:
    id: int
    number: str
    type: str
    # planned | active | past, derived from begins_at/ends_at at the time of the query.
    status: str
    title: str
    details: str
    begins_at: datetime
    ends_at: datetime | None
    service: str
    ci_name: str | None
    product_number: str | None
    product_name: str | None
    case_number: str | None
    incident_number: str | None
    created_at: datetime
    # Set by create/update: how many notices the change queued.
    notices_queued: int = 0
    # Optimistic locking: hand back as ``expected_version`` to refuse a stale edit.
    version: int = 0


@dataclass(frozen=True, slots=True)
class ArticleView:
    id: int
    number: str
    title: str
    body: str
    kind: str
    customer_visible: bool
    created_at: datetime
    updated_at: datetime
    # The major cases it is attached to.
    case_numbers: tuple[str, ...] = ()
    # Optimistic locking: hand back as ``expected_version`` to refuse a stale edit.
    version: int = 0


@dataclass(frozen=True, slots=True)
class StatusArticle:
    number: str
    title: str
    body: str


@dataclass(frozen=True, slots=True)
class StatusOutage:
    """One outage as the public sees it: customer-facing fields only."""

    number: str
    type: str
    status: str
    title: str
    details: str
    service: str
    begins_at: datetime
    ends_at: datetime | None
    eta: datetime | None
    # The latest customer-facing statement on the linked major case.
    statement: str | None
    statement_at: datetime | None
    articles: tuple[StatusArticle, ...]
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class StatusPageData:
    title: str
    generated_at: datetime
    outages: tuple[StatusOutage, ...]
    # When an outage next changes status by the clock alone (a planned one begins or ends).
    next_change_at: datetime | None = None

    def with_status(self, status: str) -> tuple[StatusOutage, ...]:
        return tuple(o for o in self.outages if o.status == status)

    def by_service(self, status: str) -> list[tuple[str, tuple[StatusOutage, ...]]]:
        """Outages of one status grouped by product/service, services in name order."""
        groups: dict[str, list[StatusOutage]] = {}
        for outage in self.with_status(status):
            groups.setdefault(outage.service, []).append(outage)
        return [(name, tuple(groups[name])) for name in sorted(groups, key=str.casefold)]


# --- impact (domain/impact.py) ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ImpactCIView:
    """One affected CI: ``distance`` is the number of dependency hops from the broken CI (0 = itself)."""

    id: int
    name: str
    kind: str
    distance: int


@dataclass(frozen=True, slots=True)
class ImpactAccountView:
    """One affected account with what it has on the affected CIs.

    ``products`` and ``characteristics`` are compact summaries over the account's affected items
    (``"Billing (3), CRM (1)"``, ``"version 4.2, 4.3; region eu-west"``); ``health`` is the worst
    active alert severity on the CIs those items depend on, or ``"ok"``.
    """

    account_id: int
    number: str
    name: str
    tier: str
    region: str
    is_external: bool
    contact_name: str | None
    contact_channel: str | None
    items: int
    products: str
    characteristics: str
    health: str


@dataclass(frozen=True, slots=True)
class ImpactView:
    """What an outage of ``ci_ids`` touches: totals, the nearest CIs, and one page of accounts.

    Accounts are ordered by business weight: tier, then affected items (most first), then number.
    ``matched_accounts`` counts the accounts that match ``search`` (all of them without one).
    """

    ci_ids: tuple[int, ...]
    incident_id: int | None
    ci_count: int
    item_count: int
    account_count: int
    external_account_count: int
    contact_count: int
    cis: tuple[ImpactCIView, ...]
    accounts: tuple[ImpactAccountView, ...]
    matched_accounts: int
    offset: int
    page_size: int
    search: str | None = None


@dataclass(frozen=True, slots=True)
class ItemHealthView:
    """One install base item and the worst active alert on its CI or anything upstream of it.

    ``severity`` is ``"ok"`` when no active alert reaches the item; ``alert_ci`` names a CI that
    carries the worst alert; ``alert_count`` counts the active alerts that reach it.
    """

    item_id: int
    number: str
    name: str
    product: str
    ci_name: str | None
    parent_number: str | None
    severity: str
    alert_ci: str | None
    alert_count: int


# --- alerts -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AlertView:
    """One alert as the operator sees it. Text fields are untrusted: show them via ``printable``."""

    id: int
    fingerprint: str
    source: str
    name: str
    severity: str
    state: str
    acknowledged: bool
    maintenance: bool
    summary: str
    description: str
    labels: dict[str, str]
    annotations: dict[str, str]
    # The label value the CI was looked up by, and the CI found (None: unmapped).
    ci_key: str | None
    ci_id: int | None
    ci_name: str | None
    generator_url: str | None
    starts_at: datetime
    ends_at: datetime | None
    first_seen_at: datetime
    last_seen_at: datetime
    last_change_at: datetime
    receive_count: int
    flap_score: int
    incident_id: int | None
    version: int

    @property
    def unmapped(self) -> bool:
        return self.ci_id is None


@dataclass(frozen=True, slots=True)
class IngestResult:
    """What one ingested batch did. Every alert received counts once in new or updated."""

    received: int
    new: int
    updated: int
    reopened: int
    closed: int
    flapping: int
    unmapped: int
    # Alerts the sender left out of its snapshot (Alertmanager ``truncatedAlerts``): untouched.
    truncated: int
    # Incidents opened or joined by correlation.
    incident_ids: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class SweepResult:
    """What a sweep changed: flapping alerts settled, maintenance flags set or cleared."""

    settled: int
    maintenance_set: int
    maintenance_cleared: int


@dataclass(frozen=True, slots=True)
class MaintenanceWindowView:
    id: int
    ci_id: int
    ci_name: str
    starts_at: datetime
    ends_at: datetime
    reason: str
    created_by: str | None
    created_at: datetime
    # Open alerts on the CI flagged maintenance when the window was added (it was active).
    alerts_flagged: int = 0


# --- dashboard (domain/dashboard.py) ---------------------------------------------------------

DASHBOARD_PERIODS = ("day", "week", "month", "quarter")
# Shown wherever a KPI has nothing to measure (no division by zero, no made-up zero).
NO_VALUE = "—"


@dataclass(frozen=True, slots=True)
class PeriodView:
    """One calendar period in UTC: ``[start, end)``. Weeks start on Monday."""

    period: str
    label: str  # 2026-11-23 · 2026-W48 · 2026-11 · 2026-Q4
    start: datetime
    end: datetime
    current: bool  # the period holding the dashboard's ``at``


@dataclass(frozen=True, slots=True)
class KpiPart:
    """One slice of a KPI: an outage type, or one of the top impacted customers."""

    key: str
    label: str
    value: float
    extra: float | None = None  # top customers: outage minutes


@dataclass(frozen=True, slots=True)
class KpiPoint:
    """A KPI over one period.

    ``count`` is the number of records behind ``value`` — exactly what ``drill_down`` lists:
    the numerator of a share or ratio, the sample of an average or percentile, the records of
    a count. ``base`` is the denominator of a share or ratio. ``value`` is None when there is
    nothing to measure (shown as "—").
    """

    period: PeriodView
    value: float | None
    count: int
    base: int | None = None
    parts: tuple[KpiPart, ...] = ()


def format_kpi_value(value: float | None, unit: str) -> str:
    """A KPI value as a tile shows it: "—" when None, whole numbers for counts."""
    if value is None:
        return NO_VALUE
    if unit == "%":
        return f"{value:.1f}%"
    if unit in ("h", "min"):
        return f"{value:.1f} {unit}"
    if unit.startswith("per "):
        return f"{value:.2f}"
    return f"{value:,.0f}"


@dataclass(frozen=True, slots=True)
class KpiView:
    """One KPI: what it is (``definition`` is the help text) and its figures, the current
    period's and the trend over the periods before it (oldest first)."""

    key: str
    title: str
    group: str  # established | ours
    kind: str  # count | share | ratio | mean | percentile | ranking
    unit: str
    definition: str
    drills_to: str  # what drill_down lists: cases, accounts, items, alerts, outages, outage days
    current: KpiPoint
    trend: tuple[KpiPoint, ...]

    @property
    def value(self) -> float | None:
        return self.current.value

    @property
    def count(self) -> int:
        return self.current.count

    @property
    def base(self) -> int | None:
        return self.current.base

    @property
    def parts(self) -> tuple[KpiPart, ...]:
        return self.current.parts

    @property
    def trend_values(self) -> tuple[float | None, ...]:
        return tuple(p.value for p in self.trend)

    @property
    def series(self) -> tuple[float | None, ...]:
        """Trend then current: what a sparkline draws (None is a gap)."""
        return (*self.trend_values, self.current.value)

    @property
    def shown(self) -> str:
        return format_kpi_value(self.current.value, self.unit)


@dataclass(frozen=True, slots=True)
class Dashboard:
    period: str
    at: datetime
    computed_at: datetime
    current: PeriodView
    periods: tuple[PeriodView, ...]  # oldest first; the last is ``current``
    kpis: tuple[KpiView, ...]

    def kpi(self, key: str) -> KpiView:
        for k in self.kpis:
            if k.key == key:
                return k
        raise KeyError(key)


@dataclass(frozen=True, slots=True)
class DrillRow:
    """One record behind a KPI value. ``kind`` says what ``id`` is: case, outage, account, item
    or alert. ``title`` and ``detail`` may carry customer or alert text: show them as data."""

    kind: str
    id: int
    number: str
    title: str
    at: datetime | None
    value: float | None
    detail: str


@dataclass(frozen=True, slots=True)
class DrillDown:
    kpi_key: str
    title: str
    unit: str
    drills_to: str
    period: PeriodView
    part: str | None
    total: int  # equals the KPI's ``count`` for the same period
    limit: int
    offset: int
    rows: tuple[DrillRow, ...]


# --- casework: the major case timeline and the manager's queue (domain/timeline.py) ----------


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """One thing that happened to a major case, from its event (and the text it points at).

    ``title`` and ``detail`` may carry untrusted text (reasons, statements, incident notes):
    show them literally. ``group`` names entries that merge when they follow each other
    closely (notice deliveries); ``tallies`` are what such a merge adds up."""

    event_id: int
    at: datetime
    # proposal | approval | children | incident | statement | note | state | resolution | notices | other
    category: str
    title: str
    detail: str
    actor_name: str
    group: str | None = None
    tallies: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TimelineLine:
    """A line of the timeline as shown: one entry, or a dense stretch of entries of one group."""

    at: datetime
    until: datetime
    category: str
    title: str
    detail: str
    actor_name: str
    event_ids: tuple[int, ...]

    @property
    def grouped(self) -> bool:
        return len(self.event_ids) > 1


@dataclass(frozen=True, slots=True)
class CaseTimeline:
    case_id: int
    number: str
    # Other cases whose events belong here (the candidate a major case was approved from).
    related_case_ids: tuple[int, ...]
    # Oldest first.
    entries: tuple[TimelineEntry, ...]
    # True when older events were left out (only the newest ``limit`` are read).
    truncated: bool


@dataclass(frozen=True, slots=True)
class MajorQueueRow:
    """A row of the major case manager's queue: proposals and the major cases being worked."""

    case: CaseView
    propose_reason: str | None
    business_impact: str | None
    proposed_by: str | None
    incident_title: str | None
    children_total: int
    children_active: int


# --- journal line labels (cases, the timeline) ---------------------------------------------

_KIND_LABELS = {
    "work_note": "work note",
    "comment": "comment",
    "reply": "customer reply",
    "statement": "statement",
    "progress": "incident progress",
    "eta": "incident ETA",
    "state": "state change",
    "resolution": "resolution",
}
_VISIBILITY_LABELS = {"internal": "internal", "customer": "customer-visible"}


def journal_label(kind: str, visibility: str) -> str:
    return f"{_KIND_LABELS.get(kind, kind)} · {_VISIBILITY_LABELS.get(visibility, visibility)}"


# --- insight ---
# Recommendations, trending topics and likely affected accounts (domain/insight.py). Staff only:
# these carry text and account numbers of many customers, so no customer ever receives one.


@dataclass(frozen=True, slots=True)
class KnownOutageView:
    """An active major case that already covers a caller: its statement and ETA for the agent."""

    major_case_id: int
    number: str
    short_description: str
    state: str
    matched_by: str  # account | product
    statement: str | None
    statement_at: datetime | None
    eta: datetime | None
    affected_accounts: int
    deflected: int  # customer calls already attached to it


@dataclass(frozen=True, slots=True)
class SimilarCaseView:
    case_id: int
    number: str
    kind: str
    state: str
    short_description: str
    account_number: str | None
    opened_at: datetime
    score: float  # text similarity plus the context bonus, capped at 1
    text_score: float
    matched_terms: tuple[str, ...]
    same_product: bool
    same_ci: bool


@dataclass(frozen=True, slots=True)
class Recommendation:
    """What to do with a case: ``attach`` (to an existing major case), ``propose`` (a new major
    case grouping the similar cases) or ``none``; ``reasons`` say why, line by line."""

    case_id: int
    case_number: str
    action: str
    headline: str
    reasons: tuple[str, ...]
    window_start: datetime
    major_case_id: int | None = None
    major_case_number: str | None = None
    major_short_description: str | None = None
    score: float | None = None
    known_outages: tuple[KnownOutageView, ...] = ()
    similar: tuple[SimilarCaseView, ...] = ()
    similar_count: int = 0
    accounts: tuple[str, ...] = ()
    matched_terms: tuple[str, ...] = ()
    # A proposal's title, made of terms several accounts used (never one customer's own words),
    # and the cases it would group (this case first).
    proposed_title: str | None = None
    case_ids: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class TopicView:
    """A cluster of inbound cases; ``id`` is its first case's id."""

    id: int
    label: str
    top_terms: tuple[str, ...]
    size: int
    recent: int
    baseline: int
    expected: float  # recent cases expected from the baseline rate
    growth: float  # (recent + 1) / (expected + 1)
    rising: bool
    accounts: int
    first_at: datetime
    last_at: datetime
    # The recent cases still open and unattached: what "propose" or "link" would take.
    case_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class TopicsView:
    recent_start: datetime
    baseline_start: datetime
    cases: int
    topics: tuple[TopicView, ...]  # rising first, then by recent size


@dataclass(frozen=True, slots=True)
class LikelyFactor:
    """A characteristic the known-affected accounts share beyond chance."""

    kind: str  # characteristic | product | account
    name: str
    value: str
    affected_with: int
    affected: int
    base_with: int
    base: int
    lift: float
    p_value: float
    weight: float  # log likelihood ratio added to an account's log-odds

    @property
    def label(self) -> str:
        return f"{self.name} = {self.value}"


@dataclass(frozen=True, slots=True)
class LikelyAccountView:
    account_id: int
    number: str
    name: str
    tier: str
    region: str
    severity: int  # business weight from the tier: platinum 7, enterprise 6 … standard 1
    likelihood: float  # 0–1
    score: float  # severity × likelihood
    factors: tuple[str, ...]
    explanation: str


@dataclass(frozen=True, slots=True)
class LikelyAffectedView:
    major_case_id: int | None
    major_case_number: str | None
    known_accounts: int
    population: int
    factors: tuple[LikelyFactor, ...]
    total: int  # accounts that share at least one factor (the known ones excluded)
    offset: int
    accounts: tuple[LikelyAccountView, ...]


@dataclass(frozen=True, slots=True)
class LinkResult:
    major_case_id: int
    number: str
    attached: tuple[str, ...]
    skipped: tuple[str, ...]  # "CS… already a child of CS…" and the like


# --- simulation ---


@dataclass(frozen=True, slots=True)
class SimulationStep:
    """What one step of the demo's outage simulation sent (``domain.simulation``)."""

    step: int
    sent: int  # alerts in the messages it sent
    fired: int
    resolved: int
    flapping: int  # alerts that turned flapping on this step
    incident_ids: tuple[int, ...] = ()  # incidents opened or joined by correlation
    case_ids: tuple[int, ...] = ()  # proactive cases it opened as the operator


# --- portal (domain/portal.py) -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PortalAccount:
    """The one account a portal session shows; ``preview`` when staff look at it read-only."""

    number: str
    name: str
    preview: bool


@dataclass(frozen=True, slots=True)
class PortalArticle:
    """A customer-visible workaround or knowledge article, and which of my outages it is for."""

    id: int
    number: str
    title: str
    body: str
    kind: str
    updated_at: datetime
    outage_numbers: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PortalOutage:
    """An outage touching the account, customer-facing fields only (no CI, case or incident)."""

    id: int
    number: str
    type: str
    # planned | active | past, by the clock when the query ran.
    status: str
    title: str
    details: str
    service: str
    begins_at: datetime
    ends_at: datetime | None
    eta: datetime | None
    # The latest customer-facing statement on the outage's major case.
    statement: str | None
    statement_at: datetime | None
    articles: tuple[PortalArticle, ...]
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class PortalCase:
    """One of the account's own cases as its customer sees it."""

    id: int
    number: str
    kind: str
    state: str
    priority_name: str
    short_description: str
    opened_at: datetime
    updated_at: datetime
    # Customer-visible journal lines on it.
    updates: int


@dataclass(frozen=True, slots=True)
class PortalUpdate:
    """A customer-visible line of a case's journal (statements, comments, replies …)."""

    id: int
    at: datetime
    author_name: str
    kind: str
    label: str
    body: str


@dataclass(frozen=True, slots=True)
class PortalCaseDetail:
    case: PortalCase
    # The customer's own words (reactive cases); empty for cases we opened.
    description: str
    contact_name: str | None
    product_name: str | None
    resolution_notes: str | None
    resolved_at: datetime | None
    closed_at: datetime | None
    # The newest customer-visible lines, oldest first; ``updates_total`` counts them all.
    updates: tuple[PortalUpdate, ...]
    updates_total: int
    articles: tuple[PortalArticle, ...]
    # Whether the case still takes replies (closed and canceled cases do not).
    open_for_replies: bool
