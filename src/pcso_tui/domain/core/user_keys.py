"""SSH public keys per user: what ``pcso gateway`` signs people in with.

Admins register keys (``pcso users keys add NAME KEYFILE``); the gateway finds the user by the
fingerprint of the key a client proves it holds. A key belongs to one user only.

The gateway's session tickets are signed with a secret kept in the database itself: whoever can
read it can already open the database, so a ticket cannot be forged by anyone who would need to.
"""

from __future__ import annotations

import secrets
import warnings
from dataclasses import dataclass
from types import ModuleType

from sqlalchemy import delete, select

from pcso_tui.domain.core.errors import Conflict, InvalidInput, NotFound
from pcso_tui.domain.core.event_kinds import GatewaySecretCreated, UserKeyAdded, UserKeyRemoved
from pcso_tui.domain.core.models import Setting, User, UserKey
from pcso_tui.domain.core.roles import SYSTEM, Actor, Permission, require
from pcso_tui.domain.core.service import Domain
from pcso_tui.domain.core.text import one_line
from pcso_tui.domain.core.views import UserKeyView

# Larger than any public key (an RSA 16384-bit key is ~2.8 kB in OpenSSH form).
MAX_KEY_TEXT = 16_384
GATEWAY_SECRET_SETTING = "gateway_secret"


@dataclass(frozen=True)
class PublicKey:
    """A parsed public key: its OpenSSH line (without comment) and SHA256 fingerprint."""

    algorithm: str
    openssh: str
    comment: str
    fingerprint: str


@dataclass(frozen=True)
class KeyOwner:
    """Whom a key signs in (the gateway's lookup)."""

    name: str
    active: bool


