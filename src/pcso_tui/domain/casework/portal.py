"""The customer portal: every query it runs and the one command it sends, scoped to ONE account.

A customer sees their own account; agents, managers and admins may *preview* any account —
the same queries, given the account's number, read-only (``Permission.PREVIEW_ACCOUNT``;
operators do not hold it: they work incidents, not customers). The portal shows:

- **outages** touching the account's install base (``outages.outages_affecting_account``: a CI its
  items depend on, a product it has, a case of its own), with the latest customer-facing
  statement of the outage's major case, an ETA and the customer-visible articles attached;
- **cases** whose account is this one (reactive calls, child cases of major cases, and any
  other case opened for the account alone), with their customer-visible journal lines only;
  cases that span many accounts (a proactive case before approval, a major case) are not
  "my cases": what they say to customers reaches the account through its child case and its
  outages;
- **articles**: customer-visible articles attached to the major cases of those outages and cases.

Isolation: nothing of another account is reachable. A case, outage or article of another
account is answered exactly like one that does not exist (``NotFound``, same message), so an id
tells a customer nothing. Internal work notes, incidents, alerts, CIs and other accounts never
appear in a read model here.

``reply_to_case`` adds the customer's reply to their own case (a customer-visible ``reply``
line: agents and managers read it on the case; a case awaiting info goes back to open, as
the answer it waited for has come) and, for a child case, records the reply on
the parent major case too (a ``case.noted`` event on the major case pointing at the line), so
it shows on the major case's timeline.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import case as sql_case
from sqlalchemy import func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from pcso_tui.domain.casework.records import ACTIVE, MAX_PAGE, clean_text
from pcso_tui.domain.casework.views import (
    PortalAccount,
    PortalArticle,
    PortalCase,
    PortalCaseDetail,
    PortalUpdate,
    journal_label,
)
from pcso_tui.domain.communications.delivery import GENERIC_TITLE
from pcso_tui.domain.communications.outages import (
    incident_etas,
    latest_statements,
    outages_affecting_account,
    outages_with_status,
    public_outage,
    public_outage_columns,
    resolutions,
    with_service,
)
from pcso_tui.domain.communications.views import PublicOutage
from pcso_tui.domain.core.errors import IllegalTransition, InvalidInput, NotFound
from pcso_tui.domain.core.event_kinds import CaseNoted, CaseStateChanged
from pcso_tui.domain.core.models import (
    Account,
    Article,
    Case,
    CaseArticle,
    Contact,
    JournalEntry,
    Outage,
    Product,
)
from pcso_tui.domain.core.roles import Actor, Permission, Role, require
from pcso_tui.domain.core.service import Domain
from pcso_tui.domain.core.states import PRIORITY_NAMES, CaseState, OutageStatus, check_case
from pcso_tui.domain.core.text import normalise_layout
from pcso_tui.domain.core.views import case_number, outage_number

MAX_REPLY = 10_000
DEFAULT_LIMIT = 100
UPDATES_LIMIT = 200


def _check_role(actor: Actor) -> None:
    """Customers view their own account; staff need the preview permission. Before any I/O."""
    if actor.role is Role.CUSTOMER:
        require(actor, Permission.VIEW_OWN_ACCOUNT)
    else:
        require(actor, Permission.PREVIEW_ACCOUNT)


def _check_limit(limit: int, what: str = "limit") -> None:
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"{what} must be between 1 and {MAX_PAGE}")


def _no_account(account: str) -> NotFound:
    return NotFound(f"no account numbered {account!r}")


async def _scope(session: AsyncSession, actor: Actor, account: str | None) -> tuple[int, PortalAccount]:
    """The account this call may see: the customer's own (naming another one answers like a
    missing one), or for staff the one named."""
    if actor.role is Role.CUSTOMER:
        row = (
            await session.execute(
                select(Account.id, Account.number, Account.name).where(Account.id == actor.account_id)
            )
        ).first()
        if row is None or (account is not None and account != row.number):
            raise _no_account(account if account is not None else "")
        return row.id, PortalAccount(number=row.number, name=row.name, preview=False)
    if not account or not account.strip():
        raise InvalidInput("a preview needs an account number")
    account = account.strip()
    row = (
        await session.execute(select(Account.id, Account.number, Account.name).where(Account.number == account))
    ).first()
    if row is None:
        raise _no_account(account)
    return row.id, PortalAccount(number=row.number, name=row.name, preview=True)


# --- what an account's major cases are ------------------------------------------------------


# The case an outage is linked to, under its own name: ``outages_affecting_account`` has subqueries on
# ``Case`` that must not correlate with it.
_linked = aliased(Case, name="linked_case")


def _outage_major() -> Any:
    """The major case of an outage's linked case (the case itself, or its parent)."""
    return func.coalesce(_linked.parent_id, _linked.id)


