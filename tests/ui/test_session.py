"""``users.current_user``: what the header shows about whoever signed in."""

from __future__ import annotations

import pytest

from pcso_tui.domain.core.errors import NotFound
from pcso_tui.domain.core.roles import SYSTEM, Actor, Role
from pcso_tui.domain.core.service import Domain
from pcso_tui.domain.core.users import current_user


@pytest.mark.parametrize("role", list(Role))
async def test_everyone_reads_their_own_record(domain: Domain, actors: dict[Role, Actor], role: Role) -> None:
    me = await current_user(domain, actors[role])
    assert (me.name, me.role) == (role.value, role.value)
    assert me.account_number == ("ACC-T1" if role is Role.CUSTOMER else None)


async def test_an_actor_without_a_stored_user_is_not_found(domain: Domain, actors: dict[Role, Actor]) -> None:
    with pytest.raises(NotFound, match="'system' is not a stored user"):
        await current_user(domain, SYSTEM)
    with pytest.raises(NotFound, match="no pcso user numbered 999"):
        await current_user(domain, Actor(user_id=999, name="ghost", role=Role.AGENT))
