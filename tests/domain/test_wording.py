"""Customer-facing wording: the template a case starts from, ``set_case_wording`` and its
refusals, children and the declared outage carrying the major case's words, and the public
service catalogue that names ``{service}``."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, update

from pcso_tui.domain.casework import cases
from pcso_tui.domain.casework import major_cases as mc
from pcso_tui.domain.casework.timeline import case_timeline
from pcso_tui.domain.casework.wording import case_wording, set_case_wording
from pcso_tui.domain.communications.outages import service_name, status_page_data
from pcso_tui.domain.core.errors import InvalidInput, NotFound, PermissionDenied
from pcso_tui.domain.core.models import Case, ConfigurationItem, Outage, Product
from pcso_tui.domain.core.roles import Actor, Role
from pcso_tui.domain.core.service import Domain
from pcso_tui.domain.core.settings import CaseworkSettings, Settings, WorkflowSettings
from pcso_tui.domain.core.versions import StaleRecord
from tests.domain.case_world import World, build_world, children_of, counts, events

Actors = dict[Role, Actor]


@pytest.fixture
async def world(domain: Domain, actors: Actors) -> World:
    domain.settings = Settings(workflow=WorkflowSettings(on_proactive_case="none"))
    return await build_world(domain)


async def wording_of(domain: Domain, case_id: int) -> tuple[str | None, str | None]:
    async with domain.reading() as session:
        row = (await session.execute(select(Case.public_title, Case.public_summary).where(Case.id == case_id))).one()
        return row.public_title, row.public_summary


async def test_a_proactive_case_starts_from_the_template_of_its_service(
    domain: Domain, actors: Actors, world: World
) -> None:
    # The case is on host-1 (internal); its items hang on the customer-facing service svc-1.
    view = await cases.open_proactive_case(domain, actors[Role.OPERATOR], world.incident_id)
    assert await wording_of(domain, view.id) == (
        "svc-1: service disruption",
        "We are investigating a problem affecting svc-1. We will keep you informed.",
    )


async def test_the_template_is_configurable(domain: Domain, actors: Actors, world: World) -> None:
    domain.settings = Settings(
        workflow=WorkflowSettings(on_proactive_case="none"),
        casework=CaseworkSettings(public_title="Trouble with {service}", public_summary="We are on {service}."),
    )
    view = await cases.open_proactive_case(domain, actors[Role.OPERATOR], world.incident_id)
    assert await wording_of(domain, view.id) == ("Trouble with svc-1", "We are on svc-1.")


async def test_set_case_wording_edits_once_with_an_event_and_a_timeline_line(
    domain: Domain, actors: Actors, world: World
) -> None:
    view = await cases.open_proactive_case(domain, actors[Role.OPERATOR], world.incident_id)
    got = await set_case_wording(
        domain,
        actors[Role.AGENT],
        view.id,
        title="  Calls to landlines fail ",
        summary="Some calls\r\nfail.",
        expected_version=view.version,
    )
    assert (got.title, got.summary, got.version) == ("Calls to landlines fail", "Some calls\nfail.", view.version + 1)
    assert await wording_of(domain, view.id) == ("Calls to landlines fail", "Some calls\nfail.")
    (worded,) = await events(domain, "case.worded")
    assert worded.payload["title"] == "Calls to landlines fail"
    # Only the summary: the title stays.
    again = await set_case_wording(domain, actors[Role.MANAGER], view.id, summary="Fixed soon.")
    assert (again.title, again.summary) == ("Calls to landlines fail", "Fixed soon.")
    assert await case_wording(domain, actors[Role.OPERATOR], view.id) == again
    timeline = await case_timeline(domain, actors[Role.MANAGER], view.id)
    assert any("Customer-facing wording: Calls to landlines fail" in e.title for e in timeline.entries)


@pytest.mark.parametrize(
    ("role", "kwargs", "error", "message"),
    [
        (Role.AGENT, {"title": "   "}, InvalidInput, "a customer-facing title is required"),
        (Role.AGENT, {"title": "x" * 201}, InvalidInput, "201 characters long; the limit is 200"),
        (Role.AGENT, {}, InvalidInput, "give a customer-facing title, a summary, or both"),
        (Role.AGENT, {"title": "ok", "expected_version": 99}, StaleRecord, "changed"),
        (Role.OPERATOR, {"title": "ok"}, PermissionDenied, "work cases"),
        (Role.CUSTOMER, {"title": "ok"}, PermissionDenied, "work cases"),
    ],
)
async def test_set_case_wording_refusals_change_nothing(
    domain: Domain, actors: Actors, world: World, role: Role, kwargs: dict, error: type, message: str
) -> None:
    view = await cases.open_proactive_case(domain, actors[Role.OPERATOR], world.incident_id)
    before, words = await counts(domain), await wording_of(domain, view.id)
    with pytest.raises(error, match=message):
        await set_case_wording(domain, actors[role], view.id, **kwargs)
    assert await counts(domain) == before and await wording_of(domain, view.id) == words
    assert await events(domain, "case.worded") == []


async def test_an_unknown_case_is_not_found(domain: Domain, actors: Actors, world: World) -> None:
    with pytest.raises(NotFound, match="no case CS0099999"):
        await set_case_wording(domain, actors[Role.AGENT], 99999, title="x")


async def test_approval_shows_and_hands_the_wording_to_children_and_the_outage(
    domain: Domain, actors: Actors, world: World
) -> None:
    view = await cases.open_proactive_case(domain, actors[Role.OPERATOR], world.incident_id)
    await mc.propose_major_case(domain, actors[Role.AGENT], view.id, reason="r", business_impact="b")
    await set_case_wording(domain, actors[Role.AGENT], view.id, title="Calls fail", summary="Some calls fail.")
    preview = await mc.preview_approval(domain, actors[Role.MANAGER], view.id)
    assert (preview.public_title, preview.public_summary) == ("Calls fail", "Some calls fail.")
    result = await mc.approve_major_case(domain, actors[Role.MANAGER], view.id)
    assert await wording_of(domain, result.major_case_id) == ("Calls fail", "Some calls fail.")
    children = await children_of(domain, result.major_case_id)
    assert children and {(c.public_title, c.public_summary) for c in children} == {("Calls fail", "Some calls fail.")}
    (shown,) = (await status_page_data(domain)).with_status("active")
    assert (shown.title, shown.service) == ("Calls fail", "svc-1")


async def test_a_case_left_empty_is_worded_at_approval(domain: Domain, actors: Actors, world: World) -> None:
    view = await cases.open_proactive_case(domain, actors[Role.OPERATOR], world.incident_id)
    await mc.propose_major_case(domain, actors[Role.AGENT], view.id, reason="r", business_impact="b")
    async with domain.db.writing() as session:  # a case from before customer-facing wording
        await session.execute(update(Case).where(Case.id == view.id).values(public_title=None, public_summary=None))
    preview = await mc.preview_approval(domain, actors[Role.MANAGER], view.id)
    assert preview.public_title == "svc-1: service disruption"
    result = await mc.approve_major_case(domain, actors[Role.MANAGER], view.id)
    assert (await wording_of(domain, result.major_case_id))[0] == "svc-1: service disruption"


async def test_the_catalogue_names_the_service_never_an_internal_ci(
    domain: Domain, actors: Actors, world: World
) -> None:
    async with domain.db.writing() as session:
        # svc-1 is not customer-facing after all: the product the accounts bought names it.
        await session.execute(
            update(ConfigurationItem).where(ConfigurationItem.name == "svc-1").values(customer_facing=False)
        )
        await session.execute(update(Product).where(Product.number == "P-PBX").values(public_name="Business Phone"))
    view = await cases.open_proactive_case(domain, actors[Role.OPERATOR], world.incident_id)
    assert (await wording_of(domain, view.id))[0] == "Business Phone: service disruption"
    await mc.propose_major_case(domain, actors[Role.AGENT], view.id, reason="r", business_impact="b")
    await mc.approve_major_case(domain, actors[Role.MANAGER], view.id)
    (shown,) = (await status_page_data(domain)).with_status("active")
    assert shown.service == "Business Phone"
    async with domain.reading() as session:
        assert await session.scalar(select(func.count()).select_from(Outage)) == 1


def test_service_name_follows_the_catalogue() -> None:
    assert service_name("PBX", "host-1", "host", product_public_name="Phone") == "Phone"
    assert service_name("PBX", "host-1", "host", product_facing=False) == "Other services"
    assert service_name(None, "host-1", "host") == "Other services"
    assert service_name(None, "host-1", "host", ci_facing=True) == "Other services"  # no public name
    assert service_name(None, "host-1", "host", ci_facing=True, ci_public_name="Voice") == "Voice"
    assert service_name(None, "svc", "service") == "svc"
    assert service_name(None, "svc", "service", ci_public_name="Voice") == "Voice"
    assert service_name(None, "svc", "service", ci_facing=False) == "Other services"


def test_the_template_is_checked_at_config_load() -> None:
    from pcso_tui.config import settings_from

    with pytest.raises(InvalidInput, match=r"config.casework: public_title: unknown placeholder \{host\}"):
        settings_from({"casework": {"public_title": "{host} is down"}}, sections={})
    with pytest.raises(InvalidInput, match="public_summary must not be empty"):
        settings_from({"casework": {"public_summary": " "}}, sections={})
    got = settings_from({"casework": {"public_title": "{service} trouble"}}, sections={})
    assert got.casework.public_title == "{service} trouble"
