"""KPI pieces for the dashboard: the KPI table, trend sparklines and bars, the focused KPI's
definition, and the drill-down table.

    table = KpiTable(id="kpis")
    table.show(dashboard)                 # a domain.views.Dashboard; rows keyed by KPI key
    detail.update(kpi_detail(kpi))        # title, figure, records, definition, parts
    bars.update(trend_bars(kpi))          # one bar per period, oldest first

- Every row: the KPI's title, its figure for the current period (``format_kpi_value``, "—"
  when there is nothing to measure), the records behind it (``count``, or ``count/base`` for
  shares and ratios — exactly what the drill-down lists), a sparkline of the trend (oldest
  first, the current period last; ``·`` where a period had no value) and the change from the
  period before, written as a glyph and a signed figure (``▲ +2``, ``▼ -1.5 h``, ``= 0``),
  never by colour alone.
- Rows are updated in place by KPI key: a refresh never clears the table, the cursor stays.
- Names in the parts (top impacted customers) are customer text: shown literally.
- With ``PCSO_ASCII=1`` (or a non-UTF-8 terminal) the glyphs fall back to ASCII.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.content import Content

from pcso_tui.domain.core.text import one_line
from pcso_tui.domain.reporting.views import NO_VALUE, Dashboard, DrillRow, KpiPoint, KpiView, format_kpi_value
from pcso_tui.widgets.alert_table import FixedWidthTable
from pcso_tui.widgets.cells import format_time, use_ascii

SPARK = "▁▂▃▄▅▆▇█"
SPARK_ASCII = "_.-:=+*#"
SPARK_GAP = "·"
SPARK_GAP_ASCII = " "
# Eighths of a cell, for horizontal bars.
EIGHTHS = " ▏▎▍▌▋▊▉"
FULL = "█"

KPI_COLUMNS = (
    ("kpi", "KPI", 29),
    ("value", "Value", 9),
    ("records", "Records", 7),
    ("trend", "Trend", 7),
    ("change", "Change", 12),
)

GROUP_TITLES = {"established": "Established measure", "ours": "Our measure"}


def _ascii(ascii: bool | None) -> bool:
    return use_ascii() if ascii is None else ascii


def sparkline(values: Sequence[float | None], *, ascii: bool | None = None) -> str:
    """One character per value, scaled from 0 to the largest value; a gap where there is none."""
    levels = SPARK_ASCII if _ascii(ascii) else SPARK
    gap = SPARK_GAP_ASCII if _ascii(ascii) else SPARK_GAP
    known = [v for v in values if v is not None]
    top = max(known, default=0.0)
    out = []
    for v in values:
        if v is None:
            out.append(gap)
        elif top <= 0 or v <= 0:
            out.append(levels[0])
        else:
            out.append(levels[min(len(levels) - 1, round(v / top * (len(levels) - 1)))])
    return "".join(out)


def format_delta(delta: float, unit: str) -> str:
    """A change of a KPI, signed, in the KPI's unit (percentage points for shares)."""
    sign = "+" if delta > 0 else "-" if delta < 0 else ""
    size = abs(delta)
    if unit == "%":
        return f"{sign}{size:.1f} pt"
    if unit in ("h", "min"):
        return f"{sign}{size:.1f} {unit}"
    if unit.startswith("per "):
        return f"{sign}{size:.2f}"
    return f"{sign}{size:,.0f}"


def change_text(previous: float | None, current: float | None, unit: str, *, ascii: bool | None = None) -> str:
    """``▲ +2``, ``▼ -1.5 h``, ``= 0``; empty when either period has no value."""
    if previous is None or current is None:
        return ""
    delta = current - previous
    if abs(delta) < 1e-9:
        return "= 0"
    up, down = ("^", "v") if _ascii(ascii) else ("▲", "▼")
    return f"{up if delta > 0 else down} {format_delta(delta, unit)}"


def records_text(point: KpiPoint) -> str:
    """The records behind a figure: ``3``, or ``1/3`` for a share or ratio."""
    return f"{point.count:,}" if point.base is None else f"{point.count:,}/{point.base:,}"


def fit_title(title: str, width: int) -> str:
    """A title cut to ``width``, keeping a closing ``(…)`` that tells similar KPIs apart:
    ``First alert to first no… (p90)``."""
    title = one_line(title)
    if len(title) <= width:
        return title
    head, sep, tail = title.rpartition(" (")
    if sep and tail.endswith(")") and len(tail) + 4 < width:
        suffix = f" ({tail}"
        return head[: width - len(suffix) - 1].rstrip() + "…" + suffix
    return title[: width - 1] + "…"


