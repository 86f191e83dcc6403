"""``pcso cases`` / ``pcso case``: the whole major-case flow from a shell, JSON, exit codes."""

from __future__ import annotations

import asyncio
import json

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import func, select

from pcso_tui.cli import main
from pcso_tui.domain.core.models import Case, Event
from pcso_tui.domain.core.roles import Actor, Role
from pcso_tui.domain.core.service import Domain
from pcso_tui.domain.core.users import add_user, sign_in
from tests.domain.case_world import AFFECTED, HOSTILE, NOTIFIED, SKIPPED, build_world
from tests.identity import signed_in_as


@pytest.fixture
def db(sqlite_url: str) -> str:
    async def make() -> None:
        domain = await Domain.open(sqlite_url)
        try:
            await add_user(domain, Actor(user_id=None, name="root", role=Role.CUSTOMER), "admin", Role.ADMIN)
            admin = await sign_in(domain, "admin")
            await build_world(domain)
            for role in ("operator", "agent", "manager"):
                await add_user(domain, admin, role, role)
            await add_user(domain, admin, "customer", Role.CUSTOMER, account_number="ACC-T1")
        finally:
            await domain.close()

    asyncio.run(make())
    return sqlite_url


def pcso(db: str, user: str, *args: str, input: str | None = None) -> Result:
    env = {"PCSO_CONFIG": "/nonexistent/pcso-config.toml"}
    with signed_in_as(user):
        return CliRunner().invoke(main, ["--db", db, *args], env=env, input=input, catch_exceptions=False)


def count(db: str, model: type, *where) -> int:
    async def go() -> int:
        domain = await Domain.open(db)
        try:
            async with domain.reading() as session:
                return await session.scalar(select(func.count()).select_from(model).where(*where))
        finally:
            await domain.close()

    return asyncio.run(go())


def ok(result: Result) -> dict | list:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_the_major_case_flow_from_the_shell(db: str) -> None:
    proactive = ok(pcso(db, "operator", "case", "open-proactive", "INC0000001", "--json"))
    assert (proactive["major_case_state"], proactive["affected_accounts"]) == ("proposed", len(AFFECTED))
    number = proactive["number"]

    approved = ok(pcso(db, "manager", "case", "approve", number, "--yes", "--json"))
    assert approved["children_created"] == len(AFFECTED)
    assert (approved["notices_queued"], approved["notices_skipped"]) == (len(NOTIFIED), len(SKIPPED))
    major = approved["major_case_number"]
    active = ok(pcso(db, "manager", "outages", "list", "--status", "active", "--json"))
    assert [(o["number"], o["case_number"]) for o in active] == [(approved["outage_number"], major)]

    statement = ok(pcso(db, "manager", "case", "statement", major, "-", "--json", input="Engineers on site.\n"))
    assert statement["children_reached"] == len(AFFECTED) + 1
    children = ok(pcso(db, "agent", "cases", "list", "--parent", major, "--json"))
    assert len(children) == len(AFFECTED) + 1
    resolved = ok(pcso(db, "manager", "case", "resolve", major, "--code", "power", "--notes", "Back.", "--json"))
    assert (resolved["state"], resolved["children_changed"]) == ("resolved", len(AFFECTED) + 1)
    assert resolved["outages_ended"] == 1
    assert ok(pcso(db, "manager", "outages", "list", "--status", "active", "--json")) == []
    closed = ok(pcso(db, "manager", "case", "close", major, "--json"))
    assert closed["state"] == "closed"

    mine = ok(pcso(db, "customer", "cases", "list", "--json"))
    assert [c["account_number"] for c in mine] == ["ACC-T1"]
    detail = ok(pcso(db, "customer", "case", "show", mine[0]["number"], "--json"))
    assert [line["kind"] for line in detail["journal"]] == ["statement", "resolution"]
    assert all(line["visibility"] == "customer" for line in detail["journal"])


