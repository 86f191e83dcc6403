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

from collections import defaultdict
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import count
from typing import Protocol

from sqlalchemy import CTE, Select, and_, bindparam, exists, func, insert, literal_column, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from pcso_tui.domain.events import Transaction
from pcso_tui.domain.models import (
    Alert,
    CIDependency,
    ConfigurationItem,
    Incident,
    IncidentCI,
    MaintenanceWindow,
)
from pcso_tui.domain.settings import CorrelationSettings, Settings
from pcso_tui.domain.states import ACTIVE_INCIDENT_STATES, AlertState, IncidentState, Severity
from pcso_tui.domain.views import incident_number

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


def upstream_cte(ci_ids: Sequence[int], max_hops: int, name: str = "upstream") -> CTE:
    """Recursive CTE ``(ci_id, anc_id, d)``: each CI, and every CI it depends on within
    ``max_hops`` hops (``d`` hops away; a CI is its own ancestor at 0). Bounded, so a cycle in
    the service map cannot make it run away."""
    seed = select(
        ConfigurationItem.id.label("ci_id"),
        ConfigurationItem.id.label("anc_id"),
        literal_column("0").label("d"),
    ).where(ConfigurationItem.id.in_(ci_ids))
    up = seed.cte(name, recursive=True)
    step = (
        select(up.c.ci_id, CIDependency.depends_on_id, up.c.d + 1)
        .join(CIDependency, CIDependency.ci_id == up.c.anc_id)
        .where(up.c.d < max_hops)
    )
    return up.union(step)


async def shared_upstream(session: AsyncSession, ci_ids: Iterable[int], max_hops: int) -> dict[int, set[int]]:
    """For each CI: itself, and the CIs within ``max_hops`` upstream that another of ``ci_ids``
    also reaches. Two of the CIs are related exactly when their sets meet."""
    ids = sorted(set(ci_ids))
    result: dict[int, set[int]] = {ci: {ci} for ci in ids}
    if len(ids) < 2:
        return result
    up = upstream_cte(ids, max_hops)
    shared = select(up.c.anc_id).group_by(up.c.anc_id).having(func.count(func.distinct(up.c.ci_id)) > 1)
    rows = await session.execute(select(up.c.ci_id, up.c.anc_id).where(up.c.anc_id.in_(shared)).distinct())
    for ci_id, anc_id in rows:
        result[ci_id].add(anc_id)
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
    seed = select(IncidentCI.incident_id.label("group_id"), IncidentCI.ci_id.label("ci_id")).where(
        IncidentCI.incident_id.in_(sorted(set(incident_ids)))
    )
    return await _root_causes(session, seed, max_hops)


async def root_cause_of(session: AsyncSession, ci_ids: Sequence[int], max_hops: int) -> RootCause | None:
    """The probable root cause of a set of CIs (as :func:`root_causes`)."""
    if not ci_ids:
        return None
    seed = select(literal_column("0").label("group_id"), ConfigurationItem.id.label("ci_id")).where(
        ConfigurationItem.id.in_(sorted(set(ci_ids)))
    )
    return (await _root_causes(session, seed, max_hops)).get(0)


async def _root_causes(session: AsyncSession, seed_rows: Select, max_hops: int) -> dict[int, RootCause]:  # type: ignore[type-arg]
    """``seed_rows``: a select of ``(group_id, ci_id)``; one root cause per group."""
    seeds = seed_rows.cte("root_seed")
    first = select(seeds.c.group_id, seeds.c.ci_id, seeds.c.ci_id.label("anc_id"), literal_column("0").label("d"))
    up = first.cte("root_upstream", recursive=True)
    up = up.union(
        select(up.c.group_id, up.c.ci_id, CIDependency.depends_on_id, up.c.d + 1)
        .join(CIDependency, CIDependency.ci_id == up.c.anc_id)
        .where(up.c.d < max_hops)
    )
    best = (
        select(up.c.group_id, up.c.ci_id, up.c.anc_id, func.min(up.c.d).label("d"))
        .group_by(up.c.group_id, up.c.ci_id, up.c.anc_id)
        .cte("root_best")
    )
    sizes = (
        select(seeds.c.group_id, func.count(func.distinct(seeds.c.ci_id)).label("n"))
        .group_by(seeds.c.group_id)
        .cte("root_size")
    )
    common = (
        select(best.c.group_id, best.c.anc_id)
        .join(sizes, sizes.c.group_id == best.c.group_id)
        .group_by(best.c.group_id, best.c.anc_id, sizes.c.n)
        .having(func.count() == sizes.c.n)
        .cte("root_common")
    )
    rows = await session.execute(
        select(best.c.group_id, best.c.anc_id, ConfigurationItem.name, best.c.ci_id, best.c.d)
        .join(common, and_(common.c.group_id == best.c.group_id, common.c.anc_id == best.c.anc_id))
        .join(ConfigurationItem, ConfigurationItem.id == best.c.anc_id)
    )
    candidates: dict[tuple[int, int], tuple[str, dict[int, int]]] = {}
    for group_id, anc_id, anc_name, ci_id, d in rows:
        candidates.setdefault((group_id, anc_id), (anc_name, {}))[1][ci_id] = d
    found: dict[int, RootCause] = {}
    for (group_id, anc_id), (anc_name, hops) in candidates.items():
        cause = RootCause(anc_id, anc_name, sum(hops.values()), hops)
        current = found.get(group_id)
        if current is None or _root_order(cause) < _root_order(current):
            found[group_id] = cause
    return found


