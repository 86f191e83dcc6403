"""The customer service agent's mode: the proactive case queue and the case in front of them.

Top: the active proactive cases, most urgent first (priority, age, affected accounts, the
incident and its state, whether it is proposed as a major case), updated by row key as events
arrive. Below: the highlighted case (``widgets.case_detail``): the incident and its alert, the
affected accounts and install base items, work notes and customer-visible comments apart, the
``#recommendations`` container, and — once the case belongs to a major case — that major
case's timeline.

Keys: p proposes the case as a major case (reason and business impact; the domain refuses
cases that are not new, open or awaiting info, and says why), n adds a work note or a
customer-visible comment, Tab moves between the queue and the detail.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.widget import Widget
from textual.widgets import Static

from pcso_tui.domain.casework.proposal_rules import proposal_refusal
from pcso_tui.domain.casework.views import (
    CaseDetail,
    CaseTimeline,
    CaseView,
    CaseWording,
    DuplicateProposal,
    Recommendation,
)
from pcso_tui.screens.case_dialogs import intake_dialog, note_dialog, propose_dialog
from pcso_tui.screens.case_queue import CaseQueueScreen
from pcso_tui.widgets.case_detail import CaseDetailView, age_label, major_label, state_label
from pcso_tui.widgets.feed import EventsArrived
from pcso_tui.widgets.insight import RecommendationPanel
from pcso_tui.widgets.palette import PaletteCommand
from pcso_tui.widgets.timeline import CaseTimelineView

QUEUE_LIMIT = 200
# The queues the agent switches between (k): cases opened on incidents, and customers' calls.
QUEUE_KINDS = (("proactive", "Proactive cases"), ("reactive", "Customer calls (reactive cases)"))


def queue_row(
    case: CaseView, now: datetime | None = None, duplicate: DuplicateProposal | None = None
) -> tuple[Any, ...]:
    """The queue's cells; ``now`` ages the case by the clock (the age ticks between reads)."""
    incident = f"{case.incident_number} {case.incident_state}" if case.incident_number else "—"
    age = case.age_seconds if now is None else max(0, int((now - case.opened_at).total_seconds()))
    status = (
        f"◆ {case.parent_number}"
        if case.parent_number
        else major_label(case.major_case_state) or state_label(case.state)
    )
    if duplicate is not None:
        status += f" ≈ {duplicate.other_number}"
    return (
        case.number,
        f"P{case.priority} {case.priority_name}",
        age_label(age),
        case.affected_accounts,
        incident,
        status,
        case.short_description,
    )


def duplicate_line(duplicate: DuplicateProposal) -> str:
    """``Repeats major case CS0000012 (same incident INC0000003)``."""
    what = "major case" if duplicate.other_is_major else "proposal"
    return f"Repeats {what} {duplicate.other_number} ({duplicate.reason})"


@dataclass(frozen=True)
class AgentDetail:
    """The highlighted case: its detail, and either its major case's timeline or the advice."""

    case: CaseDetail
    timeline: CaseTimeline | None
    advice: Recommendation | None
    duplicate: DuplicateProposal | None = None


