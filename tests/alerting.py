"""Payload builders and counters shared by the alert tests (domain, receiver, fuzz)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from pcso_tui.domain.core.extensions import Extensions
from pcso_tui.domain.core.models import Alert, ConfigurationItem, Event, MaintenanceWindow
from pcso_tui.domain.core.roles import SYSTEM
from pcso_tui.domain.core.service import Domain
from pcso_tui.domain.core.settings import Settings
from pcso_tui.domain.operations import alert_formats
from pcso_tui.domain.operations.alert_formats import AlertFormat, ParsedBatch

ZERO = "0001-01-01T00:00:00Z"
HOSTILE = "[bold]red[/] [/ \x1b[2J\x1b]0;pwned\x07 \u202e ☃ 🔥"


def builtin_alert_formats() -> list[AlertFormat]:
    """The alert formats that ship with pcso, in claiming order."""
    from pcso_tui.plugins import new_plugin_manager

    return Extensions(new_plugin_manager(load_entry_points=False).hook, Settings()).alert_formats()


def parse_payload(raw: Any, **options: Any) -> ParsedBatch:
    """Parse with the built-in formats, as the receiver and ``pcso alerts ingest`` do."""
    return alert_formats.parse_payload(raw, builtin_alert_formats(), **options)


def am_alert(
    name: str = "HighLatency",
    *,
    status: str = "firing",
    fingerprint: str | None = "fp-1",
    labels: dict[str, str] | None = None,
    summary: str = "p99 latency above 2s",
    starts_at: str = "2026-11-23T08:55:00.123456789Z",
    ends_at: str = ZERO,
    **extra: Any,
) -> dict[str, Any]:
    """One alert as Alertmanager puts it in a webhook message."""
    alert: dict[str, Any] = {
        "status": status,
        "labels": {"alertname": name, "instance": "web-1:9100", "job": "node", "severity": "critical"} | (labels or {}),
        "annotations": {"summary": summary, "description": "see the runbook"},
        "startsAt": starts_at,
        "endsAt": ends_at,
        "generatorURL": "http://prometheus.example/graph?g0.expr=up",
    }
    if fingerprint is not None:
        alert["fingerprint"] = fingerprint
    return alert | extra


def am_message(*alerts: dict[str, Any], truncated: int = 0, **extra: Any) -> dict[str, Any]:
    """An Alertmanager webhook message (version 4): a snapshot of one alert group."""
    firing = any(a.get("status") == "firing" for a in alerts)
    return {
        "version": "4",
        "groupKey": '{}:{alertname="HighLatency"}',
        "truncatedAlerts": truncated,
        "status": "firing" if firing else "resolved",
        "receiver": "pcso",
        "groupLabels": {"alertname": "HighLatency"},
        "commonLabels": {"alertname": "HighLatency"},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.example:9093",
        "alerts": list(alerts),
    } | extra


def grafana_message(*alerts: dict[str, Any]) -> dict[str, Any]:
    """Grafana's webhook contact point: the same shape, version 1, and keys of its own."""
    return am_message(*alerts) | {
        "version": "1",
        "orgId": 1,
        "title": "[FIRING:1] HighLatency",
        "state": "alerting",
        "message": "**Firing**\n\nValue: B=44.2",
    }


async def add_cis(domain: Domain, *names: str) -> dict[str, int]:
    async with domain.transaction(SYSTEM) as tx:
        items = [ConfigurationItem(name=name, kind="host") for name in names]
        tx.session.add_all(items)
        await tx.session.flush()
        return {item.name: item.id for item in items}


async def counts(domain: Domain) -> tuple[int, int, int]:
    """(alerts, events, maintenance windows): what a refused request must leave unchanged."""
    async with domain.reading() as session:
        return (
            await session.scalar(select(func.count()).select_from(Alert)),
            await session.scalar(select(func.count()).select_from(Event)),
            await session.scalar(select(func.count()).select_from(MaintenanceWindow)),
        )


async def events(domain: Domain, prefix: str = "alert.") -> list[tuple[str, int | None]]:
    async with domain.reading() as session:
        rows = await session.execute(
            select(Event.kind, Event.subject_id).where(Event.kind.startswith(prefix)).order_by(Event.id)
        )
        return [tuple(r) for r in rows]  # type: ignore[misc]


async def stored(domain: Domain, fingerprint: str) -> Alert:
    async with domain.reading() as session:
        return (await session.scalars(select(Alert).where(Alert.fingerprint == fingerprint))).one()
