"""Impact: which CIs, install base items, accounts and contacts an outage touches.

From the broken CIs, walk the service map downstream (every CI that depends on them,
transitively), then to the install base items on those CIs (and the items below them in their
component hierarchy), then to accounts. Set-based: one recursive CTE; results that may be
large (a datacentre touches ~100,000 accounts) are written with INSERT … SELECT rather than
carried through Python.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import CTE, Select, func, insert, literal, select

from pcso_tui.domain.events import Transaction
from pcso_tui.domain.models import CaseAccount, CaseItem, CIDependency, ConfigurationItem, InstallBaseItem


def dependent_cis(ci_ids: Sequence[int]) -> CTE:
    """A recursive CTE of ``ci_id``: the given CIs and everything that depends on them."""
    seed = select(ConfigurationItem.id.label("ci_id")).where(ConfigurationItem.id.in_(ci_ids))
    affected = seed.cte("affected_ci", recursive=True)
    return affected.union(select(CIDependency.ci_id).join(affected, CIDependency.depends_on_id == affected.c.ci_id))


def affected_items(ci_ids: Sequence[int]) -> Select[tuple[int, int]]:
    """(item id, account id) of every install base item on an affected CI, and its components."""
    affected = dependent_cis(ci_ids)
    on_ci = select(InstallBaseItem.id.label("item_id"), InstallBaseItem.account_id).where(
        InstallBaseItem.ci_id.in_(select(affected.c.ci_id))
    )
    items = on_ci.cte("affected_item", recursive=True)
    items = items.union(
        select(InstallBaseItem.id, InstallBaseItem.account_id).join(items, InstallBaseItem.parent_id == items.c.item_id)
    )
    return select(items.c.item_id, items.c.account_id)


async def insert_case_impact(tx: Transaction, case_id: int, ci_ids: Sequence[int]) -> tuple[int, int]:
    """Record a case's affected items and accounts with INSERT … SELECT; returns (accounts, items)."""
    if not ci_ids:
        return (0, 0)
    items = affected_items(ci_ids).subquery()
    await tx.session.execute(
        insert(CaseItem).from_select(["case_id", "item_id"], select(literal(case_id), items.c.item_id).distinct())
    )
    await tx.session.execute(
        insert(CaseAccount).from_select(
            ["case_id", "account_id", "source"],
            select(literal(case_id), InstallBaseItem.account_id, literal("impact"))
            .join(CaseItem, CaseItem.item_id == InstallBaseItem.id)
            .where(CaseItem.case_id == case_id)
            .distinct(),
        )
    )
    count_accounts = select(func.count()).select_from(CaseAccount).where(CaseAccount.case_id == case_id)
    count_items = select(func.count()).select_from(CaseItem).where(CaseItem.case_id == case_id)
    return (await tx.session.scalar(count_accounts) or 0, await tx.session.scalar(count_items) or 0)
