"""Install base queries: accounts with their contacts and items, and the CIs of the service map.

Staff see every account; a customer sees only their own (``require_account``). Counts are
aggregated in SQL and lists are paged (``limit``/``offset``), so a screen never carries the
whole install base through Python.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from pcso_tui.domain.core.errors import InvalidInput, NotFound
from pcso_tui.domain.core.models import (
    Account,
    Characteristic,
    CIDependency,
    ConfigurationItem,
    Contact,
    InstallBaseItem,
    Product,
    SoldProduct,
)
from pcso_tui.domain.core.roles import Actor, Permission, require, require_account
from pcso_tui.domain.core.service import Domain
from pcso_tui.domain.install_base.views import (
    AccountDetail,
    AccountView,
    CIView,
    ContactView,
    InstallBaseItemView,
)

MAX_LIMIT = 10_000


def _page(limit: int, offset: int) -> None:
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}, not {limit}")
    if offset < 0:
        raise InvalidInput(f"offset cannot be negative ({offset})")


def _search(columns: list[Any], search: str | None) -> ColumnElement[bool] | None:
    """Case-insensitive substring match on any of ``columns`` (``%`` and ``_`` are literal)."""
    if not search or not search.strip():
        return None
    return or_(*(c.icontains(search.strip(), autoescape=True) for c in columns))


def _account_scope(actor: Actor) -> int | None:
    """None for staff (every account); the customer's own account id otherwise."""
    if actor.can(Permission.VIEW_CASES):
        return None
    require(actor, Permission.VIEW_OWN_ACCOUNT)
    return actor.account_id if actor.account_id is not None else -1


def _accounts() -> Select[Any]:
    contacts = select(func.count()).where(Contact.account_id == Account.id).scalar_subquery()
    items = select(func.count()).where(InstallBaseItem.account_id == Account.id).scalar_subquery()
    return select(Account, contacts.label("contacts"), items.label("items"))


def _account_view(account: Account, contacts: int, items: int) -> AccountView:
    return AccountView(
        number=account.number,
        name=account.name,
        tier=account.tier,
        region=account.region,
        industry=account.industry,
        is_external=account.is_external,
        contacts=contacts,
        items=items,
    )


async def list_accounts(
    domain: Domain, actor: Actor, *, search: str | None = None, limit: int = 100, offset: int = 0
) -> list[AccountView]:
    """Accounts by number, with how many contacts and install base items each has.

    ``search`` matches the number or the name. A customer gets their own account only.
    """
    scope = _account_scope(actor)
    _page(limit, offset)
    query = _accounts().order_by(Account.number).limit(limit).offset(offset)
    if scope is not None:
        query = query.where(Account.id == scope)
    match = _search([Account.number, Account.name], search)
    if match is not None:
        query = query.where(match)
    async with domain.reading() as session:
        rows = await session.execute(query)
        return [_account_view(account, contacts, items) for account, contacts, items in rows]


async def get_account(domain: Domain, actor: Actor, number: str, *, item_limit: int = 1_000) -> AccountDetail:
    """One account with its contacts and install base items (with characteristics)."""
    scope = _account_scope(actor)
    _page(item_limit, 0)
    async with domain.reading() as session:
        row = (await session.execute(_accounts().where(Account.number == number))).first()
        if scope is not None:
            # A customer learns nothing about other accounts, not even whether they exist.
            require_account(actor, row[0].id if row else None)
        if row is None:
            raise NotFound(f"no account numbered {number!r}")
        account, contact_count, item_count = row
        contacts = await session.scalars(
            select(Contact).where(Contact.account_id == account.id).order_by(Contact.is_primary.desc(), Contact.number)
        )
        items = await _items(session, account.id, item_limit)
        return AccountDetail(
            account=_account_view(account, contact_count, item_count),
            contacts=tuple(
                ContactView(
                    number=c.number,
                    name=c.name,
                    email=c.email,
                    phone=c.phone,
                    preferred_channel=c.preferred_channel,
                    webhook_url=c.webhook_url,
                    is_primary=c.is_primary,
                    opted_out=c.opted_out,
                    role=c.role,
                )
                for c in contacts
            ),
            items=tuple(items),
            items_total=item_count,
        )


