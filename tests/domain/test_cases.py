"""Cases: proactive and reactive cases, states, journal, queries, role checks, customer scope."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from itertools import product
from typing import Any

import pytest
from sqlalchemy import select, update

from pcso_tui.domain.casework import cases
from pcso_tui.domain.casework.major_cases import approve_major_case, propose_major_case
from pcso_tui.domain.core.errors import Conflict, IllegalTransition, InvalidInput, NotFound, PermissionDenied
from pcso_tui.domain.core.models import Case, CaseAccount, Incident, JournalEntry
from pcso_tui.domain.core.roles import Actor, Role
from pcso_tui.domain.core.service import Domain
from pcso_tui.domain.core.settings import Settings, WorkflowSettings
from pcso_tui.domain.core.states import CASE_TRANSITIONS, CaseState
from tests.domain.case_world import AFFECTED, HOSTILE, World, build_world, counts, events, new_incident

Actors = dict[Role, Actor]


@pytest.fixture
async def world(domain: Domain, actors: Actors) -> World:
    return await build_world(domain)


def no_rule(domain: Domain) -> None:
    domain.settings = Settings(workflow=WorkflowSettings(on_proactive_case="none"))


async def force_state(domain: Domain, case_id: int, state: str) -> None:
    async with domain.db.writing() as session:
        await session.execute(update(Case).where(Case.id == case_id).values(state=state))


async def reactive(domain: Domain, actors: Actors, account: str = "ACC-T1", **kw: Any) -> cases.CaseView:
    kw.setdefault("short_description", "Phones dead")
    return await cases.open_reactive_case(domain, actors[Role.AGENT], account_number=account, **kw)


# --- proactive cases ------------------------------------------------------------------------


async def test_proactive_case_carries_incident_worst_alert_priority_and_impact(
    domain: Domain, actors: Actors, world: World
) -> None:
    no_rule(domain)
    view = await cases.open_proactive_case(domain, actors[Role.OPERATOR], world.incident_id)
    assert (view.kind, view.state, view.major_case_state) == ("proactive", "new", "none")
    assert (view.priority, view.priority_name) == (1, "critical")
    assert view.incident_id == world.incident_id and view.incident_state == "in_progress"
    assert view.affected_accounts == len(AFFECTED)
    # Untrusted text is kept as data, not interpreted or rewritten.
    assert view.short_description == f"host-1 down {HOSTILE}"
    detail = await cases.get_case(domain, actors[Role.AGENT], view.id)
    assert detail.alert is not None and detail.alert.id == world.critical_alert_id
    assert detail.incident is not None and detail.incident.number == view.incident_number
    assert sorted(a.number for a in detail.accounts) == AFFECTED
    assert detail.items_total == len(AFFECTED)
    assert "ACC-X" not in {i.account_number for i in detail.items}
    (opened,) = await events(domain, "case.opened")
    assert opened.subject_id == view.id
    assert opened.payload["accounts"] == len(AFFECTED) and opened.payload["items"] == len(AFFECTED)
    assert opened.actor_name == "operator"


async def test_proactive_case_takes_the_alert_it_is_given(domain: Domain, actors: Actors, world: World) -> None:
    no_rule(domain)
    view = await cases.open_proactive_case(
        domain, actors[Role.OPERATOR], world.incident_id, alert_id=world.minor_alert_id
    )
    detail = await cases.get_case(domain, actors[Role.OPERATOR], view.id)
    assert detail.alert is not None and detail.alert.id == world.minor_alert_id
    # Priority follows the incident's severity, not the chosen alert's.
    assert view.priority == 1


@pytest.mark.parametrize(
    ("severity", "priority"), [("critical", 1), ("major", 2), ("minor", 3), ("warning", 4), ("info", 4)]
)
async def test_priority_follows_severity(
    domain: Domain, actors: Actors, world: World, severity: str, priority: int
) -> None:
    no_rule(domain)
    async with domain.db.writing() as session:
        await session.execute(update(Incident).where(Incident.id == world.incident_id).values(severity=severity))
    view = await cases.open_proactive_case(domain, actors[Role.OPERATOR], world.incident_id)
    assert view.priority == priority


async def test_one_open_proactive_case_per_incident(domain: Domain, actors: Actors, world: World) -> None:
    no_rule(domain)
    first = await cases.open_proactive_case(domain, actors[Role.OPERATOR], world.incident_id)
    before = await counts(domain)
    with pytest.raises(Conflict, match=f"already has an open proactive case, {first.number}"):
        await cases.open_proactive_case(domain, actors[Role.OPERATOR], world.incident_id)
    assert await counts(domain) == before
    # Once the first is no longer active, a new one may be opened.
    await cases.set_case_state(domain, actors[Role.AGENT], first.id, "canceled")
    second = await cases.open_proactive_case(domain, actors[Role.OPERATOR], world.incident_id)
    assert second.id != first.id


@pytest.mark.parametrize(
    ("kind", "error", "message"),
    [
        ("unknown incident", NotFound, "no incident INC0009999"),
        ("unknown alert", NotFound, "no alert 9999"),
        ("alert of another incident", InvalidInput, "is not part of"),
        ("resolved incident", IllegalTransition, "is resolved: proactive cases are opened on active incidents"),
    ],
)
async def test_bad_proactive_case_input_changes_nothing(
    domain: Domain, actors: Actors, world: World, kind: str, error: type, message: str
) -> None:
    incident, alert = world.incident_id, None
    if kind == "unknown incident":
        incident = 9999
    elif kind == "unknown alert":
        alert = 9999
    elif kind == "alert of another incident":
        alert = world.other_alert_id
    else:
        async with domain.db.writing() as session:
            await session.execute(update(Incident).where(Incident.id == incident).values(state="resolved"))
    before = await counts(domain)
    with pytest.raises(error, match=message):
        await cases.open_proactive_case(domain, actors[Role.OPERATOR], incident, alert_id=alert)
    assert await counts(domain) == before


# --- reactive cases -----------------------------------------------------------------------


async def test_reactive_case_defaults_to_the_primary_contact(domain: Domain, actors: Actors, world: World) -> None:
    view = await reactive(domain, actors, "ACC-2", short_description=HOSTILE, channel="email")
    assert (view.kind, view.state, view.account_number, view.channel) == ("reactive", "new", "ACC-2", "email")
    assert view.short_description == HOSTILE
    detail = await cases.get_case(domain, actors[Role.AGENT], view.id)
    assert detail.contact_number == "C-ACC-2"
    assert [(a.number, a.source) for a in detail.accounts] == [("ACC-2", "reported")]


async def test_reactive_case_takes_a_named_contact_and_product(domain: Domain, actors: Actors, world: World) -> None:
    view = await reactive(domain, actors, "ACC-NOC", contact_number="C-ACC-NOC-2", product_number="P-PBX")
    detail = await cases.get_case(domain, actors[Role.AGENT], view.id)
    assert (detail.contact_number, detail.product_name) == ("C-ACC-NOC-2", "Cloud PBX")


@pytest.mark.parametrize(
    ("kw", "error", "message"),
    [
        ({"account_number": "NOPE"}, NotFound, "no account numbered 'NOPE'"),
        ({"contact_number": "C-NOPE"}, NotFound, "no contact numbered 'C-NOPE'"),
        ({"contact_number": "C-ACC-2"}, InvalidInput, "does not belong to account 'ACC-T1'"),
        ({"product_number": "P-NOPE"}, NotFound, "no product numbered 'P-NOPE'"),
        ({"channel": "pigeon"}, InvalidInput, "unknown channel 'pigeon'"),
        ({"short_description": "   "}, InvalidInput, "a short description is required"),
        ({"short_description": "x" * 501}, InvalidInput, "501 characters long; the limit is 500"),
    ],
)
async def test_bad_reactive_case_input_changes_nothing(
    domain: Domain, actors: Actors, world: World, kw: dict, error: type, message: str
) -> None:
    args = {"account_number": "ACC-T1", "short_description": "Phones dead"} | kw
    before = await counts(domain)
    with pytest.raises(error, match=message):
        await cases.open_reactive_case(domain, actors[Role.AGENT], **args)
    assert await counts(domain) == before


# --- states -------------------------------------------------------------------------------


async def test_every_case_transition(domain: Domain, actors: Actors, world: World) -> None:
    """Walk every (from, to) pair: the legal ones happen, the rest are refused and change nothing."""
    agent = actors[Role.AGENT]
    for current, target in product(CaseState, CaseState):
        case = await reactive(domain, actors)
        await force_state(domain, case.id, current.value)
        if target in CASE_TRANSITIONS[current]:
            after = await cases.set_case_state(domain, agent, case.id, target.value)
            assert after.state == target.value
            async with domain.reading() as session:
                row = await session.get(Case, case.id)
            assert (row.resolved_at is not None) == (target is CaseState.RESOLVED)
            assert (row.closed_at is not None) == (target is CaseState.CLOSED)
        else:
            before = await counts(domain)
            with pytest.raises(IllegalTransition, match=f"is {current.value} and cannot become {target.value}"):
                await cases.set_case_state(domain, agent, case.id, target.value)
            assert await counts(domain) == before
    kinds = {e.payload["to"] for e in await events(domain, "case.state_changed")}
    assert kinds == {s.value for s in CaseState} - {"new"}


async def test_state_change_checks_the_version(domain: Domain, actors: Actors, world: World) -> None:
    case = await reactive(domain, actors)
    before = await counts(domain)
    with pytest.raises(Conflict, match=r"CS\d+ was changed by agent at 09:00 UTC .* — reload"):
        await cases.set_case_state(domain, actors[Role.AGENT], case.id, "open", expected_version=case.version + 1)
    assert await counts(domain) == before
    after = await cases.set_case_state(domain, actors[Role.AGENT], case.id, "open", expected_version=case.version)
    assert after.version == case.version + 1


@pytest.mark.parametrize(("state", "message"), [("wedged", "unknown case state 'wedged'")])
async def test_unknown_state_is_refused(domain: Domain, actors: Actors, world: World, state: str, message: str) -> None:
    case = await reactive(domain, actors)
    before = await counts(domain)
    with pytest.raises(InvalidInput, match=message):
        await cases.set_case_state(domain, actors[Role.AGENT], case.id, state)
    with pytest.raises(NotFound, match="no case CS0009999"):
        await cases.set_case_state(domain, actors[Role.AGENT], 9999, "open")
    assert await counts(domain) == before


async def test_a_proposal_is_cancelled_when_the_case_stops_being_active(
    domain: Domain, actors: Actors, world: World
) -> None:
    case = await reactive(domain, actors)
    await propose_major_case(domain, actors[Role.AGENT], case.id, reason="many calls", business_impact="all PBXs")
    after = await cases.set_case_state(domain, actors[Role.AGENT], case.id, "resolved")
    assert (after.state, after.major_case_state) == ("resolved", "cancelled")


async def test_priority_changes_and_refusals(domain: Domain, actors: Actors, world: World) -> None:
    case = await reactive(domain, actors)
    after = await cases.set_case_priority(domain, actors[Role.AGENT], case.id, 1)
    assert (after.priority, after.priority_name) == (1, "critical")
    for priority, version, error, message in (
        (0, None, InvalidInput, "priority must be 1 \\(critical\\) to 4 \\(low\\), not 0"),
        (2, after.version - 1, Conflict, r"was changed by agent at 09:00 UTC \(you had version"),
    ):
        before = await counts(domain)
        with pytest.raises(error, match=message):
            await cases.set_case_priority(domain, actors[Role.AGENT], case.id, priority, expected_version=version)
        assert await counts(domain) == before
    await force_state(domain, case.id, "closed")
    with pytest.raises(IllegalTransition, match="is closed; its priority no longer changes"):
        await cases.set_case_priority(domain, actors[Role.AGENT], case.id, 2)


# --- journal ------------------------------------------------------------------------------


async def journal(domain: Domain, case_id: int) -> list[JournalEntry]:
    async with domain.reading() as session:
        return list(await session.scalars(select(JournalEntry).where(JournalEntry.case_id == case_id)))


async def test_work_notes_and_comments_are_kept_apart_and_labelled(
    domain: Domain, actors: Actors, world: World
) -> None:
    case = await reactive(domain, actors)
    await cases.add_case_note(domain, actors[Role.OPERATOR], case.id, "checked the trunk", customer_visible=False)
    await cases.add_case_note(domain, actors[Role.AGENT], case.id, HOSTILE, customer_visible=True)
    await cases.add_case_note(domain, actors[Role.CUSTOMER], case.id, "still down here", customer_visible=True)
    staff = await cases.get_case(domain, actors[Role.AGENT], case.id)
    assert [(line.kind, line.visibility, line.label, line.body) for line in staff.journal] == [
        ("work_note", "internal", "work note · internal", "checked the trunk"),
        ("comment", "customer", "comment · customer-visible", HOSTILE),
        ("reply", "customer", "customer reply · customer-visible", "still down here"),
    ]
    mine = await cases.get_case(domain, actors[Role.CUSTOMER], case.id)
    assert [line.body for line in mine.journal] == [HOSTILE, "still down here"]
    assert len(await events(domain, "case.noted")) == 3


@pytest.mark.parametrize(
    ("role", "visible", "body", "error", "message"),
    [
        (Role.OPERATOR, True, "hello", PermissionDenied, "may not work cases"),
        (Role.CUSTOMER, False, "hello", PermissionDenied, "may only write customer-visible replies"),
        (Role.AGENT, False, "  ", InvalidInput, "the note is required"),
        (Role.AGENT, False, "x" * 20_001, InvalidInput, "the limit is 20000"),
    ],
)
async def test_bad_notes_change_nothing(
    domain: Domain, actors: Actors, world: World, role: Role, visible: bool, body: str, error: type, message: str
) -> None:
    case = await reactive(domain, actors)
    before = await counts(domain)
    with pytest.raises(error, match=message):
        await cases.add_case_note(domain, actors[role], case.id, body, customer_visible=visible)
    assert await counts(domain) == before


async def test_closed_cases_take_no_notes(domain: Domain, actors: Actors, world: World) -> None:
    case = await reactive(domain, actors)
    await force_state(domain, case.id, "closed")
    before = await counts(domain)
    with pytest.raises(IllegalTransition, match="is closed and takes no more notes"):
        await cases.add_case_note(domain, actors[Role.AGENT], case.id, "late", customer_visible=False)
    assert await counts(domain) == before


async def test_customers_comment_only_on_their_own_cases(domain: Domain, actors: Actors, world: World) -> None:
    other = await reactive(domain, actors, "ACC-2")
    before = await counts(domain)
    # Another account's case answers exactly like a missing one.
    with pytest.raises(NotFound, match=f"^no case {other.number}$"):
        await cases.add_case_note(domain, actors[Role.CUSTOMER], other.id, "hi", customer_visible=True)
    with pytest.raises(NotFound, match=r"^no case CS0009999$"):
        await cases.add_case_note(domain, actors[Role.CUSTOMER], 9999, "hi", customer_visible=True)
    assert await counts(domain) == before


# --- queries ------------------------------------------------------------------------------


async def test_list_filters_and_pages(domain: Domain, actors: Actors, world: World) -> None:
    no_rule(domain)
    proactive = await cases.open_proactive_case(domain, actors[Role.OPERATOR], world.incident_id)
    r1 = await reactive(domain, actors, "ACC-2")
    r2 = await reactive(domain, actors, "ACC-3")
    await cases.set_case_state(domain, actors[Role.AGENT], r2.id, "open")
    agent = actors[Role.AGENT]
    # Most urgent first: priority 1 (the proactive case), then the oldest.
    assert [c.id for c in await cases.list_cases(domain, agent)] == [proactive.id, r1.id, r2.id]
    assert [c.id for c in await cases.list_cases(domain, agent, kind="reactive")] == [r1.id, r2.id]
    assert [c.id for c in await cases.list_cases(domain, agent, state="open")] == [r2.id]
    assert [c.id for c in await cases.list_cases(domain, agent, account="ACC-2")] == [r1.id]
    assert [c.id for c in await cases.list_cases(domain, agent, incident_id=world.incident_id)] == [proactive.id]
    assert [c.id for c in await cases.list_cases(domain, agent, limit=1, offset=1)] == [r1.id]
    assert await cases.list_cases(domain, agent, major_case_state="proposed") == []
    listed = (await cases.list_cases(domain, agent, kind="proactive"))[0]
    assert (listed.affected_accounts, listed.incident_number, listed.age_seconds) == (
        len(AFFECTED),
        proactive.incident_number,
        0,
    )


@pytest.mark.parametrize(
    ("kw", "error", "message"),
    [
        ({"kind": "weird"}, InvalidInput, "unknown case kind 'weird'"),
        ({"state": "weird"}, InvalidInput, "unknown case state 'weird'"),
        ({"major_case_state": "weird"}, InvalidInput, "unknown major case state 'weird'"),
        ({"limit": 0}, InvalidInput, "limit must be between 1 and 1000"),
        ({"offset": -1}, InvalidInput, "offset must not be negative"),
        ({"account": "NOPE"}, NotFound, "no account numbered 'NOPE'"),
    ],
)
async def test_bad_list_arguments(domain: Domain, actors: Actors, world: World, kw, error, message) -> None:
    with pytest.raises(error, match=message):
        await cases.list_cases(domain, actors[Role.AGENT], **kw)


async def test_case_detail_pages_accounts_and_items(domain: Domain, actors: Actors, world: World) -> None:
    no_rule(domain)
    view = await cases.open_proactive_case(domain, actors[Role.OPERATOR], world.incident_id)
    page = await cases.get_case(domain, actors[Role.AGENT], view.id, accounts_limit=2, accounts_offset=2, items_limit=4)
    assert page.accounts_total == len(AFFECTED) and page.items_total == len(AFFECTED)
    assert [a.number for a in page.accounts] == AFFECTED[2:4]
    assert len(page.items) == 4
    noc = (await cases.get_case(domain, actors[Role.AGENT], view.id)).accounts[AFFECTED.index("ACC-NOC")]
    assert noc.contact_name is None
    with pytest.raises(InvalidInput, match="accounts_limit must be between"):
        await cases.get_case(domain, actors[Role.AGENT], view.id, accounts_limit=0)
    with pytest.raises(NotFound, match="no case CS0009999"):
        await cases.get_case(domain, actors[Role.AGENT], 9999)


async def test_customers_see_only_their_own_cases_and_customer_visible_lines(
    domain: Domain, actors: Actors, world: World
) -> None:
    customer = actors[Role.CUSTOMER]
    proactive = await cases.open_proactive_case(domain, actors[Role.OPERATOR], world.incident_id)
    approved = await approve_major_case(domain, actors[Role.MANAGER], proactive.id)
    mine = await reactive(domain, actors, "ACC-T1")
    await reactive(domain, actors, "ACC-2")
    await cases.add_case_note(domain, actors[Role.AGENT], mine.id, "internal only", customer_visible=False)
    listed = await cases.list_cases(domain, customer)
    assert {c.account_number for c in listed} == {"ACC-T1"}
    assert len(listed) == 2  # their child of the major case and their own call
    with pytest.raises(PermissionDenied, match="may only see their own account"):
        await cases.list_cases(domain, customer, account="ACC-2")
    # Cases of other accounts (or of many) answer exactly like missing ones.
    for case_id in (proactive.id, approved.major_case_id, 9999):
        with pytest.raises(NotFound, match=f"^no case CS{case_id:07d}$"):
            await cases.get_case(domain, customer, case_id)
    detail = await cases.get_case(domain, customer, mine.id)
    assert detail.journal == ()
    assert detail.incident is None and detail.alert is None
    assert detail.children_by_state == {} and detail.notices_by_state == {}
    child = next(c for c in listed if c.kind == "child")
    child_detail = await cases.get_case(domain, customer, child.id)
    assert child_detail.propose_reason is None and child_detail.accounts_total == 0


# --- who may do what ----------------------------------------------------------------------

Command = Callable[[Domain, Actor, World, dict[str, Any]], Awaitable[Any]]


async def _setup(domain: Domain, actors: Actors, world: World) -> dict[str, Any]:
    """Fresh cases for one role's attempt (called once per role, in one database)."""
    no_rule(domain)
    proactive = await cases.open_proactive_case(domain, actors[Role.ADMIN], await new_incident(domain, world))
    mine = await cases.open_reactive_case(
        domain, actors[Role.ADMIN], account_number="ACC-T1", short_description="customer's own"
    )
    return {"proactive": proactive.id, "mine": mine.id, "incident": await new_incident(domain, world)}


