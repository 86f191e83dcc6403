"""Records by number or name, for go-to (the palette and Ctrl+G on every screen).

``find_records(domain, actor, "CS0000074")`` → the matching records, each a ``RecordRef``:
``CS…`` a case, ``INC…`` an incident, ``OUT…`` a status page outage, a bare number an alert id,
otherwise an account number or a CI name (exact first, then names that start with it). Each
role finds only what it may see: customers only their own account's cases, staff everything
their permissions let them view. Nothing found is an empty answer, not an error.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy import func, select

from pcso_tui.domain.core.errors import InvalidInput
from pcso_tui.domain.core.models import Account, Alert, Case, ConfigurationItem, Incident, Outage
from pcso_tui.domain.core.roles import PERMISSIONS, Actor, Permission, Role
from pcso_tui.domain.core.service import Domain
from pcso_tui.domain.core.text import one_line
from pcso_tui.domain.core.views import case_number, incident_number, outage_number, parse_number
from pcso_tui.domain.operations.views import RecordRef

MAX_QUERY = 200
HINT = "type a number: CS…, INC…, OUT…, ACC…, an alert id or a CI name"


def _may(actor: Actor, permission: Permission) -> bool:
    return permission in PERMISSIONS[actor.role]


def _prefixed(text: str, prefix: str) -> int | None:
    upper = text.upper()
    if not upper.startswith(prefix) or not upper[len(prefix) :].isdigit():
        return None
    return parse_number(upper, prefix)


def _shown(found: list[RecordRef], limit: int) -> tuple[RecordRef, ...]:
    return tuple(replace(r, title=one_line(r.title, 200)) for r in found[:limit])


async def find_records(domain: Domain, actor: Actor, text: str, *, limit: int = 8) -> tuple[RecordRef, ...]:
    """The records ``text`` names (see the module docstring), at most ``limit``."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput(HINT)
    text = text.strip()
    if len(text) > MAX_QUERY:
        raise InvalidInput(f"at most {MAX_QUERY} characters; {HINT}")
    if not 1 <= limit <= 50:
        raise InvalidInput("limit must be between 1 and 50")
    staff = actor.role is not Role.CUSTOMER
    found: list[RecordRef] = []
    async with domain.reading() as session:

        async def first(query: Any) -> Any:
            return (await session.execute(query.limit(1))).first()

        if (case_id := _prefixed(text, "CS")) is not None:
            query = select(
                Case.id, Case.kind, Case.major_case_state, Case.short_description, Case.public_title, Case.account_id
            ).where(Case.id == case_id)
            if staff and not _may(actor, Permission.VIEW_CASES):
                return ()
            if not staff:  # customers: their own account's cases, by the customer-facing title
                query = query.where(Case.account_id == actor.account_id, Case.account_id.is_not(None))
            if (row := await first(query)) is not None:
                title = row.short_description if staff else (row.public_title or case_number(row.id))
                found.append(RecordRef("case", row.id, case_number(row.id), title, row.kind, row.major_case_state))
            return _shown(found, limit)
        if not staff:
            return ()
        operations = _may(actor, Permission.VIEW_OPERATIONS)
        if (incident_id := _prefixed(text, "INC")) is not None:
            row = await first(select(Incident.id, Incident.title).where(Incident.id == incident_id))
            if row is not None and operations:
                found.append(RecordRef("incident", row.id, incident_number(row.id), row.title))
            return _shown(found, limit)
        if (outage_id := _prefixed(text, "OUT")) is not None:
            row = await first(select(Outage.id, Outage.title, Outage.case_id).where(Outage.id == outage_id))
            if row is not None:
                found.append(RecordRef("outage", row.id, outage_number(row.id), row.title, case_id=row.case_id))
            return _shown(found, limit)
        if text.isdigit():
            if operations:
                row = await first(select(Alert.id, Alert.name).where(Alert.id == int(text)))
                if row is not None:
                    found.append(RecordRef("alert", row.id, f"alert {row.id}", row.name))
            return _shown(found, limit)
        row = await first(
            select(Account.id, Account.number, Account.name).where(func.upper(Account.number) == text.upper())
        )
        if row is not None:
            found.append(RecordRef("account", row.id, row.number, row.name))
        if operations:
            exact = await first(
                select(ConfigurationItem.id, ConfigurationItem.name).where(ConfigurationItem.name == text)
            )
            if exact is not None:
                found.append(RecordRef("ci", exact.id, exact.name, exact.name))
            pattern = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            starting = await session.execute(
                select(ConfigurationItem.id, ConfigurationItem.name)
                .where(ConfigurationItem.name.like(pattern, escape="\\"), ConfigurationItem.name != text)
                .order_by(ConfigurationItem.name)
                .limit(limit)
            )
            found += [RecordRef("ci", r.id, r.name, r.name) for r in starting]
    return _shown(found, limit)
