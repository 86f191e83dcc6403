"""Delivering the notice outbox: the worker, retries, the dead letter, and notice queries.

Commands elsewhere (approval, statements, resolution, planned outages) write one ``notice``
row per contact with a stable ``idempotency_key`` (``statement:<statement>:<contact>``). The
worker drains them:

1. **Claim** a batch with one UPDATE that bumps ``attempts`` and pushes ``next_attempt_at``
   out by the lease (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so workers never share a row).
   A worker that dies leaves its notices to come back when the lease runs out.
2. **Render** each notice from stored data (statement, case, resolution, contact, account,
   the customer-visible articles on the major case) and freeze the result in ``rendered`` in
   the same transaction, before anything is sent: every later attempt — a retry, or a re-send
   after a crash between send and record — sends the same bytes under the same Message-ID /
   Idempotency-Key. Delivery is at-least-once; a second *different* message never goes out.
3. **Send** through the channel plugins (``domain.channels``), each channel keeping its
   connections open across batches and its concurrency bounded.
4. **Record** the outcomes set-based: sent, retry later (exponential backoff with jitter,
   bounded), dead after ``max_attempts`` or a permanent failure (with the reason), skipped
   (opted out, no address). One ``notices.delivered`` event per case per batch carries counts.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import json
import logging
import random
import re
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import CursorResult, and_, bindparam, func, or_, select, update

from pcso_tui.domain.communications.views import (
    DeliveryReport,
    NoticeMessage,
    NoticeView,
    PublicArticle,
    PublicOutage,
)
from pcso_tui.domain.core.channels import (
    DeliveryOutcome,
    NotificationChannel,
    OutboundMessage,
    Outcome,
    canonical_json,
)
from pcso_tui.domain.core.errors import IllegalTransition, InvalidInput, NotFound
from pcso_tui.domain.core.event_kinds import NoticeRetried, NoticesDelivered, NoticesRetried
from pcso_tui.domain.core.events import Transaction
from pcso_tui.domain.core.models import (
    Account,
    Article,
    Case,
    CaseArticle,
    Contact,
    Incident,
    Notice,
    Outage,
    Statement,
)
from pcso_tui.domain.core.roles import Actor, Permission, Role, require, require_account
from pcso_tui.domain.core.service import Domain
from pcso_tui.domain.core.settings import DeliverySettings
from pcso_tui.domain.core.text import customer_line, customer_text, one_line
from pcso_tui.domain.core.views import case_number, outage_number

log = logging.getLogger(__name__)

# The worker acts on its own behalf; its events name it.
WORKER = Actor(user_id=None, name="delivery-worker", role=Role.ADMIN)

_NOTICE = Notice.__table__
# Seconds between two reads of the event log by a running worker on SQLite (see DeliveryWorker.run).
FOLLOW_INTERVAL = 0.2
_FINAL_STATES = ("sent", "dead", "skipped")
_RETRYABLE_STATES = ("dead", "skipped")


# --- retries --------------------------------------------------------------------------------


def backoff_delay(settings: DeliverySettings, attempt: int, rand: float) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1-based); ``rand`` in [0, 1).

    The ceiling doubles per attempt from ``backoff_base`` up to ``backoff_max``; jitter takes
    up to ``jitter`` of it away so that a burst of failures does not come back all at once.
    """
    exponent = min(max(attempt, 1) - 1, 62)
    ceiling = min(settings.backoff_max, settings.backoff_base * (2.0**exponent))
    jitter = min(max(settings.jitter, 0.0), 1.0)
    return ceiling * (1.0 - jitter * min(max(rand, 0.0), 1.0))


# --- channels ---------------------------------------------------------------------------------


def load_channels(domain: Domain) -> dict[str, NotificationChannel]:
    """The channels every registered plugin offers, by name (the last registered wins)."""
    return domain.extensions.channels()


# --- rendering ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RenderSource:
    """Everything one notice is rendered from (all of it customer-facing)."""

    key: str
    kind: str
    created_at: datetime
    contact_name: str
    account_number: str
    account_name: str
    case_number: str | None = None
    major_case_number: str | None = None
    # The case's customer-facing title and summary (its major case's for a child), never its
    # internal short description.
    title: str = ""
    summary: str = ""
    case_state: str | None = None
    statement: str | None = None
    statement_at: datetime | None = None
    eta: datetime | None = None
    resolution_code: str | None = None
    resolution_notes: str | None = None
    articles: tuple[PublicArticle, ...] = ()
    # The outage a notice is about; its statement and articles are the notice's own (above).
    outage: PublicOutage | None = None


# A case nobody has worded yet (one from before customer-facing wording): a neutral title,
# never its internal description.
GENERIC_TITLE = "Service disruption"

_LABELS = {
    "major_case_opened": "Service incident",
    "case_linked": "Your case is linked",
    "case_comment": "Comment on your case",
    "statement": "Update",
    "resolved": "Resolved",
    "closed": "Closed",
    "outage_planned": "Planned maintenance",
    "outage_rescheduled": "Maintenance rescheduled",
}


