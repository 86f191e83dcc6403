"""The ``webhook`` and ``sms`` channels: signed JSON POSTs over one aiohttp session.

``webhook`` posts the notice's structured data to the contact's ``webhook_url`` (else to
``[delivery.webhook] default_url``) — the way into chat rooms, ticketing systems and anything
else that takes JSON. ``sms`` posts ``{"to": phone, "text": …}`` to the SMS gateway at
``[delivery.webhook] sms_url``; the gateway does the rest.

Every request carries::

    Content-Type: application/json
    Idempotency-Key: <the notice's idempotency key>
    X-Pcso-Signature: sha256=<hex HMAC-SHA256 of the exact body, keyed with the secret>
    X-Pcso-Event: <notice kind>

The body is canonical JSON frozen with the notice, so a retry carries the same bytes and
the same signature. 2xx is delivered; 408, 429 and 5xx (and timeouts, refused connections)
are retried; any other 4xx — and a redirect, which is not followed — is permanent.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from pcso_tui.domain.core.channels import DeliveryOutcome, OutboundMessage, canonical_json, signature
from pcso_tui.domain.core.settings import WebhookSettings
from pcso_tui.domain.core.text import one_line

SECRET_ENV = "PCSO_WEBHOOK_SECRET"
RETRYABLE_STATUS = frozenset({408, 425, 429})
# What the importer accepts as a contact's webhook URL.
_URL = re.compile(r"^https?://[^\s/]+")


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


class WebhookChannel:
    name = "webhook"
    address_field = "webhook_url"

    @staticmethod
    def check_address(value: str) -> str | None:
        return None if _URL.match(value) else "is not an http(s) URL"

    def __init__(self, settings: WebhookSettings, *, concurrency: int = 8) -> None:
        self.settings = settings
        self.concurrency = max(1, concurrency)
        self.secret = settings.secret or os.environ.get(SECRET_ENV, "")
        self._session: Any = None
        self._limit: asyncio.Semaphore | None = None

    # what to send where --------------------------------------------------------------------

    def target(self, message: OutboundMessage) -> str | None:
        return message.webhook_url or self.settings.default_url or None

    def no_target(self, message: OutboundMessage) -> DeliveryOutcome:
        reason = "the contact has no webhook URL and [delivery.webhook] default_url is not set"
        return DeliveryOutcome.skipped(message, reason)

    def body(self, message: OutboundMessage) -> bytes:
        return message.json_body()

    # the session -----------------------------------------------------------------------------

    async def open(self) -> None:
        import aiohttp

        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.settings.timeout),
                connector=aiohttp.TCPConnector(limit=self.concurrency),
                headers={"User-Agent": "pcso-tui"},
            )
        self._limit = asyncio.Semaphore(self.concurrency)

    async def close(self) -> None:
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()

    async def send_batch(self, messages: Sequence[OutboundMessage]) -> list[DeliveryOutcome]:
        if self._session is None:
            await self.open()
        return list(await asyncio.gather(*(self._post(m) for m in messages)))

    async def _post(self, message: OutboundMessage) -> DeliveryOutcome:
        import aiohttp

        url = self.target(message)
        if not url:
            return self.no_target(message)
        if urlsplit(url).scheme not in ("http", "https"):
            return DeliveryOutcome.failed(message, f"not an http(s) URL: {one_line(url, 200)}")
        if not self.secret:
            return DeliveryOutcome.failed(message, f"no signing secret: set [delivery.webhook] secret or ${SECRET_ENV}")
        body = self.body(message)
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": message.idempotency_key,
            "X-Pcso-Signature": signature(self.secret, body),
            "X-Pcso-Event": message.kind,
        }
        assert self._limit is not None
        async with self._limit:
            try:
                async with self._session.post(url, data=body, headers=headers, allow_redirects=False) as response:
                    status = response.status
                    retry_after = _retry_after(response.headers.get("Retry-After"))
                    await response.read()
            except (aiohttp.ClientError, TimeoutError) as exc:
                reason = f"POST {self.name}: {type(exc).__name__} {one_line(str(exc), 200)}"
                return DeliveryOutcome.retry(message, reason)
        if 200 <= status < 300:
            return DeliveryOutcome.sent(message)
        reason = f"HTTP {status} from {one_line(urlsplit(url).netloc, 100)}"
        if status in RETRYABLE_STATUS or status >= 500:
            return DeliveryOutcome.retry(message, reason, retry_after)
        if 300 <= status < 400:
            return DeliveryOutcome.failed(message, reason + " (redirects are not followed)")
        return DeliveryOutcome.failed(message, reason)


class SmsChannel(WebhookChannel):
    """SMS through an HTTP gateway: the same signing, retries and idempotency as webhooks."""

    name = "sms"
    address_field = "phone"

    @staticmethod
    def check_address(value: str) -> str | None:
        return None  # the gateway knows its numbers; the importer already refuses control characters

    def target(self, message: OutboundMessage) -> str | None:
        if not message.phone:
            return None
        return self.settings.sms_url or None

    def no_target(self, message: OutboundMessage) -> DeliveryOutcome:
        if not message.phone:
            return DeliveryOutcome.skipped(message, "the contact has no phone number")
        return DeliveryOutcome.failed(message, "no SMS gateway: set [delivery.webhook] sms_url")

    def body(self, message: OutboundMessage) -> bytes:
        sms = {"id": message.idempotency_key, "kind": message.kind, "to": message.phone, "text": message.sms}
        return canonical_json(sms)
