"""Impact: the walk equals a brute-force one on random service maps; pages, health, roles, input."""

from __future__ import annotations

import asyncio
import itertools
import json
import random
from collections import defaultdict, deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner
from sqlalchemy import func, insert, select, text

from pcso_tui.domain.core.errors import InvalidInput, NotFound, PermissionDenied
from pcso_tui.domain.core.models import (
    Account,
    Alert,
    Case,
    CaseAccount,
    CaseItem,
    Characteristic,
    CIDependency,
    ConfigurationItem,
    Contact,
    Event,
    Incident,
    IncidentCI,
    InstallBaseItem,
    Product,
)
from pcso_tui.domain.core.roles import Actor, Role
from pcso_tui.domain.core.service import Domain
from pcso_tui.domain.core.states import Severity
from pcso_tui.domain.install_base import impact
from pcso_tui.domain.install_base.impact import account_health, impact_of, insert_case_impact
from tests.identity import set_os_user

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
HOSTILE = ["[bold]red[/bold]", "[/", "\x1b[2J\x1b[31mboom", "name\nwith\r\nnewlines", "50%_off\\"]
SEVERITIES = ["critical", "major", "minor", "warning", "info", "clear"]
STATES = ["open", "open", "closed", "flapping"]
TIERS = ["platinum", "enterprise", "gold", "business", "silver", "bronze", "standard", "Gold", "unheard-of", ""]


# --- a world, held twice: in the database and as plain Python for the brute-force walk ----------


@dataclass
class World:
    prefix: str
    cis: dict[int, str] = field(default_factory=dict)
    deps: set[tuple[int, int]] = field(default_factory=set)  # (ci, depends_on)
    accounts: dict[int, tuple[str, str, bool]] = field(default_factory=dict)  # id → number, tier, external
    contacts: dict[int, list[tuple[int, str, str, bool, bool]]] = field(default_factory=dict)
    items: dict[int, tuple[int, int | None, int | None]] = field(default_factory=dict)  # id → account, ci, parent
    alerts: list[tuple[int, str, str]] = field(default_factory=list)  # ci, severity, state


class Ids:
    """Explicit ids, far above anything the fixtures create, unique across a test's worlds."""

    def __init__(self) -> None:
        self.next = 100_000

    def __call__(self) -> int:
        self.next += 1
        return self.next


def random_world(rnd: random.Random, ids: Ids, prefix: str) -> World:
    w = World(prefix)
    shape = rnd.choice(["layered", "diamonds", "chain", "cycle", "random", "shared", "mixed"])
    n = {"chain": rnd.randint(15, 40), "diamonds": 3 * rnd.randint(2, 8) + 1}.get(shape, rnd.randint(2, 30))
    order = [ids() for _ in range(n)]
    for k, ci in enumerate(order):
        w.cis[ci] = f"{prefix}-ci{k:03d}"

    def edge(ci: int, on: int) -> None:
        if ci != on:
            w.deps.add((ci, on))

    if shape in ("layered", "mixed"):
        layers = [order[i::5] for i in range(5)]
        for depth in range(1, 5):
            for ci in layers[depth]:
                for up in rnd.sample(layers[depth - 1], min(len(layers[depth - 1]), rnd.randint(1, 3))):
                    edge(ci, up)
                if depth > 1 and rnd.random() < 0.2:
                    edge(ci, rnd.choice(layers[depth - 2]))
    if shape == "diamonds":
        for k in range(0, n - 1, 3):
            top, left, right, bottom = order[k], order[k + 1], order[k + 2], order[min(k + 3, n - 1)]
            edge(left, top), edge(right, top), edge(bottom, left), edge(bottom, right)
    if shape == "chain":
        for a, b in itertools.pairwise(order):
            edge(b, a)
    if shape == "cycle":
        for a, b in zip(order, order[1:] + order[:1], strict=True):
            edge(b, a)
        for _ in range(rnd.randint(0, 4)):
            edge(rnd.choice(order), rnd.choice(order))
    if shape == "shared":
        hub = order[0]
        for ci in order[1:]:
            edge(ci, hub)
            if rnd.random() < 0.3:
                edge(ci, rnd.choice(order[1:]))
    if shape in ("random", "mixed"):
        for _ in range(rnd.randint(0, 2 * n)):
            edge(rnd.choice(order), rnd.choice(order))

    for k in range(rnd.randint(1, 12)):
        account = ids()
        w.accounts[account] = (f"{prefix}-A{k:03d}", rnd.choice(TIERS), rnd.random() < 0.8)
        w.contacts[account] = [
            (
                ids(),
                f"contact {c} of {k}",
                rnd.choice(["email", "sms", "webhook"]),
                rnd.random() < 0.4,
                rnd.random() < 0.2,
            )
            for c in range(rnd.randint(0, 3))
        ]
    for _ in range(rnd.randint(0, 70)):
        item = ids()
        if w.items and rnd.random() < 0.35:
            parent = rnd.choice(list(w.items))
            account = w.items[parent][0] if rnd.random() < 0.85 else rnd.choice(list(w.accounts))
            ci = rnd.choice(order) if rnd.random() < 0.4 else None
        else:
            parent, account = None, rnd.choice(list(w.accounts))
            ci = rnd.choice(order) if rnd.random() < 0.9 else None
        w.items[item] = (account, ci, parent)
    for _ in range(rnd.randint(0, n)):
        w.alerts.append((rnd.choice(order), rnd.choice(SEVERITIES), rnd.choice(STATES)))
    return w