def _when(at: datetime | None) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if at else ""


def _iso(at: datetime | None) -> str | None:
    return at.astimezone(UTC).isoformat() if at else None


@lru_cache(maxsize=1024)
def _clean(text: str) -> str:
    """Untrusted multi-line text (statements, articles) normalised for customers."""
    return customer_text(text)


@lru_cache(maxsize=1024)
def _block(heading: str | None, paragraph: str) -> tuple[str, str]:
    """One block of a message as (plain text, HTML). Statements and articles repeat across a
    fan-out, so their blocks are built once per batch, not once per contact."""
    parts = [f"<h2>{html.escape(heading)}</h2>"] if heading else []
    for para in paragraph.split("\n\n"):
        parts.append("<p>" + "<br>\n".join(html.escape(line) for line in para.split("\n")) + "</p>")
    text = f"{heading}\n{'-' * min(len(heading), 72)}\n{paragraph}" if heading else paragraph
    return text, "\n".join(parts)


def render(source: RenderSource) -> dict[str, Any]:
    """The message for one notice, in the compact form frozen on the notice: subject, the
    blocks of the body, footer, SMS text and structured data. ``compose`` turns it into the
    plain text, HTML and webhook data a channel gets.

    A pure function of ``source``: the same source renders to the same bytes, always.
    """
    s = source
    label = _LABELS.get(s.kind, "Notice")
    outage = s.outage
    title = customer_line(outage.title if outage else s.title, 200)
    opened_summary = s.summary if s.kind == "major_case_opened" and not outage else ""
    reference = outage.number if outage else (s.case_number or s.major_case_number or "")
    subject = customer_line(f"[{reference}] {label}: {title}" if reference else f"{label}: {title}", 250)

    # (heading or None, paragraph text) in order; the text and HTML bodies are built from it.
    blocks: list[tuple[str | None, str]] = []
    blocks.append((None, f"Hello {customer_line(s.contact_name, 100) or 'there'},"))
    if outage:
        intro = {
            "outage_planned": f"We will carry out planned maintenance on {outage.service}.",
            "outage_rescheduled": f"Planned maintenance on {outage.service} has been rescheduled.",
        }.get(s.kind, f"About {outage.service}:")
        when = f"From: {_when(outage.begins_at)}"
        if outage.ends_at:
            when += f"\nUntil: {_when(outage.ends_at)}"
        blocks.append((None, f"{intro}\n\n{title}\n{when}"))
        if outage.details:
            blocks.append((None, _clean(outage.details)))
    else:
        intro = {
            "major_case_opened": f"We are aware of a problem affecting services you use: {title}. "
            f"We have opened case {s.case_number or s.major_case_number} for {customer_line(s.account_name, 100)} "
            "and will keep you informed.",
            "case_linked": f"Thank you for telling us. We know about this problem: {title}. Your case "
            f"{s.case_number or s.major_case_number} is linked to it and we will keep you informed.",
            "case_comment": f"There is a new comment on case {s.case_number or s.major_case_number}: {title}.",
            "statement": f"There is news about {title}.",
            "resolved": f"The problem is resolved: {title}.",
            "closed": f"Case {s.case_number or s.major_case_number} ({title}) is now closed.",
        }.get(s.kind, title)
        blocks.append((None, intro))
        if opened_summary:
            blocks.append((None, _clean(opened_summary)))
        if s.statement:
            blocks.append(("Statement", _clean(s.statement)))
        if s.eta and s.kind not in ("resolved", "closed"):
            blocks.append((None, f"Expected resolution: {_when(s.eta)}"))
        if s.kind in ("resolved", "closed") and s.resolution_notes:
            blocks.append(("Resolution", _clean(s.resolution_notes)))
    for article in s.articles:
        blocks.append((f"Workaround {article.number}: {customer_line(article.title, 200)}", _clean(article.body)))
    account = f"{customer_line(s.account_name, 100)} ({customer_line(s.account_number, 40)})"
    footer = f"You receive this as a contact for {account}."
    if s.case_number:
        footer += f" Your case: {s.case_number}."

    lead = _clean(s.statement or (outage.details if outage else "") or opened_summary or "")
    sms = customer_line(f"{subject}. {lead}".strip(), 480) if lead else subject

    data: dict[str, Any] = {
        "id": s.key,
        "kind": s.kind,
        "created_at": _iso(s.created_at),
        "contact": {"name": s.contact_name},
        "account": {"number": s.account_number, "name": s.account_name},
        "case": (
            {
                "number": s.case_number,
                "major_case": s.major_case_number,
                "title": title,
                "summary": _clean(s.summary) or None,
                "state": s.case_state,
            }
            if s.case_number or s.major_case_number
            else None
        ),
        "statement": {"body": _clean(s.statement), "at": _iso(s.statement_at)} if s.statement else None,
        "eta": _iso(s.eta),
        "resolution": (
            {"code": s.resolution_code, "notes": _clean(s.resolution_notes or "") or None}
            if s.kind in ("resolved", "closed") and (s.resolution_code or s.resolution_notes)
            else None
        ),
        "articles": [{"number": a.number, "title": customer_line(a.title), "body": _clean(a.body)} for a in s.articles],
        "outage": (
            {
                "number": outage.number,
                "type": outage.type,
                "title": customer_line(outage.title),
                "details": _clean(outage.details),
                "service": customer_line(outage.service),
                "begins_at": _iso(outage.begins_at),
                "ends_at": _iso(outage.ends_at),
            }
            if outage
            else None
        ),
    }
    return {"subject": subject, "blocks": blocks, "footer": footer, "sms": sms, "data": data}


