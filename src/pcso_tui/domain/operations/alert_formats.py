"""Alert formats: what every format shares, and :func:`parse_payload`, which routes a payload's
documents to the formats that claim them.

A format is a plugin (``pcso_alert_formats`` in ``domain/hookspecs.py``; the built-in
Alertmanager and generic formats live in ``pcso_tui.plugins.alert_formats`` and register like any
third-party one). Each implements :class:`AlertFormat`: it *claims* a decoded JSON document by its
shape, serves the receiver paths and content types it names, and parses a document into
:class:`AlertInput` values, reporting every problem into one :class:`Problems` with a path
(``alerts[3].labels: must be an object of strings``). The whole batch is refused with
:class:`InvalidInput` naming every problem, :class:`MalformedPayload` (not JSON) or
:class:`BatchTooLarge`; nothing is ever half-parsed.

The helpers here (:func:`check_string`, :func:`check_string_map`, :func:`check_time`,
:func:`check_status`, :func:`severity_from`, :func:`derive_fingerprint`) are the ones every
format uses, so that a bad value reads the same whichever format carried it.

Standard library only (plus the domain's errors and states): plugins import it cheaply.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import chain
from typing import Any, Protocol, runtime_checkable

from pcso_tui.domain.core.errors import InvalidInput
from pcso_tui.domain.core.states import Severity

FIRING = "firing"
RESOLVED = "resolved"
STATUSES = (FIRING, RESOLVED)
# Column limits (PostgreSQL enforces VARCHAR lengths; SQLite would not, so we check for both).
MAX_FINGERPRINT = 128
MAX_NAME = 200
MAX_CI_KEY = 200
MAX_SOURCE = 32
MAX_URL = 2000
MAX_DETAILS = 50

# Alertmanager's zero time, sent as the endsAt of a firing alert: "no end known".
ZERO_TIME_YEAR = 1
# How far ahead of our clock an alert may say it started (senders' clocks drift a little; an
# alert "starting" next week is a broken clock or a typo, and would sort above every real one).
MAX_FUTURE = timedelta(minutes=15)

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
        problems = Problems()
        alert = generic_alert({k: v for k, v in document.items() if v is not None}, "alert", problems)
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


class Problems:
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


def show(value: Any) -> str:
    """A short description of a bad value for an error line (never the whole of it)."""
    if isinstance(value, str):
        return repr(value if len(value) <= 40 else value[:40] + "…")
    if value is None or isinstance(value, bool | int | float):
        return json.dumps(value) if not isinstance(value, float) or value == value else "NaN"
    kinds: dict[type, str] = {dict: "an object", list: "a list"}
    return kinds.get(type(value), type(value).__name__)


def text_problem(text: str) -> str | None:
    """Why a string cannot be stored as it is, or None. Everything else is stored literally."""
    if "\x00" in text:
        return "contains a NUL character (\\u0000), which cannot be stored"
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return "is not valid Unicode (a lone surrogate escape such as \\ud800)"
    return None


def check_string(
    value: Any, path: str, problems: Problems, *, max_len: int | None = None, required: bool = False
) -> str | None:
    if value is None:
        if required:
            problems.add(path, "missing")
        return None
    if not isinstance(value, str):
        problems.add(path, f"must be a string, not {show(value)}")
        return None
    if required and not value.strip():
        problems.add(path, "must not be empty")
        return None
    if max_len is not None and len(value) > max_len:
        problems.add(path, f"longer than {max_len} characters ({len(value)})")
        return None
    reason = text_problem(value)
    if reason:
        problems.add(path, reason)
        return None
    return value


def check_string_map(value: Any, path: str, problems: Problems, *, required: bool = False) -> dict[str, str] | None:
    if value is None:
        if required:
            problems.add(path, "missing")
        return None if required else {}
    if not isinstance(value, dict):
        problems.add(path, f"must be an object of strings, not {show(value)}")
        return None
    # Fast path: every key and value a string, and together storable.
    try:
        if text_problem("".join(chain.from_iterable(value.items()))) is None:
            return value
    except TypeError:
        pass
    bad = False
    for key, item in value.items():
        reason = text_problem(key) if isinstance(key, str) else "is not a string"
        if reason:
            problems.add(path, f"key {show(key)} {reason}")
            bad = True
        elif not isinstance(item, str):
            problems.add(f"{path}.{key}", f"must be a string, not {show(item)}")
            bad = True
        elif reason := text_problem(item):
            problems.add(f"{path}.{key}", reason)
            bad = True
    return None if bad else value


def check_time(value: Any, path: str, problems: Problems, *, allow_number: bool = False) -> datetime | None:
    """An aware UTC time from RFC 3339 text (or Unix seconds); Alertmanager's zero time is None."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            problems.add(path, f"not an RFC 3339 time: {show(value)}")
            return None
        if parsed.tzinfo is None:
            problems.add(path, f"needs a time zone, e.g. 2026-11-23T09:00:00Z: {show(value)}")
            return None
        if parsed.year == ZERO_TIME_YEAR:
            return None
        try:
            return parsed.astimezone(UTC)
        except OverflowError:
            problems.add(path, f"out of range: {show(value)}")
            return None
    if allow_number and isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError):
            problems.add(path, f"out of range: {show(value)}")
            return None
    expected = "an RFC 3339 time string or Unix seconds" if allow_number else "an RFC 3339 time string"
    problems.add(path, f"must be {expected}, not {show(value)}")
    return None


