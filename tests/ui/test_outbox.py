"""The outbox from the manager screen, with keys only: a dead notice is listed with its reason
(shown literally) and queued again with r; R retries every dead one after a confirmation."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from tests.ui.casework import build_case_world, open_domain, signed_in
from tests.ui.conftest import Messages, screen_text, until_ready, wait_for

from pcso_tui.domain.casework import major_cases as mc
from pcso_tui.domain.core.models import Notice
from pcso_tui.screens.manager import ManagerScreen
from pcso_tui.screens.outbox import OutboxScreen

REASON = "550 mailbox [bold]gone[/] \x1b[2J"


async def _states(url: str) -> dict[str, int]:
    domain = await open_domain(url)
    try:
        async with domain.reading() as session:
            rows = (await session.execute(select(Notice.state, Notice.id))).all()
    finally:
        await domain.close()
    out: dict[str, int] = {}
    for state, _ in rows:
        out[state] = out.get(state, 0) + 1
    return out


async def test_dead_notices_are_listed_with_their_reason_and_retried(
    world_url: str, make_app: Any, messages: Messages
) -> None:
    world = await build_case_world(world_url)
    domain = await open_domain(world_url)
    try:
        manager = await signed_in(domain, "manager")
        candidate = await mc.open_major_candidate(
            domain,
            manager,
            short_description="Calls fail",
            reason="many",
            business_impact="calls",
            account_numbers=list(world.world.accounts)[:3],
        )
        await mc.approve_major_case(domain, manager, candidate.id)
        async with domain.transaction(manager) as tx:
            ids = list(await tx.session.scalars(select(Notice.id).order_by(Notice.id)))
            await tx.session.execute(
                update(Notice).where(Notice.id.in_(ids[:2])).values(state="dead", attempts=8, last_error=REASON)
            )
    finally:
        await domain.close()
    assert (await _states(world_url))["dead"] == 2

    app = make_app(world_url, "manager")
    async with app.run_test(size=(110, 30), message_hook=messages) as pilot:
        await until_ready(pilot)
        assert isinstance(app.screen, ManagerScreen)
        await pilot.press("o")
        await messages.wait(pilot, "outbox", what="the outbox")
        assert isinstance(app.screen, OutboxScreen)
        assert len(app.screen.notices) == 2
        table = app.screen.table
        reasons = [table.row_plain(key)[-1] for key in table.row_keys()]
        assert all(r.startswith("550 mailbox [bold]gone[/]") and "\x1b" not in r for r in reasons)
        assert "\x1b" not in screen_text(app) and "550 mailbox" in screen_text(app)
        await pilot.press("r")
        await wait_for(pilot, lambda: len(app.screen.notices) == 1, what="the retried notice gone from the dead")
        assert (await _states(world_url))["dead"] == 1
        await pilot.press("R")
        await wait_for(pilot, lambda: app.screen.__class__.__name__ == "ConfirmDialog")
        await pilot.press("y")
        await wait_for(pilot, lambda: isinstance(app.screen, OutboxScreen) and not app.screen.notices)
    assert "dead" not in await _states(world_url)
