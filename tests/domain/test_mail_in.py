"""Replies by email: notices carry a signed Reply-To, and ``pcso mail-in`` (aiosmtpd on loopback)
lands a customer's reply on the case — over a real SMTP or LMTP conversation, on SQLite and
PostgreSQL. Every refusal also checks that nothing was stored."""

from __future__ import annotations

import asyncio
import logging
import re
import smtplib
import stat
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

import aiosmtplib
import pytest
from sqlalchemy import func, select

from pcso_tui.domain.casework.timeline import case_timeline
from pcso_tui.domain.core.clock import FrozenClock
from pcso_tui.domain.core.errors import InvalidInput
from pcso_tui.domain.core.event_kinds import CaseNoted
from pcso_tui.domain.core.models import Case, Event, JournalEntry, Notice
from pcso_tui.domain.core.reply_tokens import BadReplyToken, read_reply_token, reply_secret
from pcso_tui.domain.core.roles import SYSTEM
from pcso_tui.domain.core.service import Domain
from pcso_tui.domain.core.settings import MailInSettings
from pcso_tui.mail_in import html_to_text, read_reply, start, strip_quoted
from tests.domain.notice_world import SmtpServer, World, make_world
from tests.domain.test_delivery import configure, deliver

MAILBOX = "replies@support.example"
SECRET = "mail-in-secret-for-tests"
REPLY_TO = re.compile(r"^replies\+(\d+-\d+-\d+-[0-9a-f]{20})@support\.example$")


def mail_in_settings(domain: Domain, **changes: object) -> MailInSettings:
    settings = MailInSettings(address=MAILBOX, secret=SECRET, **changes)  # type: ignore[arg-type]
    domain.settings = replace(domain.settings, mail_in=settings)
    return settings


@dataclass
class Delivered:
    world: World
    reply_to: list[str]
    message_ids: list[str]


@pytest.fixture
async def smtp() -> AsyncIterator[SmtpServer]:
    server = await SmtpServer().start()
    yield server
    await server.stop()


async def delivered(domain: Domain, smtp: SmtpServer, accounts: int = 2) -> Delivered:
    """A statement notice per contact, sent by the real worker through the loopback relay."""
    configure(domain, smtp)
    world = await make_world(domain, accounts)
    report = await deliver(domain)
    assert report.sent == accounts
    by_rcpt = smtp.by_recipient()
    messages = [by_rcpt[address][0].message for address in world.emails]
    return Delivered(world, [str(m["Reply-To"]) for m in messages], [str(m["Message-ID"]) for m in messages])


@pytest.fixture
async def mail_in(domain: Domain) -> AsyncIterator[int]:
    mail_in_settings(domain)
    server = await start(domain, host="127.0.0.1", port=0, lmtp=False)
    yield server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()


def reply(
    sender: str,
    to: str,
    body: str,
    *,
    in_reply_to: str | None = None,
    headers: dict[str, str] | None = None,
) -> bytes:
    message = EmailMessage()
    message["From"] = f"Contact <{sender}>"
    message["To"] = to
    message["Subject"] = "Re: Update: Card payments failing"
    message["Message-ID"] = make_msgid(domain="customer.example")
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
        message["References"] = in_reply_to
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(body)
    return message.as_bytes()


async def send(port: int, data: bytes, *, mail_from: str, rcpt: str) -> tuple[int, str]:
    """One SMTP transaction; the server's answer to DATA (or to the first refused command)."""
    client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, timeout=10)
    await client.connect()
    try:
        await client.ehlo()
        await client.mail(mail_from)
        await client.rcpt(rcpt)
        response = await client.data(data)
        return response.code, response.message
    except aiosmtplib.SMTPResponseException as exc:
        return exc.code, exc.message
    finally:
        client.close()


async def replies(domain: Domain, case_id: int) -> list[JournalEntry]:
    async with domain.reading() as session:
        query = select(JournalEntry).where(JournalEntry.case_id == case_id, JournalEntry.kind == "reply")
        return list((await session.scalars(query.order_by(JournalEntry.id))).all())


