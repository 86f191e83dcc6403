"""Knowledge and workaround articles: attaching them to major cases, searching and reading them.

An article attached to a major case travels with it: it is part of every notice rendered
after it was attached, of the status page entry of the case's outage, and of the portal.
Only ``customer_visible`` (published) articles ever leave the building.

Self-service: ``search_articles`` finds published articles by full text (SQLite FTS5,
PostgreSQL tsvector), best first, with the matched words as spans. A customer finds the
general articles (about no product and attached to no case), those about a product their
account has, and those attached to their major cases; the public (no one signed in) finds
the general ones; staff find every article. ``open_article`` hands one over and counts a
customer's read.
"""

from __future__ import annotations

import re
import uuid
from typing import Any, cast

from sqlalchemy import CursorResult, and_, column, delete, func, insert, literal, literal_column, or_, select, table
from sqlalchemy.dialects import postgresql, sqlite

from pcso_tui.domain.communications.views import (
    ArticleHit,
    ArticleSearch,
    ArticleView,
    PublicArticle,
    TextSpan,
    article_number,
)
from pcso_tui.domain.core.errors import Conflict, InvalidInput, NotFound
from pcso_tui.domain.core.event_kinds import (
    ArticleAttached,
    ArticleCreated,
    ArticleDetached,
    ArticleUpdated,
    ArticleViewed,
)
from pcso_tui.domain.core.events import Transaction
from pcso_tui.domain.core.models import (
    Article,
    ArticleViews,
    Case,
    CaseAccount,
    CaseArticle,
    InstallBaseItem,
    Product,
)
from pcso_tui.domain.core.roles import Actor, Permission, Role, require
from pcso_tui.domain.core.service import Domain
from pcso_tui.domain.core.text import customer_line, customer_text, normalise_layout, printable
from pcso_tui.domain.core.versions import check_version
from pcso_tui.domain.core.views import case_number

ARTICLE_KINDS = ("workaround", "knowledge")
TITLE_MAX = 500
NUMBER_MAX = 40


def _check_kind(kind: str) -> str:
    if kind not in ARTICLE_KINDS:
        raise InvalidInput(f"unknown article kind {kind!r}; kinds: {', '.join(ARTICLE_KINDS)}")
    return kind


# What the search marks matched words with (private-use characters, never kept in an article).
MARK_START, MARK_END = "\ue000", "\ue001"
_MARKS = re.compile(f"[{MARK_START}{MARK_END}]")


def _check_title(title: str) -> str:
    title = _MARKS.sub("", title or "").strip()
    if not title:
        raise InvalidInput("an article needs a title")
    if len(title) > TITLE_MAX:
        raise InvalidInput(f"the title is {len(title)} characters long; at most {TITLE_MAX}")
    return title


def _check_body(body: str) -> str:
    body = _MARKS.sub("", body or "")
    if not body.strip():
        raise InvalidInput("an article needs a body")
    return body


async def _product_id(tx: Transaction, number: str | None) -> int | None:
    """The product an article is about, by number; "" or None: a general article."""
    if not (number or "").strip():
        return None
    product_id = await tx.session.scalar(select(Product.id).where(Product.number == (number or "").strip()))
    if product_id is None:
        raise NotFound(f"no product {number!r}")
    return product_id


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
    product_number: str | None = None,
    attach_to: int | None = None,
) -> ArticleView:
    """A new article; numbered ``KB0000042`` from its id unless a number is given; about the
    product ``product_number`` (for the customers who have it) or general. ``attach_to``: the
    major case it is attached to in the same transaction (written from the case: both or
    neither)."""
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
        if attach_to is not None:
            await _major_case(tx, attach_to)
        product_id = await _product_id(tx, product_number)
        article = Article(
            number=number or f"new-{uuid.uuid4().hex[:24]}",
            title=title,
            body=body,
            kind=kind,
            customer_visible=customer_visible,
            product_id=product_id,
            created_at=tx.now,
            updated_at=tx.now,
        )
        tx.session.add(article)
        await tx.session.flush()
        if number is None:
            article.number = article_number(article.id)
            await tx.session.flush()
        tx.record(article.id, ArticleCreated(number=article.number, title=title, customer_visible=customer_visible))
        if attach_to is not None:
            await tx.session.execute(insert(CaseArticle).values(case_id=attach_to, article_id=article.id))
            tx.record(attach_to, ArticleAttached(article=article.number, title=title))
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
    product_number: str | None = None,
    expected_version: int | None = None,
) -> ArticleView:
    """Change an article; ``product_number=""`` makes it a general article."""
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
        if product_number is not None:
            changes["product_id"] = await _product_id(tx, product_number)
        changes = {k: v for k, v in changes.items() if getattr(article, k) != v}
        if not changes:
            raise InvalidInput(f"nothing to change on article {number!r}")
        for name, value in changes.items():
            setattr(article, name, value)
        article.updated_at = tx.now
        await tx.session.flush()
        changed = sorted("product" if name == "product_id" else name for name in changes)
        tx.record(article.id, ArticleUpdated(number=number, changed=changed))
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
        found = (
            await session.execute(
                select(Article, Product.number, func.coalesce(ArticleViews.views, 0))
                .outerjoin(Product, Product.id == Article.product_id)
                .outerjoin(ArticleViews, ArticleViews.article_id == Article.id)
                .where(*where)
                .order_by(Article.number)
            )
        ).all()
        articles = [a for a, _, _ in found]
        products = {a.id: product for a, product, _ in found}
        views = {a.id: n for a, _, n in found}
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
                product_number=products[a.id],
                views=views[a.id],
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


