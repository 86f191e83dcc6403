"""Correlation: alerts on the same or topologically related CIs join one incident.

Called by alert ingestion, inside the ingest transaction, with the ids of alerts that opened,
reopened or changed; returns the ids of incidents opened or joined.
"""

from __future__ import annotations

from collections.abc import Sequence

from pcso_tui.domain.events import Transaction
from pcso_tui.domain.settings import Settings


async def correlate_alerts(tx: Transaction, settings: Settings, alert_ids: Sequence[int]) -> list[int]:
    """Open or join incidents for these alerts (rules: see ``CorrelationSettings``)."""
    return []
