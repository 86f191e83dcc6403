"""Correlation: alerts on the same or topologically related CIs join one incident.

Called by alert ingestion, inside the ingest transaction, with the ids of alerts that opened,
reopened or changed; returns the ids of incidents opened or joined. The rules (docs/incidents.md):

- Two CIs are *related* when they are the same CI, when one depends on the other, or when both
  depend on a common upstream CI, each within ``max_hops`` hops of the service map.
- An alert's time is ``last_change_at`` (when it last opened, reopened or changed). Two alerts
  on related CIs *correlate* when their times lie within ``window_minutes``; groups are closed
  under that (each member within the window of another member).
- Only firing alerts (open or flapping) outside maintenance take part: closed alerts, alerts
  flagged ``maintenance`` or whose CI has an active maintenance window, and ``clear`` alerts
  raise nothing.
- A group that relates to a *live* incident joins it (the oldest, if several): an active one
  (new, in progress, on hold) that still has a firing alert or was updated within the window.
- Otherwise a group opens a new incident when one of its alerts is at or above
  ``open_at_severity``, or when it counts ``open_at_count`` alerts; else its alerts wait, loose,
  for more to come.
- Unmapped alerts (no CI) relate only to unmapped alerts with the same ``ci_key`` (and to
  incidents holding such alerts); they never relate through the service map. A single one opens
  an incident only at or above the severity threshold.

The probable root cause of an incident is the nearest common upstream CI: the CI that every CI
of the incident depends on (or is), with the smallest sum of hops; recomputed when alerts join.

Set-based: a batch costs a fixed handful of statements whatever its size: one recursive CTE,
bounded by ``max_hops``, finds the upstream CIs the batch's CIs share; the grouping itself runs
in memory over that (small) result; writes are Core inserts and executemany updates.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Collection, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import count
from operator import attrgetter
from typing import Any, Protocol, cast

from sqlalchemy import and_, bindparam, exists, func, insert, literal_column, or_, select, update
from sqlalchemy.engine import Result, Row
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql import Select
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import Exists

from pcso_tui.domain.casework.cases import open_proactive_cases_by_rule
from pcso_tui.domain.core.event_kinds import (
    IncidentAlertJoined,
    IncidentOpened,
    IncidentRootCauseChanged,
    IncidentSeverityChanged,
)
from pcso_tui.domain.core.events import Transaction
from pcso_tui.domain.core.models import (
    Alert,
    Case,
    CIDependency,
    ConfigurationItem,
    Incident,
    IncidentCI,
    MaintenanceWindow,
)
from pcso_tui.domain.core.roles import Actor, Permission, require
from pcso_tui.domain.core.service import Domain
from pcso_tui.domain.core.settings import CorrelationSettings, Settings
from pcso_tui.domain.core.states import (
    ACTIVE_INCIDENT_STATES,
    AlertState,
    CaseKind,
    CaseState,
    IncidentState,
    MajorCaseState,
    Severity,
)
from pcso_tui.domain.core.views import incident_number

log = logging.getLogger(__name__)

FIRING_STATES = (AlertState.OPEN.value, AlertState.FLAPPING.value)
ACTIVE_STATES = tuple(s.value for s in ACTIVE_INCIDENT_STATES)
RULE_SEVERITY = "correlation:severity"
RULE_COUNT = "correlation:count"
TITLE_LENGTH = 500

# A mark is what two related things share: ("ci", upstream CI id) or ("key", unmapped ci_key).
Mark = tuple[str, Hashable]


def severity_rank(severity: str) -> int:
    """critical 5 … clear 0; anything unknown counts as nothing."""
    try:
        return Severity(severity).rank
    except ValueError:
        return 0


def worst_severity(severities: Iterable[str]) -> str:
    return max(severities, key=severity_rank)


# --- the service-map walks ----------------------------------------------------------------

# Work done in memory between two yields to the event loop (a few milliseconds' worth).
_STEP = 200
_PARTITION = 500


async def upstream_edges(
    session: AsyncSession,
    ci_ids: Iterable[int],
    max_hops: int,
    *,
    broad_kinds: Collection[str] = (),
    broad_found: set[int] | None = None,
) -> dict[int, list[int]]:
    """CI → the CIs it depends on, for every CI within ``max_hops - 1`` hops above ``ci_ids``:
    exactly the part of the service map a walk of ``max_hops`` upward from them can use. The
    upstream CIs whose kind is one of ``broad_kinds`` (compared without case) are added to
    ``broad_found``, by the same statement.

    One recursive CTE, bounded by hops (a cycle cannot make it run away), that tracks nodes
    rather than (start, node) pairs, so its size is the upstream region, not starts × region."""
    ids = sorted(set(ci_ids))
    if not ids or max_hops < 1:
        return {}
    seed: Select[int, int] = select(ConfigurationItem.id.label("node"), literal_column("0").label("d")).where(
        ConfigurationItem.id.in_(ids)
    )
    region = seed.cte("upstream_region", recursive=True)
    region = region.union(
        select(CIDependency.depends_on_id, region.c.d + 1)
        .join(CIDependency, CIDependency.ci_id == region.c.node)
        .where(region.c.d < max_hops - 1)
    )
    wanted = sorted({k.casefold() for k in broad_kinds})
    is_broad: ColumnElement[bool] = (
        func.lower(ConfigurationItem.kind).in_(wanted) if wanted else literal_column("0") == literal_column("1")
    )
    edges = (
        select(CIDependency.ci_id, CIDependency.depends_on_id, is_broad)
        .join(ConfigurationItem, ConfigurationItem.id == CIDependency.depends_on_id)
        .where(CIDependency.ci_id.in_(select(region.c.node).scalar_subquery()))
    )
    parents: dict[int, list[int]] = defaultdict(list)
    # Core on the session's connection, streamed: rows are handled a partition at a time,
    # with the event loop free in between.
    connection = await session.connection()
    result = await connection.stream(edges)
    async for partition in result.partitions(_PARTITION):
        for child, parent, broad in partition:
            parents[child].append(parent)
            if broad and broad_found is not None:
                broad_found.add(parent)
    return parents


def walk_up(start: int, parents: dict[int, list[int]], max_hops: int) -> dict[int, int]:
    """Breadth first: every CI ``start`` is or depends on within ``max_hops``, with its hops."""
    hops, frontier = {start: 0}, [start]
    for d in range(1, max_hops + 1):
        following = []
        for node in frontier:
            for parent in parents.get(node, ()):
                if parent not in hops:
                    hops[parent] = d
                    following.append(parent)
        if not following:
            break
        frontier = following
    return hops


async def shared_upstream(
    session: AsyncSession,
    ci_ids: Iterable[int],
    max_hops: int,
    *,
    broad_kinds: Collection[str] = (),
    broad_min_branches: int = 2,
    broad_min_share: float = 0.0,
    severe: Collection[int] | None = None,
) -> dict[int, set[int]]:
    """For each CI: itself, and the CIs within ``max_hops`` upstream that another of ``ci_ids``
    also reaches and that are a plausible common cause. Two of the CIs are related exactly when
    their sets meet.

    A shared upstream CI of one of ``broad_kinds`` (a datacentre, a region) is plausible only
    when it alerts severely itself (is one of ``severe``, by default all of ``ci_ids``) or when
    severely alerting CIs reach it through at least ``broad_min_branches`` of the CIs that
    depend on it directly, and through at least ``broad_min_share`` of them: two unrelated
    clusters failing in one datacentre, or warnings scattered over it, do not make the
    datacentre their cause."""
    ids = sorted(set(ci_ids))
    result: dict[int, set[int]] = {ci: {ci} for ci in ids}
    if len(ids) < 2 or max_hops < 1:
        return result
    broad_found: set[int] = set()
    parents = await upstream_edges(session, ids, max_hops, broad_kinds=broad_kinds, broad_found=broad_found)
    reach: dict[int, dict[int, int]] = {}
    seen_by: dict[int, int] = defaultdict(int)
    for n, ci in enumerate(ids, 1):
        reach[ci] = walk_up(ci, parents, max_hops)
        for anc in reach[ci]:
            seen_by[anc] += 1
        if n % _STEP == 0:
            await asyncio.sleep(0)
    shared = {anc for anc, n in seen_by.items() if n > 1}
    strong = set(ids) if severe is None else set(severe)
    broad = (broad_found & shared) - strong
    if broad:
        # The branches of a broad CI: its direct dependents that severe alerts come through.
        branches: dict[int, set[int]] = defaultdict(set)
        for ci, hops in reach.items():
            if ci not in strong:
                continue
            for child, d in hops.items():
                for parent in parents.get(child, ()):
                    if parent in broad and hops.get(parent) == d + 1:
                        branches[parent].add(child)
        spanned = {b for b in broad if len(branches[b]) >= broad_min_branches}
        if spanned and broad_min_share > 0:
            sizes = dict(
                (
                    await session.execute(
                        select(CIDependency.depends_on_id, func.count())
                        .where(CIDependency.depends_on_id.in_(sorted(spanned)))
                        .group_by(CIDependency.depends_on_id)
                    )
                ).all()
            )
            spanned = {b for b in spanned if len(branches[b]) >= broad_min_share * sizes.get(b, 0)}
        shared -= broad - spanned
    for n, (ci, hops) in enumerate(reach.items(), 1):
        result[ci] |= shared.intersection(hops)
        if n % _STEP == 0:
            await asyncio.sleep(0)
    return result


@dataclass(frozen=True, slots=True)
class RootCause:
    ci_id: int
    ci_name: str
    total_hops: int
    # Hops from each CI of the incident (by id) up to the root.
    hops: dict[int, int]


async def root_causes(session: AsyncSession, incident_ids: Sequence[int], max_hops: int) -> dict[int, RootCause]:
    """The probable root cause of each incident: of the CIs every CI of the incident depends on
    (or is), within ``max_hops``, the one with the smallest sum of hops (ties: the smallest
    largest hop, then the name). Incidents with no CI, or no common upstream, are left out."""
    if not incident_ids:
        return {}
    groups: dict[int, list[int]] = defaultdict(list)
    for incident_id, ci_id in await session.execute(
        select(IncidentCI.incident_id, IncidentCI.ci_id).where(IncidentCI.incident_id.in_(sorted(set(incident_ids))))
    ):
        groups[incident_id].append(ci_id)
    return await _root_causes(session, groups, max_hops)


async def root_cause_of(session: AsyncSession, ci_ids: Sequence[int], max_hops: int) -> RootCause | None:
    """The probable root cause of a set of CIs (as :func:`root_causes`)."""
    if not ci_ids:
        return None
    return (await _root_causes(session, {0: sorted(set(ci_ids))}, max_hops)).get(0)


async def _root_causes(session: AsyncSession, groups: dict[int, list[int]], max_hops: int) -> dict[int, RootCause]:
    parents = await upstream_edges(session, {ci for cis in groups.values() for ci in cis}, max_hops)
    walks: dict[int, dict[int, int]] = {}
    best: dict[int, list[tuple[int, int, int]]] = {}  # group → [(total, largest hop, ci)] tied best
    steps = 0
    for group, cis in groups.items():
        common: dict[int, tuple[int, int]] | None = None  # candidate → (total hops, largest hop)
        for ci in cis:
            if ci not in walks:
                walks[ci] = walk_up(ci, parents, max_hops)
                steps += 1
                if steps % _STEP == 0:
                    await asyncio.sleep(0)
            hops = walks[ci]
            if common is None:
                common = {anc: (d, d) for anc, d in hops.items()}
            else:
                common = {a: (t + hops[a], max(m, hops[a])) for a, (t, m) in common.items() if a in hops}
            if not common:
                break
        if common:
            top = min(common.values())
            best[group] = [(t, m, anc) for anc, (t, m) in common.items() if (t, m) == top]
    candidates = {anc for tied in best.values() for _t, _m, anc in tied}
    names: dict[int, str] = {}
    if candidates:
        names = dict(
            (
                await session.execute(
                    select(ConfigurationItem.id, ConfigurationItem.name).where(
                        ConfigurationItem.id.in_(sorted(candidates))
                    )
                )
            ).all()
        )
    found: dict[int, RootCause] = {}
    for group, tied in best.items():
        total, _largest, root = min(tied, key=lambda c: (c[0], c[1], names[c[2]], c[2]))
        found[group] = RootCause(root, names[root], total, {ci: walks[ci][root] for ci in groups[group]})
    return found


# --- the grouping -------------------------------------------------------------------------


@dataclass(eq=False)
class _Alert:
    id: int
    fingerprint: str
    name: str
    severity: str
    ci_id: int | None
    ci_name: str | None
    ci_key: str | None
    at: datetime
    marks: frozenset[Mark] = frozenset()
    # Per mark, the segment of that mark's time-ordered alerts this alert falls in.
    segments: dict[Mark, int] = field(default_factory=dict)
    incident: _Incident | None = None


@dataclass(eq=False)
class _Incident:
    order: int
    id: int | None
    severity: str
    root_ci_id: int | None
    root_ci_name: str | None
    updated_at: datetime
    firing: bool
    # Takes no more alerts (its major case resolved, or quiet for quiet_minutes); a group that
    # would have joined it opens a new incident that follows it.
    retired: bool = False
    follows: _Incident | None = None
    ci_ids: set[int] = field(default_factory=set)
    keys: set[str] = field(default_factory=set)
    # Set when this batch opens it: the rule that did.
    rule: str | None = None
    joined: list[_Alert] = field(default_factory=list)
    new_ci_ids: set[int] = field(default_factory=set)

    @property
    def is_new(self) -> bool:
        return self.rule is not None

    def live_for(self, at: datetime, window: timedelta) -> bool:
        return self.firing or self.updated_at >= at - window


def _anchors(incident: _Incident) -> set[int]:
    """The CIs an incident is found by: its probable root cause when it has one, so alerts join
    it when they relate to the cause (a chain of merely neighbouring alerts would otherwise let
    a long incident absorb its whole datacentre); else every CI it holds."""
    return {incident.root_ci_id} if incident.root_ci_id is not None else set(incident.ci_ids)


def _marks(ci_id: int | None, ci_key: str | None, upstream: dict[int, set[int]]) -> frozenset[Mark]:
    if ci_id is not None:
        return frozenset(("ci", anc) for anc in upstream.get(ci_id, {ci_id}))
    if ci_key:
        return frozenset({("key", ci_key)})
    return frozenset()


class _Grouping:
    """The in-memory part: loose alerts indexed by mark and time, live incidents by mark."""

    def __init__(self, settings: CorrelationSettings, upstream: dict[int, set[int]]) -> None:
        self.window = timedelta(minutes=settings.window_minutes)
        self.threshold = severity_rank(settings.open_at_severity)
        self.open_at_count = settings.open_at_count
        self.upstream = upstream
        self.orders = count(1 << 62)  # new incidents sort after every existing one
        self.incidents_by_mark: dict[Mark, list[_Incident]] = defaultdict(list)
        # Per mark, the loose alerts in time order, cut into segments: runs in which each alert
        # is within the window of the one before. A group is a union of whole segments.
        self.segments: dict[tuple[Mark, int], list[_Alert]] = {}

    def add_incident(self, incident: _Incident) -> None:
        for mark in self._incident_marks(_anchors(incident), incident.keys):
            self.incidents_by_mark[mark].append(incident)

    def _incident_marks(self, ci_ids: Iterable[int], keys: Iterable[str]) -> set[Mark]:
        marks: set[Mark] = {("key", k) for k in keys}
        for ci in ci_ids:
            marks.update(("ci", anc) for anc in self.upstream.get(ci, {ci}))
        return marks

    async def index_loose(self, alerts: Sequence[_Alert]) -> None:
        by_mark: dict[Mark, list[_Alert]] = defaultdict(list)
        for n, alert in enumerate(alerts, 1):
            for mark in alert.marks:
                by_mark[mark].append(alert)
            if n % _STEP == 0:
                await asyncio.sleep(0)
        order = attrgetter("at", "id")
        for n, (mark, members) in enumerate(by_mark.items(), 1):
            members.sort(key=order)
            segment, previous_at = 0, None
            run: list[_Alert] = []
            for alert in members:
                if previous_at is not None and alert.at - previous_at > self.window:
                    self.segments[(mark, segment)] = run
                    segment, run = segment + 1, []
                run.append(alert)
                alert.segments[mark] = segment
                previous_at = alert.at
            self.segments[(mark, segment)] = run
            if n % _STEP == 0:
                await asyncio.sleep(0)

    async def group_of(self, start: _Alert) -> list[_Alert]:
        """Every loose alert linked to ``start`` by a chain of correlated pairs."""
        group, seen_alerts, seen_segments = [start], {start.id}, set()
        i = steps = 0
        while i < len(group):
            alert = group[i]
            i += 1
            for mark in alert.marks:
                key = (mark, alert.segments[mark])
                if key in seen_segments:
                    continue
                seen_segments.add(key)
                for other in self.segments[key]:
                    if other.id not in seen_alerts and other.incident is None:
                        seen_alerts.add(other.id)
                        group.append(other)
                steps += 1
                if steps % (_STEP * 10) == 0:
                    await asyncio.sleep(0)
        return group

    async def live_incident_for(self, group: Sequence[_Alert]) -> tuple[_Incident | None, _Incident | None]:
        # Liveness is easiest for the earliest alert: keep, per mark, the earliest time.
        earliest: dict[Mark, datetime] = {}
        for n, alert in enumerate(group, 1):
            for mark in alert.marks:
                if mark in self.incidents_by_mark and (mark not in earliest or alert.at < earliest[mark]):
                    earliest[mark] = alert.at
            if n % _STEP == 0:
                await asyncio.sleep(0)
        """The live incident the group joins (the oldest, if several), and the newest related
        incident that takes no more alerts (the one a new incident would follow)."""
        found: _Incident | None = None
        follows: _Incident | None = None
        for mark, at in earliest.items():
            for incident in self.incidents_by_mark[mark]:
                if incident.retired:
                    if follows is None or incident.order > follows.order:
                        follows = incident
                elif (found is None or incident.order < found.order) and incident.live_for(at, self.window):
                    found = incident
        return found, follows

    def rule_for(self, group: Sequence[_Alert]) -> str | None:
        if any(severity_rank(a.severity) >= self.threshold for a in group):
            return RULE_SEVERITY
        if len(group) >= self.open_at_count:
            return RULE_COUNT
        return None

    async def attach(self, incident: _Incident, group: Sequence[_Alert]) -> None:
        new_cis = {a.ci_id for a in group if a.ci_id is not None} - incident.ci_ids
        new_keys = {a.ci_key for a in group if a.ci_id is None and a.ci_key} - incident.keys
        marks: set[Mark] = {("key", k) for k in new_keys}
        # An incident with a root cause is found by its root alone (see _anchors): what joins it
        # must relate to the cause, not to whatever joined before.
        for n, ci in enumerate(new_cis if incident.root_ci_id is None else (), 1):
            marks.update(("ci", anc) for anc in self.upstream.get(ci, {ci}))
            if n % _STEP == 0:
                await asyncio.sleep(0)
        for mark in marks:
            holders = self.incidents_by_mark[mark]
            if incident not in holders:
                holders.append(incident)
        incident.ci_ids |= new_cis
        incident.new_ci_ids |= new_cis
        incident.keys |= new_keys
        incident.firing = True
        for alert in group:
            alert.incident = incident
            incident.joined.append(alert)


# --- loading and writing ------------------------------------------------------------------

_CHUNK = 5000


def _chunks(items: Sequence[int], size: int = _CHUNK) -> Iterable[Sequence[int]]:
    return (items[i : i + size] for i in range(0, len(items), size))


def _in_maintenance_window(now: datetime) -> Exists:
    return exists().where(
        MaintenanceWindow.ci_id == Alert.ci_id,
        MaintenanceWindow.starts_at <= now,
        MaintenanceWindow.ends_at > now,
    )


def _retired(now: datetime, quiet_minutes: int) -> ColumnElement[bool]:
    """An active incident that takes no more alerts: a major case on it (its own, or one with a
    child on it) is resolved or closed, or none of its alerts opened or changed for
    ``quiet_minutes`` (0: never by time)."""
    major, child = Case.__table__.alias("major"), Case.__table__.alias("child")
    over = exists().where(
        major.c.kind == CaseKind.MAJOR.value,
        major.c.major_case_state == MajorCaseState.ACCEPTED.value,
        major.c.state.in_((CaseState.RESOLVED.value, CaseState.CLOSED.value)),
        or_(
            major.c.incident_id == Incident.id,
            exists().where(child.c.parent_id == major.c.id, child.c.incident_id == Incident.id),
        ),
    )
    if not quiet_minutes:
        return over
    since = now - timedelta(minutes=quiet_minutes)
    recent = exists().where(Alert.incident_id == Incident.id, Alert.last_change_at >= since)
    # Quiet: no alert of it changed, and nobody touched it (one opened by hand has no alerts yet).
    return or_(over, and_(~recent, Incident.updated_at < since))


def _alert_columns() -> tuple[ColumnElement[Any] | InstrumentedAttribute[Any], ...]:
    return (
        Alert.id,
        Alert.fingerprint,
        Alert.name,
        Alert.severity,
        Alert.ci_id,
        ConfigurationItem.name.label("ci_name"),
        Alert.ci_key,
        Alert.last_change_at,
    )


def _alert(row: Row[*tuple[Any, ...]]) -> _Alert:
    return _Alert(
        id=row.id,
        fingerprint=row.fingerprint,
        name=row.name,
        severity=row.severity,
        ci_id=row.ci_id,
        ci_name=row.ci_name,
        ci_key=row.ci_key,
        at=row.last_change_at,
    )


def _ended_at() -> ColumnElement[datetime]:
    """When an incident stopped being worked (resolved, else its last change: closed/canceled)."""
    return func.coalesce(Incident.resolved_at, Incident.updated_at)


class TitleSource(Protocol):
    id: int
    name: str
    severity: str
    ci_name: str | None
    ci_key: str | None
    at: datetime


def incident_title(alerts: Sequence[TitleSource]) -> str:
    """Titled from the worst alert (then the earliest): "<alert> on <CI> and n related alerts"."""
    lead = min(alerts, key=lambda a: (-severity_rank(a.severity), a.at, a.id))
    where = lead.ci_name or (f"{lead.ci_key} (unmapped)" if lead.ci_key else "an unmapped CI")
    name = " ".join(lead.name.split())
    title = f"{name} on {where}"
    if len(alerts) > 1:
        title += f" and {len(alerts) - 1} related alert{'s' if len(alerts) > 2 else ''}"
    return title[:TITLE_LENGTH]


async def correlate_alerts(tx: Transaction, settings: Settings, alert_ids: Sequence[int]) -> list[int]:
    """Open or join incidents for these alerts (rules: module docstring, ``CorrelationSettings``).

    Returns the ids of incidents opened or joined, ascending.
    """
    ids = sorted(set(alert_ids))
    if not ids:
        return []
    rules = settings.correlation
    session, now = tx.session, tx.now
    window = timedelta(minutes=rules.window_minutes)

    # 1. The alerts of the batch, with what they belong to now.
    connection = await session.connection()
    rows = (
        await connection.execute(
            select(
                *_alert_columns(),
                Alert.state,
                Alert.maintenance,
                Alert.incident_id,
                Incident.state.label("incident_state"),
                Incident.severity.label("incident_severity"),
                (Alert.last_change_at > _ended_at()).label("changed_after_incident"),
                _in_maintenance_window(now).label("in_window"),
            )
            .outerjoin(ConfigurationItem, ConfigurationItem.id == Alert.ci_id)
            .outerjoin(Incident, Incident.id == Alert.incident_id)
            .where(Alert.id.in_(ids))
        )
    ).all()
    candidates: list[_Alert] = []
    raises: dict[int, tuple[str, str]] = {}  # incident id → (its severity, the worst alert's)
    for row in rows:
        if row.state not in FIRING_STATES or row.maintenance or row.in_window or severity_rank(row.severity) == 0:
            continue
        if row.incident_id is not None and row.incident_state in ACTIVE_STATES:
            # Already in a live incident: an alert that grew worse makes the incident worse.
            old, worst = raises.get(row.incident_id, (row.incident_severity, row.incident_severity))
            raises[row.incident_id] = (old, worst_severity((worst, row.severity)))
            continue
        if row.incident_id is not None and not row.changed_after_incident:
            continue
        candidates.append(_alert(row))

    opened_or_joined: list[_Incident] = []
    if candidates:
        opened_or_joined = await _group(tx, rules, candidates, window)
    severity_changes = await _write(tx, rules, opened_or_joined, raises)
    for incident_id, (old, new) in sorted(severity_changes.items()):
        tx.record(incident_id, IncidentSeverityChanged(from_=old, to=new))
    return sorted({i.id for i in opened_or_joined if i.id is not None})


async def _group(
    tx: Transaction, rules: CorrelationSettings, candidates: list[_Alert], window: timedelta
) -> list[_Incident]:
    session, now = tx.session, tx.now
    first = min(a.at for a in candidates)
    last = max(a.at for a in candidates)
    # A loose group never reaches open_at_count alerts (it would have opened an incident), so
    # no chain reaches further than this from the batch.
    reach = window * max(rules.open_at_count - 1, 1)

    # 2. Loose alerts that may correlate with the batch: firing, outside maintenance, in no
    #    incident (or changed since theirs ended), near the batch in time.
    candidate_ids = {a.id for a in candidates}
    pool_rows = (
        await (await session.connection()).execute(
            select(*_alert_columns())
            .outerjoin(ConfigurationItem, ConfigurationItem.id == Alert.ci_id)
            .outerjoin(Incident, Incident.id == Alert.incident_id)
            .where(
                Alert.state.in_(FIRING_STATES),
                Alert.maintenance.is_(False),
                Alert.severity != Severity.CLEAR.value,
                Alert.last_change_at >= first - reach,
                Alert.last_change_at <= last + reach,
                or_(
                    Alert.incident_id.is_(None),
                    and_(Incident.state.not_in(ACTIVE_STATES), Alert.last_change_at > _ended_at()),
                ),
                ~_in_maintenance_window(now),
            )
        )
    ).all()
    pool = candidates + [_alert(r) for r in pool_rows if r.id not in candidate_ids]
    earliest = min(a.at for a in pool)

    # 3. Live incidents: active, and firing or updated within the window of the earliest alert.
    firing = exists().where(Alert.incident_id == Incident.id, Alert.state.in_(FIRING_STATES))
    root = ConfigurationItem.__table__.alias("root_ci")
    incident_rows = (
        await session.execute(
            select(
                Incident.id,
                Incident.severity,
                Incident.root_ci_id,
                root.c.name.label("root_name"),
                Incident.updated_at,
                firing.label("firing"),
                _retired(now, rules.quiet_minutes).label("retired"),
            )
            .outerjoin(root, root.c.id == Incident.root_ci_id)
            .where(Incident.state.in_(ACTIVE_STATES), or_(firing, Incident.updated_at >= earliest - window))
        )
    ).all()
    incidents = {
        r.id: _Incident(
            order=r.id,
            id=r.id,
            severity=r.severity,
            root_ci_id=r.root_ci_id,
            root_ci_name=r.root_name,
            updated_at=r.updated_at,
            firing=bool(r.firing),
            retired=bool(r.retired),
        )
        for r in incident_rows
    }
    if incidents:
        for incident_id, ci_id in await session.execute(
            select(IncidentCI.incident_id, IncidentCI.ci_id).where(IncidentCI.incident_id.in_(list(incidents)))
        ):
            incidents[incident_id].ci_ids.add(ci_id)
        keys = await session.execute(
            select(Alert.incident_id, Alert.ci_key)
            .where(Alert.incident_id.in_(list(incidents)), Alert.ci_id.is_(None), Alert.ci_key.is_not(None))
            .distinct()
        )
        for incident_id, key in cast("Result[int, str]", keys):  # the WHERE leaves the NULLs out
            incidents[incident_id].keys.add(key)

    # 4. One walk of the service map: the upstream CIs these CIs share within max_hops.
    ci_ids = {a.ci_id for a in pool if a.ci_id is not None}
    for incident in incidents.values():
        ci_ids |= _anchors(incident)
    threshold = severity_rank(rules.open_at_severity)
    upstream = await shared_upstream(
        session,
        ci_ids,
        rules.max_hops,
        broad_kinds=rules.broad_kinds,
        broad_min_branches=rules.broad_min_branches,
        broad_min_share=rules.broad_min_share,
        severe={a.ci_id for a in pool if a.ci_id is not None and severity_rank(a.severity) >= threshold},
    )

    # 5. Group in memory, the batch in time order.
    grouping = _Grouping(rules, upstream)
    for n, alert in enumerate(pool, 1):
        alert.marks = _marks(alert.ci_id, alert.ci_key, upstream)
        if n % _STEP == 0:
            await asyncio.sleep(0)
    for incident in incidents.values():
        grouping.add_incident(incident)
    await grouping.index_loose([a for a in pool if a.marks])
    touched: list[_Incident] = []
    for n, alert in enumerate(sorted(candidates, key=attrgetter("at", "id")), 1):
        if n % _STEP == 0:
            await asyncio.sleep(0)
        if alert.incident is not None:
            continue
        group = await grouping.group_of(alert) if alert.marks else [alert]
        target, follows = await grouping.live_incident_for(group)
        if target is None:
            rule = grouping.rule_for(group)
            if rule is None:
                continue  # stays loose until more related alerts come
            target = _Incident(
                order=next(grouping.orders),
                id=None,
                severity=worst_severity(a.severity for a in group),
                root_ci_id=None,
                root_ci_name=None,
                updated_at=now,
                firing=True,
                rule=rule,
                follows=follows,
            )
        if target not in touched:
            touched.append(target)
        await grouping.attach(target, group)
    return touched


async def _write(
    tx: Transaction,
    rules: CorrelationSettings,
    touched: list[_Incident],
    raises: dict[int, tuple[str, str]],
) -> dict[int, tuple[str, str]]:
    """Insert new incidents, link alerts and CIs, recompute root causes, record events.

    Returns the severity changes of existing incidents (id → (from, to))."""
    session, now = tx.session, tx.now
    new = [i for i in touched if i.is_new]
    for incident in new:
        incident.severity = worst_severity(a.severity for a in incident.joined)
    if new:
        rows = [
            {
                "title": incident_title(i.joined),
                "state": IncidentState.NEW.value,
                "severity": i.severity,
                "opened_at": now,
                "opened_by_rule": i.rule,
                "updated_at": now,
                "version": 1,
            }
            for i in new
        ]
        table = Incident.__table__
        if tx.dialect == "sqlite":
            # SQLite cannot return ids in parameter order from a multi-row insert, so SQLAlchemy
            # would send one INSERT per incident; the write transaction holds the database's only
            # write lock (BEGIN IMMEDIATE), so the next ids are ours to number.
            top = (await session.execute(select(func.coalesce(func.max(table.c.id), 0)))).scalar_one()
            for n, (incident, row) in enumerate(zip(new, rows, strict=True), start=top + 1):
                incident.id = row["id"] = n
            await session.execute(insert(table), rows)
        else:
            result = await session.execute(insert(table).returning(table.c.id, sort_by_parameter_order=True), rows)
            for incident, new_id in zip(new, result.scalars().all(), strict=True):
                incident.id = new_id
    # Two executemany calls for the whole batch, however many incidents it touched: a statement
    # per incident costs a round trip to the driver each, which dominated correlation when a
    # message opened dozens of incidents.
    connection = await session.connection()
    alerts = Alert.__table__
    links = [{"incident_id": i.id, "ci_id": ci_id} for i in touched for ci_id in sorted(i.new_ci_ids)]
    if links:
        await connection.execute(insert(IncidentCI.__table__), links)
    joins = [{"b_id": a.id, "b_incident": i.id} for i in touched for a in i.joined]
    if joins:
        await connection.execute(
            update(alerts)
            .where(alerts.c.id == bindparam("b_id"))
            .values(incident_id=bindparam("b_incident"), version=alerts.c.version + 1),
            joins,
        )

    # Severity: the worst of the incident's own and its new alerts'.
    changes: dict[int, tuple[str, str]] = {}
    for incident in touched:
        if incident.is_new or incident.id is None:
            continue
        worst = worst_severity([incident.severity, *(a.severity for a in incident.joined)])
        if worst != incident.severity:
            changes[incident.id] = (incident.severity, worst)
    for incident_id, (old, worst) in raises.items():
        if severity_rank(worst) > severity_rank(old):
            current = changes.get(incident_id, (old, old))
            changes[incident_id] = (current[0], worst_severity((current[1], worst)))

    causes = await root_causes(session, [i.id for i in touched if i.id is not None], rules.root_cause_max_hops)
    updates = []
    touched_ids = {i.id for i in touched}
    for incident in touched:
        assert incident.id is not None
        cause = causes.get(incident.id)
        updates.append(
            {
                "b_id": incident.id,
                "b_severity": changes.get(incident.id, (incident.severity, incident.severity))[1],
                "b_root": cause.ci_id if cause else None,
                "b_bump": 0 if incident.is_new else 1,
            }
        )
    for incident_id, (_old, worst) in changes.items():
        if incident_id not in touched_ids:
            updates.append({"b_id": incident_id, "b_severity": worst, "b_root": None, "b_bump": 1})
    if updates:
        table = Incident.__table__
        keep_root = [u for u in updates if u["b_id"] not in touched_ids]
        set_root = [u for u in updates if u["b_id"] in touched_ids]
        common = {"severity": bindparam("b_severity"), "updated_at": now, "version": table.c.version + 1}
        if set_root:
            await session.execute(
                update(table)
                .where(table.c.id == bindparam("b_id"))
                .values(common | {"root_ci_id": bindparam("b_root"), "version": table.c.version + bindparam("b_bump")}),
                set_root,
            )
        if keep_root:
            await session.execute(update(table).where(table.c.id == bindparam("b_id")).values(common), keep_root)

    # Events: opened (with its alerts), alerts joined, root cause changed.
    for incident in touched:
        assert incident.id is not None
        cause = causes.get(incident.id)
        if incident.is_new:
            tx.record(
                incident.id,
                IncidentOpened(
                    number=incident_number(incident.id),
                    title=incident_title(incident.joined),
                    severity=incident.severity,
                    rule=incident.rule,
                    alert_ids=[a.id for a in incident.joined],
                    cis=sorted({a.ci_name for a in incident.joined if a.ci_name}),
                    root_ci=cause.ci_name if cause else None,
                    follows=incident_number(incident.follows.id)
                    if incident.follows is not None and incident.follows.id is not None
                    else None,
                ),
            )
            continue
        tx.record_many(
            (incident.id, IncidentAlertJoined(alert_id=a.id, fingerprint=a.fingerprint, ci=a.ci_name or a.ci_key))
            for a in incident.joined
        )
        new_root = cause.ci_id if cause else None
        if new_root != incident.root_ci_id:
            tx.record(
                incident.id,
                IncidentRootCauseChanged(from_=incident.root_ci_name, to=cause.ci_name if cause else None),
            )
    return changes


async def open_proactive_cases_after(domain: Domain, actor: Actor, incident_ids: Sequence[int]) -> None:
    """Run the workflow rule that opens proactive cases on incidents a change just touched;
    a failure is logged (the change itself is committed) and retried by the next change."""
    require(actor, Permission.OPEN_PROACTIVE_CASE)
    if not incident_ids or domain.settings.workflow.open_proactive_case == "never":
        return
    try:
        await open_proactive_cases_by_rule(domain, actor, [i for i in incident_ids if i is not None])
    except Exception:
        log.exception("the workflow rule could not open proactive cases on incidents %s", list(incident_ids))
