"""Insight widgets: what a screen mounts to show recommendations, trending topics and likely
affected accounts. Each takes read models (``show(...)``) and posts a Message when the user
acts, so the screen stays thin: it runs the domain command in a worker and shows the result.

- ``RecommendationPanel``: for one case — a banner when the caller is covered by a known
  outage (its statement and ETA; ``a`` attaches the call), and the recommendation with its
  reasons (``p`` proposes the major case, ``a`` attaches to the recommended one).
- ``TrendingTopics``: topics, rising first (``▲ rising`` / ``· steady``); ``p`` proposes a
  major case from the topic under the cursor, ``l`` links its cases to a major case.
- ``LikelyAffected``: the factors, then accounts by severity × likelihood with each score
  explained; ``m`` marks an account, ``r`` adds the marked ones to the major case's recipients.

Every customer- or case-provided string goes through ``one_line``/``printable`` into ``Text``
(never markup). Bindings carry ids (``insight.*``) so keymaps can move them.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Static

from pcso_tui.domain.casework.views import KnownOutageView, LikelyAffectedView, Recommendation, TopicsView, TopicView
from pcso_tui.domain.core.text import one_line
from pcso_tui.widgets.cells import counted, format_time, use_ascii
from pcso_tui.widgets.safe_table import SafeTable

MAX_REASONS = 6


def _glyph(unicode: str, ascii: str) -> str:
    return ascii if use_ascii() else unicode


def _when(value) -> str:
    return format_time(value) if value is not None else "not given"


# --- recommendation ---------------------------------------------------------------------------


class RecommendationPanel(Vertical, can_focus=True):
    """Known-outage banner and the recommendation for one case."""

    DEFAULT_CSS = """
    RecommendationPanel {
        height: auto;
        max-height: 12;
        padding: 0 1;
    }
    RecommendationPanel:focus { background: $boost; }
    RecommendationPanel #insight-banner { color: $warning; }
    RecommendationPanel .empty { display: none; }
    """

    BINDINGS = [
        Binding("a", "attach", "Attach", id="insight.attach"),
        Binding("p", "propose", "Propose major", id="insight.propose"),
    ]

    class AttachRequested(Message):
        """Attach ``case_id`` to ``major_case_id``; ``known_outage`` when the major case covers
        the caller (an agent may then attach, ``insight.attach_to_known_outage``)."""

        def __init__(self, case_id: int, major_case_id: int, known_outage: bool) -> None:
            super().__init__()
            self.case_id = case_id
            self.major_case_id = major_case_id
            self.known_outage = known_outage

    class ProposeRequested(Message):
        """Propose a major case grouping ``case_ids`` (``insight.propose_recommended``)."""

        def __init__(self, case_id: int, case_ids: tuple[int, ...], title: str) -> None:
            super().__init__()
            self.case_id = case_id
            self.case_ids = case_ids
            self.title = title

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.recommendation: Recommendation | None = None
        self.known: tuple[KnownOutageView, ...] = ()

    def compose(self) -> ComposeResult:
        yield Static("", id="insight-banner", classes="empty")
        yield Static("", id="insight-headline", classes="empty")
        yield Static("", id="insight-reasons", classes="empty")

    def show(self, recommendation: Recommendation | None, known: Sequence[KnownOutageView] | None = None) -> None:
        """Show a case's recommendation (its known outages too, unless given separately)."""
        self.recommendation = recommendation
        self.known = tuple(known) if known is not None else (recommendation.known_outages if recommendation else ())
        self._set("#insight-banner", self._banner())
        self._set("#insight-headline", self._headline())
        self._set("#insight-reasons", self._reasons())
        self.refresh_bindings()

    def _set(self, selector: str, text: Text | None) -> None:
        widget = self.query_one(selector, Static)
        widget.update(text or "")
        widget.set_class(text is None, "empty")

    def _banner(self) -> Text | None:
        if not self.known:
            return None
        k = self.known[0]
        text = Text(no_wrap=False)
        text.append(f"{_glyph('⚠', '!')} Known outage ", style="bold")
        text.append(f"{k.number}: ")
        text.append(one_line(k.short_description, 80))
        text.append(f" · ETA {_when(k.eta)} · {k.affected_accounts} accounts · matched by {k.matched_by}")
        if k.statement:
            text.append("\n  Statement")
            if k.statement_at is not None:
                text.append(f" ({format_time(k.statement_at)})")
            text.append(": ")
            text.append(one_line(k.statement, 300))
        else:
            text.append("\n  No customer-facing statement yet")
        if len(self.known) > 1:
            text.append(f"\n  and {len(self.known) - 1} more known outages")
        text.append("\n  [a] attach this call as a child", style="italic")
        return text

    def _headline(self) -> Text | None:
        rec = self.recommendation
        if rec is None:
            return None
        glyph = {"attach": _glyph("◆", "*"), "propose": _glyph("◇", "?")}.get(rec.action, _glyph("·", "-"))
        text = Text()
        text.append(f"{glyph} {rec.action}: ", style="bold")
        text.append(one_line(rec.headline, 120))
        if rec.action == "propose" and rec.proposed_title:
            text.append("\n  title: ")
            text.append(one_line(rec.proposed_title, 100))
            text.append("   [p] propose", style="italic")
        elif rec.action == "attach" and rec.major_short_description:
            text.append("\n  ")
            text.append(one_line(rec.major_short_description, 100))
            text.append("   [a] attach", style="italic")
        return text

    def _reasons(self) -> Text | None:
        rec = self.recommendation
        if rec is None or not rec.reasons:
            return None
        lines = [f"  · {one_line(r, 120)}" for r in rec.reasons[:MAX_REASONS]]
        return Text("\n".join(lines))

    def _attach_target(self) -> tuple[int, bool] | None:
        if self.known:
            return self.known[0].major_case_id, True
        rec = self.recommendation
        if rec is not None and rec.action == "attach" and rec.major_case_id is not None:
            return rec.major_case_id, False
        return None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "attach":
            return self._attach_target() is not None and self.recommendation is not None
        if action == "propose":
            rec = self.recommendation
            return rec is not None and rec.action == "propose"
        return True

    def action_attach(self) -> None:
        target = self._attach_target()
        if target is None or self.recommendation is None:
            return
        self.post_message(self.AttachRequested(self.recommendation.case_id, target[0], target[1]))

    def action_propose(self) -> None:
        rec = self.recommendation
        if rec is None or rec.action != "propose":
            return
        self.post_message(self.ProposeRequested(rec.case_id, rec.case_ids, rec.proposed_title or ""))