def check_interval(
    starts_at: datetime | None,
    ends_at: datetime | None,
    start_path: str,
    end_path: str,
    problems: Problems,
    *,
    now: datetime | None = None,
) -> None:
    """An alert's times must make sense: it ends no earlier than it starts, and it does not
    start far in the future (``MAX_FUTURE`` past ``now``, by default the wall clock)."""
    if starts_at is not None and ends_at is not None and ends_at < starts_at:
        problems.add(
            end_path, f"{ends_at.isoformat()} is before {start_path.rsplit('.', 1)[-1]} {starts_at.isoformat()}"
        )
    now = now or datetime.now(UTC)
    if starts_at is not None and starts_at > now + MAX_FUTURE:
        problems.add(
            start_path,
            f"{starts_at.isoformat()} is in the future (more than {MAX_FUTURE.seconds // 60} minutes "
            "ahead of this server's clock): check the sender's clock",
        )


def check_status(value: Any, path: str, problems: Problems, *, default: str | None = None) -> str | None:
    if value is None and default is not None:
        return default
    if value not in STATUSES:
        problems.add(path, f'must be "firing" or "resolved", not {show(value)}' if value is not None else "missing")
        return None
    return str(value)


def generic_alert(raw: Any, path: str, problems: Problems) -> AlertInput | None:
    if not isinstance(raw, dict):
        problems.add(path, f"must be an alert object, not {show(raw)}")
        return None
    before = len(problems.items)
    unknown = [k for k in raw if k not in GENERIC_KEYS]
    if unknown:
        problems.add(
            path,
            f"unknown key{'s' if len(unknown) > 1 else ''} {', '.join(show(k) for k in unknown[:5])} "
            f"(known: {', '.join(GENERIC_KEYS)})",
        )
    name = check_string(raw.get("name"), f"{path}.name", problems, max_len=MAX_NAME, required=True)
    source = check_string(raw.get("source"), f"{path}.source", problems, max_len=MAX_SOURCE) or "generic"
    if "source" in raw and isinstance(raw["source"], str) and not _SOURCE.match(source):
        problems.add(f"{path}.source", f"must be lower-case letters, digits, _ . - (not {show(source)})")
    status = check_status(raw.get("status"), f"{path}.status", problems, default=FIRING)
    severity: Severity | None = DEFAULT_SEVERITY
    raw_severity = raw.get("severity")
    if raw_severity is not None:
        if not isinstance(raw_severity, str):
            problems.add(f"{path}.severity", f"must be a string, not {show(raw_severity)}")
        else:
            severity = severity_from(raw_severity, strict=True)
            if severity is None:
                problems.add(
                    f"{path}.severity",
                    f"unknown severity {show(raw_severity)}; use one of "
                    f"{', '.join(s.value for s in Severity)} (or a synonym such as page, error, warn)",
                )
    labels = check_string_map(raw.get("labels"), f"{path}.labels", problems)
    annotations = check_string_map(raw.get("annotations"), f"{path}.annotations", problems)
    summary = check_string(raw.get("summary"), f"{path}.summary", problems) or ""
    description = check_string(raw.get("description"), f"{path}.description", problems) or ""
    starts_at = check_time(raw.get("starts_at"), f"{path}.starts_at", problems, allow_number=True)
    ends_at = check_time(raw.get("ends_at"), f"{path}.ends_at", problems, allow_number=True)
    check_interval(starts_at, ends_at, f"{path}.starts_at", f"{path}.ends_at", problems)
    ci = check_string(raw.get("ci"), f"{path}.ci", problems, max_len=MAX_CI_KEY)
    url = check_string(raw.get("generator_url"), f"{path}.generator_url", problems, max_len=MAX_URL)
    fingerprint = check_string(raw.get("fingerprint"), f"{path}.fingerprint", problems, max_len=MAX_FINGERPRINT)
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


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # A repeated key would silently keep its last value (which one a sender meant is unknowable).
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        repeated = next(k for k, _ in pairs if k in seen or seen.add(k))  # type: ignore[func-returns-value]
        raise ValueError(f"the key {show(repeated)} appears twice in one object")
    return obj


def _loads(text: str) -> Any:
    return json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_unique_keys)


def json_documents(text: str) -> list[tuple[str, Any]]:
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
    problems = Problems()
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


# --- formats --------------------------------------------------------------------------------

# The media types a JSON format accepts (JSON, or JSON Lines under its several names).
JSON_CONTENT_TYPES = frozenset(
    {"application/json", "application/x-ndjson", "application/jsonl", "application/x-jsonlines", "application/ndjson"}
)


