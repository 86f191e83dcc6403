"""Insight: known outages at intake, the major case recommendation, trending topics, and the
accounts likely affected beyond those we know of (DESIGN §2 step 5; docs/insight.md).

- **Known outage.** A caller's account is among an active major case's affected accounts, or the
  product they name is the major case's (or its active outage's): the agent sees the latest
  customer-facing statement and the ETA, and one key attaches the call as a child. An attached
  customer call is *deflected* (``Case.deflected``, set by ``major_cases.attach_case_in``; the
  dashboard's "deflected calls" counts exactly those). The calls a proposal grouped, or a
  topic linked, made the major case and are never deflected. An agent may attach a call only to a
  major case that is a known outage for that call; anything else stays a manager's
  ``attach_case``.
- **Similarity** is rapidfuzz's, on the short descriptions made lower case with stop words
  removed: the mean of ``token_set_ratio`` (shared words, order-free) and ``token_sort_ratio``
  (which keeps one shared word from matching a whole sentence), plus ``context_bonus`` for the
  same product and again for the same CI, capped at 1. Candidates come from the window only
  (since the start of the day ``window_days`` back) and are pre-filtered in C++ by
  ``process.extract`` at the lowest cutoff that could still pass; the matching runs on a
  worker thread.
- **Recommendation.** An existing major case whose text (its own or an attached case's) is at
  least ``existing_major_threshold`` similar → attach. Otherwise, when the case and the open,
  unattached cases at least ``similar_threshold`` similar number ``min_cases`` across
  ``min_accounts`` accounts → propose a new major case grouping them. Each says why.
- **Trending topics.** Inbound (reactive) cases of the recent period and the baseline days
  before it are clustered (each case joins the first topic whose first case it resembles at
  ``topic_similarity``, else starts one); a topic is rising when its recent count is at least
  ``topic_min_cases`` and ``(recent + 1) / (expected + 1) >= topic_growth``, ``expected`` being
  its baseline rate over the recent period's length.
- **Likely affected.** Characteristics (item characteristics, products, account tier and
  region) the known-affected accounts share beyond chance, counted set-based in SQL against
  the whole install base: lift, a hypergeometric tail probability, and a smoothed likelihood
  ratio per factor. Every other account is scored by naive-Bayes log-odds over the factors it
  has, in SQL grouped by (factor set, tier) so only a few rows reach Python; ordered by
  severity (tier) × likelihood.

A proposal's title is made of words that at least two accounts used, never one customer's own
sentence: the title becomes every child case's short description, which customers read.
Recommendations and their queries are staff-only (``VIEW_CASES``); customers can call none.
"""

from __future__ import annotations

import asyncio
import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from rapidfuzz import fuzz, process
from sqlalchemy import Result, and_, exists, func, insert, literal, or_, select, union
from sqlalchemy import case as sql_case
from sqlalchemy.ext.asyncio import AsyncSession

from pcso_tui.domain.casework import major_cases
from pcso_tui.domain.casework.records import ACTIVE, MAX_SHORT, case_view, clean_text, load_case
from pcso_tui.domain.casework.views import (
    AccountsAddedResult,
    CaseView,
    KnownOutageView,
    LikelyAccountView,
    LikelyAffectedView,
    LikelyFactor,
    LinkResult,
    Recommendation,
    SimilarCaseView,
    TopicsView,
    TopicView,
)
from pcso_tui.domain.core.errors import IllegalTransition, InvalidInput, NotFound
from pcso_tui.domain.core.event_kinds import CaseOpened, InsightGrouped, MajorCaseAccountsAdded
from pcso_tui.domain.core.models import (
    Account,
    Case,
    CaseAccount,
    Characteristic,
    Incident,
    InstallBaseItem,
    Outage,
    Product,
    Statement,
)
from pcso_tui.domain.core.roles import Actor, Permission, require
from pcso_tui.domain.core.service import Domain
from pcso_tui.domain.core.settings import InsightSettings
from pcso_tui.domain.core.states import CaseKind, CaseState, MajorCaseState
from pcso_tui.domain.core.views import case_number
from pcso_tui.domain.install_base.impact import TIER_ORDER

MAX_SHOWN = 200
MAX_TOPIC_CASES = 500
MAX_FACTORS = 12

_TOKEN = re.compile(r"[a-z0-9]+(?:[.\-][a-z0-9]+)*")
STOP_WORDS = frozenset(
    """a about after again all also am an and any are as at be been before being but by can cannot
    could did do does doing down during each few for from had has have having he her here him his
    how i if in into is it its just me more most my no nor not now of off on once only or other our
    out over own please same she should since so some still such than that the their them then
    there these they this those through to too under until up very was we were what when where
    which while who why will with would you your hi hello thanks thank regards dear""".split()  # noqa: SIM905
)

_CANDIDATE_KINDS = (CaseKind.REACTIVE.value, CaseKind.PROACTIVE.value)
_GROUPABLE_MAJOR_STATES = (MajorCaseState.NONE.value, MajorCaseState.REJECTED.value)


# --- text ---------------------------------------------------------------------------------------


def tokens(text: str | None) -> list[str]:
    """Lower-case words of ``text`` without stop words, in order, each once."""
    seen: dict[str, None] = {}
    for word in _TOKEN.findall((text or "").lower()):
        if word not in STOP_WORDS and len(word) > 1:
            seen.setdefault(word, None)
    return list(seen)


def normalize(text: str | None) -> str:
    return " ".join(tokens(text))


def text_similarity(a: str, b: str) -> float:
    """0–1 similarity of two normalized texts (see the module's docstring)."""
    if not a or not b:
        return 0.0
    return (fuzz.token_set_ratio(a, b, processor=None) + fuzz.token_sort_ratio(a, b, processor=None)) / 200.0


def _matches(query: str, choices: Sequence[str], cutoff: float) -> list[tuple[int, float]]:
    """(index, text similarity) of the choices at least ``cutoff`` similar, pre-filtered in C++."""
    if not query:
        return []
    hits = process.extract(
        query, choices, scorer=fuzz.token_set_ratio, processor=None, score_cutoff=cutoff * 100, limit=None
    )
    found = []
    for _, _, index in hits:
        score = text_similarity(query, choices[index])
        if score >= cutoff:
            found.append((index, score))
    return found


