"""Who may do what.

Every domain command names the permission it needs and calls :func:`require` first, before
touching the database. The table below is the single place where roles meet permissions, so
a test can walk every command with every role against it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from pcso_tui.domain.core.errors import PermissionDenied


class Role(StrEnum):
    OPERATOR = "operator"
    AGENT = "agent"
    MANAGER = "manager"
    CUSTOMER = "customer"
    ADMIN = "admin"


STAFF_ROLES = frozenset({Role.OPERATOR, Role.AGENT, Role.MANAGER, Role.ADMIN})


class Permission(StrEnum):
    """What a command needs. The value reads as the end of "may not …"."""

    VIEW_OPERATIONS = "view alerts, incidents and impact"
    INGEST_ALERTS = "ingest alerts"
    ACKNOWLEDGE_ALERT = "acknowledge alerts"
    MANAGE_MAINTENANCE = "manage maintenance windows"
    OPEN_INCIDENT = "open incidents"
    UPDATE_INCIDENT = "update incidents"
    OPEN_PROACTIVE_CASE = "open proactive cases"
    ADD_WORK_NOTE = "add work notes"
    VIEW_CASES = "view cases"
    WORK_CASE = "work cases"
    OPEN_REACTIVE_CASE = "log customer cases"
    PROPOSE_MAJOR_CASE = "propose major cases"
    DECIDE_MAJOR_CASE = "approve or reject major cases"
    MANAGE_CHILD_CASES = "add affected accounts or child cases"
    WRITE_STATEMENT = "write customer-facing statements"
    RESOLVE_MAJOR_CASE = "resolve or close major cases"
    MANAGE_OUTAGES = "manage outages"
    MANAGE_ARTICLES = "manage knowledge articles"
    MANAGE_NOTICES = "retry or dead-letter notices"
    VIEW_DASHBOARD = "view the dashboard"
    VIEW_OWN_ACCOUNT = "view their own account"
    COMMENT_OWN_CASE = "reply on their own cases"
    OPEN_OWN_CASE = "open cases for their own account"
    SIGN_IN_CONTACTS = "sign contacts in to the web portal"
    PREVIEW_ACCOUNT = "preview what an account sees"
    MANAGE_USERS = "manage users"
    IMPORT_DATA = "import install base data"
    SEED_WORLD = "seed a synthetic world"
    VIEW_EVENTS = "read the event log"


_OPERATOR = {
    Permission.VIEW_OPERATIONS,
    Permission.INGEST_ALERTS,
    Permission.ACKNOWLEDGE_ALERT,
    Permission.MANAGE_MAINTENANCE,
    Permission.OPEN_INCIDENT,
    Permission.UPDATE_INCIDENT,
    Permission.OPEN_PROACTIVE_CASE,
    Permission.ADD_WORK_NOTE,
    Permission.VIEW_CASES,
    Permission.MANAGE_OUTAGES,
    Permission.VIEW_DASHBOARD,
    Permission.VIEW_EVENTS,
}
_AGENT = {
    Permission.VIEW_OPERATIONS,
    Permission.ADD_WORK_NOTE,
    Permission.VIEW_CASES,
    Permission.WORK_CASE,
    Permission.OPEN_REACTIVE_CASE,
    Permission.PROPOSE_MAJOR_CASE,
    Permission.PREVIEW_ACCOUNT,
    Permission.VIEW_DASHBOARD,
    Permission.VIEW_EVENTS,
    # Agents write the knowledge (workarounds, known issues) as they work cases; what customers
    # are *told* — statements, approval, resolution — stays the manager's.
    Permission.MANAGE_ARTICLES,
}
# A major case manager does everything an agent does, and decides.
_MANAGER = _AGENT | {
    Permission.DECIDE_MAJOR_CASE,
    Permission.MANAGE_CHILD_CASES,
    Permission.WRITE_STATEMENT,
    Permission.RESOLVE_MAJOR_CASE,
    Permission.MANAGE_OUTAGES,
    Permission.MANAGE_NOTICES,
}
_CUSTOMER = {Permission.VIEW_OWN_ACCOUNT, Permission.COMMENT_OWN_CASE, Permission.OPEN_OWN_CASE}
# Signing contacts in is the web portal's own work (it acts as ``web_access.WEB``, an admin).
_ADMIN = (
    _OPERATOR
    | _MANAGER
    | {Permission.MANAGE_USERS, Permission.IMPORT_DATA, Permission.SEED_WORLD, Permission.SIGN_IN_CONTACTS}
) - {
    Permission.VIEW_OWN_ACCOUNT,
    Permission.COMMENT_OWN_CASE,
    Permission.OPEN_OWN_CASE,
}

PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.OPERATOR: frozenset(_OPERATOR),
    Role.AGENT: frozenset(_AGENT),
    Role.MANAGER: frozenset(_MANAGER),
    Role.CUSTOMER: frozenset(_CUSTOMER),
    Role.ADMIN: frozenset(_ADMIN),
}


@dataclass(frozen=True, slots=True)
class Actor:
    """The person (or process) a command acts for.

    ``impersonator`` is set when an admin acts ``--as`` someone else; it is written into every
    event so the audit trail shows both names.
    """

    user_id: int | None
    name: str
    role: Role
    account_id: int | None = None
    impersonator: str | None = None
    # A customer signed in on the web portal is one contact of their account (cases they
    # open name it); None for users of the terminal.
    contact_id: int | None = None
    # The SSH key (fingerprint) the actor signed in to ``pcso gateway`` with; every event names it.
    key_fingerprint: str | None = None

    def can(self, permission: Permission) -> bool:
        return permission in PERMISSIONS[self.role]

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF_ROLES


# Processes that act on their own behalf (the alert receiver, the delivery worker, workflow rules).
SYSTEM = Actor(user_id=None, name="system", role=Role.ADMIN)


def require(actor: Actor, permission: Permission) -> None:
    """Refuse, with one clear line, unless ``actor`` holds ``permission``."""
    if permission not in PERMISSIONS[actor.role]:
        raise PermissionDenied(f"{actor.name} ({actor.role}) may not {permission.value}")


def require_account(actor: Actor, account_id: int | None) -> None:
    """Customers reach only their own account; staff reach all."""
    if actor.role is Role.CUSTOMER and (account_id is None or account_id != actor.account_id):
        raise PermissionDenied(f"{actor.name} may only see their own account")
