"""Major cases: propose, approve (one child per account), statements, cascade, incident sync,
the workflow rule and its plugin seam, and who may do what."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from pcso_tui.domain.casework import cases
from pcso_tui.domain.casework import major_cases as mc
from pcso_tui.domain.casework.views import ApprovalResult
from pcso_tui.domain.communications.outages import case_outage, create_outage, status_page_data
from pcso_tui.domain.core.clock import FrozenClock
from pcso_tui.domain.core.errors import Conflict, IllegalTransition, InvalidInput, NotFound, PermissionDenied
from pcso_tui.domain.core.models import Case, CaseAccount, JournalEntry, Notice, Outage
from pcso_tui.domain.core.roles import Actor, Role
from pcso_tui.domain.core.service import Domain
from pcso_tui.domain.core.settings import Settings, WorkflowSettings
from pcso_tui.domain.core.views import case_number, outage_number
from pcso_tui.domain.hookspecs import hookimpl
from pcso_tui.plugins import new_plugin_manager
from tests.domain.case_world import (
    AFFECTED,
    EXTERNAL,
    HOSTILE,
    NOTIFIED,
    SKIPPED,
    World,
    build_world,
    children_of,
    counts,
    events,
    notices,
)

Actors = dict[Role, Actor]


@pytest.fixture
async def world(domain: Domain, actors: Actors) -> World:
    return await build_world(domain)


def rule(domain: Domain, on_proactive_case: str = "none", account_threshold: int = 2) -> None:
    domain.settings = Settings(
        workflow=WorkflowSettings(on_proactive_case=on_proactive_case, account_threshold=account_threshold)
    )


async def proposed(domain: Domain, actors: Actors, world: World) -> int:
    rule(domain, "none")
    view = await cases.open_proactive_case(domain, actors[Role.OPERATOR], world.incident_id)
    await mc.propose_major_case(
        domain, actors[Role.AGENT], view.id, reason="six accounts down", business_impact="voice for 6 customers"
    )
    return view.id


async def approved(domain: Domain, actors: Actors, world: World) -> ApprovalResult:
    return await mc.approve_major_case(domain, actors[Role.MANAGER], await proposed(domain, actors, world))


async def force_state(domain: Domain, case_id: int, state: str) -> None:
    async with domain.db.writing() as session:
        await session.execute(update(Case).where(Case.id == case_id).values(state=state))


async def child_for(domain: Domain, major_id: int, world: World, account: str) -> Case:
    return next(c for c in await children_of(domain, major_id) if c.account_id == world.accounts[account])


async def journal(domain: Domain, case_id: int) -> list[JournalEntry]:
    async with domain.reading() as session:
        return list(
            await session.scalars(select(JournalEntry).where(JournalEntry.case_id == case_id).order_by(JournalEntry.id))
        )


def account_of(world: World, account_id: int | None) -> str | None:
    return next((n for n, i in world.accounts.items() if i == account_id), None)


# --- propose ------------------------------------------------------------------------------


async def test_propose_records_reason_and_impact(domain: Domain, actors: Actors, world: World) -> None:
    case_id = await proposed(domain, actors, world)
    detail = await cases.get_case(domain, actors[Role.MANAGER], case_id)
    assert detail.case.major_case_state == "proposed"
    assert (detail.propose_reason, detail.business_impact, detail.proposed_by) == (
        "six accounts down",
        "voice for 6 customers",
        "agent",
    )
    assert detail.journal[-1].label == "state change · internal"
    (event,) = await events(domain, "major_case.proposed")
    assert event.payload["by_rule"] is False


@pytest.mark.parametrize(
    ("setup", "kw", "error", "message"),
    [
        (None, {"reason": " "}, InvalidInput, "a reason is required"),
        (None, {"business_impact": ""}, InvalidInput, "the business impact is required"),
        ("resolved", {}, IllegalTransition, "only new, open or awaiting_info cases can be proposed"),
        ("closed", {}, IllegalTransition, "only new, open or awaiting_info cases can be proposed"),
        ("proposed", {}, IllegalTransition, "is proposed and cannot become proposed"),
        ("missing", {}, NotFound, "no case CS0009999"),
    ],
)
async def test_bad_proposals_change_nothing(
    domain: Domain, actors: Actors, world: World, setup, kw, error, message
) -> None:
    rule(domain, "none")
    case = await cases.open_proactive_case(domain, actors[Role.OPERATOR], world.incident_id)
    case_id = 9999 if setup == "missing" else case.id
    if setup in ("resolved", "closed"):
        await force_state(domain, case.id, setup)
    if setup == "proposed":
        await mc.propose_major_case(domain, actors[Role.AGENT], case.id, reason="r", business_impact="b")
    args = {"reason": "r", "business_impact": "b"} | kw
    before = await counts(domain)
    with pytest.raises(error, match=message):
        await mc.propose_major_case(domain, actors[Role.AGENT], case_id, **args)
    assert await counts(domain) == before


async def test_children_cannot_be_proposed(domain: Domain, actors: Actors, world: World) -> None:
    result = await approved(domain, actors, world)
    child = await child_for(domain, result.major_case_id, world, "ACC-2")
    before = await counts(domain)
    with pytest.raises(IllegalTransition, match=f"already a child of {result.major_case_number}"):
        await mc.propose_major_case(domain, actors[Role.AGENT], child.id, reason="r", business_impact="b")
    assert await counts(domain) == before


# --- approve ------------------------------------------------------------------------------


async def test_approval_makes_a_new_major_case_with_one_child_per_account(
    domain: Domain, actors: Actors, world: World
) -> None:
    candidate = await proposed(domain, actors, world)
    preview = await mc.preview_approval(domain, actors[Role.MANAGER], candidate)
    result = await mc.approve_major_case(domain, actors[Role.MANAGER], candidate)
    assert result.created_new_major and result.candidate_id == candidate
    assert result.major_case_id != candidate
    assert (preview.children, preview.notices, preview.notices_skipped, preview.accounts_without_contact) == (
        result.children_created,
        result.notices_queued,
        result.notices_skipped,
        0,  # ACC-NOC has no primary contact, but "notify = all" tells its other one
    )
    assert preview.creates_new_major and preview.accounts == len(AFFECTED)

    async with domain.reading() as session:
        major = await session.get(Case, result.major_case_id)
        original = await session.get(Case, candidate)
    assert (major.kind, major.state, major.major_case_state) == ("major", "open", "accepted")
    assert (major.priority, major.incident_id, major.description) == (
        original.priority,
        original.incident_id,
        original.description,
    )
    assert (major.propose_reason, major.business_impact) == ("six accounts down", "voice for 6 customers")
    assert (original.parent_id, original.major_case_state, original.kind) == (major.id, "accepted", "proactive")
    detail = await cases.get_case(domain, actors[Role.MANAGER], major.id)
    assert (detail.accounts_total, detail.items_total) == (len(AFFECTED), len(AFFECTED))

    children = [c for c in await children_of(domain, major.id) if c.kind == "child"]
    assert sorted(account_of(world, c.account_id) for c in children) == AFFECTED
    for child in children:
        number = account_of(world, child.account_id)
        assert child.contact_id == world.contacts.get(number)  # the primary contact, or none
        assert (child.state, child.priority, child.parent_id, child.incident_id) == ("new", 1, major.id, 1)
    assert result.children_created == len(AFFECTED)

    (summary,) = await events(domain, "major_case.approved")
    assert summary.subject_id == major.id
    assert (
        summary.payload.items()
        >= {"children": len(AFFECTED), "notices": len(NOTIFIED), "created_new_major": True}.items()
    )
    opened = {e.subject_id for e in await events(domain, "case.opened")}
    assert {c.id for c in children} | {major.id} <= opened


async def test_approval_queues_one_notice_per_contact_by_preferred_channel(
    domain: Domain, actors: Actors, world: World
) -> None:
    result = await approved(domain, actors, world)
    queued = await notices(domain, f"approved:{result.major_case_id}:")
    by_account = {account_of(world, n.account_id): n for n in queued}
    assert sorted(by_account) == sorted(NOTIFIED + SKIPPED)
    contact_of = world.contacts | world.others  # ACC-NOC: no primary, its other contact is told
    for number, notice in by_account.items():
        assert notice.idempotency_key == f"approved:{result.major_case_id}:{contact_of[number]}"
        assert notice.contact_id == contact_of[number]
        assert notice.kind == "major_case_opened" and notice.attempts == 0
    assert {n: by_account[n].channel for n in NOTIFIED} == {
        "ACC-2": "webhook",
        "ACC-3": "sms",
        "ACC-NOC": "email",
        "ACC-T1": "email",
    }
    assert {n for n, x in by_account.items() if x.state == "pending"} == set(NOTIFIED)
    assert (by_account["ACC-OPT"].state, by_account["ACC-OPT"].last_error) == ("skipped", "contact opted out")
    assert (by_account["ACC-INT"].state, by_account["ACC-INT"].last_error) == ("skipped", "internal account")
    assert (result.notices_queued, result.notices_skipped) == (len(NOTIFIED), len(SKIPPED))


async def test_approving_twice_is_refused_and_creates_nothing(domain: Domain, actors: Actors, world: World) -> None:
    result = await approved(domain, actors, world)
    before = await counts(domain)
    for case_id in (result.candidate_id, result.major_case_id):
        with pytest.raises(IllegalTransition, match="is accepted and cannot become accepted"):
            await mc.approve_major_case(domain, actors[Role.MANAGER], case_id)
    assert await counts(domain) == before
    children = [c for c in await children_of(domain, result.major_case_id) if c.kind == "child"]
    assert len(children) == len({c.account_id for c in children}) == len(AFFECTED)
    assert len(await events(domain, "major_case.approved")) == 1


async def test_the_database_itself_refuses_a_second_child_for_an_account(
    domain: Domain, actors: Actors, world: World
) -> None:
    result = await approved(domain, actors, world)
    existing = await child_for(domain, result.major_case_id, world, "ACC-2")
    with pytest.raises(IntegrityError):
        async with domain.db.writing() as session:
            await session.execute(
                insert(Case).values(
                    kind="child",
                    short_description="dup",
                    parent_id=result.major_case_id,
                    account_id=existing.account_id,
                    opened_at=existing.opened_at,
                    updated_at=existing.opened_at,
                )
            )


async def test_a_direct_candidate_becomes_the_major_case(domain: Domain, actors: Actors, world: World) -> None:
    candidate = await mc.open_major_candidate(
        domain,
        actors[Role.MANAGER],
        short_description=f"Voice outage {HOSTILE}",
        reason="known outage",
        business_impact="three customers",
        account_numbers=["ACC-2", "ACC-3", "ACC-OPT", "ACC-2"],
    )
    assert (candidate.kind, candidate.major_case_state, candidate.affected_accounts) == ("major", "proposed", 3)
    preview = await mc.preview_approval(domain, actors[Role.MANAGER], candidate.id)
    result = await mc.approve_major_case(domain, actors[Role.MANAGER], candidate.id)
    assert not result.created_new_major and result.major_case_id == candidate.id
    assert (preview.children, preview.notices, preview.notices_skipped) == (3, 2, 1)
    assert (result.children_created, result.notices_queued, result.notices_skipped) == (3, 2, 1)
    children = await children_of(domain, candidate.id)
    assert sorted(account_of(world, c.account_id) for c in children) == ["ACC-2", "ACC-3", "ACC-OPT"]


async def test_a_reactive_candidate_becomes_the_child_for_its_account(
    domain: Domain, actors: Actors, world: World
) -> None:
    call = await cases.open_reactive_case(
        domain, actors[Role.AGENT], account_number="ACC-T1", short_description="PBX dead"
    )
    await mc.propose_major_case(domain, actors[Role.AGENT], call.id, reason="r", business_impact="b")
    preview = await mc.preview_approval(domain, actors[Role.MANAGER], call.id)
    result = await mc.approve_major_case(domain, actors[Role.MANAGER], call.id)
    assert (preview.children, preview.notices) == (0, 1)
    assert (result.children_created, result.notices_queued) == (0, 1)
    (only,) = await children_of(domain, result.major_case_id)
    assert (only.id, only.kind) == (call.id, "reactive")
    (notice,) = await notices(domain, f"approved:{result.major_case_id}:")
    assert notice.contact_id == world.contacts["ACC-T1"] and notice.case_id == call.id
    added = await mc.add_affected_accounts(domain, actors[Role.MANAGER], result.major_case_id, ["ACC-T1", "ACC-2"])
    assert (added.accounts_added, added.accounts_already, added.children_created) == (1, 1, 1)


@pytest.mark.parametrize(
    ("setup", "error", "message"),
    [
        ("none", IllegalTransition, "is none and cannot become accepted"),
        ("rejected", IllegalTransition, "is rejected and cannot become accepted"),
        ("resolved", IllegalTransition, "only an active case can become a major case"),
        ("missing", NotFound, "no case CS0009999"),
    ],
)
async def test_only_active_proposals_can_be_approved(
    domain: Domain, actors: Actors, world: World, setup, error, message
) -> None:
    rule(domain, "none")
    case = await cases.open_proactive_case(domain, actors[Role.OPERATOR], world.incident_id)
    case_id = 9999 if setup == "missing" else case.id
    if setup in ("rejected", "resolved"):
        await mc.propose_major_case(domain, actors[Role.AGENT], case.id, reason="r", business_impact="b")
    if setup == "rejected":
        await mc.reject_major_case(domain, actors[Role.MANAGER], case.id, reason="not major")
    if setup == "resolved":
        await force_state(domain, case.id, "resolved")
    before = await counts(domain)
    with pytest.raises(error, match=message):
        await mc.approve_major_case(domain, actors[Role.MANAGER], case_id)
    with pytest.raises(error, match=message):
        await mc.preview_approval(domain, actors[Role.MANAGER], case_id)
    assert await counts(domain) == before


# --- reject -------------------------------------------------------------------------------


async def test_reject_returns_the_case_to_normal(domain: Domain, actors: Actors, world: World) -> None:
    case_id = await proposed(domain, actors, world)
    before = await counts(domain)
    with pytest.raises(InvalidInput, match="a reason is required"):
        await mc.reject_major_case(domain, actors[Role.MANAGER], case_id, reason="")
    assert await counts(domain) == before
    view = await mc.reject_major_case(domain, actors[Role.MANAGER], case_id, reason="only one region")
    assert (view.major_case_state, view.state, view.kind) == ("rejected", "new", "proactive")
    assert await children_of(domain, case_id) == []
    detail = await cases.get_case(domain, actors[Role.MANAGER], case_id)
    assert (detail.reject_reason, detail.decided_by) == ("only one region", "manager")
    with pytest.raises(IllegalTransition, match="is rejected and cannot become rejected"):
        await mc.reject_major_case(domain, actors[Role.MANAGER], case_id, reason="again")
    # A rejected case may be proposed again.
    again = await mc.propose_major_case(domain, actors[Role.AGENT], case_id, reason="spreading", business_impact="b")
    assert again.major_case_state == "proposed"


# --- accounts added later, attached cases --------------------------------------------------


async def test_accounts_added_later_get_only_new_children(domain: Domain, actors: Actors, world: World) -> None:
    result = await approved(domain, actors, world)
    major = result.major_case_id
    added = await mc.add_affected_accounts(domain, actors[Role.MANAGER], major, ["ACC-LATE", "ACC-2", " ACC-LATE "])
    assert (added.accounts_added, added.accounts_already, added.children_created) == (1, 1, 1)
    assert (added.notices_queued, added.notices_skipped) == (1, 0)
    again = await mc.add_affected_accounts(domain, actors[Role.MANAGER], major, ["ACC-LATE"])
    assert (again.accounts_added, again.children_created, again.notices_queued) == (0, 0, 0)
    children = [c for c in await children_of(domain, major) if c.kind == "child"]
    assert sorted(account_of(world, c.account_id) for c in children) == sorted([*AFFECTED, "ACC-LATE"])
    late = await notices(domain, f"approved:{major}:{world.contacts['ACC-LATE']}")
    assert len(late) == 1
    async with domain.reading() as session:
        source = await session.scalar(
            select(CaseAccount.source).where(
                CaseAccount.case_id == major, CaseAccount.account_id == world.accounts["ACC-LATE"]
            )
        )
    assert source == "manual"


async def test_accounts_added_to_a_proposal_wait_for_approval(domain: Domain, actors: Actors, world: World) -> None:
    case_id = await proposed(domain, actors, world)
    added = await mc.add_affected_accounts(domain, actors[Role.MANAGER], case_id, ["ACC-LATE"], source="likely")
    assert (added.accounts_added, added.children_created) == (1, 0)
    result = await mc.approve_major_case(domain, actors[Role.MANAGER], case_id)
    assert result.children_created == len(AFFECTED) + 1


@pytest.mark.parametrize(
    ("numbers", "kw", "error", "message"),
    [
        (["ACC-2", "NOPE-1", "NOPE-2"], {}, NotFound, "2 of 3 account numbers are unknown; nothing was added"),
        ([" ", ""], {}, InvalidInput, "give at least one account number"),
        (["ACC-LATE"], {"source": "guess"}, InvalidInput, "unknown source 'guess'"),
    ],
)
async def test_bad_account_additions_change_nothing(
    domain: Domain, actors: Actors, world: World, numbers, kw, error, message
) -> None:
    result = await approved(domain, actors, world)
    before = await counts(domain)
    with pytest.raises(error, match=message) as caught:
        await mc.add_affected_accounts(domain, actors[Role.MANAGER], result.major_case_id, numbers, **kw)
    assert await counts(domain) == before
    if error is NotFound:
        assert caught.value.details == ["unknown account 'NOPE-1'", "unknown account 'NOPE-2'"]


async def test_accounts_go_to_major_cases_only(domain: Domain, actors: Actors, world: World) -> None:
    rule(domain, "none")
    case = await cases.open_proactive_case(domain, actors[Role.OPERATOR], world.incident_id)
    before = await counts(domain)
    with pytest.raises(IllegalTransition, match="neither a major case nor a proposed one"):
        await mc.add_affected_accounts(domain, actors[Role.MANAGER], case.id, ["ACC-LATE"])
    assert await counts(domain) == before


async def test_attaching_a_customer_call_deflects_it(domain: Domain, actors: Actors, world: World) -> None:
    result = await approved(domain, actors, world)
    call = await cases.open_reactive_case(
        domain, actors[Role.AGENT], account_number="ACC-X", short_description="is it down?"
    )
    view = await mc.attach_case(domain, actors[Role.MANAGER], result.major_case_id, call.id)
    assert (view.parent_id, view.deflected, view.kind) == (result.major_case_id, True, "reactive")
    # The caller's account joins the major case, covered by the call itself: no extra child.
    assert not [
        c
        for c in await children_of(domain, result.major_case_id)
        if c.kind == "child" and c.account_id == world.accounts["ACC-X"]
    ]
    detail = await cases.get_case(domain, actors[Role.MANAGER], result.major_case_id)
    assert detail.accounts_total == len(AFFECTED) + 1
    (notice,) = await notices(domain, f"approved:{result.major_case_id}:{world.contacts['ACC-X']}")
    assert notice.case_id == call.id
    event = (await events(domain, "case.attached"))[-1]
    assert event.payload["deflected"] is True


async def test_attaching_a_proactive_case_brings_its_accounts(domain: Domain, actors: Actors, world: World) -> None:
    result = await approved(domain, actors, world)
    other = await cases.open_proactive_case(domain, actors[Role.OPERATOR], world.other_incident_id)
    view = await mc.attach_case(domain, actors[Role.MANAGER], result.major_case_id, other.id)
    assert (view.parent_id, view.deflected) == (result.major_case_id, False)
    # Its only account, ACC-X, is the case's own: the attached case is that account's child.
    child = await child_for(domain, result.major_case_id, world, "ACC-X")
    assert (child.id, child.kind, child.contact_id) == (other.id, "proactive", world.contacts["ACC-X"])


@pytest.mark.parametrize(
    ("what", "error", "message"),
    [
        ("itself", InvalidInput, "cannot be attached to itself"),
        ("a child", IllegalTransition, "is a child case; only reactive or proactive cases can be attached"),
        ("attached twice", Conflict, "is already a child of"),
        ("a closed case", IllegalTransition, "is closed: only active cases can be attached"),
        ("to a non-major case", IllegalTransition, "is a reactive case, not an approved major case"),
        ("a proposed case", IllegalTransition, "is itself proposed as a major case"),
        ("a missing case", NotFound, "no case CS0009999"),
    ],
)
async def test_bad_attachments_change_nothing(
    domain: Domain, actors: Actors, world: World, what: str, error: type, message: str
) -> None:
    result = await approved(domain, actors, world)
    major = result.major_case_id
    call = await cases.open_reactive_case(domain, actors[Role.AGENT], account_number="ACC-X", short_description="?")
    target, case_id = major, call.id
    if what == "itself":
        case_id = major
    elif what == "a child":
        case_id = (await child_for(domain, major, world, "ACC-2")).id
    elif what == "attached twice":
        await mc.attach_case(domain, actors[Role.MANAGER], major, call.id)
    elif what == "a closed case":
        await force_state(domain, call.id, "closed")
    elif what == "to a non-major case":
        target = (
            await cases.open_reactive_case(domain, actors[Role.AGENT], account_number="ACC-2", short_description="?")
        ).id
    elif what == "a proposed case":
        await mc.propose_major_case(domain, actors[Role.AGENT], call.id, reason="r", business_impact="b")
    elif what == "a missing case":
        case_id = 9999
    before = await counts(domain)
    with pytest.raises(error, match=message):
        await mc.attach_case(domain, actors[Role.MANAGER], target, case_id)
    assert await counts(domain) == before


# --- statements ---------------------------------------------------------------------------


async def test_a_statement_reaches_open_children_only(domain: Domain, actors: Actors, world: World) -> None:
    result = await approved(domain, actors, world)
    major = result.major_case_id
    # ACC-2's child is already resolved, ACC-3's canceled: neither hears any more.
    await force_state(domain, (await child_for(domain, major, world, "ACC-2")).id, "resolved")
    await force_state(domain, (await child_for(domain, major, world, "ACC-3")).id, "canceled")
    await cases.set_case_state(
        domain, actors[Role.AGENT], (await child_for(domain, major, world, "ACC-T1")).id, "awaiting_info"
    )
    posted = await mc.post_statement(domain, actors[Role.MANAGER], major, f"We are restoring service {HOSTILE}")
    active_children = [c for c in await children_of(domain, major) if c.state in ("new", "open", "awaiting_info")]
    assert posted.children_reached == len(active_children) == len(AFFECTED) - 2 + 1  # + the original case
    for child in await children_of(domain, major):
        lines = [e for e in await journal(domain, child.id) if e.statement_id == posted.statement_id]
        if child.id in {c.id for c in active_children}:
            (line,) = lines
            assert (line.kind, line.visibility, line.body) == (
                "statement",
                "customer",
                f"We are restoring service {HOSTILE}",
            )
        else:
            assert lines == []
    sent = await notices(domain, f"statement:{posted.statement_id}:")
    assert sorted(account_of(world, n.account_id) for n in sent) == ["ACC-INT", "ACC-NOC", "ACC-OPT", "ACC-T1"]
    assert {n.statement_id for n in sent} == {posted.statement_id}
    assert (posted.notices_queued, posted.notices_skipped) == (2, 2)
    detail = await cases.get_case(domain, actors[Role.MANAGER], major)
    assert [s.body for s in detail.statements] == [f"We are restoring service {HOSTILE}"]
    (event,) = await events(domain, "statement.posted")
    assert event.payload["children"] == posted.children_reached
    # The customer reads it on their own child case.
    mine = await cases.get_case(domain, actors[Role.CUSTOMER], (await child_for(domain, major, world, "ACC-T1")).id)
    assert [line.kind for line in mine.journal] == ["statement"]


@pytest.mark.parametrize(
    ("setup", "body", "error", "message"),
    [
        (None, "  ", InvalidInput, "the statement is required"),
        (None, "x" * 10_001, InvalidInput, "the limit is 10000"),
        ("candidate", "hello", IllegalTransition, "not an approved major case"),
        ("closed", "hello", IllegalTransition, "is closed and takes no more statements"),
    ],
)
async def test_bad_statements_change_nothing(
    domain: Domain, actors: Actors, world: World, setup, body, error, message
) -> None:
    result = await approved(domain, actors, world)
    target = result.candidate_id if setup == "candidate" else result.major_case_id
    if setup == "closed":
        await force_state(domain, result.major_case_id, "closed")
    before = await counts(domain)
    with pytest.raises(error, match=message):
        await mc.post_statement(domain, actors[Role.MANAGER], target, body)
    assert await counts(domain) == before


async def test_customer_visible_comments_on_the_major_case_reach_active_children(
    domain: Domain, actors: Actors, world: World
) -> None:
    result = await approved(domain, actors, world)
    major = result.major_case_id
    closed_child = await child_for(domain, major, world, "ACC-2")
    await force_state(domain, closed_child.id, "closed")
    await cases.add_case_note(domain, actors[Role.MANAGER], major, "internal only", customer_visible=False)
    await cases.add_case_note(domain, actors[Role.MANAGER], major, "workaround: use mobiles", customer_visible=True)
    for child in await children_of(domain, major):
        bodies = [e.body for e in await journal(domain, child.id)]
        assert "internal only" not in bodies
        assert ("workaround: use mobiles" in bodies) == (child.id != closed_child.id)


async def test_major_case_state_syncs_to_active_children(domain: Domain, actors: Actors, world: World) -> None:
    result = await approved(domain, actors, world)
    major = result.major_case_id
    canceled = await child_for(domain, major, world, "ACC-3")
    await force_state(domain, canceled.id, "canceled")
    await cases.set_case_state(domain, actors[Role.MANAGER], major, "awaiting_info")
    states = {c.id: c.state for c in await children_of(domain, major)}
    assert states.pop(canceled.id) == "canceled"
    assert set(states.values()) == {"awaiting_info"}
    for target, command in (("resolved", "resolve"), ("closed", "close")):
        before = await counts(domain)
        with pytest.raises(IllegalTransition, match=f"use `pcso case {command}`|cannot become {target}"):
            await cases.set_case_state(domain, actors[Role.MANAGER], major, target)
        assert await counts(domain) == before


async def test_major_case_priority_syncs_to_active_children(domain: Domain, actors: Actors, world: World) -> None:
    result = await approved(domain, actors, world)
    major = result.major_case_id
    resolved = await child_for(domain, major, world, "ACC-2")
    await force_state(domain, resolved.id, "resolved")
    await cases.set_case_priority(domain, actors[Role.MANAGER], major, 3)
    priorities = {c.id: c.priority for c in await children_of(domain, major)}
    assert priorities.pop(resolved.id) == 1
    assert set(priorities.values()) == {3}
    synced = [e for e in await events(domain, "case.priority_changed") if e.payload.get("by") == "sync"]
    assert len(synced) == len(priorities)


# --- resolve and close --------------------------------------------------------------------


async def test_resolve_cascades_to_active_children_and_skips_terminal_ones(
    domain: Domain, actors: Actors, world: World
) -> None:
    result = await approved(domain, actors, world)
    major = result.major_case_id
    own = await child_for(domain, major, world, "ACC-2")
    gone = await child_for(domain, major, world, "ACC-3")
    await cases.set_case_state(domain, actors[Role.AGENT], own.id, "resolved")
    await force_state(domain, gone.id, "canceled")
    done = await mc.resolve_major_case(domain, actors[Role.MANAGER], major, code="power", notes=f"Power back {HOSTILE}")
    assert (done.state, done.children_changed, done.children_skipped) == ("resolved", len(AFFECTED) - 1, 2)
    for child in await children_of(domain, major):
        if child.id == own.id:
            assert (child.state, child.resolution_code) == ("resolved", None)
        elif child.id == gone.id:
            assert (child.state, child.resolution_code) == ("canceled", None)
        else:
            assert (child.state, child.resolution_code, child.resolution_notes) == (
                "resolved",
                "power",
                f"Power back {HOSTILE}",
            )
            assert child.resolved_at is not None and child.version >= 2
    told = await notices(domain, f"resolved:{major}:")
    assert sorted(account_of(world, n.account_id) for n in told) == ["ACC-INT", "ACC-NOC", "ACC-OPT", "ACC-T1"]
    (summary,) = await events(domain, "major_case.resolved")
    assert summary.payload["children"] == done.children_changed and summary.payload["code"] == "power"
    cascaded = [e for e in await events(domain, "case.state_changed") if e.payload.get("by") == "cascade"]
    assert len(cascaded) == done.children_changed
    with pytest.raises(IllegalTransition, match="is resolved and cannot become resolved"):
        await mc.resolve_major_case(domain, actors[Role.MANAGER], major, code="again", notes="again")


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"code": ""}, "a resolution code is required"),
        ({"notes": " "}, "resolution notes is required"),
        ({"code": "x" * 65}, "the limit is 64"),
    ],
)
async def test_bad_resolutions_change_nothing(domain: Domain, actors: Actors, world: World, kw, message) -> None:
    result = await approved(domain, actors, world)
    before = await counts(domain)
    with pytest.raises(InvalidInput, match=message):
        await mc.resolve_major_case(
            domain, actors[Role.MANAGER], result.major_case_id, **({"code": "c", "notes": "n"} | kw)
        )
    with pytest.raises(IllegalTransition, match="not an approved major case"):
        await mc.resolve_major_case(domain, actors[Role.MANAGER], result.candidate_id, code="c", notes="n")
    assert await counts(domain) == before


async def test_close_closes_active_children_and_leaves_the_rest(domain: Domain, actors: Actors, world: World) -> None:
    result = await approved(domain, actors, world)
    major = result.major_case_id
    before = await counts(domain)
    with pytest.raises(IllegalTransition, match="is open and cannot become closed"):
        await mc.close_major_case(domain, actors[Role.MANAGER], major)
    assert await counts(domain) == before
    await mc.resolve_major_case(domain, actors[Role.MANAGER], major, code="fixed", notes="done")
    reopened = await child_for(domain, major, world, "ACC-T1")
    await cases.set_case_state(domain, actors[Role.AGENT], reopened.id, "open")
    done = await mc.close_major_case(domain, actors[Role.MANAGER], major)
    assert (done.state, done.children_changed) == ("closed", 1)
    states = {c.id: (c.state, c.resolution_code) for c in await children_of(domain, major)}
    assert states.pop(reopened.id) == ("closed", "fixed")
    assert {s for s, _ in states.values()} == {"resolved"}
    assert [e.subject_id for e in await events(domain, "major_case.closed")] == [major]
    cascaded = [e for e in await events(domain, "case.state_changed") if e.payload.get("to") == "closed"]
    assert [e.subject_id for e in cascaded] == [reopened.id]


# --- incident → major case sync -------------------------------------------------------------


async def incident_line(domain: Domain, incident_id: int, kind: str, visibility: str, body: str) -> int:
    async with domain.db.writing() as session:
        entry = JournalEntry(
            incident_id=incident_id,
            kind=kind,
            visibility=visibility,
            body=body,
            author_name="operator",
            created_at=domain.clock(),
        )
        session.add(entry)
        await session.flush()
        return entry.id


async def sync(domain: Domain, actors: Actors, incident_id: int, entry_id: int) -> int:
    async with domain.transaction(actors[Role.OPERATOR]) as tx:
        return await mc.sync_incident_update(tx, incident_id, entry_id)


@pytest.mark.parametrize(
    ("kind", "visibility"),
    [
        ("work_note", "internal"),
        ("progress", "customer"),
        ("eta", "customer"),
        ("state", "internal"),
        ("resolution", "internal"),
    ],
)
async def test_incident_lines_reach_the_major_case_with_their_visibility(
    domain: Domain, actors: Actors, world: World, kind: str, visibility: str
) -> None:
    result = await approved(domain, actors, world)
    entry = await incident_line(domain, world.incident_id, kind, visibility, f"{kind} {HOSTILE}")
    assert await sync(domain, actors, world.incident_id, entry) == 1
    (copy,) = [e for e in await journal(domain, result.major_case_id) if e.source_entry_id == entry]
    assert (copy.kind, copy.visibility, copy.body) == (kind, visibility, f"{kind} {HOSTILE}")
    # Nothing cascades to the children and no state changes, even for a resolution.
    for child in await children_of(domain, result.major_case_id):
        assert not [e for e in await journal(domain, child.id) if e.source_entry_id == entry]
    async with domain.reading() as session:
        assert (await session.get(Case, result.major_case_id)).state == "open"
    # Idempotent.
    assert await sync(domain, actors, world.incident_id, entry) == 0
    (event,) = await events(domain, "case.incident_synced")
    assert event.payload["visibility"] == visibility


async def test_sync_finds_a_major_case_through_its_children(domain: Domain, actors: Actors, world: World) -> None:
    candidate = await mc.open_major_candidate(
        domain, actors[Role.MANAGER], short_description="outage", reason="r", business_impact="b"
    )
    await mc.approve_major_case(domain, actors[Role.MANAGER], candidate.id)
    rule(domain, "none")
    proactive = await cases.open_proactive_case(domain, actors[Role.OPERATOR], world.other_incident_id)
    entry = await incident_line(domain, world.other_incident_id, "progress", "internal", "digging")
    assert await sync(domain, actors, world.other_incident_id, entry) == 0  # not linked yet
    await mc.attach_case(domain, actors[Role.MANAGER], candidate.id, proactive.id)
    assert await sync(domain, actors, world.other_incident_id, entry) == 1


async def test_sync_skips_closed_major_cases_and_refuses_foreign_lines(
    domain: Domain, actors: Actors, world: World
) -> None:
    result = await approved(domain, actors, world)
    other = await incident_line(domain, world.other_incident_id, "progress", "internal", "elsewhere")
    with pytest.raises(InvalidInput, match=f"journal entry {other} is not on INC0000001"):
        await sync(domain, actors, world.incident_id, other)
    await force_state(domain, result.major_case_id, "closed")
    entry = await incident_line(domain, world.incident_id, "progress", "internal", "late")
    assert await sync(domain, actors, world.incident_id, entry) == 0


# --- the workflow rule --------------------------------------------------------------------


async def test_rule_none_leaves_the_case_alone(domain: Domain, actors: Actors, world: World) -> None:
    rule(domain, "none")
    view = await cases.open_proactive_case(domain, actors[Role.OPERATOR], world.incident_id)
    assert view.major_case_state == "none"
    assert await events(domain, "major_case.proposed") == []


async def test_rule_propose_at_the_threshold(domain: Domain, actors: Actors, world: World) -> None:
    rule(domain, "propose", account_threshold=len(EXTERNAL))
    view = await cases.open_proactive_case(domain, actors[Role.OPERATOR], world.incident_id)
    assert view.major_case_state == "proposed"
    detail = await cases.get_case(domain, actors[Role.MANAGER], view.id)
    assert detail.propose_reason == f"rule: {len(EXTERNAL)} accounts ≥ threshold {len(EXTERNAL)}"
    assert detail.business_impact and "INC0000001" in detail.business_impact
    assert detail.proposed_by is None
    (event,) = await events(domain, "major_case.proposed")
    assert event.payload["by_rule"] is True and event.actor_name == "operator"


async def test_rule_below_the_threshold_does_nothing(domain: Domain, actors: Actors, world: World) -> None:
    rule(domain, "accept", account_threshold=len(EXTERNAL) + 1)  # internal accounts do not count
    view = await cases.open_proactive_case(domain, actors[Role.OPERATOR], world.incident_id)
    assert view.major_case_state == "none"


async def test_rule_accept_approves_at_once(domain: Domain, actors: Actors, world: World) -> None:
    rule(domain, "accept")
    view = await cases.open_proactive_case(domain, actors[Role.OPERATOR], world.incident_id)
    assert view.major_case_state == "accepted" and view.parent_id is not None
    children = [c for c in await children_of(domain, view.parent_id) if c.kind == "child"]
    assert len(children) == len(AFFECTED)
    (event,) = await events(domain, "major_case.approved")
    assert event.payload["by_rule"] is True
    async with domain.reading() as session:
        major = await session.get(Case, view.parent_id)
    assert major.decided_by_id is None and major.decided_at is not None


async def test_a_bad_rule_setting_opens_no_case(domain: Domain, actors: Actors, world: World) -> None:
    rule(domain, "sometimes")
    before = await counts(domain)
    with pytest.raises(InvalidInput, match="on_proactive_case = 'sometimes' is not one of none, propose, accept"):
        await cases.open_proactive_case(domain, actors[Role.OPERATOR], world.incident_id)
    assert await counts(domain) == before


class GoldRule:
    """A third-party rule: accept at once whatever the settings say."""

    def __init__(self, answer: str | None) -> None:
        self.answer = answer
        self.seen: list[Any] = []

    @hookimpl(tryfirst=True)
    def pcso_workflow_proactive_case_opened(self, facts, settings):
        self.seen.append(facts)
        return self.answer


def with_plugin(domain: Domain, plugin: object) -> None:
    pm = new_plugin_manager(load_entry_points=False)
    pm.register(plugin)
    domain.hooks = pm.hook


async def test_a_plugin_replaces_the_built_in_rule(domain: Domain, actors: Actors, world: World) -> None:
    rule(domain, "none")
    plugin = GoldRule("accept: gold customers hit")
    with_plugin(domain, plugin)
    view = await cases.open_proactive_case(domain, actors[Role.OPERATOR], world.incident_id)
    assert view.major_case_state == "accepted"
    (facts,) = plugin.seen
    assert (facts.case_id, facts.accounts, facts.external_accounts, facts.items, facts.severity) == (
        view.id,
        len(AFFECTED),
        len(EXTERNAL),
        len(AFFECTED),
        "critical",
    )
    detail = await cases.get_case(domain, actors[Role.MANAGER], view.parent_id)
    assert detail.propose_reason == "gold customers hit"


async def test_a_plugin_that_abstains_leaves_it_to_the_built_in_rule(
    domain: Domain, actors: Actors, world: World
) -> None:
    rule(domain, "propose")
    plugin = GoldRule(None)
    with_plugin(domain, plugin)
    view = await cases.open_proactive_case(domain, actors[Role.OPERATOR], world.incident_id)
    assert len(plugin.seen) == 1 and view.major_case_state == "proposed"


async def test_a_plugin_with_a_nonsense_answer_opens_no_case(domain: Domain, actors: Actors, world: World) -> None:
    with_plugin(domain, GoldRule("maybe later"))
    before = await counts(domain)
    with pytest.raises(InvalidInput, match="a workflow rule answered 'maybe later'"):
        await cases.open_proactive_case(domain, actors[Role.OPERATOR], world.incident_id)
    assert await counts(domain) == before


# --- who may do what ----------------------------------------------------------------------

Command = Callable[[Domain, Actor, World, dict[str, Any]], Awaitable[Any]]


async def _setup(domain: Domain, actors: Actors, world: World) -> dict[str, Any]:
    """Fresh records for one role's attempt (called once per role, in one database): a plain
    case, a proposed one, an approved major case, a resolved one, and a call to attach."""
    rule(domain, "none")
    admin = actors[Role.ADMIN]
    plain = await cases.open_reactive_case(domain, admin, account_number="ACC-2", short_description="plain")
    candidate = await cases.open_reactive_case(domain, admin, account_number="ACC-3", short_description="candidate")
    await mc.propose_major_case(domain, admin, candidate.id, reason="r", business_impact="b")
    major = await mc.open_major_candidate(
        domain, admin, short_description="major", reason="r", business_impact="b", account_numbers=AFFECTED
    )
    await mc.approve_major_case(domain, admin, major.id)
    call = await cases.open_reactive_case(domain, admin, account_number="ACC-X", short_description="call")
    done = await mc.open_major_candidate(
        domain, admin, short_description="done", reason="r", business_impact="b", account_numbers=["ACC-LATE"]
    )
    await mc.approve_major_case(domain, admin, done.id)
    await mc.resolve_major_case(domain, admin, done.id, code="c", notes="n")
    return {"plain": plain.id, "candidate": candidate.id, "major": major.id, "call": call.id, "done": done.id}


DECIDERS = {Role.MANAGER, Role.ADMIN}
MAJOR_COMMANDS: dict[str, tuple[set[Role], Command]] = {
    "propose_major_case": (
        {Role.AGENT, Role.MANAGER, Role.ADMIN},
        lambda d, a, w, s: mc.propose_major_case(d, a, s["plain"], reason="r", business_impact="b"),
    ),
    "open_major_candidate": (
        {Role.AGENT, Role.MANAGER, Role.ADMIN},
        lambda d, a, w, s: mc.open_major_candidate(d, a, short_description="x", reason="r", business_impact="b"),
    ),
    "approve_major_case": (DECIDERS, lambda d, a, w, s: mc.approve_major_case(d, a, s["candidate"])),
    "reject_major_case": (DECIDERS, lambda d, a, w, s: mc.reject_major_case(d, a, s["candidate"], reason="no")),
    "preview_approval": (DECIDERS, lambda d, a, w, s: mc.preview_approval(d, a, s["candidate"])),
    "add_affected_accounts": (
        DECIDERS,
        lambda d, a, w, s: mc.add_affected_accounts(d, a, s["major"], ["ACC-LATE"]),
    ),
    "attach_case": (DECIDERS, lambda d, a, w, s: mc.attach_case(d, a, s["major"], s["call"])),
    "post_statement": (DECIDERS, lambda d, a, w, s: mc.post_statement(d, a, s["major"], "update")),
    "resolve_major_case": (
        DECIDERS,
        lambda d, a, w, s: mc.resolve_major_case(d, a, s["major"], code="c", notes="n"),
    ),
    "close_major_case": (DECIDERS, lambda d, a, w, s: mc.close_major_case(d, a, s["done"])),
}


@pytest.mark.parametrize("command", sorted(MAJOR_COMMANDS))
async def test_only_the_right_roles_may(domain: Domain, actors: Actors, world: World, command: str) -> None:
    """Each role tries the command on fresh records: the right roles pass, the others are
    refused and nothing changes."""
    allowed, call = MAJOR_COMMANDS[command]
    for role in Role:
        state = await _setup(domain, actors, world)
        before = await counts(domain)
        if role in allowed:
            assert await call(domain, actors[role], world, state) is not None, role
        else:
            with pytest.raises(PermissionDenied, match=f"^{role.value} \\({role.value}\\) may not "):
                await call(domain, actors[role], world, state)
            assert await counts(domain) == before, role


def test_the_role_table_covers_every_major_case_command() -> None:
    public = {
        name
        for name, value in vars(mc).items()
        if not name.startswith("_")
        and callable(value)
        and getattr(value, "__module__", "") == mc.__name__
        # Building blocks other domain modules call inside their own transaction, after their
        # own role check; not commands.
        and name
        not in {
            "apply_proactive_rule",
            "sync_incident_update",
            "propose_case_in",
            "attach_case_in",
            "journal_line",
            "account_ids_for",
            "clean_account_numbers",
            "queue_account_notices",
            "queue_child_notices",
            "queue_closed_notices",
        }
    }
    assert public == set(MAJOR_COMMANDS)


async def test_notices_never_duplicate_across_commands(domain: Domain, actors: Actors, world: World) -> None:
    result = await approved(domain, actors, world)
    await mc.add_affected_accounts(domain, actors[Role.MANAGER], result.major_case_id, AFFECTED)
    async with domain.reading() as session:
        keys = list(await session.scalars(select(Notice.idempotency_key)))
    assert len(keys) == len(set(keys)) == len(NOTIFIED) + len(SKIPPED)


# --- the major case on the status page ------------------------------------------------------


# The template's customer-facing title of a case on the customer-facing service svc-1.
WORDED = "svc-1: service disruption"


async def outages_of(domain: Domain, case_id: int) -> list[Outage]:
    async with domain.reading() as session:
        return list(await session.scalars(select(Outage).where(Outage.case_id == case_id).order_by(Outage.id)))


async def test_approval_puts_the_major_case_on_the_status_page(
    domain: Domain, actors: Actors, world: World, clock: FrozenClock
) -> None:
    opened = clock.now  # the incident opened now
    clock.advance(minutes=20)
    candidate = await proposed(domain, actors, world)
    assert (await mc.preview_approval(domain, actors[Role.MANAGER], candidate)).declares_outage
    result = await mc.approve_major_case(domain, actors[Role.MANAGER], candidate)
    (outage,) = await outages_of(domain, result.major_case_id)
    assert result.outage_number == outage_number(outage.id)
    # Named by the customer-facing service (svc-1), not the host the case is on; titled with the
    # major case's customer-facing title (the template's, here), never with the incident's or the
    # case's own (internal, here hostile) text.
    assert (outage.type, outage.title, outage.details) == ("unplanned", WORDED, "")
    assert (outage.ci_id, outage.incident_id) == (world.cis["svc-1"], world.incident_id)
    assert (outage.begins_at, outage.ends_at) == (opened, None)
    (created,) = await events(domain, "outage.created")
    assert (created.subject_id, created.payload["by"], created.payload["case_id"]) == (
        outage.id,
        "approval",
        result.major_case_id,
    )
    await mc.post_statement(domain, actors[Role.MANAGER], result.major_case_id, "Calls fail; we are on it.")
    page = await status_page_data(domain)
    (shown,) = page.with_status("active")
    assert (shown.number, shown.service, shown.title, shown.statement) == (
        result.outage_number,
        "svc-1",
        WORDED,
        "Calls fail; we are on it.",
    )


async def test_resolution_ends_the_outage_and_a_reopening_declares_another(
    domain: Domain, actors: Actors, world: World, clock: FrozenClock
) -> None:
    result = await approved(domain, actors, world)
    major = result.major_case_id
    planned = await create_outage(
        domain,
        actors[Role.MANAGER],
        type="planned",
        title="Fix window",
        begins_at=clock.now + timedelta(hours=5),
        ends_at=clock.now + timedelta(hours=6),
        case_id=major,
    )
    # The one the manager words: the declared outage, not the planned maintenance.
    assert (await case_outage(domain, actors[Role.MANAGER], major)).number == result.outage_number
    clock.advance(hours=2)
    resolved_at = clock.now
    await mc.resolve_major_case(domain, actors[Role.MANAGER], major, code="power", notes="Power back")
    with pytest.raises(NotFound, match=f"{case_number(major)} has no open outage on the status page"):
        await case_outage(domain, actors[Role.MANAGER], major)
    declared, maintenance = await outages_of(domain, major)
    assert declared.ends_at == resolved_at and declared.version == 2
    assert (maintenance.id, maintenance.ends_at) == (planned.id, planned.ends_at)  # keeps its own times
    (ended,) = await events(domain, "outage.ended")
    assert (ended.subject_id, ended.payload["by"]) == (declared.id, "resolution")
    assert (await status_page_data(domain)).with_status("active") == ()

    clock.advance(minutes=30)
    await cases.set_case_state(domain, actors[Role.MANAGER], major, "open")
    again = (await outages_of(domain, major))[-1]
    assert again.id not in (declared.id, planned.id)
    # The same disruption again, from now: it never overlaps the one that ended.
    assert (again.begins_at, again.ends_at, again.title) == (clock.now, None, WORDED)
    assert (await events(domain, "outage.created"))[-1].payload["by"] == "reopening"


async def test_no_second_outage_when_one_linked_to_the_case_is_open(
    domain: Domain, actors: Actors, world: World, clock: FrozenClock
) -> None:
    candidate = await mc.open_major_candidate(
        domain,
        actors[Role.AGENT],
        short_description="Voice down",
        reason="r",
        business_impact="b",
        account_numbers=["ACC-T1"],
    )
    declared = await create_outage(
        domain, actors[Role.MANAGER], type="degradation", title="Slow calls", begins_at=clock.now, case_id=candidate.id
    )
    # One announced for later is not under way: resolution leaves it to its own times.
    later = await create_outage(
        domain,
        actors[Role.MANAGER],
        type="degradation",
        title="Slow calls again",
        begins_at=clock.now + timedelta(days=1),
        case_id=candidate.id,
    )
    assert not (await mc.preview_approval(domain, actors[Role.MANAGER], candidate.id)).declares_outage
    result = await mc.approve_major_case(domain, actors[Role.MANAGER], candidate.id)
    assert result.outage_number is None
    assert [o.id for o in await outages_of(domain, candidate.id)] == [declared.id, later.id]
    assert len(await events(domain, "outage.created")) == 2  # the ones declared by hand
    await mc.resolve_major_case(domain, actors[Role.MANAGER], candidate.id, code="fixed", notes="ok")
    degradation, announced = await outages_of(domain, candidate.id)
    assert degradation.ends_at == clock.now  # a degradation ends with the case too
    assert (announced.begins_at, announced.ends_at) == (later.begins_at, None)
