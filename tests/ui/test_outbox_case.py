"""The outbox opened on one major case: only its notices, each saying what it was about; m shows
every notice; Enter opens a notice with its recipient and message; the domain query behind it."""

from __future__ import annotations

from typing import Any

import pytest
from tests.ui.casework import build_case_world, open_domain, signed_in
from tests.ui.conftest import Messages, screen_text, until_ready, wait_for
from tests.ui.test_manager import showing

from pcso_tui.domain.casework import major_cases as mc
from pcso_tui.domain.communications.delivery import list_notices, notice_message
from pcso_tui.domain.core.errors import NotFound
from pcso_tui.screens.outbox import NoticeDialog, OutboxScreen


async def _two_major_cases(url: str) -> tuple[Any, Any, list[str]]:
    world = await build_case_world(url)
    accounts = list(world.world.accounts)
    domain = await open_domain(url)
    try:
        manager = await signed_in(domain, "manager")
        majors = []
        for title, numbers in (("Calls fail", accounts[:3]), ("Mail is slow", accounts[3:5])):
            candidate = await mc.open_major_candidate(
                domain, manager, short_description=title, reason="many", business_impact="b", account_numbers=numbers
            )
            majors.append(await mc.approve_major_case(domain, manager, candidate.id))
        return majors[0], majors[1], accounts
    finally:
        await domain.close()


async def test_the_outbox_of_one_major_case_says_what_each_notice_was_about(
    world_url: str, make_app: Any, messages: Messages
) -> None:
    first, second, _ = await _two_major_cases(world_url)
    app = make_app(world_url, "manager")
    async with app.run_test(size=(120, 30), message_hook=messages) as pilot:
        await until_ready(pilot)
        screen = await showing(pilot, first.major_case_id)
        await pilot.press("o")
        await messages.wait(pilot, "outbox", what="the outbox")
        outbox = app.screen
        assert isinstance(outbox, OutboxScreen) and outbox.case_id == first.major_case_id
        assert outbox.notices == {}  # dead first: none
        await pilot.press("f")  # pending
        await wait_for(pilot, lambda: len(outbox.notices) > 0, what="the case's pending notices")
        assert all(n.case_number != second.major_case_number for n in outbox.notices.values())
        abouts = {outbox.table.row_plain(key)[1] for key in outbox.table.row_keys()}
        assert all(a.startswith("declared CS") for a in abouts)
        assert f"Outbox of {first.major_case_number}" in screen_text(app)
        mine = len(outbox.notices)

        await pilot.press("m")  # every notice
        await wait_for(pilot, lambda: len(outbox.notices) > mine, what="every pending notice")
        await pilot.press("m")
        await wait_for(pilot, lambda: len(outbox.notices) == mine, what="the case's notices again")

        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, NoticeDialog), what="the notice")
        dialog = app.screen
        notice = dialog.message.notice
        assert notice.id == outbox.table.cursor_key
        assert f"To: {notice.contact_name}" in screen_text(app)
        assert "Not rendered yet" in screen_text(app)
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is outbox, what="back to the outbox")
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is screen, what="back to the queue")


async def test_notice_message_is_scoped_and_refuses_an_unknown_notice(world_url: str) -> None:
    first, _, _ = await _two_major_cases(world_url)
    domain = await open_domain(world_url)
    try:
        manager = await signed_in(domain, "manager")
        (notice, *_) = await list_notices(domain, manager, case_id=first.major_case_id)
        message = await notice_message(domain, manager, notice.id)
        assert message.notice == notice and message.subject is None  # rendered on its first attempt
        customer = await signed_in(domain, "customer")
        with pytest.raises(NotFound):  # not the customer's account
            await notice_message(domain, customer, notice.id)
        with pytest.raises(NotFound):
            await notice_message(domain, manager, 999_999)
    finally:
        await domain.close()
