"""Signing contacts in to the web portal (``pcso web``): one-time links and browser sessions.

A contact types their address; for every contact with that address (of an external account,
not opted out) a random link token is stored by its SHA-256 and the link is queued as a
``sign_in_link`` notice on the email channel, so ``pcso worker`` delivers it like any notice.
The link's text cannot be rebuilt from the stored hash, so the notice is rendered when it is
queued (``Notice.rendered``, which the worker sends as it is). A link is used once and never
after ``link_minutes``; using it starts a session, stored by the SHA-256 of its cookie value,
that expires after ``session_hours`` or when the contact signs out.

The answer to a request is the same whether the address is known or not: the caller learns
nothing from it. The web portal acts as ``WEB`` for all of this; the contact it signs in acts
as a customer of their account (``WebIdentity.actor``), through the same portal queries and
commands as the terminal portal.

Other ways to sign in (a password, OIDC) plug in at the web front door: anything that ends in
``start_session(domain, WEB, contact_id)`` gives the same session (docs/web.md).
"""

from __future__ import annotations

import hashlib
import secrets
import textwrap
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from pcso_tui.domain.core.channels import canonical_json
from pcso_tui.domain.core.errors import InvalidInput, NotFound
from pcso_tui.domain.core.event_kinds import WebSessionEnded, WebSessionStarted, WebSignInLinkSent
from pcso_tui.domain.core.models import Account, Contact, Notice, User, WebSession, WebSignInToken
from pcso_tui.domain.core.roles import Actor, Permission, Role, require
from pcso_tui.domain.core.service import Domain
from pcso_tui.domain.core.text import customer_line, one_line

# The web portal's own actor: it signs contacts in, nothing else.
WEB = Actor(user_id=None, name="web-portal", role=Role.ADMIN)

NOTICE_KIND = "sign_in_link"
MAX_ADDRESS = 320
# 24 random bytes (192 bits): beyond guessing, and 32 characters, so a link fits one line of a
# plain-text mail (a longer line makes mailers encode it, and the link unreadable in raw mail).
TOKEN_BYTES = 24
_NAME_MAX = 64


def token_hash(raw: str) -> str:
    """What is stored for a link or session token: its SHA-256, hex."""
    return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


@dataclass(frozen=True, slots=True)
class WebIdentity:
    """Who a web session belongs to: the contact, their account, and the actor they act as."""

    actor: Actor
    contact_number: str
    contact_name: str
    account_number: str
    account_name: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class StartedSession:
    """A new session: ``token`` is the cookie value (never stored), valid until ``expires_at``."""

    token: str
    expires_at: datetime
    identity: WebIdentity


def normalise_address(address: str) -> str:
    """The address as contacts are matched by (trimmed, case-folded); one clear line if it
    cannot be an address at all."""
    value = (address or "").strip()
    if not value:
        raise InvalidInput("enter your email address")
    if len(value) > MAX_ADDRESS or "@" not in value or any(c.isspace() or ord(c) < 32 for c in value):
        raise InvalidInput("that is not an email address")
    return value.lower()


def _eligible() -> Any:
    # Contacts who can be told anything: the worker skips opted-out and internal ones.
    return (Contact.opted_out.is_(False)) & (Account.is_external.is_(True))


def _wrap(text: str) -> str:
    return "\n".join(textwrap.wrap(text, 72))


def _link_message(*, key: str, link: str, contact: str, account_number: str, account_name: str, now: datetime,
                  expires_at: datetime, minutes: int) -> dict[str, Any]:  # fmt: skip
    """The notice as the worker's ``compose`` reads a frozen one (see delivery.render)."""
    name = customer_line(contact, 100) or "there"
    account = f"{customer_line(account_name, 100)} ({customer_line(account_number, 40)})"
    subject = "Your sign-in link"
    blocks = [
        [None, f"Hello {name},"],
        [None, _wrap(f"Someone asked to sign in to the customer portal for {account} with this address.")],
        [None, _wrap(f"Open this link to sign in (it works once, for {minutes} minutes):") + "\n" + link],
        [None, _wrap("If it was not you, ignore this message: nothing happens without the link.")],
    ]
    return {
        "subject": subject,
        "blocks": blocks,
        "footer": f"You receive this as a contact for {account}.",
        "sms": f"{subject}: {link}",
        "data": {
            "id": key,
            "kind": NOTICE_KIND,
            "created_at": now.astimezone(UTC).isoformat(),
            "contact": {"name": contact},
            "account": {"number": account_number, "name": account_name},
            "link": link,
            "expires_at": expires_at.astimezone(UTC).isoformat(),
        },
    }


