"""``CaseTimelineView``: a major case's timeline, in time order, growing live.

    timeline = CaseTimelineView()
    timeline.show(await app.domain_call(case_timeline(domain, actor, major_id)))

Each line is a time (or a time range for a grouped stretch), a glyph for what happened and
a title in words ("✉ Statement to 7 child cases, 7 notices queued"), then the text it carries
(a statement, an incident update) indented below. Dense stretches of notice deliveries are
one line ("12 notices delivered", 10:02–10:04; ``domain.timeline.group_timeline``).

It follows the App's live feed itself: an event about the case shown (or the proposal of the
candidate it came from) becomes an entry at once (``entry_from_event``); text the event only
points at arrives with the screen's next ``show``. Every value is shown literally.
"""

from __future__ import annotations

from collections.abc import Iterable

from textual.content import Content
from textual.widget import Widget
from textual.widgets import Static

from pcso_tui.domain.casework.timeline_entries import CANDIDATE_KINDS, entry_from_event, group_timeline
from pcso_tui.domain.casework.views import CaseTimeline, TimelineEntry, TimelineLine
from pcso_tui.domain.core.text import printable
from pcso_tui.domain.core.views import EventView
from pcso_tui.widgets.cells import format_time, use_ascii
from pcso_tui.widgets.feed import EventsArrived

GLYPHS = {
    "proposal": "◇",
    "approval": "◆",
    "children": "+",
    "incident": "⚑",
    "statement": "✉",
    "note": "✎",
    "state": "•",
    "resolution": "✔",
    "notices": "→",
    "other": "·",
}
ASCII_GLYPHS = {
    "proposal": "?",
    "approval": "*",
    "children": "+",
    "incident": "!",
    "statement": "@",
    "note": "~",
    "state": "-",
    "resolution": "+",
    "notices": ">",
    "other": ".",
}
MAX_DETAIL_LINES = 6


def line_time(line: TimelineLine) -> str:
    start = format_time(line.at, "%H:%M")
    end = format_time(line.until, "%H:%M")
    return start if start == end else f"{start}–{end}"


def line_text(line: TimelineLine) -> str:
    """A line as plain text (for tests and copying): ``09:03 ✉ Statement to …``."""
    glyphs = ASCII_GLYPHS if use_ascii() else GLYPHS
    return f"{line_time(line)} {glyphs.get(line.category, '·')} {line.title}"


class CaseTimelineView(Static):
    DEFAULT_CSS = """
    CaseTimelineView {
        height: auto;
        width: 1fr;
    }
    """

    def __init__(
        self,
        *,
        empty: str = "No case selected.",
        follow: bool = False,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__("", name=name, id=id, classes=classes)
        self.empty = empty
        # Keep the newest line in view: scroll the container holding the timeline to its end.
        self.follow = follow
        self.case_id: int | None = None
        self.related: frozenset[int] = frozenset()
        self.truncated = False
        self._entries: dict[int, TimelineEntry] = {}

    # --- data -----------------------------------------------------------------------------

    @property
    def lines(self) -> list[TimelineLine]:
        """What is shown, oldest first, dense stretches grouped."""
        return group_timeline(self._entries.values())

    def texts(self) -> list[str]:
        return [line_text(line) for line in self.lines]

    def show(self, timeline: CaseTimeline | None) -> None:
        """Show a case's timeline (None: nothing selected)."""
        if timeline is None:
            self.case_id, self.related, self.truncated, self._entries = None, frozenset(), False, {}
        else:
            self.case_id = timeline.case_id
            self.related = frozenset(timeline.related_case_ids)
            self.truncated = timeline.truncated
            self._entries = {e.event_id: e for e in timeline.entries}
        self._repaint()
        self._scroll_to_newest()

    def accepts(self, event: EventView) -> bool:
        if self.case_id is None or event.subject_type != "case":
            return False
        if event.subject_id == self.case_id:
            return True
        return event.subject_id in self.related and event.kind in CANDIDATE_KINDS

    def add_events(self, events: Iterable[EventView]) -> int:
        """Add the events about the case shown; returns how many were new."""
        added = 0
        for event in events:
            if event.id in self._entries or not self.accepts(event):
                continue
            self._entries[event.id] = entry_from_event(event)
            added += 1
        if added:
            self._repaint()
            self._scroll_to_newest()
        return added

    def _scroll_to_newest(self) -> None:
        parent = self.parent
        if self.follow and self.is_attached and isinstance(parent, Widget):
            self.call_after_refresh(lambda: parent.scroll_end(animate=False))

    # --- the live feed ---------------------------------------------------------------------

    def on_mount(self) -> None:
        subscribe = getattr(self.app, "subscribe_events", None)
        if subscribe is not None:
            subscribe(self)
        self._repaint()

    def on_unmount(self) -> None:
        unsubscribe = getattr(self.app, "unsubscribe_events", None)
        if unsubscribe is not None:
            unsubscribe(self)

    def on_events_arrived(self, message: EventsArrived) -> None:
        self.add_events(message.events)

    # --- drawing ----------------------------------------------------------------------------

    def _repaint(self) -> None:
        if self.case_id is None:
            self.update(Content.assemble((self.empty, "$text-muted")))
            return
        lines = self.lines
        if not lines:
            self.update(Content.assemble(("Nothing has happened yet.", "$text-muted")))
            return
        glyphs = ASCII_GLYPHS if use_ascii() else GLYPHS
        parts: list[Content] = []
        if self.truncated:
            parts.append(Content.assemble(("… older events left out", "$text-muted")))
        for line in lines:
            parts.append(
                Content.assemble(
                    (line_time(line), "$text-muted"),
                    " ",
                    (glyphs.get(line.category, "·"), "bold"),
                    " ",
                    Content(printable(line.title)),
                    ("  " + printable(line.actor_name), "$text-muted"),
                )
            )
            if line.detail:
                detail = printable(line.detail, multiline=True).splitlines()
                shown = detail[:MAX_DETAIL_LINES]
                if len(detail) > len(shown):
                    shown.append("…")
                for text in shown:
                    parts.append(Content.assemble(("  │ ", "$text-muted"), Content(text)))
        self.update(Content("\n").join(parts))
