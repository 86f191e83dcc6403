"""The synthetic world as rows: a deterministic generator, no database in sight.

``WorldGenerator(shape, seed, now, staff).run()`` yields ``Rows`` chunks (one table, a list of
tuples in ``COLUMNS`` order, explicit ids) and ``Progress`` markers. The same seed and clock
give the same rows, byte for byte: every random choice comes from ``random.Random`` streams
seeded from the seed and the phase name, and nothing iterates a set or dict of strings.

Chunks come out in foreign-key order (a row never refers to one not yet yielded), so a writer
can insert them as they arrive, inside one transaction, with memory bounded by the chunk size
plus a few compact arrays (accounts and items per CI, a few bytes per row).

The world:

- accounts (a few internal), contacts (one primary each), products in families, sold
  products, install base items with characteristics and component children;
- a layered service map: datacentre → cluster → host → shared service (multi-tenant
  databases, queues, gateways …, three of them global) → application instance, each
  application used by a handful of accounts;
- six months of history up to ``now``: closed alerts, resolved incidents with their journal,
  proactive cases with their impact, major cases (proposed, approved or rejected) with one
  child per affected external account, statements copied to every child, notices, reactive
  cases (deflected when they came in after the major case), outages (unplanned, degradation,
  planned — one in the future), workaround articles, and the event log of all of it.

Event kinds written for the history (incident ones as ``incidents.py`` writes them):
``alert.opened alert.closed incident.opened incident.state_changed incident.eta_set
incident.progress_posted incident.resolved incident.closed case.opened case.state_changed
case.attached case.resolved case.closed case.canceled major_case.proposed
major_case.approved major_case.rejected statement.posted notice.sent notice.dead
notice.skipped article.created article.attached outage.created outage.ended
maintenance.scheduled``. State changes carry ``from``/``to`` in their payload.
"""

from __future__ import annotations

import heapq
from array import array
from bisect import bisect
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from random import Random
from typing import Any

from pcso_tui.domain.core.event_kinds import (
    AlertClosed,
    AlertOpened,
    ArticleAttached,
    ArticleCreated,
    CaseAttached,
    CaseOpened,
    CaseStateChanged,
    IncidentClosed,
    IncidentEtaSet,
    IncidentOpened,
    IncidentProgressPosted,
    IncidentResolved,
    IncidentStateChanged,
    MaintenanceAdded,
    MajorCaseApproved,
    MajorCaseClosed,
    MajorCaseProposed,
    MajorCaseRejected,
    MajorCaseResolved,
    NoticesDelivered,
    OutageCreated,
    OutageEnded,
    Payload,
    StatementPosted,
)
from pcso_tui.domain.core.states import priority_for
from pcso_tui.domain.core.views import case_number, incident_number, outage_number
from pcso_tui.world import world_words as W

CHUNK = 20_000
HISTORY_DAYS = 182

# What each contact of an account is for, in order (the first is also the primary contact).
CONTACT_ROLES = ("technical", "billing", "technical")

COLUMNS: dict[str, tuple[str, ...]] = {
    "account": ("id", "number", "name", "tier", "region", "industry", "is_external", "created_at", "version"),
    "contact": (
        "id", "number", "account_id", "name", "email", "phone", "preferred_channel", "webhook_url",
        "is_primary", "opted_out", "version", "role",
    ),
    "product": ("id", "number", "name", "family", "version", "public_name", "customer_facing"),
    "sold_product": ("id", "number", "account_id", "product_id", "quantity", "starts_on", "ends_on", "version"),
    "ci": (
        "id", "name", "kind", "description", "environment", "location", "multi_tenant", "version", "public_name",
        "customer_facing",
    ),
    "ci_dependency": ("ci_id", "depends_on_id"),
    "maintenance_window": ("id", "ci_id", "starts_at", "ends_at", "reason", "created_by_id", "created_at"),
    "install_base_item": (
        "id", "number", "name", "account_id", "product_id", "sold_product_id", "parent_id", "root_id", "ci_id",
        "service_ci_id", "status", "installed_on", "version",
    ),
    "characteristic": ("item_id", "name", "value"),
    "incident": (
        "id", "title", "state", "severity", "root_ci_id", "opened_at", "opened_by_id", "opened_by_rule", "eta",
        "resolution_code", "resolution_notes", "resolved_at", "closed_at", "updated_at", "version",
    ),
    "incident_ci": ("incident_id", "ci_id"),
    "alert": (
        "id", "fingerprint", "source", "name", "severity", "state", "acknowledged", "acknowledged_by_id",
        "maintenance", "summary", "description", "labels", "annotations", "ci_key", "ci_id", "generator_url",
        "starts_at", "ends_at", "first_seen_at", "last_seen_at", "last_change_at", "receive_count", "flap_score",
        "incident_id", "version",
    ),
    "support_case": (
        "id", "kind", "state", "major_case_state", "priority", "short_description", "description", "channel",
        "account_id", "contact_id", "product_id", "ci_id", "parent_id", "incident_id", "alert_id", "opened_at",
        "opened_by_id", "updated_at", "proposed_at", "proposed_by_id", "propose_reason", "business_impact",
        "decided_at", "decided_by_id", "reject_reason", "deflected", "resolution_code", "resolution_notes",
        "resolved_at", "closed_at", "version", "public_title", "public_summary",
    ),
    "case_account": ("case_id", "account_id", "source"),
    "case_item": ("case_id", "item_id"),
    "statement": ("id", "case_id", "body", "author_id", "created_at"),
    "journal_entry": (
        "id", "case_id", "incident_id", "kind", "visibility", "body", "author_id", "author_name", "created_at",
        "statement_id", "source_entry_id",
    ),
    "article": (
        "id",
        "number",
        "title",
        "body",
        "kind",
        "customer_visible",
        "product_id",
        "created_at",
        "updated_at",
        "version",
    ),
    "case_article": ("case_id", "article_id"),
    "outage": (
        "id", "type", "title", "details", "ci_id", "product_id", "case_id", "incident_id", "begins_at", "ends_at",
        "created_by_id", "created_at", "version",
    ),
    "notice": (
        "id", "idempotency_key", "kind", "contact_id", "account_id", "case_id", "statement_id", "channel", "state",
        "attempts", "next_attempt_at", "last_error", "created_at", "sent_at", "version", "outage_id", "rendered",
    ),
    "event": (
        "at", "actor_id", "actor_name", "impersonator", "kind", "subject_type", "subject_id", "payload",
        "key_fingerprint",
    ),
}  # fmt: skip

# Tables in an order where every foreign key points backwards; chunks are flushed in it.
TABLE_ORDER = tuple(COLUMNS)

# Which phase a table's rows belong to (for progress and the benchmark).
PHASES = ("accounts", "service map", "install base", "history")


@dataclass(frozen=True, slots=True)
class Shape:
    """How big a world is. CIs = datacentres + clusters + hosts + shared services + applications."""

    accounts: int
    items: int
    cis: int
    datacentres: int
    clusters: int
    hosts: int
    shared: int
    internal: int
    incidents: int
    reactive_cases: int
    noise_alerts: int
    articles: int


# Applications are what is left of ``cis``; history covers HISTORY_DAYS up to now.
SIZES: dict[str, Shape] = {
    "tiny": Shape(
        accounts=20,
        items=200,
        cis=60,
        datacentres=1,
        clusters=2,
        hosts=6,
        shared=6,
        internal=2,
        incidents=10,
        reactive_cases=30,
        noise_alerts=12,
        articles=1,
    ),
    "small": Shape(
        accounts=2_000,
        items=20_000,
        cis=1_000,
        datacentres=2,
        clusters=6,
        hosts=40,
        shared=60,
        internal=4,
        incidents=60,
        reactive_cases=1_500,
        noise_alerts=300,
        articles=2,
    ),
    "medium": Shape(
        accounts=20_000,
        items=200_000,
        cis=10_000,
        datacentres=2,
        clusters=20,
        hosts=300,
        shared=500,
        internal=5,
        incidents=120,
        reactive_cases=6_000,
        noise_alerts=1_500,
        articles=3,
    ),
    "large": Shape(
        accounts=100_000,
        items=1_000_000,
        cis=50_000,
        datacentres=3,
        clusters=48,
        hosts=1_000,
        shared=2_000,
        internal=5,
        incidents=200,
        reactive_cases=20_000,
        noise_alerts=4_000,
        articles=4,
    ),
}


