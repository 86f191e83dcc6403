"""The event log: written with its change, append-only, followed live across processes."""

from __future__ import annotations

import asyncio
import sys
import textwrap

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import DBAPIError

from pcso_tui.domain.core.event_kinds import AlertOpened, ArticleDetached, CaseNoted, IncidentOpened
from pcso_tui.domain.core.feed import EventFollower
from pcso_tui.domain.core.models import Account, Event
from pcso_tui.domain.core.roles import Actor, Role
from pcso_tui.domain.core.service import Domain


def probe(n: int = 1) -> ArticleDetached:
    """Any event will do; this one tells its number in its payload."""
    return ArticleDetached(article=f"KB{n:07d}")


async def event_count(domain: Domain) -> int:
    async with domain.reading() as session:
        return await session.scalar(select(func.count()).select_from(Event))


async def test_events_commit_with_their_change(domain: Domain, actors: dict[Role, Actor]) -> None:
    before = await event_count(domain)
    async with domain.transaction(actors[Role.ADMIN]) as tx:
        tx.session.add(Account(number="A-1", name="One", created_at=tx.now))
        tx.record(None, probe())
    assert await event_count(domain) == before + 1


async def test_a_failed_command_leaves_neither_change_nor_event(domain: Domain, actors: dict[Role, Actor]) -> None:
    before = await event_count(domain)
    with pytest.raises(RuntimeError):
        async with domain.transaction(actors[Role.ADMIN]) as tx:
            tx.session.add(Account(number="A-2", name="Two", created_at=tx.now))
            tx.record(None, probe())
            await tx.session.flush()
            raise RuntimeError("boom")
    assert await event_count(domain) == before
    async with domain.reading() as session:
        assert await session.scalar(select(Account.id).where(Account.number == "A-2")) is None


@pytest.mark.parametrize("statement", ["update", "delete"])
async def test_the_event_log_cannot_be_edited(domain: Domain, actors: dict[Role, Actor], statement: str) -> None:
    async with domain.transaction(actors[Role.ADMIN]) as tx:
        tx.record(1, probe())
    before = await event_count(domain)
    with pytest.raises(DBAPIError, match="append-only"):
        async with domain.transaction(actors[Role.ADMIN]) as tx:
            if statement == "update":
                await tx.session.execute(update(Event).values(kind="forged"))
            else:
                await tx.session.execute(text("DELETE FROM event"))
    assert await event_count(domain) == before
    async with domain.reading() as session:
        assert "forged" not in (await session.scalars(select(Event.kind))).all()


async def test_follower_delivers_in_order_to_every_subscriber(domain: Domain, actors: dict[Role, Actor]) -> None:
    follower = EventFollower(domain.db)
    await follower.start()
    first: list[int] = []
    second: list[str] = []
    follower.subscribe(lambda events: first.extend(e.id for e in events))

    async def slow(events) -> None:
        await asyncio.sleep(0)
        second.extend(e.payload["article"] for e in events)

    follower.subscribe(slow)
    for n in range(3):
        async with domain.transaction(actors[Role.ADMIN]) as tx:
            tx.record(n, probe(n))
    await follower.poll()
    await follower.close()
    assert second == ["KB0000000", "KB0000001", "KB0000002"]
    assert first == sorted(first) and len(first) == 3


async def test_a_broken_subscriber_does_not_stop_the_others(domain: Domain, actors: dict[Role, Actor]) -> None:
    follower = EventFollower(domain.db)
    await follower.start()
    seen: list[str] = []
    follower.subscribe(lambda events: 1 / 0)
    follower.subscribe(lambda events: seen.extend(e.payload["article"] for e in events))
    async with domain.transaction(actors[Role.ADMIN]) as tx:
        tx.record(1, probe(42))
    await follower.poll()
    await follower.close()
    assert seen == ["KB0000042"]


WRITER = textwrap.dedent(
    """
    import asyncio, sys
    from pcso_tui.domain.core.event_kinds import WorldDemo
    from pcso_tui.domain.core.service import Domain
    from pcso_tui.domain.core.roles import SYSTEM

    async def main(url, count):
        domain = await Domain.open(url)
        for n in range(count):
            async with domain.transaction(SYSTEM) as tx:
                tx.record(n, WorldDemo())
        await domain.close()

    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
    """
)


async def test_follower_sees_another_process_within_a_second(database_url: str, domain: Domain) -> None:
    follower = EventFollower(domain.db, interval=0.1)
    await follower.start()
    arrived: list[tuple[int, float]] = []
    loop = asyncio.get_running_loop()
    follower.subscribe(lambda events: arrived.extend((e.subject_id, loop.time()) for e in events))
    task = asyncio.create_task(follower.run())
    try:
        proc = await asyncio.create_subprocess_exec(sys.executable, "-c", WRITER, database_url, "20")
        assert await proc.wait() == 0
        finished = loop.time()
        deadline = finished + 1.0
        while len(arrived) < 20 and loop.time() < deadline:
            await asyncio.sleep(0.02)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert [sid for sid, _ in arrived] == list(range(20))
    assert arrived[-1][1] - finished < 1.0


async def test_events_read_back_exactly_as_recorded_in_order(domain: Domain, actors: dict[Role, Actor]) -> None:
    """Every field survives the bulk write path (SQLite has its own), across chunk boundaries."""
    from dataclasses import replace

    from pcso_tui.domain.core.events import SQLITE_EVENT_CHUNK, events_after

    async with domain.reading() as session:
        last = await session.scalar(select(func.coalesce(func.max(Event.id), 0)))
    actor = replace(actors[Role.MANAGER], impersonator="admin")
    many = SQLITE_EVENT_CHUNK + 5
    hostile = 'naïve ☃ "q" \\ \n\x1b[31m[b]x[/b]'
    opened = IncidentOpened(
        number="INC0000001", title=hostile, severity="major", rule=None, alert_ids=[1, 2], cis=[hostile], root_ci=None
    )
    noted = CaseNoted(
        number="CS0000007", entry_id=3, line_kind="reply", visibility="customer", children=0, account=hostile
    )
    alerts = [
        AlertOpened(fingerprint=f"fp{n}", name=hostile, severity="minor", ci=None, from_=None) for n in range(many)
    ]
    async with domain.transaction(actor) as tx:
        tx.record(None, opened)
        tx.record_many((n, alerts[n - 1]) for n in range(1, many + 1))
        tx.record(7, noted)
        when = tx.now
    async with domain.reading() as session:
        events = await events_after(session, last, limit=many + 10)
    assert len(events) == many + 2
    assert [e.id for e in events] == sorted(e.id for e in events)
    first, *middle, final = events
    assert (first.kind, first.subject_type, first.subject_id) == ("incident.opened", "incident", None)
    assert first.payload == {
        "number": "INC0000001",
        "title": hostile,
        "severity": "major",
        "rule": None,
        "alert_ids": [1, 2],
        "cis": [hostile],
        "root_ci": None,
    }
    assert first.typed() == opened
    assert (final.subject_id, final.typed()) == (7, noted)
    assert final.payload["account"] == hostile
    assert [(e.kind, e.subject_type, e.subject_id, e.typed()) for e in middle] == [
        ("alert.opened", "alert", n, alerts[n - 1]) for n in range(1, many + 1)
    ]
    assert {(e.at, e.actor_name, e.impersonator) for e in events} == {(when, actor.name, "admin")}
