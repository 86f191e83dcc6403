"""Case worlds for the agent and manager screens: the seeded workspace world (users of every
role) plus ``tests.domain.case_world`` (a service map, six affected accounts, an incident whose
title is hostile), and a proactive case on the incident."""

from __future__ import annotations

from dataclasses import dataclass

from tests.conftest import FROZEN_AT
from tests.domain.case_world import World, build_world

from pcso_tui.domain.core.clock import FrozenClock
from pcso_tui.domain.core.roles import Actor
from pcso_tui.domain.core.service import Domain
from pcso_tui.domain.core.settings import Settings, WorkflowSettings


@dataclass
class CaseWorld:
    world: World
    case_id: int


async def open_domain(url: str) -> Domain:
    from pcso_tui.plugins import new_plugin_manager

    domain = await Domain.open(
        url, clock=FrozenClock(FROZEN_AT), hooks=new_plugin_manager(load_entry_points=False).hook
    )
    # The workflow rule leaves proactive cases to the agent.
    domain.settings = Settings(workflow=WorkflowSettings(on_proactive_case="none"))
    return domain


async def signed_in(domain: Domain, name: str) -> Actor:
    from pcso_tui.domain.core.users import sign_in

    return await sign_in(domain, name)


async def build_case_world(url: str) -> CaseWorld:
    """After ``seed_world``: the case world and an open proactive case on its incident."""
    from pcso_tui.domain.casework.cases import open_proactive_case

    domain = await open_domain(url)
    try:
        world = await build_world(domain)
        case = await open_proactive_case(domain, await signed_in(domain, "operator"), world.incident_id)
        return CaseWorld(world=world, case_id=case.id)
    finally:
        await domain.close()
