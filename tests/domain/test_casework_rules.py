"""Casework as ServiceNow does it: which calls count as deflected, a caller's case as its
account's child, single-account proactive cases, comments that notify, resolved cases that close
by themselves, and the workflow rule that opens the proactive case with no human step."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from pcso_tui.domain.casework import cases
from pcso_tui.domain.casework import insight as ins
from pcso_tui.domain.casework import major_cases as mc
from pcso_tui.domain.core.clock import FrozenClock
from pcso_tui.domain.core.errors import InvalidInput
from pcso_tui.domain.core.models import Case, Event, Incident
from pcso_tui.domain.core.roles import Actor, Role
from pcso_tui.domain.core.service import Domain
from pcso_tui.domain.core.settings import CaseworkSettings, Settings, WorkflowSettings
from pcso_tui.domain.operations.alerts import ingest_payload
from pcso_tui.domain.reporting import dashboard
from tests.alerting import am_alert, am_message
from tests.domain.case_world import EXTERNAL, NOTIFIED, SKIPPED, World, build_world, events, notices

Actors = dict[Role, Actor]
RECEIVER = Actor(user_id=None, name="receiver", role=Role.OPERATOR)


@pytest.fixture
async def world(domain: Domain, actors: Actors) -> World:
    domain.settings = Settings(workflow=WorkflowSettings(on_proactive_case="none"))
    return await build_world(domain)


async def open_cases_of(domain: Domain, account_id: int) -> int:
    async with domain.reading() as s:
        return (
            await s.scalar(select(func.count()).where(Case.account_id == account_id, Case.state.in_(("new", "open"))))
            or 0
        )


# --- 1 & 2: grouped calls are the major case's children, not deflected; later calls are ---------


async def test_grouped_calls_become_their_accounts_children_and_later_calls_are_deflected(
    domain: Domain, actors: Actors, world: World, clock: FrozenClock
) -> None:
    agent, manager = actors[Role.AGENT], actors[Role.MANAGER]
    calls = [
        await cases.open_reactive_case(domain, agent, account_number=n, short_description="no dial tone")
        for n in ("ACC-T1", "ACC-2")
    ]
    candidate = await ins.propose_major_from_cases(
        domain, agent, [c.id for c in calls], short_description="No dial tone", reason="r", business_impact="b"
    )
    clock.advance(minutes=10)
    preview = await mc.preview_approval(domain, manager, candidate.id)
    assert (preview.children, preview.notices) == (0, 2)
    approval = await mc.approve_major_case(domain, manager, candidate.id)

    # Each caller's own case is its account's child: no generated child, one open case each.
    assert approval.children_created == 0
    for call, number in zip(calls, ("ACC-T1", "ACC-2"), strict=True):
        view = (await cases.get_case(domain, manager, call.id)).case
        assert (view.parent_id, view.deflected) == (candidate.id, False)
        assert await open_cases_of(domain, world.accounts[number]) == 1
    assert (await ins.link_grouped(domain, manager, candidate.id)).attached == ()
    # Their contacts are told their case is linked, not that we found a problem.
    linked = await notices(domain, f"approved:{candidate.id}:")
    assert sorted((n.kind, n.case_id) for n in linked) == sorted((mc.LINKED_NOTICE, c.id) for c in calls)
    attached = await events(domain, "case.attached")
    assert {e.subject_id for e in attached} == {c.id for c in calls}
    assert all(e.payload["by"] == "approval" and e.payload["deflected"] is False for e in attached)

    # A call that comes in later, once the outage is known, is deflected (intake or by hand).
    clock.advance(minutes=10)
    late = await cases.open_reactive_case(domain, agent, account_number="ACC-T1", short_description="still down")
    known = await ins.attach_to_known_outage(domain, agent, late.id, candidate.id)
    assert known.deflected
    later = await cases.open_reactive_case(domain, agent, account_number="ACC-3", short_description="down?")
    assert (await mc.attach_case(domain, manager, candidate.id, later.id)).deflected
    # ACC-3's caller joins through their own case: still one open case for ACC-3, told "linked".
    assert await open_cases_of(domain, world.accounts["ACC-3"]) == 1
    (notice,) = await notices(domain, f"approved:{candidate.id}:{world.contacts['ACC-3']}")
    assert (notice.kind, notice.case_id) == (mc.LINKED_NOTICE, later.id)

    # The dashboard counts the two later calls only.
    board = await dashboard.kpis(domain, manager, period="month")
    assert board.kpi("deflected_calls").current.count == 2


async def test_linking_a_topic_to_an_existing_major_case_deflects_nothing(
    domain: Domain, actors: Actors, world: World
) -> None:
    manager = actors[Role.MANAGER]
    candidate = await mc.open_major_candidate(
        domain, manager, short_description="Voice down", reason="r", business_impact="b", account_numbers=["ACC-2"]
    )
    await mc.approve_major_case(domain, manager, candidate.id)
    call = await cases.open_reactive_case(domain, manager, account_number="ACC-X", short_description="voice down")
    result = await ins.link_cases(domain, manager, candidate.id, [call.id])
    assert len(result.attached) == 1
    assert not (await cases.get_case(domain, manager, call.id)).case.deflected


async def test_a_callers_case_replaces_the_untouched_child_of_its_account(
    domain: Domain, actors: Actors, world: World
) -> None:
    manager, agent = actors[Role.MANAGER], actors[Role.AGENT]
    proactive = await cases.open_proactive_case(domain, actors[Role.OPERATOR], world.incident_id)
    await mc.propose_major_case(domain, manager, proactive.id, reason="r", business_impact="b")
    major = (await mc.approve_major_case(domain, manager, proactive.id)).major_case_id
    before = len(await notices(domain))
    # ACC-2's primary contact calls: their call is ACC-2's child; the generated one is canceled.
    call = await cases.open_reactive_case(domain, agent, account_number="ACC-2", short_description="no dial tone")
    known = await ins.attach_to_known_outage(domain, agent, call.id, major)
    assert known.deflected and known.parent_id == major
    assert await open_cases_of(domain, world.accounts["ACC-2"]) == 1
    async with domain.reading() as s:
        generated = (
            await s.scalars(select(Case).where(Case.parent_id == major, Case.account_id == world.accounts["ACC-2"]))
        ).all()
    states = {c.kind: c.state for c in generated}
    assert states == {"child": "canceled", "reactive": "new"}
    assert len(await notices(domain)) == before  # the contact was told at approval already
    # Statements now reach ACC-2's contact through the call.
    result = await mc.post_statement(domain, manager, major, "Engineers are on site.")
    (told,) = await notices(domain, f"statement:{result.statement_id}:{world.contacts['ACC-2']}")
    assert told.case_id == call.id
    assert any(e.payload.get("by") == "superseded" for e in await events(domain, "case.state_changed"))


# --- 3: single-account proactive cases; comments notify -------------------------------------------


async def test_a_single_account_proactive_case_carries_its_account_and_comments_notify_it(
    domain: Domain, actors: Actors, world: World
) -> None:
    view = await cases.open_proactive_case(domain, actors[Role.OPERATOR], world.other_incident_id)
    async with domain.reading() as s:
        case = await s.get(Case, view.id)
        assert case is not None
        assert (case.account_id, case.contact_id) == (world.accounts["ACC-X"], world.contacts["ACC-X"])
    # Many accounts: no account on the case.
    many = await cases.open_proactive_case(domain, actors[Role.OPERATOR], world.incident_id)
    async with domain.reading() as s:
        assert (await s.get(Case, many.id)).account_id is None  # type: ignore[union-attr]

    agent = actors[Role.AGENT]
    entry = await cases.add_case_note(domain, agent, view.id, "We found the cause.", customer_visible=True)
    (notice,) = await notices(domain, f"comment:{entry}:")
    assert (notice.kind, notice.case_id, notice.contact_id, notice.state) == (
        cases.COMMENT_NOTICE,
        view.id,
        world.contacts["ACC-X"],
        "pending",
    )
    (noted,) = [e for e in await events(domain, "case.noted") if e.payload["entry_id"] == entry]
    assert noted.payload["notices"] == 1
    # Work notes notify nobody.
    before = len(await notices(domain))
    await cases.add_case_note(domain, agent, view.id, "internal", customer_visible=False)
    assert len(await notices(domain)) == before


async def test_a_comment_on_a_major_case_notifies_its_childrens_contacts(
    domain: Domain, actors: Actors, world: World
) -> None:
    manager = actors[Role.MANAGER]
    proactive = await cases.open_proactive_case(domain, actors[Role.OPERATOR], world.incident_id)
    await mc.propose_major_case(domain, manager, proactive.id, reason="r", business_impact="b")
    approval = await mc.approve_major_case(domain, manager, proactive.id)
    entry = await cases.add_case_note(
        domain, manager, approval.major_case_id, "Engineers on site.", customer_visible=True
    )
    sent = await notices(domain, f"comment:{entry}:")
    everyone = world.contacts | world.others
    assert sorted(n.contact_id for n in sent if n.state == "pending") == sorted(everyone[a] for a in NOTIFIED)
    assert sorted(n.contact_id for n in sent if n.state == "skipped") == sorted(everyone[a] for a in SKIPPED)


# --- 4: resolved cases close by themselves ---------------------------------------------------------


async def test_resolved_cases_close_after_the_configured_days(
    domain: Domain, actors: Actors, world: World, clock: FrozenClock
) -> None:
    manager = actors[Role.MANAGER]
    proactive = await cases.open_proactive_case(domain, actors[Role.OPERATOR], world.incident_id)
    await mc.propose_major_case(domain, manager, proactive.id, reason="r", business_impact="b")
    approval = await mc.approve_major_case(domain, manager, proactive.id)
    await mc.resolve_major_case(domain, manager, approval.major_case_id, code="fixed", notes="Power restored.")
    async with domain.reading() as s:
        children = list(await s.scalars(select(Case.id).where(Case.parent_id == approval.major_case_id)))
    domain.settings = Settings(casework=CaseworkSettings(auto_close_days=3, notify_on_auto_close=True))

    clock.advance(days=2, hours=23)
    assert (await cases.close_resolved_cases(domain, manager)).closed == 0
    clock.advance(hours=1)
    result = await cases.close_resolved_cases(domain, actors[Role.ADMIN])
    assert result.closed == len(children)
    async with domain.reading() as s:
        states = dict((await s.execute(select(Case.id, Case.state).where(Case.id.in_(children)))).all())
        major = await s.get(Case, approval.major_case_id)
    assert set(states.values()) == {"closed"}
    assert major is not None and major.state == "resolved"  # its manager closes a major case
    closed = await events(domain, "case.state_changed")
    assert {e.subject_id for e in closed if e.payload.get("by") == "auto-close"} == set(children)
    told = await notices(domain, "closed:")
    assert result.notices_queued == len(told) == len(NOTIFIED)
    assert {n.kind for n in told} == {"closed"}
    # Run again: nothing more.
    again = await cases.close_resolved_cases(domain, manager)
    assert (again.closed, again.notices_queued) == (0, 0)


async def test_auto_close_off_and_bad_settings(domain: Domain, actors: Actors, world: World) -> None:
    domain.settings = Settings(casework=CaseworkSettings(auto_close_days=0))
    result = await cases.close_resolved_cases(domain, actors[Role.MANAGER])
    assert (result.closed, result.resolved_before) == (0, None)
    from pcso_tui.config import settings_from

    with pytest.raises(InvalidInput, match="auto_close_days"):
        settings_from({"casework": {"auto_close_days": -1}})
    with pytest.raises(InvalidInput, match="open_proactive_case"):
        settings_from({"workflow": {"open_proactive_case": "always"}})


# --- 5: the rule that opens the proactive case -----------------------------------------------------


def on_incident(domain: Domain, **kw: object) -> None:
    domain.settings = Settings(
        workflow=WorkflowSettings(on_proactive_case="accept", open_proactive_case="on_incident", **kw)  # type: ignore[arg-type]
    )


async def quiet_world(domain: Domain, world: World) -> None:
    """The world's own incidents closed: a new alert opens a new incident."""
    async with domain.transaction(RECEIVER) as tx:
        await tx.session.execute(update(Incident).values(state="closed"))


