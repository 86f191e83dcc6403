"""The manager's insight, with keys only: a planted rising topic is listed first and becomes a
major case proposal with one key; the accounts a planted characteristic points at are listed as
likely affected and added to the proposal's recipients."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from tests.domain.insight_world import add_accounts, add_cases, add_install_base, spread
from tests.ui.casework import open_domain, signed_in
from tests.ui.conftest import Messages, until_ready, wait_for

from pcso_tui.domain.casework import insight as ins
from pcso_tui.domain.casework import major_cases as mc
from pcso_tui.domain.core.models import Case, CaseAccount
from pcso_tui.screens.manager import ManagerScreen
from pcso_tui.screens.manager_insight import ManagerInsightScreen


async def _count(url: str, model: Any, *where: Any) -> int:
    domain = await open_domain(url)
    try:
        async with domain.reading() as session:
            return await session.scalar(select(func.count()).select_from(model).where(*where)) or 0
    finally:
        await domain.close()


async def test_a_rising_topic_becomes_a_major_case_proposal(world_url: str, make_app: Any, messages: Messages) -> None:
    domain = await open_domain(world_url)
    try:
        ids = await add_accounts(domain, [f"ACC-Q{i}" for i in range(6)])
        now = domain.clock()
        day = timedelta(days=1)
        rising = [
            {
                "account_id": ids[f"ACC-Q{i % 6}"],
                "short_description": "checkout page times out at payment",
                "opened_at": t,
            }
            for i, t in enumerate(spread(now - day, 7, 1) + spread(now, 1, 8))
        ]
        hot = await add_cases(domain, rising)
    finally:
        await domain.close()

    app = make_app(world_url, "manager")
    async with app.run_test(size=(100, 30), message_hook=messages) as pilot:
        await until_ready(pilot)
        assert isinstance(app.screen, ManagerScreen)
        await pilot.press("i")
        await messages.wait(pilot, "insight-topics", what="the trending topics")
        assert isinstance(app.screen, ManagerInsightScreen)
        topics = app.screen.query_one("TrendingTopics")
        assert "checkout" in topics.current.top_terms and topics.current.rising  # rising first
        taken = set(topics.current.case_ids)
        assert len(taken) == 8 and taken <= set(hot)  # the recent ones, not last week's
        await pilot.press("p")
        await wait_for(pilot, lambda: any("proposed from the topic" in str(n.message) for n in app._notifications))
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, ManagerScreen))

    domain = await open_domain(world_url)
    try:
        manager = await signed_in(domain, "manager")
        async with domain.reading() as session:
            [candidate] = (
                await session.scalars(
                    select(Case.id).where(Case.kind == "major", Case.short_description.contains("checkout"))
                )
            ).all()
        assert set(await ins.grouped_cases(domain, manager, candidate)) == taken
    finally:
        await domain.close()


async def test_likely_affected_accounts_are_added_to_the_proposal(world_url: str, make_app: Any) -> None:
    # 90 accounts; firmware 9.1/9.2/9.3 and zones z1/z2/z3 spread evenly: "9.2 in z1" is 1 in 9.
    numbers = [f"ACC-L{i:03d}" for i in range(90)]
    domain = await open_domain(world_url)
    try:
        ids = await add_accounts(domain, numbers)
        items = [
            (ids[n], "P-FW", {"firmware": ("9.1", "9.2", "9.3")[i % 3], "zone": ("z1", "z2", "z3")[i // 3 % 3]})
            for i, n in enumerate(numbers)
        ]
        await add_install_base(domain, items)
        planted = [n for i, n in enumerate(numbers) if i % 3 == 1 and i // 3 % 3 == 0]
        manager = await signed_in(domain, "manager")
        proposal = await mc.open_major_candidate(
            domain,
            manager,
            short_description="Gateway firmware reboots",
            reason="calls",
            business_impact="gateways reboot",
            account_numbers=planted[:5],
        )
    finally:
        await domain.close()

    app = make_app(world_url, "manager")
    async with app.run_test(size=(100, 30)) as pilot:
        await until_ready(pilot)
        screen = app.screen
        assert isinstance(screen, ManagerScreen)
        await wait_for(pilot, lambda: screen.selected is not None and screen.selected.case.id == proposal.id)
        await pilot.press("i", "2")
        await wait_for(pilot, lambda: isinstance(app.screen, ManagerInsightScreen) and app.screen.likely_loaded)
        likely = app.screen.query_one("LikelyAffected")
        first_two = [likely._numbers[k] for k in likely.table.row_keys()[:2]]
        assert set(first_two) <= set(planted[5:])  # the planted accounts score highest
        await pilot.press("m", "down", "m", "r")
        await wait_for(pilot, lambda: any("added to" in str(n.message) for n in app._notifications))

    assert await _count(world_url, CaseAccount, CaseAccount.case_id == proposal.id, CaseAccount.source == "likely") == 2
