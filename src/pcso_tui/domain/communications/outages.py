"""Outages: planned maintenance, unplanned outages and degradations, and the status page data.

An outage's status is never stored: it follows from ``begins_at``/``ends_at`` at the time of
asking (planned before it begins, active until it ends, past after). A planned outage on a CI
(or a product) tells the primary contacts of every account whose install base depends on it,
queued as ``outage_planned`` notices with one INSERT … SELECT over the impact CTE.

An approved major case is an outage too: approval declares one linked to it and resolution
ends it (``declare_major_case_outage``, ``end_major_case_outages``, called by the major case
commands inside their transactions).

``status_page_data`` is the only query behind the public status page: it carries outage
titles, details, times, product/service names, the latest customer-facing statement of the
linked major case, its resolution notes once resolved and its customer-visible articles —
never accounts, contacts, work notes or any other field of the case.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import CompoundSelect, String, and_, cast, exists, func, insert, literal, or_, select, union, update
from sqlalchemy import case as sql_case
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from pcso_tui.domain.communications.views import OutageView, PublicArticle, PublicOutage, StatusPageData
from pcso_tui.domain.core.errors import IllegalTransition, InvalidInput, NotFound
from pcso_tui.domain.core.event_kinds import OutageCreated, OutageEnded, OutageUpdated
from pcso_tui.domain.core.events import Transaction
from pcso_tui.domain.core.models import (
    Account,
    Article,
    Case,
    CaseAccount,
    CaseArticle,
    CaseItem,
    CIDependency,
    ConfigurationItem,
    Contact,
    Incident,
    InstallBaseItem,
    Notice,
    Outage,
    Product,
    Statement,
    UTCDateTime,
)
from pcso_tui.domain.core.recipients import notified
from pcso_tui.domain.core.roles import Actor, Permission, Role, require
from pcso_tui.domain.core.service import Domain
from pcso_tui.domain.core.states import CaseState, OutageStatus, OutageType
from pcso_tui.domain.core.text import customer_line, normalise_layout
from pcso_tui.domain.core.versions import check_version
from pcso_tui.domain.core.views import case_number, incident_number, outage_number
from pcso_tui.domain.install_base.impact import affected_items

# CIs whose names are customer-facing (a business service, an application). Hosts, clusters
# and datacentres stay internal: the status page names them "Other services".
PUBLIC_CI_KINDS = frozenset({"service", "business_service", "application"})
OTHER_SERVICES = "Other services"
TITLE_MAX = 500
_UNSET: Any = object()


def public_outage_columns() -> tuple[Any, ...]:
    """An outage's customer-facing columns and what names its service (``service_name``): the
    one list the status page, the portal and notices select from. Join with ``with_service``."""
    return (
        Outage.id,
        Outage.type,
        Outage.title,
        Outage.details,
        Outage.begins_at,
        Outage.ends_at,
        Outage.created_at,
        Product.name.label("product_name"),
        ConfigurationItem.name.label("ci_name"),
        ConfigurationItem.kind.label("ci_kind"),
        Product.public_name.label("product_public_name"),
        Product.customer_facing.label("product_facing"),
        ConfigurationItem.public_name.label("ci_public_name"),
        ConfigurationItem.customer_facing.label("ci_facing"),
    )


def with_service(query: Any) -> Any:
    """``query`` joined to the product and CI that name an outage's service."""
    return query.outerjoin(Product, Product.id == Outage.product_id).outerjoin(
        ConfigurationItem, ConfigurationItem.id == Outage.ci_id
    )


def service_name(
    product_name: str | None,
    ci_name: str | None,
    ci_kind: str | None,
    *,
    product_public_name: str | None = None,
    product_facing: bool | None = True,
    ci_public_name: str | None = None,
    ci_facing: bool | None = None,
) -> str:
    """What the public calls the thing that is out (the public service catalogue): the
    product's public name (or name) when the product is customer-facing; else the CI's public
    name when the CI is customer-facing (``None``: decided by its kind), or its own name only
    for a public kind; never an internal CI name; else "Other services"."""
    if product_name and product_facing is not False:
        return product_public_name or product_name
    if ci_name and (ci_facing if ci_facing is not None else ci_kind in PUBLIC_CI_KINDS):
        if ci_public_name:
            return ci_public_name
        if ci_kind in PUBLIC_CI_KINDS:
            return ci_name
    return OTHER_SERVICES


