"""The public service catalogue: what customers call each product and CI, and whether they are
told about it at all (DESIGN §4, "two kinds of text").

``outages.service_name`` reads it wherever a service is named for customers (notices, the
portal, the status page, a case's wording): a customer-facing product by its public name (or
name); else a customer-facing CI by its public name, or its own name only for a public kind;
never an internal CI name. The importer fills it too (``public_name``, ``customer_facing``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from pcso_tui.domain.communications.outages import service_name
from pcso_tui.domain.communications.views import CatalogueEntry
from pcso_tui.domain.core.errors import InvalidInput, NotFound
from pcso_tui.domain.core.event_kinds import CatalogueChanged
from pcso_tui.domain.core.models import ConfigurationItem, Product
from pcso_tui.domain.core.roles import Actor, Permission, require
from pcso_tui.domain.core.service import Domain
from pcso_tui.domain.core.text import customer_line

ENTRIES = ("product", "ci")
PUBLIC_NAME_MAX = 200
# ``set_catalogue_entry``: leave a value as it is.
KEEP: Any = object()


def _entry(kind: str, row: Any) -> CatalogueEntry:
    if kind == "product":
        shown = service_name(
            row.name, None, None, product_public_name=row.public_name, product_facing=row.customer_facing
        )
        return CatalogueEntry(
            entry="product",
            key=row.number,
            name=row.name,
            kind=row.family,
            public_name=row.public_name,
            customer_facing=row.customer_facing,
            shown_as=shown,
        )
    shown = service_name(None, row.name, row.kind, ci_public_name=row.public_name, ci_facing=row.customer_facing)
    return CatalogueEntry(
        entry="ci",
        key=row.name,
        name=row.name,
        kind=row.kind,
        public_name=row.public_name,
        customer_facing=row.customer_facing,
        shown_as=shown,
    )


async def list_catalogue(domain: Domain, actor: Actor, *, entry: str | None = None) -> list[CatalogueEntry]:
    """Every product and CI with its public name, its flag and what customers see it as."""
    require(actor, Permission.VIEW_OPERATIONS)
    if entry is not None and entry not in ENTRIES:
        raise InvalidInput(f"unknown catalogue entry {entry!r}; one of: {', '.join(ENTRIES)}")
    out: list[CatalogueEntry] = []
    async with domain.reading() as session:
        if entry in (None, "product"):
            products = await session.execute(select(Product).order_by(Product.number))
            out += [_entry("product", r) for r in products.scalars()]
        if entry in (None, "ci"):
            cis = await session.execute(select(ConfigurationItem).order_by(ConfigurationItem.name))
            out += [_entry("ci", r) for r in cis.scalars()]
    return out


async def set_catalogue_entry(
    domain: Domain,
    actor: Actor,
    entry: str,
    key: str,
    *,
    public_name: str | None = KEEP,
    customer_facing: bool | None = KEEP,
) -> CatalogueEntry:
    """Set a product's (by number) or CI's (by name) public name and customer-facing flag
    (admins, like the import). ``public_name=""``/None clears it; a CI's ``customer_facing=None``
    leaves it to its kind. One versioned edit and a ``catalogue.changed`` event."""
    require(actor, Permission.IMPORT_DATA)
    if entry not in ENTRIES:
        raise InvalidInput(f"unknown catalogue entry {entry!r}; one of: {', '.join(ENTRIES)}")
    if public_name is KEEP and customer_facing is KEEP:
        raise InvalidInput("give a public name, a customer-facing flag, or both")
    if entry == "product" and customer_facing is None:
        raise InvalidInput("a product is customer-facing or not: say yes or no")
    name: str | None = KEEP
    if public_name is not KEEP:
        name = customer_line(public_name or "", None) or None
        if name is not None and len(name) > PUBLIC_NAME_MAX:
            raise InvalidInput(f"the public name is {len(name)} characters long; the limit is {PUBLIC_NAME_MAX}")
    async with domain.transaction(actor) as tx:
        model: Any = Product if entry == "product" else ConfigurationItem
        column = Product.number if entry == "product" else ConfigurationItem.name
        row = (await tx.session.execute(select(model).where(column == key).with_for_update())).scalar_one_or_none()
        if row is None:
            raise NotFound(f"no {'product' if entry == 'product' else 'CI'} {key!r}")
        if name is not KEEP:
            row.public_name = name
        if customer_facing is not KEEP:
            row.customer_facing = customer_facing
        await tx.session.flush()
        tx.record(
            row.id,
            CatalogueChanged(entry=entry, name=key, public_name=row.public_name, customer_facing=row.customer_facing),
        )
        return _entry(entry, row)
