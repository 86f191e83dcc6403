"""Outages: status from the clock, planned-maintenance notices over the service map, refusals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pcso_tui.domain.communications.outages import create_outage, end_outage, list_outages, outage_status, update_outage
from pcso_tui.domain.core.clock import FrozenClock
from pcso_tui.domain.core.errors import IllegalTransition, InvalidInput, NotFound, PermissionDenied
from pcso_tui.domain.core.models import Event, Notice, Outage
from pcso_tui.domain.core.roles import Actor, Role
from pcso_tui.domain.core.service import Domain
from pcso_tui.domain.core.states import OutageStatus
from tests.domain.notice_world import count, make_service_map, make_world, notices

HOUR = timedelta(hours=1)


async def totals(domain: Domain) -> tuple[int, int, int]:
    return (await count(domain, Outage), await count(domain, Notice), await count(domain, Event))


def test_status_follows_begin_and_end() -> None:
    t = datetime(2026, 11, 23, 12, tzinfo=UTC)
    assert outage_status(t + HOUR, None, t) is OutageStatus.PLANNED
    assert outage_status(t + HOUR, t + 2 * HOUR, t) is OutageStatus.PLANNED
    assert outage_status(t, None, t) is OutageStatus.ACTIVE
    assert outage_status(t - HOUR, t + HOUR, t) is OutageStatus.ACTIVE
    assert outage_status(t - HOUR, t, t) is OutageStatus.PAST
    assert outage_status(t - 2 * HOUR, t - HOUR, t) is OutageStatus.PAST


async def test_status_moves_with_the_clock(domain: Domain, actors: dict[Role, Actor], clock: FrozenClock) -> None:
    operator = actors[Role.OPERATOR]
    created = await create_outage(
        domain,
        operator,
        type="planned",
        title="Database upgrade",
        begins_at=clock.now + HOUR,
        ends_at=clock.now + 3 * HOUR,
    )
    assert created.status == "planned" and created.number == f"OUT{created.id:07d}"
    assert [o.number for o in await list_outages(domain, operator, status="planned")] == [created.number]
    clock.advance(hours=2)
    assert [o.status for o in await list_outages(domain, operator)] == ["active"]
    assert await list_outages(domain, operator, status="planned") == []
    clock.advance(hours=1)
    assert [o.number for o in await list_outages(domain, None, status="past")] == [created.number]
    with pytest.raises(InvalidInput, match="unknown outage status 'over'"):
        await list_outages(domain, operator, status="over")


async def test_planned_outage_tells_every_contact_of_dependent_accounts(
    domain: Domain, actors: dict[Role, Actor], clock: FrozenClock
) -> None:
    world = await make_service_map(domain)
    outage = await create_outage(
        domain,
        actors[Role.MANAGER],
        type="planned",
        title="Host maintenance",
        details="Payments will be read-only for 30 minutes.",
        begins_at=clock.now + 24 * HOUR,
        ends_at=clock.now + 25 * HOUR,
        ci_name="host-1",
    )
    # host-1 carries B (and B's component) and, through payments, A, D and E. D is internal.
    # Every contact (notify = "all"): A's two, B's; E is opted out: a skipped notice says so.
    rows = await notices(domain)
    assert (outage.notices_queued, outage.notices_skipped, len(rows)) == (3, 1, 4)
    assert {n.contact_id for n in rows} == {world.contacts[x] for x in ("A", "A2", "B", "E")}
    assert {n.kind for n in rows} == {"outage_planned"}
    assert {n.idempotency_key for n in rows} == {
        f"outage_planned:{outage.id}:{world.contacts[x]}" for x in ("A", "A2", "B", "E")
    }
    told = [n for n in rows if n.contact_id != world.contacts["E"]]
    pending = {(n.outage_id, n.state, n.channel, n.next_attempt_at) for n in told}
    assert pending == {(outage.id, "pending", "email", clock.now)}
    (opted_out,) = [n for n in rows if n.contact_id == world.contacts["E"]]
    assert (opted_out.state, opted_out.last_error) == ("skipped", "contact opted out")

    by_product = await create_outage(
        domain,
        actors[Role.MANAGER],
        type="planned",
        title="Other product upgrade",
        begins_at=clock.now + HOUR,
        product_number="P-OTHER",
    )
    assert by_product.notices_queued == 1
    assert by_product.service == "Other Product"
    for kind, begins in (("unplanned", clock.now), ("degradation", clock.now), ("planned", clock.now - HOUR)):
        quiet = await create_outage(
            domain, actors[Role.OPERATOR], type=kind, title="x", begins_at=begins, ci_name="dc-1"
        )
        assert quiet.notices_queued == 0
    assert await count(domain, Notice) == 5


async def test_rescheduling_planned_maintenance_tells_them_again(
    domain: Domain, actors: dict[Role, Actor], clock: FrozenClock
) -> None:
    await make_service_map(domain)
    manager = actors[Role.MANAGER]
    outage = await create_outage(
        domain, manager, type="planned", title="Patch", begins_at=clock.now + HOUR, ci_name="payments"
    )
    moved = await update_outage(domain, manager, outage.id, begins_at=clock.now + 5 * HOUR)
    assert moved.notices_queued == outage.notices_queued == 2  # A's two contacts (D is internal)
    assert moved.notices_skipped == outage.notices_skipped == 1  # E opted out
    keys = sorted(n.idempotency_key for n in await notices(domain))
    assert sum(k.startswith("outage_rescheduled:") for k in keys) == 3
    retitled = await update_outage(domain, manager, outage.id, title="Security patch")
    assert retitled.notices_queued == 0 and retitled.title == "Security patch"
    before = await totals(domain)
    with pytest.raises(InvalidInput, match="nothing to change"):
        await update_outage(domain, manager, outage.id, title="Security patch")
    with pytest.raises(InvalidInput, match="cannot end"):
        await update_outage(domain, manager, outage.id, ends_at=clock.now)
    assert await totals(domain) == before


async def test_ending_an_outage(domain: Domain, actors: dict[Role, Actor], clock: FrozenClock) -> None:
    operator = actors[Role.OPERATOR]
    outage = await create_outage(domain, operator, type="unplanned", title="Outage", begins_at=clock.now - HOUR)
    future = await create_outage(domain, operator, type="planned", title="Later", begins_at=clock.now + HOUR)
    before = await totals(domain)
    with pytest.raises(InvalidInput, match="cannot end before that"):
        await end_outage(domain, operator, future.id)
    with pytest.raises(NotFound, match="no outage OUT0000999"):
        await end_outage(domain, operator, 999)
    with pytest.raises(InvalidInput, match="must carry a time zone"):
        await end_outage(domain, operator, outage.id, at=datetime(2026, 1, 1))
    assert await totals(domain) == before
    ended = await end_outage(domain, operator, outage.id)
    assert (ended.status, ended.ends_at) == ("past", clock.now)
    with pytest.raises(IllegalTransition, match="already ended"):
        await end_outage(domain, operator, outage.id)


@pytest.mark.parametrize(
    ("changes", "error", "message"),
    [
        ({"type": "meteor"}, InvalidInput, "unknown outage type 'meteor'; types: unplanned, planned, degradation"),
        ({"title": "   "}, InvalidInput, "an outage needs a title"),
        ({"title": "x" * 501}, InvalidInput, "at most 500"),
        ({"begins_at": datetime(2026, 11, 23, 9)}, InvalidInput, "begins_at must carry a time zone"),
        ({"ends_at": datetime(2026, 11, 22, tzinfo=UTC)}, InvalidInput, "cannot end"),
        ({"ci_name": "nope"}, NotFound, "no CI named 'nope'"),
        ({"product_number": "P-NONE"}, NotFound, "no product numbered 'P-NONE'"),
        ({"case_id": 4242}, NotFound, "no case CS0004242"),
        ({"incident_id": 77}, NotFound, "no incident INC0000077"),
    ],
)
async def test_bad_outages_are_refused_and_change_nothing(
    domain: Domain, actors: dict[Role, Actor], clock: FrozenClock, changes, error, message
) -> None:
    await make_service_map(domain)
    arguments = {"type": "planned", "title": "Maintenance", "begins_at": clock.now + HOUR, "ci_name": "host-1"}
    before = await totals(domain)
    with pytest.raises(error, match=message):
        await create_outage(domain, actors[Role.MANAGER], **(arguments | changes))
    assert await totals(domain) == before


async def test_who_may_manage_outages(domain: Domain, actors: dict[Role, Actor], clock: FrozenClock) -> None:
    made = await create_outage(domain, actors[Role.ADMIN], type="unplanned", title="x", begins_at=clock.now)
    before = await totals(domain)
    for role in (Role.AGENT, Role.CUSTOMER):
        with pytest.raises(PermissionDenied, match="may not manage outages"):
            await create_outage(domain, actors[role], type="unplanned", title="x", begins_at=clock.now)
        with pytest.raises(PermissionDenied, match="may not manage outages"):
            await end_outage(domain, actors[role], made.id)
        with pytest.raises(PermissionDenied, match="may not manage outages"):
            await update_outage(domain, actors[role], made.id, title="y")
    assert await totals(domain) == before
    for role in (Role.OPERATOR, Role.MANAGER):
        await update_outage(domain, actors[role], made.id, title=f"by {role.value}")


async def test_customers_see_only_outages_that_touch_their_account(
    domain: Domain, actors: dict[Role, Actor], clock: FrozenClock
) -> None:
    customer = actors[Role.CUSTOMER]
    await make_service_map(domain, extra_account_id=customer.account_id)
    world = await make_world(domain, 1, queue=False)
    manager = actors[Role.MANAGER]
    upstream = await create_outage(
        domain, manager, type="unplanned", title="DC power", begins_at=clock.now, ci_name="dc-1"
    )
    elsewhere = await create_outage(
        domain, manager, type="unplanned", title="Other", begins_at=clock.now, ci_name="other-svc"
    )
    product = await create_outage(
        domain, manager, type="degradation", title="Slow", begins_at=clock.now, product_number="P-PAY"
    )
    general = await create_outage(domain, manager, type="planned", title="Portal", begins_at=clock.now + HOUR)
    foreign_case = await create_outage(
        domain, manager, type="unplanned", title="Theirs", begins_at=clock.now, case_id=world.major_id
    )
    seen = await list_outages(domain, customer)
    assert {o.number for o in seen} == {upstream.number, product.number, general.number}
    assert all(o.ci_name is None and o.case_number is None for o in seen)
    staff = await list_outages(domain, actors[Role.AGENT])
    assert {o.number for o in staff} >= {elsewhere.number, foreign_case.number}
    assert {o.ci_name for o in staff if o.number == upstream.number} == {"dc-1"}
    assert {o.service for o in staff if o.number == upstream.number} == {"Other services"}
