"""Untrusted text is data: make it safe to show in a terminal.

Alert, customer and CI text may carry terminal escape sequences (``\\x1b[2J`` clears a
screen) or other control characters. ``printable`` turns every one of them into a visible
``\\xNN`` so the text is shown literally and never acts on the terminal. Markup (``[bold]``)
is a concern of the screens, which wrap text in ``Text``/``Content`` rather than parse it.

What customers read is another matter: ``\\x0d`` in an email or on the status page is noise, and
a right-to-left override (U+202E) reverses the rest of a line in a browser or mail reader.
``customer_text`` normalises text once for every customer channel: line endings become
newlines, tabs spaces, bidirectional formatting characters are removed, and every other
control character is made visible as above.
"""

from __future__ import annotations

import re

# C0 controls except tab/newline, DEL, and C1 controls (0x80–0x9f: 0x9b is a one-byte CSI).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_CONTROL_SINGLE_LINE = re.compile(r"[\x00-\x1f\x7f-\x9f]")


# The bidirectional embedding, override and isolate characters: invisible, and able to reverse
# the rest of a line in a browser or mail reader.
_BIDI_FORMATTING = re.compile("[\u202a-\u202e\u2066-\u2069]")


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


def normalise_layout(text: str | None) -> str:
    """The layout half of ``customer_text``, for read models a screen shows through
    ``printable``: CRLF and CR become newlines, a tab a space, bidirectional formatting
    characters are removed; other control characters are left for the screen to show."""
    if not text:
        return ""
    return _BIDI_FORMATTING.sub("", text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " "))


def customer_text(text: str | None) -> str:
    """``text`` as every customer channel shows it: CRLF and CR become newlines, a tab a space,
    bidirectional formatting characters are removed, other control characters shown as
    ``\\xNN``, and surrounding blank space is trimmed. Idempotent, so each channel applies it
    to what it sends."""
    return printable(normalise_layout(text), multiline=True).strip()


def customer_line(text: str | None, width: int | None = None) -> str:
    """``customer_text`` on one line (newlines become spaces), cut to ``width`` with an ellipsis."""
    line = " ".join(customer_text(text).split("\n"))
    if width is not None and len(line) > width:
        return line[: max(0, width - 1)] + "…"
    return line
