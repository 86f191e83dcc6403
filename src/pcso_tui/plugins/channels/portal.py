"""The ``portal`` channel: contacts who prefer to read their notices in the customer portal.

Nothing travels: the portal shows a customer their account's cases, statements and notices
straight from the database. Handing a notice to this channel marks it sent — delivered to
the portal — so the outbox, the counts and the timeline treat it like any other channel.
"""

from __future__ import annotations

from collections.abc import Sequence

from pcso_tui.domain.core.channels import DeliveryOutcome, OutboundMessage


class PortalChannel:
    name = "portal"

    async def open(self) -> None:
        return None

    async def send_batch(self, messages: Sequence[OutboundMessage]) -> list[DeliveryOutcome]:
        return [DeliveryOutcome.sent(m) for m in messages]

    async def close(self) -> None:
        return None
