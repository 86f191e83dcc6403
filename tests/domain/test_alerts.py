"""Alert ingestion: parsing, dedup, close/reopen, flapping, truncation, CI mapping, maintenance."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from pcso_tui.domain.core.clock import FrozenClock
from pcso_tui.domain.core.errors import Conflict, IllegalTransition, InvalidInput, NotFound, PermissionDenied
from pcso_tui.domain.core.event_kinds import AlertsLeftOut
from pcso_tui.domain.core.models import Alert, Event
from pcso_tui.domain.core.roles import SYSTEM, Actor, Role
from pcso_tui.domain.core.service import Domain
from pcso_tui.domain.core.settings import IngestSettings, Settings
from pcso_tui.domain.operations import alerts as alerts_module
from pcso_tui.domain.operations.alert_formats import BatchTooLarge, MalformedPayload, derive_fingerprint
from pcso_tui.domain.operations.alerts import (
    AlertInput,
    ParsedBatch,
    acknowledge_alert,
    add_maintenance_window,
    ci_candidates,
    count_alerts,
    get_alert,
    ingest,
    ingest_payload,
    list_alerts,
    list_maintenance_windows,
    strip_port,
    sweep_alerts,
    unacknowledge_alert,
)
from tests.alerting import (
    HOSTILE,
    add_cis,
    am_alert,
    am_message,
    counts,
    events,
    grafana_message,
    parse_payload,
    stored,
)


def with_ingest(domain: Domain, **changes: object) -> None:
    domain.settings = dataclasses.replace(domain.settings, ingest=IngestSettings(**changes))  # type: ignore[arg-type]


# --- parsing ---------------------------------------------------------------------------------


def test_alertmanager_message_is_parsed_with_zero_end_time_as_no_end() -> None:
    batch = parse_payload(json.dumps(am_message(am_alert(), am_alert("Other", fingerprint="fp-2"))).encode())
    assert len(batch) == 2 and batch.truncated == 0
    first = batch.alerts[0]
    assert (first.fingerprint, first.name, first.status, first.severity, first.source) == (
        "fp-1",
        "HighLatency",
        "firing",
        "critical",
        "alertmanager",
    )
    assert first.starts_at == datetime(2026, 11, 23, 8, 55, 0, 123456, tzinfo=UTC)
    assert first.ends_at is None
    assert first.summary == "p99 latency above 2s"


def test_grafana_message_is_read_and_its_extra_keys_ignored() -> None:
    alert = am_alert(
        silenceURL="http://grafana/silence", dashboardURL="", panelURL="", values={"B": 44.2, "C": 1}, valueString="x"
    )
    batch = parse_payload(grafana_message(alert))
    assert batch.alerts[0].source == "grafana"
    assert batch.alerts[0].fingerprint == "fp-1"


def test_resolved_alert_keeps_its_end_time_and_offsets_become_utc() -> None:
    alert = am_alert(
        status="resolved", starts_at="2026-11-23T09:51:03.157076+02:00", ends_at="2026-11-23T10:00:00+02:00"
    )
    parsed = parse_payload(am_message(alert)).alerts[0]
    assert parsed.starts_at == datetime(2026, 11, 23, 7, 51, 3, 157076, tzinfo=UTC)
    assert parsed.ends_at == datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


def test_generic_format_one_object_a_list_or_json_lines() -> None:
    one = {"name": "Disk full", "severity": "major", "ci": "db-1", "labels": {"mount": "/"}}
    assert len(parse_payload(json.dumps(one))) == 1
    assert len(parse_payload(json.dumps([one, one | {"name": "Other"}]))) == 2
    lines = "\n".join(json.dumps(one | {"name": f"n{i}"}) for i in range(3)) + "\n\n"
    batch = parse_payload(lines.encode())
    assert [a.name for a in batch.alerts] == ["n0", "n1", "n2"]
    assert batch.alerts[0].ci == "db-1" and batch.alerts[0].source == "generic"


def test_json_lines_may_mix_webhook_messages_and_generic_alerts() -> None:
    body = json.dumps(am_message(am_alert(), truncated=2)) + "\n" + json.dumps({"name": "x"}) + "\n"
    batch = parse_payload(body)
    assert [a.source for a in batch.alerts] == ["alertmanager", "generic"]
    assert batch.truncated == 2


def test_missing_fingerprint_is_derived_from_source_name_and_sorted_labels() -> None:
    a = parse_payload({"name": "x", "labels": {"a": "1", "b": "2"}}).alerts[0]
    b = parse_payload('{"labels": {"b": "2", "a": "1"}, "name": "x"}').alerts[0]
    c = parse_payload({"name": "x", "labels": {"a": "1", "b": "3"}}).alerts[0]
    assert a.fingerprint == b.fingerprint == derive_fingerprint("generic", "x", {"a": "1", "b": "2"})
    assert a.fingerprint != c.fingerprint
    am = parse_payload(am_message(am_alert(fingerprint=None))).alerts[0]
    assert am.fingerprint == derive_fingerprint("alertmanager", "HighLatency", am.labels)


@pytest.mark.parametrize(
    ("word", "severity"),
    [
        ("critical", "critical"),
        ("PAGE", "critical"),
        ("fatal", "critical"),
        ("error", "major"),
        ("high", "major"),
        ("minor", "minor"),
        ("average", "minor"),
        ("warning", "warning"),
        (" Warn ", "warning"),
        ("info", "info"),
        ("none", "info"),
        ("clear", "clear"),
    ],
)
def test_severity_synonyms(word: str, severity: str) -> None:
    assert parse_payload({"name": "x", "severity": word}).alerts[0].severity == severity
    assert parse_payload(am_message(am_alert(labels={"severity": word}))).alerts[0].severity == severity


def test_unknown_severity_is_warning_from_alertmanager_but_refused_in_our_format() -> None:
    # Foreign labels are read tolerantly (the original word stays in the labels) …
    alert = parse_payload(am_message(am_alert(labels={"severity": "sev-high-ish"}))).alerts[0]
    assert (alert.severity, alert.labels["severity"]) == ("warning", "sev-high-ish")
    no_label = am_alert()
    del no_label["labels"]["severity"]
    assert parse_payload(am_message(no_label)).alerts[0].severity == "warning"
    # … our own format strictly: a typo must not silently become a warning.
    with pytest.raises(InvalidInput, match="unknown severity 'bogus'"):
        parse_payload({"name": "x", "severity": "bogus"})


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (b'{"alerts": [', "not valid JSON: Expecting value (line 1, column 13)"),
        (b"", "empty body"),
        (b"\xff\xfe{}", "not UTF-8"),
        (b'{"a": NaN}', "NaN is not a JSON number"),
        (b"[" * 100_000, "not valid JSON"),
        (b'{"name": "a"}\n{"name": \n', "line 2: not valid JSON"),
        # A repeated key would silently keep one of two values; which one was meant is unknowable.
        (
            b'{"alerts": [{"labels": {"alertname": "A", "alertname": "B"}, "status": "firing"}]}',
            "the key 'alertname' appears twice in one object",
        ),
        (b'{"name": "a"}\n{"name": "b", "name": "c"}\n', "line 2: not valid JSON: the key 'name' appears twice"),
    ],
)
def test_malformed_bodies_are_refused_precisely(payload: bytes, expected: str) -> None:
    with pytest.raises(MalformedPayload) as caught:
        parse_payload(payload)
    assert expected in str(caught.value) + " ".join(caught.value.details)


@pytest.mark.parametrize(
    ("alert", "detail"),
    [
        (am_alert(labels=None) | {"labels": ["a"]}, "alerts[1].labels: must be an object of strings, not a list"),
        (am_alert(labels={"team": 5}), "alerts[1].labels.team: must be a string, not 5"),  # type: ignore[dict-item]
        ({k: v for k, v in am_alert().items() if k != "labels"}, "alerts[1].labels: missing"),
        ({k: v for k, v in am_alert().items() if k != "status"}, "alerts[1].status: missing"),
        (am_alert(status="pending"), 'alerts[1].status: must be "firing" or "resolved", not \'pending\''),
        (am_alert(starts_at="yesterday"), "alerts[1].startsAt: not an RFC 3339 time: 'yesterday'"),
        (am_alert(starts_at="2026-11-23T09:00:00"), "alerts[1].startsAt: needs a time zone"),
        (am_alert(starts_at=12), "alerts[1].startsAt: must be an RFC 3339 time string, not 12"),  # type: ignore[arg-type]
        (
            am_alert(status="resolved", starts_at="2026-11-23T09:00:00Z", ends_at="2026-11-23T08:00:00Z"),
            "alerts[1].endsAt: 2026-11-23T08:00:00+00:00 is before startsAt 2026-11-23T09:00:00+00:00",
        ),
        (am_alert(starts_at="2999-01-01T00:00:00Z"), "alerts[1].startsAt: 2999-01-01T00:00:00+00:00 is in the future"),
        (am_alert(fingerprint="x" * 129), "alerts[1].fingerprint: longer than 128 characters"),
        (am_alert(fingerprint=""), "alerts[1].fingerprint: must not be empty"),
        (am_alert(labels={"note": "a\x00b"}), "alerts[1].labels.note: contains a NUL character"),
        (am_alert(summary="\ud800"), "alerts[1].annotations.summary: is not valid Unicode"),
        (am_alert("x" * 201), "alerts[1].labels.alertname: longer than 200 characters"),
        ("not an alert", "alerts[1]: must be an object, not 'not an alert'"),
    ],
)
async def test_a_bad_alert_refuses_the_whole_batch_and_stores_nothing(
    domain: Domain, actors: dict[Role, Actor], alert: object, detail: str
) -> None:
    before = await counts(domain)
    payload = am_message(am_alert(fingerprint="good"), alert)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput) as caught:
        await ingest_payload(domain, actors[Role.OPERATOR], payload)
    assert detail in caught.value.details[0], caught.value.details
    assert str(caught.value).startswith("invalid alerts, nothing was stored: alerts[1]")
    assert await counts(domain) == before


@pytest.mark.parametrize(
    ("payload", "detail"),
    [
        ({"version": "5", "alerts": []}, "version: unsupported webhook version '5'"),
        ({"version": 4, "alerts": []}, "version: unsupported webhook version 4"),
        ({"version": "4", "alerts": {}}, "alerts: must be a list, not an object"),
        ({"version": "4", "alerts": [], "truncatedAlerts": -1}, "truncatedAlerts: must be a whole number"),
        ({"severity": "page"}, "alert.name: missing"),
        ({"name": "  "}, "alert.name: must not be empty"),
        ({"name": "x", "colour": "red"}, "alert: unknown key 'colour'"),
        ({"name": "x", "labels": {"a": None}}, "alert.labels.a: must be a string, not null"),
        ({"name": "x", "starts_at": "2026-13-01T00:00:00Z"}, "alert.starts_at: not an RFC 3339 time"),
        ({"name": "x", "starts_at": 1e300}, "alert.starts_at: out of range"),
        ({"name": "x", "status": "open"}, 'alert.status: must be "firing" or "resolved"'),
        ({"name": "x", "source": "Big Source"}, "alert.source: must be lower-case"),
        ([{"name": "x"}, 3], "alerts[1]: must be an alert object, not 3"),
        (5, "alert: must be an alert object, not 5"),
    ],
)
def test_wrong_shapes_name_the_problem(payload: object, detail: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_payload(payload)  # type: ignore[arg-type]
    assert any(detail in d for d in caught.value.details), caught.value.details


def test_every_problem_is_listed() -> None:
    payload = am_message(am_alert(status="x"), am_alert(labels={"a": 1}), am_alert(starts_at="never"))  # type: ignore[dict-item]
    with pytest.raises(InvalidInput) as caught:
        parse_payload(payload)
    assert [d.split(":")[0] for d in caught.value.details] == [
        "alerts[0].status",
        "alerts[1].labels.a",
        "alerts[2].startsAt",
    ]
    assert "(and 2 more problems)" in str(caught.value)


def test_too_many_alerts_in_one_batch() -> None:
    payload = am_message(*(am_alert(fingerprint=f"f{i}") for i in range(11)))
    with pytest.raises(BatchTooLarge, match="too many alerts in one request: 11 \\(the limit is 10\\)"):
        parse_payload(payload, max_alerts=10)
    assert len(parse_payload(payload, max_alerts=11)) == 11


def test_format_can_be_forced() -> None:
    with pytest.raises(InvalidInput, match="not an Alertmanager webhook message"):
        parse_payload({"name": "x"}, format="alertmanager")
    with pytest.raises(InvalidInput, match="send it to /api/v1/alerts/alertmanager"):
        parse_payload(am_message(am_alert()), format="generic")


def test_ci_candidates_follow_the_configured_labels() -> None:
    assert strip_port("web-1:9100") == "web-1"
    assert strip_port("[::1]:9100") == "::1"
    assert strip_port("::1") == "::1"
    assert strip_port("https://shop.example") == "https://shop.example"
    alert = AlertInput.build("x", labels={"instance": "web-1:9100", "job": "node", "service": "shop"}, ci="db-1")
    assert ci_candidates(alert, ("ci", "instance", "service", "job")) == ["db-1", "web-1", "shop", "node"]
    assert ci_candidates(alert, ("job",)) == ["db-1", "node"]


def test_alert_input_build_checks_like_the_generic_format() -> None:
    alert = AlertInput.build("probe failed", source="healthcheck", severity="major", labels={"ci": "web-1"})
    assert alert.fingerprint == derive_fingerprint("healthcheck", "probe failed", {"ci": "web-1"})
    with pytest.raises(InvalidInput, match="unknown severity"):
        AlertInput.build("x", severity="sideways")


# --- ingest -----------------------------------------------------------------------------------


async def test_new_alert_opens_mapped_to_its_ci(domain: Domain, actors: dict[Role, Actor], clock: FrozenClock) -> None:
    cis = await add_cis(domain, "web-1")
    result = await ingest_payload(domain, actors[Role.OPERATOR], am_message(am_alert()))
    assert (result.received, result.new, result.updated, result.unmapped) == (1, 1, 0, 0)
    alert = await stored(domain, "fp-1")
    assert (alert.state, alert.ci_id, alert.ci_key, alert.severity) == ("open", cis["web-1"], "web-1", "critical")
    assert (alert.receive_count, alert.first_seen_at, alert.last_seen_at) == (1, clock.now, clock.now)
    assert alert.ends_at is None
    assert await events(domain) == [("alert.opened", alert.id)]


async def test_repeats_are_deduplicated_by_fingerprint_never_by_text(
    domain: Domain, actors: dict[Role, Actor], clock: FrozenClock
) -> None:
    operator = actors[Role.OPERATOR]
    await ingest_payload(domain, operator, am_message(am_alert()))
    clock.advance(minutes=5)
    result = await ingest_payload(domain, operator, am_message(am_alert(summary="p99 latency above 3s")))
    assert (result.new, result.updated) == (0, 1)
    alert = await stored(domain, "fp-1")
    assert (alert.receive_count, alert.summary, alert.last_seen_at) == (2, "p99 latency above 3s", clock.now)
    assert alert.last_change_at == clock.now - timedelta(minutes=5)
    assert [kind for kind, _ in await events(domain)] == ["alert.opened"]  # a repeat records nothing
    # Same text, another fingerprint: another alert.
    await ingest_payload(domain, operator, am_message(am_alert(fingerprint="fp-2", summary="p99 latency above 3s")))
    assert await count_alerts(domain, operator) == 2


async def test_duplicates_inside_one_batch_fold_into_one_row(domain: Domain, actors: dict[Role, Actor]) -> None:
    payload = am_message(am_alert(), am_alert(status="resolved", ends_at="2026-11-23T08:58:00Z"), am_alert())
    result = await ingest_payload(domain, actors[Role.OPERATOR], payload)
    assert (result.received, result.new, result.updated, result.closed, result.reopened) == (3, 1, 2, 1, 1)
    alert = await stored(domain, "fp-1")
    assert (alert.state, alert.receive_count, alert.ends_at) == ("open", 3, None)
    assert [k for k, _ in await events(domain)] == ["alert.opened", "alert.closed", "alert.reopened"]


async def test_resolved_closes_and_firing_again_reopens(
    domain: Domain, actors: dict[Role, Actor], clock: FrozenClock
) -> None:
    operator = actors[Role.OPERATOR]
    await ingest_payload(domain, operator, am_message(am_alert()))
    alert_id = (await stored(domain, "fp-1")).id
    await acknowledge_alert(domain, operator, alert_id)
    clock.advance(minutes=20)
    resolved = am_alert(status="resolved", ends_at="2026-11-23T09:19:00Z")
    result = await ingest_payload(domain, operator, am_message(resolved))
    assert (result.closed, result.updated) == (1, 1)
    alert = await stored(domain, "fp-1")
    assert (alert.state, alert.ends_at, alert.last_change_at) == (
        "closed",
        datetime(2026, 11, 23, 9, 19, tzinfo=UTC),
        clock.now,
    )
    clock.advance(minutes=30)
    again = am_alert(starts_at="2026-11-23T09:49:00Z")
    result = await ingest_payload(domain, operator, am_message(again))
    assert result.reopened == 1
    alert = await stored(domain, "fp-1")
    assert (alert.state, alert.ends_at, alert.starts_at) == ("open", None, datetime(2026, 11, 23, 9, 49, tzinfo=UTC))
    assert not alert.acknowledged  # a reopened alert is a new occurrence: nobody has looked at it yet
    assert alert.receive_count == 3
    assert [k for k, _ in await events(domain)] == [
        "alert.opened",
        "alert.acknowledged",
        "alert.closed",
        "alert.reopened",
    ]


async def test_an_alert_first_seen_resolved_is_stored_closed(domain: Domain, actors: dict[Role, Actor]) -> None:
    resolved = am_alert(status="resolved", ends_at="2026-11-23T08:59:00Z")
    result = await ingest_payload(domain, actors[Role.OPERATOR], am_message(resolved))
    assert (result.new, result.closed) == (1, 1)
    assert (await stored(domain, "fp-1")).state == "closed"


async def test_a_resolved_alert_without_an_end_time_ends_when_received(
    domain: Domain, actors: dict[Role, Actor], clock: FrozenClock
) -> None:
    await ingest_payload(domain, actors[Role.OPERATOR], am_message(am_alert(status="resolved")))
    assert (await stored(domain, "fp-1")).ends_at == clock.now


async def test_flapping_is_detected_and_settles_when_quiet(
    domain: Domain, actors: dict[Role, Actor], clock: FrozenClock
) -> None:
    with_ingest(domain, flap_threshold=3, flap_window_seconds=600)
    operator = actors[Role.OPERATOR]
    firing, resolved = am_message(am_alert()), am_message(am_alert(status="resolved"))
    await ingest_payload(domain, operator, firing)
    states = []
    for payload in (resolved, firing, resolved, firing, resolved):
        clock.advance(minutes=2)
        result = await ingest_payload(domain, operator, payload)
        alert = await stored(domain, "fp-1")
        states.append((alert.state, alert.flap_score, result.flapping))
    assert states == [
        ("closed", 1, 0),
        ("open", 2, 0),
        ("flapping", 3, 1),
        ("flapping", 4, 0),
        ("flapping", 5, 0),
    ]
    # Repeats within the window keep it flapping …
    clock.advance(minutes=9)
    await ingest_payload(domain, operator, resolved)
    assert (await stored(domain, "fp-1")).state == "flapping"
    # … a whole quiet window settles it into what it is now (resolved: closed).
    clock.advance(minutes=2)
    result = await ingest_payload(domain, operator, resolved)
    alert = await stored(domain, "fp-1")
    assert (alert.state, alert.flap_score, result.closed) == ("closed", 0, 1)
    kinds = [k for k, _ in await events(domain)]
    assert kinds == ["alert.opened", "alert.closed", "alert.reopened", "alert.flapping", "alert.closed"]


async def test_changes_further_apart_than_the_window_never_flap(
    domain: Domain, actors: dict[Role, Actor], clock: FrozenClock
) -> None:
    with_ingest(domain, flap_threshold=3, flap_window_seconds=600)
    firing, resolved = am_message(am_alert()), am_message(am_alert(status="resolved"))
    for payload in (firing, resolved, firing, resolved, firing, resolved):
        await ingest_payload(domain, actors[Role.OPERATOR], payload)
        clock.advance(minutes=11)
    alert = await stored(domain, "fp-1")
    assert (alert.state, alert.flap_score) == ("closed", 1)


async def test_sweep_settles_a_flapping_alert_nobody_reports_any_more(
    domain: Domain, actors: dict[Role, Actor], clock: FrozenClock
) -> None:
    with_ingest(domain, flap_threshold=2, flap_window_seconds=600)
    operator = actors[Role.OPERATOR]
    for payload in (am_alert(), am_alert(status="resolved"), am_alert()):
        await ingest_payload(domain, operator, am_message(payload))
        clock.advance(minutes=1)
    assert (await stored(domain, "fp-1")).state == "flapping"
    assert (await sweep_alerts(domain, SYSTEM)).settled == 0
    clock.advance(minutes=10)
    result = await sweep_alerts(domain, SYSTEM)
    assert result.settled == 1
    alert = await stored(domain, "fp-1")
    assert (alert.state, alert.flap_score) == ("open", 0)
    assert (await events(domain))[-1] == ("alert.settled", alert.id)


async def test_truncated_snapshot_and_absence_never_resolve_anything(domain: Domain, actors: dict[Role, Actor]) -> None:
    operator = actors[Role.OPERATOR]
    group = [am_alert(fingerprint=f"fp-{i}", labels={"instance": f"web-{i}:9100"}) for i in range(3)]
    await ingest_payload(domain, operator, am_message(*group))
    # Alertmanager's max_alerts cut the snapshot: two alerts' state is unknown.
    result = await ingest_payload(domain, operator, am_message(group[0], truncated=2))
    assert result.truncated == 2
    # … and that is recorded, so the operator learns it (Alertmanager ignores our answer).
    first = await stored(domain, "fp-0")
    assert (await events(domain, "alerts."))[-1] == ("alerts.left_out", first.id)
    async with domain.reading() as session:
        payload = (await session.scalars(select(Event).where(Event.kind == "alerts.left_out"))).one().payload
    left_out = AlertsLeftOut.from_stored(payload)
    assert left_out.describe() == "2 alerts left out by Alertmanager's max_alerts (1 received)"
    # A complete snapshot that leaves an alert out does not resolve it either.
    await ingest_payload(domain, operator, am_message(group[0], group[1]))
    states = [a.state for a in await list_alerts(domain, operator, sort="id")]
    assert states == ["open", "open", "open"]


async def test_the_same_fingerprint_from_two_sources_is_two_alerts(domain: Domain, actors: dict[Role, Actor]) -> None:
    """A generic post that happens to carry an Alertmanager alert's fingerprint is another
    alert: it must not rewrite the first one's source, name or CI."""
    operator = actors[Role.OPERATOR]
    await add_cis(domain, "web-1")
    await ingest_payload(domain, operator, am_message(am_alert(fingerprint="abc123", labels={"instance": "web-1"})))
    result = await ingest_payload(domain, operator, {"fingerprint": "abc123", "name": "Other", "severity": "minor"})
    assert (result.new, result.updated) == (1, 0)
    async with domain.reading() as session:
        rows = (await session.scalars(select(Alert).where(Alert.fingerprint == "abc123").order_by(Alert.id))).all()
    assert [(a.source, a.name, a.ci_key, a.receive_count) for a in rows] == [
        ("alertmanager", "HighLatency", "web-1", 1),
        ("generic", "Other", None, 1),
    ]
    # Each source's repeat updates its own alert only.
    await ingest_payload(domain, operator, {"fingerprint": "abc123", "name": "Other", "status": "resolved"})
    async with domain.reading() as session:
        rows = (await session.scalars(select(Alert).where(Alert.fingerprint == "abc123").order_by(Alert.id))).all()
    assert [(a.source, a.state, a.receive_count) for a in rows] == [
        ("alertmanager", "open", 1),
        ("generic", "closed", 2),
    ]
    assert [kind for kind, _ in await events(domain)] == ["alert.opened", "alert.opened", "alert.closed"]


