"""``WorkspaceHeader``: one line — product, mode, user, role, database, live/stale feed.
``WorkspaceFooter``: the keys of the screen; narrow, it leaves out the command palette's key.

The feed state follows the App's ``feed_state`` reactive when the App has one. The state is
written as a glyph and a word ("● live", "◌ stale"), never colour alone.
"""

from __future__ import annotations

from textual.content import Content
from textual.events import Resize
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import Footer

from pcso_tui.domain.core.text import one_line
from pcso_tui.widgets.cells import use_ascii

FEED_GLYPHS = {"live": "●", "connecting": "○", "stale": "◌"}
FEED_ASCII = {"live": "*", "connecting": "o", "stale": "!"}
FEED_STYLES = {"live": "$success bold", "connecting": "$text-muted", "stale": "$error bold"}


class WorkspaceHeader(Widget):
    DEFAULT_CSS = """
    WorkspaceHeader {
        dock: top;
        height: 1;
        background: $panel;
        color: $foreground;
    }
    """

    mode_title: reactive[str] = reactive("")
    user: reactive[str] = reactive("")
    role: reactive[str] = reactive("")
    database: reactive[str] = reactive("")
    feed_state: reactive[str] = reactive("connecting")

    def __init__(
        self,
        *,
        product: str = "pcso",
        mode_title: str = "",
        user: str = "",
        role: str = "",
        database: str = "",
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.product = product
        self.set_reactive(WorkspaceHeader.mode_title, mode_title)
        self.set_reactive(WorkspaceHeader.user, user)
        self.set_reactive(WorkspaceHeader.role, role)
        self.set_reactive(WorkspaceHeader.database, database)

    def on_mount(self) -> None:
        if hasattr(self.app, "feed_state"):
            self.watch(self.app, "feed_state", self._follow_feed_state)

    def _follow_feed_state(self, state: str) -> None:
        self.feed_state = state

    def feed_label(self) -> str:
        glyphs = FEED_ASCII if use_ascii() else FEED_GLYPHS
        return f"{glyphs.get(self.feed_state, '?')} {self.feed_state}"

    def render(self) -> Content:
        width = self.size.width or 80
        right = Content.assemble((self.feed_label(), FEED_STYLES.get(self.feed_state, "")), " ")
        sep = (" │ ", "$text-muted")
        # Shrink the free-text parts to what fits; the product, mode and feed state always show.
        fixed = len(self.product) + len(self.mode_title) + len(self.role) + right.cell_length + 16
        room = max(8, width - fixed)
        # Who is signed in matters more than where the database is: the path gives way first.
        user = one_line(self.user, max(4, room - min(len(self.database), 12)))
        database = one_line(self.database, max(4, room - len(user)))
        left = Content.assemble(
            (f" {self.product} ", "bold reverse $primary"),
            " ",
            (one_line(self.mode_title), "bold"),
            sep,
            user,
            (f" ({one_line(self.role)})" if self.role else "", "$text-muted"),
            sep,
            (database, "$text-muted"),
        )
        gap = max(1, width - left.cell_length - right.cell_length)
        return Content.assemble(left, " " * gap, right)


class WorkspaceFooter(Footer):
    """The footer of every mode. Below ``PALETTE_FROM_WIDTH`` columns the command palette's key
    gives its room to the screen's own keys (the help names Ctrl+P): at 80 columns the palette
    hint pushed "q Quit" off the line."""

    PALETTE_FROM_WIDTH = 100

    DEFAULT_CSS = """
    WorkspaceFooter.-compact FooterLabel {
        margin: 0 1 0 0;
    }
    """

    def on_resize(self, event: Resize) -> None:
        wanted = event.size.width >= self.PALETTE_FROM_WIDTH
        if wanted != self.show_command_palette:
            self.show_command_palette = wanted
            self.refresh(recompose=True)
