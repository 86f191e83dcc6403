"""Faults with real processes: a worker and a process approving major cases and posting
statements are SIGKILLed at random points, again and again, and restarted. Afterwards the
database is sound and every promise holds:

* ``PRAGMA integrity_check`` is ok (SQLite);
* an approval is all-or-none: an accepted major case has one child per affected account, a
  proposal none;
* a statement is on all open children of its major case or on none;
* every email notice is sent, and reached the relay under its own Message-ID (the idempotency
  key); a copy the relay saw twice is the same message byte for byte;
* every approval and statement event is present exactly once.
"""

from __future__ import annotations

import asyncio
import random
import signal
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from pcso_tui.domain.casework import major_cases as mc
from pcso_tui.domain.core.models import Case, Event, JournalEntry, Notice, Statement
from pcso_tui.domain.core.roles import Actor, Role
from pcso_tui.domain.core.service import Domain
from tests.domain.notice_world import SmtpServer, make_world
from tests.domain.test_worker_crash import config, start_worker

pytestmark = pytest.mark.slow

ACCOUNTS = 12
CANDIDATES = 6
STATEMENTS = 2  # per major case
ROUNDS = 8
BUDGET = 50.0  # seconds for the whole test

DRIVER = textwrap.dedent(
    """
    import asyncio, sys
    from sqlalchemy import func, select
    from pcso_tui.domain.casework import major_cases as mc
    from pcso_tui.domain.core.errors import DomainError
    from pcso_tui.domain.core.models import Case, Statement
    from pcso_tui.domain.core.service import Domain
    from pcso_tui.domain.core.users import sign_in

    async def main(url, statements):
        domain = await Domain.open(url)
        try:
            manager = await sign_in(domain, "manager")
            while True:
                async with domain.reading() as s:
                    proposed = list(await s.scalars(
                        select(Case.id).where(Case.major_case_state == "proposed").order_by(Case.id)))
                    short = list(await s.execute(
                        select(Case.id, func.count(Statement.id))
                        .outerjoin(Statement, Statement.case_id == Case.id)
                        .where(Case.major_case_state == "accepted", Case.kind == "major")
                        .group_by(Case.id).having(func.count(Statement.id) < statements)))
                if not proposed and not short:
                    print("done", flush=True)
                    return
                for case_id in proposed:
                    await mc.approve_major_case(domain, manager, case_id)
                for case_id, n in short:
                    await mc.post_statement(domain, manager, case_id, f"Update {n + 1} on {case_id}")
        finally:
            await domain.close()

    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
    """
)


async def start_driver(url: str) -> asyncio.subprocess.Process:
    root = str(Path(__file__).resolve().parents[1])
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        DRIVER,
        url,
        str(STATEMENTS),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=root,
    )


async def kill(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        proc.send_signal(signal.SIGKILL)
    await proc.wait()


async def test_sigkilled_processes_leave_every_promise_kept(
    domain: Domain, database_url: str, actors: dict[Role, Actor], tmp_path: Path
) -> None:
    started = time.monotonic()
    rng = random.Random(8)
    await make_world(domain, ACCOUNTS, queue=False)
    numbers = [f"W-ACC-{i}" for i in range(ACCOUNTS)]
    manager = actors[Role.MANAGER]
    candidates = [
        (
            await mc.open_major_candidate(
                domain,
                manager,
                short_description=f"outage {i}",
                reason="r",
                business_impact="b",
                account_numbers=numbers,
            )
        ).id
        for i in range(CANDIDATES)
    ]
    inbox = await SmtpServer().start()
    path = config(tmp_path, inbox.port)
    kills = Counter[str]()
    try:
        for _ in range(ROUNDS):
            driver = await start_driver(database_url)
            worker = await start_worker(database_url, path)
            await asyncio.sleep(rng.uniform(0.4, 1.6))  # interpreter start-up is ~0.5 s
            for name, proc in (("driver", driver), ("worker", worker)):
                kills[name] += proc.returncode is None
                await kill(proc)
            if time.monotonic() - started > BUDGET * 0.5:
                break
        # Recovery: the driver finishes what is left, the worker drains the queue.
        driver = await start_driver(database_url)
        worker = await start_worker(database_url, path)
        out, err = await asyncio.wait_for(driver.communicate(), timeout=BUDGET)
        assert driver.returncode == 0, err.decode()
        assert out.strip().endswith(b"done")
        deadline = time.monotonic() + BUDGET * 0.4
        while time.monotonic() < deadline:
            async with domain.reading() as s:
                waiting = await s.scalar(
                    select(func.count()).select_from(Notice).where(Notice.state.notin_(("sent", "skipped")))
                )
            if not waiting:
                break
            await asyncio.sleep(0.2)
        worker.send_signal(signal.SIGTERM)
        await asyncio.wait_for(worker.wait(), timeout=30)
    finally:
        for proc in (driver, worker):
            await kill(proc)
        await inbox.stop()
    assert kills["driver"] + kills["worker"] >= 2, kills  # something was really killed mid-way

    async with domain.reading() as s:
        if domain.db.is_sqlite:
            assert (await s.execute(text("PRAGMA integrity_check"))).scalar() == "ok"
        children = Counter(
            (await s.scalars(select(Case.parent_id).where(Case.parent_id.in_(candidates), Case.kind == "child"))).all()
        )
        states = dict((await s.execute(select(Case.id, Case.major_case_state).where(Case.id.in_(candidates)))).all())
        statements = (await s.execute(select(Statement.id, Statement.case_id, Statement.body))).all()
        copies = Counter(
            (
                await s.scalars(
                    select(JournalEntry.body).where(
                        JournalEntry.kind == "statement", JournalEntry.case_id.notin_(candidates)
                    )
                )
            ).all()
        )
        approvals = Counter(
            (await s.scalars(select(Event.subject_id).where(Event.kind == "major_case.approved"))).all()
        )
        posted = Counter((await s.scalars(select(Event.subject_id).where(Event.kind == "statement.posted"))).all())
        rows = (await s.execute(select(Notice.idempotency_key, Notice.state, Notice.channel))).all()

    assert set(states.values()) == {"accepted"}
    for case_id in candidates:  # all-or-none per approval, approved once
        assert children[case_id] == ACCOUNTS, case_id
        assert approvals[case_id] == 1, case_id
    per_major = Counter(case_id for _, case_id, _ in statements if case_id in candidates)
    assert per_major == {c: STATEMENTS for c in candidates}
    for _, case_id, body in statements:
        if case_id in candidates:
            assert copies[body] == ACCOUNTS, body  # on every open child
    assert {c: posted[c] for c in candidates} == per_major  # one event per statement
    assert {state for _, state, _ in rows} == {"sent"}
    expected = {key for key, _, channel in rows if channel == "email"}
    # The world's own major case (one statement already) takes STATEMENTS - 1 more from the driver.
    assert len(expected) == CANDIDATES * ACCOUNTS * (1 + STATEMENTS) + ACCOUNTS * (STATEMENTS - 1)
    by_id: dict[str, set[bytes]] = {}
    for message in inbox.received:
        by_id.setdefault(message.message_id, set()).add(message.data)
    assert len(by_id) == len(expected)  # no notice lost: one Message-ID per notice
    assert all(len(copies) == 1 for copies in by_id.values())  # a re-send is the same message