class AgentScreen(CaseQueueScreen[CaseView, AgentDetail]):
    MODE = "agent"
    QUEUE_ID = "agent-queue"
    QUEUE_LIMIT = QUEUE_LIMIT
    # The Age column is redrawn from the clock this often, between queue reads.
    AGE_TICK_SECONDS = 5.0

    DEFAULT_CSS = """
    AgentScreen #agent-queue {
        height: 7;
    }
    AgentScreen #queue-heading, AgentScreen #timeline-heading {
        height: 1;
        text-style: bold;
        color: $text-accent;
    }
    AgentScreen #case-detail {
        height: 1fr;
    }
    AgentScreen #agent-timeline-box {
        height: auto;
        display: none;
    }
    AgentScreen #agent-timeline-box.-shown {
        display: block;
    }
    AgentScreen #agent-duplicate {
        height: auto;
        display: none;
        color: $text-warning;
    }
    AgentScreen #agent-duplicate.-shown {
        display: block;
    }
    """

    BINDINGS = [
        Binding("p", "propose", "Propose", id="agent.propose"),
        Binding("n", "note", "Note", id="agent.note"),
        Binding("t", "wording", "Customer wording", show=False, id="agent.wording"),
        Binding("o", "intake", "Log call", id="agent.intake"),
        Binding("k", "switch_queue", "Other queue", id="agent.queue"),
        Binding("g", "focus_recommendation", "Recommendation", show=False, id="agent.recommendation"),
        Binding("w", "customer_view", "Customer's view", show=False, id="agent.preview"),
        Binding("y", "replies", "Replies", id="agent.replies"),
        Binding("A", "article", "Article", key_display="A", show=False, id="agent.article"),
        # Run only when the key's own action is not offered (check_action): they say why.
        Binding("p", "refuse('propose')", "Propose", show=False),
        Binding("n", "refuse('note')", "Note", show=False),
        Binding("t", "refuse('wording')", "Customer wording", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.queue_kind = QUEUE_KINDS[0][0]
        self.duplicates: dict[int, DuplicateProposal] = {}

    # --- layout ---------------------------------------------------------------------------

    def compose_body(self) -> ComposeResult:
        yield Static(Content("Proactive cases"), id="queue-heading")
        yield self.queue_table(
            [
                ("case", "Case"),
                ("priority", "Priority"),
                ("age", "Age"),
                ("accounts", "Accts"),
                ("incident", "Incident"),
                ("status", "Status"),
                ("description", "Description"),
            ]
        )
        yield CaseDetailView(id="case-detail")

    def on_mount(self) -> None:
        detail = self.query_one(CaseDetailView)
        box = Vertical(
            Static(Content("Major case timeline"), id="timeline-heading"),
            CaseTimelineView(id="agent-timeline"),
            id="agent-timeline-box",
        )
        detail.mount(box)
        recommendations = self.query_one("#recommendations")
        recommendations.mount(RecommendationPanel(id="agent-recommendation"))
        if isinstance(recommendations.parent, Widget):
            recommendations.parent.mount(Static("", id="agent-duplicate"), before=recommendations)
        super().on_mount()
        self.set_interval(self.AGE_TICK_SECONDS, self.tick_ages, name="agent queue ages")

    @property
    def detail(self) -> CaseDetailView:
        return self.query_one(CaseDetailView)

    @property
    def recommendation(self) -> RecommendationPanel:
        return self.query_one("#agent-recommendation", RecommendationPanel)

    @property
    def timeline(self) -> CaseTimelineView:
        return self.query_one("#agent-timeline", CaseTimelineView)

    # --- the queue and the highlighted case -----------------------------------------------

    async def fetch_queue(self) -> Sequence[CaseView]:
        from pcso_tui.domain.casework.cases import list_cases
        from pcso_tui.domain.casework.duplicates import duplicate_proposals

        session = self.session
        rows = await list_cases(session.domain, session.actor, kind=self.queue_kind, active=True, limit=QUEUE_LIMIT)
        if any(r.major_case_state == "proposed" for r in rows):
            self.duplicates = await duplicate_proposals(session.domain, session.actor)
        else:
            self.duplicates = {}
        return rows

    def row_id(self, row: CaseView) -> int:
        return row.id

    def row_cells(self, row: CaseView) -> tuple[Any, ...]:
        return queue_row(row, self.session.domain.clock(), self.duplicates.get(row.id))

    def tick_ages(self) -> None:
        """Redraw the Age column from the clock (no query; only changed cells are redrawn)."""
        if self.rows:
            self.queue.upsert_rows({key: self.row_cells(row) for key, row in self.rows.items()})

    async def fetch_detail(self, case_id: int) -> AgentDetail:
        from pcso_tui.domain.casework.cases import get_case
        from pcso_tui.domain.casework.insight import recommend
        from pcso_tui.domain.casework.timeline import case_timeline

        session = self.session
        timeline = advice = None
        detail = await get_case(session.domain, session.actor, case_id)
        major_id = detail.case.parent_id or (detail.case.id if detail.case.kind == "major" else None)
        if major_id is not None:
            timeline = await case_timeline(session.domain, session.actor, major_id)
        elif detail.case.kind in ("reactive", "proactive"):
            # Known outages and similar cases: a case already under a major case needs neither.
            advice = await recommend(session.domain, session.actor, case_id)
        return AgentDetail(detail, timeline, advice, self.duplicates.get(case_id))

    def show_detail(self, detail: AgentDetail | None) -> None:
        self.detail.show(detail.case if detail else None)
        self.recommendation.show(detail.advice if detail else None)
        duplicate = detail.duplicate if detail else None
        banner = self.query_one("#agent-duplicate", Static)
        banner.update(Content("⚠ " + duplicate_line(duplicate)) if duplicate else Content(""))
        banner.set_class(duplicate is not None, "-shown")
        timeline = detail.timeline if detail else None
        self.timeline.show(timeline)
        self.query_one("#agent-timeline-box").set_class(timeline is not None, "-shown")

    def on_events_arrived(self, message: EventsArrived) -> None:
        about_cases = {e.subject_id for e in message.events if e.subject_type == "case"}
        incidents = {e.subject_id for e in message.events if e.subject_type == "incident"}
        if about_cases or incidents:
            self.refresh_queue()
        selected = self.selected
        if selected is None:
            return
        related = {selected.id, selected.parent_id}
        touches_incident = selected.incident_id is not None and selected.incident_id in incidents
        if related & about_cases or touches_incident:
            self.select(selected.id)

    # --- actions --------------------------------------------------------------------------

    def palette_commands(self) -> Iterable[PaletteCommand]:
        if self.selected is None:
            return
        number = self.selected.number
        yield PaletteCommand(
            f"Case: propose {number} as a major case", "Reason and business impact (p)", self.action_propose
        )
        yield PaletteCommand(
            f"Case: add a note to {number}", "Work note or customer-visible comment (n)", self.action_note
        )
        yield PaletteCommand(
            f"Case: word what customers are told about {number}",
            "Its customer-facing title and summary (t)",
            self.action_wording,
        )

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # The footer offers what applies; pressed anyway, a key's twin in REFUSALS says why.
        # None: shown dimmed; the key then falls through to its twin, which says why.
        if action in ("note", "wording"):
            return self.selected is not None or None
        if action == "propose":
            return (self.selected is not None and proposal_refusal(self.selected) is None) or None
        return True

    def refusal(self, action: str) -> str:
        case = self.selected
        if case is None:
            return "Pick a case in the queue first"
        if action == "propose":
            return proposal_refusal(case) or f"{case.number} cannot be proposed now"
        return f"Not possible on {case.number} now"

    def action_refuse(self, action: str) -> None:
        """A key whose action does not apply now: say why at once."""
        self.notify(self.refusal(action), title="Refused", severity="warning", markup=False)

    def _need_case(self) -> CaseView | None:
        case = self.selected
        if case is None:
            self.notify("Pick a case in the queue first", severity="warning", markup=False)
        return case

    def action_propose(self) -> None:
        case = self._need_case()
        if case is None:
            return
        from pcso_tui.domain.casework.major_cases import propose_major_case

        refusal = proposal_refusal(case)
        if refusal is not None:  # say why now, not after the form is filled in
            self.notify(refusal, title="Refused", severity="warning", markup=False)
            return

        session = self.session

        async def submit(reason: str, business_impact: str) -> CaseView:
            return await propose_major_case(
                session.domain, session.actor, case.id, reason=reason, business_impact=business_impact
            )

        self.app.push_screen(propose_dialog(case, submit), callback=self._proposed)

    def _proposed(self, result: CaseView | None) -> None:
        if result is None:
            return
        self.notify(f"{result.number} proposed as a major case", markup=False)
        self.changed()

    def action_note(self) -> None:
        case = self._need_case()
        if case is None:
            return
        from pcso_tui.domain.casework.cases import add_case_note

        session = self.session

        async def submit(body: str, visibility: str) -> int:
            return await add_case_note(
                session.domain, session.actor, case.id, body, customer_visible=visibility == "comment"
            )

        self.app.push_screen(note_dialog(case, submit), callback=self._noted)

    def _noted(self, result: int | None) -> None:
        if result is None:
            return
        self.notify("Note added", markup=False)
        self.changed()

    def action_wording(self) -> None:
        case = self._need_case()
        if case is not None:
            self.edit_wording(case, self._worded, group="agent-act")

    def _worded(self, result: CaseWording | None) -> None:
        if result is None:
            return
        self.notify(f"{result.number}: customer-facing wording saved", markup=False)
        self.changed()

    def action_switch_queue(self) -> None:
        kinds = [k for k, _ in QUEUE_KINDS]
        self.queue_kind = kinds[(kinds.index(self.queue_kind) + 1) % len(kinds)]
        self.query_one("#queue-heading", Static).update(Content(dict(QUEUE_KINDS)[self.queue_kind]))
        self.rows = {}
        self.queue.remove_rows(self.queue.row_keys())
        self.select(None)
        self.refresh_queue()

    def go_to_case(self, case_id: int, case_kind: str | None) -> bool:
        """Put the cursor on ``case_id`` (go-to), switching to the queue of its kind; False when
        no queue of this screen lists it (not active, or a child of a major case)."""
        if self.show_listed(case_id):
            return True
        if case_kind == self.queue_kind or case_kind not in dict(QUEUE_KINDS):
            return False
        self.action_switch_queue()  # the other queue: the cursor goes to it once it is read
        self.select_when_listed(case_id)
        return True

    def action_customer_view(self) -> None:
        """What the selected case's customer sees in the portal (read-only)."""
        case = self._need_case()
        if case is None:
            return
        if not case.account_number:
            self.notify(f"{case.number} is not one customer's case", markup=False)
            return
        from pcso_tui.screens.portal import PreviewScreen

        self.app.push_screen(PreviewScreen(case.account_number))

    def action_article(self) -> None:
        """A workaround article on the selected case's major case (the editor, with the
        customer's view beside it)."""
        case = self._need_case()
        if case is None:
            return
        from pcso_tui.screens.article_dialogs import write_article

        if case.kind == "major" and case.major_case_state == "accepted":
            write_article(self, case.id, case.number)
        elif case.parent_id is not None and case.parent_number is not None:
            write_article(self, case.parent_id, case.parent_number)
        else:
            self.notify(
                f"{case.number} is not under a major case: articles attach to major cases",
                title="Refused",
                severity="warning",
                markup=False,
            )

    def action_replies(self) -> None:
        """Customers' replies waiting for an answer, with account and case number."""
        from pcso_tui.screens.replies import ReplyQueueScreen

        self.app.push_screen(ReplyQueueScreen(), callback=lambda _: self.changed())

    def action_focus_recommendation(self) -> None:
        self.recommendation.focus()

    def action_intake(self) -> None:
        from pcso_tui.domain.casework.cases import open_reactive_case

        session = self.session

        async def submit(account_number: str, short_description: str, product_number: str, channel: str) -> CaseView:
            return await open_reactive_case(
                session.domain,
                session.actor,
                account_number=account_number.strip(),
                short_description=short_description,
                product_number=product_number.strip() or None,
                channel=channel,
            )

        self.app.push_screen(intake_dialog(submit), callback=self._logged)

    def _logged(self, result: CaseView | None) -> None:
        if result is None:
            return
        self.notify(f"{result.number} logged for {result.account_number or 'the account'}", markup=False)
        if self.queue_kind != "reactive":
            self.action_switch_queue()
        self.selected_id = result.id
        self.work.load(self.fetch_queue, partial(self._listed, result.id), group="agent-intake")

    def _listed(self, case_id: int, cases: Sequence[CaseView]) -> None:
        """The queue with the logged call in it: the call highlighted, its recommendation focused."""
        self.show_queue(cases)
        table = self.queue
        if table.has_row(case_id):
            table.move_cursor(row=table.get_row_index(table._key(case_id)))
        self.select(case_id)
        self.recommendation.focus()

    def on_recommendation_panel_attach_requested(self, message: RecommendationPanel.AttachRequested) -> None:
        from pcso_tui.domain.casework.insight import attach_to_known_outage
        from pcso_tui.domain.casework.major_cases import attach_case

        session = self.session
        if message.known_outage:
            call = attach_to_known_outage(session.domain, session.actor, message.case_id, message.major_case_id)
        else:
            call = attach_case(session.domain, session.actor, message.major_case_id, message.case_id)
        self.work.run_command(call, partial(self._acted, "attached to its major case"), group="agent-act")

    def on_recommendation_panel_propose_requested(self, message: RecommendationPanel.ProposeRequested) -> None:
        from pcso_tui.domain.casework.insight import propose_recommended

        session = self.session
        call = propose_recommended(session.domain, session.actor, message.case_id)
        self.work.run_command(call, partial(self._acted, "proposed as a major case with its similar cases"))

    def _acted(self, done: str, result: object) -> None:
        self.notify(f"{getattr(result, 'number', 'The case')} {done}", markup=False)
        self.changed()
