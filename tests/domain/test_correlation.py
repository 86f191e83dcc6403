"""Correlation: related alerts join one incident, unrelated ones stay apart, root cause named."""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, insert, select, update

from pcso_tui.domain.core.models import (
    Alert,
    Case,
    CIDependency,
    ConfigurationItem,
    Event,
    Incident,
    IncidentCI,
    MaintenanceWindow,
)
from pcso_tui.domain.core.roles import SYSTEM
from pcso_tui.domain.core.service import Domain
from pcso_tui.domain.core.settings import CorrelationSettings, Settings
from pcso_tui.domain.operations.correlation import RULE_COUNT, RULE_SEVERITY, correlate_alerts
from tests.conftest import FROZEN_AT

T0 = FROZEN_AT
_fingerprints = itertools.count(1)

# Two datacentres, nothing shared between them. Edges point upstream (ci → depends_on).
MAP = {
    "cluster-a": ["dc-east"],
    "host-a1": ["cluster-a"],
    "host-a2": ["cluster-a"],
    "svc-a1": ["host-a1"],
    "svc-a2": ["host-a2"],
    "app-a1": ["svc-a1"],
    "cluster-b": ["dc-west"],
    "host-b1": ["cluster-b"],
    "svc-b1": ["host-b1"],
}


async def make_map(
    domain: Domain, edges: dict[str, list[str]], prefix: str = "", kinds: dict[str, str] | None = None
) -> dict[str, int]:
    """CIs and dependencies with Core inserts; returns name → id (names without the prefix).
    Every CI is a ``service`` unless ``kinds`` says otherwise."""
    names = sorted(set(edges) | {p for ups in edges.values() for p in ups})
    kinds = kinds or {}
    async with domain.transaction(SYSTEM) as tx:
        await tx.session.execute(
            insert(ConfigurationItem), [{"name": prefix + n, "kind": kinds.get(n, "service")} for n in names]
        )
        rows = await tx.session.execute(
            select(ConfigurationItem.name, ConfigurationItem.id).where(
                ConfigurationItem.name.in_([prefix + n for n in names])
            )
        )
        ids = {name[len(prefix) :]: ci_id for name, ci_id in rows}
        deps = [{"ci_id": ids[c], "depends_on_id": ids[p]} for c, ups in edges.items() for p in ups]
        if deps:
            await tx.session.execute(insert(CIDependency), deps)
    return ids


async def add_alerts(domain: Domain, ids: dict[str, int], specs: Sequence[dict[str, Any]]) -> list[int]:
    """Alerts with Core inserts: ci (a map name or None), severity, minutes (after T0), …"""
    rows = []
    for spec in specs:
        at = T0 + timedelta(minutes=spec.get("minutes", 0))
        ci = spec.get("ci")
        rows.append(
            {
                "fingerprint": spec.get("fingerprint") or f"fp-{next(_fingerprints)}",
                "source": "test",
                "name": spec.get("name", f"Down {ci or spec.get('ci_key')}"),
                "severity": spec.get("severity", "critical"),
                "state": spec.get("state", "open"),
                "maintenance": spec.get("maintenance", False),
                "labels": {},
                "annotations": {},
                "ci_key": spec.get("ci_key", ci),
                "ci_id": ids[ci] if ci else None,
                "starts_at": at,
                "first_seen_at": at,
                "last_seen_at": at,
                "last_change_at": at,
            }
        )
    async with domain.transaction(SYSTEM) as tx:
        result = await tx.session.execute(insert(Alert).returning(Alert.id, sort_by_parameter_order=True), rows)
        return list(result.scalars())


async def correlate(domain: Domain, alert_ids: Sequence[int], **rules: Any) -> list[int]:
    settings = Settings(correlation=CorrelationSettings(**rules))
    async with domain.transaction(SYSTEM) as tx:
        return await correlate_alerts(tx, settings, alert_ids)


async def arrive(domain: Domain, ids: dict[str, int], *specs: dict[str, Any], **rules: Any) -> list[int]:
    """Alerts arrive (one batch) and are correlated, as ingestion does; returns incident ids."""
    return await correlate(domain, await add_alerts(domain, ids, specs), **rules)


