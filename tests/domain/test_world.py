"""The synthetic world: deterministic, shaped as promised, history that obeys the state machines."""

from __future__ import annotations

import json
import shutil
from collections import Counter, defaultdict
from datetime import timedelta
from itertools import pairwise
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select, text

from pcso_tui.domain.core import event_kinds as ek
from pcso_tui.domain.core.clock import FrozenClock
from pcso_tui.domain.core.errors import Conflict, InvalidInput, PermissionDenied
from pcso_tui.domain.core.models import Account, Base, Case, Event, User
from pcso_tui.domain.core.roles import Actor, Role
from pcso_tui.domain.core.service import Domain
from pcso_tui.domain.core.states import check_case, check_incident, check_major_case
from pcso_tui.domain.core.users import add_user
from pcso_tui.domain.install_base.impact import affected_items
from pcso_tui.world.world import seed_world
from pcso_tui.world.worldgen import COLUMNS, KIND_LAYER, SIZES, Rows, Staff, WorldGenerator
from tests.conftest import FROZEN_AT
from tests.identity import signed_in_as

ROOT = Actor(user_id=None, name="root", role=Role.ADMIN)


async def rows_of(domain: Domain, sql: str) -> list[tuple]:
    async with domain.reading() as session:
        return [tuple(r) for r in (await session.execute(text(sql))).all()]


async def table_counts(domain: Domain) -> dict[str, int]:
    async with domain.reading() as session:
        return {t: await session.scalar(select(func.count()).select_from(Base.metadata.tables[t])) for t in COLUMNS} | {
            "app_user": await session.scalar(select(func.count()).select_from(User))
        }


async def dump(domain: Domain) -> dict[str, list[tuple]]:
    """Every row the world wrote, in a stable order."""
    out = {}
    for table, columns in COLUMNS.items():
        cols = ", ".join(columns)
        out[table] = await rows_of(domain, f"SELECT {cols} FROM {table} ORDER BY {cols}")
    out["app_user"] = await rows_of(domain, "SELECT id, name, role, account_id, email FROM app_user ORDER BY id")
    return out


async def open_copy(template: Path, path: Path) -> Domain:
    shutil.copyfile(template, path)
    return await Domain.open(path, clock=FrozenClock(FROZEN_AT))


# --- the generator on its own ---------------------------------------------------------------


def generate(seed: int, size: str = "tiny") -> list[tuple[str, list[tuple]]]:
    generator = WorldGenerator(SIZES[size], seed, FROZEN_AT, Staff(olivia=2, adam=3, maria=4))
    return [(c.table, c.rows) for c in generator.run() if isinstance(c, Rows)]


def test_the_generator_is_a_function_of_seed_and_clock() -> None:
    assert generate(1) == generate(1)
    assert generate(1) != generate(2)


DIGEST = """
import hashlib
from datetime import UTC, datetime
from pcso_tui.world.worldgen import SIZES, Rows, Staff, WorldGenerator
generator = WorldGenerator(SIZES["tiny"], 1, datetime(2026, 11, 23, 9, tzinfo=UTC), Staff(2, 3, 4))
digest = hashlib.sha256()
for chunk in generator.run():
    if isinstance(chunk, Rows):
        digest.update(repr((chunk.table, chunk.rows)).encode())
print(digest.hexdigest())
"""