def _shared_terms(texts_by_account: Iterable[tuple[Any, str]], *, least_accounts: int = 2) -> list[str]:
    """Words used by at least ``least_accounts`` distinct accounts: the most widely used first,
    ties in the order they were first written (so a title reads like the reports)."""
    accounts: dict[str, set[Any]] = {}
    count: Counter[str] = Counter()
    for account, text in texts_by_account:
        for word in text.split():
            accounts.setdefault(word, set()).add(account)
            count[word] += 1
    order = {w: i for i, w in enumerate(accounts)}
    shared = [w for w, a in accounts.items() if len(a) >= least_accounts]
    return sorted(shared, key=lambda w: (-len(accounts[w]), -count[w], order[w]))


def _title(terms: Sequence[str], accounts: int) -> str:
    words = ", ".join(terms[:6]) if terms else "similar reports"
    return f"Reported by {accounts} accounts: {words}"[:MAX_SHORT]


def window_start(now: datetime, days: int) -> datetime:
    """The start of the day ``days`` back (UTC): 1 is the start of yesterday."""
    return now.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=days)


def _settings(domain: Domain) -> InsightSettings:
    return domain.settings.insight


# --- known outages ------------------------------------------------------------------------------


def _major_active() -> Any:
    return and_(
        Case.kind == CaseKind.MAJOR.value,
        Case.major_case_state == MajorCaseState.ACCEPTED.value,
        Case.state.in_(ACTIVE),
    )


async def known_outages_in(
    session: AsyncSession, account_id: int | None, product_id: int | None, now: datetime
) -> list[KnownOutageView]:
    by_account = (
        exists().where(CaseAccount.case_id == Case.id, CaseAccount.account_id == account_id)
        if account_id is not None
        else literal(False)
    )
    if product_id is not None:
        outage = exists().where(
            Outage.case_id == Case.id,
            Outage.product_id == product_id,
            Outage.begins_at <= now,
            or_(Outage.ends_at.is_(None), Outage.ends_at > now),
        )
        by_product = or_(Case.product_id == product_id, outage)
    else:
        by_product = literal(False)
    rows = list(
        await session.execute(
            select(Case.id, Case.short_description, Case.state, Case.incident_id, by_account.label("by_account"))
            .where(_major_active(), or_(by_account, by_product))
            .order_by(Case.priority, Case.id)
            .limit(20)
        )
    )
    found = []
    for row in rows:
        statement = (
            await session.execute(
                select(Statement.body, Statement.created_at)
                .where(Statement.case_id == row.id)
                .order_by(Statement.id.desc())
                .limit(1)
            )
        ).first()
        eta = None
        if row.incident_id is not None:
            eta = await session.scalar(select(Incident.eta).where(Incident.id == row.incident_id))
        if eta is None:
            eta = await session.scalar(
                select(func.max(Outage.ends_at)).where(
                    Outage.case_id == row.id, Outage.begins_at <= now, Outage.ends_at > now
                )
            )
        affected = await session.scalar(
            select(func.count()).select_from(CaseAccount).where(CaseAccount.case_id == row.id)
        )
        deflected = await session.scalar(
            select(func.count()).where(
                Case.parent_id == row.id, Case.kind == CaseKind.REACTIVE.value, Case.deflected.is_(True)
            )
        )
        found.append(
            KnownOutageView(
                major_case_id=row.id,
                number=case_number(row.id),
                short_description=row.short_description,
                state=row.state,
                matched_by="account" if row.by_account else "product",
                statement=statement.body if statement else None,
                statement_at=statement.created_at if statement else None,
                eta=eta,
                affected_accounts=affected or 0,
                deflected=deflected or 0,
            )
        )
    return found


async def known_outages(
    domain: Domain, actor: Actor, account_number: str, *, product_number: str | None = None
) -> tuple[KnownOutageView, ...]:
    """The active major cases that already cover a caller of ``account_number`` (or the product
    they name), with the current statement and ETA. Staff only."""
    require(actor, Permission.VIEW_CASES)
    async with domain.reading() as session:
        account_id = await session.scalar(select(Account.id).where(Account.number == account_number))
        if account_id is None:
            raise NotFound(f"no account numbered {account_number!r}")
        product_id = None
        if product_number:
            product_id = await session.scalar(select(Product.id).where(Product.number == product_number))
            if product_id is None:
                raise NotFound(f"no product numbered {product_number!r}")
        return tuple(await known_outages_in(session, account_id, product_id, domain.clock()))


async def case_known_outages(domain: Domain, actor: Actor, case_id: int) -> tuple[KnownOutageView, ...]:
    """The known outages for a logged case (its account and product)."""
    require(actor, Permission.VIEW_CASES)
    async with domain.reading() as session:
        case = await load_case(session, case_id)
        if case.parent_id is not None:
            return ()
        return tuple(await known_outages_in(session, case.account_id, case.product_id, domain.clock()))


async def attach_to_known_outage(domain: Domain, actor: Actor, case_id: int, major_case_id: int) -> CaseView:
    """Attach a customer's call to a major case that is a known outage for it (agents may: this
    is intake). The call becomes a deflected child; anything else is refused, nothing changed."""
    require(actor, Permission.OPEN_REACTIVE_CASE)
    async with domain.transaction(actor) as tx:
        case = await load_case(tx.session, case_id)
        known = await known_outages_in(tx.session, case.account_id, case.product_id, tx.now)
        if major_case_id not in {k.major_case_id for k in known}:
            raise IllegalTransition(
                f"{case_number(major_case_id)} is not a known outage for {case_number(case_id)} "
                "(neither its account nor its product is affected); a manager can attach it by hand"
            )
        return await major_cases.attach_case_in(tx, major_case_id, case_id, deflect=True)


# --- similar cases and the recommendation -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Row:
    id: int
    kind: str
    state: str
    text: str
    short_description: str
    account_id: int | None
    account_number: str | None
    product_id: int | None
    ci_id: int | None
    opened_at: datetime
    priority: int


def _row(r: Any) -> _Row:
    return _Row(
        id=r.id,
        kind=r.kind,
        state=r.state,
        text=normalize(r.short_description),
        short_description=r.short_description,
        account_id=r.account_id,
        account_number=r.account_number,
        product_id=r.product_id,
        ci_id=r.ci_id,
        opened_at=r.opened_at,
        priority=r.priority,
    )


