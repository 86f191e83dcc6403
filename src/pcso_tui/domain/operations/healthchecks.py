"""Built-in health checks: HTTP and TCP probes, heartbeats, and a learned baseline.

Probes run on an interval (``[[healthchecks.http]]``, ``[[healthchecks.tcp]]``), concurrently
and bounded (``concurrency``), on the event loop without blocking it: HTTP with aiohttp, TCP
with asyncio streams. Heartbeats (``[[healthchecks.heartbeat]]``) are sources that must report
in — ``record_heartbeat``, called by ``pcso heartbeat NAME`` (and meant for the receiver's
``POST /api/v1/heartbeat/<name>``) — and raise an alert when silent for ``max_silence_seconds``.

Each probe's latency and error rate feed an exponentially weighted mean and variance (the
``health_baseline`` table, so the learned normal survives restarts). Once a baseline has seen
``warmup_samples`` samples, a sample more than ``anomaly_k`` deviations above its mean is an
anomaly — with the deviation never taken below a floor, so a noiseless baseline does not fire
on jitter. The verdict of one probe:

- ``failures_to_critical`` failed probes in a row (timeout, refused, bad status): **critical**;
- an anomalous latency, or a failure where failures are unusual: **warning** — which comes
  before the hard failure, while the service is merely slow or starting to fail;
- otherwise healthy: a firing alert is sent ``resolved``.

A latency warning needs ``anomaly_open_after`` anomalous probes in a row to open and
``anomaly_close_after`` normal ones in a row to close, and anomalous samples are never learned:
the baseline stays what normal was, so a warning holds while the slowness lasts instead of
teaching itself that slow is normal (a single slow sample used to widen the learned variance
enough to call the next slow probe healthy). A lasting change that is the new normal is
accepted by forgetting the check's baseline (``pcso healthcheck run --forget NAME``).

Alerts leave as dicts in the generic alert format (docs/alerts.md), one fingerprint per check
(``healthcheck:<name>:<kind>``; its severity moves warning → critical in place), handed to an
injectable sink — by default alert ingestion (``alerts.ingest_payload``):

    {"fingerprint": "healthcheck:web-front:http", "name": "HTTP check web-front",
     "status": "firing" | "resolved", "severity": "warning" | "critical", "source": "healthcheck",
     "summary": "...", "description": "...", "starts_at": ISO-8601, "ends_at": ISO-8601 (resolved),
     "labels": {"ci": <ci>, "check": <name>, "kind": "http", "source": "healthcheck"},
     "annotations": {"latency_ms": "...", "baseline_ms": "...", "error": "..."}}

Only changes are sent (a check that goes from healthy to warning, warning to critical, back to
healthy …); a change the sink fails to take is sent again after the next probe.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import aiohttp
from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite

from pcso_tui.domain.core.errors import NotFound
from pcso_tui.domain.core.models import Alert, HealthBaseline
from pcso_tui.domain.core.roles import Actor, Permission, Role, require
from pcso_tui.domain.core.service import Domain
from pcso_tui.domain.core.settings import (
    HealthCheckSettings,
    HeartbeatCheckSettings,
    HttpCheckSettings,
    TcpCheckSettings,
)
from pcso_tui.domain.operations.views import HeartbeatView

log = logging.getLogger(__name__)

SOURCE = "healthcheck"
LATENCY = "latency_ms"
ERRORS = "errors"
HEARTBEAT = "heartbeat"
KIND_NAMES = {"http": "HTTP", "tcp": "TCP", "heartbeat": "Heartbeat"}
# The runner acts as a built-in operator named healthcheck (it may ingest alerts).
HEALTHCHECK_ACTOR = Actor(user_id=None, name="healthcheck", role=Role.OPERATOR)
# How much of a response body a probe reads (a health page, not a download).
MAX_BODY = 65_536

AlertSink = Callable[[list[dict[str, Any]]], Awaitable[object]]
ProbeCheck = HttpCheckSettings | TcpCheckSettings


# --- the baseline -------------------------------------------------------------------------


@dataclass(slots=True)
class Baseline:
    """Exponentially weighted mean and variance of one metric."""

    mean: float = 0.0
    variance: float = 0.0
    samples: int = 0

    @property
    def deviation(self) -> float:
        return math.sqrt(max(self.variance, 0.0))

    def learn(self, value: float, alpha: float) -> None:
        if self.samples == 0:
            self.mean, self.variance = value, 0.0
        else:
            diff = value - self.mean
            step = alpha * diff
            self.mean += step
            self.variance = (1 - alpha) * (self.variance + diff * step)
        self.samples += 1

    def score(self, value: float, floor: float) -> float:
        """How many deviations (never less than ``floor``) ``value`` lies above the mean."""
        scale = max(self.deviation, floor)
        if scale <= 0:
            return math.inf if value > self.mean else 0.0
        return (value - self.mean) / scale


# --- probes -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProbeResult:
    check: str
    ok: bool
    latency_ms: float | None
    error: str | None = None


async def probe_http(session: aiohttp.ClientSession, check: HttpCheckSettings) -> ProbeResult:
    """One request; ok when the status is the expected one within the timeout."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        async with session.request(
            check.method.upper(),
            check.url,
            timeout=aiohttp.ClientTimeout(total=check.timeout_seconds),
            allow_redirects=False,
        ) as response:
            await response.content.read(MAX_BODY)
            status = response.status
    except TimeoutError:
        return ProbeResult(check.name, False, None, f"timed out after {check.timeout_seconds:g} s")
    except aiohttp.ClientConnectorError as exc:
        return ProbeResult(check.name, False, None, f"cannot connect: {exc.os_error.strerror or exc.os_error}")
    except (aiohttp.ClientError, OSError) as exc:
        return ProbeResult(check.name, False, None, f"{type(exc).__name__}: {exc}")
    latency = (loop.time() - started) * 1000
    if status != check.expect_status:
        return ProbeResult(check.name, False, latency, f"status {status}, expected {check.expect_status}")
    return ProbeResult(check.name, True, latency)