async def incident_of(domain: Domain, alert_ids: Iterable[int]) -> list[int | None]:
    async with domain.reading() as session:
        rows = dict((await session.execute(select(Alert.id, Alert.incident_id).where(Alert.id.in_(alert_ids)))).all())
    return [rows[a] for a in alert_ids]


async def incidents(domain: Domain) -> list[Incident]:
    async with domain.reading() as session:
        return list((await session.scalars(select(Incident).order_by(Incident.id))).all())


async def incident_cis(domain: Domain, incident_id: int) -> set[str]:
    async with domain.reading() as session:
        rows = await session.scalars(
            select(ConfigurationItem.name)
            .join(IncidentCI, IncidentCI.ci_id == ConfigurationItem.id)
            .where(IncidentCI.incident_id == incident_id)
        )
        return set(rows)


async def root_name(domain: Domain, incident_id: int) -> str | None:
    async with domain.reading() as session:
        return await session.scalar(
            select(ConfigurationItem.name)
            .join(Incident, Incident.root_ci_id == ConfigurationItem.id)
            .where(Incident.id == incident_id)
        )


async def events(domain: Domain, kind: str | None = None) -> list[Event]:
    async with domain.reading() as session:
        query = select(Event).order_by(Event.id)
        if kind:
            query = query.where(Event.kind == kind)
        return list((await session.scalars(query)).all())


async def count(domain: Domain, model: type) -> int:
    async with domain.reading() as session:
        return await session.scalar(select(func.count()).select_from(model))


@pytest.fixture
async def world(domain: Domain) -> dict[str, int]:
    return await make_map(domain, MAP)


# --- grouping -------------------------------------------------------------------------------


async def test_alerts_on_the_same_ci_join_one_incident(domain: Domain, world: dict[str, int]) -> None:
    first = await add_alerts(domain, world, [{"ci": "host-a1", "name": "Host down"}])
    opened = await correlate(domain, first)
    assert len(opened) == 1
    (incident,) = await incidents(domain)
    assert (incident.id, incident.severity, incident.opened_by_rule, incident.opened_by_id) == (
        opened[0],
        "critical",
        RULE_SEVERITY,
        None,
    )
    assert incident.title == "Host down on host-a1"
    assert await incident_cis(domain, incident.id) == {"host-a1"}
    assert await root_name(domain, incident.id) == "host-a1"

    second = await add_alerts(domain, world, [{"ci": "host-a1", "minutes": 3, "name": "Ping lost"}])
    assert await correlate(domain, second) == opened
    assert await incident_of(domain, first + second) == [incident.id, incident.id]
    (joined,) = await events(domain, "incident.alert_joined")
    assert (joined.subject_id, joined.payload["alert_id"], joined.payload["ci"]) == (incident.id, second[0], "host-a1")
    assert await count(domain, Incident) == 1


async def test_a_child_joins_its_parents_incident_and_the_root_cause_moves_up(
    domain: Domain, world: dict[str, int]
) -> None:
    (service,) = await add_alerts(domain, world, [{"ci": "svc-a1", "severity": "major"}])
    (incident_id,) = await correlate(domain, [service])
    assert await root_name(domain, incident_id) == "svc-a1"
    (host,) = await add_alerts(domain, world, [{"ci": "host-a1", "minutes": 5}])
    assert await correlate(domain, [host]) == [incident_id]
    assert await incident_cis(domain, incident_id) == {"svc-a1", "host-a1"}
    # svc-a1 depends on host-a1: the host is the nearest CI both are, or depend on.
    assert await root_name(domain, incident_id) == "host-a1"
    (changed,) = await events(domain, "incident.root_cause_changed")
    assert changed.payload == {"from": "svc-a1", "to": "host-a1"}
    (raised,) = await events(domain, "incident.severity_changed")
    assert raised.payload == {"from": "major", "to": "critical"}
    (incident,) = await incidents(domain)
    assert incident.severity == "critical"


async def test_siblings_under_a_common_upstream_join_and_it_is_the_root_cause(
    domain: Domain, world: dict[str, int]
) -> None:
    alerts = await add_alerts(domain, world, [{"ci": "host-a1"}, {"ci": "host-a2", "minutes": 2}])
    opened = await correlate(domain, alerts)
    assert len(opened) == 1
    assert await incident_of(domain, alerts) == opened * 2
    assert await root_name(domain, opened[0]) == "cluster-a"
    (event,) = await events(domain, "incident.opened")
    assert event.payload["alert_ids"] == alerts
    assert event.payload["root_ci"] == "cluster-a"
    assert event.payload["title"] == "Down host-a1 on host-a1 and 1 related alert"


