"""Alerts in: deduplication, close and reopen, flapping, maintenance; and the alert list.

Payloads are parsed by the alert formats (``alert_formats.py`` and the format plugins:
Alertmanager/Grafana webhooks and our generic JSON built in; docs/alerts.md describes them for the
people who send them) into a :class:`ParsedBatch`. :func:`ingest` stores a batch in one
transaction with a handful of set-based statements:

- **dedup by fingerprint**, never by text: a repeat updates the row in place (count, last seen,
  latest text and labels) and records no event;
- a **resolved** alert closes, a closed alert that fires again **reopens**;
- an alert that changes state ``flap_threshold`` times, each change within
  ``flap_window_seconds`` of the previous one, is **flapping** until it has been quiet (no state
  change) for a whole window;
- resolution is **never inferred from absence**: Alertmanager sends explicit resolved alerts, and
  a snapshot with ``truncatedAlerts > 0`` simply leaves the alerts it omitted as they were;
- the CI is found by the labels in ``[ingest] ci_labels``; an alert on an unknown CI is kept with
  ``ci_id`` NULL (unmapped) and the label value in ``ci_key``; an alert on a CI inside an active
  maintenance window is flagged ``maintenance``.
"""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Text, and_, bindparam, case, cast, exists, func, literal_column, or_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError

from pcso_tui.domain.core.errors import IllegalTransition, InvalidInput, NotFound
from pcso_tui.domain.core.event_kinds import (
    ALERT_CHANGES,
    AlertAcknowledged,
    AlertChange,
    AlertClosed,
    AlertSettled,
    AlertsLeftOut,
    AlertUnacknowledged,
    MaintenanceAdded,
)
from pcso_tui.domain.core.events import Transaction
from pcso_tui.domain.core.models import Alert, ConfigurationItem, MaintenanceWindow, User
from pcso_tui.domain.core.roles import Actor, Permission, require
from pcso_tui.domain.core.service import Domain
from pcso_tui.domain.core.states import AlertState, Severity
from pcso_tui.domain.core.versions import check_version
from pcso_tui.domain.operations import correlation
from pcso_tui.domain.operations.alert_formats import (
    MAX_CI_KEY,
    RESOLVED,
    AlertInput,
    ParsedBatch,
    parse_alerts,
    text_problem,
)
from pcso_tui.domain.operations.views import AlertView, IngestResult, MaintenanceWindowView, SweepResult

# Stored states as plain strings (what the drivers bind).
OPEN, CLOSED, FLAPPING = AlertState.OPEN.value, AlertState.CLOSED.value, AlertState.FLAPPING.value

_HOST_PORT = re.compile(r"^([^:\[\]]+):\d+$")
_BRACKETED_HOST_PORT = re.compile(r"^\[([^\]]+)\]:\d+$")
# Enough for SQLite's and asyncpg's limits on bound parameters, with room to spare.
_CHUNK = 1000
_YIELD_EVERY = 1000


# --- ingest ---------------------------------------------------------------------------------


def strip_port(value: str) -> str:
    """``host:9100`` → ``host``, ``[::1]:9100`` → ``::1``; anything else unchanged."""
    match = _HOST_PORT.match(value) or _BRACKETED_HOST_PORT.match(value)
    return match.group(1) if match else value


def ci_candidates(alert: AlertInput, ci_labels: Sequence[str]) -> list[str]:
    """The CI names to try for an alert, best first: its ``ci`` field, then the labels in order."""
    found: list[str] = []
    if alert.ci:
        found.append(alert.ci)
    for label in ci_labels:
        value = alert.labels.get(label)
        if not value:
            continue
        if label == "instance":
            value = strip_port(value)
        if value and value not in found:
            found.append(value)
    return found


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _active_window(ci_id: Any, now: datetime) -> Any:
    return exists().where(
        MaintenanceWindow.ci_id == ci_id, MaintenanceWindow.starts_at <= now, MaintenanceWindow.ends_at > now
    )


@dataclass(frozen=True, slots=True)
class _Stored:
    """A value read from the database in its stored form, written back as it is."""

    value: Any


@dataclass(slots=True)
class _Prior:
    id: int
    state: str
    resolved: bool
    # Whether its last state change lies within the flap window (computed in SQL).
    recent: bool
    starts_at: Any
    last_change_at: Any
    flap_score: int
    acknowledged: bool
    acknowledged_by_id: int | None
    severity: str
    ci_id: int | None


# The columns an upsert row carries, in the order of the statement's parameters.
_ROW_KEYS = (
    "fingerprint",
    "source",
    "name",
    "severity",
    "state",
    "acknowledged",
    "acknowledged_by_id",
    "maintenance",
    "summary",
    "description",
    "labels",
    "annotations",
    "ci_key",
    "ci_id",
    "generator_url",
    "starts_at",
    "ends_at",
    "first_seen_at",
    "last_seen_at",
    "last_change_at",
    "receive_count",
    "flap_score",
    "version",
)
_NAME, _SEVERITY, _CI_KEY = _ROW_KEYS.index("name"), _ROW_KEYS.index("severity"), _ROW_KEYS.index("ci_key")
_STATE, _CI_ID, _LAST_CHANGE = _ROW_KEYS.index("state"), _ROW_KEYS.index("ci_id"), _ROW_KEYS.index("last_change_at")
# The columns no index covers. A repeat that changes nothing indexed (state, severity, CI, last
# change) rewrites only these, by id: a third of the work of an upsert, which touches every index.
_UNINDEXED = (
    "name",
    "acknowledged",
    "acknowledged_by_id",
    "maintenance",
    "summary",
    "description",
    "labels",
    "annotations",
    "ci_key",
    "generator_url",
    "starts_at",
    "ends_at",
    "last_seen_at",
    "flap_score",
)
_ID = len(_ROW_KEYS)  # where a row carries the alert's id when it is refreshed by id