@runtime_checkable
class AlertFormat(Protocol):
    """One way alerts arrive. Offered by the ``pcso_alert_formats`` hook.

    A body is JSON or JSON Lines; each JSON document in it goes to the first format (in hook
    order) whose :meth:`claims` says yes. A catch-all format (the built-in generic one) claims
    anything and registers ``trylast=True``, so formats with a recognisable shape come first.
    """

    # What ``parse_payload(format=...)`` names and what the docs call it: "alertmanager".
    name: str
    # Completes "this is …" / "not …": "an Alertmanager webhook message".
    description: str
    # What a document in this format must look like: "an object with `alerts`".
    expected: str
    # The receiver paths that take this format (POST), e.g. ("/api/v1/alerts/alertmanager",).
    paths: tuple[str, ...]
    # The media types accepted at those paths; two formats on one path are told apart by them.
    content_types: frozenset[str]

    def claims(self, doc: Any) -> bool:
        """Whether a decoded JSON document is in this format (by its shape; cheap, never raises)."""
        ...

    def count(self, doc: Any) -> int:
        """How many alerts ``doc`` holds (checked against the batch limit before parsing)."""
        ...

    def parse(self, doc: Any, where: str, problems: Problems, out: list[AlertInput]) -> int:
        """Append the document's alerts to ``out``; add every problem to ``problems`` (paths
        prefixed with ``where``: "" or "line 3"); return how many alerts the sender left out."""
        ...


def decode_documents(raw: bytes | str | dict[str, Any] | list[Any]) -> list[tuple[str, Any]]:
    """The JSON documents of a body (bytes or text: JSON or JSON Lines), each with where it was."""
    if isinstance(raw, bytes | bytearray | memoryview):
        try:
            text = bytes(raw).decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise MalformedPayload(f"body is not UTF-8 text (byte {exc.start}: {exc.reason})") from None
        return json_documents(text)
    if isinstance(raw, str):
        return json_documents(raw)
    return [("", raw)]


def parse_payload(
    raw: bytes | str | dict[str, Any] | list[Any],
    formats: Sequence[AlertFormat],
    *,
    format: str | Collection[str] = "auto",
    max_alerts: int | None = None,
) -> ParsedBatch:
    """Parse a payload (one JSON value, or JSON Lines) with the registered ``formats``.

    ``format`` is ``auto`` (each document goes to the first format that claims it), a format's
    name, or several names (what a receiver path takes). A document that belongs to another
    format is refused with where to send it. Refuses the whole batch with :class:`InvalidInput`
    (every problem in ``details``), :class:`MalformedPayload` (not JSON) or :class:`BatchTooLarge`.
    """
    by_name = {f.name: f for f in formats}
    wanted_names = None if format == "auto" else ([format] if isinstance(format, str) else list(format))
    unknown = [name for name in wanted_names or () if name not in by_name]
    if unknown or wanted_names == []:
        raise ValueError(f"unknown format {(unknown or [''])[0]!r} (known: {', '.join(by_name) or 'none'})")
    wanted = [by_name[name] for name in wanted_names] if wanted_names is not None else None

    docs = decode_documents(raw)
    claimers = [next((f for f in formats if f.claims(doc)), None) for _, doc in docs]
    total = sum(f.count(doc) if f is not None else 1 for f, (_, doc) in zip(claimers, docs, strict=True))
    if max_alerts is not None and total > max_alerts:
        raise BatchTooLarge(
            f"too many alerts in one request: {total} (the limit is {max_alerts}); "
            "send smaller groups or raise [ingest] max_alerts_per_batch"
        )

    problems = Problems()
    alerts: list[AlertInput] = []
    truncated = 0
    for (where, doc), claimer in zip(docs, claimers, strict=True):
        chosen = claimer
        if wanted is not None and claimer not in wanted:
            chosen = None
            if claimer is not None and any(f.claims(doc) for f in wanted):
                to = f"send it to {claimer.paths[0]}" if claimer.paths else f"not {wanted[0].description}"
                problems.add(where, f"this is {claimer.description}: {to}")
            else:
                problems.add(where, f"not {wanted[0].description}: {wanted[0].expected} is expected")
        elif chosen is None:
            known = "; ".join(f"{f.description} ({f.expected})" for f in formats) or "no format is registered"
            problems.add(where, f"not an alert in any known format: {known}")
        if chosen is not None:
            truncated += chosen.parse(doc, where, problems, alerts)
    problems.raise_if_any()
    return ParsedBatch(alerts=tuple(alerts), truncated=truncated)


class RegisteredFormats(Protocol):
    """What ``parse_alerts`` needs of ``domain.extensions`` (core's facade over the hooks)."""

    def alert_formats(self) -> list[AlertFormat]: ...


def parse_alerts(
    extensions: RegisteredFormats,
    raw: bytes | str | dict[str, Any] | list[Any],
    *,
    format: str | Collection[str] = "auto",
    max_alerts: int | None = None,
    formats: Sequence[AlertFormat] | None = None,
) -> ParsedBatch:
    """``parse_payload`` with the registered formats (or ``formats``)."""
    chosen = extensions.alert_formats() if formats is None else formats
    return parse_payload(raw, chosen, format=format, max_alerts=max_alerts)
