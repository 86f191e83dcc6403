"""``pcso incidents|incident|healthcheck|heartbeat`` on a real database file."""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import insert

from pcso_tui.cli import main
from pcso_tui.domain.core.models import CIDependency, ConfigurationItem
from pcso_tui.domain.core.roles import SYSTEM
from pcso_tui.domain.core.service import Domain
from tests.identity import signed_in_as


class Pcso:
    def __init__(self, tmp_path: Path) -> None:
        self.db = str(tmp_path / "pcso.db")
        self.config = tmp_path / "config.toml"
        self.config.write_text("")
        self.runner = CliRunner()

    def __call__(self, *args: str, user: str = "op", stdin: str | None = None) -> Result:
        env = {"PCSO_CONFIG": str(self.config)}
        with signed_in_as(user):
            return self.runner.invoke(main, ["--db", self.db, *args], env=env, input=stdin, catch_exceptions=False)

    def json(self, *args: str) -> object:
        result = self(*args, "--json")
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)


@pytest.fixture
def pcso(tmp_path: Path) -> Pcso:
    cli = Pcso(tmp_path)
    assert cli("db", "upgrade").exit_code == 0
    assert cli("users", "add", "root", "--role", "admin", user="root").exit_code == 0
    assert cli("users", "add", "op", "--role", "operator", user="root").exit_code == 0
    assert cli("users", "add", "agent", "--role", "agent", user="root").exit_code == 0

    async def cis() -> None:
        domain = await Domain.open(cli.db)
        async with domain.transaction(SYSTEM) as tx:
            await tx.session.execute(insert(ConfigurationItem), [{"name": n} for n in ("db-1", "app-1", "app-2")])
            await tx.session.execute(
                insert(CIDependency), [{"ci_id": 2, "depends_on_id": 1}, {"ci_id": 3, "depends_on_id": 1}]
            )
        await domain.close()

    asyncio.run(cis())
    return cli


def test_an_incident_from_open_to_closed(pcso: Pcso) -> None:
    opened = pcso.json(
        "incident", "open", "--title", "Checkout slow", "--severity", "major", "--ci", "app-1", "--ci", "app-2"
    )
    assert (opened["number"], opened["root_ci_name"], opened["opened_by"]) == ("INC0000001", "db-1", "op")
    assert pcso("incident", "note", "INC0000001", "-", stdin="pool restarted\n").exit_code == 0
    assert pcso("incident", "note", "1", "We are on it", "--progress").exit_code == 0
    eta = pcso.json("incident", "eta", "1", "+2h")
    assert eta["eta"] is not None
    assert pcso.json("incident", "state", "1", "in_progress")["state"] == "in_progress"
    assert pcso.json("incident", "resolve", "1", "--code", "fixed", "--notes", "resized")["state"] == "resolved"
    assert pcso.json("incident", "close", "1")["state"] == "closed"
    assert pcso.json("incidents", "list") == []
    (listed,) = pcso.json("incidents", "list", "--all")
    assert listed["number"] == "INC0000001"
    detail = pcso.json("incidents", "show", "INC0000001")
    assert [e["kind"] for e in detail["journal"]] == ["work_note", "progress", "eta", "state", "resolution", "state"]
    assert detail["journal"][0]["body"] == "pool restarted"
    shown = pcso("incidents", "show", "1").stdout
    assert "probable root cause: db-1" in shown and "work note (internal)" in shown


