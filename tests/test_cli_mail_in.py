"""``pcso mail-in``: the command as an MTA meets it (a real process on loopback), and its refusals."""

from __future__ import annotations

import asyncio
import os
import smtplib
import subprocess
import sys
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import select

from pcso_tui.domain.core.models import JournalEntry, Notice
from pcso_tui.domain.core.reply_tokens import reply_address
from pcso_tui.domain.core.service import Domain
from pcso_tui.domain.core.settings import MailInSettings
from tests.domain.notice_world import make_world
from tests.test_cli_delivery import free_port

SECRET = "cli-mail-in-secret-0123456789"
CONFIG = f'[mail_in]\naddress = "replies@support.example"\nsecret = "{SECRET}"\n'


def _env(config: Path) -> dict[str, str]:
    env = {**os.environ, "PCSO_CONFIG": str(config)}
    for name in ("PCSO_DATABASE_URL", "PCSO_MAIL_IN_SECRET"):
        env.pop(name, None)
    return env


def test_pcso_mail_in_takes_a_reply_over_lmtp(sqlite_url: str, tmp_path: Path) -> None:
    async def seed() -> tuple[int, str, str]:
        domain = await Domain.open(sqlite_url)
        try:
            world = await make_world(domain, 1)
            async with domain.reading() as session:
                notice = (await session.scalars(select(Notice))).one()
            settings = MailInSettings(address="replies@support.example", secret=SECRET)
            address = reply_address(settings, SECRET.encode(), world.child_ids[0], notice.contact_id, notice.created_at)
            return world.child_ids[0], world.emails[0], address
        finally:
            await domain.close()

    case_id, sender, address = asyncio.run(seed())
    config = tmp_path / "config.toml"
    config.write_text(CONFIG, encoding="utf-8")
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "pcso_tui", "--db", sqlite_url, "mail-in", "--port", str(port), "--lmtp"],
        stderr=subprocess.PIPE,
        text=True,
        env=_env(config),
    )
    try:
        assert server.stderr is not None
        line = server.stderr.readline()
        assert f"receiving replies for replies@support.example over LMTP on 127.0.0.1:{port}" in line
        message = EmailMessage()
        message["From"] = sender
        message["To"] = address
        message["Subject"] = "Re: Update"
        message.set_content("Thanks for the heads-up.\n\n> Payments are failing\n")
        with smtplib.LMTP("127.0.0.1", port) as client:
            assert client.send_message(message) == {}
            with pytest.raises(smtplib.SMTPRecipientsRefused):
                client.sendmail(sender, ["someone@support.example"], message.as_bytes())
    finally:
        server.terminate()
        server.wait(timeout=30)

    async def lines() -> list[str]:
        domain = await Domain.open(sqlite_url)
        try:
            async with domain.reading() as session:
                query = select(JournalEntry.body).where(JournalEntry.case_id == case_id, JournalEntry.kind == "reply")
                return list((await session.scalars(query)).all())
        finally:
            await domain.close()

    assert asyncio.run(lines()) == ["Thanks for the heads-up."]


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ("", "pcso: [mail_in] address is not set"),
        ('[mail_in]\naddress = "replies+x@support.example"\n', "must be a plain mailbox"),
        ('[mail_in]\naddress = "r@support.example"\nprotocol = "pop3"\n', "protocol = 'pop3' must be smtp or lmtp"),
    ],
)
def test_pcso_mail_in_refuses_a_missing_or_bad_setting(
    sqlite_url: str, tmp_path: Path, config: str, message: str
) -> None:
    path = tmp_path / "config.toml"
    path.write_text(config, encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "pcso_tui", "--db", sqlite_url, "mail-in", "--port", "0"],
        capture_output=True,
        text=True,
        env=_env(path),
        timeout=60,
    )
    assert result.returncode == 6, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr
