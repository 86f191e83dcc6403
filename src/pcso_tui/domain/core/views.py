"""Read models shared by every area: record numbers, events and users.

Standard library only, like every ``views`` module, so that screens can import it before the
database stack is loaded (start-up time).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pcso_tui.domain.core import event_kinds


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
    if isinstance(value, datetime | date):
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
    # The SSH key the actor signed in to ``pcso gateway`` with (``SHA256:…``), if any.
    key_fingerprint: str | None = None

    def typed(self) -> event_kinds.Payload | None:
        """The payload as its class in ``event_kinds`` (dispatch on its type); None for a kind
        the catalogue does not list (rows from before a kind was retired, or from tests)."""
        # Imported here: building the catalogue's classes costs ~80 ms, which the first frame
        # (every screen and CLI command imports this module) should not pay.
        from pcso_tui.domain.core import event_kinds

        return event_kinds.typed(self.kind, self.payload)


@dataclass(frozen=True, slots=True)
class UserView:
    id: int
    name: str
    display_name: str
    role: str
    account_number: str | None
    active: bool
    created_at: datetime


@dataclass(frozen=True)
class UserKeyView:
    """An SSH public key registered for a user (``pcso users keys``)."""

    user: str
    fingerprint: str
    algorithm: str
    comment: str
    added_at: datetime