def _upsert_statement(dialect: str) -> Any:
    """INSERT … ON CONFLICT (fingerprint, source) DO UPDATE: every column from the new row
    except the first sighting and the incident link; the count adds up and the version bumps."""
    table = Alert.__table__
    ins = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
    keep = {"fingerprint", "source", "first_seen_at", "receive_count", "version"}
    updates: dict[str, Any] = {key: ins.excluded[key] for key in _ROW_KEYS if key not in keep}
    updates["receive_count"] = table.c.receive_count + ins.excluded.receive_count
    updates["version"] = table.c.version + literal_column("1")
    return ins.on_conflict_do_update(index_elements=[table.c.fingerprint, table.c.source], set_=updates)


def _refresh_statement() -> Any:
    """UPDATE alert SET <unindexed columns>, count added, version bumped WHERE id = …"""
    table = Alert.__table__
    values: dict[str, Any] = {key: bindparam(f"r_{key}", type_=table.c[key].type) for key in _UNINDEXED}
    values["receive_count"] = table.c.receive_count + bindparam("r_receive_count", type_=table.c.receive_count.type)
    values["version"] = table.c.version + literal_column("1")
    return update(table).where(table.c.id == bindparam("r_id", type_=table.c.id.type)).values(values)


@dataclass(frozen=True, slots=True)
class _Plan:
    """A statement compiled once per dialect, bound by position from the rows ``_fold`` makes."""

    sql: str
    # For each parameter, in order: its position in the row.
    picks: tuple[int, ...]
    # (parameter, processor) for the parameters whose column type converts (times, JSON …).
    processors: tuple[tuple[int, Any], ...]
    time_processor: Any

    @classmethod
    def compile(cls, statement: Any, dialect: Any, **kw: Any) -> _Plan:
        compiled = statement.compile(dialect=dialect, **kw)
        columns = Alert.__table__.c
        picks, processors = [], []
        for n, name in enumerate(compiled.positiontup or ()):
            key = name.removeprefix("r_")
            if key == "id":
                picks.append(_ID)
                continue
            if key not in _ROW_KEYS:
                raise RuntimeError(f"unexpected parameter {name!r} in {compiled.string}")
            picks.append(_ROW_KEYS.index(key))
            process = columns[key].type.dialect_impl(dialect).bind_processor(dialect)
            if dialect.name == "sqlite":
                process = _faster_on_sqlite(process)
            if process is not None:
                processors.append((n, process))
        time_processor = columns.last_seen_at.type.dialect_impl(dialect).bind_processor(dialect)
        return cls(compiled.string, tuple(picks), tuple(processors), time_processor)

    def bind(self, rows: Sequence[list[Any]], now: datetime) -> list[list[Any]]:
        """The parameters, converted as SQLAlchemy would, but ``now`` (shared by all) once."""
        now_bound = self.time_processor(now)
        bound = []
        for row in rows:
            values = [row[i] for i in self.picks]
            for n, process in self.processors:
                value = values[n]
                if value is None:
                    continue
                if value is now:
                    values[n] = now_bound
                elif value.__class__ is _Stored:
                    values[n] = value.value
                else:
                    values[n] = process(value)
            bound.append(values)
        return bound


_PLANS: dict[str, tuple[_Plan, _Plan]] = {}
_PROBES = (datetime(2026, 1, 2, 3, 4, 5, 60708, tzinfo=UTC), datetime(999, 1, 2, 3, 4, 5, tzinfo=UTC))


def _sqlite_time(value: datetime) -> str:
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: the domain only stores aware UTC times")
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def _json_text_encoder() -> Any:
    """``json.dumps`` for the label and annotation maps (strings to strings), without the three
    layers of Python around the standard library's C encoder: half the cost, and labels and
    annotations are encoded twice per alert row. ``json.dumps`` itself where that encoder is
    missing (it is an accelerator, not a promise)."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return json.dumps
    # (markers, default, encoder, indent, key separator, item separator, sort keys, skip keys,
    # allow NaN): json.dumps's defaults.
    encode = make(None, None, json.encoder.encode_basestring_ascii, None, ": ", ", ", False, False, True)

    def dumps(value: Any) -> str:
        if value.__class__ is not dict:
            return json.dumps(value)
        try:
            return "".join(encode(value, 0))
        except Exception:  # anything unusual: the standard path, with its own errors
            return json.dumps(value)

    return dumps


_JSON_PROBES: tuple[dict[str, Any], ...] = (
    {},
    {"alertname": "Disk full", "instance": "db-01:9100"},
    {"é": 'naïve \u2603 "quoted" \\ back\nslash\t\x1b[31m', "n": "\ud83d\ude00"},
)


def _faster_on_sqlite(process: Any) -> Any:
    """The same conversion, cheaper: C-level ``isoformat`` for times, the C JSON encoder for
    label maps, none for booleans (the driver binds them as 1 and 0). Used only where it gives
    exactly SQLAlchemy's result."""
    if process is None:
        return None
    try:
        if all(process(probe) == _sqlite_time(probe) for probe in _PROBES):
            return _sqlite_time
    except (TypeError, AttributeError, ValueError):
        pass
    try:
        dumps = _json_text_encoder()
        if all(process(probe) == dumps(probe) for probe in _JSON_PROBES):
            return dumps
    except (TypeError, AttributeError, ValueError):
        pass
    try:
        if process(True) == 1 and process(False) == 0 and process(True) is not True:
            return None
    except (TypeError, AttributeError, ValueError):
        pass
    return process


