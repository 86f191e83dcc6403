"""Checkboxes and radio buttons whose state reads without colour.

Textual draws both states of a checkbox as the same ``▐X▌`` (and every radio button as
``▐●▌``), told apart by colour only, so under ``NO_COLOR`` or on a monochrome terminal a
ticked box looks like an empty one. These show the state in the glyph:

    [x] customer-safe      [ ] customer-safe
    (•) Phone call         ( ) Email

(``(*)`` with ``PCSO_ASCII=1`` or a non-UTF-8 terminal). Space or Enter toggles, as before.
"""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Checkbox, RadioButton

from pcso_tui.widgets.cells import use_ascii


def _render(mark: str, label: Content, label_style: object) -> Content:
    # The mark and label padded as Textual pads its own button, so the width is the same.
    return Content.assemble((mark, "bold"), label.pad(1, 1).stylize_before(label_style))  # type: ignore[arg-type]


class StateCheckbox(Checkbox):
    """A checkbox drawn ``[x] label`` / ``[ ] label``."""

    @property
    def mark(self) -> str:
        return "[x]" if self.value else "[ ]"

    def render(self) -> Content:
        return _render(self.mark, self.label, self.get_visual_style("toggle--label"))


class StateRadioButton(RadioButton):
    """A radio button drawn ``(•) label`` / ``( ) label``."""

    @property
    def mark(self) -> str:
        if not self.value:
            return "( )"
        return "(*)" if use_ascii() else "(•)"

    def render(self) -> Content:
        return _render(self.mark, self.label, self.get_visual_style("toggle--label"))
