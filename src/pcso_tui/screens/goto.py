"""Go to a record by its number, from any screen: Ctrl+G (``GotoDialog``) or the palette (Ctrl+P).

Typing ``CS0000074``, ``INC0000003``, ``OUT0000002``, ``ACC-T1``, an alert id or a CI name finds
the record (``domain.operations.lookup.find_records``: each role only what it may see) and
``open_record`` opens it where the user's role works on it:

    case      on the manager's screen (a major case or proposal) or the agent's (in the queue
              of its kind), if the role may open it and that queue lists it; otherwise the
              case read-only over the current screen (an operator, a customer's own case, a
              closed case, a child case)
    incident  the operator's Incidents view, selected
    alert     its detail (as Enter on the operator's alert list shows it)
    account   what the account sees in the portal (read-only preview)
    CI        the accounts an outage of it would touch (its impact)
    outage    its major case on the manager's screen
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, cast

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from pcso_tui.domain.core.errors import DomainError
from pcso_tui.domain.core.text import one_line, printable
from pcso_tui.domain.operations.views import RecordRef

if TYPE_CHECKING:
    from textual.dom import DOMNode

    from pcso_tui.app import PcsoApp
    from pcso_tui.screens.session import WorkspaceSession

# Not screens.base's helpers: base binds the go-to key and imports this module.


def workspace(node: DOMNode) -> PcsoApp:
    return cast("PcsoApp", node.app)


def signed_in(node: DOMNode) -> WorkspaceSession:
    session = workspace(node).session
    if session is None:
        raise RuntimeError("go-to needs a signed-in session")
    return session


KIND_WORDS = {
    "case": "Case",
    "incident": "Incident",
    "alert": "Alert",
    "account": "Account",
    "ci": "CI",
    "outage": "Outage",
}


def record_label(ref: RecordRef) -> str:
    """``Case CS0000074 · Phones cannot register`` (plain text, one line)."""
    title = one_line(printable(ref.title), 60)
    same = title == ref.number
    return f"{KIND_WORDS.get(ref.kind, ref.kind)} {ref.number}" + ("" if same or not title else f" · {title}")


async def find(app: PcsoApp, text: str) -> tuple[RecordRef, ...]:
    from pcso_tui.domain.operations.lookup import find_records

    session = signed_in(app.screen)
    return await app.domain_call(find_records(session.domain, session.actor, text))


async def open_record(app: PcsoApp, ref: RecordRef) -> None:
    """Open ``ref`` on the screen where the user's role works on it (module docstring)."""
    opener = {
        "case": _open_case,
        "incident": _open_incident,
        "alert": _open_alert,
        "account": _open_account,
        "ci": _open_ci,
        "outage": _open_outage,
    }[ref.kind]
    await opener(app, ref)


async def _switch(app: PcsoApp, mode: str) -> Any:
    """The mode's screen in front (None, with a notice, if the role may not open it)."""
    if not app.may_open(mode):
        return None
    if app.current_mode != mode:
        await app.action_switch_to(mode)
    screen = app.screen
    return screen if getattr(screen, "MODE", None) == mode else None


def _cannot(app: PcsoApp, ref: RecordRef) -> None:
    role = signed_in(app.screen).actor.role.value
    app.notify(f"{ref.number}: no screen of the {role} role shows it", severity="warning", markup=False)


async def _open_case(app: PcsoApp, ref: RecordRef, *, case_id: int | None = None) -> None:
    case_id = ref.id if case_id is None else case_id
    major = ref.kind == "outage" or ref.case_kind == "major" or ref.major_case_state == "proposed"
    for mode in ("manager", "agent") if major else ("agent", "manager"):
        screen = await _switch(app, mode)
        if screen is not None and screen.go_to_case(case_id, ref.case_kind):
            return
    from pcso_tui.screens.case_record import CaseRecordScreen

    await app.push_screen(CaseRecordScreen(case_id))  # the domain scopes what a customer reads


async def _open_incident(app: PcsoApp, ref: RecordRef) -> None:
    screen = await _switch(app, "operator") if app.may_open("operator") else None
    if screen is None:
        # No operator screen for this role (an agent): the incident read-only, over this screen.
        from pcso_tui.domain.core.text import one_line
        from pcso_tui.domain.operations.incidents import get_incident
        from pcso_tui.screens.incident_dialogs import AlertDetailDialog
        from pcso_tui.screens.operator.incidents import detail_content

        session = signed_in(app.screen)
        detail = await app.domain_call(get_incident(session.domain, session.actor, ref.id))
        title = f"Incident {ref.number}: {one_line(detail.incident.title, 60)} (read-only)"
        await app.push_screen(AlertDetailDialog(title, detail_content(detail)))
        return
    screen.action_show_view("incidents")
    table = screen.incident_table
    if table.has_row(ref.id):
        table.move_cursor(row=list(table.row_keys()).index(ref.id), animate=False)
    screen.incidents_view.select(ref.id)


