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
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import replace
from datetime import UTC, datetime
from functools import partial
from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.widgets import ContentSwitcher, DataTable, Input, Static

from pcso_tui.domain.casework.views import CaseView
from pcso_tui.domain.core.states import PRIORITY_NAMES, priority_for
from pcso_tui.domain.core.text import one_line, printable
from pcso_tui.domain.core.views import incident_number
from pcso_tui.domain.install_base.views import ImpactView
from pcso_tui.domain.operations.views import AlertView, IncidentDetail, IncidentView
from pcso_tui.screens.base import ModeScreen, Refresh
from pcso_tui.screens.incident_dialogs import (
    AlertDetailDialog,
    ConfirmDialog,
    Eta,
    EtaDialog,
    NewIncident,
    Note,
    NoteDialog,
    OpenIncidentDialog,
    Resolution,
    ResolveDialog,
    StateChange,
    StateDialog,
    incident_context,
)
from pcso_tui.widgets.alert_table import AlertTable, FixedWidthTable, format_age, state_label
from pcso_tui.widgets.cells import severity_cell, severity_content, severity_label
from pcso_tui.widgets.event_ticker import EventTicker
from pcso_tui.widgets.feed import EventsArrived
from pcso_tui.widgets.impact_table import ImpactTable, summary
from pcso_tui.widgets.palette import PaletteCommand
from pcso_tui.widgets.safe_table import SafeTable

VIEWS = ("alerts", "incidents", "impact", "feed")
VIEW_TITLES = {"alerts": "Alerts", "incidents": "Incidents", "impact": "Impact", "feed": "Feed"}
# (label, severity_at_least)
SEVERITY_FILTERS: tuple[tuple[str, str | None], ...] = (
    ("any", None),
    ("≥ warning", "warning"),
    ("≥ minor", "minor"),
    ("≥ major", "major"),
    ("critical", "critical"),
)
# (label, states)
STATE_FILTERS: tuple[tuple[str, tuple[str, ...] | None], ...] = (
    ("active", ("open", "flapping")),
    ("open", ("open",)),
    ("flapping", ("flapping",)),
    ("closed", ("closed",)),
    ("all", None),
)
# (label, sort key for list_alerts)
SORTS: tuple[tuple[str, str], ...] = (
    ("latest change", "-last_change_at"),
    ("severity", "-severity"),
    ("count", "-receive_count"),
    ("newest", "-first_seen_at"),
    ("CI", "ci"),
    ("name", "name"),
)

INCIDENT_COLUMNS = (
    ("number", "Incident", 10),
    ("severity", "Severity", 10),
    ("state", "State", 11),
    ("title", "Title", 26),
    ("alerts", "Alerts", 6),
    ("root", "Root cause", 16),
    ("eta", "ETA", 11),
)
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
JOURNAL_LINES = 8
DETAIL_ALERTS = 8


