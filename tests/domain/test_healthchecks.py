"""Health checks against real HTTP and TCP servers on loopback: a warning before the failure,
critical on the failure, resolved on recovery; heartbeats; baselines that survive restarts."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy import func, insert, select

from pcso_tui import config
from pcso_tui.domain.core.errors import InvalidInput, NotFound, PermissionDenied
from pcso_tui.domain.core.models import Alert, Event, HealthBaseline
from pcso_tui.domain.core.roles import Actor, Role
from pcso_tui.domain.core.service import Domain
from pcso_tui.domain.core.settings import (
    HealthCheckSettings,
    HeartbeatCheckSettings,
    HttpCheckSettings,
    Settings,
    TcpCheckSettings,
)
from pcso_tui.domain.operations.healthchecks import (
    Baseline,
    CheckState,
    HealthCheckRunner,
    ProbeResult,
    assess,
    record_heartbeat,
)

FAST = dict(warmup_samples=5, failures_to_critical=2)


class Target:
    """An HTTP server on loopback we make slow, erroring or hanging at will."""

    def __init__(self) -> None:
        self.delay = 0.0
        self.status = 200
        self.in_flight = 0
        self.most_in_flight = 0
        self.requests = 0
        # Answer 503 from this request on (counted from 1): the target fails at an exact probe,
        # however far behind a loaded machine leaves the test that watches it.
        self.fail_from: int | None = None
        self.port = 0
        self._runner: web.AppRunner | None = None

    async def handle(self, request: web.Request) -> web.Response:
        self.requests += 1
        if self.fail_from is not None and self.requests >= self.fail_from:
            self.status = 503
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
            return web.Response(status=self.status, text="ok")
        finally:
            self.in_flight -= 1

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        self._runner = web.AppRunner(app, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def url(self, path: str = "/health") -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@pytest.fixture
async def target() -> AsyncIterator[Target]:
    server = Target()
    await server.start()
    yield server
    await server.stop()


class Sink:
    """Collects what the runner sends; can be told to fail."""

    def __init__(self) -> None:
        self.batches: list[list[dict[str, Any]]] = []
        self.fail = False

    async def __call__(self, alerts: list[dict[str, Any]]) -> None:
        if self.fail:
            raise ConnectionError("ingest unavailable")
        self.batches.append(alerts)

    @property
    def alerts(self) -> list[dict[str, Any]]:
        return [a for batch in self.batches for a in batch]

    def states(self) -> list[tuple[str, str, str]]:
        return [(a["fingerprint"], a["status"], a["severity"]) for a in self.alerts]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def rows(domain: Domain, model: type) -> int:
    async with domain.reading() as session:
        return await session.scalar(select(func.count()).select_from(model))


# --- HTTP -----------------------------------------------------------------------------------


async def test_http_slowness_warns_before_the_failure_turns_critical_and_recovery_resolves(
    domain: Domain, target: Target
) -> None:
    check = HttpCheckSettings(name="web", url=target.url(), ci="web-1", timeout_seconds=5)
    sink = Sink()
    async with HealthCheckRunner(domain, sink, settings=HealthCheckSettings(http=(check,), **FAST)) as runner:
        for _ in range(5):  # warm-up: it learns what normal is
            assert await runner.run_once() == []
        target.delay = 0.6
        await runner.run_once()
        assert sink.alerts == []  # one slow probe is not yet a warning (anomaly_open_after = 2)
        await runner.run_once()
        assert sink.states() == [("healthcheck:web:http", "firing", "warning")]
        slow = sink.alerts[-1]
        assert slow["summary"].startswith("slow: ")
        assert float(slow["annotations"]["latency_ms"]) >= 600
        target.delay, target.status = 0.0, 500
        await runner.run_once()  # one failure: still a warning, nothing new to send
        assert len(sink.alerts) == 1
        await runner.run_once()  # the second failure in a row: hard failure
        assert sink.states()[-1] == ("healthcheck:web:http", "firing", "critical")
        assert sink.alerts[-1]["summary"] == "status 500, expected 200 (2 failed probes in a row)"
        target.status = 200
        await runner.run_once()
        assert sink.states()[-1] == ("healthcheck:web:http", "resolved", "critical")
        await runner.run_once()
    assert len(sink.alerts) == 3
    first, _, resolved = sink.alerts
    # The generic alert format, one fingerprint per check, starting when the trouble started.
    assert set(first) == {
        "fingerprint",
        "name",
        "status",
        "severity",
        "source",
        "summary",
        "description",
        "labels",
        "annotations",
        "starts_at",
    }
    assert first["labels"] == {"ci": "web-1", "check": "web", "kind": "http", "source": "healthcheck"}
    assert (first["name"], first["source"]) == ("HTTP check web", "healthcheck")
    assert resolved["starts_at"] == first["starts_at"] and "ends_at" in resolved
    assert all(isinstance(v, str) for a in sink.alerts for v in (*a["labels"].values(), *a["annotations"].values()))


async def test_a_timeout_is_a_failure(domain: Domain, target: Target) -> None:
    check = HttpCheckSettings(name="hang", url=target.url(), timeout_seconds=0.2)
    sink = Sink()
    settings = HealthCheckSettings(http=(check,), failures_to_critical=1)
    async with HealthCheckRunner(domain, sink, settings=settings) as runner:
        target.delay = 2.0
        await runner.run_once()
    assert sink.states() == [("healthcheck:hang:http", "firing", "critical")]
    assert sink.alerts[0]["summary"] == "timed out after 0.2 s"


async def test_refused_connections_and_probes_in_flight_are_bounded(domain: Domain, target: Target) -> None:
    target.delay = 0.1
    checks = tuple(HttpCheckSettings(name=f"c{i}", url=target.url(f"/{i}")) for i in range(6))
    dead = HttpCheckSettings(name="dead", url=f"http://127.0.0.1:{free_port()}/")
    sink = Sink()
    settings = HealthCheckSettings(http=(*checks, dead), concurrency=2, failures_to_critical=1)
    async with HealthCheckRunner(domain, sink, settings=settings) as runner:
        await runner.run_once()
    assert target.requests == 6
    assert target.most_in_flight == 2
    assert sink.states() == [("healthcheck:dead:http", "firing", "critical")]
    assert sink.alerts[0]["summary"].startswith("cannot connect")


# --- TCP ------------------------------------------------------------------------------------


async def test_tcp_down_is_critical_and_back_up_resolves(domain: Domain) -> None:
    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    check = TcpCheckSettings(name="db", host="127.0.0.1", port=port, ci="db-1")
    sink = Sink()
    async with HealthCheckRunner(domain, sink, settings=HealthCheckSettings(tcp=(check,), **FAST)) as runner:
        for _ in range(3):
            await runner.run_once()
        assert sink.alerts == []
        server.close()
        await server.wait_closed()
        await runner.run_once()
        await runner.run_once()
        assert sink.states() == [("healthcheck:db:tcp", "firing", "critical")]
        assert sink.alerts[0]["labels"]["ci"] == "db-1"
        server = await asyncio.start_server(accept, "127.0.0.1", port, reuse_address=True)
        await runner.run_once()
    server.close()
    await server.wait_closed()
    assert sink.states()[-1] == ("healthcheck:db:tcp", "resolved", "critical")


# --- heartbeats -----------------------------------------------------------------------------


async def test_heartbeat_silence_fires_and_a_report_resolves(domain: Domain, actors: dict[Role, Actor], clock) -> None:
    settings = HealthCheckSettings(
        heartbeat=(HeartbeatCheckSettings(name="nightly", ci="batch", max_silence_seconds=60),)
    )
    domain.settings = Settings(healthchecks=settings)
    sink = Sink()
    async with HealthCheckRunner(domain, sink) as runner:
        assert await runner.run_once() == []
        clock.advance(seconds=61)
        await runner.run_once()
        assert sink.states() == [("healthcheck:nightly:heartbeat", "firing", "critical")]
        assert sink.alerts[0]["summary"].startswith("silent for 61 s (at most 60 s); no report since")
        assert sink.alerts[0]["starts_at"] == "2026-11-23T09:01:00+00:00"
        beat = await record_heartbeat(domain, "nightly", actor=actors[Role.OPERATOR])
        assert (beat.reports, beat.reported_at) == (1, clock.now)
        await runner.run_once()
        assert sink.states()[-1] == ("healthcheck:nightly:heartbeat", "resolved", "critical")
        clock.advance(seconds=30)
        assert (await record_heartbeat(domain, "nightly")).reports == 2
        clock.advance(seconds=45)
        assert await runner.run_once() == []  # 45 s since the last report: fine
        clock.advance(seconds=20)
        await runner.run_once()
        assert sink.states()[-1] == ("healthcheck:nightly:heartbeat", "firing", "critical")
        assert "last report 2026-11-23 09:01:31 UTC" in sink.alerts[-1]["summary"]
    async with domain.reading() as session:
        row = await session.get(HealthBaseline, ("nightly", "heartbeat"))
    assert (row.samples, row.mean) == (2, 30.0)  # two reports, thirty seconds apart


async def test_heartbeat_refusals_change_nothing(domain: Domain, actors: dict[Role, Actor]) -> None:
    domain.settings = Settings(healthchecks=HealthCheckSettings(heartbeat=(HeartbeatCheckSettings(name="nightly"),)))
    before = (await rows(domain, HealthBaseline), await rows(domain, Event))
    with pytest.raises(NotFound, match=r"no heartbeat check named 'daily' \(\[\[healthchecks.heartbeat\]\]: nightly\)"):
        await record_heartbeat(domain, "daily")
    for role in (Role.AGENT, Role.MANAGER, Role.CUSTOMER):
        with pytest.raises(PermissionDenied, match="may not ingest alerts"):
            await record_heartbeat(domain, "nightly", actor=actors[role])
    assert (await rows(domain, HealthBaseline), await rows(domain, Event)) == before


# --- baselines and restarts -----------------------------------------------------------------


async def test_baselines_persist_across_runner_restarts(domain: Domain, target: Target) -> None:
    check = HttpCheckSettings(name="web", url=target.url())
    settings = HealthCheckSettings(http=(check,), **FAST)
    async with HealthCheckRunner(domain, Sink(), settings=settings) as first:
        for _ in range(5):
            await first.run_once()
    async with domain.reading() as session:
        stored = {r.metric: r.samples for r in (await session.scalars(select(HealthBaseline))).all()}
    assert stored == {"latency_ms": 5, "errors": 5}
    sink = Sink()
    async with HealthCheckRunner(domain, sink, settings=settings) as second:
        assert second.states["web"].latency.samples == 5
        target.delay = 0.6
        await second.run_once()  # no new warm-up: the first slow samples already warn
        await second.run_once()
    assert sink.states() == [("healthcheck:web:http", "firing", "warning")]


async def test_a_restarted_runner_resolves_what_was_firing(domain: Domain, target: Target) -> None:
    async with domain.transaction(Actor(None, "test", Role.ADMIN)) as tx:
        await tx.session.execute(
            insert(Alert).values(
                fingerprint="healthcheck:web:http",
                source="healthcheck",
                name="HTTP check web",
                severity="critical",
                state="open",
                labels={},
                annotations={},
                starts_at=tx.now,
                first_seen_at=tx.now,
                last_seen_at=tx.now,
                last_change_at=tx.now,
            )
        )
    sink = Sink()
    settings = HealthCheckSettings(http=(HttpCheckSettings(name="web", url=target.url()),))
    async with HealthCheckRunner(domain, sink, settings=settings) as runner:
        await runner.run_once()
    assert sink.states() == [("healthcheck:web:http", "resolved", "critical")]


async def test_a_change_the_sink_refused_is_sent_again(domain: Domain) -> None:
    check = TcpCheckSettings(name="gone", host="127.0.0.1", port=free_port())
    sink = Sink()
    sink.fail = True
    settings = HealthCheckSettings(tcp=(check,), failures_to_critical=1)
    async with HealthCheckRunner(domain, sink, settings=settings) as runner:
        assert len(await runner.run_once()) == 1
        assert sink.alerts == []
        sink.fail = False
        await runner.run_once()
        await runner.run_once()
    assert sink.states() == [("healthcheck:gone:tcp", "firing", "critical")]


async def test_run_keeps_checks_on_their_interval_until_stopped(domain: Domain, target: Target) -> None:
    check = HttpCheckSettings(name="web", url=target.url(), interval_seconds=0.01)
    settings = HealthCheckSettings(http=(check,), flush_seconds=0.01, failures_to_critical=1)
    sink = Sink()
    runner = HealthCheckRunner(domain, sink, settings=settings)
    stop = asyncio.Event()
    # Three good probes, then failures. Set in the target, not by a test that polls it: under
    # load it would see the third request late, after warm-up had ended and a slow probe had
    # fired a latency warning of its own.
    target.fail_from = 4
    task = asyncio.create_task(runner.run(stop))
    while not sink.alerts:
        await asyncio.sleep(0.01)
    stop.set()
    await task
    assert target.requests >= 4  # it kept probing on its interval until the failure
    assert sink.states() == [("healthcheck:web:http", "firing", "critical")]
    async with domain.reading() as session:
        # Latency is learnt from the good probes only: exactly the three before the failure.
        assert (await session.get(HealthBaseline, ("web", "latency_ms"))).samples == 3


# --- the detector, without a network --------------------------------------------------------


def test_a_noiseless_baseline_does_not_fire_on_jitter() -> None:
    settings = HealthCheckSettings(warmup_samples=10)
    state = CheckState("web", "http", "")
    for _ in range(10):
        assert assess(settings, state, ProbeResult("web", True, 2.0)).severity is None
    assert state.latency.deviation == 0.0
    # 10 ms against a flat 2 ms: far above in deviations, but inside the 25 ms floor.
    assert assess(settings, state, ProbeResult("web", True, 10.0)).severity is None
    assert assess(settings, state, ProbeResult("web", True, 400.0)).severity is None  # 1 of 2
    assert assess(settings, state, ProbeResult("web", True, 400.0)).severity == "warning"


def test_no_warning_during_warm_up_and_none_for_a_check_that_often_fails() -> None:
    settings = HealthCheckSettings(warmup_samples=10, failures_to_critical=3)
    state = CheckState("flaky", "tcp", "")
    assert assess(settings, state, ProbeResult("flaky", True, 1.0)).severity is None
    assert assess(settings, state, ProbeResult("flaky", True, 900.0)).severity is None  # still learning
    for i in range(30):  # fails one probe in three
        ok = i % 3 != 0
        assess(settings, state, ProbeResult("flaky", ok, 1.0 if ok else None, None if ok else "refused"))
    assert 0.2 < state.errors.mean < 0.5
    verdict = assess(settings, state, ProbeResult("flaky", False, None, "refused"))
    assert verdict.severity is None
    assert verdict.reason == "refused (a single failure where failures are usual)"


def _series(settings: HealthCheckSettings, latencies: list[float]) -> list[str | None]:
    """The verdict of each probe of a latency series, after a warm-up at a noisy 2 ± 1 ms."""
    state = CheckState("web", "http", "")
    for i in range(settings.warmup_samples * 3):
        assess(settings, state, ProbeResult("web", True, 2.0 + (i % 3 - 1)))
    return [assess(settings, state, ProbeResult("web", True, ms)).severity for ms in latencies]


def _openings(verdicts: list[str | None]) -> int:
    return sum(1 for before, now in zip([None, *verdicts], verdicts, strict=False) if now and not before)


def test_a_sustained_slowdown_opens_one_warning_that_holds_while_it_lasts() -> None:
    """2 ms raised to 300 ms and kept there: the warning opens on the second slow probe and
    stays open for as long as the slowness lasts (the slow samples do not teach the baseline
    that slow is normal), then closes after three normal probes."""
    settings = HealthCheckSettings(warmup_samples=10)
    verdicts = _series(settings, [300.0] * 60 + [2.0] * 5)
    assert verdicts[0] is None
    assert verdicts[1:60] == ["warning"] * 59
    assert verdicts[60:] == ["warning", "warning", None, None, None]
    assert _openings(verdicts) == 1


def test_a_stepped_slowdown_warns_once_and_spikes_never_warn() -> None:
    settings = HealthCheckSettings(warmup_samples=10)
    # Stepped: 2 → 150 → 300 → 600 ms, ten probes each: one warning, held through the steps.
    stepped = _series(settings, [150.0] * 10 + [300.0] * 10 + [600.0] * 10)
    assert stepped[0] is None and set(stepped[1:]) == {"warning"}
    assert _openings(stepped) == 1
    # Spiky: one slow probe among normal ones, again and again: never a warning.
    spiky = _series(settings, [400.0 if i % 4 == 0 else 2.0 for i in range(40)])
    assert spiky == [None] * 40
    # A spike inside an open warning does not close and reopen it.
    held = _series(settings, [300.0] * 5 + [2.0] + [300.0] * 5)
    assert held == [None] + ["warning"] * 10
    assert _openings(held) == 1


def test_anomaly_runs_are_configurable() -> None:
    settings = HealthCheckSettings(warmup_samples=10, anomaly_open_after=1, anomaly_close_after=1)
    assert _series(settings, [300.0, 2.0, 300.0]) == ["warning", None, "warning"]
    with pytest.raises(ValueError, match="anomaly_open_after"):
        HealthCheckSettings(anomaly_open_after=0)


async def test_forgetting_a_baseline_accepts_a_lasting_change(domain: Domain, target: Target) -> None:
    check = HttpCheckSettings(name="web", url=target.url())
    settings = HealthCheckSettings(http=(check,), **FAST)
    async with HealthCheckRunner(domain, Sink(), settings=settings) as first:
        for _ in range(5):
            await first.run_once()
    async with HealthCheckRunner(domain, Sink(), settings=settings, forget=("web",)) as second:
        assert second.states["web"].latency.samples == 0  # learning afresh
    async with domain.reading() as session:
        assert await session.scalar(select(func.count()).select_from(HealthBaseline)) == 0
    with pytest.raises(NotFound, match="'nope'"):
        HealthCheckRunner(domain, Sink(), settings=settings, forget=("nope",))


def test_baseline_learns_mean_and_variance() -> None:
    base = Baseline()
    for value in (10.0, 10.0, 10.0, 20.0):
        base.learn(value, 0.5)
    assert (base.samples, base.mean) == (4, 15.0)
    assert base.variance == pytest.approx(25.0)


# --- the config file ------------------------------------------------------------------------


def test_checks_come_from_the_config_file(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(
        "[healthchecks]\nanomaly_k = 5\n"
        '[[healthchecks.http]]\nname = "web"\nurl = "https://example.test/health"\nci = "web-1"\n'
        "interval_seconds = 15\ntimeout_seconds = 3\nexpect_status = 204\n"
        '[[healthchecks.tcp]]\nname = "db"\nhost = "db.example.test"\nport = 5432\nci = "db-1"\n'
        '[[healthchecks.heartbeat]]\nname = "nightly-backup"\nci = "backup"\nmax_silence_seconds = 90000\n'
    )
    checks = config.load(path).settings.healthchecks
    assert checks.anomaly_k == 5
    assert checks.http == (
        HttpCheckSettings(
            name="web",
            url="https://example.test/health",
            ci="web-1",
            interval_seconds=15,
            timeout_seconds=3,
            expect_status=204,
        ),
    )
    assert checks.tcp[0].port == 5432 and checks.heartbeat[0].max_silence_seconds == 90000


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('[[healthchecks.http]]\nname = "web"\n', r"healthchecks.http\[0\]: missing key 'url'"),
        ('[[healthchecks.http]]\nname = "web"\nurl = "ftp://x"\n', "must start with http:// or https://"),
        ('[[healthchecks.tcp]]\nname = "db"\nhost = "x"\nport = 70000\n', "port 70000 is not between"),
        ('[[healthchecks.tcp]]\nname = "db"\nhost = "x"\nport = "5432"\n', r"port = '5432' is not a int"),
        ('[[healthchecks.tcp]]\nname = "a b"\nhost = "x"\nport = 1\n', "check name 'a b'"),
        ('[[healthchecks.heartbeat]]\nname = "x"\n[[healthchecks.heartbeat]]\nname = "x"\n', "used twice: x"),
        ('[[healthchecks.heartbeat]]\nname = "x"\nmax_silence = 5\n', "unknown key 'max_silence'"),
        ('[healthchecks]\nhttp = "web"\n', "must be a list of tables"),
        ("[correlation]\nopen_at_severity = 'fatal'\n", "open_at_severity = 'fatal' is not one of"),
        ("[correlation]\nwindow_minutes = 0\n", "window_minutes = 0 must be at least 1"),
    ],
)
def test_config_mistakes_are_named(tmp_path: Path, toml: str, message: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(toml)
    with pytest.raises(InvalidInput, match=message):
        config.load(path)