def _case_columns() -> Any:
    return select(
        Case.id,
        Case.kind,
        Case.state,
        Case.short_description,
        Case.account_id,
        Account.number.label("account_number"),
        Case.product_id,
        Case.ci_id,
        Case.opened_at,
        Case.priority,
    ).outerjoin(Account, Account.id == Case.account_id)


async def _load_subject(session: AsyncSession, case_id: int) -> _Row:
    row = (await session.execute(_case_columns().where(Case.id == case_id))).first()
    if row is None:
        raise NotFound(f"no case {case_number(case_id)}")
    return _row(row)


async def _open_candidates(session: AsyncSession, subject: _Row, since: datetime, limit: int) -> list[Any]:
    """The open cases that could be grouped with ``subject``: reactive or proactive, active,
    unattached, not proposed, opened in the window (newest first)."""
    query = (
        _case_columns()
        .where(
            Case.id != subject.id,
            Case.kind.in_(_CANDIDATE_KINDS),
            Case.state.in_(ACTIVE),
            Case.parent_id.is_(None),
            Case.major_case_state.in_(_GROUPABLE_MAJOR_STATES),
            Case.opened_at >= since,
        )
        .order_by(Case.opened_at.desc(), Case.id.desc())
        .limit(limit)
    )
    return list(await session.execute(query))


def _score_similar(subject: _Row, rows: Sequence[Any], settings: InsightSettings) -> list[SimilarCaseView]:
    """Runs on a worker thread: normalize, match, add the context bonus, explain."""
    candidates = [_row(r) for r in rows]
    bonus = settings.context_bonus
    cutoff = max(0.0, settings.similar_threshold - 2 * bonus)
    query_terms = subject.text.split()
    found = []
    for index, text_score in _matches(subject.text, [c.text for c in candidates], cutoff):
        c = candidates[index]
        same_product = subject.product_id is not None and c.product_id == subject.product_id
        same_ci = subject.ci_id is not None and c.ci_id == subject.ci_id
        score = min(1.0, text_score + bonus * same_product + bonus * same_ci)
        if score < settings.similar_threshold:
            continue
        theirs = set(c.text.split())
        found.append(
            SimilarCaseView(
                case_id=c.id,
                number=case_number(c.id),
                kind=c.kind,
                state=c.state,
                short_description=c.short_description,
                account_number=c.account_number,
                opened_at=c.opened_at,
                score=round(score, 3),
                text_score=round(text_score, 3),
                matched_terms=tuple(t for t in query_terms if t in theirs),
                same_product=same_product,
                same_ci=same_ci,
            )
        )
    found.sort(key=lambda s: (-s.score, s.case_id))
    return found


async def _similar(domain: Domain, session: AsyncSession, subject: _Row) -> tuple[list[SimilarCaseView], datetime]:
    settings = _settings(domain)
    since = window_start(domain.clock(), settings.window_days)
    rows = await _open_candidates(session, subject, since, settings.max_compared)
    return await asyncio.to_thread(_score_similar, subject, rows, settings), since


async def similar_cases(domain: Domain, actor: Actor, case_id: int, *, limit: int = 50) -> tuple[SimilarCaseView, ...]:
    """The open, unattached cases in the window similar to ``case_id``, most similar first."""
    require(actor, Permission.VIEW_CASES)
    if not 1 <= limit <= MAX_SHOWN:
        raise InvalidInput(f"limit must be between 1 and {MAX_SHOWN}")
    async with domain.reading() as session:
        subject = await _load_subject(session, case_id)
        found, _ = await _similar(domain, session, subject)
        return tuple(found[:limit])


async def _best_major(session: AsyncSession, subject: _Row, settings: InsightSettings) -> tuple[Any, float, list[str]]:
    """The active major case most similar to ``subject`` (its own text or an attached case's)."""
    majors = list(
        await session.execute(
            select(Case.id, Case.short_description, Case.product_id, Case.ci_id).where(_major_active()).limit(500)
        )
    )
    if not majors:
        return None, 0.0, []
    ids = [m.id for m in majors]
    texts: dict[int, list[str]] = {m.id: [normalize(m.short_description)] for m in majors}
    attached = await session.execute(
        select(Case.parent_id, Case.short_description)
        .where(Case.parent_id.in_(ids), Case.kind.in_(_CANDIDATE_KINDS))
        .order_by(Case.id.desc())
        .limit(5000)
    )
    for parent_id, text in cast("Result[int, str]", attached):  # parent_id IN (…): never NULL
        texts[parent_id].append(normalize(text))
    best, best_score, best_terms = None, 0.0, []
    mine = subject.text.split()
    for m in majors:
        bonus = settings.context_bonus * (
            (subject.product_id is not None and m.product_id == subject.product_id)
            + (subject.ci_id is not None and m.ci_id == subject.ci_id)
        )
        for text in texts[m.id]:
            score = min(1.0, text_similarity(subject.text, text) + bonus)
            if score > best_score:
                theirs = set(text.split())
                best, best_score, best_terms = m, score, [t for t in mine if t in theirs]
    return best, best_score, best_terms


def _accounts_line(numbers: Sequence[str], shown: int = 8) -> str:
    more = len(numbers) - shown
    return ", ".join(numbers[:shown]) + (f" and {more} more" if more > 0 else "")


