"""The web portal in a real browser: Debian's Chromium driven by Playwright, JavaScript off.

Sign in with the link the delivery worker sent, read the outage and a case, reply, open a
case that the known-outage offer attaches to the outage, search the articles, then fetch the
banner and the phone-queue text a customer-facing site embeds. Skipped when Chromium
(/usr/bin/chromium) or Playwright is missing; no browser is ever downloaded.
"""

from __future__ import annotations

import os
import shutil
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import select

from pcso_tui.domain.core.models import Case
from pcso_tui.domain.core.service import Domain
from pcso_tui.domain.core.views import case_number
from pcso_tui.web import create_web_app
from tests.domain import test_portal
from tests.domain.test_portal import STATEMENT, PortalWorld
from tests.test_web_portal import T1_ADDRESS, link_from_worker

pw = test_portal.pw

CHROMIUM = next((p for p in ("/usr/bin/chromium", shutil.which("chromium") or "") if p and os.path.exists(p)), None)
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (/usr/bin/chromium)")


async def test_sign_in_read_reply_and_open_a_case_in_chromium(domain: Domain, pw: PortalWorld) -> None:
    playwright_api = pytest.importorskip("playwright.async_api", reason="playwright is not installed")
    server = TestServer(create_web_app(domain))
    await server.start_server()
    base = str(server.make_url("")).rstrip("/")
    try:
        async with playwright_api.async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, headless=True)
            try:
                context = await browser.new_context(java_script_enabled=False)
                page = await context.new_page()
                await run_the_journey(page, base, domain, pw)
            finally:
                await browser.close()
    finally:
        await server.close()


async def run_the_journey(page: Any, base: str, domain: Domain, pw: PortalWorld) -> None:
    await page.goto(base + "/")
    await page.get_by_label("Email address").fill(T1_ADDRESS)
    await page.get_by_role("button", name="Send me a sign-in link").click()
    assert await page.get_by_role("heading", level=1).inner_text() == "Check your messages"

    link = await link_from_worker(domain)
    await page.goto(link.replace("http://127.0.0.1:8080", base))
    await page.get_by_role("button", name="Sign in to the customer portal").click()
    assert page.url == base + "/outages"
    body = await page.locator("main").inner_text()
    assert "Voice platform down" in body and STATEMENT in body

    # Read a case and reply to it.
    await page.get_by_role("link", name="Cases", exact=True).click()
    child = case_number(pw.children["ACC-T1"])
    await page.get_by_role("link", name=child).click()
    await page.get_by_label("Your reply").fill("Still down here <b>not bold</b>")
    await page.get_by_role("button", name="Send reply").click()
    assert "Still down here <b>not bold</b>" in await page.locator("#updates ~ article").last.inner_text()

    # Open a case: the outage we told them about is offered; attaching it is a deflected call.
    await page.get_by_role("link", name="Open a case").first.click()
    await page.get_by_label("Subject").fill("No dial tone")
    await page.get_by_label("What happens?").fill("Since nine")
    await page.get_by_role("button", name="Open the case").click()
    offer = await page.locator("main").inner_text()
    assert "This is the outage we already told you about" in offer and STATEMENT in offer
    await page.get_by_role("button", name="Yes, attach my case to this outage").click()
    assert "No dial tone" in await page.get_by_role("heading", level=1).inner_text()
    case_id = int(page.url.split("/cases/")[1].split("?")[0])
    async with domain.reading() as session:
        row = (await session.execute(select(Case.parent_id, Case.deflected).where(Case.id == case_id))).one()
    assert tuple(row) == (pw.major_id, True)

    # Search the articles: the matched word is marked, the article opens.
    await page.get_by_role("link", name="Articles", exact=True).click()
    await page.get_by_label("Search the articles").fill("forwarding")
    await page.get_by_role("button", name="Search").click()
    assert (await page.locator("#results ~ ol mark").first.inner_text()).lower().startswith("forward")  # stems match
    await page.locator("#results ~ ol a").first.click()
    assert "call forwarding" in await page.locator("main").inner_text()

    await page.get_by_role("button", name="Sign out").click()
    assert page.url.startswith(base + "/sign-in")

    # The public pieces a customer-facing site embeds, as the browser gets them.
    from pcso_tui.domain.communications.banners import public_services

    services = [s for s in await public_services(domain) if s.name in body]
    assert services, "the outage's service is in the public catalogue"
    slug = services[0].slug
    await page.goto(f"{base}/banner/{slug}.html")
    banner = await page.locator("body").inner_text()
    assert STATEMENT in banner
    response = await page.goto(f"{base}/ivr/{slug}.txt")
    spoken = await response.text()
    assert 0 < len(spoken) <= 300 and "http" not in spoken
