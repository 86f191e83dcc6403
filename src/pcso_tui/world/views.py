"""Read models of the synthetic world and its simulation.

Standard library only (see ``pcso_tui.domain.core.views``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


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


@dataclass(frozen=True, slots=True)
class SimulationStep:
    """What one step of the demo's outage simulation sent (``domain.simulation``)."""

    step: int
    sent: int  # alerts in the messages it sent
    fired: int
    resolved: int
    flapping: int  # alerts that turned flapping on this step
    incident_ids: tuple[int, ...] = ()  # incidents opened or joined by correlation
    case_ids: tuple[int, ...] = ()  # proactive cases it opened as the operator
    calls: tuple[int, ...] = ()  # customers' calls it logged as the agent (reactive cases)
    attached: tuple[int, ...] = ()  # calls it attached to a known outage
