"""The mail receiver behind ``pcso mail-in``: customers' replies to notice emails (aiosmtpd).

An MTA hands replies to it over SMTP or LMTP on loopback (docs/mail-in.md has the Postfix
wiring). Each message gets one answer at the end of DATA, and only a 250 stores anything:

    250  the reply landed on its case (or it was an automatic mail: accepted and dropped)
    550  refused, with the reason: an attachment, no readable text, a From that is not one
         address, a sender who is not a contact of the case's account, a forged or expired
         reply address, a mail that answers none of our notices, a closed case
    552  larger than ``[mail_in] max_size`` (enforced while the data arrives)
    451  the database is busy or failed: the MTA keeps the mail and tries again

Automatic mail (``Auto-Submitted`` other than ``no``, ``Precedence: bulk|junk|list``,
``X-Autoreply``/``X-Autorespond``, delivery reports, an empty envelope sender or
MAILER-DAEMON) is accepted and dropped, so an out-of-office reply cannot start a mail loop;
each drop is logged. One recipient per transaction: a second ``RCPT`` gets 452, which MTAs
answer by delivering it in a transaction of its own.

What lands is the reply text only: the text/plain part (or the HTML part turned into text,
never rendered), with quoted history cut off — the ``On … wrote:`` line and everything after
it, ``>`` lines, an Outlook ``-----Original Message-----`` or ``From:``/``Sent:`` block, and a
signature after ``-- `` — then normalised with ``customer_text``. The subject is not used.
"""

from __future__ import annotations

import asyncio
import email
import email.errors
import email.policy
import logging
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage, Message
from email.utils import getaddresses
from html.parser import HTMLParser
from typing import Any

from pcso_tui.domain.casework.mail_replies import reply_by_mail
from pcso_tui.domain.core.errors import DomainError, InvalidInput
from pcso_tui.domain.core.reply_tokens import reply_secret, split_address
from pcso_tui.domain.core.service import Domain, StorageBusy
from pcso_tui.domain.core.text import one_line

log = logging.getLogger("pcso.mail_in")

TEXT_TYPES = ("text/plain", "text/html")
LOOP_PRECEDENCE = ("bulk", "junk", "list")
LOOP_HEADERS = ("X-Autoreply", "X-Autorespond")
DAEMONS = ("mailer-daemon", "postmaster")
BROKEN_ENCODING = (
    email.errors.InvalidBase64CharactersDefect,
    email.errors.InvalidBase64PaddingDefect,
    email.errors.InvalidBase64LengthDefect,
)
ADDRESS = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9.-]+$")

ATTACHMENT_REFUSED = (
    "550 5.6.0 Attachments cannot be taken by email reply. Please send your reply as text only;"
    " your support contact will tell you how to share files."
)
UNREADABLE = "550 5.6.0 The message could not be read as mail with a text part"
EMPTY = "550 5.6.0 The reply is empty once quoted text is removed; please write above the quoted notice"
BAD_FROM = "550 5.1.7 The From: header must name exactly one address"
TRY_LATER = "451 4.3.0 Temporary failure; please try again later"


@dataclass(frozen=True, slots=True)
class Reply:
    """A mail read as a reply: who it is from, what it answers, and its text."""

    sender: str
    references: tuple[str, ...]
    text: str


@dataclass(frozen=True, slots=True)
class Refused:
    """The SMTP answer for a mail that is not stored (a 5xx, or 250 for a dropped loop)."""

    reply: str
    why: str


# --- reading a mail -------------------------------------------------------------------------


class _HtmlText(HTMLParser):
    """Text of an HTML part: tags dropped, blocks on their own lines; scripts, styles and
    quoted history (``blockquote``, Gmail's ``gmail_quote``) skipped. Never rendered."""

    BLOCKS = frozenset(
        {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "table", "hr", "blockquote"}
    )
    SKIP = frozenset({"script", "style", "head", "title", "blockquote"})
    VOID = frozenset({"br", "hr", "img", "meta", "link", "input", "wbr", "col", "area", "base", "source"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping: list[str] = []
        self.open: list[str] = []
        # How many of each tag are open: a stray end tag is looked up in O(1), so a hostile
        # page of thousands of unclosed tags cannot make this quadratic.
        self.open_count: Counter[str] = Counter()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = " ".join(v or "" for k, v in attrs if k == "class")
        if tag in self.VOID:
            if tag in self.BLOCKS and not self.skipping:
                self.parts.append("\n")
            return
        self.open.append(tag)
        self.open_count[tag] += 1
        if self.skipping or tag in self.SKIP or "gmail_quote" in classes or "moz-cite-prefix" in classes:
            self.skipping.append(tag)
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if not self.open_count[tag]:
            return
        while self.open:
            closed = self.open.pop()
            self.open_count[closed] -= 1
            if self.skipping and self.skipping[-1] == closed:
                self.skipping.pop()
            if closed == tag:
                break
        if tag in self.BLOCKS and not self.skipping:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    parser = _HtmlText()
    parser.feed(html)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).split("\n"))
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


