"""Read models: what queries hand to screens, the CLI and plugins.

Frozen dataclasses of plain values, safe to keep after the session that produced them has
closed. This module imports nothing but the standard library so that screens can import it
before the database stack is loaded (start-up time).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any


def case_number(case_id: int) -> str:
    return f"CS{case_id:07d}"


def incident_number(incident_id: int) -> str:
    return f"INC{incident_id:07d}"


def outage_number(outage_id: int) -> str:
    return f"OUT{outage_id:07d}"


def parse_number(text: str, prefix: str) -> int | None:
    """``CS0000042`` (or ``42``) → 42 for the given prefix; None if it is not such a number."""
    text = text.strip().upper()
    if text.startswith(prefix):
        text = text[len(prefix) :]
    return int(text) if text.isdigit() else None


def to_jsonable(value: Any) -> Any:
    """A read model (or a list of them) as JSON-ready data, for ``--json``."""
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if hasattr(value, "__dataclass_fields__"):
        return {k: to_jsonable(v) for k, v in asdict(value).items()}
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, datetime):
        return value.isoformat()
    return value


@dataclass(frozen=True, slots=True)
class EventView:
    id: int
    at: datetime
    actor_name: str
    impersonator: str | None
    kind: str
    subject_type: str
    subject_id: int | None
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class UserView:
    id: int
    name: str
    display_name: str
    role: str
    account_number: str | None
    active: bool
    created_at: datetime


# --- the synthetic world (``pcso seed``) -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WorldSummary:
    """What ``seed_world`` built: rows per table, the demo users, the stretch of history."""

    size: str
    seed: int
    counts: dict[str, int]
    users: tuple[str, ...]
    customer_account: str
    customer_account_name: str
    history_from: datetime
    history_to: datetime

    @property
    def total_rows(self) -> int:
        return sum(self.counts.values())
