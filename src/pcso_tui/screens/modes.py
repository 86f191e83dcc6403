"""The workspace's modes: which screen each role lands on and who may open which.

One mode per role (Textual MODES: each keeps its own screen stack):

    operator   NOC operator (admins land here too)
    agent      customer service agent
    manager    major case manager
    portal     the customer's view of their own account
    dashboard  any staff member may open it

Outside demo databases everyone stays in their role's mode (staff may also open the dashboard).
In a demo database anyone may switch to any mode; the workspace then signs in as the demo
persona of that mode's role (``DEMO_PERSONAS``: the users ``pcso seed`` and ``pcso demo``
create), so the commands a screen sends are checked against the role it shows.

Plain Python (no Textual): the App and the tests both read it.
"""

from __future__ import annotations

from dataclasses import dataclass

from pcso_tui.domain.core.roles import STAFF_ROLES, Role


@dataclass(frozen=True, slots=True)
class Mode:
    name: str
    title: str
    key: str  # the key that opens it
    screen: str  # "module:Class", imported when the mode is first opened
    role: Role | None  # the role whose home this is (None: the dashboard, open to staff)
    summary: str


MODES: dict[str, Mode] = {
    mode.name: mode
    for mode in (
        Mode(
            "operator",
            "Operator",
            "f2",
            "pcso_tui.screens.operator:OperatorScreen",
            Role.OPERATOR,
            "Live alerts, incidents and the customers they touch",
        ),
        Mode(
            "agent",
            "Agent",
            "f3",
            "pcso_tui.screens.agent:AgentScreen",
            Role.AGENT,
            "The proactive case queue",
        ),
        Mode(
            "manager",
            "Major cases",
            "f4",
            "pcso_tui.screens.manager:ManagerScreen",
            Role.MANAGER,
            "Proposed major cases, approvals and customer statements",
        ),
        Mode(
            "portal",
            "Customer portal",
            "f5",
            "pcso_tui.screens.portal:PortalScreen",
            Role.CUSTOMER,
            "Outages and cases of your account",
        ),
        Mode(
            "dashboard",
            "Dashboard",
            "f6",
            "pcso_tui.screens.dashboard:DashboardScreen",
            None,
            "How proactive we are, and what outages cost",
        ),
    )
}

HOME: dict[Role, str] = {
    Role.OPERATOR: "operator",
    Role.AGENT: "agent",
    Role.MANAGER: "manager",
    Role.CUSTOMER: "portal",
    Role.ADMIN: "operator",
}

# In a demo database, the user a mode signs in as (by the role the mode belongs to): the demo
# users of ``pcso seed`` (``domain.world.STAFF`` and ``CUSTOMER``; a test keeps them in step).
DEMO_PERSONAS: dict[Role, str] = {
    Role.OPERATOR: "olivia",
    Role.AGENT: "adam",
    Role.MANAGER: "maria",
    Role.CUSTOMER: "carl",
    Role.ADMIN: "admin",
}


def home_mode(role: Role) -> str:
    return HOME[role]


def may_open(role: Role, mode: str, *, demo: bool) -> bool:
    """Whether someone in ``role`` may open ``mode`` (without changing who they are)."""
    if mode not in MODES:
        return False
    if demo:
        return True
    if mode == "dashboard":
        return role in STAFF_ROLES
    return HOME[role] == mode


def openable_modes(role: Role, *, demo: bool) -> list[str]:
    return [name for name in MODES if may_open(role, name, demo=demo)]


def persona_role(mode: str, current: Role) -> Role | None:
    """The role a demo switch to ``mode`` signs in as (None: stay who you are)."""
    target = MODES[mode].role
    if target is None:  # the dashboard: any staff member will do
        return None if current in STAFF_ROLES else Role.MANAGER
    if HOME[current] == mode:
        return None
    return target
