"""The operator's forms: open an incident, work note, state, ETA, resolution, and the confirmation
before a proactive case is opened.

Each is a ``ModalScreen`` that dismisses with what was entered (a frozen dataclass) or ``None``
when cancelled; the operator screen sends the command. Keys, the same in every dialog: Ctrl+S
saves (Enter too, except on a checkbox, which it ticks), Space ticks, Tab moves between
fields, Esc cancels. A checkbox shows its state by glyph: ``[x]`` / ``[ ]``. A value the form can check itself (an
empty note, an ETA that does not parse) is refused inline, one line, and the form stays open;
everything else is the domain's to refuse.

Titles, alert and incident text shown here are untrusted and go in as ``Content`` (never markup).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from pcso_tui.domain.core.text import one_line
from pcso_tui.widgets.toggles import StateCheckbox

T = TypeVar("T")

INCIDENT_SEVERITIES = ("critical", "major", "minor", "warning", "info")
# Where an incident may go from each state by hand (resolving has its own form).
NEXT_STATES = {
    "new": ("in_progress", "on_hold", "canceled"),
    "in_progress": ("on_hold", "canceled"),
    "on_hold": ("in_progress", "canceled"),
    "resolved": ("in_progress", "closed"),
}


# --- what the forms hand back ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NewIncident:
    title: str
    severity: str


@dataclass(frozen=True, slots=True)
class Note:
    body: str
    kind: str  # work_note | progress


@dataclass(frozen=True, slots=True)
class StateChange:
    state: str
    note: str


@dataclass(frozen=True, slots=True)
class Eta:
    eta: datetime | None  # None clears it


@dataclass(frozen=True, slots=True)
class Resolution:
    code: str
    notes: str


# --- ETA text ----------------------------------------------------------------------------

_RELATIVE = re.compile(r"^\+?\s*(?:(\d+)\s*d)?\s*(?:(\d+)\s*h)?\s*(?:(\d+)\s*m(?:in)?)?$", re.IGNORECASE)
_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})$")


def parse_eta(text: str, now: datetime) -> datetime | None:
    """An ETA from what an operator types, as an aware UTC time; ``ValueError`` says why not.

    ``+2h``, ``+90m``, ``+1d 4h`` (from now); ``14:30`` (local time, today — or tomorrow when
    that has passed); ``2026-11-23 14:30`` (local time) or an ISO time with its offset; an
    empty text or ``none`` clears the ETA.
    """
    value = text.strip()
    if value.lower() in ("", "none", "clear", "-"):
        return None
    if value.startswith("+"):
        match = _RELATIVE.match(value)
        if match and any(match.groups()):
            days, hours, minutes = (int(g or 0) for g in match.groups())
            delta = timedelta(days=days, hours=hours, minutes=minutes)
            if delta <= timedelta(0):
                raise ValueError("the ETA must be later than now")
            return (now + delta).astimezone(UTC)
        raise ValueError(f"not a duration: {one_line(value, 40)!r} (try +2h, +90m or +1d 4h)")
    local_now = now.astimezone()
    match = _CLOCK.match(value)
    if match:
        hour, minute = int(match.group(1)), int(match.group(2))
        if hour > 23 or minute > 59:
            raise ValueError(f"not a time of day: {value!r}")
        at = local_now.replace(hour=hour, minute=minute, second=0, microsecond=0)
        if at <= local_now:
            at += timedelta(days=1)
        return at.astimezone(UTC)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"not a time: {one_line(value, 40)!r} (try +2h, 14:30 or 2026-11-23 14:30)") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=local_now.tzinfo)
    return parsed.astimezone(UTC)


# --- the forms -----------------------------------------------------------------------------


class FormDialog(ModalScreen[T | None], Generic[T]):
    """A titled box with fields, an inline error line and a key hint."""

    DEFAULT_CSS = """
    FormDialog {
        align: center middle;
    }
    FormDialog #form-box {
        width: 72;
        max-width: 100%;
        height: auto;
        max-height: 100%;
        border: round $primary;
        background: $surface;
        padding: 0 1;
    }
    FormDialog .form-context {
        color: $text-muted;
        height: auto;
        max-height: 4;
    }
    FormDialog .form-label {
        margin-top: 1;
    }
    FormDialog #form-error {
        color: $error;
        height: auto;
    }
    FormDialog #form-hint {
        color: $text-muted;
    }
    FormDialog OptionList {
        height: auto;
        max-height: 7;
    }
    """

    BINDINGS = [
        Binding("ctrl+s", "save", "Save", id="form.save"),
        Binding("escape", "cancel", "Cancel", id="form.cancel"),
    ]
    HINT = "Ctrl+S or Enter saves · Tab next field · Esc cancels"

    def __init__(self, title: str, context: Content | str = "") -> None:
        super().__init__()
        self.form_title = title
        self.context = context if isinstance(context, Content) else Content(one_line(context))

    def compose(self) -> ComposeResult:
        box = Vertical(id="form-box")
        box.border_title = Content(self.form_title)
        with box:
            if self.context:
                yield Static(self.context, classes="form-context")
            yield from self.compose_fields()
            yield Static("", id="form-error")
            yield Static(Content(self.HINT), id="form-hint")

    def compose_fields(self) -> ComposeResult:
        yield from ()

    def on_mount(self) -> None:
        blink = getattr(self.app, "cursor_blink", True)
        for widget in self.query(Input):
            widget.cursor_blink = blink
        focusable = self.query("Input, OptionList, StateCheckbox, Button")
        if focusable:
            focusable.first().focus()

    def show_error(self, message: str) -> None:
        self.query_one("#form-error", Static).update(Content(one_line(message)))

    @property
    def error(self) -> str:
        return str(self.query_one("#form-error", Static).content)

    def action_cancel(self) -> None:
        self.dismiss(None)

    def value(self, widget_id: str) -> str:
        return self.query_one(f"#{widget_id}", Input).value

    def action_save(self) -> None:
        self.submit()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        # Enter in any one-line field saves, as Ctrl+S does (a missing value is named inline).
        event.stop()
        self.submit()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.submit()

    def submit(self) -> None:
        result = self.collect()
        if result is not None:
            self.dismiss(result)

    def collect(self) -> T | None:
        """The form's value, or None after ``show_error`` (the form stays open)."""
        raise NotImplementedError


