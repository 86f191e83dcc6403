"""The ``pcso worker``, ``notices``, ``outages``, ``articles`` and ``status-page`` commands."""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from click.testing import CliRunner

from pcso_tui.cli import main
from pcso_tui.domain.core.service import Domain
from tests.domain.notice_world import make_world
from tests.identity import set_os_user


class Inbox:
    def __init__(self) -> None:
        self.rcpts: list[str] = []

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        self.rcpts.extend(envelope.rcpt_tos)  # type: ignore[attr-defined]
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def pcso(sqlite_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    set_os_user(monkeypatch, "admin")
    config = tmp_path / "config.toml"
    config.write_text("", encoding="utf-8")
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None):
        return runner.invoke(main, ["--db", sqlite_url, "--config", str(config), *args], input=input)

    invoke.config = config  # type: ignore[attr-defined]
    assert invoke("db", "upgrade").exit_code == 0
    assert invoke("users", "add", "admin", "--role", "admin").exit_code == 0
    return invoke


def test_outages_and_articles_from_the_command_line(pcso, sqlite_url: str, tmp_path: Path) -> None:
    added = pcso(
        "outages", "add", "--type", "planned", "--title", "DB \x1b[2J upgrade", "--begins", "2030-01-01T22:00",
        "--ends", "2030-01-01T23:00+00:00", "--details", "-", input="Read-only for 30 minutes.\n",
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    assert added.output.startswith("OUT0000001 planned planned: DB \\x1b[2J upgrade")
    listed = json.loads(pcso("outages", "list", "--json").output)
    assert [(o["number"], o["details"], o["begins_at"]) for o in listed] == [
        ("OUT0000001", "Read-only for 30 minutes.\n", "2030-01-01T22:00:00+00:00")
    ]
    table = pcso("outages", "list").output
    assert "\x1b" not in table and "OUT0000001" in table

    bad_time = pcso("outages", "add", "--type", "planned", "--title", "x", "--begins", "tomorrow")
    assert bad_time.exit_code == 2 and "'tomorrow' is not a time" in bad_time.output
    not_begun = pcso("outages", "end", "OUT0000001")
    assert not_begun.exit_code == 6 and "cannot end before that" in not_begun.output
    assert pcso("outages", "end", "OUTX").exit_code == 2
    moved = pcso("outages", "update", "OUT0000001", "--begins", "2030-01-02T22:00", "--ends", "2030-01-02T23:00")
    assert moved.exit_code == 0, moved.output

    article = pcso("articles", "add", "--title", "Use the backup URL", "--body", "See backup.example")
    assert article.exit_code == 0 and article.output.strip() == "added KB0000001: Use the backup URL"
    missing = pcso("articles", "attach", "CS0000099", "KB0000001")
    assert missing.exit_code == 3 and "no case CS0000099" in missing.output
    assert "KB0000001" in pcso("articles", "list").output

    out = tmp_path / "site"
    written = pcso("status-page", "--out", str(out))
    assert written.exit_code == 0, written.output
    assert "DB \\x1b[2J upgrade" in (out / "index.html").read_text(encoding="utf-8")


def test_worker_once_and_the_notice_commands(pcso, sqlite_url: str, tmp_path: Path) -> None:
    async def seed() -> None:
        domain = await Domain.open(sqlite_url)
        try:
            await make_world(domain, 3)
        finally:
            await domain.close()

    asyncio.run(seed())
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        pcso.config.write_text(  # type: ignore[attr-defined]
            f'[delivery.email]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\n', encoding="utf-8"
        )
        assert "pending" in pcso("notices", "list").output
        result = pcso("worker", "--once", "--status-page", str(tmp_path / "site"))
        assert result.exit_code == 0, result.output
        assert "sent 3, retrying 0, dead 0, skipped 0 (of 3 claimed)" in result.output
    finally:
        controller.stop()
    assert sorted(inbox.rcpts) == ["contact0@w.example", "contact1@w.example", "contact2@w.example"]
    assert (tmp_path / "site" / "index.html").exists()

    counts = json.loads(pcso("notices", "counts", "CS0000001", "--json").output)
    assert counts == {"pending": 0, "sent": 3, "dead": 0, "skipped": 0}
    assert pcso("notices", "list", "--state", "sent", "--case", "CS0000001").output.count("statement") == 3
    usage = pcso("notices", "retry")
    assert usage.exit_code == 2 and "give a notice id, or --dead" in usage.output
    sent = pcso("notices", "retry", "1")
    assert sent.exit_code == 5 and "only dead or skipped notices can be retried" in sent.output
    assert pcso("notices", "retry", "--dead").output.strip() == "re-queued 0 dead notices"


def test_a_bad_email_setting_is_named(pcso) -> None:
    pcso.config.write_text('[delivery.email]\nsecurity = "ssl"\n', encoding="utf-8")  # type: ignore[attr-defined]
    result = pcso("worker", "--once")
    assert result.exit_code == 6
    assert "[delivery.email] security = 'ssl': must be one of starttls, tls, none" in result.output
