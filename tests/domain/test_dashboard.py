"""The dashboard: every KPI on a history built by hand, where the right figure is known.

Now is Monday 2026-11-23 09:00 UTC. The history (``build_history``) spans September to
November 2026; the figures each test expects are worked out in the comments next to them.
Outages (records, and approved major cases no record names):

    O5  planned      Sep 30 23:00 → Oct  1 01:00                      (no case)
    M1  unplanned    Oct 31 12:00 → Nov  1 02:00   major case, I1      accounts A1 A2 INT
    O1  planned      Nov  3 02:00 → Nov  3 04:00                      (no case)
    O2  unplanned    Nov  5 08:00 → Nov  5 12:00   names M3            accounts A1 A2
    M2  unplanned    Nov 15 10:00 → open           major case, I2      accounts A1 A4 A5
    O3  degradation  Nov 20 22:00 → open           names M4 (I3)       accounts A5
    M6  unplanned    Nov 22 08:10 → open           major case, I4      accounts A3
    O4  planned      Nov 30 01:00 → Nov 30 03:00   (not begun)
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select, update

from pcso_tui.cli import main
from pcso_tui.cli.dashboard import report_csv, report_data, report_json, report_markdown
from pcso_tui.domain.casework import cases as case_commands
from pcso_tui.domain.casework import major_cases as mc
from pcso_tui.domain.core.clock import FrozenClock
from pcso_tui.domain.core.errors import InvalidInput, PermissionDenied
from pcso_tui.domain.core.models import (
    Account,
    Alert,
    Case,
    CaseAccount,
    CaseItem,
    Event,
    Incident,
    InstallBaseItem,
    Notice,
    Outage,
    Product,
)
from pcso_tui.domain.core.roles import SYSTEM, Actor, Role
from pcso_tui.domain.core.service import Domain
from pcso_tui.domain.core.settings import Settings, WorkflowSettings
from pcso_tui.domain.reporting import dashboard
from pcso_tui.domain.reporting.views import NO_VALUE, Dashboard, format_kpi_value
from tests.identity import signed_in_as

Actors = dict[Role, Actor]
HOSTILE = "[bold]red[/] \x1b[2J [/"
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
OCT = datetime(2026, 10, 15, tzinfo=UTC)
SEP = datetime(2026, 9, 15, tzinfo=UTC)


def t(month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, second, tzinfo=UTC)


# --- the history ------------------------------------------------------------------------------


@dataclass
class History:
    accounts: dict[str, int] = field(default_factory=dict)
    items: dict[str, int] = field(default_factory=dict)
    incidents: dict[str, int] = field(default_factory=dict)
    cases: dict[str, int] = field(default_factory=dict)
    outages: dict[str, int] = field(default_factory=dict)
    alerts: dict[str, int] = field(default_factory=dict)


async def build_history(domain: Domain) -> History:
    h = History()
    async with domain.transaction(SYSTEM) as tx:
        s = tx.session
        product = Product(number="P-1", name="Cloud PBX")
        s.add(product)
        for number, external in (("A1", True), ("A2", True), ("A3", True), ("A4", True), ("A5", True), ("A6", True)):
            s.add(Account(number=number, name=f"{number} {HOSTILE}", is_external=external, created_at=t(1, 1)))
        s.add(Account(number="INT", name="Our own IT", is_external=False, created_at=t(1, 1)))
        await s.flush()
        h.accounts = dict((await s.execute(select(Account.number, Account.id))).all())
        for number, account_id in h.accounts.items():
            for n in (1, 2):
                s.add(InstallBaseItem(number=f"{number}-{n}", account_id=account_id, product_id=product.id))
        await s.flush()
        h.items = dict((await s.execute(select(InstallBaseItem.number, InstallBaseItem.id))).all())

        for name in ("I1", "I2", "I3", "I4", "I5", "I6", "I7"):
            incident = Incident(title=f"{name} {HOSTILE}", state="in_progress", severity="critical", opened_at=t(9, 1))
            incident.updated_at = t(9, 1)
            s.add(incident)
            await s.flush()
            h.incidents[name] = incident.id

        def alert(key: str, severity: str, seen: datetime, incident: str | None, **flags: bool) -> None:
            s.add(
                Alert(
                    fingerprint=key,
                    source="test",
                    name=f"{key} {HOSTILE}",
                    severity=severity,
                    ci_key="svc-1",
                    starts_at=seen,
                    first_seen_at=seen,
                    last_seen_at=seen,
                    last_change_at=seen,
                    incident_id=h.incidents[incident] if incident else None,
                    **flags,
                )
            )

        alert("AL1", "critical", t(10, 31, 11, 30), "I1")
        alert("AL2", "minor", t(10, 31, 11, 40), "I1")
        alert("AL8", "critical", t(11, 1), "I1")  # the first instant of November
        alert("AL3", "major", t(11, 15, 9, 30), "I2", acknowledged=True)
        alert("AL4", "critical", t(11, 15, 9, 31), "I2", maintenance=True)
        alert("AL5", "critical", t(11, 20, 9), "I3")
        alert("AL6", "critical", t(11, 21), None)
        alert("AL7", "warning", t(11, 22, 8), "I4")
        alert("AL9", "critical", t(11, 22, 23, 59, 59), None)  # the last second of a Sunday
        alert("AL10", "critical", t(11, 23), None)  # the first instant of a Monday
        await s.flush()
        h.alerts = dict((await s.execute(select(Alert.fingerprint, Alert.id))).all())

        async def case(
            name: str,
            kind: str,
            opened: datetime,
            *,
            incident: str | None = None,
            mcs: str = "none",
            state: str = "open",
            parent: str | None = None,
            account: str | None = None,
            resolved: datetime | None = None,
            deflected: bool = False,
            accounts: tuple[str, ...] = (),
            items: tuple[str, ...] = (),
        ) -> None:
            c = Case(
                kind=kind,
                state=state,
                major_case_state=mcs,
                short_description=f"{name} {HOSTILE}",
                incident_id=h.incidents[incident] if incident else None,
                parent_id=h.cases[parent] if parent else None,
                account_id=h.accounts[account] if account else None,
                opened_at=opened,
                updated_at=opened,
                resolved_at=resolved,
                deflected=deflected,
            )
            s.add(c)
            await s.flush()
            h.cases[name] = c.id
            for a in accounts:
                s.add(CaseAccount(case_id=c.id, account_id=h.accounts[a]))
            for i in items:
                s.add(CaseItem(case_id=c.id, item_id=h.items[i]))

        # Major cases first (proactive cases and children point to them).
        await case("M1", "major", t(10, 31, 12), incident="I1", mcs="accepted", state="resolved",
                   resolved=t(11, 1, 2), accounts=("A1", "A2", "INT"), items=("A1-1", "A2-1"))  # fmt: skip
        await case("M2", "major", t(11, 15, 10), incident="I2", mcs="accepted",
                   accounts=("A1", "A4", "A5"), items=("A1-1", "A4-1", "A4-2"))  # fmt: skip
        await case("M3", "major", t(11, 5, 8), mcs="accepted", state="resolved", resolved=t(11, 5, 12),
                   accounts=("A1", "A2"))  # fmt: skip
        await case("M4", "major", t(11, 20, 10), incident="I3", mcs="accepted", state="resolved",
                   resolved=t(11, 21, 10), accounts=("A5",))  # fmt: skip
        await case("M5", "major", t(11, 22, 7), mcs="proposed", state="new", accounts=("A6",), items=("A6-1",))
        await case("M6", "major", t(11, 22, 8, 10), incident="I4", mcs="accepted", accounts=("A3",))

        await case("P1", "proactive", t(10, 31, 11, 45), incident="I1", mcs="accepted", parent="M1",
                   accounts=("A1", "A2", "INT"), items=("A1-1", "A2-1", "INT-1"))  # fmt: skip
        await case("P2", "proactive", t(10, 31, 23, 59, 59), incident="I5", accounts=("A3",), items=("A3-1",))
        await case("P3", "proactive", t(11, 1), incident="I6", mcs="proposed")
        await case("P4", "proactive", t(11, 15, 9, 45), incident="I2", mcs="accepted", parent="M2",
                   accounts=("A1", "A4"), items=("A1-1", "A4-1"))  # fmt: skip
        await case("P5", "proactive", t(11, 20, 12), incident="I7", mcs="rejected", accounts=("A5",), items=("A5-1",))

        children = {
            "M1": (("C1", "A1"), ("C2", "A2"), ("CI", "INT")),
            "M2": (("C3", "A1"), ("C4", "A4"), ("C5", "A5")),
            "M3": (("C6", "A1"), ("C7", "A2")),
            "M4": (("C8", "A5"),),
            "M6": (("C9", "A3"),),
        }
        for major, kids in children.items():
            for name, account in kids:
                opened = await s.scalar(select(Case.opened_at).where(Case.id == h.cases[major]))
                await case(name, "child", opened, parent=major, account=account)
        await case("R1", "reactive", t(11, 10), account="A3", accounts=("A3",))
        await case("R4", "reactive", t(10, 31, 13), account="A2", parent="M1", deflected=True, accounts=("A2",))
        await case("R2", "reactive", t(11, 15, 10, 20), account="A4", parent="M2", deflected=True)
        await case("R3", "reactive", t(11, 15, 11), account="A1", parent="M2", deflected=True)

        def notice(key: str, child: str, account: str, sent: datetime | None, kind: str = "major_case_opened") -> None:
            s.add(
                Notice(
                    idempotency_key=key,
                    kind=kind,
                    contact_id=contact_ids[account],
                    account_id=h.accounts[account],
                    case_id=h.cases[child],
                    channel="email",
                    state="sent" if sent else "pending",
                    next_attempt_at=t(9, 1),
                    created_at=t(9, 1),
                    sent_at=sent,
                )
            )

        from pcso_tui.domain.core.models import Contact

        contact_ids = {}
        for number, account_id in h.accounts.items():
            contact = Contact(number=f"C-{number}", account_id=account_id, name=number, is_primary=True)
            s.add(contact)
            await s.flush()
            contact_ids[number] = contact.id
        notice("N1", "C1", "A1", t(10, 31, 12, 10))
        notice("N2", "C2", "A2", t(10, 31, 12, 20))
        notice("N3", "CI", "INT", None)
        notice("N4", "C1", "A1", t(10, 31, 13), kind="statement")
        notice("N5", "C3", "A1", t(11, 15, 10, 5))
        notice("N6", "C4", "A4", t(11, 15, 10, 30))
        notice("N7", "C5", "A5", None)
        notice("N8", "C6", "A1", t(11, 5, 8, 10))
        notice("N9", "C7", "A2", t(11, 5, 8, 15))
        notice("N10", "C8", "A5", t(11, 20, 11))
        notice("N11", "C9", "A3", t(11, 22, 8, 50))

        def outage(name: str, kind: str, begins: datetime, ends: datetime | None, case: str | None = None) -> None:
            s.add(
                Outage(
                    type=kind,
                    title=f"{name} {HOSTILE}",
                    begins_at=begins,
                    ends_at=ends,
                    case_id=h.cases[case] if case else None,
                    created_at=begins,
                )
            )

        outage("O5", "planned", t(9, 30, 23), t(10, 1, 1))
        outage("O1", "planned", t(11, 3, 2), t(11, 3, 4))
        outage("O2", "unplanned", t(11, 5, 8), t(11, 5, 12), case="M3")
        outage("O3", "degradation", t(11, 20, 22), None, case="M4")
        outage("O4", "planned", t(11, 30, 1), t(11, 30, 3))
        await s.flush()
        rows = await s.execute(select(Outage.title, Outage.id))
        h.outages = {title.split()[0]: oid for title, oid in rows}
    return h


@pytest.fixture
async def history(domain: Domain, actors: Actors, clock: FrozenClock) -> History:
    clock.now = NOW
    return await build_history(domain)


async def board(domain: Domain, actors: Actors, period: str = "month", **kw: Any) -> Dashboard:
    return await dashboard.kpis(domain, actors[Role.MANAGER], period=period, **kw)


def figures(d: Dashboard, key: str) -> list[tuple[str, float | None, int, int | None]]:
    """(period, value, count, base) for every period of a KPI, oldest first."""
    k = d.kpi(key)
    return [(p.period.label, p.value, p.count, p.base) for p in (*k.trend, k.current)]


def rounded(rows: list[tuple[str, float | None, int, int | None]]) -> list[tuple[Any, ...]]:
    return [(label, None if v is None else round(v, 4), n, b) for label, v, n, b in rows]


# --- the established KPIs ----------------------------------------------------------------------


async def test_proactive_cases_and_promotion_by_month(domain: Domain, actors: Actors, history: History) -> None:
    d = await board(domain, actors, periods_back=2)
    assert [p.label for p in d.periods] == ["2026-09", "2026-10", "2026-11"]
    assert d.current.current and not d.periods[0].current
    # October: P1 (promoted) and P2 at 23:59:59 on the 31st. November: P3 at 00:00 on the 1st
    # (proposed only), P4 (promoted), P5 (rejected).
    assert figures(d, "proactive_cases") == [
        ("2026-09", 0.0, 0, None),
        ("2026-10", 2.0, 2, None),
        ("2026-11", 3.0, 3, None),
    ]
    assert rounded(figures(d, "promoted_to_major")) == [
        ("2026-09", None, 0, 0),
        ("2026-10", 50.0, 1, 2),
        ("2026-11", 33.3333, 1, 3),
    ]
    assert d.kpi("promoted_to_major").trend[0].value is None  # an empty month: no division by zero


async def test_affected_customers_and_items(domain: Domain, actors: Actors, history: History) -> None:
    d = await board(domain, actors, periods_back=2)
    # October: P1 and M1 (A1, A2; INT is internal), P2 (A3). November: P4, M2 (A1, A4, A5),
    # P5 (A5), M3 (A1, A2), M4 (A5), M6 (A3); M5 is only proposed, so its A6 is not counted.
    assert figures(d, "affected_accounts") == [
        ("2026-09", 0.0, 0, None),
        ("2026-10", 3.0, 3, None),
        ("2026-11", 5.0, 5, None),
    ]
    # October: A1-1, A2-1 (INT-1 is internal), A3-1. November: A1-1, A4-1, A4-2, A5-1.
    assert figures(d, "affected_items") == [
        ("2026-09", 0.0, 0, None),
        ("2026-10", 3.0, 3, None),
        ("2026-11", 4.0, 4, None),
    ]


async def test_alerts_that_led_to_a_proactive_case(domain: Domain, actors: Actors, history: History) -> None:
    d = await board(domain, actors, periods_back=1)
    # October: AL1 (critical, I1 has P1) → 1 of 1; AL2 is minor. November: AL8 (I1: yes), AL3
    # (acknowledged, I2 has P4: yes), AL5 (I3 has no proactive case), AL6, AL9, AL10 (no incident);
    # AL4 is in maintenance, AL7 a warning → 2 of 6.
    assert rounded(figures(d, "alerts_to_proactive")) == [("2026-10", 100.0, 1, 1), ("2026-11", 33.3333, 2, 6)]


async def test_outages_by_month(domain: Domain, actors: Actors, history: History) -> None:
    d = await board(domain, actors, periods_back=2)
    # Outage-days: September O5 (the 30th) = 1 of 30 days; October O5 (the 1st) + M1 (the 31st)
    # = 2 of 31; November (23 days so far): M1 1 + O1 1 + O2 1 + M2 9 (15th–23rd) + O3 4
    # (20th–23rd) + M6 2 (22nd–23rd) = 18; O4 has not begun.
    assert rounded(figures(d, "active_outages_per_day")) == [
        ("2026-09", round(1 / 30, 4), 1, 30),
        ("2026-10", round(2 / 31, 4), 2, 31),
        ("2026-11", round(18 / 23, 4), 18, 23),
    ]
    # Ended: October O5 (2 h); November M1 (14 h), O1 (2 h), O2 (4 h); M3 is named by O2, M4 by O3.
    assert rounded(figures(d, "outage_duration")) == [
        ("2026-09", None, 0, None),
        ("2026-10", 2.0, 1, None),
        ("2026-11", round(20 / 3, 4), 3, None),
    ]
    # Open at the end: September O5, October M1, now M2, O3 and M6 (O4 has not begun).
    assert figures(d, "open_outages") == [
        ("2026-09", 1.0, 1, None),
        ("2026-10", 1.0, 1, None),
        ("2026-11", 3.0, 3, None),
    ]
    by_type = d.kpi("outages_by_type")
    assert figures(d, "outages_by_type") == [
        ("2026-09", 1.0, 1, None),
        ("2026-10", 1.0, 1, None),
        ("2026-11", 5.0, 5, None),
    ]
    assert [(p.key, p.value) for p in by_type.parts] == [("unplanned", 3.0), ("planned", 1.0), ("degradation", 1.0)]
    assert [(p.key, p.value) for p in by_type.trend[0].parts] == [
        ("unplanned", 0.0),
        ("planned", 1.0),
        ("degradation", 0.0),
    ]


async def test_top_impacted_customers(domain: Domain, actors: Actors, history: History) -> None:
    d = await board(domain, actors, periods_back=1)
    top = d.kpi("top_customers")
    # November: O2 (M3: A1, A2; 240 min), M2 (A1, A4, A5; Nov 15 10:00 → now: 11,460 min),
    # O3 (M4: A5; Nov 20 22:00 → now: 3,540 min), M6 (A3; Nov 22 08:10 → now: 1,490 min).
    assert (top.value, top.count) == (5.0, 5)
    assert [(p.key, p.value, round(p.extra or 0)) for p in top.parts] == [
        ("A5", 2.0, 15_000),
        ("A1", 2.0, 11_700),
        ("A4", 1.0, 11_460),
        ("A3", 1.0, 1_490),
        ("A2", 1.0, 240),
    ]
    assert top.parts[0].label == f"A5 {HOSTILE}"  # names are data, handed over as they are
    assert top.trend[0].value == 2.0 and top.trend[0].parts == ()  # the ranking is the current period's
    # October: M1 hit A1 and A2 (INT is internal) for 840 minutes each; ties go by account.
    october = (await board(domain, actors, at=OCT, periods_back=0)).kpi("top_customers").current
    assert (october.value, [(p.key, p.extra) for p in october.parts]) == (2.0, [("A1", 840.0), ("A2", 840.0)])


# --- ours ----------------------------------------------------------------------------------------


async def test_first_alert_to_first_notice(domain: Domain, actors: Actors, history: History) -> None:
    d = await board(domain, actors, periods_back=2)
    # October: M1, first alert 11:30 (AL1) → first notice 12:10 = 40 min. November: M2 09:30 →
    # 10:05 = 35, M4 09:00 → 11:00 = 120, M6 08:00 → 08:50 = 50; M3 has no incident. Median of
    # 35, 50, 120 = 50; p90 = 50 + 0.8 × (120 − 50) = 106 (linear interpolation).
    assert rounded(figures(d, "alert_to_notice_median")) == [
        ("2026-09", None, 0, None),
        ("2026-10", 40.0, 1, None),
        ("2026-11", 50.0, 3, None),
    ]
    assert rounded(figures(d, "alert_to_notice_p90")) == [
        ("2026-09", None, 0, None),
        ("2026-10", 40.0, 1, None),
        ("2026-11", 106.0, 3, None),
    ]
    assert d.kpi("alert_to_notice_p90").shown == "106.0 min"
    assert d.kpi("alert_to_notice_median").trend[0].value is None


async def test_percentiles_interpolate_between_ranks(domain: Domain, actors: Actors, history: History) -> None:
    # A fourth measured major case in November: 20 min → 20, 35, 50, 120: median 42.5,
    # p90 = rank 2.7 → 50 + 0.7 × 70 = 99.
    async with domain.transaction(SYSTEM) as tx:
        s = tx.session
        incident = Incident(title="I8", state="new", severity="major", opened_at=t(11, 2), updated_at=t(11, 2))
        s.add(incident)
        await s.flush()
        s.add(Alert(fingerprint="AL11", source="t", name="a", severity="major", starts_at=t(11, 2),
                    first_seen_at=t(11, 2), last_seen_at=t(11, 2), last_change_at=t(11, 2),
                    incident_id=incident.id))  # fmt: skip
        major = Case(kind="major", state="open", major_case_state="accepted", short_description="M7",
                     incident_id=incident.id, opened_at=t(11, 2, 0, 5), updated_at=t(11, 2))  # fmt: skip
        s.add(major)
        await s.flush()
        child = Case(kind="child", state="open", short_description="C", parent_id=major.id,
                     account_id=history.accounts["A6"], opened_at=t(11, 2, 0, 5), updated_at=t(11, 2))  # fmt: skip
        s.add(child)
        await s.flush()
        contact = await s.scalar(select(Notice.contact_id).limit(1))
        s.add(Notice(idempotency_key="N12", kind="statement", contact_id=contact, account_id=history.accounts["A6"],
                     case_id=child.id, channel="email", state="sent", next_attempt_at=t(11, 2),
                     created_at=t(11, 2), sent_at=t(11, 2, 0, 20)))  # fmt: skip
    d = await board(domain, actors, periods_back=0)
    assert d.kpi("alert_to_notice_median").value == pytest.approx(42.5)
    assert d.kpi("alert_to_notice_p90").value == pytest.approx(99.0)
    assert d.kpi("alert_to_notice_p90").count == 4


async def test_notified_before_they_contacted_us(domain: Domain, actors: Actors, history: History) -> None:
    d = await board(domain, actors, periods_back=1)
    # October: M1 — A1 notified 12:10, never called; A2 notified 12:20, called 13:00 (R4) → 2 of 2.
    # November: M2 — A1 notified 10:05, called 11:00 (R3): yes; A4 called 10:20 (R2) before its
    # notice at 10:30: no; A5 never notified: no. M3 — A1, A2: yes. M4 — A5: yes. M6 — A3: yes.
    assert rounded(figures(d, "notified_first")) == [("2026-10", 100.0, 2, 2), ("2026-11", round(500 / 7, 4), 5, 7)]


async def test_deflected_calls_resolution_time_and_children(domain: Domain, actors: Actors, history: History) -> None:
    d = await board(domain, actors, periods_back=2)
    # R4 (October), R2 and R3 (November) were attached to a known major case; R1 was not.
    assert figures(d, "deflected_calls") == [
        ("2026-09", 0.0, 0, None),
        ("2026-10", 1.0, 1, None),
        ("2026-11", 2.0, 2, None),
    ]
    # Resolved: November M1 (14 h), M3 (4 h), M4 (24 h) → 14 h. M2 and M6 are still open.
    assert rounded(figures(d, "mttr")) == [
        ("2026-09", None, 0, None),
        ("2026-10", None, 0, None),
        ("2026-11", 14.0, 3, None),
    ]
    # October: M1 has C1, C2, CI, P1 and R4 = 5. November: M2 6 (C3–C5, P4, R2, R3), M3 2, M4 1,
    # M6 1 = 10 over 4 major cases.
    assert figures(d, "children_per_major") == [
        ("2026-09", None, 0, 0),
        ("2026-10", 5.0, 5, 1),
        ("2026-11", 2.5, 10, 4),
    ]


# --- periods -------------------------------------------------------------------------------------


async def test_quarters(domain: Domain, actors: Actors, history: History) -> None:
    d = await board(domain, actors, "quarter", periods_back=1)
    assert [p.label for p in d.periods] == ["2026-Q3", "2026-Q4"]
    assert d.current.start == t(10, 1) and d.current.end == datetime(2027, 1, 1, tzinfo=UTC)
    assert figures(d, "proactive_cases")[-1] == ("2026-Q4", 5.0, 5, None)
    assert d.kpi("promoted_to_major").value == pytest.approx(40.0)
    assert d.kpi("affected_accounts").value == 5.0  # A1–A5, each once
    assert d.kpi("affected_items").value == 6.0  # A1-1, A2-1, A3-1, A4-1, A4-2, A5-1
    # Q3 (92 days): O5 on Sep 30. Q4 (Oct 1 – Nov 23, 54 days): O5 1, M1 2, O1 1, O2 1, M2 9, O3 4, M6 2.
    assert rounded(figures(d, "active_outages_per_day")) == [
        ("2026-Q3", round(1 / 92, 4), 1, 92),
        ("2026-Q4", round(20 / 54, 4), 20, 54),
    ]
    assert d.kpi("outage_duration").value == pytest.approx(22 / 4)  # O5 2, M1 14, O1 2, O2 4
    assert d.kpi("alert_to_notice_median").value == pytest.approx(45.0)  # 35, 40, 50, 120
    assert d.kpi("children_per_major").value == pytest.approx(3.0)  # 15 over 5


async def test_weeks_start_on_monday(domain: Domain, actors: Actors, history: History) -> None:
    d = await board(domain, actors, "week", periods_back=2)
    assert [p.label for p in d.periods] == ["2026-W46", "2026-W47", "2026-W48"]
    assert d.current.start == t(11, 23) and d.periods[1].start == t(11, 16)
    # AL9 (Sunday 23:59:59) belongs to last week, AL10 (Monday 00:00) to this one.
    assert figures(d, "alerts_to_proactive") == [
        ("2026-W46", 100.0, 1, 1),  # AL3 (Sun Nov 15)
        ("2026-W47", 0.0, 0, 3),  # AL5, AL6, AL9
        ("2026-W48", 0.0, 0, 1),  # AL10
    ]
    # This week, one day so far: M2, O3 and M6 are active. Last week: M2 7, O3 3, M6 1.
    assert rounded(figures(d, "active_outages_per_day"))[1:] == [
        ("2026-W47", round(11 / 7, 4), 11, 7),
        ("2026-W48", 3.0, 3, 1),
    ]
    assert figures(d, "proactive_cases") == [
        ("2026-W46", 1.0, 1, None),  # P4 (Sunday)
        ("2026-W47", 1.0, 1, None),  # P5
        ("2026-W48", 0.0, 0, None),
    ]


async def test_days_and_the_midnight_boundary(domain: Domain, actors: Actors, history: History) -> None:
    last_of_october = await board(domain, actors, "day", at=t(10, 31, 18), periods_back=0)
    first_of_november = await board(domain, actors, "day", at=t(11, 1, 6), periods_back=0)
    # P1 at 11:45 and P2 at 23:59:59 on Oct 31; P3 at 00:00:00 on Nov 1.
    assert last_of_october.kpi("proactive_cases").value == 2.0
    assert first_of_november.kpi("proactive_cases").value == 1.0
    assert first_of_november.kpi("alerts_to_proactive").base == 1  # AL8 at 00:00:00
    # M1 runs over midnight: active on both days; it ends (02:00) on Nov 1.
    assert last_of_october.kpi("active_outages_per_day").value == 1.0
    assert first_of_november.kpi("active_outages_per_day").value == 1.0
    assert first_of_november.kpi("outage_duration").value == pytest.approx(14.0)
    assert last_of_october.kpi("open_outages").value == 1.0
    today = await board(domain, actors, "day", periods_back=1)
    assert [p.label for p in today.periods] == ["2026-11-22", "2026-11-23"]
    assert figures(today, "alerts_to_proactive") == [("2026-11-22", 0.0, 0, 1), ("2026-11-23", 0.0, 0, 1)]


async def test_at_chooses_the_period_and_figures_match_the_trend(
    domain: Domain, actors: Actors, history: History
) -> None:
    november = await board(domain, actors, periods_back=1)
    october = await board(domain, actors, at=OCT, periods_back=0)
    assert october.current.label == "2026-10" and october.current.current
    for kpi in november.kpis:
        then, trend = october.kpi(kpi.key).current, kpi.trend[0]
        assert (then.value, then.count, then.base) == (trend.value, trend.count, trend.base), kpi.key
        if kpi.key != "top_customers":  # the ranking is listed for the current period only
            assert then.parts == trend.parts, kpi.key


async def test_an_empty_database_shows_no_value_rather_than_zero_division(domain: Domain, actors: Actors) -> None:
    d = await board(domain, actors, periods_back=3)
    assert len(d.kpis) == len(dashboard.KPIS) and len(d.periods) == 4
    for kpi in d.kpis:
        assert len(kpi.series) == 4
        if kpi.kind in ("count", "ranking"):
            assert set(kpi.series) == {0.0}, kpi.key
        elif kpi.key == "active_outages_per_day":
            assert set(kpi.series) == {0.0}  # days passed, no outage on any of them
        else:
            assert set(kpi.series) == {None} and kpi.shown == NO_VALUE, kpi.key
    assert format_kpi_value(None, "%") == "—"
    assert format_kpi_value(4 / 60, "h") == "4 min"  # not "0.0 h"
    assert format_kpi_value(1.25, "h") == "1.2 h"


async def test_a_future_period_has_no_days_yet(domain: Domain, actors: Actors, history: History) -> None:
    d = await board(domain, actors, at=datetime(2027, 2, 1, tzinfo=UTC), periods_back=3)
    assert d.current.label == "2027-02"
    active = d.kpi("active_outages_per_day")
    # December to February have not begun: no days, no value; November is the first trend point.
    assert [p.base for p in active.trend[1:]] + [active.base] == [0, 0, 0]
    assert active.value is None
    assert active.trend[0].count == 18


# --- drill-down ----------------------------------------------------------------------------------


@pytest.mark.parametrize("period", ["day", "week", "month", "quarter"])
async def test_drill_down_totals_equal_the_kpi(domain: Domain, actors: Actors, history: History, period: str) -> None:
    manager = actors[Role.MANAGER]
    moments = {
        "day": [t(10, 31, 12), t(11, 1, 1), t(11, 15, 12), NOW],
        "week": [t(10, 31), t(11, 16), NOW],
        "month": [SEP, OCT, NOW],
        "quarter": [SEP, NOW],
    }[period]
    checked = 0
    for at in moments:
        d = await dashboard.kpis(domain, manager, period=period, at=at, periods_back=0)
        for kpi in d.kpis:
            drill = await dashboard.drill_down(domain, manager, kpi.key, period=period, at=at, limit=1000)
            assert drill.total == kpi.count, (kpi.key, at)
            assert len(drill.rows) == min(drill.total, 1000)
            assert drill.period == d.current
            checked += drill.total
    assert checked > 0


async def test_drill_down_lists_the_records(domain: Domain, actors: Actors, history: History) -> None:
    manager = actors[Role.MANAGER]
    h = history

    async def numbers(key: str, **kw: Any) -> list[str]:
        dd = await dashboard.drill_down(domain, manager, key, **kw)
        return [r.number for r in dd.rows]

    from pcso_tui.domain.core.views import case_number, outage_number

    assert await numbers("promoted_to_major") == [case_number(h.cases["P4"])]
    assert await numbers("deflected_calls") == [case_number(h.cases["R2"]), case_number(h.cases["R3"])]
    assert await numbers("affected_accounts") == ["A1", "A2", "A4", "A5", "A3"]  # by first case in the month
    assert await numbers("top_customers") == ["A5", "A1", "A4", "A3", "A2"]  # in rank order
    assert await numbers("alerts_to_proactive") == [str(h.alerts["AL8"]), str(h.alerts["AL3"])]
    assert await numbers("outages_by_type", part="planned") == [outage_number(h.outages["O1"])]
    assert await numbers("open_outages") == [
        case_number(h.cases["M2"]),
        outage_number(h.outages["O3"]),
        case_number(h.cases["M6"]),
    ]
    days = await dashboard.drill_down(domain, manager, "active_outages_per_day", limit=5)
    assert days.total == 18
    assert [(r.number, r.at) for r in days.rows[:3]] == [
        (case_number(h.cases["M1"]), t(11, 1)),
        (outage_number(h.outages["O1"]), t(11, 3)),
        (outage_number(h.outages["O2"]), t(11, 5)),
    ]
    page2 = await dashboard.drill_down(domain, manager, "active_outages_per_day", limit=5, offset=15)
    assert len(page2.rows) == 3 and page2.offset == 15
    notified = await dashboard.drill_down(domain, manager, "notified_first")
    assert notified.total == 5
    assert all(r.kind == "account" for r in notified.rows)
    assert any("first contact 2026-11-15 11:00" in r.detail for r in notified.rows)  # A1 on M2
    mttr = await dashboard.drill_down(domain, manager, "mttr")
    assert sorted(r.value for r in mttr.rows) == [4.0, 14.0, 24.0]
    titled = await dashboard.drill_down(domain, manager, "proactive_cases")
    assert titled.rows[0].title == f"P3 {HOSTILE}"  # untrusted text handed over as data


@pytest.mark.parametrize(
    ("key", "kw", "message"),
    [
        ("nope", {}, "unknown KPI 'nope'; one of: proactive_cases"),
        ("proactive_cases", {"period": "year"}, "unknown period 'year'; one of: day, week, month, quarter"),
        ("proactive_cases", {"part": "planned"}, "proactive_cases has no parts"),
        ("outages_by_type", {"part": "storm"}, "unknown outage type 'storm'"),
        ("proactive_cases", {"limit": 0}, "limit must be between 1 and 1000"),
        ("proactive_cases", {"offset": -1}, "offset must not be negative"),
        ("proactive_cases", {"at": datetime(2026, 11, 1)}, "at must carry a time zone"),
    ],
)
async def test_bad_drill_down_requests_are_refused(
    domain: Domain, actors: Actors, key: str, kw: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidInput, match=message.replace("(", r"\(").replace(")", r"\)")):
        await dashboard.drill_down(domain, actors[Role.AGENT], key, **kw)


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"period": "fortnight"}, "unknown period 'fortnight'"),
        ({"periods_back": -1}, "periods_back must be between 0 and 60, not -1"),
        ({"periods_back": 61}, "periods_back must be between 0 and 60, not 61"),
        ({"at": datetime(2026, 11, 1)}, "at must carry a time zone"),
    ],
)
async def test_bad_kpi_requests_are_refused(domain: Domain, actors: Actors, kw: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        await dashboard.kpis(domain, actors[Role.AGENT], **kw)


# --- who may look --------------------------------------------------------------------------------


async def test_staff_may_see_the_dashboard_and_customers_may_not(domain: Domain, actors: Actors) -> None:
    async with domain.reading() as session:
        events_before = await session.scalar(select(func.count()).select_from(Event))
    for role in (Role.OPERATOR, Role.AGENT, Role.MANAGER, Role.ADMIN):
        assert (await dashboard.kpis(domain, actors[role], periods_back=0)).period == "month"
        assert (await dashboard.drill_down(domain, actors[role], "mttr")).total == 0
    with pytest.raises(PermissionDenied, match=r"customer \(customer\) may not view the dashboard"):
        await dashboard.kpis(domain, actors[Role.CUSTOMER])
    with pytest.raises(PermissionDenied, match=r"customer \(customer\) may not view the dashboard"):
        await dashboard.drill_down(domain, actors[Role.CUSTOMER], "top_customers")
    async with domain.reading() as session:
        assert await session.scalar(select(func.count()).select_from(Event)) == events_before  # reading writes nothing


# --- the real commands feed the dashboard ----------------------------------------------------------


async def test_the_major_case_flow_shows_on_the_dashboard(domain: Domain, actors: Actors, clock: FrozenClock) -> None:
    from tests.domain.case_world import EXTERNAL, build_world

    clock.now = t(11, 2, 8)
    world = await build_world(domain)  # incident on host-1, alerts first seen now (08:00)
    domain.settings = Settings(workflow=WorkflowSettings(on_proactive_case="none"))
    clock.advance(minutes=5)
    proactive = await case_commands.open_proactive_case(domain, actors[Role.OPERATOR], world.incident_id)
    clock.advance(minutes=5)
    await mc.propose_major_case(domain, actors[Role.AGENT], proactive.id, reason="r", business_impact="b")
    clock.advance(minutes=10)
    approval = await mc.approve_major_case(domain, actors[Role.MANAGER], proactive.id)  # 08:20
    clock.advance(minutes=10)
    # The delivery worker sends the notices (08:30) — here by hand, it is another area.
    async with domain.transaction(SYSTEM) as tx:
        await tx.session.execute(update(Notice).where(Notice.state == "pending").values(state="sent", sent_at=tx.now))
    clock.advance(minutes=15)
    call = await case_commands.open_reactive_case(
        domain, actors[Role.AGENT], account_number="ACC-2", short_description="no dial tone"
    )
    await mc.attach_case(domain, actors[Role.MANAGER], approval.major_case_id, call.id)  # 08:45, deflected
    clock.advance(hours=2)
    await mc.resolve_major_case(domain, actors[Role.MANAGER], approval.major_case_id, code="fixed", notes="ok")

    d = await board(domain, actors, periods_back=0)
    value = {k.key: k.value for k in d.kpis}
    assert value["proactive_cases"] == 1.0
    assert value["promoted_to_major"] == 100.0
    assert value["affected_accounts"] == len(EXTERNAL)  # every external account on the incident
    assert value["alerts_to_proactive"] == 100.0  # the critical alert; the minor one does not count
    assert value["alert_to_notice_median"] == pytest.approx(30.0)  # 08:00 → 08:30
    # Notified: ACC-T1, ACC-2, ACC-3 and ACC-NOC (its one contact is not the primary, but
    # notify = "all"); not ACC-OPT (opted out). ACC-2 called at 08:45, after its notice: 4 of
    # the 5 external accounts.
    assert value["notified_first"] == pytest.approx(80.0)
    assert value["deflected_calls"] == 1.0
    assert value["mttr"] == pytest.approx((10 + 15 + 120) / 60)  # opened 08:20, resolved 10:45
    # The outage the approval declared runs from the incident's opening (08:00) to the major
    # case's resolution (10:45).
    assert value["open_outages"] == 0.0 and value["outage_duration"] == pytest.approx(165 / 60)
    assert d.kpi("outages_by_type").parts[0].value == 1.0  # the major case, unplanned


# --- the report ------------------------------------------------------------------------------------


def _pcso(url: str, user: str, *args: str) -> Any:
    env = {"PCSO_CONFIG": "/nonexistent/pcso-config.toml"}
    with signed_in_as(user):
        return CliRunner().invoke(main, ["--db", url, *args], env=env)


async def _cli(url: str, user: str, *args: str) -> Any:
    # Click runs its own event loop: keep it off ours.
    return await asyncio.to_thread(_pcso, url, user, *args)


async def test_report_renderings_match_kpis(domain: Domain, actors: Actors, history: History) -> None:
    d = await board(domain, actors, periods_back=2)
    data = json.loads(report_json(d))
    assert data == json.loads(json.dumps(report_data(d)))
    assert [k["key"] for k in data["kpis"]] == [k.key for k in d.kpis]
    for k, j in zip(d.kpis, data["kpis"], strict=True):
        assert (j["value"], j["count"], j["base"], j["definition"]) == (k.value, k.count, k.base, k.definition)
        assert [p["value"] for p in j["trend"]] == list(k.trend_values)

    rows = list(csv.DictReader(io.StringIO(report_csv(d))))
    current = {r["key"]: r for r in rows if r["current"] == "yes" and not r["part"]}
    for k in d.kpis:
        r = current[k.key]
        assert r["value"] == ("" if k.value is None else str(k.value)), k.key
        assert (r["count"], r["base"]) == (str(k.count), "" if k.base is None else str(k.base))
    assert len([r for r in rows if not r["part"]]) == len(d.kpis) * 3
    parts = [r for r in rows if r["key"] == "top_customers" and r["part"]]
    assert parts[0]["part"].startswith("A5 A5 [bold]red[/] \\x1b[2J")  # control characters made visible
    assert "\x1b" not in report_csv(d)

    md = report_markdown(d)
    assert "\x1b" not in md
    for k in d.kpis:
        assert k.definition in md
        assert f"| {k.title} | {k.shown} | {k.count} |" in md
    assert "| KPI | 2026-11 | records | of | 2026-09 | 2026-10 |" in md
    assert "| Promoted to major case | 33.3% | 1 | 3 | — | 50.0% |" in md


async def test_pcso_report_prints_the_same_figures(
    domain: Domain, actors: Actors, history: History, database_url: str, tmp_path: Any
) -> None:
    # A past month does not depend on the real clock the command runs with.
    d = await board(domain, actors, at=OCT, periods_back=1)
    result = await _cli(
        database_url, "manager", "report", "--at", "2026-10-15", "--periods-back", "1", "--format", "json"
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    expected = json.loads(report_json(d))
    for ours in (data, expected):
        ours.pop("computed_at")
    assert data == expected

    out = tmp_path / "report.md"
    result = await _cli(
        database_url, "agent", "report", "--at", "2026-10-15", "--format", "markdown", "--out", str(out)
    )
    assert result.exit_code == 0, result.output
    assert out.read_text(encoding="utf-8").startswith("# pcso report: month 2026-10")

    result = await _cli(database_url, "operator", "report", "--at", "2026-10-15", "--format", "csv", "--drill", "mttr")
    assert result.exit_code == 0 and result.stdout.splitlines() == ["kind,number,title,at,value,detail"]
    result = await _cli(database_url, "operator", "report", "--at", "2026-11-02", "--format", "csv", "--drill", "mttr")
    assert len(result.stdout.splitlines()) == 4  # M3, M4, M1 … resolved in November


async def test_pcso_report_refusals(domain: Domain, actors: Actors, database_url: str, tmp_path: Any) -> None:
    result = await _cli(database_url, "customer", "report")
    assert result.exit_code == 4
    assert "may not view the dashboard" in result.output
    result = await _cli(database_url, "manager", "report", "--period", "year")
    assert result.exit_code == 2 and "'year' is not one of" in result.output
    result = await _cli(database_url, "manager", "report", "--at", "yesterday")
    assert result.exit_code == 2 and "'yesterday' is not a date" in result.output
    result = await _cli(database_url, "manager", "report", "--drill", "nope")
    assert result.exit_code == 6 and "unknown KPI 'nope'" in result.output
    result = await _cli(database_url, "manager", "report", "--part", "planned")
    assert result.exit_code == 6 and "--part goes with --drill" in result.output
    out = tmp_path / "no" / "such" / "dir.md"
    result = await _cli(database_url, "manager", "report", "--out", str(out))
    assert result.exit_code == 1 and "cannot write" in result.output and not out.exists()


async def test_pcso_report_drill_down_shows_hostile_text_as_data(
    domain: Domain, actors: Actors, history: History, database_url: str
) -> None:
    result = await _cli(
        database_url, "agent", "report", "--at", "2026-11-02", "--drill", "proactive_cases", "--format", "markdown"
    )
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.stdout
    assert "P3 [bold]red[/] \\x1b[2J [/" in result.stdout
    assert "3 cases in all; rows 1–3." in result.stdout
    result = await _cli(
        database_url, "agent", "report", "--at", "2026-11-02", "--drill", "top_customers", "--format", "json"
    )
    rows = json.loads(result.stdout)["rows"]
    assert [r["number"] for r in rows] == ["A5", "A1", "A4", "A3", "A2"]
    assert rows[0]["title"] == f"A5 {HOSTILE}"  # JSON carries the text as it is, escaped


def test_the_docs_define_every_kpi() -> None:
    from pathlib import Path

    docs = (Path(__file__).resolve().parents[2] / "docs" / "dashboard.md").read_text(encoding="utf-8")
    for kpi in dashboard.KPIS:
        assert f"**{kpi.title}** (`{kpi.key}`" in docs, kpi.key
        assert kpi.definition in docs, kpi.key