async def stored(domain: Domain) -> tuple[int, int]:
    """Journal lines and events: both unchanged by anything refused."""
    async with domain.reading() as session:
        lines = await session.scalar(select(func.count()).select_from(JournalEntry))
        events = await session.scalar(select(func.count()).select_from(Event))
    return lines or 0, events or 0


QUOTED = (
    "Thanks, it is still failing for our Visa cards.\n"
    "\n"
    "On Mon, 7 Dec 2026 at 10:00, Service status <status@pcso.example> wrote:\n"
    "> Payments are failing for some card types.\n"
    "> Engineers are rolling back the change.\n"
)


# --- the Reply-To on real notices ------------------------------------------------------------


async def test_notices_carry_a_signed_reply_to_and_their_own_message_id(domain: Domain, smtp: SmtpServer) -> None:
    mail_in_settings(domain)
    sent = await delivered(domain, smtp)
    secret = reply_secret(domain.settings.mail_in)
    for i, reply_to in enumerate(sent.reply_to):
        found = REPLY_TO.match(reply_to)
        assert found, reply_to
        reference = read_reply_token(secret, found.group(1))
        assert (reference.case_id, reference.contact_id) == (sent.world.child_ids[i], sent.world.contact_ids[i])
        assert reference.expires == (domain.clock().date() + timedelta(days=90))
    assert len(set(sent.message_ids)) == 2
    assert all(re.fullmatch(r"<pcso\.[0-9a-f]{32}@pcso\.example>", m) for m in sent.message_ids)
    with pytest.raises(BadReplyToken):
        read_reply_token(b"another secret", REPLY_TO.match(sent.reply_to[0]).group(1))  # type: ignore[union-attr]


async def test_without_a_mail_in_address_notices_carry_no_reply_to(domain: Domain, smtp: SmtpServer) -> None:
    sent = await delivered(domain, smtp)
    assert sent.reply_to == ["None", "None"]


# --- replies that land --------------------------------------------------------------------------


async def test_a_reply_lands_on_the_case_and_its_major_case_with_quoting_stripped(
    domain: Domain, smtp: SmtpServer, mail_in: int
) -> None:
    sent = await delivered(domain, smtp)
    world = sent.world
    body = QUOTED + "-- \nContact 0\nW Customer 0, Head of Payments\n"
    code, text = await send(
        mail_in, reply(world.emails[0], sent.reply_to[0], body), mail_from=world.emails[0], rcpt=sent.reply_to[0]
    )
    assert code == 250, text
    assert f"CS{world.child_ids[0]:07d}" in text
    (line,) = await replies(domain, world.child_ids[0])
    assert line.body == "Thanks, it is still failing for our Visa cards."
    assert (line.visibility, line.author_name) == ("customer", "Contact 0")
    assert await replies(domain, world.child_ids[1]) == []
    async with domain.reading() as session:
        noted = list(await session.scalars(select(Event).where(Event.kind == CaseNoted.kind).order_by(Event.id)))
    assert [(e.subject_id, e.payload["line_kind"]) for e in noted] == [
        (world.child_ids[0], "reply"),
        (world.major_id, "reply"),
    ]
    assert noted[0].actor_name == "Contact 0"
    for case_id in (world.child_ids[0], world.major_id):
        timeline = await case_timeline(domain, SYSTEM, case_id)
        (entry,) = [e for e in timeline.entries if e.title.endswith("by email")]
        assert (entry.detail, entry.actor_name) == ("Thanks, it is still failing for our Visa cards.", "Contact 0")


async def test_a_reply_by_thread_reference_alone_lands_too(domain: Domain, smtp: SmtpServer, mail_in: int) -> None:
    sent = await delivered(domain, smtp)
    world = sent.world
    data = reply(world.emails[1], MAILBOX, "Works again here, thank you.", in_reply_to=sent.message_ids[1])
    code, text = await send(mail_in, data, mail_from=world.emails[1], rcpt=MAILBOX)
    assert code == 250, text
    (line,) = await replies(domain, world.child_ids[1])
    assert line.body == "Works again here, thank you."


