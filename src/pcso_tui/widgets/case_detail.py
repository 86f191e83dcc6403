"""``CaseDetailView``: one case, for staff — what it is, its incident and alert, the accounts
and install base items it affects, and its journal with work notes and customer-visible
comments kept apart and labelled.

    detail = CaseDetailView(id="case-detail")
    detail.show(await app.domain_call(get_case(domain, actor, case_id)))

An empty ``#recommendations`` container sits under the summary for recommendation widgets
(zero lines high while empty). Tables update by row key. Every value is shown literally.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.widgets import Static

from pcso_tui.domain.casework.views import CaseDetail, CaseView, JournalLineView
from pcso_tui.domain.core.text import one_line, printable
from pcso_tui.widgets.cells import format_time, severity_label, use_ascii
from pcso_tui.widgets.safe_table import SafeTable

STATE_GLYPHS = {
    "new": "○",
    "open": "●",
    "awaiting_info": "◐",
    "resolved": "✔",
    "closed": "■",
    "canceled": "✖",
    # incidents
    "in_progress": "◑",
    "on_hold": "◌",
}
ASCII_STATE_GLYPHS = {
    "new": "o",
    "open": "*",
    "awaiting_info": "~",
    "resolved": "+",
    "closed": "#",
    "canceled": "x",
    "in_progress": "*",
    "on_hold": "~",
}
MAJOR_WORDS = {
    "none": "",
    "proposed": "◇ proposed",
    "accepted": "◆ major",
    "rejected": "rejected",
    "cancelled": "withdrawn",
}
ASCII_MAJOR_WORDS = {"proposed": "? proposed", "accepted": "* major"}


def state_label(state: str) -> str:
    """``● open``: glyph and word."""
    glyphs = ASCII_STATE_GLYPHS if use_ascii() else STATE_GLYPHS
    return f"{glyphs.get(state, '?')} {one_line(state, 16)}"


def major_label(major_case_state: str) -> str:
    word = MAJOR_WORDS.get(major_case_state, one_line(major_case_state, 16))
    if use_ascii():
        word = ASCII_MAJOR_WORDS.get(major_case_state, word)
    return word


def age_label(seconds: int) -> str:
    """``45s``, ``12m``, ``3h``, ``2d``."""
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"


def _when(value: datetime | None) -> str:
    return format_time(value, "%m-%d %H:%M") if value is not None else "—"


def _muted(text: str) -> tuple[str, str]:
    return (text, "$text-muted")


def summary_content(detail: CaseDetail) -> Content:
    case = detail.case
    rows: list[Content] = [
        Content.assemble(
            (case.number, "bold"),
            _muted(f"  {case.kind} · "),
            state_label(case.state),
            _muted(f" · P{case.priority} {case.priority_name}"),
            _muted(f" · {major_label(case.major_case_state)}") if major_label(case.major_case_state) else "",
            _muted(f" · child of {case.parent_number}") if case.parent_number else "",
        ),
        Content(one_line(case.short_description)),
    ]
    if case.account_number:
        rows.append(
            Content.assemble(
                _muted("Account "),
                one_line(case.account_number),
                " ",
                one_line(case.account_name or ""),
                _muted("  contact ") if detail.contact_name else "",
                one_line(detail.contact_name or ""),
            )
        )
    if detail.incident is not None:
        inc = detail.incident
        rows.append(
            Content.assemble(
                _muted("Incident "),
                (inc.number, "bold"),
                _muted(" · "),
                state_label(inc.state),
                _muted(" · "),
                severity_label(inc.severity),
                _muted(f" · ETA {_when(inc.eta)}  "),
                one_line(inc.title),
            )
        )
    if detail.alert is not None:
        alert = detail.alert
        rows.append(
            Content.assemble(
                _muted(f"Alert {alert.id} "),
                one_line(alert.name),
                _muted(" · "),
                severity_label(alert.severity),
                _muted(f" · {one_line(alert.state, 12)} · "),
                one_line(alert.ci_key or "no CI"),
                _muted("  "),
                one_line(alert.summary),
            )
        )
    if detail.propose_reason:
        rows.append(
            Content.assemble(
                _muted(
                    f"Proposed {_when(detail.proposed_at)} by {one_line(detail.proposed_by or 'the workflow rule')}: "
                ),
                # The workflow rule's reasons start "rule:"; after "by the workflow rule:" once is enough.
                one_line(detail.propose_reason if detail.proposed_by else detail.propose_reason.removeprefix("rule: ")),
            )
        )
    if detail.business_impact:
        rows.append(Content.assemble(_muted("Business impact: "), one_line(detail.business_impact)))
    if detail.reject_reason and case.major_case_state == "rejected":
        rows.append(Content.assemble(_muted("Rejected: "), one_line(detail.reject_reason)))
    if detail.resolution_code:
        rows.append(
            Content.assemble(
                _muted("Resolution "), one_line(detail.resolution_code), _muted(": "), one_line(detail.resolution_notes)
            )
        )
    if detail.children_total or detail.notices_by_state:
        children = ", ".join(f"{n} {s}" for s, n in sorted(detail.children_by_state.items())) or "none"
        notices = ", ".join(f"{n} {s}" for s, n in sorted(detail.notices_by_state.items())) or "none"
        rows.append(Content.assemble(_muted(f"Children {detail.children_total}: "), children))
        rows.append(Content.assemble(_muted("Notices: "), notices))
    return Content("\n").join(rows)


def journal_content(lines: Iterable[JournalLineView], empty: str) -> Content:
    parts: list[Content] = []
    for line in lines:
        parts.append(
            Content.assemble(
                _muted(format_time(line.at, "%m-%d %H:%M") + " "),
                (one_line(line.author_name, 24), "bold"),
                _muted(f"  [{line.label}]"),
            )
        )
        for text in printable(line.body, multiline=True).splitlines() or [""]:
            parts.append(Content.assemble(_muted("  "), Content(text)))
    if not parts:
        return Content.assemble(_muted(empty))
    return Content("\n").join(parts)


class CaseDetailView(VerticalScroll):
    DEFAULT_CSS = """
    CaseDetailView {
        height: 1fr;
    }
    CaseDetailView #detail-sections {
        height: auto;
    }
    CaseDetailView #detail-sections.-empty {
        display: none;
    }
    CaseDetailView .detail-heading {
        height: 1;
        margin: 1 0 0 0;
        text-style: bold;
        color: $text-accent;
    }
    CaseDetailView Static {
        height: auto;
    }
    CaseDetailView > #recommendations {
        height: auto;
    }
    CaseDetailView SafeTable {
        height: auto;
        max-height: 8;
    }
    """

    def __init__(self, *, name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.detail: CaseDetail | None = None

    def compose(self) -> ComposeResult:
        yield Static(Content.assemble(_muted("No case selected.")), id="detail-summary")
        yield Vertical(id="recommendations")
        with Vertical(id="detail-sections", classes="-empty"):
            yield Static("", id="detail-accounts-heading", classes="detail-heading")
            yield SafeTable(
                [
                    ("number", "Account"),
                    ("name", "Name"),
                    ("source", "Source"),
                    ("contact", "Contact"),
                    ("channel", "Channel"),
                    ("child", "Child case"),
                ],
                id="detail-accounts",
                max_rows=1000,
            )
            yield Static("", id="detail-items-heading", classes="detail-heading")
            yield SafeTable(
                [("number", "Item"), ("name", "Name"), ("product", "Product"), ("account", "Account"), ("ci", "CI")],
                id="detail-items",
                max_rows=1000,
            )
            yield Static(
                Content("Internal: work notes and history"), classes="detail-heading", id="detail-notes-heading"
            )
            yield Static("", id="detail-work-notes")
            yield Static(Content("Customer-visible comments"), classes="detail-heading", id="detail-comments-heading")
            yield Static("", id="detail-comments")

    @property
    def case(self) -> CaseView | None:
        return self.detail.case if self.detail is not None else None

    def show(self, detail: CaseDetail | None) -> None:
        previous = self.detail.case.id if self.detail is not None else None
        self.detail = detail
        accounts = self.query_one("#detail-accounts", SafeTable)
        items = self.query_one("#detail-items", SafeTable)
        self.query_one("#detail-sections").set_class(detail is None, "-empty")
        if detail is None:
            self.query_one("#detail-summary", Static).update(Content.assemble(_muted("No case selected.")))
            accounts.remove_rows(accounts.row_keys())
            items.remove_rows(items.row_keys())
            for ident in (
                "#detail-work-notes",
                "#detail-comments",
                "#detail-accounts-heading",
                "#detail-items-heading",
            ):
                self.query_one(ident, Static).update("")
            return
        self.query_one("#detail-summary", Static).update(summary_content(detail))
        shown_accounts = (
            f"{len(detail.accounts)} of {detail.accounts_total}"
            if detail.accounts_total > len(detail.accounts)
            else str(detail.accounts_total)
        )
        self.query_one("#detail-accounts-heading", Static).update(Content(f"Affected accounts ({shown_accounts})"))
        rows = {
            a.account_id: (
                a.number,
                a.name,
                a.source,
                a.contact_name or "no contact",
                a.contact_channel or "",
                f"{a.child_number} {a.child_state}" if a.child_number else "",
            )
            for a in detail.accounts
        }
        accounts.remove_rows([k for k in accounts.row_keys() if k not in rows])
        accounts.upsert_rows(rows)
        shown_items = (
            f"{len(detail.items)} of {detail.items_total}"
            if detail.items_total > len(detail.items)
            else str(detail.items_total)
        )
        self.query_one("#detail-items-heading", Static).update(Content(f"Install base items ({shown_items})"))
        item_rows = {
            i.item_id: (i.number, i.name, i.product_name, i.account_number, i.ci_name or "") for i in detail.items
        }
        items.remove_rows([k for k in items.row_keys() if k not in item_rows])
        items.upsert_rows(item_rows)
        internal = [line for line in detail.journal if line.visibility != "customer"]
        customer = [line for line in detail.journal if line.visibility == "customer"]
        self.query_one("#detail-work-notes", Static).update(journal_content(internal, "No work notes."))
        self.query_one("#detail-comments", Static).update(journal_content(customer, "No customer-visible comments."))
        if previous != detail.case.id:
            self.scroll_home(animate=False)