async def _recommend(domain: Domain, session: AsyncSession, case_id: int) -> Recommendation:
    settings = _settings(domain)
    now = domain.clock()
    subject = await _load_subject(session, case_id)
    number = case_number(subject.id)
    since = window_start(now, settings.window_days)
    known = tuple(await known_outages_in(session, subject.account_id, subject.product_id, now))
    base: dict[str, Any] = {"case_id": subject.id, "case_number": number, "window_start": since, "known_outages": known}
    case = await load_case(session, case_id)
    if case.parent_id is not None:
        return Recommendation(
            action="none",
            headline=f"{number} is already a child of {case_number(case.parent_id)}",
            reasons=(),
            **base,
        )
    if case.kind not in _CANDIDATE_KINDS or case.state not in ACTIVE:
        return Recommendation(
            action="none",
            headline=f"{number} is a {case.state} {case.kind} case: nothing to recommend",
            reasons=(),
            **base,
        )

    if case.major_case_state == MajorCaseState.PROPOSED.value:
        # Already proposed (by the rule or a person): counting it against the thresholds for a
        # new proposal would contradict the proposal itself.
        accounts = await session.scalar(select(func.count()).where(CaseAccount.case_id == case.id)) or 0
        return Recommendation(
            action="none",
            headline=f"{number} is already proposed as a major case, with {accounts:,} "
            f"account{'' if accounts == 1 else 's'}: the manager decides",
            reasons=(),
            **base,
        )

    major, major_score, major_terms = await _best_major(session, subject, settings)
    if major is not None and major_score >= settings.existing_major_threshold:
        reasons = [
            f"similarity {major_score:.2f} ≥ {settings.existing_major_threshold:.2f} with major case "
            f"{case_number(major.id)}",
        ]
        if major_terms:
            reasons.append("matched terms: " + ", ".join(major_terms))
        if subject.product_id is not None and major.product_id == subject.product_id:
            reasons.append("same product")
        if subject.ci_id is not None and major.ci_id == subject.ci_id:
            reasons.append("same CI")
        if any(k.major_case_id == major.id and k.matched_by == "account" for k in known):
            reasons.append(f"{subject.account_number} is among its affected accounts")
        return Recommendation(
            action="attach",
            headline=f"Attach to major case {case_number(major.id)} (similarity {major_score:.2f})",
            reasons=tuple(reasons),
            major_case_id=major.id,
            major_case_number=case_number(major.id),
            major_short_description=major.short_description,
            score=round(major_score, 3),
            matched_terms=tuple(major_terms),
            **base,
        )

    rows = await _open_candidates(session, subject, since, settings.max_compared)
    similar = await asyncio.to_thread(_score_similar, subject, rows, settings)
    group_accounts = sorted(
        {s.account_number for s in similar if s.account_number}
        | {a for a in (subject.account_number,) if a is not None}
    )
    cases = 1 + len(similar)
    texts = [(subject.account_number, subject.text)] + [
        (s.account_number, normalize(s.short_description)) for s in similar
    ]
    shared = _shared_terms(texts)
    if similar:
        n = len(group_accounts)
        counts = (
            f"{cases} cases (this one and {len(similar)} at ≥ {settings.similar_threshold:.2f} similarity) from "
            f"{n} account{'' if n == 1 else 's'} since {since:%Y-%m-%d %H:%M} UTC"
        )
    else:
        counts = f"no other open case at ≥ {settings.similar_threshold:.2f} similarity since {since:%Y-%m-%d %H:%M} UTC"
    reasons = [counts]
    if group_accounts:
        reasons.append("accounts: " + _accounts_line(group_accounts))
    if shared:
        reasons.append("shared terms: " + ", ".join(shared[:8]))
    context = sum(1 for s in similar if s.same_product or s.same_ci)
    if context:
        reasons.append(f"{context} of them share the product or CI")
    if major is not None:
        reasons.append(
            f"best existing major case {case_number(major.id)} is only {major_score:.2f} similar "
            f"(< {settings.existing_major_threshold:.2f})"
        )
    fields: dict[str, Any] = {
        "similar": tuple(similar[:MAX_SHOWN]),
        "similar_count": len(similar),
        "accounts": tuple(group_accounts),
        "matched_terms": tuple(shared[:8]),
    }
    if cases >= settings.min_cases and len(group_accounts) >= settings.min_accounts:
        return Recommendation(
            action="propose",
            headline=f"Propose a major case: {cases} similar cases from {len(group_accounts)} accounts",
            reasons=tuple(reasons),
            proposed_title=_title(shared, len(group_accounts)),
            case_ids=(subject.id, *(s.case_id for s in similar)),
            **fields,
            **base,
        )
    reasons.append(f"a new major case needs {settings.min_cases} cases across {settings.min_accounts} accounts")
    return Recommendation(
        action="none", headline="No major case recommended yet", reasons=tuple(reasons), **fields, **base
    )


async def recommend(domain: Domain, actor: Actor, case_id: int) -> Recommendation:
    """What to do with ``case_id``: attach it to an existing major case, propose a new one with
    its similar cases, or nothing yet; each with its reasons. Staff only."""
    require(actor, Permission.VIEW_CASES)
    async with domain.reading() as session:
        return await _recommend(domain, session, case_id)


async def propose_major_from_cases(
    domain: Domain,
    actor: Actor,
    case_ids: Sequence[int],
    *,
    short_description: str,
    reason: str,
    business_impact: str,
) -> CaseView:
    """Open a major case candidate for a group of open cases (a recommendation or a topic): their
    accounts become its affected accounts (source ``reported``), the group is recorded on it
    (``insight.grouped``, and an internal journal line), and the manager approves or rejects it
    as any proposal. After approval ``link_cases`` (or ``link_grouped``) attaches the group."""
    require(actor, Permission.PROPOSE_MAJOR_CASE)
    short = clean_text(short_description, "a short description", limit=MAX_SHORT)
    reason = clean_text(reason, "a reason")
    business_impact = clean_text(business_impact, "the business impact")
    ids = list(dict.fromkeys(case_ids))
    if not ids:
        raise InvalidInput("give at least one case to group")
    async with domain.transaction(actor) as tx:
        session = tx.session
        cases = {c.id: c for c in await session.scalars(select(Case).where(Case.id.in_(ids)))}
        problems = []
        for cid in ids:
            c = cases.get(cid)
            if c is None:
                problems.append(f"no case {case_number(cid)}")
            elif c.kind not in _CANDIDATE_KINDS:
                problems.append(f"{case_number(cid)} is a {c.kind} case")
            elif c.parent_id is not None:
                problems.append(f"{case_number(cid)} is already a child of {case_number(c.parent_id)}")
            elif c.state not in ACTIVE:
                problems.append(f"{case_number(cid)} is {c.state}")
            elif c.major_case_state not in _GROUPABLE_MAJOR_STATES:
                problems.append(f"{case_number(cid)} is itself {c.major_case_state} as a major case")
        if problems:
            raise IllegalTransition(
                f"{len(problems)} of {len(ids)} cases cannot be grouped; nothing was proposed", details=problems[:50]
            )
        group = [cases[cid] for cid in ids]
        candidate = Case(
            kind=CaseKind.MAJOR.value,
            state=CaseState.NEW.value,
            major_case_state=MajorCaseState.NONE.value,
            priority=min(c.priority for c in group),
            short_description=short,
            description="",
            channel="phone",
            product_id=_common(c.product_id for c in group),
            ci_id=_common(c.ci_id for c in group),
            incident_id=_common(c.incident_id for c in group),
            opened_at=tx.now,
            opened_by_id=actor.user_id,
            updated_at=tx.now,
        )
        session.add(candidate)
        await session.flush()
        accounts = sorted({c.account_id for c in group if c.account_id is not None})
        if accounts:
            await session.execute(
                insert(CaseAccount),
                [{"case_id": candidate.id, "account_id": a, "source": "reported"} for a in accounts],
            )
        numbers = [case_number(c.id) for c in group]
        tx.record(candidate.id, CaseOpened(number=case_number(candidate.id), case_kind=candidate.kind))
        await major_cases.propose_case_in(
            tx,
            candidate,
            reason=reason,
            business_impact=business_impact,
            rule=False,
            wording=domain.settings.casework,
        )
        major_cases.journal_line(
            tx, candidate.id, "work_note", "internal", f"Groups {len(numbers)} cases: {', '.join(numbers)}"
        )
        tx.record(candidate.id, InsightGrouped(case_ids=[c.id for c in group], accounts=len(accounts)))
        await session.flush()
        return await case_view(session, candidate.id, tx.now)


