"""Self-service knowledge: full-text search of published articles, and counted reads."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import insert, select

from pcso_tui.domain.communications.articles import (
    QUERY_MAX,
    create_article,
    list_articles,
    marked_spans,
    open_article,
    search_articles,
    search_terms,
    update_article,
)
from pcso_tui.domain.communications.views import TextSpan
from pcso_tui.domain.core.errors import NotFound
from pcso_tui.domain.core.models import Account, ArticleViews, Event, InstallBaseItem, Product
from pcso_tui.domain.core.roles import SYSTEM, Actor, Role
from pcso_tui.domain.core.service import Domain

SECRET = "SECRET-RUNBOOK-9c1"


async def make_library(domain: Domain, manager: Actor) -> None:
    """General articles, one about a product ACC-T1 has, one about a product it has not, and an
    internal one; ACC-T1 is the ``actors`` customer's account."""
    async with domain.transaction(SYSTEM) as tx:
        await tx.session.execute(
            insert(Product), [{"number": "PRD-VPN", "name": "VPN"}, {"number": "PRD-FAX", "name": "Fax"}]
        )
        account_id = await tx.session.scalar(select(Account.id).where(Account.number == "ACC-T1"))
        vpn = await tx.session.scalar(select(Product.id).where(Product.number == "PRD-VPN"))
        await tx.session.execute(insert(InstallBaseItem).values(number="IB-1", account_id=account_id, product_id=vpn))
    await create_article(
        domain,
        manager,
        number="KB-PASSWORD",
        kind="knowledge",
        title="Resetting your password",
        body="Open the sign-in page and choose 'forgot password'. A reset link arrives by mail.",
    )
    await create_article(
        domain,
        manager,
        number="KB-PRINTER",
        kind="knowledge",
        title="Printing invoices",
        body="Invoices print from the billing page. If the password prompt appears, sign in again.",
    )
    await create_article(
        domain,
        manager,
        number="KB-VPN",
        title="VPN connection drops",
        body="Reconnecting the client restores the tunnel; the password is not needed again.",
        product_number="PRD-VPN",
    )
    await create_article(
        domain, manager, number="KB-FAX", title="Fax password", body="Fax password help.", product_number="PRD-FAX"
    )
    await create_article(
        domain,
        manager,
        number="KB-INTERNAL",
        title=f"Password vault {SECRET}",
        body=f"password rotation {SECRET}",
        customer_visible=False,
    )


def numbers(found: object) -> list[str]:
    return [h.number for h in found.hits]  # type: ignore[attr-defined]


async def test_search_ranks_titles_first_and_scopes_by_reader(domain: Domain, actors: dict[Role, Actor]) -> None:
    await make_library(domain, actors[Role.MANAGER])
    customer = actors[Role.CUSTOMER]
    found = await search_articles(domain, customer, "password")
    # A title match outranks a body match; another product's and internal articles never show.
    assert numbers(found)[0] == "KB-PASSWORD"
    assert set(numbers(found)) == {"KB-PASSWORD", "KB-PRINTER", "KB-VPN"}
    assert set(numbers(await search_articles(domain, None, "password"))) == {"KB-PASSWORD", "KB-PRINTER"}
    staff = set(numbers(await search_articles(domain, actors[Role.AGENT], "password")))
    assert staff == {"KB-PASSWORD", "KB-PRINTER", "KB-VPN", "KB-FAX", "KB-INTERNAL"}
    vpn = (await search_articles(domain, customer, "vpn")).hits[0]
    assert (vpn.number, vpn.product) == ("KB-VPN", "VPN")


async def test_hits_mark_matched_words_as_spans(domain: Domain, actors: dict[Role, Actor]) -> None:
    await make_library(domain, actors[Role.MANAGER])
    (hit,) = (await search_articles(domain, None, "resetting")).hits
    assert hit.title == "Resetting your password"
    assert TextSpan("Resetting", True) in hit.title_spans
    # Stemmed: "reset" in the body matches "resetting" in the query.
    assert any(s.highlighted and s.text.lower() == "reset" for s in hit.snippet)
    assert "".join(s.text for s in hit.snippet).strip().startswith("Open the sign-in page")


