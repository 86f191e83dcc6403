"""The help screen: every key of the screen underneath and of the App, from their bindings.

``help_rows(screen)`` reads ``screen.active_bindings`` (the focused widget, the screen and the
App, minus actions that are unavailable right now), so a screen's keys appear here the moment
it binds them — nothing to keep in sync by hand.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Input, Static, TextArea

from pcso_tui.screens import modes as workspace_modes
from pcso_tui.widgets.safe_table import SafeTable


@dataclass(frozen=True, slots=True)
class HelpRow:
    where: str
    keys: str
    description: str
    action: str


def _where(node: Any, screen: Screen[Any]) -> str:
    """Where a key works, in the user's words: never a widget's class name."""
    if isinstance(node, App):
        return "Everywhere"
    if node is screen:
        return "This screen"
    title = getattr(node, "BINDING_GROUP_TITLE", None)
    if title:
        return str(title)
    if isinstance(node, DataTable):
        return "The list"
    if isinstance(node, Input):
        return "Text field"
    if isinstance(node, TextArea):
        return "Text box"
    return "This screen"


NAMED_ACTIONS = {"command_palette": "Command palette"}
# Textual's own words for its widgets' keys, said the way a user would (a widget of ours that
# names its key, "Drill down", keeps its name).
TEXTUAL_WORDS = {
    "Focus Next": "Next field or list",
    "Focus Previous": "Previous field or list",
    "Copy selected text": "Copy the selected text",
    "Cursor up": "Up a row",
    "Cursor down": "Down a row",
    "Cursor left": "Scroll left",
    "Cursor right": "Scroll right",
    "Page up": "Up a page",
    "Page down": "Down a page",
    "Top": "First row",
    "Bottom": "Last row",
    "Select": "Open the row",
}
# Bindings that only explain themselves when pressed (a closed screen's F-key).
HIDDEN_ACTIONS = {"mode_closed"}
_KEY_WORDS = {
    "tab": "Tab",
    "shift+tab": "Shift+Tab",
    "enter": "Enter",
    "esc": "Esc",
    "escape": "Esc",
    "home": "Home",
    "end": "End",
    "pgup": "PgUp",
    "pgdn": "PgDn",
    "space": "Space",
}


def key_words(display: str) -> str | None:
    """A key as the help names it (``^c`` → ``Ctrl+C``); None for the macOS-only ``super+``
    keys a terminal never sends."""
    if display.startswith("super+"):
        return None
    if display.startswith("^") and len(display) > 1:
        return "Ctrl+" + display[1:].upper()
    if display.startswith("ctrl+"):
        return "Ctrl+" + display[5:].upper()
    return _KEY_WORDS.get(display.lower(), display)


def _describe(binding: Binding) -> str:
    if binding.action in NAMED_ACTIONS:
        return NAMED_ACTIONS[binding.action]
    if binding.description in TEXTUAL_WORDS:
        return TEXTUAL_WORDS[binding.description]
    return binding.description or binding.tooltip or binding.action.replace("_", " ")


def help_rows(screen: Screen[Any]) -> list[HelpRow]:
    """Every active binding of ``screen`` (and what it inherits), keys of one action merged."""
    app = screen.app
    merged: dict[tuple[int, str], HelpRow] = {}
    order: list[tuple[int, str]] = []
    for active in screen.active_bindings.values():
        binding = active.binding
        if binding.system or binding.action in HIDDEN_ACTIONS:
            continue
        ident = (id(active.node), binding.action)
        key = key_words(app.get_key_display(binding))
        if key is None:
            continue
        if ident in merged:
            row = merged[ident]
            if key not in row.keys.split(" / "):
                merged[ident] = HelpRow(row.where, f"{row.keys} / {key}", row.description, row.action)
            continue
        merged[ident] = HelpRow(_where(active.node, screen), key, _describe(binding), binding.action)
        order.append(ident)
    rows = [merged[i] for i in order]
    # The key of the screen you are on does nothing now, but belongs in the list of screens.
    here = workspace_modes.MODES.get(str(getattr(app, "current_mode", "")))
    if here is not None and getattr(app, "session", None) is not None:
        rows.append(
            HelpRow("Everywhere", app.get_key_display(Binding(here.key, "")), f"{here.title} (this screen)", "")
        )
    # The screen's own keys first, then the widgets', then those that work everywhere.
    rank = {"This screen": 0, "Everywhere": 2}
    return sorted(rows, key=lambda r: rank.get(r.where, 1))


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen {
        align: center middle;
    }
    HelpScreen #help-box {
        width: 74;
        max-width: 100%;
        height: auto;
        max-height: 90%;
        border: round $primary;
        background: $surface;
        padding: 0 1;
    }
    HelpScreen #help-keys {
        height: auto;
        max-height: 18;
    }
    HelpScreen #help-hint {
        color: $text-muted;
    }
    """

    BINDINGS = [
        Binding("escape,q,question_mark,f1", "close", "Close", id="help.close"),
    ]

    def __init__(self, rows: list[HelpRow], *, title: str = "Keys") -> None:
        super().__init__(id="help")
        self.rows = rows
        self.title_text = title

    def compose(self) -> ComposeResult:
        box = Vertical(id="help-box")
        box.border_title = Content(self.title_text)
        with box:
            yield SafeTable([("keys", "Key"), ("what", "Does"), ("where", "Where")], id="help-keys", max_rows=500)
            yield Static(
                Content("Ctrl+P opens the command palette. Esc, q, ? or F1 closes this."),
                id="help-hint",
            )

    def on_mount(self) -> None:
        table = self.query_one(SafeTable)
        table.upsert_rows({n: (row.keys, row.description, row.where) for n, row in enumerate(self.rows)})
        table.focus()

    def action_close(self) -> None:
        self.dismiss(None)

    def listed(self) -> list[tuple[str, str, str]]:
        """(keys, description, where) as shown — for tests."""
        table = self.query_one(SafeTable)
        return [table.row_plain(k) for k in table.row_keys()]  # type: ignore[misc]
