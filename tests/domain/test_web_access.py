"""Signing contacts in to the web portal: who gets a link, what is stored, and refusals that
change nothing (``domain/casework/web_access.py``; the HTTP side is tests/test_web_portal.py)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select, update

from pcso_tui.domain.casework import portal
from pcso_tui.domain.casework.web_access import (
    WEB,
    end_session,
    redeem_sign_in_link,
    request_sign_in_link,
    session_identity,
    start_session,
    token_hash,
)
from pcso_tui.domain.core.clock import FrozenClock
from pcso_tui.domain.core.errors import InvalidInput, NotFound
from pcso_tui.domain.core.models import Contact, Event, Notice, WebSession, WebSignInToken
from pcso_tui.domain.core.roles import Role
from pcso_tui.domain.core.service import Domain
from tests.domain.case_world import build_world, counts

BASE = "https://portal.example.com/sign-in/"


async def queued(domain: Domain) -> list[tuple[str, str, dict]]:
    async with domain.reading() as session:
        rows = await session.execute(
            select(Contact.number, Notice.channel, Notice.rendered)
            .join(Contact, Contact.id == Notice.contact_id)
            .where(Notice.kind == "sign_in_link")
            .order_by(Notice.id)
        )
        return [(number, channel, json.loads(rendered)) for number, channel, rendered in rows]


async def rows(domain: Domain, model: type) -> int:
    async with domain.reading() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


def token_of(message: dict) -> str:
    link = message["data"]["link"]
    assert link.startswith(BASE)
    return link.removeprefix(BASE)


async def test_a_link_goes_to_every_eligible_contact_with_the_address(domain: Domain) -> None:
    await build_world(domain)
    # A second contact with the same address at another account (any case) gets its own link.
    async with domain.transaction(WEB) as tx:
        acc2 = await tx.session.scalar(select(Contact.account_id).where(Contact.number == "C-ACC-2"))
        tx.session.add(Contact(number="C-TWIN", account_id=acc2, name="Twin", email="ACC-T1@Customers.Example"))
    assert await request_sign_in_link(domain, WEB, "  acc-t1@customers.example ", link_base=BASE) == 2
    found = await queued(domain)
    assert [(n, c) for n, c, _ in found] == [("C-ACC-T1", "email"), ("C-TWIN", "email")]
    tokens = [token_of(m) for _, _, m in found]
    assert len(set(tokens)) == 2 and all(len(t) == 32 for t in tokens)
    async with domain.reading() as session:
        stored = set(await session.scalars(select(WebSignInToken.token_hash)))
        kinds = list(await session.scalars(select(Event.kind).where(Event.kind == "web.sign_in_link_sent")))
    assert stored == {token_hash(t) for t in tokens} and not stored & set(tokens)
    assert len(kinds) == 2
    text = found[0][2]
    assert "Primary of ACC-T1" in text["blocks"][0][1] and "ACC-T1 Ltd (ACC-T1)" in text["footer"]


@pytest.mark.parametrize("address", ["acc-opt@customers.example", "acc-int@customers.example", "no@one.example"])
async def test_opted_out_internal_and_unknown_addresses_get_nothing(domain: Domain, address: str) -> None:
    await build_world(domain)
    before = await counts(domain)
    assert await request_sign_in_link(domain, WEB, address, link_base=BASE) == 0
    assert await counts(domain) == before and await rows(domain, WebSignInToken) == 0


@pytest.mark.parametrize("address", ["", "   ", "no-at-sign", "a@b\nBcc: x@y", "x" * 400 + "@example.com"])
async def test_a_bad_address_is_refused_in_one_line(domain: Domain, address: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        await request_sign_in_link(domain, WEB, address, link_base=BASE)
    assert "\n" not in refused.value.message
    assert await rows(domain, WebSignInToken) == 0


async def test_a_link_starts_one_session_once(domain: Domain, clock: FrozenClock) -> None:
    await build_world(domain)
    await request_sign_in_link(domain, WEB, "acc-t1@customers.example", link_base=BASE)
    token = token_of((await queued(domain))[0][2])
    started = await redeem_sign_in_link(domain, WEB, token)
    me = started.identity
    assert (me.contact_number, me.account_number, me.actor.role) == ("C-ACC-T1", "ACC-T1", Role.CUSTOMER)
    assert me.actor.name == "Primary of ACC-T1 (C-ACC-T1)" and me.actor.contact_id is not None
    assert (started.expires_at - clock.now).total_seconds() == 12 * 3600
    assert (await portal.portal_account(domain, me.actor)).number == "ACC-T1"

    sessions = await rows(domain, WebSession)
    for bad in (token, "made-up", "", "x" * 500):
        with pytest.raises(InvalidInput, match="cannot be used"):
            await redeem_sign_in_link(domain, WEB, bad)
    assert await rows(domain, WebSession) == sessions

    found = await session_identity(domain, WEB, started.token)
    assert found is not None and found.contact_number == "C-ACC-T1"
    assert await session_identity(domain, WEB, token_hash(started.token)) is None  # the hash is no cookie
    assert await end_session(domain, WEB, started.token) is True
    assert await end_session(domain, WEB, started.token) is False
    assert await session_identity(domain, WEB, started.token) is None


async def test_an_expired_link_and_session_are_refused(domain: Domain, clock: FrozenClock) -> None:
    await build_world(domain)
    started = await start_session(domain, WEB, "C-ACC-T1")
    await request_sign_in_link(domain, WEB, "acc-t1@customers.example", link_base=BASE)
    token = token_of((await queued(domain))[0][2])
    clock.advance(minutes=15)
    with pytest.raises(InvalidInput, match="cannot be used"):
        await redeem_sign_in_link(domain, WEB, token)
    clock.advance(hours=12)
    assert await session_identity(domain, WEB, started.token) is None


async def test_opting_out_stops_links_not_sessions_and_internal_accounts_have_none(domain: Domain) -> None:
    await build_world(domain)
    started = await start_session(domain, WEB, "C-ACC-T1")
    async with domain.transaction(WEB) as tx:
        await tx.session.execute(update(Contact).where(Contact.number == "C-ACC-T1").values(opted_out=True))
    assert await session_identity(domain, WEB, started.token) is not None
    assert await request_sign_in_link(domain, WEB, "acc-t1@customers.example", link_base=BASE) == 0
    with pytest.raises(InvalidInput, match="cannot be used"):
        await start_session(domain, WEB, "C-ACC-INT")
    with pytest.raises(NotFound):
        await start_session(domain, WEB, "C-NOWHERE")
