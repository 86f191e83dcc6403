"""The delivery worker against real servers on loopback: SMTP (aiosmtpd) and HTTP (aiohttp)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from datetime import timedelta

import pluggy
import pytest
from sqlalchemy import select, update

from pcso_tui.domain.communications.delivery import (
    WORKER,
    DeliveryWorker,
    RenderSource,
    backoff_delay,
    compose,
    list_notices,
    notice_counts,
    render,
    retry_dead_notices,
    retry_notice,
)
from pcso_tui.domain.communications.views import DeliveryReport
from pcso_tui.domain.core.channels import (
    DeliveryOutcome,
    OutboundMessage,
    message_id,
    verify_signature,
)
from pcso_tui.domain.core.clock import FrozenClock
from pcso_tui.domain.core.errors import IllegalTransition, InvalidInput, NotFound, PermissionDenied
from pcso_tui.domain.core.event_kinds import StatementPosted
from pcso_tui.domain.core.models import Article, Contact, Event, Notice
from pcso_tui.domain.core.roles import Actor, Role
from pcso_tui.domain.core.service import Domain
from pcso_tui.domain.core.settings import DeliverySettings, EmailSettings, Settings, WebhookSettings
from pcso_tui.domain.hookspecs import hookimpl
from pcso_tui.plugins import new_plugin_manager
from tests.domain.notice_world import (
    INTERNAL_ARTICLE,
    STATEMENT,
    WORK_NOTE,
    WORKAROUND_BODY,
    WORKAROUND_TITLE,
    SmtpServer,
    WebhookServer,
    count,
    events_of_kind,
    make_world,
    notices,
)

SECRET = "s3cret-for-tests"


def configure(domain: Domain, smtp: SmtpServer | None = None, **delivery: object) -> DeliverySettings:
    email = EmailSettings(
        host="127.0.0.1",
        port=smtp.port if smtp else 1,
        security="none",
        from_address="status@pcso.example",
        helo_name="worker.test",
        timeout=5.0,
    )
    settings = DeliverySettings(
        batch_size=delivery.pop("batch_size", 50),  # type: ignore[arg-type]
        concurrency=delivery.pop("concurrency", 4),  # type: ignore[arg-type]
        email=delivery.pop("email", email),  # type: ignore[arg-type]
        **delivery,  # type: ignore[arg-type]
    )
    domain.settings = replace(domain.settings, delivery=settings)
    return settings


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


async def deliver(domain: Domain, **kwargs: object):
    async with DeliveryWorker(domain, **kwargs) as worker:  # type: ignore[arg-type]
        return await worker.drain()


# --- email ----------------------------------------------------------------------------------


async def test_statement_reaches_every_contact_by_email(domain: Domain, smtp: SmtpServer) -> None:
    configure(domain, smtp)
    world = await make_world(domain, 3)
    report = await deliver(domain)
    assert (report.claimed, report.sent) == (3, 3)

    by_rcpt = smtp.by_recipient()
    assert sorted(by_rcpt) == sorted(world.emails)
    for i, address in enumerate(world.emails):
        (got,) = by_rcpt[address]
        msg = got.message
        assert got.mail_from == "status@pcso.example"
        assert msg["To"] == f"Contact {i} <{address}>"
        assert msg["Subject"] == f"[CS{world.child_ids[i]:07d}] Update: Card payments failing"
        key = f"statement:{world.statement_id}:{world.contact_ids[i]}"
        assert got.message_id == message_id(key, "pcso.example")
        text = got.text
        assert STATEMENT in text and WORKAROUND_TITLE in text and WORKAROUND_BODY in text
        assert f"Hello Contact {i}," in text and f"W Customer {i}" in text
        assert WORKAROUND_TITLE in (got.html or "")
        for secret in (INTERNAL_ARTICLE, WORK_NOTE, "internal description"):
            assert secret not in got.data.decode("utf-8", "replace")

    rows = await notices(domain, world.notice_ids)
    assert {(n.state, n.attempts, n.last_error) for n in rows} == {("sent", 1, None)}
    assert all(n.sent_at == domain.clock() for n in rows)


async def test_delivery_counts_are_one_event_per_case_per_batch(domain: Domain, smtp: SmtpServer) -> None:
    configure(domain, smtp, batch_size=4)
    world = await make_world(domain, 10)
    await deliver(domain)
    events = await events_of_kind(domain, "notices.delivered")
    # 10 notices in batches of 4: three events, all on the major case, none per notice.
    assert [e.subject_id for e in events] == [world.major_id] * 3
    assert [e.payload["sent"] for e in events] == [4, 4, 2]
    assert events[0].payload["channels"] == {"email": 4}
    assert {e.actor_name for e in events} == {WORKER.name}


async def test_hostile_text_stays_text(domain: Domain, smtp: SmtpServer) -> None:
    configure(domain, smtp)
    hostile = "[bold]boom[/ \x1b[2J <script>alert(1)</script>"
    await make_world(domain, 1, title=hostile, statement=hostile)
    await deliver(domain)
    (got,) = smtp.received
    assert "\x1b" not in got.data.decode("utf-8")
    assert "\\x1b[2J" in got.text and "[bold]boom[/" in got.text
    assert "<script>" not in (got.html or "") and "&lt;script&gt;" in (got.html or "")
    assert "\x1b" not in got.message["Subject"]


async def test_a_frozen_message_is_resent_byte_for_byte(domain: Domain, smtp: SmtpServer, clock: FrozenClock) -> None:
    configure(domain, smtp, backoff_base=10.0, jitter=0.0)
    world = await make_world(domain, 2)
    smtp.reply = "451 4.3.0 try again later"
    report = await deliver(domain)
    assert report.retrying == 2 and smtp.received == []
    frozen = {n.id: n.rendered for n in await notices(domain)}
    assert all(frozen.values())

    # Meanwhile the world changes: an article is edited, a contact renamed.
    async with domain.transaction(WORKER) as tx:
        await tx.session.execute(update(Article).values(body="edited later", version=Article.version + 1))
        await tx.session.execute(update(Contact).values(name="Renamed", version=Contact.version + 1))
    smtp.reply = "250 OK"
    clock.advance(seconds=10)
    await deliver(domain)
    assert len(smtp.received) == 2
    for got in smtp.received:
        assert WORKAROUND_BODY in got.text and "edited later" not in got.text
    assert {n.id: n.rendered for n in await notices(domain)} == frozen
    assert {n.state for n in await notices(domain, world.notice_ids)} == {"sent"}


def test_rendering_is_a_pure_function_of_its_source() -> None:
    from pcso_tui.domain.communications.views import PublicArticle
    from pcso_tui.domain.core.channels import canonical_json
    from tests.conftest import FROZEN_AT

    source = RenderSource(
        key="statement:1:2",
        kind="statement",
        created_at=FROZEN_AT,
        contact_name="Åsa Öberg",
        account_number="A-1",
        account_name="Ångström AB",
        case_number="CS0000002",
        major_case_number="CS0000001",
        title="Card payments failing",
        statement=STATEMENT,
        statement_at=FROZEN_AT,
        articles=(PublicArticle(number="KB1", title=WORKAROUND_TITLE, body=WORKAROUND_BODY),),
    )
    first, second = render(source), render(replace(source))
    assert canonical_json(first) == canonical_json(second)
    assert canonical_json(compose(first)) == canonical_json(compose(json.loads(canonical_json(second))))
    assert first["subject"] == "[CS0000002] Update: Card payments failing"
    assert STATEMENT in compose(first)["text"] and "Åsa Öberg" in compose(first)["html"]
    assert first["data"]["statement"]["body"] == STATEMENT
    assert first["data"]["articles"] == [{"number": "KB1", "title": WORKAROUND_TITLE, "body": WORKAROUND_BODY}]


async def test_smtp_server_stopped_mid_fan_out_loses_nothing_and_sends_nothing_different(
    domain: Domain, smtp: SmtpServer, clock: FrozenClock
) -> None:
    settings = configure(domain, smtp, batch_size=10, concurrency=2)
    world = await make_world(domain, 40)
    smtp.stop_after = 15
    first = await deliver(domain)
    assert smtp.stopped.is_set()
    assert first.retrying > 0 and first.dead == 0
    waiting = [n for n in await notices(domain) if n.state == "pending"]
    assert waiting and all(n.last_error for n in waiting)
    assert any("unreachable" in (n.last_error or "") for n in waiting)

    await smtp.start()  # the relay is back, on the same port
    for _ in range(settings.max_attempts):
        clock.advance(seconds=settings.backoff_max)
        await deliver(domain)
        if all(n.state == "sent" for n in await notices(domain)):
            break
    assert {n.state for n in await notices(domain, world.notice_ids)} == {"sent"}

    by_rcpt = smtp.by_recipient()
    assert sorted(by_rcpt) == sorted(world.emails)  # nothing lost
    for copies in by_rcpt.values():  # any duplicate is the very same message
        assert len({c.data for c in copies}) == 1
        assert len({c.message_id for c in copies}) == 1
    assert len({r.message_id for r in smtp.received}) == 40
    # A duplicate can only come from a message whose reply the dying server swallowed.
    assert len(smtp.received) - 40 <= settings.concurrency


# --- retries and the dead letter --------------------------------------------------------------


def test_backoff_doubles_with_jitter_and_stays_bounded() -> None:
    s = DeliverySettings(backoff_base=30.0, backoff_max=600.0, jitter=0.5)
    ceilings = [backoff_delay(s, n, 0.0) for n in range(1, 8)]
    assert ceilings == [30.0, 60.0, 120.0, 240.0, 480.0, 600.0, 600.0]
    floors = [backoff_delay(s, n, 0.999999) for n in range(1, 8)]
    for low, high in zip(floors, ceilings, strict=True):
        assert high / 2 - 0.01 <= low <= high
    assert backoff_delay(s, 500, 0.3) <= 600.0
    assert backoff_delay(replace(s, jitter=0.0), 3, 0.9) == 120.0


async def test_retries_follow_the_backoff_schedule(domain: Domain, smtp: SmtpServer, clock: FrozenClock) -> None:
    settings = configure(domain, smtp, backoff_base=60.0, backoff_max=1000.0, jitter=0.5, max_attempts=10)
    await make_world(domain, 1)
    smtp.reply = "421 4.7.0 busy"
    for attempt in range(1, 6):
        report = await deliver(domain)
        assert report.retrying == 1
        (n,) = await notices(domain)
        wait = (n.next_attempt_at - clock.now).total_seconds()
        ceiling = min(settings.backoff_max, settings.backoff_base * 2 ** (attempt - 1))
        assert n.attempts == attempt
        assert ceiling * (1 - settings.jitter) - 1e-6 <= wait <= ceiling
        assert await deliver(domain) == DeliveryReport()  # not due yet: nothing claimed
        clock.now = n.next_attempt_at


async def test_dead_after_max_attempts_with_reason_then_retry_from_the_dead_letter(
    domain: Domain, smtp: SmtpServer, clock: FrozenClock, actors: dict[Role, Actor]
) -> None:
    configure(domain, smtp, max_attempts=3, backoff_base=1.0, backoff_max=5.0)
    world = await make_world(domain, 3)
    smtp.reply = "451 4.3.0 mailbox busy"
    for _ in range(3):
        await deliver(domain)
        clock.advance(seconds=5)
    rows = await notices(domain)
    assert {(n.state, n.attempts) for n in rows} == {("dead", 3)}
    assert all(n.last_error.startswith("gave up after 3 attempts: SMTP 451") for n in rows)
    assert (await notice_counts(domain, actors[Role.MANAGER], world.major_id))["dead"] == 3
    dead_view = await list_notices(domain, actors[Role.AGENT], state="dead", case_id=world.major_id)
    assert {v.id for v in dead_view} == set(world.notice_ids)
    assert all("mailbox busy" in (v.last_error or "") for v in dead_view)

    smtp.reply = "250 OK"
    view = await retry_notice(domain, actors[Role.MANAGER], world.notice_ids[0])
    assert (view.state, view.attempts, view.last_error) == ("pending", 0, None)
    assert await retry_dead_notices(domain, actors[Role.MANAGER], world.major_id) == 2
    await deliver(domain)
    assert {n.state for n in await notices(domain)} == {"sent"}
    assert len(smtp.received) == 3
    kinds = [e.kind for e in await events_of_kind(domain, "notice.retried")]
    kinds += [e.kind for e in await events_of_kind(domain, "notices.retried")]
    assert kinds == ["notice.retried", "notices.retried"]


async def test_permanent_smtp_refusal_is_dead_at_once(domain: Domain, smtp: SmtpServer) -> None:
    configure(domain, smtp)
    await make_world(domain, 1)
    smtp.reply = "554 5.7.1 rejected as spam"
    report = await deliver(domain)
    assert report.dead == 1
    (n,) = await notices(domain)
    assert (n.state, n.attempts) == ("dead", 1)
    assert "554" in n.last_error and "spam" in n.last_error


async def test_opted_out_and_unaddressable_contacts_are_skipped_never_sent(domain: Domain, smtp: SmtpServer) -> None:
    configure(domain, smtp)
    world = await make_world(domain, 3)
    async with domain.transaction(WORKER) as tx:
        await tx.session.execute(update(Contact).where(Contact.id == world.contact_ids[0]).values(opted_out=True))
        await tx.session.execute(update(Contact).where(Contact.id == world.contact_ids[1]).values(email=None))
    report = await deliver(domain)
    assert (report.sent, report.skipped) == (1, 2)
    assert [r.rcpt_tos for r in smtp.received] == [[world.emails[2]]]
    by_contact = {n.contact_id: n for n in await notices(domain)}
    assert by_contact[world.contact_ids[0]].state == "skipped"
    assert "opted out" in by_contact[world.contact_ids[0]].last_error
    assert by_contact[world.contact_ids[1]].state == "skipped"
    assert "no email address" in by_contact[world.contact_ids[1]].last_error
    (event,) = await events_of_kind(domain, "notices.delivered")
    assert (event.payload["sent"], event.payload["skipped"]) == (1, 2)


async def test_a_worker_that_vanishes_leaves_its_notices_to_come_back_after_the_lease(
    domain: Domain, smtp: SmtpServer, clock: FrozenClock
) -> None:
    settings = configure(domain, smtp, lease_seconds=120.0)
    world = await make_world(domain, 3)

    class Hangs:
        name = "email"

        async def open(self) -> None: ...

        async def close(self) -> None: ...

        async def send_batch(self, messages: Sequence[OutboundMessage]) -> list[DeliveryOutcome]:
            await asyncio.Event().wait()
            return []

    async with DeliveryWorker(domain, channels=[Hangs()]) as doomed:
        task = asyncio.create_task(doomed.run_once())
        await asyncio.sleep(0.2)
        task.cancel()  # the process dies after claiming, before recording
        with pytest.raises(asyncio.CancelledError):
            await task
    leased = await notices(domain)
    assert {(n.state, n.attempts) for n in leased} == {("pending", 1)}
    assert all(n.next_attempt_at == clock.now + timedelta(seconds=settings.lease_seconds) for n in leased)
    assert await deliver(domain) == DeliveryReport()  # still leased: nobody takes them

    clock.advance(seconds=settings.lease_seconds)
    report = await deliver(domain)
    assert report.sent == 3
    assert {n.attempts for n in await notices(domain)} == {2}
    # The re-send is the message frozen by the vanished worker.
    assert {n.id: n.rendered for n in await notices(domain)} == {n.id: n.rendered for n in leased}
    assert sorted(r.rcpt_tos[0] for r in smtp.received) == sorted(world.emails)


# --- webhooks, sms, portal and third-party channels ------------------------------------------


async def test_webhooks_are_signed_and_carry_the_idempotency_key(domain: Domain, web: WebhookServer) -> None:
    configure(domain, webhook=WebhookSettings(default_url=web.url("/default"), secret=SECRET))
    world = await make_world(domain, 2, channel="webhook")
    async with domain.transaction(WORKER) as tx:
        await tx.session.execute(
            update(Contact).where(Contact.id == world.contact_ids[0]).values(webhook_url=web.url("/own"))
        )
    assert (await deliver(domain)).sent == 2
    assert sorted(h.path for h in web.received) == ["/default", "/own"]
    for hook in web.received:
        assert hook.headers["Content-Type"] == "application/json"
        assert verify_signature(SECRET, hook.body, hook.headers["X-Pcso-Signature"])
        assert not verify_signature("wrong", hook.body, hook.headers["X-Pcso-Signature"])
        body = json.loads(hook.body)
        assert hook.headers["Idempotency-Key"] == body["id"]
        assert body["id"].startswith(f"statement:{world.statement_id}:")
        assert body["statement"]["body"] == STATEMENT
        assert body["articles"][0]["title"] == WORKAROUND_TITLE
        assert INTERNAL_ARTICLE not in hook.body.decode() and WORK_NOTE not in hook.body.decode()


async def test_webhook_answers_decide_retry_or_dead_letter(
    domain: Domain, web: WebhookServer, clock: FrozenClock
) -> None:
    configure(domain, webhook=WebhookSettings(secret=SECRET), backoff_base=5.0, backoff_max=50.0, jitter=0.0)
    world = await make_world(domain, 4, channel="webhook")
    paths = ["/flaky", "/gone", "/slowdown", "/redirect"]
    async with domain.transaction(WORKER) as tx:
        for contact_id, path in zip(world.contact_ids, paths, strict=True):
            await tx.session.execute(update(Contact).where(Contact.id == contact_id).values(webhook_url=web.url(path)))
    web.answer("/flaky", 503)
    web.answer("/gone", 404)
    web.answer("/slowdown", 429, headers={"Retry-After": "40"})
    web.answer("/redirect", 302)
    await deliver(domain)
    state = {n.contact_id: n for n in await notices(domain)}
    flaky, gone, slow, moved = (state[c] for c in world.contact_ids)
    assert (flaky.state, flaky.last_error) == ("pending", f"HTTP 503 from 127.0.0.1:{web.port}")
    assert flaky.next_attempt_at == clock.now + timedelta(seconds=5)
    assert (gone.state, gone.last_error) == ("dead", f"HTTP 404 from 127.0.0.1:{web.port}")
    assert slow.state == "pending" and slow.next_attempt_at == clock.now + timedelta(seconds=40)
    assert moved.state == "dead" and "redirects are not followed" in moved.last_error

    clock.advance(seconds=40)
    await deliver(domain)
    assert {n.contact_id: n.state for n in await notices(domain)} == dict(
        zip(world.contact_ids, ["sent", "dead", "sent", "dead"], strict=True)
    )
    flaky_bodies = [h.body for h in web.received if h.path == "/flaky"]
    assert len(flaky_bodies) == 2 and flaky_bodies[0] == flaky_bodies[1]


async def test_webhook_without_secret_or_url(domain: Domain, web: WebhookServer) -> None:
    configure(domain, webhook=WebhookSettings(default_url=web.url("/x"), secret=""))
    await make_world(domain, 1, channel="webhook")
    await deliver(domain)
    (n,) = await notices(domain)
    assert n.state == "dead" and "signing secret" in n.last_error
    configure(domain, webhook=WebhookSettings(secret=SECRET))
    await make_world(domain, 1, channel="webhook", prefix="V")
    await deliver(domain)
    last = (await notices(domain))[-1]
    assert last.state == "skipped" and "no webhook URL" in last.last_error
    assert web.received == []


async def test_sms_goes_through_the_gateway_and_portal_is_marked_sent(domain: Domain, web: WebhookServer) -> None:
    configure(domain, webhook=WebhookSettings(secret=SECRET, sms_url=web.url("/sms")))
    world = await make_world(domain, 2, channel="sms")
    portal = await make_world(domain, 2, channel="portal", prefix="P")
    await deliver(domain)
    assert {n.state for n in await notices(domain)} == {"sent"}
    assert [h.path for h in web.received] == ["/sms", "/sms"]
    sent = sorted(json.loads(h.body)["to"] for h in web.received)
    assert sent == ["+46700000000", "+46700000001"]
    assert all(verify_signature(SECRET, h.body, h.headers["X-Pcso-Signature"]) for h in web.received)
    assert all(STATEMENT[:40] in json.loads(h.body)["text"] for h in web.received)
    assert len(world.notice_ids) + len(portal.notice_ids) == 4


async def test_a_third_party_channel_receives_the_notices_of_its_name(domain: Domain) -> None:
    delivered: list[OutboundMessage] = []

    class Pigeon:
        name = "pigeon"

        async def open(self) -> None: ...

        async def close(self) -> None: ...

        async def send_batch(self, messages: Sequence[OutboundMessage]) -> list[DeliveryOutcome]:
            delivered.extend(messages)
            return [DeliveryOutcome.sent(m) for m in messages]

    class PigeonPlugin:
        @hookimpl
        def pcso_notification_channels(self, settings: Settings) -> list[Pigeon]:
            return [Pigeon()]

    pm: pluggy.PluginManager = new_plugin_manager(load_entry_points=False)
    pm.register(PigeonPlugin())
    domain.hooks = pm.hook
    configure(domain)
    world = await make_world(domain, 2, channel="pigeon")
    await make_world(domain, 1, channel="telex", prefix="T")
    report = await deliver(domain)
    assert (report.sent, report.dead) == (2, 1)
    assert sorted(m.notice_id for m in delivered) == world.notice_ids
    assert all(m.channel == "pigeon" and STATEMENT in m.text for m in delivered)
    telex = (await notices(domain))[-1]
    assert telex.state == "dead" and "no notification channel named 'telex'" in telex.last_error


async def test_a_channel_that_raises_fails_its_batch_over_to_a_retry(domain: Domain) -> None:
    class Broken:
        name = "email"

        async def open(self) -> None: ...

        async def close(self) -> None: ...

        async def send_batch(self, messages: Sequence[OutboundMessage]) -> list[DeliveryOutcome]:
            raise RuntimeError("plugin bug")

    configure(domain)
    await make_world(domain, 2)
    report = await deliver(domain, channels=[Broken()])
    assert report.retrying == 2
    assert all("plugin bug" in n.last_error for n in await notices(domain))


# --- the worker loop ----------------------------------------------------------------------------


async def test_stopping_finishes_the_batch_in_flight(domain: Domain) -> None:
    stop = asyncio.Event()
    batches: list[int] = []

    class StopsMidway:
        name = "email"

        async def open(self) -> None: ...

        async def close(self) -> None: ...

        async def send_batch(self, messages: Sequence[OutboundMessage]) -> list[DeliveryOutcome]:
            batches.append(len(messages))
            stop.set()  # SIGTERM arrives while this batch is on the wire
            await asyncio.sleep(0.05)
            return [DeliveryOutcome.sent(m) for m in messages]

    configure(domain, batch_size=5)
    await make_world(domain, 12)
    async with DeliveryWorker(domain, channels=[StopsMidway()]) as worker:
        report = await asyncio.wait_for(worker.run(stop), timeout=10)
    assert batches == [5] and report.sent == 5
    states = [n.state for n in await notices(domain)]
    assert states.count("sent") == 5 and states.count("pending") == 7


async def test_the_running_worker_wakes_on_new_notices(domain: Domain, smtp: SmtpServer) -> None:
    configure(domain, smtp, poll_interval=30.0)
    stop = asyncio.Event()
    async with DeliveryWorker(domain) as worker:
        running = asyncio.create_task(worker.run(stop))
        await asyncio.sleep(0.3)
        world = await make_world(domain, 2)  # commits notices and an event
        async with domain.transaction(WORKER) as tx:
            nudge = StatementPosted(number="", statement_id=0, children=0, notices=0, notices_skipped=0)
            tx.record(world.major_id, nudge)
        for _ in range(100):
            if len(smtp.received) == 2:
                break
            await asyncio.sleep(0.05)
        stop.set()
        await asyncio.wait_for(running, timeout=10)
    assert len(smtp.received) == 2


# --- commands and queries ---------------------------------------------------------------------


async def test_retry_refusals_change_nothing(domain: Domain, smtp: SmtpServer, actors: dict[Role, Actor]) -> None:
    configure(domain, smtp)
    world = await make_world(domain, 2)
    before = ([(n.id, n.state, n.version) for n in await notices(domain)], await count(domain, Event))
    manager = actors[Role.MANAGER]
    with pytest.raises(NotFound, match="no notice 999"):
        await retry_notice(domain, manager, 999)
    with pytest.raises(IllegalTransition, match=f"notice {world.notice_ids[0]} is pending; only dead or skipped"):
        await retry_notice(domain, manager, world.notice_ids[0])
    with pytest.raises(NotFound, match="no case CS0009999"):
        await retry_dead_notices(domain, manager, 9999)
    for role in (Role.OPERATOR, Role.AGENT, Role.CUSTOMER):
        with pytest.raises(PermissionDenied, match="may not retry or dead-letter notices"):
            await retry_notice(domain, actors[role], world.notice_ids[0])
        with pytest.raises(PermissionDenied, match="may not retry or dead-letter notices"):
            await retry_dead_notices(domain, actors[role])
    assert await retry_dead_notices(domain, actors[Role.ADMIN]) == 0
    after = ([(n.id, n.state, n.version) for n in await notices(domain)], await count(domain, Event))
    assert after == before


async def test_notice_queries_filter_page_and_scope_customers(domain: Domain, actors: dict[Role, Actor]) -> None:
    world = await make_world(domain, 3)
    other = await make_world(domain, 2, prefix="X")
    agent = actors[Role.AGENT]
    assert len(await list_notices(domain, agent)) == 5
    assert [v.id for v in await list_notices(domain, agent, case_id=world.major_id)] == sorted(
        world.notice_ids, reverse=True
    )
    child_only = await list_notices(domain, agent, case_id=world.child_ids[1])
    assert [(v.case_number, v.contact_name) for v in child_only] == [(f"CS{world.child_ids[1]:07d}", "Contact 1")]
    page = await list_notices(domain, agent, limit=2, offset=1)
    assert [v.id for v in page] == sorted(world.notice_ids + other.notice_ids, reverse=True)[1:3]
    assert await notice_counts(domain, agent, world.major_id) == {"pending": 3, "sent": 0, "dead": 0, "skipped": 0}

    # The customer user belongs to ACC-T1: give it a notice of its own, then check its view.
    customer = actors[Role.CUSTOMER]
    async with domain.transaction(WORKER) as tx:
        await tx.session.execute(
            update(Notice).where(Notice.id == other.notice_ids[0]).values(account_id=customer.account_id)
        )
    mine = await list_notices(domain, customer)
    assert [v.id for v in mine] == [other.notice_ids[0]]
    # Another account's case, or a major case, answers like a missing one.
    with pytest.raises(NotFound, match=f"^no case CS{world.child_ids[0]:07d}$"):
        await list_notices(domain, customer, case_id=world.child_ids[0])
    with pytest.raises(NotFound, match=f"^no case CS{world.major_id:07d}$"):
        await notice_counts(domain, customer, world.major_id)
    with pytest.raises(InvalidInput, match="unknown notice state 'lost'"):
        await list_notices(domain, agent, state="lost")
    with pytest.raises(NotFound, match="no case CS0009999"):
        await notice_counts(domain, agent, 9999)


async def test_planned_maintenance_notice_by_email(
    domain: Domain, smtp: SmtpServer, clock: FrozenClock, actors: dict[Role, Actor]
) -> None:
    from pcso_tui.domain.communications.outages import create_outage
    from tests.domain.notice_world import make_service_map

    configure(domain, smtp)
    await make_service_map(domain)
    outage = await create_outage(
        domain,
        actors[Role.MANAGER],
        type="planned",
        title="Payments database upgrade",
        details="Payments will be read-only for up to 30 minutes.",
        begins_at=clock.now + timedelta(days=1),
        ends_at=clock.now + timedelta(days=1, hours=1),
        ci_name="payments",
    )
    report = await deliver(domain)
    # A's two contacts are told; E opted out (its notice was queued skipped, nothing to
    # deliver); D is internal and was never queued.
    assert (report.sent, report.skipped) == (2, 0)
    assert sorted(r.rcpt_tos[0] for r in smtp.received) == ["a2@map.example", "a@map.example"]
    got = next(r for r in smtp.received if r.rcpt_tos == ["a@map.example"])
    assert got.message["Subject"] == f"[{outage.number}] Planned maintenance: Payments database upgrade"
    text = got.text
    assert "planned maintenance on payments" in text
    assert "From: 2026-11-24 09:00 UTC" in text and "Until: 2026-11-24 10:00 UTC" in text
    assert "read-only for up to 30 minutes" in text
    (event,) = await events_of_kind(domain, "notices.delivered")
    assert (event.subject_type, event.subject_id, event.payload["sent"]) == ("outage", outage.id, 2)


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")  # loopback only
async def test_smtp_login_from_config(domain: Domain) -> None:
    server = await SmtpServer(login=("pcso", "hunter2")).start()
    try:
        email = EmailSettings(
            host="127.0.0.1", port=server.port, security="none", username="pcso", password="wrong", helo_name="w"
        )
        configure(domain, server, email=email, backoff_max=1.0)
        await make_world(domain, 2)
        report = await deliver(domain)
        assert report.retrying == 2 and server.received == []
        assert all(n.last_error.startswith("SMTP login refused: 535") for n in await notices(domain))

        configure(domain, server, email=replace(email, password="hunter2"))
        domain.clock.advance(seconds=1)  # type: ignore[attr-defined]
        assert (await deliver(domain)).sent == 2
        assert server.logins and set(server.logins) == {"pcso"}
    finally:
        await server.stop()


async def test_an_address_that_could_inject_headers_is_refused(domain: Domain, smtp: SmtpServer) -> None:
    configure(domain, smtp)
    world = await make_world(domain, 2)
    async with domain.transaction(WORKER) as tx:
        await tx.session.execute(
            update(Contact)
            .where(Contact.id == world.contact_ids[0])
            .values(email="victim@x.example\r\nBcc: everyone@x.example")
        )
    report = await deliver(domain)
    assert (report.sent, report.dead) == (1, 1)
    assert [r.rcpt_tos for r in smtp.received] == [[world.emails[1]]]
    assert b"Bcc" not in smtp.received[0].data
    dead = next(n for n in await notices(domain) if n.state == "dead")
    assert dead.last_error.startswith("invalid email address")


async def test_the_running_worker_survives_a_failed_round(domain: Domain, smtp: SmtpServer) -> None:
    configure(domain, smtp, poll_interval=0.05)
    await make_world(domain, 2)
    stop = asyncio.Event()
    async with DeliveryWorker(domain) as worker:
        real = worker.run_once
        failures = []

        async def flaky() -> DeliveryReport:
            if not failures:
                failures.append(1)
                raise ConnectionError("database went away")
            return await real()

        worker.run_once = flaky  # type: ignore[method-assign]
        running = asyncio.create_task(worker.run(stop))
        for _ in range(100):
            if len(smtp.received) == 2:
                break
            await asyncio.sleep(0.05)
        stop.set()
        await asyncio.wait_for(running, timeout=10)
    assert failures == [1] and len(smtp.received) == 2


async def test_two_workers_never_claim_the_same_notice(domain: Domain) -> None:
    class Recorder:
        name = "email"

        def __init__(self) -> None:
            self.ids: list[int] = []

        async def open(self) -> None: ...

        async def close(self) -> None: ...

        async def send_batch(self, messages: Sequence[OutboundMessage]) -> list[DeliveryOutcome]:
            await asyncio.sleep(0.02)  # keep the batch in flight while the other worker claims
            self.ids.extend(m.notice_id for m in messages)
            return [DeliveryOutcome.sent(m) for m in messages]

    configure(domain, batch_size=5)
    world = await make_world(domain, 40)
    first, second = Recorder(), Recorder()
    async with DeliveryWorker(domain, channels=[first]) as a, DeliveryWorker(domain, channels=[second]) as b:
        await asyncio.gather(a.drain(), b.drain())
    assert first.ids and second.ids
    assert set(first.ids).isdisjoint(second.ids)
    assert sorted(first.ids + second.ids) == world.notice_ids
    assert {(n.state, n.attempts) for n in await notices(domain)} == {("sent", 1)}


async def test_line_endings_tabs_and_overrides_reach_no_customer(domain: Domain, smtp: SmtpServer) -> None:
    # One normalisation for every channel: mail text, HTML, subject, SMS and webhook data.
    configure(domain, smtp)
    typed = "Card payments fail.\r\nUse\tbank transfer \u202eesrever"
    await make_world(domain, 1, title="Payments\tslow \u202eX", statement=typed)
    await deliver(domain)
    (got,) = smtp.received
    for part in (got.text, got.html or "", got.message["Subject"]):
        for bad in ("\\x0d", "\\x09", "\r\n\r\n\r", "\t", "\u202e"):
            assert bad not in part, (bad, part)
    assert "Card payments fail.\nUse bank transfer esrever" in got.text.replace("\r\n", "\n")
    async with domain.reading() as session:
        rendered = (await session.scalars(select(Notice.rendered))).one()
    message = compose(json.loads(rendered) if isinstance(rendered, str) else rendered)
    assert message["data"]["statement"]["body"] == "Card payments fail.\nUse bank transfer esrever"
    assert "\t" not in message["sms"] and "\u202e" not in message["sms"]
    assert message["data"]["case"]["title"] == "Payments slow X"


async def test_an_internationalised_domain_is_imported_and_delivered_idna_encoded(
    domain: Domain, smtp: SmtpServer, actors: dict[Role, Actor], tmp_path
) -> None:
    from pcso_tui.domain.install_base.importer import import_records

    configure(domain, smtp)
    world = await make_world(domain, 2)
    path = tmp_path / "contacts.csv"
    path.write_text("number,email\nW-CON-0,x@bücher.example\n", encoding="utf-8")
    result = await import_records(domain, actors[Role.ADMIN], "contacts", path)
    assert result.updated == 1
    async with domain.reading() as session:
        stored = await session.scalar(select(Contact.email).where(Contact.id == world.contact_ids[0]))
    assert stored == "x@bücher.example"  # kept as the customer wrote it
    report = await deliver(domain)
    assert (report.sent, report.dead) == (2, 0)
    got = next(r for r in smtp.received if r.rcpt_tos != [world.emails[1]])
    assert got.rcpt_tos == ["x@xn--bcher-kva.example"]
    assert got.data.isascii()
    assert got.message["To"].addresses[0].addr_spec == "x@xn--bcher-kva.example"
    assert got.message["To"].addresses[0].display_name == "Contact 0"


async def test_an_address_the_channel_cannot_deliver_to_is_dead_at_once_with_the_reason(
    domain: Domain, smtp: SmtpServer
) -> None:
    """Such an address cannot be imported; one written around the importer is not sent."""
    configure(domain, smtp)
    world = await make_world(domain, 2)
    async with domain.transaction(WORKER) as tx:
        await tx.session.execute(
            update(Contact).where(Contact.id == world.contact_ids[0]).values(email="ops@localhost")
        )
    report = await deliver(domain)
    assert (report.sent, report.dead) == (1, 1)
    dead = next(n for n in await notices(domain) if n.state == "dead")
    assert dead.attempts == 1
    assert dead.last_error.startswith("invalid email address 'ops@localhost' (the part after the @-sign")
