"""A real MTA in front of ``pcso mail-in``: Debian's Postfix, wired as docs/mail-in.md says
(``recipient_delimiter``, ``transport_maps`` → ``lmtp:inet:127.0.0.1:PORT``), hands a reply
over LMTP and bounces a forged one with the receiver's reason.

Runs only where ``/usr/sbin/postfix`` is installed and the tests run as root (Postfix's master
starts as root); skipped cleanly elsewhere. The instance is private: its own configuration,
queue and ports under a temporary directory, stopped and removed afterwards.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import smtplib
import subprocess
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import select

from pcso_tui.domain.core.models import JournalEntry, Notice
from pcso_tui.domain.core.reply_tokens import reply_address
from pcso_tui.domain.core.service import Domain
from pcso_tui.domain.core.settings import MailInSettings
from pcso_tui.mail_in import start
from tests.domain.notice_world import make_world
from tests.test_cli_delivery import free_port

POSTFIX = Path("/usr/sbin/postfix")
SECRET = "postfix-test-secret-0123456789"
SETTINGS = MailInSettings(address="replies@support.example", secret=SECRET)

pytestmark = [
    pytest.mark.skipif(not POSTFIX.exists(), reason="Postfix is not installed (/usr/sbin/postfix)"),
    pytest.mark.skipif(os.name != "posix" or os.geteuid() != 0, reason="Postfix's master needs root"),
]

MASTER_CF = """\
127.0.0.1:{smtp_port} inet n - n - - smtpd
pickup    unix n - n 60 1 pickup
cleanup   unix n - n - 0 cleanup
qmgr      unix n - n 300 1 qmgr
rewrite   unix - - n - - trivial-rewrite
bounce    unix - - n - 0 bounce
defer     unix - - n - 0 bounce
trace     unix - - n - 0 bounce
verify    unix - - n - 1 verify
flush     unix n - n 1000? 0 flush
proxymap  unix - - n - - proxymap
smtp      unix - - n - - smtp
relay     unix - - n - - smtp
showq     unix n - n - - showq
error     unix - - n - - error
retry     unix - - n - - error
discard   unix - - n - - discard
lmtp      unix - - n - - lmtp
anvil     unix - - n - 1 anvil
scache    unix - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
"""

MAIN_CF = """\
compatibility_level = 3.6
queue_directory = {root}/spool
data_directory = {root}/data
maillog_file = {root}/postfix.log
maillog_file_prefixes = {root}
syslog_name = pcso-test-postfix
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = mx.pcso-test.example
mydestination =
relay_domains = support.example
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
alias_maps =
local_recipient_maps =
smtputf8_enable = no
# What docs/mail-in.md asks for:
recipient_delimiter = +
transport_maps = texthash:{root}/etc/transport
lmtp_destination_recipient_limit = 1
"""


class Postfix:
    def __init__(self, root: Path, smtp_port: int, lmtp_port: int) -> None:
        self.root = root
        self.smtp_port = smtp_port
        self.config = root / "etc"
        self.config.mkdir()
        (root / "spool").mkdir()
        (root / "data").mkdir()
        shutil.chown(root / "data", user="postfix")
        (self.config / "main.cf").write_text(MAIN_CF.format(root=root), encoding="utf-8")
        (self.config / "master.cf").write_text(MASTER_CF.format(smtp_port=smtp_port), encoding="utf-8")
        (self.config / "transport").write_text(
            f"replies@support.example   lmtp:inet:127.0.0.1:{lmtp_port}\n", encoding="utf-8"
        )

    def postfix(self, command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(POSTFIX), "-c", str(self.config), command], capture_output=True, text=True, timeout=60
        )

    def log(self) -> str:
        path = self.root / "postfix.log"
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""


@pytest.fixture
def postfix_ports() -> tuple[int, int]:
    return free_port(), free_port()


@pytest.fixture
def postfix(postfix_ports: tuple[int, int]) -> Iterator[Postfix]:
    # Not under pytest's tmp_path: the postfix user must be able to reach the queue.
    root = Path(tempfile.mkdtemp(prefix="pcso-postfix-", dir="/tmp"))
    root.chmod(0o755)
    server = Postfix(root, *postfix_ports)
    started = server.postfix("start")
    if started.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        pytest.skip(f"Postfix did not start here: {started.stderr.strip() or started.stdout.strip()}")
    try:
        yield server
    finally:
        server.postfix("stop")
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
async def mail_in(domain: Domain, postfix_ports: tuple[int, int]) -> AsyncIterator[None]:
    domain.settings = replace(domain.settings, mail_in=SETTINGS)
    server = await start(domain, host="127.0.0.1", port=postfix_ports[1], lmtp=True)
    yield
    server.close()
    await server.wait_closed()


async def _eventually(check, what: str, seconds: float = 60.0):  # type: ignore[no-untyped-def]
    """Postfix delivers from its queue on its own time: wait for the outcome, not a duration."""
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        found = await check()
        if found:
            return found
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"Postfix did not {what} within {seconds} s")
        await asyncio.sleep(0.2)


async def test_postfix_hands_a_reply_over_lmtp_and_bounces_a_forged_one(
    domain: Domain, postfix: Postfix, mail_in: None
) -> None:
    world = await make_world(domain, 1)
    async with domain.reading() as session:
        notice = (await session.scalars(select(Notice))).one()
    address = reply_address(SETTINGS, SECRET.encode(), world.child_ids[0], notice.contact_id, notice.created_at)
    forged = address.replace(address.split("-")[-1].split("@")[0], "0" * 20)
    sender = world.emails[0]

    def send(to: str, text: str) -> None:
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = sender, to, "Re: Update"
        message.set_content(text)
        with smtplib.SMTP("127.0.0.1", postfix.smtp_port, timeout=30) as client:
            client.send_message(message)

    await asyncio.to_thread(send, address, "Through Postfix.\n\nOn Mon, Service status wrote:\n> old\n")
    await asyncio.to_thread(send, forged, "Forged.")

    async def landed() -> list[str]:
        async with domain.reading() as session:
            query = select(JournalEntry.body).where(JournalEntry.kind == "reply")
            return list((await session.scalars(query)).all())

    assert await _eventually(landed, "deliver the reply") == ["Through Postfix."]

    async def bounced() -> bool:
        return "status=bounced" in postfix.log()

    await _eventually(bounced, "bounce the forged reply")
    log = postfix.log()
    assert "the reply address is not one we issued" in log
    assert await landed() == ["Through Postfix."]
