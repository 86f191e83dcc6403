"""The plumbing every mode screen shares; the bodies live in the per-mode modules.

A mode screen is::

    class OperatorScreen(ModeScreen):
        MODE = "operator"

        def compose_body(self) -> ComposeResult:      # everything between header and footer
            yield AlertTable()

        def on_events_arrived(self, message: EventsArrived) -> None:   # the live feed
            ...

        def palette_commands(self) -> Iterable[PaletteCommand]:        # optional
            ...

``ModeScreen`` gives it the header (product, mode, user, role, database, feed state), the
footer, the App's live feed (it subscribes itself when mounted) and ``self.session``: the
domain, the signed-in actor and whether the database is a demo world. Domain calls belong in
workers (``self.run_worker(..., group="…", exit_on_error=False)``) and go through
``await self.app.domain_call(query(...))`` so that a worker cancelled mid-query (the screen
closed, the App quitting) never leaves a connection half-closed; read models only.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Footer, Static

from pcso_tui.domain.core.text import one_line
from pcso_tui.screens.modes import MODES, Mode
from pcso_tui.screens.session import WorkspaceSession
from pcso_tui.widgets.event_ticker import EventTicker
from pcso_tui.widgets.feed import EventsArrived
from pcso_tui.widgets.header import WorkspaceHeader
from pcso_tui.widgets.palette import PaletteCommand

__all__ = ["ModeScreen", "WorkspaceSession", "apply_cursor_blink", "placeholder_body"]


def apply_cursor_blink(screen: Screen[Any]) -> None:
    """Follow the App's ``cursor_blink`` (snapshot runs turn blinking off)."""
    blink = getattr(screen.app, "cursor_blink", True)
    for widget in screen.query("Input, TextArea"):
        if hasattr(widget, "cursor_blink"):
            widget.cursor_blink = blink


class ModeScreen(Screen[None]):
    MODE: ClassVar[str] = ""

    DEFAULT_CSS = """
    ModeScreen #mode-body {
        height: 1fr;
        padding: 0 1;
    }
    ModeScreen .mode-intro {
        height: auto;
        padding: 0 0 1 0;
    }
    """

    @property
    def mode(self) -> Mode:
        return MODES[self.MODE]

    @property
    def session(self) -> WorkspaceSession:
        session = getattr(self.app, "session", None)
        if session is None:
            raise RuntimeError("a mode screen needs a signed-in session")
        return session

    def compose(self) -> ComposeResult:
        session = self.session
        yield WorkspaceHeader(
            mode_title=self.mode.title,
            user=session.user_label,
            role=session.actor.role.value,
            database=session.database,
        )
        with Vertical(id="mode-body"):
            yield from self.compose_body()
        yield Footer(compact=True)

    def compose_body(self) -> ComposeResult:
        """What the mode shows between header and footer (the per-mode modules fill it)."""
        yield from ()

    def on_mount(self) -> None:
        subscribe = getattr(self.app, "subscribe_events", None)
        if subscribe is not None:
            subscribe(self)

    def on_unmount(self) -> None:
        unsubscribe = getattr(self.app, "unsubscribe_events", None)
        if unsubscribe is not None:
            unsubscribe(self)

    def on_screen_resume(self) -> None:
        apply_cursor_blink(self)

    def on_events_arrived(self, message: EventsArrived) -> None:
        """New events (oldest first); screens override this to update their tables by key."""

    def palette_commands(self) -> Iterable[PaletteCommand]:
        """Commands this screen adds to the command palette."""
        return ()


def placeholder_body(screen: ModeScreen, *, ticker: EventTicker | None = None) -> ComposeResult:
    """A mode's title, what it is for, who is signed in, and the live event ticker."""
    session = screen.session
    mode = screen.mode
    intro = Content.assemble(
        (mode.title, "bold"),
        ("  —  ", "$text-muted"),
        (mode.summary, "$text-muted"),
        "\n",
        ("Signed in as ", "$text-muted"),
        one_line(session.user_label),
        (f" ({session.actor.role.value})", "$text-muted"),
    )
    yield Static(intro, classes="mode-intro")
    yield ticker or EventTicker()