class OpenIncidentDialog(FormDialog[NewIncident]):
    """A new incident by hand: title and severity (prefilled from the selected alert)."""

    def __init__(self, *, title: str = "", severity: str = "major", context: Content | str = "") -> None:
        super().__init__("Open an incident", context)
        self.initial_title = title
        self.initial_severity = severity if severity in INCIDENT_SEVERITIES else "major"

    def compose_fields(self) -> ComposeResult:
        yield Label("Title", classes="form-label")
        yield Input(value=self.initial_title, id="title", max_length=500, select_on_focus=False)
        yield Label("Severity (Tab here, ↑↓ picks)", classes="form-label")
        yield OptionList(*(Option(s, id=s) for s in INCIDENT_SEVERITIES), id="severity")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#severity", OptionList).highlighted = INCIDENT_SEVERITIES.index(self.initial_severity)

    def collect(self) -> NewIncident | None:
        title = self.value("title").strip()
        if not title:
            self.show_error("the title is empty")
            return None
        options = self.query_one("#severity", OptionList)
        index = options.highlighted if options.highlighted is not None else 1
        return NewIncident(title, INCIDENT_SEVERITIES[index])


class NoteDialog(FormDialog[Note]):
    """A work note (staff only), or a customer-safe progress update when the box is ticked."""

    HINT = "Ctrl+S or Enter saves · Space ticks · Tab next field · Esc cancels"

    def compose_fields(self) -> ComposeResult:
        yield Label("Note", classes="form-label")
        yield Input(id="body", placeholder="what was found or done", max_length=20_000)
        yield StateCheckbox("customer-safe: a progress update that may be quoted to customers", id="progress")

    def collect(self) -> Note | None:
        body = self.value("body").strip()
        if not body:
            self.show_error("the note is empty")
            return None
        progress = self.query_one("#progress", StateCheckbox).value
        return Note(body, "progress" if progress else "work_note")


class StateDialog(FormDialog[StateChange]):
    """The incident's next state (resolving has its own form) and an optional note."""

    HINT = "↑↓ pick · Ctrl+S or Enter saves · Tab to the note · Esc cancels"

    def __init__(self, current: str, context: Content | str = "") -> None:
        super().__init__(f"Change state (now {one_line(current)})", context)
        self.current = current
        self.choices = NEXT_STATES.get(current, ())

    def compose_fields(self) -> ComposeResult:
        if not self.choices:
            yield Static(Content(f"A {one_line(self.current)} incident cannot change state."))
            return
        yield OptionList(*(Option(s.replace("_", " "), id=s) for s in self.choices), id="state")
        yield Label("Note (optional)", classes="form-label")
        yield Input(id="note", max_length=20_000)

    def on_mount(self) -> None:
        super().on_mount()
        if self.choices:
            self.query_one("#state", OptionList).highlighted = 0

    def collect(self) -> StateChange | None:
        if not self.choices:
            self.show_error(f"a {self.current} incident cannot change state")
            return None
        options = self.query_one("#state", OptionList)
        index = options.highlighted if options.highlighted is not None else 0
        return StateChange(self.choices[index], self.value("note").strip())


