"""Read models of outages, articles, notices and the status page.

Standard library only (see ``pcso_tui.domain.core.views``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


def article_number(article_id: int) -> str:
    return f"KB{article_id:07d}"


@dataclass(frozen=True, slots=True)
class NoticeView:
    id: int
    idempotency_key: str
    kind: str
    state: str
    channel: str
    contact_number: str
    contact_name: str
    account_number: str
    account_name: str
    case_number: str | None
    outage_number: str | None
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """What one batch (or a drain of several) did."""

    claimed: int = 0
    sent: int = 0
    retrying: int = 0
    dead: int = 0
    skipped: int = 0

    def __add__(self, other: DeliveryReport) -> DeliveryReport:
        return DeliveryReport(
            self.claimed + other.claimed,
            self.sent + other.sent,
            self.retrying + other.retrying,
            self.dead + other.dead,
            self.skipped + other.skipped,
        )


@dataclass(frozen=True, slots=True)
class OutageView:
    id: int
    number: str
    type: str
    # planned | active | past, derived from begins_at/ends_at at the time of the query.
    status: str
    title: str
    details: str
    begins_at: datetime
    ends_at: datetime | None
    service: str
    ci_name: str | None
    product_number: str | None
    product_name: str | None
    case_number: str | None
    incident_number: str | None
    created_at: datetime
    # Set by create/update: how many notices the change queued, and how many it recorded as
    # skipped (opted-out contacts).
    notices_queued: int = 0
    notices_skipped: int = 0
    # Optimistic locking: hand back as ``expected_version`` to refuse a stale edit.
    version: int = 0


@dataclass(frozen=True, slots=True)
class ArticleView:
    id: int
    number: str
    title: str
    body: str
    kind: str
    customer_visible: bool
    created_at: datetime
    updated_at: datetime
    # The major cases it is attached to.
    case_numbers: tuple[str, ...] = ()
    # Optimistic locking: hand back as ``expected_version`` to refuse a stale edit.
    version: int = 0
    # The product it is about (None: a general article), and how often customers opened it.
    product_number: str | None = None
    views: int = 0


@dataclass(frozen=True, slots=True)
class PublicArticle:
    """A customer-visible workaround or knowledge article, as customers read it."""

    number: str
    title: str
    body: str


@dataclass(frozen=True, slots=True)
class PublicOutage:
    """One outage as customers see it — on the status page, in the portal, in a notice:
    customer-facing fields only (no CI, case or incident). Built by ``outages.public_outage``."""

    id: int
    number: str
    type: str
    # planned | active | past, by the clock when the query ran.
    status: str
    title: str
    details: str
    service: str
    begins_at: datetime
    ends_at: datetime | None
    eta: datetime | None
    # The latest customer-facing statement on the outage's major case.
    statement: str | None
    statement_at: datetime | None
    articles: tuple[PublicArticle, ...]
    updated_at: datetime
    # The resolution notes of its major case, once that case is resolved (or closed), and when.
    resolution: str | None = None
    resolved_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class StatusPageData:
    title: str
    generated_at: datetime
    outages: tuple[PublicOutage, ...]
    # When an outage next changes status by the clock alone (a planned one begins or ends).
    next_change_at: datetime | None = None

    def with_status(self, status: str) -> tuple[PublicOutage, ...]:
        return tuple(o for o in self.outages if o.status == status)

    def by_service(self, status: str) -> list[tuple[str, tuple[PublicOutage, ...]]]:
        """Outages of one status grouped by product/service, services in name order; past
        outages most recent first (services by their latest outage), since a reader comes to
        the page for what just happened."""
        groups: dict[str, list[PublicOutage]] = {}
        outages = self.with_status(status)
        if status == "past":
            outages = tuple(sorted(outages, key=lambda o: (o.ends_at or o.updated_at, o.number), reverse=True))
        for outage in outages:
            groups.setdefault(outage.service, []).append(outage)
        names = list(groups) if status == "past" else sorted(groups, key=str.casefold)
        return [(name, tuple(groups[name])) for name in names]


@dataclass(frozen=True, slots=True)
class CatalogueEntry:
    """A product or CI in the public service catalogue, and what customers see it as."""

    entry: str  # product | ci
    key: str  # the product's number, the CI's name
    name: str
    kind: str  # the product's family, the CI's kind
    public_name: str | None
    # None (a CI only): decided by its kind.
    customer_facing: bool | None
    shown_as: str


@dataclass(frozen=True, slots=True)
class PublicService:
    """A service of the public catalogue as web banners and phone queues address it."""

    slug: str
    name: str


@dataclass(frozen=True, slots=True)
class ServiceBanner:
    """What a web banner or a phone queue says about one public service: its active outages as
    customers see them (none: nothing to say). Built by ``banners.service_banner``."""

    slug: str
    service: str
    generated_at: datetime
    outages: tuple[PublicOutage, ...] = ()

    @property
    def active(self) -> bool:
        return bool(self.outages)


@dataclass(frozen=True, slots=True)
class TextSpan:
    """A piece of a search result's text; ``highlighted`` where it matched the query. Spans,
    not markup: each channel marks them its own way."""

    text: str
    highlighted: bool = False


@dataclass(frozen=True, slots=True)
class ArticleHit:
    """One article found by ``articles.search_articles``, best first."""

    number: str
    title: str
    kind: str
    # The public name of the product it is about; None: a general article.
    product: str | None
    title_spans: tuple[TextSpan, ...]
    snippet: tuple[TextSpan, ...]


@dataclass(frozen=True, slots=True)
class ArticleSearch:
    # The words searched for, after the query was cleaned (empty: nothing to search for).
    terms: tuple[str, ...]
    hits: tuple[ArticleHit, ...]


@dataclass(frozen=True, slots=True)
class NoticeMessage:
    """One notice and the message its contact gets: ``subject``/``text`` as frozen before the
    first send (None while it has not been rendered yet: it renders on its first attempt)."""

    notice: NoticeView
    subject: str | None
    text: str | None