def _when(value: datetime | None) -> str:
    return value.astimezone().strftime("%Y-%m-%d %H:%M") if value else "—"


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
        self.severity_filter = 0
        self.state_filter = 0
        self.sort_index = 0
        self.search = ""
        self.page_offset = 0
        self.total = 0
        self.impact_offset = 0
        self.impact: ImpactView | None = None
        self.incidents: dict[int, IncidentView] = {}
        self.detail: IncidentDetail | None = None
        self.selected_incident_id: int | None = None
        self.last_result = ""
        self._op_search_timer: Any = None
        self._op_listed: dict[int, IncidentView] = {}
        self.refreshes = 0  # alert page reads done (tests wait on it)
        jobs: dict[str, Callable[[], Awaitable[None]]] = {
            "alerts": self._load_alerts,
            "check": self._check_page,
            "incidents": self._load_incidents,
            "detail": self._load_detail,
            "impact": self._load_impact,
        }
        self.reads: dict[str, Refresh] = {
            what: self.work.refresh(what, job, group=f"operator-{what}") for what, job in jobs.items()
        }

    # --- layout ------------------------------------------------------------------------------

    def compose_body(self) -> ComposeResult:
        yield Static(self._view_bar(), id="view-bar")
        with ContentSwitcher(initial="alerts-view", id="operator-views"):
            with Vertical(id="alerts-view"):
                yield Static("", id="alert-status", classes="view-status")
                yield Input(placeholder="search name, summary, CI, labels — Enter keeps, Esc clears", id="alert-search")
                yield AlertTable(page_size=self.PAGE_SIZE, id="alert-table")
            with Vertical(id="incidents-view"):
                yield Static("", id="incident-status", classes="view-status")
                yield FixedWidthTable(INCIDENT_COLUMNS, max_rows=self.INCIDENT_LIMIT, id="incident-table")
                with VerticalScroll(id="incident-detail"):
                    yield Static("", id="incident-detail-text")
            with Vertical(id="impact-view"):
                yield Static("", id="impact-status", classes="view-status")
                yield ImpactTable(page_size=self.IMPACT_PAGE_SIZE, id="impact-table")
            with Vertical(id="feed-view"):
                yield EventTicker()

    def on_mount(self) -> None:
        super().on_mount()
        self._show_alert_status()
        self.query_one("#incident-status", Static).update(Content("Incidents: loading…"))
        self.query_one("#impact-status", Static).update(
            Content("Select an incident (2) to see the accounts it touches.")
        )
        self.query_one(AlertTable).focus()
        self.request("alerts")
        self.request("incidents")
        self.set_interval(self.REFRESH_SECONDS, self._tick, name="operator refresh")

    # --- plumbing ----------------------------------------------------------------------------

    @property
    def alert_table(self) -> AlertTable:
        return self.query_one(AlertTable)

    @property
    def incident_table(self) -> SafeTable:
        return self.query_one("#incident-table", SafeTable)

    @property
    def impact_table(self) -> ImpactTable:
        return self.query_one(ImpactTable)

    def now(self) -> datetime:
        clock = getattr(self.session.domain, "clock", None)
        return clock() if clock is not None else datetime.now(UTC)

    def request(self, what: str, *, delay: float = 0.0) -> None:
        """Refresh ``what`` (alerts, incidents, detail, impact) soon; bursts make one refresh."""
        self.reads[what].request(delay=delay)

    def _tick(self) -> None:
        if self.work.closing:
            return
        if not self.work.in_front:
            self.reads["alerts"].stale = True  # caught up when the screen is back in front
            return
        if SORTS[self.sort_index][1] == "-receive_count":
            self.request("alerts")  # a repeat elsewhere may move an alert onto this page
        else:
            self.request("check")

    async def _check_page(self) -> None:
        """The page's versions in one cheap read; the page is re-read only if one changed."""
        from pcso_tui.domain.operations.alerts import alert_versions

        table = self.alert_table
        shown = dict(table.alerts)
        if not shown:
            return
        session = self.session
        versions = await self.work.call(alert_versions(session.domain, session.actor, list(shown)))
        if not self.is_attached:
            return
        if any(versions.get(alert_id) != alert.version for alert_id, alert in shown.items()):
            self.request("alerts")
        elif not self.reads["alerts"].running:
            table.show_page([table.alerts[key] for key in table.row_keys()], self.now())  # the ages

    def on_screen_resume(self) -> None:
        super().on_screen_resume()
        self.reads["alerts"].resume()

    def on_events_arrived(self, message: EventsArrived) -> None:
        alerts = incidents = detail = False
        for event in message.events:
            if event.subject_type == "alert":
                alerts = True
            elif event.subject_type == "incident":
                alerts = incidents = True
                if event.subject_id == self.selected_incident_id:
                    detail = True
            elif event.subject_type == "case" and event.payload.get("incident_id") == self.selected_incident_id:
                detail = True
        if alerts:
            self.request("alerts", delay=self.COALESCE_SECONDS)
        if incidents:
            self.request("incidents", delay=self.COALESCE_SECONDS)
        if detail:
            self.request("detail", delay=self.COALESCE_SECONDS)

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
        selected = self.selected_incident_id
        if view == "impact" and selected is not None and (self.impact is None or self.impact.incident_id != selected):
            self.impact_offset = 0
            self.request("impact")
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

    # --- alerts --------------------------------------------------------------------------------

    def alert_query(self) -> dict[str, Any]:
        return {
            "state": STATE_FILTERS[self.state_filter][1],
            "severity_at_least": SEVERITY_FILTERS[self.severity_filter][1],
            "search": self.search or None,
        }

    async def _load_alerts(self) -> None:
        from pcso_tui.domain.operations.alerts import count_alerts, list_alerts

        session = self.session
        query = self.alert_query()
        total = await self.work.call(count_alerts(session.domain, session.actor, **query))
        if self.page_offset >= total and self.page_offset:
            self.page_offset = max(0, (total - 1) // self.PAGE_SIZE * self.PAGE_SIZE)
        alerts = await self.work.call(
            list_alerts(
                session.domain,
                session.actor,
                **query,
                sort=SORTS[self.sort_index][1],
                limit=self.PAGE_SIZE,
                offset=self.page_offset,
            )
        )
        if not self.is_attached:
            return
        self.total = total
        self.alert_table.show_page(alerts, self.now())
        self.refreshes += 1
        self._show_alert_status()
        self.work.loaded("operator-alerts")

    def _show_alert_status(self) -> None:
        shown = self.alert_table.row_count
        first = self.page_offset + 1 if shown else 0
        parts: list[Any] = [
            ("Alerts ", "bold"),
            f"{first:,}–{self.page_offset + shown:,} of {self.total:,}",
        ]
        if self.total > self.PAGE_SIZE:
            parts.append((" n/p page", "$text-muted"))
        parts += [
            ("  t ", "$text-accent"),
            STATE_FILTERS[self.state_filter][0],
            ("  f sev ", "$text-accent"),
            SEVERITY_FILTERS[self.severity_filter][0],
            ("  s ", "$text-accent"),
            SORTS[self.sort_index][0],
        ]
        if self.search:
            parts += [("  / ", "$text-accent"), f"“{one_line(self.search, 24)}”"]
        self.query_one("#alert-status", Static).update(Content.assemble(*parts))

    def _requery(self) -> None:
        self.page_offset = 0
        self._show_alert_status()
        self.request("alerts")

    def action_cycle_severity(self) -> None:
        self.severity_filter = (self.severity_filter + 1) % len(SEVERITY_FILTERS)
        self._requery()

    def action_cycle_state(self) -> None:
        self.state_filter = (self.state_filter + 1) % len(STATE_FILTERS)
        self._requery()

    def action_cycle_sort(self) -> None:
        self.sort_index = (self.sort_index + 1) % len(SORTS)
        self._requery()

    def action_page(self, step: int) -> None:
        if self.current_view == "impact":
            impact = self.impact
            if impact is None:
                return
            offset = self.impact_offset + step * self.IMPACT_PAGE_SIZE
            if 0 <= offset < impact.matched_accounts:
                self.impact_offset = offset
                self.request("impact")
            return
        offset = self.page_offset + step * self.PAGE_SIZE
        if offset < 0 or offset >= self.total:
            self.notify("no more pages that way", severity="information", timeout=2)
            return
        self.page_offset = offset
        self.request("alerts")
        self.alert_table.move_cursor(row=0, animate=False)

    def action_search(self) -> None:
        box = self.query_one("#alert-search", Input)
        box.add_class("searching")
        box.focus()

    @on(Input.Changed, "#alert-search")
    def _search_changed(self, event: Input.Changed) -> None:
        if self._op_search_timer is not None:
            self._op_search_timer.stop()
        self._op_search_timer = self.set_timer(0.3, lambda: self._apply_search(event.value), name="search")

    def _apply_search(self, text: str) -> None:
        self._op_search_timer = None
        text = text.strip()
        if text != self.search:
            self.search = text
            self._requery()

    @on(Input.Submitted, "#alert-search")
    def _search_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self._op_search_timer is not None:
            self._op_search_timer.stop()
        self._apply_search(event.value)
        if not self.search:
            event.input.remove_class("searching")
        self.alert_table.focus()

    def on_key(self, event: Any) -> None:
        box = self.query_one("#alert-search", Input)
        if event.key == "escape" and box.has_focus:
            event.stop()
            box.value = ""
            box.remove_class("searching")
            if self._op_search_timer is not None:
                self._op_search_timer.stop()
            self._apply_search("")
            self.alert_table.focus()

    def _selected_alert(self) -> AlertView | None:
        alert = self.alert_table.selected
        if alert is None:
            self.notify("no alert selected", severity="warning", timeout=2)
        return alert

    @on(DataTable.RowSelected, "#alert-table")
    def _alert_chosen(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_alert_detail()

    def action_alert_detail(self) -> None:
        alert = self._selected_alert()
        if alert is not None:
            self.app.push_screen(AlertDetailDialog(f"Alert {alert.id}: {alert.name}", alert_content(alert, self.now())))

    def action_acknowledge(self) -> None:
        alert = self._selected_alert()
        if alert is None:
            return
        from pcso_tui.domain.operations.alerts import acknowledge_alert, unacknowledge_alert

        session = self.session
        command = unacknowledge_alert if alert.acknowledged else acknowledge_alert
        call = command(session.domain, session.actor, alert.id, alert.version)
        self.work.run_command(call, self._acknowledged, group="operator-command")

    def _acknowledged(self, view: AlertView) -> None:
        self.alert_table.update_alert(view, self.now())
        word = "acknowledged" if view.acknowledged else "no longer acknowledged"
        self.notify(f"Alert {view.id} {word}: {one_line(view.name, 60)}", markup=False, timeout=3)
        self.work.wake_feed()

    def action_open_incident(self) -> None:
        alert = self._selected_alert()
        if alert is not None:
            self._open_incident(alert_ids=[alert.id])

    def action_new_incident(self) -> None:
        alert = self.alert_table.selected
        title = one_line(alert.summary or alert.name, 200) if alert else ""
        severity = alert.severity if alert else "major"
        context = "From the selected alert, which joins the incident." if alert else ""

        def done(result: NewIncident | None) -> None:
            if result is not None:
                ids = [alert.id] if alert else []
                self._open_incident(alert_ids=ids, title=result.title, severity=result.severity)

        self.app.push_screen(OpenIncidentDialog(title=title, severity=severity, context=context), done)

    def _open_incident(self, *, alert_ids: list[int], title: str = "", severity: str | None = None) -> None:
        from pcso_tui.domain.operations.incidents import open_incident

        session = self.session
        call = open_incident(session.domain, session.actor, title=title, severity=severity, alert_ids=alert_ids)
        self.work.run_command(call, partial(self._incident_opened, alert_ids), group="operator-command")

    def _incident_opened(self, alert_ids: list[int], view: IncidentView) -> None:
        source = f"from alert {', '.join(map(str, alert_ids))}" if alert_ids else "by hand"
        self.last_result = f"Opened {view.number} ({view.severity}) {source}"
        self.notify(f"{self.last_result}: {one_line(view.title, 60)}", markup=False)
        self.work.wake_feed()
        self.selected_incident_id = view.id
        self.incidents[view.id] = view
        self.request("alerts")
        self.request("incidents")
        self.request("detail")
        self.action_show_view("incidents")

    # --- incidents -----------------------------------------------------------------------------

    async def _load_incidents(self) -> None:
        from pcso_tui.domain.operations.incidents import list_incidents

        session = self.session
        views = await self.work.call(list_incidents(session.domain, session.actor, limit=self.INCIDENT_LIMIT))
        if not self.is_attached:
            return
        table = self.incident_table
        wanted = {v.id: v for v in views}
        selected = self.selected_incident_id
        if selected is not None and selected not in wanted and selected in self.incidents:
            # The selected incident left the active list (resolved …): keep showing it.
            wanted[selected] = self.incidents[selected]
        table.remove_rows([k for k in table.row_keys() if k not in wanted])
        # Only incidents that changed are re-rendered (the age alone is not shown in the list).
        changed = {
            v.id: self._incident_cells(v)
            for v in wanted.values()
            if v.id not in self._op_listed or replace(self._op_listed[v.id], age_seconds=0) != replace(v, age_seconds=0)
        }
        if changed:
            table.upsert_rows(changed)
        self._op_listed = dict(wanted)
        self.incidents = wanted
        order = list(wanted)
        if table.row_keys() != order:
            rank = {id(table.get_row(table._key(k))[0]): n for n, k in enumerate(order)}
            table.sort(key=lambda cells: rank.get(id(cells[0]), len(rank)))
        if selected is not None and selected in wanted:
            index = order.index(selected)
            if table.cursor_row != index:
                table.move_cursor(row=index, animate=False)
        elif wanted and selected is None:
            self._select_incident(order[table.cursor_row] if table.cursor_row < len(order) else order[0])
        active = len(views)
        self.query_one("#incident-status", Static).update(
            Content.assemble(("Incidents ", "bold"), f"{active} active", ("  (newest first)", "$text-muted"))
        )
        if selected is not None and selected in wanted:
            self.request("detail")

    def _incident_cells(self, v: IncidentView) -> tuple[Any, ...]:
        return (
            v.number,
            severity_cell(v.severity),
            state_label_incident(v.state),
            v.title,
            f"{v.firing_count}/{v.alert_count}",
            v.root_ci_name or "—",
            _when(v.eta) if v.eta else "—",
        )

    @on(DataTable.RowHighlighted, "#incident-table")
    def _incident_highlighted(self, event: DataTable.RowHighlighted) -> None:
        key = event.row_key.value
        if key is None:
            return
        incident_id = int(key)
        if incident_id != self.selected_incident_id:
            self._select_incident(incident_id)

    def _select_incident(self, incident_id: int) -> None:
        self.selected_incident_id = incident_id
        self.request("detail", delay=0.1)

    async def _load_detail(self) -> None:
        from pcso_tui.domain.operations.incidents import get_incident

        incident_id = self.selected_incident_id
        if incident_id is None:
            return
        session = self.session
        detail = await self.work.call(get_incident(session.domain, session.actor, incident_id))
        if not self.is_attached or incident_id != self.selected_incident_id:
            return
        self.detail = detail
        self.incidents[incident_id] = detail.incident
        self.query_one("#incident-detail-text", Static).update(detail_content(detail, self.last_result))
        if self.current_view == "impact" and (self.impact is None or self.impact.incident_id != incident_id):
            self.impact_offset = 0
            self.request("impact")

    def _incident(self) -> IncidentView | None:
        incident_id = self.selected_incident_id
        incident = self.incidents.get(incident_id) if incident_id is not None else None
        if incident is None:
            self.notify("no incident selected: open one from an alert (i) or pick one (2)", severity="warning")
        return incident

    def _form_context(self, incident: IncidentView) -> Content:
        return incident_context(incident.number, incident.title, f"{incident.severity}, {incident.state}")

    def action_work_note(self) -> None:
        incident = self._incident()
        if incident is None:
            return

        def done(note: Note | None) -> None:
            if note is not None:
                self._command(incident, "note", note)

        self.app.push_screen(NoteDialog("Work note", self._form_context(incident)), done)

    def action_incident_state(self) -> None:
        incident = self._incident()
        if incident is None:
            return

        def done(change: StateChange | None) -> None:
            if change is not None:
                self._command(incident, "state", change)

        self.app.push_screen(StateDialog(incident.state, self._form_context(incident)), done)

    def action_eta(self) -> None:
        incident = self._incident()
        if incident is None:
            return

        def done(eta: Eta | None) -> None:
            if eta is not None:
                self._command(incident, "eta", eta)

        self.app.push_screen(EtaDialog(self.now(), incident.eta, self._form_context(incident)), done)

    def action_resolve(self) -> None:
        incident = self._incident()
        if incident is None:
            return

        def done(resolution: Resolution | None) -> None:
            if resolution is not None:
                self._command(incident, "resolve", resolution)

        self.app.push_screen(ResolveDialog(self._form_context(incident)), done)

    def _command(self, incident: IncidentView, what: str, value: Any) -> None:
        from pcso_tui.domain.operations import incidents as commands

        domain, actor = self.session.domain, self.session.actor
        version = incident.version
        call: Awaitable[object]
        if what == "note":
            call = commands.add_incident_note(
                domain, actor, incident.id, value.body, kind=value.kind, expected_version=version
            )
            said = f"{'Progress update' if value.kind == 'progress' else 'Work note'} added to {incident.number}"
        elif what == "state":
            call = commands.set_incident_state(
                domain, actor, incident.id, value.state, expected_version=version, note=value.note
            )
            said = f"{incident.number} is now {value.state.replace('_', ' ')}"
        elif what == "eta":
            call = commands.set_incident_eta(domain, actor, incident.id, value.eta, expected_version=version)
            said = f"{incident.number} ETA {_when(value.eta)}" if value.eta else f"{incident.number} ETA cleared"
        else:
            call = commands.resolve_incident(
                domain, actor, incident.id, value.code, value.notes, expected_version=version
            )
            said = f"{incident.number} resolved ({one_line(value.code, 30)})"
        self.work.run_command(call, partial(self._incident_updated, said), group="operator-command")

    def _incident_updated(self, said: str, result: object) -> None:
        if isinstance(result, IncidentView):
            self.incidents[result.id] = result
        self.last_result = said
        self.notify(said, markup=False, timeout=4)
        self.work.wake_feed()
        self.request("detail")
        self.request("incidents")

    def action_proactive_case(self) -> None:
        incident = self._incident()
        if incident is None:
            return
        priority = priority_for(incident.severity) if incident.severity in PRIORITY_SEVERITIES else 4
        question = Content.assemble(
            "Open the proactive case for ",
            (incident.number, "bold"),
            " ",
            one_line(incident.title, 80),
            "?\nPriority ",
            (f"{priority} ({PRIORITY_NAMES[priority]})", "bold"),
            f", from severity {severity_label(incident.severity)}. It carries the incident, its worst alert "
            "and every affected install base item and account.",
        )

        def done(yes: bool | None) -> None:
            if yes:
                self._open_case(incident)

        self.app.push_screen(ConfirmDialog("Proactive case", question), done)

    def _open_case(self, incident: IncidentView) -> None:
        from pcso_tui.domain.casework.cases import open_proactive_case

        session = self.session
        call = open_proactive_case(session.domain, session.actor, incident.id)
        self.work.run_command(call, partial(self._case_opened, incident), group="operator-command")

    def _case_opened(self, incident: IncidentView, case: CaseView) -> None:
        accounts = f"{case.affected_accounts:,} affected account{'s' if case.affected_accounts != 1 else ''}"
        self.last_result = (
            f"Opened proactive case {case.number} for {incident.number}: priority {case.priority} "
            f"({case.priority_name}), {accounts}"
        )
        if case.major_case_state != "none":
            self.last_result += f"; major case {case.major_case_state.replace('_', ' ')} by rule"
        self.notify(self.last_result, title="Proactive case", markup=False, timeout=8)
        self.work.wake_feed()
        self.request("detail")

    # --- impact ------------------------------------------------------------------------------

    async def _load_impact(self) -> None:
        from pcso_tui.domain.install_base.impact import impact_of

        incident_id = self.selected_incident_id
        if incident_id is None:
            return
        status = self.query_one("#impact-status", Static)
        status.update(Content(f"Computing the impact of {incident_number(incident_id)}…"))
        session = self.session
        impact = await self.work.call(
            impact_of(
                session.domain,
                session.actor,
                incident_id=incident_id,
                page_size=self.IMPACT_PAGE_SIZE,
                offset=self.impact_offset,
            )
        )
        if not self.is_attached:
            return
        if incident_id != self.selected_incident_id:
            self.request("impact")
            return
        if self.impact is not None and self.impact.incident_id != incident_id:
            self.impact_table.clear_page()
        self.impact = impact
        self.impact_table.show_page(impact)
        more = " · n/p page" if impact.matched_accounts > self.IMPACT_PAGE_SIZE else ""
        status.update(Content(summary(impact) + more))

    # --- palette -----------------------------------------------------------------------------

    def palette_commands(self) -> Iterable[PaletteCommand]:
        for view in VIEWS:
            if view != self.current_view:
                yield PaletteCommand(
                    f"Operator: {VIEW_TITLES[view]}", f"Show the {view} view", lambda v=view: self.action_show_view(v)
                )


PRIORITY_SEVERITIES = ("critical", "major", "minor", "warning", "info", "clear")
INCIDENT_STATE_GLYPHS = {
    "new": "◆",
    "in_progress": "▶",
    "on_hold": "‖",
    "resolved": "✔",
    "closed": "■",
    "canceled": "✕",
}


def state_label_incident(state: str) -> str:
    return f"{INCIDENT_STATE_GLYPHS.get(state, '?')} {one_line(state.replace('_', ' '), 12)}"


def alert_content(alert: AlertView, now: datetime) -> Content:
    """One alert in full, as safe Content (every text shown literally, control characters visible)."""

    def row(label: str, value: str) -> list[Any]:
        return ["\n", (f"{label:<13}", "$text-muted"), value]

    ci = one_line(alert.ci_name) if alert.ci_name else f"unmapped (label value {one_line(alert.ci_key or '—')!s})"
    parts: list[Any] = [
        severity_content(alert.severity),
        "  ",
        state_label(alert.state),
        ("  acknowledged" if alert.acknowledged else "", "bold"),
        ("  in maintenance" if alert.maintenance else "", "bold"),
        "\n",
        (one_line(alert.name, 200), "bold"),
    ]
    parts += row("Summary", one_line(alert.summary, 500))
    parts += row("CI", ci)
    parts += row("Incident", incident_number(alert.incident_id) if alert.incident_id else "none")
    parts += row("Received", f"{alert.receive_count:,} times; flap score {alert.flap_score}")
    parts += row("Started", f"{_when(alert.starts_at)} ({format_age((now - alert.starts_at).total_seconds())} ago)")
    parts += row("Seen", f"first {_when(alert.first_seen_at)}, last {_when(alert.last_seen_at)}")
    parts += row("Changed", _when(alert.last_change_at))
    if alert.ends_at:
        parts += row("Ended", _when(alert.ends_at))
    parts += row("Source", one_line(alert.source, 40))
    parts += row("Fingerprint", one_line(alert.fingerprint, 128))
    if alert.generator_url:
        parts += row("Link", one_line(alert.generator_url, 300))
    if alert.description:
        parts += ["\n", ("Description", "$text-muted"), "\n", printable(alert.description, multiline=True)]
    for title, values in (("Labels", alert.labels), ("Annotations", alert.annotations)):
        if values:
            parts += ["\n", (title, "$text-muted")]
            for key, value in sorted(values.items()):
                parts += ["\n  ", (one_line(str(key), 40), "$text-accent"), " = ", one_line(str(value), 300)]
    return Content.assemble(*parts)


def detail_content(detail: IncidentDetail, last_result: str = "") -> Content:
    """The selected incident, as safe Content: header, root cause, alerts, journal."""
    i = detail.incident
    parts: list[Any] = [
        (i.number, "bold"),
        "  ",
        severity_content(i.severity),
        "  ",
        state_label_incident(i.state),
        ("  opened ", "$text-muted"),
        _when(i.opened_at),
        ("  by ", "$text-muted"),
        one_line((i.opened_by_rule and f"rule {i.opened_by_rule}") or i.opened_by or "—", 30),
        ("  ETA ", "$text-muted"),
        _when(i.eta),
        "\n",
        one_line(i.title, 200),
        "\n",
        ("Root cause: ", "bold"),
    ]
    if detail.root_cause is not None:
        parts += [
            one_line(detail.root_cause.ci_name, 80),
            ("  " + one_line(detail.root_cause.explanation, 200), "$text-muted"),
        ]
    else:
        parts.append((one_line(detail.root_cause_note or "unknown", 200), "$text-muted"))
    parts += ["\n", ("Alerts: ", "bold"), f"{i.alert_count} joined, {i.firing_count} firing, {i.ci_count} CIs"]
    for alert in detail.alerts[:DETAIL_ALERTS]:
        parts += [
            "\n  ",
            severity_content(alert.severity),
            " ",
            state_label(alert.state),
            " ",
            one_line(alert.name, 40),
            ("  on ", "$text-muted"),
            one_line(alert.ci_name or f"unmapped {alert.ci_key or '(no CI label)'}", 40),
        ]
    if len(detail.alerts) > DETAIL_ALERTS or i.alert_count > len(detail.alerts[:DETAIL_ALERTS]):
        parts += ["\n  ", (f"… {i.alert_count - min(len(detail.alerts), DETAIL_ALERTS)} more", "$text-muted")]
    if detail.resolution_code:
        parts += [
            "\n",
            ("Resolution: ", "bold"),
            one_line(detail.resolution_code, 64),
            " — ",
            one_line(detail.resolution_notes or "", 200),
        ]
    parts += [
        "\n",
        ("Journal", "bold"),
        (f" ({len(detail.journal)} line{'s' if len(detail.journal) != 1 else ''}, newest last)", "$text-muted"),
    ]
    for entry in detail.journal[-JOURNAL_LINES:]:
        parts += [
            "\n  ",
            (entry.created_at.astimezone().strftime("%H:%M"), "$text-muted"),
            " ",
            (one_line(entry.author_name, 16), "$text-accent"),
            " ",
            (entry.kind.replace("_", " "), "bold"),
            ": ",
            printable(entry.body.replace("\r\n", "\n"), multiline=True).replace("\n", "\n      "),
        ]
    if last_result:
        parts += ["\n", ("Last: ", "bold"), one_line(last_result, 200)]
    return Content.assemble(*parts)


__all__ = ["OperatorScreen", "detail_content", "format_age"]
