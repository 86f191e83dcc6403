"""Severity reads on a 16-colour terminal: glyph and word survive, colours fall to the
standard palette (TEXTUAL_COLOR_SYSTEM=standard), so nothing depends on colour alone."""

from __future__ import annotations

import io
import re

import pytest
from rich.console import Console
from rich.table import Table

from pcso_tui.widgets.cells import GLYPHS, SEVERITIES, severity_cell

SGR = re.compile(r"\x1b\[([0-9;]*)m")


@pytest.mark.parametrize("system", ["standard", "256"])
def test_a_severity_cell_shows_glyph_and_word_at_every_colour_depth(system: str) -> None:
    out = io.StringIO()
    console = Console(file=out, color_system=system, force_terminal=True, width=40, legacy_windows=False)
    table = Table("severity", "alert")
    for severity in SEVERITIES:
        table.add_row(severity_cell(severity, ascii=False), "checkout")
    console.print(table)
    rendered = out.getvalue()
    plain = SGR.sub("", rendered)
    for severity in SEVERITIES:
        assert f"{GLYPHS[severity]} {severity}" in plain
    codes = {int(c) for seq in SGR.findall(rendered) for c in seq.split(";") if c}
    assert codes, "no colour at all: the cell lost its style"
    if system == "standard":
        # Only the 16 standard colours (30–37, 90–97), bold and reset: no 38;5 / 38;2 escapes.
        assert "38;5" not in rendered and "38;2" not in rendered
        assert codes <= {0, 1, 39, 49} | set(range(30, 38)) | set(range(90, 98)), codes
