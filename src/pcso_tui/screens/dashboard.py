"""The dashboard: how proactive we are and what outages cost (any staff member).

For now the body is the mode's introduction and the live event ticker; the dashboard screen's
contents replace ``compose_body`` (the frame stays in ``base.ModeScreen``).
"""

from __future__ import annotations

from textual.app import ComposeResult

from pcso_tui.screens.base import ModeScreen, placeholder_body


class DashboardScreen(ModeScreen):
    MODE = "dashboard"

    def compose_body(self) -> ComposeResult:
        yield from placeholder_body(self)
