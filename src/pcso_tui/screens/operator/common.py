"""What the operator's views share: the clock, and how a time is shown."""

from __future__ import annotations

from datetime import UTC, datetime

from textual.dom import DOMNode

from pcso_tui.screens.base import signed_in


def now(node: DOMNode) -> datetime:
    """The domain's clock (frozen in tests)."""
    clock = getattr(signed_in(node).domain, "clock", None)
    return clock() if clock is not None else datetime.now(UTC)


def when(value: datetime | None) -> str:
    return value.astimezone().strftime("%Y-%m-%d %H:%M") if value else "—"
