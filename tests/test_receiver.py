"""The HTTP receiver, over real HTTP on loopback: good posts are stored before the answer; bad
ones get a 4xx naming the problem, store nothing, and the receiver keeps serving."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from pcso_tui import receiver as receiver_module
from pcso_tui.domain.core.roles import SYSTEM
from pcso_tui.domain.core.service import Domain
from pcso_tui.domain.core.settings import IngestSettings
from pcso_tui.domain.operations.alerts import list_alerts
from pcso_tui.receiver import create_app
from tests.alerting import HOSTILE, am_alert, am_message, counts, events, grafana_message, stored

TOKEN = "s3cret-token"
AM = "/api/v1/alerts/alertmanager"
GENERIC = "/api/v1/alerts"
BODY_LIMIT = 16 * 1024


@dataclasses.dataclass
class Receiver:
    http: aiohttp.ClientSession
    domain: Domain
    token: str | None

    async def post(
        self,
        path: str,
        body: Any,
        *,
        token: str | bool = True,
        content_type: str | None = "application/json",
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, Any]]:
        sent = dict(headers or {})
        if token is True and self.token:
            sent["Authorization"] = f"Bearer {self.token}"
        elif isinstance(token, str):
            sent["Authorization"] = token
        if content_type is not None:
            sent["Content-Type"] = content_type
        data = body if isinstance(body, bytes) or callable(body) else json.dumps(body).encode()
        if callable(data):
            data = data()
        async with self.http.post(path, data=data, headers=sent, skip_auto_headers=["Content-Type"]) as response:
            return response.status, await response.json()

    async def healthy(self) -> bool:
        async with self.http.get("/healthz") as response:
            return response.status == 200 and (await response.json()) == {"status": "ok"}


Start = Callable[..., Awaitable[Receiver]]


@pytest.fixture
async def start_receiver(domain: Domain) -> AsyncIterator[Start]:
    """Start the receiver on an ephemeral loopback port (one per call); stopped after the test."""
    runners: list[web.AppRunner] = []
    sessions: list[aiohttp.ClientSession] = []

    async def start(token: str | None = TOKEN, **ingest: Any) -> Receiver:
        limits = {"max_body_bytes": BODY_LIMIT, "max_alerts_per_batch": 50} | ingest
        settings = dataclasses.replace(domain.settings, ingest=IngestSettings(**limits))
        runner = web.AppRunner(create_app(domain, settings, token=token, sweep_seconds=None), access_log=None)
        await runner.setup()
        runners.append(runner)
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        host, port = runner.addresses[0][:2]
        session = aiohttp.ClientSession(base_url=f"http://{host}:{port}")
        sessions.append(session)
        return Receiver(session, domain, token)

    yield start
    for session in sessions:
        await session.close()
    for runner in runners:
        await runner.cleanup()


@pytest.fixture
async def receiver(start_receiver: Start) -> Receiver:
    return await start_receiver()


async def test_alertmanager_post_is_stored_before_the_answer(receiver: Receiver) -> None:
    status, body = await receiver.post(AM, am_message(am_alert(), am_alert("Other", fingerprint="fp-2")))
    assert status == 200
    assert (body["status"], body["received"], body["new"], body["unmapped"]) == ("stored", 2, 2, 2)
    found = await list_alerts(receiver.domain, SYSTEM, sort="id")
    assert [(a.fingerprint, a.state, a.source) for a in found] == [
        ("fp-1", "open", "alertmanager"),
        ("fp-2", "open", "alertmanager"),
    ]
    # Every event it caused (the alerts opened, and any incident correlation opened) names it.
    actors = await _event_actors(receiver.domain)
    assert len(actors) >= 2 and set(actors) == {"receiver"}


async def test_resolved_post_closes_the_alert(receiver: Receiver) -> None:
    await receiver.post(AM, am_message(am_alert()))
    status, body = await receiver.post(AM, am_message(am_alert(status="resolved", ends_at="2026-11-23T09:10:00Z")))
    assert (status, body["closed"], body["updated"]) == (200, 1, 1)
    assert (await stored(receiver.domain, "fp-1")).state == "closed"


async def test_truncated_group_leaves_the_alerts_it_left_out_alone(receiver: Receiver) -> None:
    group = [am_alert(fingerprint=f"fp-{i}") for i in range(3)]
    await receiver.post(AM, am_message(*group))
    status, body = await receiver.post(AM, am_message(group[0], truncated=2))
    assert (status, body["truncated"]) == (200, 2)
    assert {a.state for a in await list_alerts(receiver.domain, SYSTEM)} == {"open"}


async def test_grafana_flavoured_post_is_accepted(receiver: Receiver) -> None:
    alert = am_alert(silenceURL="http://grafana/s", dashboardURL="", panelURL="", values={"B": 44.2, "C": 1})
    status, body = await receiver.post(AM, grafana_message(alert))
    assert (status, body["new"]) == (200, 1)
    assert (await stored(receiver.domain, "fp-1")).source == "grafana"


async def test_generic_alerts_as_json_lines(receiver: Receiver) -> None:
    lines = "\n".join(json.dumps({"name": f"probe {i}", "severity": "major", "ci": "web-1"}) for i in range(3))
    status, body = await receiver.post(GENERIC, lines.encode(), content_type="application/x-ndjson")
    assert (status, body["new"]) == (200, 3)
    status, _ = await receiver.post(
        GENERIC, [{"name": "a"}, {"name": "b"}], content_type="application/json; charset=utf-8"
    )
    assert status == 200
    assert len(await list_alerts(receiver.domain, SYSTEM)) == 5


async def test_hostile_text_arrives_literally(receiver: Receiver) -> None:
    status, _ = await receiver.post(AM, am_message(am_alert(summary=HOSTILE, labels={"note": HOSTILE})))
    assert status == 200
    alert = await stored(receiver.domain, "fp-1")
    assert (alert.summary, alert.labels["note"]) == (HOSTILE, HOSTILE)


def _chunked(size: int) -> Callable[[], Any]:
    async def body() -> AsyncIterator[bytes]:
        for _ in range(size // 1024):
            yield b" " * 1024

    return body


BAD_REQUESTS = [
    # (what, path, body, post options, status, error code, text in message or details)
    ("malformed JSON", AM, b'{"alerts": [', {}, 400, "malformed_json", "Expecting value (line 1, column 13)"),
    ("empty body", AM, b"", {}, 400, "malformed_json", "empty body"),
    ("not UTF-8", AM, b"\xff\xfe\x00", {}, 400, "malformed_json", "not UTF-8"),
    (
        "wrong types",
        AM,
        am_message(am_alert(labels=None) | {"labels": ["x"]}),
        {},
        422,
        "invalid",
        "alerts[0].labels: must be an object of strings, not a list",
    ),
    (
        "missing fields",
        AM,
        am_message({k: v for k, v in am_alert().items() if k != "status"}),
        {},
        422,
        "invalid",
        "alerts[0].status: missing",
    ),
    ("bad time", AM, am_message(am_alert(starts_at="soon")), {}, 422, "invalid", "alerts[0].startsAt: not an RFC 3339"),
    ("no alerts key", AM, {"version": "4"}, {}, 422, "invalid", "not an Alertmanager webhook message"),
    (
        "webhook to generic",
        GENERIC,
        am_message(am_alert()),
        {},
        422,
        "invalid",
        "send it to /api/v1/alerts/alertmanager",
    ),
    ("unknown severity", GENERIC, {"name": "x", "severity": "meh"}, {}, 422, "invalid", "unknown severity 'meh'"),
    ("body too large", AM, b"[" + b" " * BODY_LIMIT + b"]", {}, 413, "too_large", f"larger than {BODY_LIMIT} bytes"),
    ("chunked too large", AM, _chunked(2 * BODY_LIMIT), {}, 413, "too_large", "larger than"),
    (
        "too many alerts",
        AM,
        am_message(*({"status": "firing", "labels": {"alertname": f"a{i}"}} for i in range(51))),
        {},
        413,
        "too_large",
        "too many alerts in one request: 51 (the limit is 50)",
    ),
    (
        "text/plain",
        AM,
        am_message(am_alert()),
        {"content_type": "text/plain"},
        415,
        "unsupported_media_type",
        "not JSON",
    ),
    (
        "no content type",
        AM,
        am_message(am_alert()),
        {"content_type": None},
        415,
        "unsupported_media_type",
        "no Content-Type",
    ),
    (
        "latin-1",
        AM,
        am_message(am_alert()),
        {"content_type": "application/json; charset=latin-1"},
        415,
        "unsupported_media_type",
        "send UTF-8",
    ),
    ("no token", AM, am_message(am_alert()), {"token": False}, 401, "unauthorized", "missing bearer token"),
    ("wrong token", AM, am_message(am_alert()), {"token": "Bearer nope"}, 401, "unauthorized", "wrong bearer token"),
    ("basic auth", AM, am_message(am_alert()), {"token": f"Basic {TOKEN}"}, 401, "unauthorized", "wrong bearer token"),
]


@pytest.mark.parametrize(
    ("path", "body", "options", "status", "code", "text"),
    [case[1:] for case in BAD_REQUESTS],
    ids=[case[0] for case in BAD_REQUESTS],
)
async def test_bad_requests_are_refused_precisely_and_store_nothing(
    receiver: Receiver, path: str, body: Any, options: dict[str, Any], status: int, code: str, text: str
) -> None:
    before = await counts(receiver.domain)
    got_status, got = await receiver.post(path, body, **options)
    assert (got_status, got["error"]) == (status, code), got
    assert text in got["message"] + " | " + " | ".join(got["details"])
    assert await counts(receiver.domain) == before
    # The receiver keeps serving: it is healthy and takes the next good post.
    assert await receiver.healthy()
    ok, result = await receiver.post(AM, am_message(am_alert(fingerprint="after")))
    assert (ok, result["received"]) == (200, 1)


async def test_unauthorized_answers_carry_a_bearer_challenge(receiver: Receiver) -> None:
    async with receiver.http.post(AM, json=am_message(am_alert())) as response:
        assert response.status == 401
        assert response.headers["WWW-Authenticate"] == 'Bearer realm="pcso"'


async def test_routing_errors_answer_json_too(receiver: Receiver) -> None:
    async with receiver.http.get(AM) as response:
        assert (response.status, (await response.json())["error"]) == (405, "method_not_allowed")
        assert "POST" in response.headers["Allow"]
    async with receiver.http.post("/api/v2/alerts", json={}) as response:
        body = await response.json()
        assert (response.status, body["error"]) == (404, "not_found")
        # A webhook pointed at the wrong path is told the right ones.
        assert "'/api/v2/alerts'" in body["message"] and "POST /api/v1/alerts/alertmanager" in body["message"]


async def test_without_a_token_configured_posts_need_none(start_receiver: Start) -> None:
    open_receiver = await start_receiver(token=None)
    status, _ = await open_receiver.post(AM, am_message(am_alert()), token=False)
    assert status == 200


async def test_healthz_needs_no_token(receiver: Receiver) -> None:
    assert await receiver.healthy()


async def test_an_unexpected_failure_is_a_500_and_the_receiver_survives(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(receiver_module, "ingest", broken)
    status, body = await receiver.post(AM, am_message(am_alert()))
    assert (status, body["error"]) == (500, "internal")
    assert "disk on fire" not in json.dumps(body)  # internals stay in the log
    monkeypatch.undo()
    assert (await receiver.post(AM, am_message(am_alert())))[0] == 200


async def test_concurrent_posts_of_one_group_deduplicate(receiver: Receiver) -> None:
    posts = [receiver.post(AM, am_message(am_alert(), am_alert(fingerprint="fp-2"))) for _ in range(8)]
    results = await asyncio.gather(*posts)
    assert {status for status, _ in results} == {200}
    assert sum(body["new"] for _, body in results) == 2
    assert (await stored(receiver.domain, "fp-1")).receive_count == 8
    assert [kind for kind, _ in await events(receiver.domain)] == ["alert.opened", "alert.opened"]


async def test_one_log_line_per_request(receiver: Receiver, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="pcso.receiver")
    await receiver.post(AM, am_message(am_alert()))
    await receiver.post(AM, b"{", token=True)
    await receiver.post(AM, am_message(am_alert()), token=False)
    await receiver.healthy()
    lines = [r.getMessage() for r in caplog.records if r.name == "pcso.receiver"]
    assert len(lines) == 4
    assert " POST /api/v1/alerts/alertmanager 200 alerts=1 " in lines[0]
    assert " 400 " in lines[1] and "problem=not valid JSON" in lines[1]
    # Refusals decided before the domain name their reason too.
    assert " 401 " in lines[2] and "problem=missing bearer token" in lines[2]
    assert " GET /healthz 200 " in lines[3] and "problem=" not in lines[3]


def test_log_lines_carry_a_utc_time_as_text_or_json(capsys: pytest.CaptureFixture[str]) -> None:
    from pcso_tui.cli.logs import configure_logging

    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    try:
        for log_format in ("text", "json"):
            configure_logging(log_format)
            logging.getLogger("pcso.receiver").info("127.0.0.1 POST /x 401 problem=%s", "wrong bearer token")
            line = capsys.readouterr().err.strip().splitlines()[-1]
            if log_format == "text":
                assert re.fullmatch(
                    r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z INFO pcso.receiver 127.0.0.1 POST /x 401 "
                    r"problem=wrong bearer token",
                    line,
                ), line
            else:
                entry = json.loads(line)
                assert entry["time"].endswith("Z") and entry["level"] == "INFO"
                assert (entry["logger"], entry["message"]) == (
                    "pcso.receiver",
                    "127.0.0.1 POST /x 401 problem=wrong bearer token",
                )
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])


async def _event_actors(domain: Domain) -> list[str]:
    from sqlalchemy import select

    from pcso_tui.domain.core.models import Event

    async with domain.reading() as session:
        return list((await session.scalars(select(Event.actor_name).order_by(Event.id))).all())


# --- heartbeats ------------------------------------------------------------------------------


async def test_heartbeat_route_records_a_report_and_refuses_unknown_names(start_receiver: Start) -> None:
    from pcso_tui.domain.core.models import HealthBaseline
    from pcso_tui.domain.core.settings import HealthCheckSettings, HeartbeatCheckSettings

    receiver = await start_receiver()
    checks = HealthCheckSettings(heartbeat=(HeartbeatCheckSettings(name="nightly-backup", ci="batch"),))
    receiver.domain.settings = dataclasses.replace(receiver.domain.settings, healthchecks=checks)

    status, body = await receiver.post("/api/v1/heartbeat/nightly-backup", b"", content_type=None, token=False)
    assert status == 401  # the token guards heartbeats like alerts
    status, body = await receiver.post("/api/v1/heartbeat/nightly-backup", b"", content_type=None)
    assert (status, body["status"], body["name"], body["reports"]) == (200, "recorded", "nightly-backup", 1)
    status, body = await receiver.post("/api/v1/heartbeat/[bold]x", b"", content_type=None)
    assert status == 404 and body["error"] == "not_found" and "nightly-backup" in body["message"]
    async with receiver.domain.reading() as session:
        assert (await session.get(HealthBaseline, ("nightly-backup", "heartbeat"))).samples == 1
        assert await session.get(HealthBaseline, ("[bold]x", "heartbeat")) is None
