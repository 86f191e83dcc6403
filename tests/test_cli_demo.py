"""``pcso demo``: builds a demo world, replaces only demo databases, runs the simulation."""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from pcso_tui.cli import main
from pcso_tui.domain.core.service import Domain
from tests.identity import set_os_user


@pytest.fixture
def pcso(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    set_os_user(monkeypatch, "newcomer")  # an OS user no database knows
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    config = tmp_path / "config.toml"
    config.write_text("", encoding="utf-8")

    def invoke(*args: str):
        return CliRunner().invoke(main, ["--config", str(config), *args], catch_exceptions=False)

    return invoke


def count(path: Path, sql: str) -> int:
    with sqlite3.connect(path) as conn:
        return conn.execute(sql).fetchone()[0]


def test_demo_builds_a_demo_world_and_the_simulation_sends_alerts(pcso, tmp_path: Path) -> None:
    db = tmp_path / "try" / "demo.db"
    result = pcso("demo", "--db", str(db), "--accounts", "40", "--steps", "6")
    assert result.exit_code == 0, result.output
    assert f"building a fresh demo world in {db}" in result.stderr
    assert re.search(r"pcso demo: 40 accounts, 400 install base items, 60 CIs in [\d.]+ s", result.stderr)
    lines = result.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == [f"step {n}" for n in range(6)]
    assert lines[0].startswith("step 0: sent 2 alerts (2 firing")
    assert any("incidents INC" in line for line in lines)
    assert any("proactive cases CS" in line for line in lines)

    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT value FROM setting WHERE key = 'demo'").fetchone() == ("true",)
        users = {name for (name,) in conn.execute("SELECT name FROM app_user")}
    assert users >= {"admin", "olivia", "adam", "maria", "carl"}
    assert count(db, "SELECT count(*) FROM account") == 40
    assert count(db, "SELECT count(*) FROM event WHERE actor_name = 'simulator' AND kind = 'alert.opened'") >= 3


def test_demo_goes_to_the_user_data_directory_by_default(pcso, tmp_path: Path) -> None:
    result = pcso("demo", "--accounts", "20", "--steps", "1")
    assert result.exit_code == 0, result.output
    expected = tmp_path / "data" / "pcso-tui" / "demo.db"
    assert expected.exists()
    assert str(expected) in result.stderr


def test_fresh_replaces_the_demo_world_and_keep_reopens_it(pcso, tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    assert pcso("demo", "--db", str(db), "--accounts", "20", "--steps", "3").exit_code == 0
    alerts = count(db, "SELECT count(*) FROM alert")

    kept = pcso("demo", "--db", str(db), "--keep", "--steps", "3")
    assert kept.exit_code == 0, kept.output
    assert "reopening the demo world" in kept.stderr
    assert count(db, "SELECT count(*) FROM account") == 20
    assert count(db, "SELECT count(*) FROM alert") > alerts

    fresh = pcso("demo", "--db", str(db), "--accounts", "30", "--steps", "1")
    assert fresh.exit_code == 0, fresh.output
    assert count(db, "SELECT count(*) FROM account") == 30
    assert count(db, "SELECT count(*) FROM event WHERE kind = 'world.seeded'") == 1


def test_a_database_that_is_not_a_demo_is_never_replaced(pcso, tmp_path: Path, sqlite_url: str) -> None:
    real = Path(sqlite_url)  # a migrated pcso database, not marked demo
    before = real.read_bytes()
    result = CliRunner().invoke(main, ["demo", "--db", str(real), "--steps", "1"])
    assert result.exit_code == 1
    assert "is not a pcso demo database" in result.output
    assert real.read_bytes() == before

    url = pcso("demo", "--db", "postgresql://pcso@db.example/pcso", "--steps", "1")
    assert url.exit_code == 2 and "not a URL" in url.output

    other = tmp_path / "notes.txt"
    other.write_text("my notes", encoding="utf-8")
    assert pcso("demo", "--db", str(other), "--steps", "1").exit_code == 1
    assert other.read_text(encoding="utf-8") == "my notes"


def test_the_demo_channels_deliver_the_notices_of_an_approved_outage(pcso, tmp_path: Path) -> None:
    """The rule proposes the outage's major case; approving it queues notices the demo channels send."""
    db = tmp_path / "demo.db"
    assert pcso("demo", "--db", str(db), "--accounts", "40", "--steps", "3").exit_code == 0

    async def approve_and_deliver():
        from pcso_tui.domain.casework.major_cases import approve_major_case
        from pcso_tui.domain.communications.delivery import DeliveryWorker
        from pcso_tui.domain.core.users import sign_in
        from pcso_tui.plugins import new_plugin_manager
        from pcso_tui.plugins.channels.demo import DemoChannel, demo_channels

        domain = await Domain.open(db, hooks=new_plugin_manager(load_entry_points=False).hook)
        try:
            with sqlite3.connect(db) as conn:
                (case_id,) = conn.execute(
                    "SELECT id FROM support_case WHERE kind = 'proactive' AND major_case_state = 'proposed'"
                    " ORDER BY id DESC LIMIT 1"
                ).fetchone()
            await approve_major_case(domain, await sign_in(domain, "newcomer", as_name="maria"), case_id)
            channels = demo_channels()
            async with DeliveryWorker(domain, channels=channels) as worker:
                report = await worker.drain()
            delivered = sum(len(c.delivered) for c in channels if isinstance(c, DemoChannel))
            return report, delivered
        finally:
            await domain.close()

    status = tmp_path / "demo-status" / "status.json"
    before = json.loads(status.read_text(encoding="utf-8"))["outages"]  # written by --steps
    assert [o["status"] for o in before if o["status"] == "active"] == []  # the seed's planned and past ones
    report, delivered = asyncio.run(approve_and_deliver())
    assert report.sent > 0 and report.dead == 0 and report.retrying == 0
    assert delivered > 0
    assert count(db, "SELECT count(*) FROM notice WHERE state = 'pending'") == 0
    # The demo's own worker puts the approved outage on the demo's status page.
    assert pcso("demo", "--db", str(db), "--keep", "--steps", "1").exit_code == 0
    (shown,) = [o for o in json.loads(status.read_text(encoding="utf-8"))["outages"] if o["status"] == "active"]
    # The major case's customer-facing title, from the neutral template: "<service>: service disruption".
    assert shown["title"].endswith(": service disruption")


def test_an_interrupted_build_leaves_nothing_behind(pcso, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pcso_tui.cli import demo

    real_build = demo._build

    async def interrupted(context, accounts, seed, progress):
        domain = await context.open_domain(upgrade=True, create=True)  # the file exists, half made
        await domain.close()
        raise KeyboardInterrupt

    db = tmp_path / "demo" / "demo.db"
    monkeypatch.setattr(demo, "_build", interrupted)
    result = pcso("demo", "--db", str(db), "--steps", "1")
    assert result.exit_code == 130
    assert list(db.parent.iterdir()) == []

    monkeypatch.setattr(demo, "_build", real_build)
    assert pcso("demo", "--db", str(db), "--accounts", "20", "--steps", "1").exit_code == 0
    leftover = sorted(p.name for p in db.parent.iterdir() if not p.name.startswith("demo.db"))
    assert leftover == ["demo-status"]  # the demo's status page, nothing of the interrupted build
