"""Web banners and phone-queue messages: public wording of the outages affecting one service."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import insert

from pcso_tui.domain.communications.banners import (
    IVR_MAX,
    ivr_message,
    public_services,
    service_banner,
    service_ivr,
    service_slug,
)
from pcso_tui.domain.communications.outages import create_outage, end_outage
from pcso_tui.domain.communications.views import PublicOutage, ServiceBanner
from pcso_tui.domain.core.errors import NotFound
from pcso_tui.domain.core.models import Statement
from pcso_tui.domain.core.roles import SYSTEM
from pcso_tui.domain.core.service import Domain
from tests.conftest import FROZEN_AT
from tests.domain.notice_world import INTERNAL_ARTICLE, STATEMENT, WORK_NOTE, WORKAROUND_TITLE
from tests.domain.public_world import HOST, MARKER, OUTAGE_TITLE, make_public_world


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("Online Banking", "online-banking"),
        ("  Café  Pay! ", "cafe-pay"),
        ("E-Mail & Calendar (EU)", "e-mail-calendar-eu"),
        ("--", ""),
        ("Ünïcödé", "unicode"),
    ],
)
def test_service_slug(name: str, slug: str) -> None:
    assert service_slug(name) == slug


async def test_public_services_are_the_customer_facing_names(domain: Domain) -> None:
    await make_public_world(domain)
    services = {s.slug: s.name for s in await public_services(domain)}
    assert services == {"online-banking": "Online Banking", "mail": "Mail", "status-portal": "Status Portal"}


async def test_banner_of_an_affected_service_carries_only_public_wording(domain: Domain) -> None:
    world = await make_public_world(domain)
    banner = await service_banner(domain, "online-banking")
    assert banner.active and banner.service == "Online Banking"
    (outage,) = banner.outages
    assert (outage.id, outage.title, outage.statement) == (world.outage_id, OUTAGE_TITLE, STATEMENT)
    assert outage.eta == FROZEN_AT + timedelta(hours=2)
    assert [a.title for a in outage.articles] == [WORKAROUND_TITLE]
    shown = repr(banner)
    for internal in (MARKER, HOST, WORK_NOTE, INTERNAL_ARTICLE, "INC"):
        assert internal not in shown


async def test_banner_is_empty_when_nothing_affects_the_service(domain: Domain) -> None:
    world = await make_public_world(domain)
    assert (await service_banner(domain, "mail")).outages == ()
    await end_outage(domain, SYSTEM, world.outage_id)
    assert not (await service_banner(domain, "online-banking")).active


async def test_an_untied_outage_affects_every_service(domain: Domain) -> None:
    await make_public_world(domain)
    await create_outage(domain, SYSTEM, type="degradation", title="Everything is slow", begins_at=FROZEN_AT)
    assert [o.title for o in (await service_banner(domain, "mail")).outages] == ["Everything is slow"]


@pytest.mark.parametrize("slug", ["no-such-service", "ledger", HOST.lower(), "../etc/passwd", "Online-Banking", ""])
async def test_unknown_and_internal_services_are_not_found(domain: Domain, slug: str) -> None:
    await make_public_world(domain)
    with pytest.raises(NotFound, match="no public service"):
        await service_banner(domain, slug)
    with pytest.raises(NotFound):
        await service_ivr(domain, slug)


async def test_ivr_message_is_short_public_and_speakable(domain: Domain) -> None:
    world = await make_public_world(domain)
    long_statement = (
        f"Our **engineers** found the fault on {HOST.upper()}; see https://status.example.com/x or www.example.com "
        "or write to help@example.com. <b>Card</b> payments fail [for now]. " + "Please retry later. " * 30
    )
    async with domain.transaction(SYSTEM) as tx:
        await tx.session.execute(
            insert(Statement).values(case_id=world.major_id, body=long_statement, created_at=tx.now)
        )
    message = await service_ivr(domain, "online-banking")
    assert message.startswith("We are aware of a problem affecting Online Banking. Online payments are failing.")
    assert len(message) <= IVR_MAX and message.endswith(".")
    assert not re.search(r"https?:|www\.|@|example\.com|[*<>\[\]]", message)
    assert MARKER.lower() not in message.lower() and "Our engineers found the fault on the service" in message
    assert message.split()[-1] in {"Please.", "retry.", "later.", "Please", "retry", "later"}


async def test_ivr_message_names_the_eta_and_is_empty_without_an_outage(domain: Domain) -> None:
    await make_public_world(domain)
    assert (await service_ivr(domain, "online-banking")).endswith("We expect it to be fixed by 11:00 UTC.")
    assert await service_ivr(domain, "mail") == ""


def _banner(statement: str, title: str = "Payments fail") -> ServiceBanner:
    outage = PublicOutage(
        id=1,
        number="OUT0000001",
        type="unplanned",
        status="active",
        title=title,
        details="",
        service="Online Banking",
        begins_at=FROZEN_AT,
        ends_at=None,
        eta=FROZEN_AT + timedelta(days=1, hours=3),
        statement=statement,
        statement_at=FROZEN_AT,
        articles=(),
        updated_at=FROZEN_AT,
    )
    return ServiceBanner(slug="online-banking", service="Online Banking", generated_at=FROZEN_AT, outages=(outage,))


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(statement=st.text(max_size=2000), title=st.text(min_size=1, max_size=300))
def test_any_wording_makes_a_speakable_message(statement: str, title: str) -> None:
    message = ivr_message(_banner(statement, title))
    assert 0 < len(message) <= IVR_MAX
    assert not re.search(r"[\x00-\x1f\x7f-\x9f*<>\[\]{}|\\`]|://", message)
    assert message == " ".join(message.split())


def test_a_later_day_eta_names_the_day() -> None:
    assert ivr_message(_banner("Fixing.")).endswith("fixed by 12:00 UTC on 24 November.")
