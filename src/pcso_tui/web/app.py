"""The web portal's aiohttp application: routes, sessions, CSRF, rate limits, pages.

    GET  /                      the account's outages when signed in, else the sign-in page
    GET  /sign-in               ask for a link;  POST /sign-in  queue it (same answer for any address)
    GET  /sign-in/TOKEN         the link: a button that signs in; POST /sign-in/link uses it (once)
    POST /sign-out
    GET  /outages, /outages/<id>, /cases, /cases/<id>, /articles, /articles/<number>
    POST /cases/<id>/reply
    GET  /cases/new;  POST /cases/new  (the known-outage offer, then open or attach)

Opening a link only shows a button: mail scanners that fetch links must not use them up.
Every POST carries a CSRF token: the session's (derived from its cookie, which only the
browser holds), or before signing in a double-submit cookie. Anything of another account
answers exactly like something missing: the same 404 page.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import importlib
import logging
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC
from typing import Any

import jinja2
from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from pcso_tui.domain.casework import portal
from pcso_tui.domain.casework.web_access import (
    WEB,
    WebIdentity,
    end_session,
    normalise_address,
    redeem_sign_in_link,
    request_sign_in_link,
    session_identity,
)
from pcso_tui.domain.communications.articles import open_article, search_articles
from pcso_tui.domain.core.errors import DomainError, IllegalTransition, InvalidInput, NotFound
from pcso_tui.domain.core.service import Domain
from pcso_tui.domain.core.settings import WebSettings
from pcso_tui.domain.core.text import customer_line, customer_text

log = logging.getLogger("pcso.web")

SESSION_COOKIE = "pcso_session"
CSRF_COOKIE = "pcso_csrf"
MAX_FORM = 64 * 1024
# A search query longer than this is cut (the search keeps a dozen words of it anyway).
SEARCH_QUERY_MAX = 200

_DOMAIN = web.AppKey("domain", Domain)
_IDENTITY = web.RequestKey("identity", object)
_NEW_CSRF = web.RequestKey("new_csrf", str)


class RateLimiter:
    """At most ``limit`` hits per key within ``window`` seconds (sliding), in this process."""

    def __init__(self, limit: int, window: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self._hits: dict[str, deque[float]] = {}

    def retry_after(self, key: str) -> float:
        """0 when ``key`` may go ahead (and the hit is counted), else seconds to wait."""
        now = self.clock()
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        if len(hits) >= self.limit:
            return hits[0] + self.window - now
        hits.append(now)
        if len(self._hits) > 100_000:  # bounded memory under a flood of distinct keys
            self._hits = {k: v for k, v in self._hits.items() if v and v[-1] > now - self.window}
        return 0.0


@dataclass
class _State:
    settings: WebSettings
    behind_proxy: bool
    link_base: str
    templates: jinja2.Environment
    per_address: RateLimiter
    per_ip: RateLimiter


_STATE = web.AppKey("state", _State)


def _templates() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("pcso_tui.web", "templates"),
        # Every value is escaped; untrusted text is never markup.
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["text"] = customer_text
    env.filters["line"] = lambda value, width=None: customer_line(value, width)
    env.filters["when"] = lambda at: at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if at else ""
    env.filters["iso"] = lambda at: at.astimezone(UTC).isoformat() if at else ""
    env.filters["paragraphs"] = lambda value: [p for p in customer_text(value).split("\n\n") if p.strip()]
    return env


def _state(request: web.Request) -> _State:
    return request.app[_STATE]


def _domain(request: web.Request) -> Domain:
    return request.app[_DOMAIN]


def _is_https(request: web.Request) -> bool:
    if _state(request).behind_proxy:
        forwarded = request.headers.get("X-Forwarded-Proto", "")
        if forwarded:
            return forwarded.split(",")[0].strip().lower() == "https"
    return request.secure


def _client_ip(request: web.Request) -> str:
    if _state(request).behind_proxy:
        forwarded = request.headers.get("X-Forwarded-For", "")
        if forwarded:
            # The proxy appends the address it saw: the last entry is the one it vouches for.
            return forwarded.split(",")[-1].strip()
    return request.remote or "unknown"


def _session_csrf(session_token: str) -> str:
    return hashlib.sha256(b"pcso-csrf\0" + session_token.encode()).hexdigest()


async def _identity(request: web.Request) -> WebIdentity | None:
    if _IDENTITY in request:
        found = request[_IDENTITY]
        return found if isinstance(found, WebIdentity) else None
    raw = request.cookies.get(SESSION_COOKIE, "")
    identity = await session_identity(_domain(request), WEB, raw) if raw else None
    request[_IDENTITY] = identity
    return identity


def _anonymous_csrf(request: web.Request) -> str:
    token = request.cookies.get(CSRF_COOKIE, "")
    if not token or len(token) > 100:
        token = request.get(_NEW_CSRF) or secrets.token_urlsafe(24)
        request[_NEW_CSRF] = token
    return token


async def _csrf_token(request: web.Request) -> str:
    if await _identity(request) is not None:
        return _session_csrf(request.cookies[SESSION_COOKIE])
    return _anonymous_csrf(request)


async def render(request: web.Request, template: str, *, status: int = 200, **values: Any) -> web.Response:
    identity = await _identity(request)
    values.setdefault("section", "")
    body = (
        _state(request)
        .templates.get_template(template)
        .render(identity=identity, csrf=await _csrf_token(request), **values)
    )
    response = web.Response(text=body, status=status, content_type="text/html", charset="utf-8")
    new_csrf = request.get(_NEW_CSRF)
    if new_csrf:
        response.set_cookie(
            CSRF_COOKIE, new_csrf, httponly=True, samesite="Lax", secure=_is_https(request) or None, path="/"
        )
    return response


async def _form(request: web.Request) -> Any:
    """The posted form, its CSRF token checked; a missing or wrong one is refused (403)."""
    if request.content_length is not None and request.content_length > MAX_FORM:
        raise web.HTTPRequestEntityTooLarge(max_size=MAX_FORM, actual_size=request.content_length)
    form = await request.post()
    sent = form.get("csrf")
    if await _identity(request) is not None:
        expected = _session_csrf(request.cookies[SESSION_COOKIE])
    else:
        expected = request.cookies.get(CSRF_COOKIE, "")
    if not isinstance(sent, str) or not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise _CsrfRefused()
    return form


class _CsrfRefused(Exception):
    pass


def _field(form: Any, name: str) -> str:
    value = form.get(name, "")
    return value if isinstance(value, str) else ""


def _not_found() -> NotFound:
    # One body for missing and for another account's records: the page never names the id.
    return NotFound("not found")


@web.middleware
async def _pages(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Errors as pages: domain refusals, CSRF, unknown routes; security headers on everything."""
    try:
        response = await handler(request)
    except _CsrfRefused:
        response = await render(
            request,
            "error.html",
            status=403,
            title="Form expired",
            message="This form has expired or did not come from this site. Go back, reload the page and try again.",
        )
    except NotFound:
        response = await _missing(request)
    except web.HTTPNotFound:
        response = await _missing(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        response = await render(request, "error.html", status=exc.status, title=exc.reason, message=exc.reason)
    except (InvalidInput, IllegalTransition) as exc:
        response = await render(request, "error.html", status=400, title="Not done", message=exc.message)
    except DomainError as exc:
        response = await render(request, "error.html", status=_status(exc), title="Not done", message=exc.message)
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "no-referrer")
    headers.setdefault(
        "Content-Security-Policy",
        "default-src 'none'; style-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    )
    if response.content_type == "text/html":
        headers.setdefault("Cache-Control", "no-store")
    return response


def _status(exc: DomainError) -> int:
    return {4: 403, 7: 409, 10: 503}.get(exc.exit_code, 400)


async def _missing(request: web.Request) -> web.Response:
    return await render(
        request,
        "error.html",
        status=404,
        title="Not found",
        message="There is nothing at this address, or it is not yours to see.",
    )


def _signed_in(
    handler: Callable[[web.Request, WebIdentity], Awaitable[web.StreamResponse]],
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def wrapped(request: web.Request) -> web.StreamResponse:
        identity = await _identity(request)
        if identity is None:
            raise web.HTTPSeeOther("/sign-in")
        return await handler(request, identity)

    return wrapped


def _see_other(location: str) -> web.Response:
    """A redirect that carries cookies (a raised HTTPSeeOther is for redirects without)."""
    return web.Response(status=303, headers={"Location": location})


def _int(request: web.Request, name: str) -> int:
    value = request.match_info[name]
    if not value.isdigit() or len(value) > 12:
        raise _not_found()
    return int(value)


# --- signing in ------------------------------------------------------------------------------


async def index(request: web.Request) -> web.StreamResponse:
    if await _identity(request) is not None:
        raise web.HTTPSeeOther("/outages")
    raise web.HTTPSeeOther("/sign-in")


async def link_page(request: web.Request) -> web.StreamResponse:
    # The link from the message: a path without "=" or "&", short enough for one line of a
    # plain-text mail, so it survives quoted-printable encoding readable.
    return await render(request, "sign_in_link.html", token=request.match_info["token"])


async def sign_in_page(request: web.Request) -> web.StreamResponse:
    if await _identity(request) is not None:
        raise web.HTTPSeeOther("/outages")
    return await render(request, "sign_in.html", address="", error=None)


async def sign_in_request(request: web.Request) -> web.StreamResponse:
    form = await _form(request)
    state = _state(request)
    address = _field(form, "address")
    try:
        wanted = normalise_address(address)
    except InvalidInput as exc:
        return await render(request, "sign_in.html", status=400, address=address, error=exc.message)
    wait = max(
        state.per_ip.retry_after("ip:" + _client_ip(request)),
        state.per_address.retry_after("address:" + wanted),
    )
    if wait > 0:
        response = await render(
            request,
            "error.html",
            status=429,
            title="Too many requests",
            message=f"Too many sign-in requests. Wait {max(1, round(wait / 60))} minutes, then try again.",
        )
        response.headers["Retry-After"] = str(max(1, int(wait)))
        return response
    await request_sign_in_link(_domain(request), WEB, wanted, link_base=state.link_base)
    return await render(request, "sign_in_sent.html", minutes=state.settings.link_minutes)


async def link_use(request: web.Request) -> web.StreamResponse:
    form = await _form(request)
    try:
        started = await redeem_sign_in_link(_domain(request), WEB, _field(form, "token"))
    except InvalidInput as exc:
        return await render(request, "error.html", status=400, title="Link not valid", message=exc.message, again=True)
    response = _see_other("/outages")
    max_age = max(1, int((started.expires_at - _domain(request).clock()).total_seconds()))
    response.set_cookie(
        SESSION_COOKIE,
        started.token,
        max_age=max_age,
        httponly=True,
        samesite="Lax",
        secure=_is_https(request) or None,
        path="/",
    )
    response.del_cookie(CSRF_COOKIE, path="/")
    return response


async def sign_out(request: web.Request) -> web.StreamResponse:
    await _form(request)
    raw = request.cookies.get(SESSION_COOKIE, "")
    if raw:
        await end_session(_domain(request), WEB, raw)
    response = _see_other("/sign-in")
    response.del_cookie(SESSION_COOKIE, path="/")
    return response


# --- the portal ------------------------------------------------------------------------------


@_signed_in
async def outages(request: web.Request, me: WebIdentity) -> web.StreamResponse:
    found = await portal.list_outages(_domain(request), me.actor)
    return await render(request, "outages.html", outages=found, section="outages")


@_signed_in
async def outage(request: web.Request, me: WebIdentity) -> web.StreamResponse:
    try:
        found = await portal.get_outage(_domain(request), me.actor, _int(request, "id"))
    except NotFound:
        raise _not_found() from None
    return await render(request, "outage.html", outage=found, section="outages")


@_signed_in
async def cases(request: web.Request, me: WebIdentity) -> web.StreamResponse:
    found = await portal.list_cases(_domain(request), me.actor)
    return await render(request, "cases.html", cases=found, section="cases")


@_signed_in
async def case(request: web.Request, me: WebIdentity) -> web.StreamResponse:
    try:
        found = await portal.get_case(_domain(request), me.actor, _int(request, "id"))
    except NotFound:
        raise _not_found() from None
    return await render(request, "case.html", detail=found, error=None, reply="", section="cases")


@_signed_in
async def case_reply(request: web.Request, me: WebIdentity) -> web.StreamResponse:
    case_id = _int(request, "id")
    form = await _form(request)
    body = _field(form, "body")
    domain = _domain(request)
    try:
        await portal.reply_to_case(domain, me.actor, case_id, body)
    except NotFound:
        raise _not_found() from None
    except (InvalidInput, IllegalTransition) as exc:
        detail = await portal.get_case(domain, me.actor, case_id)
        return await render(request, "case.html", status=400, detail=detail, error=exc.message, reply=body,
                            section="cases")  # fmt: skip
    raise web.HTTPSeeOther(f"/cases/{case_id}#updates")


@_signed_in
async def new_case_page(request: web.Request, me: WebIdentity) -> web.StreamResponse:
    products = await portal.list_products(_domain(request), me.actor)
    return await render(request, "new_case.html", products=products, values={}, error=None, section="new")


@_signed_in
async def new_case(request: web.Request, me: WebIdentity) -> web.StreamResponse:
    form = await _form(request)
    domain = _domain(request)
    values = {k: _field(form, k) for k in ("subject", "description", "product")}
    decision = _field(form, "decision")
    product = values["product"] or None
    try:
        if not decision:
            # Validate first, so the offer is never shown for a form that cannot be sent.
            if not values["subject"].strip():
                raise InvalidInput("a subject is needed")
            known = await portal.intake_known_outages(domain, me.actor, product_number=product)
            if known:
                return await render(request, "known_outage.html", known=known, values=values, section="new")
            opened = await portal.open_own_case(
                domain, me.actor, subject=values["subject"], description=values["description"], product_number=product
            )
        elif decision == "separate":
            opened = await portal.open_own_case(
                domain, me.actor, subject=values["subject"], description=values["description"], product_number=product
            )
        elif decision.startswith("attach:") and decision[7:].isdigit() and len(decision) < 20:
            opened = await portal.open_own_case(
                domain,
                me.actor,
                subject=values["subject"],
                description=values["description"],
                product_number=product,
                attach_to=int(decision[7:]),
            )
        else:
            raise InvalidInput("choose one of the answers offered")
    except (InvalidInput, NotFound) as exc:
        products = await portal.list_products(domain, me.actor)
        return await render(request, "new_case.html", status=400, products=products, values=values,
                            error=exc.message, section="new")  # fmt: skip
    raise web.HTTPSeeOther(f"/cases/{opened.id}?opened=1")


@_signed_in
async def articles(request: web.Request, me: WebIdentity) -> web.StreamResponse:
    """The account's articles, and a search over every article the contact may read (general
    ones, those about the products the account has, those of its outages)."""
    query = request.query.get("q", "")[:SEARCH_QUERY_MAX]
    results = await search_articles(_domain(request), me.actor, query) if query.strip() else None
    found = await portal.list_articles(_domain(request), me.actor)
    return await render(request, "articles.html", articles=found, query=query, results=results, section="articles")


@_signed_in
async def article(request: web.Request, me: WebIdentity) -> web.StreamResponse:
    number = request.match_info["number"]
    domain = _domain(request)
    try:
        # Counted as a customer's read (the dashboard's self-service use); the same scope as
        # the search, so whatever the search finds opens.
        read = await open_article(domain, me.actor, number)
    except NotFound:
        raise _not_found() from None
    try:
        found: Any = await portal.get_article(domain, me.actor, number)
    except NotFound:
        found = read  # a general or product article: no outage of the account names it
    return await render(request, "article.html", article=found, section="articles")


# --- the application -------------------------------------------------------------------------


def create_web_app(
    domain: Domain, settings: WebSettings | None = None, *, behind_proxy: bool | None = None
) -> web.Application:
    """The portal over ``domain``; ``settings`` default to the domain's ``[web]``."""
    settings = settings or domain.settings.web
    base = settings.public_url.rstrip("/") or f"http://{settings.host}:{settings.port}"
    app = web.Application(middlewares=[_pages], client_max_size=MAX_FORM)
    app[_DOMAIN] = domain
    window = settings.rate_window_minutes * 60
    app[_STATE] = _State(
        settings=settings,
        behind_proxy=settings.behind_proxy if behind_proxy is None else behind_proxy,
        link_base=base + "/sign-in/",
        templates=_templates(),
        per_address=RateLimiter(settings.sign_in_per_address, window),
        per_ip=RateLimiter(settings.sign_in_per_ip, window),
    )
    app.router.add_get("/", index)
    app.router.add_get("/sign-in", sign_in_page)
    app.router.add_post("/sign-in", sign_in_request)
    app.router.add_post("/sign-in/link", link_use)
    app.router.add_get("/sign-in/{token}", link_page)
    app.router.add_post("/sign-out", sign_out)
    app.router.add_get("/outages", outages)
    app.router.add_get("/outages/{id}", outage)
    app.router.add_get("/cases", cases)
    app.router.add_get("/cases/new", new_case_page)
    app.router.add_post("/cases/new", new_case)
    app.router.add_get("/cases/{id}", case)
    app.router.add_post("/cases/{id}/reply", case_reply)
    app.router.add_get("/articles", articles)
    app.router.add_get("/articles/{number}", article)
    app.router.add_static("/static", _static_dir(), append_version=False)
    # public routes: banners, IVR, knowledge search (pcso_tui.web.public, when it is installed)
    try:
        public = importlib.import_module("pcso_tui.web.public")
    except ImportError:
        public = None
    if public is not None:
        public.add_public_routes(app, domain)
    return app


def _static_dir() -> str:
    from importlib.resources import files

    return str(files("pcso_tui.web") / "static")


class _AccessLogger(AbstractAccessLogger):
    """One line per request; a sign-in link's token and any query string stay out of the log."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        path = request.path
        if path.startswith("/sign-in/") and path != "/sign-in/link":
            path = "/sign-in/…"
        self.logger.info('%s "%s %s" %s %.3fs', request.remote, request.method, path, response.status, time)


async def serve(
    domain: Domain,
    settings: WebSettings,
    *,
    behind_proxy: bool,
    ready: Callable[[list[Any]], None] | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Serve the portal on ``settings.host``:``settings.port`` until ``stop`` is set."""
    app = create_web_app(domain, settings, behind_proxy=behind_proxy)
    runner = web.AppRunner(app, access_log=log, access_log_class=_AccessLogger)
    await runner.setup()
    try:
        site = web.TCPSite(runner, settings.host, settings.port)
        await site.start()
        if ready is not None:
            ready(list(runner.addresses))
        await (stop or asyncio.Event()).wait()
    finally:
        await runner.cleanup()
