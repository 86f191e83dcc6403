"""The dashboard: how proactive we are and what outages cost (any staff member).

Top: the period line — which period is shown (day, week, month or quarter; UTC calendar
periods, weeks from Monday), whether it is still running, and when the figures were computed.
Then every KPI (``widgets.kpi.KpiTable``): its figure, the records behind it, a sparkline of
the ``PERIODS_BACK`` periods before it and the change from the last one. Below, the focused
KPI: its definition (the text of ``docs/dashboard.md`` and ``pcso report``, from
``domain.dashboard.KPIS``), its parts (outage types, top impacted customers) and a bar per
period.

Keys:

    1 2 3 4   day, week, month, quarter
    [  ]      the previous / next period (not past the running one); t back to now
    Enter     the records behind the highlighted KPI (``DrillDownScreen``: a page of
              ``PAGE_SIZE`` rows, n/p to page, t to pick an outage type; Esc back). Its total
              is the KPI's record count, by construction of ``domain.dashboard``.
    d         a taller definition panel (again: back)
    r         recompute now

Live refresh (``screens.base.Refresh``): events from the App's feed mark the figures stale;
after ``COALESCE_SECONDS`` one computation (``domain.dashboard.kpis``, SQL aggregates) runs in a
worker, never more than one at a time — a burst that arrives meanwhile makes exactly one more — and never sooner than
twice the last one's duration after it (a second-long computation on a large world with events
streaming in leaves the machine two seconds of three). Keys skip the wait. A screen that is not in
front (another mode, or the drill-down on top) recomputes when it comes back. The figures of a
running period also move with the clock (open outages): recomputed every ``REFRESH_SECONDS``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from functools import partial
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.content import Content
from textual.widgets import DataTable, Static

from pcso_tui.domain.core.text import one_line
from pcso_tui.domain.reporting.views import DASHBOARD_PERIODS, Dashboard, DrillDown, KpiView, PeriodView
from pcso_tui.screens.base import ModeScreen
from pcso_tui.widgets.cells import format_time, use_ascii
from pcso_tui.widgets.feed import EventsArrived
from pcso_tui.widgets.kpi import DrillTable, KpiTable, drill_value_label, kpi_detail, trend_bars
from pcso_tui.widgets.palette import PaletteCommand

RUNNING_GLYPHS = {False: {True: "▶", False: "■"}, True: {True: ">", False: "#"}}  # by use_ascii()
PERIOD_KEYS = {"day": "1", "week": "2", "month": "3", "quarter": "4"}
OUTAGE_TYPES = ("unplanned", "planned", "degradation")


def _running(period: PeriodView, now: Any) -> bool:
    return period.start <= now < period.end


class DashboardScreen(ModeScreen):
    MODE = "dashboard"

    PERIODS_BACK = 6
    COALESCE_SECONDS = 0.5
    REFRESH_SECONDS = 60.0

    DEFAULT_CSS = """
    DashboardScreen #period-bar {
        height: 1;
    }
    DashboardScreen #kpi-table {
        height: 1fr;
        min-height: 5;
    }
    DashboardScreen #kpi-focus {
        height: 8;
        border-top: hkey $primary 60%;
    }
    DashboardScreen #kpi-focus.-tall {
        height: 2fr;
    }
    DashboardScreen #kpi-definition {
        width: 1fr;
        height: 1fr;
        padding: 0 1 0 0;
    }
    DashboardScreen #kpi-definition > Static {
        height: auto;
    }
    DashboardScreen #kpi-bars {
        width: 32;
        height: 1fr;
    }
    """

    BINDINGS = [
        *(
            Binding(key, f"period('{period}')", period.capitalize(), show=False, id=f"dashboard.period.{period}")
            for period, key in PERIOD_KEYS.items()
        ),
        Binding("left_square_bracket", "shift(-1)", "Prev period", key_display="[", id="dashboard.previous"),
        Binding("right_square_bracket", "shift(1)", "Next period", key_display="]", id="dashboard.next"),
        Binding("t", "now", "Now", tooltip="Back to the running period", show=False, id="dashboard.now"),
        Binding("d", "definition", "Definition", tooltip="A taller definition panel", id="dashboard.definition"),
        Binding("r", "recompute", "Recompute", show=False, id="dashboard.recompute"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.period = "month"
        self.at: Any = None  # a moment of the period shown; None: the running period
        self.board: Dashboard | None = None
        # A second-long computation with events streaming in leaves the machine two seconds of three.
        self.refresher = self.work.refresh(
            "figures", self._load, group="dashboard-kpis", delay=self.COALESCE_SECONDS, spacing=2.0
        )

    # --- layout ---------------------------------------------------------------------------

    def compose_body(self) -> ComposeResult:
        yield Static(self._period_bar(), id="period-bar")
        yield KpiTable(id="kpi-table")
        with Horizontal(id="kpi-focus"):
            with VerticalScroll(id="kpi-definition"):
                yield Static(Content.assemble(("Computing the KPIs…", "$text-muted")), id="kpi-detail")
            yield Static("", id="kpi-bars")

    def on_mount(self) -> None:
        super().on_mount()
        self.table.focus()
        self.refresher.request(delay=0)
        self.set_interval(self.REFRESH_SECONDS, self._tick, name="dashboard clock")

    @property
    def table(self) -> KpiTable:
        return self.query_one(KpiTable)

    @property
    def selected(self) -> KpiView | None:
        return self.table.selected

    # --- computing ------------------------------------------------------------------------

    async def _load(self) -> None:
        from pcso_tui.domain.reporting.dashboard import kpis

        session = self.session
        period, at = self.period, self.at
        board = await self.work.call(
            kpis(session.domain, session.actor, period=period, at=at, periods_back=self.PERIODS_BACK)
        )
        if not self.is_attached:
            return
        if (period, at) != (self.period, self.at):
            self.refresher.dirty = self.refresher.urgent = True  # a key asked for other figures meanwhile
            return
        self.show(board)

    def show(self, board: Dashboard) -> None:
        self.board = board
        if self.at is not None and _running(board.current, board.computed_at):
            self.at = None  # the running period again: follow the clock from now on
        self.table.show(board)
        self.query_one("#period-bar", Static).update(self._period_bar())
        self._show_focus()
        self.refresh_bindings()
        self.work.loaded("dashboard-kpis")

    def _show_focus(self) -> None:
        kpi = self.selected
        detail = self.query_one("#kpi-detail", Static)
        bars = self.query_one("#kpi-bars", Static)
        if kpi is None:
            return
        detail.update(kpi_detail(kpi))
        bars.update(trend_bars(kpi))

    def _period_bar(self) -> Content:
        parts: list[Any] = []
        for period, key in PERIOD_KEYS.items():
            label = f"{key} {period}"
            parts.append((f"[{label}]", "reverse bold") if period == self.period else (f" {label} ", "$text-muted"))
        board = self.board
        label, running = self.asked()
        parts += [
            ("  [ ", "$text-accent"),
            (label, "bold"),
            (" ]", "$text-accent"),
            (f"  {RUNNING_GLYPHS[use_ascii()][running]} {'running' if running else 'closed'}", ""),
        ]
        if board is None or board.period != self.period or board.current.label != label:
            parts.append(("  computing…", "$text-muted"))
        else:
            parts.append((f"  at {format_time(board.computed_at, '%H:%M:%S')}", "$text-muted"))
        return Content.assemble(*parts)

    def _tick(self) -> None:
        self.refresher.poll()

    def on_screen_resume(self) -> None:
        super().on_screen_resume()
        self.refresher.resume()

    def on_events_arrived(self, message: EventsArrived) -> None:
        if message.events:
            self.refresher.poll()

    # --- keys -----------------------------------------------------------------------------

    def _now(self) -> datetime:
        return self.session.domain.clock()

    def asked(self) -> tuple[str, bool]:
        """The label of the period the keys asked for, and whether it is the running one."""
        from pcso_tui.domain.reporting.dashboard import period_label, period_start

        now = self._now()
        start = period_start(self.period, self.at or now)
        return period_label(self.period, start), start == period_start(self.period, now)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "period":
            return bool(parameters) and parameters[0] != self.period
        if action == "shift":
            step = parameters[0] if parameters else 0
            if isinstance(step, int) and step > 0:
                return not self.asked()[1]  # never past the running period
            return True
        if action == "now":
            return self.at is not None
        return True

    def action_period(self, period: str) -> None:
        if period not in DASHBOARD_PERIODS or period == self.period:
            return
        self.period = period
        self._asked()

    def action_shift(self, step: int) -> None:
        """The period before or after the one asked for (several presses add up at once)."""
        from pcso_tui.domain.reporting.dashboard import period_start, shift_period

        if not self.check_action("shift", (step,)):
            return
        start = period_start(self.period, self.at or self._now())
        target = shift_period(self.period, start, step)
        self.at = None if target == period_start(self.period, self._now()) else target
        self._asked()

    def action_now(self) -> None:
        self.at = None
        self._asked()

    def action_recompute(self) -> None:
        self.refresher.now()

    def action_definition(self) -> None:
        self.query_one("#kpi-focus").toggle_class("-tall")

    def palette_commands(self) -> Iterable[PaletteCommand]:
        for period, key in PERIOD_KEYS.items():
            if period != self.period:
                yield PaletteCommand(
                    f"Dashboard: by {period}", f"Every KPI per {period} ({key})", partial(self.action_period, period)
                )
        if self.check_action("shift", (-1,)):
            yield PaletteCommand(
                "Dashboard: previous period", "The period before the one shown ([)", partial(self.action_shift, -1)
            )
        if self.check_action("shift", (1,)):
            yield PaletteCommand(
                "Dashboard: next period", "The period after the one shown (])", partial(self.action_shift, 1)
            )
        if self.at is not None:
            yield PaletteCommand("Dashboard: back to now", "The running period (t)", self.action_now)
        kpi = self.selected
        if kpi is not None and self.board is not None:
            yield PaletteCommand(
                f"Dashboard: records behind {one_line(kpi.title)}",
                f"{kpi.count:,} {kpi.drills_to} in {self.board.current.label} (Enter)",
                partial(self.app.push_screen, DrillDownScreen(kpi, self.board.current)),
            )

    def _asked(self) -> None:
        self.query_one("#period-bar", Static).update(self._period_bar())
        self.refresh_bindings()
        self.refresher.now()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table is self.table:
            self._show_focus()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table is not self.table:
            return
        kpi = self.selected
        if kpi is None or self.board is None:
            return
        self.app.push_screen(DrillDownScreen(kpi, self.board.current))


class DrillDownScreen(ModeScreen):
    """The records behind one KPI in one period, a page at a time; Esc goes back."""

    MODE = "dashboard"
    PAGE_SIZE = 50
    COALESCE_SECONDS = 0.5

    DEFAULT_CSS = """
    DrillDownScreen #drill-title {
        height: 1;
    }
    DrillDownScreen #drill-status {
        height: 1;
    }
    DrillDownScreen #drill-table {
        height: 1fr;
    }
    """

    BINDINGS = [
        Binding("escape", "back", "Back", id="drill.back"),
        Binding("n", "page(1)", "Next page", id="drill.next_page"),
        Binding("p", "page(-1)", "Prev page", id="drill.prev_page"),
        Binding("t", "cycle_part", "Outage type", id="drill.part"),
    ]

    def __init__(self, kpi: KpiView, period: PeriodView) -> None:
        super().__init__()
        self.kpi = kpi
        self.period = period
        self.part: str | None = None
        self.page_offset = 0
        self.drill: DrillDown | None = None
        self.refresher = self.work.refresh(
            "records", self._load, group="dashboard-drill", delay=self.COALESCE_SECONDS, spacing=2.0
        )

    def compose_body(self) -> ComposeResult:
        yield Static(self._title(), id="drill-title")
        yield Static(Content.assemble(("Listing…", "$text-muted")), id="drill-status")
        yield DrillTable(page_size=self.PAGE_SIZE, value_label=drill_value_label(self.kpi.key), id="drill-table")

    def on_mount(self) -> None:
        super().on_mount()
        self.table.focus()
        self.refresher.request(delay=0)

    @property
    def table(self) -> DrillTable:
        return self.query_one(DrillTable)

    @property
    def expected(self) -> int:
        """The KPI's record count for what is listed (one outage type: that type's outages)."""
        if self.part is None:
            return self.kpi.count
        for part in self.kpi.parts:
            if part.key == self.part:
                return int(part.value)
        return 0

    def _title(self) -> Content:
        part = f" ({self.part})" if self.part else ""
        return Content.assemble(
            (one_line(self.kpi.title), "bold"),
            part,
            ("  ", ""),
            (f"{self.period.period} {self.period.label}", "$text-accent"),
            ("  KPI ", "$text-muted"),
            (self.kpi.shown, "bold"),
            (f" ({self.kpi.count:,}" + (f" of {self.kpi.base:,}" if self.kpi.base is not None else "") + ")", ""),
        )

    async def _load(self) -> None:
        from pcso_tui.domain.reporting.dashboard import drill_down

        session = self.session
        asked = (self.part, self.page_offset)
        drill = await self.work.call(
            drill_down(
                session.domain,
                session.actor,
                self.kpi.key,
                period=self.period.period,
                at=self.period.start,
                part=self.part,
                limit=self.PAGE_SIZE,
                offset=self.page_offset,
            )
        )
        if not self.is_attached:
            return
        if asked != (self.part, self.page_offset):
            self.refresher.dirty = self.refresher.urgent = True
            return
        if drill.offset and drill.offset >= drill.total:  # the listing shrank under this page
            self.page_offset = max(0, (drill.total - 1) // self.PAGE_SIZE * self.PAGE_SIZE)
            self.refresher.dirty = self.refresher.urgent = True
            return
        self.drill = drill
        self.table.show_page(drill.rows, drill.offset)
        self.query_one("#drill-title", Static).update(self._title())
        self.query_one("#drill-status", Static).update(self._status(drill))
        self.refresh_bindings()
        self.work.loaded("dashboard-drill")

    def _status(self, drill: DrillDown) -> Content:
        shown = f"{drill.offset + 1:,}–{drill.offset + len(drill.rows):,}" if drill.rows else "none"
        parts: list[Any] = [
            (f"{drill.total:,} {drill.drills_to}", "bold"),
            ("  rows ", "$text-muted"),
            shown,
        ]
        if drill.total > self.PAGE_SIZE:
            parts.append(("  n/p page", "$text-muted"))
        if self.kpi.key == "outages_by_type":
            parts.append(("  t type", "$text-muted"))
        if drill.total != self.expected:
            # Only when the figures moved since the dashboard computed them (live data).
            parts.append((f"  ↻ the dashboard showed {self.expected:,}", "$text-muted"))
        return Content.assemble(*parts)

    def on_events_arrived(self, message: EventsArrived) -> None:
        if message.events:
            self.refresher.request()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "page":
            drill = self.drill
            if drill is None:
                return False
            step = parameters[0] if parameters else 0
            offset = self.page_offset + (step if isinstance(step, int) else 0) * self.PAGE_SIZE
            return 0 <= offset < drill.total
        if action == "cycle_part":
            return self.kpi.key == "outages_by_type"
        return True

    def action_page(self, step: int) -> None:
        if not self.check_action("page", (step,)):
            return
        self.page_offset += step * self.PAGE_SIZE
        self.refresh_bindings()
        self.refresher.now()

    def action_cycle_part(self) -> None:
        if self.kpi.key != "outages_by_type":
            return
        choices: tuple[str | None, ...] = (None, *OUTAGE_TYPES)
        self.part = choices[(choices.index(self.part) + 1) % len(choices)]
        self.page_offset = 0
        self.query_one("#drill-title", Static).update(self._title())
        self.refresh_bindings()
        self.refresher.now()

    def action_back(self) -> None:
        self.dismiss(None)
