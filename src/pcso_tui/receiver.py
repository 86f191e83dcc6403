"""The HTTP alert receiver behind ``pcso serve`` (aiohttp).

Routes (docs/alerts.md has the formats and every error):

    POST /api/v1/alerts/alertmanager   an Alertmanager (or Grafana) webhook message
    POST /api/v1/alerts                generic alerts: one object, a list, or JSON Lines
    POST <path>                        every path an alert format plugin names (docs/plugins.md)
    POST /api/v1/heartbeat/<name>      a [[healthchecks.heartbeat]] source reports in (404: no such check)
    GET  /healthz                      200 while the database answers, else 503 (never needs a token)

A 2xx answer means the alerts are committed. A refused request changes nothing and gets a JSON
body ``{"error": code, "message": one line, "details": [every problem]}``: 400 not JSON, 401 no
or wrong bearer token, 413 body or batch too large, 415 not a JSON content type, 422 JSON that is
not valid alerts, 503 database busy (Alertmanager retries 5xx, never 4xx). Whatever a request
holds, the receiver answers it and keeps serving; it logs one line per request.

It acts as the built-in ``receiver`` actor: no database user, the operator role (the least
role that may ingest alerts), and events name it as ``receiver``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hmac
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

from aiohttp import web
from sqlalchemy import text

from pcso_tui.domain.core.errors import DomainError, InvalidInput, NotFound, PermissionDenied
from pcso_tui.domain.core.roles import Actor, Role
from pcso_tui.domain.core.service import Domain, StorageBusy
from pcso_tui.domain.core.settings import Settings
from pcso_tui.domain.core.text import one_line
from pcso_tui.domain.core.views import to_jsonable
from pcso_tui.domain.operations.alert_formats import (
    JSON_CONTENT_TYPES,
    AlertFormat,
    BatchTooLarge,
    MalformedPayload,
    parse_alerts,
)
from pcso_tui.domain.operations.alerts import ingest, sweep_alerts
from pcso_tui.domain.operations.healthchecks import record_heartbeat

log = logging.getLogger("pcso.receiver")

RECEIVER = Actor(user_id=None, name="receiver", role=Role.OPERATOR)
JSON_TYPES = JSON_CONTENT_TYPES
# Bodies larger than this are parsed off the event loop, so other requests keep being served.
_PARSE_IN_THREAD = 64 * 1024
SWEEP_SECONDS = 60.0


class _Config:
    def __init__(self, domain: Domain, settings: Settings, token: str | None, actor: Actor) -> None:
        self.domain = domain
        self.settings = settings
        self.token = token.encode("utf-8") if token else None
        self.actor = actor


CONFIG = web.AppKey("pcso_receiver", _Config)
# What the log line tells about a request: how many alerts it carried, and what was wrong.
ALERTS = web.RequestKey("pcso_alerts", int)
PROBLEM = web.RequestKey("pcso_problem", str)


def _error(status: int, code: str, message: str, details: list[str] | None = None, /, **headers: str) -> web.Response:
    body = {"error": code, "message": message, "details": details or []}
    return web.json_response(body, status=status, headers=headers or None)


def _domain_error(exc: DomainError) -> web.Response:
    if isinstance(exc, MalformedPayload):
        status = 400
    elif isinstance(exc, BatchTooLarge):
        status = 413
    elif isinstance(exc, InvalidInput):
        status = 422
    elif isinstance(exc, PermissionDenied):
        status = 403
    elif isinstance(exc, NotFound):
        status = 404
    elif isinstance(exc, StorageBusy):
        return _error(503, exc.code, exc.message, exc.details, **{"Retry-After": "5"})
    else:
        status = 409
    return _error(status, exc.code, exc.message, exc.details)


def _unauthorized(config: _Config, request: web.Request) -> web.Response | None:
    if config.token is None:
        return None
    header = request.headers.get("Authorization", "")
    scheme, _, credentials = header.partition(" ")
    challenge = {"WWW-Authenticate": 'Bearer realm="pcso"'}
    if not header:
        return _error(401, "unauthorized", "missing bearer token (Authorization: Bearer …)", **challenge)
    if scheme.lower() != "bearer" or not hmac.compare_digest(credentials.strip().encode("utf-8"), config.token):
        return _error(401, "unauthorized", "wrong bearer token", **challenge)
    return None


def _unsupported_media(request: web.Request, formats: Sequence[AlertFormat]) -> web.Response | None:
    if "Content-Type" not in request.headers:
        return _error(415, "unsupported_media_type", "no Content-Type: send application/json")
    if not any(request.content_type in f.content_types for f in formats):
        accepted_types = frozenset().union(*(f.content_types for f in formats))
        accepted = ", ".join(sorted(accepted_types))
        shown = one_line(request.content_type, 60)
        what = "JSON" if accepted_types <= JSON_TYPES else "accepted here"
        return _error(415, "unsupported_media_type", f"Content-Type {shown} is not {what}; send one of: {accepted}")
    charset = request.charset
    if charset and charset.lower().replace("-", "") != "utf8":
        return _error(415, "unsupported_media_type", f"charset {one_line(charset, 30)} is not supported; send UTF-8")
    return None


async def _receive(request: web.Request, formats: Sequence[AlertFormat]) -> web.Response:
    """Alerts in any of ``formats`` (those a path serves); the content type narrows them down."""
    config = request.app[CONFIG]
    refused = _unauthorized(config, request) or _unsupported_media(request, formats)
    if refused is not None:
        return refused
    limit = config.settings.ingest.max_body_bytes
    too_large = _error(413, "too_large", f"the body is larger than {limit} bytes ([ingest] max_body_bytes)")
    if request.content_length is not None and request.content_length > limit:
        return too_large
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        return too_large
    max_alerts = config.settings.ingest.max_alerts_per_batch
    names = [f.name for f in formats if request.content_type in f.content_types]
    parse = functools.partial(parse_alerts, config.domain.extensions, raw, format=names, max_alerts=max_alerts)
    try:
        batch = await asyncio.to_thread(parse) if len(raw) > _PARSE_IN_THREAD else parse()
        request[ALERTS] = len(batch)
        result = await ingest(config.domain, config.actor, batch)
    except DomainError as exc:
        request[PROBLEM] = exc.message
        return _domain_error(exc)
    return web.json_response({"status": "stored"} | to_jsonable(result))


def alert_routes(formats: Sequence[AlertFormat]) -> dict[str, list[AlertFormat]]:
    """Each receiver path a format names, with the formats it takes (in claiming order)."""
    routes: dict[str, list[AlertFormat]] = {}
    for found in formats:
        for path in found.paths:
            routes.setdefault(path, []).append(found)
    return routes


def _alert_handler(formats: Sequence[AlertFormat]) -> Handler:
    async def receive_alerts(request: web.Request) -> web.Response:
        return await _receive(request, formats)

    return receive_alerts


async def receive_heartbeat(request: web.Request) -> web.Response:
    """A dead-man source reports in: ``POST /api/v1/heartbeat/<name>`` (no body needed)."""
    config = request.app[CONFIG]
    refused = _unauthorized(config, request)
    if refused is not None:
        return refused
    try:
        beat = await record_heartbeat(config.domain, request.match_info["name"], actor=config.actor)
    except DomainError as exc:
        request[PROBLEM] = exc.message
        return _domain_error(exc)
    return web.json_response({"status": "recorded"} | to_jsonable(beat))


async def healthz(request: web.Request) -> web.Response:
    config = request.app[CONFIG]
    try:
        async with config.domain.reading() as session:
            await session.execute(text("SELECT 1"))
    except Exception as exc:  # any failure to reach storage means "not healthy"
        request[PROBLEM] = str(exc)
        return _error(503, "unavailable", "the database does not answer")
    return web.json_response({"status": "ok"})


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

ROUTES_HINT = (
    "alerts go to POST /api/v1/alerts/alertmanager (Alertmanager and Grafana webhooks) or"
    " POST /api/v1/alerts (generic JSON); heartbeats to POST /api/v1/heartbeat/<name>"
)


@web.middleware
async def _log_and_contain(request: web.Request, handler: Handler) -> web.StreamResponse:
    """One log line per request; no request, however bad, takes the receiver down."""
    started = time.perf_counter()
    try:
        response = await handler(request)
    except web.HTTPException as exc:  # routing: 404, 405
        headers = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else {}
        message = exc.reason
        if exc.status == 404:  # usually a webhook pointed at the wrong path: say which are right
            message = f"no such path {one_line(request.path, 100)!r}; {ROUTES_HINT}"
        response = _error(exc.status, exc.reason.lower().replace(" ", "_"), message, **headers)
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("unexpected error on %s %s", request.method, one_line(request.path, 200))
        response = _error(500, "internal", "unexpected error; nothing was stored (see the receiver's log)")
    elapsed_ms = (time.perf_counter() - started) * 1000
    problem = request.get(PROBLEM)
    if problem is None and response.status >= 400 and isinstance(response, web.Response) and response.text:
        # Refusals decided before the domain (401, 413, 415, 404 …): their reason is the body's.
        with contextlib.suppress(ValueError, AttributeError):
            problem = json.loads(response.text).get("message")
    log.info(
        "%s %s %s %d alerts=%s %.1fms%s",
        one_line(request.remote or "-", 60),
        request.method,
        one_line(request.path, 200),
        response.status,
        request.get(ALERTS, "-"),
        elapsed_ms,
        f" problem={one_line(problem, 200)}" if problem else "",
    )
    return response


async def _sweeper(domain: Domain, actor: Actor, every: float) -> None:
    while True:
        await asyncio.sleep(every)
        try:
            result = await sweep_alerts(domain, actor)
            if result.settled or result.maintenance_set or result.maintenance_cleared:
                log.info(
                    "sweep: %d settled, maintenance %d set / %d cleared",
                    result.settled,
                    result.maintenance_set,
                    result.maintenance_cleared,
                )
        except Exception:
            log.exception("sweep failed; retrying in %.0fs", every)


def create_app(
    domain: Domain,
    settings: Settings | None = None,
    *,
    token: str | None = None,
    actor: Actor = RECEIVER,
    sweep_seconds: float | None = SWEEP_SECONDS,
) -> web.Application:
    """The receiver as an aiohttp application (tests run it on an ephemeral loopback port).

    ``sweep_seconds``: how often time-driven alert changes are applied (None: never).
    """
    settings = settings or domain.settings
    app = web.Application(client_max_size=settings.ingest.max_body_bytes, middlewares=[_log_and_contain])
    app[CONFIG] = _Config(domain, settings, token, actor)
    for path, formats in alert_routes(domain.extensions.alert_formats()).items():
        app.router.add_post(path, _alert_handler(formats))
    app.router.add_post("/api/v1/heartbeat/{name}", receive_heartbeat)
    app.router.add_get("/healthz", healthz)

    if sweep_seconds:

        async def sweeping(app: web.Application) -> AsyncIterator[None]:
            task = asyncio.create_task(_sweeper(domain, actor, sweep_seconds))
            yield
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

        app.cleanup_ctx.append(sweeping)
    return app


async def serve(
    domain: Domain,
    *,
    host: str = "127.0.0.1",
    port: int = 9094,
    token: str | None = None,
    settings: Settings | None = None,
    ready: Callable[[list[Any]], None] | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Run the receiver until ``stop`` is set (or the task is cancelled)."""
    app = create_app(domain, settings, token=token)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        if ready is not None:
            ready(runner.addresses)
        await (stop or asyncio.Event()).wait()
    finally:
        await runner.cleanup()
