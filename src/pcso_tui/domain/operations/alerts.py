"""Alerts in: parsing, deduplication, close and reopen, flapping, maintenance; and the alert list.

Two formats arrive (docs/alerts.md describes both for the people who send them):

- the **Alertmanager webhook** (``"version": "4"``; Grafana's webhook contact point sends the
  same shape with ``"version": "1"`` and extra keys). Each POST is a snapshot of one alert group;
  every alert in it carries its own ``status`` and ``fingerprint``.
- our **generic JSON alert**: one object, a list of them, or JSON Lines.

:func:`parse_payload` turns either into a :class:`ParsedBatch` or refuses the whole batch with
:class:`InvalidInput` naming every problem (``alerts[3].labels: must be an object of strings``).
:func:`ingest` stores a batch in one transaction with a handful of set-based statements:

- **dedup by fingerprint**, never by text: a repeat updates the row in place (count, last seen,
  latest text and labels) and records no event;
- a **resolved** alert closes, a closed alert that fires again **reopens**;
- an alert that changes state ``flap_threshold`` times, each change within
  ``flap_window_seconds`` of the previous one, is **flapping** until it has been quiet (no state
  change) for a whole window;
- resolution is **never inferred from absence**: Alertmanager sends explicit resolved alerts, and
  a snapshot with ``truncatedAlerts > 0`` simply leaves the alerts it omitted as they were;
- the CI is found by the labels in ``[ingest] ci_labels``; an alert on an unknown CI is kept with
  ``ci_id`` NULL (unmapped) and the label value in ``ci_key``; an alert on a CI inside an active
  maintenance window is flagged ``maintenance``.

Foreign producers are read tolerantly (unknown keys ignored, an unknown ``severity`` label read
as ``warning``); our own generic format is read strictly (an unknown key or severity is an error),
so a typo never silently changes what is stored.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import chain
from typing import Any

from sqlalchemy import Text, and_, bindparam, case, cast, exists, func, literal_column, or_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError

from pcso_tui.domain.core.errors import IllegalTransition, InvalidInput, NotFound
from pcso_tui.domain.core.event_kinds import (
    ALERT_CHANGES,
    AlertAcknowledged,
    AlertChange,
    AlertClosed,
    AlertSettled,
    AlertUnacknowledged,
    MaintenanceAdded,
)
from pcso_tui.domain.core.events import Transaction
from pcso_tui.domain.core.models import Alert, ConfigurationItem, MaintenanceWindow, User
from pcso_tui.domain.core.roles import Actor, Permission, require
from pcso_tui.domain.core.service import Domain
from pcso_tui.domain.core.states import AlertState, Severity
from pcso_tui.domain.core.versions import check_version
from pcso_tui.domain.operations import correlation
from pcso_tui.domain.operations.views import AlertView, IngestResult, MaintenanceWindowView, SweepResult

FIRING = "firing"
RESOLVED = "resolved"
STATUSES = (FIRING, RESOLVED)
# Stored states as plain strings (what the drivers bind).
OPEN, CLOSED, FLAPPING = AlertState.OPEN.value, AlertState.CLOSED.value, AlertState.FLAPPING.value

# Column limits (PostgreSQL enforces VARCHAR lengths; SQLite would not, so we check for both).
MAX_FINGERPRINT = 128
MAX_NAME = 200
MAX_CI_KEY = 200
MAX_SOURCE = 32
MAX_URL = 2000
MAX_DETAILS = 50

# Alertmanager's zero time, sent as the endsAt of a firing alert: "no end known".
ZERO_TIME_YEAR = 1

# Severity words seen in the wild, mapped onto ours (DESIGN §3). Matched case-insensitively.
SEVERITY_SYNONYMS: dict[str, Severity] = {
    **dict.fromkeys(
        ("critical", "crit", "fatal", "emergency", "emerg", "alert", "page", "disaster", "p1", "sev1"),
        Severity.CRITICAL,
    ),
    **dict.fromkeys(("major", "error", "err", "high", "p2", "sev2"), Severity.MAJOR),
    **dict.fromkeys(("minor", "average", "medium", "moderate", "p3", "sev3"), Severity.MINOR),
    **dict.fromkeys(("warning", "warn", "low", "p4", "sev4"), Severity.WARNING),
    **dict.fromkeys(
        ("info", "informational", "information", "notice", "debug", "none", "ok", "p5", "sev5"), Severity.INFO
    ),
    **dict.fromkeys(("clear", "cleared", "normal"), Severity.CLEAR),
}
# An alert without a severity, or (from Alertmanager/Grafana) with one we do not know.
DEFAULT_SEVERITY = Severity.WARNING

ALERTMANAGER_VERSIONS = {"4": "alertmanager", "1": "grafana"}
GENERIC_KEYS = (
    "fingerprint",
    "name",
    "severity",
    "status",
    "summary",
    "description",
    "labels",
    "annotations",
    "starts_at",
    "ends_at",
    "ci",
    "source",
    "generator_url",
)
_SOURCE = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
_HOST_PORT = re.compile(r"^([^:\[\]]+):\d+$")
_BRACKETED_HOST_PORT = re.compile(r"^\[([^\]]+)\]:\d+$")
# Enough for SQLite's and asyncpg's limits on bound parameters, with room to spare.
_CHUNK = 1000
_YIELD_EVERY = 1000


class MalformedPayload(InvalidInput):
    """The body is not JSON (or JSON Lines) at all."""

    code = "malformed_json"


class BatchTooLarge(InvalidInput):
    """More alerts in one request than ``[ingest] max_alerts_per_batch``."""

    code = "too_large"


# --- the parsed form ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AlertInput:
    """One alert as received, validated and normalised; what :func:`ingest` stores.

    Build one with :meth:`build` (which derives the fingerprint and checks every field) when an
    alert comes from code rather than from a payload, e.g. a health check.
    """

    fingerprint: str
    name: str
    status: str = FIRING
    severity: str = DEFAULT_SEVERITY.value
    source: str = "generic"
    summary: str = ""
    description: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    # None: unknown (a new alert then starts when it is received; a resolved one ends then).
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    generator_url: str | None = None
    # A CI name given outright (the generic ``ci`` field); tried before the labels.
    ci: str | None = None

    @classmethod
    def build(
        cls,
        name: str,
        *,
        source: str = "generic",
        status: str = FIRING,
        severity: str | Severity = DEFAULT_SEVERITY,
        labels: Mapping[str, str] | None = None,
        annotations: Mapping[str, str] | None = None,
        summary: str = "",
        description: str = "",
        starts_at: datetime | None = None,
        ends_at: datetime | None = None,
        generator_url: str | None = None,
        ci: str | None = None,
        fingerprint: str | None = None,
    ) -> AlertInput:
        """A checked alert; the fingerprint, unless given, derives from source, name and labels."""
        document: dict[str, Any] = {
            "name": name,
            "source": source,
            "status": status,
            "severity": str(severity),
            "labels": dict(labels or {}),
            "annotations": dict(annotations or {}),
            "summary": summary,
            "description": description,
            "starts_at": starts_at.isoformat() if starts_at else None,
            "ends_at": ends_at.isoformat() if ends_at else None,
            "generator_url": generator_url,
            "ci": ci,
            "fingerprint": fingerprint,
        }
        problems = _Problems()
        alert = _generic_alert({k: v for k, v in document.items() if v is not None}, "alert", problems)
        problems.raise_if_any()
        assert alert is not None
        return alert


@dataclass(frozen=True, slots=True)
class ParsedBatch:
    alerts: tuple[AlertInput, ...]
    # Alerts the sender left out (Alertmanager ``truncatedAlerts``); their state is unknown.
    truncated: int = 0

    def __len__(self) -> int:
        return len(self.alerts)


def derive_fingerprint(source: str, name: str, labels: Mapping[str, str]) -> str:
    """A stable fingerprint for an alert that came without one: its source, name and labels."""
    key = json.dumps([source, name, sorted(labels.items())], ensure_ascii=True, separators=(",", ":"))
    return hashlib.sha256(key.encode("ascii")).hexdigest()[:32]


def severity_from(value: str, *, strict: bool) -> Severity | None:
    """Our severity for a word (``page`` → critical, ``error`` → major …).

    Unknown words give ``warning`` when not ``strict`` and None (refused) when ``strict``.
    """
    found = SEVERITY_SYNONYMS.get(value.strip().lower())
    if found is None and not strict:
        return DEFAULT_SEVERITY
    return found


# --- parsing --------------------------------------------------------------------------------


class _Problems:
    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, path: str, message: str) -> None:
        self.items.append(f"{path}: {message}" if path else message)

    def __bool__(self) -> bool:
        return bool(self.items)

    def raise_if_any(self) -> None:
        if not self.items:
            return
        first, n = self.items[0], len(self.items)
        more = f" (and {n - 1} more problem{'s' if n > 2 else ''})" if n > 1 else ""
        details = self.items[:MAX_DETAILS]
        if n > MAX_DETAILS:
            details.append(f"… and {n - MAX_DETAILS} more")
        raise InvalidInput(f"invalid alerts, nothing was stored: {first}{more}", details=details)


def _show(value: Any) -> str:
    """A short description of a bad value for an error line (never the whole of it)."""
    if isinstance(value, str):
        return repr(value if len(value) <= 40 else value[:40] + "…")
    if value is None or isinstance(value, bool | int | float):
        return json.dumps(value) if not isinstance(value, float) or value == value else "NaN"
    return {dict: "an object", list: "a list"}.get(type(value), type(value).__name__)


def _text_problem(text: str) -> str | None:
    """Why a string cannot be stored as it is, or None. Everything else is stored literally."""
    if "\x00" in text:
        return "contains a NUL character (\\u0000), which cannot be stored"
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return "is not valid Unicode (a lone surrogate escape such as \\ud800)"
    return None


def _string(
    value: Any, path: str, problems: _Problems, *, max_len: int | None = None, required: bool = False
) -> str | None:
    if value is None:
        if required:
            problems.add(path, "missing")
        return None
    if not isinstance(value, str):
        problems.add(path, f"must be a string, not {_show(value)}")
        return None
    if required and not value.strip():
        problems.add(path, "must not be empty")
        return None
    if max_len is not None and len(value) > max_len:
        problems.add(path, f"longer than {max_len} characters ({len(value)})")
        return None
    reason = _text_problem(value)
    if reason:
        problems.add(path, reason)
        return None
    return value


def _string_map(value: Any, path: str, problems: _Problems, *, required: bool = False) -> dict[str, str] | None:
    if value is None:
        if required:
            problems.add(path, "missing")
        return None if required else {}
    if not isinstance(value, dict):
        problems.add(path, f"must be an object of strings, not {_show(value)}")
        return None
    # Fast path: every key and value a string, and together storable.
    try:
        if _text_problem("".join(chain.from_iterable(value.items()))) is None:
            return value
    except TypeError:
        pass
    bad = False
    for key, item in value.items():
        reason = _text_problem(key) if isinstance(key, str) else "is not a string"
        if reason:
            problems.add(path, f"key {_show(key)} {reason}")
            bad = True
        elif not isinstance(item, str):
            problems.add(f"{path}.{key}", f"must be a string, not {_show(item)}")
            bad = True
        elif reason := _text_problem(item):
            problems.add(f"{path}.{key}", reason)
            bad = True
    return None if bad else value


def _time(value: Any, path: str, problems: _Problems, *, allow_number: bool = False) -> datetime | None:
    """An aware UTC time from RFC 3339 text (or Unix seconds); Alertmanager's zero time is None."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            problems.add(path, f"not an RFC 3339 time: {_show(value)}")
            return None
        if parsed.tzinfo is None:
            problems.add(path, f"needs a time zone, e.g. 2026-11-23T09:00:00Z: {_show(value)}")
            return None
        if parsed.year == ZERO_TIME_YEAR:
            return None
        try:
            return parsed.astimezone(UTC)
        except OverflowError:
            problems.add(path, f"out of range: {_show(value)}")
            return None
    if allow_number and isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError):
            problems.add(path, f"out of range: {_show(value)}")
            return None
    expected = "an RFC 3339 time string or Unix seconds" if allow_number else "an RFC 3339 time string"
    problems.add(path, f"must be {expected}, not {_show(value)}")
    return None