def _root_order(cause: RootCause) -> tuple[int, int, str, int]:
    return (cause.total_hops, max(cause.hops.values()), cause.ci_name, cause.ci_id)


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
        self.segment_of: dict[tuple[int, Mark], int] = {}

    def add_incident(self, incident: _Incident) -> None:
        for mark in self._incident_marks(incident.ci_ids, incident.keys):
            self.incidents_by_mark[mark].append(incident)

    def _incident_marks(self, ci_ids: Iterable[int], keys: Iterable[str]) -> set[Mark]:
        marks: set[Mark] = {("key", k) for k in keys}
        for ci in ci_ids:
            marks.update(("ci", anc) for anc in self.upstream.get(ci, {ci}))
        return marks

    def index_loose(self, alerts: Sequence[_Alert]) -> None:
        by_mark: dict[Mark, list[_Alert]] = defaultdict(list)
        for alert in alerts:
            for mark in alert.marks:
                by_mark[mark].append(alert)
        for mark, members in by_mark.items():
            members.sort(key=lambda a: (a.at, a.id))
            segment, previous = 0, None
            for alert in members:
                if previous is not None and alert.at - previous.at > self.window:
                    segment += 1
                self.segments.setdefault((mark, segment), []).append(alert)
                self.segment_of[(alert.id, mark)] = segment
                previous = alert

    def group_of(self, start: _Alert) -> list[_Alert]:
        """Every loose alert linked to ``start`` by a chain of correlated pairs."""
        group, seen_alerts, seen_segments = [start], {start.id}, set()
        i = 0
        while i < len(group):
            alert = group[i]
            i += 1
            for mark in alert.marks:
                key = (mark, self.segment_of[(alert.id, mark)])
                if key in seen_segments:
                    continue
                seen_segments.add(key)
                for other in self.segments[key]:
                    if other.id not in seen_alerts and other.incident is None:
                        seen_alerts.add(other.id)
                        group.append(other)
        return group

    def live_incident_for(self, group: Sequence[_Alert]) -> _Incident | None:
        found: _Incident | None = None
        for alert in group:
            for mark in alert.marks:
                for incident in self.incidents_by_mark.get(mark, ()):
                    if incident.live_for(alert.at, self.window) and (found is None or incident.order < found.order):
                        found = incident
        return found

    def rule_for(self, group: Sequence[_Alert]) -> str | None:
        if any(severity_rank(a.severity) >= self.threshold for a in group):
            return RULE_SEVERITY
        if len(group) >= self.open_at_count:
            return RULE_COUNT
        return None

    def attach(self, incident: _Incident, group: Sequence[_Alert]) -> None:
        new_cis = {a.ci_id for a in group if a.ci_id is not None} - incident.ci_ids
        new_keys = {a.ci_key for a in group if a.ci_id is None and a.ci_key} - incident.keys
        for mark in self._incident_marks(new_cis, new_keys):
            if incident not in self.incidents_by_mark[mark]:
                self.incidents_by_mark[mark].append(incident)
        incident.ci_ids |= new_cis
        incident.new_ci_ids |= new_cis
        incident.keys |= new_keys
        incident.firing = True
        for alert in group:
            alert.incident = incident
            incident.joined.append(alert)


# --- loading and writing ------------------------------------------------------------------


def _in_maintenance_window(now: datetime):  # type: ignore[no-untyped-def]
    return exists().where(
        MaintenanceWindow.ci_id == Alert.ci_id,
        MaintenanceWindow.starts_at <= now,
        MaintenanceWindow.ends_at > now,
    )


