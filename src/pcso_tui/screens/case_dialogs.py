"""Dialogs of casework: propose, note, approve, reject, statement, resolve, close, wording.

Every dialog is handed the domain call it makes (``submit``) and runs it itself, in a worker
through ``app.domain_call``: on success it closes with the call's result; a ``DomainError``
stays in the dialog as an inline line (and a notification) with its text, so nothing typed
is lost. Required fields are checked before the call. Keys, the same in every dialog: Ctrl+S
sends a form (Enter too, except in a several-line field, where it starts a new line, and on a
choice, where it picks), Space picks a choice, Tab moves between fields, Esc cancels;
confirmations take y / Enter / Ctrl+S and n / Esc. Choices show their state by glyph, ``(•)``.

    self.app.push_screen(propose_dialog(case, submit), callback=self._proposed)
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Footer, Input, Label, RadioSet, Static, TextArea

from pcso_tui.domain.casework.views import ApprovalPreview, CaseView, CaseWording
from pcso_tui.domain.communications.views import OutageView
from pcso_tui.domain.core.errors import DomainError
from pcso_tui.domain.core.text import one_line, printable
from pcso_tui.screens.base import DomainWork
from pcso_tui.widgets.toggles import StateRadioButton

T = TypeVar("T")

DIALOG_CSS = """
{name} {{
    align: center middle;
}}
{name} .dialog-box {{
    width: 76;
    max-width: 100%;
    height: auto;
    max-height: 100%;
    border: round $primary;
    background: $surface;
    padding: 0 1;
}}
{name} .dialog-about {{
    height: auto;
    max-height: 8;
    padding: 0 0 1 0;
}}
{name} Label {{
    padding: 0;
    color: $text-muted;
}}
{name} Input {{
    margin: 0 0 1 0;
    background: $boost;
}}
{name} TextArea {{
    height: 5;
    margin: 0 0 1 0;
    background: $boost;
}}
{name} RadioSet {{
    width: 100%;
    layout: horizontal;
}}
{name} .dialog-error {{
    height: auto;
    color: $error;
    display: none;
}}
{name} .dialog-status {{
    height: auto;
    color: $text-muted;
    display: none;
}}
{name} .dialog-status.-shown, {name} .dialog-error.-shown {{
    display: block;
}}
{name} .dialog-hint {{
    color: $text-muted;
}}
"""


@dataclass(frozen=True, slots=True)
class Field:
    """A form field: a one-line ``Input`` or a several-line ``TextArea``."""

    name: str
    label: str
    multiline: bool = False
    required: bool = True
    placeholder: str = ""
    # What the field holds when the dialog opens (control characters shown, never passed on).
    value: str = ""


class _Dialog(ModalScreen[T | None], Generic[T]):
    """Shared plumbing: a titled box, an inline error line, the worker that sends."""

    def __init__(self, title: str, about: Content | str, submit: Callable[..., Awaitable[T]]) -> None:
        super().__init__()
        self.title_text = title
        self.about = about if isinstance(about, Content) else Content(printable(about, multiline=True))
        self.submit = submit
        self.busy = False
        self.error: str | None = None
        self.work = DomainWork(self)

    def compose_box(self) -> ComposeResult:
        yield from ()

    def compose(self) -> ComposeResult:
        box = Vertical(classes="dialog-box")
        box.border_title = Content(one_line(self.title_text))
        with box:
            yield Static(self.about, classes="dialog-about")
            yield from self.compose_box()
            yield Static("", classes="dialog-error")
            yield Static("", classes="dialog-status")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        blink = getattr(self.app, "cursor_blink", True)
        for widget in self.query("Input, TextArea"):
            if isinstance(widget, Input | TextArea):
                widget.cursor_blink = blink

    def show_error(self, message: str) -> None:
        self.error = message
        line = self.query_one(".dialog-error", Static)
        line.update(Content(one_line(message)))
        line.set_class(True, "-shown")

    def show_busy(self, busy: bool) -> None:
        self.busy = busy
        line = self.query_one(".dialog-status", Static)
        line.update(Content("Working… (Esc closes this; the change still completes)") if busy else Content(""))
        line.set_class(busy, "-shown")

    def send(self, *args: Any, **kwargs: Any) -> None:
        if self.busy:
            return
        self.show_busy(True)
        self.work.run_command(self.submit(*args, **kwargs), self._sent, group="dialog", refused=self._refused)

    def _sent(self, result: T) -> None:
        self.show_busy(False)
        self.dismiss(result)

    def _refused(self, exc: DomainError) -> None:
        self.show_busy(False)
        self.show_error(exc.message)

    def action_cancel(self) -> None:
        self.dismiss(None)


FORM_HINT = "Ctrl+S or Enter sends · Space picks · Tab next field · Esc cancels"


class FormDialog(_Dialog[T]):
    """Fields (and, optionally, a choice between options) sent with Ctrl+S."""

    DEFAULT_CSS = DIALOG_CSS.format(name="FormDialog")
    BINDINGS = [
        Binding("ctrl+s", "send_form", "Send", id="dialog.send"),
        Binding("escape", "cancel", "Cancel", id="dialog.cancel"),
    ]

    def __init__(
        self,
        title: str,
        about: Content | str,
        fields: Sequence[Field],
        submit: Callable[..., Awaitable[T]],
        *,
        choice: tuple[str, Sequence[tuple[str, str]]] | None = None,
    ) -> None:
        super().__init__(title, about, submit)
        self.fields = list(fields)
        self.choice = choice

    def compose_box(self) -> ComposeResult:
        if self.choice is not None:
            name, options = self.choice
            with RadioSet(id=f"field-{name}"):
                for n, (_value, label) in enumerate(options):
                    yield StateRadioButton(label, value=n == 0)
        for field in self.fields:
            yield Label(Content(field.label + ("" if field.required else " (optional)")))
            if field.multiline:
                yield TextArea(
                    printable(field.value, multiline=True),
                    id=f"field-{field.name}",
                    soft_wrap=True,
                    show_line_numbers=False,
                    compact=True,
                )
            else:
                yield Input(
                    printable(field.value), placeholder=field.placeholder, id=f"field-{field.name}", compact=True
                )
        yield Static(Content(FORM_HINT), classes="dialog-hint")

    def on_mount(self) -> None:
        super().on_mount()
        if self.fields:
            self.query_one(f"#field-{self.fields[0].name}").focus()

    def values(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for field in self.fields:
            widget = self.query_one(f"#field-{field.name}")
            if isinstance(widget, TextArea):
                out[field.name] = widget.text
            elif isinstance(widget, Input):
                out[field.name] = widget.value
        if self.choice is not None:
            name, options = self.choice
            index = self.query_one(f"#field-{name}", RadioSet).pressed_index
            out[name] = options[max(0, index)][0]
        return out

    @on(Input.Submitted)
    def _enter(self, event: Input.Submitted) -> None:
        # Enter in any one-line field sends, as Ctrl+S does; a required field left empty is
        # named and focused, so nothing typed is lost.
        event.stop()
        self.action_send_form()

    def action_send_form(self) -> None:
        values = self.values()
        for field in self.fields:
            if field.required and not str(values[field.name]).strip():
                self.show_error(f"{field.label} is required")
                self.query_one(f"#field-{field.name}").focus()
                return
        self.send(**values)


class ConfirmDialog(_Dialog[T]):
    """A question answered with y / Enter (do it) or n / Esc (leave it)."""

    DEFAULT_CSS = DIALOG_CSS.format(name="ConfirmDialog")
    BINDINGS = [
        Binding("y,enter,ctrl+s", "confirm", "Yes", key_display="y", id="dialog.yes"),
        Binding("n,escape", "cancel", "No", id="dialog.no"),
    ]

    def __init__(self, title: str, about: Content | str, submit: Callable[[], Awaitable[T]], *, question: str) -> None:
        super().__init__(title, about, submit)
        self.question = question

    def compose_box(self) -> ComposeResult:
        yield Static(Content.assemble((self.question, "bold"), ("  y / Enter: yes · n / Esc: no", "$text-muted")))

    def action_confirm(self) -> None:
        self.send()


# --- the dialogs, by what they do -------------------------------------------------------------


def _count(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def case_label(case: CaseView) -> Content:
    """``CS0000003 · proactive · new`` and the short description, literally."""
    return Content.assemble(
        (case.number, "bold"),
        (f" · {case.kind} · {case.state}", "$text-muted"),
        "\n",
        Content(one_line(case.short_description)),
    )


def propose_dialog(case: CaseView, submit: Callable[..., Awaitable[T]]) -> FormDialog[T]:
    """``submit(reason=…, business_impact=…)``."""
    return FormDialog(
        f"Propose {case.number} as a major case",
        case_label(case),
        [
            Field("reason", "Reason", placeholder="why this is a major case"),
            Field("business_impact", "Business impact", placeholder="who is hit and how badly"),
        ],
        submit,
    )


NOTE_CHOICES = (("work_note", "Work note (internal)"), ("comment", "Customer-visible comment"))


def note_dialog(case: CaseView, submit: Callable[..., Awaitable[T]]) -> FormDialog[T]:
    """``submit(body=…, visibility="work_note" | "comment")``."""
    return FormDialog(
        f"Add a note to {case.number}",
        case_label(case),
        [Field("body", "Note", multiline=True)],
        submit,
        choice=("visibility", NOTE_CHOICES),
    )


def approve_dialog(preview: ApprovalPreview, submit: Callable[[], Awaitable[T]]) -> ConfirmDialog[T]:
    how = (
        f"A new major case is opened and {preview.number} becomes its child."
        if preview.creates_new_major
        else f"{preview.number} becomes the major case."
    )
    about = Content.assemble(
        (preview.number, "bold"),
        " ",
        Content(one_line(preview.short_description)),
        "\n",
        how,
        "\n",
        (_count(preview.children, "child case"), "bold"),
        f" for {_count(preview.accounts, 'affected account')}, ",
        (_count(preview.notices, "notice"), "bold"),
        f" queued ({preview.notices_skipped} skipped: opted out or internal)",
        f"; {_count(preview.accounts_without_contact, 'account')} without a contact, so no notice."
        if preview.accounts_without_contact
        else ".",
        "\n",
        "It goes on the status page as a service disruption."
        if preview.declares_outage
        else "Its outage already on the status page shows its statements.",
        "\n",
        ("Customers are told: ", "$text-muted"),
        (one_line(preview.public_title), "bold"),
        "\n",
        Content(one_line(preview.public_summary, 72)),
    )
    return ConfirmDialog(f"Approve {preview.number}", about, submit, question="Approve this major case?")


def wording_dialog(case: CaseView, wording: CaseWording, submit: Callable[..., Awaitable[T]]) -> FormDialog[T]:
    """``submit(title=…, summary=…)``: what customers are told the case is, prefilled."""
    about = Content.assemble(
        case_label(case),
        "\n",
        (
            "Customer-facing: notices, the portal and the status page show these words, never the "
            "internal description above.",
            "$text-muted",
        ),
    )
    return FormDialog(
        f"Customer-facing wording of {case.number}",
        about,
        [
            Field("title", "Title", value=wording.title, placeholder="what customers are told is wrong"),
            Field("summary", "Summary", multiline=True, required=False, value=wording.summary),
        ],
        submit,
    )


def reject_dialog(case: CaseView, submit: Callable[..., Awaitable[T]]) -> FormDialog[T]:
    """``submit(reason=…)``."""
    return FormDialog(
        f"Reject the proposal of {case.number}",
        case_label(case),
        [Field("reason", "Reason", placeholder="why this is not a major case")],
        submit,
    )


def statement_dialog(case: CaseView, open_children: int, submit: Callable[..., Awaitable[T]]) -> FormDialog[T]:
    """``submit(body=…)``."""
    about = Content.assemble(
        case_label(case),
        "\n",
        (f"Goes to {open_children} open child cases and a notice to each of their contacts.", "$text-muted"),
    )
    return FormDialog(
        f"Customer statement on {case.number}", about, [Field("body", "Statement", multiline=True)], submit
    )


def resolve_dialog(case: CaseView, open_children: int, submit: Callable[..., Awaitable[T]]) -> FormDialog[T]:
    """``submit(code=…, notes=…)``."""
    about = Content.assemble(
        case_label(case),
        "\n",
        (f"{open_children} open child cases are resolved with it; their contacts are told.", "$text-muted"),
    )
    return FormDialog(
        f"Resolve {case.number}",
        about,
        [
            Field("code", "Resolution code", placeholder="e.g. fixed, workaround"),
            Field("notes", "Resolution notes", multiline=True),
        ],
        submit,
    )


def outage_dialog(case: CaseView, outage: OutageView, submit: Callable[..., Awaitable[T]]) -> FormDialog[T]:
    """``submit(title=…, details=…)``: the public words of a major case's outage."""
    about = Content.assemble(
        case_label(case),
        "\n",
        (f"{outage.number} on the status page under {one_line(outage.service)}, since ", "$text-muted"),
        (outage.begins_at.strftime("%Y-%m-%d %H:%M"), "$text-muted"),
        (". Customer-facing: the public and every customer read it.", "$text-muted"),
    )
    return FormDialog(
        f"Status page: {outage.number}",
        about,
        [
            Field("title", "Title", value=outage.title),
            Field("details", "Details", multiline=True, required=False, value=outage.details),
        ],
        submit,
    )