async def test_a_reply_over_lmtp_lands(domain: Domain, smtp: SmtpServer) -> None:
    mail_in_settings(domain)
    sent = await delivered(domain, smtp)
    world = sent.world
    server = await start(domain, host="127.0.0.1", port=0, lmtp=True)
    port = server.sockets[0].getsockname()[1]

    def over_lmtp() -> dict[str, tuple[int, bytes]]:
        with smtplib.LMTP("127.0.0.1", port) as client:
            return client.sendmail(
                world.emails[0], [sent.reply_to[0]], reply(world.emails[0], sent.reply_to[0], "By LMTP.")
            )

    try:
        assert await asyncio.to_thread(over_lmtp) == {}
    finally:
        server.close()
        await server.wait_closed()
    (line,) = await replies(domain, world.child_ids[0])
    assert line.body == "By LMTP."


async def test_an_html_only_reply_becomes_text_and_hostile_text_is_stored_as_data(
    domain: Domain, smtp: SmtpServer, mail_in: int
) -> None:
    sent = await delivered(domain, smtp)
    world = sent.world
    message = EmailMessage()
    message["From"] = world.emails[0]
    message["To"] = sent.reply_to[0]
    message["Subject"] = "=?utf-8?q?Re=3A_hi=0D=0ABcc=3A_all=40example=2Ecom?="
    html = (
        "<html><head><style>p{color:red}</style><script>alert(1)</script></head><body>"
        "<p>[bold]Still down[/bold] &amp; <b>slow</b>\x1b[31m</p><div>Second line</div>"
        '<div class="gmail_quote">On Mon wrote:<blockquote>Payments are failing</blockquote></div>'
        "</body></html>"
    )
    message.set_content(html, subtype="html")
    code, text = await send(mail_in, message.as_bytes(), mail_from=world.emails[0], rcpt=sent.reply_to[0])
    assert code == 250, text
    (line,) = await replies(domain, world.child_ids[0])
    assert line.body == "[bold]Still down[/bold] & slow\\x1b[31m\n\nSecond line"


# --- refusals: nothing stored ------------------------------------------------------------------


async def test_an_unknown_sender_is_refused(domain: Domain, smtp: SmtpServer, mail_in: int) -> None:
    sent = await delivered(domain, smtp)
    world = sent.world
    before = await stored(domain)
    # A stranger, and a contact of the other account, with a genuine reply address.
    for sender in ("mallory@evil.example", world.emails[1]):
        code, text = await send(
            mail_in, reply(sender, sent.reply_to[0], "Let me in"), mail_from=sender, rcpt=sent.reply_to[0]
        )
        assert (code, text) == (550, "5.7.1 the sender is not a contact of this case's account")
    assert await stored(domain) == before


async def test_a_forged_or_altered_reply_address_is_refused(domain: Domain, smtp: SmtpServer, mail_in: int) -> None:
    sent = await delivered(domain, smtp)
    world = sent.world
    before = await stored(domain)
    token = REPLY_TO.match(sent.reply_to[0]).group(1)  # type: ignore[union-attr]
    case_id, contact_id, day, mac = token.split("-")
    forged = [
        f"replies+{world.child_ids[1]}-{contact_id}-{day}-{mac}@support.example",  # another case
        f"replies+{case_id}-{contact_id}-{int(day) + 1000}-{mac}@support.example",  # a later expiry
        f"replies+{case_id}-{contact_id}-{day}-{'0' * 20}@support.example",
        "replies+hello@support.example",
    ]
    for address in forged:
        code, text = await send(mail_in, reply(world.emails[0], address, "Hi"), mail_from=world.emails[0], rcpt=address)
        assert (code, text) == (550, "5.7.1 the reply address is not one we issued"), address
    assert await stored(domain) == before


async def test_an_expired_reply_address_is_refused(
    domain: Domain, smtp: SmtpServer, mail_in: int, clock: FrozenClock
) -> None:
    sent = await delivered(domain, smtp)
    world = sent.world
    clock.advance(days=91)
    before = await stored(domain)
    code, text = await send(
        mail_in, reply(world.emails[0], sent.reply_to[0], "Late"), mail_from=world.emails[0], rcpt=sent.reply_to[0]
    )
    assert code == 550 and "the reply address expired on" in text
    data = reply(world.emails[0], MAILBOX, "Late", in_reply_to=sent.message_ids[0])
    code, text = await send(mail_in, data, mail_from=world.emails[0], rcpt=MAILBOX)
    assert code == 550 and "too old" in text
    assert await stored(domain) == before


