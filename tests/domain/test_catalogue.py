"""The public service catalogue: set and list what customers call products and CIs; refusals
change nothing; the status page and a case's wording follow it."""

from __future__ import annotations

import pytest

from pcso_tui.domain.casework import cases
from pcso_tui.domain.communications.catalogue import KEEP, list_catalogue, set_catalogue_entry
from pcso_tui.domain.core.errors import InvalidInput, NotFound, PermissionDenied
from pcso_tui.domain.core.roles import Actor, Role
from pcso_tui.domain.core.service import Domain
from pcso_tui.domain.core.settings import Settings, WorkflowSettings
from tests.domain.case_world import World, build_world, counts, events

Actors = dict[Role, Actor]


@pytest.fixture
async def world(domain: Domain, actors: Actors) -> World:
    domain.settings = Settings(workflow=WorkflowSettings(on_proactive_case="none"))
    return await build_world(domain)


async def test_the_catalogue_lists_what_customers_see(domain: Domain, actors: Actors, world: World) -> None:
    listed = {(e.entry, e.key): e for e in await list_catalogue(domain, actors[Role.AGENT])}
    assert listed[("product", "P-PBX")].shown_as == "Cloud PBX"
    assert listed[("ci", "svc-1")].shown_as == "svc-1"
    assert listed[("ci", "host-1")].shown_as == "Other services"  # internal: never by name
    assert [e.entry for e in await list_catalogue(domain, actors[Role.AGENT], entry="ci")] == ["ci"] * 4


async def test_setting_an_entry_renames_the_service_everywhere(domain: Domain, actors: Actors, world: World) -> None:
    admin = actors[Role.ADMIN]
    got = await set_catalogue_entry(domain, admin, "ci", "svc-1", public_name="Business Voice")
    assert (got.public_name, got.customer_facing, got.shown_as) == ("Business Voice", None, "Business Voice")
    (changed,) = await events(domain, "catalogue.changed")
    assert changed.payload == {"entry": "ci", "name": "svc-1", "public_name": "Business Voice"}
    view = await cases.open_proactive_case(domain, actors[Role.OPERATOR], world.incident_id)
    detail = await cases.get_case(domain, actors[Role.AGENT], view.id)
    assert detail.case.short_description  # internal text stays as it was
    from tests.domain.test_wording import wording_of

    assert (await wording_of(domain, view.id))[0] == "Business Voice: service disruption"
    hidden = await set_catalogue_entry(domain, admin, "ci", "svc-1", customer_facing=False)
    assert hidden.shown_as == "Other services"
    again = await set_catalogue_entry(domain, admin, "ci", "svc-1", customer_facing=None, public_name="")
    assert (again.public_name, again.customer_facing, again.shown_as) == (None, None, "svc-1")


@pytest.mark.parametrize(
    ("role", "args", "kwargs", "error", "message"),
    [
        (Role.MANAGER, ("ci", "svc-1"), {"public_name": "x"}, PermissionDenied, "import install base data"),
        (Role.ADMIN, ("ci", "nope"), {"public_name": "x"}, NotFound, "no CI 'nope'"),
        (Role.ADMIN, ("host", "svc-1"), {"public_name": "x"}, InvalidInput, "unknown catalogue entry"),
        (Role.ADMIN, ("ci", "svc-1"), {}, InvalidInput, "give a public name"),
        (Role.ADMIN, ("product", "P-PBX"), {"customer_facing": None}, InvalidInput, "say yes or no"),
        (Role.ADMIN, ("ci", "svc-1"), {"public_name": "x" * 201}, InvalidInput, "the limit is 200"),
    ],
)
async def test_refusals_change_nothing(
    domain: Domain, actors: Actors, world: World, role: Role, args: tuple, kwargs: dict, error: type, message: str
) -> None:
    before = await counts(domain)
    catalogue = await list_catalogue(domain, actors[Role.ADMIN])
    with pytest.raises(error, match=message):
        await set_catalogue_entry(domain, actors[role], *args, **{"public_name": KEEP, **kwargs})
    assert await counts(domain) == before and await list_catalogue(domain, actors[Role.ADMIN]) == catalogue
