"""Lost-update protection: every record a person edits refuses a stale write, naming who
changed it and when, and changes nothing."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from sqlalchemy import func, select

from pcso_tui.domain.casework import major_cases as mc
from pcso_tui.domain.casework.cases import set_case_priority, set_case_state
from pcso_tui.domain.communications.articles import create_article, update_article
from pcso_tui.domain.communications.outages import create_outage, update_outage
from pcso_tui.domain.core.clock import FrozenClock
from pcso_tui.domain.core.errors import Conflict
from pcso_tui.domain.core.models import Alert, Article, Case, Event, Outage
from pcso_tui.domain.core.roles import Actor, Role
from pcso_tui.domain.core.service import Domain
from pcso_tui.domain.core.versions import StaleRecord
from pcso_tui.domain.operations.alerts import acknowledge_alert, ingest_payload, list_alerts, unacknowledge_alert
from tests.alerting import am_alert, am_message
from tests.domain.case_world import AFFECTED, build_world


async def snapshot(domain: Domain, model: type, record_id: int) -> tuple[int, tuple]:
    async with domain.reading() as session:
        events = await session.scalar(select(func.count()).select_from(Event))
        row = await session.get(model, record_id)
        cols = tuple(getattr(row, c.key) for c in model.__table__.columns)
    return events, cols


async def refused(
    domain: Domain, model: type, record_id: int, message: str, command: Callable[[], Awaitable[object]]
) -> None:
    before = await snapshot(domain, model, record_id)
    with pytest.raises(StaleRecord, match=message) as caught:
        await command()
    assert isinstance(caught.value, Conflict) and caught.value.exit_code == 7
    assert await snapshot(domain, model, record_id) == before


async def test_a_stale_case_edit_names_who_and_when(
    domain: Domain, actors: dict[Role, Actor], clock: FrozenClock
) -> None:
    await build_world(domain)
    manager, agent = actors[Role.MANAGER], actors[Role.AGENT]
    candidate = await mc.open_major_candidate(
        domain, manager, short_description="outage", reason="r", business_impact="b", account_numbers=AFFECTED[:2]
    )
    seen = candidate.version
    clock.advance(minutes=7)
    await set_case_priority(domain, agent, candidate.id, 1, expected_version=seen)
    message = (
        rf"{candidate.number} was changed by agent at 09:07 UTC \(you had version {seen}, it is now \d+\) — reload"
    )
    for command in (
        lambda: set_case_state(domain, manager, candidate.id, "open", expected_version=seen),
        lambda: set_case_priority(domain, manager, candidate.id, 3, expected_version=seen),
        lambda: mc.approve_major_case(domain, manager, candidate.id, expected_version=seen),
        lambda: mc.reject_major_case(domain, manager, candidate.id, reason="no", expected_version=seen),
    ):
        await refused(domain, Case, candidate.id, message, command)
    current = (await snapshot(domain, Case, candidate.id))[1]
    version = current[[c.key for c in Case.__table__.columns].index("version")]
    approved = await mc.approve_major_case(domain, manager, candidate.id, expected_version=version)
    assert approved.children_created == 2
    clock.advance(minutes=1)
    await mc.post_statement(domain, manager, candidate.id, "We are on it.")
    message = rf"{candidate.number} was changed by manager at 09:08 UTC"
    for command in (
        lambda: mc.resolve_major_case(domain, manager, candidate.id, code="fixed", notes="n", expected_version=version),
        lambda: mc.close_major_case(domain, manager, candidate.id, expected_version=version),
    ):
        await refused(domain, Case, candidate.id, message, command)


async def test_a_stale_article_or_outage_edit_is_refused(
    domain: Domain, actors: dict[Role, Actor], clock: FrozenClock
) -> None:
    manager, operator = actors[Role.MANAGER], actors[Role.OPERATOR]
    article = await create_article(domain, manager, title="Use the backup URL", body="b")
    seen = article.version
    edited = await update_article(domain, manager, article.number, body="b2", expected_version=seen)
    assert edited.version == seen + 1
    await refused(
        domain,
        Article,
        article.id,
        rf"article {article.number} was changed by manager at 09:00 UTC "
        rf"\(you had version {seen}, it is now {seen + 1}\) — reload",
        lambda: update_article(domain, manager, article.number, body="b3", expected_version=seen),
    )
    outage = await create_outage(domain, operator, type="unplanned", title="Outage", begins_at=clock.now)
    clock.advance(minutes=3)
    moved = await update_outage(domain, operator, outage.id, title="Bigger outage", expected_version=outage.version)
    assert moved.version == outage.version + 1
    await refused(
        domain,
        Outage,
        outage.id,
        rf"{outage.number} was changed by operator at 09:03 UTC",
        lambda: update_outage(domain, manager, outage.id, details="x", expected_version=outage.version),
    )


async def test_a_stale_alert_acknowledgement_is_refused(
    domain: Domain, actors: dict[Role, Actor], clock: FrozenClock
) -> None:
    operator = actors[Role.OPERATOR]
    await ingest_payload(domain, operator, am_message(am_alert()))
    alert = (await list_alerts(domain, operator))[0]
    clock.advance(minutes=2)
    await acknowledge_alert(domain, operator, alert.id, expected_version=alert.version)
    await refused(
        domain,
        Alert,
        alert.id,
        rf"alert {alert.id} was changed by operator at 09:02 UTC \(you had version {alert.version}",
        lambda: unacknowledge_alert(domain, operator, alert.id, expected_version=alert.version),
    )
