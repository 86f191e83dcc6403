"""Users and signing in.

``pcso`` signs in as the operating-system user. On a database with no admin, the OS user
bootstraps themself as the first admin (``pcso users add THEIR_NAME --role admin``); after that
only admins manage users. Admins (and anyone on a demo database) may
act ``--as`` another user, and every event then names both.
"""

from __future__ import annotations

import re

from sqlalchemy import func, select

from pcso_tui.domain.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied, UnknownUser
from pcso_tui.domain.core.event_kinds import UserAdded, UserBootstrapped, WorldDemo
from pcso_tui.domain.core.models import Account, Setting, User
from pcso_tui.domain.core.roles import Actor, Permission, Role, require
from pcso_tui.domain.core.service import Domain
from pcso_tui.domain.core.views import UserView

USER_NAME = re.compile(r"^[a-z_][a-z0-9_.@-]{0,63}$")
DEMO_SETTING = "demo"


def _view(user: User, account_number: str | None) -> UserView:
    return UserView(
        id=user.id,
        name=user.name,
        display_name=user.display_name,
        role=user.role,
        account_number=account_number,
        active=user.active,
        created_at=user.created_at,
    )


def _actor(user: User, impersonator: str | None = None, key_fingerprint: str | None = None) -> Actor:
    return Actor(
        user_id=user.id,
        name=user.name,
        role=Role(user.role),
        account_id=user.account_id,
        impersonator=impersonator,
        key_fingerprint=key_fingerprint,
    )


async def is_demo(domain: Domain) -> bool:
    """Demo databases allow role switching and ``--as`` for everyone."""
    async with domain.reading() as session:
        value = await session.scalar(select(Setting.value).where(Setting.key == DEMO_SETTING))
    return value is True


async def mark_demo(domain: Domain, actor: Actor) -> None:
    """Make the database a demo world (``pcso demo``): role switching and ``--as`` for everyone.

    Only for throw-away databases: there is no way back. Admins only (whoever seeded it).
    """
    require(actor, Permission.SEED_WORLD)
    async with domain.transaction(actor) as tx:
        await tx.session.merge(Setting(key=DEMO_SETTING, value=True))
        tx.record(None, WorldDemo())


async def sign_in(
    domain: Domain, name: str, *, as_name: str | None = None, key_fingerprint: str | None = None
) -> Actor:
    """The actor for OS user ``name`` (optionally acting as ``as_name``); ``key_fingerprint`` is
    the SSH key ``pcso gateway`` authenticated ``name`` with, written into every event."""
    async with domain.reading() as session:
        user = await session.scalar(select(User).where(User.name == name))
        demo = (await session.scalar(select(Setting.value).where(Setting.key == DEMO_SETTING))) is True
        # In a demo world anyone may pick a persona with --as, known to the database or not.
        if user is None and not (demo and as_name):
            if await session.scalar(select(User.id).where(User.role == Role.ADMIN).limit(1)) is None:
                raise UnknownUser(f"no pcso user named {name!r} and no admin yet: run `{bootstrap_command(name)}`")
            raise UnknownUser(f"no pcso user named {name!r}: ask an admin to run `pcso users add {name} --role agent`")
        if user is not None and not user.active:
            raise PermissionDenied(f"user {name!r} is deactivated")
        if user is not None and (not as_name or as_name == name):
            return _actor(user, key_fingerprint=key_fingerprint)
        if not demo and (user is None or user.role != Role.ADMIN):
            raise PermissionDenied("only admins may act --as another user")
        target = await session.scalar(select(User).where(User.name == as_name))
        if target is None:
            raise UnknownUser(f"no pcso user named {as_name!r} to act as")
        return _actor(target, impersonator=name, key_fingerprint=key_fingerprint)


def bootstrap_command(name: str) -> str:
    return f"pcso users add {name} --role admin"