def _common(values: Iterable[int | None]) -> int | None:
    distinct = set(values)
    return distinct.pop() if len(distinct) == 1 else None


async def propose_recommended(
    domain: Domain, actor: Actor, case_id: int, *, reason: str | None = None, business_impact: str | None = None
) -> CaseView:
    """Act on a ``propose`` recommendation: a candidate grouping the case and its similar cases."""
    require(actor, Permission.PROPOSE_MAJOR_CASE)
    async with domain.reading() as session:
        rec = await _recommend(domain, session, case_id)
    if rec.action != "propose" or rec.proposed_title is None:
        raise IllegalTransition(f"{rec.case_number}: {rec.headline}; there is no proposal to act on")
    return await propose_major_from_cases(
        domain,
        actor,
        rec.case_ids,
        short_description=rec.proposed_title,
        reason=reason or f"{rec.headline}. " + "; ".join(rec.reasons),
        business_impact=business_impact
        or f"{len(rec.case_ids)} customer cases from {len(rec.accounts)} accounts report the same problem",
    )


async def link_cases(domain: Domain, actor: Actor, major_case_id: int, case_ids: Sequence[int]) -> LinkResult:
    """Attach open cases (a topic's, a proposal's group) to an approved major case in one
    transaction. Cases that cannot be attached (already children, closed …) are skipped and
    named; the major case itself must be an active, approved major case."""
    require(actor, Permission.MANAGE_CHILD_CASES)
    ids = list(dict.fromkeys(case_ids))
    if not ids:
        raise InvalidInput("give at least one case to link")
    async with domain.transaction(actor) as tx:
        session = tx.session
        major = await load_case(session, major_case_id, lock=True)
        number = case_number(major.id)
        if not (major.kind == CaseKind.MAJOR and major.major_case_state == MajorCaseState.ACCEPTED):
            raise IllegalTransition(f"{number} is not an approved major case")
        if major.state not in ACTIVE:
            raise IllegalTransition(f"{number} is {major.state}: cases are linked to active major cases only")
        rows = {c.id: c for c in await session.scalars(select(Case).where(Case.id.in_(ids)))}
        attached, skipped = [], []
        for cid in ids:
            c = rows.get(cid)
            if c is None:
                skipped.append(f"no case {case_number(cid)}")
            elif c.id == major.id:
                continue
            elif c.parent_id is not None:
                skipped.append(f"{case_number(cid)} is already a child of {case_number(c.parent_id)}")
            elif c.kind not in _CANDIDATE_KINDS or c.state not in ACTIVE:
                skipped.append(f"{case_number(cid)} is a {c.state} {c.kind} case")
            elif c.major_case_state == MajorCaseState.PROPOSED:
                skipped.append(f"{case_number(cid)} is itself proposed as a major case")
            else:
                await major_cases.attach_case_in(tx, major.id, cid, deflect=False)
                attached.append(case_number(cid))
        return LinkResult(major_case_id=major.id, number=number, attached=tuple(attached), skipped=tuple(skipped))


async def grouped_cases(domain: Domain, actor: Actor, major_case_id: int) -> tuple[int, ...]:
    """The cases a proposal from insight grouped (``insight.grouped``) that are not attached yet."""
    require(actor, Permission.VIEW_CASES)
    from pcso_tui.domain.core.models import Event

    async with domain.reading() as session:
        await load_case(session, major_case_id)
        payloads = await session.scalars(
            select(Event.payload).where(
                Event.subject_type == "case", Event.subject_id == major_case_id, Event.kind == InsightGrouped.kind
            )
        )
        ids = [int(i) for p in payloads for i in InsightGrouped.from_stored(p or {}).case_ids or ()]
        if not ids:
            return ()
        open_ids = set(
            await session.scalars(
                select(Case.id).where(Case.id.in_(ids), Case.parent_id.is_(None), Case.state.in_(ACTIVE))
            )
        )
        return tuple(i for i in dict.fromkeys(ids) if i in open_ids)


async def link_grouped(domain: Domain, actor: Actor, major_case_id: int) -> LinkResult:
    """Attach the cases a proposal grouped, once it is approved."""
    require(actor, Permission.MANAGE_CHILD_CASES)
    ids = await grouped_cases(domain, actor, major_case_id)
    if not ids:
        return LinkResult(major_case_id=major_case_id, number=case_number(major_case_id), attached=(), skipped=())
    return await link_cases(domain, actor, major_case_id, ids)


# --- trending topics ----------------------------------------------------------------------------


@dataclass
class _Topic:
    leader: int
    leader_text: str
    members: list[_Row]