async def test_an_edited_article_is_found_by_its_new_words(domain: Domain, actors: dict[Role, Actor]) -> None:
    await make_library(domain, actors[Role.MANAGER])
    await update_article(domain, actors[Role.MANAGER], "KB-PRINTER", title="Printing receipts")
    assert numbers(await search_articles(domain, None, "receipts")) == ["KB-PRINTER"]
    assert numbers(await search_articles(domain, None, "invoices printing")) == ["KB-PRINTER"]  # body still says it


HOSTILE = [
    '"',
    '" OR 1=1 --',
    "password NEAR(secret runbook)",
    "NEAR",
    "*",
    "pass*",
    "title:secret",
    "body : password AND OR NOT",
    "'); DROP TABLE article; --",
    "!!! && || ()",
    "\x00\x1b[2J password",
    "password " * 5000,
    "",
    "   ",
    "or or or",
    "\ue000password\ue001",
]


@pytest.mark.parametrize("query", HOSTILE)
async def test_hostile_queries_are_plain_word_searches(domain: Domain, actors: dict[Role, Actor], query: str) -> None:
    await make_library(domain, actors[Role.MANAGER])
    found = await search_articles(domain, actors[Role.CUSTOMER], query)
    assert len(found.terms) <= 12
    assert SECRET not in repr(found) and "KB-INTERNAL" not in numbers(found)
    assert set(numbers(found)) <= {"KB-PASSWORD", "KB-PRINTER", "KB-VPN"}
    async with domain.reading() as session:  # the table is still there and whole
        assert len((await session.scalars(select(Product.id))).all()) == 2


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(query=st.text(max_size=300))
async def test_any_query_answers(domain: Domain, query: str) -> None:
    found = await search_articles(domain, None, query)
    assert found.hits == () and len(found.terms) <= 12


def test_terms_are_bounded_words() -> None:
    assert search_terms('say "NEAR" *now* col:x') == ("say", "near", "now", "col", "x")
    assert search_terms("x" * (QUERY_MAX * 2)) == ("x" * 64,)
    assert marked_spans("a \ue000b\ue001 c\ue001\ue000") == (TextSpan("a "), TextSpan("b", True), TextSpan(" c"))


async def test_a_customer_read_is_counted(domain: Domain, actors: dict[Role, Actor]) -> None:
    await make_library(domain, actors[Role.MANAGER])
    customer = actors[Role.CUSTOMER]
    article = await open_article(domain, customer, "KB-VPN")
    await open_article(domain, customer, "KB-VPN")
    await open_article(domain, actors[Role.AGENT], "KB-VPN")  # staff reads are not self-service
    assert article.title == "VPN connection drops"
    (view,) = [a for a in await list_articles(domain, actors[Role.AGENT]) if a.number == "KB-VPN"]
    assert view.views == 2 and view.product_number == "PRD-VPN"
    async with domain.reading() as session:
        kinds = (await session.scalars(select(Event.kind).where(Event.kind == "article.viewed"))).all()
    assert len(kinds) == 2


@pytest.mark.parametrize("number", ["KB-FAX", "KB-INTERNAL", "KB-NONE"])
async def test_a_customer_cannot_open_what_they_cannot_find(
    domain: Domain, actors: dict[Role, Actor], number: str
) -> None:
    await make_library(domain, actors[Role.MANAGER])
    async with domain.reading() as session:
        events = len((await session.scalars(select(Event.id))).all())
    with pytest.raises(NotFound, match=f"no article numbered '{number}'"):
        await open_article(domain, actors[Role.CUSTOMER], number)
    async with domain.reading() as session:
        assert len((await session.scalars(select(Event.id))).all()) == events
        assert (await session.scalars(select(ArticleViews.article_id))).all() == []