async def _articles_of(session: AsyncSession, majors: dict[int, set[str]]) -> dict[int, list[PortalArticle]]:
    """Customer-visible articles per major case; ``majors`` maps a major case to the numbers
    of the account's outages it covers (shown on the article)."""
    if not majors:
        return {}
    rows = await session.execute(
        select(CaseArticle.case_id, Article)
        .join(Article, Article.id == CaseArticle.article_id)
        .where(CaseArticle.case_id.in_(majors), Article.customer_visible.is_(True))
        .order_by(Article.number)
    )
    per_article: dict[int, set[str]] = {}
    found: list[tuple[int, Article]] = []
    for case_id, article in rows:
        per_article.setdefault(article.id, set()).update(majors[case_id])
        found.append((case_id, article))
    out: dict[int, list[PortalArticle]] = {}
    for case_id, a in found:
        out.setdefault(case_id, []).append(
            PortalArticle(
                id=a.id,
                number=a.number,
                title=normalise_layout(a.title),
                body=normalise_layout(a.body),
                kind=a.kind,
                updated_at=a.updated_at,
                outage_numbers=tuple(sorted(per_article[a.id])),
            )
        )
    return out


# --- outages --------------------------------------------------------------------------------


async def _outages(
    session: AsyncSession, account_id: int, now: datetime, where: Iterable[Any], limit: int
) -> list[PublicOutage]:
    status_rank = sql_case(
        (Outage.begins_at > now, 1),
        (Outage.ends_at <= now, 2),
        else_=0,
    )
    rows = (
        await session.execute(
            with_service(
                select(
                    *public_outage_columns(),
                    _outage_major().label("major_id"),
                    func.coalesce(Outage.incident_id, _linked.incident_id).label("incident_id"),
                )
            )
            .outerjoin(_linked, _linked.id == Outage.case_id)
            .where(outages_affecting_account(account_id), *where)
            .order_by(status_rank, Outage.begins_at.desc(), Outage.id.desc())
            .limit(limit)
        )
    ).all()
    majors: dict[int, set[str]] = {}
    for r in rows:
        if r.major_id is not None:
            majors.setdefault(r.major_id, set()).add(outage_number(r.id))
    statements = await latest_statements(session, majors)
    resolved = await resolutions(session, majors)
    articles = await _articles_of(session, majors)
    etas = await incident_etas(session, (r.incident_id for r in rows))
    out = [
        public_outage(
            r,
            now,
            title=r.title,
            statement=statements.get(r.major_id) if r.major_id is not None else None,
            incident_eta=etas.get(r.incident_id) if r.incident_id is not None else None,
            articles=articles.get(r.major_id, ()) if r.major_id is not None else (),
            resolution=resolved.get(r.major_id) if r.major_id is not None else None,
        )
        for r in rows
    ]
    return out


async def portal_account(domain: Domain, actor: Actor, *, account: str | None = None) -> PortalAccount:
    """Which account the portal shows (the customer's own, or the previewed one)."""
    _check_role(actor)
    async with domain.reading() as session:
        return (await _scope(session, actor, account))[1]