def kpi_cells(kpi: KpiView, *, ascii: bool | None = None) -> tuple[Any, ...]:
    previous = kpi.trend[-1].value if kpi.trend else None
    return (
        Text(fit_title(kpi.title, KPI_COLUMNS[0][2]), no_wrap=True, end=""),
        Text(kpi.shown, justify="right", no_wrap=True, end=""),
        Text(records_text(kpi.current), justify="right", no_wrap=True, end=""),
        Text(sparkline(kpi.series, ascii=ascii), no_wrap=True, end=""),
        Text(change_text(previous, kpi.value, kpi.unit, ascii=ascii), no_wrap=True, end=""),
    )


def bar(value: float, top: float, width: int, *, ascii: bool | None = None) -> str:
    """A horizontal bar of ``value`` against ``top`` in ``width`` cells (eighths in Unicode)."""
    if top <= 0 or value <= 0 or width <= 0:
        return ""
    cells = value / top * width
    if _ascii(ascii):
        return "#" * max(1, round(cells))
    full = int(cells)
    rest = round((cells - full) * 8)
    if rest == 8:
        full, rest = full + 1, 0
    text = FULL * full + (EIGHTHS[rest] if rest else "")
    return text or EIGHTHS[1]


def trend_bars(kpi: KpiView, *, width: int = 10, ascii: bool | None = None) -> Content:
    """One line per period, oldest first: label, bar, figure. The last line (bold) is the period
    the dashboard shows; a period with nothing to measure has no bar and "—"."""
    points = (*kpi.trend, kpi.current)
    top = max((p.value for p in points if p.value is not None), default=0.0)
    lines = []
    for p in points:
        label = f"{p.period.label:<10}"
        figure = format_kpi_value(p.value, kpi.unit)
        drawn = "" if p.value is None else bar(p.value, top, width, ascii=ascii)
        style = "bold" if p is kpi.current else ""
        lines.append(
            Content.assemble(
                (label, "$text-muted" if not style else "bold"),
                " ",
                (f"{drawn:<{width}}", "$accent"),
                " ",
                (figure, style),
            )
        )
    return Content("\n").join(lines)


def kpi_summary(kpi: KpiView) -> Content:
    """``2026-11: 33.3% — 1 of 3 cases`` (what the figure is made of)."""
    point = kpi.current
    if point.base is not None:
        made_of = f"{point.count:,} of {point.base:,} {kpi.drills_to}"
        if kpi.unit.startswith("per "):
            made_of = f"{point.count:,} {kpi.drills_to} over {point.base:,} ({kpi.unit})"
    elif kpi.kind in ("mean", "percentile"):
        made_of = f"over {point.count:,} {kpi.drills_to}"
    else:
        made_of = f"{point.count:,} {kpi.drills_to}"
    figure = kpi.shown
    if kpi.unit not in ("%", "h", "min") and figure != NO_VALUE and not kpi.unit.startswith("per "):
        figure = f"{figure} {kpi.unit}"
    pieces: list[Any] = [(f"{point.period.label}: ", "$text-muted"), (figure, "bold")]
    if made_of != figure:
        pieces += [("  —  ", "$text-muted"), made_of]
    return Content.assemble(*pieces)


def kpi_parts(kpi: KpiView) -> Content | None:
    """The split of the current figure: outage types, or the top impacted customers."""
    if not kpi.parts:
        return None
    if kpi.key == "top_customers":
        lines = []
        for n, part in enumerate(kpi.parts, 1):
            lines.append(
                Content.assemble(
                    f"{n:>2}. ",
                    (one_line(part.key, 12), "bold"),
                    " ",
                    Content(one_line(part.label, 14)),
                    ("  ", ""),
                    (
                        f"{part.value:,.0f} {'outage' if part.value == 1 else 'outages'}, {part.extra or 0:,.0f} min",
                        "$text-muted",
                    ),
                )
            )
        return Content("\n").join(lines)
    pieces: list[Any] = []
    for part in kpi.parts:
        if pieces:
            pieces.append(("  ·  ", "$text-muted"))
        pieces += [Content(one_line(part.label, 30)), " ", (f"{part.value:,.0f}", "bold")]
    return Content.assemble(*pieces)