async def store(domain: Domain, actor: Actor, w: World, ids: Ids) -> None:
    async with domain.transaction(actor) as tx:
        s = tx.session
        product = ids()
        await s.execute(insert(Product.__table__), [{"id": product, "number": f"{w.prefix}-P", "name": "Product"}])
        await s.execute(
            insert(ConfigurationItem.__table__),
            [{"id": ci, "name": name, "kind": "service"} for ci, name in w.cis.items()],
        )
        if w.deps:
            await s.execute(insert(CIDependency.__table__), [{"ci_id": a, "depends_on_id": b} for a, b in w.deps])
        await s.execute(
            insert(Account.__table__),
            [
                {"id": a, "number": num, "name": f"Account {num}", "tier": tier, "is_external": ext, "created_at": NOW}
                for a, (num, tier, ext) in w.accounts.items()
            ],
        )
        contacts = [
            {
                "id": c,
                "number": f"{w.prefix}-C{c}",
                "account_id": a,
                "name": name,
                "preferred_channel": channel,
                "is_primary": primary,
                "opted_out": out,
            }
            for a, rows in w.contacts.items()
            for c, name, channel, primary, out in rows
        ]
        if contacts:
            await s.execute(insert(Contact.__table__), contacts)
        if w.items:
            await s.execute(
                insert(InstallBaseItem.__table__),
                [
                    {
                        "id": i,
                        "number": f"{w.prefix}-I{i}",
                        "account_id": a,
                        "product_id": product,
                        "ci_id": ci,
                        "parent_id": parent,
                    }
                    for i, (a, ci, parent) in w.items.items()
                ],
            )
        if w.alerts:
            await s.execute(
                insert(Alert.__table__),
                [
                    {
                        "fingerprint": f"{w.prefix}-{k}",
                        "source": "test",
                        "name": "a",
                        "severity": sev,
                        "state": state,
                        "ci_id": ci,
                        "starts_at": NOW,
                        "first_seen_at": NOW,
                        "last_seen_at": NOW,
                        "last_change_at": NOW,
                    }
                    for k, (ci, sev, state) in enumerate(w.alerts)
                ],
            )


# --- the brute force -------------------------------------------------------------------------


def walk(w: World, seeds: list[int]) -> dict[int, int]:
    """CI → distance: breadth first over "depends on", downstream."""
    dependents: dict[int, list[int]] = defaultdict(list)
    for ci, on in w.deps:
        dependents[on].append(ci)
    distance = dict.fromkeys(seeds, 0)
    queue = deque(seeds)
    while queue:
        ci = queue.popleft()
        for d in dependents[ci]:
            if d not in distance:
                distance[d] = distance[ci] + 1
                queue.append(d)
    return distance