def compose(rendered: dict[str, Any]) -> dict[str, Any]:
    """The full message from its frozen compact form: subject, text, HTML, SMS and data (the
    webhook body, which carries the subject and text too). Pure: same input, same bytes."""
    subject, footer = rendered["subject"], rendered["footer"]
    built = [_block(heading, paragraph) for heading, paragraph in rendered["blocks"]]
    text = "\n\n".join(part for part, _ in built) + "\n\n-- \n" + footer + "\n"
    body_html = (
        '<!DOCTYPE html>\n<html lang="en">\n<head><meta charset="utf-8">'
        f"<title>{html.escape(subject)}</title></head>\n<body>\n"
        + "\n".join(part for _, part in built)
        + f"\n<hr>\n<p><small>{html.escape(footer)}</small></p>\n</body>\n</html>\n"
    )
    data = dict(rendered["data"], subject=subject, text=text)
    return {"subject": subject, "text": text, "html": body_html, "sms": rendered["sms"], "data": data}


# --- the worker ----------------------------------------------------------------------------


@dataclass(slots=True)
class _Claimed:
    id: int
    key: str
    kind: str
    channel: str
    attempts: int
    created_at: datetime
    rendered: str | None
    case_id: int | None
    statement_id: int | None
    outage_id: int | None
    contact_name: str
    email: str | None
    phone: str | None
    webhook_url: str | None
    opted_out: bool
    account_number: str
    account_name: str
    is_external: bool
    case_kind: str | None
    case_parent_id: int | None
    contact_id: int

    @property
    def subject(self) -> tuple[str, int | None]:
        """Where the batch event for this notice goes: its major case, else its outage."""
        if self.case_id is not None:
            if self.case_kind == "child" and self.case_parent_id is not None:
                return ("case", self.case_parent_id)
            return ("case", self.case_id)
        if self.outage_id is not None:
            return ("outage", self.outage_id)
        return ("notice", None)


def _claim_statement(settings: DeliverySettings, now: datetime) -> Any:
    due = (
        select(Notice.id)
        .where(Notice.state == "pending", Notice.next_attempt_at <= now)
        .order_by(Notice.next_attempt_at, Notice.id)
        .limit(settings.batch_size)
        .with_for_update(skip_locked=True)
    )
    return (
        update(_NOTICE)
        .where(_NOTICE.c.id.in_(due))
        .values(
            attempts=_NOTICE.c.attempts + 1,
            next_attempt_at=now + timedelta(seconds=settings.lease_seconds),
            version=_NOTICE.c.version + 1,
        )
        .returning(_NOTICE.c.id)
    )


async def _load_claimed(tx: Transaction, ids: Sequence[int]) -> list[_Claimed]:
    rows = await tx.session.execute(
        select(
            Notice.id,
            Notice.idempotency_key,
            Notice.kind,
            Notice.channel,
            Notice.attempts,
            Notice.created_at,
            Notice.rendered,
            Notice.case_id,
            Notice.statement_id,
            Notice.outage_id,
            Contact.name,
            Contact.email,
            Contact.phone,
            Contact.webhook_url,
            Contact.opted_out,
            Account.number,
            Account.name,
            Account.is_external,
            Case.kind,
            Case.parent_id,
            Notice.contact_id,
        )
        .join(Contact, Contact.id == Notice.contact_id)
        .join(Account, Account.id == Notice.account_id)
        .outerjoin(Case, Case.id == Notice.case_id)
        .where(Notice.id.in_(ids))
        .order_by(Notice.id)
    )
    # mypy cannot spread a Row of more than ten columns (a tuple with a variadic tail) over
    # parameters: python/mypy#20472.
    return [_Claimed(*row) for row in rows]  # type: ignore[call-arg]


