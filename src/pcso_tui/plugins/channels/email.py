"""The ``email`` channel: notices as mail through an SMTP relay.

aiosmtplib speaks SMTP on the event loop (STARTTLS, implicit TLS, AUTH, SIZE), so a fan-out
of thousands of messages runs as a few long-lived connections, each sending one message after
another, instead of a thread per connection around ``smtplib``.

Every message is built byte for byte from the notice: ``Message-ID`` and the MIME boundary
come from the idempotency key and ``Date`` from when the notice was queued, so a retry is the
very same message and a receiving system can drop the duplicate.

With ``[mail_in] address`` set, a notice about a case carries ``Reply-To:`` a signed address
that leads a reply back to that case (``domain.core.reply_tokens``, docs/mail-in.md).
"""

from __future__ import annotations

import asyncio
import binascii
import contextlib
import os
import socket
from collections import deque
from collections.abc import Sequence
from datetime import datetime
from email.header import Header
from email.utils import format_datetime, formataddr
from functools import lru_cache
from typing import Any

from pcso_tui.domain.core.channels import DeliveryOutcome, OutboundMessage, key_digest, message_id
from pcso_tui.domain.core.errors import InvalidInput
from pcso_tui.domain.core.reply_tokens import reply_address, reply_secret
from pcso_tui.domain.core.settings import EmailSettings, MailInSettings
from pcso_tui.domain.core.text import one_line

PASSWORD_ENV = "PCSO_SMTP_PASSWORD"
SECURITY_MODES = ("starttls", "tls", "none")


def _header(value: str) -> str:
    """A header value: plain ASCII as it is, anything else RFC 2047-encoded (and folded)."""
    value = one_line(value)
    if value.isascii() and len(value) < 900:
        return value
    return Header(value, "utf-8", maxlinelen=76).encode(linesep="\r\n")


class BadAddress(ValueError):
    """Why an address is no mailbox this channel can deliver to (one lower-case phrase)."""


