"""The major case manager's mode: proposed major cases, approvals, statements.

For now the body is the mode's introduction and the live event ticker; the manager screen's
contents replace ``compose_body`` (the frame stays in ``base.ModeScreen``).
"""

from __future__ import annotations

from textual.app import ComposeResult

from pcso_tui.screens.base import ModeScreen, placeholder_body


class ManagerScreen(ModeScreen):
    MODE = "manager"

    def compose_body(self) -> ComposeResult:
        yield from placeholder_body(self)
