"""The major case manager's mode: proposals to decide, major cases to see through.

Top: the queue (``domain.timeline.list_major_queue``): proposed cases first, with their
affected accounts, business impact and incident, then the approved major cases not yet
closed. Below, for the highlighted case: what it is (``widgets.case_detail.summary_content``),
the ``#insight`` container (for trending topics and likely affected customers), and its
timeline (``widgets.timeline``), which grows as events arrive.

Keys, offered when they apply to the highlighted case:

    a  approve a proposal (a confirmation shows how many child cases and notices it creates)
    x  reject a proposal, with a reason
    s  a customer-facing statement on a major case (to every open child and its contact)
    r  resolve a major case with a code and notes (open children are resolved with it)
    u  the title and details of its outage on the status page (declared by the approval)
    c  close a resolved major case (new/open/awaiting-info children are closed with it)
    n  a work note or customer-visible comment
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.widgets import Static

from pcso_tui.domain.casework.views import CaseDetail, CaseTimeline, CaseView, DuplicateProposal, MajorQueueRow
from pcso_tui.domain.core.text import one_line
from pcso_tui.screens.agent import duplicate_line
from pcso_tui.screens.case_dialogs import (
    ConfirmDialog,
    approve_dialog,
    close_dialog,
    note_dialog,
    outage_dialog,
    reject_dialog,
    resolve_dialog,
    statement_dialog,
)
from pcso_tui.screens.case_queue import CaseQueueScreen
from pcso_tui.widgets.case_detail import major_label, state_label, summary_content
from pcso_tui.widgets.feed import EventsArrived
from pcso_tui.widgets.palette import PaletteCommand
from pcso_tui.widgets.timeline import CaseTimelineView

QUEUE_LIMIT = 200
ACTIVE = ("new", "open", "awaiting_info")
CASE_ACTIONS = (
    "approve",
    "reject",
    "statement",
    "resolve",
    "outage",
    "close_case",
    "note",
    "wording",
    "article",
    "edit_article",
    "merge",
)


def is_proposal(row: MajorQueueRow) -> bool:
    return row.case.major_case_state == "proposed"


def is_major(row: MajorQueueRow) -> bool:
    return row.case.kind == "major" and row.case.major_case_state == "accepted"


def queue_row(row: MajorQueueRow, duplicate: DuplicateProposal | None = None) -> tuple[Any, ...]:
    case = row.case
    status = major_label(case.major_case_state) if is_proposal(row) else state_label(case.state)
    if duplicate is not None:
        status += f" ≈ {duplicate.other_number}"
    children = f"{row.children_active}/{row.children_total}" if is_major(row) else "—"
    return (
        case.number,
        status,
        case.affected_accounts,
        children,
        row.business_impact or "",
        case.incident_number or "—",
        case.short_description,
    )


@dataclass(frozen=True)
class ManagerDetail:
    """The highlighted case and its timeline."""

    case: CaseDetail
    timeline: CaseTimeline


class ManagerScreen(CaseQueueScreen[MajorQueueRow, ManagerDetail]):
    MODE = "manager"
    QUEUE_ID = "manager-queue"
    QUEUE_LIMIT = QUEUE_LIMIT

    DEFAULT_CSS = """
    ManagerScreen #manager-queue {
        height: 6;
    }
    ManagerScreen .heading {
        height: 1;
        text-style: bold;
        color: $text-accent;
    }
    ManagerScreen #manager-lower {
        height: 1fr;
    }
    ManagerScreen #major-detail {
        width: 1fr;
        height: 1fr;
        padding: 0 1 0 0;
    }
    ManagerScreen #major-detail > Static {
        height: auto;
    }
    ManagerScreen #insight {
        height: auto;
    }
    ManagerScreen #timeline-scroll {
        width: 1fr;
        height: 1fr;
        border-left: vkey $primary 60%;
        padding: 0 0 0 1;
    }
    """

    BINDINGS = [
        Binding("a", "approve", "Approve", id="manager.approve"),
        Binding("x", "reject", "Reject", id="manager.reject"),
        Binding("s", "statement", "Statement", id="manager.statement"),
        Binding("r", "resolve", "Resolve", id="manager.resolve"),
        Binding("u", "outage", "Status page", id="manager.outage"),
        Binding("c", "close_case", "Close", id="manager.close"),
        Binding("n", "note", "Note", id="manager.note"),
        Binding("t", "wording", "Customer wording", id="manager.wording"),
        Binding("i", "insight", "Insight", id="manager.insight"),
        Binding("o", "outbox", "Outbox", id="manager.outbox"),
        Binding(
            "w", "article", "Article", tooltip="Write a workaround article on the major case", id="manager.article"
        ),
        Binding("e", "edit_article", "Edit article", show=False, id="manager.edit_article"),
        Binding("m", "merge", "Merge", tooltip="Fold a repeated proposal into its major case", id="manager.merge"),
        # Run only when the key's own action is not offered (check_action): they say why.
        *(
            Binding(key, f"refuse('{action}')", description, show=False)
            for key, action, description in (
                ("a", "approve", "Approve"),
                ("x", "reject", "Reject"),
                ("s", "statement", "Statement"),
                ("r", "resolve", "Resolve"),
                ("u", "outage", "Status page"),
                ("c", "close_case", "Close"),
                ("n", "note", "Note"),
                ("t", "wording", "Customer wording"),
                ("w", "article", "Article"),
                ("e", "edit_article", "Edit article"),
                ("m", "merge", "Merge"),
            )
        ),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.detail: CaseDetail | None = None
        self.duplicates: dict[int, DuplicateProposal] = {}

    # --- layout ---------------------------------------------------------------------------

    def compose_body(self) -> ComposeResult:
        yield Static(Content("Major cases: proposals first"), classes="heading", id="queue-heading")
        yield self.queue_table(
            [
                ("case", "Case"),
                ("status", "Status"),
                ("accounts", "Accts"),
                ("children", "Open/kids"),
                ("impact", "Business impact", 24),
                ("incident", "Incident"),
                ("description", "Description"),
            ]
        )
        with Horizontal(id="manager-lower"):
            with VerticalScroll(id="major-detail"):
                yield Static(Content.assemble(("No case selected.", "$text-muted")), id="major-summary")
                yield Vertical(id="insight")
            with VerticalScroll(id="timeline-scroll"):
                yield Static(Content("Timeline"), classes="heading")
                yield CaseTimelineView(id="manager-timeline", follow=True)

    @property
    def timeline(self) -> CaseTimelineView:
        return self.query_one("#manager-timeline", CaseTimelineView)

    # --- the queue and the highlighted case -----------------------------------------------

    async def fetch_queue(self) -> Sequence[MajorQueueRow]:
        from pcso_tui.domain.casework.duplicates import duplicate_proposals
        from pcso_tui.domain.casework.timeline import list_major_queue

        session = self.session
        rows = await list_major_queue(session.domain, session.actor, limit=QUEUE_LIMIT)
        self.duplicates = (
            await duplicate_proposals(session.domain, session.actor) if any(map(is_proposal, rows)) else {}
        )
        return rows

    def row_id(self, row: MajorQueueRow) -> int:
        return row.case.id

    def row_cells(self, row: MajorQueueRow) -> tuple[Any, ...]:
        return queue_row(row, self.duplicates.get(row.case.id))

    async def fetch_detail(self, case_id: int) -> ManagerDetail:
        from pcso_tui.domain.casework.cases import get_case
        from pcso_tui.domain.casework.timeline import case_timeline

        session = self.session
        detail = await get_case(
            session.domain, session.actor, case_id, accounts_limit=1, items_limit=1, journal_limit=1
        )
        timeline = await case_timeline(session.domain, session.actor, case_id)
        return ManagerDetail(detail, timeline)

    def show_detail(self, shown: ManagerDetail | None) -> None:
        detail = shown.case if shown else None
        self.detail = detail
        summary = self.query_one("#major-summary", Static)
        if detail is None:
            summary.update(Content.assemble(("No case selected.", "$text-muted")))
        else:
            parts = [summary_content(detail)]
            duplicate = self.duplicates.get(detail.case.id)
            if duplicate is not None:
                parts.append(Content.assemble(("⚠ ", "$text-warning"), (duplicate_line(duplicate), "$text-warning")))
            for statement in detail.statements[-3:]:
                parts.append(
                    Content.assemble(
                        ("Statement ", "$text-muted"),
                        (statement.at.strftime("%H:%M"), "$text-muted"),
                        ": ",
                        Content(one_line(statement.body, 400)),
                    )
                )
            summary.update(Content("\n").join(parts))
        self.timeline.show(shown.timeline if shown else None)

    def on_events_arrived(self, message: EventsArrived) -> None:
        cases = {e.subject_id for e in message.events if e.subject_type == "case"}
        if not cases:
            return
        self.refresh_queue()
        if self.selected_id is not None and self.selected_id in cases:
            self.select(self.selected_id)

    # --- actions --------------------------------------------------------------------------

    PALETTE = (
        ("approve", "approve {number}", "Confirm with the child cases and notices it creates (a)"),
        ("reject", "reject the proposal of {number}", "With a reason (x)"),
        ("statement", "statement on {number}", "To every open child case and its contact (s)"),
        ("resolve", "resolve {number}", "With a code and notes; open children follow (r)"),
        ("outage", "word the status page outage of {number}", "Its public title and details (u)"),
        ("close_case", "close {number}", "Active children are closed with it (c)"),
        ("note", "add a note to {number}", "Work note or customer-visible comment (n)"),
        ("wording", "word what customers are told about {number}", "Its customer-facing title and summary (t)"),
    )

    def palette_commands(self) -> Iterable[PaletteCommand]:
        row = self.selected
        if row is None:
            return
        for action, name, help_text in self.PALETTE:
            if self.check_action(action, ()):
                yield PaletteCommand(
                    f"Major case: {name.format(number=row.case.number)}",
                    help_text,
                    getattr(self, f"action_{action}"),
                )

    def refusal(self, action: str) -> str | None:
        """Why ``action`` cannot apply to the highlighted case now (None: it can)."""
        if action not in CASE_ACTIONS:
            return None
        row = self.selected
        if row is None:
            return "Pick a case in the queue first"
        number = row.case.number
        if action in ("approve", "reject") and not is_proposal(row):
            return f"{number} is not a proposal: only proposals are approved or rejected"
        if action in ("statement", "resolve", "outage"):
            if not is_major(row):
                return f"{number} is not an approved major case yet"
            if row.case.state not in ACTIVE:
                return f"{number} is {row.case.state}"
        if action == "merge":
            duplicate = self.duplicates.get(row.case.id)
            if not is_proposal(row) or duplicate is None:
                return f"{number} repeats no open major case: nothing to merge"
            if not duplicate.other_is_major:
                return f"{number} repeats proposal {duplicate.other_number}: decide one, then merge the other"
        if action in ("article", "edit_article") and not is_major(row):
            return f"{number} is not an approved major case: articles attach to major cases"
        if action == "close_case" and (not is_major(row) or row.case.state != "resolved"):
            return f"{number} is not a resolved major case: resolve it first (r)"
        return None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # The footer offers what applies; pressed anyway, a key's twin (refuse) says why.
        return self.refusal(action) is None

    def action_refuse(self, action: str) -> None:
        """A key whose action does not apply to the highlighted case: say why at once."""
        self.notify(self.refusal(action) or "Not possible now", title="Refused", severity="warning", markup=False)

    def _call(self, coro: Any, done: Any) -> None:
        self.work.run_command(coro, done, group="manager-action")

    def go_to_case(self, case_id: int, case_kind: str | None = None) -> bool:
        """Put the cursor on ``case_id`` (go-to); False when the queue does not list it."""
        return self.show_listed(case_id)

    def action_approve(self) -> None:
        row = self.selected
        if row is None:
            return
        from pcso_tui.domain.casework.major_cases import approve_major_case, preview_approval

        session = self.session
        case_id = row.case.id

        def confirm(preview: Any) -> None:
            async def submit() -> Any:
                return await approve_major_case(session.domain, session.actor, case_id)

            self.app.push_screen(approve_dialog(preview, submit), callback=self._approved)

        self._call(preview_approval(session.domain, session.actor, case_id), confirm)

    def _approved(self, result: Any) -> None:
        if result is None:
            return
        self.notify(
            f"{result.major_case_number} approved: {result.children_created} child cases, "
            f"{result.notices_queued} notices queued"
            + (f"; {result.outage_number} on the status page" if result.outage_number else ""),
            markup=False,
        )
        # The detail must not show the proposal it was: say what it is now, then read it.
        self.query_one("#major-summary", Static).update(
            Content.assemble(
                (f"{result.candidate_number} approved", "bold"),
                f": major case {result.major_case_number}, {result.children_created} child cases. Reading it…",
            )
        )
        self.select_when_listed(result.major_case_id)
        self.work.wake_feed()
        self.refresh_queue()
        self.select(result.major_case_id)

    def action_reject(self) -> None:
        row = self.selected
        if row is None:
            return
        from pcso_tui.domain.casework.major_cases import reject_major_case

        session = self.session
        case_id = row.case.id

        async def submit(reason: str) -> CaseView:
            return await reject_major_case(session.domain, session.actor, case_id, reason=reason)

        self.app.push_screen(reject_dialog(row.case, submit), callback=self._done("Proposal rejected"))

    def action_statement(self) -> None:
        row = self.selected
        if row is None:
            return
        from pcso_tui.domain.casework.major_cases import post_statement

        session = self.session
        case_id = row.case.id

        async def submit(body: str) -> Any:
            return await post_statement(session.domain, session.actor, case_id, body)

        self.app.push_screen(
            statement_dialog(row.case, row.children_active, submit), callback=self._done("Statement sent")
        )

    def action_resolve(self) -> None:
        row = self.selected
        if row is None:
            return
        from pcso_tui.domain.casework.major_cases import resolve_major_case

        session = self.session
        case_id = row.case.id

        async def submit(code: str, notes: str) -> Any:
            return await resolve_major_case(session.domain, session.actor, case_id, code=code, notes=notes)

        self.app.push_screen(resolve_dialog(row.case, row.children_active, submit), callback=self._done("Resolved"))

    def action_outage(self) -> None:
        row = self.selected
        if row is None:
            return
        from pcso_tui.domain.communications.outages import case_outage, update_outage

        session = self.session
        case = row.case

        def edit(outage: Any) -> None:
            async def submit(title: str, details: str) -> Any:
                return await update_outage(
                    session.domain,
                    session.actor,
                    outage.id,
                    title=title,
                    details=details,
                    expected_version=outage.version,
                )

            self.app.push_screen(outage_dialog(case, outage, submit), callback=self._done("Status page updated"))

        self._call(case_outage(session.domain, session.actor, case.id), edit)

    def action_close_case(self) -> None:
        row = self.selected
        if row is None:
            return
        from pcso_tui.domain.casework.major_cases import close_major_case

        session = self.session
        case_id = row.case.id

        async def submit() -> Any:
            return await close_major_case(session.domain, session.actor, case_id)

        self.app.push_screen(close_dialog(row.case, row.children_active, submit), callback=self._done("Closed"))

    def action_merge(self) -> None:
        """Reject a repeated proposal as a duplicate and attach its case to the major case."""
        row = self.selected
        duplicate = self.duplicates.get(row.case.id) if row is not None else None
        if row is None or duplicate is None:
            return
        from pcso_tui.domain.casework.duplicates import merge_proposal

        session = self.session
        case_id, major_id = row.case.id, duplicate.other_id

        async def submit() -> CaseView:
            return await merge_proposal(session.domain, session.actor, case_id, major_id)

        about = (
            f"{row.case.number} repeats major case {duplicate.other_number} ({duplicate.reason}).\n"
            f"The proposal is rejected as a duplicate and {row.case.number} becomes a child of "
            f"{duplicate.other_number}; its accounts join the major case."
        )
        dialog = ConfirmDialog(f"Merge {row.case.number}", about, submit, question="Merge it?")
        self.app.push_screen(dialog, callback=self._done(f"Merged into {duplicate.other_number}"))

    def action_article(self) -> None:
        """A new workaround article, attached to the highlighted major case when saved."""
        row = self.selected
        if row is None:
            return
        from pcso_tui.screens.article_dialogs import write_article

        write_article(self, row.case.id, row.case.number)

    def action_edit_article(self) -> None:
        """Edit the newest article attached to the highlighted major case."""
        row = self.selected
        if row is None:
            return
        from pcso_tui.screens.article_dialogs import edit_article

        edit_article(self, row.case.id, row.case.number)

    def action_insight(self) -> None:
        """Trending topics, and the accounts likely affected by the selected case too."""
        from pcso_tui.screens.manager_insight import ManagerInsightScreen

        row = self.selected
        case = row.case if row is not None else None
        self.app.push_screen(
            ManagerInsightScreen(case.id if case else None, case.number if case else None),
            callback=lambda _: self.changed(),
        )

    def action_outbox(self) -> None:
        """The notices: what went out, what waits, what died and why; retry the dead."""
        from pcso_tui.screens.outbox import OutboxScreen

        row = self.selected
        case_id = row.case.id if row is not None and is_major(row) else None  # its notices first
        self.app.push_screen(OutboxScreen(case_id), callback=lambda _: self.changed())

    def action_note(self) -> None:
        row = self.selected
        if row is None:
            return
        from pcso_tui.domain.casework.cases import add_case_note

        session = self.session
        case_id = row.case.id

        async def submit(body: str, visibility: str) -> int:
            return await add_case_note(
                session.domain, session.actor, case_id, body, customer_visible=visibility == "comment"
            )

        self.app.push_screen(note_dialog(row.case, submit), callback=self._done("Note added"))

    def action_wording(self) -> None:
        row = self.selected
        if row is not None:
            self.edit_wording(row.case, self._done("Customer-facing wording saved"), group="manager-action")

    def _done(self, what: str) -> Any:
        def callback(result: Any) -> None:
            if result is None:
                return
            number = getattr(result, "major_case_number", None) or getattr(result, "number", None)
            self.notify(f"{what}: {number}" if number else what, markup=False)
            self.changed()

        return callback
