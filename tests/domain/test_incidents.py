"""Incidents: every command, role checks, the state machine, journal visibility, locking."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from pcso_tui.domain.casework import major_cases
from pcso_tui.domain.core.errors import Conflict, IllegalTransition, InvalidInput, NotFound, PermissionDenied
from pcso_tui.domain.core.models import Alert, Event, Incident, IncidentCI, JournalEntry
from pcso_tui.domain.core.roles import PERMISSIONS, Actor, Permission, Role
from pcso_tui.domain.core.service import Domain
from pcso_tui.domain.operations.incidents import (
    CUSTOMER_SAFE_KINDS,
    add_incident_note,
    close_incident,
    get_incident,
    list_incidents,
    open_incident,
    resolve_incident,
    set_incident_eta,
    set_incident_state,
)
from tests.conftest import FROZEN_AT
from tests.domain.test_correlation import MAP, add_alerts, correlate, make_map

HOSTILE = "[bold]x[/\x1b[2J"


async def counts(domain: Domain) -> tuple[int, ...]:
    async with domain.reading() as session:
        return tuple(
            [
                await session.scalar(select(func.count()).select_from(model))
                for model in (Incident, IncidentCI, JournalEntry, Event)
            ]
            + [await session.scalar(select(func.count()).select_from(Alert).where(Alert.incident_id.is_not(None)))]
        )


async def incident_row(domain: Domain, incident_id: int) -> tuple[Any, ...]:
    async with domain.reading() as session:
        i = await session.get(Incident, incident_id)
        assert i is not None
        return (i.state, i.severity, i.eta, i.version, i.resolution_code, i.resolved_at, i.closed_at, i.title)


async def last_events(domain: Domain, n: int = 1) -> list[Event]:
    async with domain.reading() as session:
        return list((await session.scalars(select(Event).order_by(Event.id.desc()).limit(n))).all())[::-1]


@pytest.fixture
async def world(domain: Domain, actors: dict[Role, Actor]) -> dict[str, int]:
    return await make_map(domain, MAP)


@pytest.fixture
async def incident(domain: Domain, actors: dict[Role, Actor], world: dict[str, int]) -> int:
    view = await open_incident(
        domain, actors[Role.OPERATOR], title="Payments slow", severity="major", ci_names=["host-a1", "host-a2"]
    )
    return view.id


@pytest.fixture
def synced(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int, str]]:
    """Every call to the major-case sync: (incident id, entry id, entry kind seen in the tx)."""
    calls: list[tuple[int, int, str]] = []
    original = major_cases.sync_incident_update

    async def spy(tx, incident_id: int, entry_id: int) -> int:
        entry = await tx.session.get(JournalEntry, entry_id)
        calls.append((incident_id, entry_id, entry.kind))
        return await original(tx, incident_id, entry_id)

    monkeypatch.setattr(major_cases, "sync_incident_update", spy)
    return calls


# --- opening -------------------------------------------------------------------------------


async def test_an_operator_opens_an_incident_on_cis(
    domain: Domain, actors: dict[Role, Actor], world: dict[str, int]
) -> None:
    view = await open_incident(
        domain, actors[Role.OPERATOR], title="Payments slow", severity="major", ci_names=["host-a1", "svc-a2"]
    )
    assert (view.number, view.title, view.state, view.severity) == ("INC0000001", "Payments slow", "new", "major")
    assert (view.opened_by, view.opened_by_rule, view.ci_count, view.alert_count, view.version) == (
        "operator",
        None,
        2,
        0,
        1,
    )
    assert view.root_ci_name == "cluster-a"
    (event,) = await last_events(domain)
    assert (event.kind, event.actor_name, event.payload["cis"], event.payload["root_ci"]) == (
        "incident.opened",
        "operator",
        ["host-a1", "svc-a2"],
        "cluster-a",
    )


async def test_one_key_on_alerts_takes_title_and_severity_from_them(
    domain: Domain, actors: dict[Role, Actor], world: dict[str, int]
) -> None:
    alerts = await add_alerts(
        domain,
        world,
        [{"ci": "svc-b1", "severity": "minor", "name": "Slow"}, {"ci": "host-b1", "severity": "warning"}],
    )
    view = await open_incident(domain, actors[Role.OPERATOR], alert_ids=alerts)
    assert (view.title, view.severity, view.alert_count, view.firing_count) == (
        "Slow on svc-b1 and 1 related alert",
        "minor",
        2,
        2,
    )
    assert view.root_ci_name == "host-b1"
    # An alert already in an active incident cannot be taken into another one.
    before = await counts(domain)
    with pytest.raises(Conflict, match=r"alert \d+ already belongs to INC0000001"):
        await open_incident(domain, actors[Role.OPERATOR], title="Other", severity="major", alert_ids=alerts[:1])
    assert await counts(domain) == before


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"title": "  ", "severity": "major"}, InvalidInput, "needs a title"),
        ({"title": "x" * 501, "severity": "major"}, InvalidInput, "at most 500"),
        ({"title": "Down"}, InvalidInput, "needs a severity"),
        ({"title": "Down", "severity": "apocalyptic"}, InvalidInput, "unknown severity 'apocalyptic'"),
        ({"title": "Down", "severity": "clear"}, InvalidInput, "unknown severity 'clear'"),
        ({"title": "Down", "severity": "major", "ci_names": ["host-a1", "nope"]}, NotFound, "no CI named 'nope'"),
        ({"title": "Down", "severity": "major", "ci_ids": [999999]}, NotFound, "no CI with id 999999"),
        ({"title": "Down", "severity": "major", "alert_ids": [424242]}, NotFound, "no alert with id 424242"),
    ],
)
async def test_bad_open_is_refused_and_changes_nothing(
    domain: Domain, actors: dict[Role, Actor], world: dict[str, int], kwargs, error, message
) -> None:
    before = await counts(domain)
    with pytest.raises(error, match=message):
        await open_incident(domain, actors[Role.OPERATOR], **kwargs)
    assert await counts(domain) == before


async def test_unknown_cis_are_all_named(domain: Domain, actors: dict[Role, Actor], world: dict[str, int]) -> None:
    with pytest.raises(NotFound) as caught:
        await open_incident(domain, actors[Role.OPERATOR], title="x", severity="minor", ci_names=["b", "a", "host-a1"])
    assert caught.value.details == ["unknown CI 'a'", "unknown CI 'b'"]


async def test_hostile_text_is_kept_as_data(domain: Domain, actors: dict[Role, Actor], world: dict[str, int]) -> None:
    view = await open_incident(domain, actors[Role.OPERATOR], title=HOSTILE, severity="minor")
    await add_incident_note(domain, actors[Role.OPERATOR], view.id, HOSTILE)
    detail = await get_incident(domain, actors[Role.AGENT], view.id)
    assert detail.incident.title == HOSTILE
    assert detail.journal[-1].body == HOSTILE


# --- role checks ---------------------------------------------------------------------------


def _commands(incident_id: int) -> list[tuple[str, Permission, Callable[[Domain, Actor], Awaitable[Any]]]]:
    later = FROZEN_AT + timedelta(hours=2)
    return [
        ("open", Permission.OPEN_INCIDENT, lambda d, a: open_incident(d, a, title="t", severity="minor")),
        ("work note", Permission.ADD_WORK_NOTE, lambda d, a: add_incident_note(d, a, incident_id, "n")),
        (
            "progress",
            Permission.UPDATE_INCIDENT,
            lambda d, a: add_incident_note(d, a, incident_id, "p", kind="progress"),
        ),
        ("state", Permission.UPDATE_INCIDENT, lambda d, a: set_incident_state(d, a, incident_id, "in_progress")),
        ("eta", Permission.UPDATE_INCIDENT, lambda d, a: set_incident_eta(d, a, incident_id, later)),
        ("resolve", Permission.UPDATE_INCIDENT, lambda d, a: resolve_incident(d, a, incident_id, "fixed", "ok")),
        ("close", Permission.UPDATE_INCIDENT, lambda d, a: close_incident(d, a, incident_id)),
        ("list", Permission.VIEW_OPERATIONS, lambda d, a: list_incidents(d, a)),
        ("show", Permission.VIEW_OPERATIONS, lambda d, a: get_incident(d, a, incident_id)),
    ]


async def test_every_command_checks_the_role_first(domain: Domain, actors: dict[Role, Actor], incident: int) -> None:
    refused = 0
    for name, permission, command in _commands(incident):
        for role, actor in actors.items():
            if permission in PERMISSIONS[role]:
                continue
            before = await counts(domain)
            with pytest.raises(PermissionDenied, match=f"{role.value} \\({role.value}\\) may not {permission.value}"):
                await command(domain, actor)
            assert await counts(domain) == before, (name, role)
            refused += 1
    assert refused >= 9  # the customer at least, for every command


async def test_agents_add_work_notes_but_not_progress(domain: Domain, actors: dict[Role, Actor], incident: int) -> None:
    entry = await add_incident_note(domain, actors[Role.AGENT], incident, "looked at the logs")
    assert (entry.kind, entry.author_name) == ("work_note", "agent")
    with pytest.raises(PermissionDenied, match="may not update incidents"):
        await add_incident_note(domain, actors[Role.AGENT], incident, "ETA soon", kind="progress")


# --- notes and the journal -----------------------------------------------------------------


async def test_journal_visibility(
    domain: Domain, actors: dict[Role, Actor], incident: int, synced: list[tuple[int, int, str]]
) -> None:
    operator = actors[Role.OPERATOR]
    note = await add_incident_note(domain, operator, incident, "restarted the pool, watching")
    progress = await add_incident_note(domain, operator, incident, "Payments are slow; we are on it", kind="progress")
    await set_incident_eta(domain, operator, incident, FROZEN_AT + timedelta(hours=1))
    await set_incident_state(domain, operator, incident, "in_progress")
    await resolve_incident(domain, operator, incident, "fixed", "Pool resized")
    detail = await get_incident(domain, operator, incident)
    kinds = [(e.kind, e.visibility, e.customer_safe) for e in detail.journal]
    assert kinds == [
        ("work_note", "internal", False),
        ("progress", "internal", True),
        ("eta", "internal", True),
        ("state", "internal", True),
        ("resolution", "internal", True),
    ]
    assert {"progress", "eta", "state", "resolution"} == CUSTOMER_SAFE_KINDS
    assert (note.customer_safe, progress.customer_safe) == (False, True)
    assert [e.body for e in detail.journal][2:] == [
        "ETA: 2026-11-23 10:00 UTC",
        "State: new → in_progress",
        "Resolved (fixed): Pool resized",
    ]
    # Every line went to the major-case sync, in its own transaction, with its entry.
    assert synced == [(incident, e.id, e.kind) for e in detail.journal]


async def test_each_update_is_an_event(domain: Domain, actors: dict[Role, Actor], incident: int) -> None:
    operator = actors[Role.OPERATOR]
    await add_incident_note(domain, operator, incident, "a")
    await add_incident_note(domain, operator, incident, "b", kind="progress")
    await set_incident_eta(domain, operator, incident, FROZEN_AT + timedelta(minutes=30))
    await set_incident_eta(domain, operator, incident, None)
    await set_incident_state(domain, operator, incident, "on_hold", note="waiting for the vendor")
    await resolve_incident(domain, operator, incident, "workaround", "failover")
    await close_incident(domain, operator, incident)
    events = await last_events(domain, 7)
    assert [(e.kind, e.subject_id, e.actor_name) for e in events] == [
        (k, incident, "operator")
        for k in (
            "incident.work_note_added",
            "incident.progress_posted",
            "incident.eta_set",
            "incident.eta_set",
            "incident.state_changed",
            "incident.resolved",
            "incident.closed",
        )
    ]
    assert events[2].payload["eta"] == "2026-11-23T09:30:00+00:00"
    assert events[3].payload["eta"] is None
    assert events[4].payload | {"entry_id": 0} == {"from": "new", "to": "on_hold", "entry_id": 0}
    detail = await get_incident(domain, operator, incident)
    assert detail.journal[4].body == "State: new → on_hold\nwaiting for the vendor"
    assert (detail.incident.state, detail.resolution_code, detail.resolution_notes) == (
        "closed",
        "workaround",
        "failover",
    )
    assert detail.closed_at == FROZEN_AT and detail.resolved_at == FROZEN_AT


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"body": "   "}, InvalidInput, "the note is empty"),
        ({"body": "x" * 20_001}, InvalidInput, "at most 20000"),
        ({"body": "x", "kind": "statement"}, InvalidInput, "unknown note kind 'statement'"),
    ],
)
async def test_bad_notes_are_refused(domain: Domain, actors: dict[Role, Actor], incident: int, kwargs, error, message):
    before = await counts(domain)
    with pytest.raises(error, match=message):
        await add_incident_note(domain, actors[Role.OPERATOR], incident, **kwargs)
    assert await counts(domain) == before


async def test_unknown_incident_is_named(domain: Domain, actors: dict[Role, Actor], world) -> None:
    with pytest.raises(NotFound, match="no incident INC0000077"):
        await add_incident_note(domain, actors[Role.OPERATOR], 77, "x")
    with pytest.raises(NotFound, match="no incident INC0000077"):
        await get_incident(domain, actors[Role.OPERATOR], 77)


# --- the state machine ---------------------------------------------------------------------


async def test_the_lifecycle(domain: Domain, actors: dict[Role, Actor], incident: int) -> None:
    operator = actors[Role.OPERATOR]
    for state in ("in_progress", "on_hold", "in_progress"):
        assert (await set_incident_state(domain, operator, incident, state)).state == state
    view = await resolve_incident(domain, operator, incident, "fixed", "replaced the disk")
    assert view.state == "resolved"
    # Reopened: resolved → in progress, then resolved again and closed.
    view = await set_incident_state(domain, operator, incident, "in_progress")
    assert (await incident_row(domain, incident))[5] is None
    await resolve_incident(domain, operator, incident, "fixed", "for real")
    view = await close_incident(domain, operator, incident)
    assert view.state == "closed"
    assert view not in await list_incidents(domain, operator)


@pytest.mark.parametrize(
    ("setup", "command", "error", "message"),
    [
        ([], lambda d, a, i: close_incident(d, a, i), IllegalTransition, "INC0000001 is new and cannot become closed"),
        (
            [],
            lambda d, a, i: set_incident_state(d, a, i, "resolved"),
            InvalidInput,
            "resolving needs a resolution code and notes",
        ),
        ([], lambda d, a, i: set_incident_state(d, a, i, "done"), InvalidInput, "unknown incident state 'done'"),
        ([], lambda d, a, i: set_incident_state(d, a, i, "new"), IllegalTransition, "is new and cannot become new"),
        (
            ["canceled"],
            lambda d, a, i: set_incident_state(d, a, i, "in_progress"),
            IllegalTransition,
            r"is canceled and cannot become in_progress; allowed: nothing \(final state\)",
        ),
        (["canceled"], lambda d, a, i: add_incident_note(d, a, i, "x"), IllegalTransition, "takes no more notes"),
        (
            ["canceled"],
            lambda d, a, i: resolve_incident(d, a, i, "fixed", "x"),
            IllegalTransition,
            "is canceled and cannot become resolved",
        ),
        (
            ["resolve"],
            lambda d, a, i: set_incident_eta(d, a, i, FROZEN_AT + timedelta(hours=1)),
            IllegalTransition,
            "is resolved: an ETA is only set on an active incident",
        ),
        (
            ["resolve"],
            lambda d, a, i: resolve_incident(d, a, i, "fixed", "again"),
            IllegalTransition,
            "is resolved and cannot become resolved",
        ),
        ([], lambda d, a, i: resolve_incident(d, a, i, " ", "x"), InvalidInput, "the resolution code is empty"),
        ([], lambda d, a, i: resolve_incident(d, a, i, "fixed", ""), InvalidInput, "the resolution notes is empty"),
        ([], lambda d, a, i: resolve_incident(d, a, i, "a\x1bb", "x"), InvalidInput, "one line of printable text"),
        (
            [],
            lambda d, a, i: set_incident_eta(d, a, i, FROZEN_AT - timedelta(minutes=1)),
            InvalidInput,
            "the ETA 2026-11-23 08:59 UTC is not in the future",
        ),
        (
            [],
            lambda d, a, i: set_incident_eta(d, a, i, FROZEN_AT.replace(tzinfo=None) + timedelta(hours=1)),
            InvalidInput,
            "needs a time zone",
        ),
    ],
)
async def test_refusals_change_nothing(
    domain: Domain, actors: dict[Role, Actor], incident: int, setup, command, error, message
) -> None:
    operator = actors[Role.OPERATOR]
    for step in setup:
        if step == "resolve":
            await resolve_incident(domain, operator, incident, "fixed", "done")
        else:
            await set_incident_state(domain, operator, incident, step)
    before = (await counts(domain), await incident_row(domain, incident))
    with pytest.raises(error, match=message):
        await command(domain, operator, incident)
    assert (await counts(domain), await incident_row(domain, incident)) == before


# --- optimistic locking --------------------------------------------------------------------


async def test_a_stale_version_is_refused_naming_who_changed_it(
    domain: Domain, actors: dict[Role, Actor], incident: int, clock
) -> None:
    seen = (await get_incident(domain, actors[Role.OPERATOR], incident)).incident.version
    clock.advance(minutes=5)
    await add_incident_note(domain, actors[Role.MANAGER], incident, "customer X called")
    before = (await counts(domain), await incident_row(domain, incident))
    message = r"INC0000001 was changed by manager at 09:05 UTC \(you had version 1, it is now 2\) — reload"
    for command in (
        lambda: set_incident_state(domain, actors[Role.OPERATOR], incident, "in_progress", expected_version=seen),
        lambda: set_incident_eta(domain, actors[Role.OPERATOR], incident, None, expected_version=seen),
        lambda: resolve_incident(domain, actors[Role.OPERATOR], incident, "x", "y", expected_version=seen),
        lambda: add_incident_note(domain, actors[Role.OPERATOR], incident, "z", expected_version=seen),
    ):
        with pytest.raises(Conflict, match=message):
            await command()
    assert (await counts(domain), await incident_row(domain, incident)) == before
    view = await set_incident_state(domain, actors[Role.OPERATOR], incident, "in_progress", expected_version=2)
    assert view.version == 3


async def test_a_note_in_the_same_instant_still_counts_as_a_change(
    domain: Domain, actors: dict[Role, Actor], incident: int
) -> None:
    # The clock does not move: updated_at is set to the value it already has.
    seen = (await get_incident(domain, actors[Role.OPERATOR], incident)).incident.version
    await add_incident_note(domain, actors[Role.MANAGER], incident, "first")
    await add_incident_note(domain, actors[Role.MANAGER], incident, "second")
    assert (await get_incident(domain, actors[Role.OPERATOR], incident)).incident.version == seen + 2
    with pytest.raises(Conflict, match=rf"you had version {seen + 1}, it is now {seen + 2}"):
        await set_incident_eta(domain, actors[Role.OPERATOR], incident, None, expected_version=seen + 1)


async def test_an_alert_joining_counts_as_a_change(
    domain: Domain, actors: dict[Role, Actor], world: dict[str, int], incident: int
) -> None:
    alerts = await add_alerts(domain, world, [{"ci": "host-a1"}])
    assert await correlate(domain, alerts) == [incident]
    with pytest.raises(Conflict, match=r"changed by system at 09:00 UTC \(you had version"):
        await set_incident_state(domain, actors[Role.OPERATOR], incident, "in_progress", expected_version=1)


# --- queries -------------------------------------------------------------------------------


async def test_list_pages_and_counts(domain: Domain, actors: dict[Role, Actor], world: dict[str, int], clock) -> None:
    operator = actors[Role.OPERATOR]
    alerts = await add_alerts(domain, world, [{"ci": "svc-a1"}, {"ci": "app-a1", "severity": "minor"}])
    (auto,) = await correlate(domain, alerts)
    async with domain.transaction(operator) as tx:
        alert = await tx.session.get(Alert, alerts[1])
        alert.state = "closed"
    clock.advance(minutes=10)
    manual = await open_incident(domain, operator, title="Manual", severity="minor", ci_names=["svc-b1"])
    done = await open_incident(domain, operator, title="Done", severity="minor")
    await set_incident_state(domain, operator, done.id, "canceled")
    clock.advance(minutes=5)

    active = await list_incidents(domain, actors[Role.AGENT])
    assert [v.id for v in active] == [manual.id, auto]
    first = active[1]
    assert (first.alert_count, first.firing_count, first.ci_count, first.root_ci_name) == (2, 1, 2, "svc-a1")
    assert (first.opened_by, first.opened_by_rule, first.age_seconds) == (None, "correlation:severity", 900)
    assert (active[0].opened_by, active[0].age_seconds) == ("operator", 300)
    everything = await list_incidents(domain, operator, active_only=False)
    assert [v.id for v in everything] == [done.id, manual.id, auto]
    assert [v.id for v in await list_incidents(domain, operator, active_only=False, limit=1, offset=1)] == [manual.id]
    for bad, message in (({"limit": 0}, "limit 0"), ({"offset": -1}, "offset -1")):
        with pytest.raises(InvalidInput, match=message):
            await list_incidents(domain, operator, **bad)


async def test_detail_explains_the_root_cause(domain: Domain, actors: dict[Role, Actor], world: dict[str, int]) -> None:
    alerts = await add_alerts(
        domain, world, [{"ci": "app-a1", "severity": "minor"}, {"ci": "host-a2"}, {"ci": "svc-a2", "severity": "info"}]
    )
    (incident_id,) = await correlate(domain, alerts)
    detail = await get_incident(domain, actors[Role.OPERATOR], incident_id)
    assert [a.severity for a in detail.alerts] == ["critical", "minor", "info"]
    assert detail.root_cause is not None
    assert (detail.root_cause.ci_name, detail.root_cause.total_hops) == ("cluster-a", 6)
    assert [(c.name, c.hops_to_root) for c in detail.cis] == [("app-a1", 3), ("host-a2", 1), ("svc-a2", 2)]
    assert detail.root_cause.explanation == (
        "cluster-a is the nearest CI that all 3 CIs of this incident are or depend on "
        "(host-a2 1 hop, svc-a2 2 hops, app-a1 3 hops; 6 hops in all)"
    )
    assert detail.root_cause_note == ""


async def test_detail_says_why_there_is_no_root_cause(
    domain: Domain, actors: dict[Role, Actor], world: dict[str, int]
) -> None:
    operator = actors[Role.OPERATOR]
    split = await open_incident(domain, operator, title="Both", severity="major", ci_names=["svc-a1", "svc-b1"])
    detail = await get_incident(domain, operator, split.id)
    assert detail.root_cause is None and split.root_ci_name is None
    assert detail.root_cause_note == "no single CI within 10 hops is upstream of all 2 CIs of this incident"
    bare = await open_incident(domain, operator, title="Nothing", severity="minor")
    assert (await get_incident(domain, operator, bare.id)).root_cause_note.startswith("no CI on this incident")
    single = await open_incident(domain, operator, title="One", severity="minor", ci_names=["svc-b1"])
    root = (await get_incident(domain, operator, single.id)).root_cause
    assert root is not None and root.explanation == "svc-b1 is the only CI of this incident"