async def test_unrelated_subtrees_stay_apart(domain: Domain, world: dict[str, int]) -> None:
    alerts = await add_alerts(domain, world, [{"ci": "svc-a1"}, {"ci": "svc-b1", "minutes": 1}])
    opened = await correlate(domain, alerts)
    assert len(opened) == 2
    assert sorted(await incident_of(domain, alerts)) == sorted(opened)
    assert {await root_name(domain, i) for i in opened} == {"svc-a1", "svc-b1"}


# One datacentre, three clusters, hosts, and services on the hosts (as the demo world is built).
DATACENTRE = {
    "cl-c01": ["dc-fra1"],
    "cl-c02": ["dc-fra1"],
    "cl-c03": ["dc-fra1"],
    "h1": ["cl-c01"],
    "h5": ["cl-c02"],
    "h6": ["cl-c02"],
    "h9": ["cl-c03"],
    "pg-1": ["h1"],
    "mq-2": ["h5"],
}
DATACENTRE_KINDS = {"dc-fra1": "datacentre", "cl-c01": "cluster", "cl-c02": "cluster", "cl-c03": "cluster"}


async def test_unrelated_criticals_in_one_datacentre_stay_separate_incidents(domain: Domain) -> None:
    """A database down in one cluster, a broker down and a busy host in another: the
    datacentre and the cluster they share are no cause by themselves (a container is one only
    when it alerts, or when severe alerts cover enough of it)."""
    ids = await make_map(domain, DATACENTRE, kinds=DATACENTRE_KINDS)
    specs = [
        {"ci": "pg-1", "name": "PostgresDown"},
        {"ci": "mq-2", "name": "BrokerDown", "minutes": 1},
        {"ci": "h6", "name": "HostCPU", "minutes": 2},
    ]
    alerts = await add_alerts(domain, ids, specs)
    opened = await correlate(domain, alerts)
    assert len(opened) == 3
    assert {await root_name(domain, i) for i in opened} == {"pg-1", "mq-2", "h6"}
    # Without clusters among the broad kinds, the broker and the host share theirs.
    ids2 = await make_map(domain, DATACENTRE, prefix="x-", kinds=DATACENTRE_KINDS)
    alerts2 = await add_alerts(domain, ids2, specs)
    opened2 = await correlate(domain, alerts2, broad_kinds=("datacentre",))
    assert {await root_name(domain, i) for i in opened2} == {"x-pg-1", "x-cl-c02"}


async def test_a_datacentre_is_the_cause_when_enough_of_it_alerts(domain: Domain) -> None:
    ids = await make_map(domain, DATACENTRE, kinds=DATACENTRE_KINDS)
    alerts = await add_alerts(domain, ids, [{"ci": "h1"}, {"ci": "h5", "minutes": 1}, {"ci": "h9", "minutes": 2}])
    opened = await correlate(domain, alerts)
    assert len(opened) == 1
    assert await root_name(domain, opened[0]) == "dc-fra1"
    # Configurable: with four branches needed, three clusters are three incidents.
    ids2 = await make_map(domain, DATACENTRE, prefix="x-", kinds=DATACENTRE_KINDS)
    alerts2 = await add_alerts(domain, ids2, [{"ci": "h1"}, {"ci": "h5", "minutes": 1}, {"ci": "h9", "minutes": 2}])
    assert len(await correlate(domain, alerts2, broad_min_branches=4)) == 3
    # A datacentre that alerts itself is a plausible cause of what runs in it.
    ids3 = await make_map(domain, DATACENTRE, prefix="y-", kinds=DATACENTRE_KINDS)
    alerts3 = await add_alerts(domain, ids3, [{"ci": "dc-fra1"}, {"ci": "pg-1", "minutes": 1}])
    (one,) = await correlate(domain, alerts3)
    assert await root_name(domain, one) == "y-dc-fra1"


