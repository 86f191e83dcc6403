"""The customer portal: isolation across every query and command, the reply, staff preview.

Two customers on two accounts (ACC-T1 and ACC-2) share a major case (each has a child case of
it) and each has cases of their own with internal work notes; a third account (ACC-X) has an
outage, a major case and an article nobody else may see. Every portal query is run by both
customers and checked against the other's rows, ids and secrets.

Preview: agents, managers and admins hold ``PREVIEW_ACCOUNT``; operators do not (they work
incidents, not accounts), customers never preview (naming another account answers like a
missing one).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from pcso_tui.domain.casework import cases, portal
from pcso_tui.domain.casework.major_cases import approve_major_case, open_major_candidate, post_statement
from pcso_tui.domain.casework.timeline import case_timeline
from pcso_tui.domain.communications.articles import attach_article, create_article
from pcso_tui.domain.communications.outages import create_outage, update_outage
from pcso_tui.domain.core.errors import DomainError, IllegalTransition, InvalidInput, NotFound, PermissionDenied
from pcso_tui.domain.core.models import Case, Event, Incident, JournalEntry, Outage
from pcso_tui.domain.core.roles import Actor, Role
from pcso_tui.domain.core.service import Domain
from pcso_tui.domain.core.users import add_user, sign_in
from pcso_tui.domain.core.views import case_number, outage_number, to_jsonable
from tests.domain.case_world import HOSTILE, build_world, counts

Actors = dict[Role, Actor]

STATEMENT = "We are restoring the voice platform. Next update at 10:00."
SHARED_KB = "Forward calls to mobiles"
INTERNAL_KB = "INTERNAL-KB restart sbc-7 by hand"
X_KB = "XONLY-KB workaround for ACC-X"
X_OUTAGE = "XONLY outage of svc-other"
SECRET = {
    "ACC-T1": ("T1-WORK-NOTE db password rotated", "T1-ONLY call about phones"),
    "ACC-2": ("ACC2-WORK-NOTE root cause is our deploy", "ACC2-ONLY call about fax"),
}


@dataclass
class PortalWorld:
    customers: dict[str, Actor]
    major_id: int
    children: dict[str, int]  # account number → child case id
    reactive: dict[str, int]  # account number → own reactive case id
    x_major_id: int
    x_child_id: int
    proactive_id: int
    outage_id: int
    x_outage_id: int
    planned_id: int
    past_id: int


async def declared_outage(domain: Domain, major_id: int) -> int:
    async with domain.reading() as session:
        return (await session.scalars(select(Outage.id).where(Outage.case_id == major_id))).one()


@pytest.fixture
async def pw(domain: Domain, actors: Actors) -> PortalWorld:
    world = await build_world(domain)
    admin, manager, agent = actors[Role.ADMIN], actors[Role.MANAGER], actors[Role.AGENT]
    await add_user(domain, admin, "customer2", Role.CUSTOMER, account_number="ACC-2")
    customers = {"ACC-T1": actors[Role.CUSTOMER], "ACC-2": await sign_in(domain, "customer2")}

    proactive = await cases.open_proactive_case(domain, actors[Role.OPERATOR], world.incident_id)
    approved = await approve_major_case(domain, manager, proactive.id)
    major_id = approved.major_case_id
    async with domain.reading() as session:
        rows = await session.execute(select(Case.id, Case.account_id).where(Case.parent_id == major_id))
        by_account = {aid: cid for cid, aid in rows if aid is not None}
    children = {n: by_account[world.accounts[n]] for n in ("ACC-T1", "ACC-2")}
    await post_statement(domain, manager, major_id, STATEMENT)
    shared = await create_article(domain, manager, title=SHARED_KB, body="Use call forwarding.", number="KB-SHARED")
    internal = await create_article(
        domain, manager, title=INTERNAL_KB, body="ssh in", number="KB-INTERNAL", customer_visible=False
    )
    for article in (shared, internal):
        await attach_article(domain, manager, major_id, article.number)
    now = domain.clock()
    async with domain.transaction(admin) as tx:
        await tx.session.execute(
            update(Incident).where(Incident.id == world.incident_id).values(eta=now + timedelta(hours=2))
        )
    # The outage the approval declared, given a title and details by the manager.
    outage = await update_outage(
        domain,
        manager,
        await declared_outage(domain, major_id),
        title="Voice platform down",
        details="Calls fail.",
        begins_at=now - timedelta(minutes=30),
    )
    planned = await create_outage(
        domain, manager, type="planned", title="Voice upgrade", begins_at=now + timedelta(days=2), ci_name="svc-1"
    )
    past = await create_outage(
        domain,
        manager,
        type="degradation",
        title="Slow voice last week",
        begins_at=now - timedelta(days=7),
        ends_at=now - timedelta(days=6),
        ci_name="svc-1",
    )

    reactive: dict[str, int] = {}
    for number, (note, call) in SECRET.items():
        case = await cases.open_reactive_case(
            domain, agent, account_number=number, short_description=call, description=f"{call} {HOSTILE}"
        )
        reactive[number] = case.id
        await cases.add_case_note(domain, agent, case.id, note, customer_visible=False)
        await cases.add_case_note(domain, agent, case.id, f"We are on it, {number}", customer_visible=True)
        await cases.add_case_note(domain, agent, children[number], note, customer_visible=False)

    x_major = await open_major_candidate(
        domain, agent, short_description="XONLY major", reason="r", business_impact="b", account_numbers=["ACC-X"]
    )
    await approve_major_case(domain, manager, x_major.id)
    async with domain.reading() as session:
        x_child = await session.scalar(select(Case.id).where(Case.parent_id == x_major.id))
    x_article = await create_article(domain, manager, title=X_KB, body="XONLY body", number="KB-X")
    await attach_article(domain, manager, x_major.id, x_article.number)
    x_outage = await update_outage(domain, manager, await declared_outage(domain, x_major.id), title=X_OUTAGE)
    assert x_child is not None
    return PortalWorld(
        customers=customers,
        major_id=major_id,
        children=children,
        reactive=reactive,
        x_major_id=x_major.id,
        x_child_id=x_child,
        proactive_id=proactive.id,
        outage_id=outage.id,
        x_outage_id=x_outage.id,
        planned_id=planned.id,
        past_id=past.id,
    )


def _other(number: str) -> str:
    return "ACC-2" if number == "ACC-T1" else "ACC-T1"


async def everything(domain: Domain, actor: Actor, account: str | None = None) -> dict[str, Any]:
    """Every read model the portal can hand this actor, for one account."""
    outages = await portal.list_outages(domain, actor, account=account)
    own_cases = await portal.list_cases(domain, actor, account=account)
    articles = await portal.list_articles(domain, actor, account=account)
    return {
        "account": await portal.portal_account(domain, actor, account=account),
        "outages": outages,
        "outage_details": [await portal.get_outage(domain, actor, o.id, account=account) for o in outages],
        "cases": own_cases,
        "case_details": [await portal.get_case(domain, actor, c.id, account=account) for c in own_cases],
        "articles": articles,
        "article_details": [await portal.get_article(domain, actor, a.number, account=account) for a in articles],
    }


async def _message(call: Any) -> tuple[type[DomainError], str]:
    with pytest.raises(DomainError) as caught:
        await call
    return type(caught.value), caught.value.message


# --- isolation ------------------------------------------------------------------------------


@pytest.mark.parametrize("me", ["ACC-T1", "ACC-2"])
async def test_lists_hold_only_my_rows_and_no_internal_text(domain: Domain, pw: PortalWorld, me: str) -> None:
    customer = pw.customers[me]
    seen = await everything(domain, customer)
    assert seen["account"].number == me and not seen["account"].preview

    assert {c.id for c in seen["cases"]} == {pw.children[me], pw.reactive[me]}
    async with domain.reading() as session:
        owners = set(await session.scalars(select(Case.account_id).where(Case.id.in_([c.id for c in seen["cases"]]))))
    assert owners == {customer.account_id}
    assert {o.id for o in seen["outages"]} == {pw.outage_id, pw.planned_id, pw.past_id}
    assert [o.status for o in seen["outages"]] == ["active", "planned", "past"]
    assert [a.number for a in seen["articles"]] == ["KB-SHARED"]

    dumped = json.dumps(to_jsonable(seen), ensure_ascii=False)
    other = _other(me)
    forbidden = [
        other,
        f"{other} Ltd",
        "ACC-X",
        *SECRET[other],
        SECRET[me][0],  # my own account's work notes are internal too
        INTERNAL_KB,
        X_KB,
        X_OUTAGE,
        "XONLY",
        "WORK-NOTE",
        "summary critical",  # the alert
        "Opened on INC",  # the proactive case's internal description
        "in_progress",  # the incident's state
    ]
    for secret in forbidden:
        assert secret not in dumped, secret
    assert SECRET[me][1] in dumped and STATEMENT in dumped and SHARED_KB in dumped


@pytest.mark.parametrize("me", ["ACC-T1", "ACC-2"])
async def test_ids_of_other_accounts_answer_like_missing_ones(domain: Domain, pw: PortalWorld, me: str) -> None:
    customer = pw.customers[me]
    other = _other(me)
    before = await counts(domain)

    missing_case = await _message(portal.get_case(domain, customer, 999_999))
    assert missing_case == (NotFound, f"no case {case_number(999_999)}")
    for case_id in (pw.children[other], pw.reactive[other], pw.major_id, pw.proactive_id, pw.x_major_id, pw.x_child_id):
        assert await _message(portal.get_case(domain, customer, case_id)) == (
            NotFound,
            f"no case {case_number(case_id)}",
        )
        assert await _message(portal.reply_to_case(domain, customer, case_id, "hello?")) == (
            NotFound,
            f"no case {case_number(case_id)}",
        )
        # The staff-side queries answer the same way.
        assert await _message(cases.get_case(domain, customer, case_id)) == (
            NotFound,
            f"no case {case_number(case_id)}",
        )
    assert await _message(portal.reply_to_case(domain, customer, 999_999, "hello?")) == missing_case

    assert await _message(portal.get_outage(domain, customer, 999_999)) == (
        NotFound,
        f"no outage {outage_number(999_999)}",
    )
    assert await _message(portal.get_outage(domain, customer, pw.x_outage_id)) == (
        NotFound,
        f"no outage {outage_number(pw.x_outage_id)}",
    )
    for number in ("KB-NOPE", "KB-X", "KB-INTERNAL"):
        assert await _message(portal.get_article(domain, customer, number)) == (
            NotFound,
            f"no article numbered {number!r}",
        )
    for account in ("NOPE", other, "ACC-X"):
        assert await _message(portal.list_cases(domain, customer, account=account)) == (
            NotFound,
            f"no account numbered {account!r}",
        )
    # Naming my own account is fine.
    assert len(await portal.list_cases(domain, customer, account=me)) == 2
    assert await counts(domain) == before


async def test_outage_carries_statement_eta_and_articles(domain: Domain, pw: PortalWorld) -> None:
    customer = pw.customers["ACC-T1"]
    outage = await portal.get_outage(domain, customer, pw.outage_id)
    now = domain.clock()
    assert outage.status == "active" and outage.service == "svc-1"
    assert outage.statement == STATEMENT and outage.statement_at == now
    assert outage.eta == now + timedelta(hours=2)
    assert [(a.number, a.outage_numbers) for a in outage.articles] == [("KB-SHARED", (outage.number,))]
    planned = await portal.get_outage(domain, customer, pw.planned_id)
    assert planned.status == "planned" and planned.eta == planned.ends_at is None and planned.articles == ()
    assert [o.id for o in await portal.list_outages(domain, customer, status="past")] == [pw.past_id]
    with pytest.raises(InvalidInput, match="unknown outage status 'soon'"):
        await portal.list_outages(domain, customer, status="soon")


async def test_case_detail_shows_customer_visible_lines_only(domain: Domain, pw: PortalWorld) -> None:
    customer = pw.customers["ACC-T1"]
    child = await portal.get_case(domain, customer, pw.children["ACC-T1"])
    assert child.case.kind == "child" and child.open_for_replies
    assert [u.kind for u in child.updates] == ["statement"] and child.updates[0].body == STATEMENT
    assert child.updates_total == 1 and child.case.updates == 1
    assert [a.number for a in child.articles] == ["KB-SHARED"]
    own = await portal.get_case(domain, customer, pw.reactive["ACC-T1"])
    assert own.description.endswith(HOSTILE)  # the customer's own words, kept as data
    assert [u.body for u in own.updates] == ["We are on it, ACC-T1"]
    assert own.articles == ()


# --- the reply ------------------------------------------------------------------------------


async def test_reply_lands_on_the_case_and_on_the_major_case_timeline(
    domain: Domain, actors: Actors, pw: PortalWorld
) -> None:
    customer = pw.customers["ACC-T1"]
    child_id = pw.children["ACC-T1"]
    update_line = await portal.reply_to_case(domain, customer, child_id, f"  Still down here {HOSTILE}  ")
    assert update_line.body == f"Still down here {HOSTILE}" and update_line.kind == "reply"
    assert update_line.author_name == customer.name and update_line.at == domain.clock()

    # The customer sees it; so do the agent and the manager, on the case's journal.
    mine = await portal.get_case(domain, customer, child_id)
    assert mine.updates[-1] == update_line
    for role in (Role.AGENT, Role.MANAGER):
        detail = await cases.get_case(domain, actors[role], child_id)
        line = detail.journal[-1]
        assert (line.id, line.body, line.label) == (
            update_line.id,
            update_line.body,
            "customer reply · customer-visible",
        )
    # The other customer sharing the major case does not.
    assert "Still down here" not in json.dumps(to_jsonable(await everything(domain, pw.customers["ACC-2"])))

    async with domain.reading() as session:
        noted = list(
            await session.scalars(select(Event).where(Event.kind == "case.noted").order_by(Event.id.desc()).limit(2))
        )
        parent_lines = await session.scalar(
            select(JournalEntry.id).where(JournalEntry.case_id == pw.major_id, JournalEntry.kind == "reply")
        )
    on_parent, on_child = noted
    assert (on_child.subject_id, on_parent.subject_id) == (child_id, pw.major_id)
    for event in (on_child, on_parent):
        assert event.payload["entry_id"] == update_line.id and event.payload["line_kind"] == "reply"
        assert event.actor_name == customer.name
    assert on_parent.payload["from_case_id"] == child_id
    assert parent_lines is None  # no copy of the reply on the major case's journal itself
    # The major case's timeline tells it, with the reply's text.
    timeline = await case_timeline(domain, actors[Role.MANAGER], pw.major_id)
    entry = timeline.entries[-1]
    assert (entry.event_id, entry.title, entry.detail) == (
        on_parent.id,
        "Customer reply · customer-visible",
        update_line.body,
    )

    # A reply on the customer's own reactive case (no parent) records one event.
    async with domain.reading() as session:
        before = await session.scalar(select(Event.id).order_by(Event.id.desc()).limit(1))
    await portal.reply_to_case(domain, customer, pw.reactive["ACC-T1"], "thanks")
    async with domain.reading() as session:
        new = list(await session.scalars(select(Event).where(Event.id > before)))
    assert [(e.kind, e.subject_id) for e in new] == [("case.noted", pw.reactive["ACC-T1"])]


async def test_a_reply_reopens_a_case_awaiting_info(domain: Domain, actors: Actors, pw: PortalWorld) -> None:
    case_id = pw.reactive["ACC-T1"]
    await cases.set_case_state(domain, actors[Role.AGENT], case_id, "awaiting_info")
    await portal.reply_to_case(domain, pw.customers["ACC-T1"], case_id, "Here is the serial number: 42")
    detail = await cases.get_case(domain, actors[Role.AGENT], case_id)
    assert detail.case.state == "open"
    async with domain.reading() as session:
        changed = (
            await session.scalars(
                select(Event).where(Event.kind == "case.state_changed", Event.subject_id == case_id).order_by(Event.id)
            )
        ).all()[-1]
    expected = {"number": case_number(case_id), "from": "awaiting_info", "to": "open", "by": "customer reply"}
    assert changed.payload == expected
    # An open case stays open.
    await portal.reply_to_case(domain, pw.customers["ACC-T1"], case_id, "and again")
    assert (await cases.get_case(domain, actors[Role.AGENT], case_id)).case.state == "open"


async def test_bad_replies_change_nothing(domain: Domain, pw: PortalWorld) -> None:
    customer = pw.customers["ACC-T1"]
    async with domain.transaction(customer) as tx:
        await tx.session.execute(update(Case).where(Case.id == pw.reactive["ACC-T1"]).values(state="closed"))
    before = await counts(domain)
    refusals = [
        (portal.reply_to_case(domain, customer, pw.children["ACC-T1"], " \n "), InvalidInput, "the reply is required"),
        (
            portal.reply_to_case(domain, customer, pw.children["ACC-T1"], "x" * 10_001),
            InvalidInput,
            "10001 characters long; the limit is 10000",
        ),
        (
            portal.reply_to_case(domain, customer, pw.reactive["ACC-T1"], "late"),
            IllegalTransition,
            "is closed and takes no more replies",
        ),
    ]
    for call, error, message in refusals:
        with pytest.raises(error, match=message):
            await call
    assert await counts(domain) == before
    detail = await portal.get_case(domain, customer, pw.reactive["ACC-T1"])
    assert not detail.open_for_replies


# --- staff preview --------------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.AGENT, Role.MANAGER, Role.ADMIN])
async def test_staff_preview_shows_exactly_what_the_account_sees(
    domain: Domain, actors: Actors, pw: PortalWorld, role: Role
) -> None:
    staff = actors[role]
    for number, customer in pw.customers.items():
        theirs = await everything(domain, customer)
        preview = await everything(domain, staff, number)
        assert preview["account"].preview and preview["account"].number == number
        theirs.pop("account"), preview.pop("account")
        assert preview == theirs
    before = await counts(domain)
    with pytest.raises(PermissionDenied, match=f"{role.value} \\({role.value}\\) may not reply on their own cases"):
        await portal.reply_to_case(domain, staff, pw.children["ACC-T1"], "from staff")
    with pytest.raises(InvalidInput, match="a preview needs an account number"):
        await portal.list_cases(domain, staff)
    assert await _message(portal.list_outages(domain, staff, account="NOPE")) == (
        NotFound,
        "no account numbered 'NOPE'",
    )
    # Previewing ACC-T1 reaches nothing of ACC-2 by id either.
    assert await _message(portal.get_case(domain, staff, pw.children["ACC-2"], account="ACC-T1")) == (
        NotFound,
        f"no case {case_number(pw.children['ACC-2'])}",
    )
    assert await _message(portal.get_outage(domain, staff, pw.x_outage_id, account="ACC-T1")) == (
        NotFound,
        f"no outage {outage_number(pw.x_outage_id)}",
    )
    assert await counts(domain) == before


async def test_operators_may_not_preview(domain: Domain, actors: Actors, pw: PortalWorld) -> None:
    operator = actors[Role.OPERATOR]
    calls = [
        portal.portal_account(domain, operator, account="ACC-T1"),
        portal.list_outages(domain, operator, account="ACC-T1"),
        portal.get_outage(domain, operator, pw.outage_id, account="ACC-T1"),
        portal.list_cases(domain, operator, account="ACC-T1"),
        portal.get_case(domain, operator, pw.children["ACC-T1"], account="ACC-T1"),
        portal.list_articles(domain, operator, account="ACC-T1"),
        portal.get_article(domain, operator, "KB-SHARED", account="ACC-T1"),
    ]
    for call in calls:
        with pytest.raises(PermissionDenied, match=r"operator \(operator\) may not preview what an account sees"):
            await call
    with pytest.raises(PermissionDenied, match="may not reply on their own cases"):
        await portal.reply_to_case(domain, operator, pw.children["ACC-T1"], "hi")


async def test_every_public_portal_function_is_exercised() -> None:
    public = {
        name
        for name, value in vars(portal).items()
        if not name.startswith("_") and callable(value) and getattr(value, "__module__", "") == portal.__name__
    }
    assert public == {
        "portal_account",
        "list_outages",
        "get_outage",
        "list_cases",
        "get_case",
        "list_articles",
        "get_article",
        "reply_to_case",
        "list_products",
        "intake_known_outages",
        "open_own_case",
    }


async def test_limits_are_checked(domain: Domain, pw: PortalWorld) -> None:
    customer = pw.customers["ACC-T1"]
    with pytest.raises(InvalidInput, match="limit must be between 1 and 1000"):
        await portal.list_cases(domain, customer, limit=0)
    with pytest.raises(InvalidInput, match="offset must not be negative"):
        await portal.list_cases(domain, customer, offset=-1)
    with pytest.raises(InvalidInput, match="updates_limit must be between"):
        await portal.get_case(domain, customer, pw.children["ACC-T1"], updates_limit=5000)
    assert len(await portal.list_outages(domain, customer, limit=1)) == 1
    async with domain.reading() as session:
        assert await session.scalar(select(Outage.id).where(Outage.id == pw.x_outage_id)) == pw.x_outage_id


async def test_a_statement_typed_with_crlf_tabs_and_overrides_reads_cleanly(
    domain: Domain, actors: Actors, pw: PortalWorld
) -> None:
    # What the terminal portal shows through printable(): no \x0d, \x09 or reversed text.
    typed = "Engineers are on it.\r\nNext update\tat noon \u202eesrever"
    await post_statement(domain, actors[Role.MANAGER], pw.major_id, typed)
    customer = pw.customers["ACC-T1"]
    outage = await portal.get_outage(domain, customer, pw.outage_id)
    assert outage.statement == "Engineers are on it.\nNext update at noon esrever"
    child = await portal.get_case(domain, customer, pw.children["ACC-T1"])
    assert child.updates[-1].body == "Engineers are on it.\nNext update at noon esrever"


# --- opening a case (the web portal's intake) -----------------------------------------------


async def test_intake_offers_the_known_outage_in_customer_words(domain: Domain, pw: PortalWorld) -> None:
    for number in ("ACC-T1", "ACC-2"):
        known = await portal.intake_known_outages(domain, pw.customers[number])
        assert [k.major_case_id for k in known] == [pw.major_id]
        assert known[0].statement == STATEMENT and known[0].eta is not None
        async with domain.reading() as session:
            internal = await session.scalar(select(Case.short_description).where(Case.id == pw.major_id))
        assert internal and known[0].title != internal  # never the internal short description
    with pytest.raises(NotFound, match="no product numbered 'P-NOWHERE'"):
        await portal.intake_known_outages(domain, pw.customers["ACC-T1"], product_number="P-NOWHERE")


async def test_a_customer_opens_a_case_and_attaches_it_to_a_known_outage(domain: Domain, pw: PortalWorld) -> None:
    me = pw.customers["ACC-T1"]
    before = await counts(domain)
    # Another account's major case is no known outage of mine: refused, nothing written.
    with pytest.raises(NotFound, match="no known outage"):
        await portal.open_own_case(domain, me, subject="Phones dead", attach_to=pw.x_major_id)
    with pytest.raises(InvalidInput, match="a subject"):
        await portal.open_own_case(domain, me, subject="  ")
    assert await counts(domain) == before

    opened = await portal.open_own_case(domain, me, subject="Phones dead", attach_to=pw.major_id)
    assert opened.deflected and opened.major_number == case_number(pw.major_id)
    plain = await portal.open_own_case(domain, me, subject=f"Invoice {HOSTILE}")
    assert not plain.deflected and plain.major_number is None
    async with domain.reading() as session:
        rows = {
            r.id: r
            for r in await session.execute(
                select(Case.id, Case.account_id, Case.parent_id, Case.deflected, Case.channel).where(
                    Case.id.in_([opened.id, plain.id])
                )
            )
        }
    assert (rows[opened.id].parent_id, rows[opened.id].deflected) == (pw.major_id, True)
    assert (rows[plain.id].parent_id, rows[plain.id].deflected) == (None, False)
    assert {r.account_id for r in rows.values()} == {me.account_id}
    assert {r.channel for r in rows.values()} == {"web"}
    mine = {c.id for c in await portal.list_cases(domain, me)}
    assert {opened.id, plain.id} <= mine
    assert not {opened.id, plain.id} & {c.id for c in await portal.list_cases(domain, pw.customers["ACC-2"])}


async def test_staff_cannot_open_a_customers_case_through_the_portal(domain: Domain, actors: Actors) -> None:
    for role in (Role.AGENT, Role.MANAGER, Role.ADMIN, Role.OPERATOR):
        with pytest.raises(PermissionDenied, match="may not open cases for their own account"):
            await portal.open_own_case(domain, actors[role], subject="x")