# One writer of alert states at a time, as on SQLite (whose writers queue for its one lock):
# two PostgreSQL transactions reading the same fingerprints would both see them as new.
_ALERT_INGEST_LOCK = 727_010


async def _lock_alerts(tx: Transaction) -> None:
    if tx.dialect == "postgresql":
        await tx.session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _ALERT_INGEST_LOCK})


_SQLITE_CIS = (
    "SELECT ci.id, ci.name, EXISTS (SELECT 1 FROM maintenance_window AS mw"
    " WHERE mw.ci_id = ci.id AND mw.starts_at <= ?1 AND mw.ends_at > ?1)"
    " FROM ci WHERE ci.name IN (SELECT value FROM json_each(?2))"
)
_SQLITE_EXISTING = (
    "SELECT fingerprint, source, id, state, ends_at IS NOT NULL, last_change_at > ?1, starts_at, last_change_at,"
    " flap_score, acknowledged, acknowledged_by_id, severity, ci_id"
    " FROM alert WHERE fingerprint IN (SELECT value FROM json_each(?2))"
)
_SQLITE_IDS = "SELECT fingerprint, source, id FROM alert WHERE fingerprint IN (SELECT value FROM json_each(?1))"
# An alert's key: its fingerprint within its source (two senders may choose the same fingerprint).
AlertKey = tuple[str, str]


class _Store:
    """The few statements ingest runs per batch, in the cheapest form each backend offers.

    Inside the transaction SQLAlchemy began (``BEGIN IMMEDIATE`` on SQLite). On SQLite each
    statement is one call on the driver's connection — one trip to its thread, where SQLAlchemy's
    adapter takes three or four — with a list passed as one JSON parameter (``json_each``); on
    PostgreSQL they are Core statements. The writes are SQLAlchemy's own statements on both (the
    upsert, and the update by id of repeats), bound by position and sent with the driver's
    ``executemany``. See bench/bench_ingest.py.
    """

    def __init__(self, tx: Transaction, connection: Any, plans: tuple[_Plan, _Plan], driver: Any) -> None:
        self.tx, self.connection, self.driver = tx, connection, driver
        self.upsert_plan, self.refresh_plan = plans
        self.time = self.upsert_plan.time_processor

    @classmethod
    async def open(cls, tx: Transaction) -> _Store:
        connection = await tx.session.connection()
        plans = _PLANS.get(tx.dialect)
        if plans is None:
            dialect = connection.dialect
            upsert = _Plan.compile(_upsert_statement(dialect.name), dialect, column_keys=list(_ROW_KEYS))
            plans = _PLANS[tx.dialect] = (upsert, _Plan.compile(_refresh_statement(), dialect))
        driver = None
        if tx.dialect == "sqlite":
            driver = (await connection.get_raw_connection()).driver_connection
        else:
            await _lock_alerts(tx)
        return cls(tx, connection, plans, driver)

    async def _fetch(self, sql: str, *parameters: Any) -> Iterable[Any]:
        try:
            rows: Iterable[Any] = await self.driver.execute_fetchall(sql, parameters)
            return rows
        except sqlite3.Error as exc:  # report it as SQLAlchemy would (a "locked" one becomes StorageBusy)
            raise DBAPIError.instance(sql, parameters, exc, sqlite3.Error, dialect=self.connection.dialect) from exc

    async def cis(self, names: Sequence[str]) -> dict[str, tuple[int, bool]]:
        """CI name → (id, in an active maintenance window), for the names that are known CIs."""
        now = self.tx.now
        if self.driver is not None:
            rows: Iterable[Any] = await self._fetch(_SQLITE_CIS, self.time(now), json.dumps(names))
            return {name: (ci_id, bool(maintenance)) for ci_id, name, maintenance in rows}
        ci = ConfigurationItem
        found: dict[str, tuple[int, bool]] = {}
        for chunk in _chunks(names):
            query = select(ci.id, ci.name, _active_window(ci.id, now)).where(ci.name.in_(chunk))
            for ci_id, name, maintenance in await self.connection.execute(query):
                found[name] = (ci_id, bool(maintenance))
        return found

    async def existing(self, fingerprints: Sequence[str], cutoff: datetime) -> dict[AlertKey, _Prior]:
        """The stored state of the alerts with these fingerprints, of any source, by key (rows
        locked on PostgreSQL until commit)."""
        found: dict[AlertKey, _Prior] = {}
        if self.driver is not None:
            rows = await self._fetch(_SQLITE_EXISTING, self.time(cutoff), json.dumps(fingerprints))
            for fp, src, aid, state, resolved, recent, starts, changed, flap, ack, ack_by, severity, ci_id in rows:
                found[fp, src] = _Prior(
                    aid,
                    state,
                    bool(resolved),
                    bool(recent),
                    _Stored(starts),
                    _Stored(changed),
                    flap,
                    bool(ack),
                    ack_by,
                    severity,
                    ci_id,
                )
            return found
        a = Alert.__table__.c
        for chunk in _chunks(fingerprints):
            query = (
                select(
                    a.fingerprint,
                    a.source,
                    a.id,
                    a.state,
                    a.ends_at.is_not(None),
                    a.last_change_at > cutoff,
                    a.starts_at,
                    a.last_change_at,
                    a.flap_score,
                    a.acknowledged,
                    a.acknowledged_by_id,
                    a.severity,
                    a.ci_id,
                )
                .where(a.fingerprint.in_(chunk))
                .with_for_update()
            )
            for (
                fp,
                src,
                aid,
                state,
                resolved,
                recent,
                starts,
                changed,
                flap,
                ack,
                ack_by,
                severity,
                ci_id,
            ) in await self.connection.execute(query):
                found[fp, src] = _Prior(
                    aid, state, bool(resolved), bool(recent), starts, changed, flap, bool(ack), ack_by, severity, ci_id
                )
        return found

    async def write(self, upserts: Sequence[list[Any]], refreshes: Sequence[list[Any]]) -> None:
        """Upsert new and changed alerts; rewrite the unindexed columns of mere repeats by id."""
        for plan, rows in ((self.upsert_plan, upserts), (self.refresh_plan, refreshes)):
            if not rows:
                continue
            bound = plan.bind(rows, self.tx.now)
            if self.driver is None:
                await self.connection.exec_driver_sql(plan.sql, [tuple(values) for values in bound])
                continue
            try:
                await self.driver.executemany(plan.sql, bound)
            except sqlite3.Error as exc:
                raise DBAPIError.instance(plan.sql, None, exc, sqlite3.Error, dialect=self.connection.dialect) from exc

    async def ids(self, fingerprints: Sequence[str]) -> dict[AlertKey, int]:
        """The ids of the alerts with these fingerprints, of any source, by key."""
        if self.driver is not None:
            return {(fp, src): aid for fp, src, aid in await self._fetch(_SQLITE_IDS, json.dumps(fingerprints))}
        a = Alert.__table__.c
        found: dict[AlertKey, int] = {}
        for chunk in _chunks(fingerprints):
            for fp, src, alert_id in await self.connection.execute(
                select(a.fingerprint, a.source, a.id).where(a.fingerprint.in_(chunk))
            ):
                found[fp, src] = alert_id
        return found