# --- self-service: search and read ----------------------------------------------------------

# A query is cut to this many characters and words before it reaches the database.
QUERY_MAX = 1000
TERMS_MAX = 12
TERM_MAX = 64
RESULTS_MAX = 50
SNIPPET_WORDS = 24
_WORD = re.compile(r"\w+")
# FTS5's own table name doubles as the column its MATCH operator and ranking functions take.
_FTS = table("article_fts", column("rowid"))
_FTS_SELF: Any = literal_column("article_fts")
_PG_CONFIG: Any = literal_column("'english'")


def search_terms(query: str | None) -> tuple[str, ...]:
    """The words of a query, lower case, at most ``TERMS_MAX`` of them: nothing of a search
    engine's syntax (quotes, operators, ``NEAR``, ``*``, columns) survives, so every input is a
    plain word search."""
    terms: list[str] = []
    for word in _WORD.findall((query or "")[:QUERY_MAX]):
        word = word[:TERM_MAX].casefold()
        if word not in terms:
            terms.append(word)
    return tuple(terms[:TERMS_MAX])


def marked_spans(marked: str | None) -> tuple[TextSpan, ...]:
    """Text the database marked with ``MARK_START``/``MARK_END`` as spans, laid out for customers
    on one line; an unmatched mark is dropped."""
    spans: list[TextSpan] = []
    highlighted = False
    for piece in re.split(f"([{MARK_START}{MARK_END}])", marked or ""):
        if piece in (MARK_START, MARK_END):
            highlighted = piece == MARK_START
            continue
        text = printable(normalise_layout(piece).replace("\n", " "))
        if not text:
            continue
        if spans and spans[-1].highlighted == highlighted:
            spans[-1] = TextSpan(spans[-1].text + text, highlighted)
        else:
            spans.append(TextSpan(text, highlighted))
    return tuple(spans)


def _search_scope(actor: Actor | None) -> list[Any]:
    """Which articles ``actor`` may find (see the module's docstring)."""
    if actor is not None and actor.role is not Role.CUSTOMER:
        require(actor, Permission.VIEW_CASES)
        return []
    published = Article.customer_visible.is_(True)
    # General: about no product and attached to no case. An article attached to a major case
    # belongs to that case's accounts (it would tell others about their outage).
    general = and_(Article.product_id.is_(None), Article.id.not_in(select(CaseArticle.article_id)))
    if actor is None:
        return [published, general]
    require(actor, Permission.VIEW_OWN_ACCOUNT)
    assert actor.account_id is not None
    owned = select(InstallBaseItem.product_id).where(
        InstallBaseItem.account_id == actor.account_id, InstallBaseItem.product_id.is_not(None)
    )
    attached = select(CaseArticle.article_id).where(CaseArticle.case_id.in_(_cases_of_account(actor.account_id)))
    return [
        published,
        or_(general, Article.product_id.in_(owned), Article.id.in_(attached)),
    ]