def row_service(row: Any) -> str:
    """``service_name`` of a row selected with ``public_outage_columns`` (or the same labels)."""
    return service_name(
        row.product_name,
        row.ci_name,
        row.ci_kind,
        product_public_name=row.product_public_name,
        product_facing=row.product_facing,
        ci_public_name=row.ci_public_name,
        ci_facing=row.ci_facing,
    )


# A CI customers may be told about by name: customer-facing (by its kind when not said) and
# with a name that is public (its public name, or its own name for a public kind).
_CI_NAMEABLE = and_(
    func.coalesce(ConfigurationItem.customer_facing, ConfigurationItem.kind.in_(PUBLIC_CI_KINDS)),
    or_(ConfigurationItem.public_name.is_not(None), ConfigurationItem.kind.in_(PUBLIC_CI_KINDS)),
)


async def case_service(
    session: AsyncSession, case_id: int, product_id: int | None, ci_id: int | None
) -> tuple[int | None, int | None]:
    """The (product, CI) that name a case's service for customers: its own product when that is
    customer-facing; else its CI when customers may know it by name; else the customer-facing
    service CI holding most of its affected items; else the customer-facing product most of
    its affected items are (what the affected accounts bought). ``service_of`` names it."""
    if product_id is not None and await session.scalar(select(Product.customer_facing).where(Product.id == product_id)):
        return product_id, ci_id
    if ci_id is not None and await session.scalar(
        select(ConfigurationItem.id).where(ConfigurationItem.id == ci_id, _CI_NAMEABLE)
    ):
        return product_id, ci_id
    service = func.coalesce(InstallBaseItem.service_ci_id, InstallBaseItem.ci_id)
    service_ci = await session.scalar(
        select(ConfigurationItem.id)
        .select_from(CaseItem)
        .join(InstallBaseItem, InstallBaseItem.id == CaseItem.item_id)
        .join(ConfigurationItem, ConfigurationItem.id == service)
        .where(CaseItem.case_id == case_id, _CI_NAMEABLE)
        .group_by(ConfigurationItem.id, ConfigurationItem.name)
        .order_by(func.count().desc(), ConfigurationItem.name)
        .limit(1)
    )
    if service_ci is not None:
        return product_id, service_ci
    bought = await session.scalar(
        select(Product.id)
        .select_from(CaseItem)
        .join(InstallBaseItem, InstallBaseItem.id == CaseItem.item_id)
        .join(Product, Product.id == InstallBaseItem.product_id)
        .where(CaseItem.case_id == case_id, Product.customer_facing.is_(True))
        .group_by(Product.id, Product.name)
        .order_by(func.count().desc(), Product.name)
        .limit(1)
    )
    if bought is not None:
        return bought, ci_id
    return product_id, ci_id


async def service_of(session: AsyncSession, product_id: int | None, ci_id: int | None) -> str:
    """``service_name`` of a product and a CI, by id."""
    product = None
    if product_id is not None:
        product = (
            await session.execute(
                select(Product.name, Product.public_name, Product.customer_facing).where(Product.id == product_id)
            )
        ).one_or_none()
    ci = None
    if ci_id is not None:
        ci = (
            await session.execute(
                select(
                    ConfigurationItem.name,
                    ConfigurationItem.kind,
                    ConfigurationItem.public_name,
                    ConfigurationItem.customer_facing,
                ).where(ConfigurationItem.id == ci_id)
            )
        ).one_or_none()
    return service_name(
        product.name if product else None,
        ci.name if ci else None,
        ci.kind if ci else None,
        product_public_name=product.public_name if product else None,
        product_facing=product.customer_facing if product else None,
        ci_public_name=ci.public_name if ci else None,
        ci_facing=ci.customer_facing if ci else None,
    )


