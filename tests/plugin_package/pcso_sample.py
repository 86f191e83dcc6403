"""pcso_sample: a third-party plugin, written the way a package outside pcso would write one.

It touches nothing in pcso's source. Installed, it registers through the ``pcso_tui``
entry-point group (``pcso_sample-0.1.dist-info/entry_points.txt``) and adds:

- the **Uptime Kuma** alert format at ``POST /api/v1/alerts/uptime`` (a notification is
  ``{"monitor": {...}, "heartbeat": {...}}``; a heartbeat with status 0 is down, 1 is up again);
- the **pigeon** notification channel, which sends to the contact's ``phone`` field holding a
  loft (``loft:NAME``) and "delivers" by writing one JSON line per notice into a directory;
- its own config section, ``[plugins.pigeon]``::

      [plugins.pigeon]
      loft = "/var/spool/pigeons"   # where delivered notices are written
      max_words = 40                # a pigeon carries little
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pcso_tui.domain.core.channels import DeliveryOutcome, OutboundMessage
from pcso_tui.domain.core.settings import PluginSection, Settings
from pcso_tui.domain.hookspecs import hookimpl
from pcso_tui.domain.operations.alert_formats import (
    FIRING,
    JSON_CONTENT_TYPES,
    MAX_CI_KEY,
    MAX_NAME,
    RESOLVED,
    AlertInput,
    Problems,
    check_string,
    check_time,
    derive_fingerprint,
    show,
)

# --- the config section ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PigeonSettings:
    loft: str = ""
    max_words: int = 40

    def __post_init__(self) -> None:
        if self.max_words < 1:
            raise ValueError(f"max_words = {self.max_words} must be at least 1")


SECTION = PluginSection("pigeon", PigeonSettings)


# --- the alert format -------------------------------------------------------------------------


class UptimeKumaFormat:
    name = "uptime"
    description = "an Uptime Kuma notification"
    expected = "an object with `monitor` and `heartbeat`"
    paths = ("/api/v1/alerts/uptime",)
    content_types = JSON_CONTENT_TYPES

    def claims(self, doc: Any) -> bool:
        return isinstance(doc, dict) and "monitor" in doc and "heartbeat" in doc

    def count(self, doc: Any) -> int:
        return 1

    def parse(self, doc: Any, where: str, problems: Problems, out: list[AlertInput]) -> int:
        prefix = f"{where}: " if where else ""
        monitor, beat = doc["monitor"], doc["heartbeat"]
        before = len(problems.items)
        for key, value in (("monitor", monitor), ("heartbeat", beat)):
            if not isinstance(value, dict):
                problems.add(f"{prefix}{key}", f"must be an object, not {show(value)}")
        if len(problems.items) > before:
            return 0
        name = check_string(monitor.get("name"), f"{prefix}monitor.name", problems, max_len=MAX_NAME, required=True)
        host = check_string(monitor.get("hostname"), f"{prefix}monitor.hostname", problems, max_len=MAX_CI_KEY)
        message = check_string(beat.get("msg"), f"{prefix}heartbeat.msg", problems) or ""
        at = check_time(beat.get("time"), f"{prefix}heartbeat.time", problems)
        status = {0: FIRING, 1: RESOLVED}.get(beat.get("status"))
        if status is None:
            problems.add(f"{prefix}heartbeat.status", f"must be 0 (down) or 1 (up), not {show(beat.get('status'))}")
        if len(problems.items) > before:
            return 0
        assert name is not None and status is not None
        labels = {"monitor": name} | ({"instance": host} if host else {})
        out.append(
            AlertInput(
                fingerprint=derive_fingerprint(self.name, name, labels),
                name=name,
                status=status,
                severity="critical",
                source=self.name,
                summary=message,
                labels=labels,
                starts_at=at if status == FIRING else None,
                ends_at=at if status == RESOLVED else None,
                ci=host or None,
            )
        )
        return 0


# --- the channel ------------------------------------------------------------------------------


class PigeonChannel:
    name = "pigeon"
    address_field = "phone"

    def __init__(self, settings: PigeonSettings) -> None:
        self.settings = settings

    @staticmethod
    def check_address(value: str) -> str | None:
        return None if value.startswith("loft:") and len(value) > 5 else "is not a pigeon loft (loft:NAME)"

    async def open(self) -> None:
        if self.settings.loft:
            Path(self.settings.loft).mkdir(parents=True, exist_ok=True)

    async def send_batch(self, messages: Sequence[OutboundMessage]) -> list[DeliveryOutcome]:
        if not self.settings.loft:
            return [DeliveryOutcome.retry(m, "[plugins.pigeon] loft is not set") for m in messages]
        outcomes = []
        with (Path(self.settings.loft) / "sent.jsonl").open("a", encoding="utf-8") as loft:
            for message in messages:
                if not message.phone or self.check_address(message.phone):
                    outcomes.append(DeliveryOutcome.skipped(message, "the contact has no loft"))
                    continue
                words = " ".join(message.sms.split()[: self.settings.max_words])
                loft.write(json.dumps({"to": message.phone, "notice": message.notice_id, "text": words}) + "\n")
                outcomes.append(DeliveryOutcome.sent(message))
        return outcomes

    async def close(self) -> None:
        pass


# --- the hooks --------------------------------------------------------------------------------


@hookimpl
def pcso_config_sections() -> list[PluginSection]:
    return [SECTION]


@hookimpl
def pcso_alert_formats(settings: Settings) -> list[UptimeKumaFormat]:
    return [UptimeKumaFormat()]


@hookimpl
def pcso_notification_channels(settings: Settings) -> list[PigeonChannel]:
    return [PigeonChannel(settings.plugin(SECTION))]
