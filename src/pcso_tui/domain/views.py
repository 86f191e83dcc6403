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
