"""The operator's Incidents view: active incidents, newest first, and the selected one's detail.

The detail names the probable root-cause CI, the alerts that joined and the journal. The
commands (the screen binds ``w`` work note / progress, ``u`` state, ``e`` ETA, ``r`` resolve,
``c`` proactive case, and ``i``/``I`` on the Alerts view) send the version the operator saw; a
conflict comes back as a notification. After each, ``IncidentsView.Changed`` tells the screen.
"""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import replace
from functools import partial
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.widgets import DataTable, Static

from pcso_tui.domain.casework.views import CaseView
from pcso_tui.domain.core.states import PRIORITY_NAMES, priority_for
from pcso_tui.domain.core.text import one_line, printable
from pcso_tui.domain.operations.views import IncidentDetail, IncidentView
from pcso_tui.screens.base import DomainWork, signed_in
from pcso_tui.screens.incident_dialogs import (
    ConfirmDialog,
    Eta,
    EtaDialog,
    Note,
    NoteDialog,
    Resolution,
    ResolveDialog,
    StateChange,
    StateDialog,
    incident_context,
)
from pcso_tui.screens.operator.common import now, when
from pcso_tui.widgets.alert_table import FixedWidthTable, state_label
from pcso_tui.widgets.cells import severity_cell, severity_content, severity_label
from pcso_tui.widgets.safe_table import SafeTable

INCIDENT_COLUMNS = (
    ("number", "Incident", 10),
    ("severity", "Severity", 10),
    ("state", "State", 11),
    ("title", "Title", 26, 3),
    ("alerts", "Alerts", 6),
    ("root", "Root cause", 16, 1),
    ("eta", "ETA", 11),
)
JOURNAL_LINES = 8
DETAIL_ALERTS = 8
PRIORITY_SEVERITIES = ("critical", "major", "minor", "warning", "info", "clear")
INCIDENT_STATE_GLYPHS = {
    "new": "◆",
    "in_progress": "▶",
    "on_hold": "‖",
    "resolved": "✔",
    "closed": "■",
    "canceled": "✕",
}