def _status(value: Any, path: str, problems: _Problems, *, default: str | None = None) -> str | None:
    if value is None and default is not None:
        return default
    if value not in STATUSES:
        problems.add(path, f'must be "firing" or "resolved", not {_show(value)}' if value is not None else "missing")
        return None
    return value


def _alertmanager_alert(raw: Any, path: str, source: str, problems: _Problems) -> AlertInput | None:
    if not isinstance(raw, dict):
        problems.add(path, f"must be an object, not {_show(raw)}")
        return None
    before = len(problems.items)
    status = _status(raw.get("status"), f"{path}.status", problems)
    labels = _string_map(raw.get("labels"), f"{path}.labels", problems, required=True)
    if labels is not None and not labels:
        problems.add(f"{path}.labels", "must not be empty (labels identify the alert)")
    annotations = _string_map(raw.get("annotations"), f"{path}.annotations", problems)
    starts_at = _time(raw.get("startsAt"), f"{path}.startsAt", problems)
    ends_at = _time(raw.get("endsAt"), f"{path}.endsAt", problems)
    url = _string(raw.get("generatorURL"), f"{path}.generatorURL", problems)
    fingerprint = _string(raw.get("fingerprint"), f"{path}.fingerprint", problems, max_len=MAX_FINGERPRINT)
    if fingerprint is not None and not fingerprint.strip():
        problems.add(f"{path}.fingerprint", "must not be empty")
    if len(problems.items) > before:
        return None
    assert status is not None and labels and annotations is not None
    name = labels.get("alertname") or "(no alertname)"
    if len(name) > MAX_NAME:
        problems.add(f"{path}.labels.alertname", f"longer than {MAX_NAME} characters ({len(name)})")
        return None
    severity = severity_from(labels["severity"], strict=False) if "severity" in labels else DEFAULT_SEVERITY
    return AlertInput(
        fingerprint=fingerprint or derive_fingerprint(source, name, labels),
        name=name,
        status=status,
        severity=(severity or DEFAULT_SEVERITY).value,
        source=source,
        summary=annotations.get("summary", ""),
        description=annotations.get("description", ""),
        labels=labels,
        annotations=annotations,
        starts_at=starts_at,
        ends_at=ends_at if status == RESOLVED else None,
        # A generator URL too long to store is dropped rather than cut (a cut link is broken).
        generator_url=url if url and len(url) <= MAX_URL else None,
    )


