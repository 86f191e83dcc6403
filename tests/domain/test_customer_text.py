"""Customers read only customer-facing text (DESIGN §4, "two kinds of text").

A world where every internal field carries its own marker — the alert's name, labels,
annotations, the hosts and CIs with their names and descriptions, the incident's title and
notes, the case's short description and description, work notes, the propose reason, the
business impact, an internal article, a reject reason — goes through the whole flow with the
domain's own commands: alert ingest → incident → proactive case → propose, reject, propose →
approve → statement → ETA change → resolve → close. The notices go out through the real worker
to an SMTP server and a webhook/SMS endpoint on loopback; the status page is rendered (HTML,
JSON, Atom); every portal view is read as each affected customer. No marker may appear
anywhere a customer reads, and the customer-facing words must.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import insert, select

from pcso_tui.domain.casework import cases, portal
from pcso_tui.domain.casework import major_cases as mc
from pcso_tui.domain.casework.wording import set_case_wording
from pcso_tui.domain.communications.articles import attach_article, create_article
from pcso_tui.domain.communications.delivery import DeliveryWorker
from pcso_tui.domain.communications.outages import status_page_data
from pcso_tui.domain.core.clock import FrozenClock
from pcso_tui.domain.core.models import (
    Account,
    CIDependency,
    ConfigurationItem,
    Contact,
    Incident,
    InstallBaseItem,
    Notice,
    Product,
)
from pcso_tui.domain.core.roles import SYSTEM, Actor, Role
from pcso_tui.domain.core.service import Domain
from pcso_tui.domain.core.settings import (
    DeliverySettings,
    EmailSettings,
    Settings,
    WebhookSettings,
    WorkflowSettings,
)
from pcso_tui.domain.core.users import add_user, sign_in
from pcso_tui.domain.core.views import to_jsonable
from pcso_tui.domain.operations.alerts import ingest_payload
from pcso_tui.domain.operations.incidents import add_incident_note, set_incident_eta
from pcso_tui.plugins.statuspage import render_atom, render_html, render_json
from tests.alerting import am_alert, am_message
from tests.domain.notice_world import SmtpServer, WebhookServer

# One marker per internal field; each must stay out of everything a customer reads.
MARKERS = {
    "alert name": "MkAlertName",
    "alert label": "mk-label-value",
    "alert summary": "mk-annotation-summary",
    "alert description": "mk-annotation-description",
    "host name": "mk-host-7",
    "host description": "mk-host-description",
    "service CI name": "mk-svc-ci",
    "service CI description": "mk-svc-description",
    "datacentre name": "mk-dc-9",
    "incident note": "mk-incident-note",
    "case description": "mk-case-description",
    "work note": "mk-work-note",
    "propose reason": "mk-propose-reason",
    "business impact": "mk-business-impact",
    "internal article": "mk-internal-article",
    "reject reason": "mk-reject-reason",
    "product name": "mk-product-name",
}

# The customer-facing words.
TITLE = "Calls to landlines fail"
SUMMARY = "Some calls to landlines do not connect."
STATEMENT = "Engineers are replacing a faulty part."
RESOLUTION = "Calls connect again."
SERVICE = "Business Voice"
ARTICLE = "Use mobile calling meanwhile"

SECRET = "marker-test-secret"


@dataclass
class Flow:
    accounts: list[str]
    major_id: int = 0
    mail: list[str] = field(default_factory=list)
    hooks: list[str] = field(default_factory=list)
    sms: list[str] = field(default_factory=list)
    page: dict[str, str] = field(default_factory=dict)
    portal: dict[str, str] = field(default_factory=dict)
    customer_cases: dict[str, str] = field(default_factory=dict)


@pytest.fixture
async def smtp() -> AsyncIterator[SmtpServer]:
    server = await SmtpServer().start()
    yield server
    await server.stop()


@pytest.fixture
async def web() -> AsyncIterator[WebhookServer]:
    server = await WebhookServer().start()
    yield server
    await server.stop()


async def build(domain: Domain, web: WebhookServer) -> list[str]:
    """dc ← host ← service CI; three external accounts on the service, one per channel."""
    async with domain.transaction(SYSTEM) as tx:
        s, now = tx.session, tx.now
        product = Product(number="P-VOICE", name=MARKERS["product name"], public_name=SERVICE)
        s.add(product)
        dc = ConfigurationItem(name=MARKERS["datacentre name"], kind="datacentre")
        host = ConfigurationItem(name=MARKERS["host name"], kind="host", description=MARKERS["host description"])
        svc = ConfigurationItem(
            name=MARKERS["service CI name"],
            kind="service",
            description=MARKERS["service CI description"],
            # A service CI, but customers know it by its product: never by this internal name.
            customer_facing=False,
        )
        s.add_all([dc, host, svc])
        await s.flush()
        await s.execute(
            insert(CIDependency),
            [{"ci_id": host.id, "depends_on_id": dc.id}, {"ci_id": svc.id, "depends_on_id": host.id}],
        )
        numbers = []
        for i, channel in enumerate(("email", "webhook", "sms")):
            account = Account(number=f"MK-ACC-{i}", name=f"Customer {i}", created_at=now)
            s.add(account)
            await s.flush()
            s.add(
                Contact(
                    number=f"MK-CON-{i}",
                    account_id=account.id,
                    name=f"Contact {i}",
                    email=f"contact{i}@customer.example",
                    phone=f"+4670000{i:04d}",
                    webhook_url=web.url(f"/hook/{i}"),
                    preferred_channel=channel,
                    is_primary=True,
                )
            )
            s.add(
                InstallBaseItem(
                    number=f"MK-IB-{i}",
                    account_id=account.id,
                    product_id=product.id,
                    ci_id=svc.id,
                    service_ci_id=svc.id,
                )
            )
            numbers.append(account.number)
    return numbers


def configure(domain: Domain, smtp: SmtpServer, web: WebhookServer) -> None:
    email = EmailSettings(
        host="127.0.0.1", port=smtp.port, security="none", from_address="status@pcso.example", timeout=5.0
    )
    webhook = WebhookSettings(secret=SECRET, sms_url=web.url("/sms"))
    delivery = DeliverySettings(batch_size=50, email=email, webhook=webhook)
    domain.settings = replace(Settings(workflow=WorkflowSettings(on_proactive_case="none")), delivery=delivery)


async def deliver(domain: Domain) -> None:
    async with DeliveryWorker(domain) as worker:
        await worker.drain()


async def run_flow(
    domain: Domain, actors: dict[Role, Actor], clock: FrozenClock, smtp: SmtpServer, web: WebhookServer
) -> Flow:
    configure(domain, smtp, web)
    flow = Flow(accounts=await build(domain, web))
    for number in flow.accounts:
        await add_user(domain, actors[Role.ADMIN], f"cust-{number.lower()}", Role.CUSTOMER, account_number=number)
    op, agent, manager = actors[Role.OPERATOR], actors[Role.AGENT], actors[Role.MANAGER]

    # Alert ingest opens the incident (critical).
    started = (clock.now - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    alert = am_alert(
        MARKERS["alert name"],
        labels={"instance": MARKERS["host name"], "ci": MARKERS["host name"], "team": MARKERS["alert label"]},
        summary=MARKERS["alert summary"],
        starts_at=started,
    )
    alert["annotations"]["description"] = MARKERS["alert description"]
    await ingest_payload(domain, op, am_message(alert))
    async with domain.reading() as session:
        incident_id = await session.scalar(select(Incident.id))
        incident_title = await session.scalar(select(Incident.title))
    assert incident_id is not None and MARKERS["alert name"] in (incident_title or "")
    await add_incident_note(domain, op, incident_id, MARKERS["incident note"])

    # The proactive case, worked internally, proposed, rejected, proposed again.
    view = await cases.open_proactive_case(domain, op, incident_id)
    await cases.add_case_note(domain, agent, view.id, MARKERS["work note"], customer_visible=False)
    await mc.propose_major_case(
        domain, agent, view.id, reason=MARKERS["propose reason"], business_impact=MARKERS["business impact"]
    )
    await mc.reject_major_case(domain, manager, view.id, reason=MARKERS["reject reason"])
    await mc.propose_major_case(
        domain, agent, view.id, reason=MARKERS["propose reason"], business_impact=MARKERS["business impact"]
    )
    await set_case_wording(domain, agent, view.id, title=TITLE, summary=SUMMARY)
    approval = await mc.approve_major_case(domain, manager, view.id)
    flow.major_id = approval.major_case_id
    assert approval.notices_queued == len(flow.accounts)

    secret = MARKERS["internal article"]
    internal = await create_article(domain, manager, title=secret, body=secret, customer_visible=False)
    public = await create_article(domain, manager, title=ARTICLE, body="Call from your mobile phone.")
    await attach_article(domain, manager, flow.major_id, internal.number)
    await attach_article(domain, manager, flow.major_id, public.number)
    await deliver(domain)

    clock.advance(minutes=10)
    await mc.post_statement(domain, manager, flow.major_id, STATEMENT)
    clock.advance(minutes=10)
    await set_incident_eta(domain, op, incident_id, clock.now + timedelta(hours=2))
    await deliver(domain)
    flow.page = await render_page(domain)  # while the outage is active
    flow.portal = await read_portal(domain, flow)

    clock.advance(hours=1)
    await mc.resolve_major_case(domain, manager, flow.major_id, code="fixed", notes=RESOLUTION)
    await mc.close_major_case(domain, manager, flow.major_id)
    await deliver(domain)
    for name, text in (await render_page(domain)).items():
        flow.page[f"{name} (after)"] = text
    for name, text in (await read_portal(domain, flow)).items():
        flow.portal[f"{name} (after)"] = text
    flow.customer_cases = await read_customer_cases(domain, flow)

    flow.mail = [
        "\n".join([r.message["Subject"] or "", r.text, r.html or "", r.data.decode("utf-8", "replace")])
        for r in smtp.received
    ]
    flow.hooks = [h.body.decode() for h in web.received if h.path.startswith("/hook")]
    flow.sms = [h.body.decode() for h in web.received if h.path == "/sms"]
    async with domain.reading() as session:
        states = set(await session.scalars(select(Notice.state)))
    assert states == {"sent"}, states
    return flow


async def render_page(domain: Domain) -> dict[str, str]:
    data = await status_page_data(domain)
    return {"html": render_html(data), "json": render_json(data), "atom": render_atom(data).decode()}


def dumped(value: Any) -> str:
    return json.dumps(to_jsonable(value), ensure_ascii=False)


async def read_portal(domain: Domain, flow: Flow) -> dict[str, str]:
    """Every portal view, as each affected customer."""
    seen: dict[str, str] = {}
    for number in flow.accounts:
        me = await sign_in(domain, f"cust-{number.lower()}")
        seen[f"{number} account"] = dumped(await portal.portal_account(domain, me))
        outages = await portal.list_outages(domain, me)
        seen[f"{number} outages"] = dumped(outages)
        for o in outages:
            seen[f"{number} {o.number}"] = dumped(await portal.get_outage(domain, me, o.id))
        mine = await portal.list_cases(domain, me)
        seen[f"{number} cases"] = dumped(mine)
        for c in mine:
            seen[f"{number} {c.number}"] = dumped(await portal.get_case(domain, me, c.id))
        articles = await portal.list_articles(domain, me)
        seen[f"{number} articles"] = dumped(articles)
        for a in articles:
            seen[f"{number} {a.number}"] = dumped(await portal.get_article(domain, me, a.number))
    return seen


async def read_customer_cases(domain: Domain, flow: Flow) -> dict[str, str]:
    """The case commands a customer may call outside the portal (``pcso cases list``, ``pcso
    case show`` as a customer)."""
    seen: dict[str, str] = {}
    for number in flow.accounts:
        me = await sign_in(domain, f"cust-{number.lower()}")
        mine = await cases.list_cases(domain, me)
        seen[f"{number} cases"] = dumped(mine)
        for c in mine:
            seen[f"{number} {c.number}"] = dumped(await cases.get_case(domain, me, c.id))
    return seen


def leaks(texts: dict[str, str] | list[str]) -> list[tuple[str, str]]:
    items = texts.items() if isinstance(texts, dict) else enumerate(texts)
    return [(str(where), what) for where, text in items for what, marker in MARKERS.items() if marker in text]


@pytest.fixture
async def flow(
    domain: Domain, actors: dict[Role, Actor], clock: FrozenClock, smtp: SmtpServer, web: WebhookServer
) -> Flow:
    return await run_flow(domain, actors, clock, smtp, web)


async def test_notices_carry_only_customer_facing_text(flow: Flow) -> None:
    # Approval, statement (and the ETA when it syncs), resolution, closure: one mail each.
    assert len(flow.mail) >= 3 and flow.hooks and flow.sms
    assert leaks(flow.mail) == [] and leaks(flow.hooks) == [] and leaks(flow.sms) == []
    opened = flow.mail[0]
    assert TITLE in opened and SUMMARY in opened and ARTICLE in opened
    assert any(STATEMENT in m for m in flow.mail) and any(RESOLUTION in m for m in flow.mail)
    assert all(TITLE in h for h in flow.hooks)
    assert all(TITLE in s for s in flow.sms)


async def test_the_status_page_carries_only_customer_facing_text(flow: Flow) -> None:
    assert leaks(flow.page) == []
    for kind in ("html", "json", "atom"):
        assert TITLE in flow.page[kind] and SERVICE in flow.page[kind], kind
    assert STATEMENT in flow.page["json"]


async def test_the_portal_carries_only_customer_facing_text(flow: Flow) -> None:
    assert leaks(flow.portal) == []
    for number in flow.accounts:
        assert TITLE in flow.portal[f"{number} cases"], number
        case_views = [v for k, v in flow.portal.items() if k.startswith(f"{number} CS")]
        assert case_views and all(SUMMARY in v for v in case_views)
        assert SERVICE in flow.portal[f"{number} outages"]


async def test_a_customers_case_commands_carry_only_customer_facing_text(flow: Flow) -> None:
    assert leaks(flow.customer_cases) == []
    # Nor our incident: its number and state are internal records.
    lists = list(flow.customer_cases.values())
    assert lists and not any(re.search(r"INC\d{7}", text) for text in lists), lists


async def read_web_portal(domain: Domain, flow: Flow) -> dict[str, str]:
    """Every page of the web portal (``pcso web``), as a contact of each affected account,
    following every link the pages offer."""
    from aiohttp.test_utils import TestClient, TestServer

    from pcso_tui.domain.casework.web_access import WEB, start_session
    from pcso_tui.web import create_web_app

    seen: dict[str, str] = {}
    async with TestClient(TestServer(create_web_app(domain))) as client:
        for i, number in enumerate(flow.accounts):
            started = await start_session(domain, WEB, f"MK-CON-{i}")
            client.session.cookie_jar.clear()
            client.session.cookie_jar.update_cookies({"pcso_session": started.token})
            todo = ["/outages", "/cases", "/articles", "/cases/new"]
            while todo:
                url = todo.pop()
                if f"{number} {url}" in seen:
                    continue
                response = await client.get(url)
                assert response.status == 200, url
                seen[f"{number} {url}"] = page = await response.text()
                todo += re.findall(r'href="(/(?:outages|cases|articles)/[^"#?]+)"', page)
    return seen


async def test_the_web_portal_carries_only_customer_facing_text(flow: Flow, domain: Domain) -> None:
    pages = await read_web_portal(domain, flow)
    assert leaks(pages) == []
    for number in flow.accounts:
        assert TITLE in pages[f"{number} /cases"] and TITLE in pages[f"{number} /outages"], number
        assert SERVICE in pages[f"{number} /outages"] and SERVICE in pages[f"{number} /cases/new"]
        case_pages = [v for k, v in pages.items() if re.match(rf"{number} /cases/\d+$", k)]
        assert case_pages and all(SUMMARY in v for v in case_pages)
        assert any(ARTICLE in v for k, v in pages.items() if k.startswith(f"{number} /articles/"))
