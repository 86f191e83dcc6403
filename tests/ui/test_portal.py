"""The customer portal and the staff preview, driven with keys.

The world: ``tests/ui/portal_world.py`` (the ``customer`` user on ACC-T1, a major case with its
child, an outage, a statement and an article with hostile text, a reactive case of ACC-T1 and
one of ACC-2 the customer must never see).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import func, select
from tests.conftest import FROZEN_AT
from tests.ui.conftest import screen_text, until_ready, wait_for
from tests.ui.portal_world import HOSTILE, OTHER_SECRET, STATEMENT, PortalWorld, build_portal_world
from textual.pilot import Pilot
from textual.widgets import Input

from pcso_tui.app import PcsoApp
from pcso_tui.domain.core.clock import FrozenClock
from pcso_tui.domain.core.models import JournalEntry
from pcso_tui.domain.core.service import Domain
from pcso_tui.domain.core.text import printable
from pcso_tui.screens.agent import AgentScreen
from pcso_tui.screens.help import HelpScreen
from pcso_tui.screens.portal import PREVIEW_REFUSAL, PortalScreen, PreviewScreen, ReplyDialog


@pytest.fixture
def portal_world(world_url: str) -> tuple[str, PortalWorld]:
    return world_url, asyncio.run(build_portal_world(world_url))


def notifications(app: PcsoApp) -> list[str]:
    return [str(n.message) for n in app._notifications]


async def loaded(pilot: Pilot[Any]) -> PortalScreen:
    await until_ready(pilot)
    app = pilot.app
    await wait_for(
        pilot,
        lambda: (
            isinstance(app.screen, PortalScreen) and app.screen.account is not None and not app.screen.lists.running
        ),
        what="the portal",
    )
    screen = app.screen
    assert isinstance(screen, PortalScreen)
    await pilot.pause()
    return screen


async def select_case(pilot: Pilot[Any], screen: PortalScreen, case_id: int) -> None:
    await pilot.press("2")
    table = screen.table("cases")
    await wait_for(pilot, lambda: table.has_row(case_id), what="the case row")
    for _ in range(table.row_count):
        if table.cursor_key == case_id:
            break
        await pilot.press("down")
    assert table.cursor_key == case_id
    await wait_for(
        pilot,
        lambda: screen.case_detail is not None and screen.case_detail.case.id == case_id,
        what="the case detail",
    )


async def journal(url: str, case_id: int) -> list[JournalEntry]:
    domain = await Domain.open(url)
    try:
        async with domain.reading() as session:
            return list(await session.scalars(select(JournalEntry).where(JournalEntry.case_id == case_id)))
    finally:
        await domain.close()


async def journal_count(url: str) -> int:
    domain = await Domain.open(url)
    try:
        async with domain.reading() as session:
            return await session.scalar(select(func.count()).select_from(JournalEntry)) or 0
    finally:
        await domain.close()


async def test_customer_replies_with_keys(portal_world: tuple[str, PortalWorld], make_app: Any) -> None:
    url, world = portal_world
    app = make_app(url, "customer")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await loaded(pilot)
        await select_case(pilot, screen, world.child_id)
        assert STATEMENT.split(" [")[0] in screen_text(app)
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, ReplyDialog), what="the reply form")
        await pilot.press(*"Still", "space", *"down")
        app.screen.query_one("#body", Input).value += f" {HOSTILE}"
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen is screen, what="the form to close")
        await wait_for(
            pilot,
            lambda: screen.case_detail is not None and screen.case_detail.updates[-1].kind == "reply",
            what="the reply in the case",
        )
        assert f"Reply sent on CS{world.child_id:07d}" in notifications(app)
        await pilot.pause()
        # Shown literally: the markup as typed, the escape made visible.
        assert f"Still down {printable(HOSTILE)}" in screen_text(app)
    lines = await journal(url, world.child_id)
    reply = lines[-1]
    assert (reply.kind, reply.visibility, reply.body, reply.author_name) == (
        "reply",
        "customer",
        f"Still down {HOSTILE}",
        "customer",
    )


async def test_an_empty_reply_keeps_the_form_and_esc_changes_nothing(
    portal_world: tuple[str, PortalWorld], make_app: Any
) -> None:
    url, world = portal_world
    before = await journal_count(url)
    app = make_app(url, "customer")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await loaded(pilot)
        await select_case(pilot, screen, world.reactive_id)
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, ReplyDialog), what="the reply form")
        dialog = app.screen
        assert isinstance(dialog, ReplyDialog)
        await pilot.press("space", "enter")
        await pilot.pause()
        assert app.screen is dialog and dialog.error == "the reply is empty"
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is screen, what="the form to close")
    assert await journal_count(url) == before


async def test_hostile_text_is_literal_and_other_accounts_never_show(
    portal_world: tuple[str, PortalWorld], make_app: Any
) -> None:
    url, world = portal_world
    app = make_app(url, "customer")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await loaded(pilot)
        texts = [screen_text(app)]
        assert f"Voice down {printable(HOSTILE)}" in texts[0]
        for key in ("2", "3"):
            await pilot.press(key)
            await pilot.pause()
            texts.append(screen_text(app))
        assert f"Forward calls {printable(HOSTILE)}" in texts[-1]
        assert set(screen.table("cases").row_keys()) == {world.child_id, world.reactive_id}
        assert set(screen.table("outages").row_keys()) == {world.outage_id}
        for text in texts:
            assert OTHER_SECRET not in text and "ACC-2" not in text and "INTERNAL-NOTE" not in text
            assert "\x1b" not in text


async def test_live_update_shows_a_new_statement(portal_world: tuple[str, PortalWorld], make_app: Any) -> None:
    from pcso_tui.domain.casework.major_cases import post_statement
    from pcso_tui.domain.core.users import sign_in

    url, world = portal_world
    app = make_app(url, "customer")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await loaded(pilot)
        await select_case(pilot, screen, world.child_id)
        assert screen.case_detail is not None and screen.case_detail.updates_total == 1
        domain = await Domain.open(url, clock=FrozenClock(FROZEN_AT))
        try:
            await post_statement(domain, await sign_in(domain, "manager"), world.major_id, "Fixed at 10:15")
        finally:
            await domain.close()
        await wait_for(
            pilot,
            lambda: screen.case_detail is not None and screen.case_detail.updates_total == 2,
            what="the statement to arrive",
        )
        await pilot.press("1")
        await wait_for(pilot, lambda: "Fixed at 10:15" in screen_text(app), what="the outage's latest statement")


async def test_palette_offers_the_views_and_the_reply(portal_world: tuple[str, PortalWorld], make_app: Any) -> None:
    url, _ = portal_world
    app = make_app(url, "customer")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await loaded(pilot)
        assert [c.name for c in screen.palette_commands()] == ["Portal: Cases", "Portal: Articles"]
        await pilot.press("2")
        assert [c.name for c in screen.palette_commands()] == ["Portal: Outages", "Portal: Articles", "Portal: Reply"]


async def test_keys_are_in_the_help_screen(portal_world: tuple[str, PortalWorld], make_app: Any) -> None:
    url, _ = portal_world
    app = make_app(url, "customer")
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot)
        await pilot.press("2", "question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), what="help")
        text = screen_text(app)
        for words in ("Outages", "Cases", "Articles", "Reply", "Next view"):
            assert words in text, words


# --- staff preview --------------------------------------------------------------------------


async def test_agent_preview_is_read_only(portal_world: tuple[str, PortalWorld], make_app: Any) -> None:
    url, world = portal_world
    before = await journal_count(url)
    app = make_app(url, "agent", preview_account="ACC-T1")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await loaded(pilot)
        assert isinstance(screen, PreviewScreen) and screen.account is not None and screen.account.preview
        assert "PREVIEW read-only" in screen_text(app) and "Portal preview" in screen_text(app)
        assert set(screen.table("cases").row_keys()) == {world.child_id, world.reactive_id}
        await select_case(pilot, screen, world.reactive_id)
        await pilot.press("r")
        await pilot.pause()
        assert app.screen is screen  # no form
        assert PREVIEW_REFUSAL in notifications(app)
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, AgentScreen), what="back on the agent screen")
    assert await journal_count(url) == before


async def test_other_screens_push_the_preview(portal_world: tuple[str, PortalWorld], make_app: Any) -> None:
    url, world = portal_world
    app = make_app(url, "manager")
    async with app.run_test(size=(80, 24)) as pilot:
        await until_ready(pilot)
        home = app.screen
        await app.push_screen(PreviewScreen("ACC-2"))
        screen = await loaded(pilot)
        assert set(screen.table("cases").row_keys()) >= {world.other_id}
        assert world.reactive_id not in screen.table("cases").row_keys()
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is home, what="the manager screen")


async def test_operators_may_not_preview(portal_world: tuple[str, PortalWorld], make_app: Any) -> None:
    url, _ = portal_world
    app = make_app(url, "operator", preview_account="ACC-T1")
    async with app.run_test(size=(80, 24)) as pilot:
        await until_ready(pilot)
        await wait_for(
            pilot,
            lambda: any("may not preview what an account sees" in n for n in notifications(app)),
            what="the refusal",
        )
        screen = app.screen
        assert isinstance(screen, PreviewScreen) and screen.table("cases").row_count == 0


async def test_pcso_portal_is_refused_to_staff_without_preview(
    portal_world: tuple[str, PortalWorld], make_app: Any
) -> None:
    url, _ = portal_world
    app = make_app(url, "agent", start_mode="portal")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.failure is not None, what="the refusal")
        assert "pcso portal --preview ACCOUNT" in app.failure.message
        assert "--preview" in screen_text(app)


async def test_pcso_portal_opens_the_portal_for_a_customer(
    portal_world: tuple[str, PortalWorld], make_app: Any
) -> None:
    url, _ = portal_world
    app = make_app(url, "customer", start_mode="portal")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await loaded(pilot)
        assert app.current_mode == "portal" and not screen.preview