async def test_a_thread_reference_from_another_address_or_to_nothing_is_refused(
    domain: Domain, smtp: SmtpServer, mail_in: int
) -> None:
    sent = await delivered(domain, smtp)
    world = sent.world
    before = await stored(domain)
    data = reply(world.emails[1], MAILBOX, "Not mine", in_reply_to=sent.message_ids[0])
    assert (await send(mail_in, data, mail_from=world.emails[1], rcpt=MAILBOX))[0] == 550
    data = reply(world.emails[0], MAILBOX, "No thread")
    code, text = await send(mail_in, data, mail_from=world.emails[0], rcpt=MAILBOX)
    assert code == 550 and "answers none of our notices" in text
    assert await stored(domain) == before


async def test_automatic_mail_is_accepted_and_dropped(
    domain: Domain, smtp: SmtpServer, mail_in: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="pcso.mail_in")
    sent = await delivered(domain, smtp)
    world = sent.world
    before = await stored(domain)
    to = sent.reply_to[0]
    loops = [
        (world.emails[0], {"Auto-Submitted": "auto-replied"}),
        (world.emails[0], {"Precedence": "bulk"}),
        (world.emails[0], {"X-Autoreply": "yes"}),
        ("", {}),  # a bounce: empty envelope sender
        ("MAILER-DAEMON@customer.example", {}),
    ]
    for mail_from, headers in loops:
        data = reply(world.emails[0], to, "I am out of the office until Monday.", headers=headers)
        code, text = await send(mail_in, data, mail_from=mail_from, rcpt=to)
        assert (code, text) == (250, "2.6.0 Automatic mail accepted and dropped"), headers
    dropped = [r.getMessage() for r in caplog.records if r.getMessage().startswith("dropped")]
    assert len(dropped) == len(loops) and "Auto-Submitted: auto-replied" in dropped[0]
    # Auto-Submitted: no is a person's mail.
    data = reply(world.emails[0], to, "Written by hand.", headers={"Auto-Submitted": "no"})
    assert (await send(mail_in, data, mail_from=world.emails[0], rcpt=to))[0] == 250
    assert [line.body for line in await replies(domain, world.child_ids[0])] == ["Written by hand."]
    lines, _ = await stored(domain)
    assert lines == before[0] + 1


async def test_an_attachment_is_refused_with_a_polite_bounce(domain: Domain, smtp: SmtpServer, mail_in: int) -> None:
    sent = await delivered(domain, smtp)
    world = sent.world
    before = await stored(domain)
    message = EmailMessage()
    message["From"] = world.emails[0]
    message["To"] = sent.reply_to[0]
    message["Subject"] = "Re: screenshot"
    message.set_content("See the screenshot.")
    message.add_attachment(b"\x89PNG\r\n\x1a\n" + b"0" * 100, maintype="image", subtype="png", filename="shot.png")
    code, text = await send(mail_in, message.as_bytes(), mail_from=world.emails[0], rcpt=sent.reply_to[0])
    assert code == 550 and text.startswith("5.6.0 Attachments cannot be taken by email reply")
    assert await stored(domain) == before


async def test_an_oversized_mail_is_refused_during_data(domain: Domain, smtp: SmtpServer) -> None:
    mail_in_settings(domain, max_size=4096)
    sent = await delivered(domain, smtp)
    world = sent.world
    server = await start(domain, host="127.0.0.1", port=0, lmtp=False)
    port = server.sockets[0].getsockname()[1]
    before = await stored(domain)
    try:
        data = reply(world.emails[0], sent.reply_to[0], "x" * 70 + ("\n" + "y" * 70) * 200)
        code, _ = await send(port, data, mail_from=world.emails[0], rcpt=sent.reply_to[0])
        assert code == 552
    finally:
        server.close()
        await server.wait_closed()
    assert await stored(domain) == before


