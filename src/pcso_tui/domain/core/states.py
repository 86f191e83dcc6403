"""State machines of cases, major cases and incidents (ServiceNow's vocabulary).

Only the transitions listed here are legal. :func:`check` refuses anything else with a line
that says where the record is and where it may go from there.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import TypeVar

from pcso_tui.domain.core.errors import IllegalTransition


class CaseState(StrEnum):
    NEW = "new"
    OPEN = "open"
    AWAITING_INFO = "awaiting_info"
    RESOLVED = "resolved"
    CLOSED = "closed"
    CANCELED = "canceled"


class CaseKind(StrEnum):
    REACTIVE = "reactive"
    PROACTIVE = "proactive"
    MAJOR = "major"
    CHILD = "child"


class MajorCaseState(StrEnum):
    NONE = "none"
    PROPOSED = "proposed"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


class IncidentState(StrEnum):
    NEW = "new"
    IN_PROGRESS = "in_progress"
    ON_HOLD = "on_hold"
    RESOLVED = "resolved"
    CLOSED = "closed"
    CANCELED = "canceled"


class AlertState(StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    FLAPPING = "flapping"


class Severity(StrEnum):
    CRITICAL = "critical"
    MAJOR = "major"
    MINOR = "minor"
    WARNING = "warning"
    INFO = "info"
    CLEAR = "clear"

    @property
    def rank(self) -> int:
        """Higher is worse: critical 5 … clear 0."""
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {
    Severity.CRITICAL: 5,
    Severity.MAJOR: 4,
    Severity.MINOR: 3,
    Severity.WARNING: 2,
    Severity.INFO: 1,
    Severity.CLEAR: 0,
}


# Case priority 1 (critical) … 4 (low).
PRIORITY_NAMES = {1: "critical", 2: "high", 3: "moderate", 4: "low"}


def priority_for(severity: Severity | str) -> int:
    """Alert severity → proactive case priority (DESIGN §3)."""
    severity = Severity(severity)
    return {Severity.CRITICAL: 1, Severity.MAJOR: 2, Severity.MINOR: 3}.get(severity, 4)


class OutageType(StrEnum):
    UNPLANNED = "unplanned"
    PLANNED = "planned"
    DEGRADATION = "degradation"


class OutageStatus(StrEnum):
    PLANNED = "planned"
    ACTIVE = "active"
    PAST = "past"


CASE_TRANSITIONS: Mapping[CaseState, frozenset[CaseState]] = {
    CaseState.NEW: frozenset({CaseState.OPEN, CaseState.AWAITING_INFO, CaseState.RESOLVED, CaseState.CANCELED}),
    CaseState.OPEN: frozenset({CaseState.AWAITING_INFO, CaseState.RESOLVED, CaseState.CANCELED}),
    CaseState.AWAITING_INFO: frozenset({CaseState.OPEN, CaseState.RESOLVED, CaseState.CANCELED}),
    CaseState.RESOLVED: frozenset({CaseState.OPEN, CaseState.CLOSED}),
    CaseState.CLOSED: frozenset(),
    CaseState.CANCELED: frozenset(),
}

# Cases that are still being worked; only these can be proposed, synced or closed by cascade.
ACTIVE_CASE_STATES = frozenset({CaseState.NEW, CaseState.OPEN, CaseState.AWAITING_INFO})

MAJOR_CASE_TRANSITIONS: Mapping[MajorCaseState, frozenset[MajorCaseState]] = {
    MajorCaseState.NONE: frozenset({MajorCaseState.PROPOSED}),
    MajorCaseState.PROPOSED: frozenset({MajorCaseState.ACCEPTED, MajorCaseState.REJECTED, MajorCaseState.CANCELLED}),
    MajorCaseState.REJECTED: frozenset({MajorCaseState.PROPOSED}),
    MajorCaseState.ACCEPTED: frozenset({MajorCaseState.CANCELLED}),
    MajorCaseState.CANCELLED: frozenset(),
}

INCIDENT_TRANSITIONS: Mapping[IncidentState, frozenset[IncidentState]] = {
    IncidentState.NEW: frozenset(
        {IncidentState.IN_PROGRESS, IncidentState.ON_HOLD, IncidentState.RESOLVED, IncidentState.CANCELED}
    ),
    IncidentState.IN_PROGRESS: frozenset({IncidentState.ON_HOLD, IncidentState.RESOLVED, IncidentState.CANCELED}),
    IncidentState.ON_HOLD: frozenset({IncidentState.IN_PROGRESS, IncidentState.RESOLVED, IncidentState.CANCELED}),
    IncidentState.RESOLVED: frozenset({IncidentState.IN_PROGRESS, IncidentState.CLOSED}),
    IncidentState.CLOSED: frozenset(),
    IncidentState.CANCELED: frozenset(),
}

ACTIVE_INCIDENT_STATES = frozenset({IncidentState.NEW, IncidentState.IN_PROGRESS, IncidentState.ON_HOLD})

S = TypeVar("S", bound=StrEnum)


def _check(table: Mapping[S, frozenset[S]], what: str, current: S, target: S) -> None:
    if target not in table[current]:
        allowed = ", ".join(sorted(s.value for s in table[current])) or "nothing (final state)"
        raise IllegalTransition(f"{what} is {current.value} and cannot become {target.value}; allowed: {allowed}")


def check_case(what: str, current: CaseState | str, target: CaseState | str) -> None:
    _check(CASE_TRANSITIONS, what, CaseState(current), CaseState(target))


def check_major_case(what: str, current: MajorCaseState | str, target: MajorCaseState | str) -> None:
    _check(MAJOR_CASE_TRANSITIONS, what, MajorCaseState(current), MajorCaseState(target))


def check_incident(what: str, current: IncidentState | str, target: IncidentState | str) -> None:
    _check(INCIDENT_TRANSITIONS, what, IncidentState(current), IncidentState(target))
