"""Proposals that repeat another are flagged with the other's number; a proposed case's
recommendation says it is proposed; a case that cannot be proposed says why before any form."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import insert

from pcso_tui.domain.casework import cases
from pcso_tui.domain.casework import insight as ins
from pcso_tui.domain.casework import major_cases as mc
from pcso_tui.domain.casework.duplicates import duplicate_proposals, merge_proposal
from pcso_tui.domain.casework.proposal_rules import proposal_refusal
from pcso_tui.domain.core.errors import InvalidInput, NotFound, PermissionDenied
from pcso_tui.domain.core.models import Incident
from pcso_tui.domain.core.roles import SYSTEM, Actor, Role
from pcso_tui.domain.core.service import Domain
from pcso_tui.domain.core.views import case_number
from tests.domain.insight_world import add_accounts, add_cases

Actors = dict[Role, Actor]


async def _incident(domain: Domain) -> int:
    async with domain.transaction(SYSTEM) as tx:
        values = {"title": "Core switch down", "severity": "major", "opened_at": tx.now, "updated_at": tx.now}
        return int(await tx.session.scalar(insert(Incident).values(**values).returning(Incident.id)))


async def test_a_repeated_proposal_is_flagged_with_the_others_number(domain: Domain, actors: Actors) -> None:
    agent = actors[Role.AGENT]
    accounts = await add_accounts(domain, ["ACC-1", "ACC-2", "ACC-3", "ACC-4"])
    incident_id = await _incident(domain)
    first, replay, same_incident, other, unproposed = await add_cases(
        domain,
        [
            {"account_id": accounts["ACC-1"], "short_description": "VPN tunnel drops every few minutes"},
            {"account_id": accounts["ACC-2"], "short_description": "VPN tunnel drops every few minutes!"},
            {
                "account_id": accounts["ACC-3"],
                "short_description": "Phones cannot register",
                "incident_id": incident_id,
            },
            {"account_id": accounts["ACC-4"], "short_description": "Invoices show the wrong currency"},
            {
                "account_id": accounts["ACC-4"],
                "short_description": "Core switch down in Frankfurt",
                "incident_id": incident_id,
            },
        ],
    )
    assert await duplicate_proposals(domain, agent) == {}  # nothing proposed yet

    for case_id in (first, replay, same_incident, other):
        await mc.propose_major_case(domain, agent, case_id, reason="many calls", business_impact="outage")
    await add_cases(
        domain,
        [{"account_id": accounts["ACC-1"], "short_description": "Core switch down", "incident_id": incident_id}],
    )  # not proposed: never the other of a flag
    found = await duplicate_proposals(domain, agent)

    assert set(found) == {first, replay}
    assert found[replay].other_number == case_number(first) and "near-identical title" in found[replay].reason
    assert found[first].other_number == case_number(replay)
    assert other not in found and same_incident not in found and unproposed not in found

    await mc.propose_major_case(domain, agent, unproposed, reason="same outage", business_impact="outage")
    found = await duplicate_proposals(domain, agent)
    assert found[unproposed].other_id == same_incident and found[unproposed].reason.startswith("same incident INC")
    assert found[same_incident].other_id == unproposed


async def test_a_proposed_case_is_recommended_nothing_and_refuses_a_second_proposal(
    domain: Domain, actors: Actors
) -> None:
    agent = actors[Role.AGENT]
    accounts = await add_accounts(domain, ["ACC-1"])
    (case_id,) = await add_cases(domain, [{"account_id": accounts["ACC-1"], "short_description": "VPN drops"}])
    before = await cases.get_case(domain, agent, case_id)
    assert proposal_refusal(before.case) is None

    await mc.propose_major_case(domain, agent, case_id, reason="many calls", business_impact="outage")
    rec = await ins.recommend(domain, agent, case_id)
    assert rec.action == "none"
    assert (
        rec.headline
        == f"{case_number(case_id)} is already proposed as a major case, with 1 account: the manager decides"
    )
    assert not any("needs" in r for r in rec.reasons)

    proposed = (await cases.get_case(domain, agent, case_id)).case
    assert (
        proposal_refusal(proposed) == f"{case_number(case_id)} is already proposed as a major case; the manager decides"
    )
    assert "only new, open or awaiting_info" in (proposal_refusal(replace(before.case, state="resolved")) or "")
    assert "already a child of CS" in (proposal_refusal(replace(before.case, parent_number="CS0000009")) or "")


async def test_duplicates_are_for_staff_only(domain: Domain, actors: Actors) -> None:
    with pytest.raises(PermissionDenied):
        await duplicate_proposals(domain, actors[Role.CUSTOMER])


async def test_a_proposal_repeating_a_major_case_is_merged_into_it(domain: Domain, actors: Actors) -> None:
    agent, manager = actors[Role.AGENT], actors[Role.MANAGER]
    accounts = await add_accounts(domain, ["ACC-1", "ACC-2"])
    first, replay = await add_cases(
        domain,
        [
            {"account_id": accounts["ACC-1"], "short_description": "VPN tunnel drops every few minutes"},
            {"account_id": accounts["ACC-2"], "short_description": "VPN tunnel drops every few minutes"},
        ],
    )
    await mc.propose_major_case(domain, agent, first, reason="calls", business_impact="vpn")
    approved = await mc.approve_major_case(domain, manager, first)
    await mc.propose_major_case(domain, agent, replay, reason="calls", business_impact="vpn")
    flag = (await duplicate_proposals(domain, agent))[replay]
    assert flag.other_is_major and flag.other_id == approved.major_case_id

    with pytest.raises(PermissionDenied):  # agents do not decide proposals
        await merge_proposal(domain, agent, replay, approved.major_case_id)
    merged = await merge_proposal(domain, manager, replay, approved.major_case_id)
    assert merged.parent_id == approved.major_case_id and merged.major_case_state == "rejected"
    assert await duplicate_proposals(domain, agent) == {}


async def test_a_merge_that_cannot_attach_changes_nothing(domain: Domain, actors: Actors) -> None:
    agent, manager = actors[Role.AGENT], actors[Role.MANAGER]
    accounts = await add_accounts(domain, ["ACC-1"])
    (case_id,) = await add_cases(domain, [{"account_id": accounts["ACC-1"], "short_description": "VPN drops"}])
    await mc.propose_major_case(domain, agent, case_id, reason="calls", business_impact="vpn")
    before = await cases.get_case(domain, agent, case_id)
    with pytest.raises(NotFound):  # no such major case: the rejection is rolled back too
        await merge_proposal(domain, manager, case_id, 999_999)
    with pytest.raises(InvalidInput):  # into itself: the rejection is rolled back
        await merge_proposal(domain, manager, case_id, case_id)
    after = await cases.get_case(domain, agent, case_id)
    assert (after.case.major_case_state, after.case.version) == ("proposed", before.case.version)
