"""Read models of the install base and impact.

Standard library only (see ``pcso_tui.domain.core.views``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

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
    # technical, billing …; "" when not said.
    role: str = ""


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