def _alertmanager_message(doc: Any, where: str, problems: _Problems, out: list[AlertInput]) -> int:
    """Parse one webhook message into ``out``; returns its ``truncatedAlerts``."""
    prefix = f"{where}: " if where else ""
    if not isinstance(doc, dict):
        problems.add(where, f"must be an Alertmanager webhook message (an object), not {_show(doc)}")
        return 0
    version = doc.get("version")
    source = "alertmanager"
    if version is not None:
        if not isinstance(version, str) or version not in ALERTMANAGER_VERSIONS:
            problems.add(
                f"{prefix}version",
                f"unsupported webhook version {_show(version)}; "
                'this receiver reads version "4" (Alertmanager) and "1" (Grafana)',
            )
            return 0
        source = ALERTMANAGER_VERSIONS[version]
    if "orgId" in doc:
        source = "grafana"
    truncated = doc.get("truncatedAlerts", 0)
    if truncated is None:
        truncated = 0
    if not isinstance(truncated, int) or isinstance(truncated, bool) or truncated < 0:
        problems.add(f"{prefix}truncatedAlerts", f"must be a whole number ≥ 0, not {_show(truncated)}")
        truncated = 0
    alerts = doc.get("alerts")
    if alerts is None:
        problems.add(f"{prefix}alerts", "missing")
        return truncated
    if not isinstance(alerts, list):
        problems.add(f"{prefix}alerts", f"must be a list, not {_show(alerts)}")
        return truncated
    for i, raw in enumerate(alerts):
        alert = _alertmanager_alert(raw, f"{prefix}alerts[{i}]", source, problems)
        if alert is not None:
            out.append(alert)
    return truncated


def _generic_alert(raw: Any, path: str, problems: _Problems) -> AlertInput | None:
    if not isinstance(raw, dict):
        problems.add(path, f"must be an alert object, not {_show(raw)}")
        return None
    before = len(problems.items)
    unknown = [k for k in raw if k not in GENERIC_KEYS]
    if unknown:
        problems.add(
            path,
            f"unknown key{'s' if len(unknown) > 1 else ''} {', '.join(_show(k) for k in unknown[:5])} "
            f"(known: {', '.join(GENERIC_KEYS)})",
        )
    name = _string(raw.get("name"), f"{path}.name", problems, max_len=MAX_NAME, required=True)
    source = _string(raw.get("source"), f"{path}.source", problems, max_len=MAX_SOURCE) or "generic"
    if "source" in raw and isinstance(raw["source"], str) and not _SOURCE.match(source):
        problems.add(f"{path}.source", f"must be lower-case letters, digits, _ . - (not {_show(source)})")
    status = _status(raw.get("status"), f"{path}.status", problems, default=FIRING)
    severity: Severity | None = DEFAULT_SEVERITY
    raw_severity = raw.get("severity")
    if raw_severity is not None:
        if not isinstance(raw_severity, str):
            problems.add(f"{path}.severity", f"must be a string, not {_show(raw_severity)}")
        else:
            severity = severity_from(raw_severity, strict=True)
            if severity is None:
                problems.add(
                    f"{path}.severity",
                    f"unknown severity {_show(raw_severity)}; use one of "
                    f"{', '.join(s.value for s in Severity)} (or a synonym such as page, error, warn)",
                )
    labels = _string_map(raw.get("labels"), f"{path}.labels", problems)
    annotations = _string_map(raw.get("annotations"), f"{path}.annotations", problems)
    summary = _string(raw.get("summary"), f"{path}.summary", problems) or ""
    description = _string(raw.get("description"), f"{path}.description", problems) or ""
    starts_at = _time(raw.get("starts_at"), f"{path}.starts_at", problems, allow_number=True)
    ends_at = _time(raw.get("ends_at"), f"{path}.ends_at", problems, allow_number=True)
    ci = _string(raw.get("ci"), f"{path}.ci", problems, max_len=MAX_CI_KEY)
    url = _string(raw.get("generator_url"), f"{path}.generator_url", problems, max_len=MAX_URL)
    fingerprint = _string(raw.get("fingerprint"), f"{path}.fingerprint", problems, max_len=MAX_FINGERPRINT)
    if fingerprint is not None and not fingerprint.strip():
        problems.add(f"{path}.fingerprint", "must not be empty")
    if len(problems.items) > before:
        return None
    assert name is not None and status is not None and severity is not None
    assert labels is not None and annotations is not None
    return AlertInput(
        fingerprint=fingerprint or derive_fingerprint(source, name, labels),
        name=name,
        status=status,
        severity=severity.value,
        source=source,
        summary=summary,
        description=description,
        labels=labels,
        annotations=annotations,
        starts_at=starts_at,
        ends_at=ends_at if status == RESOLVED else None,
        generator_url=url or None,
        ci=ci or None,
    )


def _is_alertmanager(doc: Any) -> bool:
    return isinstance(doc, dict) and "alerts" in doc


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _loads(text: str) -> Any:
    return json.loads(text, parse_constant=_reject_constant)


