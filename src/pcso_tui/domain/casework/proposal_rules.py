"""Whether a case may be proposed as a major case, said before any form opens.

Standard library only (screens import it when a key is pressed): the same rules
``major_cases.propose_case_in`` enforces inside the transaction, which stays the authority.
"""

from __future__ import annotations

from pcso_tui.domain.casework.views import CaseView
from pcso_tui.domain.core.states import ACTIVE_CASE_STATES, MAJOR_CASE_TRANSITIONS, CaseKind, MajorCaseState

ACTIVE = tuple(s.value for s in ACTIVE_CASE_STATES)


def proposal_refusal(case: CaseView) -> str | None:
    """Why ``case`` cannot be proposed as a major case now (None: it can)."""
    if case.parent_number is not None:
        return f"{case.number} is already a child of {case.parent_number}; work on the major case instead"
    if case.major_case_state == MajorCaseState.PROPOSED.value:
        return f"{case.number} is already proposed as a major case; the manager decides"
    if case.kind == CaseKind.MAJOR.value or case.major_case_state == MajorCaseState.ACCEPTED.value:
        return f"{case.number} is already a major case"
    if case.state not in ACTIVE:
        return f"{case.number} is {case.state}: only new, open or awaiting_info cases can be proposed"
    if MajorCaseState.PROPOSED not in MAJOR_CASE_TRANSITIONS[MajorCaseState(case.major_case_state)]:
        return f"{case.number} is {case.major_case_state} as a major case: it cannot be proposed again"
    return None