async def probe_tcp(check: TcpCheckSettings) -> ProbeResult:
    """One connection; ok when it opens within the timeout."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        _reader, writer = await asyncio.wait_for(
            asyncio.open_connection(check.host, check.port), timeout=check.timeout_seconds
        )
    except TimeoutError:
        return ProbeResult(check.name, False, None, f"timed out after {check.timeout_seconds:g} s")
    except OSError as exc:
        return ProbeResult(check.name, False, None, f"cannot connect: {exc.strerror or exc}")
    latency = (loop.time() - started) * 1000
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return ProbeResult(check.name, True, latency)


# --- verdicts -----------------------------------------------------------------------------


@dataclass(slots=True)
class CheckState:
    """What the runner knows of one check: baselines, failures in a row, what it last sent."""

    name: str
    kind: str
    ci: str
    latency: Baseline = field(default_factory=Baseline)
    errors: Baseline = field(default_factory=Baseline)
    failures: int = 0
    # Latency hysteresis: anomalous and normal probes in a row, and whether the slowness
    # warning is open (it opens and closes only after runs of them).
    slow_run: int = 0
    calm_run: int = 0
    slow_open: bool = False
    # The severity of the alert last sent firing, or None when healthy (or resolved).
    firing: str | None = None
    since: datetime | None = None
    dirty: bool = False

    @property
    def fingerprint(self) -> str:
        return f"{SOURCE}:{self.name}:{self.kind}"


@dataclass(frozen=True, slots=True)
class Verdict:
    # None: healthy; else "warning" or "critical".
    severity: str | None
    reason: str
    annotations: dict[str, str] = field(default_factory=dict)


def assess(settings: HealthCheckSettings, state: CheckState, result: ProbeResult) -> Verdict:
    """Judge one probe result against the check's baselines, then learn from it."""
    k, alpha, warm = settings.anomaly_k, settings.alpha, settings.warmup_samples
    state.dirty = True
    if not result.ok:
        state.failures += 1
        # A failure is another condition than slowness: the latency warning starts afresh.
        state.slow_run = state.calm_run = 0
        state.slow_open = False
        errors = state.errors
        unusual = errors.samples >= warm and errors.score(1.0, settings.error_floor) > k
        annotations = {"error": result.error or "failed", "error_rate": f"{errors.mean:.3f}"}
        errors.learn(1.0, alpha / 4 if unusual else alpha)
        if state.failures >= settings.failures_to_critical:
            times = f" ({state.failures} failed probes in a row)" if state.failures > 1 else ""
            return Verdict("critical", f"{result.error}{times}", annotations)
        if unusual:
            return Verdict(
                "warning", f"{result.error}; failures are unusual here (usual rate {errors.mean:.1%})", annotations
            )
        return Verdict(None, f"{result.error} (a single failure where failures are usual)", annotations)
    state.failures = 0
    state.errors.learn(0.0, alpha)
    latency, base = result.latency_ms or 0.0, state.latency
    floor = max(settings.latency_floor_ms, settings.latency_floor_ratio * base.mean)
    slow = base.samples >= warm and base.score(latency, floor) > k
    annotations = {"latency_ms": f"{latency:.1f}", "baseline_ms": f"{base.mean:.1f}"}
    usual = f"{base.mean:.0f} ± {base.deviation:.0f} ms is usual"
    if slow:
        # Not learned: the baseline must keep saying what normal is while this lasts.
        state.slow_run, state.calm_run = state.slow_run + 1, 0
        if state.slow_open or state.slow_run >= settings.anomaly_open_after:
            state.slow_open = True
            return Verdict("warning", f"slow: {latency:.0f} ms where {usual}", annotations)
        run = f"{state.slow_run} of {settings.anomaly_open_after}"
        return Verdict(None, f"slow: {latency:.0f} ms where {usual} ({run} before a warning)", annotations)
    base.learn(latency, alpha)
    state.slow_run = 0
    if state.slow_open:
        state.calm_run += 1
        if state.calm_run < settings.anomaly_close_after:
            run = f"{state.calm_run} of {settings.anomaly_close_after}"
            return Verdict("warning", f"slow, recovering: {latency:.0f} ms ({run} normal probes to close)", annotations)
        state.slow_open, state.calm_run = False, 0
    return Verdict(None, f"healthy in {latency:.0f} ms", annotations)