def _documents(text: str) -> list[tuple[str, Any]]:
    """The JSON documents in a body: one JSON value, or JSON Lines (one value per line)."""
    if not text.strip():
        raise MalformedPayload("empty body: expected a JSON object, a list of them, or JSON Lines")
    try:
        return [("", _loads(text))]
    except json.JSONDecodeError as exc:
        if exc.msg != "Extra data":
            raise MalformedPayload(f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None
    except ValueError as exc:
        raise MalformedPayload(f"not valid JSON: {exc}") from None
    except RecursionError:
        raise MalformedPayload("not valid JSON: nested too deeply") from None
    # More than one value: JSON Lines. Only "\n" ends a line (U+2028 may sit inside a string).
    docs: list[tuple[str, Any]] = []
    problems = _Problems()
    for number, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            docs.append((f"line {number}", _loads(line)))
        except json.JSONDecodeError as exc:
            problems.add(f"line {number}", f"not valid JSON: {exc.msg} (column {exc.colno})")
        except ValueError as exc:
            problems.add(f"line {number}", f"not valid JSON: {exc}")
        except RecursionError:
            problems.add(f"line {number}", "not valid JSON: nested too deeply")
    if problems:
        first = problems.items[0]
        raise MalformedPayload(
            f"not valid JSON Lines, nothing was stored: {first}", details=problems.items[:MAX_DETAILS]
        )
    return docs


def _count(doc: Any) -> int:
    if _is_alertmanager(doc):
        return len(doc["alerts"]) if isinstance(doc["alerts"], list) else 0
    return len(doc) if isinstance(doc, list) else 1


def parse_payload(
    raw: bytes | str | dict[str, Any] | list[Any],
    *,
    format: str = "auto",
    max_alerts: int | None = None,
) -> ParsedBatch:
    """Parse an Alertmanager/Grafana webhook or generic alerts (object, list or JSON Lines).

    ``format`` is ``auto`` (an object with ``alerts`` is a webhook message, anything else generic),
    ``alertmanager`` or ``generic``. Refuses the whole batch with :class:`InvalidInput` (every
    problem in ``details``), :class:`MalformedPayload` (not JSON) or :class:`BatchTooLarge`.
    """
    if format not in ("auto", "alertmanager", "generic"):
        raise ValueError(f"unknown format {format!r}")
    if isinstance(raw, bytes | bytearray | memoryview):
        try:
            text = bytes(raw).decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise MalformedPayload(f"body is not UTF-8 text (byte {exc.start}: {exc.reason})") from None
        docs = _documents(text)
    elif isinstance(raw, str):
        docs = _documents(raw)
    else:
        docs = [("", raw)]

    total = sum(_count(doc) for _, doc in docs)
    if max_alerts is not None and total > max_alerts:
        raise BatchTooLarge(
            f"too many alerts in one request: {total} (the limit is {max_alerts}); "
            "send smaller groups or raise [ingest] max_alerts_per_batch"
        )

    problems = _Problems()
    alerts: list[AlertInput] = []
    truncated = 0
    for where, doc in docs:
        webhook = _is_alertmanager(doc)
        if format == "alertmanager" and not webhook:
            problems.add(where, "not an Alertmanager webhook message: an object with `alerts` is expected")
        elif format == "generic" and webhook:
            problems.add(where, "this is an Alertmanager webhook message: send it to /api/v1/alerts/alertmanager")
        elif webhook:
            truncated += _alertmanager_message(doc, where, problems, alerts)
        elif isinstance(doc, list):
            prefix = f"{where}: " if where else ""
            for i, item in enumerate(doc):
                alert = _generic_alert(item, f"{prefix}alerts[{i}]", problems)
                if alert is not None:
                    alerts.append(alert)
        else:
            alert = _generic_alert(doc, f"{where}: alert" if where else "alert", problems)
            if alert is not None:
                alerts.append(alert)
    problems.raise_if_any()
    return ParsedBatch(alerts=tuple(alerts), truncated=truncated)


# --- ingest ---------------------------------------------------------------------------------


def strip_port(value: str) -> str:
    """``host:9100`` → ``host``, ``[::1]:9100`` → ``::1``; anything else unchanged."""
    match = _HOST_PORT.match(value) or _BRACKETED_HOST_PORT.match(value)
    return match.group(1) if match else value


def ci_candidates(alert: AlertInput, ci_labels: Sequence[str]) -> list[str]:
    """The CI names to try for an alert, best first: its ``ci`` field, then the labels in order."""
    found: list[str] = []
    if alert.ci:
        found.append(alert.ci)
    for label in ci_labels:
        value = alert.labels.get(label)
        if not value:
            continue
        if label == "instance":
            value = strip_port(value)
        if value and value not in found:
            found.append(value)
    return found


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _active_window(ci_id: Any, now: datetime) -> Any:
    return exists().where(
        MaintenanceWindow.ci_id == ci_id, MaintenanceWindow.starts_at <= now, MaintenanceWindow.ends_at > now
    )


@dataclass(frozen=True, slots=True)
class _Stored:
    """A value read from the database in its stored form, written back as it is."""

    value: Any


@dataclass(slots=True)
class _Prior:
    id: int
    state: str
    resolved: bool
    # Whether its last state change lies within the flap window (computed in SQL).
    recent: bool
    starts_at: Any
    last_change_at: Any
    flap_score: int
    acknowledged: bool
    acknowledged_by_id: int | None
    severity: str
    ci_id: int | None


# The columns an upsert row carries, in the order of the statement's parameters.
_ROW_KEYS = (
    "fingerprint",
    "source",
    "name",
    "severity",
    "state",
    "acknowledged",
    "acknowledged_by_id",
    "maintenance",
    "summary",
    "description",
    "labels",
    "annotations",
    "ci_key",
    "ci_id",
    "generator_url",
    "starts_at",
    "ends_at",
    "first_seen_at",
    "last_seen_at",
    "last_change_at",
    "receive_count",
    "flap_score",
    "version",
)
_NAME, _SEVERITY, _CI_KEY = _ROW_KEYS.index("name"), _ROW_KEYS.index("severity"), _ROW_KEYS.index("ci_key")
_STATE, _CI_ID, _LAST_CHANGE = _ROW_KEYS.index("state"), _ROW_KEYS.index("ci_id"), _ROW_KEYS.index("last_change_at")
# The columns no index covers. A repeat that changes nothing indexed (state, severity, CI, last
# change) rewrites only these, by id: a third of the work of an upsert, which touches every index.
_UNINDEXED = (
    "source",
    "name",
    "acknowledged",
    "acknowledged_by_id",
    "maintenance",
    "summary",
    "description",
    "labels",
    "annotations",
    "ci_key",
    "generator_url",
    "starts_at",
    "ends_at",
    "last_seen_at",
    "flap_score",
)
_ID = len(_ROW_KEYS)  # where a row carries the alert's id when it is refreshed by id


def _upsert_statement(dialect: str) -> Any:
    """INSERT … ON CONFLICT (fingerprint) DO UPDATE: every column from the new row except the
    first sighting and the incident link; the count adds up and the version bumps."""
    table = Alert.__table__
    ins = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
    keep = {"fingerprint", "first_seen_at", "receive_count", "version"}
    updates: dict[str, Any] = {key: ins.excluded[key] for key in _ROW_KEYS if key not in keep}
    updates["receive_count"] = table.c.receive_count + ins.excluded.receive_count
    updates["version"] = table.c.version + literal_column("1")
    return ins.on_conflict_do_update(index_elements=[table.c.fingerprint], set_=updates)


def _refresh_statement() -> Any:
    """UPDATE alert SET <unindexed columns>, count added, version bumped WHERE id = …"""
    table = Alert.__table__
    values: dict[str, Any] = {key: bindparam(f"r_{key}", type_=table.c[key].type) for key in _UNINDEXED}
    values["receive_count"] = table.c.receive_count + bindparam("r_receive_count", type_=table.c.receive_count.type)
    values["version"] = table.c.version + literal_column("1")
    return update(table).where(table.c.id == bindparam("r_id", type_=table.c.id.type)).values(values)


@dataclass(frozen=True, slots=True)
class _Plan:
    """A statement compiled once per dialect, bound by position from the rows ``_fold`` makes."""

    sql: str
    # For each parameter, in order: its position in the row.
    picks: tuple[int, ...]
    # (parameter, processor) for the parameters whose column type converts (times, JSON …).
    processors: tuple[tuple[int, Any], ...]
    time_processor: Any

    @classmethod
    def compile(cls, statement: Any, dialect: Any, **kw: Any) -> _Plan:
        compiled = statement.compile(dialect=dialect, **kw)
        columns = Alert.__table__.c
        picks, processors = [], []
        for n, name in enumerate(compiled.positiontup or ()):
            key = name.removeprefix("r_")
            if key == "id":
                picks.append(_ID)
                continue
            if key not in _ROW_KEYS:
                raise RuntimeError(f"unexpected parameter {name!r} in {compiled.string}")
            picks.append(_ROW_KEYS.index(key))
            process = columns[key].type.dialect_impl(dialect).bind_processor(dialect)
            if dialect.name == "sqlite":
                process = _faster_on_sqlite(process)
            if process is not None:
                processors.append((n, process))
        time_processor = columns.last_seen_at.type.dialect_impl(dialect).bind_processor(dialect)
        return cls(compiled.string, tuple(picks), tuple(processors), time_processor)

    def bind(self, rows: Sequence[list[Any]], now: datetime) -> list[list[Any]]:
        """The parameters, converted as SQLAlchemy would, but ``now`` (shared by all) once."""
        now_bound = self.time_processor(now)
        bound = []
        for row in rows:
            values = [row[i] for i in self.picks]
            for n, process in self.processors:
                value = values[n]
                if value is None:
                    continue
                if value is now:
                    values[n] = now_bound
                elif value.__class__ is _Stored:
                    values[n] = value.value
                else:
                    values[n] = process(value)
            bound.append(values)
        return bound


_PLANS: dict[str, tuple[_Plan, _Plan]] = {}
_PROBES = (datetime(2026, 1, 2, 3, 4, 5, 60708, tzinfo=UTC), datetime(999, 1, 2, 3, 4, 5, tzinfo=UTC))


def _sqlite_time(value: datetime) -> str:
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: the domain only stores aware UTC times")
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def _json_text_encoder() -> Any:
    """``json.dumps`` for the label and annotation maps (strings to strings), without the three
    layers of Python around the standard library's C encoder: half the cost, and labels and
    annotations are encoded twice per alert row. ``json.dumps`` itself where that encoder is
    missing (it is an accelerator, not a promise)."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return json.dumps
    # (markers, default, encoder, indent, key separator, item separator, sort keys, skip keys,
    # allow NaN): json.dumps's defaults.
    encode = make(None, None, json.encoder.encode_basestring_ascii, None, ": ", ", ", False, False, True)

    def dumps(value: Any) -> str:
        if value.__class__ is not dict:
            return json.dumps(value)
        try:
            return "".join(encode(value, 0))
        except Exception:  # anything unusual: the standard path, with its own errors
            return json.dumps(value)

    return dumps


_JSON_PROBES: tuple[dict[str, Any], ...] = (
    {},
    {"alertname": "Disk full", "instance": "db-01:9100"},
    {"é": 'naïve \u2603 "quoted" \\ back\nslash\t\x1b[31m', "n": "\ud83d\ude00"},
)


def _faster_on_sqlite(process: Any) -> Any:
    """The same conversion, cheaper: C-level ``isoformat`` for times, the C JSON encoder for
    label maps, none for booleans (the driver binds them as 1 and 0). Used only where it gives
    exactly SQLAlchemy's result."""
    if process is None:
        return None
    try:
        if all(process(probe) == _sqlite_time(probe) for probe in _PROBES):
            return _sqlite_time
    except (TypeError, AttributeError, ValueError):
        pass
    try:
        dumps = _json_text_encoder()
        if all(process(probe) == dumps(probe) for probe in _JSON_PROBES):
            return dumps
    except (TypeError, AttributeError, ValueError):
        pass
    try:
        if process(True) == 1 and process(False) == 0 and process(True) is not True:
            return None
    except (TypeError, AttributeError, ValueError):
        pass
    return process


# One writer of alert states at a time, as on SQLite (whose writers queue for its one lock):
# two PostgreSQL transactions reading the same fingerprints would both see them as new.
_ALERT_INGEST_LOCK = 727_010


async def _lock_alerts(tx: Transaction) -> None:
    if tx.dialect == "postgresql":
        await tx.session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _ALERT_INGEST_LOCK})