@dataclass(slots=True)
class _Change:
    kind: str  # opened, reopened, closed, flapping, settled
    key: AlertKey
    previous: str | None


def _fold(
    key: AlertKey,
    occurrences: list[AlertInput],
    prior: _Prior | None,
    ci: tuple[str | None, int | None, bool],
    now: datetime,
    threshold: int,
    changes: list[_Change],
) -> list[Any]:
    """Apply every occurrence of one fingerprint in order: the row to upsert, and the changes.

    A state change extends the current run of changes when the last one lies within the flap
    window (``recent``); within one batch every change happens ``now``, so it always does.
    """
    if prior is None:
        state, resolved, recent, flap = None, False, True, 0
        last_change, starts_at = now, None
        acknowledged, acknowledged_by = False, None
    else:
        state, resolved, recent, flap = prior.state, prior.resolved, prior.recent, prior.flap_score
        last_change, starts_at = prior.last_change_at, prior.starts_at
        acknowledged, acknowledged_by = prior.acknowledged, prior.acknowledged_by_id
    ends_at: datetime | None = None
    for alert in occurrences:
        now_resolved = alert.status == RESOLVED
        before = state
        if state is None:
            state = CLOSED if now_resolved else OPEN
            starts_at = alert.starts_at or now
        elif now_resolved != resolved:
            flap = flap + 1 if recent else 1
            last_change, recent = now, True
            state = FLAPPING if flap >= threshold else CLOSED if now_resolved else OPEN
            if not now_resolved:
                starts_at = alert.starts_at or now
        elif state == FLAPPING and not recent:
            # Quiet for a whole window: it settles into what it now is.
            state = CLOSED if now_resolved else OPEN
            flap = 0
            last_change, recent = now, True
        elif not now_resolved and alert.starts_at is not None:
            starts_at = alert.starts_at
        resolved = now_resolved
        ends_at = (alert.ends_at or now) if now_resolved else None
        if state != before:
            kind = _transition(before, state)
            changes.append(_Change(kind, key, before))
            if kind == "reopened":
                acknowledged, acknowledged_by = False, None
    last = occurrences[-1]
    ci_key, ci_id, maintenance = ci
    return [
        key[0],
        key[1],
        last.name,
        last.severity,
        state,
        acknowledged,
        acknowledged_by,
        maintenance,
        last.summary,
        last.description,
        last.labels,
        last.annotations,
        ci_key,
        ci_id,
        last.generator_url,
        starts_at,
        ends_at,
        now,  # first_seen_at (kept by the update)
        now,  # last_seen_at
        last_change,
        len(occurrences),  # receive_count: added to the stored count
        flap,
        1,  # version (bumped by the update)
    ]


