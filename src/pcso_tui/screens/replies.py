"""The agents' reply queue (``y`` on the agent screen): customers' replies on their cases, with
the account, the case and — for a major case's child — the major case.

Unanswered replies first (``u`` shows answered ones too); Enter (or ``a``) answers the
highlighted reply with a customer-visible comment on its case (``cases.add_case_note``), which
marks it answered; Esc goes back. Re-read when case events arrive.
"""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from pcso_tui.domain.casework.views import ReplyView
from pcso_tui.domain.core.text import one_line, printable
from pcso_tui.screens.base import DomainWork, signed_in, workspace
from pcso_tui.screens.case_dialogs import Field, FormDialog
from pcso_tui.widgets.cells import format_time
from pcso_tui.widgets.feed import EventsArrived
from pcso_tui.widgets.safe_table import SafeTable

LIMIT = 200


def reply_row(reply: ReplyView) -> tuple[Any, ...]:
    return (
        format_time(reply.at, "%m-%d %H:%M"),
        reply.account_number or "—",
        reply.case_number,
        reply.major_case_number or "—",
        "✔ answered" if reply.answered else "● waiting",
        one_line(reply.body, 200),
    )


class ReplyQueueScreen(Screen[None]):
    DEFAULT_CSS = """
    ReplyQueueScreen #replies-heading { height: 1; text-style: bold; color: $text-accent; padding: 0 1; }
    ReplyQueueScreen SafeTable { height: 1fr; }
    """

    BINDINGS = [
        Binding("escape", "close", "Back", id="replies.close"),
        Binding("a", "answer", "Answer", id="replies.answer"),
        Binding("u", "toggle_answered", "Answered too", id="replies.all"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.unanswered = True
        self.replies: dict[int, ReplyView] = {}
        self.work = DomainWork(self)

    def compose(self) -> ComposeResult:
        yield Static("", id="replies-heading")
        yield SafeTable(
            [
                ("when", "When", 11),
                ("account", "Account", 12),
                ("case", "Case", 10),
                ("major", "Major", 10),
                ("state", "State", 10),
                ("reply", "Reply"),
            ],
            id="replies-table",
            max_rows=LIMIT,
        )
        yield Footer(compact=True)

    @property
    def table(self) -> SafeTable:
        return self.query_one("#replies-table", SafeTable)

    def on_mount(self) -> None:
        workspace(self).subscribe_events(self)
        self.table.focus()
        self.refresh_list()

    def on_unmount(self) -> None:
        workspace(self).unsubscribe_events(self)

    def on_events_arrived(self, message: EventsArrived) -> None:
        if any(e.subject_type == "case" for e in message.events):
            self.refresh_list()

    def refresh_list(self) -> None:
        from pcso_tui.domain.casework.replies import list_replies

        session = signed_in(self)
        self.work.load(
            lambda: list_replies(session.domain, session.actor, unanswered=self.unanswered, limit=LIMIT),
            self._show,
            group="replies",
        )

    def _show(self, replies: list[ReplyView]) -> None:
        fresh = {r.entry_id: r for r in replies}
        table = self.table
        table.remove_rows([k for k in table.row_keys() if k not in fresh])
        table.upsert_rows({r.entry_id: reply_row(r) for r in replies})
        self.replies = fresh
        which = "waiting for an answer" if self.unanswered else "answered or not"
        self.query_one("#replies-heading", Static).update(
            Content(f"Customer replies: {len(replies)} {which} — Enter/a answer · u answered too · Esc back")
        )

    def action_toggle_answered(self) -> None:
        self.unanswered = not self.unanswered
        self.refresh_list()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_answer()

    def action_answer(self) -> None:
        from pcso_tui.domain.casework.cases import add_case_note

        key = self.table.cursor_key
        reply = self.replies.get(key) if isinstance(key, int) else None
        if reply is None:
            self.notify("Pick a reply first", severity="warning", markup=False)
            return
        session = signed_in(self)

        async def submit(body: str) -> int:
            return await add_case_note(session.domain, session.actor, reply.case_id, body, customer_visible=True)

        who = f"{reply.account_number or 'the customer'}"
        about = Content.assemble(
            (f"{reply.case_number}", "bold"),
            f" · {who}" + (f" · child of {reply.major_case_number}" if reply.major_case_number else ""),
            "\n",
            ("They wrote: ", "$text-muted"),
            Content(one_line(printable(reply.body), 300)),
            "\n",
            ("Your answer is a customer-visible comment on their case.", "$text-muted"),
        )
        dialog = FormDialog(f"Answer {reply.case_number}", about, [Field("body", "Answer", multiline=True)], submit)
        self.app.push_screen(dialog, callback=self._answered)

    def _answered(self, result: int | None) -> None:
        if result is None:
            return
        self.notify("Answer sent as a customer-visible comment", markup=False)
        self.work.wake_feed()
        self.refresh_list()

    def action_close(self) -> None:
        self.dismiss(None)