def hit_items(w: World, cis: set[int]) -> set[int]:
    children: dict[int, list[int]] = defaultdict(list)
    for i, (_, _, parent) in w.items.items():
        if parent is not None:
            children[parent].append(i)
    hit = {i for i, (_, ci, _) in w.items.items() if ci in cis}
    stack = list(hit)
    while stack:
        for child in children[stack.pop()]:
            if child not in hit:
                hit.add(child)
                stack.append(child)
    return hit


def tier_rank(tier: str) -> int:
    return impact.TIER_ORDER.index(tier.lower()) if tier.lower() in impact.TIER_ORDER else len(impact.TIER_ORDER)


def item_health(w: World) -> dict[int, int]:
    """item → worst active alert rank whose own impact contains the item (the definition)."""
    worst: dict[int, int] = defaultdict(int)
    for ci, sev, state in w.alerts:
        rank = Severity(sev).rank
        if state == "closed" or rank == 0:
            continue
        for item in hit_items(w, set(walk(w, [ci]))):
            worst[item] = max(worst[item], rank)
    return worst


@dataclass
class Expected:
    distance: dict[int, int]
    items: set[int]
    per_account: dict[int, int]
    order: list[int]
    health: dict[int, str]


def expect(w: World, seeds: list[int]) -> Expected:
    distance = walk(w, seeds)
    items = hit_items(w, set(distance))
    per_account: dict[int, int] = defaultdict(int)
    for i in items:
        per_account[w.items[i][0]] += 1
    order = sorted(per_account, key=lambda a: (tier_rank(w.accounts[a][1]), -per_account[a], w.accounts[a][0]))
    by_item = item_health(w)
    names = {s.rank: s.value for s in Severity if s.rank > 0}
    health = {}
    for a in per_account:
        worst = max((by_item.get(i, 0) for i in items if w.items[i][0] == a), default=0)
        health[a] = names.get(worst, "ok")
    return Expected(distance, items, dict(per_account), order, health)


def primary_contact(w: World, account: int) -> tuple[str | None, str | None]:
    rows = sorted(w.contacts[account], key=lambda c: (not c[3], c[4], c[0]))
    return (rows[0][1], rows[0][2]) if rows else (None, None)


# --- the property: impact equals the brute force ---------------------------------------------


