"""An article written from a major case is created and attached in one transaction: both or
neither."""

from __future__ import annotations

import pytest

from pcso_tui.domain.communications.articles import create_article
from pcso_tui.domain.core.errors import InvalidInput, NotFound
from pcso_tui.domain.core.models import Article, CaseArticle, Event
from pcso_tui.domain.core.roles import Actor, Role
from pcso_tui.domain.core.service import Domain
from tests.domain.notice_world import count, events_of_kind, make_world


async def test_written_from_a_major_case_it_is_attached_to_it(domain: Domain, actors: dict[Role, Actor]) -> None:
    world = await make_world(domain, 1, queue=False)
    article = await create_article(
        domain, actors[Role.MANAGER], title="Use the backup URL", body="Go to backup", attach_to=world.major_id
    )
    assert article.case_numbers == (f"CS{world.major_id:07d}",)
    (attached,) = await events_of_kind(domain, "article.attached")
    assert attached.subject_id == world.major_id


@pytest.mark.parametrize("target", ["child", "missing"])
async def test_a_wrong_case_writes_nothing(domain: Domain, actors: dict[Role, Actor], target: str) -> None:
    world = await make_world(domain, 1, queue=False)
    case_id = world.child_ids[0] if target == "child" else 999_999
    before = (await count(domain, Article), await count(domain, CaseArticle), await count(domain, Event))
    with pytest.raises(InvalidInput if target == "child" else NotFound):
        await create_article(domain, actors[Role.MANAGER], title="T", body="B", attach_to=case_id)
    assert (await count(domain, Article), await count(domain, CaseArticle), await count(domain, Event)) == before
