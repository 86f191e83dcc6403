"""Screens that never go stale or contradict the case: the agent's ages tick, the manager's
detail follows an approval at once, a proposed case is not told it needs more cases, a
repeated proposal is flagged with the other's number, and keys that cannot apply say why."""

from __future__ import annotations

from typing import Any

from tests.conftest import FROZEN_AT
from tests.ui.casework import build_case_world
from tests.ui.conftest import screen_text, until_ready, wait_for
from tests.ui.test_agent import case_row, notifications, opened, propose_with_keys
from tests.ui.test_manager import as_user, closed, dialog_of, showing

from pcso_tui.domain.core.clock import FrozenClock
from pcso_tui.domain.core.views import case_number
from pcso_tui.screens.agent import AgentScreen
from pcso_tui.screens.case_dialogs import ConfirmDialog, FormDialog


async def test_the_age_column_ticks_without_a_query(world_url: str, make_app: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr(AgentScreen, "AGE_TICK_SECONDS", 0.05)
    world = await build_case_world(world_url)
    clock = FrozenClock(FROZEN_AT)
    app = make_app(world_url, "agent", clock=clock)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await opened(pilot, world.case_id)
        assert screen.queue.row_plain(world.case_id)[2] == "0s"
        clock.advance(seconds=75)
        await wait_for(pilot, lambda: screen.queue.row_plain(world.case_id)[2] == "1m", what="the age to tick")


async def test_a_proposed_case_says_so_and_p_refuses_at_once(world_url: str, make_app: Any) -> None:
    world = await build_case_world(world_url)
    number = case_number(world.case_id)
    app = make_app(world_url, "agent")
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await opened(pilot, world.case_id)
        await propose_with_keys(pilot, "six accounts down", "voice for six customers")
        await wait_for(pilot, lambda: app.screen is screen, what="the dialog to close")
        await wait_for(
            pilot,
            lambda: f"{number} is already proposed as a major case, with 6 accounts" in screen_text(app),
            what="the recommendation to say it is proposed",
        )
        assert "needs 10 cases" not in screen_text(app)
        before = await case_row(world_url, world.case_id)

        await pilot.press("p")  # refused at once: no form to fill in first
        expected = f"{number} is already proposed as a major case; the manager decides"
        await wait_for(pilot, lambda: expected in notifications(app), what="the refusal")
        assert app.screen is screen and not isinstance(app.screen, FormDialog)
        assert (await case_row(world_url, world.case_id)).version == before.version


async def test_a_second_proposal_on_the_same_incident_is_flagged(world_url: str, make_app: Any) -> None:
    world = await build_case_world(world_url)
    case = await case_row(world_url, world.case_id)
    from pcso_tui.domain.casework.major_cases import open_major_candidate, propose_major_case

    await as_user(
        world_url,
        "agent",
        lambda d, a: propose_major_case(d, a, world.case_id, reason="six down", business_impact="voice"),
    )
    other = await as_user(
        world_url,
        "agent",
        lambda d, a: open_major_candidate(
            d,
            a,
            short_description="Voice outage",
            reason="calls",
            business_impact="voice",
            incident_id=case.incident_id,
        ),
    )
    app = make_app(world_url, "agent")
    async with app.run_test(size=(120, 30)) as pilot:
        screen = await opened(pilot, world.case_id)
        await wait_for(
            pilot,
            lambda: screen.queue.row_plain(world.case_id)[5] == f"◇ proposed ≈ {other.number}",
            what="the flag in the queue",
        )
        await wait_for(
            pilot,
            lambda: f"Repeats proposal {other.number} (same incident" in screen_text(app),
            what="the flag in the detail",
        )

    app = make_app(world_url, "manager")
    async with app.run_test(size=(120, 30)) as pilot:
        await until_ready(pilot)
        screen = await showing(pilot, world.case_id)
        assert screen.queue.row_plain(world.case_id)[1] == f"◇ proposed ≈ {other.number}"
        assert screen.queue.row_plain(other.id)[1] == f"◇ proposed ≈ {case_number(world.case_id)}"
        assert f"Repeats proposal {other.number}" in screen_text(app)


async def test_after_an_approval_the_detail_shows_the_major_case_and_keys_say_why(
    world_url: str, make_app: Any
) -> None:
    world = await build_case_world(world_url)
    from pcso_tui.domain.casework.major_cases import propose_major_case

    await as_user(
        world_url,
        "agent",
        lambda d, a: propose_major_case(d, a, world.case_id, reason="six down", business_impact="voice"),
    )
    app = make_app(world_url, "manager")
    async with app.run_test(size=(100, 30)) as pilot:
        await until_ready(pilot)
        screen = await showing(pilot, world.case_id)
        await pilot.press("c")  # a proposal cannot be closed: said at once
        await wait_for(
            pilot,
            lambda: (
                f"{case_number(world.case_id)} is not a resolved major case: resolve it first (r)" in notifications(app)
            ),
            what="the refusal of c",
        )
        await pilot.press("a")
        await dialog_of(pilot, ConfirmDialog)
        await pilot.press("y")
        await closed(pilot, screen)
        candidate = await case_row(world_url, world.case_id)
        assert candidate.parent_id is not None
        # At once, before any read: the pane says what the proposal became (or shows it already).
        summary = screen.query_one("#major-summary")
        assert f"{case_number(world.case_id)} approved" in str(summary.render()) or (
            screen.detail is not None and screen.detail.case.id == candidate.parent_id
        )
        await showing(pilot, candidate.parent_id)
        await pilot.press("x")  # the major case is no proposal any more
        await wait_for(
            pilot,
            lambda: (
                f"{case_number(candidate.parent_id)} is not a proposal: only proposals are approved or rejected"
                in notifications(app)
            ),
            what="the refusal of x",
        )
        assert app.screen is screen


async def test_a_proposal_repeating_a_major_case_is_merged_with_one_key(world_url: str, make_app: Any) -> None:
    world = await build_case_world(world_url)
    from pcso_tui.domain.casework.cases import open_reactive_case
    from pcso_tui.domain.casework.major_cases import approve_major_case, propose_major_case

    case = await case_row(world_url, world.case_id)
    await as_user(
        world_url, "agent", lambda d, a: propose_major_case(d, a, world.case_id, reason="r", business_impact="b")
    )
    approved = await as_user(world_url, "manager", lambda d, a: approve_major_case(d, a, world.case_id))
    call = await as_user(
        world_url,
        "agent",
        lambda d, a: open_reactive_case(d, a, account_number="ACC-T1", short_description=case.short_description),
    )
    await as_user(world_url, "agent", lambda d, a: propose_major_case(d, a, call.id, reason="r", business_impact="b"))

    app = make_app(world_url, "manager")
    async with app.run_test(size=(120, 30)) as pilot:
        await until_ready(pilot)
        screen = await showing(pilot, call.id)  # the proposal first
        assert screen.queue.row_plain(call.id)[1] == f"◇ proposed ≈ {approved.major_case_number}"
        await pilot.press("m")
        dialog = await dialog_of(pilot, ConfirmDialog)
        assert f"repeats major case {approved.major_case_number}" in str(dialog.about)
        await pilot.press("y")
        await closed(pilot, screen)
        await wait_for(pilot, lambda: not screen.queue.has_row(call.id), what="the proposal gone from the queue")
    merged = await case_row(world_url, call.id)
    assert (merged.parent_id, merged.major_case_state) == (approved.major_case_id, "rejected")
