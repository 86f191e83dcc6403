"""Property: whatever arrives, parse + ingest either stores it or refuses it with InvalidInput —
never another exception, never half of a batch — and what is stored is exactly what was sent."""

from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from pcso_tui.domain.core.errors import InvalidInput
from pcso_tui.domain.core.models import Alert, ConfigurationItem
from pcso_tui.domain.core.roles import SYSTEM
from pcso_tui.domain.core.service import Domain
from pcso_tui.domain.operations.alert_formats import GENERIC_KEYS
from pcso_tui.domain.operations.alerts import ingest
from tests.alerting import HOSTILE, add_cis, am_alert, am_message, counts, grafana_message, parse_payload

FUZZ = settings(
    max_examples=60,
    deadline=None,
    # The database is shared by the examples of one test on purpose: the property must hold
    # whatever earlier examples stored.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

WEBHOOK_KEYS = ["version", "groupKey", "truncatedAlerts", "status", "receiver", "alerts", "orgId", "title"]
ALERT_KEYS = ["status", "labels", "annotations", "startsAt", "endsAt", "generatorURL", "fingerprint", "values"]
TRICKY_TEXT = [
    HOSTILE,
    "[bold]",
    "[/",
    "\x1b[2J",
    "\x00",
    "\ud800",
    "",
    " ",
    "firing",
    "resolved",
    "critical",
    "page",
    "web-1:9100",
    "0001-01-01T00:00:00Z",
    "2026-11-23T09:00:00Z",
    "2026-11-23T09:00:00",
    "9999-12-31T23:59:59-12:00",
    "0001-01-01T00:00:00+14:00",
    "x" * 201,
    "x" * 2001,
]

text = st.one_of(st.text(max_size=20), st.sampled_from(TRICKY_TEXT))
keys = st.one_of(st.sampled_from(WEBHOOK_KEYS + ALERT_KEYS + list(GENERIC_KEYS) + ["alertname", "ci"]), text)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    text,
)
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=5), max_leaves=25
)


def valid_payloads() -> list[Any]:
    return [
        am_message(am_alert(), am_alert("Disk", fingerprint=None, status="resolved", ends_at="2026-11-23T09:00:00Z")),
        grafana_message(am_alert(values={"B": 1.5})),
        [{"name": "probe", "severity": "major", "ci": "web-1", "labels": {"instance": "web-1:80"}}, {"name": "x"}],
        {"name": "one", "status": "resolved", "starts_at": 1_700_000_000, "annotations": {"runbook": "r"}},
    ]


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found.extend(paths(item, (*prefix, key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.extend(paths(item, (*prefix, index)))
    return found


@st.composite
def mutated(draw: st.DrawFn) -> Any:
    """A valid payload with a few random edits: values replaced, keys dropped or added."""
    payload = copy.deepcopy(draw(st.sampled_from(valid_payloads())))
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(paths(payload)))
        if not path:
            continue
        parent = payload
        for step in path[:-1]:
            parent = parent[step]
        operation = draw(st.sampled_from(["replace", "delete", "add"]))
        if operation == "replace":
            parent[path[-1]] = draw(json_values)
        elif operation == "delete":
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(keys)] = draw(json_values)
        else:
            parent.append(draw(json_values))
    return payload


def encodings(payload: Any) -> st.SearchStrategy[Any]:
    """The payload as Python data, as JSON bytes, or as JSON text."""
    return st.sampled_from(
        [
            payload,
            json.dumps(payload).encode(),  # ASCII escapes carry lone surrogates and NULs intact
            json.dumps(payload, ensure_ascii=False).encode("utf-8", "surrogatepass"),
            json.dumps(payload, ensure_ascii=False),
        ]
    )


async def accept_or_refuse(domain: Domain, payload: Any) -> None:
    before = await counts(domain)
    try:
        batch = parse_payload(payload, max_alerts=1000)
    except InvalidInput as refused:
        event(f"refused: {type(refused).__name__}")
        assert refused.message and all(isinstance(d, str) for d in refused.details)
        assert await counts(domain) == before
        return
    event("accepted" if len(batch) else "accepted (empty)")
    result = await ingest(domain, SYSTEM, batch)
    assert result.received == len(batch) == result.new + result.updated
    # An alert is its fingerprint within its source (the same one from two sources is two alerts).
    last = {(alert.fingerprint, alert.source): alert for alert in batch.alerts}
    if not last:
        return
    async with domain.reading() as session:
        found = (await session.scalars(select(Alert).where(Alert.fingerprint.in_([fp for fp, _ in last])))).all()
    rows = [row for row in found if (row.fingerprint, row.source) in last]  # not earlier examples' sources
    assert len(rows) == len(last)
    for row in rows:
        sent = last[row.fingerprint, row.source]
        # Stored literally: no escaping, no markup, no truncation of what was accepted.
        assert (row.name, row.labels, row.annotations, row.summary) == (
            sent.name,
            sent.labels,
            sent.annotations,
            sent.summary,
        )
        assert row.state == ("closed" if sent.status == "resolved" else "open") or row.state == "flapping"


@FUZZ
@given(data=st.data())
async def test_mutated_valid_payloads(domain: Domain, data: st.DataObject) -> None:
    async with domain.reading() as session:
        known = await session.scalar(select(ConfigurationItem.id).where(ConfigurationItem.name == "web-1"))
    if known is None:
        await add_cis(domain, "web-1")
    payload = data.draw(mutated())
    await accept_or_refuse(domain, data.draw(encodings(payload)))


@FUZZ
@given(payload=json_values)
async def test_random_json_values(domain: Domain, payload: Any) -> None:
    await accept_or_refuse(domain, payload)


@FUZZ
@given(
    payload=st.lists(
        st.fixed_dictionaries(
            {"name": text}, optional={k: st.one_of(text, json_values) for k in GENERIC_KEYS if k != "name"}
        ),
        max_size=4,
    )
)
async def test_random_generic_alerts(domain: Domain, payload: Any) -> None:
    await accept_or_refuse(domain, payload)


@FUZZ
@given(
    body=st.one_of(
        st.binary(max_size=200),
        st.builds(
            lambda b, cut: b[:cut],
            st.sampled_from([json.dumps(p).encode() for p in valid_payloads()]),
            st.integers(0, 400),
        ),
        st.builds(
            lambda lines: "\n".join(lines),
            st.lists(
                st.sampled_from([json.dumps(p) for p in valid_payloads()] + ["", "{", "[]", "null", "1"]), max_size=4
            ),
        ),
    )
)
async def test_random_bytes_and_broken_json(domain: Domain, body: bytes | str) -> None:
    await accept_or_refuse(domain, body)