def _cluster(rows: Sequence[Any], threshold: float) -> list[_Topic]:
    """Leader clustering, oldest case first: a case joins the most similar topic whose first
    case it resembles at ``threshold``, else starts a topic. Runs on a worker thread."""
    topics: list[_Topic] = []
    leaders: list[str] = []
    for r in rows:
        row = _row(r)
        if not row.text:
            continue
        hits = _matches(row.text, leaders, threshold)
        if hits:
            index = max(hits, key=lambda h: (h[1], -h[0]))[0]
            topics[index].members.append(row)
        else:
            topics.append(_Topic(row.id, row.text, [row]))
            leaders.append(row.text)
    return topics


def _topic_views(
    topics: list[_Topic], recent_start: datetime, settings: InsightSettings, open_ids: set[int]
) -> list[TopicView]:
    ratio = settings.topic_recent_hours / (24 * settings.topic_baseline_days)
    views = []
    for t in topics:
        recent = [m for m in t.members if m.opened_at >= recent_start]
        baseline = len(t.members) - len(recent)
        expected = baseline * ratio
        growth = (len(recent) + 1) / (expected + 1)
        accounts = {m.account_id for m in t.members if m.account_id is not None}
        terms = _shared_terms([(m.account_id, m.text) for m in t.members], least_accounts=min(2, len(accounts) or 1))
        top = tuple(terms[:6])
        views.append(
            TopicView(
                id=t.leader,
                label=", ".join(top) if top else "(no shared words)",
                top_terms=top,
                size=len(t.members),
                recent=len(recent),
                baseline=baseline,
                expected=round(expected, 2),
                growth=round(growth, 2),
                rising=len(recent) >= settings.topic_min_cases and growth >= settings.topic_growth,
                accounts=len(accounts),
                first_at=min(m.opened_at for m in t.members),
                last_at=max(m.opened_at for m in t.members),
                case_ids=tuple(m.id for m in recent if m.id in open_ids)[:MAX_TOPIC_CASES],
            )
        )
    views.sort(key=lambda v: (not v.rising, -v.recent, -v.growth, v.id))
    return views


async def trending_topics(domain: Domain, actor: Actor, *, limit: int = 50, rising_only: bool = False) -> TopicsView:
    """Inbound cases clustered into topics, rising ones first (see the module's docstring)."""
    require(actor, Permission.VIEW_CASES)
    if not 1 <= limit <= MAX_SHOWN:
        raise InvalidInput(f"limit must be between 1 and {MAX_SHOWN}")
    settings = _settings(domain)
    now = domain.clock()
    recent_start = now - timedelta(hours=settings.topic_recent_hours)
    baseline_start = recent_start - timedelta(days=settings.topic_baseline_days)
    async with domain.reading() as session:
        newest = (
            _case_columns()
            .where(Case.kind == CaseKind.REACTIVE.value, Case.opened_at >= baseline_start, Case.opened_at <= now)
            .order_by(Case.opened_at.desc(), Case.id.desc())
            .limit(settings.max_compared)
        )
        rows = sorted(await session.execute(newest), key=lambda r: (r.opened_at, r.id))
        open_ids = set(
            await session.scalars(
                select(Case.id).where(
                    Case.kind == CaseKind.REACTIVE.value,
                    Case.opened_at >= recent_start,
                    Case.state.in_(ACTIVE),
                    Case.parent_id.is_(None),
                    Case.major_case_state.in_(_GROUPABLE_MAJOR_STATES),
                )
            )
        )
    topics = await asyncio.to_thread(_cluster, rows, settings.topic_similarity)
    views = _topic_views(topics, recent_start, settings, open_ids)
    if rising_only:
        views = [v for v in views if v.rising]
    return TopicsView(
        recent_start=recent_start, baseline_start=baseline_start, cases=len(rows), topics=tuple(views[:limit])
    )


async def find_topic(domain: Domain, actor: Actor, topic_id: int) -> TopicView:
    """One topic of the current clustering, by its first case's id."""
    view = await trending_topics(domain, actor, limit=MAX_SHOWN)
    for topic in view.topics:
        if topic.id == topic_id:
            return topic
    raise NotFound(f"no current topic starts with {case_number(topic_id)}")


async def link_topic(domain: Domain, actor: Actor, topic_id: int, major_case_id: int) -> LinkResult:
    """Attach a topic's open recent cases to an existing major case."""
    require(actor, Permission.MANAGE_CHILD_CASES)
    topic = await find_topic(domain, actor, topic_id)
    if not topic.case_ids:
        raise InvalidInput(f"topic {topic.label!r} has no open, unattached recent cases to link")
    return await link_cases(domain, actor, major_case_id, topic.case_ids)


async def propose_from_topic(domain: Domain, actor: Actor, topic: TopicView) -> CaseView:
    """A major case candidate from a topic's open recent cases, titled by its shared words."""
    require(actor, Permission.PROPOSE_MAJOR_CASE)
    if not topic.case_ids:
        raise InvalidInput(f"topic {topic.label!r} has no open, unattached recent cases to group")
    return await propose_major_from_cases(
        domain,
        actor,
        topic.case_ids,
        short_description=_title(topic.top_terms, topic.accounts),
        reason=(
            f"Trending topic: {topic.recent} cases in the last period against {topic.expected:g} expected "
            f"(growth {topic.growth:g}×) from {topic.accounts} accounts"
        ),
        business_impact=f"{len(topic.case_ids)} open customer cases report it",
    )


# --- likely affected accounts ---------------------------------------------------------------------


def tier_severity(tier: str | None) -> int:
    """Business weight of a tier: platinum 7, enterprise 6 … standard 1 (unknown tiers 1)."""
    t = (tier or "").lower()
    return len(TIER_ORDER) - TIER_ORDER.index(t) if t in TIER_ORDER else 1


def hypergeometric_tail(population: int, successes: int, draws: int, observed: int) -> float:
    """P(X ≥ observed) for X ~ Hypergeometric(population, successes, draws)."""
    top = min(successes, draws)
    if observed <= 0:
        return 1.0
    if observed > top:
        return 0.0

    def log_comb(n: int, k: int) -> float:
        return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)

    denominator = log_comb(population, draws)
    total = 0.0
    for x in range(observed, top + 1):
        if draws - x > population - successes:
            continue
        total += math.exp(log_comb(successes, x) + log_comb(population - successes, draws - x) - denominator)
    return min(1.0, total)


