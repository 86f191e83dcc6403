"""A worker process killed with SIGKILL mid-fan-out, then restarted: nothing lost, nothing
different sent twice, duplicates only as identical re-sends bounded by the batch in flight."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path
from typing import Any

import pytest

from pcso_tui.domain.core.service import Domain
from tests.domain.notice_world import SmtpServer, make_world, notices

CONTACTS = 120
BATCH = 25
KILL_AFTER = 40


class SlowInbox(SmtpServer):
    """A relay that takes a few milliseconds per message, so a batch is on the wire a while."""

    def __init__(self) -> None:
        super().__init__()
        self.reached = asyncio.Event()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        await asyncio.sleep(0.005)
        reply = await super().handle_DATA(server, session, envelope)
        if len(self.received) >= KILL_AFTER:
            self.reached.set()
        return reply


def config(tmp_path: Path, port: int) -> Path:
    path = tmp_path / "worker.toml"
    path.write_text(
        f"""
[delivery]
batch_size = {BATCH}
concurrency = 2
lease_seconds = 1.0
poll_interval = 0.2
backoff_base = 0.2
backoff_max = 1.0

[delivery.email]
host = "127.0.0.1"
port = {port}
security = "none"
from_address = "status@pcso.example"
helo_name = "worker.test"
timeout = 10.0
""",
        encoding="utf-8",
    )
    return path


async def start_worker(database_url: str, config_path: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "pcso_tui",
        "--db",
        database_url,
        "--config",
        str(config_path),
        "worker",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


@pytest.mark.slow
async def test_killed_worker_restarted_sends_every_contact_one_message(
    domain: Domain, database_url: str, tmp_path: Path
) -> None:
    world = await make_world(domain, CONTACTS)
    inbox = await SlowInbox().start()
    try:
        path = config(tmp_path, inbox.port)
        doomed = await start_worker(database_url, path)
        try:
            await asyncio.wait_for(inbox.reached.wait(), timeout=60)
        finally:
            doomed.kill()  # SIGKILL: no chance to record the batch in flight
            await doomed.wait()
        assert doomed.returncode == -signal.SIGKILL
        at_kill = len(inbox.received)
        assert at_kill < CONTACTS  # it died mid-fan-out
        assert any(n.state == "pending" for n in await notices(domain))

        worker = await start_worker(database_url, path)
        try:
            for _ in range(600):
                if all(n.state == "sent" for n in await notices(domain)):
                    break
                await asyncio.sleep(0.1)
            worker.send_signal(signal.SIGTERM)  # graceful: finishes its batch, then exits 0
            out, err = await asyncio.wait_for(worker.communicate(), timeout=60)
        finally:
            if worker.returncode is None:
                worker.kill()
                await worker.wait()
        assert worker.returncode == 0, err.decode()
        assert b"pcso worker: sent" in out
    finally:
        await inbox.stop()

    rows = await notices(domain)
    assert {n.state for n in rows} == {"sent"}
    by_rcpt = inbox.by_recipient()
    assert sorted(by_rcpt) == sorted(world.emails)  # every contact reached
    for address, copies in by_rcpt.items():  # a duplicate is the same message, byte for byte
        assert len({c.data for c in copies}) == 1, address
        assert len({c.message_id for c in copies}) == 1, address
    assert len({r.message_id for r in inbox.received}) == CONTACTS
    duplicates = len(inbox.received) - CONTACTS
    assert 0 <= duplicates <= BATCH
