"""A world for the public endpoints: one public service with an active outage whose internal
side (product name, CI, incident, case) is planted with ``MARKER``, which customers never see."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import insert, select

from pcso_tui.domain.communications.outages import create_outage
from pcso_tui.domain.core.models import ConfigurationItem, Incident, Product
from pcso_tui.domain.core.roles import SYSTEM
from pcso_tui.domain.core.service import Domain
from tests.domain.notice_world import make_world

MARKER = "SECRET-MARKER-7f3a"
HOST = f"db-host-{MARKER}"
OUTAGE_TITLE = "Online payments are failing"


@dataclass
class PublicWorld:
    outage_id: int
    major_id: int
    incident_id: int
    account_ids: list[int]


async def make_public_world(domain: Domain, *, title: str = OUTAGE_TITLE) -> PublicWorld:
    world = await make_world(domain, 2, queue=False)
    now = domain.clock()
    async with domain.transaction(SYSTEM) as tx:
        await tx.session.execute(
            insert(Product),
            [
                {"number": "PRD-BANK", "name": f"bank-core {MARKER}", "public_name": "Online Banking"},
                {"number": "PRD-MAIL", "name": "Mail"},
                {"number": "PRD-LEDGER", "name": f"Ledger {MARKER}", "customer_facing": False},
            ],
        )
        await tx.session.execute(
            insert(ConfigurationItem),
            [
                {"name": HOST, "kind": "host", "description": f"internal {MARKER}"},
                {"name": "status-portal", "kind": "service", "public_name": "Status Portal"},
            ],
        )
        host_id = await tx.session.scalar(select(ConfigurationItem.id).where(ConfigurationItem.name == HOST))
        incident = Incident(
            title=f"INC title {MARKER} on {HOST}",
            severity="critical",
            root_ci_id=host_id,
            opened_at=now - timedelta(hours=1),
            eta=now + timedelta(hours=2),
            updated_at=now,
        )
        tx.session.add(incident)
        await tx.session.flush()
        incident_id = incident.id
    outage = await create_outage(
        domain,
        SYSTEM,
        type="unplanned",
        title=title,
        begins_at=now - timedelta(hours=1),
        product_number="PRD-BANK",
        ci_name=HOST,
        case_id=world.major_id,
        incident_id=incident_id,
    )
    return PublicWorld(
        outage_id=outage.id, major_id=world.major_id, incident_id=incident_id, account_ids=world.account_ids
    )