def _feature_rows(account_ids: Any) -> Any:
    """(account_id, kind, name, value) of every characteristic, product and account attribute of
    the accounts selected by ``account_ids`` (a subquery or a list)."""
    item, ch, acc, prod = InstallBaseItem, Characteristic, Account, Product
    chars = (
        select(item.account_id.label("account_id"), literal("characteristic").label("kind"), ch.name, ch.value)
        .join(item, item.id == ch.item_id)
        .where(item.account_id.in_(account_ids))
    )
    products = (
        select(item.account_id, literal("product"), literal("product"), prod.name)
        .join(prod, prod.id == item.product_id)
        .where(item.account_id.in_(account_ids))
    )
    tiers = select(acc.id, literal("account"), literal("tier"), acc.tier).where(acc.id.in_(account_ids), acc.tier != "")
    regions = select(acc.id, literal("account"), literal("region"), acc.region).where(
        acc.id.in_(account_ids), acc.region != ""
    )
    return union(chars, products, tiers, regions).subquery("features")


async def _base_counts(session: AsyncSession, features: list[tuple[str, str, str]]) -> dict[tuple[str, str, str], int]:
    """How many accounts of the whole install base have each feature (set-based, one statement
    per kind)."""
    item, ch, acc, prod = InstallBaseItem, Characteristic, Account, Product
    counts: dict[tuple[str, str, str], int] = {}
    chars = [(n, v) for k, n, v in features if k == "characteristic"]
    for start in range(0, len(chars), 200):
        chunk = chars[start : start + 200]
        rows = await session.execute(
            select(ch.name, ch.value, func.count(func.distinct(item.account_id)))
            .join(item, item.id == ch.item_id)
            .where(or_(*(and_(ch.name == n, ch.value == v) for n, v in chunk)))
            .group_by(ch.name, ch.value)
        )
        counts.update({("characteristic", n, v): c for n, v, c in rows})
    names = [v for k, _, v in features if k == "product"]
    if names:
        product_rows = await session.execute(
            select(prod.name, func.count(func.distinct(item.account_id)))
            .join(item, item.product_id == prod.id)
            .where(prod.name.in_(names))
            .group_by(prod.name)
        )
        counts.update({("product", "product", n): c for n, c in product_rows})
    for attribute, column in (("tier", acc.tier), ("region", acc.region)):
        values = [v for k, n, v in features if k == "account" and n == attribute]
        if values:
            found = await session.execute(select(column, func.count()).where(column.in_(values)).group_by(column))
            counts.update({("account", attribute, v): c for v, c in found})
    return counts


def _bits(factors: Sequence[LikelyFactor]) -> Any:
    """(account_id, bit) for every account with a factor: one UNION of three set-based selects."""
    item, ch, acc, prod = InstallBaseItem, Characteristic, Account, Product
    parts = []
    chars = [(i, f) for i, f in enumerate(factors) if f.kind == "characteristic"]
    if chars:
        conds = [(and_(ch.name == f.name, ch.value == f.value), 1 << i) for i, f in chars]
        parts.append(
            select(item.account_id.label("account_id"), sql_case(*conds).label("bit"))
            .join(item, item.id == ch.item_id)
            .where(or_(*(c for c, _ in conds)))
        )
    prods = [(i, f) for i, f in enumerate(factors) if f.kind == "product"]
    if prods:
        conds = [(prod.name == f.value, 1 << i) for i, f in prods]
        parts.append(
            select(item.account_id.label("account_id"), sql_case(*conds).label("bit"))
            .join(prod, prod.id == item.product_id)
            .where(prod.name.in_([f.value for _, f in prods]))
        )
    for i, f in enumerate(factors):
        if f.kind == "account":
            column = acc.tier if f.name == "tier" else acc.region
            parts.append(select(acc.id.label("account_id"), literal(1 << i).label("bit")).where(column == f.value))
    # Every part names its columns: the union takes its names from whichever part comes first.
    bits = union(*parts).subquery("bits")
    return select(bits.c.account_id, func.sum(bits.c.bit).label("mask")).group_by(bits.c.account_id).subquery("masks")


def _likelihood(mask: int, factors: Sequence[LikelyFactor], prior_logit: float) -> float:
    logit = prior_logit + sum(f.weight for i, f in enumerate(factors) if mask >> i & 1)
    return 1.0 / (1.0 + math.exp(-logit))