async def test_an_alert_opens_incident_proactive_case_and_major_case_with_no_human_step(
    domain: Domain, world: World
) -> None:
    await quiet_world(domain, world)
    on_incident(domain)
    payload = am_message(am_alert("HostDown", fingerprint="fp-host", labels={"ci": "host-1", "severity": "critical"}))
    result = await ingest_payload(domain, RECEIVER, payload)
    (incident_id,) = result.incident_ids

    async with domain.reading() as s:
        proactive = (
            await s.scalars(select(Case).where(Case.incident_id == incident_id, Case.kind == "proactive"))
        ).one()
        major = (await s.scalars(select(Case).where(Case.kind == "major", Case.incident_id == incident_id))).one()
        children = list(await s.scalars(select(Case).where(Case.parent_id == major.id)))
        opened = (
            await s.scalars(select(Event).where(Event.kind == "case.opened", Event.subject_id == proactive.id))
        ).one()
    assert (opened.actor_name, opened.payload["by_rule"]) == ("receiver", True)
    assert proactive.parent_id == major.id and major.major_case_state == "accepted"
    assert {c.account_id for c in children} >= {world.accounts[a] for a in EXTERNAL}
    queued = await notices(domain, f"approved:{major.id}:")
    everyone = world.contacts | world.others
    assert sorted(n.contact_id for n in queued if n.state == "pending") == sorted(everyone[a] for a in NOTIFIED)

    # Never twice: the same alert again, or worse, opens nothing new.
    await ingest_payload(domain, RECEIVER, payload)
    again = am_message(am_alert("HostDown2", fingerprint="fp-host-2", labels={"ci": "host-1", "severity": "critical"}))
    await ingest_payload(domain, RECEIVER, again)
    async with domain.reading() as s:
        assert await s.scalar(select(func.count()).where(Case.kind == "proactive")) == 1


