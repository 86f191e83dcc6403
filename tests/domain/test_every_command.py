"""Every domain command with every role: the refused ones raise PermissionDenied and change
nothing; customers reach only their own account.

``ALLOWED`` is the explicit list of commands and who may call them. A new command (a public
coroutine of a domain module taking ``domain, actor``) fails ``test_every_command_is_listed``
until it is added here with the roles it admits.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from pcso_tui.domain.core.errors import PermissionDenied
from pcso_tui.domain.core.models import Account, Base
from pcso_tui.domain.core.roles import Actor, Role
from pcso_tui.domain.core.service import Domain
from tests.domain.commands import arguments, discover

OP, G, M, C, A = Role.OPERATOR, Role.AGENT, Role.MANAGER, Role.CUSTOMER, Role.ADMIN
EVERYONE = frozenset(Role)
STAFF = frozenset({OP, G, M, A})
OPS = frozenset({OP, A})
AGENTS = frozenset({G, M, A})
MANAGERS = frozenset({M, A})
ADMIN = frozenset({A})
PORTAL = frozenset({C, G, M, A})

# Customers listed here are admitted to their own account's data only (see the scope test).
ALLOWED: dict[str, frozenset[Role]] = {
    "alerts.acknowledge_alert": OPS,
    "alerts.add_maintenance_window": OPS,
    "alerts.alert_versions": STAFF,
    "alerts.count_alerts": STAFF,
    "alerts.get_alert": STAFF,
    "alerts.ingest": OPS,
    "alerts.ingest_payload": OPS,
    "alerts.list_alerts": STAFF,
    "alerts.list_maintenance_windows": STAFF,
    "alerts.sweep_alerts": OPS,
    "alerts.unacknowledge_alert": OPS,
    "articles.attach_article": AGENTS,
    "articles.create_article": AGENTS,
    "articles.detach_article": AGENTS,
    "articles.list_articles": EVERYONE,
    "articles.open_article": EVERYONE,
    "articles.search_articles": EVERYONE,
    "articles.update_article": AGENTS,
    "audit.history": STAFF,
    "audit.list_events": STAFF,
    "catalogue.list_catalogue": STAFF,
    "catalogue.set_catalogue_entry": ADMIN,
    "cases.add_case_note": EVERYONE,
    "replies.list_replies": AGENTS,
    "duplicates.duplicate_proposals": STAFF,
    "duplicates.merge_proposal": MANAGERS,
    "lookup.find_records": EVERYONE,
    "cases.close_resolved_cases": MANAGERS,
    "cases.get_case": EVERYONE,
    "cases.list_cases": EVERYONE,
    "cases.open_proactive_case": OPS,
    "cases.open_proactive_cases_by_rule": OPS,
    "cases.open_reactive_case": AGENTS,
    "cases.set_case_priority": AGENTS,
    "cases.set_case_state": AGENTS,
    "dashboard.drill_down": STAFF,
    "dashboard.kpis": STAFF,
    "delivery.list_notices": EVERYONE,
    "delivery.notice_message": EVERYONE,
    "delivery.notice_counts": EVERYONE,
    "delivery.retry_dead_notices": MANAGERS,
    "delivery.retry_notice": MANAGERS,
    "impact.account_health": EVERYONE,
    "impact.impact_of": STAFF,
    "importer.import_records": ADMIN,
    "correlation.open_proactive_cases_after": OPS,
    "incidents.add_incident_note": STAFF,
    "incidents.close_incident": OPS,
    "incidents.get_incident": STAFF,
    "incidents.list_incidents": STAFF,
    "incidents.open_incident": OPS,
    "incidents.resolve_incident": OPS,
    "incidents.set_incident_eta": OPS,
    "incidents.set_incident_state": OPS,
    "insight.add_likely_accounts": AGENTS,
    "insight.attach_to_known_outage": AGENTS,
    "insight.case_known_outages": STAFF,
    "insight.find_topic": STAFF,
    "insight.grouped_cases": STAFF,
    "insight.known_outages": STAFF,
    "insight.likely_affected": STAFF,
    "insight.link_cases": MANAGERS,
    "insight.link_grouped": MANAGERS,
    "insight.link_topic": MANAGERS,
    "insight.propose_from_topic": AGENTS,
    "insight.propose_major_from_cases": AGENTS,
    "insight.propose_recommended": AGENTS,
    "insight.recommend": STAFF,
    "insight.similar_cases": STAFF,
    "insight.trending_topics": STAFF,
    "accounts.get_account": EVERYONE,
    "accounts.list_accounts": EVERYONE,
    "accounts.list_cis": STAFF,
    "major_cases.add_affected_accounts": MANAGERS,
    "major_cases.approve_major_case": MANAGERS,
    "major_cases.attach_case": MANAGERS,
    "major_cases.close_major_case": MANAGERS,
    "major_cases.open_major_candidate": AGENTS,
    "major_cases.post_statement": MANAGERS,
    "major_cases.preview_approval": MANAGERS,
    "major_cases.propose_major_case": AGENTS,
    "major_cases.reject_major_case": MANAGERS,
    "major_cases.resolve_major_case": MANAGERS,
    "outages.case_outage": frozenset({OP, M, A}),
    "outages.create_outage": frozenset({OP, M, A}),
    "outages.end_outage": frozenset({OP, M, A}),
    "outages.list_outages": EVERYONE,
    "outages.update_outage": frozenset({OP, M, A}),
    "portal.get_article": PORTAL,
    "portal.get_case": PORTAL,
    "portal.get_outage": PORTAL,
    "portal.intake_known_outages": PORTAL,
    "portal.list_articles": PORTAL,
    "portal.list_cases": PORTAL,
    "portal.list_outages": PORTAL,
    "portal.list_products": PORTAL,
    "portal.open_own_case": frozenset({C}),
    "portal.portal_account": PORTAL,
    "portal.reply_to_case": frozenset({C}),
    "timeline.case_timeline": STAFF,
    "timeline.list_major_queue": STAFF,
    "users.add_user": ADMIN,
    "users.current_user": EVERYONE,
    "users.list_users": ADMIN,
    "users.mark_demo": ADMIN,
    "user_keys.add_user_key": ADMIN,
    "user_keys.list_user_keys": ADMIN,
    "user_keys.remove_user_key": ADMIN,
    "web_access.end_session": ADMIN,
    "web_access.redeem_sign_in_link": ADMIN,
    "web_access.request_sign_in_link": ADMIN,
    "web_access.session_identity": ADMIN,
    "web_access.start_session": ADMIN,
    "wording.case_wording": STAFF,
    "wording.set_case_wording": AGENTS,
    "world.seed_world": ADMIN,
    "simulation.proactivity": STAFF,
}

# Placeholders that would be refused as bad input before the role is looked at.
OVERRIDES: dict[str, tuple[list[Any], dict[str, Any]]] = {
    "users.add_user": (["newcomer", "agent"], {}),
}


def test_every_command_is_listed() -> None:
    found = set(discover())
    assert sorted(found - set(ALLOWED)) == [], "new commands: add them to ALLOWED with the roles they admit"
    assert sorted(set(ALLOWED) - found) == [], "commands that no longer exist"


async def table_counts(domain: Domain) -> dict[str, int]:
    async with domain.reading() as session:
        return {t.name: await session.scalar(select(func.count()).select_from(t)) for t in Base.metadata.sorted_tables}


async def test_every_refused_role_is_refused_and_nothing_changes(domain: Domain, actors: dict[Role, Actor]) -> None:
    before = await table_counts(domain)
    admitted: dict[str, set[Role]] = {}
    for name, fn in sorted(discover().items()):
        for role in Role:
            if role in ALLOWED[name]:
                continue
            args, kwargs = OVERRIDES.get(name) or arguments(fn, domain.clock())
            with pytest.raises(PermissionDenied, match=r"may not|only") as refused:
                await fn(domain, actors[role], *args, **kwargs)
            assert refused.value.exit_code == 4
            admitted.setdefault(name, set())
        assert await table_counts(domain) == before, name
    assert len(admitted) > 60


async def test_admitted_roles_are_not_refused_by_role(domain: Domain, actors: dict[Role, Actor]) -> None:
    """With ids that exist nowhere, an admitted caller meets NotFound or an empty answer, never a
    role refusal (heavy writers, seeding and imports, are left to their own tests)."""
    skip = {"world.seed_world", "importer.import_records", "users.add_user", "alerts.sweep_alerts"}
    for name, fn in sorted(discover().items()):
        if name in skip:
            continue
        for role in ALLOWED[name]:
            args, kwargs = arguments(fn, domain.clock())
            try:
                await fn(domain, actors[role], *args, **kwargs)
            except PermissionDenied as exc:
                assert "may not " not in exc.message, (name, role, exc.message)
            except Exception:
                pass


async def test_a_customer_reaches_only_their_own_account(domain: Domain, actors: dict[Role, Actor]) -> None:
    from pcso_tui.domain.casework.cases import list_cases
    from pcso_tui.domain.install_base.accounts import get_account, list_accounts
    from pcso_tui.domain.install_base.impact import account_health

    customer = actors[Role.CUSTOMER]
    async with domain.transaction(actors[Role.ADMIN]) as tx:
        other = Account(number="ACC-OTHER", name="Someone else", created_at=tx.now)
        tx.session.add(other)
        await tx.session.flush()
        other_id = other.id
    before = await table_counts(domain)
    for number in ("ACC-OTHER", "ACC-NOWHERE"):  # the same answer: nothing about other accounts
        with pytest.raises(PermissionDenied, match="may only see their own account"):
            await get_account(domain, customer, number)
    with pytest.raises(PermissionDenied):
        await account_health(domain, customer, other_id)
    assert [a.number for a in await list_accounts(domain, customer)] == ["ACC-T1"]
    assert all(c.account_number in (None, "ACC-T1") for c in await list_cases(domain, customer))
    with pytest.raises(PermissionDenied, match="may only see their own account"):
        await list_cases(domain, customer, account="ACC-OTHER")
    assert (await get_account(domain, customer, "ACC-T1")).account.number == "ACC-T1"
    assert await table_counts(domain) == before
