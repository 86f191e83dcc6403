"""The public endpoints over real HTTP on loopback: banners, phone-queue text, knowledge search."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import insert

from pcso_tui.domain.communications.articles import create_article
from pcso_tui.domain.core.models import Statement
from pcso_tui.domain.core.roles import SYSTEM
from pcso_tui.domain.core.service import Domain
from pcso_tui.web.public import add_public_routes
from tests.domain.notice_world import INTERNAL_ARTICLE, STATEMENT, WORK_NOTE
from tests.domain.public_world import HOST, MARKER, make_public_world

HOSTILE_TITLE = '<script>alert("x")</script> & <b>bold</b>'


@pytest.fixture
async def http(domain: Domain) -> AsyncIterator[aiohttp.ClientSession]:
    app = web.Application()
    add_public_routes(app, domain)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    async with aiohttp.ClientSession(base_url=f"http://{host}:{port}") as session:
        yield session
    await runner.cleanup()


def assert_public_headers(response: aiohttp.ClientResponse) -> None:
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert response.headers["Access-Control-Allow-Methods"] == "GET"
    assert response.headers["Cache-Control"] == "public, max-age=30"
    assert response.headers["ETag"].startswith('"')


def assert_nothing_internal(text: str) -> None:
    for internal in (MARKER, HOST, WORK_NOTE, INTERNAL_ARTICLE, "INC"):
        assert internal not in text


async def test_banner_json_of_an_affected_service(domain: Domain, http: aiohttp.ClientSession) -> None:
    world = await make_public_world(domain)
    async with http.get("/banner/online-banking.json") as response:
        assert response.status == 200 and response.content_type == "application/json"
        assert_public_headers(response)
        text = await response.text()
    assert_nothing_internal(text)
    body = await _json(text)
    assert (body["service"], body["name"], body["active"]) == ("online-banking", "Online Banking", True)
    (outage,) = body["outages"]
    assert outage["number"] == f"OUT{world.outage_id:07d}" and outage["statement"] == STATEMENT
    assert outage["eta"] == (domain.clock() + timedelta(hours=2)).isoformat()


async def _json(text: str) -> dict:  # type: ignore[type-arg]
    import json

    return json.loads(text)  # type: ignore[no-any-return]


async def test_etag_answers_304_until_the_wording_changes(domain: Domain, http: aiohttp.ClientSession) -> None:
    world = await make_public_world(domain)
    async with http.get("/banner/online-banking.json") as response:
        etag = response.headers["ETag"]
    async with http.get("/banner/online-banking.json", headers={"If-None-Match": etag}) as response:
        assert response.status == 304 and await response.read() == b""
        assert_public_headers(response)
    async with http.get("/banner/online-banking.json", headers={"If-None-Match": f'"other", W/{etag}'}) as response:
        assert response.status == 304
    async with domain.transaction(SYSTEM) as tx:
        await tx.session.execute(
            insert(Statement).values(case_id=world.major_id, body="Fixed for most cards.", created_at=tx.now)
        )
    async with http.get("/banner/online-banking.json", headers={"If-None-Match": etag}) as response:
        assert response.status == 200 and response.headers["ETag"] != etag
        assert (await response.json())["outages"][0]["statement"] == "Fixed for most cards."


async def test_banner_html_is_an_escaped_fragment(domain: Domain, http: aiohttp.ClientSession) -> None:
    await make_public_world(domain, title=HOSTILE_TITLE)
    async with http.get("/banner/online-banking.html") as response:
        assert response.status == 200 and response.content_type == "text/html"
        assert_public_headers(response)
        fragment = await response.text()
    assert fragment.startswith('<div class="pcso-banner" role="status" data-service="online-banking">')
    assert "<script>" not in fragment and "<b>" not in fragment
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in fragment
    assert_nothing_internal(fragment)


async def test_no_outage_is_an_empty_answer(domain: Domain, http: aiohttp.ClientSession) -> None:
    await make_public_world(domain)
    async with http.get("/banner/mail.json") as response:
        assert response.status == 200
        assert await response.json() == {"service": "mail", "name": "Mail", "active": False, "outages": []}
    for path in ("/banner/mail.html", "/ivr/mail.txt"):
        async with http.get(path) as response:
            assert response.status == 200 and await response.text() == ""
            assert_public_headers(response)


@pytest.mark.parametrize("service", ["nope", "ledger", "%3Cscript%3E", "a" * 300])
async def test_unknown_service_is_404_with_the_same_shape(
    domain: Domain, http: aiohttp.ClientSession, service: str
) -> None:
    await make_public_world(domain)
    async with http.get(f"/banner/{service}.json") as response:
        assert response.status == 404
        assert_public_headers(response)
        body = await response.json()
    assert set(body) == {"service", "name", "active", "outages", "error"}
    assert (body["active"], body["outages"]) == (False, []) and body["error"].startswith("no public service")
    for path in (f"/banner/{service}.html", f"/ivr/{service}.txt"):
        async with http.get(path) as response:
            assert response.status == 404 and await response.text() == ""


async def test_ivr_text(domain: Domain, http: aiohttp.ClientSession) -> None:
    await make_public_world(domain)
    async with http.get("/ivr/online-banking.txt") as response:
        assert response.status == 200 and response.content_type == "text/plain"
        assert_public_headers(response)
        text = await response.text()
    assert text.startswith("We are aware of a problem affecting Online Banking.") and len(text) <= 300
    assert_nothing_internal(text)


async def test_only_get_is_served_and_preflight_allows_it(domain: Domain, http: aiohttp.ClientSession) -> None:
    await make_public_world(domain)
    async with http.post("/banner/online-banking.json", data=b"{}") as response:
        assert response.status == 405
    async with http.options("/banner/online-banking.json", headers={"Origin": "https://shop.example"}) as response:
        assert response.status == 204 and response.headers["Access-Control-Allow-Methods"] == "GET"


async def test_public_knowledge_search(domain: Domain, http: aiohttp.ClientSession) -> None:
    await make_public_world(domain)
    await create_article(domain, SYSTEM, number="KB-RESET", title="Reset a password", body="Choose 'forgot'.")
    await create_article(domain, SYSTEM, number="KB-SECRET", title=f"Reset {MARKER}", body="x", customer_visible=False)
    async with http.get("/knowledge/search", params={"q": 'reset" OR NEAR(*'}) as response:
        assert response.status == 200
        assert_public_headers(response)
        body = await response.json()
    assert [r["number"] for r in body["results"]] == ["KB-RESET"]
    assert body["results"][0]["title_spans"][0] == {"text": "Reset", "highlighted": True}
    async with http.get("/knowledge/search", params={"q": "x " * 3000}) as response:
        assert response.status == 200 and (await response.json())["results"] == []
