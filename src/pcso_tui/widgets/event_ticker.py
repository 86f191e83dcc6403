"""``EventTicker``: the last events, newest first — time, actor, kind, subject.

It subscribes to the App's live feed when mounted (``app.subscribe_events``), starts from the
events the App already holds (``app.recent_events``), and keeps at most ``limit`` lines.
Every field is shown literally (``widgets.feed.describe_event``). ``accept`` narrows what it
shows (the customer portal shows only the customer's own events).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable

from textual.content import Content
from textual.widget import Widget

from pcso_tui.domain.core.views import EventView
from pcso_tui.widgets.feed import EventLine, EventsArrived, describe_event

TIME_WIDTH = 8
ACTOR_WIDTH = 12
KIND_WIDTH = 18


def _fit(text: str, width: int) -> str:
    if width <= 0:
        return ""
    if len(text) > width:
        return text[: max(0, width - 1)] + "…"
    return text.ljust(width)


class EventTicker(Widget):
    DEFAULT_CSS = """
    EventTicker {
        height: 1fr;
        border: round $primary 60%;
        border-title-color: $text;
        padding: 0 1;
    }
    """

    def __init__(
        self,
        *,
        limit: int = 50,
        accept: Callable[[EventView], bool] | None = None,
        title: str = "Live events",
        empty: str = "No events yet — changes appear here as they happen.",
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.limit = limit
        self.accept = accept
        self.empty = empty
        self.border_title = Content(title)
        self._lines: deque[EventLine] = deque(maxlen=limit)
        self._last_id = 0

    @property
    def lines(self) -> list[EventLine]:
        """What is shown, newest first."""
        return list(self._lines)

    def on_mount(self) -> None:
        subscribe = getattr(self.app, "subscribe_events", None)
        if subscribe is not None:
            subscribe(self)
        self.add_events(getattr(self.app, "recent_events", ()))

    def on_unmount(self) -> None:
        unsubscribe = getattr(self.app, "unsubscribe_events", None)
        if unsubscribe is not None:
            unsubscribe(self)

    def on_events_arrived(self, message: EventsArrived) -> None:
        self.add_events(message.events)

    def add_events(self, events: Iterable[EventView]) -> None:
        """Add events (oldest first); older or already shown ones are skipped."""
        changed = False
        for event in events:
            if event.id <= self._last_id:
                continue
            self._last_id = event.id
            if self.accept is not None and not self.accept(event):
                continue
            self._lines.appendleft(describe_event(event))
            changed = True
        if changed:
            self.refresh()

    def render(self) -> Content:
        if not self._lines:
            return Content.assemble((self.empty, "$text-muted"))
        width = self.content_region.width or 76
        subject_width = max(0, width - TIME_WIDTH - ACTOR_WIDTH - KIND_WIDTH - 3)
        rows: list[Content] = []
        for line in list(self._lines)[: max(1, self.content_region.height or self.limit)]:
            rows.append(
                Content.assemble(
                    (_fit(line.time, TIME_WIDTH), "$text-muted"),
                    " ",
                    (_fit(line.actor, ACTOR_WIDTH), "$text-accent"),
                    " ",
                    (_fit(line.kind, KIND_WIDTH), "bold"),
                    " ",
                    _fit(line.subject, subject_width).rstrip(),
                )
            )
        return Content("\n").join(rows)