def _transition(before: str | None, after: str) -> str:
    if before is None:
        return "opened" if after == OPEN else "closed"
    if after == FLAPPING:
        return "flapping"
    if after == CLOSED:
        return "closed"
    return "reopened" if before == CLOSED else "settled"


async def ingest(domain: Domain, actor: Actor, batch: ParsedBatch) -> IngestResult:
    """Store a parsed batch in one transaction; see the module docstring for the rules."""
    require(actor, Permission.INGEST_ALERTS)
    settings = domain.settings.ingest
    if not batch.alerts:
        return IngestResult(0, 0, 0, 0, 0, 0, 0, batch.truncated)

    # Everything that needs no database is done before the transaction starts.
    grouped: dict[AlertKey, list[AlertInput]] = {}
    for alert in batch.alerts:
        grouped.setdefault((alert.fingerprint, alert.source), []).append(alert)
    fingerprints = list(dict.fromkeys(fp for fp, _ in grouped))
    candidates: dict[AlertKey, list[str]] = {}
    names: set[str] = set()
    for key, occurrences in grouped.items():
        candidates[key] = found = ci_candidates(occurrences[-1], settings.ci_labels)
        names.update(found)
    window = timedelta(seconds=settings.flap_window_seconds)

    async with domain.transaction(actor) as tx:
        now = tx.now
        store = await _Store.open(tx)
        cis = await store.cis(sorted(names)) if names else {}
        existing = await store.existing(fingerprints, now - window)
        changes: list[_Change] = []
        rows: list[list[Any]] = []
        refreshes: list[list[Any]] = []
        upserts: list[list[Any]] = []
        severity_changed: list[AlertKey] = []
        unmapped = 0
        for n, (key, occurrences) in enumerate(grouped.items(), 1):
            if n % _YIELD_EVERY == 0:  # a large batch leaves the event loop room to breathe
                await asyncio.sleep(0)
            ci_key: str | None = None
            ci_id: int | None = None
            maintenance = False
            for name in candidates[key]:
                if name in cis:
                    ci_key = name
                    ci_id, maintenance = cis[name]
                    break
            else:
                unmapped += 1
                if candidates[key]:
                    ci_key = candidates[key][0][:MAX_CI_KEY]
            prior = existing.get(key)
            ci = (ci_key, ci_id, maintenance)
            row = _fold(key, occurrences, prior, ci, now, settings.flap_threshold, changes)
            rows.append(row)
            if prior is None:
                upserts.append(row)
            elif (
                row[_STATE] == prior.state
                and row[_SEVERITY] == prior.severity
                and row[_CI_ID] == prior.ci_id
                and row[_LAST_CHANGE] is prior.last_change_at
            ):
                refreshes.append([*row, prior.id])
            else:
                upserts.append(row)
            if prior is not None and prior.severity != occurrences[-1].severity:
                severity_changed.append(key)
        described = {(row[0], row[1]): (row[_NAME], row[_SEVERITY], row[_CI_KEY]) for row in rows} if changes else {}

        await store.write(upserts, refreshes)
        ids = {key: prior.id for key, prior in existing.items()}
        new = [key for key in grouped if key not in ids]
        if new:
            ids.update(await store.ids(list(dict.fromkeys(fp for fp, _ in new))))

        by_kind: dict[str, list[tuple[int | None, AlertChange]]] = {}
        for change in changes:
            name, severity, ci_key = described[change.key]
            event = ALERT_CHANGES[change.kind](
                fingerprint=change.key[0], name=name, severity=severity, ci=ci_key, from_=change.previous
            )
            by_kind.setdefault(change.kind, []).append((ids[change.key], event))
        for events in by_kind.values():
            tx.record_many(events)
        if batch.truncated:
            # Nobody would learn otherwise: Alertmanager ignores the answer that says so.
            first = batch.alerts[0]
            tx.record(
                ids[first.fingerprint, first.source],
                AlertsLeftOut(source=first.source, left_out=batch.truncated, received=len(batch.alerts)),
            )

        touched = list(dict.fromkeys([c.key for c in changes] + severity_changed))
        incident_ids: list[int] = []
        ruled: list[int] = []  # incidents opened, joined or made worse: the workflow rule's to judge
        if touched:
            alert_ids = [ids[fp] for fp in touched]
            incident_ids = list(await correlation.correlate_alerts(tx, domain.settings, alert_ids))
            if domain.settings.workflow.open_proactive_case != "never":
                ruled = list(
                    await tx.session.scalars(
                        select(Alert.incident_id)
                        .where(Alert.id.in_(alert_ids), Alert.incident_id.is_not(None))
                        .distinct()
                    )
                )
    # The rule that opens proactive cases runs after the alerts are stored, in its own
    # transaction (see open_proactive_cases_by_rule): a failure there never loses an alert.
    await correlation.open_proactive_cases_after(domain, actor, ruled)

    counts = {kind: len(events) for kind, events in by_kind.items()}
    return IngestResult(
        received=len(batch.alerts),
        new=len(new),
        updated=len(batch.alerts) - len(new),
        reopened=counts.get("reopened", 0),
        closed=counts.get("closed", 0),
        flapping=counts.get("flapping", 0),
        unmapped=unmapped,
        truncated=batch.truncated,
        incident_ids=tuple(incident_ids),
    )