class IncidentsView(Vertical):
    """The incident list and the selected incident's detail."""

    class Opened(Message):
        """This view opened an incident (now selected): the screen shows it."""

        def __init__(self, incident: IncidentView) -> None:
            super().__init__()
            self.incident = incident

    class DetailShown(Message):
        """The selected incident's detail was read and shown."""

        def __init__(self, incident_id: int) -> None:
            super().__init__()
            self.incident_id = incident_id

    def __init__(self, *, limit: int, id: str | None = None) -> None:
        super().__init__(id=id)
        self.limit = limit
        self.incidents: dict[int, IncidentView] = {}
        self.detail: IncidentDetail | None = None
        self.selected_incident_id: int | None = None
        self.last_result = ""
        self._listed: dict[int, IncidentView] = {}
        self.work = DomainWork(self)
        self.list = self.work.refresh("incidents", self._load_incidents, group="operator-incidents")
        self.selected_detail = self.work.refresh("detail", self._load_detail, group="operator-detail")

    def compose(self) -> ComposeResult:
        yield Static("", id="incident-status", classes="view-status")
        yield FixedWidthTable(INCIDENT_COLUMNS, max_rows=self.limit, id="incident-table")
        with VerticalScroll(id="incident-detail"):
            yield Static("", id="incident-detail-text")

    def on_mount(self) -> None:
        self.query_one("#incident-status", Static).update(Content("Incidents: loading…"))

    @property
    def table(self) -> SafeTable:
        return self.query_one("#incident-table", SafeTable)

    # --- reading -------------------------------------------------------------------------------

    async def _load_incidents(self) -> None:
        from pcso_tui.domain.operations.incidents import list_incidents

        session = signed_in(self)
        views = await self.work.call(list_incidents(session.domain, session.actor, limit=self.limit))
        if not self.is_attached:
            return
        table = self.table
        wanted = {v.id: v for v in views}
        selected = self.selected_incident_id
        if selected is not None and selected not in wanted and selected in self.incidents:
            # The selected incident left the active list (resolved …): keep showing it.
            wanted[selected] = self.incidents[selected]
        table.remove_rows([k for k in table.row_keys() if k not in wanted])
        # Only incidents that changed are re-rendered (the age alone is not shown in the list).
        changed: dict[Any, tuple[Any, ...]] = {
            v.id: incident_cells(v)
            for v in wanted.values()
            if v.id not in self._listed or replace(self._listed[v.id], age_seconds=0) != replace(v, age_seconds=0)
        }
        if changed:
            table.upsert_rows(changed)
        self._listed = dict(wanted)
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
            self.select(order[table.cursor_row] if table.cursor_row < len(order) else order[0])
        active = len(views)
        self.query_one("#incident-status", Static).update(
            Content.assemble(("Incidents ", "bold"), f"{active} active", ("  (newest first)", "$text-muted"))
        )
        if selected is not None and selected in wanted:
            self.selected_detail.request()

    @on(DataTable.RowHighlighted, "#incident-table")
    def _incident_highlighted(self, event: DataTable.RowHighlighted) -> None:
        key = event.row_key.value
        if key is None:
            return
        incident_id = int(key)
        if incident_id != self.selected_incident_id:
            self.select(incident_id)

    def select(self, incident_id: int) -> None:
        self.selected_incident_id = incident_id
        self.selected_detail.request(delay=0.1)

    async def _load_detail(self) -> None:
        from pcso_tui.domain.operations.incidents import get_incident

        incident_id = self.selected_incident_id
        if incident_id is None:
            return
        session = signed_in(self)
        detail = await self.work.call(get_incident(session.domain, session.actor, incident_id))
        if not self.is_attached or incident_id != self.selected_incident_id:
            return
        self.detail = detail
        self.incidents[incident_id] = detail.incident
        self.query_one("#incident-detail-text", Static).update(detail_content(detail, self.last_result))
        self.post_message(self.DetailShown(incident_id))

    # --- commands ------------------------------------------------------------------------------

    def selected(self) -> IncidentView | None:
        incident_id = self.selected_incident_id
        incident = self.incidents.get(incident_id) if incident_id is not None else None
        if incident is None:
            self.notify("no incident selected: open one from an alert (i) or pick one (2)", severity="warning")
        return incident

    def open_incident(self, *, alert_ids: list[int], title: str = "", severity: str | None = None) -> None:
        from pcso_tui.domain.operations.incidents import open_incident

        session = signed_in(self)
        call = open_incident(session.domain, session.actor, title=title, severity=severity, alert_ids=alert_ids)
        self.work.run_command(call, partial(self._incident_opened, alert_ids), group="operator-command")

    def _incident_opened(self, alert_ids: list[int], view: IncidentView) -> None:
        source = f"from alert {', '.join(map(str, alert_ids))}" if alert_ids else "by hand"
        self.last_result = f"Opened {view.number} ({view.severity}) {source}"
        self.notify(f"{self.last_result}: {one_line(view.title, 60)}", markup=False)
        self.work.wake_feed()
        self.selected_incident_id = view.id
        self.incidents[view.id] = view
        self.post_message(self.Opened(view))
        self.list.request()
        self.selected_detail.request()

    def _form_context(self, incident: IncidentView) -> Content:
        return incident_context(incident.number, incident.title, f"{incident.severity}, {incident.state}")

    def work_note(self) -> None:
        incident = self.selected()
        if incident is None:
            return

        def done(note: Note | None) -> None:
            if note is not None:
                self._command(incident, "note", note)

        self.app.push_screen(NoteDialog("Work note", self._form_context(incident)), done)

    def change_state(self) -> None:
        incident = self.selected()
        if incident is None:
            return

        def done(change: StateChange | None) -> None:
            if change is not None:
                self._command(incident, "state", change)

        self.app.push_screen(StateDialog(incident.state, self._form_context(incident)), done)

    def set_eta(self) -> None:
        incident = self.selected()
        if incident is None:
            return

        def done(eta: Eta | None) -> None:
            if eta is not None:
                self._command(incident, "eta", eta)

        self.app.push_screen(EtaDialog(now(self), incident.eta, self._form_context(incident)), done)

    def resolve(self) -> None:
        incident = self.selected()
        if incident is None:
            return

        def done(resolution: Resolution | None) -> None:
            if resolution is not None:
                self._command(incident, "resolve", resolution)

        self.app.push_screen(ResolveDialog(self._form_context(incident)), done)

    def _command(self, incident: IncidentView, what: str, value: Any) -> None:
        from pcso_tui.domain.operations import incidents as commands

        session = signed_in(self)
        domain, actor = session.domain, session.actor
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
            said = f"{incident.number} ETA {when(value.eta)}" if value.eta else f"{incident.number} ETA cleared"
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
        self.selected_detail.request()
        self.list.request()

    def proactive_case(self) -> None:
        incident = self.selected()
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

        session = signed_in(self)
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
        self.selected_detail.request()


def incident_cells(v: IncidentView) -> tuple[Any, ...]:
    return (
        v.number,
        severity_cell(v.severity),
        state_label_incident(v.state),
        v.title,
        f"{v.firing_count}/{v.alert_count}",
        v.root_ci_name or "—",
        when(v.eta) if v.eta else "—",
    )


def state_label_incident(state: str) -> str:
    return f"{INCIDENT_STATE_GLYPHS.get(state, '?')} {one_line(state.replace('_', ' '), 12)}"


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
        when(i.opened_at),
        ("  by ", "$text-muted"),
        one_line((i.opened_by_rule and f"rule {i.opened_by_rule}") or i.opened_by or "—", 30),
        ("  ETA ", "$text-muted"),
        when(i.eta),
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
