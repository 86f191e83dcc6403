"""The notification outbox from the workspace (``o`` on the manager screen): what went out, what
waits, what died and why — and retrying the dead.

Opened on a major case it lists that case's notices (its children's included); ``m`` switches
between the case and every notice. Each row says what the notice was about (``statement
CS0000003``). ``f`` cycles the state shown (dead first: that is what needs a person), Enter opens
the notice (its recipient, state and the message as the contact gets it), ``r`` retries the
selected dead notice, ``R`` retries every dead one after a confirmation with the count, Esc goes
back. The list is one page (``PAGE``) read in SQL, re-read when notice events arrive.
"""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Footer, Static

from pcso_tui.domain.communications.views import NoticeMessage, NoticeView
from pcso_tui.domain.core.event_kinds import NOTICE_KINDS
from pcso_tui.domain.core.text import one_line, printable
from pcso_tui.domain.core.views import case_number
from pcso_tui.screens.base import DomainWork, WorkspaceSession, workspace
from pcso_tui.screens.case_dialogs import ConfirmDialog
from pcso_tui.widgets.cells import format_time
from pcso_tui.widgets.feed import EventsArrived
from pcso_tui.widgets.safe_table import SafeTable

PAGE = 200
STATES = ("dead", "pending", "sent", "skipped", None)
STATE_LABELS = {"dead": "✖ dead", "pending": "… pending", "sent": "✔ sent", "skipped": "– skipped"}


# What a notice was about, by its kind, in the manager's words.
ABOUT = {
    "major_case_opened": "declared",
    "statement": "statement",
    "resolved": "resolved",
    "closed": "closed",
}


def about(n: NoticeView) -> str:
    """``statement CS0000003``: what the notice told the contact about, and on which record."""
    what = ABOUT.get(n.kind, n.kind.replace("_", " "))
    record = n.case_number or n.outage_number
    return f"{what} {record}" if record else what


def notice_row(n: NoticeView) -> tuple[Any, ...]:
    return (
        STATE_LABELS.get(n.state, n.state),
        about(n),
        n.channel,
        n.account_number,
        n.contact_name,
        n.attempts,
        format_time(n.next_attempt_at) if n.state == "pending" else (format_time(n.sent_at) if n.sent_at else "—"),
        n.last_error or "",
    )


