"""An outage simulation over a seeded world: what ``pcso demo`` runs so the workspace moves.

It plays an Alertmanager pointed at pcso: every alert it raises or clears goes through the same
front door as a real one (``alerts.ingest_payload`` with a version-4 webhook message), so
deduplication, flapping, correlation into incidents and the proactive-case rule all run for
real. It never writes a row itself.

What happens, driven by a seeded random generator and counted in steps (``step()`` is one
tick; ``run()`` calls it every ``interval`` seconds until told to stop):

- **noise**: single low-severity alerts, each resolving after a few steps: on application CIs
  (never so many firing at once that correlation's ``open_at_count`` would make an incident
  of them) and on hosts the service map does not know (kept as unmapped);
- **flapping**: an alert on an unmapped host that fires and clears on every step for a while
  (enough state changes within the flap window for ingest to mark it flapping), then stays
  resolved;
- **outages**: a burst on related CIs — an upstream CI (host, database, queue …) and several
  of the CIs that depend on it — at major/critical severity, so correlation opens one incident
  with that CI as its probable root cause; the burst resolves after a while. When an operator
  actor is given, the simulation then opens the incident's proactive case as that operator
  (at once, as an automatic rule would, or ``case_delay`` seconds later, as a person would),
  and the workflow rule decides about a major case.
- **customers**: when an agent actor is given, every external account the outage affects
  calls or writes in after a random delay (log-normal, median ``call_median`` seconds; a
  share ``never_call`` never does), drawn from a generator of their own (``seed`` too) so
  the alerts stay the same. The agent logs the call (``cases.open_reactive_case``, as the
  agent screen's ``o`` does), checks the known outages and attaches it
  (``insight.attach_to_known_outage``); a call no known outage covers yet is checked again
  every ``recheck`` seconds, as an agent working the queue would, for ``follow_up`` seconds.
  So whether a customer was told before they called is a real race between the two.
- every ``sweep_every`` steps, ``alerts.sweep_alerts`` applies what time alone changes (quiet
  flapping alerts settle), as ``pcso serve`` does.

The same seed on the same world sends the same alerts; timestamps come from ``domain.clock``.

The simulation compresses time (an outage every five minutes or so), so ``pcso demo`` runs it
with ``demo_settings``: a one-minute correlation window lets one outage's incident end before
the next outage opens its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from random import Random
from typing import Any

from sqlalchemy import func, select

from pcso_tui.domain.communications.delivery import DeliveryWorker
from pcso_tui.domain.core.clock import FrozenClock
from pcso_tui.domain.core.errors import DomainError
from pcso_tui.domain.core.models import Account, CIDependency, ConfigurationItem, Incident
from pcso_tui.domain.core.roles import Actor, Role
from pcso_tui.domain.core.service import Domain
from pcso_tui.domain.core.settings import Settings
from pcso_tui.domain.core.states import ACTIVE_INCIDENT_STATES
from pcso_tui.domain.install_base.impact import affected_items
from pcso_tui.domain.operations.alerts import ingest_payload, sweep_alerts
from pcso_tui.world import world_words as W
from pcso_tui.world.views import SimulationStep

log = logging.getLogger(__name__)

# The simulated Alertmanager acts on its own behalf, like the HTTP receiver.
SIMULATOR = Actor(user_id=None, name="simulator", role=Role.OPERATOR)

UPSTREAM_KINDS = ("host", "database", "queue", "cache", "gateway", "storage", "search")
# CIs the simulation picks from, at most (read once, when it starts).
MAX_UPSTREAM = 400
MAX_NOISE_CIS = 2000
MAX_DEPENDENTS = 50
ZERO_TIME = "0001-01-01T00:00:00Z"
EXTERNAL_URL = "http://alertmanager.demo.invalid:9093"
# Hosts no CI stands for: their alerts are kept unmapped.
UNMAPPED_HOSTS = (
    "edge-probe-ams-01",
    "edge-probe-fra-02",
    "batch-runner-07",
    "lab-k8s-node-3",
    "legacy-ftp-01",
    "vpn-gw-old",
)
# Flapping alerts go to hosts of their own: branch-vpn-gw-01 … -30, in turn.
FLAPPING_HOST = "branch-vpn-gw"
FLAPPING_HOSTS = 30
DEMO_WINDOW_MINUTES = 1


def demo_settings(settings: Settings) -> Settings:
    """``settings`` for a demo world: the correlation window shrunk to the simulation's pace."""
    return replace(settings, correlation=replace(settings.correlation, window_minutes=DEMO_WINDOW_MINUTES))


