"""Untrusted text is data: make it safe to show in a terminal.

Alert, customer and CI text may carry terminal escape sequences (``\\x1b[2J`` clears a
screen) or other control characters. ``printable`` turns every one of them into a visible
``\\xNN`` so the text is shown literally and never acts on the terminal. Markup (``[bold]``)
is a concern of the screens, which wrap text in ``Text``/``Content`` rather than parse it.
"""

from __future__ import annotations

import re

# C0 controls except tab/newline, DEL, and C1 controls (0x80–0x9f: 0x9b is a one-byte CSI).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_CONTROL_SINGLE_LINE = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _visible(match: re.Match[str]) -> str:
    return f"\\x{ord(match.group()):02x}"


def printable(text: str | None, *, multiline: bool = False) -> str:
    """``text`` with every control character shown as ``\\xNN`` (newlines kept if multiline)."""
    if not text:
        return ""
    pattern = _CONTROL if multiline else _CONTROL_SINGLE_LINE
    return pattern.sub(_visible, text)


def one_line(text: str | None, width: int | None = None) -> str:
    """A single printable line: newlines become spaces, cut to ``width`` with an ellipsis."""
    line = printable((text or "").replace("\r\n", " ").replace("\n", " "))
    if width is not None and len(line) > width:
        return line[: max(0, width - 1)] + "…"
    return line