CASE_COMMANDS: dict[str, tuple[set[Role], Command]] = {
    "open_proactive_case": (
        {Role.OPERATOR, Role.ADMIN},
        lambda d, a, w, s: cases.open_proactive_case(d, a, s["incident"]),
    ),
    "open_reactive_case": (
        {Role.AGENT, Role.MANAGER, Role.ADMIN},
        lambda d, a, w, s: cases.open_reactive_case(d, a, account_number="ACC-2", short_description="down"),
    ),
    "set_case_state": (
        {Role.AGENT, Role.MANAGER, Role.ADMIN},
        lambda d, a, w, s: cases.set_case_state(d, a, s["proactive"], "open"),
    ),
    "set_case_priority": (
        {Role.AGENT, Role.MANAGER, Role.ADMIN},
        lambda d, a, w, s: cases.set_case_priority(d, a, s["proactive"], 2),
    ),
    "add_case_note (work note)": (
        {Role.OPERATOR, Role.AGENT, Role.MANAGER, Role.ADMIN},
        lambda d, a, w, s: cases.add_case_note(d, a, s["proactive"], "note", customer_visible=False),
    ),
    "add_case_note (customer-visible)": (
        {Role.AGENT, Role.MANAGER, Role.ADMIN, Role.CUSTOMER},
        lambda d, a, w, s: cases.add_case_note(d, a, s["mine"], "hello", customer_visible=True),
    ),
    "list_cases": (
        {Role.OPERATOR, Role.AGENT, Role.MANAGER, Role.ADMIN, Role.CUSTOMER},
        lambda d, a, w, s: cases.list_cases(d, a),
    ),
    "get_case (a proactive case)": (
        {Role.OPERATOR, Role.AGENT, Role.MANAGER, Role.ADMIN},
        lambda d, a, w, s: cases.get_case(d, a, s["proactive"]),
    ),
    "open_proactive_cases_by_rule": (
        {Role.OPERATOR, Role.ADMIN},
        lambda d, a, w, s: cases.open_proactive_cases_by_rule(d, a, [s["incident"]]),
    ),
    "close_resolved_cases": (
        {Role.MANAGER, Role.ADMIN},
        lambda d, a, w, s: cases.close_resolved_cases(d, a),
    ),
}


