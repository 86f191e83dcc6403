"""What an outage of one CI would touch (go-to a CI by name): totals and the first accounts.

Read-only; Esc closes it. ``domain.install_base.impact.impact_of`` runs in a worker.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

from pcso_tui.domain.core.text import one_line, printable
from pcso_tui.domain.install_base.views import ImpactView
from pcso_tui.screens.base import DomainWork, signed_in
from pcso_tui.widgets.impact_table import ImpactTable, summary

PAGE_SIZE = 100


class CiImpactScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    CiImpactScreen {
        align: center middle;
    }
    CiImpactScreen #ci-box {
        width: 100%;
        height: 100%;
        border: round $primary;
        background: $surface;
        padding: 0 1;
    }
    CiImpactScreen #ci-status, CiImpactScreen #ci-hint {
        height: auto;
        color: $text-muted;
    }
    CiImpactScreen ImpactTable {
        height: 1fr;
    }
    """

    BINDINGS = [Binding("escape", "close", "Close", id="ci.close")]

    def __init__(self, ci_id: int, name: str) -> None:
        super().__init__()
        self.ci_id = ci_id
        self.ci_name = name
        self.impact: ImpactView | None = None
        self.work = DomainWork(self)

    def compose(self) -> ComposeResult:
        box = Vertical(id="ci-box")
        box.border_title = Content(f"CI {one_line(printable(self.ci_name), 60)}: what an outage would touch")
        with box:
            yield Static(Content("Computing…"), id="ci-status")
            yield ImpactTable(page_size=PAGE_SIZE, id="ci-impact")
            yield Static(Content("Esc closes"), id="ci-hint")

    def on_mount(self) -> None:
        from pcso_tui.domain.install_base.impact import impact_of

        session = signed_in(self)
        self.work.load(
            lambda: impact_of(session.domain, session.actor, ci_ids=[self.ci_id], page_size=PAGE_SIZE),
            self._show,
            group="ci-impact",
        )
        self.query_one(ImpactTable).focus()

    def _show(self, impact: ImpactView) -> None:
        self.impact = impact
        self.query_one(ImpactTable).show_page(impact)
        self.query_one("#ci-status", Static).update(Content(summary(impact)))

    def action_close(self) -> None:
        self.dismiss(None)
