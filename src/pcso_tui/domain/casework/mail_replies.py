"""Replies by email: a customer answers a notice, and the answer lands on the case.

``pcso mail-in`` parses the mail (quoted history stripped, attachments and loops refused
before this point) and hands over the envelope recipient, the ``From`` address, the message
ids the mail answers, and the text. Here the mail finds its case and its author:

1. **token**: the recipient's plus extension is a signed reply token (``core.reply_tokens``)
   naming the case and contact; forged or expired → refused;
2. **thread**: otherwise an ``In-Reply-To``/``References`` id of one of our notice emails
   (``<pcso.DIGEST@…>``) sent to the very address the mail is from.

The sender must be a contact of the case's account (with the token any contact of it may
answer, as a colleague may reply to a forwarded notice). The reply is then the contact's own
``reply_to_case``: the portal's command, with the customer's role checks, its journal line
and its events on the case and its major case. Who the author is comes only from the signed
token or the notice and the account's contact list, never from anything the mail asserts alone.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import func, select

from pcso_tui.domain.casework.portal import reply_to_case
from pcso_tui.domain.casework.views import MailReplyLanded
from pcso_tui.domain.core.channels import key_digest
from pcso_tui.domain.core.errors import InvalidInput, NotFound, PermissionDenied
from pcso_tui.domain.core.models import Case, Contact, Notice, User
from pcso_tui.domain.core.reply_tokens import BadReplyToken, read_reply_token, split_address
from pcso_tui.domain.core.roles import Actor, Role
from pcso_tui.domain.core.service import Domain
from pcso_tui.domain.core.text import customer_text
from pcso_tui.domain.core.views import case_number

_THREAD_ID = re.compile(r"<pcso\.([0-9a-f]{32})@[^<>\s]+>")
# How many of a sender's latest email notices a thread reference is looked for among.
THREAD_LOOKBACK = 5000
NAME_LIMIT = 64


def thread_digests(references: Sequence[str]) -> list[str]:
    """The notice digests named by ``In-Reply-To``/``References`` values, nearest first."""
    found: list[str] = []
    for value in reversed(references):
        for digest in reversed(_THREAD_ID.findall(value.lower())):
            if digest not in found:
                found.append(digest)
    return found


async def reply_by_mail(
    domain: Domain,
    *,
    recipient: str,
    sender: str,
    references: Sequence[str],
    body: str,
    secret: bytes,
) -> MailReplyLanded:
    """Land one reply mail on its case as its contact's reply, or refuse with one line."""
    settings = domain.settings.mail_in
    mailbox, _, mail_domain = split_address(settings.address)
    local, extension, to_domain = split_address(recipient)
    if not settings.address or (local, to_domain) != (mailbox, mail_domain):
        raise InvalidInput(f"{recipient[:100]!r} is not the replies mailbox")
    sender = sender.strip().lower()
    today = domain.clock().date()
    async with domain.reading() as session:
        if extension:
            try:
                reference = read_reply_token(secret, extension)
            except BadReplyToken as exc:
                raise PermissionDenied(str(exc)) from None
            if reference.expires < today:
                raise PermissionDenied(
                    f"the reply address expired on {reference.expires.isoformat()}; reply to a newer notice"
                )
            case_id, wanted_contact, route = reference.case_id, reference.contact_id, "token"
        else:
            digests = thread_digests(references)
            if not digests:
                raise NotFound("the mail answers none of our notices (no reply address, no In-Reply-To)")
            rows = await session.execute(
                select(Notice.idempotency_key, Notice.case_id, Notice.contact_id, Notice.created_at)
                .join(Contact, Contact.id == Notice.contact_id)
                .where(
                    func.lower(Contact.email) == sender,
                    Notice.case_id.is_not(None),
                    Notice.channel == "email",
                )
                .order_by(Notice.id.desc())
                .limit(THREAD_LOOKBACK)
            )
            by_digest = {key_digest(r.idempotency_key): r for r in rows}
            match = next((by_digest[d] for d in digests if d in by_digest), None)
            if match is None:
                raise NotFound("the mail answers none of our notices to this sender")
            if (match.created_at + timedelta(days=settings.token_days)).date() < today:
                raise PermissionDenied("the notice answered is too old to take replies; reply to a newer notice")
            case_id, wanted_contact, route = match.case_id, match.contact_id, "thread"
        account_id = await session.scalar(select(Case.account_id).where(Case.id == case_id))
        if account_id is None:
            raise NotFound(f"no case {case_number(case_id)}")
        contacts = (
            await session.execute(
                select(Contact.id, Contact.number, Contact.name).where(
                    Contact.account_id == account_id, func.lower(Contact.email) == sender
                )
            )
        ).all()
        if route == "thread":
            contacts = [c for c in contacts if c.id == wanted_contact]
        if not contacts:
            raise PermissionDenied("the sender is not a contact of this case's account")
        contact = next((c for c in contacts if c.id == wanted_contact), contacts[0])
        # A contact who also signs in to the portal replies as that user.
        user = (
            await session.execute(
                select(User.id, User.name)
                .where(
                    User.account_id == account_id,
                    User.role == Role.CUSTOMER.value,
                    User.active.is_(True),
                    func.lower(User.email) == sender,
                )
                .order_by(User.id)
                .limit(1)
            )
        ).first()
    if user is not None:
        actor = Actor(user_id=user.id, name=user.name, role=Role.CUSTOMER, account_id=account_id)
    else:
        name = " ".join(contact.name.split())[:NAME_LIMIT] or contact.number[:NAME_LIMIT]
        actor = Actor(user_id=None, name=name, role=Role.CUSTOMER, account_id=account_id)
    update = await reply_to_case(domain, actor, case_id, customer_text(body), via="email")
    return MailReplyLanded(case_number=case_number(case_id), contact_number=contact.number, route=route, update=update)