async def case_service_name(session: AsyncSession, case_id: int) -> str:
    """A case's public service name (``case_service``): what ``{service}`` says in its wording."""
    row = (
        await session.execute(
            select(Case.product_id, Case.ci_id, Incident.root_ci_id)
            .outerjoin(Incident, Incident.id == Case.incident_id)
            .where(Case.id == case_id)
        )
    ).one()
    product_id, ci_id = await case_service(session, case_id, row.product_id, row.ci_id or row.root_ci_id)
    return await service_of(session, product_id, ci_id)


def public_outage(
    row: Any,
    now: datetime,
    *,
    title: str,
    statement: tuple[str, datetime] | None = None,
    incident_eta: datetime | None = None,
    articles: Iterable[PublicArticle] = (),
    resolution: tuple[str, datetime] | None = None,
) -> PublicOutage:
    """One row of ``public_outage_columns`` as customers see it at ``now``: the one place the
    status page, the portal and notices turn an outage into what they show. ``statement`` is
    the latest customer-facing statement of its major case (body, when); ``incident_eta`` the
    ETA of its incident, shown while the outage has no end of its own; ``resolution`` the
    resolution notes of its resolved major case (notes, when). Its text is laid out for
    customers once here (``normalise_layout``); each channel escapes it its own way."""
    status = outage_status(row.begins_at, row.ends_at, now)
    moments = [row.created_at] + [t for t in (row.begins_at, row.ends_at) if t is not None and t <= now]
    if statement:
        moments.append(statement[1])
    if resolution:
        moments.append(resolution[1])
    return PublicOutage(
        id=row.id,
        number=outage_number(row.id),
        type=row.type,
        status=status.value,
        title=normalise_layout(title),
        details=normalise_layout(row.details),
        service=row_service(row),
        begins_at=row.begins_at,
        ends_at=row.ends_at,
        eta=None if status is OutageStatus.PAST else (row.ends_at or incident_eta),
        statement=normalise_layout(statement[0]) if statement else None,
        statement_at=statement[1] if statement else None,
        articles=tuple(articles),
        updated_at=max(moments),
        resolution=normalise_layout(resolution[0]) if resolution else None,
        resolved_at=resolution[1] if resolution else None,
    )


async def latest_statements(session: AsyncSession, case_ids: Iterable[int]) -> dict[int, tuple[str, datetime]]:
    """The latest customer-facing statement (body, when) of each of these major cases."""
    ids = set(case_ids)
    if not ids:
        return {}
    ranked = (
        select(
            Statement.case_id,
            Statement.body,
            Statement.created_at,
            func.row_number()
            .over(partition_by=Statement.case_id, order_by=(Statement.created_at.desc(), Statement.id.desc()))
            .label("rank"),
        )
        .where(Statement.case_id.in_(ids))
        .subquery()
    )
    latest = select(ranked.c.case_id, ranked.c.body, ranked.c.created_at).where(ranked.c.rank == 1)
    return {case_id: (body, at) for case_id, body, at in await session.execute(latest)}


async def resolutions(session: AsyncSession, case_ids: Iterable[int]) -> dict[int, tuple[str, datetime]]:
    """The resolution notes (notes, when) of each of these major cases that is resolved or closed
    (a reopened one has none). Only the notes: customers are told them in the resolved notice."""
    ids = set(case_ids)
    if not ids:
        return {}
    rows = await session.execute(
        select(Case.id, Case.resolution_notes, Case.resolved_at).where(
            Case.id.in_(ids),
            Case.state.in_((CaseState.RESOLVED.value, CaseState.CLOSED.value)),
            Case.resolution_notes.is_not(None),
            Case.resolved_at.is_not(None),
        )
    )
    return {case_id: (notes, at) for case_id, notes, at in rows if notes and notes.strip() and at is not None}


async def incident_etas(session: AsyncSession, incident_ids: Iterable[int | None]) -> dict[int, datetime | None]:
    """The ETA of each of these incidents."""
    ids = {i for i in incident_ids if i is not None}
    if not ids:
        return {}
    return dict((await session.execute(select(Incident.id, Incident.eta).where(Incident.id.in_(ids)))).all())


def outage_status(begins_at: datetime, ends_at: datetime | None, now: datetime) -> OutageStatus:
    if now < begins_at:
        return OutageStatus.PLANNED
    if ends_at is not None and now >= ends_at:
        return OutageStatus.PAST
    return OutageStatus.ACTIVE


