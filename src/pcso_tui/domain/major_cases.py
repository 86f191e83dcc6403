"""Major issue management: propose, approve (one child per account), statements, cascade.

See DESIGN §2 steps 5–9.
"""

from __future__ import annotations

from pcso_tui.domain.events import Transaction


async def sync_incident_update(tx: Transaction, incident_id: int, entry_id: int) -> int:
    """Copy one incident journal entry (progress, ETA, state, resolution, work note) to the
    major cases linked to the incident, inside the caller's transaction. Work notes stay
    internal. Returns how many major cases received it."""
    return 0