_SQLITE_CIS = (
    "SELECT ci.id, ci.name, EXISTS (SELECT 1 FROM maintenance_window AS mw"
    " WHERE mw.ci_id = ci.id AND mw.starts_at <= ?1 AND mw.ends_at > ?1)"
    " FROM ci WHERE ci.name IN (SELECT value FROM json_each(?2))"
)
_SQLITE_EXISTING = (
    "SELECT fingerprint, id, state, ends_at IS NOT NULL, last_change_at > ?1, starts_at, last_change_at,"
    " flap_score, acknowledged, acknowledged_by_id, severity, ci_id"
    " FROM alert WHERE fingerprint IN (SELECT value FROM json_each(?2))"
)
_SQLITE_IDS = "SELECT fingerprint, id FROM alert WHERE fingerprint IN (SELECT value FROM json_each(?1))"


class _Store:
    """The few statements ingest runs per batch, in the cheapest form each backend offers.

    Inside the transaction SQLAlchemy began (``BEGIN IMMEDIATE`` on SQLite). On SQLite each
    statement is one call on the driver's connection — one trip to its thread, where SQLAlchemy's
    adapter takes three or four — with a list passed as one JSON parameter (``json_each``); on
    PostgreSQL they are Core statements. The writes are SQLAlchemy's own statements on both (the
    upsert, and the update by id of repeats), bound by position and sent with the driver's
    ``executemany``. See bench/bench_ingest.py.
    """

    def __init__(self, tx: Transaction, connection: Any, plans: tuple[_Plan, _Plan], driver: Any) -> None:
        self.tx, self.connection, self.driver = tx, connection, driver
        self.upsert_plan, self.refresh_plan = plans
        self.time = self.upsert_plan.time_processor

    @classmethod
    async def open(cls, tx: Transaction) -> _Store:
        connection = await tx.session.connection()
        plans = _PLANS.get(tx.dialect)
        if plans is None:
            dialect = connection.dialect
            upsert = _Plan.compile(_upsert_statement(dialect.name), dialect, column_keys=list(_ROW_KEYS))
            plans = _PLANS[tx.dialect] = (upsert, _Plan.compile(_refresh_statement(), dialect))
        driver = None
        if tx.dialect == "sqlite":
            driver = (await connection.get_raw_connection()).driver_connection
        else:
            await _lock_alerts(tx)
        return cls(tx, connection, plans, driver)

    async def _fetch(self, sql: str, *parameters: Any) -> Iterable[Any]:
        try:
            return await self.driver.execute_fetchall(sql, parameters)
        except sqlite3.Error as exc:  # report it as SQLAlchemy would (a "locked" one becomes StorageBusy)
            raise DBAPIError.instance(sql, parameters, exc, sqlite3.Error, dialect=self.connection.dialect) from exc

    async def cis(self, names: Sequence[str]) -> dict[str, tuple[int, bool]]:
        """CI name → (id, in an active maintenance window), for the names that are known CIs."""
        now = self.tx.now
        if self.driver is not None:
            rows: Iterable[Any] = await self._fetch(_SQLITE_CIS, self.time(now), json.dumps(names))
            return {name: (ci_id, bool(maintenance)) for ci_id, name, maintenance in rows}
        ci = ConfigurationItem
        found: dict[str, tuple[int, bool]] = {}
        for chunk in _chunks(names):
            query = select(ci.id, ci.name, _active_window(ci.id, now)).where(ci.name.in_(chunk))
            for ci_id, name, maintenance in await self.connection.execute(query):
                found[name] = (ci_id, bool(maintenance))
        return found

    async def existing(self, fingerprints: Sequence[str], cutoff: datetime) -> dict[str, _Prior]:
        """The stored state of these fingerprints (rows locked on PostgreSQL until commit)."""
        found: dict[str, _Prior] = {}
        if self.driver is not None:
            rows = await self._fetch(_SQLITE_EXISTING, self.time(cutoff), json.dumps(fingerprints))
            for fp, aid, state, resolved, recent, starts, changed, flap, ack, ack_by, severity, ci_id in rows:
                found[fp] = _Prior(
                    aid,
                    state,
                    bool(resolved),
                    bool(recent),
                    _Stored(starts),
                    _Stored(changed),
                    flap,
                    bool(ack),
                    ack_by,
                    severity,
                    ci_id,
                )
            return found
        a = Alert.__table__.c
        for chunk in _chunks(fingerprints):
            query = (
                select(
                    a.fingerprint,
                    a.id,
                    a.state,
                    a.ends_at.is_not(None),
                    a.last_change_at > cutoff,
                    a.starts_at,
                    a.last_change_at,
                    a.flap_score,
                    a.acknowledged,
                    a.acknowledged_by_id,
                    a.severity,
                    a.ci_id,
                )
                .where(a.fingerprint.in_(chunk))
                .with_for_update()
            )
            for (
                fp,
                aid,
                state,
                resolved,
                recent,
                starts,
                changed,
                flap,
                ack,
                ack_by,
                severity,
                ci_id,
            ) in await self.connection.execute(query):
                found[fp] = _Prior(
                    aid, state, bool(resolved), bool(recent), starts, changed, flap, bool(ack), ack_by, severity, ci_id
                )
        return found

    async def write(self, upserts: Sequence[list[Any]], refreshes: Sequence[list[Any]]) -> None:
        """Upsert new and changed alerts; rewrite the unindexed columns of mere repeats by id."""
        for plan, rows in ((self.upsert_plan, upserts), (self.refresh_plan, refreshes)):
            if not rows:
                continue
            bound = plan.bind(rows, self.tx.now)
            if self.driver is None:
                await self.connection.exec_driver_sql(plan.sql, [tuple(values) for values in bound])
                continue
            try:
                await self.driver.executemany(plan.sql, bound)
            except sqlite3.Error as exc:
                raise DBAPIError.instance(plan.sql, None, exc, sqlite3.Error, dialect=self.connection.dialect) from exc

    async def ids(self, fingerprints: Sequence[str]) -> dict[str, int]:
        if self.driver is not None:
            return dict(await self._fetch(_SQLITE_IDS, json.dumps(fingerprints)))  # type: ignore[arg-type]
        a = Alert.__table__.c
        found: dict[str, int] = {}
        for chunk in _chunks(fingerprints):
            for fp, alert_id in await self.connection.execute(
                select(a.fingerprint, a.id).where(a.fingerprint.in_(chunk))
            ):
                found[fp] = alert_id
        return found


