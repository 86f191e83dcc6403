"""The alert commands of ``pcso``, run as a user would (a real SQLite file, the real CLI)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from pcso_tui.cli import main
from tests.alerting import HOSTILE, am_alert, am_message
from tests.identity import set_os_user


@pytest.fixture
def pcso(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Run ``pcso --db <file> …`` as the OS user ``admin`` (bootstrapped as the first admin)."""
    set_os_user(monkeypatch, "admin")
    monkeypatch.setenv("PCSO_CONFIG", str(tmp_path / "absent.toml"))
    database = str(tmp_path / "pcso.db")
    runner = CliRunner()

    def run(*args: str, input: str | None = None):
        return runner.invoke(main, ["--db", database, *args], input=input, catch_exceptions=False)

    assert run("db", "upgrade").exit_code == 0
    assert run("users", "add", "admin", "--role", "admin").exit_code == 0
    return run


def test_ingest_a_file_then_list_and_acknowledge(pcso, tmp_path: Path) -> None:
    path = tmp_path / "alerts.jsonl"
    path.write_text(
        json.dumps(am_message(am_alert(summary=HOSTILE))) + "\n" + json.dumps({"name": "probe", "ci": "db-1"}) + "\n"
    )
    result = pcso("ingest", str(path))
    assert result.exit_code == 0, result.output
    assert result.output.startswith("2 received, 2 new, 0 updated")
    again = pcso("ingest", "-", "--json", input=path.read_text())
    assert json.loads(again.output)["updated"] == 2

    listed = pcso("alerts", "list", "--json")
    found = {a["name"]: a for a in json.loads(listed.output)}
    assert found["HighLatency"]["summary"] == HOSTILE  # --json keeps the text as it is
    table = pcso("alerts", "list", "--severity", "critical")
    assert "!! critical" in table.output and "\x1b" not in table.output  # the table never passes escapes
    assert "probe" not in table.output

    alert_id = str(found["HighLatency"]["id"])
    assert pcso("alerts", "ack", alert_id).output.strip() == f"alert {alert_id} (HighLatency) acknowledged"
    refused = pcso("alerts", "ack", alert_id)
    assert (refused.exit_code, refused.output.strip()) == (5, f"pcso: alert {alert_id} is already acknowledged")
    assert pcso("alerts", "ack", alert_id, "--undo").exit_code == 0


def test_an_invalid_file_stores_nothing_and_exits_6(pcso, tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps([{"name": "ok"}, {"name": "bad", "severity": "loud"}]))
    result = pcso("ingest", str(path))
    assert result.exit_code == 6
    assert "alerts[1].severity: unknown severity 'loud'" in result.output
    assert json.loads(pcso("alerts", "list", "--json").output) == []


def test_maintenance_needs_a_known_ci(pcso) -> None:
    result = pcso("maintenance", "add", "nowhere", "--until", "2099-01-01T00:00Z", "--reason", "x")
    assert (result.exit_code, result.output.strip()) == (3, "pcso: no CI named 'nowhere'")
    assert pcso("maintenance", "list", "--json").output.strip() == "[]"