class OutboxScreen(Screen[None]):
    DEFAULT_CSS = """
    OutboxScreen #outbox-heading { height: 1; text-style: bold; color: $text-accent; padding: 0 1; }
    OutboxScreen SafeTable { height: 1fr; }
    """

    BINDINGS = [
        Binding("escape", "close", "Back", id="outbox.close"),
        Binding("enter", "open_notice", "Open", id="outbox.open"),
        Binding("f", "next_state", "State", id="outbox.state"),
        Binding("m", "toggle_case", "This case/all", id="outbox.case"),
        Binding("r", "retry", "Retry", id="outbox.retry"),
        Binding("R", "retry_all", "Retry all dead", id="outbox.retry_all"),
    ]

    def __init__(self, case_id: int | None = None) -> None:
        super().__init__()
        self.major_case_id = case_id  # the major case it was opened on (m: this case or all)
        self.case_id = case_id
        self.state: str | None = STATES[0]
        self.notices: dict[int, NoticeView] = {}
        self.work = DomainWork(self)

    def compose(self) -> ComposeResult:
        yield Static("", id="outbox-heading")
        yield SafeTable(
            [
                ("state", "State", 10),
                ("about", "About", 20),
                ("channel", "Channel", 8),
                ("account", "Account", 12),
                ("contact", "Contact", 14),
                ("attempts", "Tries", 5),
                ("when", "Next/sent", 12),
                ("error", "Last error"),
            ],
            id="outbox-table",
            max_rows=PAGE,
        )
        yield Footer(compact=True)

    @property
    def table(self) -> SafeTable:
        return self.query_one("#outbox-table", SafeTable)

    def on_mount(self) -> None:
        workspace(self).subscribe_events(self)
        self.table.focus()
        self.refresh_list()

    def on_unmount(self) -> None:
        workspace(self).unsubscribe_events(self)

    def on_events_arrived(self, message: EventsArrived) -> None:
        if any(e.kind in NOTICE_KINDS for e in message.events):
            self.refresh_list()

    def refresh_list(self) -> None:
        self.work.load(self._fetch, self._show, group="outbox")

    async def _fetch(self) -> list[NoticeView]:
        from pcso_tui.domain.communications.delivery import list_notices

        session = self._session()
        return await list_notices(session.domain, session.actor, state=self.state, case_id=self.case_id, limit=PAGE)

    def _session(self) -> WorkspaceSession:
        session = workspace(self).session
        assert session is not None, "the outbox needs a signed-in session"
        return session

    def _show(self, notices: list[NoticeView]) -> None:
        fresh = {n.id: n for n in notices}
        table = self.table
        table.remove_rows([k for k in table.row_keys() if k not in fresh])
        table.upsert_rows({n.id: notice_row(n) for n in notices})
        self.notices = fresh
        shown = "all states" if self.state is None else self.state
        more = f" (the newest {PAGE})" if len(notices) == PAGE else ""
        scope = f" of {case_number(self.case_id)}" if self.case_id is not None else ""
        keys = "Enter open · f state · m case/all · r retry · R retry all dead · Esc back"
        self.query_one("#outbox-heading", Static).update(
            Content(f"Outbox{scope}: {len(notices)} {shown}{more} — {keys}")
        )

    def action_next_state(self) -> None:
        self.state = STATES[(STATES.index(self.state) + 1) % len(STATES)]
        self.refresh_list()

    def action_toggle_case(self) -> None:
        if self.major_case_id is None:
            self.notify("Opened on no major case: every notice is shown", markup=False)
            return
        self.case_id = None if self.case_id is not None else self.major_case_id
        self.refresh_list()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()  # Enter on the table (its own binding) opens the notice too
        self.action_open_notice()

    def action_open_notice(self) -> None:
        from pcso_tui.domain.communications.delivery import notice_message

        key = self.table.cursor_key
        if not isinstance(key, int) or key not in self.notices:
            self.notify("Pick a notice first", severity="warning", markup=False)
            return
        session = self._session()
        self.work.load(
            lambda: notice_message(session.domain, session.actor, key),
            lambda message: self.app.push_screen(NoticeDialog(message)),
            group="outbox-notice",
        )

    def action_close(self) -> None:
        self.dismiss(None)

    def _acted(self, done: str) -> None:
        self.notify(done, markup=False)
        self.refresh_list()

    def action_retry(self) -> None:
        from pcso_tui.domain.communications.delivery import retry_notice

        key = self.table.cursor_key
        notice = self.notices.get(key) if isinstance(key, int) else None
        if notice is None:
            self.notify("Pick a notice first", severity="warning", markup=False)
            return
        session = self._session()
        call = retry_notice(session.domain, session.actor, notice.id)
        done = f"Notice to {notice.contact_name} queued again"
        self.work.run_command(call, lambda _: self._acted(done), group="outbox-retry")

    def action_retry_all(self) -> None:
        from pcso_tui.domain.communications.delivery import retry_dead_notices

        session = self._session()
        dead = sum(1 for n in self.notices.values() if n.state == "dead") if self.state == "dead" else None
        count = f"{dead} dead notices" if dead is not None else "every dead notice"

        async def submit() -> int:
            return await retry_dead_notices(session.domain, session.actor)

        def done(result: int | None) -> None:
            if result is not None:
                self.notify(f"{result} dead notices queued again", markup=False)
                self.refresh_list()

        self.app.push_screen(
            ConfirmDialog("Retry dead notices", f"Queue {count} again for delivery.", submit, question="Retry them?"),
            callback=done,
        )


class NoticeDialog(ModalScreen[None]):
    """One notice: to whom, about what, its state, and the message as the contact gets it."""

    DEFAULT_CSS = """
    NoticeDialog { align: center middle; }
    NoticeDialog #notice-box {
        width: 90; max-width: 100%; height: auto; max-height: 100%;
        border: round $primary; background: $surface; padding: 0 1;
    }
    NoticeDialog #notice-body { height: auto; max-height: 30; }
    NoticeDialog #notice-hint { color: $text-muted; }
    """

    BINDINGS = [Binding("escape,enter", "close", "Close", id="notice.close")]

    def __init__(self, message: NoticeMessage) -> None:
        super().__init__()
        self.message = message

    def compose(self) -> ComposeResult:
        n = self.message.notice
        box = Vertical(id="notice-box")
        box.border_title = Content(f"Notice {n.id}: {about(n)}")
        lines = [
            f"To: {one_line(printable(n.contact_name), 60)} ({n.contact_number}) of "
            f"{n.account_number} {one_line(printable(n.account_name), 40)}",
            f"By: {n.channel} · state: {STATE_LABELS.get(n.state, n.state)} · tries: {n.attempts}",
            f"Queued: {format_time(n.created_at)} · sent: {format_time(n.sent_at) if n.sent_at else '—'}",
        ]
        if n.last_error:
            lines.append(f"Last error: {one_line(printable(n.last_error), 200)}")
        if self.message.subject is None:
            lines += ["", "Not rendered yet: the message is written on its first attempt."]
        else:
            lines += ["", f"Subject: {one_line(printable(self.message.subject), 200)}", ""]
            lines += [printable(line) for line in (self.message.text or "").splitlines()]
        with box:
            with VerticalScroll(id="notice-body"):
                yield Static(Content("\n".join(lines)))
            yield Static(Content("↑↓ scroll · Esc or Enter closes"), id="notice-hint")

    def action_close(self) -> None:
        self.dismiss(None)
