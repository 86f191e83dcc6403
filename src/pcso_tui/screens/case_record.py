"""One case, read-only, over any screen (go-to a case the user's own screens do not list).

Esc closes it. The detail is ``widgets.case_detail.CaseDetailView``, read in a worker.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

from pcso_tui.domain.casework.views import CaseDetail
from pcso_tui.domain.core.views import case_number
from pcso_tui.screens.base import DomainWork, signed_in
from pcso_tui.widgets.case_detail import CaseDetailView


class CaseRecordScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    CaseRecordScreen {
        align: center middle;
    }
    CaseRecordScreen #case-record-box {
        width: 100%;
        height: 100%;
        border: round $primary;
        background: $surface;
        padding: 0 1;
    }
    CaseRecordScreen CaseDetailView {
        height: 1fr;
    }
    CaseRecordScreen #case-record-hint {
        height: 1;
        color: $text-muted;
    }
    """

    BINDINGS = [Binding("escape", "close", "Close", id="case_record.close")]

    def __init__(self, case_id: int) -> None:
        super().__init__()
        self.case_id = case_id
        self.detail: CaseDetail | None = None
        self.work = DomainWork(self)

    def compose(self) -> ComposeResult:
        box = Vertical(id="case-record-box")
        box.border_title = Content(f"Case {case_number(self.case_id)} (read-only)")
        with box:
            yield CaseDetailView(id="case-record")
            yield Static(Content("Esc closes"), id="case-record-hint")

    def on_mount(self) -> None:
        from pcso_tui.domain.casework.cases import get_case

        session = signed_in(self)
        self.work.load(lambda: get_case(session.domain, session.actor, self.case_id), self._show, group="case-record")

    def _show(self, detail: CaseDetail) -> None:
        self.detail = detail
        self.query_one(CaseDetailView).show(detail)

    def action_close(self) -> None:
        self.dismiss(None)
