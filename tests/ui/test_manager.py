"""The manager screen driven with keys: a proactive case goes proposed (on the agent screen) →
approved → statement → resolved → closed, with the domain checked after every step; reject;
the timeline growing as events arrive; refusals shown with their text; hostile text literal."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from tests.domain.case_world import HOSTILE
from tests.ui.casework import build_case_world, open_domain, signed_in
from tests.ui.conftest import screen_text, until_ready, wait_for
from tests.ui.test_agent import notifications, opened, propose_with_keys, type_text
from textual.pilot import Pilot
from textual.widgets import Input

from pcso_tui.app import PcsoApp
from pcso_tui.domain.core.event_kinds import NoticesDelivered
from pcso_tui.domain.core.models import Case, JournalEntry, Notice, Outage, Statement
from pcso_tui.domain.core.text import printable
from pcso_tui.domain.core.views import case_number, outage_number
from pcso_tui.screens.case_dialogs import ConfirmDialog, FormDialog
from pcso_tui.screens.help import HelpScreen
from pcso_tui.screens.manager import ManagerScreen


async def snapshot(url: str, case_id: int) -> dict[str, Any]:
    """The candidate, its major case and the major case's children, notices and statements."""
    domain = await open_domain(url)
    try:
        async with domain.reading() as session:
            candidate = await session.get(Case, case_id)
            assert candidate is not None
            major_id = candidate.parent_id
            children = (
                list(await session.scalars(select(Case).where(Case.parent_id == major_id).order_by(Case.id)))
                if major_id
                else []
            )
            major = await session.get(Case, major_id) if major_id else None
            notices = list(await session.scalars(select(Notice).order_by(Notice.id)))
            outages = list(await session.scalars(select(Outage).where(Outage.case_id == major_id))) if major_id else []
            statements = list(await session.scalars(select(Statement).order_by(Statement.id)))
            statement_lines = {
                cid
                for (cid,) in await session.execute(
                    select(JournalEntry.case_id).where(JournalEntry.statement_id.is_not(None))
                )
            }
            return {
                "candidate": candidate,
                "major": major,
                "children": children,
                "notices": notices,
                "statements": statements,
                "statement_lines": statement_lines,
                "outages": outages,
            }
    finally:
        await domain.close()


async def as_user(url: str, user: str, call: Any) -> Any:
    domain = await open_domain(url)
    try:
        return await call(domain, await signed_in(domain, user))
    finally:
        await domain.close()


def manager(app: PcsoApp) -> ManagerScreen:
    screen = app.screen
    assert isinstance(screen, ManagerScreen)
    return screen


async def showing(pilot: Pilot[Any], case_id: int) -> ManagerScreen:
    screen = manager(pilot.app)  # type: ignore[arg-type]
    await wait_for(
        pilot,
        lambda: screen.detail is not None and screen.detail.case.id == case_id and screen.selected_id == case_id,
        what=f"case {case_id} in the detail",
    )
    await pilot.pause()
    return screen


async def dialog_of(pilot: Pilot[Any], kind: type) -> Any:
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, kind), what=f"a {kind.__name__}")
    await pilot.pause()
    return pilot.app.screen


async def closed(pilot: Pilot[Any], screen: ManagerScreen) -> None:
    await wait_for(pilot, lambda: pilot.app.screen is screen, what="the dialog to close")