@pytest.fixture(params=["small", "large"])
def side(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both ways of every step: as for a leaf CI, and as for a datacentre."""
    if request.param == "small":
        monkeypatch.setattr(impact, "PROBE_ALWAYS", 10**9)
        monkeypatch.setattr(impact, "PAGE_FROM_AFFECTED", 10**9)
        monkeypatch.setattr(impact, "HEALTH_PER_CI", 10**9)
    else:

        def scan(_sql: object) -> Iterator[impact.Request]:
            return False
            yield  # a generator of statements, like the one it stands in for

        monkeypatch.setattr(impact, "_probe_side", scan)
        # Statement by statement through aiosqlite's public API, rather than all on its thread.
        monkeypatch.setattr(impact, "ONE_ROUND_TRIP", False)
        monkeypatch.setattr(impact, "PAGE_FROM_AFFECTED", 0)
        monkeypatch.setattr(impact, "HEALTH_PER_CI", 0)
    return request.param


async def all_pages(domain: Domain, actor: Actor, seeds: list[int], page_size: int) -> list:
    pages, offset = [], 0
    while True:
        view = await impact_of(domain, actor, ci_ids=seeds, page_size=page_size, offset=offset)
        pages.append(view)
        offset += page_size
        if offset >= view.account_count:
            return pages


async def test_impact_equals_a_brute_force_walk_on_random_maps(
    domain: Domain, actors: dict[Role, Actor], side: str
) -> None:
    rnd = random.Random(f"impact-{side}")
    ids = Ids()
    operator, admin = actors[Role.OPERATOR], actors[Role.ADMIN]
    checked = via_parent = unhealthy = deep = 0
    for round_ in range(24):
        w = random_world(rnd, ids, f"W{round_:02d}")
        await store(domain, admin, w, ids)
        for _ in range(3):
            seeds = rnd.sample(sorted(w.cis), rnd.randint(1, min(3, len(w.cis))))
            exp = expect(w, seeds)
            via_parent += sum(1 for i in exp.items if w.items[i][1] not in exp.distance)
            unhealthy += sum(1 for h in exp.health.values() if h != "ok")
            deep += max(exp.distance.values()) >= 3
            page_size = rnd.choice([1, 2, 3, 5, 200])
            pages = await all_pages(domain, operator, seeds, page_size)
            first = pages[0]
            assert first.ci_ids == tuple(sorted(seeds))
            assert first.ci_count == len(exp.distance)
            assert first.item_count == len(exp.items)
            assert first.account_count == first.matched_accounts == len(exp.per_account)
            assert first.external_account_count == sum(w.accounts[a][2] for a in exp.per_account)
            assert first.contact_count == sum(len(w.contacts[a]) for a in exp.per_account)
            assert {(c.id, c.distance) for c in first.cis} == set(exp.distance.items())
            assert [c.distance for c in first.cis] == sorted(c.distance for c in first.cis)
            listed = [a for view in pages for a in view.accounts]
            assert [a.account_id for a in listed] == exp.order
            for a in listed:
                assert a.items == exp.per_account[a.account_id]
                assert a.health == exp.health[a.account_id], (a.number, seeds)
                assert (a.contact_name, a.contact_channel) == primary_contact(w, a.account_id)
                assert (a.number, a.tier, a.is_external) == w.accounts[a.account_id]
            checked += 1

            async with domain.transaction(admin) as tx:
                case = Case(kind="proactive", short_description="t", opened_at=tx.now, updated_at=tx.now)
                tx.session.add(case)
                await tx.session.flush()
                counts = await insert_case_impact(tx, case.id, [*seeds, seeds[0]])
            assert counts == (len(exp.per_account), len(exp.items))
            async with domain.reading() as s:
                got_items = set(await s.scalars(select(CaseItem.item_id).where(CaseItem.case_id == case.id)))
                got_accounts = set(
                    await s.scalars(select(CaseAccount.account_id).where(CaseAccount.case_id == case.id))
                )
            assert got_items == exp.items
            assert got_accounts == set(exp.per_account)
    # The worlds were not trivial: items hit only through a parent, bad health, long walks.
    assert (checked, via_parent > 20, unhealthy > 20, deep > 10) == (72, True, True, True)


async def test_insert_case_impact_adds_to_what_a_case_already_has(domain: Domain, actors: dict[Role, Actor]) -> None:
    ids = Ids()
    w = World("K")
    a, b, c = ids(), ids(), ids()
    w.cis = {a: "K-a", b: "K-b", c: "K-c"}
    w.deps = {(b, a)}
    acc1, acc2 = ids(), ids()
    w.accounts = {acc1: ("K-1", "gold", True), acc2: ("K-2", "silver", True)}
    w.contacts = {acc1: [], acc2: []}
    w.items = {ids(): (acc1, a, None), ids(): (acc1, b, None), ids(): (acc2, c, None)}
    admin = actors[Role.ADMIN]
    await store(domain, admin, w, ids)
    async with domain.transaction(admin) as tx:
        case = Case(kind="proactive", short_description="t", opened_at=tx.now, updated_at=tx.now)
        tx.session.add(case)
        await tx.session.flush()
        tx.session.add(CaseAccount(case_id=case.id, account_id=acc2, source="reported"))
        await tx.session.flush()
        assert await insert_case_impact(tx, case.id, []) == (0, 0)
        assert await insert_case_impact(tx, case.id, [a]) == (2, 2)
        # Twice in one transaction, overlapping: nothing doubles, the temporary tables come and go.
        assert await insert_case_impact(tx, case.id, [b, c, 999_999_999]) == (2, 3)
    async with domain.reading() as s:
        sources = dict((await s.execute(select(CaseAccount.account_id, CaseAccount.source))).all())
    assert sources == {acc1: "impact", acc2: "reported"}


# --- health -----------------------------------------------------------------------------------


async def test_health_follows_alert_severities(domain: Domain, actors: dict[Role, Actor]) -> None:
    ids = Ids()
    w = World("H")
    host, svc, app1, app2, other = ids(), ids(), ids(), ids(), ids()
    w.cis = {host: "H-host", svc: "H-svc", app1: "H-app1", app2: "H-app2", other: "H-other"}
    w.deps = {(svc, host), (app1, svc), (app2, svc)}
    acc1, acc2, acc3 = ids(), ids(), ids()
    w.accounts = {acc1: ("H-1", "gold", True), acc2: ("H-2", "gold", True), acc3: ("H-3", "gold", True)}
    w.contacts = {acc1: [], acc2: [], acc3: []}
    root1, comp1, root2, root3 = ids(), ids(), ids(), ids()
    w.items = {
        root1: (acc1, app1, None),
        comp1: (acc1, None, root1),
        root2: (acc2, app2, None),
        root3: (acc3, other, None),
    }
    w.alerts = [(app1, "warning", "open"), (other, "major", "closed")]
    operator = actors[Role.OPERATOR]
    await store(domain, actors[Role.ADMIN], w, ids)

    async def healths(seed: int) -> dict[str, str]:
        view = await impact_of(domain, operator, ci_ids=[seed])
        return {a.number: a.health for a in view.accounts}

    assert await healths(host) == {"H-1": "warning", "H-2": "ok"}
    items = {v.number: v for v in await account_health(domain, operator, acc1)}
    assert items[f"H-I{root1}"].severity == items[f"H-I{comp1}"].severity == "warning"
    assert items[f"H-I{comp1}"].parent_number == f"H-I{root1}"
    assert items[f"H-I{root1}"].alert_ci == "H-app1"
    # A critical alert on the host makes every account on an application depending on it critical.
    async with domain.transaction(actors[Role.ADMIN]) as tx:
        await tx.session.execute(
            insert(Alert.__table__),
            [
                {
                    "fingerprint": "H-crit",
                    "source": "test",
                    "name": "down",
                    "severity": "critical",
                    "state": "open",
                    "ci_id": host,
                    "starts_at": NOW,
                    "first_seen_at": NOW,
                    "last_seen_at": NOW,
                    "last_change_at": NOW,
                }
            ],
        )
    assert await healths(host) == {"H-1": "critical", "H-2": "critical"}
    assert await healths(other) == {"H-3": "ok"}  # its only alert is closed
    items = {v.number: v for v in await account_health(domain, operator, acc1)}
    assert [items[f"H-I{i}"].severity for i in (root1, comp1)] == ["critical", "critical"]
    assert items[f"H-I{root1}"].alert_count == 2
    assert items[f"H-I{root1}"].alert_ci == "H-host"
    # Closed alerts do not count.
    async with domain.transaction(actors[Role.ADMIN]) as tx:
        await tx.session.execute(text("UPDATE alert SET state = 'closed' WHERE fingerprint = 'H-crit'"))
    assert await healths(host) == {"H-1": "warning", "H-2": "ok"}
    listed = await account_health(domain, operator, acc3)
    assert [(v.severity, v.alert_ci, v.alert_count) for v in listed] == [("ok", None, 0)]


# --- characteristics and the page -------------------------------------------------------------


async def test_accounts_carry_their_characteristics(domain: Domain, actors: dict[Role, Actor]) -> None:
    admin, operator = actors[Role.ADMIN], actors[Role.OPERATOR]
    async with domain.transaction(admin) as tx:
        s = tx.session
        ci = ConfigurationItem(name="svc")
        acct = Account(number="C-1", name="Char Co", tier="gold", region="eu-west", created_at=tx.now)
        p1, p2 = Product(number="P1", name="Billing"), Product(number="P2", name="CRM")
        s.add_all([ci, acct, p1, p2])
        await s.flush()
        s.add(Contact(number="CT1", account_id=acct.id, name="Ann", preferred_channel="sms", is_primary=True))
        items = [
            InstallBaseItem(number=f"I{k}", account_id=acct.id, product_id=(p1 if k < 3 else p2).id, ci_id=ci.id)
            for k in range(4)
        ]
        s.add_all(items)
        await s.flush()
        for k, item in enumerate(items):
            s.add(Characteristic(item_id=item.id, name="version", value="4.2" if k < 3 else "4.3"))
            s.add(Characteristic(item_id=item.id, name="region", value="eu-west"))
    view = await impact_of(domain, operator, ci_names=["svc"])
    (account,) = view.accounts
    assert (account.number, account.region, account.contact_name, account.contact_channel) == (
        "C-1",
        "eu-west",
        "Ann",
        "sms",
    )
    assert account.products == "Billing (3), CRM (1)"
    assert account.characteristics == "version 4.2, 4.3; region eu-west"


async def test_search_narrows_the_page_and_pages_stay_complete(domain: Domain, actors: dict[Role, Actor]) -> None:
    ids = Ids()
    w = World("S")
    hub = ids()
    w.cis = {hub: "S-hub"}
    w.accounts = {ids(): (f"S-{k:02d}{'_x' if k % 3 == 0 else ''}", "standard", True) for k in range(12)}
    w.contacts = {a: [] for a in w.accounts}
    w.items = {ids(): (a, hub, None) for a in w.accounts}
    operator = actors[Role.OPERATOR]
    await store(domain, actors[Role.ADMIN], w, ids)
    seen = []
    for offset in range(0, 6, 2):
        view = await impact_of(domain, operator, ci_ids=[hub], search="_X", page_size=2, offset=offset)
        assert view.account_count == 12
        assert view.matched_accounts == 4
        seen += [a.number for a in view.accounts]
    assert seen == ["S-00_x", "S-03_x", "S-06_x", "S-09_x"]
    # "%" and "_" are text, not wildcards.
    assert (await impact_of(domain, operator, ci_ids=[hub], search="%")).matched_accounts == 0
    view = await impact_of(domain, operator, ci_ids=[hub], search="s-1")
    assert [a.number for a in view.accounts] == ["S-10", "S-11"]
    assert (await impact_of(domain, operator, ci_ids=[hub], offset=50)).accounts == ()


# --- incidents -----------------------------------------------------------------------------


async def test_an_incident_is_judged_by_its_cis_or_else_its_root(domain: Domain, actors: dict[Role, Actor]) -> None:
    admin, operator = actors[Role.ADMIN], actors[Role.OPERATOR]
    async with domain.transaction(admin) as tx:
        s = tx.session
        a, b = ConfigurationItem(name="inc-a"), ConfigurationItem(name="inc-b")
        s.add_all([a, b])
        await s.flush()
        s.add(CIDependency(ci_id=b.id, depends_on_id=a.id))
        with_cis = Incident(title="x", severity="major", opened_at=tx.now, updated_at=tx.now, root_ci_id=a.id)
        root_only = Incident(title="y", severity="major", opened_at=tx.now, updated_at=tx.now, root_ci_id=a.id)
        bare = Incident(title="z", severity="minor", opened_at=tx.now, updated_at=tx.now)
        s.add_all([with_cis, root_only, bare])
        await s.flush()
        s.add(IncidentCI(incident_id=with_cis.id, ci_id=b.id))
    view = await impact_of(domain, operator, incident_id=with_cis.id)
    assert (view.incident_id, view.ci_ids, view.ci_count) == (with_cis.id, (b.id,), 1)
    view = await impact_of(domain, operator, incident_id=root_only.id)
    assert (view.ci_ids, view.ci_count) == ((a.id,), 2)
    view = await impact_of(domain, operator, incident_id=bare.id)
    assert (view.ci_ids, view.ci_count, view.accounts) == ((), 0, ())
    with pytest.raises(NotFound, match="no incident INC0009999"):
        await impact_of(domain, operator, incident_id=9999)


# --- roles, bad input, hostile text ----------------------------------------------------------


async def counts(domain: Domain) -> tuple[int, ...]:
    async with domain.reading() as s:
        return tuple(
            [await s.scalar(select(func.count()).select_from(m)) for m in (Event, CaseItem, CaseAccount, Account)]
        )


async def small_world(domain: Domain, actors: dict[Role, Actor]) -> tuple[int, int, int]:
    """A CI with one item of the customer's account (ACC-T1) and one of another account."""
    async with domain.transaction(actors[Role.ADMIN]) as tx:
        s = tx.session
        own = await s.scalar(select(Account.id).where(Account.number == "ACC-T1"))
        other = Account(number="ACC-T2", name="Other", created_at=tx.now)
        ci, product = ConfigurationItem(name="role-ci"), Product(number="RP", name="RP")
        s.add_all([other, ci, product])
        await s.flush()
        s.add_all(
            [
                InstallBaseItem(number="RI1", account_id=own, product_id=product.id, ci_id=ci.id),
                InstallBaseItem(number="RI2", account_id=other.id, product_id=product.id, ci_id=ci.id),
            ]
        )
        return ci.id, own, other.id


async def test_impact_is_for_staff_and_health_for_staff_or_the_own_customer(
    domain: Domain, actors: dict[Role, Actor]
) -> None:
    ci, own, other = await small_world(domain, actors)
    before = await counts(domain)
    for role in (Role.OPERATOR, Role.AGENT, Role.MANAGER, Role.ADMIN):
        assert (await impact_of(domain, actors[role], ci_ids=[ci])).account_count == 2
        assert len(await account_health(domain, actors[role], other)) == 1
    customer = actors[Role.CUSTOMER]
    with pytest.raises(PermissionDenied, match="may not view alerts, incidents and impact"):
        await impact_of(domain, customer, ci_ids=[ci])
    with pytest.raises(PermissionDenied, match="only see their own account"):
        await account_health(domain, customer, other)
    assert [v.number for v in await account_health(domain, customer, own)] == ["RI1"]
    assert await counts(domain) == before


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({}, InvalidInput, "exactly one of them"),
        ({"ci_ids": [1], "ci_names": ["x"]}, InvalidInput, "exactly one of them"),
        ({"ci_ids": []}, InvalidInput, "name at least one CI"),
        ({"ci_names": "role-ci"}, InvalidInput, "list of strings"),
        ({"ci_ids": ["1"]}, InvalidInput, "must be integers"),
        ({"ci_names": ["role-ci"], "page_size": 0}, InvalidInput, "page size must be between 1 and 1000"),
        ({"ci_names": ["role-ci"], "page_size": 1001}, InvalidInput, "page size must be between 1 and 1000"),
        ({"ci_names": ["role-ci"], "offset": -1}, InvalidInput, "offset must be 0 or more"),
        ({"ci_names": ["role-ci"], "search": "x" * 201}, InvalidInput, "at most 200"),
        ({"ci_names": ["role-ci", "nope"]}, NotFound, "no CI named 'nope'"),
        ({"ci_names": ["a", "b"]}, NotFound, "2 CI names are unknown"),
        ({"ci_ids": [987_654]}, NotFound, "no CI with id 987654"),
        ({"incident_id": True}, InvalidInput, "not an incident id"),
    ],
)
async def test_bad_input_is_refused_precisely_and_changes_nothing(
    domain: Domain, actors: dict[Role, Actor], kwargs: dict, error: type, message: str
) -> None:
    await small_world(domain, actors)
    before = await counts(domain)
    with pytest.raises(error, match=message):
        await impact_of(domain, actors[Role.OPERATOR], **kwargs)
    assert await counts(domain) == before
    # The connection it ran on is clean: the next impact works.
    assert (await impact_of(domain, actors[Role.OPERATOR], ci_names=["role-ci"])).item_count == 2


