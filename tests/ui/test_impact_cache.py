"""The operator's impact view keeps each incident's impact: open again → shown from the cache,
dropped by the events that change it, recomputed with R."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tests.conftest import FROZEN_AT
from tests.ui.conftest import Messages, screen_text, wait_for
from tests.ui.operator_world import alert, build_service_map, send
from tests.ui.test_operator import until_alerts

from pcso_tui.domain.core.clock import FrozenClock
from pcso_tui.domain.core.service import Domain
from pcso_tui.domain.core.views import EventView
from pcso_tui.domain.install_base.views import ImpactCIView, ImpactView
from pcso_tui.screens.operator.impact import ImpactCache, age_words


async def test_impact_opened_again_comes_from_the_cache_until_an_event_changes_it(
    world_url: str, make_app: Any, messages: Messages
) -> None:
    await build_service_map(world_url)
    await send(world_url, [alert("fp-web", "HighLatency", severity="minor")])
    await _open_incident(world_url)  # before the App starts: no event of it arrives later
    app = make_app(world_url, "operator")
    async with app.run_test(size=(120, 30), message_hook=messages) as pilot:
        screen = await until_alerts(pilot, 1)
        await pilot.press("2")
        await wait_for(pilot, lambda: screen.detail is not None, what="the incident")
        await pilot.press("3")
        await messages.wait(pilot, "operator-impact", what="the impact computed")
        panel = screen.impact_panel
        assert screen.impact is not None and screen.impact.account_count == 3
        assert "computed just now" in screen_text(app)

        computed = messages.count("operator-impact")
        await pilot.press("2", "3")  # away and back: no new computation
        await wait_for(pilot, lambda: panel.from_cache and screen.current_view == "impact", what="the cached impact")
        assert messages.count("operator-impact") == computed
        assert "3 accounts (2 external)" in screen_text(app)

        # A new alert on one of its CIs can change the health column: computed again.
        await send(world_url, [alert("fp-host", "HostDown", severity="critical", ci="host-1")])
        await messages.wait(pilot, "operator-impact", after=computed, what="the impact recomputed")
        assert not panel.from_cache

        computed = messages.count("operator-impact")
        await pilot.press("R")  # on demand
        await messages.wait(pilot, "operator-impact", after=computed, what="the impact recomputed on R")


async def _open_incident(url: str) -> None:
    from pcso_tui.domain.core.roles import SYSTEM
    from pcso_tui.domain.operations.incidents import open_incident

    domain = await Domain.open(url, clock=FrozenClock(FROZEN_AT))
    try:
        await open_incident(domain, SYSTEM, title="Latency", severity="minor", ci_names=["host-1"])
    finally:
        await domain.close()


def _impact(incident_id: int, ci: str) -> ImpactView:
    return ImpactView(
        ci_ids=(1,),
        incident_id=incident_id,
        ci_count=1,
        item_count=1,
        account_count=1,
        external_account_count=1,
        contact_count=0,
        cis=(ImpactCIView(id=1, name=ci, kind="host", distance=0),),
        accounts=(),
        matched_accounts=1,
        offset=0,
        page_size=10,
    )


def _event(kind: str, subject_type: str, subject_id: int, payload: dict[str, Any]) -> EventView:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    return EventView(1, at, "x", None, kind, subject_type, subject_id, payload)


def test_the_cache_drops_what_events_make_stale() -> None:
    now = [100.0]
    cache = ImpactCache(clock=lambda: now[0])
    cache.put(1, 0, _impact(1, "host-1"))
    cache.put(2, 0, _impact(2, "db-9"))
    now[0] = 250.0
    assert cache.age(1, 0) == 150.0 and age_words(150.0) == "2 min ago"

    alert_on_host = _event(
        "alert.opened", "alert", 7, {"fingerprint": "f", "name": "n", "severity": "minor", "ci": "host-1", "from": None}
    )
    assert cache.forget([alert_on_host]) == {1}
    assert cache.get(1, 0) is None and cache.get(2, 0) is not None

    joined = _event("incident.alert_joined", "incident", 2, {"alert_id": 7, "fingerprint": "f", "ci": "db-9"})
    unrelated_payload = _event("incident.work_note_added", "incident", 2, {"entry_id": 3})
    assert cache.forget([unrelated_payload]) == set()
    assert cache.get(2, 0) is not None
    assert cache.forget([joined]) == {2}
    assert cache.pages == {}
