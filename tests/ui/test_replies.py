"""The agents' reply queue: a customer's reply on a child case is listed with its account, child
and major case number, and answered with a customer-visible comment (keys only)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from tests.ui.casework import build_case_world, open_domain, signed_in
from tests.ui.conftest import Messages, screen_text, wait_for
from tests.ui.test_agent import opened, type_text

from pcso_tui.domain.casework import major_cases as mc
from pcso_tui.domain.casework.portal import reply_to_case
from pcso_tui.domain.casework.replies import list_replies
from pcso_tui.domain.core.errors import PermissionDenied
from pcso_tui.domain.core.models import Case, JournalEntry
from pcso_tui.screens.case_dialogs import FormDialog
from pcso_tui.screens.replies import ReplyQueueScreen

HOSTILE_REPLY = "Still down [bold]here[/] \x1b[2J"


async def _child_with_reply(url: str) -> tuple[int, int, int]:
    """Approve the world's case; the customer (ACC-T1) replies on their child case."""
    world = await build_case_world(url)
    domain = await open_domain(url)
    try:
        agent = await signed_in(domain, "agent")
        await mc.propose_major_case(domain, agent, world.case_id, reason="r", business_impact="b")
        result = await mc.approve_major_case(domain, await signed_in(domain, "manager"), world.case_id)
        async with domain.reading() as session:
            child_id = await session.scalar(
                select(Case.id).where(
                    Case.parent_id == result.major_case_id, Case.account_id == world.world.accounts["ACC-T1"]
                )
            )
        assert child_id is not None
        await reply_to_case(domain, await signed_in(domain, "customer"), child_id, HOSTILE_REPLY)
        return world.case_id, result.major_case_id, child_id
    finally:
        await domain.close()


async def test_an_agent_answers_a_reply_on_a_child_case(world_url: str, make_app: Any, messages: Messages) -> None:
    case_id, major_id, child_id = await _child_with_reply(world_url)
    app = make_app(world_url, "agent")
    async with app.run_test(size=(120, 30), message_hook=messages) as pilot:
        agent_screen = await opened(pilot, case_id)
        await pilot.press("y")
        await messages.wait(pilot, "replies", what="the reply queue")
        queue = app.screen
        assert isinstance(queue, ReplyQueueScreen)
        (reply,) = queue.replies.values()
        row = queue.table.row_plain(reply.entry_id)
        assert row[1:5] == ("ACC-T1", f"CS{child_id:07d}", f"CS{major_id:07d}", "● waiting")
        assert row[5].startswith("Still down [bold]here[/]") and "\x1b" not in screen_text(app)

        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, FormDialog), what="the answer form")
        await type_text(pilot, "We are on it")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: app.screen is queue and not queue.replies, what="the reply answered")
        await pilot.press("u")  # answered ones too
        await wait_for(pilot, lambda: len(queue.replies) == 1, what="the answered reply")
        assert queue.table.row_plain(reply.entry_id)[4] == "✔ answered"
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is agent_screen, what="back to the queue")

    domain = await open_domain(world_url)
    try:
        async with domain.reading() as session:
            lines = (
                await session.execute(
                    select(JournalEntry.kind, JournalEntry.visibility, JournalEntry.body).where(
                        JournalEntry.case_id == child_id
                    )
                )
            ).all()
        assert ("comment", "customer", "We are on it") in [tuple(r) for r in lines]
    finally:
        await domain.close()


async def test_the_reply_queue_is_for_agents(world_url: str) -> None:
    await _child_with_reply(world_url)
    domain = await open_domain(world_url)
    try:
        with pytest.raises(PermissionDenied):
            await list_replies(domain, await signed_in(domain, "operator"))
        (reply,) = await list_replies(domain, await signed_in(domain, "manager"))
        assert reply.account_number == "ACC-T1" and not reply.answered
    finally:
        await domain.close()
