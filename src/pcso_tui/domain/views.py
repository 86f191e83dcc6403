"""Read models: what queries hand to screens, the CLI and plugins.

Frozen dataclasses of plain values, safe to keep after the session that produced them has
closed. This module imports nothing but the standard library so that screens can import it
before the database stack is loaded (start-up time).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
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
    if isinstance(value, datetime):
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
