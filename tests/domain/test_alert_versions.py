"""``alert_versions``: the cheap read a live alert list checks its page with."""

from __future__ import annotations

import pytest

from pcso_tui.domain.core.errors import InvalidInput, PermissionDenied
from pcso_tui.domain.core.roles import SYSTEM, Actor, Role
from pcso_tui.domain.core.service import Domain
from pcso_tui.domain.operations.alerts import AlertInput, ParsedBatch, alert_versions, ingest, list_alerts


def _alert(fingerprint: str, summary: str = "s") -> AlertInput:
    return AlertInput.build("Disk", fingerprint=fingerprint, severity="warning", summary=summary)


async def test_a_repeat_bumps_the_version_without_an_event(domain: Domain, actors: dict[Role, Actor]) -> None:
    operator = actors[Role.OPERATOR]
    await ingest(domain, SYSTEM, ParsedBatch((_alert("a"), _alert("b"))))
    ids = {a.fingerprint: a.id for a in await list_alerts(domain, operator)}
    before = await alert_versions(domain, operator, [*ids.values(), 999_999])
    assert set(before) == set(ids.values())  # an unknown id is left out
    await ingest(domain, SYSTEM, ParsedBatch((_alert("a", "again"),)))
    after = await alert_versions(domain, operator, list(ids.values()))
    assert after[ids["a"]] == before[ids["a"]] + 1
    assert after[ids["b"]] == before[ids["b"]]
    assert await alert_versions(domain, operator, []) == {}


async def test_only_staff_and_bounded(domain: Domain, actors: dict[Role, Actor]) -> None:
    with pytest.raises(PermissionDenied):
        await alert_versions(domain, actors[Role.CUSTOMER], [1])
    with pytest.raises(InvalidInput, match="at most 10000 alerts"):
        await alert_versions(domain, actors[Role.OPERATOR], list(range(10_001)))