async def test_unknown_ci_is_kept_unmapped_and_visible(domain: Domain, actors: dict[Role, Actor]) -> None:
    await add_cis(domain, "web-1")
    operator = actors[Role.OPERATOR]
    payload = am_message(am_alert(), am_alert(fingerprint="fp-2", labels={"instance": "db-9:5432", "job": "pg"}))
    result = await ingest_payload(domain, operator, payload)
    assert result.unmapped == 1
    [unmapped] = await list_alerts(domain, operator, unmapped=True)
    assert (unmapped.fingerprint, unmapped.ci_id, unmapped.ci_key, unmapped.unmapped) == ("fp-2", None, "db-9", True)
    [mapped] = await list_alerts(domain, operator, unmapped=False)
    assert (mapped.ci_name, mapped.unmapped) == ("web-1", False)
    assert [a.fingerprint for a in await list_alerts(domain, operator, ci="db-9")] == ["fp-2"]


async def test_first_label_naming_a_known_ci_wins(domain: Domain, actors: dict[Role, Actor]) -> None:
    cis = await add_cis(domain, "shop", "node")
    operator = actors[Role.OPERATOR]
    labels = {"instance": "unknown-host:80", "service": "shop", "job": "node"}
    await ingest_payload(domain, operator, am_message(am_alert(labels=labels)))
    assert (await stored(domain, "fp-1")).ci_id == cis["shop"]
    with_ingest(domain, ci_labels=("job",))
    await ingest_payload(domain, operator, am_message(am_alert(labels=labels)))
    assert (await stored(domain, "fp-1")).ci_id == cis["node"]
    # The generic format's explicit `ci` comes first.
    await ingest_payload(domain, operator, {"name": "x", "ci": "shop", "labels": {"job": "node"}})
    assert (await list_alerts(domain, operator, search="x", sort="id"))[-1].ci_id == cis["shop"]