async def test_hostile_mail_never_crashes_the_server_and_stores_nothing(
    domain: Domain, smtp: SmtpServer, mail_in: int
) -> None:
    sent = await delivered(domain, smtp)
    world = sent.world
    to = sent.reply_to[0]
    before = await stored(domain)
    frm = world.emails[0].encode()
    hostile = [
        # multipart without its boundary, and a part whose base64 is broken
        b"From: " + frm + b"\r\nContent-Type: multipart/mixed\r\n\r\n--x\r\nnothing\r\n",
        b"From: " + frm + b'\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n'
        b"Content-Type: text/plain; charset=no-such-charset\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        b"!!!not base64!!!\r\n--b--\r\n",
        # two From headers; a From with two addresses; an encoded word posing as an address
        b"From: " + frm + b"\r\nFrom: mallory@evil.example\r\n\r\nHi\r\n",
        b"From: " + frm + b", mallory@evil.example\r\n\r\nHi\r\n",
        b"From: =?utf-8?q?" + frm + b"?= <mallory@evil.example>\r\n\r\nHi\r\n",
        # header injection: a folded From carrying a second header, an encoded CR LF in a name
        b"From: " + frm + b"\r\n Bcc: mallory@evil.example\r\n\r\nHi\r\n",
        b"From: =?utf-8?q?x=0D=0AFrom:_" + frm + b"?= <mallory@evil.example>\r\n\r\nHi\r\n",
        # 8-bit bytes in headers
        b"From: \xff\xfe <" + frm + b">\xc3\r\nSubject: \xe9\xe9\r\n\r\nNot a contact either way\r\n",
        # no headers at all; a body of only quoted text
        b"\r\n\r\n",
        b"From: " + frm + b"\r\n\r\n> quoted only\r\n> more\r\n",
    ]
    for data in hostile:
        code, _ = await send(mail_in, data, mail_from=world.emails[0], rcpt=to)
        assert code == 550, data
    assert await stored(domain) == before
    # Raw UTF-8 in From (8-bit headers need SMTPUTF8, which the server does not offer) is refused.
    data = b"From: \xc3\xa9 <" + frm + b">\r\n\r\nHi\r\n"
    assert (await send(mail_in, data, mail_from=world.emails[0], rcpt=to))[0] == 550
    assert await stored(domain) == before
    # NUL bytes, a control character and 8-bit bytes in the Subject, from the right sender: the
    # text is stored as data (the subject is not used).
    data = b"From: =?utf-8?b?w6k=?= <" + frm + b">\r\nSubject: \xe9\r\n\r\nStill\x00 down\x07\r\n"
    code, text = await send(mail_in, data, mail_from=world.emails[0], rcpt=to)
    assert code == 250, text
    # A NUL that arrives encoded (quoted-printable) is shown, not stored as a NUL.
    data = (
        b"From: " + frm + b"\r\nContent-Type: text/plain; charset=utf-8\r\n"
        b"Content-Transfer-Encoding: quoted-printable\r\n\r\nNul=00 here\r\n"
    )
    code, text = await send(mail_in, data, mail_from=world.emails[0], rcpt=to)
    assert code == 250, text
    assert [line.body for line in await replies(domain, world.child_ids[0])] == ["Still down\\x07", "Nul\\x00 here"]


async def test_the_server_takes_one_recipient_and_only_its_own_mailbox(
    domain: Domain, smtp: SmtpServer, mail_in: int
) -> None:
    sent = await delivered(domain, smtp)
    client = aiosmtplib.SMTP(hostname="127.0.0.1", port=mail_in, timeout=10)
    await client.connect()
    try:
        await client.ehlo()
        await client.mail(sent.world.emails[0])
        with pytest.raises(aiosmtplib.SMTPRecipientRefused) as refused:
            await client.rcpt("postmaster@support.example")
        assert refused.value.code == 550
        assert (await client.rcpt(sent.reply_to[0])).code == 250
        with pytest.raises(aiosmtplib.SMTPRecipientRefused) as second:
            await client.rcpt(sent.reply_to[1])
        assert second.value.code == 452
    finally:
        client.close()


