"""The demo's outage simulation: alerts arrive, flap, resolve, open incidents — all through ingest."""

from __future__ import annotations

import asyncio
import shutil
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from pcso_tui.domain.core.clock import FrozenClock
from pcso_tui.domain.core.models import Alert, Case, Event, Incident
from pcso_tui.domain.core.roles import Actor, Role
from pcso_tui.domain.core.service import Domain
from pcso_tui.domain.core.users import add_user, sign_in
from pcso_tui.world.simulation import (
    FLAPPING_HOST,
    SIMULATOR,
    UNMAPPED_HOSTS,
    OutageSimulation,
    SimulationSettings,
    demo_settings,
)
from pcso_tui.world.world import seed_world
from tests.conftest import FROZEN_AT

ROOT = Actor(user_id=None, name="root", role=Role.CUSTOMER)
STEPS = 12


async def seeded(domain: Domain) -> int:
    """A tiny world; returns the last event id before the simulation starts."""
    await add_user(domain, ROOT, "admin", Role.ADMIN)
    await seed_world(domain, await sign_in(domain, "admin"), size="tiny", seed=3)
    async with domain.reading() as session:
        return await session.scalar(select(func.max(Event.id))) or 0


async def run_steps(sim: OutageSimulation, clock: FrozenClock, n: int = STEPS) -> list:
    steps = []
    for _ in range(n):
        steps.append(await sim.step())
        clock.advance(seconds=2)
    return steps


async def events_since(domain: Domain, last_id: int) -> list[Event]:
    async with domain.reading() as session:
        return list(await session.scalars(select(Event).where(Event.id > last_id).order_by(Event.id)))


async def test_alerts_arrive_flap_resolve_and_open_an_incident(domain: Domain, clock: FrozenClock) -> None:
    before = await seeded(domain)
    sim = OutageSimulation(domain, seed=7)
    steps = await run_steps(sim, clock)

    events = await events_since(domain, before)
    kinds = Counter(e.kind for e in events)
    assert kinds["alert.opened"] >= 5
    assert kinds["alert.flapping"] >= 1
    assert kinds["alert.closed"] >= 1
    assert kinds["incident.opened"] >= 1
    assert sum(s.sent for s in steps) == sim.sent > kinds["alert.opened"]  # repeats and resolutions too
    assert any(s.flapping for s in steps) and any(s.incident_ids for s in steps)

    async with domain.reading() as session:
        simulated = list(await session.scalars(select(Alert).where(Alert.first_seen_at >= FROZEN_AT)))
        outage = await session.scalar(select(Incident).where(Incident.opened_at >= FROZEN_AT).order_by(Incident.id))
    assert {a.source for a in simulated} == {"alertmanager"}
    # Alerts land on CIs of the world, but for the hosts it does not know (kept unmapped).
    unmapped = {a.ci_key for a in simulated if a.ci_id is None}
    assert all(key in UNMAPPED_HOSTS or key.startswith(FLAPPING_HOST) for key in unmapped)
    assert sum(a.ci_id is not None for a in simulated) >= 5
    assert outage is not None and outage.root_ci_id is not None
    assert outage.severity in ("critical", "major")


async def test_nothing_is_written_outside_the_ingest_path(domain: Domain, clock: FrozenClock) -> None:
    before = await seeded(domain)
    async with domain.reading() as session:
        cases_before = await session.scalar(select(func.count()).select_from(Case))
    await run_steps(OutageSimulation(domain, seed=7), clock)

    events = await events_since(domain, before)
    assert events
    assert {e.actor_name for e in events} == {SIMULATOR.name}
    assert {e.kind.split(".")[0] for e in events} <= {"alert", "incident"}
    async with domain.reading() as session:
        assert await session.scalar(select(func.count()).select_from(Case)) == cases_before


async def test_with_an_operator_the_outage_gets_a_proactive_case_and_the_rule_fires(
    domain: Domain, clock: FrozenClock
) -> None:
    before = await seeded(domain)
    olivia = await sign_in(domain, "olivia")
    sim = OutageSimulation(domain, seed=7, operator=olivia)
    steps = await run_steps(sim, clock)

    opened = [c for s in steps for c in s.case_ids]
    assert opened and opened == sim.cases_opened
    events = await events_since(domain, before)
    case_events = [e for e in events if e.subject_type == "case"]
    assert {e.actor_name for e in case_events} == {"olivia"}
    assert "case.opened" in {e.kind for e in case_events}
    async with domain.reading() as session:
        case = await session.get(Case, opened[0])
        assert case is not None and case.kind == "proactive" and case.incident_id is not None
    # The workflow rule (propose at 2 or more external accounts) fired on this outage.
    assert case.major_case_state == "proposed"
    assert "major_case.proposed" in {e.kind for e in case_events}


