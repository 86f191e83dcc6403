"""The NOC operator's mode: live alerts, incidents, impact, proactive cases.

For now the body is the mode's introduction and the live event ticker; the operator screen's
contents replace ``compose_body`` (the frame stays in ``base.ModeScreen``).
"""

from __future__ import annotations

from textual.app import ComposeResult

from pcso_tui.screens.base import ModeScreen, placeholder_body


class OperatorScreen(ModeScreen):
    MODE = "operator"

    def compose_body(self) -> ComposeResult:
        yield from placeholder_body(self)
