"""The operator's Feed view: the live event ticker."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical

from pcso_tui.widgets.event_ticker import EventTicker


class FeedView(Vertical):
    """Every event as it arrives (``widgets.event_ticker``)."""

    def compose(self) -> ComposeResult:
        yield EventTicker()