async def ingest_payload(
    domain: Domain, actor: Actor, raw: bytes | str | dict[str, Any] | list[Any], *, format: str = "auto"
) -> IngestResult:
    """Parse (with the ``[ingest]`` batch limit) and ingest; the receiver's one call."""
    require(actor, Permission.INGEST_ALERTS)
    batch = parse_alerts(domain.extensions, raw, format=format, max_alerts=domain.settings.ingest.max_alerts_per_batch)
    return await ingest(domain, actor, batch)


async def sweep_alerts(domain: Domain, actor: Actor) -> SweepResult:
    """Apply what time alone changes: quiet flapping alerts settle; maintenance flags follow the
    windows as they begin and end. Run periodically (``pcso serve`` does, every minute)."""
    require(actor, Permission.INGEST_ALERTS)
    async with domain.transaction(actor) as tx:
        await _lock_alerts(tx)
        now = tx.now
        a = Alert.__table__.c
        cutoff = now - timedelta(seconds=domain.settings.ingest.flap_window_seconds)
        quiet = (
            await tx.session.execute(
                select(a.id, a.fingerprint, a.name, a.severity, a.ci_key, a.ends_at)
                .where(a.state == AlertState.FLAPPING, a.last_change_at <= cutoff)
                .with_for_update()
            )
        ).all()
        if quiet:
            await tx.session.execute(
                update(Alert.__table__)
                .where(a.id.in_([row.id for row in quiet]))
                .values(
                    state=case((a.ends_at.is_(None), AlertState.OPEN.value), else_=AlertState.CLOSED.value),
                    flap_score=0,
                    last_change_at=now,
                    version=a.version + 1,
                )
            )
            for change, rows in (
                (AlertSettled, [r for r in quiet if r.ends_at is None]),
                (AlertClosed, [r for r in quiet if r.ends_at is not None]),
            ):
                tx.record_many(
                    (
                        r.id,
                        change(
                            fingerprint=r.fingerprint,
                            name=r.name,
                            severity=r.severity,
                            ci=r.ci_key,
                            from_=AlertState.FLAPPING.value,
                        ),
                    )
                    for r in rows
                )
        active = _active_window(a.ci_id, now)
        set_result = await tx.session.execute(
            update(Alert.__table__)
            .where(a.maintenance.is_(False), a.state != AlertState.CLOSED, a.ci_id.is_not(None), active)
            .values(maintenance=True, version=a.version + 1)
        )
        clear_result = await tx.session.execute(
            update(Alert.__table__)
            .where(a.maintenance.is_(True), ~active)
            .values(maintenance=False, version=a.version + 1)
        )
    return SweepResult(
        settled=len(quiet),
        maintenance_set=set_result.rowcount or 0,  # type: ignore[attr-defined]  # an UPDATE's CursorResult
        maintenance_cleared=clear_result.rowcount or 0,  # type: ignore[attr-defined]  # an UPDATE's CursorResult
    )


# --- queries ---------------------------------------------------------------------------------


_SEVERITY_RANK = case({s.value: s.rank for s in Severity}, value=Alert.severity, else_=0)
_SORTS: dict[str, Any] = {
    "last_change_at": Alert.last_change_at,
    "last_seen_at": Alert.last_seen_at,
    "first_seen_at": Alert.first_seen_at,
    "starts_at": Alert.starts_at,
    "severity": _SEVERITY_RANK,
    "name": Alert.name,
    "state": Alert.state,
    "ci": func.coalesce(ConfigurationItem.name, Alert.ci_key),
    "receive_count": Alert.receive_count,
    "id": Alert.id,
}
MAX_LIST = 10_000


def _filters(
    *,
    state: str | Sequence[str] | None,
    severity_at_least: str | None,
    search: str | None,
    ci: str | None,
    unmapped: bool | None,
) -> list[Any]:
    conditions: list[Any] = []
    if state is not None:
        states = [state] if isinstance(state, str) else list(state)
        bad = [s for s in states if s not in {s.value for s in AlertState}]
        if bad:
            known = ", ".join(s.value for s in AlertState)
            raise InvalidInput(f"unknown alert state {bad[0]!r}; states: {known}")
        conditions.append(Alert.state.in_(states))
    if severity_at_least is not None:
        try:
            least = Severity(severity_at_least.strip().lower())
        except ValueError:
            known = ", ".join(s.value for s in Severity)
            raise InvalidInput(f"unknown severity {severity_at_least!r}; severities: {known}") from None
        conditions.append(Alert.severity.in_([s.value for s in Severity if s.rank >= least.rank]))
    if search:
        escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{escaped}%"
        conditions.append(
            or_(
                *(
                    column.ilike(pattern, escape="\\")
                    for column in (
                        Alert.name,
                        Alert.summary,
                        Alert.fingerprint,
                        Alert.ci_key,
                        ConfigurationItem.name,
                        cast(Alert.labels, Text),
                    )
                )
            )
        )
    if ci is not None:
        conditions.append(or_(ConfigurationItem.name == ci, and_(Alert.ci_id.is_(None), Alert.ci_key == ci)))
    if unmapped is not None:
        conditions.append(Alert.ci_id.is_(None) if unmapped else Alert.ci_id.is_not(None))
    return conditions