class EtaDialog(FormDialog[Eta]):
    """When service is expected back: ``+2h``, ``14:30``, ``2026-11-23 14:30``; empty clears."""

    def __init__(self, now: datetime, current: datetime | None, context: Content | str = "") -> None:
        super().__init__("Set the ETA", context)
        self.now = now
        self.current = current

    def compose_fields(self) -> ComposeResult:
        shown = self.current.astimezone().strftime("%Y-%m-%d %H:%M") if self.current else "none"
        yield Label(f"ETA (now {shown}): +2h, +90m, 14:30 or 2026-11-23 14:30; empty clears", classes="form-label")
        yield Input(id="eta", placeholder="+2h")

    def collect(self) -> Eta | None:
        try:
            return Eta(parse_eta(self.value("eta"), self.now))
        except ValueError as exc:
            self.show_error(str(exc))
            return None


class ResolveDialog(FormDialog[Resolution]):
    def __init__(self, context: Content | str = "") -> None:
        super().__init__("Resolve the incident", context)

    def compose_fields(self) -> ComposeResult:
        yield Label("Resolution code (one word: fixed, workaround, …)", classes="form-label")
        yield Input(id="code", value="fixed", max_length=64)
        yield Label("Resolution notes", classes="form-label")
        yield Input(id="notes", max_length=20_000)

    def collect(self) -> Resolution | None:
        code, notes = self.value("code").strip(), self.value("notes").strip()
        if not code:
            self.show_error("the resolution code is empty")
            self.query_one("#code").focus()
            return None
        if not notes:
            self.show_error("the resolution notes are empty")
            self.query_one("#notes").focus()
            return None
        return Resolution(code, notes)


class ConfirmDialog(ModalScreen[bool]):
    """A question answered with y/Enter (yes) or n/Esc (no)."""

    DEFAULT_CSS = """
    ConfirmDialog {
        align: center middle;
    }
    ConfirmDialog #confirm-box {
        width: 64;
        max-width: 100%;
        height: auto;
        border: round $warning;
        background: $surface;
        padding: 0 1;
    }
    ConfirmDialog #confirm-hint {
        color: $text-muted;
        margin-top: 1;
    }
    """

    BINDINGS = [
        Binding("y,enter,ctrl+s", "answer(True)", "Yes", key_display="y", id="confirm.yes"),
        Binding("n,escape", "answer(False)", "No", id="confirm.no"),
    ]

    def __init__(self, title: str, question: Content | str) -> None:
        super().__init__()
        self.confirm_title = title
        self.question = question if isinstance(question, Content) else Content(one_line(question))

    def compose(self) -> ComposeResult:
        box = Vertical(id="confirm-box")
        box.border_title = Content(self.confirm_title)
        with box:
            yield Static(self.question, id="confirm-question")
            yield Static(Content("y or Enter: yes · n or Esc: no"), id="confirm-hint")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


def incident_context(number: str, title: str, extra: str = "") -> Content:
    """``INC0000001 Storage degraded`` as safe Content for a form's context line."""
    parts: list[Any] = [(number, "bold"), " ", one_line(title, 120)]
    if extra:
        parts += ["\n", (one_line(extra, 200), "$text-muted")]
    return Content.assemble(*parts)


class AlertDetailDialog(ModalScreen[None]):
    """Everything known about one alert, shown literally; Esc, Enter or d closes it."""

    DEFAULT_CSS = """
    AlertDetailDialog {
        align: center middle;
    }
    AlertDetailDialog #alert-box {
        width: 76;
        max-width: 100%;
        height: auto;
        max-height: 100%;
        border: round $primary;
        background: $surface;
        padding: 0 1;
    }
    AlertDetailDialog #alert-body {
        height: auto;
        max-height: 18;
    }
    AlertDetailDialog #alert-hint {
        color: $text-muted;
    }
    """

    BINDINGS = [Binding("escape,enter,d", "close", "Close", id="alert.close")]

    def __init__(self, title: str, body: Content) -> None:
        super().__init__()
        self.alert_title = title
        self.body = body

    def compose(self) -> ComposeResult:
        from textual.containers import VerticalScroll

        box = Vertical(id="alert-box")
        box.border_title = Content(one_line(self.alert_title, 60))
        with box:
            with VerticalScroll(id="alert-body"):
                yield Static(self.body)
            yield Static(Content("↑↓ scroll · Esc, Enter or d closes"), id="alert-hint")

    def action_close(self) -> None:
        self.dismiss(None)
