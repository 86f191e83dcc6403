"""The operator's Impact view: the accounts the selected incident touches, a page at a time.

``domain.impact.impact_of`` runs in a worker (the SQL runs off the event loop); ``n``/``p``
page (the screen binds the keys).
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Static

from pcso_tui.domain.core.views import incident_number
from pcso_tui.domain.install_base.views import ImpactView
from pcso_tui.screens.base import DomainWork, signed_in
from pcso_tui.widgets.impact_table import ImpactTable, summary


class ImpactPanel(Vertical):
    """The impact of ``incident_id`` (set by the screen from the selected incident)."""

    def __init__(self, *, page_size: int, id: str | None = None) -> None:
        super().__init__(id=id)
        self.page_size = page_size
        self.incident_id: int | None = None
        self.page_offset = 0
        self.impact: ImpactView | None = None
        self.work = DomainWork(self)
        self.reading = self.work.refresh("impact", self._load_impact, group="operator-impact")

    def compose(self) -> ComposeResult:
        yield Static("", id="impact-status", classes="view-status")
        yield ImpactTable(page_size=self.page_size, id="impact-table")

    def on_mount(self) -> None:
        self.query_one("#impact-status", Static).update(
            Content("Select an incident (2) to see the accounts it touches.")
        )

    @property
    def table(self) -> ImpactTable:
        return self.query_one(ImpactTable)

    def show_incident(self, incident_id: int | None) -> None:
        """Show the impact of ``incident_id`` from its first page (unless it is shown already)."""
        self.incident_id = incident_id
        if incident_id is not None and (self.impact is None or self.impact.incident_id != incident_id):
            self.page_offset = 0
            self.reading.request()

    def page(self, step: int) -> None:
        impact = self.impact
        if impact is None:
            return
        offset = self.page_offset + step * self.page_size
        if 0 <= offset < impact.matched_accounts:
            self.page_offset = offset
            self.reading.request()

    async def _load_impact(self) -> None:
        from pcso_tui.domain.install_base.impact import impact_of

        incident_id = self.incident_id
        if incident_id is None:
            return
        status = self.query_one("#impact-status", Static)
        status.update(Content(f"Computing the impact of {incident_number(incident_id)}…"))
        session = signed_in(self)
        impact = await self.work.call(
            impact_of(
                session.domain,
                session.actor,
                incident_id=incident_id,
                page_size=self.page_size,
                offset=self.page_offset,
            )
        )
        if not self.is_attached:
            return
        if incident_id != self.incident_id:
            self.reading.request()
            return
        if self.impact is not None and self.impact.incident_id != incident_id:
            self.table.clear_page()
        self.impact = impact
        self.table.show_page(impact)
        more = " · n/p page" if impact.matched_accounts > self.page_size else ""
        room = status.size.width - len(more) if status.size.width else None
        status.update(Content(summary(impact, room) + more))