@pytest.mark.parametrize("command", sorted(CASE_COMMANDS))
async def test_only_the_right_roles_may(domain: Domain, actors: Actors, world: World, command: str) -> None:
    """Each role tries the command on fresh cases: the right roles pass, the others are refused
    and nothing changes."""
    allowed, call = CASE_COMMANDS[command]
    for role in Role:
        state = await _setup(domain, actors, world)
        before = await counts(domain)
        if role in allowed:
            assert await call(domain, actors[role], world, state) is not None, role
        else:
            # A customer is told another account's case does not exist (as for a missing one).
            refusal = (PermissionDenied, NotFound) if role is Role.CUSTOMER else PermissionDenied
            with pytest.raises(
                refusal, match=f"{role.value} \\({role.value}\\) may (not|only)|own account|^no case CS"
            ):
                await call(domain, actors[role], world, state)
            assert await counts(domain) == before, role


async def test_the_role_table_covers_every_case_command() -> None:
    public = {
        name
        for name in vars(cases)
        if not name.startswith("_")
        and callable(getattr(cases, name))
        and getattr(getattr(cases, name), "__module__", "") == cases.__name__
        and name
        not in {
            "clean_text",
            "journal_label",
            "load_case",
            "case_view",
            "copy_line_to_children",
            "require_own_case",
            "open_proactive_case_in",
            "insert_reactive_case",
        }
    }
    covered = {name.split(" ")[0] for name in CASE_COMMANDS}
    assert public == covered


async def test_case_account_rows_follow_impact(domain: Domain, actors: Actors, world: World) -> None:
    no_rule(domain)
    view = await cases.open_proactive_case(domain, actors[Role.OPERATOR], world.incident_id)
    async with domain.reading() as session:
        sources = set(await session.scalars(select(CaseAccount.source).where(CaseAccount.case_id == view.id)))
    assert sources == {"impact"}
