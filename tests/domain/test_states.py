"""Every legal and every illegal transition of the state machines."""

from __future__ import annotations

import itertools

import pytest

from pcso_tui.domain.core.errors import IllegalTransition
from pcso_tui.domain.core.states import (
    CASE_TRANSITIONS,
    INCIDENT_TRANSITIONS,
    MAJOR_CASE_TRANSITIONS,
    CaseState,
    IncidentState,
    MajorCaseState,
    Severity,
    check_case,
    check_incident,
    check_major_case,
    priority_for,
)

MACHINES = [
    ("case", CaseState, CASE_TRANSITIONS, check_case),
    ("major case", MajorCaseState, MAJOR_CASE_TRANSITIONS, check_major_case),
    ("incident", IncidentState, INCIDENT_TRANSITIONS, check_incident),
]
PAIRS = [
    pytest.param(check, table, a, b, id=f"{name}:{a.value}->{b.value}")
    for name, states, table, check in MACHINES
    for a, b in itertools.product(states, states)
]


@pytest.mark.parametrize(("check", "table", "current", "target"), PAIRS)
def test_transition_is_allowed_exactly_when_listed(check, table, current, target) -> None:
    if target in table[current]:
        check("X", current, target)
    else:
        with pytest.raises(IllegalTransition) as refused:
            check("X", current, target)
        assert f"is {current.value} and cannot become {target.value}" in str(refused.value)


def test_terminal_case_states_go_nowhere() -> None:
    assert CASE_TRANSITIONS[CaseState.CLOSED] == frozenset()
    assert CASE_TRANSITIONS[CaseState.CANCELED] == frozenset()


def test_only_active_cases_can_be_proposed_is_a_case_level_rule() -> None:
    # The major-case machine alone allows none → proposed; the command also checks the case state.
    assert MAJOR_CASE_TRANSITIONS[MajorCaseState.NONE] == frozenset({MajorCaseState.PROPOSED})


@pytest.mark.parametrize(
    ("severity", "priority"),
    [("critical", 1), ("major", 2), ("minor", 3), ("warning", 4), ("info", 4), ("clear", 4)],
)
def test_priority_follows_severity(severity: str, priority: int) -> None:
    assert priority_for(severity) == priority
    assert priority_for(Severity(severity)) == priority


def test_unknown_state_is_refused() -> None:
    with pytest.raises(ValueError):
        check_case("X", "open", "exploded")