@lru_cache(maxsize=4096)
def smtp_address(address: str) -> str:
    """``address`` as it goes on the wire: ``RCPT TO`` and the ``To`` header.

    The one check of an email address, used by the importer (``check_address``) and before
    every send: email-validator's syntax rules (no quoting, comments, routes or domain
    literals; nothing that could end a header or an SMTP command line; a domain that can be
    delivered to on the internet, so not ``localhost`` or ``.test``), and never a DNS lookup.
    An internationalised domain is IDNA-encoded (``x@bücher.example`` →
    ``x@xn--bcher-kva.example``); a non-ASCII local part would need SMTPUTF8, which the
    channel does not speak, so it is refused. Raises :class:`BadAddress`."""
    from email_validator import EmailNotValidError, validate_email

    try:
        checked = validate_email(address, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        reason = str(exc).rstrip(".")
        raise BadAddress(reason[:1].lower() + reason[1:]) from None
    return str(checked.ascii_email)


def _to_header(address: str) -> str:
    try:
        return smtp_address(address)
    except BadAddress:
        return address


@lru_cache(maxsize=4096)
def _address(name: str, address: str) -> str:
    return formataddr((one_line(name, 200), address), charset="utf-8")


@lru_cache(maxsize=256)
def _date(at: datetime) -> str:
    return format_datetime(at)


def _qp(text: str) -> bytes:
    data = text.replace("\r\n", "\n").encode("utf-8")
    return binascii.b2a_qp(data, quotetabs=False, istext=True, header=False).replace(b"\n", b"\r\n")


class ReplyAddresses:
    """The ``Reply-To`` of notices about a case, from ``[mail_in]`` (None when it has no address)."""

    def __init__(self, settings: MailInSettings) -> None:
        self.settings = settings
        self._secret: bytes | None = None

    @property
    def secret(self) -> bytes:
        # Read when the first notice is sent (the channel's open()), not when the channel is
        # merely listed, as the importer does to check addresses.
        if self._secret is None:
            self._secret = reply_secret(self.settings)
        return self._secret

    @classmethod
    def from_settings(cls, settings: MailInSettings) -> ReplyAddresses | None:
        return cls(settings) if settings.address else None

    def for_message(self, message: OutboundMessage) -> str | None:
        if message.case_id is None or message.contact_id is None:
            return None
        return reply_address(self.settings, self.secret, message.case_id, message.contact_id, message.created_at)


def build_email(
    message: OutboundMessage,
    settings: EmailSettings,
    *,
    html: bool | None = None,
    replies: ReplyAddresses | None = None,
) -> bytes:
    """The complete RFC 5322 message for one notice (CRLF line endings)."""
    sender_domain = settings.from_address.rpartition("@")[2] or "localhost"
    reply_to = replies.for_message(message) if replies is not None else None
    headers = [
        ("From", _address(settings.from_name, settings.from_address)),
        *([("Reply-To", reply_to)] if reply_to else []),
        ("To", _address(message.contact_name, _to_header(message.email or ""))),
        ("Subject", _header(message.subject)),
        ("Date", _date(message.created_at)),
        ("Message-ID", message_id(message.idempotency_key, sender_domain)),
        ("MIME-Version", "1.0"),
        ("Auto-Submitted", "auto-generated"),
        ("X-Pcso-Notice", key_digest(message.idempotency_key)),
    ]
    use_html = settings.html if html is None else html
    lines = [f"{name}: {value}".encode() for name, value in headers]
    if use_html and message.html:
        boundary = f"=_pcso_{key_digest(message.idempotency_key)}"
        lines.append(f'Content-Type: multipart/alternative; boundary="{boundary}"'.encode())
        lines.append(b"")
        for subtype, body in (("plain", message.text), ("html", message.html)):
            lines.append(f"--{boundary}".encode())
            lines.append(f"Content-Type: text/{subtype}; charset=utf-8".encode())
            lines.append(b"Content-Transfer-Encoding: quoted-printable")
            lines.append(b"")
            lines.append(_qp(body))
        lines.append(f"--{boundary}--".encode())
    else:
        lines.append(b"Content-Type: text/plain; charset=utf-8")
        lines.append(b"Content-Transfer-Encoding: quoted-printable")
        lines.append(b"")
        lines.append(_qp(message.text))
    return b"\r\n".join(lines) + b"\r\n"


class EmailChannel:
    """Sends over up to ``concurrency`` SMTP connections, opened on demand and kept open."""

    name = "email"
    address_field = "email"

    @staticmethod
    def check_address(value: str) -> str | None:
        try:
            smtp_address(value)
        except BadAddress as exc:
            return f"is not an email address we can deliver to ({exc})"
        return None

    def __init__(self, settings: EmailSettings, *, concurrency: int = 4, replies: ReplyAddresses | None = None) -> None:
        if settings.security not in SECURITY_MODES:
            modes = ", ".join(SECURITY_MODES)
            raise InvalidInput(f"[delivery.email] security = {settings.security!r}: must be one of {modes}")
        self.settings = settings
        self.concurrency = max(1, concurrency)
        self.replies = replies
        self._idle: list[Any] = []
        self._helo = settings.helo_name or socket.gethostname() or "localhost"

    async def open(self) -> None:
        # Connections open lazily, on the first batch, and are then reused.
        self._idle = []
        if self.replies is not None:
            self.replies.secret  # noqa: B018 - a missing or unreadable key stops the worker at start

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for smtp in idle:
            try:
                await smtp.quit()
            except Exception:
                smtp.close()

    async def _connect(self) -> Any:
        import aiosmtplib

        s = self.settings
        smtp = aiosmtplib.SMTP(
            hostname=s.host,
            port=s.port,
            use_tls=s.security == "tls",
            start_tls=s.security == "starttls",
            timeout=s.timeout,
            local_hostname=self._helo,
        )
        await smtp.connect()
        if smtp.last_ehlo_response is None:
            await smtp.ehlo()
        password = s.password or os.environ.get(PASSWORD_ENV, "")
        if s.username:
            await smtp.login(s.username, password)
        return smtp

    async def send_batch(self, messages: Sequence[OutboundMessage]) -> list[DeliveryOutcome]:
        import aiosmtplib

        queue = deque(messages)
        outcomes: list[DeliveryOutcome] = []
        unreachable: list[str] = []
        sender = self.settings.from_address.encode("ascii", "replace")

        async def lane() -> None:
            smtp = self._idle.pop() if self._idle else None
            reused = smtp is not None
            while queue:
                message = queue.popleft()
                if not message.email:
                    outcomes.append(DeliveryOutcome.skipped(message, "the contact has no email address"))
                    continue
                try:
                    recipient = smtp_address(message.email)
                except BadAddress as exc:
                    reason = f"invalid email address {one_line(message.email, 100)!r} ({exc})"
                    outcomes.append(DeliveryOutcome.failed(message, reason))
                    continue
                if unreachable:
                    outcomes.append(DeliveryOutcome.retry(message, unreachable[0]))
                    continue
                for _ in range(2):
                    if smtp is None or not smtp.is_connected:
                        try:
                            smtp, reused = await self._connect(), False
                        except aiosmtplib.SMTPAuthenticationError as exc:
                            smtp = None
                            unreachable.append(f"SMTP login refused: {exc.code} {one_line(exc.message, 200)}")
                            outcomes.append(DeliveryOutcome.retry(message, unreachable[0]))
                            break
                        except (OSError, aiosmtplib.SMTPException, TimeoutError) as exc:
                            smtp = None
                            where = f"{self.settings.host}:{self.settings.port}"
                            unreachable.append(f"SMTP server {where} unreachable: {one_line(str(exc), 200)}")
                            outcomes.append(DeliveryOutcome.retry(message, unreachable[0]))
                            break
                    try:
                        data = build_email(message, self.settings, replies=self.replies)
                        await _transaction(smtp, sender, recipient, data, self.settings.timeout)
                    except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError, OSError) as exc:
                        smtp.close()
                        smtp = None
                        if reused:  # an idle connection the server dropped: reconnect once
                            reused = False
                            continue
                        outcomes.append(DeliveryOutcome.retry(message, f"SMTP connection lost: {one_line(str(exc))}"))
                    except aiosmtplib.SMTPResponseException as exc:
                        if exc.code == 421:  # the server is closing this connection
                            smtp.close()
                            smtp = None
                        outcomes.append(_by_code(message, exc.code, f"SMTP {exc.code} {one_line(exc.message, 300)}"))
                    else:
                        outcomes.append(DeliveryOutcome.sent(message))
                    reused = False
                    break
            if smtp is not None and smtp.is_connected:
                self._idle.append(smtp)

        lanes = min(self.concurrency, len(messages))
        await asyncio.gather(*(lane() for _ in range(lanes)))
        return outcomes