async def add_user(
    domain: Domain,
    actor: Actor,
    name: str,
    role: Role | str,
    *,
    account_number: str | None = None,
    display_name: str = "",
    email: str | None = None,
) -> UserView:
    """Add a user (admins only). On a database with no admin, the first admin may be added by
    anyone (seeding, tests); the command line goes through ``add_first_admin``."""
    try:
        role = Role(role)
    except ValueError:
        raise InvalidInput(f"unknown role {role!r}; roles: {', '.join(r.value for r in Role)}") from None
    if not USER_NAME.match(name):
        raise InvalidInput(f"invalid user name {name!r}: use lower-case letters, digits, _ . @ -")
    if role is Role.CUSTOMER and not account_number:
        raise InvalidInput("a customer user needs --account NUMBER")
    if role is not Role.CUSTOMER and account_number:
        raise InvalidInput("only customer users belong to an account")

    async with domain.transaction(actor) as tx:
        session = tx.session
        admins = await session.scalar(select(func.count()).select_from(User).where(User.role == Role.ADMIN))
        bootstrap = admins == 0
        if bootstrap:
            if role is not Role.ADMIN:
                raise PermissionDenied(f"there is no admin yet: run `{bootstrap_command(actor.name)}` first")
        else:
            require(actor, Permission.MANAGE_USERS)
        if await session.scalar(select(User.id).where(User.name == name)) is not None:
            raise Conflict(f"user {name!r} already exists")
        account_id = None
        if account_number:
            account_id = await session.scalar(select(Account.id).where(Account.number == account_number))
            if account_id is None:
                raise NotFound(f"no account numbered {account_number!r}")
        user = User(
            name=name,
            display_name=display_name or name,
            role=role.value,
            account_id=account_id,
            email=email,
            created_at=tx.now,
        )
        session.add(user)
        await session.flush()
        added = UserBootstrapped if bootstrap else UserAdded
        tx.record(user.id, added(name=name, role=role.value, account=account_number))
        return _view(user, account_number)


async def add_first_admin(
    domain: Domain,
    runner: str,
    name: str,
    role: Role | str,
    *,
    account_number: str | None = None,
    display_name: str = "",
    email: str | None = None,
) -> UserView:
    """``pcso users add`` by ``runner``, who is not a user yet: allowed only on a database with
    no admin, and only to add themself as its admin. Naming someone else would lock the runner
    out (every later command signs in as ``runner``)."""
    async with domain.reading() as session:
        has_admin = await session.scalar(select(User.id).where(User.role == Role.ADMIN).limit(1)) is not None
    if has_admin:
        raise UnknownUser(f"no pcso user named {runner!r}: ask an admin to run `pcso users add {runner} --role agent`")
    if name != runner or role != Role.ADMIN.value:
        raise PermissionDenied(
            f"there is no admin yet: the first admin is you, {runner!r}; run `{bootstrap_command(runner)}`"
        )
    stranger = Actor(user_id=None, name=runner, role=Role.CUSTOMER)
    return await add_user(
        domain, stranger, name, role, account_number=account_number, display_name=display_name, email=email
    )


async def list_users(domain: Domain, actor: Actor) -> list[UserView]:
    require(actor, Permission.MANAGE_USERS)
    async with domain.reading() as session:
        rows = await session.execute(
            select(User, Account.number).outerjoin(Account, Account.id == User.account_id).order_by(User.name)
        )
        return [_view(user, number) for user, number in rows]


async def current_user(domain: Domain, actor: Actor) -> UserView:
    """The signed-in user's own record (anyone may read their own; the workspace header shows it)."""
    if actor.user_id is None:
        raise NotFound(f"{actor.name!r} is not a stored user")
    async with domain.reading() as session:
        row = (
            await session.execute(
                select(User, Account.number)
                .outerjoin(Account, Account.id == User.account_id)
                .where(User.id == actor.user_id)
            )
        ).first()
    if row is None:
        raise NotFound(f"no pcso user numbered {actor.user_id}")
    return _view(row[0], row[1])