def kpi_detail(kpi: KpiView) -> Content:
    """The focused KPI: title, what kind of measure, the figure and its records, the definition
    (the same text as ``docs/dashboard.md`` and ``pcso report``), then its parts."""
    lines = [
        Content.assemble(
            (one_line(kpi.title), "bold"), ("  ", ""), (GROUP_TITLES.get(kpi.group, kpi.group), "$text-muted")
        ),
        kpi_summary(kpi),
        Content(one_line(kpi.definition)),
    ]
    parts = kpi_parts(kpi)
    if parts is not None:
        lines.append(parts)
    lines.append(
        Content.assemble(
            ("Enter lists the records behind the figure; ", "$text-muted"),
            (f"pcso report --drill {kpi.key}", "$text-muted italic"),
            (" prints them.", "$text-muted"),
        )
    )
    return Content("\n").join(lines)


class KpiTable(FixedWidthTable):
    """Every KPI of a dashboard, one row each, keyed by KPI key. Enter drills down."""

    BINDING_GROUP_TITLE = "KPI table"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select_cursor", "Drill down", tooltip="The records behind the KPI", id="kpi.drill"),
    ]

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(KPI_COLUMNS, max_rows=100, id=id, classes=classes)
        self.kpis: dict[str, KpiView] = {}

    @property
    def selected(self) -> KpiView | None:
        key = self.cursor_key
        return self.kpis.get(key) if isinstance(key, str) else None

    def show(self, dashboard: Dashboard, *, ascii: bool | None = None) -> None:
        """Show every KPI of ``dashboard``, updating rows in place (cursor and scroll stay)."""
        self.kpis = {k.key: k for k in dashboard.kpis}
        gone = [key for key in self.row_keys() if key not in self.kpis]
        with self._batch():
            if gone:
                self.remove_rows(gone)
            self.upsert_rows({k.key: kpi_cells(k, ascii=ascii) for k in dashboard.kpis})


# --- the drill-down -----------------------------------------------------------------------------

DRILL_COLUMNS = (
    ("number", "Record", 11),
    ("title", "Title", 22),
    ("value", "Value", 8),
    ("detail", "Detail", 26),
    ("at", "When", 16),
)

# What a drill-down row's value is, by KPI (the KPI's own unit does not always say it).
DRILL_VALUE_LABELS = {
    "affected_accounts": "Cases",
    "outage_duration": "Hours",
    "open_outages": "Hours on",
    "top_customers": "Outages",
    "alert_to_notice_median": "Minutes",
    "alert_to_notice_p90": "Minutes",
    "mttr": "Hours",
}


def drill_value_label(kpi_key: str) -> str:
    return DRILL_VALUE_LABELS.get(kpi_key, "Value")


def drill_cells(row: DrillRow) -> tuple[Any, ...]:
    value = "" if row.value is None else f"{row.value:,.1f}"
    if row.value is not None and float(row.value).is_integer():
        value = f"{row.value:,.0f}"
    return (
        Text(one_line(row.number), no_wrap=True, end=""),
        Text(one_line(row.title), no_wrap=True, overflow="ellipsis", end=""),
        Text(value, justify="right", no_wrap=True, end=""),
        Text(one_line(row.detail), no_wrap=True, overflow="ellipsis", end=""),
        Text(format_time(row.at) if row.at is not None else "", no_wrap=True, end=""),
    )


class DrillTable(FixedWidthTable):
    """One page of the records behind a KPI, keyed by their position in the whole listing (so a
    refresh of the same page changes rows in place and a new page replaces them, in order)."""

    BINDING_GROUP_TITLE = "Records"

    def __init__(
        self, *, page_size: int, value_label: str = "Value", id: str | None = None, classes: str | None = None
    ) -> None:
        columns = [(key, value_label if key == "value" else label, width) for key, label, width in DRILL_COLUMNS]
        super().__init__(columns, max_rows=page_size, id=id, classes=classes)
        self.records: dict[int, DrillRow] = {}

    def show_page(self, rows: Sequence[DrillRow], offset: int) -> None:
        wanted = {offset + n: row for n, row in enumerate(rows)}
        with self._batch():
            gone = [key for key in self.row_keys() if key not in wanted]
            if gone:
                self.remove_rows(gone)
            # Keys grow with the position: new rows always belong after the ones kept.
            self.upsert_rows({key: drill_cells(row) for key, row in wanted.items()})
        self.records = wanted
