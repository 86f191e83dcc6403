"""Users: bootstrap, role checks, sign-in and --as."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from pcso_tui.domain.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied, UnknownUser
from pcso_tui.domain.core.event_kinds import ArticleDetached
from pcso_tui.domain.core.models import Event, Setting, User
from pcso_tui.domain.core.roles import Actor, Role
from pcso_tui.domain.core.service import Domain
from pcso_tui.domain.core.users import add_user, list_users, sign_in

STRANGER = Actor(user_id=None, name="stranger", role=Role.CUSTOMER)


async def count(domain: Domain, model: type) -> int:
    async with domain.reading() as session:
        return await session.scalar(select(func.count()).select_from(model))


async def test_first_admin_is_bootstrapped_by_anyone(domain: Domain) -> None:
    user = await add_user(domain, STRANGER, "alice", "admin")
    assert user.role == "admin"
    async with domain.reading() as session:
        event = (await session.scalars(select(Event))).one()
    assert (event.kind, event.actor_name, event.payload["name"]) == ("user.bootstrapped", "stranger", "alice")


async def test_no_admin_yet_refuses_any_other_role(domain: Domain) -> None:
    with pytest.raises(PermissionDenied, match="no admin yet"):
        await add_user(domain, STRANGER, "bob", "agent")
    assert await count(domain, User) == 0
    assert await count(domain, Event) == 0


async def test_after_bootstrap_only_admins_manage_users(domain: Domain, actors: dict[Role, Actor]) -> None:
    before = await count(domain, User)
    for role in (Role.OPERATOR, Role.AGENT, Role.MANAGER, Role.CUSTOMER):
        with pytest.raises(PermissionDenied, match="may not manage users"):
            await add_user(domain, actors[role], "mallory", "admin")
        with pytest.raises(PermissionDenied):
            await list_users(domain, actors[role])
    with pytest.raises(PermissionDenied):
        await add_user(domain, STRANGER, "mallory", "admin")
    assert await count(domain, User) == before
    names = [u.name for u in await list_users(domain, actors[Role.ADMIN])]
    assert names == sorted(["admin", "agent", "customer", "manager", "operator"])


@pytest.mark.parametrize(
    ("name", "role", "account", "error", "message"),
    [
        ("Bad Name", "agent", None, InvalidInput, "invalid user name"),
        ("zed", "wizard", None, InvalidInput, "unknown role"),
        ("zed", "customer", None, InvalidInput, "needs --account"),
        ("zed", "agent", "ACC-T1", InvalidInput, "only customer users"),
        ("zed", "customer", "NOPE", NotFound, "no account numbered"),
        ("agent", "agent", None, Conflict, "already exists"),
    ],
)
async def test_bad_user_input_is_refused_and_changes_nothing(
    domain: Domain, actors: dict[Role, Actor], name, role, account, error, message
) -> None:
    users, events = await count(domain, User), await count(domain, Event)
    with pytest.raises(error, match=message):
        await add_user(domain, actors[Role.ADMIN], name, role, account_number=account)
    assert (await count(domain, User), await count(domain, Event)) == (users, events)


async def test_customer_user_is_scoped_to_its_account(domain: Domain, actors: dict[Role, Actor]) -> None:
    customer = actors[Role.CUSTOMER]
    assert customer.account_id is not None
    assert not customer.is_staff


async def test_unknown_user_is_told_how_to_be_added(domain: Domain, actors: dict[Role, Actor]) -> None:
    with pytest.raises(UnknownUser, match="pcso users add nobody --role"):
        await sign_in(domain, "nobody")


async def test_only_admins_act_as_someone_else(domain: Domain, actors: dict[Role, Actor]) -> None:
    with pytest.raises(PermissionDenied, match="only admins"):
        await sign_in(domain, "agent", as_name="manager")
    acting = await sign_in(domain, "admin", as_name="manager")
    assert (acting.name, acting.role, acting.impersonator) == ("manager", Role.MANAGER, "admin")


async def test_impersonation_is_recorded_in_the_event_log(domain: Domain, actors: dict[Role, Actor]) -> None:
    acting = await sign_in(domain, "admin", as_name="admin")
    assert acting.impersonator is None  # acting as yourself is not impersonation
    acting = await sign_in(domain, "admin", as_name="operator")
    async with domain.transaction(acting) as tx:
        tx.record(acting.user_id, ArticleDetached(article="probe"))
    async with domain.reading() as session:
        event = (await session.scalars(select(Event).where(Event.kind == ArticleDetached.kind))).one()
    assert (event.actor_name, event.impersonator) == ("operator", "admin")


async def test_demo_worlds_let_anyone_pick_a_persona(domain: Domain, actors: dict[Role, Actor]) -> None:
    async with domain.transaction(actors[Role.ADMIN]) as tx:
        tx.session.add(Setting(key="demo", value=True))
    acting = await sign_in(domain, "visitor", as_name="manager")
    assert (acting.role, acting.impersonator) == (Role.MANAGER, "visitor")