async def test_unknown_account_health_is_not_found(domain: Domain, actors: dict[Role, Actor]) -> None:
    with pytest.raises(NotFound, match="no account with id 424242"):
        await account_health(domain, actors[Role.AGENT], 424242)


async def test_hostile_names_come_back_literally(domain: Domain, actors: dict[Role, Actor]) -> None:
    admin, operator = actors[Role.ADMIN], actors[Role.OPERATOR]
    async with domain.transaction(admin) as tx:
        s = tx.session
        cis = [ConfigurationItem(name=name, kind=name[:32]) for name in HOSTILE]
        product = Product(number="HP", name=HOSTILE[0])
        accounts = [
            Account(number=f"HA{k}", name=name, tier=name[:32], region=name[:64], created_at=tx.now)
            for k, name in enumerate(HOSTILE)
        ]
        s.add_all([*cis, product, *accounts])
        await s.flush()
        for k, (ci, acct) in enumerate(zip(cis, accounts, strict=True)):
            s.add(Contact(number=f"HC{k}", account_id=acct.id, name=HOSTILE[k], preferred_channel="email"))
            item = InstallBaseItem(
                number=f"HI{k}", name=HOSTILE[k], account_id=acct.id, product_id=product.id, ci_id=ci.id
            )
            s.add(item)
            await s.flush()
            s.add(Characteristic(item_id=item.id, name="version", value=HOSTILE[k]))
    view = await impact_of(domain, operator, ci_names=HOSTILE)
    assert sorted(c.name for c in view.cis) == sorted(HOSTILE)
    assert {a.name for a in view.accounts} == set(HOSTILE)
    assert {a.contact_name for a in view.accounts} == set(HOSTILE)
    assert {a.characteristics for a in view.accounts} == {f"version {h}" for h in HOSTILE}
    assert {a.products for a in view.accounts} == {f"{HOSTILE[0]} (1)"}
    with pytest.raises(NotFound) as refused:
        await impact_of(domain, operator, ci_names=["\x1b[2Jgone"])
    assert "\\x1b[2Jgone" in refused.value.message and "\x1b" not in refused.value.message
    health = await account_health(domain, operator, view.accounts[0].account_id)
    assert health[0].name in HOSTILE and health[0].ci_name in HOSTILE


