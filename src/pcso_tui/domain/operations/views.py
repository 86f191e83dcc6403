"""Read models of alerts and incidents.

Standard library only (see ``pcso_tui.domain.core.views``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


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


@dataclass(frozen=True, slots=True)
class RecordRef:
    """A record found by its number or name (``find_records``): what it is and where it lives.

    ``kind``: case, incident, alert, account, ci or outage. ``title`` is the text the finder
    shows (internal for staff; a customer only finds their own cases, by their customer-facing
    title). ``case_id`` is an outage's major case; ``case_kind``/``major_case_state`` say which
    queue a case sits in."""

    kind: str
    id: int
    number: str
    title: str
    case_kind: str | None = None
    major_case_state: str | None = None
    case_id: int | None = None