def test_the_same_world_in_another_process_with_other_string_hashing() -> None:
    """Nothing may depend on the iteration order of sets or dicts of strings."""
    import os
    import subprocess
    import sys

    digests = {
        subprocess.run(
            [sys.executable, "-c", DIGEST],
            env={**os.environ, "PYTHONHASHSEED": hash_seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        for hash_seed in ("1", "2")
    }
    assert len(digests) == 1 and len(next(iter(digests))) == 64


def test_columns_name_every_column_of_their_tables() -> None:
    for table, columns in COLUMNS.items():
        expected = {c.name for c in Base.metadata.tables[table].c} - ({"id"} if table == "event" else set())
        assert set(columns) == expected, table
        assert len(columns) == len(set(columns))


def test_cli_offers_exactly_the_world_sizes() -> None:
    from pcso_tui.cli.world import SIZES as CLI_SIZES

    assert tuple(SIZES) == CLI_SIZES


# --- seeding a database ---------------------------------------------------------------------


async def test_tiny_world_counts_and_users(domain: Domain) -> None:
    summary = await seed_world(domain, ROOT, size="tiny", seed=1)
    counts = await table_counts(domain)
    assert (counts["account"], counts["install_base_item"], counts["ci"]) == (20, 200, 60)
    for table, n in summary.counts.items():
        # The world's own rows, plus the events of adding users and of seeding.
        assert counts[table] == n or (table == "event" and counts[table] == n + 6), table
    assert summary.users == ("admin", "olivia", "adam", "maria", "carl")
    users = dict(await rows_of(domain, "SELECT name, role FROM app_user"))
    assert users == {"admin": "admin", "olivia": "operator", "adam": "agent", "maria": "manager", "carl": "customer"}
    carl = await rows_of(
        domain,
        "SELECT a.number, a.is_external, c.name FROM app_user u JOIN account a ON a.id = u.account_id "
        "JOIN contact c ON c.account_id = a.id AND c.is_primary WHERE u.name = 'carl'",
    )
    assert carl == [(summary.customer_account, True, "Carl Jensen")]
    # Carl's account was hit by history: he has something to see in the portal.
    assert await rows_of(
        domain,
        f"SELECT count(*) > 0 FROM support_case WHERE kind = 'child' AND account_id = "
        f"(SELECT id FROM account WHERE number = '{summary.customer_account}')",
    ) in ([(True,)], [(1,)])
    assert summary.history_to == FROZEN_AT and summary.history_from == FROZEN_AT - timedelta(days=182)
    internal = await rows_of(domain, "SELECT count(*) FROM account WHERE NOT is_external")
    assert internal == [(2,)]


@pytest.mark.slow
async def test_small_world_has_the_promised_size_and_a_history_worth_a_dashboard(domain: Domain) -> None:
    summary = await seed_world(domain, ROOT, size="small", seed=7)
    counts = await table_counts(domain)
    assert (counts["account"], counts["install_base_item"], counts["ci"]) == (2_000, 20_000, 1_000)
    assert counts["contact"] > counts["account"] and counts["characteristic"] >= 3 * counts["install_base_item"]
    assert summary.counts["support_case"] == counts["support_case"]
    kinds = dict(await rows_of(domain, "SELECT kind, count(*) FROM support_case GROUP BY kind"))
    assert set(kinds) == {"reactive", "proactive", "major", "child"}
    assert kinds["child"] > kinds["major"] >= 3
    assert await rows_of(domain, "SELECT count(*) > 0 FROM support_case WHERE deflected") in ([(True,)], [(1,)])
    assert {r[0] for r in await rows_of(domain, "SELECT DISTINCT major_case_state FROM support_case")} >= {
        "none",
        "accepted",
        "rejected",
    }
    assert {r[0] for r in await rows_of(domain, "SELECT DISTINCT type FROM outage")} == {
        "planned",
        "unplanned",
        "degradation",
    }
    assert {r[0] for r in await rows_of(domain, "SELECT DISTINCT state FROM notice")} >= {"sent", "dead"}
    assert counts["statement"] > 0 and counts["case_article"] >= 1 and counts["alert"] > counts["incident"]
    # Opened across the whole half year, not in one lump.
    months = await rows_of(domain, "SELECT opened_at FROM incident")
    assert len({(r[0].year, r[0].month) if hasattr(r[0], "year") else r[0][:7] for r in months}) >= 6
    await check_history(domain)
    await check_contacts_and_children(domain)


async def test_same_seed_same_rows_other_seed_other_rows(sqlite_template: Path, tmp_path: Path) -> None:
    dumps = []
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        domain = await open_copy(sqlite_template, tmp_path / f"{name}.db")
        try:
            await seed_world(domain, ROOT, size="tiny", seed=seed)
            dumps.append(await dump(domain))
        finally:
            await domain.close()
    assert dumps[0] == dumps[1]
    assert dumps[0]["account"] != dumps[2]["account"]
    assert dumps[0]["event"] != dumps[2]["event"]


async def test_one_primary_contact_per_account_and_one_child_per_account(domain: Domain) -> None:
    await seed_world(domain, ROOT, size="tiny", seed=1)
    await check_contacts_and_children(domain)


async def check_contacts_and_children(domain: Domain) -> None:
    primaries = await rows_of(
        domain,
        "SELECT a.id, count(c.id), sum(CASE WHEN c.is_primary THEN 1 ELSE 0 END) FROM account a "
        "LEFT JOIN contact c ON c.account_id = a.id GROUP BY a.id",
    )
    assert primaries and all(n >= 1 and p == 1 for _a, n, p in primaries)
    duplicates = await rows_of(
        domain,
        "SELECT parent_id, account_id FROM support_case WHERE kind = 'child' "
        "GROUP BY parent_id, account_id HAVING count(*) > 1",
    )
    assert duplicates == []
    children = await rows_of(
        domain,
        "SELECT p.kind, a.is_external, c.contact_id = pc.id FROM support_case c "
        "JOIN support_case p ON p.id = c.parent_id JOIN account a ON a.id = c.account_id "
        "JOIN contact pc ON pc.account_id = a.id AND pc.is_primary WHERE c.kind = 'child'",
    )
    assert children, "the history has no major case with children"
    assert {(kind, bool(ext), bool(primary)) for kind, ext, primary in children} == {("major", True, True)}
    # One child for every external account the major case affects.
    gaps = await rows_of(
        domain,
        "SELECT m.id, ca.account_id FROM support_case m JOIN case_account ca ON ca.case_id = m.id "
        "JOIN account a ON a.id = ca.account_id AND a.is_external WHERE m.kind = 'major' AND NOT EXISTS "
        "(SELECT 1 FROM support_case c WHERE c.parent_id = m.id AND c.account_id = ca.account_id AND c.kind = 'child')",
    )
    assert gaps == []


async def test_service_map_is_layered_acyclic_and_shaped_for_impact(domain: Domain) -> None:
    await seed_world(domain, ROOT, size="tiny", seed=1)
    kinds = dict(await rows_of(domain, "SELECT id, kind FROM ci"))
    edges = await rows_of(domain, "SELECT ci_id, depends_on_id FROM ci_dependency")
    assert all(KIND_LAYER[kinds[child]] > KIND_LAYER[kinds[parent]] for child, parent in edges)
    # Acyclic, checked on its own: a topological sort consumes every CI.
    indegree = Counter(child for child, _p in edges)
    dependents = defaultdict(list)
    for child, parent in edges:
        dependents[parent].append(child)
    ready = [c for c in kinds if indegree[c] == 0]
    seen = 0
    while ready:
        node = ready.pop()
        seen += 1
        for child in dependents[node]:
            indegree[child] -= 1
            if indegree[child] == 0:
                ready.append(child)
    assert seen == len(kinds)
    # Each layer hangs off exactly one parent in the layer below; applications also use services.
    ups = defaultdict(list)
    for child, parent in edges:
        ups[child].append(kinds[parent])
    for ci, kind in kinds.items():
        if kind == "datacentre":
            assert ups[ci] == []
        elif kind == "application":
            assert ups[ci].count("host") == 1
        else:
            assert len(ups[ci]) == 1
    # A datacentre touches most accounts, an application a handful.
    async with domain.reading() as session:
        accounts = await session.scalar(select(func.count()).select_from(Account))

        async def reach(ci: int) -> int:
            impact = affected_items([ci]).subquery()
            return await session.scalar(select(func.count(func.distinct(impact.c.account_id))))

        datacentre = next(c for c, k in kinds.items() if k == "datacentre")
        assert await reach(datacentre) >= 0.8 * accounts
        apps = [c for c, k in kinds.items() if k == "application"]
        assert max([await reach(app) for app in apps]) <= 6


async def test_history_is_written_in_the_event_catalogue(domain: Domain) -> None:
    """Demo history reads exactly like real history: every kind is in the catalogue, on the
    subject type it declares, and its payload is what the catalogue class stores."""
    await seed_world(domain, ROOT, size="tiny", seed=1)
    async with domain.reading() as session:
        events = (await session.execute(select(Event.kind, Event.subject_type, Event.payload))).all()
    kinds = Counter(kind for kind, _, _ in events)
    assert set(kinds) <= set(ek.REGISTRY), sorted(set(kinds) - set(ek.REGISTRY))
    for kind, subject_type, payload in events:
        cls = ek.REGISTRY[kind]
        assert subject_type in (cls.subject_type, *cls.other_subjects), (kind, subject_type)
        assert cls.from_stored(payload).stored() == payload, (kind, payload)
    # The history covers the whole flow, from alerts to statements and notices.
    for kind in (
        "alert.opened",
        "incident.resolved",
        "major_case.approved",
        "major_case.resolved",
        "statement.posted",
        "case.attached",
        "notices.delivered",
        "maintenance.added",
        "outage.ended",
    ):
        assert kinds[kind], kind


async def test_history_obeys_the_state_machines(domain: Domain) -> None:
    await seed_world(domain, ROOT, size="tiny", seed=1)
    await check_history(domain)


async def check_history(domain: Domain) -> None:
    now = FROZEN_AT
    async with domain.reading() as session:
        events = (await session.execute(select(Event).order_by(Event.id))).scalars().all()
        cases = (await session.execute(select(Case))).scalars().all()
        incidents = {
            i: (state, opened, resolved, closed)
            for i, state, opened, resolved, closed in (
                await session.execute(text("SELECT id, state, opened_at, resolved_at, closed_at FROM incident"))
            ).all()
        }
    assert all(e.at <= now for e in events)
    history = [e for e in events if not e.kind.startswith(("user.", "world."))]
    assert all(a.at <= b.at for a, b in pairwise(history)), "events out of time order"

    case_state: dict[int, str] = {}
    major_state: dict[int, str] = {}
    incident_state: dict[int, str] = {}

    def case_to(sid: int, to: str, was: str | None = None) -> None:
        assert was in (None, case_state[sid])
        check_case(f"case {sid}", case_state[sid], to)
        case_state[sid] = to

    def major_to(sid: int, to: str) -> None:
        current = major_state.get(sid, "none")
        check_major_case(f"case {sid}", current, to)
        major_state[sid] = to

    def incident_to(sid: int, to: str) -> None:
        check_incident(f"incident {sid}", incident_state[sid], to)
        incident_state[sid] = to

    # Read as every reader reads events: through the catalogue.
    for e in events:
        sid, typed = e.subject_id, ek.typed(e.kind, e.payload)
        match typed:
            case ek.CaseOpened():
                assert sid not in case_state
                case_state[sid] = "new"
            case ek.CaseStateChanged(from_=was, to=to):
                case_to(sid, to, was)
            case ek.MajorCaseResolved():
                case_to(sid, "resolved")
            case ek.MajorCaseClosed():
                case_to(sid, "closed")
            case ek.MajorCaseProposed():
                major_to(sid, "proposed")
            case ek.MajorCaseRejected():
                major_to(sid, "rejected")
            case ek.MajorCaseApproved(candidate_id=candidate):
                major_to(candidate, "accepted")
            case ek.IncidentOpened():
                incident_state[sid] = "new"
            case ek.IncidentStateChanged(to=to) | ek.IncidentClosed(to=to):
                incident_to(sid, to)
            case ek.IncidentResolved():
                incident_to(sid, "resolved")

    by_id = {c.id: c for c in cases}
    for c in cases:
        assert case_state[c.id] == c.state, f"case {c.id}"
        assert c.opened_at <= c.updated_at <= now
        if c.state == "closed":
            assert c.resolved_at is not None and c.closed_at is not None and c.opened_at <= c.resolved_at <= c.closed_at
            assert c.resolution_code
        elif c.state == "resolved":
            assert c.resolved_at is not None and c.closed_at is None and c.resolution_code
        else:
            assert c.resolved_at is None and c.closed_at is None and c.resolution_code is None
        if c.kind == "major":
            assert c.major_case_state == "accepted" and c.decided_at is not None and c.parent_id is None
        else:
            assert c.major_case_state == major_state.get(c.id, "none")
        if c.major_case_state in ("accepted", "rejected"):
            assert c.proposed_at is not None and c.decided_at is not None and c.proposed_at <= c.decided_at
        if c.major_case_state == "rejected":
            assert c.reject_reason
        if c.kind == "child":
            assert by_id[c.parent_id].kind == "major" and c.account_id is not None
        if c.deflected:
            parent = by_id[c.parent_id]
            assert c.kind == "reactive" and parent.kind == "major" and c.opened_at >= parent.decided_at
    assert set(case_state) == set(by_id)

    for i, (state, opened, resolved, closed) in incidents.items():
        assert incident_state[i] == state
        assert state in ("resolved", "closed") and resolved is not None and opened <= resolved
        assert (closed is not None) == (state == "closed")
    assert await rows_of(domain, "SELECT count(*) FROM alert WHERE state <> 'closed' OR ends_at < starts_at") == [(0,)]
    active = await rows_of(
        domain,
        f"SELECT count(*) FROM outage WHERE begins_at <= '{now:%Y-%m-%d %H:%M:%S}' AND ends_at > "
        f"'{now:%Y-%m-%d %H:%M:%S}'",
    )
    assert active == [(0,)]
    ahead = await rows_of(domain, f"SELECT type FROM outage WHERE begins_at > '{now:%Y-%m-%d %H:%M:%S}'")
    assert ahead == [("planned",)]
    notices = await rows_of(
        domain,
        "SELECT count(*) FROM notice WHERE (state = 'sent' AND sent_at IS NULL) "
        "OR (state = 'dead' AND last_error IS NULL) OR state = 'pending'",
    )
    assert notices == [(0,)]


async def test_seeded_times_compare_like_times_the_orm_wrote(domain: Domain) -> None:
    await seed_world(domain, ROOT, size="tiny", seed=1)
    cut = FROZEN_AT - timedelta(days=60)
    async with domain.reading() as session:
        opened = (await session.scalars(select(Case.opened_at))).all()
        newer = await session.scalar(select(func.count()).select_from(Case).where(Case.opened_at > cut))
    assert all(t.tzinfo is not None for t in opened)
    assert newer == sum(t > cut for t in opened) > 0


async def test_the_world_can_grow_after_seeding(domain: Domain) -> None:
    """Explicit ids must leave the id sequences (PostgreSQL) ready for the next row."""
    await seed_world(domain, ROOT, size="tiny", seed=1)
    admin = Actor(user_id=1, name="admin", role=Role.ADMIN)
    async with domain.transaction(admin) as tx:
        account = Account(number="ACC-NEW", name="Added later", created_at=tx.now)
        tx.session.add(account)
        await tx.session.flush()
        case = Case(
            kind="reactive", short_description="after seeding", opened_at=tx.now, updated_at=tx.now,
            account_id=account.id,
        )  # fmt: skip
        tx.session.add(case)
        await tx.session.flush()
    assert account.id == 21
    assert case.id > 1


# --- refusals -------------------------------------------------------------------------------


async def test_a_database_with_accounts_is_refused_and_left_alone(domain: Domain, actors: dict[Role, Actor]) -> None:
    before = await table_counts(domain)
    with pytest.raises(Conflict, match=r"already holds data \(1 account\); pcso seed builds a world only in an empty"):
        await seed_world(domain, actors[Role.ADMIN], size="tiny")
    assert await table_counts(domain) == before


async def test_seeding_twice_is_refused(domain: Domain) -> None:
    await seed_world(domain, ROOT, size="tiny", seed=1)
    before = await table_counts(domain)
    with pytest.raises(Conflict, match=r"already holds data \(20 accounts, \d+ contacts, 24 products, …\)"):
        await seed_world(domain, ROOT, size="tiny", seed=2)
    assert await table_counts(domain) == before


@pytest.mark.parametrize("role", [Role.OPERATOR, Role.AGENT, Role.MANAGER, Role.CUSTOMER])
async def test_only_admins_may_seed(domain: Domain, actors: dict[Role, Actor], role: Role) -> None:
    before = await table_counts(domain)
    with pytest.raises(PermissionDenied, match=f"{role.value} \\({role.value}\\) may not seed a synthetic world"):
        await seed_world(domain, actors[role], size="tiny")
    assert await table_counts(domain) == before


@pytest.mark.parametrize(
    ("size", "seed", "message"),
    [
        ("huge", 1, "unknown world size 'huge'; sizes: tiny, small, medium, large"),
        ("tiny", "7", "the seed must be a whole number, not '7'"),
        ("tiny", True, "the seed must be a whole number, not True"),
    ],
)
async def test_bad_size_or_seed_is_refused(domain: Domain, size, seed, message) -> None:
    before = await table_counts(domain)
    with pytest.raises(InvalidInput, match=message):
        await seed_world(domain, ROOT, size=size, seed=seed)
    assert await table_counts(domain) == before


async def test_progress_is_reported_per_phase(domain: Domain) -> None:
    seen: dict[str, list[tuple[int, int]]] = defaultdict(list)
    await seed_world(domain, ROOT, size="tiny", progress=lambda phase, done, total: seen[phase].append((done, total)))
    assert list(seen) == ["users", "accounts", "service map", "install base", "history"]
    for phase, steps in seen.items():
        assert steps[-1][0] == steps[-1][1], phase
        assert [d for d, _t in steps] == sorted(d for d, _t in steps), phase


# --- the command line -----------------------------------------------------------------------


def run_cli(db: Path, user: str, *args: str):
    from pcso_tui.cli import main

    with signed_in_as(user):
        return CliRunner().invoke(main, ["--db", str(db), *args], catch_exceptions=False)


def test_cli_bootstraps_an_empty_database_and_refuses_a_second_world(sqlite_template: Path, tmp_path: Path) -> None:
    db = tmp_path / "cli.db"
    shutil.copyfile(sqlite_template, db)
    result = run_cli(db, "alice", "seed", "--size", "tiny", "--seed", "5", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["size"], summary["seed"], summary["counts"]["account"]) == ("tiny", 5, 20)

    listed = run_cli(db, "alice", "users", "list", "--json")
    assert {(u["name"], u["role"]) for u in json.loads(listed.stdout)} == {
        ("alice", "admin"),
        ("admin", "admin"),
        ("olivia", "operator"),
        ("adam", "agent"),
        ("maria", "manager"),
        ("carl", "customer"),
    }
    again = run_cli(db, "alice", "seed", "--size", "tiny")
    assert again.exit_code == 7
    assert "already holds data (20 accounts" in again.stderr
    stranger = run_cli(db, "mallory", "seed", "--size", "tiny")
    assert stranger.exit_code == 8 and "no pcso user named 'mallory'" in stranger.stderr


def test_cli_prints_a_summary_and_refuses_non_admins(sqlite_template: Path, tmp_path: Path) -> None:
    import asyncio

    db = tmp_path / "cli.db"
    shutil.copyfile(sqlite_template, db)

    async def users() -> None:
        domain = await Domain.open(db)
        try:
            await add_user(domain, ROOT, "boss", Role.ADMIN)
            admin = Actor(user_id=1, name="boss", role=Role.ADMIN)
            await add_user(domain, admin, "olivia", Role.OPERATOR)
        finally:
            await domain.close()

    asyncio.run(users())
    refused = run_cli(db, "olivia", "seed", "--size", "tiny")
    assert refused.exit_code == 4 and "may not seed a synthetic world" in refused.stderr
    done = run_cli(db, "boss", "seed", "--size", "tiny")
    assert done.exit_code == 0, done.output
    assert done.stdout.startswith("seeded a tiny world (seed 1):")
    assert "install_base_item   200" in done.stdout and "carl is a customer of ACC-" in done.stdout