def _alert_view(row: Any) -> AlertView:
    return AlertView(
        id=row.id,
        fingerprint=row.fingerprint,
        source=row.source,
        name=row.name,
        severity=row.severity,
        state=row.state,
        acknowledged=bool(row.acknowledged),
        maintenance=bool(row.maintenance),
        summary=row.summary,
        description=row.description,
        labels=dict(row.labels or {}),
        annotations=dict(row.annotations or {}),
        ci_key=row.ci_key,
        ci_id=row.ci_id,
        ci_name=row.ci_name,
        generator_url=row.generator_url,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        first_seen_at=row.first_seen_at,
        last_seen_at=row.last_seen_at,
        last_change_at=row.last_change_at,
        receive_count=row.receive_count,
        flap_score=row.flap_score,
        incident_id=row.incident_id,
        version=row.version,
    )


def _alert_select() -> Any:
    return select(*Alert.__table__.c, ConfigurationItem.name.label("ci_name")).outerjoin(
        ConfigurationItem, ConfigurationItem.id == Alert.ci_id
    )


async def list_alerts(
    domain: Domain,
    actor: Actor,
    *,
    state: str | Sequence[str] | None = None,
    severity_at_least: str | None = None,
    search: str | None = None,
    ci: str | None = None,
    unmapped: bool | None = None,
    sort: str = "-last_change_at",
    limit: int = 200,
    offset: int = 0,
) -> list[AlertView]:
    """Alerts filtered, searched, sorted and paged in SQL. ``sort``: a key, ``-`` for descending."""
    require(actor, Permission.VIEW_OPERATIONS)
    key = sort.removeprefix("-")
    if key not in _SORTS:
        raise InvalidInput(f"cannot sort alerts by {sort!r}; keys: {', '.join(_SORTS)} (prefix - for descending)")
    if not 1 <= limit <= MAX_LIST:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIST}, not {limit}")
    if offset < 0:
        raise InvalidInput(f"offset must be 0 or more, not {offset}")
    conditions = _filters(state=state, severity_at_least=severity_at_least, search=search, ci=ci, unmapped=unmapped)
    descending = sort.startswith("-")
    column = _SORTS[key]
    order = [column.desc() if descending else column.asc(), Alert.id.desc() if descending else Alert.id.asc()]
    query = _alert_select().where(*conditions).order_by(*order).limit(limit).offset(offset)
    async with domain.reading() as session:
        return [_alert_view(row) for row in await session.execute(query)]


async def count_alerts(
    domain: Domain,
    actor: Actor,
    *,
    state: str | Sequence[str] | None = None,
    severity_at_least: str | None = None,
    search: str | None = None,
    ci: str | None = None,
    unmapped: bool | None = None,
) -> int:
    """How many alerts :func:`list_alerts` would page through with the same filters."""
    require(actor, Permission.VIEW_OPERATIONS)
    conditions = _filters(state=state, severity_at_least=severity_at_least, search=search, ci=ci, unmapped=unmapped)
    query = (
        select(func.count())
        .select_from(Alert)
        .outerjoin(ConfigurationItem, ConfigurationItem.id == Alert.ci_id)
        .where(*conditions)
    )
    async with domain.reading() as session:
        return int(await session.scalar(query) or 0)


async def alert_versions(domain: Domain, actor: Actor, alert_ids: Sequence[int]) -> dict[int, int]:
    """The current version of each of these alerts (missing ids are left out).

    A live list checks the page it shows with this one cheap read and re-reads the page only
    when something on it changed: a repeat of an alert bumps its version but records no event.
    """
    require(actor, Permission.VIEW_OPERATIONS)
    ids = sorted(set(alert_ids))
    if len(ids) > MAX_LIST:
        raise InvalidInput(f"at most {MAX_LIST} alerts at a time, not {len(ids)}")
    if not ids:
        return {}
    found: dict[int, int] = {}
    async with domain.reading() as session:
        for chunk in _chunks(ids):
            rows = await session.execute(select(Alert.id, Alert.version).where(Alert.id.in_(chunk)))
            found.update((alert_id, version) for alert_id, version in rows)
    return found


async def get_alert(domain: Domain, actor: Actor, alert_id: int) -> AlertView:
    require(actor, Permission.VIEW_OPERATIONS)
    async with domain.reading() as session:
        row = (await session.execute(_alert_select().where(Alert.id == alert_id))).one_or_none()
    if row is None:
        raise NotFound(f"no alert {alert_id}")
    return _alert_view(row)


# --- commands --------------------------------------------------------------------------------


