"""``pcso report``: the dashboard's figures as JSON, CSV or Markdown, for a period.

The figures are exactly those of ``dashboard.kpis()`` (the dashboard screen draws the same read
model). ``--drill KPI`` lists the records behind one KPI instead. Customer, account and alert
text is written as data: control characters are made visible (``printable``) in CSV and
Markdown, escaped by JSON, and ``|`` is escaped in Markdown tables.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from pcso_tui.cli.common import CliContext, pass_cli, with_domain
from pcso_tui.domain.core.text import one_line, printable
from pcso_tui.domain.core.views import to_jsonable
from pcso_tui.domain.reporting.views import DASHBOARD_PERIODS, NO_VALUE, format_kpi_value

if TYPE_CHECKING:
    from pcso_tui.domain.core.roles import Actor
    from pcso_tui.domain.core.service import Domain
    from pcso_tui.domain.reporting.views import Dashboard, DrillDown, KpiPoint, KpiView

FORMATS = ("json", "csv", "markdown")


class _Moment(click.ParamType):
    """``2026-11-23`` or ``2026-11-23T09:00`` (UTC unless it says otherwise) → aware datetime."""

    name = "date"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> datetime:
        if isinstance(value, datetime):
            return value
        try:
            moment = datetime.fromisoformat(str(value).strip())
        except ValueError:
            self.fail(f"{one_line(str(value), 40)!r} is not a date (like 2026-11-23 or 2026-11-23T09:00)", param, ctx)
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# --- the report as data --------------------------------------------------------------------


def _point(p: KpiPoint) -> dict[str, Any]:
    return {
        "period": p.period.label,
        "start": p.period.start.isoformat(),
        "end": p.period.end.isoformat(),
        "value": p.value,
        "count": p.count,
        "base": p.base,
    }


def report_data(d: Dashboard) -> dict[str, Any]:
    """The report as JSON-ready data: every KPI with its current figures and its trend."""
    return {
        "period": d.period,
        "at": d.at.isoformat(),
        "computed_at": d.computed_at.isoformat(),
        "current": to_jsonable(d.current),
        "periods": [p.label for p in d.periods],
        "kpis": [
            {
                "key": k.key,
                "title": k.title,
                "group": k.group,
                "kind": k.kind,
                "unit": k.unit,
                "definition": k.definition,
                "drills_to": k.drills_to,
                **{name: v for name, v in _point(k.current).items() if name not in ("start", "end")},
                "shown": k.shown,
                "parts": [to_jsonable(part) for part in k.parts],
                "trend": [_point(p) for p in k.trend],
            }
            for k in d.kpis
        ],
    }


def report_json(d: Dashboard) -> str:
    return json.dumps(report_data(d), indent=2, ensure_ascii=False) + "\n"


CSV_COLUMNS = ("key", "title", "unit", "period", "start", "end", "current", "part", "value", "count", "base", "extra")


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, str):
        return printable(value)
    return value


def report_csv(d: Dashboard) -> str:
    """One row per KPI and period (oldest first), then one per part of the current period (the
    outage types, the top customers). No value: an empty cell."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)

    def row(k: KpiView, p: KpiPoint, *rest: Any) -> None:
        period = (p.period.label, p.period.start.isoformat(), p.period.end.isoformat())
        writer.writerow(_cell(v) for v in (k.key, k.title, k.unit, *period, *rest))

    for k in d.kpis:
        for p in (*k.trend, k.current):
            row(k, p, "yes" if p.period.current else "no", None, p.value, p.count, p.base, None)
        for part in k.parts:
            label = f"{part.key} {part.label}" if part.key != part.label else part.key
            row(k, k.current, "yes", label, part.value, None, None, part.extra)
    return out.getvalue()


def _md(text: str | None) -> str:
    """A table cell: one printable line, pipes escaped."""
    return one_line(text or "").replace("|", "\\|")