def test_approve_without_a_terminal_shows_the_preview_and_refuses(db: str) -> None:
    number = ok(pcso(db, "operator", "case", "open-proactive", "INC1", "--json"))["number"]
    result = pcso(db, "manager", "case", "approve", number)
    assert result.exit_code == 2
    assert f"{len(AFFECTED)} child cases for {len(AFFECTED)} affected accounts" in result.stdout
    assert "pass --yes" in result.stderr
    assert count(db, Event, Event.kind == "major_case.approved") == 0


def test_case_wording_from_the_shell(db: str) -> None:
    proactive = ok(pcso(db, "operator", "case", "open-proactive", "INC1", "--json"))
    number = proactive["number"]
    shown = ok(pcso(db, "agent", "case", "wording", number, "--json"))
    assert shown["title"] == "svc-1: service disruption"
    worded = ok(
        pcso(
            db,
            "agent",
            "case",
            "wording",
            number,
            "--title",
            "Calls fail",
            "--summary",
            "-",
            "--expected-version",
            str(shown["version"]),
            "--json",
            input="Some calls fail.\n",
        )
    )
    assert (worded["title"], worded["summary"]) == ("Calls fail", "Some calls fail.")
    assert worded["version"] == shown["version"] + 1
    old = str(shown["version"])
    stale = pcso(db, "agent", "case", "wording", number, "--title", "Again", "--expected-version", old)
    assert stale.exit_code == 7 and "changed" in stale.stderr
    refused = pcso(db, "customer", "case", "wording", number, "--title", "Mine")
    assert refused.exit_code != 0 and "work cases" in refused.stderr
    preview = pcso(db, "manager", "case", "approve", number)
    assert "customers are told: Calls fail" in preview.stdout


@pytest.mark.parametrize(("answer", "code", "approvals"), [("n\n", 1, 0), ("y\n", 0, 1)])
def test_approve_asks_on_a_terminal(db: str, monkeypatch: pytest.MonkeyPatch, answer, code, approvals) -> None:
    from pcso_tui.cli import cases as cli_cases

    monkeypatch.setattr(cli_cases, "_stdin_is_tty", lambda: True)
    number = ok(pcso(db, "operator", "case", "open-proactive", "INC1", "--json"))["number"]
    result = pcso(db, "manager", "case", "approve", number, input=answer)
    assert result.exit_code == code, result.output
    assert "Approve?" in result.stderr
    assert count(db, Event, Event.kind == "major_case.approved") == approvals


@pytest.mark.parametrize(
    ("user", "args", "code", "message"),
    [
        ("agent", ["case", "approve", "CS1", "--yes"], 4, "agent (agent) may not approve or reject major cases"),
        ("manager", ["case", "approve", "CS0009999", "--yes"], 3, "no case CS0009999"),
        ("manager", ["case", "approve", "XYZ", "--yes"], 2, "'XYZ' is not a case number"),
        ("manager", ["case", "resolve", "CS1", "--code", "c", "--notes", "n"], 5, "not an approved major case"),
        ("agent", ["case", "propose", "CS1", "--reason", " ", "--impact", "x"], 6, "a reason is required"),
        ("nobody", ["cases", "list"], 8, "no pcso user named 'nobody'"),
    ],
)
def test_refusals_exit_with_their_codes_and_change_nothing(db: str, user, args, code, message) -> None:
    ok(pcso(db, "operator", "case", "open-proactive", "INC1", "--json"))
    before = count(db, Event), count(db, Case)
    result = pcso(db, user, *args)
    assert result.exit_code == code, result.output
    assert message in result.stderr
    assert (count(db, Event), count(db, Case)) == before


def test_untrusted_text_reaches_the_terminal_inert(db: str) -> None:
    opened = pcso(db, "agent", "case", "open", "--account", "ACC-2", "--short", HOSTILE)
    assert opened.exit_code == 0
    pcso(db, "agent", "case", "note", "CS1", HOSTILE)
    for result in (pcso(db, "agent", "cases", "list"), pcso(db, "agent", "case", "show", "CS1")):
        assert result.exit_code == 0
        assert "\x1b" not in result.output
        assert "[bold]red[/] \\x1b[2J" in result.output