async def test_alerts_on_a_ci_in_maintenance_are_flagged(
    domain: Domain, actors: dict[Role, Actor], clock: FrozenClock
) -> None:
    await add_cis(domain, "web-1", "web-2")
    operator = actors[Role.OPERATOR]
    now = clock.now
    await add_maintenance_window(
        domain, operator, "web-1", now - timedelta(minutes=5), now + timedelta(hours=1), "patching"
    )
    await add_maintenance_window(domain, operator, "web-2", now + timedelta(hours=2), now + timedelta(hours=3), "later")
    payload = am_message(am_alert(), am_alert(fingerprint="fp-2", labels={"instance": "web-2:9100"}))
    await ingest_payload(domain, operator, payload)
    assert (await stored(domain, "fp-1")).maintenance is True
    assert (await stored(domain, "fp-2")).maintenance is False
    # Time moves on: web-1's window ends, web-2's begins; the sweep follows, as do new receipts.
    clock.advance(hours=2, minutes=30)
    result = await sweep_alerts(domain, SYSTEM)
    assert (result.maintenance_set, result.maintenance_cleared) == (1, 1)
    assert (await stored(domain, "fp-1")).maintenance is False
    assert (await stored(domain, "fp-2")).maintenance is True
    await ingest_payload(domain, operator, payload)
    assert [(await stored(domain, fp)).maintenance for fp in ("fp-1", "fp-2")] == [False, True]