async def test_a_proactive_case_goes_all_the_way_to_closed_with_keys_alone(world_url, make_app) -> None:
    world = await build_case_world(world_url)
    case_id = world.case_id

    # 1. The agent proposes it.
    app = make_app(world_url, "agent")
    async with app.run_test(size=(80, 24)) as pilot:
        agent_screen = await opened(pilot, case_id)
        await propose_with_keys(pilot, "six accounts down", "voice down [bold]red[/] [/")
        await wait_for(pilot, lambda: app.screen is agent_screen, what="the propose dialog to close")
    state = await snapshot(world_url, case_id)
    assert state["candidate"].major_case_state == "proposed" and state["major"] is None

    # 2. The manager approves, writes a statement, resolves and closes.
    app = make_app(world_url, "manager")
    async with app.run_test(size=(80, 24)) as pilot:
        await until_ready(pilot)
        screen = await showing(pilot, case_id)
        assert screen.queue.row_plain(case_id)[:5] == (
            f"CS{case_id:07d}",
            "◇ proposed",
            "6",
            "—",
            "voice down [bold]red[/] [/",
        )
        assert screen.check_action("statement", ()) is False  # not until it is a major case

        await pilot.press("a")
        dialog = await dialog_of(pilot, ConfirmDialog)
        about = str(dialog.about)
        assert "A new major case is opened" in about
        # 4: ACC-NOC has no primary contact, but notify = "all" tells its other one.
        assert "6 child cases for 6 affected accounts, 4 notices queued (2 skipped" in about
        assert "It goes on the status page as a service disruption." in about
        await pilot.press("y")
        await closed(pilot, screen)
        state = await snapshot(world_url, case_id)
        major = state["major"]
        assert major is not None and (major.kind, major.major_case_state, major.state) == ("major", "accepted", "open")
        assert len(state["children"]) == 7  # one per affected account, and the candidate
        assert len({c.account_id for c in state["children"] if c.kind == "child"}) == 6
        assert len([n for n in state["notices"] if n.idempotency_key.startswith("approved:")]) == 6  # 4 + 2 skipped
        (outage,) = state["outages"]  # on the status page from the approval on
        assert (outage.type, outage.title, outage.ends_at) == ("unplanned", "svc-1: service disruption", None)
        screen = await showing(pilot, major.id)  # the new major case is selected
        assert not screen.queue.has_row(case_id)
        assert any(line.category == "approval" for line in screen.timeline.lines)

        await pilot.press("s")
        dialog = await dialog_of(pilot, FormDialog)
        assert "Goes to 7 open child cases" in str(dialog.about)
        await type_text(pilot, "We know and are fixing it")
        await pilot.press("ctrl+s")
        await closed(pilot, screen)
        state = await snapshot(world_url, case_id)
        assert [s.body for s in state["statements"]] == ["We know and are fixing it"]
        assert {c.id for c in state["children"]} <= state["statement_lines"]  # on every child
        assert len([n for n in state["notices"] if n.idempotency_key.startswith("statement:")]) == 6
        await wait_for(
            pilot, lambda: any(line.category == "statement" for line in screen.timeline.lines), what="the statement"
        )

        # A child canceled meanwhile is left alone by the cascade.
        canceled = next(c.id for c in state["children"] if c.kind == "child")

        async def cancel(domain: Any, actor: Any) -> Any:
            from pcso_tui.domain.casework.cases import set_case_state

            return await set_case_state(domain, actor, canceled, "canceled")

        await as_user(world_url, "agent", cancel)

        await pilot.press("r")
        await dialog_of(pilot, FormDialog)
        await type_text(pilot, "fixed")
        await pilot.press("tab")
        await type_text(pilot, "host replaced")
        await pilot.press("ctrl+s")
        await closed(pilot, screen)
        state = await snapshot(world_url, case_id)
        assert (state["major"].state, state["major"].resolution_code) == ("resolved", "fixed")
        assert [o.ends_at for o in state["outages"]] == [state["major"].resolved_at]  # off the status page
        by_id = {c.id: c for c in state["children"]}
        assert by_id[canceled].state == "canceled" and by_id[canceled].resolution_code is None
        others = [c for c in state["children"] if c.id != canceled]
        assert {(c.state, c.resolution_code, c.resolution_notes) for c in others} == {
            ("resolved", "fixed", "host replaced")
        }
        await wait_for(pilot, lambda: screen.check_action("close_case", ()) is True, what="close to be offered")

        # One child reopened after the resolution: closing closes it, and only it.
        reopened = others[0].id

        async def reopen(domain: Any, actor: Any) -> Any:
            from pcso_tui.domain.casework.cases import set_case_state

            return await set_case_state(domain, actor, reopened, "open")

        await as_user(world_url, "agent", reopen)

        await pilot.press("c")
        dialog = await dialog_of(pilot, ConfirmDialog)
        await pilot.press("y")
        await closed(pilot, screen)
        state = await snapshot(world_url, case_id)
        assert state["major"].state == "closed"
        by_id = {c.id: c for c in state["children"]}
        assert by_id[reopened].state == "closed"
        assert by_id[canceled].state == "canceled"
        assert {c.state for c in state["children"] if c.id not in (reopened, canceled)} == {"resolved"}
        await wait_for(pilot, lambda: not screen.queue.has_row(major.id), what="the closed case to leave the queue")


