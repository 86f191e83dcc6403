"""Timeline entries from events: pure functions, no database (the screens import this module
before the database stack is loaded; ``timeline.py`` holds the queries).

``entry_from_event`` turns one event into a ``TimelineEntry`` (a screen does it at once for a
live event; the text an event only points at, a statement's body or an incident note, comes
with the next query). ``group_timeline`` merges dense stretches (notice deliveries close
together) into one line: "12 notices delivered" from 10:02 to 10:04.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import timedelta
from typing import Any

from pcso_tui.domain.casework.views import TimelineEntry, TimelineLine, journal_label
from pcso_tui.domain.core.states import CaseKind
from pcso_tui.domain.core.views import EventView, case_number, incident_number

GROUP_WINDOW = timedelta(minutes=5)
# Events on the candidate a major case came from that belong on the major case's timeline.
CANDIDATE_KINDS = ("major_case.proposed", "major_case.rejected")
# Tallies of a notice delivery batch, in the order they are told.
NOTICE_TALLIES = ("sent", "retrying", "dead", "skipped")


def _int(payload: Mapping[str, Any], key: str) -> int:
    value = payload.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _str(payload: Mapping[str, Any], key: str) -> str:
    value = payload.get(key)
    return "" if value is None else str(value)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def notices_title(tallies: Mapping[str, int]) -> str:
    """``12 notices delivered, 2 retrying, 1 failed, 3 skipped`` (zero counts left out)."""
    parts = [f"{_plural(tallies.get('sent', 0), 'notice')} delivered"]
    if tallies.get("retrying"):
        parts.append(f"{tallies['retrying']} retrying")
    if tallies.get("dead"):
        parts.append(f"{tallies['dead']} failed")
    if tallies.get("skipped"):
        parts.append(f"{tallies['skipped']} skipped")
    return ", ".join(parts)


def entry_from_event(
    event: EventView, *, texts: Mapping[int, str] | None = None, statements: Mapping[int, str] | None = None
) -> TimelineEntry:
    """What one event means on a timeline. ``texts`` (journal entry id → body) and
    ``statements`` (statement id → body) fill in text the event only points at."""
    p = event.payload if isinstance(event.payload, dict) else {}
    texts = texts or {}
    statements = statements or {}
    category, detail, group = "other", "", None
    tallies: dict[str, int] = {}
    kind = event.kind
    if kind == "case.opened":
        category = "state"
        if p.get("case_kind") == CaseKind.MAJOR and p.get("candidate_id"):
            title = f"Major case opened from {case_number(_int(p, 'candidate_id'))}"
        else:
            title = f"Case opened ({_str(p, 'case_kind') or 'case'})"
    elif kind == "major_case.proposed":
        category = "proposal"
        title = "Proposed as a major case" + (" by the workflow rule" if p.get("by_rule") else "")
        detail = f"Reason: {_str(p, 'reason')}\nBusiness impact: {_str(p, 'business_impact')}"
    elif kind == "major_case.rejected":
        category = "proposal"
        title = "Proposal rejected"
        detail = f"Reason: {_str(p, 'reason')}"
    elif kind == "major_case.approved":
        category = "approval"
        title = (
            f"Approved: {_plural(_int(p, 'children'), 'child case')}, {_plural(_int(p, 'notices'), 'notice')} queued"
        )
        if _int(p, "notices_skipped"):
            title += f" ({_int(p, 'notices_skipped')} skipped)"
        if _str(p, "outage"):
            title += f"; {_str(p, 'outage')} on the status page"
        tallies = {"children": _int(p, "children"), "notices": _int(p, "notices")}
    elif kind == "major_case.accounts_added":
        category = "children"
        title = (
            f"{_plural(_int(p, 'accounts_added'), 'account')} added: "
            f"{_plural(_int(p, 'children'), 'child case')}, {_plural(_int(p, 'notices'), 'notice')} queued"
        )
        tallies = {"children": _int(p, "children"), "notices": _int(p, "notices")}
    elif kind == "statement.posted":
        category = "statement"
        title = (
            f"Statement to {_plural(_int(p, 'children'), 'child case')}, {_plural(_int(p, 'notices'), 'notice')} queued"
        )
        detail = statements.get(_int(p, "statement_id"), "")
    elif kind == "case.noted":
        category = "note"
        label = journal_label(_str(p, "line_kind"), _str(p, "visibility"))
        title = label[:1].upper() + label[1:]
        if _int(p, "children"):
            title += f", copied to {_plural(_int(p, 'children'), 'child case')}"
        detail = texts.get(_int(p, "entry_id"), "")
    elif kind == "case.incident_synced":
        category = "incident"
        label = journal_label(_str(p, "kind"), _str(p, "visibility"))
        title = f"{incident_number(_int(p, 'incident_id'))} {label}"
        detail = texts.get(_int(p, "entry_id"), "")
    elif kind == "case.state_changed":
        category = "state"
        title = f"State {_str(p, 'from') or '?'} → {_str(p, 'to')}"
        if _int(p, "children_synced"):
            title += f"; {_plural(_int(p, 'children_synced'), 'child case')} followed"
        if p.get("proposal_cancelled"):
            title += "; proposal withdrawn"
    elif kind == "case.priority_changed":
        category = "state"
        title = f"Priority {_str(p, 'from')} → {_str(p, 'to')}"
    elif kind == "major_case.resolved":
        category = "resolution"
        title = (
            f"Resolved ({_str(p, 'code')}): {_plural(_int(p, 'children'), 'child case')} resolved, "
            f"{_int(p, 'children_skipped')} left as they were, {_plural(_int(p, 'notices'), 'notice')} queued"
        )
        if _int(p, "outages_ended"):
            title += f"; {_plural(_int(p, 'outages_ended'), 'outage')} ended on the status page"
        tallies = {"children": _int(p, "children")}
    elif kind == "major_case.closed":
        category = "resolution"
        title = (
            f"Closed: {_plural(_int(p, 'children'), 'child case')} closed, "
            f"{_int(p, 'children_skipped')} left as they were"
        )
        tallies = {"children": _int(p, "children")}
    elif kind == "notices.delivered":
        category = "notices"
        group = "notices"
        tallies = {k: _int(p, k) for k in NOTICE_TALLIES}
        title = notices_title(tallies)
    elif kind == "notices.retried":
        category = "notices"
        title = f"{_plural(_int(p, 'count'), 'notice')} sent again"
    else:
        title = kind
    return TimelineEntry(
        event_id=event.id,
        at=event.at,
        category=category,
        title=title,
        detail=detail,
        actor_name=event.actor_name,
        group=group,
        tallies=tallies,
    )


def _merged(stretch: Sequence[TimelineEntry]) -> TimelineLine:
    first, last = stretch[0], stretch[-1]
    if len(stretch) == 1:
        title = first.title
    else:
        tallies: dict[str, int] = {}
        for entry in stretch:
            for key, n in entry.tallies.items():
                tallies[key] = tallies.get(key, 0) + n
        title = notices_title(tallies) if first.group == "notices" else f"{first.title} (×{len(stretch)})"
    actors = {e.actor_name for e in stretch}
    return TimelineLine(
        at=first.at,
        until=last.at,
        category=first.category,
        title=title,
        detail="\n".join(e.detail for e in stretch if e.detail),
        actor_name=first.actor_name if len(actors) == 1 else f"{len(actors)} people",
        event_ids=tuple(e.event_id for e in stretch),
    )


def group_timeline(entries: Iterable[TimelineEntry], *, window: timedelta = GROUP_WINDOW) -> list[TimelineLine]:
    """Entries in time order as lines: a run of entries of one ``group``, each within
    ``window`` of the one before, becomes one line adding up their tallies."""
    ordered = sorted(entries, key=lambda e: (e.at, e.event_id))
    lines: list[TimelineLine] = []
    stretch: list[TimelineEntry] = []
    for entry in ordered:
        if (
            stretch
            and entry.group is not None
            and entry.group == stretch[-1].group
            and entry.at - stretch[-1].at <= window
        ):
            stretch.append(entry)
            continue
        if stretch:
            lines.append(_merged(stretch))
        stretch = [entry]
    if stretch:
        lines.append(_merged(stretch))
    return lines