@dataclass(frozen=True, slots=True)
class SimulationSettings:
    """How busy the simulated world is; counted in steps."""

    # Seconds between steps when running on its own.
    interval: float = 2.0
    # The chance of a new noise alert on a step, and how many may be open at once.
    noise_chance: float = 0.35
    max_noise: int = 6
    noise_lasts: tuple[int, int] = (4, 20)
    # The first outage starts on this step; the next one so many steps after the last began,
    # and never while one is on or its incident is still live (see ``step``).
    first_burst: int = 2
    burst_every: tuple[int, int] = (40, 80)
    burst_lasts: tuple[int, int] = (15, 30)
    burst_dependents: tuple[int, int] = (2, 4)
    # The first flapping alert starts on this step; later ones by chance.
    first_flap: int = 1
    flap_chance: float = 0.02
    flap_flips: tuple[int, int] = (6, 10)
    # Steps between two sweeps (settling quiet flapping alerts).
    sweep_every: int = 30
    # Seconds the operator takes to open an outage's proactive case (0: at once, like a rule).
    case_delay: float = 0.0
    # The customers (played when an agent is given), in seconds: each affected account calls
    # after a log-normal delay of this median and spread (the sigma of its logarithm), or,
    # with the chance ``never_call``, never. ``call_delay`` replaces the distribution: it draws
    # one delay in seconds from the generator it is given (``None``: this caller never calls).
    call_median: float = 600.0
    call_spread: float = 1.0
    never_call: float = 0.3
    call_delay: Callable[[Random], float | None] | None = None
    # A call no known outage covers is checked again this often, for this long.
    recheck: float = 60.0
    follow_up: float = 7200.0
    # At most this many of an outage's affected accounts are played (a seeded sample; the
    # others are left out, neither calling nor counted as never calling). None: all of them.
    max_callers: int | None = None


@dataclass(slots=True)
class _Alert:
    fingerprint: str
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: str
    firing: bool = True
    ends_step: int = 0  # resolve on this step
    flips_left: int = 0  # flapping: toggles left


@dataclass(slots=True)
class _Burst:
    group: str
    alerts: list[_Alert]
    ends_step: int
    incidents: set[int] = field(default_factory=set)


@dataclass(slots=True)
class _Call:
    account: str
    due_at: datetime
    case_id: int | None = None
    logged_at: datetime | None = None
    checked_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class _CI:
    id: int
    name: str
    kind: str


def _annotations(name: str, text: str, where: str) -> dict[str, str]:
    """What an alerting rule would say: the symptom in short, and in full with the place."""
    return {"summary": text[:1].upper() + text[1:], "description": f"{name} on {where}: {text}"}


def _iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