async def test_flapping_alerts_settle_through_the_sweep(domain: Domain, clock: FrozenClock) -> None:
    before = await seeded(domain)
    settings = SimulationSettings(sweep_every=20, flap_chance=0.0, burst_every=(1000, 1000))
    sim = OutageSimulation(domain, seed=7, settings=settings)
    for _ in range(19):
        await sim.step()
    # A whole flap window of quiet, then the sweep on step 20 settles it.
    clock.advance(seconds=domain.settings.ingest.flap_window_seconds + 1)
    await sim.step()
    await sim.step()
    kinds = Counter(e.kind for e in await events_since(domain, before))
    assert kinds["alert.flapping"] == 1
    assert kinds["alert.closed"] >= 1
    async with domain.reading() as session:
        flapping = await session.scalar(select(func.count()).select_from(Alert).where(Alert.state == "flapping"))
    assert flapping == 0


async def test_the_same_seed_sends_the_same_alerts(sqlite_template: Path, tmp_path: Path) -> None:
    from pcso_tui.plugins import new_plugin_manager

    async def play(name: str) -> list[tuple]:
        path = tmp_path / name
        shutil.copyfile(sqlite_template, path)
        clock = FrozenClock(FROZEN_AT)
        domain = await Domain.open(path, clock=clock, hooks=new_plugin_manager(load_entry_points=False).hook)
        try:
            await seeded(domain)
            await run_steps(OutageSimulation(domain, seed=11), clock, 8)
            async with domain.reading() as session:
                rows = await session.execute(
                    select(Alert.fingerprint, Alert.name, Alert.ci_key, Alert.severity, Alert.state)
                    .where(Alert.first_seen_at >= FROZEN_AT)
                    .order_by(Alert.fingerprint)
                )
                return [tuple(r) for r in rows]
        finally:
            await domain.close()

    first, second = await play("a.db"), await play("b.db")
    assert first and first == second


async def test_start_and_stop_run_it_in_the_background(domain: Domain) -> None:
    await seeded(domain)
    sim = OutageSimulation(domain, seed=7, settings=SimulationSettings(interval=0.01))
    assert not sim.running
    sim.start()
    assert sim.running
    for _ in range(500):
        if sim.steps >= 3:
            break
        await asyncio.sleep(0.01)
    await sim.stop()
    assert not sim.running and sim.steps >= 3
    stopped_at = sim.steps
    await asyncio.sleep(0.05)
    assert sim.steps == stopped_at


async def test_an_empty_database_gives_nothing_to_simulate(domain: Domain) -> None:
    sim = OutageSimulation(domain, seed=1)
    result = await sim.step()
    assert (result.sent, result.incident_ids) == (0, ())
    async with domain.reading() as session:
        assert await session.scalar(select(func.count()).select_from(Alert)) == 0


async def test_only_an_admin_marks_a_database_demo(domain: Domain) -> None:
    from pcso_tui.domain.core.errors import PermissionDenied
    from pcso_tui.domain.core.users import is_demo, mark_demo

    await add_user(domain, ROOT, "admin", Role.ADMIN)
    admin = await sign_in(domain, "admin")
    await add_user(domain, admin, "olivia", Role.OPERATOR)
    with pytest.raises(PermissionDenied):
        await mark_demo(domain, await sign_in(domain, "olivia"))
    assert not await is_demo(domain)
    await mark_demo(domain, admin)
    assert await is_demo(domain)
    # A demo world lets anyone act as a persona.
    assert (await sign_in(domain, "stranger", as_name="olivia")).name == "olivia"


async def test_noise_alone_opens_no_incident(domain: Domain, clock: FrozenClock) -> None:
    before = await seeded(domain)
    quiet = SimulationSettings(first_burst=10_000, noise_chance=1.0, max_noise=6)
    await run_steps(OutageSimulation(domain, seed=5, settings=quiet), clock, 30)
    kinds = Counter(e.kind for e in await events_since(domain, before))
    assert kinds["alert.opened"] >= 10 and kinds["alert.flapping"] >= 1
    assert kinds["incident.opened"] == 0


async def test_demo_settings_keep_consecutive_outages_apart(domain: Domain, clock: FrozenClock) -> None:
    domain.settings = demo_settings(domain.settings)
    assert domain.settings.correlation.window_minutes == 1
    before = await seeded(domain)
    sim = OutageSimulation(domain, seed=7)
    await run_steps(sim, clock, 240)  # an outage, its incident's live window, the next outage
    events = await events_since(domain, before)
    opened = [e for e in events if e.kind == "incident.opened"]
    assert len(opened) >= 2
    # Each outage has an incident of its own, rooted on the map; noise never made one.
    assert all(e.payload["rule"] == "correlation:severity" and e.payload["root_ci"] for e in opened)


def test_worlds_of_any_number_of_accounts() -> None:
    from pcso_tui.world.worldgen import SIZES, Staff, WorldGenerator, shape_for_accounts

    assert shape_for_accounts(SIZES["small"].accounts) == SIZES["small"]
    for accounts in (10, 137, 500, 2_500):
        shape = shape_for_accounts(accounts)
        generator = WorldGenerator(shape, 1, FROZEN_AT, Staff(olivia=2, adam=3, maria=4))
        for _ in generator.run():
            pass
        assert generator.counts["account"] == accounts
        assert generator.counts["install_base_item"] == accounts * 10
    with pytest.raises(ValueError, match="at least 10"):
        shape_for_accounts(9)