def alert_dict(
    state: CheckState,
    *,
    severity: str,
    status: str,
    summary: str,
    at: datetime,
    starts_at: datetime | None,
    annotations: dict[str, str] | None = None,
) -> dict[str, Any]:
    """One alert in the generic format (see the module docstring)."""
    labels = {"check": state.name, "kind": state.kind, "source": SOURCE}
    if state.ci:
        labels["ci"] = state.ci
    alert: dict[str, Any] = {
        "fingerprint": state.fingerprint,
        "name": f"{KIND_NAMES[state.kind]} check {state.name}",
        "status": status,
        "severity": severity,
        "source": SOURCE,
        "summary": summary,
        "description": f"Built-in {KIND_NAMES[state.kind]} health check {state.name!r}"
        + (f" on CI {state.ci}" if state.ci else ""),
        "labels": labels,
        "annotations": dict(annotations or {}),
        "starts_at": (starts_at or at).isoformat(),
    }
    if status == "resolved":
        alert["ends_at"] = at.isoformat()
    return alert


# --- heartbeats ---------------------------------------------------------------------------


def _upsert(dialect: str) -> Any:
    module = postgresql if dialect == "postgresql" else sqlite
    return module.insert(HealthBaseline.__table__)


async def record_heartbeat(domain: Domain, name: str, *, actor: Actor = HEALTHCHECK_ACTOR) -> HeartbeatView:
    """A source reports in (``pcso heartbeat NAME``; the receiver's ``POST /api/v1/heartbeat/<name>``
    calls this with its own actor, which must be allowed to ingest alerts).

    Kept in ``health_baseline`` (metric ``heartbeat``): when it last reported, how often, and the
    learned interval between reports."""
    require(actor, Permission.INGEST_ALERTS)
    checks = {c.name: c for c in domain.settings.healthchecks.heartbeat}
    if name not in checks:
        known = ", ".join(sorted(checks)) or "none configured"
        raise NotFound(f"no heartbeat check named {name!r} ([[healthchecks.heartbeat]]: {known})")
    alpha = domain.settings.healthchecks.alpha
    async with domain.transaction(actor) as tx:
        row = await tx.session.get(HealthBaseline, (name, HEARTBEAT))
        # ``samples`` counts reports; mean and variance are of the intervals between them.
        intervals = Baseline()
        if row is not None:
            intervals = Baseline(row.mean, row.variance, max(row.samples - 1, 0))
            intervals.learn((tx.now - row.updated_at).total_seconds(), alpha)
        reports = intervals.samples + 1
        values = {"mean": intervals.mean, "variance": intervals.variance, "samples": reports, "updated_at": tx.now}
        statement = _upsert(tx.dialect).values(check_name=name, metric=HEARTBEAT, **values)
        statement = statement.on_conflict_do_update(index_elements=["check_name", "metric"], set_=values)
        await tx.session.execute(statement)
        return HeartbeatView(name=name, reported_at=tx.now, reports=reports)


