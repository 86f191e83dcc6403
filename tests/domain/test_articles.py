"""Knowledge and workaround articles: writing, attaching to major cases, who sees what."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from pcso_tui.domain.communications.articles import (
    attach_article,
    create_article,
    detach_article,
    list_articles,
    update_article,
)
from pcso_tui.domain.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from pcso_tui.domain.core.models import Article, Case, CaseArticle, Event
from pcso_tui.domain.core.roles import SYSTEM, Actor, Role
from pcso_tui.domain.core.service import Domain
from tests.domain.notice_world import INTERNAL_ARTICLE, WORKAROUND_TITLE, count, events_of_kind, make_world


async def totals(domain: Domain) -> tuple[int, int, int]:
    return (await count(domain, Article), await count(domain, CaseArticle), await count(domain, Event))


async def test_write_attach_and_detach(domain: Domain, actors: dict[Role, Actor]) -> None:
    manager = actors[Role.MANAGER]
    world = await make_world(domain, 1, queue=False)
    article = await create_article(domain, manager, title="Use the backup URL", body="Go to https://backup.example")
    assert article.number == f"KB{article.id:07d}" and article.customer_visible and article.kind == "workaround"
    attached = await attach_article(domain, manager, world.major_id, article.number)
    assert attached.case_numbers == (f"CS{world.major_id:07d}",)
    edited = await update_article(domain, manager, article.number, body="Use https://backup2.example")
    assert edited.body == "Use https://backup2.example" and edited.updated_at == domain.clock()
    detached = await detach_article(domain, manager, world.major_id, article.number)
    assert detached.case_numbers == ()
    kinds = [e.kind for e in await events_of_kind(domain, "article.attached")]
    kinds += [e.kind for e in await events_of_kind(domain, "article.detached")]
    assert kinds == ["article.attached", "article.detached"]
    (attached_event,) = await events_of_kind(domain, "article.attached")
    assert (attached_event.subject_type, attached_event.subject_id) == ("case", world.major_id)


async def test_bad_article_input_changes_nothing(domain: Domain, actors: dict[Role, Actor]) -> None:
    manager = actors[Role.MANAGER]
    world = await make_world(domain, 1, queue=False)
    await create_article(domain, manager, title="Known", body="b", number="KB-KNOWN")
    before = await totals(domain)
    cases = [
        (lambda: create_article(domain, manager, title=" ", body="b"), InvalidInput, "needs a title"),
        (lambda: create_article(domain, manager, title="t", body=" \n"), InvalidInput, "needs a body"),
        (
            lambda: create_article(domain, manager, title="t", body="b", kind="poem"),
            InvalidInput,
            "unknown article kind 'poem'",
        ),
        (lambda: create_article(domain, manager, title="t", body="b", number="KB-KNOWN"), Conflict, "already exists"),
        (lambda: update_article(domain, manager, "KB-NONE", title="x"), NotFound, "no article numbered 'KB-NONE'"),
        (lambda: update_article(domain, manager, "KB-KNOWN", title="Known"), InvalidInput, "nothing to change"),
        (
            lambda: attach_article(domain, manager, world.child_ids[0], "KB-KNOWN"),
            InvalidInput,
            "articles attach to major",
        ),
        (lambda: attach_article(domain, manager, 9999, "KB-KNOWN"), NotFound, "no case CS0009999"),
        (lambda: attach_article(domain, manager, world.major_id, "W-KB-1"), Conflict, "already attached"),
        (lambda: detach_article(domain, manager, world.major_id, "KB-KNOWN"), NotFound, "is not attached"),
    ]
    for call, error, message in cases:
        with pytest.raises(error, match=message):
            await call()
    assert await totals(domain) == before


async def test_who_may_manage_articles(domain: Domain, actors: dict[Role, Actor]) -> None:
    world = await make_world(domain, 1, queue=False)
    before = await totals(domain)
    for role in (Role.OPERATOR, Role.CUSTOMER):
        with pytest.raises(PermissionDenied, match="may not manage knowledge articles"):
            await create_article(domain, actors[role], title="t", body="b")
        with pytest.raises(PermissionDenied, match="may not manage knowledge articles"):
            await attach_article(domain, actors[role], world.major_id, "W-KB-1")
        with pytest.raises(PermissionDenied, match="may not manage knowledge articles"):
            await update_article(domain, actors[role], "W-KB-1", title="x")
        with pytest.raises(PermissionDenied, match="may not manage knowledge articles"):
            await detach_article(domain, actors[role], world.major_id, "W-KB-1")
    assert await totals(domain) == before
    await create_article(domain, actors[Role.ADMIN], title="t", body="b")
    # Agents write the knowledge as they work cases (statements stay the manager's).
    await create_article(domain, actors[Role.AGENT], title="t2", body="b")


async def test_customers_see_visible_articles_of_their_own_cases_only(
    domain: Domain, actors: dict[Role, Actor]
) -> None:
    customer = actors[Role.CUSTOMER]
    mine = await make_world(domain, 1, queue=False, prefix="M")
    theirs = await make_world(domain, 1, queue=False, prefix="T")
    # Make the customer's account the one affected by the first major case.
    async with domain.transaction(SYSTEM) as tx:
        await tx.session.execute(
            update(Case).where(Case.id == mine.child_ids[0]).values(account_id=customer.account_id, contact_id=None)
        )
    staff = await list_articles(domain, actors[Role.AGENT])
    assert {a.number for a in staff} == {"M-KB-1", "M-KB-2", "T-KB-1", "T-KB-2"}
    seen = await list_articles(domain, customer)
    assert [(a.number, a.title) for a in seen] == [("M-KB-1", WORKAROUND_TITLE)]
    assert seen[0].case_numbers == (f"CS{mine.major_id:07d}",)
    assert [a.number for a in await list_articles(domain, customer, case_id=mine.child_ids[0])] == ["M-KB-1"]
    assert {a.title for a in await list_articles(domain, actors[Role.MANAGER], case_id=mine.child_ids[0])} == {
        WORKAROUND_TITLE,
        INTERNAL_ARTICLE,
    }
    # Another account's case answers exactly like a missing one.
    with pytest.raises(NotFound, match=f"^no case CS{theirs.child_ids[0]:07d}$"):
        await list_articles(domain, customer, case_id=theirs.child_ids[0])
    with pytest.raises(NotFound, match=f"^no case CS{theirs.major_id:07d}$"):
        await list_articles(domain, customer, case_id=theirs.major_id)
    with pytest.raises(NotFound, match="no case CS0009999"):
        await list_articles(domain, actors[Role.AGENT], case_id=9999)
