"""The impact benchmark's world: 1,000,000 install base items, 100,000 accounts, 50,000 CIs.

Built once with raw ``sqlite3.executemany`` into a database created by ``Domain.open`` (so it
has the product's real schema and indexes), then cached in ``bench/out/``. Seeded, so every
build is the same world. Bench-local on purpose: it does not depend on the product's seeder.

Shape (five layers, like the impact table in docs/performance.md):

    datacentre (3) → cluster (100) → host (4,000) → service (8,000) → application (37,897)

Clusters sit in one datacentre, hosts in one cluster; half the services run on one host, half on
two hosts in different datacentres; each application instance depends on one or two services.
800,000 root items sit on application instances; 200,000 components hang below them (a tenth
of those below another component), half on no CI of their own. Accounts are skewed: a few
large ones, a long tail of small ones. 10,000 open and 5,000 closed alerts sit on random CIs.
"""

from __future__ import annotations

import asyncio
import json
import random
import sqlite3
import time
from pathlib import Path

WORLD_VERSION = 3
OUT = Path(__file__).parent / "out"
WORLD = OUT / "impact_world.db"

N_DC, N_CLUSTER, N_HOST, N_SERVICE, N_CI = 3, 100, 4_000, 8_000, 50_000
N_ACCOUNT, N_ITEM, N_COMPONENT = 100_000, 1_000_000, 200_000
N_PRODUCT, N_OPEN_ALERT, N_CLOSED_ALERT = 200, 10_000, 5_000
TIERS = [("platinum", 1), ("gold", 4), ("silver", 15), ("bronze", 30), ("standard", 50)]
REGIONS = ["eu-west", "eu-central", "us-east", "us-west", "ap-south", "ap-east", "sa-east", "af-south"]
SEVERITIES = ["critical", "major", "minor", "warning", "info"]
NOW = "2026-11-23 09:00:00.000000"


def layers() -> dict[str, range]:
    """CI id ranges per layer (ids are dense, in layer order)."""
    n_app = N_CI - N_DC - N_CLUSTER - N_HOST - N_SERVICE
    bounds, start = {}, 1
    for kind, n in (
        ("datacentre", N_DC),
        ("cluster", N_CLUSTER),
        ("host", N_HOST),
        ("service", N_SERVICE),
        ("application", n_app),
    ):
        bounds[kind] = range(start, start + n)
        start += n
    return bounds


def _create_schema(path: Path) -> None:
    from pcso_tui.domain.core.service import Domain

    async def make() -> None:
        domain = await Domain.open(path, upgrade=True)
        await domain.close()

    asyncio.run(make())


