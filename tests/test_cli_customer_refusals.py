"""Refusals that reveal nothing: every command a customer can run answers another account's
record exactly like a missing one, in message and exit code, so a customer cannot learn which
case numbers, accounts or notices exist."""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass

import pytest
from click.testing import CliRunner, Result

from pcso_tui.cli import main
from pcso_tui.domain.core.roles import Actor, Role
from pcso_tui.domain.core.service import Domain
from pcso_tui.domain.core.users import add_user, sign_in
from tests.domain.case_world import build_world
from tests.identity import signed_in_as


def pcso(db: str, user: str, *args: str) -> Result:
    with signed_in_as(user):
        return CliRunner().invoke(main, ["--db", db, *args], env={"PCSO_CONFIG": "/nonexistent/pcso.toml"}, input="")


def ok(result: Result) -> object:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@dataclass(frozen=True)
class Records:
    """One record of each kind a command names: ``own`` for the customer's account
    (ACC-T1), ``other`` for another account's, ``missing`` for none at all."""

    own_case: str
    other_case: str
    major_case: str
    other_account: str
    other_notice: str
    outage: str


MISSING = {"case": "CS9999999", "account": "ACC-NOPE", "notice": "999999", "outage": "OUT9999999"}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Records]:
    db = str(tmp_path_factory.mktemp("refusals") / "pcso.db")

    async def make() -> None:
        domain = await Domain.open(db)
        try:
            await add_user(domain, Actor(user_id=None, name="root", role=Role.CUSTOMER), "admin", Role.ADMIN)
            admin = await sign_in(domain, "admin")
            await build_world(domain)
            for role in ("operator", "manager"):
                await add_user(domain, admin, role, role)
            await add_user(domain, admin, "customer", Role.CUSTOMER, account_number="ACC-T1")
        finally:
            await domain.close()

    asyncio.run(make())
    proposed = ok(pcso(db, "operator", "case", "open-proactive", "INC0000001", "--json"))
    approved = ok(pcso(db, "manager", "case", "approve", proposed["number"], "--yes", "--json"))
    major = approved["major_case_number"]
    children = {
        c["account_number"]: c["number"] for c in ok(pcso(db, "manager", "cases", "list", "--parent", major, "--json"))
    }
    notices = ok(pcso(db, "manager", "notices", "list", "--case", children["ACC-2"], "--json"))
    return db, Records(
        own_case=children["ACC-T1"],
        other_case=children["ACC-2"],
        major_case=major,
        other_account="ACC-2",
        other_notice=str(notices[0]["id"]),
        outage=approved["outage_number"],
    )


# Every command a customer may type that names a case, an account or a notice. ``{case}``,
# ``{account}`` and ``{notice}`` are another account's record, then a missing one; ``{own}``
# is the customer's own case where a second one is needed.
COMMANDS = [
    "case show {case}",
    "case open --account {account} --short help",
    "case show {case} --json",
    "case note {case} hello",
    "case state {case} open",
    "case priority {case} 1",
    "case propose {case} --reason many --impact all",
    "case approve {case} --yes",
    "case reject {case} --reason no",
    "case resolve {case} --code fixed --notes done",
    "case close {case}",
    "case statement {case} hello",
    "case wording {case}",
    "case add-accounts {case} ACC-T1",
    "case attach {case} {own}",
    "case attach {own} {case}",
    "cases list --parent {case}",
    "cases list --account {account}",
    "cases list --account {account} --json",
    "accounts show {account}",
    "accounts show {account} --json",
    "notices counts {case}",
    "notices list --case {case}",
    "notices retry {notice}",
    "outages add --type unplanned --title down --begins now --case {case}",
    "outages end {outage}",
    "articles list --case {case}",
    "articles attach {case} KB0000001",
    "articles detach {case} KB0000001",
    "alerts ack {notice}",
    "insight recommend {case}",
    "insight similar {case}",
    "insight likely {case}",
    "insight link {case}",
    "insight attach {own} {case}",
    "insight known-outage {account}",
    "events list",
    "incidents show INC0000001",
]


def _run(db: str, template: str, values: dict[str, str]) -> tuple[int, str, str]:
    result = pcso(db, "customer", *template.format(**values).split())
    # The record's own identifier is the one thing that may differ between the two answers.
    text = result.output
    for key in ("case", "account", "notice", "outage"):
        text = re.sub(rf"\b{re.escape(values[key])}\b", f"<{key}>", text)
    crash = result.exception
    return result.exit_code, text, "" if crash is None or isinstance(crash, SystemExit) else repr(crash)


@pytest.mark.parametrize("template", COMMANDS)
def test_another_accounts_record_answers_like_a_missing_one(world: tuple[str, Records], template: str) -> None:
    db, records = world
    other = {
        "case": records.other_case,
        "account": records.other_account,
        "notice": records.other_notice,
        "outage": records.outage,
        "own": records.own_case,
    }
    missing = {**MISSING, "own": records.own_case}
    code, text, crash = _run(db, template, other)
    assert crash == "", crash
    assert (code, text) == _run(db, template, missing)[:2]
    if code != 0 and "{case}" in template:  # a major case (no account of its own) is refused alike
        assert (code, text) == _run(db, template, {**other, "case": records.major_case})[:2]


def test_the_customer_still_reaches_their_own_records(world: tuple[str, Records]) -> None:
    db, records = world
    shown = pcso(db, "customer", "case", "show", records.own_case)
    assert shown.exit_code == 0 and records.own_case in shown.stdout
    counts = pcso(db, "customer", "notices", "counts", records.own_case)
    assert counts.exit_code == 0, counts.output
    mine = ok(pcso(db, "customer", "cases", "list", "--account", "ACC-T1", "--json"))
    assert [c["number"] for c in mine] == [records.own_case]
