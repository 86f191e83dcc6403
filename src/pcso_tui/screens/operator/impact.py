"""The operator's Impact view: the accounts the selected incident touches, a page at a time.

``domain.impact.impact_of`` runs in a worker (the SQL runs off the event loop); ``n``/``p``
page (the screen binds the keys), ``R`` recomputes.

Impact is cached per incident (``ImpactCache``): on a large install base a datacentre takes
seconds to walk, and the operator flips between incidents. The event feed keeps the cache
current: events that can change an incident's impact drop its pages (see ``ImpactCache.forget``),
and the status line says how old the figures shown are.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Static

from pcso_tui.domain.core.event_kinds import (
    AlertChange,
    CatalogueChanged,
    ImportCompleted,
    IncidentAlertJoined,
    IncidentOpened,
    IncidentRootCauseChanged,
    WorldDemo,
    WorldSeeded,
)
from pcso_tui.domain.core.views import EventView, incident_number
from pcso_tui.domain.install_base.views import ImpactView
from pcso_tui.screens.base import DomainWork, signed_in
from pcso_tui.widgets.feed import EventsArrived
from pcso_tui.widgets.impact_table import ImpactTable, summary

# Events that change which CIs an incident stands on.
INCIDENT_CHANGES = (IncidentOpened, IncidentAlertJoined, IncidentRootCauseChanged)
# Events that change the install base (or how it is named) under every incident.
INSTALL_BASE_CHANGES = (ImportCompleted, CatalogueChanged, WorldSeeded, WorldDemo)


def age_words(seconds: float) -> str:
    """``just now``, ``40 s ago``, ``2 min ago``, ``3 h ago``."""
    if seconds < 5:
        return "just now"
    if seconds < 60:
        return f"{int(seconds)} s ago"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    return f"{int(seconds // 3600)} h ago"


class ImpactCache:
    """Computed impact pages by incident, each with when it was computed (monotonic seconds)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.pages: dict[tuple[int, int], tuple[ImpactView, float]] = {}

    def get(self, incident_id: int, offset: int) -> tuple[ImpactView, float] | None:
        return self.pages.get((incident_id, offset))

    def put(self, incident_id: int, offset: int, impact: ImpactView) -> None:
        self.pages[(incident_id, offset)] = (impact, self.clock())

    def age(self, incident_id: int, offset: int) -> float | None:
        entry = self.pages.get((incident_id, offset))
        return None if entry is None else self.clock() - entry[1]

    def drop(self, incident_id: int) -> None:
        for key in [k for k in self.pages if k[0] == incident_id]:
            del self.pages[key]

    def forget(self, events: Iterable[EventView]) -> set[int]:
        """Drop what ``events`` make stale; return the incidents dropped.

        An incident's own CI changes drop that incident; an alert state change drops the
        incidents whose affected CIs include the alert's CI (the health column); an import or
        catalogue change drops everything.
        """
        dropped: set[int] = set()
        for event in events:
            payload = event.typed()
            if isinstance(payload, INSTALL_BASE_CHANGES):
                dropped |= {k[0] for k in self.pages}
                self.pages.clear()
            elif isinstance(payload, INCIDENT_CHANGES) and event.subject_id is not None:
                dropped.add(event.subject_id)
                self.drop(event.subject_id)
            elif isinstance(payload, AlertChange) and payload.ci:
                touched = {
                    k[0] for k, (impact, _) in self.pages.items() if any(c.name == payload.ci for c in impact.cis)
                }
                for incident_id in touched:
                    self.drop(incident_id)
                dropped |= touched
        return dropped