def outages_with_status(status: OutageStatus, now: datetime) -> Any:
    """A where-clause: outages whose status (planned, active, past) is ``status`` at ``now``."""
    if status is OutageStatus.PLANNED:
        return Outage.begins_at > now
    if status is OutageStatus.PAST:
        return Outage.ends_at <= now
    return (Outage.begins_at <= now) & or_(Outage.ends_at.is_(None), Outage.ends_at > now)


# --- validation -----------------------------------------------------------------------------


def _check_type(value: str) -> str:
    try:
        return OutageType(value).value
    except ValueError:
        types = ", ".join(t.value for t in OutageType)
        raise InvalidInput(f"unknown outage type {value!r}; types: {types}") from None


def _check_title(value: str) -> str:
    title = (value or "").strip()
    if not title:
        raise InvalidInput("an outage needs a title")
    if len(title) > TITLE_MAX:
        raise InvalidInput(f"the title is {len(title)} characters long; at most {TITLE_MAX}")
    return title


def _check_time(name: str, value: datetime | None) -> None:
    if value is not None and value.tzinfo is None:
        raise InvalidInput(f"{name} must carry a time zone (e.g. 2026-11-23T22:00+00:00)")


def _check_span(begins_at: datetime, ends_at: datetime | None) -> None:
    if ends_at is not None and ends_at < begins_at:
        raise InvalidInput(f"an outage cannot end ({ends_at.isoformat()}) before it begins ({begins_at.isoformat()})")


# --- commands -------------------------------------------------------------------------------


async def _queue_outage_notices(
    tx: Transaction, outage_id: int, kind: str, key_prefix: str, ci_id: int | None, product_id: int | None
) -> tuple[int, int]:
    """One notice per contact ``[delivery] notify`` names (``tx.notify``) of every external
    account the outage touches; opted-out contacts get a ``skipped`` one. Returns (queued,
    skipped). One INSERT … SELECT."""
    if ci_id is not None:
        items = affected_items([ci_id]).subquery()
        accounts: Any = select(items.c.account_id)
    elif product_id is not None:
        accounts = select(InstallBaseItem.account_id).where(InstallBaseItem.product_id == product_id)
    else:
        return 0, 0
    now = literal(tx.now, UTCDateTime())
    contact = Contact.__table__
    key = literal(f"{key_prefix}:") + cast(contact.c.id, String)
    existing = Notice.__table__.alias("existing")
    source = (
        select(
            key,
            literal(kind),
            contact.c.id,
            contact.c.account_id,
            literal(outage_id),
            contact.c.preferred_channel,
            sql_case((contact.c.opted_out, "skipped"), else_="pending"),
            literal(0),
            now,
            sql_case((contact.c.opted_out, "contact opted out"), else_=None),
            now,
            literal(1),
        )
        .join(Account, Account.id == contact.c.account_id)
        .where(
            notified(contact, tx.notify),
            Account.is_external.is_(True),
            contact.c.account_id.in_(accounts),
            ~exists().where(existing.c.idempotency_key == key),
        )
    )
    columns = [
        "idempotency_key",
        "kind",
        "contact_id",
        "account_id",
        "outage_id",
        "channel",
        "state",
        "attempts",
        "next_attempt_at",
        "last_error",
        "created_at",
        "version",
    ]
    await tx.session.execute(insert(Notice).from_select(columns, source))
    # (rowcount is not reliable for INSERT … WITH … on SQLite: count what was queued.)
    counted = await tx.session.execute(
        select(Notice.state, func.count())
        .where(Notice.outage_id == outage_id, Notice.idempotency_key.startswith(key_prefix + ":"))
        .group_by(Notice.state)
    )
    by_state = {state: n for state, n in counted}
    return by_state.get("pending", 0), by_state.get("skipped", 0)


