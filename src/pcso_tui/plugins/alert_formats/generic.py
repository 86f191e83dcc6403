"""Our generic JSON alert: one object, a list of them, or JSON Lines (``POST /api/v1/alerts``).

Read strictly (an unknown key or severity is an error), so a typo never silently changes what is
stored. The catch-all format: it claims any document no other format claimed, so it registers
``trylast=True``. The object itself is checked by the domain's ``generic_alert`` (what
``AlertInput.build`` uses too).
"""

from __future__ import annotations

from typing import Any

from pcso_tui.domain.core.settings import Settings
from pcso_tui.domain.hookspecs import hookimpl
from pcso_tui.domain.operations.alert_formats import (
    GENERIC_KEYS,
    JSON_CONTENT_TYPES,
    AlertFormat,
    AlertInput,
    Problems,
    generic_alert,
)


class GenericFormat:
    name = "generic"
    description = "a generic alert"
    expected = f"an object with {', '.join(GENERIC_KEYS[:3])} … or a list of them"
    paths: tuple[str, ...] = ("/api/v1/alerts",)
    content_types = JSON_CONTENT_TYPES

    def claims(self, doc: Any) -> bool:
        return True

    def count(self, doc: Any) -> int:
        return len(doc) if isinstance(doc, list) else 1

    def parse(self, doc: Any, where: str, problems: Problems, out: list[AlertInput]) -> int:
        if isinstance(doc, list):
            prefix = f"{where}: " if where else ""
            for i, item in enumerate(doc):
                alert = generic_alert(item, f"{prefix}alerts[{i}]", problems)
                if alert is not None:
                    out.append(alert)
        else:
            alert = generic_alert(doc, f"{where}: alert" if where else "alert", problems)
            if alert is not None:
                out.append(alert)
        return 0


@hookimpl(trylast=True)
def pcso_alert_formats(settings: Settings) -> list[AlertFormat]:
    return [GenericFormat()]