async def test_the_rule_waits_for_severity_and_accounts(domain: Domain, actors: Actors, world: World) -> None:
    await quiet_world(domain, world)
    on_incident(domain, proactive_min_severity="critical", proactive_min_accounts=6)
    # Major, not critical: no case. Critical, but 5 external accounts < 6: no case.
    major = am_message(am_alert("Slow", fingerprint="fp-slow", labels={"ci": "host-1", "severity": "major"}))
    (incident_id,) = (await ingest_payload(domain, RECEIVER, major)).incident_ids
    critical = am_message(am_alert("Down", fingerprint="fp-down", labels={"ci": "host-1", "severity": "critical"}))
    await ingest_payload(domain, RECEIVER, critical)
    async with domain.reading() as s:
        assert (await s.get(Incident, incident_id)).severity == "critical"  # type: ignore[union-attr]
        assert await s.scalar(select(func.count()).where(Case.kind == "proactive")) == 0
    # Off by default: nothing opens whatever the incident.
    domain.settings = Settings()
    assert await cases.open_proactive_cases_by_rule(domain, actors[Role.OPERATOR], [incident_id]) == []
    # The threshold met (the impact grew to reach it): the case opens, once.
    on_incident(domain, proactive_min_severity="critical", proactive_min_accounts=5)
    opened = await cases.open_proactive_cases_by_rule(domain, actors[Role.OPERATOR], [incident_id])
    assert len(opened) == 1
    assert await cases.open_proactive_cases_by_rule(domain, actors[Role.OPERATOR], [incident_id]) == []


