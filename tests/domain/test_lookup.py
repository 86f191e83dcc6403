"""Go-to by number: every kind of record is found by its number or name, each role finds only
what it may see, and bad input is one line."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from pcso_tui.domain.casework.cases import open_proactive_case
from pcso_tui.domain.core.errors import InvalidInput
from pcso_tui.domain.core.models import Case
from pcso_tui.domain.core.roles import SYSTEM, Actor, Role
from pcso_tui.domain.core.service import Domain
from pcso_tui.domain.core.views import case_number, incident_number
from pcso_tui.domain.operations.lookup import find_records
from tests.domain.case_world import build_world

Actors = dict[Role, Actor]


async def test_each_kind_is_found_by_its_number_or_name(domain: Domain, actors: Actors) -> None:
    world = await build_world(domain)
    case = await open_proactive_case(domain, actors[Role.OPERATOR], world.incident_id)
    agent, operator = actors[Role.AGENT], actors[Role.OPERATOR]

    (found,) = await find_records(domain, agent, case_number(case.id).lower())
    assert (found.kind, found.id, found.case_kind) == ("case", case.id, "proactive")
    (found,) = await find_records(domain, operator, incident_number(world.incident_id))
    assert (found.kind, found.id) == ("incident", world.incident_id)
    (found,) = await find_records(domain, operator, str(world.critical_alert_id))
    assert (found.kind, found.id) == ("alert", world.critical_alert_id)
    account_number = next(iter(world.accounts))
    (found,) = await find_records(domain, agent, account_number.lower())
    assert (found.kind, found.number) == ("account", account_number)
    hosts = await find_records(domain, operator, "host-1")
    assert [(r.kind, r.number) for r in hosts] == [("ci", "host-1")]
    services = await find_records(domain, operator, "svc")
    assert [r.number for r in services] == ["svc-1", "svc-other"]
    assert await find_records(domain, operator, "CS9999999") == ()
    assert await find_records(domain, operator, "no such thing%") == ()


async def test_a_customer_finds_only_their_own_accounts_cases(domain: Domain, actors: Actors) -> None:
    world = await build_world(domain)
    case = await open_proactive_case(domain, actors[Role.OPERATOR], world.incident_id)
    customer = actors[Role.CUSTOMER]
    assert await find_records(domain, customer, case_number(case.id)) == ()  # not their account's
    assert await find_records(domain, customer, incident_number(world.incident_id)) == ()
    assert await find_records(domain, customer, "host-1") == ()

    async with domain.transaction(SYSTEM) as tx:
        await tx.session.execute(
            update(Case).where(Case.id == case.id).values(account_id=customer.account_id, public_title="Calls drop")
        )
    (found,) = await find_records(domain, customer, case_number(case.id))
    assert found.title == "Calls drop"  # the customer-facing title, never the internal one


@pytest.mark.parametrize("text", ["", "   ", "x" * 201])
async def test_bad_input_is_one_line(domain: Domain, actors: Actors, text: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        await find_records(domain, actors[Role.AGENT], text)
    assert "\n" not in refused.value.message