# --- the command line -------------------------------------------------------------------------


def test_cli_prints_totals_and_a_page_and_json(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from pcso_tui.cli import main
    from pcso_tui.domain.core.users import add_user

    async def seed() -> None:
        domain = await Domain.open(sqlite_url)
        try:
            await add_user(domain, Actor(user_id=None, name="x", role=Role.CUSTOMER), "op", Role.ADMIN)
            async with domain.transaction(Actor(user_id=None, name="x", role=Role.ADMIN)) as tx:
                s = tx.session
                host, app = ConfigurationItem(name="host-1", kind="host"), ConfigurationItem(name="app-1")
                product = Product(number="P", name="Billing")
                accounts = [
                    Account(number=f"A{k}", name=f"Evil \x1b[2J [bold]{k}", tier="gold", created_at=tx.now)
                    for k in range(3)
                ]
                s.add_all([host, app, product, *accounts])
                await s.flush()
                s.add(CIDependency(ci_id=app.id, depends_on_id=host.id))
                s.add_all(
                    InstallBaseItem(number=f"I{k}", account_id=a.id, product_id=product.id, ci_id=app.id)
                    for k, a in enumerate(accounts)
                )
        finally:
            await domain.close()

    asyncio.run(seed())
    set_os_user(monkeypatch, "op")
    runner = CliRunner()
    result = runner.invoke(main, ["--db", sqlite_url, "impact", "host-1", "--page-size", "2"])
    assert result.exit_code == 0, result.output
    assert "2 CIs · 3 install base items · 3 accounts (3 external)" in result.output
    assert "Accounts 1–2 of 3:" in result.output
    assert "\x1b" not in result.output and "Evil \\x1b[2J [bold]0" in result.output
    result = runner.invoke(main, ["--db", sqlite_url, "impact", "host-1", "--page", "2", "--page-size", "2", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert (data["account_count"], data["offset"], [a["number"] for a in data["accounts"]]) == (3, 2, ["A2"])
    result = runner.invoke(main, ["--db", sqlite_url, "impact", "nope"])
    assert (result.exit_code, "no CI named 'nope'" in result.output) == (3, True)
    result = runner.invoke(main, ["--db", sqlite_url, "impact"])
    assert result.exit_code == 2 and "--incident" in result.output
    result = runner.invoke(main, ["--db", sqlite_url, "impact", "--incident", "INCX"])
    assert result.exit_code == 2 and "not an incident number" in result.output


async def test_sqlite_runs_the_steps_in_one_round_trip(
    domain: Domain, actors: dict[Role, Actor], monkeypatch: pytest.MonkeyPatch
) -> None:
    """On SQLite every statement runs on aiosqlite's thread in one go (the leaf target needs it)."""
    ci, _, _ = await small_world(domain, actors)

    async def one_by_one(*_: object) -> None:
        raise AssertionError("ran statement by statement")

    if domain.db.is_sqlite:
        monkeypatch.setattr(impact, "_steps_each", one_by_one)
    assert (await impact_of(domain, actors[Role.OPERATOR], ci_ids=[ci])).item_count == 2