async def _open_alert(app: PcsoApp, ref: RecordRef) -> None:
    from pcso_tui.domain.operations.alerts import get_alert
    from pcso_tui.screens.incident_dialogs import AlertDetailDialog
    from pcso_tui.screens.operator.alerts import alert_content

    session = signed_in(app.screen)
    alert = await app.domain_call(get_alert(session.domain, session.actor, ref.id))
    await app.push_screen(
        AlertDetailDialog(f"Alert {alert.id}: {alert.name}", alert_content(alert, session.domain.clock()))
    )


async def _open_account(app: PcsoApp, ref: RecordRef) -> None:
    from pcso_tui.domain.core.roles import PERMISSIONS, Permission
    from pcso_tui.screens.portal import PreviewScreen

    if Permission.PREVIEW_ACCOUNT not in PERMISSIONS[signed_in(app.screen).actor.role]:
        _cannot(app, ref)
        return
    await app.push_screen(PreviewScreen(ref.number))


async def _open_ci(app: PcsoApp, ref: RecordRef) -> None:
    from pcso_tui.screens.ci_impact import CiImpactScreen

    await app.push_screen(CiImpactScreen(ref.id, ref.number))


async def _open_outage(app: PcsoApp, ref: RecordRef) -> None:
    if ref.case_id is None:
        app.notify(f"{ref.number}: {one_line(printable(ref.title), 80)} (no major case)", markup=False)
        return
    await _open_case(app, ref, case_id=ref.case_id)


def go(app: PcsoApp, ref: RecordRef) -> None:
    """Open ``ref`` in a worker; a refusal is one notification."""

    async def run() -> None:
        try:
            await open_record(app, ref)
        except DomainError as exc:
            app.notify(one_line(exc.message, 300), title="Refused", severity="error", markup=False)

    app.run_worker(run(), group="goto", exit_on_error=False)


class GotoDialog(ModalScreen[None]):
    """A number or name, Enter: the record opens (several matches: pick one, Enter)."""

    DEFAULT_CSS = """
    GotoDialog {
        align: center middle;
    }
    GotoDialog #goto-box {
        width: 64;
        max-width: 100%;
        height: auto;
        border: round $primary;
        background: $surface;
        padding: 0 1;
    }
    GotoDialog OptionList {
        height: auto;
        max-height: 10;
        display: none;
    }
    GotoDialog OptionList.-shown {
        display: block;
    }
    GotoDialog #goto-error {
        color: $text-error;
        height: auto;
    }
    GotoDialog #goto-hint {
        color: $text-muted;
    }
    """

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="goto.cancel")]

    def __init__(self) -> None:
        super().__init__()
        self.found: tuple[RecordRef, ...] = ()
        self.error: str | None = None

    def compose(self) -> ComposeResult:
        box = Vertical(id="goto-box")
        box.border_title = Content("Go to")
        with box:
            yield Input(placeholder="CS…, INC…, OUT…, ACC…, alert id or CI name", id="goto-input")
            yield OptionList(id="goto-found")
            yield Static("", id="goto-error")
            yield Static(Content("Enter opens · Esc cancels"), id="goto-hint")

    @on(Input.Submitted, "#goto-input")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value
        self.run_worker(self._find(text), group="goto-find", exclusive=True, exit_on_error=False)

    async def _find(self, text: str) -> None:
        app = workspace(self)
        try:
            found = await find(app, text)
        except DomainError as exc:
            self._show_error(one_line(exc.message, 200))
            return
        self.found = found
        if not found:
            self._show_error(f"Nothing found for {one_line(printable(text), 40)!r}")
        elif len(found) == 1:
            self._open(found[0])
        else:
            self._show_error(None)
            options = self.query_one(OptionList)
            options.clear_options()
            options.add_options([Option(Content(record_label(r))) for r in found])
            options.add_class("-shown")
            options.highlighted = 0
            options.focus()

    def _show_error(self, error: str | None) -> None:
        self.error = error
        self.query_one("#goto-error", Static).update(Content(error or ""))

    @on(OptionList.OptionSelected, "#goto-found")
    def _picked(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self._open(self.found[event.option_index])

    def _open(self, ref: RecordRef) -> None:
        app = workspace(self)
        self.dismiss(None)
        go(app, ref)

    def action_cancel(self) -> None:
        self.dismiss(None)


class GotoCommands(Provider):
    """The palette finds records by number or name too (``Go to CS0000074 …``)."""

    async def discover(self) -> Hits:
        yield DiscoveryHit(
            Content("Go to a record by number"),
            partial(self.app.push_screen, GotoDialog()),
            text="Go to a record by number",
            help="CS…, INC…, OUT…, ACC…, an alert id or a CI name (Ctrl+G)",
        )

    async def search(self, query: str) -> Hits:
        if len(query.strip()) < 2 or getattr(self.app, "session", None) is None:
            return
        app = workspace(self.screen)
        try:
            found: Sequence[RecordRef] = await find(app, query)
        except DomainError:
            return
        for ref in found:
            label = f"Go to {record_label(ref)}"
            yield Hit(1.0, Content(label), partial(go, app, ref), text=label, help="Open it where you work on it")
