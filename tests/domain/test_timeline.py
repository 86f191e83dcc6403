"""The major case timeline (events in time order, with the text they point at, dense stretches
grouped) and the manager's queue."""

from __future__ import annotations

from datetime import timedelta

import pytest

from pcso_tui.domain.casework import cases
from pcso_tui.domain.casework import major_cases as mc
from pcso_tui.domain.casework.timeline import case_timeline, list_major_queue
from pcso_tui.domain.casework.timeline_entries import entry_from_event, group_timeline
from pcso_tui.domain.core.clock import FrozenClock
from pcso_tui.domain.core.errors import InvalidInput, NotFound, PermissionDenied
from pcso_tui.domain.core.event_kinds import NoticesDelivered
from pcso_tui.domain.core.roles import SYSTEM, Actor, Role
from pcso_tui.domain.core.service import Domain
from pcso_tui.domain.core.settings import Settings, WorkflowSettings
from pcso_tui.domain.core.views import EventView
from pcso_tui.domain.operations import incidents
from tests.domain.case_world import HOSTILE, NOTIFIED, World, build_world, counts

Actors = dict[Role, Actor]


@pytest.fixture
async def world(domain: Domain, actors: Actors) -> World:
    domain.settings = Settings(workflow=WorkflowSettings(on_proactive_case="none"))
    return await build_world(domain)


async def propose(domain: Domain, actors: Actors, world: World, reason: str = "six accounts down") -> int:
    view = await cases.open_proactive_case(domain, actors[Role.OPERATOR], world.incident_id)
    await mc.propose_major_case(domain, actors[Role.AGENT], view.id, reason=reason, business_impact="voice down")
    return view.id


async def delivered(domain: Domain, major_id: int, **tallies: int) -> None:
    async with domain.transaction(SYSTEM) as tx:
        tx.record(major_id, NoticesDelivered(**tallies))


async def test_the_timeline_tells_the_whole_story_in_time_order(
    domain: Domain, actors: Actors, world: World, clock: FrozenClock
) -> None:
    candidate = await propose(domain, actors, world, reason=f"reason {HOSTILE}")
    clock.advance(minutes=1)
    approval = await mc.approve_major_case(domain, actors[Role.MANAGER], candidate)
    major = approval.major_case_id
    clock.advance(minutes=1)
    await incidents.add_incident_note(domain, actors[Role.OPERATOR], world.incident_id, "fix rolling", kind="progress")
    clock.advance(minutes=1)
    await mc.post_statement(domain, actors[Role.MANAGER], major, f"We know {HOSTILE}")
    clock.advance(minutes=1)
    await delivered(domain, major, sent=3, retrying=0, dead=0, skipped=0)
    clock.advance(minutes=1)
    await delivered(domain, major, sent=2, retrying=1, dead=0, skipped=0)
    clock.advance(minutes=1)
    await cases.add_case_note(domain, actors[Role.MANAGER], major, "internal thought", customer_visible=False)
    clock.advance(minutes=1)
    await mc.resolve_major_case(domain, actors[Role.MANAGER], major, code="fixed", notes="host replaced")
    clock.advance(minutes=1)
    await mc.close_major_case(domain, actors[Role.MANAGER], major)

    timeline = await case_timeline(domain, actors[Role.AGENT], major)
    assert timeline.related_case_ids == (candidate,)
    assert not timeline.truncated
    assert [e.at for e in timeline.entries] == sorted(e.at for e in timeline.entries)
    categories = [e.category for e in timeline.entries]
    assert categories == [
        "proposal",
        "state",  # the major case opened from the candidate
        "approval",
        "incident",
        "statement",
        "notices",
        "notices",
        "note",
        "resolution",
        "resolution",
    ]
    by = {e.category: e for e in reversed(timeline.entries)}
    assert by["proposal"].detail == f"Reason: reason {HOSTILE}\nBusiness impact: voice down"
    assert by["approval"].title == (
        f"Approved: {approval.children_created} child cases, {approval.notices_queued} notices queued"
        f" ({approval.notices_skipped} skipped); {approval.outage_number} on the status page"
    )
    assert by["incident"].detail == "fix rolling"
    assert by["incident"].title.endswith("incident progress · internal")
    assert by["statement"].detail == f"We know {HOSTILE}"
    reached = approval.children_created + 1  # the candidate is a child too
    assert by["statement"].title.startswith(f"Statement to {reached} child cases")
    assert by["note"].title == "Work note · internal" and by["note"].detail == "internal thought"
    assert timeline.entries[-2].title.startswith("Resolved (fixed): ")
    assert timeline.entries[-2].title.endswith("; 1 outage ended on the status page")
    assert timeline.entries[-1].title.startswith("Closed: ")

    lines = group_timeline(timeline.entries)
    notices = [line for line in lines if line.category == "notices"]
    assert len(notices) == 1 and notices[0].grouped
    assert notices[0].title == "5 notices delivered, 1 retrying"
    assert notices[0].until - notices[0].at == timedelta(minutes=1)
    assert len(lines) == len(timeline.entries) - 1