async def _render_sources(tx: Transaction, notices: Sequence[_Claimed]) -> dict[int, RenderSource]:
    """Load, in a handful of set-based queries, what the given notices are rendered from."""
    session = tx.session
    case_columns = (
        Case.id,
        Case.kind,
        Case.parent_id,
        Case.public_title,
        Case.public_summary,
        Case.state,
        Case.incident_id,
        Case.resolution_code,
        Case.resolution_notes,
    )
    wanted = {n.case_id for n in notices if n.case_id is not None}
    cases: dict[int, Any] = {}
    # The notices' cases, then the major cases of those that are children.
    for _ in range(2):
        if wanted:
            rows = await session.execute(select(*case_columns).where(Case.id.in_(wanted)))
            cases.update({row.id: row for row in rows})
        wanted = {r.parent_id for r in cases.values() if r.kind == "child" and r.parent_id is not None} - cases.keys()
    major_of = {
        cid: (row.parent_id if row.kind == "child" and row.parent_id in cases else cid) for cid, row in cases.items()
    }

    statement_ids = {n.statement_id for n in notices if n.statement_id is not None}
    statements: dict[int, Any] = {}
    if statement_ids:
        found = await session.execute(
            select(Statement.id, Statement.body, Statement.created_at).where(Statement.id.in_(statement_ids))
        )
        statements = {row.id: row for row in found}
    majors = set(major_of.values())
    articles: dict[int, list[PublicArticle]] = defaultdict(list)
    if majors:
        for row in await session.execute(
            select(CaseArticle.case_id, Article.number, Article.title, Article.body)
            .join(Article, Article.id == CaseArticle.article_id)
            .where(CaseArticle.case_id.in_(majors), Article.customer_visible.is_(True))
            .order_by(CaseArticle.case_id, Article.number)
        ):
            articles[row.case_id].append(PublicArticle(number=row.number, title=row.title, body=row.body))
    incident_ids = {row.incident_id for row in cases.values() if row.incident_id is not None}
    etas: dict[int, datetime | None] = {}
    if incident_ids:
        eta_rows = await session.execute(select(Incident.id, Incident.eta).where(Incident.id.in_(incident_ids)))
        etas = {incident_id: eta for incident_id, eta in eta_rows}
    outage_ids = {n.outage_id for n in notices if n.outage_id is not None}
    outages: dict[int, PublicOutage] = {}
    if outage_ids:
        from pcso_tui.domain.communications.outages import public_outage, public_outage_columns, with_service

        for row in await session.execute(
            with_service(select(*public_outage_columns())).where(Outage.id.in_(outage_ids))
        ):
            outages[row.id] = public_outage(row, tx.now, title=row.title)

    sources: dict[int, RenderSource] = {}
    for n in notices:
        case = cases.get(n.case_id) if n.case_id is not None else None
        major = cases.get(major_of.get(n.case_id, -1)) if n.case_id is not None else None
        statement = statements.get(n.statement_id) if n.statement_id is not None else None
        incident_id = (case.incident_id if case else None) or (major.incident_id if major else None)
        sources[n.id] = RenderSource(
            key=n.key,
            kind=n.kind,
            created_at=n.created_at,
            contact_name=n.contact_name,
            account_number=n.account_number,
            account_name=n.account_name,
            case_number=case_number(case.id) if case else None,
            major_case_number=case_number(major.id) if major else None,
            title=(case.public_title if case else None) or (major.public_title if major else None) or GENERIC_TITLE,
            summary=(case.public_summary if case else None) or (major.public_summary if major else None) or "",
            case_state=case.state if case else None,
            statement=statement.body if statement else None,
            statement_at=statement.created_at if statement else None,
            eta=etas.get(incident_id) if incident_id else None,
            resolution_code=(case.resolution_code if case else None) or (major.resolution_code if major else None),
            resolution_notes=(case.resolution_notes if case else None) or (major.resolution_notes if major else None),
            articles=tuple(articles.get(major.id, ())) if major else (),
            outage=outages.get(n.outage_id) if n.outage_id is not None else None,
        )
    return sources


def _message(n: _Claimed, frozen: dict[str, Any]) -> OutboundMessage:
    rendered = compose(frozen)
    return OutboundMessage(
        notice_id=n.id,
        idempotency_key=n.key,
        kind=n.kind,
        channel=n.channel,
        attempt=n.attempts,
        created_at=n.created_at,
        contact_name=n.contact_name,
        email=n.email or None,
        phone=n.phone or None,
        webhook_url=n.webhook_url or None,
        subject=rendered["subject"],
        text=rendered["text"],
        html=rendered["html"],
        sms=rendered["sms"],
        data=rendered["data"],
        case_id=n.case_id,
        contact_id=n.contact_id,
    )


@dataclass(frozen=True, slots=True)
class Chore:
    """Periodic work the worker runs between batches (areas above this one hand it in, such as
    closing resolved cases): ``run`` at most once every ``every_seconds``."""

    name: str
    every_seconds: float
    run: Callable[[], Awaitable[object]]