async def create_outage(
    domain: Domain,
    actor: Actor,
    *,
    type: str,
    title: str,
    details: str = "",
    begins_at: datetime,
    ends_at: datetime | None = None,
    ci_name: str | None = None,
    product_number: str | None = None,
    case_id: int | None = None,
    incident_id: int | None = None,
) -> OutageView:
    """Record an outage; a planned one that has not begun notifies the affected accounts."""
    require(actor, Permission.MANAGE_OUTAGES)
    kind = _check_type(type)
    title = _check_title(title)
    _check_time("begins_at", begins_at)
    _check_time("ends_at", ends_at)
    _check_span(begins_at, ends_at)
    async with domain.transaction(actor) as tx:
        session = tx.session
        ci_id = product_id = None
        if ci_name:
            ci_id = await session.scalar(select(ConfigurationItem.id).where(ConfigurationItem.name == ci_name))
            if ci_id is None:
                raise NotFound(f"no CI named {ci_name!r}")
        if product_number:
            product_id = await session.scalar(select(Product.id).where(Product.number == product_number))
            if product_id is None:
                raise NotFound(f"no product numbered {product_number!r}")
        if case_id is not None and await session.scalar(select(Case.id).where(Case.id == case_id)) is None:
            raise NotFound(f"no case {case_number(case_id)}")
        if incident_id is not None and await session.get(Incident, incident_id) is None:
            raise NotFound(f"no incident {incident_number(incident_id)}")
        outage = Outage(
            type=kind,
            title=title,
            details=details or "",
            ci_id=ci_id,
            product_id=product_id,
            case_id=case_id,
            incident_id=incident_id,
            begins_at=begins_at,
            ends_at=ends_at,
            created_by_id=actor.user_id,
            created_at=tx.now,
        )
        session.add(outage)
        await session.flush()
        queued = skipped = 0
        if kind == OutageType.PLANNED and begins_at > tx.now:
            queued, skipped = await _queue_outage_notices(
                tx, outage.id, "outage_planned", f"outage_planned:{outage.id}", ci_id, product_id
            )
        tx.record(
            outage.id,
            OutageCreated(
                number=outage_number(outage.id),
                type=kind,
                title=title,
                case_id=case_id,
                notices=queued,
                notices_skipped=skipped,
            ),
        )
        outage_id = outage.id
    return (await _outage_views(domain, [Outage.id == outage_id], notices_queued=queued, notices_skipped=skipped))[0]


async def _load(tx: Transaction, outage_id: int) -> Outage:
    outage = await tx.session.get(Outage, outage_id)
    if outage is None:
        raise NotFound(f"no outage {outage_number(outage_id)}")
    return outage


async def update_outage(
    domain: Domain,
    actor: Actor,
    outage_id: int,
    *,
    title: str | None = None,
    details: str | None = None,
    type: str | None = None,
    begins_at: datetime | None = None,
    ends_at: datetime | None = _UNSET,
    expected_version: int | None = None,
) -> OutageView:
    """Change an outage. Moving a planned outage that has not begun tells its accounts again
    (``outage_rescheduled`` notices)."""
    require(actor, Permission.MANAGE_OUTAGES)
    kind = _check_type(type) if type is not None else None
    new_title = _check_title(title) if title is not None else None
    _check_time("begins_at", begins_at)
    if ends_at is not _UNSET:
        _check_time("ends_at", ends_at)
    async with domain.transaction(actor) as tx:
        outage = await _load(tx, outage_id)
        number = outage_number(outage_id)
        await check_version(tx.session, "outage", outage.id, number, outage.version, expected_version)
        changes: dict[str, Any] = {}
        for name, value in (("title", new_title), ("details", details), ("type", kind), ("begins_at", begins_at)):
            if value is not None and getattr(outage, name) != value:
                changes[name] = value
        if ends_at is not _UNSET and outage.ends_at != ends_at:
            changes["ends_at"] = ends_at
        if not changes:
            raise InvalidInput(f"nothing to change on {outage_number(outage_id)}")
        _check_span(changes.get("begins_at", outage.begins_at), changes.get("ends_at", outage.ends_at))
        was_planned = outage_status(outage.begins_at, outage.ends_at, tx.now) is OutageStatus.PLANNED
        for name, value in changes.items():
            setattr(outage, name, value)
        await tx.session.flush()
        queued = skipped = 0
        moved = "begins_at" in changes or "ends_at" in changes
        if moved and was_planned and outage.type == OutageType.PLANNED and outage.begins_at > tx.now:
            queued, skipped = await _queue_outage_notices(
                tx,
                outage.id,
                "outage_rescheduled",
                f"outage_rescheduled:{outage.id}:{outage.version}",
                outage.ci_id,
                outage.product_id,
            )
        tx.record(
            outage.id,
            OutageUpdated(
                number=outage_number(outage.id), changed=sorted(changes), notices=queued, notices_skipped=skipped
            ),
        )
    return (await _outage_views(domain, [Outage.id == outage_id], notices_queued=queued, notices_skipped=skipped))[0]