_WROTE = re.compile(
    r"^\s*(On|Le|Am|El|Il|Op|Em)\b.*\b(wrote|écrit|schrieb|escribió|scritto|schreef|escreveu)\s*:\s*$", re.I
)
_ORIGINAL = re.compile(r"^\s*-{2,}\s*(Original Message|Forwarded message|Ursprüngliche Nachricht)\s*-{2,}", re.I)
_HEADER_LINE = re.compile(r"^\s*\*?(From|Sent|Date|To|Subject|Cc)\s*:\*?\s", re.I)


def strip_quoted(text: str) -> str:
    """The new part of a reply: stops at the quoted notice, drops ``>`` lines and the signature."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    kept: list[str] = []
    for i, line in enumerate(lines):
        if line == "-- " or line.rstrip() == "--" or _ORIGINAL.match(line) or _WROTE.match(line):
            break
        # "On Mon, 7 Dec 2026 at 10:00, Service status <…>" wrapped before "wrote:".
        if re.match(r"^\s*On\b", line) and i + 1 < len(lines) and _WROTE.match("On " + lines[i + 1]):
            break
        # An Outlook header block: From: then Sent:/Date:/To: within the next lines.
        if (
            re.match(r"^\s*\*?From\s*:", line, re.I)
            and sum(1 for n in lines[i + 1 : i + 5] if _HEADER_LINE.match(n)) >= 2
        ):
            break
        if line.lstrip().startswith(">"):
            continue
        kept.append(line)
    return "\n".join(kept).strip()


def _content(part: Message) -> str | None:
    """The decoded text of a part; None when its charset is unknown or its transfer encoding is
    broken (rather than storing a guess at what it said)."""
    try:
        text = part.get_content()  # type: ignore[attr-defined]
    except (LookupError, ValueError):
        return None
    if any(isinstance(d, BROKEN_ENCODING) for d in part.defects):
        return None
    return str(text)


def _loop_reason(message: Message, mail_from: str) -> str | None:
    envelope = mail_from.strip().strip("<>")
    if not envelope:
        return "empty envelope sender (a bounce)"
    if envelope.partition("@")[0].lower() in DAEMONS:
        return f"envelope sender {one_line(envelope, 80)}"
    auto = str(message.get("Auto-Submitted", "") or "").split(";")[0].strip().lower()
    if auto and auto != "no":
        return f"Auto-Submitted: {one_line(auto, 40)}"
    precedence = str(message.get("Precedence", "") or "").strip().lower()
    if precedence in LOOP_PRECEDENCE:
        return f"Precedence: {precedence}"
    for name in LOOP_HEADERS:
        if message.get(name) is not None:
            return f"{name} header"
    if message.get_content_type() == "multipart/report":
        return "a delivery or read report"
    return None


def _sender(message: Message) -> str | None:
    values = message.get_all("From") or []
    if len(values) != 1:
        return None
    defects = getattr(values[0], "defects", ())
    if any(isinstance(d, email.errors.InvalidHeaderDefect | email.errors.UndecodableBytesDefect) for d in defects):
        return None
    raw = str(values[0])
    if "\x00" in raw or "\r" in raw or "\n" in raw:
        return None
    found = [address for _, address in getaddresses([raw]) if address]
    if len(found) != 1 or not ADDRESS.match(found[0]) or len(found[0]) > 320:
        return None
    return found[0].lower()


def read_reply(data: bytes, mail_from: str) -> Reply | Refused:
    """The reply in ``data``, or why it is refused (or dropped). Never raises for bad mail."""
    try:
        message = email.message_from_bytes(data.replace(b"\x00", b""), policy=email.policy.default)
        loop = _loop_reason(message, mail_from)
        if loop is not None:
            return Refused("250 2.6.0 Automatic mail accepted and dropped", loop)
        sender = _sender(message)
        if sender is None:
            return Refused(BAD_FROM, "no single From address")
        body: Message | None = None
        for part in message.walk():
            if part.is_multipart():
                continue
            disposition = part.get_content_disposition()
            if disposition == "attachment" or part.get_filename() or part.get_content_type() not in TEXT_TYPES:
                return Refused(ATTACHMENT_REFUSED, f"attachment ({one_line(part.get_content_type(), 60)})")
        if isinstance(message, EmailMessage):
            body = message.get_body(preferencelist=("plain", "html"))
        if body is None:
            return Refused(UNREADABLE, "no text part")
        content = _content(body)
        if content is None:
            return Refused(UNREADABLE, "unknown charset or broken transfer encoding")
        text = html_to_text(content) if body.get_content_type() == "text/html" else content
        references = tuple(str(v) for name in ("In-Reply-To", "References") for v in message.get_all(name) or [])
    except Exception as exc:  # malformed MIME of any kind is a refusal, never a crash
        return Refused(UNREADABLE, f"unreadable: {one_line(type(exc).__name__, 60)}")
    text = strip_quoted(text)
    if not text:
        return Refused(EMPTY, "empty after quoted text was removed")
    return Reply(sender=sender, references=references, text=text)


# --- the SMTP/LMTP server -------------------------------------------------------------------


def _smtp_text(text: str) -> str:
    """A server answer: one ASCII line (the client may show it to the customer in a bounce)."""
    return one_line(text, 400).encode("ascii", "replace").decode("ascii")


class MailIn:
    """The aiosmtpd handler: checks recipients at RCPT, reads and lands the reply at DATA."""

    def __init__(self, domain: Domain, secret: bytes) -> None:
        self.domain = domain
        self.secret = secret
        mailbox, _, mail_domain = split_address(domain.settings.mail_in.address)
        self.mailbox = (mailbox, mail_domain)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any) -> str:
        if envelope.rcpt_tos:
            return "452 4.5.3 One recipient per message, please"
        local, _, mail_domain = split_address(address)
        if (local, mail_domain) != self.mailbox:
            return "550 5.1.1 No such mailbox: this server takes replies to notices only"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        data = envelope.original_content or envelope.content or b""
        return await self.receive(envelope.mail_from or "", envelope.rcpt_tos[0], data)

    async def receive(self, mail_from: str, recipient: str, data: bytes) -> str:
        """The answer to one message; a 250 other than a dropped loop means it landed."""
        # Parsing a message of up to max_size is CPU work: off the loop, so other sessions and
        # the database calls keep going.
        read = await asyncio.to_thread(read_reply, data, mail_from)
        if isinstance(read, Refused):
            what = "dropped" if read.reply.startswith("250") else "refused"
            log.info("%s from <%s>: %s", what, one_line(mail_from, 100), read.why)
            return read.reply
        try:
            landed = await reply_by_mail(
                self.domain,
                recipient=recipient,
                sender=read.sender,
                references=read.references,
                body=read.text,
                secret=self.secret,
            )
        except StorageBusy:
            log.warning("database busy; the MTA will retry")
            return TRY_LATER
        except DomainError as exc:
            log.info("refused from %s: %s", one_line(read.sender, 100), one_line(str(exc), 200))
            return _smtp_text(f"550 5.7.1 {exc}")
        except Exception:
            log.exception("reply from %s failed; the MTA will retry", one_line(read.sender, 100))
            return TRY_LATER
        log.info("reply from %s landed on %s (%s)", landed.contact_number, landed.case_number, landed.route)
        return f"250 2.0.0 Reply added to case {landed.case_number}"


def protocol_factory(handler: MailIn, *, lmtp: bool, max_size: int) -> Callable[[], Any]:
    from aiosmtpd.lmtp import LMTP
    from aiosmtpd.smtp import SMTP

    server_class = LMTP if lmtp else SMTP

    def make() -> Any:
        return server_class(
            handler,
            hostname="pcso-mail-in",
            ident="pcso mail-in",
            data_size_limit=max_size,
            enable_SMTPUTF8=False,
            timeout=120,
        )

    return make


async def start(domain: Domain, *, host: str, port: int, lmtp: bool) -> asyncio.Server:
    """Listen for replies; the caller closes the server. Refuses to start without
    ``[mail_in] address`` (mail could find no case)."""
    settings = domain.settings.mail_in
    if not settings.address:
        raise InvalidInput('[mail_in] address is not set (e.g. address = "replies@support.example")')
    handler = MailIn(domain, reply_secret(settings))
    loop = asyncio.get_running_loop()
    return await loop.create_server(protocol_factory(handler, lmtp=lmtp, max_size=settings.max_size), host, port)


async def serve(
    domain: Domain,
    *,
    host: str,
    port: int,
    lmtp: bool,
    stop: asyncio.Event,
    ready: Callable[[list[Any]], None] | None = None,
) -> None:
    server = await start(domain, host=host, port=port, lmtp=lmtp)
    try:
        if ready is not None:
            ready([s.getsockname() for s in server.sockets])
        await stop.wait()
    finally:
        server.close()
        await server.wait_closed()
