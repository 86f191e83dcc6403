"""The operator's Alerts view: one page of alerts filtered, searched, sorted and paged in SQL.

``f`` severity at least, ``t`` state, ``s`` sort, ``/`` search, ``n``/``p`` page (the screen
binds the keys and calls the methods here). The page is read by the ``alerts`` refresh and
diffed by row key (``AlertTable.show_page``): cursor and scroll stay with the selected alert.
A repeat of a known alert records no event (dedup) but bumps its version, so a timer's
``tick()`` runs the cheap ``check`` read of the versions shown: the page is re-read only if one
changed, otherwise only the ages are redrawn (sorted by count, the page is simply re-read).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.events import Key
from textual.timer import Timer
from textual.widgets import DataTable, Input, Static

from pcso_tui.domain.core.text import one_line, printable
from pcso_tui.domain.core.views import incident_number
from pcso_tui.domain.operations.views import AlertView
from pcso_tui.screens.base import DomainWork, signed_in
from pcso_tui.screens.incident_dialogs import AlertDetailDialog
from pcso_tui.screens.operator.common import now, when
from pcso_tui.widgets.alert_table import AlertTable, format_age, state_label
from pcso_tui.widgets.cells import severity_content

# (label, severity_at_least)
SEVERITY_FILTERS: tuple[tuple[str, str | None], ...] = (
    ("any", None),
    ("≥ warning", "warning"),
    ("≥ minor", "minor"),
    ("≥ major", "major"),
    ("critical", "critical"),
)
# (label, states)
STATE_FILTERS: tuple[tuple[str, tuple[str, ...] | None], ...] = (
    ("active", ("open", "flapping")),
    ("open", ("open",)),
    ("flapping", ("flapping",)),
    ("closed", ("closed",)),
    ("all", None),
)
# (label, sort key for list_alerts)
SORTS: tuple[tuple[str, str], ...] = (
    ("latest change", "-last_change_at"),
    ("severity", "-severity"),
    ("count", "-receive_count"),
    ("newest", "-first_seen_at"),
    ("CI", "ci"),
    ("name", "name"),
)


LEFT_OUT_SHOWN = timedelta(hours=1)


class AlertsView(Vertical):
    """The alert page, its status line and the search box."""

    def __init__(self, *, page_size: int, id: str | None = None) -> None:
        super().__init__(id=id)
        self.page_size = page_size
        self.severity_filter = 0
        self.state_filter = 0
        self.sort_index = 0
        self.search = ""
        self.page_offset = 0
        self.total = 0
        # The last "alerts left out by the sender" (its words, when): kept on the status line
        # for LEFT_OUT_SHOWN, since the missing alerts' state is unknown until the next post.
        self.left_out: tuple[str, datetime] | None = None
        self._search_timer: Timer | None = None
        self.work = DomainWork(self)
        self.alerts = self.work.refresh("alerts", self._load_alerts, group="operator-alerts")
        self.check = self.work.refresh("check", self._check_page, group="operator-check")

    def compose(self) -> ComposeResult:
        yield Static("", id="alert-status", classes="view-status")
        yield Input(placeholder="search name, summary, CI, labels — Enter keeps, Esc clears", id="alert-search")
        yield AlertTable(page_size=self.page_size, id="alert-table")

    def on_mount(self) -> None:
        self.show_status()

    @property
    def table(self) -> AlertTable:
        return self.query_one(AlertTable)

    # --- reading -------------------------------------------------------------------------------

    def tick(self) -> None:
        """The screen's timer: catch repeats of the alerts shown (later, if covered)."""
        if self.work.closing:
            return
        if not self.work.in_front:
            self.alerts.stale = True  # caught up when the screen is back in front
            return
        if SORTS[self.sort_index][1] == "-receive_count":
            self.alerts.request()  # a repeat elsewhere may move an alert onto this page
        else:
            self.check.request()

    def query_args(self) -> dict[str, Any]:
        return {
            "state": STATE_FILTERS[self.state_filter][1],
            "severity_at_least": SEVERITY_FILTERS[self.severity_filter][1],
            "search": self.search or None,
        }

    async def _load_alerts(self) -> None:
        from pcso_tui.domain.operations.alerts import count_alerts, list_alerts

        session = signed_in(self)
        query = self.query_args()
        total = await self.work.call(count_alerts(session.domain, session.actor, **query))
        if self.page_offset >= total and self.page_offset:
            self.page_offset = max(0, (total - 1) // self.page_size * self.page_size)
        alerts = await self.work.call(
            list_alerts(
                session.domain,
                session.actor,
                **query,
                sort=SORTS[self.sort_index][1],
                limit=self.page_size,
                offset=self.page_offset,
            )
        )
        if not self.is_attached:
            return
        self.total = total
        self.table.show_page(alerts, now(self))
        self.show_status()
        self.work.loaded("operator-alerts")

    async def _check_page(self) -> None:
        """The page's versions in one cheap read; the page is re-read only if one changed."""
        from pcso_tui.domain.operations.alerts import alert_versions

        table = self.table
        shown = dict(table.alerts)
        if not shown:
            return
        session = signed_in(self)
        versions = await self.work.call(alert_versions(session.domain, session.actor, list(shown)))
        if not self.is_attached:
            return
        if any(versions.get(alert_id) != alert.version for alert_id, alert in shown.items()):
            self.alerts.request()
        elif not self.alerts.running:
            ordered = [table.alerts[key] for key in table.row_keys() if isinstance(key, int)]
            table.show_page(ordered, now(self))  # the ages

    def show_status(self) -> None:
        shown = self.table.row_count
        first = self.page_offset + 1 if shown else 0
        parts: list[Any] = [
            ("Alerts ", "bold"),
            f"{first:,}–{self.page_offset + shown:,} of {self.total:,}",
        ]
        if self.total > self.page_size:
            parts.append((" n/p page", "$text-muted"))
        parts += [
            ("  t ", "$text-accent"),
            STATE_FILTERS[self.state_filter][0],
            ("  f sev ", "$text-accent"),
            SEVERITY_FILTERS[self.severity_filter][0],
            ("  s ", "$text-accent"),
            SORTS[self.sort_index][0],
        ]
        if self.search:
            parts += [("  / ", "$text-accent"), f"“{one_line(self.search, 24)}”"]
        if self.left_out is not None and now(self) - self.left_out[1] <= LEFT_OUT_SHOWN:
            words, at = self.left_out
            parts += [("  ⚠ ", "$text-warning"), (f"{words} at {at.astimezone():%H:%M}", "$text-warning")]
        self.query_one("#alert-status", Static).update(Content.assemble(*parts))

    def note_left_out(self, words: str, at: datetime) -> None:
        """A sender left alerts out of a post: say so now, and on the status line for a while."""
        self.left_out = (words, at)
        self.show_status()
        self.notify(f"{words}: their state is unknown until the sender posts them", severity="warning", markup=False)

    # --- filters, sort, pages, search --------------------------------------------------------------

    def _requery(self) -> None:
        self.page_offset = 0
        self.show_status()
        self.alerts.request()

    def cycle_severity(self) -> None:
        self.severity_filter = (self.severity_filter + 1) % len(SEVERITY_FILTERS)
        self._requery()

    def cycle_state(self) -> None:
        self.state_filter = (self.state_filter + 1) % len(STATE_FILTERS)
        self._requery()

    def cycle_sort(self) -> None:
        self.sort_index = (self.sort_index + 1) % len(SORTS)
        self._requery()

    def page(self, step: int) -> None:
        offset = self.page_offset + step * self.page_size
        if offset < 0 or offset >= self.total:
            self.notify("no more pages that way", severity="information", timeout=2)
            return
        self.page_offset = offset
        self.alerts.request()
        self.table.move_cursor(row=0, animate=False)

    def start_search(self) -> None:
        box = self.query_one("#alert-search", Input)
        box.add_class("searching")
        box.focus()

    @on(Input.Changed, "#alert-search")
    def _search_changed(self, event: Input.Changed) -> None:
        if self._search_timer is not None:
            self._search_timer.stop()
        self._search_timer = self.set_timer(0.3, lambda: self._apply_search(event.value), name="search")

    def _apply_search(self, text: str) -> None:
        self._search_timer = None
        text = text.strip()
        if text != self.search:
            self.search = text
            self._requery()

    @on(Input.Submitted, "#alert-search")
    def _search_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self._search_timer is not None:
            self._search_timer.stop()
        self._apply_search(event.value)
        if not self.search:
            event.input.remove_class("searching")
        self.table.focus()

    def on_key(self, event: Key) -> None:
        box = self.query_one("#alert-search", Input)
        if event.key == "escape" and box.has_focus:
            event.stop()
            box.value = ""
            box.remove_class("searching")
            if self._search_timer is not None:
                self._search_timer.stop()
            self._apply_search("")
            self.table.focus()

    # --- the selected alert ------------------------------------------------------------------------

    def selected_alert(self) -> AlertView | None:
        alert = self.table.selected
        if alert is None:
            self.notify("no alert selected", severity="warning", timeout=2)
        return alert

    @on(DataTable.RowSelected, "#alert-table")
    def _alert_chosen(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.show_detail()

    def show_detail(self) -> None:
        alert = self.selected_alert()
        if alert is not None:
            self.app.push_screen(AlertDetailDialog(f"Alert {alert.id}: {alert.name}", alert_content(alert, now(self))))

    def acknowledge(self) -> None:
        """Acknowledge the selected alert (again: undo)."""
        alert = self.selected_alert()
        if alert is None:
            return
        from pcso_tui.domain.operations.alerts import acknowledge_alert, unacknowledge_alert

        session = signed_in(self)
        command = unacknowledge_alert if alert.acknowledged else acknowledge_alert
        call = command(session.domain, session.actor, alert.id, alert.version)
        self.work.run_command(call, self._acknowledged, group="operator-command")

    def _acknowledged(self, view: AlertView) -> None:
        self.table.update_alert(view, now(self))
        word = "acknowledged" if view.acknowledged else "no longer acknowledged"
        self.notify(f"Alert {view.id} {word}: {one_line(view.name, 60)}", markup=False, timeout=3)
        self.work.wake_feed()


def alert_content(alert: AlertView, at: datetime) -> Content:
    """One alert in full, as safe Content (every text shown literally, control characters visible)."""

    def row(label: str, value: str) -> list[Any]:
        return ["\n", (f"{label:<13}", "$text-muted"), value]

    ci = one_line(alert.ci_name) if alert.ci_name else f"unmapped (label value {one_line(alert.ci_key or '—')!s})"
    parts: list[Any] = [
        severity_content(alert.severity),
        "  ",
        state_label(alert.state),
        ("  acknowledged" if alert.acknowledged else "", "bold"),
        ("  in maintenance" if alert.maintenance else "", "bold"),
        "\n",
        (one_line(alert.name, 200), "bold"),
    ]
    parts += row("Summary", one_line(alert.summary, 500))
    parts += row("CI", ci)
    parts += row("Incident", incident_number(alert.incident_id) if alert.incident_id else "none")
    parts += row("Received", f"{alert.receive_count:,} times; flap score {alert.flap_score}")
    parts += row("Started", f"{when(alert.starts_at)} ({format_age((at - alert.starts_at).total_seconds())} ago)")
    parts += row("Seen", f"first {when(alert.first_seen_at)}, last {when(alert.last_seen_at)}")
    parts += row("Changed", when(alert.last_change_at))
    if alert.ends_at:
        parts += row("Ended", when(alert.ends_at))
    parts += row("Source", one_line(alert.source, 40))
    parts += row("Fingerprint", one_line(alert.fingerprint, 128))
    if alert.generator_url:
        parts += row("Link", one_line(alert.generator_url, 300))
    if alert.description:
        parts += ["\n", ("Description", "$text-muted"), "\n", printable(alert.description, multiline=True)]
    for title, values in (("Labels", alert.labels), ("Annotations", alert.annotations)):
        if values:
            parts += ["\n", (title, "$text-muted")]
            for key, value in sorted(values.items()):
                parts += ["\n  ", (one_line(str(key), 40), "$text-accent"), " = ", one_line(str(value), 300)]
    return Content.assemble(*parts)