class DeliveryWorker:
    """Drains the outbox. ``run_once`` does one batch; ``run`` loops until told to stop.

    Channels come from the plugin hook unless given. Open it with ``start`` (or ``async with``).
    """

    def __init__(
        self,
        domain: Domain,
        *,
        channels: Iterable[NotificationChannel] | None = None,
        rng: random.Random | None = None,
        chores: Iterable[Chore] = (),
    ) -> None:
        self.domain = domain
        self.chores = list(chores)
        self._chores_due: dict[str, float] = {}
        self.settings = domain.settings.delivery
        self._given = list(channels) if channels is not None else None
        self.channels: dict[str, NotificationChannel] = {}
        self.rng = rng or random.Random()
        self._wake = asyncio.Event()
        self._status_dirty = True
        self._next_status_change: datetime | None = None
        self.status_pages_published = 0

    async def __aenter__(self) -> DeliveryWorker:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(self) -> None:
        if self._given is not None:
            self.channels = {c.name: c for c in reversed(self._given)}
        else:
            self.channels = load_channels(self.domain)
        for channel in self.channels.values():
            await channel.open()

    async def close(self) -> None:
        for channel in self.channels.values():
            try:
                await channel.close()
            except Exception:
                log.exception("closing channel %s failed", channel.name)

    # one batch -------------------------------------------------------------------------------

    async def run_once(self) -> DeliveryReport:
        """Claim, render, send and record one batch; returns what happened."""
        settings = self.settings
        async with self.domain.transaction(WORKER) as tx:
            ids = list((await tx.session.execute(_claim_statement(settings, tx.now))).scalars())
            if not ids:
                return DeliveryReport()
            claimed = await _load_claimed(tx, ids)
            outcomes: dict[int, DeliveryOutcome] = {}
            to_send: list[_Claimed] = []
            for n in claimed:
                if n.opted_out:
                    outcomes[n.id] = DeliveryOutcome(n.id, Outcome.SKIPPED, "the contact opted out of notices")
                elif not n.is_external:
                    outcomes[n.id] = DeliveryOutcome(n.id, Outcome.SKIPPED, "internal accounts get no customer notices")
                else:
                    to_send.append(n)
            fresh = [n for n in to_send if n.rendered is None]
            rendered: dict[int, dict[str, Any]] = {}
            if fresh:
                sources = await _render_sources(tx, fresh)
                frozen = []
                for n in fresh:
                    rendered[n.id] = render(sources[n.id])
                    n.rendered = canonical_json(rendered[n.id]).decode("utf-8")
                    frozen.append({"b_id": n.id, "b_rendered": n.rendered})
                await tx.session.execute(
                    update(_NOTICE)
                    .where(_NOTICE.c.id == bindparam("b_id"), _NOTICE.c.rendered.is_(None))
                    .values(rendered=bindparam("b_rendered")),
                    frozen,
                )
        # The claim (and the frozen messages) are committed: from here on a crash means a
        # re-send of exactly these messages after the lease, never a different one.
        messages: dict[str, list[OutboundMessage]] = defaultdict(list)
        for n in to_send:
            assert n.rendered is not None
            messages[n.channel].append(_message(n, rendered.get(n.id) or json.loads(n.rendered)))
        results = await asyncio.gather(*(self._send(name, batch) for name, batch in messages.items()))
        for batch_outcomes in results:
            for outcome in batch_outcomes:
                outcomes[outcome.notice_id] = outcome
        report = await self._record(claimed, outcomes)
        log.info(
            "batch of %d: sent %d, retrying %d, dead %d, skipped %d",
            report.claimed,
            report.sent,
            report.retrying,
            report.dead,
            report.skipped,
        )
        return report

    async def _send(self, name: str, batch: list[OutboundMessage]) -> list[DeliveryOutcome]:
        channel = self.channels.get(name)
        if channel is None:
            reason = f"no notification channel named {name!r} is installed"
            return [DeliveryOutcome.failed(m, reason) for m in batch]
        try:
            returned = await channel.send_batch(batch)
        except Exception as exc:  # a broken plugin must not lose the batch: retry it later
            log.exception("channel %s failed a batch of %d", name, len(batch))
            return [DeliveryOutcome.retry(m, f"{name} channel error: {one_line(str(exc), 300)}") for m in batch]
        by_id = {o.notice_id: o for o in returned}
        return [by_id.get(m.notice_id) or DeliveryOutcome.retry(m, f"{name} channel gave no outcome") for m in batch]

    async def _record(self, claimed: list[_Claimed], outcomes: dict[int, DeliveryOutcome]) -> DeliveryReport:
        settings = self.settings
        counts: dict[tuple[str, int | None], Counter[str]] = defaultdict(Counter)
        sent: list[int] = []
        skipped: list[dict[str, Any]] = []
        retries: list[dict[str, Any]] = []
        dead: list[dict[str, Any]] = []
        now = self.domain.clock()
        for n in claimed:
            outcome = outcomes.get(n.id) or DeliveryOutcome(n.id, Outcome.RETRY, "no outcome")
            reason = one_line(outcome.reason or "", 1000) or None
            if outcome.outcome is Outcome.SENT:
                sent.append(n.id)
                state = "sent"
            elif outcome.outcome is Outcome.SKIPPED:
                skipped.append({"b_id": n.id, "b_error": reason})
                state = "skipped"
            elif outcome.outcome is Outcome.FAILED:
                dead.append({"b_id": n.id, "b_attempts": n.attempts, "b_error": reason})
                state = "dead"
            elif n.attempts >= settings.max_attempts:
                gave_up = f"gave up after {n.attempts} attempts: {reason}"
                dead.append({"b_id": n.id, "b_attempts": n.attempts, "b_error": gave_up})
                state = "dead"
            else:
                delay = backoff_delay(settings, n.attempts, self.rng.random())
                if outcome.retry_after:
                    delay = max(delay, min(outcome.retry_after, settings.backoff_max))
                retries.append(
                    {
                        "b_id": n.id,
                        "b_attempts": n.attempts,
                        "b_error": reason,
                        "b_at": now + timedelta(seconds=delay),
                    }
                )
                state = "retrying"
            counts[n.subject][state] += 1
            counts[n.subject][f"channel:{n.channel}"] += 1

        pending = _NOTICE.c.state == "pending"
        # A stale worker (its lease ran out and another claimed the notice) must not undo the
        # newer attempt's schedule: retries and dead letters match the attempt they belong to.
        same_attempt = and_(pending, _NOTICE.c.id == bindparam("b_id"), _NOTICE.c.attempts == bindparam("b_attempts"))
        async with self.domain.transaction(WORKER) as tx:
            if sent:
                await tx.session.execute(
                    update(_NOTICE)
                    .where(_NOTICE.c.id.in_(sent), pending)
                    .values(state="sent", sent_at=tx.now, last_error=None, version=_NOTICE.c.version + 1)
                )
            if skipped:
                await tx.session.execute(
                    update(_NOTICE)
                    .where(_NOTICE.c.id == bindparam("b_id"), pending)
                    .values(state="skipped", last_error=bindparam("b_error"), version=_NOTICE.c.version + 1),
                    skipped,
                )
            if retries:
                await tx.session.execute(
                    update(_NOTICE)
                    .where(same_attempt)
                    .values(
                        next_attempt_at=bindparam("b_at", type_=Notice.next_attempt_at.type),
                        last_error=bindparam("b_error"),
                        version=_NOTICE.c.version + 1,
                    ),
                    retries,
                )
            if dead:
                await tx.session.execute(
                    update(_NOTICE)
                    .where(same_attempt)
                    .values(state="dead", last_error=bindparam("b_error"), version=_NOTICE.c.version + 1),
                    dead,
                )
            for (subject_type, subject_id), c in sorted(counts.items(), key=lambda kv: (kv[0][0], kv[0][1] or 0)):
                delivered = NoticesDelivered(
                    sent=c["sent"],
                    retrying=c["retrying"],
                    dead=c["dead"],
                    skipped=c["skipped"],
                    channels={k.split(":", 1)[1]: v for k, v in sorted(c.items()) if k.startswith("channel:")},
                )
                tx.record(subject_id, delivered, subject_type=subject_type)
        return DeliveryReport(
            claimed=len(claimed), sent=len(sent), retrying=len(retries), dead=len(dead), skipped=len(skipped)
        )

    async def drain(self, stop: asyncio.Event | None = None) -> DeliveryReport:
        """Batches until nothing is due (or ``stop`` is set between two batches)."""
        total = DeliveryReport()
        while stop is None or not stop.is_set():
            report = await self.run_once()
            total += report
            if report.claimed == 0:
                break
        return total

    # periodic chores ---------------------------------------------------------------------------

    async def run_chores(self, *, all_of_them: bool = False) -> int:
        """Run the chores that are due (every one with ``all_of_them``); a failing chore is
        logged and tried again at its next turn. Returns how many ran."""
        now = asyncio.get_running_loop().time()
        ran = 0
        for chore in self.chores:
            if not all_of_them and self._chores_due.get(chore.name, 0.0) > now:
                continue
            self._chores_due[chore.name] = now + chore.every_seconds
            try:
                await chore.run()
            except Exception:
                log.exception("chore %s failed; trying again in %.0f s", chore.name, chore.every_seconds)
            ran += 1
        return ran

    # the status page -------------------------------------------------------------------------

    async def publish_status_page(self) -> bool:
        """Regenerate the status page through its publishers; False when there is none."""
        from pcso_tui.domain.communications.outages import status_page_data

        extensions = self.domain.extensions
        if not extensions.status_page_publishers():
            return False
        data = await status_page_data(self.domain)
        self._next_status_change = data.next_change_at
        await extensions.publish_status_page(data)
        self._status_dirty = False
        self.status_pages_published += 1
        return True

    def _on_events(self, events: Sequence[Any]) -> None:
        self._wake.set()
        if any(affects_status_page(e.kind) for e in events):
            self._status_dirty = True

    async def run(self, stop: asyncio.Event) -> DeliveryReport:
        """Deliver until ``stop`` is set; the batch in flight is always finished and recorded.

        Follows the event log: new events wake it at once, and statement, outage, article or
        resolution events regenerate the status page.
        """
        from pcso_tui.domain.core.feed import EventFollower

        # The follower, not poll_interval, decides how soon a fan-out's first notice leaves after
        # its commit: on SQLite it reads the event log this often (an indexed read that usually
        # finds nothing); PostgreSQL's LISTEN wakes it at the commit.
        follower = EventFollower(self.domain.db, interval=min(self.settings.poll_interval, FOLLOW_INTERVAL))
        await follower.start()
        follower.subscribe(self._on_events)
        follow = asyncio.create_task(follower.run(), name="delivery-event-follower")
        total = DeliveryReport()
        try:
            while not stop.is_set():
                self._wake.clear()
                try:
                    total += await self.drain(stop)
                except Exception:  # the database went away or stayed busy: keep going
                    log.exception("delivery round failed; trying again in %.1f s", self.settings.poll_interval)
                if self.chores and not stop.is_set():
                    await self.run_chores()
                due = self._next_status_change is not None and self.domain.clock() >= self._next_status_change
                if (self._status_dirty or due) and not stop.is_set():
                    try:
                        await self.publish_status_page()
                    except Exception:
                        log.exception("publishing the status page failed")
                        self._status_dirty = False
                if stop.is_set():
                    break
                waiters = [asyncio.ensure_future(self._wake.wait()), asyncio.ensure_future(stop.wait())]
                try:
                    timeout = self.settings.poll_interval
                    await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    for waiter in waiters:
                        waiter.cancel()
        finally:
            follow.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await follow
        return total