async def test_adding_an_active_window_flags_open_alerts_at_once(
    domain: Domain, actors: dict[Role, Actor], clock: FrozenClock
) -> None:
    await add_cis(domain, "web-1")
    operator = actors[Role.OPERATOR]
    await ingest_payload(domain, operator, am_message(am_alert()))
    window = await add_maintenance_window(
        domain, operator, "web-1", clock.now, clock.now + timedelta(hours=1), "reboot [bold]now[/]"
    )
    assert (window.alerts_flagged, window.ci_name, window.created_by, window.reason) == (
        1,
        "web-1",
        "operator",
        "reboot [bold]now[/]",
    )
    assert (await stored(domain, "fp-1")).maintenance is True
    assert (await events(domain, "maintenance."))[0] == ("maintenance.added", window.id)
    assert [w.id for w in await list_maintenance_windows(domain, actors[Role.AGENT])] == [window.id]


@pytest.mark.parametrize(
    ("ci", "start", "end", "reason", "error", "message"),
    [
        ("nope", 0, 60, "x", NotFound, "no CI named 'nope'"),
        ("web-1", 60, 60, "x", InvalidInput, "must end after it starts"),
        ("web-1", -120, -60, "x", InvalidInput, "ended already"),
        ("web-1", 0, 60, "  ", InvalidInput, "needs a reason"),
        ("web-1", 0, 60, "x" * 501, InvalidInput, "longer than 500"),
    ],
)
async def test_bad_maintenance_windows_are_refused(
    domain: Domain, actors: dict[Role, Actor], clock: FrozenClock, ci, start, end, reason, error, message
) -> None:
    await add_cis(domain, "web-1")
    before = await counts(domain)
    starts, ends = clock.now + timedelta(minutes=start), clock.now + timedelta(minutes=end)
    with pytest.raises(error, match=message):
        await add_maintenance_window(domain, actors[Role.OPERATOR], ci, starts, ends, reason)
    assert await counts(domain) == before


