"""The customer portal: outages, cases and articles of ONE account; the customer replies here.

Three views (keys 1, 2, 3; ``v`` cycles): **Outages** touching the account (status by glyph and
word, the latest statement, ETA and workaround articles in the detail pane), **Cases** of the
account (with their customer-visible updates in the detail pane; ``r`` replies on the selected
case), **Articles** (customer-visible workarounds). Everything comes from ``domain.portal``,
which scopes every query to the account: this screen never sees a row of another account.

Staff preview: ``PortalScreen(preview_account="ACC-1")`` shows what that account sees, read-only
(agents, managers and admins; the domain checks). Other screens push it; ``Esc`` closes it when
pushed. ``pcso portal --preview ACC-1`` opens the workspace on it. ``r`` is refused with a line.

Live: any event (except alerts) asks for one debounced re-query of the scoped lists, so what an
event says is never shown as such — only what the account's own queries return.
Untrusted text (titles, statements, replies, article bodies) goes in as ``Content``, literally.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial
from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.widgets import ContentSwitcher, DataTable, Input, Label, Static

from pcso_tui.domain.casework.views import PortalAccount, PortalArticle, PortalCase, PortalCaseDetail
from pcso_tui.domain.communications.views import PublicOutage
from pcso_tui.domain.core.event_kinds import NOTICE_KINDS
from pcso_tui.domain.core.text import one_line, printable
from pcso_tui.domain.core.views import EventView
from pcso_tui.screens.base import ModeScreen
from pcso_tui.screens.incident_dialogs import FormDialog
from pcso_tui.screens.modes import MODES, Mode
from pcso_tui.widgets.cells import format_time, use_ascii
from pcso_tui.widgets.feed import EventsArrived
from pcso_tui.widgets.palette import PaletteCommand
from pcso_tui.widgets.safe_table import SafeTable

VIEWS = ("outages", "cases", "articles")
VIEW_TITLES = {"outages": "Outages", "cases": "Cases", "articles": "Articles"}
REFRESH_DELAY = 0.15
MAX_REPLY = 10_000
PREVIEW_REFUSAL = "Preview is read-only: only the account's own users reply on its cases"

_STATUS = {
    "active": ("▲", "^", "$error"),
    "planned": ("◷", "~", "$warning"),
    "past": ("✔", "+", "$success"),
}
_STATE = {
    "new": ("○", "o"),
    "open": ("◐", "*"),
    "awaiting_info": ("?", "?"),
    "resolved": ("✔", "+"),
    "closed": ("■", "#"),
    "canceled": ("✖", "x"),
}


def status_label(status: str) -> str:
    """``▲ active``: glyph and word (never colour alone)."""
    glyph, plain, _ = _STATUS.get(status, ("·", ".", ""))
    return f"{plain if use_ascii() else glyph} {one_line(status, 12)}"


def state_label(state: str) -> str:
    glyph, plain = _STATE.get(state, ("·", "."))
    return f"{plain if use_ascii() else glyph} {one_line(state.replace('_', ' '), 16)}"


def _when(value: datetime | None) -> str:
    return format_time(value) if value is not None else "—"


def _body(text: str | None) -> Content:
    return Content(printable(text or "", multiline=True))


def _line(*parts: tuple[str, str] | str) -> Content:
    """One line of the detail pane from (text, style) parts; every text is one_line'd data."""
    return Content.assemble(*((one_line(p[0]), p[1]) if isinstance(p, tuple) else one_line(p) for p in parts))


# Events that may change what the portal shows (cases, statements, outages, articles, incident
# ETAs); alert traffic and notice deliveries never do.
_LIVE_SUBJECTS = frozenset({"case", "outage", "article", "incident"})


def _may_concern_the_portal(event: EventView) -> bool:
    return event.subject_type in _LIVE_SUBJECTS and event.kind not in NOTICE_KINDS


@dataclass(frozen=True, slots=True)
class Reply:
    body: str


class ReplyDialog(FormDialog[Reply]):
    """The customer's reply on one of their cases."""

    HINT = "Enter sends · Esc cancels"

    def compose_fields(self) -> ComposeResult:
        yield Label("Your reply (the support team reads it on the case)", classes="form-label")
        yield Input(id="body", placeholder="what you see, or an answer to our question", max_length=MAX_REPLY)

    def collect(self) -> Reply | None:
        body = self.value("body").strip()
        if not body:
            self.show_error("the reply is empty")
            return None
        return Reply(body)