async def request_sign_in_link(domain: Domain, actor: Actor, address: str, *, link_base: str) -> int:
    """Queue a one-time sign-in link to every eligible contact with ``address``; the link is
    ``link_base`` followed by the token. Returns how many were queued — the web page never
    shows it, so an unknown address looks exactly like a known one."""
    require(actor, Permission.SIGN_IN_CONTACTS)
    wanted = normalise_address(address)
    minutes = domain.settings.web.link_minutes
    async with domain.transaction(actor) as tx:
        rows = (
            await tx.session.execute(
                select(Contact.id, Contact.number, Contact.name, Contact.account_id, Account.number, Account.name)
                .join(Account, Account.id == Contact.account_id)
                .where(func.lower(Contact.email) == wanted, _eligible())
                .order_by(Contact.id)
            )
        ).all()
        if not rows:
            return 0
        expires_at = tx.now + timedelta(minutes=minutes)
        tokens = []
        notices = []
        for contact_id, contact_no, contact_name, account_id, account_no, account_name in rows:
            raw = new_token()
            digest = token_hash(raw)
            key = f"sign_in:{digest[:32]}"
            tokens.append(
                {"token_hash": digest, "contact_id": contact_id, "created_at": tx.now, "expires_at": expires_at}
            )
            message = _link_message(
                key=key,
                link=link_base + raw,
                contact=contact_name,
                account_number=account_no,
                account_name=account_name,
                now=tx.now,
                expires_at=expires_at,
                minutes=minutes,
            )
            notices.append(
                {
                    "idempotency_key": key,
                    "kind": NOTICE_KIND,
                    "contact_id": contact_id,
                    "account_id": account_id,
                    "channel": "email",
                    "state": "pending",
                    "attempts": 0,
                    "next_attempt_at": tx.now,
                    "created_at": tx.now,
                    "rendered": canonical_json(message).decode("utf-8"),
                    "version": 1,
                }
            )
            tx.record(contact_id, WebSignInLinkSent(contact=contact_no, account=account_no))
        await tx.session.execute(insert(WebSignInToken), tokens)
        await tx.session.execute(insert(Notice), notices)
        return len(rows)


def _refused() -> InvalidInput:
    # One answer for a link never issued, used already or expired: each means "ask for a new one".
    return InvalidInput("this sign-in link cannot be used: it was used already or has expired; ask for a new one")


async def redeem_sign_in_link(domain: Domain, actor: Actor, raw_token: str) -> StartedSession:
    """Use a link once: mark it used and start a session for its contact, in one transaction.
    A link used, expired or unknown is refused and nothing changes."""
    require(actor, Permission.SIGN_IN_CONTACTS)
    if not raw_token or len(raw_token) > 200:
        raise _refused()
    digest = token_hash(raw_token)
    async with domain.transaction(actor) as tx:
        # One conditional UPDATE: two tabs racing with the same link cannot both win.
        table = WebSignInToken.__table__
        contact_id = (
            await tx.session.execute(
                update(table)
                .where(table.c.token_hash == digest, table.c.used_at.is_(None), table.c.expires_at > tx.now)
                .values(used_at=tx.now)
                .returning(table.c.contact_id)
            )
        ).scalar_one_or_none()
        if contact_id is None:
            raise _refused()
        return await _start(tx, contact_id, domain.settings.web.session_hours)


async def start_session(domain: Domain, actor: Actor, contact_number: str) -> StartedSession:
    """A session for a contact whom another sign-in method (a password or OIDC plugin at the
    web front door) has already proven; the link path ends in the same place."""
    require(actor, Permission.SIGN_IN_CONTACTS)
    async with domain.transaction(actor) as tx:
        contact_id = await tx.session.scalar(select(Contact.id).where(Contact.number == contact_number))
        if contact_id is None:
            raise NotFound(f"no contact numbered {contact_number!r}")
        return await _start(tx, contact_id, domain.settings.web.session_hours)