async def test_correlation_gets_the_alerts_that_changed(
    domain: Domain, actors: dict[Role, Actor], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[list[int]] = []

    async def correlate(tx, settings, alert_ids):
        calls.append(list(alert_ids))
        return [42]

    monkeypatch.setattr(alerts_module.correlation, "correlate_alerts", correlate)
    operator = actors[Role.OPERATOR]
    result = await ingest_payload(domain, operator, am_message(am_alert(), am_alert(fingerprint="fp-2")))
    assert result.incident_ids == (42,)
    await ingest_payload(domain, operator, am_message(am_alert(), am_alert(fingerprint="fp-2")))  # repeats
    await ingest_payload(domain, operator, am_message(am_alert(labels={"severity": "warning"})))  # severity change
    await ingest_payload(domain, operator, am_message(am_alert(fingerprint="fp-2", status="resolved")))
    ids = {a.fingerprint: a.id for a in await list_alerts(domain, operator)}
    assert calls == [[ids["fp-1"], ids["fp-2"]], [ids["fp-1"]], [ids["fp-2"]]]


async def test_hostile_text_is_stored_literally(domain: Domain, actors: dict[Role, Actor]) -> None:
    alert = {"name": HOSTILE, "summary": HOSTILE, "labels": {HOSTILE: HOSTILE, "ci": HOSTILE}, "fingerprint": HOSTILE}
    await ingest_payload(domain, actors[Role.OPERATOR], alert)
    [view] = await list_alerts(domain, actors[Role.AGENT])
    assert (view.name, view.summary, view.fingerprint, view.ci_key) == (HOSTILE, HOSTILE, HOSTILE, HOSTILE)
    assert view.labels == {HOSTILE: HOSTILE, "ci": HOSTILE}
    assert [a.id for a in await list_alerts(domain, actors[Role.AGENT], search="[/ \x1b")] == [view.id]


async def test_an_empty_batch_stores_nothing(domain: Domain, actors: dict[Role, Actor]) -> None:
    before = await counts(domain)
    result = await ingest(domain, actors[Role.OPERATOR], ParsedBatch(alerts=(), truncated=3))
    assert (result.received, result.truncated) == (0, 3)
    assert await counts(domain) == before


# --- roles -------------------------------------------------------------------------------------


async def test_only_operators_and_admins_ingest(domain: Domain, actors: dict[Role, Actor]) -> None:
    before = await counts(domain)
    for role in (Role.AGENT, Role.MANAGER, Role.CUSTOMER):
        with pytest.raises(PermissionDenied, match="may not ingest alerts"):
            await ingest_payload(domain, actors[role], am_message(am_alert()))
        with pytest.raises(PermissionDenied):
            await sweep_alerts(domain, actors[role])
    assert await counts(domain) == before
    await ingest_payload(domain, actors[Role.ADMIN], am_message(am_alert()))
    await ingest_payload(domain, SYSTEM, am_message(am_alert(fingerprint="fp-2")))
    assert (await counts(domain))[0] == 2


async def test_customers_do_not_see_alerts(domain: Domain, actors: dict[Role, Actor]) -> None:
    await ingest_payload(domain, actors[Role.OPERATOR], am_message(am_alert()))
    for query in (list_alerts, count_alerts, list_maintenance_windows):
        with pytest.raises(PermissionDenied, match="may not view alerts"):
            await query(domain, actors[Role.CUSTOMER])
    with pytest.raises(PermissionDenied):
        await get_alert(domain, actors[Role.CUSTOMER], 1)
    for role in (Role.OPERATOR, Role.AGENT, Role.MANAGER, Role.ADMIN):
        assert await count_alerts(domain, actors[role]) == 1


async def test_only_operators_and_admins_acknowledge_and_plan_maintenance(
    domain: Domain, actors: dict[Role, Actor], clock: FrozenClock
) -> None:
    await add_cis(domain, "web-1")
    await ingest_payload(domain, actors[Role.OPERATOR], am_message(am_alert()))
    alert_id = (await stored(domain, "fp-1")).id
    before = await counts(domain)
    for role in (Role.AGENT, Role.MANAGER, Role.CUSTOMER):
        with pytest.raises(PermissionDenied, match="may not acknowledge alerts"):
            await acknowledge_alert(domain, actors[role], alert_id)
        with pytest.raises(PermissionDenied, match="may not acknowledge alerts"):
            await unacknowledge_alert(domain, actors[role], alert_id)
        with pytest.raises(PermissionDenied, match="may not manage maintenance windows"):
            await add_maintenance_window(domain, actors[role], "web-1", clock.now, clock.now + timedelta(hours=1), "x")
    assert await counts(domain) == before
    assert not (await stored(domain, "fp-1")).acknowledged


# --- acknowledging and listing ----------------------------------------------------------------


async def test_acknowledge_and_take_it_back(domain: Domain, actors: dict[Role, Actor]) -> None:
    operator = actors[Role.OPERATOR]
    await ingest_payload(domain, operator, am_message(am_alert()))
    alert = (await list_alerts(domain, operator))[0]
    acked = await acknowledge_alert(domain, operator, alert.id, expected_version=alert.version)
    assert (acked.acknowledged, acked.version) == (True, alert.version + 1)
    stored_alert = await stored(domain, "fp-1")
    assert stored_alert.acknowledged_by_id == operator.user_id
    back = await unacknowledge_alert(domain, operator, alert.id)
    assert not back.acknowledged
    assert [k for k, _ in await events(domain)] == ["alert.opened", "alert.acknowledged", "alert.unacknowledged"]


@pytest.mark.parametrize(
    ("setup", "error", "message"),
    [
        ("stale", Conflict, r"alert \d+ was changed by .* — reload"),
        ("closed", IllegalTransition, "is closed"),
        ("acked", IllegalTransition, "already acknowledged"),
        ("missing", NotFound, "no alert 999"),
    ],
)
async def test_acknowledge_refusals_change_nothing(
    domain: Domain, actors: dict[Role, Actor], setup: str, error: type, message: str
) -> None:
    operator = actors[Role.OPERATOR]
    await ingest_payload(domain, operator, am_message(am_alert()))
    alert = (await list_alerts(domain, operator))[0]
    version = alert.version
    if setup == "stale":
        await ingest_payload(domain, operator, am_message(am_alert()))  # a repeat bumps the version
    elif setup == "closed":
        await ingest_payload(domain, operator, am_message(am_alert(status="resolved")))
    elif setup == "acked":
        await acknowledge_alert(domain, operator, alert.id)
    before, row = await counts(domain), await stored(domain, "fp-1")
    with pytest.raises(error, match=message):
        target = 999 if setup == "missing" else alert.id
        await acknowledge_alert(domain, operator, target, expected_version=version if setup == "stale" else None)
    after = await stored(domain, "fp-1")
    assert await counts(domain) == before
    assert (after.acknowledged, after.version) == (row.acknowledged, row.version)


async def test_list_filters_searches_sorts_and_pages_in_sql(domain: Domain, actors: dict[Role, Actor]) -> None:
    operator = actors[Role.OPERATOR]
    payload = [
        {"name": "disk full", "severity": "critical", "fingerprint": "a", "labels": {"team": "storage"}},
        {"name": "cpu high", "severity": "minor", "fingerprint": "b"},
        {"name": "backup late", "severity": "info", "fingerprint": "c", "status": "resolved"},
        {"name": "100% load", "severity": "major", "fingerprint": "d", "summary": "under_score"},
    ]
    await ingest_payload(domain, operator, payload)
    names = lambda found: [a.name for a in found]  # noqa: E731
    assert names(await list_alerts(domain, operator, sort="-severity")) == [
        "disk full",
        "100% load",
        "cpu high",
        "backup late",
    ]
    assert names(await list_alerts(domain, operator, sort="name", limit=2, offset=1)) == ["backup late", "cpu high"]
    assert names(await list_alerts(domain, operator, state="closed")) == ["backup late"]
    assert set(names(await list_alerts(domain, operator, state=["open", "flapping"]))) == {
        "disk full",
        "cpu high",
        "100% load",
    }
    assert names(await list_alerts(domain, operator, severity_at_least="major", sort="name")) == [
        "100% load",
        "disk full",
    ]
    assert names(await list_alerts(domain, operator, search="DISK")) == ["disk full"]
    assert names(await list_alerts(domain, operator, search="storage")) == ["disk full"]  # labels are searched too
    assert names(await list_alerts(domain, operator, search="%")) == ["100% load"]  # wildcards are literal
    assert names(await list_alerts(domain, operator, search="u_h")) == []  # would match "cpu high"
    assert names(await list_alerts(domain, operator, search="r_s")) == ["100% load"]
    assert await count_alerts(domain, operator, severity_at_least="minor", state="open") == 3


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sort": "colour"}, "cannot sort alerts by 'colour'"),
        ({"state": "gone"}, "unknown alert state 'gone'"),
        ({"severity_at_least": "huge"}, "unknown severity 'huge'"),
        ({"limit": 0}, "limit must be between 1 and 10000"),
        ({"offset": -1}, "offset must be 0 or more"),
    ],
)
async def test_bad_list_arguments_are_refused(domain: Domain, actors: dict[Role, Actor], kwargs, message) -> None:
    with pytest.raises(InvalidInput, match=message):
        await list_alerts(domain, actors[Role.OPERATOR], **kwargs)