def shape_for_accounts(accounts: int) -> Shape:
    """A world of ``accounts`` accounts with the presets' proportions (``pcso demo --accounts``).

    Ten install base items per account, a CI for every two accounts (at least 60), and history
    scaled alike; a preset's own account count gives that preset.
    """
    if accounts < 10:
        raise ValueError(f"a world needs at least 10 accounts, not {accounts}")
    for shape in SIZES.values():
        if shape.accounts == accounts:
            return shape
    clusters = max(2, min(48, accounts // 330))
    datacentres = min(clusters, 1 if accounts < 1_000 else 2 if accounts < 50_000 else 3)
    hosts = max(6, min(1_000, accounts // 50))
    shared = max(6, min(2_000, accounts // 33))
    cis = max(60, accounts // 2, datacentres + clusters + hosts + shared + 20)
    return Shape(
        accounts=accounts,
        items=accounts * 10,
        cis=cis,
        datacentres=datacentres,
        clusters=clusters,
        hosts=hosts,
        shared=shared,
        internal=min(5, max(2, accounts // 500)),
        incidents=max(10, min(200, accounts // 33)),
        reactive_cases=max(30, min(20_000, accounts * 3 // 4)),
        noise_alerts=max(12, min(4_000, accounts // 7)),
        articles=1 if accounts < 1_000 else 2,
    )


@dataclass(frozen=True, slots=True)
class Staff:
    """The user ids history is attributed to (the demo personas)."""

    olivia: int  # operator
    adam: int  # agent
    maria: int  # manager


@dataclass(slots=True)
class Rows:
    phase: str
    table: str
    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]


@dataclass(frozen=True, slots=True)
class Progress:
    phase: str
    done: int
    total: int


SYSTEM_ACTOR = (None, "system")
CHANNELS = ("email", "webhook", "sms", "portal")
CHANNEL_WEIGHTS = (80, 8, 6, 6)
KIND_LAYER = {
    "datacentre": 0,
    "cluster": 1,
    "host": 2,
    "database": 3,
    "queue": 3,
    "cache": 3,
    "gateway": 3,
    "storage": 3,
    "search": 3,
    "application": 4,
}
# How long an outage on each layer lasts, in minutes (median).
DURATION = {0: 240, 1: 150, 2: 90, 3: 70, 4: 45}


def _cum(weights: tuple[int, ...]) -> list[float]:
    total, out = 0.0, []
    for w in weights:
        total += w
        out.append(total)
    return out


def _slug(text: str) -> str:
    out = text.lower().replace(" & ", "-and-").replace(" ", "-")
    return "".join(c for c in out if c.isalnum() or c == "-")


@dataclass
class _Buffers:
    """Rows waiting to be yielded, per table. Hot loops append to ``rows[table]`` directly."""

    phase: str = "accounts"
    rows: dict[str, list[tuple[Any, ...]]] = field(default_factory=lambda: {t: [] for t in TABLE_ORDER})
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TABLE_ORDER, 0))

    def add(self, table: str, row: tuple[Any, ...]) -> None:
        self.rows[table].append(row)

    @property
    def pending(self) -> int:
        return sum(len(rows) for rows in self.rows.values())

    def drain(self, *, force: bool = False) -> Iterator[Rows]:
        if not force and self.pending < CHUNK:
            return
        for table in TABLE_ORDER:
            rows = self.rows[table]
            if not rows:
                continue
            self.counts[table] += len(rows)
            for start in range(0, len(rows), CHUNK):
                yield Rows(self.phase, table, COLUMNS[table], rows[start : start + CHUNK])
            rows.clear()


@dataclass(slots=True)
class _Path:
    """A case's or incident's states over time, cut at ``now``."""

    state: str
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    updated_at: datetime | None = None


# One state step of a walk: when, the state it enters, who, extra fields for its event.
_Step = tuple[datetime, str, tuple[int | None, str], dict[str, Any]]
# What a walk writes for a step: (when, who, subject id, previous state, state, extra) → event.
_Change = Callable[[datetime, tuple[int | None, str], int, str, str, dict[str, Any]], Payload]


class WorldGenerator:
    def __init__(self, shape: Shape, seed: int, now: datetime, staff: Staff) -> None:
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        self.shape = shape
        self.seed = seed
        self.now = now.astimezone(UTC).replace(second=0, microsecond=0)
        self.staff = staff
        self.out = _Buffers()
        self._ids: dict[str, int] = dict.fromkeys(TABLE_ORDER, 0)
        self._events: list[tuple[datetime, int, tuple[Any, ...]]] = []
        self._event_seq = 0
        self._delivered: dict[tuple[str, str], NoticesDelivered] = {}
        self.carl_account = 0
        self.carl_account_name = ""
        self.carl_email = ""

    # --- plumbing ------------------------------------------------------------------------

    def _rng(self, phase: str) -> Random:
        return Random(f"pcso-world/{self.seed}/{phase}")

    def _id(self, table: str) -> int:
        self._ids[table] += 1
        return self._ids[table]

    def _event(
        self,
        at: datetime,
        actor: tuple[int | None, str],
        subject_id: int | None,
        payload: Payload,
        subject_type: str | None = None,
    ) -> None:
        """One event of the catalogue (``event_kinds``), stored as the product stores it."""
        self._event_seq += 1
        kind, subject = payload.kind, subject_type or payload.subject_type
        row = (at, actor[0], actor[1], None, kind, subject, subject_id, payload.stored(), None)
        heapq.heappush(self._events, (at, self._event_seq, row))

    def _release_events(self, until: datetime | None) -> None:
        """Move events up to ``until`` (all, if None) into the output, oldest first."""
        while self._events and (until is None or self._events[0][0] <= until):
            self.out.add("event", heapq.heappop(self._events)[2])

    @property
    def counts(self) -> dict[str, int]:
        return {t: n for t, n in self.out.counts.items() if n}

    @property
    def olivia(self) -> tuple[int, str]:
        return (self.staff.olivia, "olivia")

    @property
    def adam(self) -> tuple[int, str]:
        return (self.staff.adam, "adam")

    @property
    def maria(self) -> tuple[int, str]:
        return (self.staff.maria, "maria")

    def run(self) -> Iterator[Rows | Progress]:
        """Every row of the world, in foreign-key order, with progress markers between chunks."""
        yield from self._accounts()
        yield from self._service_map()
        yield from self._install_base()
        yield from self._history()

    # --- accounts and contacts ------------------------------------------------------------

    def _company_name(self, rng: Random, industry: int, region: int, used: set[str]) -> tuple[str, str]:
        industry_name, words = W.INDUSTRIES[industry]
        core = ""
        for attempt in range(12):
            style = rng.random()
            if style < 0.6:
                base = rng.choice(W.NAME_PREFIXES) + rng.choice(W.NAME_ROOTS)
            elif style < 0.85:
                first, second = rng.sample(W.SURNAMES, 2)
                base = f"{first} & {second}"
            else:
                base = rng.choice(W.SURNAMES)
            core = f"{base} {rng.choice(words)}"
            if attempt == 11:
                core = f"{core} {len(used) + 1}"
            if core not in used:
                break
        used.add(core)
        if industry_name in W.NO_LEGAL_FORM:
            return core, _slug(core)
        return f"{core} {rng.choice(W.REGIONS[region][1])}", _slug(core)

    def _accounts(self) -> Iterator[Rows | Progress]:
        shape, rng, out = self.shape, self._rng("accounts"), self.out
        out.phase = "accounts"
        n = shape.accounts
        internal = set(rng.sample(range(1, n + 1), shape.internal))
        self.carl_account = next(a for a in range(1, n + 1) if a not in internal)
        self.acc_external = bytearray(n + 1)
        self.acc_primary = array("l", [0]) * (n + 1)
        self.acc_channel = bytearray(n + 1)
        self.acc_opted_out = bytearray(n + 1)
        self.acc_tier = bytearray(n + 1)  # index into TIERS; 3 = internal
        self.acc_weight = array("d", [0.0]) * (n + 1)
        used: set[str] = set()
        region_cum, tier_cum, channel_cum = _cum(W.REGION_WEIGHTS), _cum(W.TIER_WEIGHTS), _cum(CHANNEL_WEIGHTS)
        internal_names = iter(W.INTERNAL_ACCOUNTS)
        tier_weight = (6.0, 2.5, 1.0, 1.5)
        contacts_by_tier = ((3, 5), (2, 3), (1, 2), (1, 2))
        for a in range(1, n + 1):
            region = rng.choices(range(4), cum_weights=region_cum)[0]
            if a in internal:
                tier, industry_name = 3, "Internal"
                name = next(internal_names, f"Internal — Department {a}")
                slug = _slug(name.replace("Internal — ", "internal "))
            else:
                tier = 0 if a == self.carl_account else rng.choices(range(3), cum_weights=tier_cum)[0]
                industry = rng.randrange(len(W.INDUSTRIES))
                industry_name = W.INDUSTRIES[industry][0]
                name, slug = self._company_name(rng, industry, region, used)
                self.acc_external[a] = 1
            if a == self.carl_account:
                self.carl_account_name = name
            self.acc_tier[a] = tier
            self.acc_weight[a] = tier_weight[tier] * rng.uniform(0.5, 1.5)
            created = self.now - timedelta(days=rng.randint(200, 2400), minutes=rng.randrange(1440))
            out.add(
                "account",
                (
                    a,
                    f"ACC-{a:06d}",
                    name,
                    W.TIERS[tier] if tier < 3 else "internal",
                    W.REGIONS[region][0],
                    industry_name,
                    a not in internal,
                    created,
                    1,
                ),
            )
            domain = f"{slug}.example"
            low, high = contacts_by_tier[tier]
            names_here: set[str] = set()
            for k in range(rng.randint(low, high)):
                cid = self._id("contact")
                if a == self.carl_account and k == 0:
                    first, last = "Carl", "Jensen"
                else:
                    first, last = rng.choice(W.FIRST_NAMES), rng.choice(W.SURNAMES)
                local = f"{first}.{last}".lower()
                if local in names_here:
                    local = f"{local}{k + 1}"
                names_here.add(local)
                if a == self.carl_account and k == 0:
                    self.carl_email = f"{local}@{domain}"
                channel = (
                    0 if (a == self.carl_account and k == 0) else rng.choices(range(4), cum_weights=channel_cum)[0]
                )
                # A few opted out of notices (rarely the primary contact; never Carl).
                opted_out = rng.random() < (0.04 if k else 0.01) and not (a == self.carl_account and k == 0)
                digits = rng.randrange(1000)
                phone = W.REGIONS[region][2].format(n=digits, n2=digits % 100)
                if k == 0:
                    self.acc_primary[a] = cid
                    self.acc_channel[a] = channel
                    self.acc_opted_out[a] = opted_out
                out.add(
                    "contact",
                    (
                        cid,
                        f"CON-{cid:07d}",
                        a,
                        f"{first} {last}",
                        f"{local}@{domain}",
                        phone,
                        CHANNELS[channel],
                        f"https://hooks.{domain}/pcso" if channel == 1 else None,
                        k == 0,
                        opted_out,
                        1,
                        CONTACT_ROLES[k % len(CONTACT_ROLES)],
                    ),
                )
            if a % 2000 == 0 or a == n:
                yield from out.drain()
                yield Progress("accounts", a, n)
        yield from out.drain(force=True)

    # --- products and the service map -----------------------------------------------------

    def _service_map(self) -> Iterator[Rows | Progress]:
        shape, rng, out = self.shape, self._rng("service map"), self.out
        out.phase = "service map"
        # Products: per family its main products and one component product.
        self.family_main: list[list[int]] = []
        self.family_component: list[int] = []
        self.product_name: dict[int, str] = {}
        for family, mains, component, _versions in W.PRODUCT_FAMILIES:
            ids = []
            for name in (*mains, component):
                pid = self._id("product")
                # Product names are what customers bought: public as they are.
                out.add("product", (pid, f"PRD-{pid:03d}", name, family, 1, None, True))
                self.product_name[pid] = name
                ids.append(pid)
            self.family_main.append(ids[:-1])
            self.family_component.append(ids[-1])

        total = shape.cis
        d, c, h, s = shape.datacentres, shape.clusters, shape.hosts, shape.shared
        apps = total - d - c - h - s
        if apps < len(W.PRODUCT_FAMILIES):
            raise ValueError("a world needs at least one application per product family")
        self.ci_kind: list[str] = [""]
        self.ci_name: list[str] = [""]
        self.ci_dc = bytearray(total + 1)
        self.dependents: list[list[int]] = [[] for _ in range(total + 1)]

        def ci(
            name: str, kind: str, description: str, dc: int, *, env: str = "production", shared: bool = False
        ) -> int:
            cid = self._id("ci")
            self.ci_kind.append(kind)
            self.ci_name.append(name)
            self.ci_dc[cid] = dc
            # The demo's catalogue: application instances (ledger-fra1-00153) are internal, so
            # customers hear of the product they bought; other CIs go by their kind.
            facing = False if kind == "application" else None
            out.add("ci", (cid, name, kind, description, env, W.DATACENTRES[dc][1], shared, 1, None, facing))
            return cid

        def depends(child: int, parent: int) -> None:
            out.add("ci_dependency", (child, parent))
            self.dependents[parent].append(child)

        dcs = [
            ci(f"dc-{code}", "datacentre", f"Datacentre {city}", i)
            for i, (code, city, _r) in enumerate(W.DATACENTRES[:d])
        ]
        self.datacentres = dcs
        clusters = []
        for j in range(c):
            dc = j % d
            cid = ci(f"{W.DATACENTRES[dc][0]}-k8s-{j + 1:02d}", "cluster", "Kubernetes cluster", dc)
            depends(cid, dcs[dc])
            clusters.append(cid)
        self.clusters = clusters
        hosts_by_cluster: list[list[int]] = [[] for _ in range(c)]
        for k in range(h):
            cl = k % c
            dc = cl % d
            cid = ci(f"{W.DATACENTRES[dc][0]}-c{cl + 1:02d}-h{k + 1:04d}", "host", "Compute node", dc)
            depends(cid, clusters[cl])
            hosts_by_cluster[cl].append(cid)
        self.hosts = [x for hs in hosts_by_cluster for x in hs]
        yield Progress("service map", self._ids["ci"], total)

        globals_: list[int] = []
        for kind, name, description in W.GLOBAL_SERVICES[: max(1, min(len(W.GLOBAL_SERVICES), s // 20))]:
            cid = ci(name, kind, description, 0, shared=True)
            depends(cid, rng.choice(hosts_by_cluster[0]))
            globals_.append(cid)
        shared_by_cluster: list[list[int]] = [[] for _ in range(c)]
        for k in range(s - len(globals_)):
            cl = k % c
            dc = cl % d
            kind, prefix, description = W.SHARED_SERVICES[(k // c) % len(W.SHARED_SERVICES)]
            cid = ci(f"{prefix}-{W.DATACENTRES[dc][0]}-c{cl + 1:02d}-{k // c + 1}", kind, description, dc, shared=True)
            depends(cid, rng.choice(hosts_by_cluster[cl]))
            shared_by_cluster[cl].append(cid)
        self.local_shared = [x for ss in shared_by_cluster for x in ss]
        self.shared = globals_ + self.local_shared

        families = len(W.PRODUCT_FAMILIES)
        self.first_app = self._ids["ci"] + 1
        self.family_apps: list[list[int]] = [[] for _ in range(families)]
        self.app_family = bytearray(apps)
        self.app_service = array("l", [0]) * apps
        for i in range(apps):
            family_no = i % families
            cl = rng.randrange(c)
            dc = cl % d
            env = "staging" if rng.random() < 0.04 else "production"
            fam = W.PRODUCT_FAMILIES[family_no][0]
            cid = ci(
                f"{fam.lower()}-{W.DATACENTRES[dc][0]}-{i + 1:05d}",
                "application",
                f"{fam} application instance",
                dc,
                env=env,
            )
            depends(cid, rng.choice(hosts_by_cluster[cl]))
            uses: list[int] = []
            local = shared_by_cluster[cl]
            if local and rng.random() < 0.9:
                uses.extend(rng.sample(local, min(len(local), 1 if rng.random() < 0.7 else 2)))
            if rng.random() < 0.5:
                uses.append(rng.choice(globals_))
            for dep in uses:
                depends(cid, dep)
            self.app_service[i] = uses[0] if uses else 0
            self.app_family[i] = family_no
            self.family_apps[family_no].append(cid)
            if (i + 1) % 5000 == 0:
                yield from out.drain()
                yield Progress("service map", self._ids["ci"], total)
        yield from out.drain(force=True)
        yield Progress("service map", total, total)

    # --- install base ----------------------------------------------------------------------

    def _install_base(self) -> Iterator[Rows | Progress]:
        shape, rng, out = self.shape, self._rng("install base"), self.out
        out.phase = "install base"
        n_accounts, n_items = shape.accounts, shape.items
        if n_items < n_accounts:
            raise ValueError("a world needs at least one install base item per account")
        apps = shape.cis - self.first_app + 1
        self.app_items = [array("l") for _ in range(apps)]
        self.app_accounts: list[list[int]] = [[] for _ in range(apps)]
        weight_total = sum(self.acc_weight)
        spare = n_items - n_accounts
        cum_weight, given = 0.0, 0
        today = self.now.date()
        sp_max = (5, 3, 2, 2)
        deploy_cum, usage_cum = _cum(tuple(w for _, w in W.DEPLOYMENTS)), _cum(tuple(w for _, w in W.USAGE))
        deployments = tuple(d for d, _ in W.DEPLOYMENTS)
        usages = tuple(u for u, _ in W.USAGE)
        edition_by_tier = ((2, 2, 1), (1, 1, 2), (0, 0, 1), (1, 1, 1))
        regions = tuple(r for _c, _city, r in W.DATACENTRES)
        first_app = self.first_app
        families = len(W.PRODUCT_FAMILIES)
        version_cum = [_cum(tuple(range(1, len(f[3]) + 1))) for f in W.PRODUCT_FAMILIES]
        # The hot loop: local names, direct appends, one random() per decision.
        rand = rng.random
        items, chars, sold = out.rows["install_base_item"], out.rows["characteristic"], out.rows["sold_product"]
        app_items, app_accounts, app_service, ci_dc = self.app_items, self.app_accounts, self.app_service, self.ci_dc
        item_id = 0
        for a in range(1, n_accounts + 1):
            cum_weight += self.acc_weight[a]
            target = round(cum_weight * spare / weight_total)
            count = 1 + target - given
            given = target
            tier = self.acc_tier[a]
            k = min(count, rng.randint(1, sp_max[tier]), families)
            fams = rng.sample(range(families), k)
            cuts = sorted(rng.sample(range(1, count), k - 1)) if k > 1 else []
            bounds = [0, *cuts, count]
            for f, lo, hi in zip(fams, bounds, bounds[1:], strict=False):
                quantity = hi - lo
                mains = self.family_main[f]
                product = mains[int(rand() * len(mains))]
                sp = self._id("sold_product")
                starts = today - timedelta(days=30 + int(rand() * 1470))
                ends = starts + timedelta(days=365 * (1 + int(rand() * 4)))
                installed = min(today, starts + timedelta(days=int(rand() * 60)))
                sold.append((sp, f"SP-{sp:07d}", a, product, quantity, starts, ends, 1))
                versions = W.PRODUCT_FAMILIES[f][3]
                # Newer versions are more common.
                cum = version_cum[f]
                version = versions[bisect(cum, rand() * cum[-1])]
                deployment = deployments[bisect(deploy_cum, rand() * deploy_cum[-1])]
                edition = W.EDITIONS[edition_by_tier[tier][int(rand() * 3)]]
                candidates = self.family_apps[f]
                # Larger purchases run on a few application instances (up to 4), round robin.
                on = [candidates[int(rand() * len(candidates))] for _ in range(min(4, 1 + quantity // 4))]
                roots: list[tuple[int, int]] = []
                component = self.family_component[f]
                component_name = self.product_name[component]
                name = self.product_name[product]
                for j in range(quantity):
                    item_id += 1
                    if roots and rand() < 0.1:
                        parent, app = roots[int(rand() * len(roots))]
                        items.append(
                            (item_id, f"IB-{item_id:08d}", component_name, a, component, sp, parent, parent, app,
                             app_service[app - first_app] or None, "in_use", installed, 1)
                        )  # fmt: skip
                        chars.extend(
                            ((item_id, "version", version), (item_id, "region", regions[ci_dc[app]]),
                             (item_id, "deployment", deployment))
                        )  # fmt: skip
                    else:
                        app = on[j % len(on)]
                        roots.append((item_id, app))
                        items.append(
                            (item_id, f"IB-{item_id:08d}", f"{name} #{len(roots)}", a, product, sp, None, None, app,
                             app_service[app - first_app] or None, "in_use", installed, 1)
                        )  # fmt: skip
                        usage = usages[bisect(usage_cum, rand() * usage_cum[-1])]
                        chars.extend(
                            ((item_id, "version", version), (item_id, "region", regions[ci_dc[app]]),
                             (item_id, "deployment", deployment), (item_id, "usage", usage),
                             (item_id, "edition", edition))
                        )  # fmt: skip
                    slot = app - first_app
                    app_items[slot].append(item_id)
                    accounts = app_accounts[slot]
                    if not accounts or (accounts[-1] != a and a not in accounts):
                        accounts.append(a)
            if len(chars) >= CHUNK:
                yield from out.drain()
                yield Progress("install base", item_id, n_items)
        self._ids["install_base_item"] = item_id
        yield from out.drain(force=True)
        yield Progress("install base", n_items, n_items)

    # --- history ---------------------------------------------------------------------------

    def _downstream(self, root: int) -> list[int]:
        """The root CI and everything that depends on it, transitively (sorted)."""
        seen = {root}
        stack = [root]
        while stack:
            for child in self.dependents[stack.pop()]:
                if child not in seen:
                    seen.add(child)
                    stack.append(child)
        return sorted(seen)

    def _history(self) -> Iterator[Rows | Progress]:
        shape, rng, out = self.shape, self._rng("history"), self.out
        out.phase = "history"
        self.acc_children = array("l", [0]) * (shape.accounts + 1)
        self.articles_left = shape.articles
        start = self.now - timedelta(days=HISTORY_DAYS)
        latest = self.now - timedelta(hours=8)
        span = int((latest - start).total_seconds())
        timeline: list[tuple[datetime, int, int, Any]] = []
        n = shape.incidents
        forced = {int(n * 0.55): "carl-host", int(n * 0.8): "carl-app"}
        for i in range(n):
            timeline.append((start + timedelta(seconds=rng.randrange(span)), 0, i, forced.get(i)))
        for i in range(shape.noise_alerts):
            timeline.append((start + timedelta(seconds=rng.randrange(span)), 1, i, None))
        for i in range(shape.reactive_cases):
            at = start + timedelta(seconds=rng.randrange(int((self.now - start).total_seconds()) - 3600))
            timeline.append((at, 2, i, None))
        # Carl's own calls: one long done, one still open.
        timeline.append((self.now - timedelta(days=41, hours=3), 2, -1, "carl"))
        timeline.append((self.now - timedelta(days=1, hours=5), 2, -2, "carl"))
        # Planned maintenance every two weeks, and the next one ahead.
        day = (start + timedelta(days=5)).replace(hour=0, minute=0)
        k = 0
        while day < latest:
            begins = day + timedelta(hours=2, minutes=30 * rng.randrange(4))
            timeline.append((begins - timedelta(days=7), 3, k, begins))
            day += timedelta(days=14)
            k += 1
        ahead = (self.now + timedelta(days=4)).replace(hour=2, minute=0)
        timeline.append((self.now - timedelta(days=2), 3, k, ahead))
        timeline.sort(key=lambda e: (e[0], e[1], e[2]))

        total = len(timeline)
        step = max(1, total // 100)
        for done, (at, kind, _index, extra) in enumerate(timeline, 1):
            self._release_events(at)
            if kind == 0:
                self._incident(rng, at, extra)
            elif kind == 1:
                self._noise_alert(rng, at)
            elif kind == 2:
                self._reactive_case(rng, at, extra)
            else:
                self._planned_outage(rng, at, extra)
            if out.pending >= CHUNK:
                yield from out.drain()
            if done % step == 0 or done == total:
                yield Progress("history", done, total)
        self._release_events(None)
        yield from out.drain(force=True)

    # --- history: pieces -------------------------------------------------------------------

    def _walk(self, opened: Payload, steps: list[_Step], sid: int, change: _Change | None = None) -> _Path:
        """Apply state steps up to now (writing their events); the rest never happened yet.
        The first step writes ``opened``; each later one what ``change`` makes of it (by
        default a case's ``CaseStateChanged``, its dict the extra fields)."""
        path = _Path(state=steps[0][1], updated_at=steps[0][0])
        previous = None
        change = change or self._case_change
        for at, state, actor, extra in steps:
            if at > self.now:
                break
            if previous is None:
                self._event(at, actor, sid, opened)
            else:
                self._event(at, actor, sid, change(at, actor, sid, previous, state, extra))
            if state == "resolved":
                path.resolved_at = at
            elif state == "closed":
                path.closed_at = at
            path.state, path.updated_at, previous = state, at, state
        return path

    @staticmethod
    def _case_change(
        at: datetime, actor: tuple[int | None, str], sid: int, previous: str, state: str, extra: dict[str, Any]
    ) -> Payload:
        return CaseStateChanged(number=case_number(sid), from_=previous, to=state, **extra)

    def _case_row(self, **values: Any) -> tuple[Any, ...]:
        row = dict.fromkeys(COLUMNS["support_case"])
        row.update(major_case_state="none", channel="monitoring", description="", deflected=False, version=1)
        row.update(values)
        return tuple(row[c] for c in COLUMNS["support_case"])

    def _journal(
        self,
        at: datetime,
        author: tuple[int | None, str],
        kind: str,
        body: str,
        *,
        case: int | None = None,
        incident: int | None = None,
        visibility: str = "internal",
        statement: int | None = None,
        source: int | None = None,
    ) -> int:
        jid = self._id("journal_entry")
        self.out.add(
            "journal_entry", (jid, case, incident, kind, visibility, body, author[0], author[1], at, statement, source)
        )
        return jid

    def _notice(
        self, rng: Random, at: datetime, kind: str, key: str, account: int, case: int, statement: int | None = None
    ) -> None:
        nid = self._id("notice")
        contact = self.acc_primary[account]
        channel = CHANNELS[self.acc_channel[account]]
        sent_at, error, attempts = None, None, 1
        if self.acc_opted_out[account]:
            state, attempts = "skipped", 0
        elif rng.random() < 0.02:
            state, attempts = "dead", 5
            error = "550 5.1.1 mailbox unavailable" if channel == "email" else "HTTP 410 Gone from the endpoint"
        else:
            state = "sent"
            sent_at = at + timedelta(seconds=rng.randint(2, 240))
        last_try = sent_at or at + timedelta(minutes=31 if attempts else 0)
        self.out.add(
            "notice",
            (
                nid,
                f"{key}:{contact}",
                kind,
                contact,
                account,
                case,
                statement,
                channel,
                state,
                attempts,
                last_try,
                error,
                at,
                sent_at,
                1,
                None,
                None,
            ),
        )
        when = last_try
        if when <= self.now:
            # As the delivery worker reports a batch: here one notice, on its case. Few distinct
            # payloads among tens of thousands of notices: each is made once.
            delivered = self._delivered.get((state, channel))
            if delivered is None:
                delivered = self._delivered[state, channel] = NoticesDelivered(
                    sent=int(state == "sent"),
                    retrying=0,
                    dead=int(state == "dead"),
                    skipped=int(state == "skipped"),
                    channels={channel: 1} if state == "sent" else {},
                )
            self._event(when, SYSTEM_ACTOR, case, delivered)

    def _pick_root(self, rng: Random, forced: str | None) -> int:
        first_app = self.first_app
        if forced:
            carl_apps = [first_app + i for i, accts in enumerate(self.app_accounts) if self.carl_account in accts]
            app = carl_apps[0]
            if forced == "carl-app":
                return app
            return next(p for p in range(1, app) if app in self.dependents[p] and self.ci_kind[p] == "host")
        roll = rng.random()
        if roll < 0.5:
            return rng.randrange(first_app, first_app + len(self.app_items))
        if roll < 0.75:
            return rng.choice(self.local_shared)
        if roll < 0.97 or self.shape.clusters < 6:
            return rng.choice(self.hosts)
        return rng.choice(self.clusters)

    def _alert(
        self,
        rng: Random,
        at: datetime,
        ends: datetime,
        ci: int,
        name: str,
        text: str,
        severity: str,
        incident: int | None,
        *,
        source: str = "alertmanager",
    ) -> int:
        aid = self._id("alert")
        fingerprint = f"{rng.getrandbits(48):012x}{aid:06x}"[-16:]
        acknowledged = rng.random() < 0.7
        ci_name = self.ci_name[ci]
        labels = {"alertname": name, "severity": severity, "ci": ci_name, "env": "production"}
        summary = f"{name} on {ci_name}"
        self.out.add(
            "alert",
            (
                aid,
                fingerprint,
                source,
                name,
                severity,
                "closed",
                acknowledged,
                self.staff.olivia if acknowledged else None,
                False,
                summary,
                text,
                labels,
                {"summary": summary, "description": text},
                ci_name,
                ci,
                None,
                at,
                ends,
                at,
                ends,
                ends,
                rng.randint(2, 40),
                rng.randint(2, 6) if rng.random() < 0.1 else 0,
                incident,
                1,
            ),
        )
        opened = AlertOpened(fingerprint=fingerprint, name=name, severity=severity, ci=ci_name, from_=None)
        self._event(at, SYSTEM_ACTOR, aid, opened)
        self._event(
            ends,
            SYSTEM_ACTOR,
            aid,
            AlertClosed(fingerprint=fingerprint, name=name, severity=severity, ci=ci_name, from_="open"),
        )
        return aid

    def _incident(self, rng: Random, t0: datetime, forced: str | None) -> None:
        out = self.out
        root = self._pick_root(rng, forced)
        kind = self.ci_kind[root]
        layer = KIND_LAYER[kind]
        affected = self._downstream(root)
        first_app = self.first_app
        app_slots = [c - first_app for c in affected if c >= first_app]
        accounts = sorted({a for s in app_slots for a in self.app_accounts[s]})
        external = [a for a in accounts if self.acc_external[a]]
        severity = "critical" if forced else rng.choices(("critical", "major", "minor", "warning"), (25, 40, 25, 10))[0]
        city = W.DATACENTRES[self.ci_dc[root]][1]
        family_count = [0] * len(W.PRODUCT_FAMILIES)
        for s in app_slots:
            family_count[self.app_family[s]] += 1
        family = max(range(len(family_count)), key=lambda f: (family_count[f], -f))
        product = self.family_main[family][0]
        product_name = self.product_name[product]

        # Timing: the whole story is laid out as fractions of the outage's duration.
        t_open = t0 + timedelta(minutes=rng.randint(1, 4))
        minutes = max(12.0, min(16 * 60.0, DURATION[layer] * rng.lognormvariate(0, 0.6)))
        resolved_at = min(
            t_open + timedelta(seconds=int(minutes * 60)), self.now - timedelta(minutes=rng.randint(120, 240))
        )
        duration = resolved_at - t_open

        def at(fraction: float) -> datetime:
            return (t_open + duration * fraction).replace(microsecond=0)

        iid = self._id("incident")
        alert_name, alert_text = rng.choice(W.ALERTS_BY_KIND[kind])
        title = f"{alert_name}: {self.ci_name[root]}"
        others = rng.sample(affected[1:], min(len(affected) - 1, rng.randint(0, 3)))
        alert_ids = []
        for n, ci in enumerate([root, *others]):
            start = t0 if n == 0 else t0 + timedelta(minutes=rng.randint(0, 8), seconds=rng.randrange(60))
            ends = max(start + timedelta(minutes=1), resolved_at - timedelta(minutes=rng.randint(0, 4)))
            name, text = (alert_name, alert_text) if n == 0 else rng.choice(W.ALERTS_BY_KIND[self.ci_kind[ci]])
            sev = severity if n == 0 else rng.choice((severity, "minor", "warning"))
            source = "healthcheck" if self.ci_kind[ci] == "application" and rng.random() < 0.3 else "alertmanager"
            alert_ids.append(self._alert(rng, start, ends, ci, name, text, sev, iid, source=source))
        for ci in sorted({root, *others}):
            out.add("incident_ci", (iid, ci))

        by_rule = rng.random() < 0.7
        opener = SYSTEM_ACTOR if by_rule else self.olivia
        eta = (resolved_at + timedelta(minutes=5 * rng.randint(-4, 12))).replace(second=0)
        eta = max(eta, at(0.15) + timedelta(minutes=5))
        code, notes = rng.choice(W.RESOLUTIONS)
        closed_at = resolved_at + timedelta(hours=rng.randint(12, 72))

        def change(
            when: datetime, actor: tuple[int | None, str], sid: int, previous: str, state: str, extra: dict[str, Any]
        ) -> Payload:
            """As ``incidents.set_incident_state``/``resolve_incident``: a journal line, then its event."""
            if state == "resolved":
                entry = self._journal(when, actor, "resolution", f"Resolved ({code}): {notes}", incident=sid)
                return IncidentResolved(entry_id=entry, code=code)
            entry = self._journal(when, actor, "state", f"State: {previous} → {state}", incident=sid)
            kind = IncidentClosed if state == "closed" else IncidentStateChanged
            return kind(entry_id=entry, from_=previous, to=state)

        opened = IncidentOpened(
            number=incident_number(iid),
            title=title,
            severity=severity,
            rule="severity" if by_rule else None,
            alert_ids=alert_ids,
            cis=sorted({self.ci_name[c] for c in (root, *others)}),
            root_ci=self.ci_name[root],
        )
        steps: list[_Step] = [
            (t_open, "new", opener, {}),
            (at(0.05), "in_progress", self.olivia, {}),
            (resolved_at, "resolved", self.olivia, {}),
            (closed_at, "closed", self.olivia, {}),
        ]
        path = self._walk(opened, steps, iid, change)
        out.add(
            "incident",
            (
                iid,
                title,
                path.state,
                severity,
                root,
                t_open,
                None if by_rule else self.staff.olivia,
                "severity" if by_rule else None,
                eta,
                code,
                notes,
                path.resolved_at,
                path.closed_at,
                path.updated_at,
                1,
            ),
        )
        # The incident's journal: ETA, progress, resolution.
        entries: list[tuple[datetime, int, str, str]] = []
        eta_at = at(0.15)
        body = f"ETA {eta:%H:%M} UTC"
        entries.append((eta_at, self._journal(eta_at, self.olivia, "eta", body, incident=iid), "eta", body))
        self._event(eta_at, self.olivia, iid, IncidentEtaSet(entry_id=entries[-1][1], eta=eta.isoformat()))
        for n in range(rng.randint(1, 3)):
            when = at(0.3 + 0.2 * n)
            body = rng.choice(W.PROGRESS_NOTES).format(ci=self.ci_name[root])
            entries.append((when, self._journal(when, self.olivia, "progress", body, incident=iid), "progress", body))
            self._event(when, self.olivia, iid, IncidentProgressPosted(entry_id=entries[-1][1]))

        # Customers: an outage as they see it, and (mostly) a proactive case.
        major = proactive = decided_at = cascade_at = None
        if external:
            proactive, major, decided_at, cascade_at = self._proactive(
                rng,
                iid,
                alert_ids[0],
                root,
                title,
                severity,
                accounts,
                external,
                app_slots,
                product,
                product_name,
                city,
                at,
                resolved_at,
                code,
                notes,
                entries,
                forced is not None,
            )
            self._calls(rng, iid, major, decided_at, cascade_at, external, product, product_name, t0, resolved_at)
        if external:
            degraded = severity in ("minor", "warning")
            oid = self._id("outage")
            created = at(0.1)
            label = "degraded" if degraded else "unavailable"
            details = f"{product_name} is {label} for some customers in {city}. We are working on it."
            outage_title = f"{product_name} {label} in {city}"
            out.add(
                "outage",
                (
                    oid,
                    "degradation" if degraded else "unplanned",
                    outage_title,
                    details,
                    root,
                    product,
                    major or proactive,
                    iid,
                    t0,
                    resolved_at,
                    self.staff.olivia,
                    created,
                    1,
                ),
            )
            number = outage_number(oid)
            declared = OutageCreated(
                number=number,
                type="degradation" if degraded else "unplanned",
                title=outage_title,
                case_id=major or proactive,
                notices=0,
            )
            self._event(created, self.olivia, oid, declared)
            ended = OutageEnded(number=number, ends_at=resolved_at.isoformat(), by="resolution" if major else None)
            self._event(resolved_at, self.olivia, oid, ended)

    def _proactive(
        self,
        rng: Random,
        iid: int,
        alert: int,
        root: int,
        title: str,
        severity: str,
        accounts: list[int],
        external: list[int],
        app_slots: list[int],
        product: int,
        product_name: str,
        city: str,
        at: Any,
        resolved_at: datetime,
        code: str,
        notes: str,
        incident_entries: list[tuple[datetime, int, str, str]],
        forced: bool,
    ) -> tuple[int | None, int | None, datetime | None, datetime | None]:
        """The proactive case, and the major case when one was approved: (ids, decided, resolved)."""
        out = self.out
        if not forced and rng.random() > 0.88:
            return None, None, None, None
        priority = priority_for(severity)
        pid = self._id("support_case")
        by_rule = rng.random() < 0.5
        opened = at(0.08)
        n_items = sum(len(self.app_items[s]) for s in app_slots)

        def impact(case: int) -> None:
            for a in accounts:
                out.add("case_account", (case, a, "impact"))
            for s in app_slots:
                for item in self.app_items[s]:
                    out.add("case_item", (case, item))

        impact(pid)
        proposed = len(external) >= 2 and (forced or rng.random() < 0.6)
        approved = proposed and (forced or rng.random() < 0.85)
        proposed_at, decided_at = at(0.18), at(0.25)
        proposer = self.adam if rng.random() < 0.7 else SYSTEM_ACTOR
        reason = rng.choice(W.PROPOSE_REASONS)
        business = rng.choice(W.BUSINESS_IMPACT).format(product=product_name)
        description = (
            f"Monitoring raised {title} under {incident_number(iid)}; {len(accounts)} accounts and {n_items} "
            f"install base items depend on it."
        )
        # Resolution notes reach customers: the public words only, never the incident's number.
        rcode, rnotes = "incident_resolved", notes
        mid = None
        if approved:
            mid = self._id("support_case")
            r_at = resolved_at + timedelta(minutes=rng.randint(5, 20))
        else:
            r_at = resolved_at + timedelta(minutes=rng.randint(10, 30))
        auto_close = r_at + timedelta(days=3)

        resolved: dict[str, Any] = {"code": rcode}
        if approved:
            resolved.update(by="cascade", parent_id=mid)
        steps: list[_Step] = [
            (opened, "new", SYSTEM_ACTOR if by_rule else self.olivia, {}),
            (at(0.12), "open", self.adam, {}),
            (r_at, "resolved", self.maria if approved else self.adam, resolved),
            (auto_close, "closed", SYSTEM_ACTOR, {}),
        ]
        case_opened = CaseOpened(
            number=case_number(pid),
            case_kind="proactive",
            incident_id=iid,
            alert_id=alert,
            priority=priority,
            accounts=len(accounts),
            items=n_items,
        )
        path = self._walk(case_opened, steps, pid)
        state = "none"
        if proposed:
            state = "accepted" if approved else "rejected"
            proposal = MajorCaseProposed(
                number=case_number(pid), reason=reason, business_impact=business, by_rule=proposer == SYSTEM_ACTOR
            )
            self._event(proposed_at, proposer, pid, proposal)
        reject = None if approved or not proposed else rng.choice(W.REJECT_REASONS)
        if proposed and not approved:
            assert reject is not None
            self._event(decided_at, self.maria, pid, MajorCaseRejected(number=case_number(pid), reason=reject))
        proactive_row = self._case_row(
            id=pid,
            kind="proactive",
            state=path.state,
            major_case_state=state,
            priority=priority,
            short_description=title,
            description=description,
            ci_id=root,
            parent_id=mid,
            incident_id=iid,
            alert_id=alert,
            product_id=product,
            opened_at=opened,
            opened_by_id=None if by_rule else self.staff.olivia,
            updated_at=path.updated_at,
            proposed_at=proposed_at if proposed else None,
            proposed_by_id=proposer[0] if proposed else None,
            propose_reason=reason if proposed else None,
            business_impact=business if proposed else None,
            decided_at=decided_at if proposed else None,
            decided_by_id=self.staff.maria if proposed else None,
            reject_reason=reject,
            resolution_code=rcode if path.resolved_at else None,
            resolution_notes=rnotes if path.resolved_at else None,
            resolved_at=path.resolved_at,
            closed_at=path.closed_at,
        )
        if mid is None:
            out.add("support_case", proactive_row)
            return pid, None, None, None

        # Approved: a new major case; the proactive case becomes its child.
        children = {a: self._id("support_case") for a in external}
        skipped = sum(1 for a in children if self.acc_opted_out[a])
        major_no = case_number(mid)
        major_close = r_at + timedelta(hours=rng.randint(20, 44))

        def major_change(
            when: datetime, actor: tuple[int | None, str], sid: int, previous: str, state: str, extra: dict[str, Any]
        ) -> Payload:
            """As the major case commands record it: resolving and closing cascade to the children."""
            if state == "resolved":
                return MajorCaseResolved(
                    number=major_no,
                    code=rcode,
                    children=len(children),
                    children_skipped=0,
                    notices=len(children) - skipped,
                    notices_skipped=skipped,
                    outages_ended=1,
                )
            if state == "closed":
                return MajorCaseClosed(number=major_no, children=len(children), children_skipped=0)
            return self._case_change(when, actor, sid, previous, state, extra)

        major_opened = CaseOpened(
            number=major_no,
            case_kind="major",
            candidate_id=pid,
            incident_id=iid,
            alert_id=alert,
            priority=priority,
            accounts=len(accounts),
            items=n_items,
        )
        major_steps: list[_Step] = [
            (decided_at, "new", self.maria, {}),
            (decided_at + timedelta(seconds=30), "open", self.maria, {}),
            (r_at, "resolved", self.maria, {}),
            (major_close, "closed", self.maria, {}),
        ]
        major_path = self._walk(major_opened, major_steps, mid, major_change)
        approval = MajorCaseApproved(
            number=major_no,
            candidate_id=pid,
            created_new_major=True,
            children=len(children),
            notices=len(children) - skipped,
            notices_skipped=skipped,
            outage=None,
            by_rule=False,
        )
        self._event(decided_at, self.maria, mid, approval)
        out.add(
            "support_case",
            self._case_row(
                id=mid,
                kind="major",
                state=major_path.state,
                major_case_state="accepted",
                priority=priority,
                short_description=f"Major: {title}",
                description=description,
                ci_id=root,
                incident_id=iid,
                alert_id=alert,
                product_id=product,
                opened_at=decided_at,
                opened_by_id=self.staff.maria,
                updated_at=major_path.updated_at,
                proposed_at=proposed_at,
                proposed_by_id=proposer[0],
                propose_reason=reason,
                business_impact=business,
                decided_at=decided_at,
                decided_by_id=self.staff.maria,
                resolution_code=rcode if major_path.resolved_at else None,
                resolution_notes=rnotes if major_path.resolved_at else None,
                resolved_at=major_path.resolved_at,
                closed_at=major_path.closed_at,
            ),
        )
        out.add("support_case", proactive_row)
        impact(mid)
        child_text = f"Service disruption: {product_name} ({city})"
        for a, cid in children.items():
            child_opened = CaseOpened(
                number=case_number(cid), case_kind="child", priority=priority, parent_id=mid, account_id=a
            )
            child_steps: list[_Step] = [
                (decided_at, "new", self.maria, {}),
                (r_at, "resolved", self.maria, {"code": rcode, "by": "cascade", "parent_id": mid}),
                (auto_close, "closed", SYSTEM_ACTOR, {}),
            ]
            child_path = self._walk(child_opened, child_steps, cid)
            out.add(
                "support_case",
                self._case_row(
                    id=cid,
                    kind="child",
                    state=child_path.state,
                    priority=priority,
                    short_description=child_text,
                    description=description,
                    account_id=a,
                    contact_id=self.acc_primary[a],
                    product_id=product,
                    ci_id=root,
                    parent_id=mid,
                    incident_id=iid,
                    opened_at=decided_at,
                    opened_by_id=self.staff.maria,
                    updated_at=child_path.updated_at,
                    resolution_code=rcode if child_path.resolved_at else None,
                    resolution_notes=rnotes if child_path.resolved_at else None,
                    resolved_at=child_path.resolved_at,
                    closed_at=child_path.closed_at,
                ),
            )
            self.acc_children[a] += 1
            self._notice(rng, decided_at, "major_case_opened", f"major_case_opened:{mid}", a, cid)

        # Incident updates after approval are synced to the major case (internal).
        for when, entry, kind, body in incident_entries:
            if when >= decided_at:
                self._journal(when, SYSTEM_ACTOR, kind, body, case=mid, source=entry)
        # Statements: copied to every child, sent to every affected contact.
        first_statement = None
        eta = (resolved_at + timedelta(minutes=30)).strftime("%H:%M")
        for n in range(rng.randint(1, 3)):
            when = at(0.3 + 0.22 * n)
            body = W.STATEMENTS[n].format(product=product_name, city=city, eta=eta)
            sid = self._id("statement")
            first_statement = first_statement or when
            out.add("statement", (sid, mid, body, self.staff.maria, when))
            entry = self._journal(when, self.maria, "statement", body, case=mid, visibility="customer", statement=sid)
            for a, cid in children.items():
                self._journal(
                    when, self.maria, "statement", body, case=cid, visibility="customer", statement=sid, source=entry
                )
                self._notice(rng, when, "statement", f"statement:{sid}", a, cid, sid)
            posted = StatementPosted(
                number=major_no,
                statement_id=sid,
                children=len(children),
                notices=len(children) - skipped,
                notices_skipped=skipped,
            )
            self._event(when, self.maria, mid, posted)
        body = W.RESOLVED_STATEMENT.format(product=product_name)
        entry = self._journal(r_at, self.maria, "resolution", body, case=mid, visibility="customer")
        for a, cid in children.items():
            self._journal(r_at, self.maria, "resolution", body, case=cid, visibility="customer", source=entry)
            self._notice(rng, r_at, "resolved", f"resolved:{mid}", a, cid)
        if self.articles_left > 0 and first_statement is not None:
            self.articles_left -= 1
            art = self._id("article")
            title_t, body_t = W.WORKAROUNDS[art % len(W.WORKAROUNDS)]
            out.add(
                "article",
                (
                    art,
                    f"KB{1000 + art:07d}",
                    title_t.format(product=product_name),
                    body_t.format(product=product_name),
                    "workaround",
                    True,
                    None,
                    first_statement,
                    first_statement,
                    1,
                ),
            )
            out.add("case_article", (mid, art))
            article_no, article_title = f"KB{1000 + art:07d}", title_t.format(product=product_name)
            article = ArticleCreated(number=article_no, title=article_title, customer_visible=True)
            self._event(first_statement, self.maria, art, article)
            self._event(first_statement, self.maria, mid, ArticleAttached(article=article_no, title=article_title))
        return pid, mid, decided_at, r_at

    def _calls(
        self,
        rng: Random,
        iid: int,
        major: int | None,
        decided_at: datetime | None,
        cascade_at: datetime | None,
        external: list[int],
        product: int,
        product_name: str,
        begins: datetime,
        resolved_at: datetime,
    ) -> None:
        """Customers who called in about the outage (reactive cases), deflected when we already knew."""
        out = self.out
        n = min(len(external), round(len(external) * rng.uniform(0.02, 0.1)) + rng.randint(0, 2))
        window = int((resolved_at - begins).total_seconds())
        for a in sorted(rng.sample(external, n)):
            called = begins + timedelta(seconds=rng.randrange(max(60, window)))
            cid = self._id("support_case")
            channel = rng.choice(("phone", "phone", "email", "portal"))
            text = rng.choice(W.CALL_IN).format(product=product_name, time=begins.strftime("%H:%M"))
            deflected = major is not None and decided_at is not None and called >= decided_at
            attached = major is not None
            opened = CaseOpened(number=case_number(cid), case_kind="reactive", account=f"ACC-{a:06d}", channel=channel)
            steps: list[_Step]
            attach: tuple[datetime, tuple[int | None, str], CaseAttached] | None = None
            if attached:
                assert major is not None and cascade_at is not None and decided_at is not None
                steps = [
                    (called, "new", self.adam, {}),
                    (
                        cascade_at,
                        "resolved",
                        self.maria,
                        {"code": "incident_resolved", "by": "cascade", "parent_id": major},
                    ),
                    (cascade_at + timedelta(days=3), "closed", SYSTEM_ACTOR, {}),
                ]
                # Logged and attached at once to the known outage (deflected), or attached by the
                # manager when the major case was approved.
                attached_by = (called, self.adam) if deflected else (decided_at, self.maria)
                attach = (*attached_by, CaseAttached(number=case_number(cid), parent_id=major, deflected=deflected))
                code, notes = "incident_resolved", "Service restored; your case is resolved with the outage."
            else:
                done = max(called, resolved_at) + timedelta(minutes=rng.randint(15, 60))
                steps = [
                    (called, "new", self.adam, {}),
                    (called + timedelta(minutes=rng.randint(2, 10)), "open", self.adam, {}),
                    (done, "resolved", self.adam, {"code": "incident_resolved"}),
                    (done + timedelta(days=3), "closed", SYSTEM_ACTOR, {}),
                ]
                code, notes = "incident_resolved", f"Caused by {incident_number(iid)}; service restored."
            path = self._walk(opened, steps, cid)
            if attach is not None and attach[0] <= self.now:
                self._event(attach[0], attach[1], cid, attach[2])
            out.add(
                "support_case",
                self._case_row(
                    id=cid,
                    kind="reactive",
                    state=path.state,
                    priority=3,
                    short_description=text,
                    channel=channel,
                    account_id=a,
                    contact_id=self.acc_primary[a],
                    product_id=product,
                    parent_id=major,
                    incident_id=iid,
                    opened_at=called,
                    opened_by_id=self.staff.adam,
                    updated_at=path.updated_at,
                    deflected=deflected,
                    resolution_code=code if path.resolved_at else None,
                    resolution_notes=notes if path.resolved_at else None,
                    resolved_at=path.resolved_at,
                    closed_at=path.closed_at,
                ),
            )
            out.add("case_account", (cid, a, "reported"))

    def _noise_alert(self, rng: Random, at: datetime) -> None:
        ci = rng.randrange(1, len(self.ci_kind))
        name, text = rng.choice(W.NOISE_ALERTS)
        severity = rng.choice(("warning", "warning", "info", "minor"))
        ends = min(at + timedelta(minutes=rng.randint(5, 360)), self.now - timedelta(minutes=5))
        self._alert(rng, at, ends, ci, name, text, severity, None)

    def _reactive_case(self, rng: Random, at: datetime, extra: str | None) -> None:
        """A customer case unrelated to any outage; recent topics drift (trending)."""
        recent = (self.now - at).days < 30
        weights = [(4 if recent else 0.3) if trend == "rising" else 1 for _f, _t, trend in W.REACTIVE_TOPICS]
        family_name, topic, _trend = rng.choices(W.REACTIVE_TOPICS, weights)[0]
        family = next(i for i, f in enumerate(W.PRODUCT_FAMILIES) if f[0] == family_name)
        product = self.family_main[family][0]
        if extra == "carl":
            account = self.carl_account
        else:
            account = rng.randint(1, self.shape.accounts)
            while not self.acc_external[account]:
                account = rng.randint(1, self.shape.accounts)
        cid = self._id("support_case")
        channel = rng.choice(("phone", "email", "email", "portal", "web"))
        code, notes = rng.choice(W.CASE_RESOLUTIONS)
        opened = at.replace(microsecond=0)
        steps: list[_Step] = [(opened, "new", self.adam, {})]
        if rng.random() < 0.05:
            steps.append((opened + timedelta(hours=rng.randint(1, 48)), "canceled", self.adam, {}))
        else:
            t = opened + timedelta(minutes=rng.randint(10, 180))
            steps.append((t, "open", self.adam, {}))
            if rng.random() < 0.3:
                t += timedelta(hours=rng.randint(1, 24))
                steps.append((t, "awaiting_info", self.adam, {}))
                t += timedelta(hours=rng.randint(2, 48))
                steps.append((t, "open", self.adam, {}))
            t += timedelta(hours=rng.randint(2, 96))
            steps.append((t, "resolved", self.adam, {"code": code}))
            steps.append((t + timedelta(days=3), "closed", SYSTEM_ACTOR, {}))
        case_opened = CaseOpened(
            number=case_number(cid), case_kind="reactive", account=f"ACC-{account:06d}", channel=channel
        )
        path = self._walk(case_opened, steps, cid)
        self.out.add(
            "support_case",
            self._case_row(
                id=cid,
                kind="reactive",
                state=path.state,
                priority=rng.choice((2, 3, 3, 4)),
                short_description=topic,
                description=f"{topic}. Reported by the customer via {channel}.",
                channel=channel,
                account_id=account,
                contact_id=self.acc_primary[account],
                product_id=product,
                opened_at=opened,
                opened_by_id=self.staff.adam,
                updated_at=path.updated_at,
                resolution_code=code if path.resolved_at else None,
                resolution_notes=notes if path.resolved_at else None,
                resolved_at=path.resolved_at,
                closed_at=path.closed_at,
            ),
        )
        self.out.add("case_account", (cid, account, "reported"))

    def _planned_outage(self, rng: Random, created: datetime, begins: datetime) -> None:
        ci = rng.choice(self.hosts + self.shared[: len(self.shared) // 4 + 1])
        city = W.DATACENTRES[self.ci_dc[ci]][1]
        ends = begins + timedelta(hours=rng.randint(1, 4))
        mid = self._id("maintenance_window")
        reason = f"Planned maintenance: firmware and OS updates on {self.ci_name[ci]}"
        self.out.add("maintenance_window", (mid, ci, begins, ends, reason, self.staff.olivia, created))
        oid = self._id("outage")
        details = (
            f"Scheduled maintenance in {city} from {begins:%Y-%m-%d %H:%M} to {ends:%H:%M} UTC. "
            "Services may be briefly unavailable."
        )
        self.out.add(
            "outage",
            (
                oid,
                "planned",
                f"Planned maintenance in {city}",
                details,
                ci,
                None,
                None,
                None,
                begins,
                ends,
                self.staff.olivia,
                created,
                1,
            ),
        )
        window = MaintenanceAdded(
            ci=self.ci_name[ci], starts_at=begins.isoformat(), ends_at=ends.isoformat(), reason=reason, alerts_flagged=0
        )
        self._event(created, self.olivia, mid, window)
        declared = OutageCreated(
            number=outage_number(oid), type="planned", title=f"Planned maintenance in {city}", case_id=None, notices=0
        )
        self._event(created, self.olivia, oid, declared)
