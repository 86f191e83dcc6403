"""Insight on constructed data where the right answer is known: planted groups, topics and
characteristics are found, unrelated ones are not, and no customer can ask."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from pcso_tui.domain.casework import cases
from pcso_tui.domain.casework import insight as ins
from pcso_tui.domain.casework import major_cases as mc
from pcso_tui.domain.core.errors import IllegalTransition, PermissionDenied
from pcso_tui.domain.core.models import Case, CaseAccount, Event
from pcso_tui.domain.core.roles import Actor, Role
from pcso_tui.domain.core.service import Domain
from tests.domain.insight_world import UNRELATED, VPN, add_accounts, add_cases, add_install_base, spread

Actors = dict[Role, Actor]
SECRET = "zebracorp"


async def planted_group(domain: Domain, accounts: int = 4, extra_first: str = "") -> tuple[list[int], list[int]]:
    """Ten VPN cases over ``accounts`` accounts and five unrelated ones (today)."""
    ids = await add_accounts(domain, [f"ACC-{i}" for i in range(10)])
    rows = [
        {"account_id": ids[f"ACC-{i % accounts}"], "short_description": text + (extra_first if i == 0 else "")}
        for i, text in enumerate(VPN)
    ]
    vpn = await add_cases(domain, rows)
    other = await add_cases(
        domain, [{"account_id": ids[f"ACC-{5 + i}"], "short_description": t} for i, t in enumerate(UNRELATED)]
    )
    return vpn, other


async def count(domain: Domain, model, *where) -> int:
    async with domain.reading() as s:
        return await s.scalar(select(func.count()).select_from(model).where(*where)) or 0


# --- similar cases and the recommendation ---------------------------------------------------------


async def test_a_planted_group_is_recommended_and_an_unrelated_case_is_not(domain: Domain, actors: Actors) -> None:
    vpn, other = await planted_group(domain)
    agent = actors[Role.AGENT]

    rec = await ins.recommend(domain, agent, vpn[3])
    assert rec.action == "propose"
    assert set(rec.case_ids) == set(vpn)
    assert rec.similar_count == 9 and len(rec.accounts) == 4
    assert {"vpn", "tunnel", "drops"} <= set(rec.matched_terms)
    assert any("10 cases" in r for r in rec.reasons) and any("ACC-0" in r for r in rec.reasons)
    assert all(s.case_id not in other for s in rec.similar)
    assert all(s.matched_terms for s in rec.similar)

    lone = await ins.recommend(domain, agent, other[0])
    assert lone.action == "none"
    assert lone.similar_count == 0 and lone.case_ids == ()
    assert any("needs 10 cases across 3 accounts" in r for r in lone.reasons)

    similar = await ins.similar_cases(domain, agent, vpn[0])
    assert {s.case_id for s in similar} == set(vpn) - {vpn[0]}
    assert all(s.score >= 0.70 for s in similar)


async def test_too_few_accounts_or_an_old_window_recommend_nothing(domain: Domain, actors: Actors) -> None:
    vpn, _ = await planted_group(domain, accounts=2)
    rec = await ins.recommend(domain, actors[Role.AGENT], vpn[0])
    assert rec.action == "none" and rec.similar_count == 9 and len(rec.accounts) == 2

    # Outside the window (before the start of yesterday) they no longer count.
    async with domain.transaction(actors[Role.ADMIN]) as tx:
        from sqlalchemy import update

        await tx.session.execute(update(Case).values(opened_at=tx.now - timedelta(days=3)))
    rec = await ins.recommend(domain, actors[Role.AGENT], vpn[0])
    assert rec.similar_count == 0


async def test_an_existing_major_case_above_the_threshold_is_recommended(domain: Domain, actors: Actors) -> None:
    vpn, other = await planted_group(domain)
    agent, manager = actors[Role.AGENT], actors[Role.MANAGER]
    candidate = await ins.propose_recommended(domain, agent, vpn[0])
    await mc.approve_major_case(domain, manager, candidate.id)
    [late] = await add_cases(
        domain, [{"account_id": None, "short_description": "VPN tunnel drops every few minutes here too"}]
    )

    rec = await ins.recommend(domain, agent, late)
    assert rec.action == "attach" and rec.major_case_id == candidate.id
    assert rec.score is not None and rec.score >= 0.75
    assert any("similarity" in r for r in rec.reasons)

    unrelated = await ins.recommend(domain, agent, other[0])
    assert unrelated.action == "none"


async def test_proposing_groups_the_cases_and_the_title_keeps_one_customers_words_out(
    domain: Domain, actors: Actors
) -> None:
    vpn, _ = await planted_group(domain, extra_first=f" {SECRET} project")
    agent, manager = actors[Role.AGENT], actors[Role.MANAGER]
    candidate = await ins.propose_recommended(domain, agent, vpn[5])
    assert candidate.kind == "major" and candidate.major_case_state == "proposed"
    assert SECRET not in candidate.short_description.lower()
    assert "vpn" in candidate.short_description.lower()
    assert await count(domain, CaseAccount, CaseAccount.case_id == candidate.id, CaseAccount.source == "reported") == 4
    assert set(await ins.grouped_cases(domain, agent, candidate.id)) == set(vpn)

    # The group becomes the major case's children as the manager approves it: each account's
    # own calls are its children (no second, generated child), and none is deflected: these
    # calls made the major case. Linking afterwards has nothing left to do.
    with pytest.raises(IllegalTransition):
        await ins.link_grouped(domain, manager, candidate.id)
    approval = await mc.approve_major_case(domain, manager, candidate.id)
    assert approval.children_created == 0
    assert await count(domain, Case, Case.parent_id == candidate.id) == 10
    assert await count(domain, Case, Case.parent_id == candidate.id, Case.deflected.is_(True)) == 0
    assert await cases.list_cases(domain, manager, parent_id=candidate.id, kind="child") == []
    assert await ins.grouped_cases(domain, agent, candidate.id) == ()
    result = await ins.link_grouped(domain, manager, candidate.id)
    assert result.attached == () and result.skipped == ()


async def test_a_recommendation_that_is_not_propose_cannot_be_proposed(domain: Domain, actors: Actors) -> None:
    _, other = await planted_group(domain)
    before = await count(domain, Case)
    with pytest.raises(IllegalTransition, match="no proposal"):
        await ins.propose_recommended(domain, actors[Role.AGENT], other[0])
    assert await count(domain, Case) == before


# --- known outages at intake --------------------------------------------------------------------


async def approved_major(domain: Domain, actors: Actors, accounts: list[str]) -> int:
    candidate = await mc.open_major_candidate(
        domain,
        actors[Role.MANAGER],
        short_description="Mail delivery delayed",
        reason="many calls",
        business_impact="mail",
        account_numbers=accounts,
    )
    await mc.approve_major_case(domain, actors[Role.MANAGER], candidate.id)
    await mc.post_statement(domain, actors[Role.MANAGER], candidate.id, "We are restoring mail; next update 10:00.")
    return candidate.id


async def test_a_caller_of_an_affected_account_sees_the_statement_and_is_deflected(
    domain: Domain, actors: Actors
) -> None:
    await add_accounts(domain, ["ACC-A", "ACC-B"])
    major = await approved_major(domain, actors, ["ACC-A"])
    agent = actors[Role.AGENT]
    call = await cases.open_reactive_case(domain, agent, account_number="ACC-A", short_description="no mail since 8")
    other = await cases.open_reactive_case(domain, agent, account_number="ACC-B", short_description="no mail")

    [known] = await ins.known_outages(domain, agent, "ACC-A")
    assert known.major_case_id == major and known.matched_by == "account"
    assert known.statement == "We are restoring mail; next update 10:00."
    assert await ins.known_outages(domain, agent, "ACC-B") == ()
    assert (await ins.recommend(domain, agent, call.id)).known_outages == (known,)

    # Not a known outage for ACC-B: refused, nothing changed.
    with pytest.raises(IllegalTransition, match="not a known outage"):
        await ins.attach_to_known_outage(domain, agent, other.id, major)
    assert (await cases.get_case(domain, agent, other.id)).case.parent_id is None

    attached = await ins.attach_to_known_outage(domain, agent, call.id, major)
    assert attached.parent_id == major and attached.deflected
    [after] = await ins.known_outages(domain, agent, "ACC-A")
    assert after.deflected == 1


# --- trending topics ----------------------------------------------------------------------------


async def test_a_rising_topic_is_flagged_and_a_steady_one_is_not(domain: Domain, actors: Actors) -> None:
    ids = await add_accounts(domain, [f"ACC-{i}" for i in range(6)])
    now = domain.clock()
    day = timedelta(days=1)
    steady = [
        {"account_id": ids[f"ACC-{i % 6}"], "short_description": "printer offline on floor 3", "opened_at": t}
        for i, t in enumerate(spread(now - day, 7, 7) + spread(now, 1, 1))
    ]
    rising = [
        {"account_id": ids[f"ACC-{i % 6}"], "short_description": "checkout page times out at payment", "opened_at": t}
        for i, t in enumerate(spread(now - day, 7, 1) + spread(now, 1, 8))
    ]
    await add_cases(domain, steady + rising)
    view = await ins.trending_topics(domain, actors[Role.MANAGER])
    by_terms = {t.top_terms[0] if t.top_terms else t.label: t for t in view.topics}
    hot = next(t for t in view.topics if "checkout" in t.top_terms)
    calm = next(t for t in view.topics if "printer" in t.top_terms)
    assert hot.rising and hot.recent == 8 and hot.baseline == 1 and hot.growth >= 3
    assert not calm.rising and calm.recent == 1 and calm.baseline == 7
    assert view.topics[0] == hot and len(by_terms) == 2
    assert len(hot.case_ids) == 8

    # One key makes a major case candidate of the topic's open cases.
    candidate = await ins.propose_from_topic(domain, actors[Role.AGENT], hot)
    assert candidate.major_case_state == "proposed"
    assert set(await ins.grouped_cases(domain, actors[Role.AGENT], candidate.id)) == set(hot.case_ids)


async def test_a_topic_links_to_an_existing_major_case(domain: Domain, actors: Actors) -> None:
    ids = await add_accounts(domain, ["ACC-1", "ACC-2", "ACC-3"])
    now = domain.clock()
    await add_cases(
        domain,
        [
            {
                "account_id": ids[f"ACC-{1 + i % 3}"],
                "short_description": "portal login fails with error 500",
                "opened_at": t,
            }
            for i, t in enumerate(spread(now, 1, 6))
        ],
    )
    major = await approved_major(domain, actors, ["ACC-1"])
    topic = next(t for t in (await ins.trending_topics(domain, actors[Role.MANAGER])).topics if "portal" in t.top_terms)
    result = await ins.link_topic(domain, actors[Role.MANAGER], topic.id, major)
    assert len(result.attached) == 6
    assert await count(domain, Case, Case.parent_id == major, Case.kind == "reactive") == 6


# --- likely affected accounts -------------------------------------------------------------------


async def test_a_planted_characteristic_is_found_and_scored_above_the_rest(domain: Domain, actors: Actors) -> None:
    # 120 accounts; versions 4.1/4.2/4.3 and regions eu/us/apac spread evenly, so "4.2 in eu"
    # holds for 1 in 9. The known-affected accounts are six of those.
    numbers = [f"ACC-{i:03d}" for i in range(120)]
    ids = await add_accounts(domain, numbers)
    items = []
    for i, n in enumerate(numbers):
        version = ("4.1", "4.2", "4.3")[i % 3]
        region = ("eu", "us", "apac")[i // 3 % 3]
        items.append((ids[n], "P-GW", {"version": version, "region": region, "usage": ("low", "high")[i % 2]}))
    await add_install_base(domain, items)
    planted = [n for i, n in enumerate(numbers) if i % 3 == 1 and i // 3 % 3 == 0]
    known = planted[:6]

    view = await ins.likely_affected(domain, actors[Role.AGENT], account_numbers=known)
    labels = {f.label for f in view.factors}
    assert {"version = 4.2", "region = eu"} <= labels
    assert "product = Product P-GW" not in labels  # everyone has it: no lift
    assert not {"usage = low", "usage = high"} & labels

    top = [a.number for a in view.accounts[: len(planted) - 6]]
    assert set(top) == set(planted[6:])
    assert not set(known) & {a.number for a in view.accounts}
    best = view.accounts[0]
    rest = view.accounts[len(planted) - 6]
    assert best.score > rest.score
    assert "version = 4.2" in best.explanation and "region = eu" in best.explanation
    assert set(rest.factors) < {"version = 4.2", "region = eu"}

    # The same from a major case's affected accounts; the agent adds likely ones to a proposal.
    candidate = await mc.open_major_candidate(
        domain,
        actors[Role.AGENT],
        short_description="Gateway reboots",
        reason="calls",
        business_impact="gateway",
        account_numbers=known,
    )
    from_case = await ins.likely_affected(domain, actors[Role.AGENT], major_case_id=candidate.id)
    assert [a.number for a in from_case.accounts] == [a.number for a in view.accounts]
    added = await ins.add_likely_accounts(domain, actors[Role.AGENT], candidate.id, top)
    assert added.accounts_added == len(top) and added.children_created == 0
    assert await count(domain, CaseAccount, CaseAccount.case_id == candidate.id, CaseAccount.source == "likely") == len(
        top
    )


def test_the_hypergeometric_tail_is_right_on_small_numbers() -> None:
    # 10 balls, 4 red, draw 3: P(X >= 2) = (C(4,2)C(6,1) + C(4,3)) / C(10,3) = 40/120.
    assert ins.hypergeometric_tail(10, 4, 3, 2) == pytest.approx(1 / 3)
    assert ins.hypergeometric_tail(10, 4, 3, 0) == 1.0
    assert ins.hypergeometric_tail(10, 4, 3, 4) == 0.0


# --- who may ask and act --------------------------------------------------------------------------


async def test_customers_get_no_insight_and_agents_stay_inside_their_powers(domain: Domain, actors: Actors) -> None:
    vpn, _ = await planted_group(domain)
    customer, agent, operator = actors[Role.CUSTOMER], actors[Role.AGENT], actors[Role.OPERATOR]
    calls = [
        ins.recommend(domain, customer, vpn[0]),
        ins.similar_cases(domain, customer, vpn[0]),
        ins.trending_topics(domain, customer),
        ins.known_outages(domain, customer, "ACC-T1"),
        ins.case_known_outages(domain, customer, vpn[0]),
        ins.likely_affected(domain, customer, account_numbers=["ACC-T1"]),
        ins.grouped_cases(domain, customer, vpn[0]),
        ins.propose_recommended(domain, customer, vpn[0]),
        ins.propose_recommended(domain, operator, vpn[0]),
        ins.attach_to_known_outage(domain, customer, vpn[0], vpn[1]),
        ins.link_cases(domain, agent, vpn[0], vpn[1:]),
        ins.add_likely_accounts(domain, customer, vpn[0], ["ACC-1"]),
    ]
    events_before = await count(domain, Event)
    for call in calls:
        with pytest.raises(PermissionDenied):
            await call
    assert await count(domain, Event) == events_before

    # An agent adds likely accounts to proposals only; approved major cases are the manager's.
    candidate = await ins.propose_recommended(domain, agent, vpn[0])
    await mc.approve_major_case(domain, actors[Role.MANAGER], candidate.id)
    before = await count(domain, CaseAccount, CaseAccount.case_id == candidate.id)
    with pytest.raises(IllegalTransition, match="not an open proposal"):
        await ins.add_likely_accounts(domain, agent, candidate.id, ["ACC-9"])
    assert await count(domain, CaseAccount, CaseAccount.case_id == candidate.id) == before
    added = await ins.add_likely_accounts(domain, actors[Role.MANAGER], candidate.id, ["ACC-9"])
    assert added.accounts_added == 1 and added.children_created == 1


async def test_a_shared_product_alone_is_found_without_any_characteristic(domain: Domain, actors: Actors) -> None:
    # Only the product stands out (no characteristic is shared beyond chance): the scoring must
    # not depend on a characteristic factor coming first.
    numbers = [f"ACC-P{i:02d}" for i in range(60)]
    ids = await add_accounts(domain, numbers)
    items = [(ids[n], "P-RARE" if i < 10 else "P-COMMON", {"serial": f"s{i}"}) for i, n in enumerate(numbers)]
    await add_install_base(domain, items)
    view = await ins.likely_affected(domain, actors[Role.AGENT], account_numbers=numbers[:5])
    assert {f.kind for f in view.factors} == {"product"}
    assert {a.number for a in view.accounts[:5]} == set(numbers[5:10])
