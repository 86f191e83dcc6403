"""Plugins: every hook spec has a test here (named ``test_hook_<hook>``), and a third-party
package (``tests/plugin_package``: pcso_sample, installed by its entry point) adds an alert
format, a notification channel and its own config section without touching ``src/``."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pluggy
import pytest
from aiohttp.test_utils import TestClient, TestServer

from pcso_tui import config
from pcso_tui.domain import hookspecs
from pcso_tui.domain.casework.views import ProactiveCaseFacts
from pcso_tui.domain.communications.delivery import DeliveryWorker
from pcso_tui.domain.communications.views import StatusPageData
from pcso_tui.domain.core.channels import address_field, address_problem
from pcso_tui.domain.core.errors import InvalidInput
from pcso_tui.domain.core.extensions import Extensions
from pcso_tui.domain.core.roles import Actor, Role
from pcso_tui.domain.core.service import Domain
from pcso_tui.domain.core.settings import DeliverySettings, Settings, WorkflowSettings
from pcso_tui.domain.hookspecs import hookimpl
from pcso_tui.domain.install_base.importer import import_records
from pcso_tui.domain.operations.alert_formats import parse_alerts
from pcso_tui.domain.operations.alerts import list_alerts
from pcso_tui.plugins import ENTRY_POINT_GROUP, new_plugin_manager
from pcso_tui.receiver import create_app
from tests.alerting import am_alert, am_message
from tests.domain.notice_world import make_world, notices, queue_statement_notices
from tests.identity import ME

TESTS = Path(__file__).parent
PLUGIN_PACKAGE = TESTS / "plugin_package"


def builtin_manager() -> pluggy.PluginManager:
    return new_plugin_manager(load_entry_points=False)


@pytest.fixture
def sample(monkeypatch: pytest.MonkeyPatch) -> Iterator[pluggy.PluginManager]:
    """A plugin manager that found pcso_sample the way it finds any installed package: by its
    ``pcso_tui`` entry point (the package's dist-info on the path, as pip would leave it)."""
    monkeypatch.syspath_prepend(str(PLUGIN_PACKAGE))
    pm = new_plugin_manager(load_entry_points=True)
    assert pm.get_plugin("sample") is not None, f"pcso_sample was not found in the {ENTRY_POINT_GROUP} group"
    yield pm
    sys.modules.pop("pcso_sample", None)


def uptime(status: int = 0, name: str = "Checkout API", **monitor: Any) -> dict[str, Any]:
    return {
        "monitor": {"name": name, "hostname": "web-1", **monitor},
        "heartbeat": {"status": status, "msg": "connection refused", "time": "2026-11-23T09:00:00Z"},
    }


# --- every hook has a test (like datasette's test_plugin_hooks_have_tests) --------------------


def hook_names() -> list[str]:
    return sorted(
        name
        for name, value in vars(hookspecs).items()
        if name.startswith("pcso_") and callable(value) and hasattr(value, f"{hookspecs.PROJECT}_spec")
    )


def test_every_hook_spec_has_a_test() -> None:
    assert hook_names(), "no hook specs found"
    tests: set[str] = set()
    for path in TESTS.rglob("test_*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                tests.add(node.name)
    missing = [name for name in hook_names() if f"test_hook_{name}" not in tests]
    assert not missing, f"hooks without a test_hook_<name> test: {', '.join(missing)}"


def test_every_public_name_in_hookspecs_is_a_prefixed_spec() -> None:
    functions = [
        n for n, v in vars(hookspecs).items() if callable(v) and getattr(v, "__module__", "") == hookspecs.__name__
    ]
    assert sorted(functions) == hook_names()


def test_a_hook_implementation_with_a_typo_is_refused() -> None:
    class Typo:
        @hookimpl
        def pcso_alert_format(self, settings: Settings) -> list[Any]:
            return []

    pm = builtin_manager()
    pm.register(Typo())
    with pytest.raises(pluggy.PluginValidationError):
        pm.check_pending()


# --- the hooks, one test each ----------------------------------------------------------------


def test_hook_pcso_alert_formats(sample: pluggy.PluginManager) -> None:
    builtin = Extensions(builtin_manager().hook, Settings())
    assert [f.name for f in builtin.alert_formats()] == ["alertmanager", "generic"]
    extended = Extensions(sample.hook, Settings())
    # A third-party format claims before the built-ins; the catch-all generic one stays last.
    assert [f.name for f in extended.alert_formats()] == ["uptime", "alertmanager", "generic"]
    # Auto-detection by shape: one JSON Lines body mixing all three formats.
    body = "\n".join(json.dumps(d) for d in (uptime(), am_message(am_alert()), {"name": "Disk full"}))
    batch = parse_alerts(extended, body)
    assert [a.source for a in batch.alerts] == ["uptime", "alertmanager", "generic"]
    # The same problems reporting as the built-ins: every problem, with its path.
    lines = "\n".join(json.dumps(d) for d in (uptime(status=7), uptime(name="")))
    with pytest.raises(InvalidInput) as caught:
        parse_alerts(extended, lines, format="uptime")
    assert caught.value.details == [
        "line 1: heartbeat.status: must be 0 (down) or 1 (up), not 7",
        "line 2: monitor.name: must not be empty",
    ]
    # A document for another format says where it belongs.
    with pytest.raises(InvalidInput, match="this is an Uptime Kuma notification: send it to /api/v1/alerts/uptime"):
        parse_alerts(extended, uptime(), format="generic")


def test_hook_pcso_notification_channels(sample: pluggy.PluginManager) -> None:
    builtin = Extensions(builtin_manager().hook, Settings()).channels()
    assert list(builtin) == ["email", "webhook", "sms", "portal"]
    assert {name: address_field(c) for name, c in builtin.items()} == {
        "email": "email",
        "webhook": "webhook_url",
        "sms": "phone",
        "portal": None,
    }
    assert address_problem(builtin["email"], "no-at-sign") == (
        "is not an email address we can deliver to (an email address must have an @-sign)"
    )
    assert address_problem(builtin["email"], "x@bücher.example") is None
    assert address_problem(builtin["webhook"], "https://hooks.example/x") is None
    channels = Extensions(sample.hook, Settings()).channels()
    assert list(channels) == ["pigeon", "email", "webhook", "sms", "portal"]
    assert address_problem(channels["pigeon"], "+4670000") == "is not a pigeon loft (loft:NAME)"


def test_hook_pcso_config_sections(sample: pluggy.PluginManager, tmp_path: Path) -> None:
    sections = Extensions(sample.hook, Settings()).config_sections()
    assert list(sections) == ["pigeon"]
    path = tmp_path / "c.toml"
    path.write_text(f'[plugins.pigeon]\nloft = "{tmp_path}"\nmax_words = 5\n')
    settings = config.load(path, sections=sections).settings
    assert settings.plugin(sections["pigeon"]).max_words == 5
    # Absent from the file: the plugin's defaults.
    assert config.load(tmp_path / "none.toml", sections=sections).settings.plugin(sections["pigeon"]).max_words == 40
    for toml, message in (
        (
            "[plugins.pigeon]\nmax_wrds = 3\n",
            r"c\.toml\.plugins\.pigeon: unknown key 'max_wrds' \(known: loft, max_words\)",
        ),
        ('[plugins.pigeon]\nmax_words = "3"\n', r"c\.toml\.plugins\.pigeon\.max_words = '3' is not a int"),
        ("[plugins.pigeon]\nmax_words = 0\n", r"c\.toml\.plugins\.pigeon: max_words = 0 must be at least 1"),
        ("[plugins.pigeons]\n", r"c\.toml\.plugins: unknown plugin section 'pigeons' \(known: pigeon\)"),
        ("[pigeon]\n", r"unknown key 'pigeon'"),  # a plugin's section lives under [plugins.]
    ):
        path.write_text(toml)
        with pytest.raises(InvalidInput, match=message):
            config.load(path, sections=sections)
    # Without the plugin installed, its section is an unknown one.
    path.write_text("[plugins.pigeon]\nmax_words = 3\n")
    with pytest.raises(InvalidInput, match=r"unknown plugin section 'pigeon' \(known: none\)"):
        config.load(path, sections={})


def test_hook_pcso_workflow_proactive_case_opened() -> None:
    facts = ProactiveCaseFacts(
        case_id=1,
        case_number="CS0000001",
        incident_id=1,
        incident_number="INC0000001",
        severity="critical",
        priority=1,
        accounts=4,
        external_accounts=3,
        items=9,
    )
    pm = builtin_manager()
    settings = Settings(workflow=WorkflowSettings(on_proactive_case="accept", account_threshold=2))
    assert Extensions(pm.hook, settings).proactive_case_decision(facts) == "accept: rule: 3 accounts ≥ threshold 2"
    assert (
        Extensions(pm.hook, replace(settings, workflow=WorkflowSettings(account_threshold=5))).proactive_case_decision(
            facts
        )
        == "none"
    )

    class GoldOnly:
        @hookimpl(tryfirst=True)
        def pcso_workflow_proactive_case_opened(self, facts: ProactiveCaseFacts, settings: Settings) -> str:
            return "none: only gold accounts get a major case"

    pm.register(GoldOnly())
    assert Extensions(pm.hook, settings).proactive_case_decision(facts) == "none: only gold accounts get a major case"
    assert Extensions(None, settings).proactive_case_decision(facts) is None


async def test_hook_pcso_status_page_publishers(domain: Domain, tmp_path: Path) -> None:
    published: list[StatusPageData] = []

    class Recorder:
        name = "recorder"

        async def publish(self, data: StatusPageData) -> None:
            published.append(data)

    class HostedStatusPage:
        @hookimpl
        def pcso_status_page_publishers(self, settings: Settings) -> list[Recorder]:
            return [Recorder()]

    pm = builtin_manager()
    domain.hooks = pm.hook
    assert domain.extensions.status_page_publishers() == []  # no [delivery] status_page_dir
    async with DeliveryWorker(domain) as worker:
        assert await worker.publish_status_page() is False
    pm.register(HostedStatusPage())
    domain.settings = replace(
        domain.settings, delivery=replace(domain.settings.delivery, status_page_dir=str(tmp_path / "page"))
    )
    assert [p.name for p in domain.extensions.status_page_publishers()] == ["recorder", "files"]
    async with DeliveryWorker(domain) as worker:
        assert await worker.publish_status_page() is True
    assert len(published) == 1 and published[0].title
    assert sorted(p.name for p in (tmp_path / "page").iterdir()) == ["feed.atom", "index.html", "status.json"]


# --- the proof: a third-party package, installed by entry point -----------------------------


async def test_an_alert_in_a_plugins_format_is_received_and_ingested(
    domain: Domain, sample: pluggy.PluginManager
) -> None:
    domain.hooks = sample.hook
    client = TestClient(TestServer(create_app(domain, sweep_seconds=None)))
    await client.start_server()
    try:
        response = await client.post("/api/v1/alerts/uptime", json=uptime())
        assert response.status == 200, await response.text()
        assert (await response.json())["status"] == "stored"
        # The built-in paths are unchanged, and send a stray notification to the right one.
        response = await client.post("/api/v1/alerts", json=uptime())
        assert response.status == 422
        assert "send it to /api/v1/alerts/uptime" in (await response.json())["message"]
        response = await client.post("/api/v1/alerts/alertmanager", json=am_message(am_alert()))
        assert response.status == 200
        # Refused like any other format: 422 naming the problem, nothing stored.
        response = await client.post("/api/v1/alerts/uptime", json=uptime(status=3))
        assert response.status == 422
        assert (await response.json())["details"] == ["heartbeat.status: must be 0 (down) or 1 (up), not 3"]
    finally:
        await client.close()
    stored = await list_alerts(domain, Actor(user_id=None, name="t", role=Role.OPERATOR))
    kuma = [a for a in stored if a.source == "uptime"]
    assert [(a.name, a.severity, a.state) for a in kuma] == [("Checkout API", "critical", "open")]


async def test_a_contact_on_a_plugins_channel_is_imported_and_reached(
    domain: Domain, sample: pluggy.PluginManager, tmp_path: Path
) -> None:
    domain.hooks = sample.hook
    sections = domain.extensions.config_sections()
    loaded = config.settings_from({"plugins": {"pigeon": {"loft": str(tmp_path / "loft")}}}, sections=sections)
    domain.settings = replace(domain.settings, plugins=loaded.plugins, delivery=DeliverySettings(batch_size=10))
    world = await make_world(domain, 1, channel="email", queue=False)
    admin = Actor(user_id=None, name="admin", role=Role.ADMIN)

    header = "number,account,name,phone,preferred_channel\n"
    bad = tmp_path / "bad.csv"
    bad.write_text(header + "W-CON-0,W-ACC-0,Contact 0,+46700000000,pigeon\n")
    with pytest.raises(InvalidInput) as caught:
        await import_records(domain, admin, "contacts", bad)
    assert caught.value.details == ["line 2: phone: '+46700000000' is not a pigeon loft (loft:NAME)"]
    good = tmp_path / "good.csv"
    good.write_text(header + "W-CON-0,W-ACC-0,Contact 0,loft:north,pigeon\n")
    result = await import_records(domain, admin, "contacts", good)
    assert result.updated == 1

    ids = await queue_statement_notices(domain, world)
    async with DeliveryWorker(domain) as worker:
        report = await worker.drain()
    assert report.sent == 1
    assert [(n.channel, n.state) for n in await notices(domain, ids)] == [("pigeon", "sent")]
    sent = [json.loads(line) for line in (tmp_path / "loft" / "sent.jsonl").read_text().splitlines()]
    assert [(s["to"], s["notice"]) for s in sent] == [("loft:north", ids[0])]
    assert len(sent[0]["text"].split()) <= 40


def test_an_installed_plugin_works_from_the_command_line(tmp_path: Path) -> None:
    """The same package on PYTHONPATH of a real ``pcso`` process: its section is read from the
    config file, and ``pcso ingest`` detects its format by shape."""
    config_file = tmp_path / "config.toml"
    config_file.write_text(f'[plugins.pigeon]\nloft = "{tmp_path / "loft"}"\nmax_words = 5\n')
    env = os.environ | {
        "PYTHONPATH": os.pathsep.join([str(PLUGIN_PACKAGE), os.environ.get("PYTHONPATH", "")]),
        "PCSO_CONFIG": str(config_file),
    }
    env.pop("PCSO_DATABASE_URL", None)

    def pcso(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-c", "from pcso_tui.cli import main; main()", "--db", str(tmp_path / "p.db"), *args]
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)

    assert pcso("db", "upgrade").returncode == 0
    assert pcso("users", "add", ME, "--role", "admin").returncode == 0
    alerts = tmp_path / "alerts.jsonl"
    alerts.write_text(json.dumps(uptime()) + "\n" + json.dumps({"name": "probe"}) + "\n")
    done = pcso("ingest", str(alerts), "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["new"] == 2

    config_file.write_text("[plugins.pigeon]\nmax_wrds = 5\n")
    refused = pcso("ingest", str(alerts))
    assert refused.returncode != 0
    assert f"{config_file}.plugins.pigeon: unknown key 'max_wrds'" in refused.stderr