async def proposed_world(url: str, *, impact: str = "voice down") -> int:
    world = await build_case_world(url)

    async def propose(domain: Any, actor: Any) -> Any:
        from pcso_tui.domain.casework.major_cases import propose_major_case

        return await propose_major_case(domain, actor, world.case_id, reason="many down", business_impact=impact)

    await as_user(url, "agent", propose)
    return world.case_id


async def test_a_proposal_is_rejected_with_a_reason(world_url, make_app) -> None:
    case_id = await proposed_world(world_url)
    app = make_app(world_url, "manager")
    async with app.run_test(size=(80, 24)) as pilot:
        await until_ready(pilot)
        screen = await showing(pilot, case_id)
        await pilot.press("x")
        dialog = await dialog_of(pilot, FormDialog)
        await pilot.press("enter")
        assert dialog.error == "Reason is required" and app.screen is dialog
        await type_text(pilot, "one customer only")
        await pilot.press("enter")
        await closed(pilot, screen)
        state = await snapshot(world_url, case_id)
        assert (state["candidate"].major_case_state, state["candidate"].reject_reason) == (
            "rejected",
            "one customer only",
        )
        assert state["major"] is None and state["notices"] == []
        await wait_for(pilot, lambda: not screen.queue.has_row(case_id), what="the proposal to leave the queue")


async def test_the_timeline_grows_as_events_arrive(world_url, make_app) -> None:
    case_id = await proposed_world(world_url)

    async def approve(domain: Any, actor: Any) -> Any:
        from pcso_tui.domain.casework.major_cases import approve_major_case

        return await approve_major_case(domain, actor, case_id)

    approval = await as_user(world_url, "manager", approve)
    major_id = approval.major_case_id
    app = make_app(world_url, "manager")
    async with app.run_test(size=(140, 40)) as pilot:
        await until_ready(pilot)
        screen = await showing(pilot, major_id)
        before = len(screen.timeline.lines)

        async def progress(domain: Any, actor: Any) -> Any:
            from pcso_tui.domain.operations.incidents import add_incident_note

            incident_id = screen.detail.case.incident_id  # type: ignore[union-attr]
            return await add_incident_note(domain, actor, incident_id, f"ETA one hour {HOSTILE}", kind="progress")

        await as_user(world_url, "operator", progress)
        await wait_for(pilot, lambda: len(screen.timeline.lines) == before + 1, what="the incident update")
        assert screen.timeline.lines[-1].category == "incident"
        # The text comes with the reload, literally.
        await wait_for(
            pilot,
            lambda: screen.timeline.lines[-1].detail == f"ETA one hour {HOSTILE}",
            what="the update's text",
        )
        await pilot.pause()
        assert "ETA one hour [bold]red[/] \\x1b[2J [/" in screen_text(app)

        # Two delivery batches close together are one line.
        async def deliver(domain: Any, actor: Any) -> None:
            async with domain.transaction(actor) as tx:
                tx.record(major_id, NoticesDelivered(sent=2, retrying=0, dead=0, skipped=0))
            async with domain.transaction(actor) as tx:
                tx.record(major_id, NoticesDelivered(sent=1, retrying=0, dead=1, skipped=0))

        await as_user(world_url, "admin", deliver)
        await wait_for(
            pilot,
            lambda: screen.timeline.lines[-1].title == "3 notices delivered, 1 failed",
            what="the grouped deliveries",
        )
        assert len(screen.timeline.lines) == before + 2
        assert "3 notices delivered, 1 failed" in screen_text(app)


