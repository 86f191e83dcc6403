"""The manager's insight (``i`` on the manager screen): trending topics and likely affected accounts.

Two views (``1`` topics, ``2`` likely affected), Esc back to the queue:

- **Trending topics**: inbound cases clustered by what customers say, rising ones flagged against
  their own baseline (``domain.insight.trending_topics``). ``p`` proposes a major case from the
  topic's open cases; ``l`` links them to the major case selected on the manager screen.
- **Likely affected**: for the selected major case, the characteristics its affected accounts
  share beyond chance and every other account scored by severity × likelihood, each explained
  (``domain.insight.likely_affected``). ``m`` marks accounts, ``r`` adds the marked ones to the
  major case's recipients (on an approved major case they get child cases and notices at once).

Everything is computed in workers; refusals come back as notifications with the domain's text.
"""

from __future__ import annotations

from collections.abc import Awaitable

from textual.app import ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.screen import Screen
from textual.widgets import ContentSwitcher, Footer, Static

from pcso_tui.domain.casework.views import LikelyAffectedView, TopicsView
from pcso_tui.domain.core.text import one_line
from pcso_tui.screens.base import DomainWork, WorkspaceSession, workspace
from pcso_tui.widgets.insight import LikelyAffected, TrendingTopics


class ManagerInsightScreen(Screen[None]):
    DEFAULT_CSS = """
    ManagerInsightScreen #insight-heading { height: 1; text-style: bold; color: $text-accent; padding: 0 1; }
    ManagerInsightScreen ContentSwitcher { height: 1fr; }
    """

    BINDINGS = [
        Binding("escape", "close", "Back", id="insight.close"),
        Binding("1", "show_view('topics')", "Topics", id="insight.view_topics"),
        Binding("2", "show_view('likely')", "Likely affected", id="insight.view_likely"),
    ]

    def __init__(self, major_case_id: int | None, major_number: str | None) -> None:
        super().__init__()
        self.major_case_id = major_case_id
        self.major_number = major_number
        self.likely_loaded = False
        self.work = DomainWork(self)

    def compose(self) -> ComposeResult:
        yield Static(self._heading("topics"), id="insight-heading")
        with ContentSwitcher(initial="topics"):
            yield TrendingTopics(id="topics")
            yield LikelyAffected(id="likely")
        yield Footer(compact=True)

    def _heading(self, view: str) -> Content:
        if view == "topics":
            return Content("Trending topics of inbound cases — 1 topics · 2 likely affected · Esc back")
        about = self.major_number or "no major case selected"
        return Content.assemble("Likely affected too: ", one_line(about), " — 1 topics · 2 likely affected · Esc back")

    def on_mount(self) -> None:
        self._load_topics()
        self.query_one(TrendingTopics).table.focus()

    def action_show_view(self, view: str) -> None:
        self.query_one(ContentSwitcher).current = view
        self.query_one("#insight-heading", Static).update(self._heading(view))
        widget = self.query_one(TrendingTopics) if view == "topics" else self.query_one(LikelyAffected)
        widget.table.focus()
        if view == "likely" and not self.likely_loaded:
            if self.major_case_id is None:
                self.notify("Select a major case on the manager screen first", severity="warning", markup=False)
                return
            self._load_likely()

    def action_close(self) -> None:
        self.dismiss(None)

    # --- loading ---------------------------------------------------------------------------

    def _session(self) -> WorkspaceSession:
        session = workspace(self).session
        assert session is not None, "insight needs a signed-in session"
        return session

    def _load_topics(self) -> None:
        from pcso_tui.domain.casework.insight import trending_topics

        session = self._session()
        self.work.load(
            lambda: trending_topics(session.domain, session.actor), self._show_topics, group="insight-topics"
        )

    def _show_topics(self, view: TopicsView) -> None:
        self.query_one(TrendingTopics).show(view)

    def _load_likely(self) -> None:
        from pcso_tui.domain.casework.insight import likely_affected

        session, major_case_id = self._session(), self.major_case_id
        self.work.load(
            lambda: likely_affected(session.domain, session.actor, major_case_id=major_case_id),
            self._show_likely,
            group="insight-likely",
        )

    def _show_likely(self, view: LikelyAffectedView) -> None:
        self.query_one(LikelyAffected).show(view)
        self.likely_loaded = True

    # --- actions ---------------------------------------------------------------------------

    def _act(self, call: Awaitable[object], done: str) -> None:
        self.work.run_command(call, lambda _: self._acted(done), group="insight-act")

    def _acted(self, done: str) -> None:
        self.notify(done, markup=False)
        self.work.wake_feed()
        self._load_topics()
        if self.likely_loaded:
            self._load_likely()

    def on_trending_topics_propose_requested(self, message: TrendingTopics.ProposeRequested) -> None:
        from pcso_tui.domain.casework.insight import propose_from_topic

        session = self._session()
        call = propose_from_topic(session.domain, session.actor, message.topic)
        done = f"Major case proposed from the topic ({len(message.topic.case_ids)} cases)"
        self._act(call, done)

    def on_trending_topics_link_requested(self, message: TrendingTopics.LinkRequested) -> None:
        from pcso_tui.domain.casework.insight import link_topic

        if self.major_case_id is None:
            self.notify("Select a major case on the manager screen first", severity="warning", markup=False)
            return
        session = self._session()
        call = link_topic(session.domain, session.actor, message.topic.id, self.major_case_id)
        done = f"The topic's cases are linked to {self.major_number}"
        self._act(call, done)

    def on_likely_affected_add_requested(self, message: LikelyAffected.AddRequested) -> None:
        from pcso_tui.domain.casework.insight import add_likely_accounts

        session = self._session()
        call = add_likely_accounts(session.domain, session.actor, message.major_case_id, message.account_numbers)
        done = f"{len(message.account_numbers)} accounts added to {self.major_number}'s recipients"
        self.query_one(LikelyAffected).marked.clear()
        self._act(call, done)
