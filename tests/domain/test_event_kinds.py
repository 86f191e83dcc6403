"""The event catalogue: every kind typed, worded on a timeline, stored as before, and the only
way events are written."""

from __future__ import annotations

import ast
import json
import types
import typing
from dataclasses import fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import pcso_tui
from pcso_tui.domain.casework.timeline_entries import WORDINGS, entry_from_event
from pcso_tui.domain.core import event_kinds as ek
from pcso_tui.domain.core.events import Transaction
from pcso_tui.domain.core.roles import SYSTEM
from pcso_tui.domain.core.views import EventView

KINDS = sorted(ek.REGISTRY.values(), key=lambda cls: cls.kind)
SRC = Path(pcso_tui.__file__).parent
AT = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def sample_value(annotation: Any, n: int) -> Any:
    """A value of the declared type (never None), different for each ``n``."""
    options = typing.get_args(annotation) if isinstance(annotation, types.UnionType) else (annotation,)
    (declared,) = [o for o in options if o is not type(None)]
    origin = typing.get_origin(declared) or declared
    return {
        int: n,
        str: f"value {n} [b]\x1b",
        bool: n % 2 == 0,
        list: [n, n + 1] if typing.get_args(declared) == (int,) else [f"a{n}", f"b{n}"],
        dict: {f"k{n}": n},
    }[origin]


def sample(cls: type[ek.Payload], *, optional: bool = True) -> ek.Payload:
    hints = typing.get_type_hints(cls)
    values = {}
    for n, f in enumerate(fields(cls), start=1):  # type: ignore[arg-type]
        is_optional = f.default is None
        if optional or not is_optional:
            values[f.name] = sample_value(hints[f.name], n)
    return cls(**values)


def event(kind: str, payload: dict[str, Any], subject_type: str = "case") -> EventView:
    return EventView(1, AT, "olivia", None, kind, subject_type, 1, payload)


def test_the_catalogue_lists_each_kind_once_with_its_subject() -> None:
    assert len(KINDS) == len({cls.kind for cls in KINDS}) >= 40
    for cls in KINDS:
        assert ek.REGISTRY[cls.kind] is cls
        assert cls.kind.count(".") == 1 and cls.subject_type, cls


@pytest.mark.parametrize("cls", KINDS, ids=lambda cls: cls.kind)
def test_every_kind_has_its_timeline_wording(cls: type[ek.Payload]) -> None:
    assert cls in WORDINGS, f"{cls.kind}: add its wording to casework/timeline_entries.py"
    for payload in (sample(cls), sample(cls, optional=False)):
        entry = entry_from_event(event(cls.kind, payload.stored(), cls.subject_type))
        assert entry.title and entry.title != cls.kind
    # An old row may lack any key: its wording still makes a line.
    assert entry_from_event(event(cls.kind, {}, cls.subject_type)).title


@pytest.mark.parametrize("cls", KINDS, ids=lambda cls: cls.kind)
def test_every_payload_round_trips_through_the_stored_json(cls: type[ek.Payload]) -> None:
    keys = [f.metadata.get("key", f.name) for f in fields(cls)]  # type: ignore[arg-type]
    full = sample(cls)
    stored = json.loads(json.dumps(full.stored()))
    assert list(stored) == keys  # every field, under its JSON key, in the declared order
    assert cls.from_stored(stored) == full
    assert event(cls.kind, stored, cls.subject_type).typed() == full
    # Optional fields left as None are not stored at all, as before the catalogue.
    bare = sample(cls, optional=False)
    stored = json.loads(json.dumps(bare.stored()))
    assert set(stored) == {k for k, f in zip(keys, fields(cls), strict=True) if f.default is not None}  # type: ignore[arg-type]
    assert cls.from_stored(stored) == bare


def test_the_stored_form_is_the_one_written_before_the_catalogue() -> None:
    assert ek.CaseStateChanged(number="CS0000001", from_="new", to="open", children_synced=0).stored() == {
        "number": "CS0000001",
        "from": "new",
        "to": "open",
        "children_synced": 0,
    }
    synced = ek.CaseIncidentSynced(incident_id=1, entry_id=2, entry_kind="progress", visibility="customer")
    assert synced.stored() == {"incident_id": 1, "entry_id": 2, "kind": "progress", "visibility": "customer"}
    approved = ek.MajorCaseApproved(
        number="CS0000009",
        candidate_id=3,
        created_new_major=True,
        children=2,
        notices=2,
        notices_skipped=0,
        outage=None,
        by_rule=False,
    )
    assert approved.stored()["outage"] is None  # a required field is stored even when None


def test_reading_tolerates_old_and_odd_rows() -> None:
    odd = event("major_case.approved", {"children": "x", "notices": True, "number": "CS1", "retired_key": 1})
    approved = odd.typed()
    assert isinstance(approved, ek.MajorCaseApproved)
    assert (approved.children, approved.notices, approved.number) == (None, None, "CS1")
    assert event("case.mystery", {"children": 1}).typed() is None
    assert event("case.noted", "not a dict").typed() == ek.CaseNoted.from_stored({})  # type: ignore[arg-type]


def test_record_writes_the_kind_and_its_subject_type() -> None:
    tx = Transaction(session=None, actor=SYSTEM, now=AT, dialect="sqlite")  # type: ignore[arg-type]
    tx.record(5, ek.MajorCaseRejected(number="CS0000005", reason="one account"))
    tx.record(None, ek.NoticesRetried(count=2), subject_type="notice")
    tx.record_many((n, ek.OutageEnded(number=f"OUT{n}", ends_at="2026-03-01T09:00:00+00:00")) for n in (1, 2))
    assert [(e["kind"], e["subject_type"], e["subject_id"]) for e in tx.recorded] == [
        ("major_case.rejected", "case", 5),
        ("notices.retried", "notice", None),
        ("outage.ended", "outage", 1),
        ("outage.ended", "outage", 2),
    ]
    assert tx.recorded[0]["payload"] == {"number": "CS0000005", "reason": "one account"}
    with pytest.raises(ValueError, match="not recorded about a incident"):
        tx.record(1, ek.NoticesRetried(count=1), subject_type="incident")
    with pytest.raises(TypeError, match="AlertChange is not an event kind"):  # their shared fields only
        tx.record(1, ek.AlertChange(fingerprint="f", name="n", severity="minor", ci=None, from_=None))


def _record_calls(path: Path) -> list[ast.Call]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in ("record", "record_many")
    ]


def test_every_event_in_src_is_written_through_the_catalogue() -> None:
    offenders = []
    calls = 0
    for path in sorted(SRC.rglob("*.py")):
        for call in _record_calls(path):
            calls += 1
            where = f"{path.relative_to(SRC)}:{call.lineno}"
            literal = [
                a
                for a in call.args
                if isinstance(a, ast.JoinedStr) or (isinstance(a, ast.Constant) and isinstance(a.value, str))
            ]
            payload_keywords = [k.arg for k in call.keywords if k.arg != "subject_type"]
            if literal or payload_keywords or len(call.args) != (1 if call.func.attr == "record_many" else 2):  # type: ignore[attr-defined]
                offenders.append(where)
    assert calls > 40
    assert offenders == [], "write tx.record(subject_id, SomeKind(...)) with a class from core/event_kinds.py"
