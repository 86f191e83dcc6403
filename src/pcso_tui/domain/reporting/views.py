"""Read models of the dashboard.

Standard library only (see ``pcso_tui.domain.core.views``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

DASHBOARD_PERIODS = ("day", "week", "month", "quarter")


NO_VALUE = "—"


@dataclass(frozen=True, slots=True)
class PeriodView:
    """One calendar period in UTC: ``[start, end)``. Weeks start on Monday."""

    period: str
    label: str  # 2026-11-23 · 2026-W48 · 2026-11 · 2026-Q4
    start: datetime
    end: datetime
    current: bool  # the period holding the dashboard's ``at``


@dataclass(frozen=True, slots=True)
class KpiPart:
    """One slice of a KPI: an outage type, or one of the top impacted customers."""

    key: str
    label: str
    value: float
    extra: float | None = None  # top customers: outage minutes


@dataclass(frozen=True, slots=True)
class KpiPoint:
    """A KPI over one period.

    ``count`` is the number of records behind ``value`` — exactly what ``drill_down`` lists:
    the numerator of a share or ratio, the sample of an average or percentile, the records of
    a count. ``base`` is the denominator of a share or ratio. ``value`` is None when there is
    nothing to measure (shown as "—").
    """

    period: PeriodView
    value: float | None
    count: int
    base: int | None = None
    parts: tuple[KpiPart, ...] = ()


def format_kpi_value(value: float | None, unit: str) -> str:
    """A KPI value as a tile shows it: "—" when None, whole numbers for counts."""
    if value is None:
        return NO_VALUE
    if unit == "%":
        return f"{value:.1f}%"
    if unit == "h" and 0 < value < 1:
        return f"{value * 60:.0f} min"  # a 4-minute case is "4 min", not "0.0 h"
    if unit in ("h", "min"):
        return f"{value:.1f} {unit}"
    if unit.startswith("per "):
        return f"{value:.2f}"
    return f"{value:,.0f}"


@dataclass(frozen=True, slots=True)
class KpiView:
    """One KPI: what it is (``definition`` is the help text) and its figures, the current
    period's and the trend over the periods before it (oldest first)."""

    key: str
    title: str
    group: str  # established | ours
    kind: str  # count | share | ratio | mean | percentile | ranking
    unit: str
    definition: str
    drills_to: str  # what drill_down lists: cases, accounts, items, alerts, outages, outage days
    current: KpiPoint
    trend: tuple[KpiPoint, ...]

    @property
    def value(self) -> float | None:
        return self.current.value

    @property
    def count(self) -> int:
        return self.current.count

    @property
    def base(self) -> int | None:
        return self.current.base

    @property
    def parts(self) -> tuple[KpiPart, ...]:
        return self.current.parts

    @property
    def trend_values(self) -> tuple[float | None, ...]:
        return tuple(p.value for p in self.trend)

    @property
    def series(self) -> tuple[float | None, ...]:
        """Trend then current: what a sparkline draws (None is a gap)."""
        return (*self.trend_values, self.current.value)

    @property
    def shown(self) -> str:
        return format_kpi_value(self.current.value, self.unit)


@dataclass(frozen=True, slots=True)
class Dashboard:
    period: str
    at: datetime
    computed_at: datetime
    current: PeriodView
    periods: tuple[PeriodView, ...]  # oldest first; the last is ``current``
    kpis: tuple[KpiView, ...]

    def kpi(self, key: str) -> KpiView:
        for k in self.kpis:
            if k.key == key:
                return k
        raise KeyError(key)


@dataclass(frozen=True, slots=True)
class DrillRow:
    """One record behind a KPI value. ``kind`` says what ``id`` is: case, outage, account, item
    or alert. ``title`` and ``detail`` may carry customer or alert text: show them as data."""

    kind: str
    id: int
    number: str
    title: str
    at: datetime | None
    value: float | None
    detail: str


@dataclass(frozen=True, slots=True)
class DrillDown:
    kpi_key: str
    title: str
    unit: str
    drills_to: str
    period: PeriodView
    part: str | None
    total: int  # equals the KPI's ``count`` for the same period
    limit: int
    offset: int
    rows: tuple[DrillRow, ...]
