"""Constructed data for insight tests, where the right answer is known by construction.

Cases are written with Core inserts so each can carry its own ``opened_at`` (the trending tests
spread them over a week); everything else goes through the domain commands.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select

from pcso_tui.domain.core.models import Account, Case, CaseAccount, Characteristic, InstallBaseItem, Product
from pcso_tui.domain.core.roles import SYSTEM
from pcso_tui.domain.core.service import Domain

VPN = [
    "VPN tunnel drops every few minutes",
    "vpn tunnel keeps dropping every few minutes",
    "Our VPN tunnel drops every couple of minutes",
    "VPN tunnel drops every few minutes since this morning",
    "vpn tunnel drops every few minutes, users disconnected",
    "VPN tunnel drops every few minutes again",
    "the vpn tunnel drops every few minutes",
    "VPN tunnel drops every few minutes on site B",
    "vpn tunnel drops every few minutes for all users",
    "VPN tunnel drops every few minutes (urgent)",
]
UNRELATED = [
    "Invoice PDF is missing our logo",
    "Please reset the password of the admin user",
    "Question about licence renewal pricing",
    "Printer on floor 3 shows paper jam",
    "Request a copy of last month's usage report",
]


async def add_accounts(domain: Domain, numbers: list[str], **columns: Any) -> dict[str, int]:
    async with domain.transaction(SYSTEM) as tx:
        await tx.session.execute(
            insert(Account),
            [{"number": n, "name": f"Account {n}", "created_at": tx.now, **columns} for n in numbers],
        )
        rows = await tx.session.execute(select(Account.number, Account.id).where(Account.number.in_(numbers)))
        return dict(rows.all())


async def add_cases(domain: Domain, rows: list[dict[str, Any]]) -> list[int]:
    """Cases with their reported account; each row: account_id, short_description, and any column."""
    async with domain.transaction(SYSTEM) as tx:
        ids = []
        for row in rows:
            values = {
                "kind": "reactive",
                "state": "new",
                "major_case_state": "none",
                "priority": 3,
                "channel": "phone",
                "opened_at": tx.now,
                "updated_at": tx.now,
                "deflected": False,
                "description": "",
                "version": 1,
                **row,
            }
            cid = await tx.session.scalar(insert(Case).values(**values).returning(Case.id))
            if values.get("account_id") is not None:
                await tx.session.execute(
                    insert(CaseAccount).values(case_id=cid, account_id=values["account_id"], source="reported")
                )
            ids.append(cid)
        return ids


def spread(now: datetime, days: float, n: int) -> list[datetime]:
    """``n`` times evenly over the ``days`` before ``now``."""
    return [now - timedelta(days=days * (i + 0.5) / n) for i in range(n)]


async def add_install_base(domain: Domain, items: list[tuple[int, str, dict[str, str]]]) -> None:
    """Items (account id, product number, characteristics); products are created as needed."""
    async with domain.transaction(SYSTEM) as tx:
        s = tx.session
        products: dict[str, int] = dict((await s.execute(select(Product.number, Product.id))).all())
        for _, number, _ in items:
            if number not in products:
                products[number] = await s.scalar(
                    insert(Product).values(number=number, name=f"Product {number}", version=1).returning(Product.id)
                )
        for i, (account_id, number, chars) in enumerate(items):
            item_id = await s.scalar(
                insert(InstallBaseItem)
                .values(number=f"IB-{account_id}-{i}", account_id=account_id, product_id=products[number], version=1)
                .returning(InstallBaseItem.id)
            )
            if chars:
                await s.execute(
                    insert(Characteristic), [{"item_id": item_id, "name": k, "value": v} for k, v in chars.items()]
                )