async def test_a_refusal_keeps_the_dialog_and_names_the_reason(world_url, make_app) -> None:
    case_id = await proposed_world(world_url)

    async def approve(domain: Any, actor: Any) -> Any:
        from pcso_tui.domain.casework.major_cases import approve_major_case

        return await approve_major_case(domain, actor, case_id)

    major_id = (await as_user(world_url, "manager", approve)).major_case_id
    app = make_app(world_url, "manager")
    async with app.run_test(size=(80, 24)) as pilot:
        await until_ready(pilot)
        screen = await showing(pilot, major_id)
        await pilot.press("s")
        dialog = await dialog_of(pilot, FormDialog)
        await type_text(pilot, "too late")

        async def finish(domain: Any, actor: Any) -> None:
            from pcso_tui.domain.casework.major_cases import close_major_case, resolve_major_case

            await resolve_major_case(domain, actor, major_id, code="fixed", notes="done")
            await close_major_case(domain, actor, major_id)

        await as_user(world_url, "manager", finish)
        await pilot.press("ctrl+s")
        expected = f"CS{major_id:07d} is closed and takes no more statements"
        await wait_for(pilot, lambda: dialog.error is not None, what="the refusal")
        assert dialog.error == expected and app.screen is dialog
        assert expected in notifications(app)
        assert (await snapshot(world_url, case_id))["statements"] == []
        await pilot.press("escape")
        await closed(pilot, screen)


async def test_the_manager_keys_follow_the_case_and_appear_in_help(world_url, make_app) -> None:
    case_id = await proposed_world(world_url)
    app = make_app(world_url, "manager")
    async with app.run_test(size=(80, 24)) as pilot:
        await until_ready(pilot)
        await showing(pilot, case_id)
        footer = screen_text(app).splitlines()[-1]
        assert "a Approve" in footer and "x Reject" in footer and "s Statement" not in footer
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), what="help")
        listed = {(keys, what) for keys, what, _ in app.screen.listed()}  # type: ignore[attr-defined]
        assert {("a", "Approve"), ("x", "Reject"), ("n", "Note")} <= listed
        await pilot.press("escape")
        # The palette offers the same, by name.
        from pcso_tui.widgets.palette import WorkspaceCommands

        offered = [hit.text async for hit in WorkspaceCommands(app.screen).discover()]
        number = f"CS{case_id:07d}"
        assert f"Major case: approve {number}" in offered
        assert f"Major case: reject the proposal of {number}" in offered
        assert f"Major case: statement on {number}" not in offered
        # The place for insight exists, empty and taking no room.
        insight = manager(app).query_one("#insight")
        assert len(insight.children) == 0 and insight.outer_size.height == 0


async def test_the_manager_words_what_customers_are_told_and_the_approval_shows_it(world_url, make_app) -> None:
    case_id = await proposed_world(world_url)

    async def wording_of(domain: Any, actor: Any) -> tuple[str | None, str | None, int]:
        async with domain.reading() as session:
            query = select(Case.public_title, Case.public_summary, Case.version).where(Case.id == case_id)
            row = (await session.execute(query)).one()
            return row.public_title, row.public_summary, row.version

    before = await as_user(world_url, "manager", wording_of)
    app = make_app(world_url, "manager")
    async with app.run_test(size=(80, 24)) as pilot:
        await until_ready(pilot)
        screen = await showing(pilot, case_id)
        await pilot.press("t")
        dialog = await dialog_of(pilot, FormDialog)
        assert "Customer-facing" in str(dialog.about)
        assert dialog.values() == {"title": before[0], "summary": before[1]}  # prefilled
        dialog.query_one("#field-title", Input).value = ""
        await type_text(pilot, "Calls to landlines fail")
        await pilot.press("ctrl+s")
        await closed(pilot, screen)
        after = await as_user(world_url, "manager", wording_of)
        assert after == ("Calls to landlines fail", before[1], before[2] + 1)
        assert f"Customer-facing wording saved: {case_number(case_id)}" in notifications(app)
        await pilot.press("a")
        confirm = await dialog_of(pilot, ConfirmDialog)
        assert "Customers are told: Calls to landlines fail" in str(confirm.about)
        await pilot.press("escape")


