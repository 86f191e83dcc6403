"""The Alertmanager webhook format (Grafana's webhook contact point sends the same shape).

``POST /api/v1/alerts/alertmanager``: each message is a snapshot of one alert group (``"version":
"4"``; Grafana: ``"1"`` and extra keys) whose alerts each carry their own ``status`` and
``fingerprint``. A foreign producer is read tolerantly: unknown keys are ignored and an unknown
``severity`` label reads as ``warning``. A snapshot with ``truncatedAlerts > 0`` leaves the alerts it
omitted as they were (resolution is never inferred from absence).
"""

from __future__ import annotations

from typing import Any

from pcso_tui.domain.core.settings import Settings
from pcso_tui.domain.hookspecs import hookimpl
from pcso_tui.domain.operations.alert_formats import (
    DEFAULT_SEVERITY,
    JSON_CONTENT_TYPES,
    MAX_FINGERPRINT,
    MAX_NAME,
    MAX_URL,
    RESOLVED,
    AlertFormat,
    AlertInput,
    Problems,
    check_interval,
    check_status,
    check_string,
    check_string_map,
    check_time,
    derive_fingerprint,
    severity_from,
    show,
)

ALERTMANAGER_VERSIONS = {"4": "alertmanager", "1": "grafana"}


class AlertmanagerFormat:
    name = "alertmanager"
    description = "an Alertmanager webhook message"
    expected = "an object with `alerts`"
    paths: tuple[str, ...] = ("/api/v1/alerts/alertmanager",)
    content_types = JSON_CONTENT_TYPES

    def claims(self, doc: Any) -> bool:
        return isinstance(doc, dict) and "alerts" in doc

    def count(self, doc: Any) -> int:
        return len(doc["alerts"]) if isinstance(doc["alerts"], list) else 0

    def parse(self, doc: Any, where: str, problems: Problems, out: list[AlertInput]) -> int:
        return _alertmanager_message(doc, where, problems, out)


@hookimpl
def pcso_alert_formats(settings: Settings) -> list[AlertFormat]:
    return [AlertmanagerFormat()]


def _alertmanager_alert(raw: Any, path: str, source: str, problems: Problems) -> AlertInput | None:
    if not isinstance(raw, dict):
        problems.add(path, f"must be an object, not {show(raw)}")
        return None
    before = len(problems.items)
    status = check_status(raw.get("status"), f"{path}.status", problems)
    labels = check_string_map(raw.get("labels"), f"{path}.labels", problems, required=True)
    if labels is not None and not labels:
        problems.add(f"{path}.labels", "must not be empty (labels identify the alert)")
    annotations = check_string_map(raw.get("annotations"), f"{path}.annotations", problems)
    starts_at = check_time(raw.get("startsAt"), f"{path}.startsAt", problems)
    ends_at = check_time(raw.get("endsAt"), f"{path}.endsAt", problems)
    check_interval(starts_at, ends_at, f"{path}.startsAt", f"{path}.endsAt", problems)
    url = check_string(raw.get("generatorURL"), f"{path}.generatorURL", problems)
    fingerprint = check_string(raw.get("fingerprint"), f"{path}.fingerprint", problems, max_len=MAX_FINGERPRINT)
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


def _alertmanager_message(doc: Any, where: str, problems: Problems, out: list[AlertInput]) -> int:
    """Parse one webhook message into ``out``; returns its ``truncatedAlerts``."""
    prefix = f"{where}: " if where else ""
    if not isinstance(doc, dict):
        problems.add(where, f"must be an Alertmanager webhook message (an object), not {show(doc)}")
        return 0
    version = doc.get("version")
    source = "alertmanager"
    if version is not None:
        if not isinstance(version, str) or version not in ALERTMANAGER_VERSIONS:
            problems.add(
                f"{prefix}version",
                f"unsupported webhook version {show(version)}; "
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
        problems.add(f"{prefix}truncatedAlerts", f"must be a whole number ≥ 0, not {show(truncated)}")
        truncated = 0
    alerts = doc.get("alerts")
    if alerts is None:
        problems.add(f"{prefix}alerts", "missing")
        return truncated
    if not isinstance(alerts, list):
        problems.add(f"{prefix}alerts", f"must be a list, not {show(alerts)}")
        return truncated
    for i, raw in enumerate(alerts):
        alert = _alertmanager_alert(raw, f"{prefix}alerts[{i}]", source, problems)
        if alert is not None:
            out.append(alert)
    return truncated