@dataclass(slots=True)
class _Change:
    kind: str  # opened, reopened, closed, flapping, settled
    fingerprint: str
    previous: str | None


def _fold(
    fingerprint: str,
    occurrences: list[AlertInput],
    prior: _Prior | None,
    ci: tuple[str | None, int | None, bool],
    now: datetime,
    threshold: int,
    changes: list[_Change],
) -> list[Any]:
    """Apply every occurrence of one fingerprint in order: the row to upsert, and the changes.

    A state change extends the current run of changes when the last one lies within the flap
    window (``recent``); within one batch every change happens ``now``, so it always does.
    """
    if prior is None:
        state, resolved, recent, flap = None, False, True, 0
        last_change, starts_at = now, None
        acknowledged, acknowledged_by = False, None
    else:
        state, resolved, recent, flap = prior.state, prior.resolved, prior.recent, prior.flap_score
        last_change, starts_at = prior.last_change_at, prior.starts_at
        acknowledged, acknowledged_by = prior.acknowledged, prior.acknowledged_by_id
    ends_at: datetime | None = None
    for alert in occurrences:
        now_resolved = alert.status == RESOLVED
        before = state
        if state is None:
            state = CLOSED if now_resolved else OPEN
            starts_at = alert.starts_at or now
        elif now_resolved != resolved:
            flap = flap + 1 if recent else 1
            last_change, recent = now, True
            state = FLAPPING if flap >= threshold else CLOSED if now_resolved else OPEN
            if not now_resolved:
                starts_at = alert.starts_at or now
        elif state == FLAPPING and not recent:
            # Quiet for a whole window: it settles into what it now is.
            state = CLOSED if now_resolved else OPEN
            flap = 0
            last_change, recent = now, True
        elif not now_resolved and alert.starts_at is not None:
            starts_at = alert.starts_at
        resolved = now_resolved
        ends_at = (alert.ends_at or now) if now_resolved else None
        if state != before:
            kind = _transition(before, state)
            changes.append(_Change(kind, fingerprint, before))
            if kind == "reopened":
                acknowledged, acknowledged_by = False, None
    last = occurrences[-1]
    ci_key, ci_id, maintenance = ci
    return [
        fingerprint,
        last.source,
        last.name,
        last.severity,
        state,
        acknowledged,
        acknowledged_by,
        maintenance,
        last.summary,
        last.description,
        last.labels,
        last.annotations,
        ci_key,
        ci_id,
        last.generator_url,
        starts_at,
        ends_at,
        now,  # first_seen_at (kept by the update)
        now,  # last_seen_at
        last_change,
        len(occurrences),  # receive_count: added to the stored count
        flap,
        1,  # version (bumped by the update)
    ]


def _transition(before: str | None, after: str) -> str:
    if before is None:
        return "opened" if after == OPEN else "closed"
    if after == FLAPPING:
        return "flapping"
    if after == CLOSED:
        return "closed"
    return "reopened" if before == CLOSED else "settled"


async def ingest(domain: Domain, actor: Actor, batch: ParsedBatch) -> IngestResult:
    """Store a parsed batch in one transaction; see the module docstring for the rules."""
    require(actor, Permission.INGEST_ALERTS)
    settings = domain.settings.ingest
    if not batch.alerts:
        return IngestResult(0, 0, 0, 0, 0, 0, 0, batch.truncated)

    # Everything that needs no database is done before the transaction starts.
    grouped: dict[str, list[AlertInput]] = {}
    for alert in batch.alerts:
        grouped.setdefault(alert.fingerprint, []).append(alert)
    candidates: dict[str, list[str]] = {}
    names: set[str] = set()
    for fp, occurrences in grouped.items():
        candidates[fp] = found = ci_candidates(occurrences[-1], settings.ci_labels)
        names.update(found)
    window = timedelta(seconds=settings.flap_window_seconds)

    async with domain.transaction(actor) as tx:
        now = tx.now
        store = await _Store.open(tx)
        cis = await store.cis(sorted(names)) if names else {}
        existing = await store.existing(list(grouped), now - window)
        changes: list[_Change] = []
        rows: list[list[Any]] = []
        refreshes: list[list[Any]] = []
        upserts: list[list[Any]] = []
        severity_changed: list[str] = []
        unmapped = 0
        for n, (fp, occurrences) in enumerate(grouped.items(), 1):
            if n % _YIELD_EVERY == 0:  # a large batch leaves the event loop room to breathe
                await asyncio.sleep(0)
            ci_key: str | None = None
            ci_id: int | None = None
            maintenance = False
            for name in candidates[fp]:
                if name in cis:
                    ci_key = name
                    ci_id, maintenance = cis[name]
                    break
            else:
                unmapped += 1
                if candidates[fp]:
                    ci_key = candidates[fp][0][:MAX_CI_KEY]
            prior = existing.get(fp)
            ci = (ci_key, ci_id, maintenance)
            row = _fold(fp, occurrences, prior, ci, now, settings.flap_threshold, changes)
            rows.append(row)
            if prior is None:
                upserts.append(row)
            elif (
                row[_STATE] == prior.state
                and row[_SEVERITY] == prior.severity
                and row[_CI_ID] == prior.ci_id
                and row[_LAST_CHANGE] is prior.last_change_at
            ):
                refreshes.append([*row, prior.id])
            else:
                upserts.append(row)
            if prior is not None and prior.severity != occurrences[-1].severity:
                severity_changed.append(fp)
        described = {row[0]: (row[_NAME], row[_SEVERITY], row[_CI_KEY]) for row in rows} if changes else {}

        await store.write(upserts, refreshes)
        ids = {fp: prior.id for fp, prior in existing.items()}
        new = [fp for fp in grouped if fp not in ids]
        if new:
            ids.update(await store.ids(new))

        by_kind: dict[str, list[tuple[int | None, AlertChange]]] = {}
        for change in changes:
            name, severity, ci_key = described[change.fingerprint]
            event = ALERT_CHANGES[change.kind](
                fingerprint=change.fingerprint, name=name, severity=severity, ci=ci_key, from_=change.previous
            )
            by_kind.setdefault(change.kind, []).append((ids[change.fingerprint], event))
        for events in by_kind.values():
            tx.record_many(events)

        touched = list(dict.fromkeys([c.fingerprint for c in changes] + severity_changed))
        incident_ids: list[int] = []
        if touched:
            alert_ids = [ids[fp] for fp in touched]
            incident_ids = list(await correlation.correlate_alerts(tx, domain.settings, alert_ids))

    counts = {kind: len(events) for kind, events in by_kind.items()}
    return IngestResult(
        received=len(batch.alerts),
        new=len(new),
        updated=len(batch.alerts) - len(new),
        reopened=counts.get("reopened", 0),
        closed=counts.get("closed", 0),
        flapping=counts.get("flapping", 0),
        unmapped=unmapped,
        truncated=batch.truncated,
        incident_ids=tuple(incident_ids),
    )