async def play_customers(domain: Domain, clock: FrozenClock, *, case_delay: float, minutes: float) -> OutageSimulation:
    """A tiny world on a fresh day (the dashboard's day holds the simulation only), the workflow
    rule accepting, the operator opening cases ``case_delay`` seconds late, customers calling."""
    from pcso_tui.domain.communications.delivery import DeliveryWorker
    from pcso_tui.plugins.channels.demo import demo_channels
    from pcso_tui.world.simulation import play_in_simulated_time, policy_settings

    await seeded(domain)
    clock.now = (clock.now + timedelta(days=1)).replace(hour=0, minute=1, second=0, microsecond=0)
    domain.settings = policy_settings(domain.settings)
    settings = SimulationSettings(interval=10, case_delay=case_delay, call_median=300)
    sim = OutageSimulation(
        domain, seed=7, settings=settings, operator=await sign_in(domain, "olivia"), agent=await sign_in(domain, "adam")
    )
    async with DeliveryWorker(domain, channels=demo_channels()) as worker:
        await play_in_simulated_time(sim, clock, minutes=minutes, worker=worker)
    return sim


async def test_customers_call_through_intake_and_race_the_notices(domain: Domain, clock: FrozenClock) -> None:
    from pcso_tui.domain.core.models import Account, Notice
    from pcso_tui.domain.reporting.dashboard import kpis

    start = clock.now + timedelta(days=1)
    sim = await play_customers(domain, clock, case_delay=300, minutes=30)
    assert sim.calls_logged and sim.calls_attached and sim.never_called
    async with domain.reading() as session:
        calls = (
            await session.execute(
                select(Case.id, Case.parent_id, Case.account_id, Case.opened_at, Case.deflected, Account.number)
                .join(Account, Account.id == Case.account_id)
                .where(Case.kind == "reactive", Case.opened_at >= start.replace(hour=0))
            )
        ).all()
        # Every call came through the agent's intake, one per customer who called.
        assert sorted(c.id for c in calls) == sorted(sim.calls_logged)
        assert {c.id for c in calls if c.parent_id is not None} == set(sim.calls_attached)
        assert all(c.deflected for c in calls if c.parent_id is not None)
        # A customer who never calls is no contact.
        never = set(sim.never_called) - set(sim.callers)
        assert never and not {c.number for c in calls} & never
        before = after = 0
        for call in calls:
            if call.parent_id is None:
                continue
            told = await session.scalar(
                select(func.min(Notice.sent_at))
                .join(Case, Case.id == Notice.case_id)
                .where(Case.parent_id == call.parent_id, Case.account_id == call.account_id, Notice.state == "sent")
            )
            if told is not None and told < call.opened_at:
                after += 1
            else:
                before += 1
    # The race is real: some customers called before they were told, some after.
    assert before and after

    admin = await sign_in(domain, "admin")
    board = await kpis(domain, admin, period="day", at=clock.now, periods_back=0)
    notified_first = board.kpi("notified_first")
    assert notified_first.value is not None and 0 < notified_first.value < 100
    assert notified_first.base and notified_first.count < notified_first.base
    assert board.kpi("deflected_calls").count == len(sim.calls_attached)


async def test_the_customers_leave_the_alerts_alone(sqlite_template: Path, tmp_path: Path) -> None:
    """Playing the customers draws from a generator of its own: the same seed, the same alerts."""
    from pcso_tui.plugins import new_plugin_manager

    async def play(name: str, with_agent: bool) -> list[tuple]:
        path = tmp_path / name
        shutil.copyfile(sqlite_template, path)
        clock = FrozenClock(FROZEN_AT)
        domain = await Domain.open(path, clock=clock, hooks=new_plugin_manager(load_entry_points=False).hook)
        try:
            await seeded(domain)
            agent = await sign_in(domain, "adam") if with_agent else None
            sim = OutageSimulation(
                domain,
                seed=11,
                operator=await sign_in(domain, "olivia"),
                agent=agent,
                settings=SimulationSettings(call_median=1),
            )
            await run_steps(sim, clock, 8)
            assert bool(sim.calls_logged) == with_agent
            async with domain.reading() as session:
                rows = await session.execute(
                    select(Alert.fingerprint, Alert.name, Alert.severity).where(Alert.first_seen_at >= FROZEN_AT)
                )
                return sorted(tuple(r) for r in rows)
        finally:
            await domain.close()

    assert await play("a.db", False) == await play("b.db", True)


async def test_the_live_demo_plays_a_few_callers_of_each_outage(domain: Domain, clock: FrozenClock) -> None:
    await seeded(domain)
    settings = SimulationSettings(max_callers=2, call_median=1)
    sim = OutageSimulation(domain, seed=7, settings=settings, agent=await sign_in(domain, "adam"))
    steps = await run_steps(sim, clock, 8)
    bursts = len({i for s in steps for i in s.incident_ids}) or 1
    assert 0 < len(sim.callers) + len(sim.never_called) <= 2 * bursts
    assert sorted(c for s in steps for c in s.calls) == sorted(sim.calls_logged)