_STATUS_WORDS = frozenset({"statement", "resolved", "closed", "reopened", "eta", "article", "outage", "outages"})


def affects_status_page(kind: str) -> bool:
    """Events after which the status page is regenerated: statements, outages, articles,
    ETAs and resolutions (``statement.posted``, ``outage.created``, ``case.resolved``,
    ``incident.eta_set`` …)."""
    head, _, tail = kind.partition(".")
    if head in ("statement", "outage", "outages", "article"):
        return True
    return not _STATUS_WORDS.isdisjoint(re.split(r"[._-]", tail))


# --- commands and queries -------------------------------------------------------------------


def _case_scope(case_id: int) -> Any:
    """Notices of a case, and of its children when it is a major case."""
    children = select(Case.id).where(Case.parent_id == case_id)
    return or_(Notice.case_id == case_id, Notice.case_id.in_(children))


def _require_own_case(actor: Actor, case: Any) -> None:
    """A customer's view of another account's case (or of a major case) answers like a
    missing case: a case number must not tell a customer whether it exists."""
    if actor.role is Role.CUSTOMER and (case.account_id is None or case.account_id != actor.account_id):
        raise NotFound(f"no case {case_number(case.id)}")


async def _require_case(session: Any, case_id: int) -> Any:
    row = (await session.execute(select(Case.id, Case.account_id).where(Case.id == case_id))).first()
    if row is None:
        raise NotFound(f"no case {case_number(case_id)}")
    return row


