"""Insight widgets in a tiny App: intake banner → attach, recommendation → propose, topics and
likely accounts → their messages; untrusted text shown literally."""

from __future__ import annotations

from datetime import UTC, datetime

from textual.app import App, ComposeResult
from textual.message import Message
from textual.widgets import Static

from pcso_tui.domain.casework.views import (
    KnownOutageView,
    LikelyAccountView,
    LikelyAffectedView,
    LikelyFactor,
    Recommendation,
    TopicsView,
    TopicView,
)
from pcso_tui.widgets.insight import LikelyAffected, RecommendationPanel, TrendingTopics

AT = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
HOSTILE = "[bold]Mal[/ \x1b[2J"


class InsightApp(App[None]):
    def __init__(self) -> None:
        super().__init__()
        self.received: list[Message] = []

    def compose(self) -> ComposeResult:
        yield RecommendationPanel(id="rec")
        yield TrendingTopics(id="topics")
        yield LikelyAffected(id="likely")

    def on_recommendation_panel_attach_requested(self, m: RecommendationPanel.AttachRequested) -> None:
        self.received.append(m)

    def on_recommendation_panel_propose_requested(self, m: RecommendationPanel.ProposeRequested) -> None:
        self.received.append(m)

    def on_trending_topics_propose_requested(self, m: TrendingTopics.ProposeRequested) -> None:
        self.received.append(m)

    def on_trending_topics_link_requested(self, m: TrendingTopics.LinkRequested) -> None:
        self.received.append(m)

    def on_likely_affected_add_requested(self, m: LikelyAffected.AddRequested) -> None:
        self.received.append(m)


def known(statement: str = "We are restoring mail; next update 10:00") -> KnownOutageView:
    return KnownOutageView(
        major_case_id=7,
        number="CS0000007",
        short_description=f"Mail delayed {HOSTILE}",
        state="open",
        matched_by="account",
        statement=statement,
        statement_at=AT,
        eta=AT.replace(hour=11),
        affected_accounts=40,
        deflected=3,
    )


def recommendation(action: str, **kw) -> Recommendation:
    return Recommendation(
        case_id=42,
        case_number="CS0000042",
        action=action,
        headline=kw.pop("headline", f"{action} headline"),
        reasons=("12 cases from 4 accounts", f"shared terms: vpn, {HOSTILE}"),
        window_start=AT,
        **kw,
    )


def plain(app: App, selector: str) -> str:
    return str(app.query_one(selector, Static).render())


async def test_intake_banner_shows_statement_and_eta_and_a_attaches_the_call() -> None:
    app = InsightApp()
    async with app.run_test(size=(100, 30)) as pilot:
        panel = app.query_one(RecommendationPanel)
        panel.show(recommendation("none", known_outages=(known(f"Restoring {HOSTILE}"),)))
        panel.focus()
        await pilot.pause()
        banner = plain(app, "#insight-banner")
        assert "Known outage CS0000007" in banner and "ETA" in banner
        assert f"Restoring {HOSTILE}".replace("\x1b", "\\x1b") in banner
        assert "[bold]Mal[/" in banner
        await pilot.press("p")  # nothing to propose: no message
        await pilot.press("a")
        await pilot.pause()
        [message] = app.received
        assert isinstance(message, RecommendationPanel.AttachRequested)
        assert (message.case_id, message.major_case_id, message.known_outage) == (42, 7, True)


async def test_a_propose_recommendation_posts_the_group() -> None:
    app = InsightApp()
    async with app.run_test(size=(100, 30)) as pilot:
        panel = app.query_one(RecommendationPanel)
        panel.show(
            recommendation(
                "propose",
                proposed_title="Reported by 4 accounts: vpn, tunnel",
                case_ids=(42, 43, 44),
                accounts=("ACC-1", "ACC-2", "ACC-3", "ACC-4"),
            )
        )
        panel.focus()
        await pilot.pause()
        assert "propose" in plain(app, "#insight-headline")
        assert "shared terms: vpn, [bold]Mal[/" in plain(app, "#insight-reasons")
        await pilot.press("a")  # no known outage, not an attach recommendation: nothing
        await pilot.press("p")
        await pilot.pause()
        [message] = app.received
        assert isinstance(message, RecommendationPanel.ProposeRequested)
        assert message.case_ids == (42, 43, 44) and message.title.startswith("Reported by 4 accounts")