class OutageSimulation:
    """See the module docstring. ``await load()`` once (``step``/``run`` do it when needed)."""

    def __init__(
        self,
        domain: Domain,
        *,
        seed: int = 1,
        settings: SimulationSettings | None = None,
        operator: Actor | None = None,
        agent: Actor | None = None,
    ) -> None:
        self.domain = domain
        self.seed = seed
        self.settings = settings or SimulationSettings()
        self.operator = operator
        self.agent = agent
        self.rng = Random(f"pcso-simulation/{seed}")
        # The customers draw from their own generator: playing them leaves the alerts alone.
        self.customer_rng = Random(f"pcso-simulation-customers/{seed}")
        self.steps = 0
        self.sent = 0
        self.cases_opened: list[int] = []
        # The customers, one entry per outage they were hit by: who will call and who never
        # will (account numbers); the calls logged (reactive case ids) and attached.
        self.callers: list[str] = []
        self.never_called: list[str] = []
        self.calls_logged: list[int] = []
        self.calls_attached: list[int] = []
        self._calls: list[_Call] = []
        self._cases_due: dict[int, datetime] = {}
        self._upstream: list[_CI] = []
        self._noise_cis: list[_CI] = []
        self._loaded = False
        self._serial = 0
        self._flappers = 0
        self._run = ""
        self._noise: list[_Alert] = []
        self._flapping: list[_Alert] = []
        self._bursts: list[_Burst] = []
        self._next_burst = self.settings.first_burst
        # Until then, noise stays off the service map (see ``step``).
        self._quiet_until: datetime | None = None
        self._handled_incidents: set[int] = set()
        self._task: asyncio.Task[None] | None = None
        self._stop: asyncio.Event | None = None

    # --- the world it plays on ----------------------------------------------------------------

    async def load(self) -> None:
        """Read the CIs it will raise alerts on (a bounded sample of the service map)."""
        ci = ConfigurationItem
        dependents = (
            select(CIDependency.depends_on_id, func.count().label("n"))
            .group_by(CIDependency.depends_on_id)
            .having(func.count() >= 2)
            .subquery()
        )
        async with self.domain.reading() as session:
            upstream = (
                await session.execute(
                    select(ci.id, ci.name, ci.kind)
                    .join(dependents, dependents.c.depends_on_id == ci.id)
                    .where(ci.kind.in_(UPSTREAM_KINDS))
                    .order_by(ci.id)
                    .limit(MAX_UPSTREAM)
                )
            ).all()
            noise = (
                await session.execute(
                    select(ci.id, ci.name, ci.kind).where(ci.kind == "application").order_by(ci.id).limit(MAX_NOISE_CIS)
                )
            ).all()
            if not noise:
                noise = (
                    await session.execute(select(ci.id, ci.name, ci.kind).order_by(ci.id).limit(MAX_NOISE_CIS))
                ).all()
        # Fingerprints are new for each run (a reopened demo world gets new alerts, not repeats).
        self._run = _iso(self.domain.clock())
        self._upstream = [_CI(*row) for row in upstream]
        self._noise_cis = [_CI(*row) for row in noise]
        self._loaded = True

    async def _dependents(self, ci_id: int) -> list[_CI]:
        ci = ConfigurationItem
        async with self.domain.reading() as session:
            rows = (
                await session.execute(
                    select(ci.id, ci.name, ci.kind)
                    .join(CIDependency, CIDependency.ci_id == ci.id)
                    .where(CIDependency.depends_on_id == ci_id)
                    .order_by(ci.id)
                    .limit(MAX_DEPENDENTS)
                )
            ).all()
        return [_CI(*row) for row in rows]

    async def _incident_is_active(self, incident_id: int) -> bool:
        async with self.domain.reading() as session:
            state = await session.scalar(select(Incident.state).where(Incident.id == incident_id))
        return state in {s.value for s in ACTIVE_INCIDENT_STATES}

    # --- building alerts ------------------------------------------------------------------------

    def _fingerprint(self) -> str:
        self._serial += 1
        return hashlib.sha256(f"pcso-simulation/{self.seed}/{self._run}/{self._serial}".encode()).hexdigest()[:16]

    def _new_alert(self, ci: _CI, name: str, text: str, severity: str, now: str, **labels: str) -> _Alert:
        return _Alert(
            fingerprint=self._fingerprint(),
            labels={"alertname": name, "severity": severity, "ci": ci.name, "env": "production", **labels},
            annotations=_annotations(name, text, ci.name),
            starts_at=now,
        )

    def _unmapped_alert(self, host: str, name: str, text: str, severity: str, now: str) -> _Alert:
        return _Alert(
            fingerprint=self._fingerprint(),
            labels={"alertname": name, "severity": severity, "instance": f"{host}:9100", "job": "node"},
            annotations=_annotations(name, text, host),
            starts_at=now,
        )

    @staticmethod
    def _message(group: str, alerts: list[_Alert], now: str) -> dict[str, Any]:
        """One Alertmanager webhook message (version 4) for a group of alerts."""
        firing = any(a.firing for a in alerts)
        common = {k: v for k, v in alerts[0].labels.items() if all(a.labels.get(k) == v for a in alerts)}
        return {
            "version": "4",
            "groupKey": f'{{}}:{{group="{group}"}}',
            "truncatedAlerts": 0,
            "status": "firing" if firing else "resolved",
            "receiver": "pcso-demo",
            "groupLabels": {"group": group},
            "commonLabels": common,
            "commonAnnotations": {},
            "externalURL": EXTERNAL_URL,
            "alerts": [
                {
                    "status": "firing" if a.firing else "resolved",
                    "labels": a.labels,
                    "annotations": a.annotations,
                    "startsAt": a.starts_at,
                    "endsAt": ZERO_TIME if a.firing else now,
                    "generatorURL": f"{EXTERNAL_URL}/graph?g0.expr={a.labels['alertname']}",
                    "fingerprint": a.fingerprint,
                }
                for a in alerts
            ],
        }

    # --- one step -------------------------------------------------------------------------------

    async def step(self) -> SimulationStep:
        """One tick of the simulation: decide what changes, send it through ingest."""
        if not self._loaded:
            await self.load()
        s = self.settings
        rng = self.rng
        n = self.steps
        self.steps += 1
        if not self._noise_cis:  # no world (no CIs) to play on
            return SimulationStep(step=n, sent=0, fired=0, resolved=0, flapping=0)
        clock = self.domain.clock()
        now = _iso(clock)
        # While an outage is on, and until its incident is no longer live for correlation, new
        # noise and flapping alerts go to unmapped hosts and no new outage starts: on the map
        # they would join the incident and keep it live, and the next outage would join it
        # instead of opening its own.
        quiet = bool(self._bursts) or (self._quiet_until is not None and clock < self._quiet_until)
        messages: list[tuple[str, list[_Alert], _Burst | None]] = []
        fired = resolved = 0

        # Noise: resolve what is due, maybe raise one (two on the first step, to show something).
        due = [a for a in self._noise if a.ends_step <= n]
        for alert in due:
            alert.firing = False
        self._noise = [a for a in self._noise if a.ends_step > n]
        raised: list[_Alert] = []
        wanted = 2 if n == 0 else int(rng.random() < s.noise_chance)
        # Firing mapped alerts stay below the count that opens an incident (the flapping one
        # counts too): noise is noise.
        mapped_room = max(0, self.domain.settings.correlation.open_at_count - 2)
        for _ in range(wanted):
            if len(self._noise) >= s.max_noise:
                break
            severity = rng.choice(("warning", "warning", "minor", "info"))
            mapped = sum("ci" in a.labels for a in self._noise)
            if not quiet and mapped < mapped_room and rng.random() < 0.6:
                ci = rng.choice(self._noise_cis)
                name, text = rng.choice(W.NOISE_ALERTS + (W.ALERTS_BY_KIND.get(ci.kind) or ()))
                alert = self._new_alert(ci, name, text, severity, now)
            else:
                used = {a.labels.get("instance") for a in self._noise}
                free = [h for h in UNMAPPED_HOSTS if f"{h}:9100" not in used]
                if not free:
                    break
                name, text = rng.choice(W.NOISE_ALERTS)
                alert = self._unmapped_alert(rng.choice(free), name, text, severity, now)
            alert.ends_step = n + rng.randint(*s.noise_lasts)
            self._noise.append(alert)
            raised.append(alert)
        if due or raised:
            messages.append(("noise", due + raised, None))
            resolved += len(due)
            fired += len(raised)

        # Flapping: toggle every step until the flips run out, ending resolved.
        flaps: list[_Alert] = []
        for alert in self._flapping:
            alert.flips_left -= 1
            alert.firing = not alert.firing if alert.flips_left > 0 else False
            flaps.append(alert)
        self._flapping = [a for a in self._flapping if a.flips_left > 0]
        if not self._flapping and (n == s.first_flap or (n > s.first_flap and rng.random() < s.flap_chance)):
            # Off the map: a flapping alert stays flapping (firing, for correlation) until it has
            # been quiet for a whole flap window, and would keep an outage's incident live.
            # A host of its own, too: two flapping alerts on one key (or a third alert there)
            # would make an incident by count.
            host = f"{FLAPPING_HOST}-{self._flappers % FLAPPING_HOSTS + 1:02d}"
            self._flappers += 1
            name, text = rng.choice(W.ALERTS_BY_KIND["host"])
            alert = self._unmapped_alert(host, name, text, "minor", now)
            alert.flips_left = rng.randint(*s.flap_flips)
            self._flapping.append(alert)
            flaps.append(alert)
        if flaps:
            messages.append(("flapping", flaps, None))
            fired += sum(a.firing for a in flaps)
            resolved += sum(not a.firing for a in flaps)

        # Outages: end the bursts that are due, maybe start one.
        burst: _Burst | None
        for burst in [b for b in self._bursts if b.ends_step <= n]:
            for alert in burst.alerts:
                alert.firing = False
            self._bursts.remove(burst)
            # Correlation looks back up to open_at_count windows for loose alerts, and an incident
            # stays live for a window after its last change: the next outage waits that long.
            rules = self.domain.settings.correlation
            quiet_for = timedelta(minutes=rules.window_minutes * (rules.open_at_count + 1))
            self._quiet_until = clock + quiet_for + timedelta(seconds=2 * s.interval)
            messages.append((burst.group, burst.alerts, None))
            resolved += len(burst.alerts)
        if n >= self._next_burst and not quiet and self._upstream:
            burst = await self._start_burst(n, now)
            self._next_burst = n + rng.randint(*s.burst_every)
            if burst is not None:
                self._bursts.append(burst)
                messages.append((burst.group, burst.alerts, burst))
                fired += len(burst.alerts)

        incidents: list[int] = []
        cases: list[int] = []
        flapping = 0
        for group, alerts, burst in messages:
            result = await ingest_payload(
                self.domain, SIMULATOR, self._message(group, alerts, now), format="alertmanager"
            )
            self.sent += len(alerts)
            flapping += result.flapping
            incidents.extend(i for i in result.incident_ids if i not in incidents)
            if burst is not None:
                burst.incidents.update(result.incident_ids)
                if s.case_delay <= 0:
                    cases.extend(await self._open_cases(burst.incidents))
                else:
                    for incident_id in burst.incidents - self._handled_incidents:
                        self._cases_due.setdefault(incident_id, clock + timedelta(seconds=s.case_delay))
                await self._schedule_calls(burst, clock)
        due_cases = {i for i, at in self._cases_due.items() if at <= clock}
        if due_cases:
            for incident_id in due_cases:
                del self._cases_due[incident_id]
            cases.extend(await self._open_cases(due_cases))
        calls, attached = await self._play_customers(clock)

        if s.sweep_every and n and n % s.sweep_every == 0:
            await sweep_alerts(self.domain, SIMULATOR)
        return SimulationStep(
            step=n,
            sent=sum(len(alerts) for _g, alerts, _b in messages),
            fired=fired,
            resolved=resolved,
            flapping=flapping,
            incident_ids=tuple(incidents),
            case_ids=tuple(cases),
            calls=tuple(calls),
            attached=tuple(attached),
        )

    async def _start_burst(self, n: int, now: str) -> _Burst | None:
        s = self.settings
        rng = self.rng
        upstream = rng.choice(self._upstream)
        dependents = await self._dependents(upstream.id)
        if len(dependents) < 2:
            return None
        count = min(len(dependents), rng.randint(*s.burst_dependents))
        picked = rng.sample(dependents, count)
        group = f"outage-{upstream.name}"
        name, text = rng.choice(W.ALERTS_BY_KIND.get(upstream.kind) or W.NOISE_ALERTS)
        alerts = [self._new_alert(upstream, name, text, rng.choice(("critical", "major")), now, outage=upstream.name)]
        for ci in picked:
            dep_name, dep_text = rng.choice(W.ALERTS_BY_KIND.get(ci.kind) or W.NOISE_ALERTS)
            alerts.append(
                self._new_alert(ci, dep_name, dep_text, rng.choice(("major", "minor")), now, outage=upstream.name)
            )
        return _Burst(group=group, alerts=alerts, ends_step=n + rng.randint(*s.burst_lasts))

    async def _open_cases(self, incident_ids: set[int]) -> list[int]:
        """As the operator: the proactive case of each new outage incident (the rule then decides)."""
        if self.operator is None:
            return []
        from pcso_tui.domain.casework.cases import open_proactive_case

        opened: list[int] = []
        for incident_id in sorted(incident_ids - self._handled_incidents):
            self._handled_incidents.add(incident_id)
            if not await self._incident_is_active(incident_id):
                continue
            try:
                case = await open_proactive_case(self.domain, self.operator, incident_id)
            except DomainError as exc:  # it has one already (someone was quicker), or it closed
                log.info("simulation: no proactive case on incident %s: %s", incident_id, exc.message)
                continue
            opened.append(case.id)
            self.cases_opened.append(case.id)
        return opened

    # --- the customers ---------------------------------------------------------------------------

    def _call_delay(self) -> float | None:
        """Seconds until one affected customer calls, or None: this one never does."""
        s, rng = self.settings, self.customer_rng
        if s.call_delay is not None:
            return s.call_delay(rng)
        if rng.random() < s.never_call:
            return None
        return s.call_median * math.exp(s.call_spread * rng.gauss(0.0, 1.0))

    async def _schedule_calls(self, burst: _Burst, clock: datetime) -> None:
        """When each external account the outage's CIs affect will call (or that it never will)."""
        if self.agent is None:
            return
        names = sorted({a.labels["ci"] for a in burst.alerts})
        async with self.domain.reading() as session:
            ci_ids = list(await session.scalars(select(ConfigurationItem.id).where(ConfigurationItem.name.in_(names))))
            items = affected_items(ci_ids).subquery()
            accounts = list(
                await session.scalars(
                    select(Account.number)
                    .where(Account.id.in_(select(items.c.account_id)), Account.is_external.is_(True))
                    .order_by(Account.id)
                )
            )
        limit = self.settings.max_callers
        if limit is not None and len(accounts) > limit:
            accounts = sorted(self.customer_rng.sample(accounts, limit))
        for account in accounts:
            delay = self._call_delay()
            if delay is None:
                self.never_called.append(account)
            else:
                self.callers.append(account)
                self._calls.append(_Call(account, clock + timedelta(seconds=max(0.0, delay))))

    async def _play_customers(self, clock: datetime) -> tuple[list[int], list[int]]:
        """The calls that are due, logged by the agent; each logged call that a known outage
        covers (now, or on a later look) attached to it."""
        if self.agent is None or not self._calls:
            return [], []
        from pcso_tui.domain.casework.cases import open_reactive_case
        from pcso_tui.domain.casework.insight import attach_to_known_outage, case_known_outages

        s, rng, agent = self.settings, self.customer_rng, self.agent
        logged: list[int] = []
        attached: list[int] = []
        keep: list[_Call] = []
        for call in self._calls:
            if call.due_at > clock:
                keep.append(call)
                continue
            try:
                if call.case_id is None or call.logged_at is None:
                    case = await open_reactive_case(
                        self.domain,
                        agent,
                        account_number=call.account,
                        short_description=rng.choice(W.CALLERS_SAY),
                        channel=rng.choice(W.CALL_CHANNELS),
                    )
                    call.case_id, call.logged_at = case.id, clock
                    logged.append(case.id)
                    self.calls_logged.append(case.id)
                elif call.checked_at is not None and (clock - call.checked_at).total_seconds() < s.recheck:
                    keep.append(call)
                    continue
                call.checked_at = clock
                known = await case_known_outages(self.domain, agent, call.case_id)
                if known:
                    await attach_to_known_outage(self.domain, agent, call.case_id, known[0].major_case_id)
                    attached.append(call.case_id)
                    self.calls_attached.append(call.case_id)
                elif (clock - call.logged_at).total_seconds() < s.follow_up:
                    keep.append(call)
            except DomainError as exc:  # the account or its case changed meanwhile: let it go
                log.info("simulation: a call of %s was not taken: %s", call.account, exc.message)
        self._calls = keep
        return logged, attached

    # --- running on its own ---------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Step every ``interval`` seconds until ``stop`` is set; a failed step is logged, not fatal."""
        while not stop.is_set():
            try:
                await self.step()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("simulation step %d failed", self.steps, exc_info=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.settings.interval)

    def start(self) -> asyncio.Task[None]:
        """Run in the background (an asyncio task); ``await stop()`` ends it between steps."""
        if self._task is None or self._task.done():
            self._stop = asyncio.Event()
            self._task = asyncio.create_task(self.run(self._stop), name="outage-simulation")
        return self._task

    async def stop(self) -> None:
        if self._task is None or self._stop is None:
            return
        self._stop.set()
        task, self._task = self._task, None
        with contextlib.suppress(asyncio.CancelledError):
            await task

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()


