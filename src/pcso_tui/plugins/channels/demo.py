"""The demo channels: delivery in a demo world, where no mail server or webhook receiver exists.

``pcso demo`` runs the delivery worker with these in place of the real channels, so notices
written by approvals, statements and resolutions flow through the outbox exactly as they
would (claimed, rendered, frozen, recorded with their ``notices.delivered`` events) and end
``sent``, delivered to the demo outbox: nothing leaves the machine. They are given to the
worker explicitly and never registered through the plugin hook, so outside ``pcso demo`` they
cannot replace a real channel.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

from pcso_tui.domain.core.channels import DeliveryOutcome, NotificationChannel, OutboundMessage
from pcso_tui.plugins.channels.portal import PortalChannel

# The channels that would need a server of their own.
STANDS_IN_FOR = ("email", "webhook", "sms")
KEEP = 200


class DemoChannel:
    """Accepts every message under the name of a real channel; keeps the last few for a look."""

    def __init__(self, name: str, *, keep: int = KEEP) -> None:
        self.name = name
        self.delivered: deque[OutboundMessage] = deque(maxlen=keep)

    async def open(self) -> None:
        return None

    async def send_batch(self, messages: Sequence[OutboundMessage]) -> list[DeliveryOutcome]:
        self.delivered.extend(messages)
        return [DeliveryOutcome.sent(m) for m in messages]

    async def close(self) -> None:
        return None


def demo_channels() -> list[NotificationChannel]:
    """Every channel a seeded world's contacts prefer, none of them reaching outside."""
    return [*(DemoChannel(name) for name in STANDS_IN_FOR), PortalChannel()]
