"""``pcso outages services``, ``pcso outages ivr`` (and its WAV), ``pcso articles search/open``."""

from __future__ import annotations

import asyncio
import json
import shutil
import wave
from pathlib import Path

import pytest
from click.testing import CliRunner

from pcso_tui.cli import main
from pcso_tui.domain.core.service import Domain
from tests.domain.public_world import HOST, MARKER, make_public_world
from tests.identity import set_os_user


@pytest.fixture
def pcso(sqlite_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    async def seed() -> None:
        domain = await Domain.open(sqlite_url)
        try:
            await make_public_world(domain)
        finally:
            await domain.close()

    asyncio.run(seed())
    set_os_user(monkeypatch, "admin")
    config = tmp_path / "config.toml"
    config.write_text("", encoding="utf-8")

    def invoke(*args: str):
        return CliRunner().invoke(main, ["--db", sqlite_url, "--config", str(config), *args])

    assert invoke("users", "add", "admin", "--role", "admin").exit_code == 0
    return invoke


def test_services_and_ivr(pcso) -> None:
    services = json.loads(pcso("outages", "services", "--json").output)
    assert {s["slug"] for s in services} == {"online-banking", "mail", "status-portal"}
    said = pcso("outages", "ivr", "online-banking")
    assert said.exit_code == 0
    assert said.stdout.startswith("We are aware of a problem affecting Online Banking. Online payments are failing.")
    assert len(said.stdout.strip()) <= 300 and MARKER not in said.stdout and HOST not in said.stdout
    quiet = pcso("outages", "ivr", "mail")
    assert quiet.exit_code == 0 and quiet.stdout == "" and "no active outage affects mail" in quiet.stderr
    unknown = pcso("outages", "ivr", "ledger")
    assert unknown.exit_code == 3 and "no public service 'ledger'" in unknown.stderr


def test_ivr_wav_without_espeak_is_a_clear_error(pcso, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr("shutil.which", lambda name: None)
    result = pcso("outages", "ivr", "online-banking", "--wav", str(tmp_path / "x.wav"))
    assert result.exit_code == 1 and "--wav needs espeak-ng" in result.output
    assert not (tmp_path / "x.wav").exists()


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")
def test_ivr_wav_is_spoken_by_espeak(pcso, tmp_path: Path) -> None:
    out = tmp_path / "queue.wav"
    result = pcso("outages", "ivr", "online-banking", "--wav", str(out))
    assert result.exit_code == 0, result.output
    with wave.open(str(out)) as spoken:
        assert spoken.getnframes() / spoken.getframerate() > 3  # seconds of speech


def test_articles_search_and_open(pcso) -> None:
    added = pcso("articles", "add", "--title", "Reset a password", "--body", "Choose 'forgot password'.",
                 "--kind", "knowledge", "--product", "PRD-MAIL")  # fmt: skip
    assert added.exit_code == 0, added.output
    bad = pcso("articles", "add", "--title", "t", "--body", "b", "--product", "PRD-NONE")
    assert bad.exit_code == 3 and "no product 'PRD-NONE'" in bad.output
    found = json.loads(pcso("articles", "search", 'password" NEAR(*', "--json").output)
    assert found["terms"] == ["password", "near"]
    (hit,) = found["hits"]
    assert (hit["number"], hit["product"]) == ("KB0000003", "Mail")
    assert {"text": "password", "highlighted": True} in hit["title_spans"]
    table = pcso("articles", "search", "forgot")
    assert table.exit_code == 0 and "[forgot]" in table.output
    nothing = pcso("articles", "search", "***")
    assert nothing.exit_code == 0 and "no articles found" in nothing.stderr
    opened = pcso("articles", "open", "KB0000003")
    assert opened.exit_code == 0 and opened.output.startswith("KB0000003: Reset a password\n")
    assert pcso("articles", "open", "KB9").exit_code == 3
