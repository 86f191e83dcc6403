"""Workaround articles from the workspace, keys only: the manager writes one on a major case
(with the customer's view beside the text), edits it, and keys that cannot apply say why."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from tests.ui.casework import build_case_world, open_domain
from tests.ui.conftest import until_ready, wait_for
from tests.ui.test_agent import notifications, opened, type_text
from tests.ui.test_manager import as_user, showing

from pcso_tui.domain.casework import major_cases as mc
from pcso_tui.domain.core.models import Article, CaseArticle
from pcso_tui.domain.core.views import case_number
from pcso_tui.screens.article_dialogs import ArticleDialog, customer_preview


async def _articles(url: str) -> list[tuple[str, str, int | None]]:
    domain = await open_domain(url)
    try:
        async with domain.reading() as session:
            rows = await session.execute(
                select(Article.title, Article.body, CaseArticle.case_id).outerjoin(
                    CaseArticle, CaseArticle.article_id == Article.id
                )
            )
            return [tuple(r) for r in rows]  # type: ignore[misc]
    finally:
        await domain.close()


def test_the_preview_is_what_customers_get() -> None:
    shown = customer_preview("Use\tthe [bold]backup[/]", "Line one\r\nLine \x1b[2J two\u202e")
    assert shown.plain == "Use the [bold]backup[/]\n\nLine one\nLine \\x1b[2J two"


async def test_a_manager_writes_and_edits_an_article_on_a_major_case(world_url: str, make_app: Any) -> None:
    world = await build_case_world(world_url)
    await as_user(
        world_url, "agent", lambda d, a: mc.propose_major_case(d, a, world.case_id, reason="r", business_impact="b")
    )
    app = make_app(world_url, "manager")
    async with app.run_test(size=(120, 34)) as pilot:
        await until_ready(pilot)
        screen = await showing(pilot, world.case_id)
        await pilot.press("w")  # a proposal takes no article yet: said at once
        expected = f"{case_number(world.case_id)} is not an approved major case: articles attach to major cases"
        await wait_for(pilot, lambda: expected in notifications(app), what="the refusal")
        assert app.screen is screen

        result = await as_user(world_url, "manager", lambda d, a: mc.approve_major_case(d, a, world.case_id))
        screen.go_to_case(result.major_case_id)
        await wait_for(pilot, lambda: screen.show_listed(result.major_case_id), what="the major case listed")
        await showing(pilot, result.major_case_id)

        await pilot.press("w")
        await wait_for(pilot, lambda: isinstance(app.screen, ArticleDialog), what="the editor")
        dialog = app.screen
        await type_text(pilot, "Use the backup number")
        await pilot.press("enter")  # on to the text
        await type_text(pilot, "Dial 0800")
        await pilot.press("enter")
        await type_text(pilot, "then 1 [bold]x[/]")
        await wait_for(
            pilot,
            lambda: dialog.preview.render().plain == "Use the backup number\n\nDial 0800\nthen 1 [bold]x[/]",
            what="the customer's view",
        )
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: app.screen is screen, what="the editor to close")
        assert await _articles(world_url) == [
            ("Use the backup number", "Dial 0800\nthen 1 [bold]x[/]", result.major_case_id)
        ]

        await pilot.press("e")
        await wait_for(pilot, lambda: isinstance(app.screen, ArticleDialog), what="the editor, filled in")
        dialog = app.screen
        assert dialog.title_text == "Use the backup number"
        await pilot.press("end")
        await type_text(pilot, " or chat")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: app.screen is screen, what="the editor to close")
        (row,) = await _articles(world_url)
        assert row[0] == "Use the backup number or chat"


async def test_an_agent_is_told_at_once_that_managers_write_articles(world_url: str, make_app: Any) -> None:
    world = await build_case_world(world_url)
    app = make_app(world_url, "agent")
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await opened(pilot, world.case_id)
        await pilot.press("A")
        await wait_for(
            pilot,
            lambda: any("articles attach to major cases" in n for n in notifications(app)),
            what="the refusal",
        )
        assert app.screen is screen
    assert await _articles(world_url) == []


async def test_an_agent_writes_an_article_on_a_childs_major_case(world_url: str, make_app: Any) -> None:
    world = await build_case_world(world_url)
    await as_user(
        world_url, "agent", lambda d, a: mc.propose_major_case(d, a, world.case_id, reason="r", business_impact="b")
    )
    result = await as_user(world_url, "manager", lambda d, a: mc.approve_major_case(d, a, world.case_id))
    app = make_app(world_url, "agent")
    async with app.run_test(size=(120, 34)) as pilot:
        await until_ready(pilot)
        screen = app.screen
        # The case the agent proposed is now under the major case: its article goes there.
        await wait_for(
            pilot,
            lambda: (
                screen.detail.case is not None
                and screen.detail.case.id == world.case_id
                and screen.detail.case.parent_id == result.major_case_id
            ),
            what="the proposed case, under its major case",
        )
        await pilot.press("A")
        await wait_for(pilot, lambda: isinstance(app.screen, ArticleDialog), what="the editor")
        await type_text(pilot, "Restart the router")
        await pilot.press("enter")
        await type_text(pilot, "Then wait two minutes")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: app.screen is screen, what="the editor to close")
    assert await _articles(world_url) == [("Restart the router", "Then wait two minutes", result.major_case_id)]