def test_notes_default_to_internal_for_staff_and_visible_for_customers(db: str) -> None:
    ok(pcso(db, "agent", "case", "open", "--account", "ACC-T1", "--short", "down", "--json"))
    assert ok(pcso(db, "agent", "case", "note", "CS1", "checked", "--json"))["customer_visible"] is False
    assert ok(pcso(db, "customer", "case", "note", "CS1", "still down", "--json"))["customer_visible"] is True
    refused = pcso(db, "customer", "case", "note", "CS1", "psst", "--work-note")
    assert refused.exit_code == 4
    said = pcso(db, "agent", "case", "note", "CS1", "rebooted")
    assert said.exit_code == 0 and said.output.strip() == "added an internal work note to CS0000001"


def test_auto_close_from_the_shell(db: str) -> None:
    result = ok(pcso(db, "manager", "case", "auto-close", "--json"))
    assert (result["closed"], result["notices_queued"]) == (0, 0) and result["resolved_before"]
    assert pcso(db, "agent", "case", "auto-close").exit_code == 4


def test_add_accounts_and_attach_from_the_shell(db: str) -> None:
    number = ok(pcso(db, "operator", "case", "open-proactive", "INC1", "--json"))["number"]
    major = ok(pcso(db, "manager", "case", "approve", number, "--yes", "--json"))["major_case_number"]
    added = ok(pcso(db, "manager", "case", "add-accounts", major, "-", "--json", input="ACC-LATE\nACC-2\n"))
    assert (added["accounts_added"], added["accounts_already"], added["children_created"]) == (1, 1, 1)
    call = ok(pcso(db, "agent", "case", "open", "--account", "ACC-X", "--short", "down?", "--json"))
    attached = ok(pcso(db, "manager", "case", "attach", major, call["number"], "--json"))
    assert attached["deflected"] is True and attached["parent_number"] == major
    state = ok(pcso(db, "agent", "case", "state", call["number"], "awaiting_info", "--json"))
    assert state["state"] == "awaiting_info"
    assert ok(pcso(db, "manager", "case", "priority", major, "2", "--json"))["priority"] == 2
    assert pcso(db, "manager", "case", "priority", major, "7").exit_code == 2


def test_a_stale_approval_is_refused_from_the_shell(db: str) -> None:
    proposal = ok(pcso(db, "operator", "case", "open-proactive", "INC0000001", "--json"))
    number, seen = proposal["number"], proposal["version"]
    ok(pcso(db, "agent", "case", "priority", number, "1", "--json"))  # someone else moves it on
    stale = pcso(db, "manager", "case", "approve", number, "--yes", "--expected-version", str(seen))
    assert stale.exit_code == 7
    assert f"{number} was changed by agent at" in stale.stderr and "— reload" in stale.stderr
    assert count(db, Case, Case.parent_id.is_not(None)) == 0
    fresh = ok(pcso(db, "manager", "case", "approve", number, "--yes", "--expected-version", str(seen + 1), "--json"))
    assert fresh["children_created"] == len(AFFECTED)


def test_the_catalogue_from_the_shell(db: str) -> None:
    listed = ok(pcso(db, "agent", "catalogue", "list", "--entry", "ci", "--json"))
    assert {e["key"]: e["shown_as"] for e in listed}["host-1"] == "Other services"
    product = ok(pcso(db, "admin", "catalogue", "set", "product", "P-PBX", "--public-name", "Phone", "--json"))
    assert (product["public_name"], product["customer_facing"], product["shown_as"]) == ("Phone", True, "Phone")
    hidden = pcso(db, "admin", "catalogue", "set", "ci", "svc-1", "--customer-facing", "no")
    assert hidden.exit_code == 0 and "customers see it as Other services" in hidden.stdout
    refused = pcso(db, "manager", "catalogue", "set", "ci", "svc-1", "--public-name", "x")
    assert refused.exit_code != 0 and "import install base data" in refused.stderr
    table = pcso(db, "agent", "catalogue", "list")
    assert "CUSTOMERS SEE" in table.stdout and "Phone" in table.stdout
