"""The dashboard: how proactive we are, and what outages cost (DESIGN §2 step 10).

``kpis()`` computes every KPI for the period holding ``at`` and for the periods before it;
``drill_down()`` lists the records behind one KPI in one period. Both build on the same *facts*
queries, so a drill-down's total is, by construction, the KPI's ``count``.

Periods are UTC calendar periods, ``[start, end)``: day, week (starting Monday), month,
quarter. A running period counts what happened up to and including now (``domain.clock()``);
``at`` only chooses which period is current. Open-ended things (an outage with no end yet)
last until now.

Everything is aggregated in SQL — GROUP BY over period buckets, COUNT/SUM/AVG, window
functions — never by looping over rows in Python; the few rows that come back are one per
period (or per period and part). Two shapes:

- **GROUP BY bucket** for facts with one timestamp (cases opened, alerts first seen, outages
  ended): ``_bucket`` renders the start date of the period holding a timestamp;
- **the periods as a table** (``_periods``: one row per period, its start, stop and days) for
  what spans time (an outage active on some days, open at a period's end) and for the large
  distinct counts (affected accounts and items, accounts hit by outages), computed per period
  by a correlated subquery: SQLite would otherwise sort a whole year's rows to group them.

The two dialects differ in three places, each a small helper below: the bucket of a timestamp
(``_bucket``), the seconds between two timestamps and the day number of a timestamp
(``_seconds``, ``_day``), and percentiles (``percentile_cont`` on PostgreSQL; on SQLite, which
has none, ``row_number()`` over the ordered values and linear interpolation between the two
ranks around the percentile, which gives the same figure).

The KPI definitions below are the help text on the screen and the text of ``docs/dashboard.md``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import (
    Date,
    Float,
    Integer,
    Select,
    String,
    and_,
    case,
    cast,
    exists,
    extract,
    false,
    func,
    literal,
    literal_column,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from pcso_tui.domain.core.errors import InvalidInput
from pcso_tui.domain.core.models import (
    Account,
    Alert,
    Case,
    CaseAccount,
    CaseItem,
    InstallBaseItem,
    Notice,
    Outage,
    UTCDateTime,
)
from pcso_tui.domain.core.roles import Actor, Permission, require
from pcso_tui.domain.core.service import Domain
from pcso_tui.domain.core.views import case_number, outage_number
from pcso_tui.domain.reporting.views import (
    DASHBOARD_PERIODS,
    Dashboard,
    DrillDown,
    DrillRow,
    KpiPart,
    KpiPoint,
    KpiView,
    PeriodView,
)

MAX_PERIODS_BACK = 60
MAX_PAGE = 1000
TOP_CUSTOMERS = 10
OUTAGE_TYPES = ("unplanned", "planned", "degradation")
_EPOCH = date(1970, 1, 1)
_TICK = timedelta(microseconds=1)

_case = Case.__table__
_ca = CaseAccount.__table__
_ci = CaseItem.__table__
_item = InstallBaseItem.__table__
_account = Account.__table__
_alert = Alert.__table__
_notice = Notice.__table__
_outage = Outage.__table__


# --- the KPIs, as the screen and the docs describe them -------------------------------------


@dataclass(frozen=True, slots=True)
class KpiSpec:
    key: str
    title: str
    group: str  # established | ours
    kind: str  # count | share | ratio | mean | percentile | ranking
    unit: str
    drills_to: str
    definition: str


KPIS: tuple[KpiSpec, ...] = (
    KpiSpec(
        "proactive_cases",
        "Proactive cases",
        "established",
        "count",
        "cases",
        "cases",
        "The number of proactive cases opened in the period: cases an operator (or a workflow rule) opened on an "
        "incident, carrying its impact, before any customer called.",
    ),
    KpiSpec(
        "promoted_to_major",
        "Promoted to major case",
        "established",
        "share",
        "%",
        "cases",
        "The share of the proactive cases opened in the period that became major cases: proposed and then "
        "approved, or accepted at once by the workflow rule (their major case state is accepted, as it stands "
        "now). A proposal still waiting, a rejected one, and a proactive case attached to a major case that "
        "already existed do not count. The base is every proactive case opened in the period; the drill-down "
        "lists the promoted ones.",
    ),
    KpiSpec(
        "affected_accounts",
        "Affected customers",
        "established",
        "count",
        "accounts",
        "accounts",
        "The number of distinct customer accounts (external accounts; our own departments are left out) listed "
        "as affected on the proactive cases and approved major cases opened in the period (a major case still "
        "only proposed is not counted). An account hit by several cases counts once in the period.",
    ),
    KpiSpec(
        "affected_items",
        "Affected install base items",
        "established",
        "count",
        "items",
        "items",
        "The number of distinct install base items of customer accounts listed as affected on the proactive "
        "cases and approved major cases opened in the period. An item hit by several cases counts once in the "
        "period.",
    ),
    KpiSpec(
        "alerts_to_proactive",
        "Alerts that led to a proactive case",
        "established",
        "share",
        "%",
        "alerts",
        "The share of the alerts that mattered — critical ones, and any an operator acknowledged — first seen "
        "in the period whose incident got a proactive case (at any time since). Alerts raised during a "
        "maintenance window are left out. The base is those alerts; the drill-down lists the ones that led to "
        "a proactive case.",
    ),
    KpiSpec(
        "active_outages_per_day",
        "Active outages per day",
        "established",
        "ratio",
        "per day",
        "outage days",
        "For every UTC day of the period up to today, the number of outages active at some moment of that day, "
        "averaged over those days. An outage is either a record of the outage list (planned, unplanned or "
        "degradation; from its begin to its end, or until now while it has no end) or an approved major case "
        "that no outage record names, which counts as an unplanned outage from the major case's opening to "
        "its resolution. The drill-down lists one row per outage and day (outage-days, the numerator); the "
        "base is the number of days.",
    ),
    KpiSpec(
        "outage_duration",
        "Average outage duration",
        "established",
        "mean",
        "h",
        "outages",
        "The mean duration in hours, from begin to end, of the outages (as defined for active outages per day) "
        "that ended in the period. Outages still open are not in the average: they are counted by Open "
        "outages.",
    ),
    KpiSpec(
        "open_outages",
        "Open outages",
        "established",
        "count",
        "outages",
        "outages",
        "The number of outages that had begun and not ended at the end of the period — for the current period, "
        "right now. Their duration so far is shown in the drill-down; they are not in the average duration.",
    ),
    KpiSpec(
        "outages_by_type",
        "Outages by type",
        "established",
        "count",
        "outages",
        "outages",
        "The number of outages that began in the period (up to now), split into unplanned, planned and "
        "degradation. Approved major cases that no outage record names count as unplanned.",
    ),
    KpiSpec(
        "top_customers",
        "Top impacted customers",
        "established",
        "ranking",
        "accounts",
        "accounts",
        "Customer accounts ranked by the number of outages that began in the period and affected them (the "
        "accounts on the case the outage record names, or on the major case itself), then by those outages' "
        "minutes (to their end, or until now). The value is how many accounts were hit; the first ten of the "
        "current period are listed with their outages and minutes.",
    ),
    KpiSpec(
        "alert_to_notice_median",
        "First alert to first notice (median)",
        "ours",
        "percentile",
        "min",
        "cases",
        "Minutes from the first alert to the first customer notice, median over the approved major cases "
        "opened in the period that have an incident with alerts and at least one notice sent: from the "
        "earliest first-seen time of the incident's alerts to the earliest sent time of a notice, to any contact, "
        "on the major case's child cases (a notice sent before the first alert counts as 0). A major case with "
        "no notice "
        "sent yet is not measured. Linear interpolation between ranks (as percentile_cont).",
    ),
    KpiSpec(
        "alert_to_notice_p90",
        "First alert to first notice (p90)",
        "ours",
        "percentile",
        "min",
        "cases",
        "The 90th percentile of the same minutes as the median: nine major cases in ten told their first "
        "customer this quickly or quicker after the first alert.",
    ),
    KpiSpec(
        "notified_first",
        "Notified before they contacted us",
        "ours",
        "share",
        "%",
        "accounts",
        "For every approved major case opened in the period and every customer account with a case under it "
        "(the child case made for it, or its own call attached to it): was the account's first sent notice on "
        "those cases, to any of its contacts, earlier than its first reactive case attached to the major case? "
        "An account notified that never called counts as notified first; one never notified (none of its "
        "contacts was sent a notice: opted out, internal, or not named by [delivery] notify) does not. The "
        "base is every such (major case, account) pair, not every contact; the drill-down lists the pairs "
        "notified first.",
    ),
    KpiSpec(
        "deflected_calls",
        "Deflected calls",
        "ours",
        "count",
        "calls",
        "cases",
        "The number of reactive cases (customers who called or wrote in) opened in the period and attached to "
        "a known major case, so the agent could answer at once.",
    ),
    KpiSpec(
        "mttr",
        "Mean time to resolve",
        "ours",
        "mean",
        "h",
        "cases",
        "The mean time in hours from a major case's opening to its resolution, over the approved major cases "
        "resolved in the period.",
    ),
    KpiSpec(
        "children_per_major",
        "Child cases per major case",
        "ours",
        "ratio",
        "per major case",
        "cases",
        "The number of cases whose parent is an approved major case opened in the period (one child per "
        "affected account, plus the customer cases attached to it), divided by the number of those major "
        "cases. The drill-down lists the child cases.",
    ),
)
KPI_BY_KEY = {k.key: k for k in KPIS}


# --- periods ---------------------------------------------------------------------------------


def period_start(period: str, at: datetime) -> datetime:
    """The start of the UTC calendar period holding ``at``."""
    t = at.astimezone(UTC)
    day = datetime(t.year, t.month, t.day, tzinfo=UTC)
    if period == "day":
        return day
    if period == "week":
        return day - timedelta(days=t.weekday())
    if period == "month":
        return day.replace(day=1)
    return day.replace(day=1, month=3 * ((t.month - 1) // 3) + 1)


def shift_period(period: str, start: datetime, n: int) -> datetime:
    """The start of the period ``n`` periods after the one starting at ``start``."""
    if period == "day":
        return start + timedelta(days=n)
    if period == "week":
        return start + timedelta(weeks=n)
    months = n * (3 if period == "quarter" else 1)
    index = start.year * 12 + start.month - 1 + months
    return start.replace(year=index // 12, month=index % 12 + 1)


def period_label(period: str, start: datetime) -> str:
    if period == "day":
        return start.date().isoformat()
    if period == "week":
        year, week, _ = start.isocalendar()
        return f"{year}-W{week:02d}"
    if period == "month":
        return f"{start.year}-{start.month:02d}"
    return f"{start.year}-Q{(start.month - 1) // 3 + 1}"


def _day_number(t: datetime) -> int:
    return (t.astimezone(UTC).date() - _EPOCH).days


def _day_after(t: datetime) -> int:
    """The first day an interval ending (exclusively) at ``t`` does not touch."""
    t = t.astimezone(UTC)
    midnight = t.hour == t.minute == t.second == t.microsecond == 0
    return _day_number(t) + (0 if midnight else 1)


@dataclass(frozen=True, slots=True)
class _Window:
    """A period as the queries see it: ``[start, stop)`` where ``stop`` is the period's end, or
    just after now for the running period (nothing after now has happened)."""

    view: PeriodView
    start: datetime
    stop: datetime

    @property
    def key(self) -> str:
        return self.start.date().isoformat()

    @property
    def days(self) -> tuple[int, int]:
        """Day numbers ``[first, after)`` of the days elapsed in the window."""
        first = _day_number(self.start)
        if self.stop <= self.start:
            return first, first
        return first, _day_after(self.stop)


def _windows(period: str, at: datetime, periods_back: int, now: datetime) -> list[_Window]:
    current = period_start(period, at)
    horizon = now + _TICK
    out = []
    for n in range(-periods_back, 1):
        start = shift_period(period, current, n)
        end = shift_period(period, start, 1)
        stop = max(start, min(end, horizon))
        view = PeriodView(period=period, label=period_label(period, start), start=start, end=end, current=n == 0)
        out.append(_Window(view=view, start=start, stop=stop))
    return out


# --- dialect helpers -------------------------------------------------------------------------


def _sql(text: str) -> Any:
    """A constant of our own inlined into the statement (so GROUP BY repeats it verbatim)."""
    return literal_column(f"'{text}'")


def _bucket(column: Any, period: str, dialect: str) -> ColumnElement[str]:
    """The start date (``YYYY-MM-DD``) of the UTC period holding a stored timestamp."""
    if dialect == "postgresql":
        return func.to_char(func.date_trunc(_sql(period), column), _sql("YYYY-MM-DD"))
    if period == "day":
        return func.date(column)
    if period == "week":
        # To the coming Sunday (or stay on one), then back to its Monday.
        return func.date(column, _sql("weekday 0"), _sql("-6 days"))
    if period == "month":
        return func.date(column, _sql("start of month"))
    back = (cast(func.strftime(_sql("%m"), column), Integer) - 1) % 3
    return func.date(column, _sql("start of month"), func.printf(_sql("-%d months"), back))


def _seconds(begin: Any, end: Any, dialect: str) -> ColumnElement[float]:
    """Seconds from ``begin`` to ``end`` (a float)."""
    if dialect == "postgresql":
        return cast(extract("epoch", end - begin), Float)
    # julianday() is a double: good to ~20 µs at today's dates; rounded to the millisecond.
    return func.round((func.julianday(end) - func.julianday(begin)) * 86400.0, 3)


def _day(column: Any, dialect: str) -> ColumnElement[int]:
    """Days since 1970-01-01 of the UTC day holding a stored timestamp."""
    if dialect == "postgresql":
        return cast(cast(column, Date) - literal_column("DATE '1970-01-01'"), Integer)
    return cast(func.julianday(func.date(column)) - 2440587.5, Integer)


def _day_after_sql(column: Any, dialect: str) -> ColumnElement[int]:
    """The first day an interval ending (exclusively) at ``column`` does not touch."""
    if dialect == "postgresql":
        after_midnight = column > cast(cast(column, Date), UTCDateTime().impl)
    else:
        after_midnight = func.julianday(column) > func.julianday(func.date(column))
    return _day(column, dialect) + case((after_midnight, 1), else_=0)


def _least(a: Any, b: Any, dialect: str) -> Any:
    return func.least(a, b) if dialect == "postgresql" else func.min(a, b)


def _greatest(a: Any, b: Any, dialect: str) -> Any:
    return func.greatest(a, b) if dialect == "postgresql" else func.max(a, b)


def _at(value: datetime) -> Any:
    """A timestamp bound the way the column stores it (so SQLite compares like with like)."""
    return literal(value, UTCDateTime())


def _percentiles(facts: Any, dialect: str, fractions: Sequence[tuple[int, int]]) -> Select[Any]:
    """Per bucket ``k`` of ``facts`` (columns ``k``, ``v``): the count and, for each fraction
    ``p/q``, the percentile of ``v`` with linear interpolation (PostgreSQL's percentile_cont)."""
    if dialect == "postgresql":
        return select(
            facts.c.k,
            func.count(),
            *(func.percentile_cont(p / q).within_group(facts.c.v) for p, q in fractions),
        ).group_by(facts.c.k)
    ranked = select(
        facts.c.k,
        facts.c.v,
        (func.row_number().over(partition_by=facts.c.k, order_by=facts.c.v) - 1).label("r"),
        func.count().over(partition_by=facts.c.k).label("n"),
    ).subquery("ranked")
    columns = []
    for p, q in fractions:
        at = ranked.c.n - 1
        low = (at * p) // q  # the rank at or below the percentile
        weight = cast((at * p) % q, Float) / q
        columns.append(
            func.sum(
                case(
                    (ranked.c.r == low, ranked.c.v * (1 - weight)),
                    (ranked.c.r == low + 1, ranked.c.v * weight),
                    else_=0.0,
                )
            )
        )
    return select(ranked.c.k, func.max(ranked.c.n), *columns).group_by(ranked.c.k)


# --- the facts every KPI and its drill-down share ---------------------------------------------


@dataclass(frozen=True, slots=True)
class _Ctx:
    dialect: str
    period: str
    now: datetime

    @property
    def horizon(self) -> datetime:
        return self.now + _TICK

    def bucket(self, column: Any) -> ColumnElement[str]:
        return _bucket(column, self.period, self.dialect)


Bound = datetime | ColumnElement[Any]  # a moment, or a column of the periods table


def _t(value: Bound) -> Any:
    return _at(value) if isinstance(value, datetime) else value


def _in(column: Any, start: Bound, stop: Bound) -> ColumnElement[bool]:
    return and_(column >= _t(start), column < _t(stop))


def _materialized(query: Select[Any], name: str) -> Any:
    """A CTE computed once per statement (SQLite would otherwise rebuild an ``IN`` list from it
    at every run of a correlated subquery, or evaluate a flattened subquery's columns twice)."""
    return query.cte(name).prefix_with("MATERIALIZED")


def _internal_accounts() -> Select[Any]:
    """Our own departments' accounts (a few): left out of customer figures with NOT IN, which
    is cheaper than joining the account table for every row."""
    internal = _materialized(select(_account.c.id).where(_account.c.is_external.is_(False)), "internal_accounts")
    return select(internal.c.id)


def _internal_items() -> Select[Any]:
    internal = _materialized(
        select(_item.c.id).join(_account, _account.c.id == _item.c.account_id).where(_account.c.is_external.is_(False)),
        "internal_items",
    )
    return select(internal.c.id)


def _proactive(ctx: _Ctx, start: Bound, stop: Bound) -> Select[Any]:
    c = _case
    return select(
        c.c.id,
        c.c.opened_at.label("t"),
        case((c.c.major_case_state == "accepted", 1), else_=0).label("hit"),
    ).where(c.c.kind == "proactive", _in(c.c.opened_at, start, stop))


def _impact_cases(c: Any, start: Bound, stop: Bound) -> ColumnElement[bool]:
    """Proactive cases and approved major cases opened in ``[start, stop)``."""
    outage_cases = or_(c.c.kind == "proactive", and_(c.c.kind == "major", c.c.major_case_state == "accepted"))
    return and_(outage_cases, _in(c.c.opened_at, start, stop))


# The customer accounts (or their items) on those cases: (id, t) per case and account (or item).


def _affected_accounts(ctx: _Ctx, start: Bound, stop: Bound) -> Select[Any]:
    c = _case
    return (
        select(_ca.c.account_id.label("id"), c.c.opened_at.label("t"))
        .select_from(c)
        .join(_ca, _ca.c.case_id == c.c.id)
        .where(_impact_cases(c, start, stop), _ca.c.account_id.not_in(_internal_accounts()))
    )


def _affected_items(ctx: _Ctx, start: Bound, stop: Bound) -> Select[Any]:
    c = _case
    return (
        select(_ci.c.item_id.label("id"), c.c.opened_at.label("t"))
        .select_from(c)
        .join(_ci, _ci.c.case_id == c.c.id)
        .where(_impact_cases(c, start, stop), _ci.c.item_id.not_in(_internal_items()))
    )


def _alerts(ctx: _Ctx, start: datetime, stop: datetime) -> Select[Any]:
    a = _alert
    proactive = exists().where(_case.c.incident_id == a.c.incident_id, _case.c.kind == "proactive")
    return select(
        a.c.id,
        a.c.first_seen_at.label("t"),
        case((and_(a.c.incident_id.is_not(None), proactive), 1), else_=0).label("hit"),
    ).where(
        or_(a.c.severity == "critical", a.c.acknowledged.is_(True)),
        a.c.maintenance.is_(False),
        _in(a.c.first_seen_at, start, stop),
    )


def _outages(ctx: _Ctx, start: datetime, stop: datetime) -> Any:
    """Every outage touching ``[start, stop)``: outage records, and approved major cases no
    outage record names (as unplanned). Columns: src (outage|case), id, type, title, b
    (begin), e (end, NULL while open), case_id (whose affected accounts it hit)."""
    o, m = _outage, _case
    named = _outage.alias("named")
    records = select(
        literal("outage", String()).label("src"),
        o.c.id,
        o.c.type,
        o.c.title,
        o.c.begins_at.label("b"),
        o.c.ends_at.label("e"),
        o.c.case_id,
    ).where(o.c.begins_at < _at(stop), or_(o.c.ends_at.is_(None), o.c.ends_at >= _at(start)))
    end = func.coalesce(m.c.resolved_at, m.c.closed_at)
    majors = select(
        literal("case", String()),
        m.c.id,
        literal("unplanned", String()),
        m.c.short_description,
        m.c.opened_at,
        end,
        m.c.id,
    ).where(
        m.c.kind == "major",
        m.c.major_case_state == "accepted",
        m.c.state != "canceled",
        m.c.opened_at < _at(stop),
        or_(end.is_(None), end >= _at(start)),
        ~exists().where(named.c.case_id == m.c.id),
    )
    return union_all(records, majors).subquery("outages")


def _majors(start: Bound, stop: Bound, *, resolved: bool = False) -> Select[Any]:
    m = _case
    when = m.c.resolved_at if resolved else m.c.opened_at
    return select(m.c.id, m.c.opened_at, m.c.incident_id, m.c.resolved_at, m.c.short_description).where(
        m.c.kind == "major",
        m.c.major_case_state == "accepted",
        m.c.state != "canceled",
        _in(when, start, stop),
    )


def _first_sent(child: Any) -> Any:
    """When the first notice on one case was sent (an index seek on notice(case_id, state, sent_at))."""
    n = _notice.alias("n")
    return select(func.min(n.c.sent_at)).where(n.c.case_id == child.c.id, n.c.state == "sent").scalar_subquery()


def _time_to_notice(ctx: _Ctx, start: Bound, stop: Bound) -> Select[Any]:
    """Per major case opened in the window with an incident with alerts and a notice sent: the
    minutes from the incident's first alert to the first notice on its children."""
    majors = _majors(start, stop).subquery("majors")
    child = _case.alias("child")
    first_notice = select(func.min(_first_sent(child))).where(child.c.parent_id == majors.c.id).scalar_subquery()
    first_alert = (
        select(func.min(_alert.c.first_seen_at)).where(_alert.c.incident_id == majors.c.incident_id).scalar_subquery()
    )
    measured = _materialized(
        select(majors.c.id, majors.c.opened_at.label("t"), first_notice.label("notice"), first_alert.label("alert")),
        "measured",
    )
    minutes = _seconds(measured.c.alert, measured.c.notice, ctx.dialect) / 60.0
    return select(measured.c.id, measured.c.t, _greatest(minutes, 0.0, ctx.dialect).label("v")).where(
        measured.c.notice.is_not(None), measured.c.alert.is_not(None)
    )


def _notified_first(ctx: _Ctx, start: Bound, stop: Bound) -> Select[Any]:
    """Per major case opened in the window and customer account with a case under it (its child
    case, or its own call attached): when the account was first notified, when it first called,
    and whether the notice came first (``hit``)."""
    m = _case.alias("m")
    ch = _case.alias("ch")
    pairs = (
        select(
            ch.c.account_id.label("id"),
            ch.c.parent_id.label("major_id"),
            func.min(m.c.opened_at).label("t"),
            func.min(_first_sent(ch)).label("notified"),
            func.min(case((ch.c.kind == "reactive", ch.c.opened_at))).label("called"),
        )
        .select_from(ch)
        .join(m, m.c.id == ch.c.parent_id)
        .where(
            # IN, so that SQLite seeks the children of the period's major cases rather than
            # scanning every child case for a major case in the period.
            ch.c.parent_id.in_(_majors(start, stop).with_only_columns(_case.c.id)),
            ch.c.account_id.is_not(None),
            ch.c.account_id.not_in(_internal_accounts()),
        )
        .group_by(ch.c.parent_id, ch.c.account_id)
        .subquery("pairs")
    )
    first = and_(pairs.c.notified.is_not(None), or_(pairs.c.called.is_(None), pairs.c.notified < pairs.c.called))
    return select(pairs, case((first, 1), else_=0).label("hit"))


def _deflected(ctx: _Ctx, start: datetime, stop: datetime) -> Select[Any]:
    c = _case
    return select(c.c.id, c.c.opened_at.label("t")).where(
        c.c.kind == "reactive", c.c.deflected.is_(True), _in(c.c.opened_at, start, stop)
    )


def _resolved_majors(ctx: _Ctx, start: datetime, stop: datetime) -> Select[Any]:
    majors = _majors(start, stop, resolved=True).subquery("majors")
    hours = _seconds(majors.c.opened_at, majors.c.resolved_at, ctx.dialect) / 3600.0
    return select(majors.c.id, majors.c.resolved_at.label("t"), hours.label("v"))


def _children(ctx: _Ctx, start: datetime, stop: datetime) -> tuple[Any, Select[Any]]:
    """(the major cases opened in the window, their child cases)."""
    majors = _majors(start, stop).subquery("majors")
    child = _case.alias("child")
    children = (
        select(child.c.id, majors.c.id.label("major_id"), majors.c.opened_at.label("t"))
        .select_from(majors)
        .join(child, child.c.parent_id == majors.c.id)
    )
    return majors, children


# --- kpis() ----------------------------------------------------------------------------------


_Points = dict[str, dict[str, KpiPoint]]  # KPI key → window key → point


class _PointOf(Protocol):
    """A window's point from its period. A Protocol rather than a Callable: mypy cannot infer the
    lambdas below, whose default arguments bind the loop's values, against a Callable."""

    def __call__(self, period: PeriodView, /) -> KpiPoint: ...


def _check_period(period: str) -> str:
    if period not in DASHBOARD_PERIODS:
        raise InvalidInput(f"unknown period {period!r}; one of: {', '.join(DASHBOARD_PERIODS)}")
    return period


def _check_at(at: datetime | None) -> None:
    if at is not None and at.tzinfo is None:
        raise InvalidInput("at must carry a time zone (e.g. 2026-11-23T00:00+00:00)")


def _share(count: int, base: int) -> float | None:
    return 100.0 * count / base if base else None


def _ratio(count: int, base: int) -> float | None:
    return count / base if base else None


class _Computation:
    """Runs the aggregate queries for a list of windows and files the results by window."""

    def __init__(self, session: AsyncSession, ctx: _Ctx, windows: list[_Window]) -> None:
        self.session = session
        self.ctx = ctx
        self.windows = windows
        self.by_key = {w.key: w for w in windows}
        self.start = windows[0].start
        self.stop = windows[-1].stop
        self.points: _Points = {}

    def put(self, key: str, window_key: str | None, point: _PointOf) -> None:
        window = self.by_key.get(window_key or "")
        if window is not None:
            self.points.setdefault(key, {})[window.key] = point(window.view)

    async def rows(self, query: Select[*tuple[Any, ...]]) -> list[Any]:
        return list((await self.session.execute(query)).all())

    async def run(self) -> _Points:
        for step in (
            self._proactive,
            self._affected,
            self._alerts,
            self._active_outages,
            self._outage_duration,
            self._open_outages,
            self._outages_by_type,
            self._top_customers,
            self._time_to_notice,
            self._notified_first,
            self._deflected,
            self._mttr,
            self._children,
        ):
            await step()
        return self.points

    async def _proactive(self) -> None:
        facts = _proactive(self.ctx, self.start, self.stop).subquery("facts")
        k = self.ctx.bucket(facts.c.t)
        for key, n, hit in await self.rows(select(k, func.count(), func.sum(facts.c.hit)).group_by(k)):
            self.put("proactive_cases", key, lambda p, n=n: KpiPoint(p, float(n), n))
            self.put("promoted_to_major", key, lambda p, n=n, h=int(hit): KpiPoint(p, _share(h, n), h, n))

    async def _affected(self) -> None:
        # A distinct count per period (a correlated subquery over each period's range) rather than
        # GROUP BY bucket: SQLite would sort the whole range's rows to group them.
        periods = self._periods()
        counts = []
        for facts_of in (_affected_accounts, _affected_items):
            facts = facts_of(self.ctx, periods.c.s, periods.c.t)
            distinct = func.count(func.distinct(facts.selected_columns.id))
            counts.append(facts.with_only_columns(distinct).scalar_subquery())
        for i, accounts, items in await self.rows(select(periods.c.i, *counts).where(periods.c.t > periods.c.s)):
            key = self.windows[i].key
            self.put("affected_accounts", key, lambda p, n=accounts: KpiPoint(p, float(n), n))
            self.put("affected_items", key, lambda p, n=items: KpiPoint(p, float(n), n))

    async def _alerts(self) -> None:
        facts = _alerts(self.ctx, self.start, self.stop).subquery("facts")
        k = self.ctx.bucket(facts.c.t)
        for key, n, hit in await self.rows(select(k, func.count(), func.sum(facts.c.hit)).group_by(k)):
            self.put("alerts_to_proactive", key, lambda p, n=n, h=int(hit): KpiPoint(p, _share(h, n), h, n))

    def _periods(self) -> Any:
        """The windows as a table: i, s (start), t (stop), d0 and d1 (their days ``[d0, d1)``)."""
        return union_all(
            *(
                select(
                    literal(i, Integer()).label("i"),
                    _at(w.start).label("s"),
                    _at(w.stop).label("t"),
                    literal(w.days[0], Integer()).label("d0"),
                    literal(w.days[1], Integer()).label("d1"),
                )
                for i, w in enumerate(self.windows)
            )
        ).cte("periods")

    async def _active_outages(self) -> None:
        ctx = self.ctx
        periods = self._periods()
        spans = _outage_spans(ctx, _outages(ctx, self.start, self.stop), periods)
        rows = await self.rows(
            select(spans.c.i, func.sum(spans.c.last - spans.c.first))
            .where(spans.c.last > spans.c.first)
            .group_by(spans.c.i)
        )
        days = {i: int(n) for i, n in rows}
        for i, w in enumerate(self.windows):
            base = w.days[1] - w.days[0]
            n = days.get(i, 0)
            self.put("active_outages_per_day", w.key, lambda p, n=n, b=base: KpiPoint(p, _ratio(n, b), n, b))

    async def _outage_duration(self) -> None:
        o = _outages(self.ctx, self.start, self.stop)
        k = self.ctx.bucket(o.c.e)
        hours = func.avg(_seconds(o.c.b, o.c.e, self.ctx.dialect)) / 3600.0
        query = select(k, func.count(), hours).where(_in(o.c.e, self.start, self.stop)).group_by(k)
        for key, n, avg in await self.rows(query):
            self.put("outage_duration", key, lambda p, n=n, v=float(avg): KpiPoint(p, v, n))

    async def _open_outages(self) -> None:
        o = _outages(self.ctx, self.start, self.stop)
        periods = self._periods()
        query = (
            select(periods.c.i, func.count())
            .select_from(periods)
            .join(o, and_(o.c.b < periods.c.t, or_(o.c.e.is_(None), o.c.e >= periods.c.t)))
            .where(periods.c.t > periods.c.s)
            .group_by(periods.c.i)
        )
        counts = dict(await self.rows(query))
        for i, w in enumerate(self.windows):
            self.put("open_outages", w.key, lambda p, n=counts.get(i, 0): KpiPoint(p, float(n), n))

    async def _outages_by_type(self) -> None:
        o = _outages(self.ctx, self.start, self.stop)
        k = self.ctx.bucket(o.c.b)
        query = select(k, o.c.type, func.count()).where(_in(o.c.b, self.start, self.stop)).group_by(k, o.c.type)
        by_window: dict[str, dict[str, int]] = {}
        for key, kind, n in await self.rows(query):
            by_window.setdefault(key, {})[kind] = n
        for key, counts in by_window.items():
            total = sum(counts.values())
            parts = tuple(KpiPart(t, t, float(counts.get(t, 0))) for t in OUTAGE_TYPES)
            self.put("outages_by_type", key, lambda p, n=total, parts=parts: KpiPoint(p, float(n), n, None, parts))

    async def _top_customers(self) -> None:
        ctx = self.ctx
        o = _outages(ctx, self.start, self.stop)
        periods = self._periods()
        distinct = _hit_count(o, periods.c.s, periods.c.t).scalar_subquery()
        counts = {i: n for i, n in await self.rows(select(periods.c.i, distinct).where(periods.c.t > periods.c.s))}
        current = self.windows[-1]
        top = _top_accounts(ctx, o, current.start, current.stop).subquery("top")
        query = (
            select(top.c.id, top.c.outages, top.c.minutes, _account.c.number, _account.c.name)
            .join(_account, _account.c.id == top.c.id)
            .order_by(top.c.outages.desc(), top.c.minutes.desc(), top.c.id)
            .limit(TOP_CUSTOMERS)
        )
        parts = tuple(
            KpiPart(number, name, float(outages), float(minutes or 0.0))
            for _, outages, minutes, number, name in await self.rows(query)
        )
        for i, w in enumerate(self.windows):
            n = counts.get(i, 0)
            shown = parts if w is current else ()
            self.put("top_customers", w.key, lambda p, n=n, shown=shown: KpiPoint(p, float(n), n, None, shown))

    async def _time_to_notice(self) -> None:
        facts = _time_to_notice(self.ctx, self.start, self.stop).subquery("facts0")
        bucketed = select(self.ctx.bucket(facts.c.t).label("k"), facts.c.v).subquery("facts")
        for key, n, median, p90 in await self.rows(_percentiles(bucketed, self.ctx.dialect, ((1, 2), (9, 10)))):
            self.put("alert_to_notice_median", key, lambda p, n=n, v=float(median): KpiPoint(p, v, n))
            self.put("alert_to_notice_p90", key, lambda p, n=n, v=float(p90): KpiPoint(p, v, n))

    async def _notified_first(self) -> None:
        facts = _notified_first(self.ctx, self.start, self.stop).subquery("facts")
        # Per major case first (pairs come grouped by it), then by period: a sort of a few
        # hundred major cases instead of every (major case, account) pair.
        per_major = (
            select(func.min(facts.c.t).label("t"), func.count().label("n"), func.sum(facts.c.hit).label("hits"))
            .group_by(facts.c.major_id)
            .subquery("per_major")
        )
        k = self.ctx.bucket(per_major.c.t)
        query = select(k, func.sum(per_major.c.n), func.sum(per_major.c.hits)).group_by(k)
        for key, n, hit in await self.rows(query):
            self.put("notified_first", key, lambda p, n=int(n), h=int(hit): KpiPoint(p, _share(h, n), h, n))

    async def _deflected(self) -> None:
        facts = _deflected(self.ctx, self.start, self.stop).subquery("facts")
        k = self.ctx.bucket(facts.c.t)
        for key, n in await self.rows(select(k, func.count()).group_by(k)):
            self.put("deflected_calls", key, lambda p, n=n: KpiPoint(p, float(n), n))

    async def _mttr(self) -> None:
        facts = _resolved_majors(self.ctx, self.start, self.stop).subquery("facts")
        k = self.ctx.bucket(facts.c.t)
        for key, n, avg in await self.rows(select(k, func.count(), func.avg(facts.c.v)).group_by(k)):
            self.put("mttr", key, lambda p, n=n, v=float(avg): KpiPoint(p, v, n))

    async def _children(self) -> None:
        majors, _ = _children(self.ctx, self.start, self.stop)
        child = _case.alias("child")
        children = select(func.count()).where(child.c.parent_id == majors.c.id).correlate(majors).scalar_subquery()
        k = self.ctx.bucket(majors.c.opened_at)
        for key, n, total in await self.rows(select(k, func.count(), func.sum(children)).group_by(k)):
            self.put("children_per_major", key, lambda p, n=n, c=int(total): KpiPoint(p, _ratio(c, n), c, n))


def _outage_spans(ctx: _Ctx, o: Any, periods: Any) -> Any:
    """Each outage against each window it touches, with the days ``[first, last)`` it was
    active within the window."""
    d = ctx.dialect
    end = func.coalesce(o.c.e, _at(ctx.horizon))
    return (
        select(
            periods.c.i,
            o.c.src,
            o.c.id,
            o.c.type,
            o.c.title,
            _greatest(_day(o.c.b, d), periods.c.d0, d).label("first"),
            _least(_day_after_sql(end, d), periods.c.d1, d).label("last"),
        )
        .select_from(periods)
        .join(o, and_(o.c.b < periods.c.t, end > periods.c.s))
        .subquery("spans")
    )


def _hit_count(o: Any, start: Bound, stop: Bound) -> Select[Any]:
    """How many customer accounts the outages begun in ``[start, stop)`` hit (IN, so that
    SQLite looks up those outages' cases instead of scanning every affected account)."""
    # correlate_except: when start and stop are the periods table's columns, they belong to the
    # statement two levels up, not to this subquery's FROM.
    cases = select(o.c.case_id).where(_in(o.c.b, start, stop)).correlate_except(o)
    return select(func.count(func.distinct(_ca.c.account_id))).where(
        _ca.c.case_id.in_(cases), _ca.c.account_id.not_in(_internal_accounts())
    )


def _hit_accounts(o: Any, start: Bound, stop: Bound) -> Select[Any]:
    """The customer accounts hit by the outages begun in ``[start, stop)``: one row per outage
    and account (the accounts on the outage's case)."""
    return (
        select(_ca.c.account_id.label("id"), o.c.b.label("t"), o.c.e)
        .select_from(o)
        .join(_ca, _ca.c.case_id == o.c.case_id)
        .where(_in(o.c.b, start, stop), _ca.c.account_id.not_in(_internal_accounts()))
    )


def _top_accounts(ctx: _Ctx, o: Any, start: Bound, stop: Bound) -> Select[Any]:
    """Per customer account hit in ``[start, stop)``: its outages, and their minutes (to their
    end, or until now)."""
    hit = _hit_accounts(o, start, stop).subquery("hit")
    d = ctx.dialect
    now = _at(ctx.now)
    end = _least(func.coalesce(hit.c.e, now), now, d)
    minutes = _greatest(_seconds(hit.c.t, end, d), 0.0, d) / 60.0
    return select(hit.c.id, func.count().label("outages"), func.sum(minutes).label("minutes")).group_by(hit.c.id)


async def kpis(
    domain: Domain,
    actor: Actor,
    *,
    period: str = "month",
    at: datetime | None = None,
    periods_back: int = 6,
) -> Dashboard:
    """Every KPI for the period holding ``at`` (default now) and the ``periods_back`` periods
    before it."""
    require(actor, Permission.VIEW_DASHBOARD)
    _check_period(period)
    _check_at(at)
    if not 0 <= periods_back <= MAX_PERIODS_BACK:
        raise InvalidInput(f"periods_back must be between 0 and {MAX_PERIODS_BACK}, not {periods_back}")
    now = domain.clock()
    at = at or now
    windows = _windows(period, at, periods_back, now)
    ctx = _Ctx(dialect=domain.db.dialect, period=period, now=now)
    async with domain.reading() as session:
        points = await _Computation(session, ctx, windows).run()
    views = []
    for spec in KPIS:
        filed = points.get(spec.key, {})
        series = tuple(filed.get(w.key) or _empty_point(spec, w.view) for w in windows)
        views.append(
            KpiView(
                key=spec.key,
                title=spec.title,
                group=spec.group,
                kind=spec.kind,
                unit=spec.unit,
                definition=spec.definition,
                drills_to=spec.drills_to,
                current=series[-1],
                trend=series[:-1],
            )
        )
    return Dashboard(
        period=period,
        at=at,
        computed_at=now,
        current=windows[-1].view,
        periods=tuple(w.view for w in windows),
        kpis=tuple(views),
    )


def _empty_point(spec: KpiSpec, period: PeriodView) -> KpiPoint:
    """A period with nothing in it: counts are 0; shares, ratios and averages have no value."""
    if spec.kind in ("count", "ranking"):
        parts = tuple(KpiPart(t, t, 0.0) for t in OUTAGE_TYPES) if spec.key == "outages_by_type" else ()
        return KpiPoint(period, 0.0, 0, None, parts)
    return KpiPoint(period, None, 0, 0 if spec.kind in ("share", "ratio") else None)


# --- drill_down() ----------------------------------------------------------------------------


def _day_start(day_number: int) -> datetime:
    return datetime.combine(_EPOCH + timedelta(days=day_number), datetime.min.time(), tzinfo=UTC)


def _stamp(value: datetime | None) -> str:
    return "none" if value is None else value.strftime("%Y-%m-%d %H:%M")


class _Drill:
    """The listing of each KPI for one window: a select of rows to count and to page.

    Every select has the columns kind, id, title, at, value and sort (rank for the ranking,
    else NULL) plus what ``_row`` needs to word the detail."""

    def __init__(self, ctx: _Ctx, window: _Window, part: str | None) -> None:
        self.ctx = ctx
        self.window = window
        self.start = window.start
        self.stop = window.stop
        self.part = part

    def query(self, key: str) -> Select[Any]:
        query: Select[Any] = getattr(self, f"_{key}")()
        return query

    def _cases(self, facts: Any, *, value: Any = None) -> Select[Any]:
        c = _case
        return (
            select(
                literal("case", String()).label("kind"),
                c.c.id.label("id"),
                c.c.short_description.label("title"),
                facts.c.t.label("at"),
                (value if value is not None else null()).label("value"),
                null().label("sort"),
                c.c.kind.label("case_kind"),
                c.c.state,
                c.c.major_case_state,
                c.c.parent_id,
            )
            .select_from(facts)
            .join(c, c.c.id == facts.c.id)
        )

    def _accounts(self, facts: Any, *, at: Any, value: Any, sort: Any, **extra: Any) -> Select[Any]:
        a = _account
        return (
            select(
                literal("account", String()).label("kind"),
                a.c.id.label("id"),
                a.c.name.label("title"),
                at.label("at"),
                value.label("value"),
                sort.label("sort"),
                a.c.number,
                a.c.tier,
                a.c.region,
                *(v.label(k) for k, v in extra.items()),
            )
            .select_from(facts)
            .join(a, a.c.id == facts.c.id)
        )

    def _outages(self, o: Any, *, at: Any, value: Any, where: Any) -> Select[Any]:
        return select(
            o.c.src.label("kind"),
            o.c.id.label("id"),
            o.c.title.label("title"),
            at.label("at"),
            value.label("value"),
            null().label("sort"),
            o.c.type,
        ).where(where)

    def _proactive_cases(self) -> Select[Any]:
        return self._cases(_proactive(self.ctx, self.start, self.stop).subquery("facts"))

    def _promoted_to_major(self) -> Select[Any]:
        facts = _proactive(self.ctx, self.start, self.stop).subquery("facts0")
        return self._cases(select(facts).where(facts.c.hit == 1).subquery("facts"))

    def _affected_accounts(self) -> Select[Any]:
        facts = _affected_accounts(self.ctx, self.start, self.stop).subquery("facts0")
        per = (
            select(facts.c.id, func.count().label("cases"), func.min(facts.c.t).label("t"))
            .group_by(facts.c.id)
            .subquery("facts")
        )
        return self._accounts(per, at=per.c.t, value=cast(per.c.cases, Float), sort=null())

    def _affected_items(self) -> Select[Any]:
        facts = _affected_items(self.ctx, self.start, self.stop).subquery("facts0")
        per = select(facts.c.id, func.min(facts.c.t).label("t")).group_by(facts.c.id).subquery("facts")
        i = _item
        return (
            select(
                literal("item", String()).label("kind"),
                i.c.id.label("id"),
                i.c.name.label("title"),
                per.c.t.label("at"),
                null().label("value"),
                null().label("sort"),
                i.c.number,
                _account.c.number.label("account_number"),
            )
            .select_from(per)
            .join(i, i.c.id == per.c.id)
            .join(_account, _account.c.id == i.c.account_id)
        )

    def _alerts_to_proactive(self) -> Select[Any]:
        facts = _alerts(self.ctx, self.start, self.stop).subquery("facts")
        a = _alert
        return (
            select(
                literal("alert", String()).label("kind"),
                a.c.id.label("id"),
                a.c.name.label("title"),
                facts.c.t.label("at"),
                null().label("value"),
                null().label("sort"),
                a.c.severity,
                a.c.ci_key,
                a.c.incident_id,
            )
            .select_from(facts)
            .join(a, a.c.id == facts.c.id)
            .where(facts.c.hit == 1)
        )

    def _active_outages_per_day(self) -> Select[Any]:
        d0, d1 = self.window.days
        periods = select(
            literal(0, Integer()).label("i"),
            _at(self.start).label("s"),
            _at(self.stop).label("t"),
            literal(d0, Integer()).label("d0"),
            literal(d1, Integer()).label("d1"),
        ).cte("periods")
        spans = _outage_spans(self.ctx, _outages(self.ctx, self.start, self.stop), periods)
        days = select(literal(d0, Integer()).label("d")).cte("days", recursive=True)
        days = days.union_all(select((days.c.d + 1).label("d")).where(days.c.d + 1 < d1))
        return (
            select(
                spans.c.src.label("kind"),
                spans.c.id.label("id"),
                spans.c.title.label("title"),
                days.c.d.label("at"),
                null().label("value"),
                null().label("sort"),
                spans.c.type,
            )
            .select_from(spans)
            .join(days, and_(days.c.d >= spans.c.first, days.c.d < spans.c.last))
        )

    def _outage_duration(self) -> Select[Any]:
        o = _outages(self.ctx, self.start, self.stop)
        hours = _seconds(o.c.b, o.c.e, self.ctx.dialect) / 3600.0
        return self._outages(o, at=o.c.e, value=hours, where=_in(o.c.e, self.start, self.stop))

    def _open_outages(self) -> Select[Any]:
        o = _outages(self.ctx, self.start, self.stop)
        if self.stop <= self.start:
            return self._outages(o, at=o.c.b, value=null(), where=false())
        so_far = _seconds(o.c.b, _at(min(self.stop, self.ctx.now)), self.ctx.dialect) / 3600.0
        still_open = and_(o.c.b < _at(self.stop), or_(o.c.e.is_(None), o.c.e >= _at(self.stop)))
        return self._outages(o, at=o.c.b, value=so_far, where=still_open)

    def _outages_by_type(self) -> Select[Any]:
        o = _outages(self.ctx, self.start, self.stop)
        where = _in(o.c.b, self.start, self.stop)
        if self.part is not None:
            where = and_(where, o.c.type == self.part)
        return self._outages(o, at=o.c.b, value=null(), where=where)

    def _top_customers(self) -> Select[Any]:
        o = _outages(self.ctx, self.start, self.stop)
        facts = _top_accounts(self.ctx, o, self.start, self.stop).subquery("facts")
        return self._accounts(
            facts,
            at=null(),
            value=cast(facts.c.outages, Float),
            sort=func.coalesce(facts.c.minutes, 0.0),
            minutes=func.coalesce(facts.c.minutes, 0.0),
        )

    def _alert_to_notice(self) -> Select[Any]:
        facts = _time_to_notice(self.ctx, self.start, self.stop).subquery("facts")
        return self._cases(facts, value=facts.c.v)

    _alert_to_notice_median = _alert_to_notice
    _alert_to_notice_p90 = _alert_to_notice

    def _notified_first(self) -> Select[Any]:
        facts = _notified_first(self.ctx, self.start, self.stop).subquery("facts0")
        hits = select(facts).where(facts.c.hit == 1).subquery("facts")
        return self._accounts(
            hits,
            at=hits.c.notified,
            value=null(),
            sort=null(),
            major_id=hits.c.major_id,
            called=hits.c.called,
        )

    def _deflected_calls(self) -> Select[Any]:
        return self._cases(_deflected(self.ctx, self.start, self.stop).subquery("facts"))

    def _mttr(self) -> Select[Any]:
        facts = _resolved_majors(self.ctx, self.start, self.stop).subquery("facts")
        return self._cases(facts, value=facts.c.v)

    def _children_per_major(self) -> Select[Any]:
        _, children = _children(self.ctx, self.start, self.stop)
        return self._cases(children.subquery("facts"))


def _row(r: Any) -> DrillRow:
    """A drill-down row from a listing row, its number and detail worded."""
    m = r._mapping
    kind, at = r.kind, r.at
    if isinstance(at, int):  # a day number: one row per outage and day
        at = _day_start(at)
    if "type" in m:  # an outage: a record, or a major case counted as one
        number = outage_number(r.id) if kind == "outage" else case_number(r.id)
        detail = r.type if kind == "outage" else f"{r.type} (major case)"
    elif kind == "case":
        number = case_number(r.id)
        detail = f"{r.case_kind} · {r.state}"
        if r.major_case_state != "none":
            detail += f" · major case {r.major_case_state}"
        if r.parent_id is not None:
            detail += f" · child of {case_number(r.parent_id)}"
    elif kind == "account":
        number = r.number
        if "minutes" in m:
            detail = f"{m['minutes']:,.0f} outage minutes"
        elif "major_id" in m:
            detail = f"{case_number(m['major_id'])}: notified {_stamp(at)}, first contact {_stamp(m['called'])}"
        else:
            detail = " · ".join(x for x in (r.tier, r.region) if x)
    elif kind == "item":
        number, detail = r.number, f"account {r.account_number}"
    else:  # alert
        number = str(r.id)
        detail = " · ".join(x for x in (r.severity, r.ci_key) if x)
    return DrillRow(
        kind=kind,
        id=r.id,
        number=number,
        title=r.title or "",
        at=at,
        value=None if r.value is None else float(r.value),
        detail=detail,
    )


async def drill_down(
    domain: Domain,
    actor: Actor,
    kpi_key: str,
    *,
    period: str = "month",
    at: datetime | None = None,
    part: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> DrillDown:
    """The records behind one KPI in the period holding ``at`` (default now): ``total`` equals
    the KPI's ``count`` for that period. ``part`` narrows Outages by type to one type. Rows
    come oldest first; the ranking (top customers) comes in rank order."""
    require(actor, Permission.VIEW_DASHBOARD)
    spec = KPI_BY_KEY.get(kpi_key)
    if spec is None:
        raise InvalidInput(f"unknown KPI {kpi_key!r}; one of: {', '.join(KPI_BY_KEY)}")
    _check_period(period)
    _check_at(at)
    if part is not None:
        if kpi_key != "outages_by_type":
            raise InvalidInput(f"{kpi_key} has no parts; only outages_by_type is split (by outage type)")
        if part not in OUTAGE_TYPES:
            raise InvalidInput(f"unknown outage type {part!r}; one of: {', '.join(OUTAGE_TYPES)}")
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"limit must be between 1 and {MAX_PAGE}")
    if offset < 0:
        raise InvalidInput("offset must not be negative")
    now = domain.clock()
    window = _windows(period, at or now, 0, now)[-1]
    ctx = _Ctx(dialect=domain.db.dialect, period=period, now=now)
    listing = _Drill(ctx, window, part).query(kpi_key).subquery("listing")
    if spec.kind == "ranking":
        order: tuple[ColumnElement[Any], ...] = (listing.c.value.desc(), listing.c.sort.desc(), listing.c.id)
    else:
        order = (listing.c.at, listing.c.kind, listing.c.id)
    async with domain.reading() as session:
        total = await session.scalar(select(func.count()).select_from(listing)) or 0
        page = await session.execute(select(listing).order_by(*order).limit(limit).offset(offset))
        rows = tuple(_row(r) for r in page.all())
    return DrillDown(
        kpi_key=kpi_key,
        title=spec.title,
        unit=spec.unit,
        drills_to=spec.drills_to,
        period=window.view,
        part=part,
        total=total,
        limit=limit,
        offset=offset,
        rows=rows,
    )
