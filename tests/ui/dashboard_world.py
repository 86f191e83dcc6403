"""The dashboard's world for the screen tests: the seeded workspace (users of every role) plus
the hand-built history of ``tests.domain.test_dashboard`` (September to November 2026, now
Monday 2026-11-23 09:00 UTC), whose figures are worked out there."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tests.conftest import FROZEN_AT
from tests.domain.test_dashboard import NOW, History, build_history

from pcso_tui.domain.core.clock import FrozenClock
from pcso_tui.domain.core.roles import SYSTEM
from pcso_tui.domain.core.service import Domain
from pcso_tui.domain.core.views import case_number

assert NOW == FROZEN_AT  # the history's "now" is the frozen clock of the workspace tests


async def open_domain(url: str) -> Domain:
    from pcso_tui.plugins import new_plugin_manager

    return await Domain.open(url, clock=FrozenClock(FROZEN_AT), hooks=new_plugin_manager(load_entry_points=False).hook)


async def add_history(url: str) -> History:
    domain = await open_domain(url)
    try:
        return await build_history(domain)
    finally:
        await domain.close()


async def board(url: str, user: str, **kw: Any) -> Any:
    """``domain.dashboard.kpis`` as ``user``, from a Domain of its own."""
    from pcso_tui.domain.core.users import sign_in
    from pcso_tui.domain.reporting import dashboard

    domain = await open_domain(url)
    try:
        return await dashboard.kpis(domain, await sign_in(domain, user), **kw)
    finally:
        await domain.close()


async def open_proactive_case_elsewhere(url: str, title: str, opened_at: datetime = FROZEN_AT) -> int:
    """Another process opens a proactive case (a row and its event, one transaction)."""
    from pcso_tui.domain.core.event_kinds import CaseOpened
    from pcso_tui.domain.core.models import Case

    domain = await open_domain(url)
    try:
        async with domain.transaction(SYSTEM) as tx:
            case = Case(
                kind="proactive",
                state="new",
                major_case_state="none",
                short_description=title,
                opened_at=opened_at,
                updated_at=opened_at,
            )
            tx.session.add(case)
            await tx.session.flush()
            tx.record(case.id, CaseOpened(number=case_number(case.id), case_kind="proactive"))
            return case.id
    finally:
        await domain.close()
