"""What a notification channel is: the contract between the delivery worker and its plugins.

The worker (``domain.delivery``) renders every notice into an :class:`OutboundMessage` and
hands a batch of them to the channel named by the notice (``email``, ``webhook``, ``sms``,
``portal`` or any a plugin adds). The channel answers with one :class:`DeliveryOutcome` per
message. Channels come from the ``pcso_notification_channels`` hook; the worker opens each
once, reuses its connections for every batch, and closes it on shutdown. The importer accepts
exactly the registered channel names as a contact's preferred channel, and asks the channel
whether an address is usable. The worker also publishes the status page through every
:class:`StatusPagePublisher` (the ``pcso_status_page_publishers`` hook).

Standard library only: plugins import this without pulling in the database stack.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from pcso_tui.domain.communications.views import StatusPageData


class Outcome(StrEnum):
    SENT = "sent"
    # A temporary failure (connection refused, 4xx SMTP reply, HTTP 5xx/408/429, timeout).
    RETRY = "retry"
    # A permanent failure (5xx SMTP reply, HTTP 4xx): dead-lettered at once with the reason.
    FAILED = "failed"
    # Not sent and never will be as things stand (no address for this channel).
    SKIPPED = "skipped"


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """One rendered notice, ready for a channel.

    ``subject``/``text``/``html``/``sms``/``data`` are frozen when the notice is first sent, so
    every attempt carries the same content; the addresses are the contact's current ones.
    """

    notice_id: int
    idempotency_key: str
    kind: str
    channel: str
    # Which attempt this is (1 for the first).
    attempt: int
    created_at: datetime
    contact_name: str
    email: str | None
    phone: str | None
    webhook_url: str | None
    subject: str
    text: str
    html: str
    sms: str
    # The structured form (what a webhook receives as JSON).
    data: dict[str, Any] = field(default_factory=dict)
    # The case the notice is about and the contact it goes to (an email's reply address names
    # both); None for a notice about no case (an outage alone).
    case_id: int | None = None
    contact_id: int | None = None

    def json_body(self) -> bytes:
        """The webhook body: canonical JSON, identical bytes on every attempt."""
        return canonical_json(self.data)


@dataclass(frozen=True, slots=True)
class DeliveryOutcome:
    notice_id: int
    outcome: Outcome
    # Why it was not sent (kept on the notice as ``last_error``).
    reason: str | None = None
    # For RETRY: the earliest the channel wants to be asked again (e.g. HTTP Retry-After).
    retry_after: float | None = None

    @classmethod
    def sent(cls, message: OutboundMessage) -> DeliveryOutcome:
        return cls(message.notice_id, Outcome.SENT)

    @classmethod
    def retry(cls, message: OutboundMessage, reason: str, retry_after: float | None = None) -> DeliveryOutcome:
        return cls(message.notice_id, Outcome.RETRY, reason, retry_after)

    @classmethod
    def failed(cls, message: OutboundMessage, reason: str) -> DeliveryOutcome:
        return cls(message.notice_id, Outcome.FAILED, reason)

    @classmethod
    def skipped(cls, message: OutboundMessage, reason: str) -> DeliveryOutcome:
        return cls(message.notice_id, Outcome.SKIPPED, reason)


@runtime_checkable
class NotificationChannel(Protocol):
    """A way to reach a contact. ``name`` matches ``contact.preferred_channel``.

    ``send_batch`` must return one outcome per message (in any order) and must not raise for a
    single bad message; it keeps its own concurrency bounded. Raising fails the whole batch
    over to a retry.

    Optional (read with :func:`address_field` and :func:`address_problem`): ``address_field``,
    the contact field the channel sends to (one of :data:`ADDRESS_FIELDS`; None or absent: it
    needs none, like the portal), and ``check_address(value) -> str | None``, why an address in
    that field is unusable (completing "'x' …", e.g. "is not an email address"), or None.
    """

    name: str

    async def open(self) -> None: ...

    async def send_batch(self, messages: Sequence[OutboundMessage]) -> list[DeliveryOutcome]: ...

    async def close(self) -> None: ...


# The contact fields a channel can send to.
ADDRESS_FIELDS = ("email", "phone", "webhook_url")


def address_field(channel: NotificationChannel) -> str | None:
    """The contact field ``channel`` needs filled in, or None."""
    found = getattr(channel, "address_field", None)
    if found is not None and found not in ADDRESS_FIELDS:
        raise ValueError(f"channel {channel.name!r}: address_field {found!r} is not one of {', '.join(ADDRESS_FIELDS)}")
    return found


def address_problem(channel: NotificationChannel, value: str) -> str | None:
    """Why ``value`` is no address for ``channel`` (its own ``check_address``), or None."""
    check = getattr(channel, "check_address", None)
    return check(value) if check is not None else None


@runtime_checkable
class StatusPagePublisher(Protocol):
    """Somewhere the public status page goes (static files, a hosted status page's API …).

    ``publish`` gets the whole page each time (``StatusPageData``: customer-facing fields only)
    and may do I/O; a blocking writer runs itself in a thread (``asyncio.to_thread``). Raising
    leaves the page marked for the next try.
    """

    name: str

    async def publish(self, data: StatusPageData) -> None: ...


def canonical_json(data: Any) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def key_digest(idempotency_key: str) -> str:
    """A stable, header-safe token for an idempotency key."""
    return hashlib.sha256(idempotency_key.encode("utf-8")).hexdigest()[:32]


def message_id(idempotency_key: str, domain: str) -> str:
    """The email Message-ID of a notice: the same on every attempt, so a re-send is recognisable."""
    return f"<pcso.{key_digest(idempotency_key)}@{domain or 'localhost'}>"


def signature(secret: str, body: bytes) -> str:
    """The ``X-Pcso-Signature`` header value: ``sha256=`` + hex HMAC-SHA256 of the exact body."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify_signature(secret: str, body: bytes, header: str) -> bool:
    """What a receiver runs: constant-time comparison of the header with the expected value."""
    return hmac.compare_digest(signature(secret, body), header or "")
