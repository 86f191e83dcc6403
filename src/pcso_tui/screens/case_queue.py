"""One case queue for the agent and the manager: a table of cases and the highlighted one below.

A role's screen says what its queue lists and how the highlighted case is shown::

    class ManagerScreen(CaseQueueScreen[MajorQueueRow, ManagerDetail]):
        QUEUE_ID = "manager-queue"

        async def fetch_queue(self) -> Sequence[MajorQueueRow]: ...   # one query (read models)
        def row_id(self, row: MajorQueueRow) -> int: ...                # the case id: the row key
        def row_cells(self, row: MajorQueueRow) -> tuple[Any, ...]: ... # the table's cells
        async def fetch_detail(self, case_id: int) -> ManagerDetail: ...
        def show_detail(self, detail: ManagerDetail | None) -> None: ...

The queue is read in a worker (``DomainWork.load``, group ``<QUEUE_ID>``) and diffed into the
table by row key: cursor and scroll stay with the case. When the highlighted case changes, or
its row did, its detail is read in the ``<QUEUE_ID>-detail`` group (a newer one replaces an
older one) and shown only if it is still the highlighted case. ``changed()`` after a command:
wake the feed, re-read the queue and the detail.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from functools import partial
from typing import Any, ClassVar, Generic, TypeVar

from textual.widgets import DataTable

from pcso_tui.domain.casework.views import CaseView, CaseWording
from pcso_tui.screens.base import ModeScreen
from pcso_tui.screens.case_dialogs import wording_dialog
from pcso_tui.widgets.safe_table import ColumnSpec, SafeTable

RowT = TypeVar("RowT")
DetailT = TypeVar("DetailT")

QUEUE_LIMIT = 200


class CaseQueueScreen(ModeScreen, Generic[RowT, DetailT]):
    """A mode screen around one queue of cases (see the module docstring)."""

    QUEUE_ID: ClassVar[str] = "case-queue"
    QUEUE_LIMIT: ClassVar[int] = QUEUE_LIMIT

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[int, RowT] = {}
        self.selected_id: int | None = None
        self._select_next: int | None = None

    # --- what a role fills in -------------------------------------------------------------

    async def fetch_queue(self) -> Sequence[RowT]:
        raise NotImplementedError

    def row_id(self, row: RowT) -> int:
        raise NotImplementedError

    def row_cells(self, row: RowT) -> tuple[Any, ...]:
        raise NotImplementedError

    async def fetch_detail(self, case_id: int) -> DetailT:
        raise NotImplementedError

    def show_detail(self, detail: DetailT | None) -> None:
        raise NotImplementedError

    # --- the queue ------------------------------------------------------------------------

    def queue_table(self, columns: Sequence[ColumnSpec]) -> SafeTable:
        """The queue's table (for ``compose_body``): ``QUEUE_ID``, at most ``QUEUE_LIMIT`` rows."""
        return SafeTable(columns, id=self.QUEUE_ID, max_rows=self.QUEUE_LIMIT)

    @property
    def queue(self) -> SafeTable:
        return self.query_one(f"#{self.QUEUE_ID}", SafeTable)

    @property
    def selected(self) -> RowT | None:
        return self.rows.get(self.selected_id) if self.selected_id is not None else None

    def on_mount(self) -> None:
        super().on_mount()
        self.refresh_queue()

    def refresh_queue(self) -> None:
        self.work.load(self.fetch_queue, self.show_queue, group=self.QUEUE_ID)

    def show_queue(self, rows: Sequence[RowT]) -> None:
        """Diff ``rows`` into the table by key; re-read the detail if its case moved or changed."""
        fresh = {self.row_id(r): r for r in rows}
        table = self.queue
        table.remove_rows([k for k in table.row_keys() if k not in fresh])
        cells: dict[Hashable, Sequence[Any]] = {key: self.row_cells(r) for key, r in fresh.items()}
        table.upsert_rows(cells)
        changed = {key for key, r in fresh.items() if self.rows.get(key) != r}
        self.rows = fresh
        wanted = self._select_next
        if wanted is not None and table.has_row(wanted):
            self._select_next = None
            table.move_cursor(row=table.row_keys().index(wanted), animate=False)
        key = self._cursor_case()
        if key != self.selected_id or key in changed:
            self.select(key)
        self.refresh_bindings()

    def show_listed(self, case_id: int) -> bool:
        """Put the cursor on ``case_id`` if the queue lists it (False: it does not)."""
        table = self.queue
        if case_id not in self.rows or not table.has_row(case_id):
            return False
        table.move_cursor(row=table.row_keys().index(case_id), animate=False)
        if self.selected_id != case_id:
            self.select(case_id)
        return True

    def select_when_listed(self, case_id: int) -> None:
        """Put the cursor on ``case_id`` once a queue read lists it."""
        self._select_next = case_id

    def _cursor_case(self) -> int | None:
        key = self.queue.cursor_key
        return key if isinstance(key, int) else None

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id != self.QUEUE_ID:
            return
        key = self._cursor_case()
        if key != self.selected_id:
            self.select(key)

    # --- the highlighted case -------------------------------------------------------------

    def select(self, case_id: int | None) -> None:
        self.selected_id = case_id
        self.refresh_bindings()
        self.work.load(
            partial(self._fetch_selected, case_id),
            partial(self._show_selected, case_id),
            group=f"{self.QUEUE_ID}-detail",
        )

    async def _fetch_selected(self, case_id: int | None) -> DetailT | None:
        return await self.fetch_detail(case_id) if case_id is not None else None

    def _show_selected(self, case_id: int | None, detail: DetailT | None) -> None:
        if case_id != self.selected_id:
            return
        self.show_detail(detail)

    def changed(self) -> None:
        """After a command: show it everywhere now, re-read the queue and the highlighted case."""
        self.work.wake_feed()
        self.refresh_queue()
        if self.selected_id is not None:
            self.select(self.selected_id)

    def edit_wording(self, case: CaseView, done: Callable[[CaseWording | None], None], *, group: str) -> None:
        """The customer-facing wording dialog for ``case`` (key ``t`` on the agent and manager
        screens), prefilled with its current wording and saved with its version."""
        from pcso_tui.domain.casework.wording import case_wording, set_case_wording

        session = self.session

        def edit(wording: CaseWording) -> None:
            async def submit(title: str, summary: str) -> CaseWording:
                return await set_case_wording(
                    session.domain,
                    session.actor,
                    case.id,
                    title=title,
                    summary=summary,
                    expected_version=wording.version,
                )

            self.app.push_screen(wording_dialog(case, wording, submit), callback=done)

        self.work.run_command(case_wording(session.domain, session.actor, case.id), edit, group=group)