def _require_reader(actor: Actor) -> None:
    require(actor, Permission.VIEW_OWN_ACCOUNT if actor.role is Role.CUSTOMER else Permission.VIEW_CASES)


async def retry_notice(domain: Domain, actor: Actor, notice_id: int) -> NoticeView:
    """Put a dead (or skipped) notice back in the queue, due now, with its attempts reset.

    The message it carries stays the one first rendered: the retry is the same notice.
    """
    require(actor, Permission.MANAGE_NOTICES)
    async with domain.transaction(actor) as tx:
        row = (
            await tx.session.execute(
                select(Notice.state, Notice.last_error, Notice.case_id).where(Notice.id == notice_id)
            )
        ).first()
        if row is None:
            raise NotFound(f"no notice {notice_id}")
        if row.state not in _RETRYABLE_STATES:
            raise IllegalTransition(f"notice {notice_id} is {row.state}; only dead or skipped notices can be retried")
        await tx.session.execute(
            update(_NOTICE)
            .where(_NOTICE.c.id == notice_id)
            .values(state="pending", attempts=0, next_attempt_at=tx.now, last_error=None, version=_NOTICE.c.version + 1)
        )
        tx.record(notice_id, NoticeRetried(was=row.state, error=row.last_error, case_id=row.case_id))
    return (await _notice_views(domain, [Notice.id == notice_id], limit=1, offset=0))[0]