async def end_outage(domain: Domain, actor: Actor, outage_id: int, *, at: datetime | None = None) -> OutageView:
    """The outage is over (now, or at ``at``)."""
    require(actor, Permission.MANAGE_OUTAGES)
    _check_time("at", at)
    async with domain.transaction(actor) as tx:
        outage = await _load(tx, outage_id)
        number = outage_number(outage_id)
        end = at or tx.now
        if outage.ends_at is not None and outage.ends_at <= tx.now:
            raise IllegalTransition(f"{number} already ended at {outage.ends_at.isoformat()}")
        if end < outage.begins_at:
            raise InvalidInput(
                f"{number} begins at {outage.begins_at.isoformat()} and cannot end before that; "
                "to move or shorten it, update its times"
            )
        outage.ends_at = end
        await tx.session.flush()
        tx.record(outage.id, OutageEnded(number=number, ends_at=end.isoformat()))
    return (await _outage_views(domain, [Outage.id == outage_id]))[0]


# --- the major case's outage ----------------------------------------------------------------

# The public title of the outage an approval declares. The major case's own description and
# the incident's title name internal things (hosts, alerts), so they never reach the page.
DECLARED_TITLE = "Service disruption"


def _open_disruption(case_id: int, now: datetime) -> Any:
    """The case's unplanned outages and degradations under way: begun and not ended (planned
    maintenance linked to it keeps its own times)."""
    return (
        (Outage.case_id == case_id)
        & (Outage.type != OutageType.PLANNED.value)
        & (Outage.begins_at <= now)
        & or_(Outage.ends_at.is_(None), Outage.ends_at > now)
    )


async def has_open_disruption(session: Any, case_id: int, now: datetime) -> bool:
    """Whether an unplanned outage or degradation linked to the case is under way."""
    return await session.scalar(select(Outage.id).where(_open_disruption(case_id, now)).limit(1)) is not None


async def declare_major_case_outage(tx: Transaction, major: Case, *, by: str = "approval") -> int | None:
    """Put an approved major case on the status page: an unplanned outage on its product or
    customer-facing service (its CI if that is one, else the service holding most of its
    affected items), linked to the case and its incident, from when the incident opened; the
    case's statements show there. A reopened major case puts itself back (``by="reopening"``).
    Nothing is declared while an unplanned outage or degradation linked to the case is under
    way (one declared by hand before approval, say). Returns the new outage's id."""
    session = tx.session
    if await has_open_disruption(session, major.id, tx.now):
        return None
    begins_at, ci_id = tx.now, major.ci_id
    if major.incident_id is not None:
        incident = (
            await session.execute(
                select(Incident.opened_at, Incident.root_ci_id).where(Incident.id == major.incident_id)
            )
        ).one()
        begins_at = min(incident.opened_at, tx.now)
        ci_id = ci_id or incident.root_ci_id
    product_id, ci_id = await case_service(session, major.id, major.product_id, ci_id)
    # A reopened major case: the new outage starts where its last one ended, never overlapping.
    last_end = await session.scalar(select(func.max(Outage.ends_at)).where(Outage.case_id == major.id))
    if last_end is not None:
        begins_at = min(max(begins_at, last_end), tx.now)
    outage = Outage(
        type=OutageType.UNPLANNED.value,
        title=customer_line(major.public_title or "", TITLE_MAX) or DECLARED_TITLE,
        details="",
        ci_id=ci_id,
        product_id=product_id,
        case_id=major.id,
        incident_id=major.incident_id,
        begins_at=begins_at,
        created_by_id=tx.actor.user_id,
        created_at=tx.now,
    )
    session.add(outage)
    await session.flush()
    tx.record(
        outage.id,
        OutageCreated(
            number=outage_number(outage.id), type=outage.type, title=outage.title, case_id=major.id, by=by, notices=0
        ),
    )
    return outage.id


