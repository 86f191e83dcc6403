"""The notification outbox from the workspace (``o`` on the manager screen): what went out, what
waits, what died and why — and retrying the dead.

``f`` cycles the state shown (dead first: that is what needs a person), ``r`` retries the selected
dead notice, ``R`` retries every dead one after a confirmation with the count, Esc goes back.
The list is one page (``PAGE``) read in SQL, re-read when notice events arrive.
"""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Footer, Static

from pcso_tui.domain.communications.views import NoticeView
from pcso_tui.domain.core.event_kinds import NOTICE_KINDS
from pcso_tui.screens.base import DomainWork, WorkspaceSession, workspace
from pcso_tui.screens.case_dialogs import ConfirmDialog
from pcso_tui.widgets.cells import format_time
from pcso_tui.widgets.feed import EventsArrived
from pcso_tui.widgets.safe_table import SafeTable

PAGE = 200
STATES = ("dead", "pending", "sent", "skipped", None)
STATE_LABELS = {"dead": "✖ dead", "pending": "… pending", "sent": "✔ sent", "skipped": "– skipped"}


def notice_row(n: NoticeView) -> tuple[Any, ...]:
    return (
        STATE_LABELS.get(n.state, n.state),
        n.channel,
        n.account_number,
        n.contact_name,
        n.case_number or n.outage_number or "—",
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
        Binding("f", "next_state", "State", id="outbox.state"),
        Binding("r", "retry", "Retry", id="outbox.retry"),
        Binding("R", "retry_all", "Retry all dead", id="outbox.retry_all"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.state: str | None = STATES[0]
        self.notices: dict[int, NoticeView] = {}
        self.work = DomainWork(self)

    def compose(self) -> ComposeResult:
        yield Static("", id="outbox-heading")
        yield SafeTable(
            [
                ("state", "State", 10),
                ("channel", "Channel", 8),
                ("account", "Account", 12),
                ("contact", "Contact", 18),
                ("case", "Case", 10),
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
        return await list_notices(session.domain, session.actor, state=self.state, limit=PAGE)

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
        self.query_one("#outbox-heading", Static).update(
            Content(f"Outbox: {len(notices)} {shown}{more} — f state · r retry · R retry all dead · Esc back")
        )

    def action_next_state(self) -> None:
        self.state = STATES[(STATES.index(self.state) + 1) % len(STATES)]
        self.refresh_list()

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