async def test_an_attach_recommendation_asks_for_a_manager_attach() -> None:
    app = InsightApp()
    async with app.run_test(size=(100, 30)) as pilot:
        panel = app.query_one(RecommendationPanel)
        panel.show(recommendation("attach", major_case_id=9, major_short_description="VPN outage"))
        panel.focus()
        await pilot.press("a")
        await pilot.pause()
        [message] = app.received
        assert (message.major_case_id, message.known_outage) == (9, False)


def topic(tid: int, rising: bool, label: str) -> TopicView:
    return TopicView(
        id=tid,
        label=label,
        top_terms=tuple(label.split(", ")),
        size=9,
        recent=8 if rising else 1,
        baseline=1 if rising else 7,
        expected=0.14 if rising else 1.0,
        growth=7.9 if rising else 1.0,
        rising=rising,
        accounts=4,
        first_at=AT,
        last_at=AT,
        case_ids=(tid, tid + 1),
    )


async def test_topics_show_rising_by_word_and_post_propose_and_link() -> None:
    app = InsightApp()
    async with app.run_test(size=(100, 30)) as pilot:
        widget = app.query_one(TrendingTopics)
        widget.show(
            TopicsView(
                recent_start=AT,
                baseline_start=AT,
                cases=17,
                topics=(topic(10, True, f"checkout, {HOSTILE}"), topic(20, False, "printer, offline")),
            )
        )
        await pilot.pause()
        table = widget.table
        assert table.row_plain(10)[0].endswith("rising") and table.row_plain(20)[0].endswith("steady")
        assert "[bold]Mal[/" in table.row_plain(10)[6] and "\x1b" not in table.row_plain(10)[6]
        table.focus()
        await pilot.press("p")
        await pilot.press("down", "l")
        await pilot.pause()
        first, second = app.received
        assert isinstance(first, TrendingTopics.ProposeRequested) and first.topic.id == 10
        assert isinstance(second, TrendingTopics.LinkRequested) and second.topic.id == 20

        # A refresh updates by key: a gone topic leaves, the cursor's row stays.
        widget.show(TopicsView(recent_start=AT, baseline_start=AT, cases=9, topics=(topic(20, False, "printer"),)))
        await pilot.pause()
        assert table.row_keys() == [20]


async def test_likely_accounts_are_marked_and_added_with_their_explanation() -> None:
    factor = LikelyFactor("characteristic", "version", "4.2", 6, 6, 13, 120, 9.2, 1e-7, 2.9)
    accounts = tuple(
        LikelyAccountView(
            account_id=i,
            number=f"ACC-{i}",
            name=f"Name {HOSTILE}" if i == 1 else f"Name {i}",
            tier="gold",
            region="eu",
            severity=4,
            likelihood=0.5 / i,
            score=2 / i,
            factors=("version = 4.2",),
            explanation=f"version = 4.2 (6/6 affected vs 13/120 accounts, ×9.2) → likelihood {50 // i}%",
        )
        for i in (1, 2, 3)
    )
    view = LikelyAffectedView(7, "CS0000007", 6, 120, (factor,), 3, 0, accounts)
    app = InsightApp()
    async with app.run_test(size=(100, 30)) as pilot:
        widget = app.query_one(LikelyAffected)
        widget.show(view)
        widget.table.focus()
        await pilot.pause()
        assert "version = 4.2 (6/6 vs 13/120" in plain(app, "#likely-factors")
        assert "likelihood 50%" in plain(app, "#likely-explain")
        assert "[bold]Mal[/" in widget.table.row_plain(1)[2]
        await pilot.press("m", "down", "down", "m")
        await pilot.pause()
        assert "likelihood 16%" in plain(app, "#likely-explain")
        await pilot.press("r")
        await pilot.pause()
        [message] = app.received
        assert isinstance(message, LikelyAffected.AddRequested)
        assert (message.major_case_id, message.account_numbers) == (7, ("ACC-1", "ACC-3"))