class ImpactPanel(Vertical):
    """The impact of ``incident_id`` (set by the screen from the selected incident)."""

    BINDINGS = [
        Binding(
            "R", "recompute", "Recompute", key_display="R", tooltip="Compute the impact again", id="impact.recompute"
        ),
    ]
    AGE_TICK_SECONDS = 15.0

    def __init__(self, *, page_size: int, id: str | None = None) -> None:
        super().__init__(id=id)
        self.page_size = page_size
        self.incident_id: int | None = None
        self.page_offset = 0
        self.impact: ImpactView | None = None
        self.cache = ImpactCache()
        self.from_cache = False  # whether what is shown came from the cache (tests, status)
        self.work = DomainWork(self)
        self.reading = self.work.refresh("impact", self._load_impact, group="operator-impact")

    def compose(self) -> ComposeResult:
        yield Static("", id="impact-status", classes="view-status")
        yield ImpactTable(page_size=self.page_size, id="impact-table")

    def on_mount(self) -> None:
        self.query_one("#impact-status", Static).update(
            Content("Select an incident (2) to see the accounts it touches.")
        )
        self.app_subscribe = getattr(self.app, "subscribe_events", None)
        if self.app_subscribe is not None:
            self.app_subscribe(self)
        self.set_interval(self.AGE_TICK_SECONDS, self._show_status, name="impact age")

    def on_unmount(self) -> None:
        unsubscribe = getattr(self.app, "unsubscribe_events", None)
        if unsubscribe is not None:
            unsubscribe(self)

    @property
    def table(self) -> ImpactTable:
        return self.query_one(ImpactTable)

    def show_incident(self, incident_id: int | None) -> None:
        """Show the impact of ``incident_id`` from its first page (unless it is shown already)."""
        self.incident_id = incident_id
        if incident_id is None:
            return
        if self.impact is None or self.impact.incident_id != incident_id:
            self.page_offset = 0
        if not self._show_cached():
            self.reading.request()

    def page(self, step: int) -> None:
        impact = self.impact
        if impact is None:
            return
        offset = self.page_offset + step * self.page_size
        if 0 <= offset < impact.matched_accounts:
            self.page_offset = offset
            if not self._show_cached():
                self.reading.request()

    def action_recompute(self) -> None:
        if self.incident_id is None:
            self.notify("Select an incident (2) first", severity="warning", markup=False)
            return
        self.cache.drop(self.incident_id)
        self.reading.now()

    def on_events_arrived(self, message: EventsArrived) -> None:
        dropped = self.cache.forget(message.events)
        if self.incident_id is not None and self.incident_id in dropped and self.impact is not None:
            if self.display and self.work.in_front:
                self.reading.request(delay=0.25)
            else:
                self._show_status()

    def _show_cached(self) -> bool:
        incident_id = self.incident_id
        if incident_id is None:
            return False
        entry = self.cache.get(incident_id, self.page_offset)
        if entry is None:
            return False
        self._show(entry[0], from_cache=True)
        return True

    def _show(self, impact: ImpactView, *, from_cache: bool) -> None:
        if self.impact is not None and self.impact.incident_id != impact.incident_id:
            self.table.clear_page()
        self.impact = impact
        self.from_cache = from_cache
        self.table.show_page(impact)
        self._show_status()

    def _show_status(self) -> None:
        impact = self.impact
        if impact is None or impact.incident_id is None:
            return
        status = self.query_one("#impact-status", Static)
        age = self.cache.age(impact.incident_id, impact.offset)
        when = f" · computed {age_words(age)}" if age is not None else " · out of date (R recomputes)"
        more = " · n/p page" if impact.matched_accounts > self.page_size else ""
        room = status.size.width - len(when) - len(more) if status.size.width else None
        status.update(Content(summary(impact, room) + when + more))

    async def _load_impact(self) -> None:
        from pcso_tui.domain.install_base.impact import impact_of

        incident_id = self.incident_id
        if incident_id is None:
            return
        offset = self.page_offset
        status = self.query_one("#impact-status", Static)
        status.update(Content(f"Computing the impact of {incident_number(incident_id)}…"))
        session = signed_in(self)
        impact = await self.work.call(
            impact_of(
                session.domain,
                session.actor,
                incident_id=incident_id,
                page_size=self.page_size,
                offset=offset,
            )
        )
        if not self.is_attached:
            return
        self.cache.put(incident_id, offset, impact)
        if incident_id != self.incident_id or offset != self.page_offset:
            if not self._show_cached():
                self.reading.request()
            return
        self._show(impact, from_cache=False)
        self.work.loaded("operator-impact")