def close_dialog(case: CaseView, open_children: int, submit: Callable[[], Awaitable[T]]) -> ConfirmDialog[T]:
    about = Content.assemble(
        case_label(case),
        "\n",
        f"{open_children} new, open or awaiting-info child cases are closed with it; "
        "resolved, closed and canceled children are left as they are.",
    )
    return ConfirmDialog(f"Close {case.number}", about, submit, question="Close this major case?")


CHANNEL_CHOICES = (("phone", "Phone call"), ("email", "Email"), ("portal", "Portal"), ("web", "Web form"))


def intake_dialog(submit: Callable[..., Awaitable[T]]) -> FormDialog[T]:
    """``submit(account_number=…, short_description=…, product_number=…, channel=…)``: log a
    customer's call or email as a reactive case."""
    return FormDialog(
        "Log a customer's call or email",
        "A reactive case on the caller's account (its primary contact unless you say otherwise). "
        "If a known outage covers the account, the case detail says so at once.",
        [
            Field("account_number", "Account number", placeholder="ACC-000123"),
            Field("short_description", "What the customer reports", placeholder="VPN drops every few minutes"),
            Field("product_number", "Product number", required=False, placeholder="the product they name"),
        ],
        submit,
        choice=("channel", CHANNEL_CHOICES),
    )
