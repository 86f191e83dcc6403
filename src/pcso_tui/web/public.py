"""The public web endpoints: anyone may read them, any site may embed them (docs/banners.md).

    GET /banner/<service>.json    whether an outage affects the service now, in public wording
    GET /banner/<service>.html    the same as an HTML fragment to embed (empty: nothing to say)
    GET /ivr/<service>.txt        what a phone queue reads to callers (empty: nothing to say)
    GET /knowledge/search?q=…     published general articles, best first, matches as spans

``<service>`` is a slug of a service's public name (``banners.service_slug``); an unknown one
answers 404 with the same shape as a known one. Answers carry CORS for any origin (GET only),
an ETag (``If-None-Match`` answers 304) and ``Cache-Control: public, max-age=30``. The portal's
app factory adds these routes with ``add_public_routes``.
"""

from __future__ import annotations

import hashlib
import html
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from pcso_tui.domain.communications.articles import search_articles
from pcso_tui.domain.communications.banners import SLUG_MAX, service_banner, service_ivr
from pcso_tui.domain.communications.views import ArticleSearch, PublicOutage, ServiceBanner, TextSpan
from pcso_tui.domain.core.errors import NotFound
from pcso_tui.domain.core.service import Domain
from pcso_tui.domain.core.text import customer_line, customer_text

CACHE_CONTROL = "public, max-age=30"
CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET",
    "Access-Control-Allow-Headers": "If-None-Match",
    "Access-Control-Expose-Headers": "ETag",
}
JSON_TYPE = "application/json"
HTML_TYPE = "text/html"
TEXT_TYPE = "text/plain"
SEARCH_RESULTS = 10


def _iso(at: datetime | None) -> str | None:
    return at.astimezone(UTC).isoformat() if at else None


def _etag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def _matches(header: str | None, etag: str) -> bool:
    """Whether an ``If-None-Match`` header names ``etag`` (weak or strong, or ``*``)."""
    if not header:
        return False
    tags = [t.strip() for t in header.split(",")]
    return "*" in tags or any(t.removeprefix("W/") == etag for t in tags)


def _answer(request: web.Request, body: str, content_type: str, status: int = 200) -> web.Response:
    data = body.encode("utf-8")
    etag = _etag(data)
    headers = {**CORS, "Cache-Control": CACHE_CONTROL, "ETag": etag, "X-Content-Type-Options": "nosniff"}
    if status == 200 and _matches(request.headers.get("If-None-Match"), etag):
        return web.Response(status=304, headers=headers)
    return web.Response(status=status, body=data, content_type=content_type, charset="utf-8", headers=headers)


def _outage_json(outage: PublicOutage) -> dict[str, Any]:
    return {
        "number": outage.number,
        "type": outage.type,
        "title": customer_line(outage.title),
        "statement": customer_text(outage.statement) or None,
        "statement_at": _iso(outage.statement_at),
        "since": _iso(outage.begins_at),
        "eta": _iso(outage.eta),
        "updated_at": _iso(outage.updated_at),
        "articles": [{"number": a.number, "title": customer_line(a.title)} for a in outage.articles],
    }


def banner_json(banner: ServiceBanner) -> str:
    return json.dumps(
        {
            "service": banner.slug,
            "name": customer_line(banner.service),
            "active": banner.active,
            "outages": [_outage_json(o) for o in banner.outages],
        },
        ensure_ascii=False,
    )


def banner_html(banner: ServiceBanner) -> str:
    """An HTML fragment, every text escaped; "" while nothing affects the service."""
    if not banner.outages:
        return ""
    e = html.escape
    parts = [f'<div class="pcso-banner" role="status" data-service="{e(banner.slug)}">']
    for outage in banner.outages:
        parts.append('<div class="pcso-banner-outage">')
        parts.append(
            f'<p class="pcso-banner-title"><strong>{e(customer_line(banner.service))}</strong>: '
            f"{e(customer_line(outage.title))}</p>"
        )
        statement = customer_text(outage.statement)
        if statement:
            parts.append(f'<p class="pcso-banner-statement">{e(statement)}</p>')
        if outage.eta is not None:
            at = outage.eta.astimezone(UTC)
            parts.append(
                f'<p class="pcso-banner-eta">Expected fix: <time datetime="{e(at.isoformat())}">'
                f"{at:%Y-%m-%d %H:%M} UTC</time></p>"
            )
        parts.append("</div>")
    parts.append("</div>")
    return "".join(parts)


def _unknown_json(slug: str, message: str) -> str:
    return json.dumps(
        {"service": slug[:SLUG_MAX], "name": None, "active": False, "outages": [], "error": message},
        ensure_ascii=False,
    )


def _spans_json(spans: tuple[TextSpan, ...]) -> list[dict[str, Any]]:
    return [{"text": s.text, "highlighted": s.highlighted} for s in spans]


def search_json(found: ArticleSearch) -> str:
    return json.dumps(
        {
            "terms": list(found.terms),
            "results": [
                {
                    "number": h.number,
                    "title": h.title,
                    "kind": h.kind,
                    "product": h.product,
                    "title_spans": _spans_json(h.title_spans),
                    "snippet": _spans_json(h.snippet),
                }
                for h in found.hits
            ],
        },
        ensure_ascii=False,
    )


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def add_public_routes(app: web.Application, domain: Domain) -> None:
    """Add the public banner, phone-queue and knowledge routes to ``app``, reading ``domain``."""

    async def banner(request: web.Request, render: Callable[[ServiceBanner], str], content_type: str) -> web.Response:
        slug = request.match_info["service"]
        try:
            found = await service_banner(domain, slug)
        except NotFound as exc:
            body = _unknown_json(slug, exc.message) if content_type == JSON_TYPE else ""
            return _answer(request, body, content_type, status=404)
        return _answer(request, render(found), content_type)

    async def banner_as_json(request: web.Request) -> web.Response:
        return await banner(request, banner_json, JSON_TYPE)

    async def banner_as_html(request: web.Request) -> web.Response:
        return await banner(request, banner_html, HTML_TYPE)

    async def ivr(request: web.Request) -> web.Response:
        try:
            message = await service_ivr(domain, request.match_info["service"])
        except NotFound:
            return _answer(request, "", TEXT_TYPE, status=404)
        return _answer(request, message, TEXT_TYPE)

    async def knowledge(request: web.Request) -> web.Response:
        found = await search_articles(domain, None, request.query.get("q", ""), limit=SEARCH_RESULTS)
        return _answer(request, search_json(found), JSON_TYPE)

    async def preflight(request: web.Request) -> web.Response:
        return web.Response(status=204, headers={**CORS, "Access-Control-Max-Age": "86400"})

    routes: list[tuple[str, Handler]] = [
        ("/banner/{service}.json", banner_as_json),
        ("/banner/{service}.html", banner_as_html),
        ("/ivr/{service}.txt", ivr),
        ("/knowledge/search", knowledge),
    ]
    for path, handler in routes:
        app.router.add_get(path, handler)
        app.router.add_route("OPTIONS", path, preflight)
