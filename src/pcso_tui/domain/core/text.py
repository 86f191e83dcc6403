"""Untrusted text is data: make it safe to show in a terminal.

Alert, customer and CI text may carry terminal escape sequences (``\\x1b[2J`` clears a
screen) or other control characters. ``printable`` turns every one of them into a visible
``\\xNN`` so the text is shown literally and never acts on the terminal. Invisible format
characters (Unicode category Cf: the bidirectional overrides and isolates, zero-width spaces
and joiners, the byte-order mark) are shown as ``\\u202e`` the same way. Markup (``[bold]``)
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


# Invisible characters that change how a line is laid out: every format character (Unicode
# category Cf, as of Unicode 15; tests/domain/test_text.py checks the running Python's tables)
# and the line and paragraph separators. Raw, U+202E reverses the rest of a table row, and a
# zero-width space makes two names look alike.
_FORMAT = (
    "\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890-\u0891\u08e2\u180e\u200b-\u200f\u2028-\u202e"
    "\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\U000110bd\U000110cd\U00013430-\U0001343f"
    "\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f"
)
_UNSAFE = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f{_FORMAT}]")
_UNSAFE_SINGLE_LINE = re.compile(f"[\x00-\x1f\x7f-\x9f{_FORMAT}]")
# A shown escape at the end of a cut line: cutting inside one would leave half of it.
_ESCAPE_TAIL = re.compile(r"\\(?:x[0-9a-f]{0,1}|u[0-9a-f]{0,3}|U[0-9a-f]{0,7})?$")


# The bidirectional embedding, override and isolate characters: invisible, and able to reverse
# the rest of a line in a browser or mail reader.
_BIDI_FORMATTING = re.compile("[\u202a-\u202e\u2066-\u2069]")


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def printable(text: str | None, *, multiline: bool = False) -> str:
    """``text`` with every control character shown as ``\\xNN`` and every invisible format
    character as ``\\uNNNN`` (newlines kept if multiline)."""
    if not text:
        return ""
    pattern = _UNSAFE if multiline else _UNSAFE_SINGLE_LINE
    return pattern.sub(_visible, text)


def cut(line: str, width: int) -> str:
    """``line`` (already printable) cut to ``width`` with an ellipsis, never inside a shown
    escape: half of ``\\u202e`` would read as other text."""
    if len(line) <= width:
        return line
    head = line[: max(0, width - 1)]
    tail = _ESCAPE_TAIL.search(head)
    if tail is not None and tail.group():
        head = head[: tail.start()]
    return head + "…"


def one_line(text: str | None, width: int | None = None) -> str:
    """A single printable line: newlines become spaces, cut to ``width`` with an ellipsis."""
    line = printable((text or "").replace("\r\n", " ").replace("\n", " "))
    if width is not None:
        return cut(line, width)
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
    # Only the control characters: customer channels keep zero-width joiners (emoji) and the
    # like; the bidirectional ones are already gone.
    return _CONTROL.sub(_visible, normalise_layout(text)).strip()


def customer_line(text: str | None, width: int | None = None) -> str:
    """``customer_text`` on one line (newlines become spaces), cut to ``width`` with an ellipsis."""
    line = " ".join(customer_text(text).split("\n"))
    if width is not None and len(line) > width:
        return line[: max(0, width - 1)] + "…"
    return line