async def test_max_hops_bounds_what_counts_as_related(domain: Domain, world: dict[str, int]) -> None:
    # app-a1 reaches cluster-a in 3 hops, svc-a2 in 2: related at 3 hops, not at 2.
    specs = [{"ci": "app-a1"}, {"ci": "svc-a2"}]
    assert len(await arrive(domain, world, *specs, max_hops=2)) == 2
    assert len(await arrive(domain, world, *({**s, "minutes": 120} for s in specs), max_hops=3)) == 1


async def test_outside_the_window_a_new_incident_opens(domain: Domain, world: dict[str, int], clock) -> None:
    (first,) = await add_alerts(domain, world, [{"ci": "host-a1"}])
    (incident_id,) = await correlate(domain, [first])
    # The alert clears; nobody touches the incident for longer than the window.
    async with domain.transaction(SYSTEM) as tx:
        await tx.session.execute(update(Alert).where(Alert.id == first).values(state="closed"))
    clock.advance(minutes=40)
    (later,) = await add_alerts(domain, world, [{"ci": "host-a1", "minutes": 40}])
    opened = await correlate(domain, [later])
    assert len(opened) == 1 and opened != [incident_id]
    assert await incident_of(domain, [first, later]) == [incident_id, opened[0]]


async def test_a_live_incident_attracts_related_alerts_while_one_of_its_alerts_fires(
    domain: Domain, world: dict[str, int], clock
) -> None:
    (incident_id,) = await arrive(domain, world, {"ci": "cluster-a"})
    clock.advance(minutes=60)
    assert await arrive(domain, world, {"ci": "host-a2", "minutes": 60}) == [incident_id]


async def test_an_incident_whose_major_case_is_resolved_takes_no_more_alerts(
    domain: Domain, world: dict[str, int], clock
) -> None:
    """Its outage is over for the customers: a new related alert opens a new incident, which
    names the one it follows, instead of growing the old one."""
    (first,) = await arrive(domain, world, {"ci": "cluster-a"})
    async with domain.transaction(SYSTEM) as tx:
        await tx.session.execute(
            insert(Case).values(
                kind="major",
                state="resolved",
                major_case_state="accepted",
                short_description="Major",
                incident_id=first,
                opened_at=clock.now,
                updated_at=clock.now,
            )
        )
    clock.advance(minutes=5)
    (second,) = await arrive(domain, world, {"ci": "host-a2", "minutes": 5})
    assert second != first
    (opened,) = [e for e in await events(domain, "incident.opened") if e.subject_id == second]
    assert opened.payload["follows"] == f"INC{first:07d}"


async def test_a_quiet_incident_takes_no_more_alerts(domain: Domain, world: dict[str, int], clock) -> None:
    (first,) = await arrive(domain, world, {"ci": "cluster-a"})
    clock.advance(minutes=61)  # its alert still fires, but nothing has changed for an hour
    (second,) = await arrive(domain, world, {"ci": "host-a2", "minutes": 61}, quiet_minutes=60)
    assert second != first
    (opened,) = [e for e in await events(domain, "incident.opened") if e.subject_id == second]
    assert opened.payload["follows"] == f"INC{first:07d}"
    # quiet_minutes = 0: never retired by time (the alert still fires, so it joins).
    clock.advance(minutes=200)
    assert await arrive(domain, world, {"ci": "host-a1", "minutes": 261}, quiet_minutes=0) == [first]


async def test_count_rule_opens_below_the_threshold(domain: Domain, world: dict[str, int]) -> None:
    minor = {"severity": "minor"}
    a = await add_alerts(domain, world, [{"ci": "svc-a1", **minor}, {"ci": "host-a1", "minutes": 4, **minor}])
    assert await correlate(domain, a) == []
    assert await incident_of(domain, a) == [None, None]
    # A third related alert within the window: the loose ones come along.
    b = await add_alerts(domain, world, [{"ci": "host-a2", "minutes": 8, **minor}])
    (incident_id,) = await correlate(domain, b)
    assert await incident_of(domain, a + b) == [incident_id] * 3
    (incident,) = await incidents(domain)
    assert (incident.severity, incident.opened_by_rule) == ("minor", RULE_COUNT)
    (event,) = await events(domain, "incident.opened")
    assert sorted(event.payload["alert_ids"]) == sorted(a + b)
    assert await events(domain, "incident.alert_joined") == []