class PortalScreen(ModeScreen):
    MODE = "portal"
    COALESCE_SECONDS: ClassVar[float] = REFRESH_DELAY

    DEFAULT_CSS = """
    PortalScreen #portal-bar {
        height: 1;
    }
    PortalScreen .portal-table {
        height: 8;
    }
    PortalScreen .portal-detail {
        height: 1fr;
        border-top: solid $primary-darken-2;
    }
    PortalScreen .portal-detail Static {
        height: auto;
    }
    """

    BINDINGS = [
        # The view keys are shown in the bar above the views (and in help), not the footer.
        Binding("1", "show_view('outages')", "Outages", show=False, id="portal.view.outages"),
        Binding("2", "show_view('cases')", "Cases", show=False, id="portal.view.cases"),
        Binding("3", "show_view('articles')", "Articles", show=False, id="portal.view.articles"),
        Binding("v", "next_view", "Next view", show=False, id="portal.view.next"),
        Binding("r", "reply", "Reply", tooltip="Reply on the selected case", id="portal.reply"),
        Binding("ctrl+r", "refresh", "Refresh", show=False, id="portal.refresh"),
        Binding("escape", "close_preview", "Close preview", id="portal.close"),
    ]

    def __init__(self, preview_account: str | None = None) -> None:
        super().__init__()
        self.preview_account = preview_account
        self.current_view = "outages"
        self.account: PortalAccount | None = None
        self.outages: dict[int, PublicOutage] = {}
        self.cases: dict[int, PortalCase] = {}
        self.articles: dict[int, PortalArticle] = {}
        self.case_detail: PortalCaseDetail | None = None
        self.lists = self.work.refresh("lists", self._load, group="portal-load")

    # --- frame ---------------------------------------------------------------------------------

    @property
    def mode(self) -> Mode:
        base = MODES[self.MODE]
        return replace(base, title="Portal preview") if self.preview_account else base

    @property
    def preview(self) -> bool:
        return self.preview_account is not None

    def compose_body(self) -> ComposeResult:
        yield Static(self._bar(), id="portal-bar")
        with ContentSwitcher(initial="outages-view"):
            with Vertical(id="outages-view"):
                yield SafeTable(
                    [("status", "Status", 11), ("type", "Type", 11), ("service", "Service", 14), ("title", "Outage")],
                    max_rows=1000,
                    id="outage-table",
                    classes="portal-table",
                )
                with VerticalScroll(classes="portal-detail", id="outage-detail-pane"):
                    yield Static(Content("No outage selected."), id="outage-detail")
            with Vertical(id="cases-view"):
                yield SafeTable(
                    [("number", "Case", 9), ("state", "State", 16), ("updated", "Updated", 16), ("title", "Subject")],
                    max_rows=1000,
                    id="case-table",
                    classes="portal-table",
                )
                with VerticalScroll(classes="portal-detail", id="case-detail-pane"):
                    yield Static(Content("No case selected."), id="case-detail")
            with Vertical(id="articles-view"):
                yield SafeTable(
                    [("number", "Article", 11), ("kind", "Kind", 10), ("title", "Title")],
                    max_rows=1000,
                    id="article-table",
                    classes="portal-table",
                )
                with VerticalScroll(classes="portal-detail", id="article-detail-pane"):
                    yield Static(Content("No article selected."), id="article-detail")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#outage-table", SafeTable).focus()
        self.request()

    def table(self, view: str) -> SafeTable:
        return self.query_one(f"#{view[:-1]}-table", SafeTable)

    def _bar(self) -> Content:
        parts: list[tuple[str, str] | str] = []
        if self.account is not None:
            parts += [(self.account.number, "bold"), " · ", (one_line(self.account.name, 24), "")]
        elif self.preview_account:
            parts += [(self.preview_account, "bold")]
        if self.preview:
            parts += ["  ", ("PREVIEW read-only", "reverse")]
        parts.append("   ")
        for index, view in enumerate(VIEWS, 1):
            label = f"{index} {VIEW_TITLES[view]}"
            parts += [(label, "bold underline" if view == self.current_view else "$text-muted"), "  "]
        return _line(*parts)

    def _refresh_bar(self) -> None:
        self.query_one("#portal-bar", Static).update(self._bar())

    # --- loading -------------------------------------------------------------------------------

    def request(self, *, delay: float = 0.0) -> None:
        """Re-query the lists (and the open case) soon; a burst of requests makes one load."""
        self.lists.request(delay=delay)

    async def _load(self) -> None:
        from pcso_tui.domain.casework import portal

        domain, actor, account = self.session.domain, self.session.actor, self.preview_account
        scope = await self.work.call(portal.portal_account(domain, actor, account=account))
        outages = await self.work.call(portal.list_outages(domain, actor, account=account))
        cases = await self.work.call(portal.list_cases(domain, actor, account=account))
        articles = await self.work.call(portal.list_articles(domain, actor, account=account))
        self.account = scope
        self._refresh_bar()
        self._show_outages(outages)
        self._show_cases(cases)
        self._show_articles(articles)
        self._show_case(await self.work.call(self._fetch_case()))
        self.work.loaded("portal-load")

    def _sync(self, table: SafeTable, rows: dict[Hashable, tuple[Any, ...]]) -> None:
        gone = [k for k in table.row_keys() if k not in rows]
        table.remove_rows(gone)
        table.upsert_rows(rows)

    def _show_outages(self, outages: list[PublicOutage]) -> None:
        self.outages = {o.id: o for o in outages}
        self._sync(
            self.table("outages"),
            {o.id: (status_label(o.status), o.type, o.service, o.title) for o in outages},
        )
        self._show_outage_detail()

    def _show_cases(self, cases: list[PortalCase]) -> None:
        self.cases = {c.id: c for c in cases}
        self._sync(
            self.table("cases"),
            {c.id: (c.number, state_label(c.state), c.updated_at, c.short_description) for c in cases},
        )

    def _show_articles(self, articles: list[PortalArticle]) -> None:
        self.articles = {a.id: a for a in articles}
        self._sync(self.table("articles"), {a.id: (a.number, a.kind, a.title) for a in articles})
        self._show_article_detail()

    def selected(self, view: str) -> Any:
        key = self.table(view).cursor_key
        rows: dict[str, dict[int, Any]] = {"outages": self.outages, "cases": self.cases, "articles": self.articles}
        return rows[view].get(key) if isinstance(key, int) else None

    # --- detail panes --------------------------------------------------------------------------

    def _show_outage_detail(self) -> None:
        outage: PublicOutage | None = self.selected("outages")
        pane = self.query_one("#outage-detail", Static)
        if outage is None:
            pane.update(Content("No outages touch this account." if not self.outages else "No outage selected."))
            return
        lines = [
            _line((outage.number, "bold"), "  ", (status_label(outage.status), "bold"), f"  {outage.type}"),
            _line(("Service ", "$text-muted"), outage.service),
            _line((outage.title, "bold")),
            _line(
                ("Began ", "$text-muted"),
                _when(outage.begins_at),
                ("  Ends ", "$text-muted"),
                _when(outage.ends_at),
                ("  ETA ", "$text-muted"),
                _when(outage.eta),
            ),
        ]
        if outage.details:
            lines += [Content(""), _body(outage.details)]
        if outage.resolution:
            lines += [Content(""), _line((f"Resolved · {_when(outage.resolved_at)}", "bold"))]
            lines.append(_body(outage.resolution))
        if outage.statement:
            lines += [Content(""), _line((f"Latest statement · {_when(outage.statement_at)}", "bold"))]
            lines.append(_body(outage.statement))
        for article in outage.articles:
            lines += [Content(""), _line(("Workaround ", "bold"), article.number, " · ", (article.title, "bold"))]
            lines.append(_body(article.body))
        pane.update(Content("\n").join(lines))

    def _show_article_detail(self) -> None:
        article: PortalArticle | None = self.selected("articles")
        pane = self.query_one("#article-detail", Static)
        if article is None:
            pane.update(Content("No articles for this account." if not self.articles else "No article selected."))
            return
        lines = [
            _line(
                (article.number, "bold"), "  ", article.kind, ("  updated ", "$text-muted"), _when(article.updated_at)
            ),
            _line((article.title, "bold")),
        ]
        if article.outage_numbers:
            lines.append(_line(("For ", "$text-muted"), ", ".join(article.outage_numbers)))
        lines += [Content(""), _body(article.body)]
        pane.update(Content("\n").join(lines))

    async def _fetch_case(self) -> PortalCaseDetail | None:
        from pcso_tui.domain.casework import portal

        case: PortalCase | None = self.selected("cases")
        if case is None:
            return None
        return await portal.get_case(self.session.domain, self.session.actor, case.id, account=self.preview_account)

    def _show_case(self, detail: PortalCaseDetail | None) -> None:
        self.case_detail = detail
        self._show_case_detail()

    def _show_case_detail(self) -> None:
        pane = self.query_one("#case-detail", Static)
        detail = self.case_detail
        if detail is None:
            pane.update(Content("No cases for this account." if not self.cases else "No case selected."))
            return
        case = detail.case
        lines = [
            _line(
                (case.number, "bold"), "  ", (state_label(case.state), "bold"), f"  {case.kind}  {case.priority_name}"
            ),
            _line((case.short_description, "bold")),
            _line(
                ("Opened ", "$text-muted"), _when(case.opened_at), ("  Updated ", "$text-muted"), _when(case.updated_at)
            ),
        ]
        if detail.product_name or detail.contact_name:
            lines.append(
                _line(
                    ("Product ", "$text-muted"),
                    detail.product_name or "—",
                    ("  Contact ", "$text-muted"),
                    detail.contact_name or "—",
                )
            )
        if detail.description:
            lines += [Content(""), _body(detail.description)]
        if detail.resolution_notes:
            lines += [Content(""), _line(("Resolution", "bold")), _body(detail.resolution_notes)]
        hidden = detail.updates_total - len(detail.updates)
        lines += [Content(""), _line((f"Updates ({detail.updates_total})", "bold"))]
        if hidden > 0:
            lines.append(_line((f"{hidden} older updates not shown", "$text-muted")))
        if not detail.updates:
            lines.append(_line(("No updates yet.", "$text-muted")))
        for update in detail.updates:
            lines.append(
                _line((_when(update.at), "$text-muted"), "  ", (update.label, "bold"), " · ", update.author_name)
            )
            lines.append(_body(update.body))
        for article in detail.articles:
            lines += [Content(""), _line(("Workaround ", "bold"), article.number, " · ", (article.title, "bold"))]
            lines.append(_body(article.body))
        if not detail.open_for_replies:
            lines += [Content(""), _line((f"This case is {case.state}: it takes no more replies.", "$text-muted"))]
        pane.update(Content("\n").join(lines))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        table = event.data_table
        if table.id == "outage-table":
            self._show_outage_detail()
        elif table.id == "article-table":
            self._show_article_detail()
        elif table.id == "case-table":
            case = self.selected("cases")
            if self.case_detail is None or case is None or self.case_detail.case.id != case.id:
                self.work.load(self._fetch_case, self._show_case, group="portal-case")

    # --- views and keys ------------------------------------------------------------------------

    def action_show_view(self, view: str) -> None:
        if view not in VIEWS:
            return
        self.current_view = view
        self.query_one(ContentSwitcher).current = f"{view}-view"
        self.table(view).focus()
        self._refresh_bar()
        self.refresh_bindings()

    def action_next_view(self) -> None:
        self.action_show_view(VIEWS[(VIEWS.index(self.current_view) + 1) % len(VIEWS)])

    def action_refresh(self) -> None:
        self.request()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "close_preview":
            return self.preview and self.app.screen is self and len(self.app.screen_stack) > 1
        if action == "reply":
            # On the cases view; in a preview too, where the key says why it does nothing.
            return self.current_view == "cases"
        return True

    def action_close_preview(self) -> None:
        if self.preview and len(self.app.screen_stack) > 1:
            self.dismiss()

    def action_reply(self) -> None:
        if self.preview:
            self.notify(PREVIEW_REFUSAL, title="Read-only", severity="warning", markup=False)
            return
        case: PortalCase | None = self.selected("cases")
        if case is None:
            self.notify("No case selected: choose one of your cases first", severity="warning", markup=False)
            return
        detail = self.case_detail
        if detail is not None and detail.case.id == case.id and not detail.open_for_replies:
            self.notify(f"{case.number} is {case.state} and takes no more replies", severity="warning", markup=False)
            return
        context = _line((case.number, "bold"), "  ", case.short_description)

        def done(reply: Reply | None) -> None:
            if reply is not None:
                self._reply(case, reply.body)

        self.app.push_screen(ReplyDialog(f"Reply on {case.number}", context), done)

    def _reply(self, case: PortalCase, body: str) -> None:
        from pcso_tui.domain.casework import portal

        call = portal.reply_to_case(self.session.domain, self.session.actor, case.id, body)
        self.work.run_command(call, lambda _: self._replied(case), group="portal-reply")

    def _replied(self, case: PortalCase) -> None:
        self.notify(f"Reply sent on {case.number}", markup=False)
        self.work.wake_feed()
        self.request()

    def palette_commands(self) -> Iterable[PaletteCommand]:
        for view in VIEWS:
            if view != self.current_view:
                yield PaletteCommand(
                    f"Portal: {VIEW_TITLES[view]}", f"Show the {view} view", partial(self.action_show_view, view)
                )
        if self.current_view == "cases" and not self.preview:
            yield PaletteCommand("Portal: Reply", "Reply on the selected case", self.action_reply)
        if self.check_action("close_preview", ()):
            yield PaletteCommand("Portal: Close preview", "Back to the screen below", self.action_close_preview)

    # --- live ----------------------------------------------------------------------------------

    def on_events_arrived(self, message: EventsArrived) -> None:
        # Only a cue to re-query the account's own lists: nothing of the event is shown.
        if any(_may_concern_the_portal(event) for event in message.events):
            self.request(delay=self.COALESCE_SECONDS)


class PreviewScreen(PortalScreen):
    """What ``account`` sees in the portal, for staff, read-only (push it; Esc closes it)."""

    def __init__(self, account: str) -> None:
        super().__init__(preview_account=account)
