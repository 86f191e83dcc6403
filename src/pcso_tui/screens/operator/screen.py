"""The NOC operator's screen: live alerts, incidents, impact, proactive cases (DESIGN §2 steps 1–4, 7).

Four views, one at a time (``v`` cycles, ``1``–``4`` pick): **Alerts**, **Incidents** (the list
and the selected incident's detail), **Impact** (the accounts the selected incident touches)
and **Feed** (the live event ticker). The footer shows the keys of the view in front; ``?``
lists them all.

Alerts
    One page (``PAGE_SIZE`` rows) of alerts filtered, searched, sorted and paged in SQL
    (``domain.alerts.list_alerts``/``count_alerts``): ``f`` severity at least, ``t`` state,
    ``s`` sort, ``/`` search, ``n``/``p`` page. ``a`` acknowledges (or un-acknowledges) the
    selected alert, ``i`` opens an incident from it, ``I`` opens one with a title and severity
    of your choosing.

Live
    Alert and incident events from the App's feed mark the views dirty; a short timer
    (``COALESCE_SECONDS``) gathers a burst, then one query re-reads the page and the table is
    diffed by row key (``AlertTable.show_page``): cursor and scroll stay with the selected alert.
    A repeat of a known alert records no event (dedup) but bumps its version, so every
    ``REFRESH_SECONDS`` while the screen is in front one cheap read fetches the versions of the
    alerts shown (``alert_versions``): the page is re-read only if one changed, otherwise only
    the ages are redrawn (sorted by count, the page is simply re-read). A refresh is never
    started while the last one is running; it is marked and run once that one ends.

Incidents
    Active incidents, newest first; the detail names the probable root-cause CI, the alerts that
    joined and the journal. ``w`` work note / progress, ``u`` state, ``e`` ETA, ``r`` resolve,
    ``c`` opens the proactive case (priority from severity) and says what was created. Every
    update sends the version the operator saw; a conflict comes back as a notification.

Impact
    ``domain.impact.impact_of`` for the selected incident, one page of accounts at a time, in a
    worker (the SQL runs off the event loop); ``n``/``p`` page.

A refused command (``DomainError``) is a notification with its one line; nothing else changes.

Each view is a widget of its own (``alerts.AlertsView``, ``incidents.IncidentsView``,
``impact.ImpactPanel``, ``feed.FeedView``) with its reads (``screens.base.Refresh``) and
commands; this screen composes them, binds the keys (the footer shows those of the view in
front) and hands the live feed and the timer to the views that care.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.widgets import ContentSwitcher, Static

from pcso_tui.domain.core.event_kinds import AlertsLeftOut
from pcso_tui.domain.core.text import one_line
from pcso_tui.domain.install_base.views import ImpactView
from pcso_tui.domain.operations.views import IncidentDetail, IncidentView
from pcso_tui.screens.base import ModeScreen
from pcso_tui.screens.incident_dialogs import NewIncident, OpenIncidentDialog
from pcso_tui.screens.operator.alerts import AlertsView
from pcso_tui.screens.operator.feed import FeedView
from pcso_tui.screens.operator.impact import ImpactPanel
from pcso_tui.screens.operator.incidents import IncidentsView
from pcso_tui.widgets.alert_table import AlertTable
from pcso_tui.widgets.feed import EventsArrived
from pcso_tui.widgets.impact_table import ImpactTable
from pcso_tui.widgets.palette import PaletteCommand
from pcso_tui.widgets.safe_table import SafeTable

VIEWS = ("alerts", "incidents", "impact", "feed")
VIEW_TITLES = {"alerts": "Alerts", "incidents": "Incidents", "impact": "Impact", "feed": "Feed"}
ALERT_ACTIONS = {
    "acknowledge",
    "open_incident",
    "new_incident",
    "search",
    "cycle_severity",
    "cycle_state",
    "cycle_sort",
}
INCIDENT_ACTIONS = {"work_note", "incident_state", "eta", "resolve", "proactive_case"}


class OperatorScreen(ModeScreen):
    MODE = "operator"

    PAGE_SIZE: ClassVar[int] = 200
    IMPACT_PAGE_SIZE: ClassVar[int] = 100
    INCIDENT_LIMIT: ClassVar[int] = 100
    COALESCE_SECONDS: ClassVar[float] = 0.25
    REFRESH_SECONDS: ClassVar[float] = 2.0

    DEFAULT_CSS = """
    OperatorScreen #operator-views {
        height: 1fr;
    }
    OperatorScreen #view-bar {
        height: 1;
    }
    OperatorScreen .view-status {
        height: 1;
        color: $text-muted;
    }
    OperatorScreen #alert-search {
        display: none;
        height: 1;
        border: none;
        padding: 0 1;
    }
    OperatorScreen #alert-search.searching {
        display: block;
    }
    OperatorScreen #incident-table {
        height: 1fr;
        min-height: 4;
        max-height: 40%;
    }
    OperatorScreen #incident-detail {
        height: 1fr;
        border-top: solid $primary 40%;
    }
    OperatorScreen #alerts-view, OperatorScreen #incidents-view, OperatorScreen #impact-view,
    OperatorScreen #feed-view {
        height: 1fr;
    }
    """

    BINDINGS = [
        # The views are named, with their keys, on the bar above them.
        Binding("v", "next_view", "Next view", show=False, id="operator.view"),
        Binding("1", "show_view('alerts')", "Alerts", show=False, id="operator.view.alerts"),
        Binding("2", "show_view('incidents')", "Incidents", show=False, id="operator.view.incidents"),
        Binding("3", "show_view('impact')", "Impact", show=False, id="operator.view.impact"),
        Binding("4", "show_view('feed')", "Feed", show=False, id="operator.view.feed"),
        # Alerts
        Binding("a", "acknowledge", "Ack", tooltip="Acknowledge the alert (again: undo)", id="operator.ack"),
        Binding("i", "open_incident", "Incident", tooltip="Open an incident from the alert", id="operator.incident"),
        Binding("I", "new_incident", "New incident", show=False, key_display="I", id="operator.new_incident"),
        Binding(
            "d", "alert_detail", "Details", tooltip="Everything about the alert (also Enter)", id="operator.details"
        ),
        Binding("slash", "search", "Search", key_display="/", id="operator.search"),
        # The filter, sort and page keys are named on the status line above the table (the
        # footer has no room for them at 80 columns); the help screen lists them all.
        Binding("f", "cycle_severity", "Severity filter", show=False, id="operator.severity"),
        Binding("t", "cycle_state", "State filter", show=False, id="operator.state"),
        Binding("s", "cycle_sort", "Sort", show=False, id="operator.sort"),
        Binding("n", "page(1)", "Next page", show=False, id="operator.next_page"),
        Binding("p", "page(-1)", "Previous page", show=False, id="operator.prev_page"),
        # Incidents
        Binding("w", "work_note", "Note", tooltip="Work note or progress update", id="operator.note"),
        Binding("u", "incident_state", "State", tooltip="Change the incident's state", id="operator.incident_state"),
        Binding("e", "eta", "ETA", id="operator.eta"),
        Binding("r", "resolve", "Resolve", id="operator.resolve"),
        Binding("c", "proactive_case", "Case", tooltip="Open the proactive case", id="operator.case"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.current_view = "alerts"

    # --- layout ------------------------------------------------------------------------------

    def compose_body(self) -> ComposeResult:
        yield Static(self._view_bar(), id="view-bar")
        with ContentSwitcher(initial="alerts-view", id="operator-views"):
            yield AlertsView(page_size=self.PAGE_SIZE, id="alerts-view")
            yield IncidentsView(limit=self.INCIDENT_LIMIT, id="incidents-view")
            yield ImpactPanel(page_size=self.IMPACT_PAGE_SIZE, id="impact-view")
            yield FeedView(id="feed-view")

    def on_mount(self) -> None:
        super().on_mount()
        self.alert_table.focus()
        self.request("alerts")
        self.request("incidents")
        self.set_interval(self.REFRESH_SECONDS, self.alerts_view.tick, name="operator refresh")

    # --- the views -----------------------------------------------------------------------------

    @property
    def alerts_view(self) -> AlertsView:
        return self.query_one(AlertsView)

    @property
    def incidents_view(self) -> IncidentsView:
        return self.query_one(IncidentsView)

    @property
    def impact_panel(self) -> ImpactPanel:
        return self.query_one(ImpactPanel)

    @property
    def alert_table(self) -> AlertTable:
        return self.alerts_view.table

    @property
    def incident_table(self) -> SafeTable:
        return self.incidents_view.table

    @property
    def impact_table(self) -> ImpactTable:
        return self.impact_panel.table

    # What the views show, for the palette, tests and benchmarks.
    @property
    def total(self) -> int:
        return self.alerts_view.total

    @property
    def page_offset(self) -> int:
        return self.alerts_view.page_offset

    @property
    def incidents(self) -> dict[int, IncidentView]:
        return self.incidents_view.incidents

    @property
    def detail(self) -> IncidentDetail | None:
        return self.incidents_view.detail

    @property
    def selected_incident_id(self) -> int | None:
        return self.incidents_view.selected_incident_id

    @property
    def last_result(self) -> str:
        return self.incidents_view.last_result

    @property
    def impact(self) -> ImpactView | None:
        return self.impact_panel.impact

    def request(self, what: str, *, delay: float = 0.0) -> None:
        """Refresh ``what`` (alerts, incidents, detail, impact) soon; bursts make one refresh."""
        reads = {
            "alerts": self.alerts_view.alerts,
            "check": self.alerts_view.check,
            "incidents": self.incidents_view.list,
            "detail": self.incidents_view.selected_detail,
            "impact": self.impact_panel.reading,
        }
        reads[what].request(delay=delay)

    # --- live ----------------------------------------------------------------------------------

    def on_screen_resume(self) -> None:
        super().on_screen_resume()
        self.alerts_view.alerts.resume()

    def on_events_arrived(self, message: EventsArrived) -> None:
        alerts = incidents = detail = False
        selected = self.selected_incident_id
        for event in message.events:
            if event.subject_type == "alert":
                alerts = True
                payload = event.typed()
                if isinstance(payload, AlertsLeftOut):
                    self.alerts_view.note_left_out(payload.describe(), event.at)
            elif event.subject_type == "incident":
                alerts = incidents = True
                if event.subject_id == selected:
                    detail = True
            elif event.subject_type == "case" and event.payload.get("incident_id") == selected:
                detail = True
        if alerts:
            self.request("alerts", delay=self.COALESCE_SECONDS)
        if incidents:
            self.request("incidents", delay=self.COALESCE_SECONDS)
        if detail:
            self.request("detail", delay=self.COALESCE_SECONDS)

    @on(IncidentsView.Opened)
    def _incident_opened(self) -> None:
        self.request("alerts")
        self.action_show_view("incidents")

    @on(IncidentsView.DetailShown)
    def _detail_shown(self, message: IncidentsView.DetailShown) -> None:
        if self.current_view == "impact":
            self.impact_panel.show_incident(message.incident_id)

    # --- views -------------------------------------------------------------------------------

    def action_show_view(self, view: str) -> None:
        if view not in VIEWS:
            return
        self.current_view = view
        self.query_one(ContentSwitcher).current = f"{view}-view"
        self.query_one("#view-bar", Static).update(self._view_bar())
        focus = {
            "alerts": self.alert_table,
            "incidents": self.incident_table,
            "impact": self.impact_table,
        }.get(view)
        if focus is not None:
            focus.focus()
        if view == "impact":
            self.impact_panel.show_incident(self.selected_incident_id)
        self.refresh_bindings()

    def _view_bar(self) -> Content:
        parts: list[Any] = []
        for n, view in enumerate(VIEWS, 1):
            label = f" {n} {VIEW_TITLES[view]} "
            parts.append((label, "reverse bold") if view == self.current_view else (label, "$text-muted"))
        parts.append(("  v next view", "$text-muted"))
        return Content.assemble(*parts)

    def action_next_view(self) -> None:
        self.action_show_view(VIEWS[(VIEWS.index(self.current_view) + 1) % len(VIEWS)])

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ALERT_ACTIONS:
            return self.current_view == "alerts"
        if action in INCIDENT_ACTIONS:
            return self.current_view in ("incidents", "impact")
        if action == "page":
            return self.current_view in ("alerts", "impact")
        if action == "show_view":
            return bool(parameters) and parameters[0] != self.current_view
        return True

    # --- keys: the Alerts view -------------------------------------------------------------------

    def action_cycle_severity(self) -> None:
        self.alerts_view.cycle_severity()

    def action_cycle_state(self) -> None:
        self.alerts_view.cycle_state()

    def action_cycle_sort(self) -> None:
        self.alerts_view.cycle_sort()

    def action_page(self, step: int) -> None:
        if self.current_view == "impact":
            self.impact_panel.page(step)
        else:
            self.alerts_view.page(step)

    def action_search(self) -> None:
        self.alerts_view.start_search()

    def action_alert_detail(self) -> None:
        self.alerts_view.show_detail()

    def action_acknowledge(self) -> None:
        self.alerts_view.acknowledge()

    def action_open_incident(self) -> None:
        alert = self.alerts_view.selected_alert()
        if alert is not None:
            self.incidents_view.open_incident(alert_ids=[alert.id])

    def action_new_incident(self) -> None:
        alert = self.alert_table.selected
        title = one_line(alert.summary or alert.name, 200) if alert else ""
        severity = alert.severity if alert else "major"
        context = "From the selected alert, which joins the incident." if alert else ""

        def done(result: NewIncident | None) -> None:
            if result is not None:
                ids = [alert.id] if alert else []
                self.incidents_view.open_incident(alert_ids=ids, title=result.title, severity=result.severity)

        self.app.push_screen(OpenIncidentDialog(title=title, severity=severity, context=context), done)

    # --- keys: the Incidents and Impact views ------------------------------------------------------

    def action_work_note(self) -> None:
        self.incidents_view.work_note()

    def action_incident_state(self) -> None:
        self.incidents_view.change_state()

    def action_eta(self) -> None:
        self.incidents_view.set_eta()

    def action_resolve(self) -> None:
        self.incidents_view.resolve()

    def action_proactive_case(self) -> None:
        self.incidents_view.proactive_case()

    # --- palette -----------------------------------------------------------------------------

    def palette_commands(self) -> Iterable[PaletteCommand]:
        for view in VIEWS:
            if view != self.current_view:
                yield PaletteCommand(
                    f"Operator: {VIEW_TITLES[view]}", f"Show the {view} view", partial(self.action_show_view, view)
                )