async def _set_acknowledged(
    domain: Domain, actor: Actor, alert_id: int, expected_version: int | None, acknowledged: bool
) -> AlertView:
    require(actor, Permission.ACKNOWLEDGE_ALERT)
    async with domain.transaction(actor) as tx:
        alert = await tx.session.get(Alert, alert_id)
        if alert is None:
            raise NotFound(f"no alert {alert_id}")
        await check_version(tx.session, "alert", alert.id, f"alert {alert_id}", alert.version, expected_version)
        if acknowledged and alert.state == AlertState.CLOSED:
            raise IllegalTransition(f"alert {alert_id} is closed; only open or flapping alerts can be acknowledged")
        if alert.acknowledged == acknowledged:
            raise IllegalTransition(f"alert {alert_id} is {'already' if acknowledged else 'not'} acknowledged")
        alert.acknowledged = acknowledged
        alert.acknowledged_by_id = actor.user_id if acknowledged else None
        await tx.session.flush()
        change = AlertAcknowledged if acknowledged else AlertUnacknowledged
        tx.record(alert.id, change(fingerprint=alert.fingerprint, name=alert.name))
        row = (await tx.session.execute(_alert_select().where(Alert.id == alert_id))).one()
        return _alert_view(row)


async def acknowledge_alert(
    domain: Domain, actor: Actor, alert_id: int, expected_version: int | None = None
) -> AlertView:
    """Mark an open or flapping alert as being looked at (a reopened alert loses the mark)."""
    return await _set_acknowledged(domain, actor, alert_id, expected_version, True)


async def unacknowledge_alert(
    domain: Domain, actor: Actor, alert_id: int, expected_version: int | None = None
) -> AlertView:
    return await _set_acknowledged(domain, actor, alert_id, expected_version, False)


async def add_maintenance_window(
    domain: Domain, actor: Actor, ci_name: str, starts_at: datetime, ends_at: datetime, reason: str
) -> MaintenanceWindowView:
    """Put a CI into maintenance for a period: its alerts are flagged and raise no incident."""
    require(actor, Permission.MANAGE_MAINTENANCE)
    for label, value in (("start", starts_at), ("end", ends_at)):
        if value.tzinfo is None:
            raise InvalidInput(f"the {label} of a maintenance window needs a time zone")
    starts_at, ends_at = starts_at.astimezone(UTC), ends_at.astimezone(UTC)
    reason = reason.strip()
    if not reason:
        raise InvalidInput("a maintenance window needs a reason")
    if len(reason) > 500:
        raise InvalidInput(f"the reason is longer than 500 characters ({len(reason)})")
    if text_problem(reason):
        raise InvalidInput(f"the reason {text_problem(reason)}")
    if ends_at <= starts_at:
        raise InvalidInput(
            f"a maintenance window must end after it starts ({ends_at.isoformat()} is not after "
            f"{starts_at.isoformat()})"
        )
    async with domain.transaction(actor) as tx:
        if ends_at <= tx.now:
            raise InvalidInput(f"the maintenance window ended already ({ends_at.isoformat()})")
        ci_id = await tx.session.scalar(select(ConfigurationItem.id).where(ConfigurationItem.name == ci_name))
        if ci_id is None:
            raise NotFound(f"no CI named {ci_name!r}")
        window = MaintenanceWindow(
            ci_id=ci_id,
            starts_at=starts_at,
            ends_at=ends_at,
            reason=reason,
            created_by_id=actor.user_id,
            created_at=tx.now,
        )
        tx.session.add(window)
        await tx.session.flush()
        flagged = 0
        if starts_at <= tx.now:
            a = Alert.__table__.c
            result = await tx.session.execute(
                update(Alert.__table__)
                .where(a.ci_id == ci_id, a.state != AlertState.CLOSED, a.maintenance.is_(False))
                .values(maintenance=True, version=a.version + 1)
            )
            flagged = result.rowcount or 0  # type: ignore[attr-defined]  # an UPDATE's CursorResult
        tx.record(
            window.id,
            MaintenanceAdded(
                ci=ci_name,
                starts_at=starts_at.isoformat(),
                ends_at=ends_at.isoformat(),
                reason=reason,
                alerts_flagged=flagged,
            ),
        )
        created_by = None
        if actor.user_id is not None:
            created_by = await tx.session.scalar(select(User.name).where(User.id == actor.user_id))
        return MaintenanceWindowView(
            id=window.id,
            ci_id=ci_id,
            ci_name=ci_name,
            starts_at=starts_at,
            ends_at=ends_at,
            reason=reason,
            created_by=created_by or actor.name,
            created_at=tx.now,
            alerts_flagged=flagged,
        )


async def list_maintenance_windows(
    domain: Domain, actor: Actor, *, include_past: bool = False
) -> list[MaintenanceWindowView]:
    """Maintenance windows that have not ended (or all), soonest first."""
    require(actor, Permission.VIEW_OPERATIONS)
    mw = MaintenanceWindow
    query = (
        select(mw, ConfigurationItem.name, User.name)
        .join(ConfigurationItem, ConfigurationItem.id == mw.ci_id)
        .outerjoin(User, User.id == mw.created_by_id)
        .order_by(mw.starts_at, mw.id)
    )
    if not include_past:
        query = query.where(mw.ends_at > domain.clock())
    async with domain.reading() as session:
        rows = (await session.execute(query)).all()
    return [
        MaintenanceWindowView(
            id=w.id,
            ci_id=w.ci_id,
            ci_name=ci_name,
            starts_at=w.starts_at,
            ends_at=w.ends_at,
            reason=w.reason,
            created_by=user_name,
            created_at=w.created_at,
        )
        for w, ci_name, user_name in rows
    ]