async def likely_affected(
    domain: Domain,
    actor: Actor,
    *,
    major_case_id: int | None = None,
    account_numbers: Sequence[str] = (),
    limit: int = 50,
    offset: int = 0,
) -> LikelyAffectedView:
    """Who else is likely affected, given the accounts known to be (a major case's affected
    accounts, or the numbers given): the shared factors, then a page of other external accounts
    ordered by severity × likelihood, each explained. Staff only."""
    require(actor, Permission.VIEW_CASES)
    if (major_case_id is None) == (not account_numbers):
        raise InvalidInput("name a major case or the affected accounts — one of the two")
    if not 1 <= limit <= MAX_SHOWN:
        raise InvalidInput(f"limit must be between 1 and {MAX_SHOWN}")
    if offset < 0:
        raise InvalidInput("offset must not be negative")
    settings = _settings(domain)
    async with domain.reading() as session:
        if major_case_id is not None:
            await load_case(session, major_case_id)
            known: Any = select(CaseAccount.account_id).where(CaseAccount.case_id == major_case_id)
            k = await session.scalar(select(func.count()).select_from(known.subquery())) or 0
        else:
            numbers = list(dict.fromkeys(n.strip() for n in account_numbers if n.strip()))
            found = dict(
                (await session.execute(select(Account.number, Account.id).where(Account.number.in_(numbers)))).all()
            )
            unknown = [n for n in numbers if n not in found]
            if unknown:
                raise NotFound(f"{len(unknown)} unknown account numbers: {', '.join(unknown[:10])}")
            known = list(found.values())
            k = len(known)
        population = await session.scalar(select(func.count()).select_from(Account)) or 0
        empty = LikelyAffectedView(
            major_case_id=major_case_id,
            major_case_number=case_number(major_case_id) if major_case_id else None,
            known_accounts=k,
            population=population,
            factors=(),
            total=0,
            offset=offset,
            accounts=(),
        )
        if k == 0 or population <= k:
            return empty

        features = _feature_rows(known)
        shared = list(
            await session.execute(
                select(
                    features.c.kind, features.c.name, features.c.value, func.count(func.distinct(features.c.account_id))
                )
                .group_by(features.c.kind, features.c.name, features.c.value)
                .having(func.count(func.distinct(features.c.account_id)) >= settings.min_support)
            )
        )
        keys = [(kind, name, value) for kind, name, value, _ in shared]
        base = await _base_counts(session, keys)
        factors = []
        for kind, name, value, a in shared:
            n = max(base.get((kind, name, value), a), a)
            lift = (a / k) / (n / population)
            p = hypergeometric_tail(population, n, k, a)
            if lift < settings.min_lift or p > settings.max_p:
                continue
            likelihood_ratio = ((a + 0.5) / (k + 1)) / ((n - a + 0.5) / (population - k + 1))
            factors.append(
                LikelyFactor(
                    kind=kind,
                    name=name,
                    value=value,
                    affected_with=a,
                    affected=k,
                    base_with=n,
                    base=population,
                    lift=round(lift, 2),
                    p_value=p,
                    weight=math.log(likelihood_ratio),
                )
            )
        factors.sort(key=lambda f: (f.p_value, -f.lift, f.label))
        factors = factors[:MAX_FACTORS]
        if not factors:
            return empty

        prior_logit = math.log(k / (population - k))
        masks = _bits(factors)
        not_known = Account.id.not_in(known)
        groups = list(
            await session.execute(
                select(masks.c.mask, Account.tier, func.count())
                .join(Account, Account.id == masks.c.account_id)
                .where(Account.is_external.is_(True), not_known)
                .group_by(masks.c.mask, Account.tier)
            )
        )
        scored = sorted(
            (
                (tier_severity(tier) * _likelihood(int(mask), factors, prior_logit), int(mask), tier, count)
                for mask, tier, count in groups
            ),
            key=lambda g: (-g[0], -g[1], g[2] or ""),
        )
        total = sum(g[3] for g in scored)
        needed, seen = [], 0
        for g in scored:
            if seen >= offset + limit:
                break
            needed.append(g)
            seen += g[3]
        if not needed:
            return LikelyAffectedView(**{**_fields(empty), "factors": tuple(factors), "total": total})
        rank = sql_case(
            *((and_(masks.c.mask == m, Account.tier == t), i) for i, (_, m, t, _) in enumerate(needed)),
            else_=len(needed),
        )
        rows = await session.execute(
            select(Account.id, Account.number, Account.name, Account.tier, Account.region, masks.c.mask)
            .join(masks, masks.c.account_id == Account.id)
            .where(
                Account.is_external.is_(True),
                not_known,
                or_(*(and_(masks.c.mask == m, Account.tier == t) for _, m, t, _ in needed)),
            )
            .order_by(rank, Account.number)
            .limit(limit)
            .offset(offset)
        )
        accounts = []
        for r in rows:
            mask = int(r.mask)
            likelihood = _likelihood(mask, factors, prior_logit)
            severity = tier_severity(r.tier)
            mine = [f for i, f in enumerate(factors) if mask >> i & 1]
            explanation = (
                "; ".join(
                    f"{f.label} ({f.affected_with}/{f.affected} affected vs {f.base_with}/{f.base} accounts, "
                    f"×{f.lift:g})"
                    for f in mine
                )
                + f" → likelihood {likelihood:.0%} × severity {severity} ({r.tier or 'no tier'})"
            )
            accounts.append(
                LikelyAccountView(
                    account_id=r.id,
                    number=r.number,
                    name=r.name,
                    tier=r.tier,
                    region=r.region,
                    severity=severity,
                    likelihood=round(likelihood, 4),
                    score=round(severity * likelihood, 4),
                    factors=tuple(f.label for f in mine),
                    explanation=explanation,
                )
            )
        return LikelyAffectedView(
            major_case_id=major_case_id,
            major_case_number=case_number(major_case_id) if major_case_id else None,
            known_accounts=k,
            population=population,
            factors=tuple(factors),
            total=total,
            offset=offset,
            accounts=tuple(accounts),
        )


def _fields(view: LikelyAffectedView) -> dict[str, Any]:
    return {name: getattr(view, name) for name in view.__dataclass_fields__}


async def add_likely_accounts(
    domain: Domain, actor: Actor, major_case_id: int, account_numbers: Sequence[str]
) -> AccountsAddedResult:
    """Add chosen likely accounts to a major case's recipients (source ``likely``).

    A manager adds them to the major case or a proposal (``add_affected_accounts``: on an
    approved major case they get their child cases and notices at once). An agent may add them
    to a *proposed* case only, where they wait for the manager's approval like every other
    affected account of the proposal."""
    if actor.can(Permission.MANAGE_CHILD_CASES):
        return await major_cases.add_affected_accounts(domain, actor, major_case_id, account_numbers, source="likely")
    require(actor, Permission.PROPOSE_MAJOR_CASE)
    numbers = major_cases.clean_account_numbers(account_numbers)
    async with domain.transaction(actor) as tx:
        session = tx.session
        case = await load_case(session, major_case_id, lock=True)
        number = case_number(case.id)
        if case.major_case_state != MajorCaseState.PROPOSED or case.state not in ACTIVE:
            raise IllegalTransition(
                f"{number} is not an open proposal: an agent adds likely accounts to proposals, "
                "a manager to approved major cases"
            )
        ids = await major_cases.account_ids_for(tx, numbers)
        present = set(await session.scalars(select(CaseAccount.account_id).where(CaseAccount.case_id == case.id)))
        new_ids = [a for a in ids if a not in present]
        if new_ids:
            await session.execute(
                insert(CaseAccount), [{"case_id": case.id, "account_id": a, "source": "likely"} for a in new_ids]
            )
        case.updated_at = tx.now
        tx.record(
            case.id,
            MajorCaseAccountsAdded(
                number=number,
                accounts_added=len(new_ids),
                accounts_already=len(ids) - len(new_ids),
                children=0,
                notices=0,
                notices_skipped=0,
                source="likely",
            ),
        )
        return AccountsAddedResult(
            case_id=case.id,
            number=number,
            accounts_added=len(new_ids),
            accounts_already=len(ids) - len(new_ids),
            children_created=0,
            notices_queued=0,
            notices_skipped=0,
        )
