"""What the operator screen tests look at: a small service map with customers on it, and alerts.

    dc-1 ← host-1 ← svc-1        ACC-T1 (platinum), ACC-2 (gold), ACC-INT (internal) on svc-1
    svc-other                    ACC-X on svc-other (never affected by host-1)

Alerts arrive through the real ingest (dedup by fingerprint) as another process would send them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import insert, select, update
from tests.conftest import FROZEN_AT

from pcso_tui.domain.core.clock import FrozenClock
from pcso_tui.domain.core.models import (
    Account,
    Characteristic,
    CIDependency,
    ConfigurationItem,
    Contact,
    InstallBaseItem,
    Product,
)
from pcso_tui.domain.core.roles import SYSTEM
from pcso_tui.domain.core.service import Domain
from pcso_tui.domain.operations.alerts import AlertInput, ParsedBatch, ingest

HOSTILE = "[bold]Mal[/ \x1b[2J"


async def _open(url: str) -> Domain:
    from pcso_tui.plugins import new_plugin_manager

    return await Domain.open(url, clock=FrozenClock(FROZEN_AT), hooks=new_plugin_manager(load_entry_points=False).hook)


async def build_service_map(url: str) -> dict[str, int]:
    domain = await _open(url)
    try:
        async with domain.transaction(SYSTEM) as tx:
            s = tx.session
            product = Product(number="P-PBX", name="Cloud PBX", family="voice")
            s.add(product)
            cis: dict[str, int] = {}
            for name, kind in (
                ("dc-1", "datacentre"),
                ("host-1", "host"),
                ("svc-1", "service"),
                ("svc-other", "service"),
            ):
                ci = ConfigurationItem(name=name, kind=kind)
                s.add(ci)
                await s.flush()
                cis[name] = ci.id
            await s.execute(
                insert(CIDependency),
                [
                    {"ci_id": cis["host-1"], "depends_on_id": cis["dc-1"]},
                    {"ci_id": cis["svc-1"], "depends_on_id": cis["host-1"]},
                ],
            )
            existing = dict((await s.execute(select(Account.number, Account.id))).all())
            await s.execute(update(Account).where(Account.number == "ACC-T1").values(tier="platinum", region="eu-west"))
            accounts = {"ACC-T1": existing["ACC-T1"]}
            for number, tier, external in (
                ("ACC-2", "gold", True),
                ("ACC-INT", "silver", False),
                ("ACC-X", "gold", True),
            ):
                account = Account(
                    number=number,
                    name=f"{number} Ltd",
                    tier=tier,
                    region="us-east",
                    is_external=external,
                    created_at=tx.now,
                )
                s.add(account)
                await s.flush()
                accounts[number] = account.id
            for number, account_id in accounts.items():
                s.add(
                    Contact(number=f"C-{number}", account_id=account_id, name=f"Primary of {number}", is_primary=True)
                )
            for number, account_id in accounts.items():
                ci = cis["svc-other"] if number == "ACC-X" else cis["svc-1"]
                item = InstallBaseItem(
                    number=f"IB-{number}",
                    name=f"PBX of {number}",
                    account_id=account_id,
                    product_id=product.id,
                    ci_id=ci,
                )
                s.add(item)
                await s.flush()
                s.add(Characteristic(item_id=item.id, name="version", value="4.2"))
        return cis
    finally:
        await domain.close()


def alert(
    fingerprint: str,
    name: str = "HighLatency",
    *,
    severity: str = "minor",
    ci: str | None = "host-1",
    summary: str = "p99 latency above 2s",
    status: str = "firing",
    minutes_ago: int = 5,
) -> AlertInput:
    return AlertInput.build(
        name,
        fingerprint=fingerprint,
        severity=severity,
        status=status,
        summary=summary,
        ci=ci,
        starts_at=FROZEN_AT - timedelta(minutes=minutes_ago),
    )


async def send(url: str, alerts: Sequence[AlertInput], *, truncated: int = 0) -> Any:
    """Ingest alerts as the receiver would (its own Domain, its own connections)."""
    domain = await _open(url)
    try:
        return await ingest(domain, SYSTEM, ParsedBatch(tuple(alerts), truncated=truncated))
    finally:
        await domain.close()


async def send_many(url: str, n: int, *, chunk: int = 5000) -> None:
    """``n`` open warning alerts on unmapped CIs (no incident opens for them)."""
    domain = await _open(url)
    try:
        for start in range(0, n, chunk):
            batch = [
                alert(f"bulk-{i:06d}", f"Bulk{i}", severity="warning", ci=f"gone-{i}", minutes_ago=i % 600)
                for i in range(start, min(n, start + chunk))
            ]
            await ingest(domain, SYSTEM, ParsedBatch(tuple(batch)))
    finally:
        await domain.close()