async def test_count_rule_needs_each_alert_within_the_window_of_another(domain: Domain, world: dict[str, int]) -> None:
    specs = [{"ci": "host-a1", "severity": "warning", "minutes": m} for m in (0, 20, 40)]
    alerts = await add_alerts(domain, world, specs)
    assert await correlate(domain, alerts) == []
    # Unrelated ones do not add up either.
    other = await add_alerts(domain, world, [{"ci": "svc-b1", "severity": "minor", "minutes": 40}])
    assert await correlate(domain, other) == []
    assert await count(domain, Incident) == 0


async def test_thresholds_are_configurable(domain: Domain, world: dict[str, int]) -> None:
    assert await arrive(domain, world, {"ci": "svc-a1", "severity": "major"}, open_at_severity="critical") == []
    assert len(await arrive(domain, world, {"ci": "svc-b1", "severity": "minor"}, open_at_severity="minor")) == 1
    two = [{"ci": "host-b1", "severity": "info", "minutes": 1}, {"ci": "svc-b1", "severity": "info", "minutes": 1}]
    # svc-b1's earlier alert is in an incident already: these two join it.
    assert len(await arrive(domain, world, *two, open_at_severity="critical", open_at_count=2)) == 1


# --- what raises nothing --------------------------------------------------------------------


async def test_maintenance_alerts_raise_nothing_and_count_for_nothing(domain: Domain, world: dict[str, int]) -> None:
    flagged = await add_alerts(domain, world, [{"ci": "host-a1", "maintenance": True}])
    async with domain.transaction(SYSTEM) as tx:
        tx.session.add(
            MaintenanceWindow(
                ci_id=world["host-a2"],
                starts_at=T0 - timedelta(hours=1),
                ends_at=T0 + timedelta(hours=1),
                created_at=T0,
            )
        )
    in_window = await add_alerts(domain, world, [{"ci": "host-a2"}])
    assert await correlate(domain, flagged + in_window) == []
    minors = await add_alerts(domain, world, [{"ci": "svc-a1", "severity": "minor"}] * 2)
    assert await correlate(domain, minors, open_at_count=3) == []
    assert await count(domain, Incident) == 0
    assert await incident_of(domain, flagged + in_window + minors) == [None] * 4


async def test_closed_and_clear_alerts_raise_nothing(domain: Domain, world: dict[str, int]) -> None:
    assert (
        await arrive(domain, world, {"ci": "host-a1", "state": "closed"}, {"ci": "host-a2", "severity": "clear"}) == []
    )
    assert await count(domain, Incident) == 0


async def test_unmapped_alerts(domain: Domain, world: dict[str, int]) -> None:
    # Below the threshold: nothing, even with a mapped alert alongside.
    assert await arrive(domain, world, {"ci": None, "ci_key": "mystery", "severity": "minor"}) == []
    assert await count(domain, Incident) == 0
    # At the threshold: an incident with no CI and no root cause.
    (critical,) = await add_alerts(domain, world, [{"ci": None, "ci_key": "mystery", "name": "Disk full"}])
    (incident_id,) = await correlate(domain, [critical])
    (incident,) = await incidents(domain)
    assert incident.title == "Disk full on mystery (unmapped) and 1 related alert"
    assert incident.root_ci_id is None
    assert await incident_cis(domain, incident_id) == set()
    # The same key joins it; a different key and a mapped CI do not.
    same = await add_alerts(domain, world, [{"ci": None, "ci_key": "mystery", "severity": "warning"}])
    assert await correlate(domain, same) == [incident_id]
    other = await add_alerts(domain, world, [{"ci": None, "ci_key": "enigma"}, {"ci": "host-a1", "ci_key": "mystery"}])
    opened = await correlate(domain, other)
    assert len(opened) == 2 and incident_id not in opened


async def test_alerts_of_a_live_incident_raise_its_severity_and_nothing_else(
    domain: Domain, world: dict[str, int]
) -> None:
    (alert,) = await add_alerts(domain, world, [{"ci": "svc-a1", "severity": "major"}])
    assert len(await correlate(domain, [alert])) == 1
    async with domain.transaction(SYSTEM) as tx:
        await tx.session.execute(update(Alert).where(Alert.id == alert).values(severity="critical"))
    assert await correlate(domain, [alert]) == []
    (incident,) = await incidents(domain)
    assert (incident.severity, incident.version) == ("critical", 2)
    assert [e.payload for e in await events(domain, "incident.severity_changed")] == [
        {"from": "major", "to": "critical"}
    ]


