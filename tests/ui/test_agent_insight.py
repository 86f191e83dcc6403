"""The agent's insight, with keys only: a call logged on an account a known outage covers shows
the banner with the statement and is attached with one key; a planted group of similar calls is
recommended and proposed as a major case with one key."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from tests.domain.insight_world import VPN, add_accounts, add_cases
from tests.ui.casework import open_domain, signed_in
from tests.ui.conftest import screen_text, until_ready, wait_for

from pcso_tui.domain.casework import insight as ins
from pcso_tui.domain.casework import major_cases as mc
from pcso_tui.domain.core.models import Case
from pcso_tui.screens.agent import AgentScreen
from pcso_tui.screens.portal import PreviewScreen

STATEMENT = "We are restoring mail [bold]now[/]; next update 10:00."


async def _read(url: str, statement: Any) -> Any:
    domain = await open_domain(url)
    try:
        async with domain.reading() as session:
            return (await session.execute(statement)).all()
    finally:
        await domain.close()


async def test_a_call_on_a_known_outage_shows_the_statement_and_attaches_with_one_key(
    world_url: str, make_app: Any
) -> None:
    domain = await open_domain(world_url)
    try:
        await add_accounts(domain, ["ACC-A"])
        manager = await signed_in(domain, "manager")
        major = await mc.open_major_candidate(
            domain,
            manager,
            short_description="Mail delivery delayed",
            reason="many calls",
            business_impact="mail",
            account_numbers=["ACC-A"],
        )
        await mc.approve_major_case(domain, manager, major.id)
        await mc.post_statement(domain, manager, major.id, STATEMENT)
    finally:
        await domain.close()

    app = make_app(world_url, "agent")
    async with app.run_test(size=(100, 34)) as pilot:
        await until_ready(pilot)
        screen = app.screen
        assert isinstance(screen, AgentScreen)
        await pilot.press("o")
        await pilot.press(*"ACC-A", "enter", *"no mail since eight", "enter", "enter")
        await wait_for(pilot, lambda: screen.recommendation.known, what="the known-outage banner")
        assert screen.queue_kind == "reactive"
        assert screen.recommendation.known[0].major_case_id == major.id
        assert STATEMENT in screen_text(app)  # the statement, literally (no markup)
        await pilot.press("a")
        await wait_for(pilot, lambda: screen.selected is not None and screen.selected.parent_id == major.id)
        # What this customer sees in the portal, read-only; Esc comes back.
        await pilot.press("w")
        await wait_for(pilot, lambda: isinstance(app.screen, PreviewScreen) and app.screen.account is not None)
        assert app.screen.account.preview and "PREVIEW read-only" in screen_text(app)
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is screen)
    [(parent, deflected)] = await _read(
        world_url, select(Case.parent_id, Case.deflected).where(Case.short_description == "no mail since eight")
    )
    assert (parent, deflected) == (major.id, True)


async def test_a_planted_group_is_recommended_and_proposed_with_one_key(world_url: str, make_app: Any) -> None:
    domain = await open_domain(world_url)
    try:
        ids = await add_accounts(domain, [f"ACC-{i}" for i in range(4)])
        vpn = await add_cases(
            domain, [{"account_id": ids[f"ACC-{i % 4}"], "short_description": text} for i, text in enumerate(VPN)]
        )
    finally:
        await domain.close()

    app = make_app(world_url, "agent")
    async with app.run_test(size=(100, 34)) as pilot:
        await until_ready(pilot)
        screen = app.screen
        assert isinstance(screen, AgentScreen)
        await pilot.press("k")  # the customer calls
        await wait_for(
            pilot,
            lambda: (
                screen.recommendation.recommendation is not None
                and screen.recommendation.recommendation.action == "propose"
            ),
            what="the recommendation to propose",
        )
        assert "10 cases" in screen_text(app) or "similar" in screen_text(app)
        await pilot.press("g", "p")
        await wait_for(pilot, lambda: any("proposed" in str(n.message) for n in app._notifications))

    [(candidate,)] = await _read(
        world_url, select(Case.id).where(Case.kind == "major", Case.major_case_state == "proposed")
    )
    domain = await open_domain(world_url)
    try:
        agent = await signed_in(domain, "agent")
        assert set(await ins.grouped_cases(domain, agent, candidate)) == set(vpn)
    finally:
        await domain.close()
    [(majors,)] = await _read(world_url, select(func.count()).select_from(Case).where(Case.kind == "major"))
    assert majors == 1
