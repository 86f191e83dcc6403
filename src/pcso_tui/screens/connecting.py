"""The first frame: shown at once while the database stack loads and the user signs in.

When signing in fails (an unknown user, a deactivated one, a schema too old) it shows the one
clear line the domain gave, and how to leave.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Static

from pcso_tui.domain.core.text import one_line


class ConnectingScreen(Screen[None]):
    DEFAULT_CSS = """
    ConnectingScreen {
        align: center middle;
    }
    ConnectingScreen #connecting-box {
        width: auto;
        max-width: 76;
        height: auto;
        border: round $primary;
        padding: 1 2;
    }
    ConnectingScreen #connecting-box > Static {
        width: auto;
        max-width: 70;
    }
    ConnectingScreen #connecting-status, ConnectingScreen #connecting-hint {
        margin-top: 1;
    }
    ConnectingScreen #connecting-status.-failed {
        color: $error;
        text-style: bold;
    }
    """

    BINDINGS = [Binding("q,escape", "app.quit", "Quit", id="connecting.quit")]

    def __init__(self, *, database: str = "", user: str = "") -> None:
        super().__init__(id="connecting")
        self.database = database
        self.user = user

    def compose(self) -> ComposeResult:
        with Vertical(id="connecting-box"):
            yield Static(Content.assemble(("pcso", "bold"), " — proactive customer service operations"))
            yield Static(self._status_text(), id="connecting-status")
            yield Static("", id="connecting-hint")

    def _status_text(self) -> Content:
        where = f" to {one_line(self.database, 48)}" if self.database else ""
        who = f" as {one_line(self.user, 24)}" if self.user else ""
        return Content(f"Connecting{where}{who}…")

    def set_target(self, *, database: str, user: str) -> None:
        self.database, self.user = database, user
        if self.is_mounted:
            self.query_one("#connecting-status", Static).update(self._status_text())

    def show_failure(self, message: str) -> None:
        """One clear line, shown literally, and the way out."""
        status = self.query_one("#connecting-status", Static)
        status.update(Content(one_line(message)))
        status.add_class("-failed")
        self.query_one("#connecting-hint", Static).update(Content.assemble(("Press q to quit.", "$text-muted")))

    @property
    def status(self) -> str:
        """The status line as shown (for tests)."""
        return str(self.query_one("#connecting-status", Static).content)
