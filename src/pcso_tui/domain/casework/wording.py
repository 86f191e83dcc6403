"""What customers are told a case is: its customer-facing title and summary (DESIGN §4, "two
kinds of text").

A case's ``short_description`` and ``description`` are internal: they name alerts, hosts and
CIs. Notices, the portal and the status page read only ``public_title`` and ``public_summary``.
Those start from a neutral template per service (``[casework] public_title`` and
``public_summary``, ``{service}`` the case's public service name) when a proactive case or a
major case candidate opens, when a case is proposed, and at approval if still empty; a person
words them with ``set_case_wording``.
"""

from __future__ import annotations

from pcso_tui.domain.casework.records import clean_text, load_case
from pcso_tui.domain.casework.views import CaseWording
from pcso_tui.domain.communications.outages import case_service_name
from pcso_tui.domain.core.errors import InvalidInput
from pcso_tui.domain.core.event_kinds import CaseWorded
from pcso_tui.domain.core.events import Transaction
from pcso_tui.domain.core.models import Case
from pcso_tui.domain.core.roles import Actor, Permission, require
from pcso_tui.domain.core.service import Domain
from pcso_tui.domain.core.settings import CaseworkSettings
from pcso_tui.domain.core.text import customer_line, customer_text
from pcso_tui.domain.core.versions import check_version
from pcso_tui.domain.core.views import case_number

TITLE_MAX = 200
SUMMARY_MAX = 4000


def template_wording(settings: CaseworkSettings, service: str) -> tuple[str, str]:
    """The neutral (title, summary) the template gives a case on ``service``."""
    return (
        customer_line(settings.public_title.format(service=service), TITLE_MAX),
        customer_text(settings.public_summary.format(service=service)),
    )


async def prefill_wording(tx: Transaction, case: Case, settings: CaseworkSettings) -> None:
    """Fill what is still empty of the case's wording from the neutral template, inside the
    caller's transaction (the case is flushed: it has its id and impact). Words a person set
    are kept."""
    if case.public_title and case.public_summary:
        return
    await tx.session.flush()
    title, summary = template_wording(settings, await case_service_name(tx.session, case.id))
    case.public_title = case.public_title or title
    case.public_summary = case.public_summary or summary


def clean_title(value: str) -> str:
    title = customer_line(clean_text(value, "a customer-facing title", limit=TITLE_MAX))
    if not title:
        raise InvalidInput("a customer-facing title is required")
    return title


def clean_summary(value: str) -> str:
    return customer_text(clean_text(value, "the customer-facing summary", required=False, limit=SUMMARY_MAX))


async def set_case_wording(
    domain: Domain,
    actor: Actor,
    case_id: int,
    *,
    title: str | None = None,
    summary: str | None = None,
    expected_version: int | None = None,
) -> CaseWording:
    """Word what customers are told about a case (agents and managers): its customer-facing
    title and/or summary, one versioned edit. Notices queued later, the portal and the status
    page read these words, never the case's internal description."""
    require(actor, Permission.WORK_CASE)
    if title is None and summary is None:
        raise InvalidInput("give a customer-facing title, a summary, or both")
    new_title = clean_title(title) if title is not None else None
    new_summary = clean_summary(summary) if summary is not None else None
    async with domain.transaction(actor) as tx:
        case = await load_case(tx.session, case_id, lock=True)
        number = case_number(case.id)
        await check_version(tx.session, "case", case.id, number, case.version, expected_version)
        if new_title is not None:
            case.public_title = new_title
        if new_summary is not None:
            case.public_summary = new_summary
        case.updated_at = tx.now
        tx.record(case.id, CaseWorded(number=number, title=new_title, summary=new_summary, by=actor.name))
        await tx.session.flush()
        return CaseWording(
            case_id=case.id,
            number=number,
            title=case.public_title or "",
            summary=case.public_summary or "",
            version=case.version,
        )


async def case_wording(domain: Domain, actor: Actor, case_id: int) -> CaseWording:
    """A case's customer-facing title and summary, for the wording dialog (staff)."""
    require(actor, Permission.VIEW_CASES)
    async with domain.reading() as session:
        case = await load_case(session, case_id)
        return CaseWording(
            case_id=case.id,
            number=case_number(case.id),
            title=case.public_title or "",
            summary=case.public_summary or "",
            version=case.version,
        )
