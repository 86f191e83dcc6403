"""Import throughput: ``pcso import install_base_items`` against raw sqlite3 in the same run.

Writes a CSV of N install base items (every fifth a top item, the other four its components;
three characteristics each), then imports it twice into a fresh embedded database through
pcso's importer (the first run inserts, the second finds every row unchanged). The same rows
are then upserted into another fresh database with the standard library's ``sqlite3`` and
``executemany``: items, then parent and root ids, then characteristics, in one transaction.

    .venv/bin/python bench/bench_import.py [--rows 200000]

Only the ratios mean anything: the machine's speed drifts, both sides run in the same process.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import sqlite3
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from pcso_tui.domain.core.roles import SYSTEM
from pcso_tui.domain.core.service import Domain
from pcso_tui.domain.install_base.importer import import_records
from pcso_tui.plugins import new_plugin_manager

PRODUCTS = 50
CIS = 2_000
ITEMS_PER_ACCOUNT = 10
COMPONENTS = 5  # one top item and four components below it
CHARACTERISTICS = ("version", "region", "tier")


def write_files(folder: Path, rows: int) -> dict[str, Path]:
    accounts = max(1, rows // ITEMS_PER_ACCOUNT)
    paths = {kind: folder / f"{kind}.csv" for kind in ("accounts", "products", "cis", "items")}
    with paths["accounts"].open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["number", "name", "tier", "region"])
        out.writerows(
            (f"A{a:07d}", f"Account {a}", "gold" if a % 7 == 0 else "standard", f"r{a % 5}") for a in range(accounts)
        )
    with paths["products"].open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["number", "name", "family"])
        out.writerows((f"P{p:03d}", f"Product {p}", f"family {p % 5}") for p in range(PRODUCTS))
    with paths["cis"].open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["name", "kind"])
        out.writerows((f"ci-{c:05d}", "host" if c % 10 else "service") for c in range(CIS))
    with paths["items"].open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(
            ["number", "name", "account", "product", "parent", "ci", "service", "status", "installed_on"]
            + [f"characteristics.{c}" for c in CHARACTERISTICS]
        )
        for i in range(rows):
            top = i - i % COMPONENTS
            out.writerow(
                [
                    f"I{i:08d}",
                    f"Item {i}",
                    f"A{(top // ITEMS_PER_ACCOUNT) % accounts:07d}",
                    f"P{i % PRODUCTS:03d}",
                    "" if i == top else f"I{top:08d}",
                    f"ci-{i % CIS:05d}",
                    f"ci-{(i % 200) * 10:05d}",
                    "in_use",
                    f"2025-{1 + i % 12:02d}-{1 + i % 28:02d}",
                    f"{1 + i % 4}.{i % 10}",
                    f"r{i % 5}",
                    "gold" if i % 3 == 0 else "silver",
                ]
            )
    return paths


async def pcso_import(db: Path, paths: dict[str, Path]) -> tuple[float, float]:
    domain = await Domain.open(db, hooks=new_plugin_manager(load_entry_points=False).hook)
    try:
        for kind in ("accounts", "products", "cis"):
            await import_records(domain, SYSTEM, kind, paths[kind])
        times = []
        for expect_changed in (True, False):
            start = time.perf_counter()
            result = await import_records(domain, SYSTEM, "install_base_items", paths["items"])
            times.append(time.perf_counter() - start)
            assert result.changed is expect_changed, result
        return times[0], times[1]
    finally:
        await domain.close()


async def create_schema(db: Path) -> None:
    domain = await Domain.open(db, hooks=new_plugin_manager(load_entry_points=False).hook)
    await domain.close()


def raw_import(db: Path, paths: dict[str, Path]) -> tuple[float, float]:
    """The same upserts with sqlite3 and executemany (no per-row checks, no staging)."""
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA foreign_keys = ON")
    now = datetime.now(UTC).replace(tzinfo=None).isoformat(" ")
    conn.execute("BEGIN IMMEDIATE")
    with paths["accounts"].open(newline="") as f:
        rows = list(csv.reader(f))[1:]
    conn.executemany(
        "INSERT INTO account (number, name, tier, region, industry, is_external, created_at, version)"
        " VALUES (?, ?, ?, ?, '', 1, ?, 1)",
        [(*r, now) for r in rows],
    )
    with paths["products"].open(newline="") as f:
        conn.executemany(
            "INSERT INTO product (number, name, family, version) VALUES (?, ?, ?, 1)", list(csv.reader(f))[1:]
        )
    with paths["cis"].open(newline="") as f:
        conn.executemany(
            "INSERT INTO ci (name, kind, description, environment, location, multi_tenant, version)"
            " VALUES (?, ?, '', 'production', '', 0, 1)",
            list(csv.reader(f))[1:],
        )
    conn.execute("COMMIT")
    times = []
    for _ in range(2):
        start = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        accounts = dict(conn.execute("SELECT number, id FROM account"))
        products = dict(conn.execute("SELECT number, id FROM product"))
        cis = dict(conn.execute("SELECT name, id FROM ci"))
        items, parents, chars = [], [], []
        with paths["items"].open(newline="") as f:
            reader = csv.reader(f)
            next(reader)
            for number, name, account, product, parent, ci, service, status, installed, *values in reader:
                items.append(
                    (number, name, accounts[account], products[product], cis[ci], cis[service], status, installed)
                )
                parents.append((number, parent or None))
                chars.extend((number, c, v) for c, v in zip(CHARACTERISTICS, values, strict=True))
        conn.executemany(
            "INSERT INTO install_base_item (number, name, account_id, product_id, ci_id, service_ci_id, status,"
            " installed_on, version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1)"
            " ON CONFLICT (number) DO UPDATE SET name = excluded.name, account_id = excluded.account_id,"
            " product_id = excluded.product_id, ci_id = excluded.ci_id, service_ci_id = excluded.service_ci_id,"
            " status = excluded.status, installed_on = excluded.installed_on, version = version + 1"
            " WHERE (name, account_id, product_id, ci_id, service_ci_id, status, installed_on)"
            " IS NOT (excluded.name, excluded.account_id, excluded.product_id, excluded.ci_id,"
            " excluded.service_ci_id, excluded.status, excluded.installed_on)",
            items,
        )
        ids = dict(conn.execute("SELECT number, id FROM install_base_item"))
        conn.executemany(
            "UPDATE install_base_item SET parent_id = ?, root_id = ? WHERE id = ?"
            " AND (parent_id IS NOT ? OR root_id IS NOT ?)",
            [
                (ids.get(p), ids[p or n], ids[n], ids.get(p), ids[p or n])  # components are one level deep here
                for n, p in parents
            ],
        )
        conn.executemany(
            "INSERT INTO characteristic (item_id, name, value) VALUES (?, ?, ?)"
            " ON CONFLICT (item_id, name) DO UPDATE SET value = excluded.value WHERE value <> excluded.value",
            [(ids[n], c, v) for n, c, v in chars],
        )
        conn.execute("COMMIT")
        times.append(time.perf_counter() - start)
    conn.close()
    return times[0], times[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=200_000, help="install base items to import")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pcso-bench-") as tmp:
        folder = Path(tmp)
        paths = write_files(folder, args.rows)
        raw_db = folder / "raw.db"
        asyncio.run(create_schema(raw_db))
        pcso_first, pcso_again = asyncio.run(pcso_import(folder / "pcso.db", paths))
        raw_first, raw_again = raw_import(raw_db, paths)
    n = args.rows
    print(f"install base items: {n:,} rows, {len(CHARACTERISTICS)} characteristics each")
    print(f"{'':24}{'pcso import':>14}{'raw sqlite3':>14}{'ratio':>8}")
    for label, ours, raw in (("first import", pcso_first, raw_first), ("re-import (unchanged)", pcso_again, raw_again)):
        print(f"{label:24}{n / ours:>10,.0f} r/s{n / raw:>10,.0f} r/s{ours / raw:>7.1f}×")


if __name__ == "__main__":
    main()