async def test_an_alert_that_fires_again_after_its_incident_ended_opens_a_new_one(
    domain: Domain, world: dict[str, int], clock
) -> None:
    (alert,) = await add_alerts(domain, world, [{"ci": "host-b1"}])
    (first,) = await correlate(domain, [alert])
    clock.advance(minutes=1)
    async with domain.transaction(SYSTEM) as tx:
        await tx.session.execute(
            update(Incident).where(Incident.id == first).values(state="resolved", resolved_at=clock.now)
        )
    # Still firing and unchanged: nothing to do.
    assert await correlate(domain, [alert]) == []
    clock.advance(minutes=60)
    async with domain.transaction(SYSTEM) as tx:
        await tx.session.execute(update(Alert).where(Alert.id == alert).values(last_change_at=clock.now))
    (second,) = await correlate(domain, [alert])
    assert second != first
    assert await incident_of(domain, [alert]) == [second]


async def test_nothing_to_do_changes_nothing(domain: Domain, world: dict[str, int]) -> None:
    before = (await count(domain, Incident), await count(domain, Event))
    assert await correlate(domain, []) == []
    assert await correlate(domain, [987654]) == []
    assert (await count(domain, Incident), await count(domain, Event)) == before


async def test_hostile_alert_text_is_kept_as_data(domain: Domain, world: dict[str, int]) -> None:
    (incident_id,) = await arrive(domain, world, {"ci": "host-a1", "name": "[bold]x[/\x1b[2J\nboom"})
    (incident,) = await incidents(domain)
    assert incident.title == "[bold]x[/\x1b[2J boom on host-a1"
    assert incident.id == incident_id


async def test_a_batch_of_hundreds_groups_by_subtree(domain: Domain) -> None:
    # 20 clusters of 10 hosts each under one datacentre, max_hops 1: clusters stay apart.
    edges: dict[str, list[str]] = {}
    for c in range(20):
        edges[f"c{c}"] = ["dc"]
        for h in range(10):
            edges[f"c{c}-h{h}"] = [f"c{c}"]
    ids = await make_map(domain, edges)
    specs = [{"ci": f"c{c}-h{h}", "minutes": h % 5} for c in range(20) for h in range(10)]
    alerts = await add_alerts(domain, ids, specs)
    opened = await correlate(domain, alerts, max_hops=1)
    assert len(opened) == 20
    owners = await incident_of(domain, alerts)
    for c in range(20):
        assert len(set(owners[c * 10 : (c + 1) * 10])) == 1
    assert {await root_name(domain, i) for i in opened} == {f"c{c}" for c in range(20)}


async def test_a_batch_costs_the_same_statements_whatever_its_size(domain: Domain) -> None:
    """Statements depend on the incidents a batch opens (one INSERT each), never on its alerts."""
    from sqlalchemy import event as sa_event

    edges = {f"{dc}{c}-h{h}": [f"{dc}{c}"] for dc in "bcd" for c in range(20) for h in range(15)}
    ids = await make_map(domain, edges)
    statements: list[str] = []

    def count_statement(conn, cursor, statement, parameters, context, executemany) -> None:
        statements.append(statement)

    engine = domain.db.write_engine.sync_engine
    costs = []
    # A first batch leaves live incidents about; then 20 alerts, then 300: 20 new incidents each.
    for dc, hosts in (("b", 1), ("c", 1), ("d", 15)):
        alerts = await add_alerts(domain, ids, [{"ci": f"{dc}{c}-h{h}"} for c in range(20) for h in range(hosts)])
        sa_event.listen(engine, "before_cursor_execute", count_statement)
        try:
            before = len(statements)
            opened = await correlate(domain, alerts, max_hops=1)
        finally:
            sa_event.remove(engine, "before_cursor_execute", count_statement)
        assert len(opened) == 20
        costs.append(len(statements) - before)
    assert costs[1] == costs[2], statements


# --- the property: correlation groups exactly the related alerts ---------------------------