async def _start(tx: Any, contact_id: int, hours: float) -> StartedSession:
    identity = await _identity(tx.session, [Contact.id == contact_id], tx.now + timedelta(hours=hours))
    if identity is None:
        raise _refused()
    raw = new_token()
    await tx.session.execute(
        insert(WebSession).values(
            token_hash=token_hash(raw), contact_id=contact_id, created_at=tx.now, expires_at=identity.expires_at
        )
    )
    tx.record(contact_id, WebSessionStarted(contact=identity.contact_number, account=identity.account_number))
    return StartedSession(token=raw, expires_at=identity.expires_at, identity=identity)


def _actor_name(contact_name: str, contact_number: str) -> str:
    """``Grace Hopper (CT000042)``: readable on the journal, unambiguous in the event log."""
    room = _NAME_MAX - len(contact_number) - 3
    name = one_line(contact_name, max(room, 1)).strip()
    return f"{name} ({contact_number})"[:_NAME_MAX] if name else contact_number[:_NAME_MAX]


async def _identity(session: AsyncSession, where: list[Any], expires_at: datetime | None) -> WebIdentity | None:
    row = (
        await session.execute(
            select(
                Contact.id,
                Contact.number,
                Contact.name,
                Contact.email,
                Account.id.label("account_id"),
                Account.number.label("account_number"),
                Account.name.label("account_name"),
            )
            .join(Account, Account.id == Contact.account_id)
            # Opting out of notices stops new links (the worker would not send them), not a
            # session already started; our own departments' accounts have no customer portal.
            .where(*where, Account.is_external.is_(True))
        )
    ).first()
    if row is None:
        return None
    # A customer user of the same account with the contact's address is that person: their
    # events carry the user, as in the terminal portal.
    user = None
    if row.email:
        user = (
            await session.execute(
                select(User.id, User.name)
                .where(
                    User.role == Role.CUSTOMER.value,
                    User.active.is_(True),
                    User.account_id == row.account_id,
                    func.lower(User.email) == row.email.lower(),
                )
                .order_by(User.id)
                .limit(1)
            )
        ).first()
    actor = Actor(
        user_id=user.id if user else None,
        name=user.name if user else _actor_name(row.name, row.number),
        role=Role.CUSTOMER,
        account_id=row.account_id,
        contact_id=row.id,
    )
    return WebIdentity(
        actor=actor,
        contact_number=row.number,
        contact_name=row.name,
        account_number=row.account_number,
        account_name=row.account_name,
        expires_at=expires_at if expires_at is not None else datetime.max.replace(tzinfo=UTC),
    )


async def session_identity(domain: Domain, actor: Actor, raw_token: str) -> WebIdentity | None:
    """Who holds this session cookie, or None for one unknown, ended or expired."""
    require(actor, Permission.SIGN_IN_CONTACTS)
    if not raw_token or len(raw_token) > 200:
        return None
    now = domain.clock()
    async with domain.reading() as session:
        found = (
            await session.execute(
                select(WebSession.contact_id, WebSession.expires_at).where(
                    WebSession.token_hash == token_hash(raw_token),
                    WebSession.ended_at.is_(None),
                    WebSession.expires_at > now,
                )
            )
        ).first()
        if found is None:
            return None
        return await _identity(session, [Contact.id == found.contact_id], found.expires_at)


async def end_session(domain: Domain, actor: Actor, raw_token: str) -> bool:
    """Sign out: the session ends now (a second sign-out changes nothing). True if it was live."""
    require(actor, Permission.SIGN_IN_CONTACTS)
    if not raw_token or len(raw_token) > 200:
        return False
    async with domain.transaction(actor) as tx:
        table = WebSession.__table__
        contact_id = (
            await tx.session.execute(
                update(table)
                .where(table.c.token_hash == token_hash(raw_token), table.c.ended_at.is_(None))
                .values(ended_at=tx.now)
                .returning(table.c.contact_id)
            )
        ).scalar_one_or_none()
        if contact_id is None:
            return False
        number = await tx.session.scalar(select(Contact.number).where(Contact.id == contact_id))
        tx.record(contact_id, WebSessionEnded(contact=number or ""))
        return True