async def retry_dead_notices(domain: Domain, actor: Actor, case_id: int | None = None) -> int:
    """Re-queue every dead notice (of one case and its children, if given); returns how many."""
    require(actor, Permission.MANAGE_NOTICES)
    async with domain.transaction(actor) as tx:
        if case_id is not None:
            await _require_case(tx.session, case_id)
        where = [_NOTICE.c.state == "dead"]
        if case_id is not None:
            where.append(_case_scope(case_id))
        result = await tx.session.execute(
            update(_NOTICE)
            .where(*where)
            .values(state="pending", attempts=0, next_attempt_at=tx.now, last_error=None, version=_NOTICE.c.version + 1)
        )
        count = cast("CursorResult[Any]", result).rowcount or 0  # an UPDATE's result: its stubs say Result
        if count:
            tx.record(case_id, NoticesRetried(count=count), subject_type="case" if case_id is not None else "notice")
        return count


async def _notice_views(domain: Domain, where: list[Any], *, limit: int, offset: int) -> list[NoticeView]:
    async with domain.reading() as session:
        rows = await session.execute(
            select(
                Notice.id,
                Notice.idempotency_key,
                Notice.kind,
                Notice.state,
                Notice.channel,
                Contact.number,
                Contact.name,
                Account.number,
                Account.name,
                Notice.case_id,
                Notice.outage_id,
                Notice.attempts,
                Notice.next_attempt_at,
                Notice.last_error,
                Notice.created_at,
                Notice.sent_at,
            )
            .join(Contact, Contact.id == Notice.contact_id)
            .join(Account, Account.id == Notice.account_id)
            .where(*where)
            .order_by(Notice.id.desc())
            .limit(limit)
            .offset(offset)
        )
        return [
            NoticeView(
                id=r[0],
                idempotency_key=r[1],
                kind=r[2],
                state=r[3],
                channel=r[4],
                contact_number=r[5],
                contact_name=r[6],
                account_number=r[7],
                account_name=r[8],
                case_number=case_number(r[9]) if r[9] is not None else None,
                outage_number=outage_number(r[10]) if r[10] is not None else None,
                attempts=r[11],
                next_attempt_at=r[12],
                last_error=r[13],
                created_at=r[14],
                sent_at=r[15],
            )
            for r in rows
        ]


async def list_notices(
    domain: Domain,
    actor: Actor,
    *,
    state: str | None = None,
    case_id: int | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[NoticeView]:
    """Notices, newest first; a major case's include its children's. Customers: their own."""
    _require_reader(actor)
    if state is not None and state not in ("pending", *_FINAL_STATES):
        raise InvalidInput(f"unknown notice state {state!r}; states: pending, sent, dead, skipped")
    if limit < 1 or offset < 0:
        raise InvalidInput("limit must be at least 1 and offset at least 0")
    where: list[Any] = []
    if actor.role is Role.CUSTOMER:
        require_account(actor, actor.account_id)
        where.append(Notice.account_id == actor.account_id)
    if state is not None:
        where.append(Notice.state == state)
    if case_id is not None:
        async with domain.reading() as session:
            case = await _require_case(session, case_id)
        _require_own_case(actor, case)
        where.append(_case_scope(case_id))
    return await _notice_views(domain, where, limit=limit, offset=offset)


async def notice_message(domain: Domain, actor: Actor, notice_id: int) -> NoticeMessage:
    """One notice and the message it carries (its contact's words). Customers: their own."""
    _require_reader(actor)
    where: list[Any] = [Notice.id == notice_id]
    if actor.role is Role.CUSTOMER:
        require_account(actor, actor.account_id)
        where.append(Notice.account_id == actor.account_id)
    found = await _notice_views(domain, where, limit=1, offset=0)
    if not found:
        raise NotFound(f"no notice {notice_id}")
    async with domain.reading() as session:
        rendered = await session.scalar(select(Notice.rendered).where(Notice.id == notice_id))
    if rendered is None:
        return NoticeMessage(found[0], None, None)
    message = compose(json.loads(rendered))
    return NoticeMessage(found[0], message["subject"], message["text"])


async def notice_counts(domain: Domain, actor: Actor, case_id: int) -> dict[str, int]:
    """How many notices of a case (and its children) are in each state; every state is listed."""
    _require_reader(actor)
    async with domain.reading() as session:
        case = await _require_case(session, case_id)
        where = [_case_scope(case_id)]
        _require_own_case(actor, case)
        if actor.role is Role.CUSTOMER:
            where.append(Notice.account_id == actor.account_id)
        rows = await session.execute(select(Notice.state, func.count()).where(*where).group_by(Notice.state))
        counts = dict.fromkeys(("pending", *_FINAL_STATES), 0)
        counts.update({state: n for state, n in rows})
        return counts


def with_status_page_dir(domain: Domain, directory: str) -> None:
    """Point the worker's status page at ``directory`` (``pcso worker --status-page``)."""
    settings = domain.settings
    domain.settings = replace(settings, delivery=replace(settings.delivery, status_page_dir=directory))