# --- trending topics --------------------------------------------------------------------------


class TrendingTopics(Vertical):
    """Topics of inbound cases, rising ones first."""

    DEFAULT_CSS = """
    TrendingTopics { height: 1fr; }
    TrendingTopics #topics-summary { height: 1; padding: 0 1; }
    """

    BINDINGS = [
        Binding("p", "propose", "Major case from topic", id="insight.topic_propose"),
        Binding("l", "link", "Link to major case", id="insight.topic_link"),
    ]

    class ProposeRequested(Message):
        """Propose a major case from a topic (``insight.propose_from_topic``)."""

        def __init__(self, topic: TopicView) -> None:
            super().__init__()
            self.topic = topic

    class LinkRequested(Message):
        """Link a topic's cases to a major case the screen asks for (``insight.link_topic``)."""

        def __init__(self, topic: TopicView) -> None:
            super().__init__()
            self.topic = topic

    def __init__(self, *, max_rows: int = 200, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.max_rows = max_rows
        self.topics: dict[int, TopicView] = {}

    def compose(self) -> ComposeResult:
        yield Static("No topics yet", id="topics-summary")
        yield SafeTable(
            [
                ("trend", "Trend", 10),
                ("recent", "Recent", 6),
                ("baseline", "Before", 6),
                ("growth", "Growth", 7),
                ("accounts", "Accts", 5),
                ("open", "Open", 5),
                ("terms", "Top terms"),
            ],
            max_rows=self.max_rows,
            id="topics-table",
        )

    @property
    def table(self) -> SafeTable:
        return self.query_one("#topics-table", SafeTable)

    def show(self, view: TopicsView) -> None:
        topics = {t.id: t for t in view.topics[: self.max_rows]}
        rising = sum(1 for t in topics.values() if t.rising)
        self.query_one("#topics-summary", Static).update(
            Text(
                f"{counted(len(topics), 'topic')} from {counted(view.cases, 'inbound case')} · {rising} rising"
                " · recent since "
                f"{format_time(view.recent_start)}"
            )
        )
        table = self.table
        table.remove_rows([k for k in self.topics if k not in topics])
        table.upsert_rows(
            {
                t.id: (
                    f"{_glyph('▲', '^')} rising" if t.rising else f"{_glyph('·', '-')} steady",
                    t.recent,
                    t.baseline,
                    f"{t.growth:g}×",
                    t.accounts,
                    len(t.case_ids),
                    one_line(t.label, 80),
                )
                for t in topics.values()
            }
        )
        self.topics = topics

    @property
    def current(self) -> TopicView | None:
        key = self.table.cursor_key
        return self.topics.get(key) if isinstance(key, int) else None

    def action_propose(self) -> None:
        if (topic := self.current) is not None:
            self.post_message(self.ProposeRequested(topic))

    def action_link(self) -> None:
        if (topic := self.current) is not None:
            self.post_message(self.LinkRequested(topic))


# --- likely affected --------------------------------------------------------------------------


class LikelyAffected(Vertical):
    """Accounts likely affected too, by severity × likelihood, each explained."""

    DEFAULT_CSS = """
    LikelyAffected { height: 1fr; }
    LikelyAffected #likely-factors { height: auto; max-height: 5; padding: 0 1; }
    LikelyAffected #likely-explain { height: auto; max-height: 3; padding: 0 1; }
    """

    BINDINGS = [
        Binding("m", "mark", "Mark", id="insight.likely_mark"),
        Binding("r", "add", "Add marked to recipients", id="insight.likely_add"),
    ]

    class AddRequested(Message):
        """Add these accounts to the major case's recipients (``insight.add_likely_accounts``)."""

        def __init__(self, major_case_id: int, account_numbers: tuple[str, ...]) -> None:
            super().__init__()
            self.major_case_id = major_case_id
            self.account_numbers = account_numbers

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.view: LikelyAffectedView | None = None
        self.marked: set[int] = set()
        self._numbers: dict[int, str] = {}
        self._explain: dict[int, str] = {}

    def compose(self) -> ComposeResult:
        yield Static("", id="likely-factors")
        yield SafeTable(
            [
                ("mark", "", 2),
                ("account", "Account", 12),
                ("name", "Name", 20),
                ("tier", "Tier", 9),
                ("likely", "Likely", 6),
                ("score", "Score", 6),
                ("factors", "Shares"),
            ],
            max_rows=500,
            id="likely-table",
        )
        yield Static("", id="likely-explain")

    @property
    def table(self) -> SafeTable:
        return self.query_one("#likely-table", SafeTable)

    def show(self, view: LikelyAffectedView) -> None:
        self.view = view
        lines = Text(f"{view.known_accounts} known-affected of {view.population} accounts; ", no_wrap=False)
        if view.factors:
            lines.append("they share: ")
            lines.append(
                "; ".join(
                    f"{one_line(f.label, 40)} ({f.affected_with}/{f.affected} vs {f.base_with}/{f.base}, ×{f.lift:g})"
                    for f in view.factors
                )
            )
            lines.append(f"\n{view.total} other accounts share something")
        else:
            lines.append("nothing they share stands out from the install base")
        self.query_one("#likely-factors", Static).update(lines)
        rows = {a.account_id: a for a in view.accounts}
        table = self.table
        table.remove_rows([k for k in self._numbers if k not in rows])
        self.marked &= set(rows)
        table.upsert_rows(
            {
                a.account_id: (
                    self._mark(a.account_id),
                    a.number,
                    a.name,
                    a.tier,
                    f"{a.likelihood:.0%}",
                    f"{a.score:.2f}",
                    "; ".join(a.factors),
                )
                for a in rows.values()
            }
        )
        self._numbers = {a.account_id: a.number for a in rows.values()}
        self._explain = {a.account_id: a.explanation for a in rows.values()}
        self._show_explanation()

    def _mark(self, account_id: int) -> str:
        return _glyph("✓", "x") if account_id in self.marked else ""

    def _show_explanation(self) -> None:
        key = self.table.cursor_key
        text = self._explain.get(key, "") if isinstance(key, int) else ""
        self.query_one("#likely-explain", Static).update(Text(one_line(text, 400), no_wrap=False))

    def on_data_table_row_highlighted(self) -> None:
        self._show_explanation()

    def action_mark(self) -> None:
        key = self.table.cursor_key
        if not isinstance(key, int):
            return
        self.marked ^= {key}
        self.table.update_cell(SafeTable._key(key), "mark", self._mark(key))

    def action_add(self) -> None:
        view = self.view
        if view is None or view.major_case_id is None:
            self.notify("Open the likely list from a major case to add accounts to it", severity="warning")
            return
        if not self.marked:
            self.notify("Mark accounts with m first", severity="warning")
            return
        numbers = tuple(self._numbers[k] for k in self.table.row_keys() if k in self.marked)
        self.post_message(self.AddRequested(view.major_case_id, numbers))