def test_refusals_exit_with_their_code_and_one_line(pcso: Pcso) -> None:
    assert pcso("incident", "open", "--title", "x", "--severity", "minor").exit_code == 0
    result = pcso("incident", "close", "1")
    assert result.exit_code == 5
    assert (
        result.stderr
        == "pcso: INC0000001 is new and cannot become closed; allowed: canceled, in_progress, on_hold, resolved\n"
    )
    result = pcso("incident", "state", "1", "in_progress", "--expect-version", "7")
    assert result.exit_code == 7 and "was changed by op" in result.stderr
    result = pcso("incident", "note", "1", "x", "--progress", user="agent")
    assert (result.exit_code, result.stderr) == (4, "pcso: agent (agent) may not update incidents\n")
    result = pcso("incident", "open", "--title", "x", "--severity", "minor", "--ci", "nope")
    assert result.exit_code == 3 and "unknown CI 'nope'" in result.stderr
    assert pcso("incidents", "show", "INC99").exit_code == 3
    for args in (("incidents", "show", "CS0000001"), ("incident", "eta", "1", "tomorrow")):
        result = pcso(*args)
        assert result.exit_code == 2 and "is not" in result.stderr


def test_hostile_text_reaches_the_terminal_inert(pcso: Pcso) -> None:
    assert pcso("incident", "open", "--title", "[bold]x[/\x1b[2J", "--severity", "minor").exit_code == 0
    assert pcso("incident", "note", "1", "line\x1b]0;pwned\x07\nnext").exit_code == 0
    for args in (("incidents", "list"), ("incidents", "show", "1")):
        output = pcso(*args).stdout
        assert "\x1b" not in output and "\x07" not in output
        assert "[bold]x[/\\x1b[2J" in output


def test_heartbeat_and_healthcheck_need_configured_checks(pcso: Pcso) -> None:
    result = pcso("heartbeat", "nightly")
    assert (result.exit_code, result.stderr) == (
        3,
        "pcso: no heartbeat check named 'nightly' ([[healthchecks.heartbeat]]: none configured)\n",
    )
    result = pcso("healthcheck", "run", "--once")
    assert result.exit_code == 6 and "no health checks configured" in result.stderr
    pcso.config.write_text('[[healthchecks.heartbeat]]\nname = "nightly"\n')
    assert pcso.json("heartbeat", "nightly")["reports"] == 1
    assert pcso("heartbeat", "nightly").stdout.startswith("nightly: report 2 at ")
    assert pcso("heartbeat", "nightly", user="agent").exit_code == 4


def test_healthcheck_run_once_feeds_alert_ingestion_and_opens_an_incident(pcso: Pcso) -> None:
    pytest.importorskip(
        "pcso_tui.domain.operations.alerts", reason="alert ingestion (domain/operations/alerts.py) is not in this build"
    )
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    pcso.config.write_text(
        "[healthchecks]\nfailures_to_critical = 1\n"
        f'[[healthchecks.tcp]]\nname = "db-port"\nhost = "127.0.0.1"\nport = {port}\nci = "db-1"\n'
    )
    (sent,) = pcso.json("healthcheck", "run", "--once")
    assert (sent["fingerprint"], sent["status"], sent["severity"]) == ("healthcheck:db-port:tcp", "firing", "critical")
    (incident,) = pcso.json("incidents", "list")
    assert (incident["root_ci_name"], incident["alert_count"], incident["opened_by_rule"]) == (
        "db-1",
        1,
        "correlation:severity",
    )
    assert pcso("healthcheck", "run", "--once").stdout.strip() == "no change"


def test_acting_as_someone_else_is_for_admins_and_recorded(pcso: Pcso) -> None:
    refused = pcso(
        "--as", "op", "incident", "open", "--title", "Forged", "--severity", "major", "--ci", "app-1", user="agent"
    )
    assert refused.exit_code == 4 and "may" in refused.stderr
    assert pcso.json("incidents", "list") == []
    opened = pcso(
        "--as",
        "op",
        "incident",
        "open",
        "--title",
        "Slow",
        "--severity",
        "major",
        "--ci",
        "app-1",
        "--json",
        user="root",
    )
    assert opened.exit_code == 0, opened.output
    assert json.loads(opened.stdout)["opened_by"] == "op"
    events = pcso("events", "list", user="root")
    assert events.exit_code == 0 and "op (via root)" in events.stdout
