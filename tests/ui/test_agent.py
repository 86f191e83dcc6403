"""The agent screen driven with keys: the proactive queue, the case detail, propose and notes."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from tests.domain.case_world import HOSTILE
from tests.ui.casework import build_case_world, open_domain, signed_in
from tests.ui.conftest import screen_text, until_ready, wait_for
from textual.pilot import Pilot

from pcso_tui.app import PcsoApp
from pcso_tui.domain.core.models import Case, JournalEntry
from pcso_tui.screens.agent import AgentScreen
from pcso_tui.screens.case_dialogs import FormDialog
from pcso_tui.screens.help import HelpScreen
from pcso_tui.widgets.case_detail import CaseDetailView


async def case_row(url: str, case_id: int) -> Case:
    domain = await open_domain(url)
    try:
        async with domain.reading() as session:
            case = await session.get(Case, case_id)
            assert case is not None
            return case
    finally:
        await domain.close()


async def journal_of(url: str, case_id: int) -> list[tuple[str, str, str]]:
    domain = await open_domain(url)
    try:
        async with domain.reading() as session:
            rows = await session.execute(
                select(JournalEntry.kind, JournalEntry.visibility, JournalEntry.body)
                .where(JournalEntry.case_id == case_id)
                .order_by(JournalEntry.id)
            )
            return [tuple(r) for r in rows]  # type: ignore[misc]
    finally:
        await domain.close()


def agent(app: PcsoApp) -> AgentScreen:
    screen = app.screen
    assert isinstance(screen, AgentScreen)
    return screen


async def opened(pilot: Pilot[Any], case_id: int) -> AgentScreen:
    await until_ready(pilot)
    screen = agent(pilot.app)  # type: ignore[arg-type]
    await wait_for(
        pilot,
        lambda: screen.detail.case is not None and screen.detail.case.id == case_id,
        what="the case in the detail",
    )
    await pilot.pause()
    return screen


def notifications(app: PcsoApp) -> list[str]:
    return [n.message for n in app._notifications]


async def type_text(pilot: Pilot[Any], text: str) -> None:
    await pilot.press(*["space" if c == " " else c for c in text])


async def propose_with_keys(pilot: Pilot[Any], reason: str, impact: str) -> FormDialog[Any]:
    app = pilot.app
    await pilot.press("p")
    await wait_for(pilot, lambda: isinstance(app.screen, FormDialog), what="the propose dialog")
    dialog = app.screen
    assert isinstance(dialog, FormDialog)
    await type_text(pilot, reason)
    await pilot.press("tab")
    await type_text(pilot, impact)
    await pilot.press("enter")
    return dialog


async def test_the_queue_and_detail_show_the_case_its_incident_and_what_it_affects(world_url, make_app) -> None:
    world = await build_case_world(world_url)
    app = make_app(world_url, "agent")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await opened(pilot, world.case_id)
        number = f"CS{world.case_id:07d}"
        assert screen.queue.row_plain(world.case_id)[:6] == (
            number,
            "P1 critical",
            "0s",
            "6",
            "INC0000001 in_progress",
            "○ new",
        )
        detail = screen.detail
        accounts = detail.query_one("#detail-accounts")
        assert sorted(accounts.row_keys()) == sorted(
            world.world.accounts[n] for n in world.world.accounts if n not in ("ACC-X", "ACC-LATE")
        )
        items = detail.query_one("#detail-items")
        assert len(items.row_keys()) == 6
        summary = detail.query_one("#detail-summary").render()
        assert "Incident INC0000001 · ◑ in_progress · ✖ critical" in str(summary)
        assert "Alert" in str(summary) and "critical alert · ✖ critical · open · host-1" in str(summary)
        # The recommendation for the case (nothing similar here) takes a line or two, no more.
        recommendations = screen.query_one("#recommendations")
        assert [c.id for c in recommendations.children] == ["agent-recommendation"]
        assert recommendations.outer_size.height <= 4


async def test_hostile_case_text_is_shown_literally(world_url, make_app) -> None:
    world = await build_case_world(world_url)
    app = make_app(world_url, "agent")
    async with app.run_test(size=(120, 40)) as pilot:
        await opened(pilot, world.case_id)
        text = screen_text(app)
        assert "\x1b" not in text
        assert "host-1 down [bold]red[/] \\x1b[2J [/" in text  # the incident's title, in the detail
        await pilot.press("p")
        await wait_for(pilot, lambda: isinstance(app.screen, FormDialog), what="the propose dialog")
        await pilot.pause()
        text = screen_text(app)
        assert "\x1b" not in text
        assert "host-1 down [bold]red[/] \\x1b[2J [/" in str(app.screen.about)  # type: ignore[attr-defined]


async def test_an_agent_proposes_a_case_with_keys_alone(world_url, make_app) -> None:
    world = await build_case_world(world_url)
    app = make_app(world_url, "agent")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await opened(pilot, world.case_id)
        # Required fields are checked before anything is sent.
        await pilot.press("p")
        await wait_for(pilot, lambda: isinstance(app.screen, FormDialog), what="the propose dialog")
        await pilot.press("ctrl+s")
        dialog = app.screen
        assert isinstance(dialog, FormDialog) and dialog.error == "Reason is required"
        await pilot.press("escape")
        assert (await case_row(world_url, world.case_id)).major_case_state == "none"

        await propose_with_keys(pilot, "six accounts down", "voice for six customers")
        await wait_for(pilot, lambda: app.screen is screen, what="the dialog to close")
        case = await case_row(world_url, world.case_id)
        assert (case.major_case_state, case.propose_reason, case.business_impact) == (
            "proposed",
            "six accounts down",
            "voice for six customers",
        )
        await wait_for(
            pilot, lambda: screen.queue.row_plain(world.case_id)[5] == "◇ proposed", what="the queue to follow"
        )
        await wait_for(
            pilot,
            lambda: "six accounts down" in str(screen.detail.query_one("#detail-summary").render()),
            what="the detail to follow",
        )


async def test_a_case_that_cannot_be_proposed_says_why_and_nothing_changes(world_url, make_app) -> None:
    world = await build_case_world(world_url)
    app = make_app(world_url, "agent")
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(pilot, world.case_id)
        await pilot.press("p")
        await wait_for(pilot, lambda: isinstance(app.screen, FormDialog), what="the propose dialog")
        dialog = app.screen
        assert isinstance(dialog, FormDialog)
        await type_text(pilot, "late")
        await pilot.press("tab")
        await type_text(pilot, "none")
        # Meanwhile someone else resolves the case.
        domain = await open_domain(world_url)
        try:
            from pcso_tui.domain.casework.cases import set_case_state

            await set_case_state(domain, await signed_in(domain, "agent"), world.case_id, "resolved")
        finally:
            await domain.close()
        before = await case_row(world_url, world.case_id)
        await pilot.press("enter")
        expected = f"CS{world.case_id:07d} is resolved: only new, open or awaiting_info cases can be proposed"
        await wait_for(pilot, lambda: dialog.error is not None, what="the refusal")
        assert dialog.error == expected
        assert app.screen is dialog  # still open, with what was typed
        assert dialog.values() == {"reason": "late", "business_impact": "none"}
        assert expected in notifications(app)
        await pilot.press("escape")
    after = await case_row(world_url, world.case_id)
    assert (after.major_case_state, after.version) == (before.major_case_state, before.version)


async def test_work_notes_and_customer_visible_comments_are_kept_apart(world_url, make_app) -> None:
    world = await build_case_world(world_url)
    app = make_app(world_url, "agent")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await opened(pilot, world.case_id)
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, FormDialog), what="the note dialog")
        await type_text(pilot, "checked the PBX")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: app.screen is screen, what="the note dialog to close")

        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, FormDialog), what="the note dialog")
        await type_text(pilot, "we are on it")
        await pilot.press("shift+tab", "down", "enter")  # the choice: customer-visible comment
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: app.screen is screen, what="the note dialog to close")

        lines = await journal_of(world_url, world.case_id)
        assert ("work_note", "internal", "checked the PBX") in lines
        assert ("comment", "customer", "we are on it") in lines
        detail = screen.query_one(CaseDetailView)
        await wait_for(
            pilot,
            lambda: "we are on it" in str(detail.query_one("#detail-comments").render()),
            what="the comment in the detail",
        )
        internal = str(detail.query_one("#detail-work-notes").render())
        customer = str(detail.query_one("#detail-comments").render())
        assert "checked the PBX" in internal and "[work note · internal]" in internal
        assert "we are on it" not in internal
        assert "[comment · customer-visible]" in customer and "checked the PBX" not in customer


async def test_the_queue_follows_changes_made_elsewhere_by_key(world_url, make_app) -> None:
    world = await build_case_world(world_url)
    app = make_app(world_url, "agent")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await opened(pilot, world.case_id)
        domain = await open_domain(world_url)
        try:
            from pcso_tui.domain.casework.cases import open_proactive_case
            from pcso_tui.domain.casework.major_cases import propose_major_case

            operator = await signed_in(domain, "operator")
            other = await open_proactive_case(domain, operator, world.world.other_incident_id)
            await propose_major_case(
                domain, await signed_in(domain, "agent"), world.case_id, reason=HOSTILE, business_impact="b"
            )
        finally:
            await domain.close()
        await wait_for(pilot, lambda: screen.queue.has_row(other.id), what="the new case in the queue")
        await wait_for(pilot, lambda: screen.queue.row_plain(world.case_id)[5] == "◇ proposed", what="the change")
        assert screen.queue.cursor_key == world.case_id  # the cursor stayed on its row
        await wait_for(
            pilot,
            lambda: HOSTILE.replace("\x1b", "\\x1b") in str(screen.detail.query_one("#detail-summary").render()),
            what="the proposal reason, literally",
        )
        await pilot.press("down")
        await wait_for(pilot, lambda: screen.detail.case is not None and screen.detail.case.id == other.id)


async def test_help_and_footer_name_the_agent_keys(world_url, make_app) -> None:
    world = await build_case_world(world_url)
    app = make_app(world_url, "agent")
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(pilot, world.case_id)
        footer = screen_text(app).splitlines()[-1]
        assert "p Propose" in footer and "n Note" in footer
        # Narrow as it is, the footer keeps help and quit (the rest are listed in help).
        assert "? Help" in footer and "q Quit" in footer
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), what="help")
        listed = {(keys, what) for keys, what, _ in app.screen.listed()}  # type: ignore[attr-defined]
        assert {("p", "Propose"), ("n", "Note"), ("t", "Customer wording"), ("w", "Customer's view")} <= listed
        await pilot.press("escape")
        from pcso_tui.widgets.palette import WorkspaceCommands

        hits = [hit async for hit in WorkspaceCommands(app.screen).search("propose")]
        assert [hit.text for hit in hits] == [f"Case: propose CS{world.case_id:07d} as a major case"]
        hits[0].command()
        await wait_for(pilot, lambda: isinstance(app.screen, FormDialog), what="the propose dialog from the palette")


async def test_an_agent_words_what_customers_are_told(world_url, make_app) -> None:
    world = await build_case_world(world_url)
    before = await case_row(world_url, world.case_id)
    app = make_app(world_url, "agent")
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(pilot, world.case_id)
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), what="help")
        listed = {(keys, what) for keys, what, _ in app.screen.listed()}  # type: ignore[attr-defined]
        assert ("t", "Customer wording") in listed
        await pilot.press("escape")
        await pilot.press("t")
        await wait_for(pilot, lambda: isinstance(app.screen, FormDialog), what="the wording dialog")
        dialog = app.screen
        assert isinstance(dialog, FormDialog)
        assert dialog.values() == {"title": before.public_title, "summary": before.public_summary}
        await pilot.press("tab")
        dialog.query_one("#field-summary").text = ""  # type: ignore[attr-defined]
        await type_text(pilot, "Some calls to landlines fail.")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: not isinstance(app.screen, FormDialog), what="the dialog to close")
        after = await case_row(world_url, world.case_id)
        assert (after.public_title, after.public_summary) == (before.public_title, "Some calls to landlines fail.")
        assert f"CS{world.case_id:07d}: customer-facing wording saved" in notifications(app)