def build(path: Path = WORLD) -> None:
    rnd = random.Random(20261123)
    started = time.perf_counter()
    path.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    _create_schema(path)
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA synchronous = OFF")
    con.execute("PRAGMA cache_size = -200000")
    con.execute("BEGIN")
    L = layers()

    # --- the service map ---------------------------------------------------------------------
    cis, deps = [], []
    for kind, ids in L.items():
        for i in ids:
            cis.append((i, f"{kind}-{i:05d}", kind, "", "production", f"dc-{1 + i % N_DC}", int(kind == "service"), 1))
    cluster_dc = {c: rnd.choice(L["datacentre"]) for c in L["cluster"]}
    deps += [(c, dc) for c, dc in cluster_dc.items()]
    hosts_by_dc: dict[int, list[int]] = {dc: [] for dc in L["datacentre"]}
    for h in L["host"]:
        c = rnd.choice(L["cluster"])
        deps.append((h, c))
        hosts_by_dc[cluster_dc[c]].append(h)
    for s in L["service"]:
        if rnd.random() < 0.5:
            deps.append((s, rnd.choice(L["host"])))
        else:
            dc1, dc2 = rnd.sample(list(L["datacentre"]), 2)
            deps += [(s, rnd.choice(hosts_by_dc[dc1])), (s, rnd.choice(hosts_by_dc[dc2]))]
    for a in L["application"]:
        for s in rnd.sample(L["service"], rnd.choice((1, 2))):
            deps.append((a, s))
    con.executemany("INSERT INTO ci VALUES (?,?,?,?,?,?,?,?)", cis)
    con.executemany("INSERT INTO ci_dependency VALUES (?,?)", deps)

    # --- accounts, contacts, products --------------------------------------------------------
    tiers = [t for t, w in TIERS for _ in range(w)]
    accounts, contacts = [], []
    channels = ["email", "email", "email", "webhook", "sms", "portal"]
    for a in range(1, N_ACCOUNT + 1):
        tier = "platinum" if a <= 200 else rnd.choice(tiers)
        accounts.append(
            (a, f"ACC{a:06d}", f"Customer {a:06d}", tier, rnd.choice(REGIONS), "", int(a % 50 != 0), NOW, 1)
        )
        for k in range(2):
            n = 2 * a - 1 + k
            contacts.append(
                (
                    n,
                    f"CON{n:07d}",
                    a,
                    f"Contact {n}",
                    f"c{n}@example.net",
                    None,
                    rnd.choice(channels),
                    None,
                    int(k == 0),
                    0,
                    1,
                )
            )
    con.executemany("INSERT INTO account VALUES (?,?,?,?,?,?,?,?,?)", accounts)
    con.executemany("INSERT INTO contact VALUES (?,?,?,?,?,?,?,?,?,?,?)", contacts)
    products = [(p, f"PRD{p:04d}", f"Product {p:03d}", f"family-{p % 12}", 1) for p in range(1, N_PRODUCT + 1)]
    con.executemany("INSERT INTO product VALUES (?,?,?,?,?)", products)
    del accounts, contacts

    # --- install base: roots on application instances, components below them ----------------
    apps = L["application"]
    n_root = N_ITEM - N_COMPONENT
    items, chars = [], []
    root_account, root_ci = [0] * (n_root + 1), [0] * (n_root + 1)
    deployments = ["cloud", "cloud", "on-premises", "hybrid"]
    for i in range(1, n_root + 1):
        # Skewed owners: low account numbers own far more than the long tail.
        acc = 1 + int(N_ACCOUNT * rnd.random() ** 1.6)
        ci = rnd.choice(apps)
        prod = 1 + int(N_PRODUCT * rnd.random() ** 2)
        root_account[i], root_ci[i] = acc, ci
        items.append((i, f"IB{i:08d}", f"item {i}", acc, prod, None, None, None, ci, ci, "in_use", None, 1))
        chars += [
            (i, "version", f"{prod % 7 + 1}.{rnd.randrange(4)}"),
            (i, "region", rnd.choice(REGIONS)),
            (i, "deployment", rnd.choice(deployments)),
        ]
    comp_account = {}
    for i in range(n_root + 1, N_ITEM + 1):
        if i > n_root + 100 and rnd.random() < 0.1:
            parent = rnd.randrange(n_root + 1, i)
            acc, root = comp_account[parent]
        else:
            parent = rnd.randrange(1, n_root + 1)
            acc, root = root_account[parent], parent
        comp_account[i] = (acc, root)
        ci = None if rnd.random() < 0.5 else rnd.choice(apps)
        items.append(
            (
                i,
                f"IB{i:08d}",
                f"component {i}",
                acc,
                1 + rnd.randrange(N_PRODUCT),
                None,
                parent,
                root,
                ci,
                None,
                "in_use",
                None,
                1,
            )
        )
    con.executemany("INSERT INTO install_base_item VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", items)
    con.executemany("INSERT INTO characteristic VALUES (?,?,?)", chars)
    del items, chars

    # --- alerts --------------------------------------------------------------------------------
    alerts = []
    for n in range(1, N_OPEN_ALERT + N_CLOSED_ALERT + 1):
        r = rnd.random()
        ci = (
            rnd.choice(L["cluster"])
            if r < 0.005
            else rnd.choice(L["host"])
            if r < 0.1
            else rnd.choice(L["service"])
            if r < 0.3
            else rnd.choice(apps)
        )
        state = "open" if n <= N_OPEN_ALERT else "closed"
        sev = rnd.choice(SEVERITIES)
        alerts.append(
            (n, f"fp{n:08d}", "bench", f"alert {n}", sev, state, 0, None, 0, "", "", "{}", "{}", None, ci, None,
             NOW, None, NOW, NOW, NOW, 1, 0, None, 1)
        )  # fmt: skip
    con.executemany(f"INSERT INTO alert VALUES ({','.join('?' * 25)})", alerts)
    con.execute("INSERT INTO setting VALUES ('bench_impact_world', ?)", (json.dumps(world_key()),))
    con.execute("COMMIT")
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    print(f"built {path} in {time.perf_counter() - started:.1f} s")


def world_key() -> str:
    """The generator's version and the schema's shape: a cached world older than either is rebuilt."""
    import hashlib

    from pcso_tui.domain.core.migrations import HEAD
    from pcso_tui.domain.core.models import Base

    shape = sorted(
        f"{t.name}:{','.join(c.name for c in t.columns)}:{','.join(sorted(i.name or '' for i in t.indexes))}"
        for t in Base.metadata.tables.values()
    )
    digest = hashlib.sha256("\n".join(shape).encode()).hexdigest()[:12]
    return f"{WORLD_VERSION}-{HEAD}-{digest}"


def ensure_world(path: Path = WORLD) -> Path:
    """The cached world, built first if missing or from an older generator or schema."""
    if path.exists():
        try:
            con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            row = con.execute("SELECT value FROM setting WHERE key = 'bench_impact_world'").fetchone()
            con.close()
            if row and json.loads(row[0]) == world_key():
                return path
        except (sqlite3.Error, ValueError, TypeError):
            pass
    build(path)
    return path


if __name__ == "__main__":
    ensure_world()