async def search_articles(domain: Domain, actor: Actor | None, query: str, *, limit: int = 10) -> ArticleSearch:
    """Articles ``actor`` may read (``None``: the public) that hold any word of ``query``, best
    first (title words weigh more), each with its title and a snippet of its body as spans
    marking the matched words. Any query is fine: it is reduced to plain words
    (``search_terms``); nothing left finds nothing."""
    where = _search_scope(actor)
    terms = search_terms(query)
    if not terms:
        return ArticleSearch(terms=(), hits=())
    limit = max(1, min(limit, RESULTS_MAX))
    columns = (Article.number, Article.kind, Product.name, Product.public_name, Product.customer_facing)
    if domain.db.is_postgresql:
        # websearch_to_tsquery never fails on its input; the words arrive as one bound value.
        tsquery = func.websearch_to_tsquery(_PG_CONFIG, " or ".join(t for t in terms if t != "or"))
        search: Any = literal_column("article.search")
        marks = f"StartSel={MARK_START}, StopSel={MARK_END}"
        statement = (
            select(
                *columns,
                func.ts_headline(_PG_CONFIG, Article.title, tsquery, literal(f"{marks}, HighlightAll=true")),
                func.ts_headline(
                    _PG_CONFIG,
                    Article.body,
                    tsquery,
                    literal(f'{marks}, MaxWords={SNIPPET_WORDS}, MinWords=8, MaxFragments=2, FragmentDelimiter=" … "'),
                ),
            )
            .where(search.op("@@")(tsquery), *where)
            .order_by(func.ts_rank_cd(search, tsquery).desc(), Article.number)
        )
    else:
        # Each word a quoted FTS5 string: the engine reads it as text, never as syntax.
        match = " OR ".join(f'"{t}"' for t in terms)
        statement = (
            select(
                *columns,
                func.highlight(_FTS_SELF, 0, MARK_START, MARK_END),
                func.snippet(_FTS_SELF, 1, MARK_START, MARK_END, "…", SNIPPET_WORDS),
            )
            .select_from(_FTS)
            .join(Article, Article.id == _FTS.c.rowid)
            .where(_FTS_SELF.op("MATCH")(match), *where)
            .order_by(func.bm25(_FTS_SELF, 10.0, 1.0), Article.number)
        )
    statement = statement.outerjoin(Product, Product.id == Article.product_id).limit(limit)
    async with domain.reading() as session:
        rows = (await session.execute(statement)).all()
    hits = []
    for number, kind, product, product_public, product_facing, title, snippet in rows:
        title_spans = marked_spans(title)
        hits.append(
            ArticleHit(
                number=number,
                title="".join(s.text for s in title_spans),
                kind=kind,
                product=(product_public or product) if product and product_facing else None,
                title_spans=title_spans,
                snippet=marked_spans(snippet),
            )
        )
    return ArticleSearch(terms=terms, hits=tuple(hits))


async def open_article(domain: Domain, actor: Actor, number: str) -> PublicArticle:
    """Article ``number`` for reading. A customer reads only what ``search_articles`` finds for
    them (anything else answers like a missing article), and each read is counted."""
    where = [Article.number == (number or "").strip(), *_search_scope(actor)]
    if actor.role is not Role.CUSTOMER:
        async with domain.reading() as session:
            row = (await session.execute(select(Article.number, Article.title, Article.body).where(*where))).first()
        if row is None:
            raise NotFound(f"no article numbered {number!r}")
        return PublicArticle(number=row.number, title=row.title, body=row.body)
    async with domain.transaction(actor) as tx:
        found = (
            await tx.session.execute(select(Article.id, Article.number, Article.title, Article.body).where(*where))
        ).first()
        if found is None:
            raise NotFound(f"no article numbered {number!r}")
        module = postgresql if tx.dialect == "postgresql" else sqlite
        counted = module.insert(ArticleViews).values(article_id=found.id, views=1, last_viewed_at=tx.now)
        await tx.session.execute(
            counted.on_conflict_do_update(
                index_elements=[ArticleViews.article_id],
                set_={"views": ArticleViews.views + 1, "last_viewed_at": tx.now},
            )
        )
        tx.record(found.id, ArticleViewed(number=found.number))
    return PublicArticle(number=found.number, title=customer_line(found.title), body=customer_text(found.body))