def test_ingest_settings_refuse_nonsense() -> None:
    from pcso_tui.config import settings_from

    with pytest.raises(ValueError, match="flap_threshold = 1 must be at least 2"):
        IngestSettings(flap_threshold=1)
    with pytest.raises(ValueError, match="ci_labels"):
        IngestSettings(ci_labels=())
    with pytest.raises(InvalidInput, match=r"config\.ingest: max_body_bytes = 10 must be at least 1024"):
        settings_from({"ingest": {"max_body_bytes": 10}})
    with pytest.raises(InvalidInput, match=r"config\.ingest: unknown key 'ci_label'"):
        settings_from({"ingest": {"ci_label": ["host"]}})
    assert settings_from({"ingest": {"ci_labels": ["host"]}}).ingest.ci_labels == ("host",)
    assert Settings().ingest.ci_labels == ("ci", "instance", "service", "job")


def test_the_sqlite_fast_path_writes_times_exactly_as_sqlalchemy_does() -> None:
    from sqlalchemy.dialects.sqlite import aiosqlite

    from pcso_tui.domain.core.models import Alert
    from pcso_tui.domain.operations.alerts import _ROW_KEYS, _Plan, _refresh_statement, _sqlite_time, _upsert_statement

    dialect = aiosqlite.dialect()
    reference = Alert.__table__.c.starts_at.type.dialect_impl(dialect).bind_processor(dialect)
    for value in (
        datetime(2026, 11, 23, 9, 0, tzinfo=UTC),
        datetime(2026, 11, 23, 9, 0, 0, 5, tzinfo=UTC),
        datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(2026, 11, 23, 10, 30, tzinfo=UTC).astimezone(),
    ):
        assert _sqlite_time(value) == reference(value)
    with pytest.raises(ValueError, match="naive"):
        _sqlite_time(datetime(2026, 1, 1))
    for statement, kw in ((_upsert_statement("sqlite"), {"column_keys": list(_ROW_KEYS)}), (_refresh_statement(), {})):
        assert _sqlite_time in {process for _, process in _Plan.compile(statement, dialect, **kw).processors}


async def test_a_batch_larger_than_one_statement_chunk(domain: Domain, actors: dict[Role, Actor]) -> None:
    names = [f"host-{i}" for i in range(0, 2500, 2)]
    await add_cis(domain, *names)
    operator = actors[Role.OPERATOR]
    batch = [{"name": f"a{i}", "fingerprint": f"f{i}", "labels": {"instance": f"host-{i}:9100"}} for i in range(2500)]
    first = await ingest_payload(domain, operator, batch)
    assert (first.new, first.unmapped) == (2500, 1250)
    batch[7] |= {"status": "resolved"}
    second = await ingest_payload(domain, operator, batch)
    assert (second.new, second.updated, second.closed) == (0, 2500, 1)
    assert await count_alerts(domain, operator, unmapped=False) == 1250
    assert await count_alerts(domain, operator, state="closed") == 1
    assert len(await events(domain)) == 2501
