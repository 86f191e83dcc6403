"""Knowledge and workaround articles, and attaching them to major cases.

An article attached to a major case travels with it: it is part of every notice rendered
after it was attached, of the status page entry of the case's outage, and of the portal.
Only ``customer_visible`` articles ever leave the building; customers see only those, and
only for cases of their own account.
"""

from __future__ import annotations

import uuid
from typing import Any, cast

from sqlalchemy import CursorResult, delete, insert, or_, select

from pcso_tui.domain.communications.views import ArticleView, article_number
from pcso_tui.domain.core.errors import Conflict, InvalidInput, NotFound
from pcso_tui.domain.core.event_kinds import ArticleAttached, ArticleCreated, ArticleDetached, ArticleUpdated
from pcso_tui.domain.core.events import Transaction
from pcso_tui.domain.core.models import Article, Case, CaseAccount, CaseArticle
from pcso_tui.domain.core.roles import Actor, Permission, Role, require
from pcso_tui.domain.core.service import Domain
from pcso_tui.domain.core.versions import check_version
from pcso_tui.domain.core.views import case_number

ARTICLE_KINDS = ("workaround", "knowledge")
TITLE_MAX = 500
NUMBER_MAX = 40


def _check_kind(kind: str) -> str:
    if kind not in ARTICLE_KINDS:
        raise InvalidInput(f"unknown article kind {kind!r}; kinds: {', '.join(ARTICLE_KINDS)}")
    return kind


def _check_title(title: str) -> str:
    title = (title or "").strip()
    if not title:
        raise InvalidInput("an article needs a title")
    if len(title) > TITLE_MAX:
        raise InvalidInput(f"the title is {len(title)} characters long; at most {TITLE_MAX}")
    return title


def _check_body(body: str) -> str:
    if not (body or "").strip():
        raise InvalidInput("an article needs a body")
    return body


async def _article_by_number(tx: Transaction, number: str) -> Article:
    article = await tx.session.scalar(select(Article).where(Article.number == number))
    if article is None:
        raise NotFound(f"no article numbered {number!r}")
    return article


async def _major_case(tx: Transaction, case_id: int) -> Case:
    case = await tx.session.get(Case, case_id)
    if case is None:
        raise NotFound(f"no case {case_number(case_id)}")
    if case.kind != "major":
        raise InvalidInput(f"{case_number(case_id)} is a {case.kind} case; articles attach to major cases")
    return case


async def create_article(
    domain: Domain,
    actor: Actor,
    *,
    title: str,
    body: str,
    number: str | None = None,
    kind: str = "workaround",
    customer_visible: bool = True,
) -> ArticleView:
    """A new article; numbered ``KB0000042`` from its id unless a number is given."""
    require(actor, Permission.MANAGE_ARTICLES)
    title = _check_title(title)
    body = _check_body(body)
    kind = _check_kind(kind)
    if number is not None:
        number = number.strip()
        if not number or len(number) > NUMBER_MAX:
            raise InvalidInput(f"an article number has 1 to {NUMBER_MAX} characters")
    async with domain.transaction(actor) as tx:
        if number is not None and await tx.session.scalar(select(Article.id).where(Article.number == number)):
            raise Conflict(f"article {number!r} already exists")
        article = Article(
            number=number or f"new-{uuid.uuid4().hex[:24]}",
            title=title,
            body=body,
            kind=kind,
            customer_visible=customer_visible,
            created_at=tx.now,
            updated_at=tx.now,
        )
        tx.session.add(article)
        await tx.session.flush()
        if number is None:
            article.number = article_number(article.id)
            await tx.session.flush()
        tx.record(article.id, ArticleCreated(number=article.number, title=title, customer_visible=customer_visible))
        article_id = article.id
    return (await _views(domain, [Article.id == article_id]))[0]


async def update_article(
    domain: Domain,
    actor: Actor,
    number: str,
    *,
    title: str | None = None,
    body: str | None = None,
    kind: str | None = None,
    customer_visible: bool | None = None,
    expected_version: int | None = None,
) -> ArticleView:
    require(actor, Permission.MANAGE_ARTICLES)
    changes: dict[str, Any] = {}
    if title is not None:
        changes["title"] = _check_title(title)
    if body is not None:
        changes["body"] = _check_body(body)
    if kind is not None:
        changes["kind"] = _check_kind(kind)
    if customer_visible is not None:
        changes["customer_visible"] = customer_visible
    async with domain.transaction(actor) as tx:
        article = await _article_by_number(tx, number)
        await check_version(tx.session, "article", article.id, f"article {number}", article.version, expected_version)
        changes = {k: v for k, v in changes.items() if getattr(article, k) != v}
        if not changes:
            raise InvalidInput(f"nothing to change on article {number!r}")
        for name, value in changes.items():
            setattr(article, name, value)
        article.updated_at = tx.now
        await tx.session.flush()
        tx.record(article.id, ArticleUpdated(number=number, changed=sorted(changes)))
        article_id = article.id
    return (await _views(domain, [Article.id == article_id]))[0]