async def ingest_payload(
    domain: Domain, actor: Actor, raw: bytes | str | dict[str, Any] | list[Any], *, format: str = "auto"
) -> IngestResult:
    """Parse (with the ``[ingest]`` batch limit) and ingest; the receiver's one call."""
    require(actor, Permission.INGEST_ALERTS)
    batch = parse_payload(raw, format=format, max_alerts=domain.settings.ingest.max_alerts_per_batch)
    return await ingest(domain, actor, batch)


async def sweep_alerts(domain: Domain, actor: Actor) -> SweepResult:
    """Apply what time alone changes: quiet flapping alerts settle; maintenance flags follow the
    windows as they begin and end. Run periodically (``pcso serve`` does, every minute)."""
    require(actor, Permission.INGEST_ALERTS)
    async with domain.transaction(actor) as tx:
        await _lock_alerts(tx)
        now = tx.now
        a = Alert.__table__.c
        cutoff = now - timedelta(seconds=domain.settings.ingest.flap_window_seconds)
        quiet = (
            await tx.session.execute(
                select(a.id, a.fingerprint, a.name, a.severity, a.ci_key, a.ends_at)
                .where(a.state == AlertState.FLAPPING, a.last_change_at <= cutoff)
                .with_for_update()
            )
        ).all()
        if quiet:
            await tx.session.execute(
                update(Alert.__table__)
                .where(a.id.in_([row.id for row in quiet]))
                .values(
                    state=case((a.ends_at.is_(None), AlertState.OPEN.value), else_=AlertState.CLOSED.value),
                    flap_score=0,
                    last_change_at=now,
                    version=a.version + 1,
                )
            )
            for change, rows in (
                (AlertSettled, [r for r in quiet if r.ends_at is None]),
                (AlertClosed, [r for r in quiet if r.ends_at is not None]),
            ):
                tx.record_many(
                    (
                        r.id,
                        change(
                            fingerprint=r.fingerprint,
                            name=r.name,
                            severity=r.severity,
                            ci=r.ci_key,
                            from_=AlertState.FLAPPING.value,
                        ),
                    )
                    for r in rows
                )
        active = _active_window(a.ci_id, now)
        set_result = await tx.session.execute(
            update(Alert.__table__)
            .where(a.maintenance.is_(False), a.state != AlertState.CLOSED, a.ci_id.is_not(None), active)
            .values(maintenance=True, version=a.version + 1)
        )
        clear_result = await tx.session.execute(
            update(Alert.__table__)
            .where(a.maintenance.is_(True), ~active)
            .values(maintenance=False, version=a.version + 1)
        )
    return SweepResult(
        settled=len(quiet),
        maintenance_set=set_result.rowcount or 0,  # type: ignore[attr-defined]
        maintenance_cleared=clear_result.rowcount or 0,  # type: ignore[attr-defined]
    )


# --- queries ---------------------------------------------------------------------------------


_SEVERITY_RANK = case({s.value: s.rank for s in Severity}, value=Alert.severity, else_=0)
_SORTS: dict[str, Any] = {
    "last_change_at": Alert.last_change_at,
    "last_seen_at": Alert.last_seen_at,
    "first_seen_at": Alert.first_seen_at,
    "starts_at": Alert.starts_at,
    "severity": _SEVERITY_RANK,
    "name": Alert.name,
    "state": Alert.state,
    "ci": func.coalesce(ConfigurationItem.name, Alert.ci_key),
    "receive_count": Alert.receive_count,
    "id": Alert.id,
}
MAX_LIST = 10_000


def _filters(
    *,
    state: str | Sequence[str] | None,
    severity_at_least: str | None,
    search: str | None,
    ci: str | None,
    unmapped: bool | None,
) -> list[Any]:
    conditions: list[Any] = []
    if state is not None:
        states = [state] if isinstance(state, str) else list(state)
        bad = [s for s in states if s not in {s.value for s in AlertState}]
        if bad:
            known = ", ".join(s.value for s in AlertState)
            raise InvalidInput(f"unknown alert state {bad[0]!r}; states: {known}")
        conditions.append(Alert.state.in_(states))
    if severity_at_least is not None:
        try:
            least = Severity(severity_at_least.strip().lower())
        except ValueError:
            known = ", ".join(s.value for s in Severity)
            raise InvalidInput(f"unknown severity {severity_at_least!r}; severities: {known}") from None
        conditions.append(Alert.severity.in_([s.value for s in Severity if s.rank >= least.rank]))
    if search:
        escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{escaped}%"
        conditions.append(
            or_(
                *(
                    column.ilike(pattern, escape="\\")
                    for column in (
                        Alert.name,
                        Alert.summary,
                        Alert.fingerprint,
                        Alert.ci_key,
                        ConfigurationItem.name,
                        cast(Alert.labels, Text),
                    )
                )
            )
        )
    if ci is not None:
        conditions.append(or_(ConfigurationItem.name == ci, and_(Alert.ci_id.is_(None), Alert.ci_key == ci)))
    if unmapped is not None:
        conditions.append(Alert.ci_id.is_(None) if unmapped else Alert.ci_id.is_not(None))
    return conditions


def _alert_view(row: Any) -> AlertView:
    return AlertView(
        id=row.id,
        fingerprint=row.fingerprint,
        source=row.source,
        name=row.name,
        severity=row.severity,
        state=row.state,
        acknowledged=bool(row.acknowledged),
        maintenance=bool(row.maintenance),
        summary=row.summary,
        description=row.description,
        labels=dict(row.labels or {}),
        annotations=dict(row.annotations or {}),
        ci_key=row.ci_key,
        ci_id=row.ci_id,
        ci_name=row.ci_name,
        generator_url=row.generator_url,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        first_seen_at=row.first_seen_at,
        last_seen_at=row.last_seen_at,
        last_change_at=row.last_change_at,
        receive_count=row.receive_count,
        flap_score=row.flap_score,
        incident_id=row.incident_id,
        version=row.version,
    )


def _alert_select() -> Any:
    return select(*Alert.__table__.c, ConfigurationItem.name.label("ci_name")).outerjoin(
        ConfigurationItem, ConfigurationItem.id == Alert.ci_id
    )


async def list_alerts(
    domain: Domain,
    actor: Actor,
    *,
    state: str | Sequence[str] | None = None,
    severity_at_least: str | None = None,
    search: str | None = None,
    ci: str | None = None,
    unmapped: bool | None = None,
    sort: str = "-last_change_at",
    limit: int = 200,
    offset: int = 0,
) -> list[AlertView]:
    """Alerts filtered, searched, sorted and paged in SQL. ``sort``: a key, ``-`` for descending."""
    require(actor, Permission.VIEW_OPERATIONS)
    key = sort.removeprefix("-")
    if key not in _SORTS:
        raise InvalidInput(f"cannot sort alerts by {sort!r}; keys: {', '.join(_SORTS)} (prefix - for descending)")
    if not 1 <= limit <= MAX_LIST:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIST}, not {limit}")
    if offset < 0:
        raise InvalidInput(f"offset must be 0 or more, not {offset}")
    conditions = _filters(state=state, severity_at_least=severity_at_least, search=search, ci=ci, unmapped=unmapped)
    descending = sort.startswith("-")
    column = _SORTS[key]
    order = [column.desc() if descending else column.asc(), Alert.id.desc() if descending else Alert.id.asc()]
    query = _alert_select().where(*conditions).order_by(*order).limit(limit).offset(offset)
    async with domain.reading() as session:
        return [_alert_view(row) for row in await session.execute(query)]