async def test_dense_stretches_group_only_when_close_and_uninterrupted(clock: FrozenClock) -> None:
    def ev(n: int, minutes: float, kind: str = "notices.delivered", **payload: int) -> EventView:
        return EventView(n, clock.now + timedelta(minutes=minutes), "worker", None, kind, "case", 1, dict(payload))

    entries = [
        entry_from_event(ev(1, 0, sent=4)),
        entry_from_event(ev(2, 1, sent=4, dead=1)),
        entry_from_event(ev(3, 2, sent=4, skipped=2)),
        entry_from_event(ev(4, 30, sent=1)),  # too long after
        entry_from_event(ev(5, 31, "case.state_changed", children_synced=2)),
        entry_from_event(ev(6, 32, sent=7)),  # another stretch after an interruption
    ]
    lines = group_timeline(reversed(entries))
    assert [(line.title, line.event_ids) for line in lines] == [
        ("12 notices delivered, 1 failed, 2 skipped", (1, 2, 3)),
        ("1 notice delivered", (4,)),
        ("State ? → ; 2 child cases followed", (5,)),
        ("7 notices delivered", (6,)),
    ]
    assert lines[0].until == clock.now + timedelta(minutes=2)


async def test_an_unknown_event_and_a_bad_payload_still_make_an_entry(clock: FrozenClock) -> None:
    entry = entry_from_event(EventView(9, clock.now, "x", None, "case.mystery", "case", 1, {"children": "many"}))
    assert (entry.category, entry.title, entry.detail) == ("other", "case.mystery", "")
    odd = EventView(10, clock.now, "x", None, "major_case.approved", "case", 1, {"children": "x"})
    approved = entry_from_event(odd)
    assert approved.title == "Approved: 0 child cases, 0 notices queued"


async def test_only_staff_read_a_timeline_and_unknown_cases_are_named(
    domain: Domain, actors: Actors, world: World
) -> None:
    candidate = await propose(domain, actors, world)
    before = await counts(domain)
    with pytest.raises(PermissionDenied):
        await case_timeline(domain, actors[Role.CUSTOMER], candidate)
    with pytest.raises(PermissionDenied):
        await list_major_queue(domain, actors[Role.CUSTOMER])
    with pytest.raises(NotFound, match="no case CS0099999"):
        await case_timeline(domain, actors[Role.AGENT], 99999)
    with pytest.raises(InvalidInput):
        await case_timeline(domain, actors[Role.AGENT], candidate, limit=0)
    assert await counts(domain) == before


async def test_the_timeline_reads_only_the_newest_events(domain: Domain, actors: Actors, world: World) -> None:
    candidate = await propose(domain, actors, world)
    for n in range(4):
        await cases.add_case_note(domain, actors[Role.AGENT], candidate, f"note {n}", customer_visible=False)
    timeline = await case_timeline(domain, actors[Role.AGENT], candidate, limit=3)
    assert timeline.truncated
    assert [e.detail for e in timeline.entries] == ["note 1", "note 2", "note 3"]


async def test_the_manager_queue_puts_proposals_first_then_open_major_cases(
    domain: Domain, actors: Actors, world: World
) -> None:
    first = await propose(domain, actors, world)
    approval = await mc.approve_major_case(domain, actors[Role.MANAGER], first)
    other = await cases.open_proactive_case(domain, actors[Role.OPERATOR], world.other_incident_id)
    await mc.propose_major_case(
        domain, actors[Role.AGENT], other.id, reason=HOSTILE, business_impact=f"impact {HOSTILE}"
    )
    rows = await list_major_queue(domain, actors[Role.MANAGER])
    assert [r.case.id for r in rows] == [other.id, approval.major_case_id]
    proposal, major = rows
    assert proposal.business_impact == f"impact {HOSTILE}" and proposal.proposed_by == "agent"
    assert proposal.case.major_case_state == "proposed"
    assert proposal.incident_title == "svc-other slow"
    assert major.children_total == approval.children_created + 1  # the candidate became a child too
    assert major.children_active == major.children_total
    assert major.case.affected_accounts >= len(NOTIFIED)

    await mc.reject_major_case(domain, actors[Role.MANAGER], other.id, reason="not that big")
    await mc.resolve_major_case(domain, actors[Role.MANAGER], approval.major_case_id, code="fixed", notes="done")
    rows = await list_major_queue(domain, actors[Role.MANAGER])
    assert [(r.case.id, r.case.state, r.children_active) for r in rows] == [(approval.major_case_id, "resolved", 0)]
    await mc.close_major_case(domain, actors[Role.MANAGER], approval.major_case_id)
    assert await list_major_queue(domain, actors[Role.MANAGER]) == []
