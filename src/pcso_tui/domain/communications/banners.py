"""Web banners and phone-queue messages: what one public service's customers are told, now.

A customer-facing application embeds a banner for the service it offers, and a contact
centre's phone queue reads a short message to callers; both ask "does an outage affect this
service right now, and what do we say about it?". The answer is built from the public service
catalogue and the status page's own wording (``outages.public_outage``): the outage's public
title, the latest customer-facing statement of its major case and the ETA. Never a CI, case,
incident, alert or account.

Services are addressed by a slug of the name customers know them by (``service_slug``):
"Online Banking" is ``online-banking``. An outage affects a service when the status page names
that service for it; an outage tied to no product, CI or case affects every service.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import aliased

from pcso_tui.domain.communications.outages import (
    OTHER_SERVICES,
    TITLE_MAX,
    incident_etas,
    latest_statements,
    outages_with_status,
    public_outage,
    public_outage_columns,
    row_service,
    service_name,
    with_service,
)
from pcso_tui.domain.communications.views import PublicArticle, PublicService, ServiceBanner
from pcso_tui.domain.core.errors import NotFound
from pcso_tui.domain.core.models import Article, Case, CaseArticle, ConfigurationItem, Outage, Product
from pcso_tui.domain.core.service import Domain
from pcso_tui.domain.core.states import OutageStatus, OutageType
from pcso_tui.domain.core.text import customer_line, normalise_layout

SLUG_MAX = 100
SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
IVR_MAX = 300


def service_slug(name: str) -> str:
    """The address of a service: its public name with accents dropped, lower case, each run of
    anything but a letter or digit one hyphen, no hyphen at either end ("Café Pay!" → "cafe-pay")."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:SLUG_MAX].strip("-")


async def public_services(domain: Domain) -> list[PublicService]:
    """Every service customers know by name, by slug (two entries of one slug are one service)."""
    async with domain.reading() as session:
        products = await session.execute(
            select(Product.name, Product.public_name).where(Product.customer_facing.is_(True))
        )
        names = [public or name for name, public in products]
        cis = await session.execute(
            select(
                ConfigurationItem.name,
                ConfigurationItem.kind,
                ConfigurationItem.public_name,
                ConfigurationItem.customer_facing,
            ).where(or_(ConfigurationItem.customer_facing.is_(None), ConfigurationItem.customer_facing.is_(True)))
        )
        for name, kind, public, facing in cis:
            names.append(service_name(None, name, kind, ci_public_name=public, ci_facing=facing))
    services: dict[str, str] = {}
    for name in sorted(names, key=str.casefold):
        slug = service_slug(name)
        if name != OTHER_SERVICES and slug:
            services.setdefault(slug, name)
    return [PublicService(slug=slug, name=name) for slug, name in sorted(services.items())]


async def service_banner(domain: Domain, slug: str) -> ServiceBanner:
    """The active outages that affect the service ``slug`` names, as customers see them (none:
    nothing to show). ``NotFound`` for a slug no public service has."""
    now = domain.clock()
    if not SLUG.fullmatch(slug or ""):
        raise NotFound(f"no public service {slug[:SLUG_MAX]!r}")
    services = {s.slug: s.name for s in await public_services(domain)}
    if slug not in services:
        raise NotFound(f"no public service {slug!r}")
    async with domain.reading() as session:
        major = func.coalesce(Case.parent_id, Case.id)
        major_case = aliased(Case)
        rows = (
            await session.execute(
                with_service(
                    select(
                        *public_outage_columns(),
                        Outage.case_id,
                        major.label("major_id"),
                        func.coalesce(Outage.incident_id, Case.incident_id, major_case.incident_id).label(
                            "incident_id"
                        ),
                    )
                )
                .outerjoin(Case, Case.id == Outage.case_id)
                .outerjoin(major_case, major_case.id == Case.parent_id)
                .where(outages_with_status(OutageStatus.ACTIVE, now))
                .order_by(Outage.begins_at.desc(), Outage.id.desc())
            )
        ).all()
        rows = [r for r in rows if _untied(r) or service_slug(row_service(r)) == slug]
        majors = {r.major_id for r in rows if r.major_id is not None}
        statements = await latest_statements(session, majors)
        etas = await incident_etas(session, (r.incident_id for r in rows))
        articles: dict[int, list[PublicArticle]] = {}
        if majors:
            for case_id, number, title, body in await session.execute(
                select(CaseArticle.case_id, Article.number, Article.title, Article.body)
                .join(Article, Article.id == CaseArticle.article_id)
                .where(CaseArticle.case_id.in_(majors), Article.customer_visible.is_(True))
                .order_by(Article.number)
            ):
                articles.setdefault(case_id, []).append(PublicArticle(number=number, title=title, body=body))
    outages = tuple(
        public_outage(
            r,
            now,
            title=customer_line(r.title, TITLE_MAX),
            statement=statements.get(r.major_id) if r.major_id is not None else None,
            incident_eta=etas.get(r.incident_id) if r.incident_id is not None else None,
            articles=articles.get(r.major_id, ()) if r.major_id is not None else (),
        )
        for r in rows
    )
    return ServiceBanner(slug=slug, service=services[slug], generated_at=now, outages=outages)


