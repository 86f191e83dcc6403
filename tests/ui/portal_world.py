"""A portal world for the workspace tests: the seeded users (the ``customer`` user on ACC-T1)
plus ``tests.domain.case_world``; a major case over the incident with a child per account, a
statement, a workaround article and an outage, all with hostile text; a reactive case of
ACC-T1 (hostile subject) and one of ACC-2 that the customer must never see."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from tests.conftest import FROZEN_AT
from tests.domain.case_world import build_world

from pcso_tui.domain.core.clock import FrozenClock
from pcso_tui.domain.core.service import Domain

HOSTILE = "[bold]Mal[/ \x1b[2J"
STATEMENT = f"Engineers are restoring calls {HOSTILE}"
OTHER_SECRET = "ACC2-ONLY fax line down"


@dataclass
class PortalWorld:
    major_id: int
    child_id: int
    reactive_id: int
    other_id: int
    outage_id: int


async def build_portal_world(url: str) -> PortalWorld:
    from sqlalchemy import select

    from pcso_tui.domain.casework import cases
    from pcso_tui.domain.casework.major_cases import approve_major_case, post_statement
    from pcso_tui.domain.communications.articles import attach_article, create_article
    from pcso_tui.domain.communications.outages import update_outage
    from pcso_tui.domain.core.models import Case, Outage
    from pcso_tui.domain.core.users import sign_in
    from pcso_tui.plugins import new_plugin_manager

    clock = FrozenClock(FROZEN_AT)
    domain = await Domain.open(url, clock=clock, hooks=new_plugin_manager(load_entry_points=False).hook)
    try:
        world = await build_world(domain)
        operator, agent, manager = [await sign_in(domain, n) for n in ("operator", "agent", "manager")]
        proactive = await cases.open_proactive_case(domain, operator, world.incident_id)
        major = (await approve_major_case(domain, manager, proactive.id)).major_case_id
        async with domain.reading() as session:
            child = await session.scalar(
                select(Case.id).where(Case.parent_id == major, Case.account_id == world.accounts["ACC-T1"])
            )
        assert child is not None
        await post_statement(domain, manager, major, STATEMENT)
        article = await create_article(
            domain, manager, title=f"Forward calls {HOSTILE}", body=f"Set forwarding {HOSTILE}", number="KB-FWD"
        )
        await attach_article(domain, manager, major, article.number)
        # The outage the approval declared, given a (hostile) title and details by the manager.
        async with domain.reading() as session:
            declared = (await session.scalars(select(Outage.id).where(Outage.case_id == major))).one()
        outage = await update_outage(
            domain,
            manager,
            declared,
            title=f"Voice down {HOSTILE}",
            details="Calls fail.",
            begins_at=clock() - timedelta(minutes=30),
        )
        mine = await cases.open_reactive_case(
            domain, agent, account_number="ACC-T1", short_description=f"Phones dead {HOSTILE}"
        )
        await cases.add_case_note(domain, agent, mine.id, "INTERNAL-NOTE never shown", customer_visible=False)
        other = await cases.open_reactive_case(domain, agent, account_number="ACC-2", short_description=OTHER_SECRET)
        return PortalWorld(major_id=major, child_id=child, reactive_id=mine.id, other_id=other.id, outage_id=outage.id)
    finally:
        await domain.close()