# --- the runner ---------------------------------------------------------------------------


class HealthCheckRunner:
    """Runs the configured checks and sends their alerts to ``sink``.

    ``run_once()`` probes every check once (concurrently) and looks at every heartbeat; ``run()``
    keeps each check on its own interval until stopped. Use as ``async with`` (or call
    ``start()``/``close()``): baselines and the state of firing alerts are loaded on start and
    baselines written back periodically and on close.
    """

    def __init__(
        self,
        domain: Domain,
        sink: AlertSink,
        *,
        settings: HealthCheckSettings | None = None,
        actor: Actor = HEALTHCHECK_ACTOR,
        forget: tuple[str, ...] = (),
    ) -> None:
        self.domain = domain
        self.sink = sink
        self.settings = settings or domain.settings.healthchecks
        self.actor = actor
        # Writes in progress when ``run`` is stopped: they finish before the runner closes.
        self._inflight: set[asyncio.Task[Any]] = set()
        self.probes: list[ProbeCheck] = [*self.settings.http, *self.settings.tcp]
        self.heartbeats: list[HeartbeatCheckSettings] = list(self.settings.heartbeat)
        self.states: dict[str, CheckState] = {}
        for check in self.probes:
            kind = "http" if isinstance(check, HttpCheckSettings) else "tcp"
            self.states[check.name] = CheckState(check.name, kind, check.ci)
        for beat in self.heartbeats:
            self.states[beat.name] = CheckState(beat.name, HEARTBEAT, beat.ci)
        unknown = sorted(set(forget) - {c.name for c in self.probes})
        if unknown:
            raise NotFound(f"no HTTP or TCP check named {', '.join(map(repr, unknown))} to forget the baseline of")
        # Checks whose learned latency and error baselines are dropped on start: a lasting
        # change accepted as the new normal (the runner alone writes baselines, so on start).
        self.forget = tuple(forget)
        self.started_at: datetime | None = None
        self._http: aiohttp.ClientSession | None = None
        self._limit = asyncio.Semaphore(self.settings.concurrency)
        self._send_lock = asyncio.Lock()

    async def __aenter__(self) -> HealthCheckRunner:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(self) -> None:
        """Load the learned baselines and which checks have a firing alert."""
        self.started_at = self.domain.clock()
        names = list(self.states)
        if self.forget:
            async with self.domain.transaction(self.actor) as tx:
                await tx.session.execute(
                    delete(HealthBaseline).where(
                        HealthBaseline.check_name.in_(self.forget), HealthBaseline.metric.in_((LATENCY, ERRORS))
                    )
                )
            log.info("forgot the learned baselines of %s", ", ".join(self.forget))
        if names:
            async with self.domain.reading() as session:
                rows = await session.execute(
                    select(HealthBaseline).where(
                        HealthBaseline.check_name.in_(names), HealthBaseline.metric.in_((LATENCY, ERRORS))
                    )
                )
                for row in rows.scalars():
                    target = self.states[row.check_name]
                    baseline = target.latency if row.metric == LATENCY else target.errors
                    baseline.mean, baseline.variance, baseline.samples = row.mean, row.variance, row.samples
                by_fingerprint = {s.fingerprint: s for s in self.states.values()}
                firing = await session.execute(
                    select(Alert.fingerprint, Alert.severity, Alert.starts_at).where(
                        Alert.fingerprint.in_(list(by_fingerprint)),
                        Alert.source == SOURCE,
                        Alert.state.in_(("open", "flapping")),
                    )
                )
                for fingerprint, severity, starts_at in firing:
                    state = by_fingerprint[fingerprint]
                    state.firing, state.since = severity, starts_at
                    # A warning left firing stays open until normal probes close it.
                    state.slow_open = severity == "warning"
        if self.probes and self._http is None:
            connector = aiohttp.TCPConnector(limit=self.settings.concurrency, force_close=True)
            self._http = aiohttp.ClientSession(connector=connector)

    async def close(self) -> None:
        try:
            await self.flush()
        finally:
            if self._http is not None:
                await self._http.close()
                self._http = None

    async def flush(self) -> None:
        """Write the baselines that changed (one statement)."""
        now = self.domain.clock()
        rows = []
        # Marked clean before the write, not after it: a probe judged while the write awaits
        # the database marks its check dirty again, and the next flush writes what it learnt.
        written = [state for state in self.states.values() if state.dirty]
        for state in written:
            state.dirty = False
            for metric, base in ((LATENCY, state.latency), (ERRORS, state.errors)):
                if base.samples:
                    rows.append(
                        {
                            "check_name": state.name,
                            "metric": metric,
                            "mean": base.mean,
                            "variance": base.variance,
                            "samples": base.samples,
                            "updated_at": now,
                        }
                    )
        if not rows:
            return
        try:
            async with self.domain.transaction(self.actor) as tx:
                statement = _upsert(tx.dialect)
                statement = statement.on_conflict_do_update(
                    index_elements=["check_name", "metric"],
                    set_={c: statement.excluded[c] for c in ("mean", "variance", "samples", "updated_at")},
                )
                await tx.session.execute(statement, rows)
        except BaseException:
            for state in written:
                state.dirty = True
            raise

    async def probe(self, check: ProbeCheck) -> ProbeResult:
        async with self._limit:
            if isinstance(check, HttpCheckSettings):
                if self._http is None:
                    raise RuntimeError("the runner is not started")
                return await probe_http(self._http, check)
            return await probe_tcp(check)

    async def check(self, check: ProbeCheck) -> tuple[ProbeResult, dict[str, Any] | None]:
        """Probe one check and judge it; the alert to send, if its verdict changed."""
        result = await self.probe(check)
        state = self.states[check.name]
        verdict = assess(self.settings, state, result)
        return result, self._change(state, verdict)

    def heartbeat_changes(self, reports: dict[str, datetime]) -> list[dict[str, Any]]:
        """Judge every heartbeat given when each last reported (name → time)."""
        now = self.domain.clock()
        changes = []
        for beat in self.heartbeats:
            last = reports.get(beat.name)
            reference = last or self.started_at or now
            silence = (now - reference).total_seconds()
            if silence > beat.max_silence_seconds:
                heard = f"last report {last:%Y-%m-%d %H:%M:%S} UTC" if last else "no report since the runner started"
                verdict = Verdict(
                    "critical",
                    f"silent for {silence:.0f} s (at most {beat.max_silence_seconds:g} s); {heard}",
                    {"silence_seconds": f"{silence:.0f}"},
                )
            else:
                verdict = Verdict(None, f"reported {silence:.0f} s ago", {})
            change = self._change(
                self.states[beat.name], verdict, since=reference + timedelta(seconds=beat.max_silence_seconds)
            )
            if change is not None:
                changes.append(change)
        return changes

    async def heartbeat_reports(self) -> dict[str, datetime]:
        if not self.heartbeats:
            return {}
        async with self.domain.reading() as session:
            rows = await session.execute(
                select(HealthBaseline.check_name, HealthBaseline.updated_at).where(
                    HealthBaseline.metric == HEARTBEAT,
                    HealthBaseline.check_name.in_([b.name for b in self.heartbeats]),
                )
            )
            return dict(rows.all())

    def _change(self, state: CheckState, verdict: Verdict, *, since: datetime | None = None) -> dict[str, Any] | None:
        if verdict.severity == state.firing:
            return None
        now = self.domain.clock()
        if verdict.severity is None:
            assert state.firing is not None
            return alert_dict(
                state,
                severity=state.firing,
                status="resolved",
                summary=f"recovered: {verdict.reason}",
                at=now,
                starts_at=state.since,
                annotations=verdict.annotations,
            )
        return alert_dict(
            state,
            severity=verdict.severity,
            status="firing",
            summary=verdict.reason,
            at=now,
            starts_at=state.since if state.firing else (since or now),
            annotations=verdict.annotations,
        )

    async def send(self, alerts: list[dict[str, Any]]) -> bool:
        """Hand changes to the sink; remember them as sent only if it took them."""
        if not alerts:
            return True
        async with self._send_lock:
            try:
                await self.sink(alerts)
            except Exception:
                log.exception("health check alerts not delivered; they are sent again after the next probe")
                return False
            for alert in alerts:
                state = self.states[alert["labels"]["check"]]
                if alert["status"] == "resolved":
                    state.firing, state.since = None, None
                else:
                    if state.firing is None:
                        state.since = datetime.fromisoformat(alert["starts_at"])
                    state.firing = alert["severity"]
            return True

    async def run_once(self) -> list[dict[str, Any]]:
        """Probe every check once, concurrently; look at every heartbeat; send what changed;
        write the baselines. Returns the alerts sent (or offered, if the sink failed)."""
        if self.started_at is None:
            await self.start()
        outcomes = await asyncio.gather(*(self.check(c) for c in self.probes))
        changes = [change for _result, change in outcomes if change is not None]
        changes += self.heartbeat_changes(await self.heartbeat_reports())
        await self.send(changes)
        await self.flush()
        return changes

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Keep every check on its own interval until ``stop`` is set (or the task is cancelled)."""
        stop = stop or asyncio.Event()
        await self.start()
        tasks = [asyncio.create_task(self._probe_loop(c), name=f"healthcheck {c.name}") for c in self.probes]
        if self.heartbeats:
            tasks.append(asyncio.create_task(self._every(self.settings.heartbeat_poll_seconds, self._beat)))
        tasks.append(asyncio.create_task(self._every(self.settings.flush_seconds, self._flush_uncut)))
        try:
            await stop.wait()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await asyncio.gather(*self._inflight, return_exceptions=True)
            await self.close()

    async def _uncut(self, write: Awaitable[object]) -> None:
        """Await a write that stopping the runner never cuts in half: cancelling an await inside
        a write transaction can leave its connection holding the database's write lock."""
        task = asyncio.ensure_future(write)
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)
        await asyncio.shield(task)

    async def _flush_uncut(self) -> None:
        await self._uncut(self.flush())

    async def _probe_loop(self, check: ProbeCheck) -> None:
        while True:
            _result, change = await self.check(check)
            if change is not None:
                await self._uncut(self.send([change]))
            await asyncio.sleep(check.interval_seconds)

    async def _beat(self) -> None:
        await self._uncut(self.send(self.heartbeat_changes(await self.heartbeat_reports())))

    @staticmethod
    async def _every(seconds: float, action: Callable[[], Awaitable[None]]) -> None:
        while True:
            await asyncio.sleep(seconds)
            try:
                await action()
            except Exception:
                log.exception("health check housekeeping failed; trying again in %s s", seconds)