async def attach_article(domain: Domain, actor: Actor, case_id: int, number: str) -> ArticleView:
    """Attach an article to a major case (its notices and status page entry carry it)."""
    require(actor, Permission.MANAGE_ARTICLES)
    async with domain.transaction(actor) as tx:
        await _major_case(tx, case_id)
        article = await _article_by_number(tx, number)
        attached = await tx.session.scalar(
            select(CaseArticle.case_id).where(CaseArticle.case_id == case_id, CaseArticle.article_id == article.id)
        )
        if attached is not None:
            raise Conflict(f"article {number!r} is already attached to {case_number(case_id)}")
        await tx.session.execute(insert(CaseArticle).values(case_id=case_id, article_id=article.id))
        tx.record(case_id, ArticleAttached(article=number, title=article.title))
        article_id = article.id
    return (await _views(domain, [Article.id == article_id]))[0]


async def detach_article(domain: Domain, actor: Actor, case_id: int, number: str) -> ArticleView:
    require(actor, Permission.MANAGE_ARTICLES)
    async with domain.transaction(actor) as tx:
        await _major_case(tx, case_id)
        article = await _article_by_number(tx, number)
        result = await tx.session.execute(
            delete(CaseArticle).where(CaseArticle.case_id == case_id, CaseArticle.article_id == article.id)
        )
        if not cast("CursorResult[Any]", result).rowcount:  # a DELETE's result: its stubs say Result
            raise NotFound(f"article {number!r} is not attached to {case_number(case_id)}")
        tx.record(case_id, ArticleDetached(article=number))
        article_id = article.id
    return (await _views(domain, [Article.id == article_id]))[0]


async def _views(domain: Domain, where: list[Any], *, cases_visible_to: int | None = None) -> list[ArticleView]:
    async with domain.reading() as session:
        articles = (await session.scalars(select(Article).where(*where).order_by(Article.number))).all()
        ids = [a.id for a in articles]
        attached: dict[int, list[str]] = {}
        if ids:
            links = select(CaseArticle.article_id, CaseArticle.case_id).where(CaseArticle.article_id.in_(ids))
            if cases_visible_to is not None:
                links = links.where(CaseArticle.case_id.in_(_cases_of_account(cases_visible_to)))
            for article_id, case_id in await session.execute(links.order_by(CaseArticle.case_id)):
                attached.setdefault(article_id, []).append(case_number(case_id))
        return [
            ArticleView(
                id=a.id,
                number=a.number,
                title=a.title,
                body=a.body,
                kind=a.kind,
                customer_visible=a.customer_visible,
                created_at=a.created_at,
                updated_at=a.updated_at,
                case_numbers=tuple(attached.get(a.id, ())),
                version=a.version,
            )
            for a in articles
        ]


def _cases_of_account(account_id: int) -> Any:
    """Major cases that concern an account: parents of its cases, and those listing it."""
    return (
        select(Case.id)
        .where(
            or_(
                Case.id.in_(select(Case.parent_id).where(Case.account_id == account_id)),
                Case.id.in_(select(CaseAccount.case_id).where(CaseAccount.account_id == account_id)),
                Case.account_id == account_id,
            )
        )
        .scalar_subquery()
    )


async def list_articles(domain: Domain, actor: Actor, *, case_id: int | None = None) -> list[ArticleView]:
    """Articles (of one case, if given). Customers see only customer-visible articles attached
    to major cases that concern their own account; for one of their cases, its major case's."""
    customer = actor.role is Role.CUSTOMER
    require(actor, Permission.VIEW_OWN_ACCOUNT if customer else Permission.VIEW_CASES)
    where: list[Any] = []
    if case_id is not None:
        async with domain.reading() as session:
            found = await session.execute(
                select(Case.id, Case.kind, Case.parent_id, Case.account_id).where(Case.id == case_id)
            )
            row = found.first()
        if row is None or (customer and row.account_id != actor.account_id):
            # Another account's case answers exactly like a missing one.
            raise NotFound(f"no case {case_number(case_id)}")
        major = row.parent_id if row.kind == "child" and row.parent_id is not None else row.id
        where.append(Article.id.in_(select(CaseArticle.article_id).where(CaseArticle.case_id == major)))
    if customer:
        assert actor.account_id is not None
        where.append(Article.customer_visible.is_(True))
        where.append(
            Article.id.in_(
                select(CaseArticle.article_id).where(CaseArticle.case_id.in_(_cases_of_account(actor.account_id)))
            )
        )
    return await _views(domain, where, cases_visible_to=actor.account_id if customer else None)