def report_markdown(d: Dashboard) -> str:
    lines = [f"# pcso report: {d.period} {d.current.label}", ""]
    lines.append(
        f"{d.current.start:%Y-%m-%d} to {d.current.end:%Y-%m-%d} (UTC, end exclusive), "
        f"computed {d.computed_at:%Y-%m-%d %H:%M} UTC. {NO_VALUE} means nothing to measure."
    )
    previous = [p.label for p in d.periods[:-1]]
    for group, heading in (("established", "Outages and proactive cases"), ("ours", "How proactive we are")):
        lines += ["", f"## {heading}", ""]
        lines.append("| KPI | " + " | ".join([d.current.label, "records", "of", *previous]) + " |")
        lines.append("|---|" + "---:|" * (3 + len(previous)))
        for k in (k for k in d.kpis if k.group == group):
            trend = [format_kpi_value(v, k.unit) for v in k.trend_values]
            base = "" if k.base is None else str(k.base)
            lines.append("| " + " | ".join([_md(k.title), k.shown, str(k.count), base, *trend]) + " |")
    by_type = d.kpi("outages_by_type")
    lines += ["", f"## Outages by type, {d.current.label}", "", "| type | outages |", "|---|---:|"]
    lines += [f"| {_md(p.label)} | {p.value:,.0f} |" for p in by_type.parts]
    top = d.kpi("top_customers")
    lines += ["", f"## Top impacted customers, {d.current.label}", ""]
    if top.parts:
        lines += ["| account | name | outages | minutes |", "|---|---|---:|---:|"]
        lines += [f"| {_md(p.key)} | {_md(p.label)} | {p.value:,.0f} | {p.extra or 0:,.0f} |" for p in top.parts]
    else:
        lines.append("No customer was hit by an outage in this period.")
    lines += ["", "## Definitions", ""]
    for k in d.kpis:
        lines.append(f"- **{_md(k.title)}** (`{k.key}`, {k.unit}): {k.definition}")
    return "\n".join(lines) + "\n"


# --- the drill-down ---------------------------------------------------------------------------

DRILL_COLUMNS = ("kind", "number", "title", "at", "value", "detail")


def _drill_cells(dd: DrillDown) -> list[tuple[Any, ...]]:
    return [(r.kind, r.number, r.title, r.at.isoformat() if r.at else None, r.value, r.detail) for r in dd.rows]


def drill_json(dd: DrillDown) -> str:
    return json.dumps(to_jsonable(dd), indent=2, ensure_ascii=False) + "\n"


def drill_csv(dd: DrillDown) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(DRILL_COLUMNS)
    writer.writerows(tuple(_cell(v) for v in row) for row in _drill_cells(dd))
    return out.getvalue()


def drill_markdown(dd: DrillDown) -> str:
    part = f" ({dd.part})" if dd.part else ""
    shown = f"{dd.offset + 1}–{dd.offset + len(dd.rows)}" if dd.rows else "none"
    lines = [
        f"# {_md(dd.title)}{part}: {dd.period.period} {dd.period.label}",
        "",
        f"{dd.total} {dd.drills_to} in all; rows {shown}.",
        "",
        "| " + " | ".join(DRILL_COLUMNS) + " |",
        "|---|---|---|---|---:|---|",
    ]
    for kind, number, title, at, value, detail in _drill_cells(dd):
        cells = [kind, number, title, at or "", "" if value is None else f"{value:,.2f}", detail]
        lines.append("| " + " | ".join(_md(str(c)) for c in cells) + " |")
    return "\n".join(lines) + "\n"


RENDER = {
    "json": (report_json, drill_json),
    "csv": (report_csv, drill_csv),
    "markdown": (report_markdown, drill_markdown),
}


@click.command("report")
@click.option("--period", type=click.Choice(DASHBOARD_PERIODS), default="month", show_default=True)
@click.option("--at", "at", type=_Moment(), help="Any moment of the period to report (default: now).")
@click.option(
    "--periods-back", type=click.IntRange(0, 60), default=6, show_default=True, help="Trend: periods before it."
)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="markdown", show_default=True)
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), help="Write to this file.")
@click.option("--drill", "drill", metavar="KPI", help="List the records behind this KPI (its key) instead.")
@click.option("--part", metavar="TYPE", help="With --drill outages_by_type: only this outage type.")
@click.option("--limit", type=click.IntRange(1, 1000), default=100, show_default=True, help="With --drill.")
@click.option("--offset", type=click.IntRange(0), default=0, help="With --drill.")
@pass_cli
def report(
    ctx: CliContext,
    period: str,
    at: datetime | None,
    periods_back: int,
    fmt: str,
    out: Path | None,
    drill: str | None,
    part: str | None,
    limit: int,
    offset: int,
) -> None:
    """The dashboard's KPIs for a period, with their trend and definitions.

    Periods are UTC calendar periods (weeks start on Monday); the running period counts up to
    now. Staff only.
    """
    from pcso_tui.domain.reporting import dashboard

    async def action(domain: Domain, actor: Actor) -> Any:
        if drill is not None:
            return await dashboard.drill_down(
                domain, actor, drill, period=period, at=at, part=part, limit=limit, offset=offset
            )
        if part is not None:
            from pcso_tui.domain.core.errors import InvalidInput

            raise InvalidInput("--part goes with --drill outages_by_type")
        return await dashboard.kpis(domain, actor, period=period, at=at, periods_back=periods_back)

    result = with_domain(ctx, action)
    render_report, render_drill = RENDER[fmt]
    text = render_drill(result) if drill is not None else render_report(result)
    if out is None:
        click.echo(text, nl=False)
        return
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise click.ClickException(f"cannot write {out}: {exc.strerror}") from None
    click.echo(f"pcso: report written to {out}", err=True)


commands = (report,)