async def test_the_manager_words_the_status_page_outage(world_url, make_app) -> None:
    case_id = await proposed_world(world_url)

    async def approve(domain: Any, actor: Any) -> Any:
        from pcso_tui.domain.casework.major_cases import approve_major_case

        return await approve_major_case(domain, actor, case_id)

    major_id = (await as_user(world_url, "manager", approve)).major_case_id

    async def outage_of(domain: Any, actor: Any) -> Outage:
        async with domain.reading() as session:
            return (await session.scalars(select(Outage).where(Outage.case_id == major_id))).one()

    app = make_app(world_url, "manager")
    async with app.run_test(size=(80, 24)) as pilot:
        await until_ready(pilot)
        screen = await showing(pilot, major_id)
        await pilot.press("u")
        dialog = await dialog_of(pilot, FormDialog)
        assert "on the status page under" in str(dialog.about)
        # The major case's customer-facing title (the neutral template's until someone words it).
        assert dialog.values()["title"].endswith(": service disruption") and dialog.values()["details"] == ""
        await pilot.press("ctrl+s")  # nothing changed: the domain says so, the dialog stays
        await wait_for(pilot, lambda: dialog.error is not None, what="the refusal")
        assert dialog.error.startswith("nothing to change on OUT") and app.screen is dialog
        dialog.query_one("#field-title", Input).value = ""
        await pilot.press("ctrl+s")
        assert dialog.error == "Title is required"
        await type_text(pilot, "Calls failing [bold]now[/]")
        await pilot.press("tab")
        await type_text(pilot, "Calls to landlines fail.")
        await pilot.press("ctrl+s")
        await closed(pilot, screen)
        outage = await as_user(world_url, "manager", outage_of)
        assert (outage.title, outage.details, outage.version) == (
            "Calls failing [bold]now[/]",
            "Calls to landlines fail.",
            2,
        )
        assert "Status page updated: " + outage_number(outage.id) in notifications(app)

        # Hostile text (here written from the command line) comes back into the dialog as data:
        # markup literal, control characters made visible.
        async def hostile(domain: Any, actor: Any) -> Any:
            from pcso_tui.domain.communications.outages import update_outage

            return await update_outage(domain, actor, outage.id, title=HOSTILE, details=f"line 1\n{HOSTILE}")

        await as_user(world_url, "manager", hostile)
        await pilot.press("u")
        dialog = await dialog_of(pilot, FormDialog)
        assert dialog.values() == {
            "title": printable(HOSTILE),
            "details": printable(f"line 1\n{HOSTILE}", multiline=True),
        }
        assert "\x1b" not in screen_text(app) and "[bold]red[/]" in screen_text(app)
        await pilot.press("escape")
        await closed(pilot, screen)

        # Once its outage has ended there is nothing to word: said, not a traceback.
        async def end(domain: Any, actor: Any) -> Any:
            from pcso_tui.domain.communications.outages import end_outage

            return await end_outage(domain, actor, outage.id)

        await as_user(world_url, "manager", end)
        await pilot.press("u")
        no_outage = f"{case_number(major_id)} has no open outage on the status page"
        await wait_for(pilot, lambda: no_outage in notifications(app), what="the message")
        assert app.screen is screen