async def test_a_reply_to_a_closed_case_is_refused(domain: Domain, smtp: SmtpServer, mail_in: int) -> None:
    sent = await delivered(domain, smtp)
    world = sent.world
    async with domain.transaction(SYSTEM) as tx:
        case = await tx.session.get(Case, world.child_ids[0])
        assert case is not None
        case.state = "closed"
    before = await stored(domain)
    code, text = await send(
        mail_in, reply(world.emails[0], sent.reply_to[0], "Hi"), mail_from=world.emails[0], rcpt=sent.reply_to[0]
    )
    assert code == 550 and "is closed and takes no more replies" in text
    assert await stored(domain) == before


async def test_mail_in_needs_an_address(domain: Domain) -> None:
    with pytest.raises(InvalidInput, match=r"\[mail_in\] address is not set"):
        await start(domain, host="127.0.0.1", port=0, lmtp=False)


# --- reading mail (no server) ------------------------------------------------------------------


def test_quoted_history_and_signatures_are_stripped() -> None:
    assert strip_quoted(QUOTED) == "Thanks, it is still failing for our Visa cards."
    outlook = "Fine now.\r\n\r\n-----Original Message-----\r\nFrom: Service status\r\nSent: Monday\r\n"
    assert strip_quoted(outlook) == "Fine now."
    block = "Fine.\n\nFrom: Service status <s@x.example>\nSent: Monday\nTo: me\nSubject: Update\n\nOld text"
    assert strip_quoted(block) == "Fine."
    wrapped = "Yes.\n\nOn Mon, 7 Dec 2026 at 10:00, Service status\n<status@pcso.example> wrote:\n> old"
    assert strip_quoted(wrapped) == "Yes."
    assert strip_quoted("Top\n> inline quote\nbottom\n-- \nsig") == "Top\nbottom"
    assert strip_quoted("From: here on, it works.") == "From: here on, it works."


def test_html_is_read_as_text_never_rendered() -> None:
    assert html_to_text("<p>a &lt;b&gt;</p><br><script>x()</script><p>c</p>") == "a <b>\n\nc"
    assert html_to_text("<div>keep<blockquote>drop<div>drop</div></blockquote>keep2</div>") == "keep\nkeep2"


def test_read_reply_refuses_without_raising() -> None:
    for data in (b"", b"\x00\xff" * 100, b"From: a@b.example\r\nContent-Type: multipart/alternative\r\n\r\n"):
        assert read_reply(data, "a@b.example").__class__.__name__ == "Refused"


def test_without_a_secret_a_key_file_is_made_once_and_kept_private(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PCSO_MAIL_IN_SECRET", raising=False)
    settings = MailInSettings(address=MAILBOX, secret_file=str(tmp_path / "keys" / "mail-in.secret"))
    first = reply_secret(settings)
    path = tmp_path / "keys" / "mail-in.secret"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(first) == 64 and reply_secret(settings) == first
    assert [p.name for p in path.parent.iterdir()] == ["mail-in.secret"]
    monkeypatch.setenv("PCSO_MAIL_IN_SECRET", "from-the-environment")
    assert reply_secret(settings) == b"from-the-environment"
    monkeypatch.delenv("PCSO_MAIL_IN_SECRET")
    path.write_text("short\n", encoding="ascii")
    with pytest.raises(InvalidInput, match="holds no usable key"):
        reply_secret(settings)
    blocked = MailInSettings(address=MAILBOX, secret_file=str(path / "below-a-file"))
    with pytest.raises(InvalidInput, match="cannot read or create the reply key"):
        reply_secret(blocked)


async def test_the_worker_stops_at_start_on_an_unreadable_reply_key(
    domain: Domain, smtp: SmtpServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PCSO_MAIL_IN_SECRET", raising=False)
    (tmp_path / "a-file").write_text("", encoding="ascii")
    domain.settings = replace(
        domain.settings, mail_in=MailInSettings(address=MAILBOX, secret_file=str(tmp_path / "a-file" / "key"))
    )
    configure(domain, smtp)
    world = await make_world(domain, 1)
    with pytest.raises(InvalidInput, match="cannot read or create the reply key"):
        await deliver(domain)
    assert smtp.received == []
    async with domain.reading() as session:
        states = (await session.scalars(select(Notice.state).where(Notice.id.in_(world.notice_ids)))).all()
    assert list(states) == ["pending"]