def import_asyncssh() -> ModuleType:
    """asyncssh, without the deprecation warnings about DSA its import makes cryptography print
    (DSA keys are refused by OpenSSH and by us anyway)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*DSA.*", category=Warning)
        import asyncssh
    return asyncssh


def parse_public_key(text: str, source: str = "the key") -> PublicKey:
    """One public key (OpenSSH ``ssh-ed25519 AAAA… comment`` or RFC 4716 form) from ``text``;
    ``source`` names it in the one-line error."""
    # asyncssh knows every key format OpenSSH does and checks the key itself, not just its
    # base64: a truncated or altered key is refused here rather than never matching later.
    asyncssh = import_asyncssh()
    if len(text) > MAX_KEY_TEXT:
        raise InvalidInput(f"{source} is not an SSH public key: larger than {MAX_KEY_TEXT} characters")
    if "PRIVATE KEY" in text:
        raise InvalidInput(f"{source} is a private key: give the public one (the .pub file)")
    lines = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    if not lines:
        raise InvalidInput(f"{source} holds no SSH public key")
    if len(lines) > 1 and not lines[0].startswith("---- BEGIN"):
        raise InvalidInput(f"{source} holds {len(lines)} lines: give one public key at a time")
    try:
        # The comment is ours to read (asyncssh refuses one that is not ASCII).
        body = lines if lines[0].startswith("---- BEGIN") else [" ".join(lines[0].split()[:2])]
        key = asyncssh.import_public_key("\n".join(body) + "\n")
    except (asyncssh.KeyImportError, ValueError) as exc:
        raise InvalidInput(f"{source} is not an SSH public key ({one_line(str(exc), 80)})") from None
    algorithm = key.get_algorithm()
    key.set_comment(None)
    return PublicKey(
        algorithm=algorithm,
        openssh=key.export_public_key("openssh").decode("ascii").strip(),
        comment=one_line(_comment(lines[0]), 200),
        fingerprint=key.get_fingerprint("sha256"),
    )


def _comment(line: str) -> str:
    parts = line.split(None, 2)
    return parts[2].strip() if len(parts) == 3 and not line.startswith("---- BEGIN") else ""


def _view(key: UserKey, user: str) -> UserKeyView:
    return UserKeyView(
        user=user, fingerprint=key.fingerprint, algorithm=key.algorithm, comment=key.comment, added_at=key.added_at
    )


async def add_user_key(
    domain: Domain, actor: Actor, name: str, key_text: str, *, source: str = "the key"
) -> UserKeyView:
    """Register a public key for user ``name`` (admins only); a key already registered is refused."""
    require(actor, Permission.MANAGE_USERS)
    key = parse_public_key(key_text, source)
    async with domain.transaction(actor) as tx:
        user = await tx.session.scalar(select(User).where(User.name == name))
        if user is None:
            raise NotFound(f"no pcso user named {name!r}")
        owner = await tx.session.scalar(
            select(User.name).join(UserKey, UserKey.user_id == User.id).where(UserKey.fingerprint == key.fingerprint)
        )
        if owner is not None:
            raise Conflict(f"key {key.fingerprint} is already registered for {owner!r}")
        row = UserKey(
            user_id=user.id,
            fingerprint=key.fingerprint,
            algorithm=key.algorithm,
            public_key=key.openssh,
            comment=key.comment,
            added_at=tx.now,
        )
        tx.session.add(row)
        await tx.session.flush()
        tx.record(user.id, UserKeyAdded(name=name, fingerprint=key.fingerprint, algorithm=key.algorithm))
        return _view(row, name)


async def list_user_keys(domain: Domain, actor: Actor, name: str | None = None) -> list[UserKeyView]:
    """The keys of user ``name`` (every user's, without a name); admins only."""
    require(actor, Permission.MANAGE_USERS)
    async with domain.reading() as session:
        if name is not None and await session.scalar(select(User.id).where(User.name == name)) is None:
            raise NotFound(f"no pcso user named {name!r}")
        query = select(UserKey, User.name).join(User, User.id == UserKey.user_id).order_by(User.name, UserKey.id)
        if name is not None:
            query = query.where(User.name == name)
        return [_view(key, user) for key, user in await session.execute(query)]


async def remove_user_key(domain: Domain, actor: Actor, name: str, key: str, *, source: str = "the key") -> UserKeyView:
    """Remove one of ``name``'s keys, named by its fingerprint (``SHA256:…``) or given as a key."""
    require(actor, Permission.MANAGE_USERS)
    fingerprint = key.strip() if key.strip().startswith("SHA256:") else parse_public_key(key, source).fingerprint
    async with domain.transaction(actor) as tx:
        user = await tx.session.scalar(select(User).where(User.name == name))
        if user is None:
            raise NotFound(f"no pcso user named {name!r}")
        row = await tx.session.scalar(
            select(UserKey).where(UserKey.user_id == user.id, UserKey.fingerprint == fingerprint)
        )
        if row is None:
            raise NotFound(f"user {name!r} has no key {one_line(fingerprint, 80)}")
        view = _view(row, name)
        await tx.session.execute(delete(UserKey).where(UserKey.id == row.id))
        tx.record(user.id, UserKeyRemoved(name=name, fingerprint=fingerprint))
        return view


async def key_owner(domain: Domain, fingerprint: str) -> KeyOwner | None:
    """The user a key signs in, if it is registered (the gateway asks before anyone is signed in)."""
    async with domain.reading() as session:
        row = (
            await session.execute(
                select(User.name, User.active)
                .join(UserKey, UserKey.user_id == User.id)
                .where(UserKey.fingerprint == fingerprint)
            )
        ).first()
    return None if row is None else KeyOwner(name=row[0], active=row[1])


async def gateway_secret(domain: Domain, *, create: bool = True) -> bytes:
    """The secret ``pcso gateway`` signs session tickets with, made on first use (``create``)."""
    async with domain.reading() as session:
        value = await session.scalar(select(Setting.value).where(Setting.key == GATEWAY_SECRET_SETTING))
    if isinstance(value, str):
        return bytes.fromhex(value)
    if not create:
        raise NotFound("this database has no gateway secret: start `pcso gateway` first")
    async with domain.transaction(SYSTEM) as tx:
        # Two gateways starting at once: the second finds the first one's secret here.
        value = await tx.session.scalar(select(Setting.value).where(Setting.key == GATEWAY_SECRET_SETTING))
        if isinstance(value, str):
            return bytes.fromhex(value)
        value = secrets.token_hex(32)
        tx.session.add(Setting(key=GATEWAY_SECRET_SETTING, value=value))
        tx.record(None, GatewaySecretCreated())
        return bytes.fromhex(value)
