"""Who is told: every opted-in contact of an affected account, as ``[delivery] notify`` says.

ACC-T1 of the case world gets two more contacts: a technical one (by SMS) and a billing one
who opted out. Every notice fan-out — approval, statement, resolution, close (which tells no
one) and planned outages — reaches the same contacts for one ``notify`` setting.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import insert, select, update

from pcso_tui.domain.casework import cases
from pcso_tui.domain.casework import major_cases as mc
from pcso_tui.domain.communications.outages import create_outage
from pcso_tui.domain.core.clock import FrozenClock
from pcso_tui.domain.core.models import Contact, Notice
from pcso_tui.domain.core.roles import SYSTEM, Actor, Role
from pcso_tui.domain.core.service import Domain
from pcso_tui.domain.core.settings import Settings, WorkflowSettings
from tests.domain.case_world import World, build_world, events, notices

Actors = dict[Role, Actor]

# notify → which of ACC-T1's contacts get a notice, and the state it gets.
CASES = {
    "all": {"primary": "pending", "technical": "pending", "billing": "skipped"},
    "primary": {"primary": "pending"},
    ("technical",): {"technical": "pending"},
    ("billing", "primary"): {"primary": "pending", "billing": "skipped"},
    ("Technical", "BILLING"): {"technical": "pending", "billing": "skipped"},
}


@pytest.fixture
async def world(domain: Domain, actors: Actors) -> World:
    w = await build_world(domain)
    async with domain.transaction(SYSTEM) as tx:
        await tx.session.execute(
            insert(Contact),
            [
                {
                    "number": "C-ACC-T1-TECH",
                    "account_id": w.accounts["ACC-T1"],
                    "name": "Technical of ACC-T1",
                    "phone": "+46700000001",
                    "preferred_channel": "sms",
                    "role": "technical",
                },
                {
                    "number": "C-ACC-T1-BILL",
                    "account_id": w.accounts["ACC-T1"],
                    "name": "Billing of ACC-T1",
                    "email": "billing@acc-t1.example",
                    "role": "billing",
                    "opted_out": True,
                },
            ],
        )
        # The primary contact has a role too: "primary" in ``notify`` means the flag, not a role.
        await tx.session.execute(update(Contact).where(Contact.id == w.contacts["ACC-T1"]).values(role="owner"))
        ids = dict((await tx.session.execute(select(Contact.number, Contact.id))).all())
    w.others["technical"], w.others["billing"] = ids["C-ACC-T1-TECH"], ids["C-ACC-T1-BILL"]
    return w


def configure(domain: Domain, notify: str | tuple[str, ...]) -> None:
    base = Settings(workflow=WorkflowSettings(on_proactive_case="none"))
    roles = list(notify) if isinstance(notify, tuple) else notify
    domain.settings = replace(base, delivery=replace(base.delivery, notify=roles))


def t1_contacts(world: World) -> dict[int, str]:
    return {
        world.contacts["ACC-T1"]: "primary",
        world.others["technical"]: "technical",
        world.others["billing"]: "billing",
    }


def on_t1(rows: list[Notice], world: World) -> dict[str, str]:
    """ACC-T1's notices among ``rows``: contact (primary/technical/billing) → state."""
    who = t1_contacts(world)
    return {who[n.contact_id]: n.state for n in rows if n.account_id == world.accounts["ACC-T1"]}


def tally(rows: list[Notice]) -> tuple[int, int]:
    return sum(n.state == "pending" for n in rows), sum(n.state == "skipped" for n in rows)


@pytest.mark.parametrize("notify", list(CASES), ids=str)
async def test_each_fan_out_tells_the_contacts_notify_names(
    domain: Domain, actors: Actors, world: World, clock: FrozenClock, notify: str | tuple[str, ...]
) -> None:
    configure(domain, notify)
    expected = CASES[notify]
    manager = actors[Role.MANAGER]
    case = await cases.open_proactive_case(domain, actors[Role.OPERATOR], world.incident_id)
    await mc.propose_major_case(domain, actors[Role.AGENT], case.id, reason="r", business_impact="b")

    preview = await mc.preview_approval(domain, manager, case.id)
    approval = await mc.approve_major_case(domain, manager, case.id)
    major = approval.major_case_id
    approved = await notices(domain, f"approved:{major}:")
    assert on_t1(approved, world) == expected
    assert (approval.notices_queued, approval.notices_skipped) == tally(approved)
    assert (preview.notices, preview.notices_skipped) == tally(approved)
    (event,) = await events(domain, "major_case.approved")
    assert (event.payload["notices"], event.payload["notices_skipped"]) == tally(approved)
    # Each through their own preferred channel.
    channels = {n.contact_id: n.channel for n in approved}
    if "technical" in expected:
        assert channels[world.others["technical"]] == "sms"
    if "primary" in expected:
        assert channels[world.contacts["ACC-T1"]] == "email"

    # Idempotent: fanning out again (an account added twice) queues nothing new.
    again = await mc.add_affected_accounts(domain, manager, major, ["ACC-T1"])
    assert (again.notices_queued, again.notices_skipped) == (0, 0)
    assert len(await notices(domain, f"approved:{major}:")) == len(approved)

    posted = await mc.post_statement(domain, manager, major, "We are on it.")
    said = await notices(domain, f"statement:{posted.statement_id}:")
    assert on_t1(said, world) == expected
    assert (posted.notices_queued, posted.notices_skipped) == tally(said)
    assert {n.statement_id for n in said} == {posted.statement_id}

    resolved = await mc.resolve_major_case(domain, manager, major, code="fixed", notes="Power is back.")
    told = await notices(domain, f"resolved:{major}:")
    assert on_t1(told, world) == expected
    assert (resolved.notices_queued, resolved.notices_skipped) == tally(told)
    (event,) = await events(domain, "major_case.resolved")
    assert (event.payload["notices"], event.payload["notices_skipped"]) == tally(told)

    before = await notices(domain)
    closed = await mc.close_major_case(domain, manager, major)
    assert (closed.notices_queued, closed.notices_skipped) == (0, 0)  # the resolution told them
    assert len(await notices(domain)) == len(before)

    outage = await create_outage(
        domain,
        manager,
        type="planned",
        title="Maintenance",
        begins_at=clock.now + timedelta(days=1),
        ci_name="svc-1",
    )
    planned = await notices(domain, f"outage_planned:{outage.id}:")
    assert on_t1(planned, world) == expected
    assert (outage.notices_queued, outage.notices_skipped) == tally(planned)
    skipped = [n for n in planned if n.state == "skipped"]
    assert all(n.last_error == "contact opted out" for n in skipped)