async def _transaction(smtp: Any, sender: bytes, recipient: str, data: bytes, timeout: float) -> None:
    """MAIL, RCPT, DATA for one message, under one timeout. Addresses were checked already
    (``smtp_address``), so the commands are written directly rather than re-parsed (and
    re-timed) command by command: this halves the client's work per message."""
    import aiosmtplib

    try:
        async with asyncio.timeout(timeout):
            response = await smtp.execute_command(b"MAIL", b"FROM:<" + sender + b">", timeout=None)
            if response.code != 250:
                raise aiosmtplib.SMTPSenderRefused(response.code, response.message, sender.decode())
            rcpt = b"TO:<" + recipient.encode("ascii") + b">"
            response = await smtp.execute_command(b"RCPT", rcpt, timeout=None)
            if response.code not in (250, 251):
                raise aiosmtplib.SMTPRecipientRefused(response.code, response.message, recipient)
            await smtp.data(data, timeout=None)
    except aiosmtplib.SMTPResponseException:
        with contextlib.suppress(ConnectionError, aiosmtplib.SMTPException):
            await smtp.rset()
        raise


def _by_code(message: OutboundMessage, code: int, reason: str) -> DeliveryOutcome:
    """SMTP 4xx is temporary (retry), 5xx permanent (dead letter)."""
    if 400 <= code < 500:
        return DeliveryOutcome.retry(message, reason)
    return DeliveryOutcome.failed(message, reason)