async def _items(session: AsyncSession, account_id: int, limit: int) -> list[InstallBaseItemView]:
    item, parent, root = InstallBaseItem, InstallBaseItem.__table__.alias("p"), InstallBaseItem.__table__.alias("r")
    ci, service = ConfigurationItem.__table__.alias("ci"), ConfigurationItem.__table__.alias("svc")
    rows = (
        await session.execute(
            select(
                item.id,
                item.number,
                item.name,
                Product.number,
                Product.name,
                SoldProduct.number,
                parent.c.number,
                root.c.number,
                ci.c.name,
                service.c.name,
                item.status,
                item.installed_on,
            )
            .join(Product, Product.id == item.product_id)
            .outerjoin(SoldProduct, SoldProduct.id == item.sold_product_id)
            .outerjoin(parent, parent.c.id == item.parent_id)
            .outerjoin(root, root.c.id == item.root_id)
            .outerjoin(ci, ci.c.id == item.ci_id)
            .outerjoin(service, service.c.id == item.service_ci_id)
            .where(item.account_id == account_id)
            .order_by(item.number)
            .limit(limit)
        )
    ).all()
    characteristics: dict[int, dict[str, str]] = {row[0]: {} for row in rows}
    if rows:
        found = await session.execute(
            select(Characteristic.item_id, Characteristic.name, Characteristic.value)
            .join(item, item.id == Characteristic.item_id)
            .where(item.account_id == account_id)
            .order_by(Characteristic.item_id, Characteristic.name)
        )
        for item_id, name, value in found:
            if item_id in characteristics:
                characteristics[item_id][name] = value
    return [
        InstallBaseItemView(
            number=number,
            name=name,
            product_number=product_number,
            product_name=product_name,
            sold_product_number=sold,
            parent_number=parent_number,
            root_number=root_number,
            ci_name=ci_name,
            service_name=service_name,
            status=status,
            installed_on=installed_on,
            characteristics=characteristics[item_id],
        )
        for (
            item_id,
            number,
            name,
            product_number,
            product_name,
            sold,
            parent_number,
            root_number,
            ci_name,
            service_name,
            status,
            installed_on,
        ) in rows
    ]


async def list_cis(
    domain: Domain,
    actor: Actor,
    *,
    search: str | None = None,
    kind: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[CIView]:
    """CIs by name, with how many CIs each depends on, how many depend on it, and the install
    base items running on it. ``search`` matches name or description; ``kind`` is exact."""
    require(actor, Permission.VIEW_OPERATIONS)
    _page(limit, offset)
    ci = ConfigurationItem
    dependencies = select(func.count()).where(CIDependency.ci_id == ci.id).scalar_subquery()
    dependents = select(func.count()).where(CIDependency.depends_on_id == ci.id).scalar_subquery()
    items = select(func.count()).where(InstallBaseItem.ci_id == ci.id).scalar_subquery()
    query = select(ci, dependencies, dependents, items).order_by(ci.name).limit(limit).offset(offset)
    if kind:
        query = query.where(ci.kind == kind)
    match = _search([ci.name, ci.description], search)
    if match is not None:
        query = query.where(match)
    async with domain.reading() as session:
        rows = await session.execute(query)
        return [
            CIView(
                name=c.name,
                kind=c.kind,
                description=c.description,
                environment=c.environment,
                location=c.location,
                multi_tenant=c.multi_tenant,
                dependencies=n_dependencies,
                dependents=n_dependents,
                items=n_items,
            )
            for c, n_dependencies, n_dependents, n_items in rows
        ]
