"""Correlation against ground truth: does each outage become one incident, with the right root?

A labelled alert stream is generated on a layered service map (datacentres → clusters → hosts →
shared services → applications, as the demo world is built): many overlapping outages in one
datacentre — a host down (its services and some applications alert too), a database down, a
cluster's network down, a single application failing, an unknown host (unmapped) — plus noise
(isolated warnings anywhere), flapping (alerts that resolve and fire again) and a maintenance
window (alerts in it must join nothing). Every alert knows which outage it belongs to.

The stream goes through the real path, in simulated time: one Alertmanager webhook body per
minute (``ingest_payload``: JSON parsing, dedup, correlation, events), into a fresh embedded
database with the default ``[correlation]`` settings. Then it prints:

- pairwise **precision** and **recall** of alert → incident grouping against the truth (an
  alert in no incident is a group of its own; alerts in maintenance are left out);
- **root cause accuracy**: the share of incidents whose root-cause CI is the root of the outage
  most of their alerts belong to;
- throughput of that path, beside the raw sqlite3 upsert of the same alerts (no correlation,
  no events: the least work that stores them; see bench_ingest.py for the ingest-only ratio).

    .venv/bin/python bench/bench_correlation.py [--outages 40] [--minutes 240] [--seed 1]

Targets (issue 18) at the default settings: precision ≥ 0.95, recall ≥ 0.90, root cause ≥ 90%.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select

from bench_ingest import Raw
from pcso_tui.domain.core.clock import FrozenClock
from pcso_tui.domain.core.models import Alert, CIDependency, ConfigurationItem, Incident, MaintenanceWindow
from pcso_tui.domain.core.roles import SYSTEM
from pcso_tui.domain.core.service import Domain
from pcso_tui.domain.core.settings import Settings
from pcso_tui.domain.operations.alert_formats import parse_alerts
from pcso_tui.domain.operations.alerts import ingest_payload
from pcso_tui.plugins import new_plugin_manager

START = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)
ZERO = "0001-01-01T00:00:00Z"
TARGETS = {"precision": 0.95, "recall": 0.90, "root cause": 0.90}


# --- the service map --------------------------------------------------------------------------


@dataclass
class ServiceMap:
    kinds: dict[str, str] = field(default_factory=dict)
    parents: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    children: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

    def add(self, name: str, kind: str, *parents: str) -> str:
        self.kinds[name] = kind
        for parent in parents:
            self.parents[name].append(parent)
            self.children[parent].append(name)
        return name

    def of_kind(self, kind: str, under: str | None = None) -> list[str]:
        names = [n for n, k in self.kinds.items() if k == kind]
        return [n for n in names if under is None or under in n]


def build_map(rng: random.Random, datacentres: int = 2, clusters: int = 6, hosts: int = 8) -> ServiceMap:
    m = ServiceMap()
    for d in range(1, datacentres + 1):
        dc = m.add(f"dc-{d}", "datacentre")
        services: list[str] = []
        for c in range(1, clusters + 1):
            cluster = m.add(f"dc{d}-c{c:02d}", "cluster", dc)
            for h in range(1, hosts + 1):
                host = m.add(f"dc{d}-c{c:02d}-h{h:02d}", "host", cluster)
                for kind, word in (("database", "pg"), ("broker", "mq"), ("cache", "redis")):
                    if rng.random() < 0.4:
                        services.append(m.add(f"{word}-dc{d}-c{c:02d}-h{h:02d}", kind, host))
        for a in range(1, 121):
            uses = rng.sample(services, k=min(len(services), rng.choice((1, 1, 2))))
            m.add(f"app-dc{d}-{a:03d}", "application", *uses)
    return m


# --- the labelled stream ----------------------------------------------------------------------


@dataclass
class Sent:
    """One alert as sent, with the outage it belongs to (None: noise or maintenance)."""

    fingerprint: str
    name: str
    instance: str
    severity: str
    minute: int
    outage: str | None
    resolved: bool = False
    maintenance: bool = False


@dataclass
class Outage:
    key: str
    root: str
    start: int


def stream(m: ServiceMap, rng: random.Random, outages: int, minutes: int) -> tuple[list[Sent], list[Outage], str]:
    sent: list[Sent] = []
    truth: list[Outage] = []
    n = 0

    def alert(name: str, ci: str, severity: str, minute: int, outage: str | None, **kw: Any) -> None:
        nonlocal n
        n += 1
        sent.append(Sent(f"{n:016x}", name, ci, severity, minute, outage, **kw))

    # The busy datacentre: most outages happen there, overlapping.
    hosts = m.of_kind("host", "dc1-")
    databases = [s for s in m.of_kind("database", "dc1") if m.children.get(s)]
    clusters = m.of_kind("cluster", "dc1-")
    apps = m.of_kind("application", "dc1")
    for o in range(outages):
        start = rng.randrange(0, max(1, minutes - 30))
        key = f"outage-{o}"
        kind = rng.choices(("host", "database", "cluster", "application", "unmapped"), (4, 4, 1, 2, 1))[0]
        if kind == "host":
            root = rng.choice(hosts)
            alert("HostDown", root, "critical", start, key)
            for service in m.children.get(root, []):
                alert("ServiceDown", service, "critical", start + rng.randrange(0, 3), key)
                for app in rng.sample(m.children.get(service, []), k=min(2, len(m.children.get(service, [])))):
                    alert("AppErrors", app, "warning", start + rng.randrange(1, 5), key)
        elif kind == "database":
            root = rng.choice(databases)
            alert("PostgresDown", root, "critical", start, key)
            for app in m.children.get(root, [])[:4]:
                alert("AppErrors", app, "warning", start + rng.randrange(1, 5), key)
        elif kind == "cluster":
            root = rng.choice(clusters)
            for host in rng.sample(m.children[root], k=4):
                alert("HostUnreachable", host, "critical", start + rng.randrange(0, 2), key)
        elif kind == "application":
            root = rng.choice(apps)
            alert("HttpErrors", root, "critical", start, key)
        else:
            root = f"unknown-{o}.example"
            alert("NodeDown", root, "critical", start, key)
            alert("NodeExporterDown", root, "major", start + 1, key)
        truth.append(Outage(key, root, start))
        # The outage ends after 10 to 40 minutes: its alerts resolve. Before that, a fifth of
        # them flap (resolve a few minutes later and fire again).
        end = start + rng.randrange(10, 41)
        for s in [s for s in sent if s.outage == key]:
            if rng.random() < 0.2 and s.minute + 6 < end:
                sent.append(Sent(s.fingerprint, s.name, s.instance, s.severity, s.minute + 3, key, resolved=True))
                sent.append(Sent(s.fingerprint, s.name, s.instance, s.severity, s.minute + 5, key))
            sent.append(Sent(s.fingerprint, s.name, s.instance, s.severity, max(end, s.minute + 6), key, resolved=True))
    # Noise: isolated warnings on hosts, services and applications, each its own group.
    everything = [n for n, k in m.kinds.items() if k not in ("datacentre", "cluster")]
    for _ in range(outages * 3):
        alert("DiskSpaceLow", rng.choice(everything), "warning", rng.randrange(0, minutes), None)
    # Maintenance: a cluster of the other datacentre is worked on; its alerts must join nothing.
    worked_on = rng.choice(m.of_kind("cluster", "dc2-"))
    at = rng.randrange(0, max(1, minutes - 60))
    for host in m.children[worked_on][:5]:
        alert("HostDown", host, "critical", at + rng.randrange(0, 10), None, maintenance=True)
    sent.sort(key=lambda s: s.minute)
    return sent, truth, worked_on


def body(alerts: list[Sent], minute: int) -> bytes:
    at = (START + timedelta(minutes=minute)).isoformat().replace("+00:00", "Z")
    return json.dumps(
        {
            "version": "4",
            "status": "firing",
            "receiver": "pcso",
            "groupKey": f"minute-{minute}",
            "alerts": [
                {
                    "status": "resolved" if a.resolved else "firing",
                    "labels": {"alertname": a.name, "instance": a.instance, "severity": a.severity},
                    "annotations": {"summary": f"{a.name} on {a.instance}"},
                    "startsAt": at,
                    "endsAt": at if a.resolved else ZERO,
                    "fingerprint": a.fingerprint,
                }
                for a in alerts
            ],
        }
    ).encode()


# --- scoring ----------------------------------------------------------------------------------


def pairs(counts: Counter[Any]) -> int:
    return sum(n * (n - 1) // 2 for n in counts.values())


def score(truth_of: dict[str, str], predicted_of: dict[str, str]) -> tuple[float, float]:
    """Pairwise precision and recall of the predicted grouping against the true one."""
    both = Counter((predicted_of[fp], truth_of[fp]) for fp in truth_of)
    together = pairs(both)
    predicted, true = pairs(Counter(predicted_of[fp] for fp in truth_of)), pairs(Counter(truth_of.values()))
    return (together / predicted if predicted else 1.0), (together / true if true else 1.0)


# --- the run ----------------------------------------------------------------------------------


def settings(args: argparse.Namespace) -> Settings:
    """The default settings, or ``--set key=value`` overrides of ``[correlation]``."""
    overrides: dict[str, Any] = {}
    for item in args.set:
        key, _, value = item.partition("=")
        overrides[key] = json.loads(value)
    if not overrides:
        return Settings()
    from dataclasses import replace

    base = Settings()
    return replace(base, correlation=replace(base.correlation, **overrides))


async def run(args: argparse.Namespace, folder: Path) -> int:
    rng = random.Random(args.seed)
    m = build_map(rng)
    sent, truth, worked_on = stream(m, rng, args.outages, args.minutes)
    by_minute: dict[int, list[Sent]] = defaultdict(list)
    for s in sent:
        by_minute[s.minute].append(s)
    bodies = [(minute, body(alerts, minute)) for minute, alerts in sorted(by_minute.items())]

    clock = FrozenClock(START)
    hooks = new_plugin_manager(load_entry_points=False).hook
    domain = await Domain.open(folder / "pcso.db", clock=clock, hooks=hooks, settings=settings(args))
    raw_path = folder / "raw.db"
    try:
        async with domain.transaction(SYSTEM) as tx:
            names = sorted(m.kinds)
            await tx.session.execute(insert(ConfigurationItem), [{"name": n, "kind": m.kinds[n]} for n in names])
            ids = dict((await tx.session.execute(select(ConfigurationItem.name, ConfigurationItem.id))).all())
            deps = [{"ci_id": ids[c], "depends_on_id": ids[p]} for c, ps in m.parents.items() for p in ps]
            await tx.session.execute(insert(CIDependency), deps)
            await tx.session.execute(
                insert(MaintenanceWindow),
                [
                    {
                        "ci_id": ids[host],
                        "starts_at": START,
                        "ends_at": START + timedelta(minutes=args.minutes + 60),
                        "reason": "hardware swap",
                        "created_at": START,
                    }
                    for host in m.children[worked_on]
                ],
            )
        # The baseline starts from the same schema and map (the database and its write-ahead log).
        for suffix in ("", "-wal"):
            if (folder / f"pcso.db{suffix}").exists():
                shutil.copy(folder / f"pcso.db{suffix}", folder / f"raw.db{suffix}")

        began = time.perf_counter()
        for minute, payload in bodies:
            clock.now = START + timedelta(minutes=minute, seconds=30)
            await ingest_payload(domain, SYSTEM, payload)
        elapsed = time.perf_counter() - began

        raw = Raw(raw_path)
        extensions = domain.extensions
        parsed = [parse_alerts(extensions, payload) for _, payload in bodies]
        raw_began = time.perf_counter()
        for batch in parsed:
            raw.upsert(batch)
        raw_elapsed = time.perf_counter() - raw_began
        raw.close()

        async with domain.reading() as session:
            rows = (await session.execute(select(Alert.fingerprint, Alert.incident_id, Alert.maintenance))).all()
            roots = dict(
                (
                    await session.execute(
                        select(Incident.id, ConfigurationItem.name).outerjoin(
                            ConfigurationItem, ConfigurationItem.id == Incident.root_ci_id
                        )
                    )
                ).all()
            )
    finally:
        await domain.close()

    outage_of = {s.fingerprint: s.outage for s in sent}
    maintained = {s.fingerprint for s in sent if s.maintenance}
    truth_of: dict[str, str] = {}
    predicted_of: dict[str, str] = {}
    for fp, incident_id, _maintenance in rows:
        if fp in maintained:
            continue
        truth_of[fp] = outage_of[fp] or f"noise-{fp}"
        predicted_of[fp] = f"incident-{incident_id}" if incident_id is not None else f"loose-{fp}"
    precision, recall = score(truth_of, predicted_of)
    leaked = sum(1 for fp, incident_id, _ in rows if fp in maintained and incident_id is not None)

    root_of = {o.key: o.root for o in truth}
    members: dict[int, Counter[str]] = defaultdict(Counter)
    for fp, incident_id, _ in rows:
        if incident_id is not None and fp in truth_of:
            members[incident_id][truth_of[fp]] += 1
    judged = right = 0
    for incident_id, outages in members.items():
        main, _ = outages.most_common(1)[0]
        if main in root_of:
            judged += 1
            # An unmapped outage has no CI: its incident is right to name no root cause.
            expected = root_of[main] if root_of[main] in m.kinds else None
            right += roots.get(incident_id) == expected
    accuracy = right / judged if judged else 1.0

    if args.verbose:
        for incident_id, outages in sorted(members.items()):
            print(f"  INC{incident_id:07d} root {roots.get(incident_id)}: {dict(outages.most_common(6))}")
        for o in truth:
            print(f"  {o.key} root {o.root} at minute {o.start}")
    total = len(sent)
    print(
        f"{len(truth)} outages, {total:,} alerts ({len(truth_of):,} scored, {len(maintained)} in maintenance) "
        f"over {args.minutes} minutes, {len(bodies)} webhook bodies; {len(members)} incidents"
    )
    measured = {"precision": precision, "recall": recall, "root cause": accuracy}
    for name, value in measured.items():
        verdict = "met" if value >= TARGETS[name] else "MISSED"
        print(f"  {name:12} {value:6.3f}   target ≥ {TARGETS[name]:.2f}: {verdict}")
    print(f"  alerts in maintenance that joined an incident: {leaked} (must be 0)")
    print(
        f"  ingest with correlation (JSON bodies, the receiver's path): {total / elapsed:8,.0f} alerts/s"
        f"   raw sqlite3 upsert of the same alerts: {total / raw_elapsed:8,.0f} alerts/s"
        f"   ratio {elapsed / raw_elapsed:5.1f}×"
    )
    return 0 if leaked == 0 and all(measured[k] >= TARGETS[k] for k in TARGETS) else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--outages", type=int, default=40)
    parser.add_argument("--minutes", type=int, default=240)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=JSON", help="A [correlation] setting.")
    parser.add_argument("-v", "--verbose", action="store_true", help="List each incident's outages and each outage.")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="pcso-bench-correlation-"))
    try:
        raise SystemExit(asyncio.run(run(args, folder)))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