async def end_major_case_outages(tx: Transaction, major_id: int) -> list[int]:
    """The major case is resolved: its unplanned outages and degradations under way end now."""
    ended = list(
        await tx.session.scalars(
            update(Outage)
            .where(_open_disruption(major_id, tx.now))
            .values(ends_at=tx.now, version=Outage.version + 1)
            .returning(Outage.id)
            .execution_options(synchronize_session=False)
        )
    )
    tx.record_many(
        (oid, OutageEnded(number=outage_number(oid), ends_at=tx.now.isoformat(), by="resolution"))
        for oid in sorted(ended)
    )
    return ended


# --- queries --------------------------------------------------------------------------------


async def case_outage(domain: Domain, actor: Actor, case_id: int) -> OutageView:
    """The open unplanned outage or degradation of a (major) case: what the status page shows
    for it, for its manager to word."""
    require(actor, Permission.MANAGE_OUTAGES)
    views = await _outage_views(domain, [_open_disruption(case_id, domain.clock())])
    if not views:
        raise NotFound(f"{case_number(case_id)} has no open outage on the status page")
    return views[0]


async def _outage_views(
    domain: Domain,
    where: list[Any],
    *,
    notices_queued: int = 0,
    notices_skipped: int = 0,
    hide_ci: bool = False,
) -> list[OutageView]:
    now = domain.clock()
    async with domain.reading() as session:
        rows = await session.execute(
            select(
                Outage,
                ConfigurationItem.name,
                ConfigurationItem.kind,
                Product.number,
                Product.name,
                Product.public_name,
                Product.customer_facing,
                ConfigurationItem.public_name,
                ConfigurationItem.customer_facing,
            )
            .outerjoin(ConfigurationItem, ConfigurationItem.id == Outage.ci_id)
            .outerjoin(Product, Product.id == Outage.product_id)
            .where(*where)
            .order_by(Outage.begins_at.desc(), Outage.id.desc())
        )
        return [
            OutageView(
                id=o.id,
                number=outage_number(o.id),
                type=o.type,
                status=outage_status(o.begins_at, o.ends_at, now).value,
                title=o.title,
                details=o.details,
                begins_at=o.begins_at,
                ends_at=o.ends_at,
                service=service_name(
                    product_name,
                    ci_name,
                    ci_kind,
                    product_public_name=product_public,
                    product_facing=product_facing,
                    ci_public_name=ci_public,
                    ci_facing=ci_facing,
                ),
                ci_name=None if hide_ci else ci_name,
                product_number=product_no,
                product_name=product_name,
                case_number=None if hide_ci or o.case_id is None else case_number(o.case_id),
                incident_number=None if hide_ci or o.incident_id is None else incident_number(o.incident_id),
                created_at=o.created_at,
                notices_queued=notices_queued,
                notices_skipped=notices_skipped,
                version=o.version,
            )
            for (
                o,
                ci_name,
                ci_kind,
                product_no,
                product_name,
                product_public,
                product_facing,
                ci_public,
                ci_facing,
            ) in rows
        ]


def outages_affecting_account(account_id: int) -> Any:
    """Outages that touch one account: on a CI its install base depends on, on a product it
    has, linked to one of its cases (or their major case), or not tied to anything."""
    own_items = select(InstallBaseItem.ci_id.label("ci_id")).where(
        InstallBaseItem.account_id == account_id, InstallBaseItem.ci_id.is_not(None)
    )
    service_items = select(InstallBaseItem.service_ci_id).where(
        InstallBaseItem.account_id == account_id, InstallBaseItem.service_ci_id.is_not(None)
    )
    root = InstallBaseItem.__table__.alias("root_item")
    root_items = (
        select(root.c.ci_id)
        .join(InstallBaseItem, InstallBaseItem.root_id == root.c.id)
        .where(InstallBaseItem.account_id == account_id, root.c.ci_id.is_not(None))
    )
    seeds = union(own_items, service_items, root_items).subquery("account_item_ci")
    upstream = select(seeds.c.ci_id).cte("account_ci", recursive=True)
    upstream = upstream.union(select(CIDependency.depends_on_id).join(upstream, CIDependency.ci_id == upstream.c.ci_id))
    products = select(InstallBaseItem.product_id).where(InstallBaseItem.account_id == account_id)
    own_cases: CompoundSelect[int | None] = union(
        select(Case.id).where(Case.account_id == account_id),
        select(Case.parent_id).where(Case.account_id == account_id, Case.parent_id.is_not(None)),
        select(CaseAccount.case_id).where(CaseAccount.account_id == account_id),
    )
    return or_(
        Outage.ci_id.in_(select(upstream.c.ci_id)),
        Outage.product_id.in_(products),
        Outage.case_id.in_(own_cases),
        (Outage.ci_id.is_(None) & Outage.product_id.is_(None) & Outage.case_id.is_(None)),
    )


