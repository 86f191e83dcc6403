"""The workspace's modes: which screen each role lands on and who may open which.

One mode per role (Textual MODES: each keeps its own screen stack):

    operator   NOC operator (admins land here too)
    agent      customer service agent
    manager    major case manager
    portal     the customer's view of their own account
    dashboard  any staff member may open it

Outside demo databases everyone stays in their role's mode (staff may also open the dashboard);
an admin, who holds the operator's and the major case manager's permissions, opens the
operator, agent and manager screens as themselves, but not the portal (an admin has no
customer account). A key for a screen the user may not open says so (``closed_reason``).
In a demo database anyone may switch to any mode; the workspace then signs in as the demo
persona of that mode's role (``DEMO_PERSONAS``: the users ``pcso seed`` and ``pcso demo``
create), so the commands a screen sends are checked against the role it shows.

Plain Python (no Textual): the App and the tests both read it.
"""

from __future__ import annotations

from dataclasses import dataclass

from pcso_tui.domain.core.roles import PERMISSIONS, STAFF_ROLES, Permission, Role


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
    if role is Role.ADMIN:
        return mode in ADMIN_MODES
    return HOME[role] == mode


# The staff screens: an admin may do all that each of them does (roles.PERMISSIONS).
ADMIN_MODES = frozenset({"operator", "agent", "manager"})

# Whose screen each mode is, in the words of the message a closed key shows.
_WHOSE = {
    "operator": "the NOC operator's screen",
    "agent": "the customer service agent's screen",
    "manager": "the major case manager's screen",
    "portal": "the customer's portal",
    "dashboard": "for staff",
}
_ROLE_WORDS = {
    Role.OPERATOR: "a NOC operator",
    Role.AGENT: "an agent",
    Role.MANAGER: "a major case manager",
    Role.CUSTOMER: "a customer",
    Role.ADMIN: "an admin",
}


def closed_reason(role: Role, mode: str) -> str:
    """Why ``mode`` does not open for ``role``: "F4 is the major case manager's screen; you
    are signed in as an agent"."""
    found = MODES.get(mode)
    if found is None:
        return f"there is no {mode} screen"
    key = found.key.upper()
    why = _WHOSE.get(mode, "not yours")
    reason = f"{key} ({found.title}) is {why}; you are signed in as {_ROLE_WORDS[role]}"
    if mode == "portal" and Permission.PREVIEW_ACCOUNT in PERMISSIONS[role]:
        reason += " (pcso portal --preview ACCOUNT shows a customer's view)"
    return reason


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