async def test_an_incident_opened_by_hand_gets_its_proactive_case(domain: Domain, actors: Actors, world: World) -> None:
    from pcso_tui.domain.operations.incidents import open_incident

    on_incident(domain)
    view = await open_incident(
        domain, actors[Role.OPERATOR], title="dc-1 power", severity="critical", ci_names=["dc-1"]
    )
    async with domain.reading() as s:
        case = (await s.scalars(select(Case).where(Case.incident_id == view.id, Case.kind == "proactive"))).one()
    assert case.opened_by_id == actors[Role.OPERATOR].user_id


async def test_the_delivery_worker_closes_resolved_cases_on_its_schedule(
    domain: Domain, actors: Actors, world: World, clock: FrozenClock
) -> None:
    from pcso_tui.domain.communications.delivery import WORKER, Chore, DeliveryWorker

    call = await cases.open_reactive_case(domain, actors[Role.AGENT], account_number="ACC-2", short_description="x")
    await cases.set_case_state(domain, actors[Role.AGENT], call.id, "open")
    async with domain.transaction(RECEIVER) as tx:
        await tx.session.execute(
            update(Case).where(Case.id == call.id).values(state="resolved", resolved_at=tx.now - timedelta(days=4))
        )
    chore = Chore("auto-close", cases.AUTO_CLOSE_EVERY, lambda: cases.close_resolved_cases(domain, WORKER))
    async with DeliveryWorker(domain, channels=[], chores=[chore]) as worker:
        assert await worker.run_chores() == 1
        assert await worker.run_chores() == 0  # not due again yet
    assert (await cases.get_case(domain, actors[Role.AGENT], call.id)).case.state == "closed"
    (event,) = [e for e in await events(domain, "case.state_changed") if e.payload.get("by") == "auto-close"]
    assert event.actor_name == WORKER.name


def test_a_linked_caller_and_a_comment_read_as_such() -> None:
    from pcso_tui.domain.communications.delivery import RenderSource, render

    def intro(kind: str) -> str:
        source = RenderSource(
            key="k",
            kind=kind,
            created_at=datetime(2026, 12, 7, tzinfo=UTC),
            contact_name="Ann",
            account_number="ACC-1",
            account_name="Acme",
            case_number="CS0000007",
            title="Telephony outage",
        )
        return str(render(source)["subject"]) + "\n" + json.dumps(render(source), default=str)

    linked = intro(mc.LINKED_NOTICE)
    assert "Your case is linked" in linked and "linked to it" in linked and "aware of a problem" not in linked
    assert "Comment on your case" in intro(cases.COMMENT_NOTICE)