def _alert_columns():  # type: ignore[no-untyped-def]
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


def _alert(row) -> _Alert:  # type: ignore[no-untyped-def]
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


def _ended_at():  # type: ignore[no-untyped-def]
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
    rows = (
        await session.execute(
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
        tx.record("incident.severity_changed", "incident", incident_id, **{"from": old, "to": new})
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
    candidate_ids = [a.id for a in candidates]
    pool_rows = (
        await session.execute(
            select(*_alert_columns())
            .outerjoin(ConfigurationItem, ConfigurationItem.id == Alert.ci_id)
            .outerjoin(Incident, Incident.id == Alert.incident_id)
            .where(
                Alert.state.in_(FIRING_STATES),
                Alert.maintenance.is_(False),
                Alert.severity != Severity.CLEAR.value,
                Alert.last_change_at >= first - reach,
                Alert.last_change_at <= last + reach,
                Alert.id.not_in(candidate_ids),
                or_(
                    Alert.incident_id.is_(None),
                    and_(Incident.state.not_in(ACTIVE_STATES), Alert.last_change_at > _ended_at()),
                ),
                ~_in_maintenance_window(now),
            )
        )
    ).all()
    pool = candidates + [_alert(r) for r in pool_rows]
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
        )
        for r in incident_rows
    }
    if incidents:
        for incident_id, ci_id in await session.execute(
            select(IncidentCI.incident_id, IncidentCI.ci_id).where(IncidentCI.incident_id.in_(list(incidents)))
        ):
            incidents[incident_id].ci_ids.add(ci_id)
        for incident_id, key in await session.execute(
            select(Alert.incident_id, Alert.ci_key)
            .where(Alert.incident_id.in_(list(incidents)), Alert.ci_id.is_(None), Alert.ci_key.is_not(None))
            .distinct()
        ):
            incidents[incident_id].keys.add(key)

    # 4. One walk of the service map: the upstream CIs these CIs share within max_hops.
    ci_ids = {a.ci_id for a in pool if a.ci_id is not None}
    for incident in incidents.values():
        ci_ids |= incident.ci_ids
    upstream = await shared_upstream(session, ci_ids, rules.max_hops)

    # 5. Group in memory, the batch in time order.
    grouping = _Grouping(rules, upstream)
    for alert in pool:
        alert.marks = _marks(alert.ci_id, alert.ci_key, upstream)
    for incident in incidents.values():
        grouping.add_incident(incident)
    grouping.index_loose([a for a in pool if a.marks])
    touched: list[_Incident] = []
    for alert in sorted(candidates, key=lambda a: (a.at, a.id)):
        if alert.incident is not None:
            continue
        group = grouping.group_of(alert) if alert.marks else [alert]
        target = grouping.live_incident_for(group)
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
            )
        if target not in touched:
            touched.append(target)
        grouping.attach(target, group)
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
        result = await session.execute(
            insert(Incident.__table__).returning(Incident.__table__.c.id, sort_by_parameter_order=True), rows
        )
        for incident, new_id in zip(new, result.scalars().all(), strict=True):
            incident.id = new_id
    links = [{"incident_id": i.id, "ci_id": ci} for i in touched for ci in sorted(i.new_ci_ids)]
    if links:
        await session.execute(insert(IncidentCI.__table__), links)
    joins = [{"b_id": a.id, "b_incident": i.id} for i in touched for a in i.joined]
    if joins:
        table = Alert.__table__
        await session.execute(
            update(table)
            .where(table.c.id == bindparam("b_id"))
            .values(incident_id=bindparam("b_incident"), version=table.c.version + 1),
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
                "incident.opened",
                "incident",
                incident.id,
                number=incident_number(incident.id),
                title=incident_title(incident.joined),
                severity=incident.severity,
                rule=incident.rule,
                alert_ids=[a.id for a in incident.joined],
                cis=sorted({a.ci_name for a in incident.joined if a.ci_name}),
                root_ci=cause.ci_name if cause else None,
            )
            continue
        tx.record_many(
            "incident.alert_joined",
            "incident",
            (
                (incident.id, {"alert_id": a.id, "fingerprint": a.fingerprint, "ci": a.ci_name or a.ci_key})
                for a in incident.joined
            ),
        )
        new_root = cause.ci_id if cause else None
        if new_root != incident.root_ci_id:
            tx.record(
                "incident.root_cause_changed",
                "incident",
                incident.id,
                **{"from": incident.root_ci_name, "to": cause.ci_name if cause else None},
            )
    return changes