def related_by_bfs(edges: dict[int, list[int]], a: int, b: int, max_hops: int) -> bool:
    """Brute force: walk upstream from each CI, breadth first, and see whether the walks meet."""

    def upstream(start: int) -> set[int]:
        seen, queue = {start: 0}, deque([start])
        while queue:
            node = queue.popleft()
            if seen[node] == max_hops:
                continue
            for parent in edges.get(node, ()):
                if parent not in seen:
                    seen[parent] = seen[node] + 1
                    queue.append(parent)
        return set(seen)

    return bool(upstream(a) & upstream(b))


@st.composite
def layered_maps(draw: st.DrawFn) -> tuple[dict[int, list[int]], list[int], list[int], int]:
    """A random layered service map (each CI depends on 0–2 CIs of the layer above), the CIs
    of a batch of alerts, their minutes (all within one 15-minute window), and max_hops."""
    layers = draw(st.lists(st.integers(1, 4), min_size=2, max_size=4))
    nodes, edges, previous = 0, {}, []
    for width in layers:
        layer = list(range(nodes, nodes + width))
        nodes += width
        for node in layer:
            if previous:
                edges[node] = draw(st.lists(st.sampled_from(previous), max_size=2, unique=True))
        previous = layer
    alert_cis = draw(st.lists(st.integers(0, nodes - 1), min_size=1, max_size=8))
    minutes = draw(st.lists(st.integers(0, 15), min_size=len(alert_cis), max_size=len(alert_cis)))
    return edges, alert_cis, minutes, draw(st.integers(0, 3))


_examples = itertools.count()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=layered_maps(), one_batch=st.booleans())
async def test_correlation_groups_exactly_the_related_alerts(domain: Domain, case, one_batch: bool) -> None:
    edges, alert_cis, minutes, max_hops = case
    prefix = f"p{next(_examples)}-"  # each example its own CIs: never related to an earlier one
    names = {n: str(n) for n in set(alert_cis) | set(edges) | {p for ps in edges.values() for p in ps}}
    ids = await make_map(
        domain,
        {names[c]: [names[p] for p in ps] for c, ps in edges.items()} | {names[n]: [] for n in names if n not in edges},
        prefix,
    )
    specs = [{"ci": names[c], "minutes": m} for c, m in zip(alert_cis, minutes, strict=True)]
    order = sorted(range(len(specs)), key=lambda i: (minutes[i], i))
    cis = [alert_cis[i] for i in order]
    times = [minutes[i] for i in order]
    if one_batch:
        alert_ids = await add_alerts(domain, ids, [specs[i] for i in order])
        await correlate(domain, alert_ids, max_hops=max_hops, window_minutes=15)
    else:
        alert_ids = []
        for i in order:  # each alert arrives, and is correlated, before the next exists
            alert_ids += await add_alerts(domain, ids, [specs[i]])
            await correlate(domain, alert_ids[-1:], max_hops=max_hops, window_minutes=15)
    owner = await incident_of(domain, alert_ids)
    assert None not in owner  # every alert is critical: each opens or joins one

    n = len(alert_ids)
    related = [[related_by_bfs(edges, cis[i], cis[j], max_hops) for j in range(n)] for i in range(n)]
    if one_batch:
        # One batch, all within one window: incidents are exactly the connected groups of the
        # "related" relation (brute force: union of related pairs).
        assert max(times) - min(times) <= 15
        component = list(range(n))
        for i, j in itertools.combinations(range(n), 2):
            if related[i][j]:
                a, b = component[i], component[j]
                component = [a if c == b else c for c in component]
        for i, j in itertools.combinations(range(n), 2):
            assert (owner[i] == owner[j]) == (component[i] == component[j]), (i, j, cis, times, edges)
    else:
        # One at a time: a live incident is found by its probable root cause (see _anchors), so
        # an alert joins an earlier incident only if it relates to one of its alerts or to a
        # cause they all share; never an unrelated one.
        def upstream_all(ci: int) -> set[int]:
            seen, todo = {ci}, [ci]
            while todo:
                for parent in edges.get(todo.pop(), ()):
                    if parent not in seen:
                        seen.add(parent)
                        todo.append(parent)
            return seen

        for j in range(n):
            members = [i for i in range(j) if owner[i] == owner[j]]
            if members:
                # It relates to a member, or to a cause every member shares (the root cause).
                common = set.intersection(*(upstream_all(cis[i]) for i in members))
                assert any(related[i][j] for i in members) or any(
                    related_by_bfs(edges, root, cis[j], max_hops) for root in common
                ), (j, cis, edges)
