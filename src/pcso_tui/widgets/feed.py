"""The live event feed as Textual sees it.

The App follows the event table (``domain.feed.EventFollower``) and posts ``EventsArrived``
to itself once per short window carrying every event of that window; it then hands a copy
to each subscriber (every mode screen, and any widget that asked). See ``pcso_tui.app``.

``describe_event`` turns an event into the short, safe pieces a ticker or timeline shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from textual.message import Message

from pcso_tui.domain.core.text import one_line
from pcso_tui.domain.core.views import EventView, case_number, incident_number, outage_number

FeedState = Literal["connecting", "live", "stale"]

# Payload keys worth showing as the event's subject, in order of preference.
SUMMARY_KEYS = ("number", "title", "name", "summary", "fingerprint", "state", "role")

_NUMBERED = {"case": case_number, "incident": incident_number, "outage": outage_number}


class EventsArrived(Message, bubble=False):
    """New events (oldest first). Queued copies merge, so a busy pump handles one."""

    def __init__(self, events: list[EventView]) -> None:
        super().__init__()
        self.events = list(events)

    def can_replace(self, message: Message) -> bool:
        # Textual asks the message being handled whether the next queued one may take its
        # place; the newer one absorbs our events so none is lost.
        if isinstance(message, EventsArrived):
            message.events[:0] = self.events
            return True
        return False


@dataclass(frozen=True, slots=True)
class EventLine:
    """An event made printable: every field is safe to show literally."""

    id: int
    time: str
    actor: str
    kind: str
    subject: str


def subject_of(event: EventView) -> str:
    """``CS0000042 Printer on fire`` — the record's number and the most telling payload value."""
    number = _NUMBERED.get(event.subject_type)
    if event.subject_id is None:
        ref = event.subject_type
    elif number is not None:
        ref = number(event.subject_id)
    else:
        ref = f"{event.subject_type} #{event.subject_id}"
    payload = event.payload if isinstance(event.payload, dict) else {}
    for key in SUMMARY_KEYS:
        value = payload.get(key)
        if value not in (None, "") and not isinstance(value, dict | list):
            return f"{ref} {value}"
    return ref


def describe_event(event: EventView, *, time_format: str = "%H:%M:%S") -> EventLine:
    at = event.at.astimezone() if event.at.tzinfo else event.at
    actor = event.actor_name if not event.impersonator else f"{event.impersonator}→{event.actor_name}"
    return EventLine(
        id=event.id,
        time=at.strftime(time_format),
        actor=one_line(actor),
        kind=one_line(event.kind),
        subject=one_line(subject_of(event)),
    )


def announcement(events: list[EventView], bell: str) -> str | None:
    """What the bell announces in ``events`` (``[workspace] bell``), one line, or None.

    ``"critical"``: a new critical alert or critical incident; ``"incidents"``: those and every
    new incident; ``"never"``: nothing."""
    if bell not in ("critical", "incidents"):
        return None
    from pcso_tui.domain.core.event_kinds import AlertOpened, IncidentOpened

    lines: list[str] = []
    for event in events:
        payload = event.typed()
        if isinstance(payload, IncidentOpened) and (bell == "incidents" or payload.severity == "critical"):
            lines.append(
                f"New {one_line(payload.severity, 12)} incident {payload.number}: {one_line(payload.title, 60)}"
            )
        elif isinstance(payload, AlertOpened) and payload.severity == "critical":
            lines.append(f"New critical alert: {one_line(payload.name, 60)}")
    if not lines:
        return None
    more = f" (and {len(lines) - 1} more)" if len(lines) > 1 else ""
    return lines[0] + more
