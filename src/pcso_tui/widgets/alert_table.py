"""``AlertTable``: one page of live alerts, updated by row key.

    table = AlertTable(id="alerts")
    table.show_page(alerts, now)        # AlertView read models, in the order the query gave

- Each row: severity (glyph + word + colour), state (glyph + word; flapping is ``↯ flapping``),
  the alert's name and summary, its CI (``unmapped <label>`` when no CI was found), how many
  times it was received, its age, and marks (``ack``, ``maint``, ``⇢INC…`` when it joined an
  incident). Every text is shown literally (``SafeTable``/``cells.safe_cell``).
- ``show_page`` diffs the new page against what is shown: rows whose alert did not change
  (same version, same age text) are not touched, changed cells are updated in place, rows no
  longer on the page are removed, and the rows are put in the query's order — the cursor stays
  on its alert and that alert stays at the same height on screen (at the top of the list, the
  top stays in view and new alerts show above it). One call, one repaint.
- What is mounted is bounded by the page size (``max_rows``): the screen pages in SQL.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from rich.style import Style
from rich.text import Text

from pcso_tui.domain.core.text import cut, one_line
from pcso_tui.domain.core.views import incident_number
from pcso_tui.domain.operations.views import AlertView
from pcso_tui.widgets.cells import severity_cell, severity_colour, use_ascii
from pcso_tui.widgets.safe_table import SafeTable

STATE_GLYPHS = {"open": "●", "flapping": "↯", "closed": "○"}
ASCII_STATE_GLYPHS = {"open": "*", "flapping": "~", "closed": "-"}

# Fixed minimums; the alert and the CI take the width left over (3 : 2), so wide terminals
# show whole names.
COLUMNS = (
    ("severity", "Severity", 10),
    ("state", "State", 10),
    ("alert", "Alert", 22, 3),
    ("ci", "CI", 14, 2),
    ("count", "Count", 5),
    ("age", "Age", 4),
    ("marks", "Marks", 16),
)


def format_age(seconds: float) -> str:
    """``45s``, ``12m``, ``5h``, ``3d``: one unit, at most four characters for a year."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"


def state_label(state: str, *, ascii: bool | None = None) -> str:
    glyphs = ASCII_STATE_GLYPHS if (use_ascii() if ascii is None else ascii) else STATE_GLYPHS
    return f"{glyphs.get(state, '?')} {one_line(state, 12)}"


def state_cell(state: str) -> Text:
    style = Style(bold=True) if state == "flapping" else Style(dim=True) if state == "closed" else Style()
    return Text(state_label(state), style=style, no_wrap=True, end="")


def ci_cell(alert: AlertView, width: int | None = None) -> Text:
    """The CI, cut to ``width`` (with an ellipsis, never inside a shown escape)."""
    if alert.ci_name is not None:
        return Text(one_line(alert.ci_name, width), no_wrap=True, end="")
    colour = severity_colour("warning")
    return Text.assemble(
        ("unmapped ", Style(color=colour, italic=True)),
        one_line(alert.ci_key or "(no CI label)", None if width is None else max(1, width - len("unmapped "))),
        no_wrap=True,
        end="",
    )


def marks_text(alert: AlertView) -> str:
    marks = []
    if alert.acknowledged:
        marks.append("ack")
    if alert.maintenance:
        marks.append("maint")
    if alert.incident_id is not None:
        marks.append(f"⇢{incident_number(alert.incident_id)}")
    return " ".join(marks)


def alert_text(alert: AlertView, width: int | None = None) -> str:
    name = one_line(alert.name)
    summary = one_line(alert.summary)
    line = f"{name}: {summary}" if summary else name
    return line if width is None else cut(line, width)


def alert_cells(alert: AlertView, now: datetime, widths: Mapping[str, int] | None = None) -> tuple[Any, ...]:
    """The row of ``alert``; ``widths`` cuts the alert and CI texts to their columns (the
    table would crop them anywhere, even inside a shown ``\\u202e``)."""
    widths = widths or {}
    return (
        severity_cell(alert.severity),
        state_cell(alert.state),
        alert_text(alert, widths.get("alert")),
        ci_cell(alert, widths.get("ci")),
        alert.receive_count,
        format_age((now - alert.starts_at).total_seconds()),
        marks_text(alert),
    )


