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
linked major case and its customer-visible articles — never accounts, contacts or notes.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import CompoundSelect, String, cast, exists, func, insert, literal, or_, select, union, update
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
from pcso_tui.domain.core.states import OutageStatus, OutageType
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
    )


def with_service(query: Any) -> Any:
    """``query`` joined to the product and CI that name an outage's service."""
    return query.outerjoin(Product, Product.id == Outage.product_id).outerjoin(
        ConfigurationItem, ConfigurationItem.id == Outage.ci_id
    )


def service_name(product_name: str | None, ci_name: str | None, ci_kind: str | None) -> str:
    """What the public calls the thing that is out: the product, else a service CI's name."""
    if product_name:
        return product_name
    if ci_name and ci_kind in PUBLIC_CI_KINDS:
        return ci_name
    return OTHER_SERVICES


def public_outage(
    row: Any,
    now: datetime,
    *,
    title: str,
    statement: tuple[str, datetime] | None = None,
    incident_eta: datetime | None = None,
    articles: Iterable[PublicArticle] = (),
) -> PublicOutage:
    """One row of ``public_outage_columns`` as customers see it at ``now``: the one place the
    status page, the portal and notices turn an outage into what they show. ``statement`` is
    the latest customer-facing statement of its major case (body, when); ``incident_eta`` the
    ETA of its incident, shown while the outage has no end of its own. Its text is laid out for
    customers once here (``normalise_layout``); each channel escapes it its own way."""
    status = outage_status(row.begins_at, row.ends_at, now)
    moments = [row.created_at] + [t for t in (row.begins_at, row.ends_at) if t is not None and t <= now]
    if statement:
        moments.append(statement[1])
    return PublicOutage(
        id=row.id,
        number=outage_number(row.id),
        type=row.type,
        status=status.value,
        title=normalise_layout(title),
        details=normalise_layout(row.details),
        service=service_name(row.product_name, row.ci_name, row.ci_kind),
        begins_at=row.begins_at,
        ends_at=row.ends_at,
        eta=None if status is OutageStatus.PAST else (row.ends_at or incident_eta),
        statement=normalise_layout(statement[0]) if statement else None,
        statement_at=statement[1] if statement else None,
        articles=tuple(articles),
        updated_at=max(moments),
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


async def _is_public_ci(tx: Transaction, ci_id: int | None) -> bool:
    if ci_id is None:
        return False
    kind = await tx.session.scalar(select(ConfigurationItem.kind).where(ConfigurationItem.id == ci_id))
    return kind in PUBLIC_CI_KINDS


async def _most_affected_service(tx: Transaction, case_id: int) -> int | None:
    """The customer-facing service CI holding most of a case's affected items: what the
    status page names when the case's own CI is a host or a cluster."""
    service = func.coalesce(InstallBaseItem.service_ci_id, InstallBaseItem.ci_id)
    return await tx.session.scalar(
        select(ConfigurationItem.id)
        .select_from(CaseItem)
        .join(InstallBaseItem, InstallBaseItem.id == CaseItem.item_id)
        .join(ConfigurationItem, ConfigurationItem.id == service)
        .where(CaseItem.case_id == case_id, ConfigurationItem.kind.in_(PUBLIC_CI_KINDS))
        .group_by(ConfigurationItem.id, ConfigurationItem.name)
        .order_by(func.count().desc(), ConfigurationItem.name)
        .limit(1)
    )


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
    if major.product_id is None and not await _is_public_ci(tx, ci_id):
        ci_id = await _most_affected_service(tx, major.id) or ci_id
    # A reopened major case: the new outage starts where its last one ended, never overlapping.
    last_end = await session.scalar(select(func.max(Outage.ends_at)).where(Outage.case_id == major.id))
    if last_end is not None:
        begins_at = min(max(begins_at, last_end), tx.now)
    outage = Outage(
        type=OutageType.UNPLANNED.value,
        title=DECLARED_TITLE,
        details="",
        ci_id=ci_id,
        product_id=major.product_id,
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
                service=service_name(product_name, ci_name, ci_kind),
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
            for o, ci_name, ci_kind, product_no, product_name in rows
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
            )
        )
        changes.extend(t for t in (r.begins_at, r.ends_at) if t is not None and t > now)
    return StatusPageData(
        title=settings.status_page_title,
        generated_at=now,
        outages=tuple(outages),
        next_change_at=min(changes) if changes else None,
    )