# --- in simulated time ------------------------------------------------------------------------

# The dashboard's figures on how proactive we were.
PROACTIVITY_KPIS = ("notified_first", "deflected_calls", "alert_to_notice_median", "proactive_cases")


def policy_settings(settings: Settings, *, on_proactive_case: str = "accept") -> Settings:
    """``demo_settings`` with the workflow rule acting on every outage's proactive case."""
    demo = demo_settings(settings)
    return replace(demo, workflow=replace(demo.workflow, on_proactive_case=on_proactive_case))


async def play_in_simulated_time(
    simulation: OutageSimulation, clock: FrozenClock, *, minutes: float, worker: DeliveryWorker | None = None
) -> list[SimulationStep]:
    """Run ``minutes`` of simulated time without waiting: a step, the notices it made due
    delivered (``worker.drain``), then the clock moved on by the step's ``interval``."""
    steps = []
    interval = simulation.settings.interval
    for _ in range(max(1, math.ceil(minutes * 60 / interval))):
        steps.append(await simulation.step())
        if worker is not None:
            await worker.drain()
        clock.advance(seconds=interval)
    return steps


async def proactivity(domain: Domain, actor: Actor, at: datetime) -> dict[str, tuple[str, str]]:
    """The dashboard's proactivity KPIs for the day holding ``at``: key → (title, shown value)."""
    from pcso_tui.domain.reporting.dashboard import kpis
    from pcso_tui.domain.reporting.views import format_kpi_value

    board = await kpis(domain, actor, period="day", at=at, periods_back=0)
    shown = {}
    for key in PROACTIVITY_KPIS:
        kpi = board.kpi(key)
        value = format_kpi_value(kpi.value, kpi.unit)
        if kpi.base is not None:
            value += f" ({kpi.count} of {kpi.base})"
        shown[key] = (kpi.title, value)
    return shown
