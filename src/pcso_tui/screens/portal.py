"""The customer portal: outages and cases of the customer's own account.

For now the body is the mode's introduction and a ticker of the customer's own actions only:
the event log spans every account, and nothing of another account may reach a customer.
The portal screen's contents replace ``compose_body`` (the frame stays in ``base.ModeScreen``).
"""

from __future__ import annotations

from textual.app import ComposeResult

from pcso_tui.domain.roles import Role
from pcso_tui.domain.views import EventView
from pcso_tui.screens.base import ModeScreen, placeholder_body
from pcso_tui.widgets.event_ticker import EventTicker


class PortalScreen(ModeScreen):
    MODE = "portal"

    def compose_body(self) -> ComposeResult:
        actor = self.session.actor
        if actor.role is Role.CUSTOMER:
            name = actor.name

            def own(event: EventView) -> bool:
                return event.actor_name == name

            ticker = EventTicker(accept=own, title="Your activity", empty="Nothing yet from you on this account.")
        else:
            ticker = EventTicker()
        yield from placeholder_body(self, ticker=ticker)
