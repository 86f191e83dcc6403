"""Read models of cases, major cases, the timeline, insight and the customer's portal.

Standard library only (see ``pcso_tui.domain.core.views``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from pcso_tui.domain.communications.views import PublicArticle


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
class CaseWording:
    """What customers are told a case is: its customer-facing title and summary."""

    case_id: int
    number: str
    title: str
    summary: str
    version: int


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
    # One notice per contact ``[delivery] notify`` names (``recipients`` says who, in words).
    notices: int
    notices_skipped: int
    # Accounts getting a child but no contact to notify.
    accounts_without_contact: int
    # False when an outage linked to the case is already open: approval declares no other.
    declares_outage: bool = True
    # What customers will be told: the case's customer-facing title and summary (the template
    # fills them at approval when still empty; shown as they will be).
    public_title: str = ""
    public_summary: str = ""
    recipients: str = "every contact"


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
class AutoCloseResult:
    """Resolved cases closed by themselves (``[casework] auto_close_days``)."""

    closed: int
    notices_queued: int
    # Cases resolved at or before this closed; None when auto-close is off (0 days).
    resolved_before: datetime | None


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


@dataclass(frozen=True, slots=True)
class PortalAccount:
    """The one account a portal session shows; ``preview`` when staff look at it read-only."""

    number: str
    name: str
    preview: bool


@dataclass(frozen=True, slots=True)
class PortalArticle(PublicArticle):
    """A customer-visible workaround or knowledge article, and which of my outages it is for."""

    id: int
    kind: str
    updated_at: datetime
    outage_numbers: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PortalCase:
    """One of the account's own cases as its customer sees it."""

    id: int
    number: str
    kind: str
    state: str
    priority_name: str
    # What the customer is told the case is: their own words on a reactive case, else its
    # customer-facing title (never the internal short description).
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
    # The customer's own words (reactive cases); for cases we opened, their customer-facing
    # summary (or their major case's).
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


@dataclass(frozen=True, slots=True)
class MailReplyLanded:
    """A reply by email that landed on a case as the contact's reply."""

    case_number: str
    contact_number: str
    # How the mail found its case: "token" (the signed Reply-To) or "thread" (In-Reply-To).
    route: str
    update: PortalUpdate


@dataclass(frozen=True, slots=True)
class PortalKnownOutage:
    """At intake: an outage we already told the customer's account about, in customer words
    (the major case's customer-facing title and latest statement, never its internal text)."""

    major_case_id: int
    number: str
    title: str
    statement: str | None
    statement_at: datetime | None
    eta: datetime | None


@dataclass(frozen=True, slots=True)
class PortalProduct:
    """A product the account has, by the name customers know it by (for opening a case)."""

    number: str
    name: str


@dataclass(frozen=True, slots=True)
class PortalOpenedCase:
    """A case a customer opened; ``major_number`` when they attached it to a known outage
    (a deflected call)."""

    id: int
    number: str
    deflected: bool
    major_number: str | None


@dataclass(frozen=True, slots=True)
class DuplicateProposal:
    """A proposal that looks like another open proposal or active major case: same incident,
    or a near-identical title (``reason`` says which, with the score)."""

    case_id: int
    other_id: int
    other_number: str
    other_is_major: bool
    reason: str


@dataclass(frozen=True, slots=True)
class ReplyView:
    """A customer's reply on a case, for the agents' reply queue: which account, which case
    (a major case's child: its major case too), and whether staff answered it since
    (a customer-visible comment on the same case after it)."""

    entry_id: int
    at: datetime
    case_id: int
    case_number: str
    major_case_number: str | None
    account_number: str | None
    account_name: str | None
    author_name: str
    body: str
    answered: bool
