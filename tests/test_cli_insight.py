"""``pcso insight``: recommendation, proposal, topics and likely accounts from a shell."""

from __future__ import annotations

import asyncio
import json

import pytest
from click.testing import CliRunner, Result

from pcso_tui.cli import main
from pcso_tui.domain.core.roles import Actor, Role
from pcso_tui.domain.core.service import Domain
from pcso_tui.domain.core.users import add_user, sign_in
from tests.domain.insight_world import UNRELATED, VPN, add_accounts, add_cases, add_install_base
from tests.identity import signed_in_as


@pytest.fixture
def db(sqlite_url: str) -> tuple[str, list[int], list[int]]:
    async def make() -> tuple[list[int], list[int]]:
        domain = await Domain.open(sqlite_url)
        try:
            await add_user(domain, Actor(user_id=None, name="root", role=Role.CUSTOMER), "admin", Role.ADMIN)
            admin = await sign_in(domain, "admin")
            ids = await add_accounts(domain, [f"ACC-{i}" for i in range(40)], tier="gold", region="eu")
            await add_install_base(
                domain, [(ids[f"ACC-{i}"], "P-1", {"version": "4.2" if i < 5 else "4.1"}) for i in range(40)]
            )
            for role in ("agent", "manager"):
                await add_user(domain, admin, role, role)
            await add_user(domain, admin, "customer", Role.CUSTOMER, account_number="ACC-1")
            vpn = await add_cases(
                domain, [{"account_id": ids[f"ACC-{i % 4}"], "short_description": t} for i, t in enumerate(VPN)]
            )
            other = await add_cases(domain, [{"account_id": ids["ACC-9"], "short_description": UNRELATED[0]}])
            return vpn, other
        finally:
            await domain.close()

    vpn, other = asyncio.run(make())
    return sqlite_url, vpn, other


def pcso(db: str, user: str, *args: str) -> Result:
    env = {"PCSO_CONFIG": "/nonexistent/pcso-config.toml"}
    with signed_in_as(user):
        return CliRunner().invoke(main, ["--db", db, *args], env=env, catch_exceptions=False)


def test_recommend_propose_and_likely_from_the_shell(db) -> None:
    url, vpn, other = db
    shown = pcso(url, "agent", "insight", "recommend", str(vpn[0]))
    assert shown.exit_code == 0, shown.output
    assert "Propose a major case: 10 similar cases from 4 accounts" in shown.output
    assert "shared terms: vpn, tunnel, every, minutes, drops" in shown.output

    data = json.loads(pcso(url, "agent", "insight", "similar", str(other[0]), "--json").stdout)
    assert data == []

    made = pcso(url, "agent", "insight", "recommend", str(vpn[0]), "--propose", "--json")
    assert made.exit_code == 0, made.output
    proposed = json.loads(made.stdout)["proposed"]
    assert proposed["major_case_state"] == "proposed"

    likely = json.loads(pcso(url, "agent", "insight", "likely", "--accounts", "ACC-0,ACC-1,ACC-2", "--json").stdout)
    assert likely["known_accounts"] == 3
    assert {a["number"] for a in likely["accounts"]} >= {"ACC-3", "ACC-4"}
    assert likely["accounts"][0]["number"] in {"ACC-3", "ACC-4"}

    topics = pcso(url, "manager", "insight", "topics")
    assert topics.exit_code == 0 and "vpn" in topics.output


def test_customers_are_refused(db) -> None:
    url, vpn, _ = db
    for args in (["recommend", str(vpn[0])], ["topics"], ["known-outage", "ACC-1"], ["likely", "--accounts", "ACC-1"]):
        result = pcso(url, "customer", "insight", *args)
        assert result.exit_code == 4, (args, result.output)