async def list_outages(
    domain: Domain,
    actor: Actor,
    *,
    account: str | None = None,
    status: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> list[PublicOutage]:
    """Outages touching the account: active first, then planned, then past; newest first."""
    _check_role(actor)
    _check_limit(limit)
    where: list[Any] = []
    now = domain.clock()
    if status is not None:
        try:
            where.append(outages_with_status(OutageStatus(status), now))
        except ValueError:
            raise InvalidInput(f"unknown outage status {status!r}; statuses: planned, active, past") from None
    async with domain.reading() as session:
        account_id, _ = await _scope(session, actor, account)
        return await _outages(session, account_id, now, where, limit)


async def get_outage(domain: Domain, actor: Actor, outage_id: int, *, account: str | None = None) -> PublicOutage:
    """One outage touching the account; any other answers "no outage OUT…"."""
    _check_role(actor)
    now = domain.clock()
    async with domain.reading() as session:
        account_id, _ = await _scope(session, actor, account)
        found = await _outages(session, account_id, now, [Outage.id == outage_id], 1)
    if not found:
        raise NotFound(f"no outage {outage_number(outage_id)}")
    return found[0]


# --- cases ----------------------------------------------------------------------------------


def _visible_lines() -> Any:
    return (JournalEntry.case_id == Case.id) & (JournalEntry.visibility == "customer")


# The major case of a child: its customer-facing title names the child too.
_parent = aliased(Case)

# What the customer is told a case is: a reactive case shows what the customer typed (theirs),
# unless a person worded it; a case we opened (proactive, major, child) only its customer-facing
# title (or its major case's), never its internal short description.
_PORTAL_TITLE = sql_case(
    (Case.kind == "reactive", func.coalesce(Case.public_title, Case.short_description)),
    else_=func.coalesce(Case.public_title, _parent.public_title, literal(GENERIC_TITLE)),
)


def _case_query() -> Any:
    updates = select(func.count()).select_from(JournalEntry).where(_visible_lines()).scalar_subquery()
    return select(
        Case.id,
        Case.kind,
        Case.state,
        Case.priority,
        _PORTAL_TITLE.label("short_description"),
        Case.public_summary,
        _parent.public_summary.label("parent_summary"),
        Case.opened_at,
        Case.updated_at,
        updates.label("updates"),
    ).outerjoin(_parent, _parent.id == Case.parent_id)


def _portal_case(row: Any) -> PortalCase:
    return PortalCase(
        id=row.id,
        number=case_number(row.id),
        kind=row.kind,
        state=row.state,
        priority_name=PRIORITY_NAMES.get(row.priority, str(row.priority)),
        short_description=row.short_description,
        opened_at=row.opened_at,
        updated_at=row.updated_at,
        updates=row.updates or 0,
    )


async def list_cases(
    domain: Domain,
    actor: Actor,
    *,
    account: str | None = None,
    active: bool | None = None,
    limit: int = DEFAULT_LIMIT,
    offset: int = 0,
) -> list[PortalCase]:
    """The account's own cases: active ones first, most recently updated first."""
    _check_role(actor)
    _check_limit(limit)
    if offset < 0:
        raise InvalidInput("offset must not be negative")
    async with domain.reading() as session:
        account_id, _ = await _scope(session, actor, account)
        query = _case_query().where(Case.account_id == account_id)
        if active is not None:
            query = query.where(Case.state.in_(ACTIVE) if active else Case.state.not_in(ACTIVE))
        query = query.order_by(sql_case((Case.state.in_(ACTIVE), 0), else_=1), Case.updated_at.desc(), Case.id.desc())
        return [_portal_case(r) for r in await session.execute(query.limit(limit).offset(offset))]


async def get_case(
    domain: Domain, actor: Actor, case_id: int, *, account: str | None = None, updates_limit: int = UPDATES_LIMIT
) -> PortalCaseDetail:
    """One of the account's cases with its customer-visible lines and workaround articles; a
    case of another account answers "no case CS…" like a missing one."""
    _check_role(actor)
    _check_limit(updates_limit, "updates_limit")
    async with domain.reading() as session:
        account_id, _ = await _scope(session, actor, account)
        row = (
            await session.execute(
                _case_query()
                .add_columns(
                    Case.description,
                    Case.parent_id,
                    Case.resolution_notes,
                    Case.resolved_at,
                    Case.closed_at,
                    Contact.name.label("contact_name"),
                    func.coalesce(Product.public_name, Product.name).label("product_name"),
                )
                .outerjoin(Contact, (Contact.id == Case.contact_id) & (Contact.account_id == account_id))
                .outerjoin(Product, (Product.id == Case.product_id) & Product.customer_facing.is_(True))
                .where(Case.id == case_id, Case.account_id == account_id)
            )
        ).first()
        if row is None:
            raise NotFound(f"no case {case_number(case_id)}")
        lines = list(
            await session.scalars(
                select(JournalEntry)
                .where(JournalEntry.case_id == case_id, JournalEntry.visibility == "customer")
                .order_by(JournalEntry.id.desc())
                .limit(updates_limit)
            )
        )
        major = row.parent_id if row.parent_id is not None else (row.id if row.kind == "major" else None)
        articles: list[PortalArticle] = []
        if major is not None:
            outage_numbers = {
                outage_number(o)
                for o in await session.scalars(
                    select(Outage.id)
                    .outerjoin(_linked, _linked.id == Outage.case_id)
                    .where(_outage_major() == major, outages_affecting_account(account_id))
                )
            }
            articles = (await _articles_of(session, {major: outage_numbers})).get(major, [])
    return PortalCaseDetail(
        case=_portal_case(row),
        description=(
            row.description if row.kind == "reactive" else (row.public_summary or row.parent_summary or "")
        ),
        contact_name=row.contact_name,
        product_name=row.product_name,
        resolution_notes=row.resolution_notes,
        resolved_at=row.resolved_at,
        closed_at=row.closed_at,
        updates=tuple(_update(e) for e in reversed(lines)),
        updates_total=row.updates or 0,
        articles=tuple(articles),
        open_for_replies=row.state not in (CaseState.CLOSED, CaseState.CANCELED),
    )


def _update(e: JournalEntry) -> PortalUpdate:
    return PortalUpdate(
        id=e.id,
        at=e.created_at,
        author_name=e.author_name,
        kind=e.kind,
        label=journal_label(e.kind, e.visibility).split(" · ")[0],
        body=normalise_layout(e.body),
    )


# --- articles -------------------------------------------------------------------------------


async def list_articles(domain: Domain, actor: Actor, *, account: str | None = None) -> list[PortalArticle]:
    """Customer-visible articles for the account's outages and for the major cases of its own
    cases, each listed once with the numbers of the account's outages it is for."""
    _check_role(actor)
    async with domain.reading() as session:
        account_id, _ = await _scope(session, actor, account)
        majors: dict[int, set[str]] = {}
        for outage_id, major in await session.execute(
            select(Outage.id, _outage_major())
            .outerjoin(_linked, _linked.id == Outage.case_id)
            .where(Outage.case_id.is_not(None), outages_affecting_account(account_id))
        ):
            majors.setdefault(major, set()).add(outage_number(outage_id))
        own = aliased(Case)
        for (major,) in await session.execute(
            select(func.coalesce(own.parent_id, own.id)).where(
                own.account_id == account_id, or_(own.parent_id.is_not(None), own.kind == "major")
            )
        ):
            majors.setdefault(major, set())
        per_case = await _articles_of(session, majors)
    seen: dict[int, PortalArticle] = {}
    for found in per_case.values():
        for article in found:
            seen.setdefault(article.id, article)
    return sorted(seen.values(), key=lambda a: (-a.updated_at.timestamp(), a.number))


async def get_article(domain: Domain, actor: Actor, number: str, *, account: str | None = None) -> PortalArticle:
    """One of the account's articles by number; any other answers "no article numbered …"."""
    for article in await list_articles(domain, actor, account=account):
        if article.number == number:
            return article
    raise NotFound(f"no article numbered {number!r}")


# --- the one command ------------------------------------------------------------------------


async def reply_to_case(domain: Domain, actor: Actor, case_id: int, body: str) -> PortalUpdate:
    """The customer replies on their own case: a customer-visible ``reply`` line on its journal
    (agents and managers read it there); on a child case the reply is also recorded on the
    parent major case, so it shows on the major case's timeline. Staff previews are read-only:
    staff do not hold ``COMMENT_OWN_CASE``."""
    require(actor, Permission.COMMENT_OWN_CASE)
    text = clean_text(body, "the reply", limit=MAX_REPLY)
    async with domain.transaction(actor) as tx:
        session = tx.session
        case = (
            await session.execute(
                select(Case).where(Case.id == case_id, Case.account_id == actor.account_id).with_for_update()
            )
        ).scalar_one_or_none()
        if case is None:
            raise NotFound(f"no case {case_number(case_id)}")
        number = case_number(case.id)
        if case.state in (CaseState.CLOSED, CaseState.CANCELED):
            raise IllegalTransition(f"{number} is {case.state} and takes no more replies")
        entry = JournalEntry(
            case_id=case.id,
            kind="reply",
            visibility="customer",
            body=text,
            author_id=actor.user_id,
            author_name=actor.name,
            created_at=tx.now,
        )
        session.add(entry)
        case.updated_at = tx.now
        # The answer we were waiting for: the case is back with the support team.
        reopened = case.state == CaseState.AWAITING_INFO
        if reopened:
            check_case(number, case.state, CaseState.OPEN)
            case.state = CaseState.OPEN.value
        await session.flush()
        account_number = await session.scalar(select(Account.number).where(Account.id == case.account_id))
        reply = CaseNoted(
            number=number,
            entry_id=entry.id,
            line_kind="reply",
            visibility="customer",
            children=0,
            account=account_number,
        )
        tx.record(case.id, reply)
        if reopened:
            tx.record(
                case.id,
                CaseStateChanged(
                    number=number, from_=CaseState.AWAITING_INFO.value, to=CaseState.OPEN.value, by="customer reply"
                ),
            )
        if case.parent_id is not None:
            tx.record(
                case.parent_id,
                replace(reply, number=case_number(case.parent_id), from_case_id=case.id, from_case=number),
            )
        return _update(entry)