async def count_alerts(
    domain: Domain,
    actor: Actor,
    *,
    state: str | Sequence[str] | None = None,
    severity_at_least: str | None = None,
    search: str | None = None,
    ci: str | None = None,
    unmapped: bool | None = None,
) -> int:
    """How many alerts :func:`list_alerts` would page through with the same filters."""
    require(actor, Permission.VIEW_OPERATIONS)
    conditions = _filters(state=state, severity_at_least=severity_at_least, search=search, ci=ci, unmapped=unmapped)
    query = (
        select(func.count())
        .select_from(Alert)
        .outerjoin(ConfigurationItem, ConfigurationItem.id == Alert.ci_id)
        .where(*conditions)
    )
    async with domain.reading() as session:
        return int(await session.scalar(query) or 0)


async def alert_versions(domain: Domain, actor: Actor, alert_ids: Sequence[int]) -> dict[int, int]:
    """The current version of each of these alerts (missing ids are left out).

    A live list checks the page it shows with this one cheap read and re-reads the page only
    when something on it changed: a repeat of an alert bumps its version but records no event.
    """
    require(actor, Permission.VIEW_OPERATIONS)
    ids = sorted(set(alert_ids))
    if len(ids) > MAX_LIST:
        raise InvalidInput(f"at most {MAX_LIST} alerts at a time, not {len(ids)}")
    if not ids:
        return {}
    found: dict[int, int] = {}
    async with domain.reading() as session:
        for chunk in _chunks(ids):
            rows = await session.execute(select(Alert.id, Alert.version).where(Alert.id.in_(chunk)))
            found.update((alert_id, version) for alert_id, version in rows)
    return found


async def get_alert(domain: Domain, actor: Actor, alert_id: int) -> AlertView:
    require(actor, Permission.VIEW_OPERATIONS)
    async with domain.reading() as session:
        row = (await session.execute(_alert_select().where(Alert.id == alert_id))).one_or_none()
    if row is None:
        raise NotFound(f"no alert {alert_id}")
    return _alert_view(row)


# --- commands --------------------------------------------------------------------------------


async def _set_acknowledged(
    domain: Domain, actor: Actor, alert_id: int, expected_version: int | None, acknowledged: bool
) -> AlertView:
    require(actor, Permission.ACKNOWLEDGE_ALERT)
    async with domain.transaction(actor) as tx:
        alert = await tx.session.get(Alert, alert_id)
        if alert is None:
            raise NotFound(f"no alert {alert_id}")
        await check_version(tx.session, "alert", alert.id, f"alert {alert_id}", alert.version, expected_version)
        if acknowledged and alert.state == AlertState.CLOSED:
            raise IllegalTransition(f"alert {alert_id} is closed; only open or flapping alerts can be acknowledged")
        if alert.acknowledged == acknowledged:
            raise IllegalTransition(f"alert {alert_id} is {'already' if acknowledged else 'not'} acknowledged")
        alert.acknowledged = acknowledged
        alert.acknowledged_by_id = actor.user_id if acknowledged else None
        await tx.session.flush()
        change = AlertAcknowledged if acknowledged else AlertUnacknowledged
        tx.record(alert.id, change(fingerprint=alert.fingerprint, name=alert.name))
        row = (await tx.session.execute(_alert_select().where(Alert.id == alert_id))).one()
        return _alert_view(row)


async def acknowledge_alert(
    domain: Domain, actor: Actor, alert_id: int, expected_version: int | None = None
) -> AlertView:
    """Mark an open or flapping alert as being looked at (a reopened alert loses the mark)."""
    return await _set_acknowledged(domain, actor, alert_id, expected_version, True)


async def unacknowledge_alert(
    domain: Domain, actor: Actor, alert_id: int, expected_version: int | None = None
) -> AlertView:
    return await _set_acknowledged(domain, actor, alert_id, expected_version, False)


async def add_maintenance_window(
    domain: Domain, actor: Actor, ci_name: str, starts_at: datetime, ends_at: datetime, reason: str
) -> MaintenanceWindowView:
    """Put a CI into maintenance for a period: its alerts are flagged and raise no incident."""
    require(actor, Permission.MANAGE_MAINTENANCE)
    for label, value in (("start", starts_at), ("end", ends_at)):
        if value.tzinfo is None:
            raise InvalidInput(f"the {label} of a maintenance window needs a time zone")
    starts_at, ends_at = starts_at.astimezone(UTC), ends_at.astimezone(UTC)
    reason = reason.strip()
    if not reason:
        raise InvalidInput("a maintenance window needs a reason")
    if len(reason) > 500:
        raise InvalidInput(f"the reason is longer than 500 characters ({len(reason)})")
    if _text_problem(reason):
        raise InvalidInput(f"the reason {_text_problem(reason)}")
    if ends_at <= starts_at:
        raise InvalidInput(
            f"a maintenance window must end after it starts ({ends_at.isoformat()} is not after "
            f"{starts_at.isoformat()})"
        )
    async with domain.transaction(actor) as tx:
        if ends_at <= tx.now:
            raise InvalidInput(f"the maintenance window ended already ({ends_at.isoformat()})")
        ci_id = await tx.session.scalar(select(ConfigurationItem.id).where(ConfigurationItem.name == ci_name))
        if ci_id is None:
            raise NotFound(f"no CI named {ci_name!r}")
        window = MaintenanceWindow(
            ci_id=ci_id,
            starts_at=starts_at,
            ends_at=ends_at,
            reason=reason,
            created_by_id=actor.user_id,
            created_at=tx.now,
        )
        tx.session.add(window)
        await tx.session.flush()
        flagged = 0
        if starts_at <= tx.now:
            a = Alert.__table__.c
            result = await tx.session.execute(
                update(Alert.__table__)
                .where(a.ci_id == ci_id, a.state != AlertState.CLOSED, a.maintenance.is_(False))
                .values(maintenance=True, version=a.version + 1)
            )
            flagged = result.rowcount or 0  # type: ignore[attr-defined]
        tx.record(
            window.id,
            MaintenanceAdded(
                ci=ci_name,
                starts_at=starts_at.isoformat(),
                ends_at=ends_at.isoformat(),
                reason=reason,
                alerts_flagged=flagged,
            ),
        )
        created_by = None
        if actor.user_id is not None:
            created_by = await tx.session.scalar(select(User.name).where(User.id == actor.user_id))
        return MaintenanceWindowView(
            id=window.id,
            ci_id=ci_id,
            ci_name=ci_name,
            starts_at=starts_at,
            ends_at=ends_at,
            reason=reason,
            created_by=created_by or actor.name,
            created_at=tx.now,
            alerts_flagged=flagged,
        )


async def list_maintenance_windows(
    domain: Domain, actor: Actor, *, include_past: bool = False
) -> list[MaintenanceWindowView]:
    """Maintenance windows that have not ended (or all), soonest first."""
    require(actor, Permission.VIEW_OPERATIONS)
    mw = MaintenanceWindow
    query = (
        select(mw, ConfigurationItem.name, User.name)
        .join(ConfigurationItem, ConfigurationItem.id == mw.ci_id)
        .outerjoin(User, User.id == mw.created_by_id)
        .order_by(mw.starts_at, mw.id)
    )
    if not include_past:
        query = query.where(mw.ends_at > domain.clock())
    async with domain.reading() as session:
        rows = (await session.execute(query)).all()
    return [
        MaintenanceWindowView(
            id=w.id,
            ci_id=w.ci_id,
            ci_name=ci_name,
            starts_at=w.starts_at,
            ends_at=w.ends_at,
            reason=w.reason,
            created_by=user_name,
            created_at=w.created_at,
        )
        for w, ci_name, user_name in rows
    ]