def _untied(row: Any) -> bool:
    return row.product_name is None and row.ci_name is None and row.case_id is None


# --- the phone queue ------------------------------------------------------------------------

# Web and mail addresses: a caller cannot follow them, and a speech engine spells them out.
_ADDRESS = re.compile(
    r"(?:\b[a-z][a-z0-9+.-]*://\S*|\bwww\.\S+|\S+@\S+\.\S+|\b(?:[a-z0-9-]+\.)+(?:[a-z]{2,})(?:/\S*)?\b)",
    re.IGNORECASE,
)
# Markup and symbols a speech engine reads aloud or trips over.
_SYMBOLS = re.compile(r"[*_#<>\[\]{}|\\`~^=\"]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]")

_OPENING = {
    OutageType.PLANNED.value: "Planned maintenance is under way on {service}",
    OutageType.DEGRADATION.value: "{service} is running slower than usual",
    OutageType.UNPLANNED.value: "We are aware of a problem affecting {service}",
}


def speakable(text: str | None) -> str:
    """``text`` as one line a speech engine can read: no addresses, markup symbols or control
    characters, blank space collapsed."""
    line = _CONTROL.sub(" ", normalise_layout(text))
    line = _SYMBOLS.sub(" ", _ADDRESS.sub(" ", line))
    line = re.sub(r"\s+([.,;:!?])", r"\1", " ".join(line.split()))
    return line.strip(" ,;:-")


def _sentence(text: str) -> str:
    text = text.strip()
    return text if not text or text[-1] in ".!?" else text + "."


def _spoken_time(at: datetime, now: datetime) -> str:
    at = at.astimezone(now.tzinfo)
    day = "" if at.date() == now.date() else f" on {at.day} {at:%B}"
    return f"{at:%H:%M} UTC{day}"


def trim_words(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters at a word boundary, ending as a sentence."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut and not text[limit - 1].isspace():
        cut = cut.rsplit(" ", 1)[0]
    return _sentence(cut.rstrip(" ,;:-")) if cut else ""


def ivr_message(banner: ServiceBanner, *, internal_names: tuple[str, ...] = ()) -> str:
    """What a phone queue reads to callers about ``banner``'s service: one or more sentences of
    public wording, at most ``IVR_MAX`` characters, no addresses; "" when nothing is wrong.
    ``internal_names`` (the outages' internal CI names) are never spoken, even where a
    statement quotes one."""
    if not banner.outages:
        return ""
    parts: list[str] = []
    for outage in banner.outages:
        parts.append(_sentence(_OPENING.get(outage.type, _OPENING["unplanned"]).format(service=banner.service)))
        if outage.title and outage.title.casefold() != banner.service.casefold():
            parts.append(_sentence(outage.title))
        if outage.statement:
            parts.append(_sentence(outage.statement))
        if outage.eta is not None:
            parts.append(f"We expect it to be fixed by {_spoken_time(outage.eta, banner.generated_at)}.")
    text = " ".join(parts)
    for name in internal_names:
        if name and name.casefold() != banner.service.casefold():
            text = re.sub(re.escape(name), "the service", text, flags=re.IGNORECASE)
    return trim_words(speakable(text), IVR_MAX)


async def service_ivr(domain: Domain, slug: str) -> str:
    """``ivr_message`` for the service ``slug`` names now ("" while no outage affects it)."""
    banner = await service_banner(domain, slug)
    if not banner.outages:
        return ""
    async with domain.reading() as session:
        names = await session.scalars(
            select(ConfigurationItem.name)
            .join(Outage, Outage.ci_id == ConfigurationItem.id)
            .where(Outage.id.in_([o.id for o in banner.outages]))
        )
        internal = tuple(n for n in names if n and n.casefold() != banner.service.casefold())
    return ivr_message(banner, internal_names=internal)