class FixedWidthTable(SafeTable):
    """A SafeTable whose columns all have a fixed width: cell updates never re-measure.

    DataTable's ``update_cell(update_width=True)`` re-measures the whole column whenever a new
    cell is narrower than the widest — once per updated cell, so ageing a page of 200 rows
    ("59s" → "1m") measured 40,000 cells and froze the event loop for 0.6–0.9 s. With fixed
    widths there is nothing to measure.
    """

    def update_cell(self, row_key: Any, column_key: Any, value: Any, *, update_width: bool = False) -> None:
        super().update_cell(row_key, column_key, value, update_width=False)


class AlertTable(FixedWidthTable):
    """A page of alerts keyed by alert id; see the module docstring."""

    BINDING_GROUP_TITLE = "Alert list"

    def __init__(self, *, page_size: int = 200, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(COLUMNS, max_rows=page_size, id=id, classes=classes)
        self.alerts: dict[int, AlertView] = {}
        self._shown: dict[int, tuple[int, str]] = {}
        self._now: datetime | None = None

    def text_widths(self) -> dict[str, int]:
        """The widths of the text columns now (they grow with the table)."""
        return {key.value: column.width for key, column in self.columns.items() if key.value in ("alert", "ci")}

    def share_width(self) -> None:
        before = self.text_widths()
        super().share_width()
        widths = self.text_widths()
        if widths != before and self.alerts and self._now is not None:
            # The texts were cut for the old widths: cut them again for the new ones.
            now = self._now
            self.upsert_rows({key: alert_cells(alert, now, widths) for key, alert in self.alerts.items()})

    @property
    def selected(self) -> AlertView | None:
        key = self.cursor_key
        return self.alerts.get(key) if isinstance(key, int) else None

    def show_page(self, alerts: Sequence[AlertView], now: datetime) -> tuple[int, int, int]:
        """Make the table show exactly ``alerts``, in that order. Returns (added, changed, removed)."""
        wanted = {alert.id: alert for alert in alerts}
        cursor_key = self.cursor_key
        cursor_row = self.cursor_row if cursor_key is not None else 0
        top = int(self.scroll_y)
        screen_offset = cursor_row - top
        added = changed = removed = 0
        self._now = now
        widths = self.text_widths()
        with self._batch():
            gone = [key for key in self.alerts if key not in wanted]
            if gone:
                removed = self.remove_rows(gone)
                for key in gone:
                    self.alerts.pop(key, None)
                    self._shown.pop(key, None)
            rows: dict[int, tuple[Any, ...]] = {}
            for alert in alerts:
                age = format_age((now - alert.starts_at).total_seconds())
                if self._shown.get(alert.id) != (alert.version, age):
                    rows[alert.id] = alert_cells(alert, now, widths)
                    self._shown[alert.id] = (alert.version, age)
                self.alerts[alert.id] = alert
            if rows:
                n_added, changed = self.upsert_rows(rows)
                added += n_added
            order = [alert.id for alert in alerts]
            if self.row_keys() != order:
                self._reorder(order)
            if cursor_key is not None and cursor_key in wanted:
                index = order.index(cursor_key)  # type: ignore[arg-type]
                if index != self.cursor_row:
                    self.move_cursor(row=index, animate=False, scroll=False)
                    # At the top, the top stays in view: new alerts show, the cursor moves down.
                    keep_top = top == 0 and index < self.scrollable_content_region.height - self.header_height
                    if not keep_top:
                        self.scroll_to(y=max(0, index - screen_offset), animate=False, immediate=True)
        return added, changed, removed

    def update_alert(self, alert: AlertView, now: datetime) -> None:
        """One alert changed (e.g. acknowledged here): update its row if it is shown."""
        if alert.id not in self.alerts:
            return
        self.alerts[alert.id] = alert
        self._shown[alert.id] = (alert.version, format_age((now - alert.starts_at).total_seconds()))
        self.upsert_rows({alert.id: alert_cells(alert, now, self.text_widths())})

    def _reorder(self, order: Sequence[int]) -> None:
        # DataTable.sort hands the key function a row's cells, not its key: every row's first
        # cell is an object of its own, so its identity names the row.
        rank = {id(self.get_row(self._key(key))[0]): n for n, key in enumerate(order)}
        self.sort(key=lambda cells: rank.get(id(cells[0]), len(rank)))