async def list_outages(domain: Domain, actor: Actor | None, *, status: str | None = None) -> list[OutageView]:
    """Outages, newest first. Staff (and ``None``, the system) see all; a customer sees those
    that touch their account, without internal CI, case or incident references."""
    where: list[Any] = []
    hide = False
    if actor is not None:
        if actor.role is Role.CUSTOMER:
            require(actor, Permission.VIEW_OWN_ACCOUNT)
            assert actor.account_id is not None
            where.append(outages_affecting_account(actor.account_id))
            hide = True
        else:
            require(actor, Permission.VIEW_CASES)
    if status is not None:
        try:
            wanted = OutageStatus(status)
        except ValueError:
            raise InvalidInput(f"unknown outage status {status!r}; statuses: planned, active, past") from None
        where.append(outages_with_status(wanted, domain.clock()))
    return await _outage_views(domain, where, hide_ci=hide)


async def status_page_data(domain: Domain) -> StatusPageData:
    """Everything the public status page shows, and nothing more."""
    settings = domain.settings.delivery
    now = domain.clock()
    since = now - timedelta(days=settings.status_page_past_days)
    async with domain.reading() as session:
        major = func.coalesce(Case.parent_id, Case.id)
        major_case = aliased(Case)
        rows = (
            await session.execute(
                with_service(
                    select(
                        *public_outage_columns(),
                        major.label("major_id"),
                        func.coalesce(Outage.incident_id, Case.incident_id, major_case.incident_id).label(
                            "incident_id"
                        ),
                    )
                )
                .outerjoin(Case, Case.id == Outage.case_id)
                .outerjoin(major_case, major_case.id == Case.parent_id)
                .where(or_(Outage.ends_at.is_(None), Outage.ends_at >= since))
                .order_by(Outage.begins_at.desc(), Outage.id.desc())
            )
        ).all()
        majors = {r.major_id for r in rows if r.major_id is not None}
        statements = await latest_statements(session, majors)
        resolved = await resolutions(session, majors)
        articles: dict[int, list[PublicArticle]] = {}
        if majors:
            for case_id, number, title, body in await session.execute(
                select(CaseArticle.case_id, Article.number, Article.title, Article.body)
                .join(Article, Article.id == CaseArticle.article_id)
                .where(CaseArticle.case_id.in_(majors), Article.customer_visible.is_(True))
                .order_by(Article.number)
            ):
                articles.setdefault(case_id, []).append(PublicArticle(number=number, title=title, body=body))
        etas = await incident_etas(session, (r.incident_id for r in rows))

    outages = []
    changes: list[datetime] = []
    for r in rows:
        outages.append(
            public_outage(
                r,
                now,
                title=customer_line(r.title, TITLE_MAX),
                statement=statements.get(r.major_id) if r.major_id is not None else None,
                incident_eta=etas.get(r.incident_id) if r.incident_id is not None else None,
                articles=articles.get(r.major_id, ()) if r.major_id is not None else (),
                resolution=resolved.get(r.major_id) if r.major_id is not None else None,
            )
        )
        changes.extend(t for t in (r.begins_at, r.ends_at) if t is not None and t > now)
    return StatusPageData(
        title=settings.status_page_title,
        generated_at=now,
        outages=tuple(outages),
        next_change_at=min(changes) if changes else None,
    )
