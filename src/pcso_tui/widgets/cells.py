"""Cells that are always data, never markup, never escape sequences.

``safe_cell(value)`` turns anything a query hands back (str, number, datetime, None, Text)
into a Rich ``Text`` whose characters are all printable (``domain.text.one_line``); a ``[``
in a customer name stays a ``[``. ``safe_content(value)`` does the same for widgets that
render Textual ``Content``.

Severity is never colour alone: ``severity_cell("critical")`` renders ``✖ critical`` in the
theme's ``$severity-critical`` colour, and ``X critical`` when the terminal cannot show the
glyphs (``PCSO_ASCII=1`` or a non-UTF-8 locale).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from rich.style import Style
from rich.text import Text
from textual.content import Content

from pcso_tui.domain.core.text import one_line

SEVERITIES = ("critical", "major", "minor", "warning", "info", "clear")

GLYPHS = {
    "critical": "✖",
    "major": "▲",
    "minor": "●",
    "warning": "⚠",
    "info": "ℹ",
    "clear": "✔",
}
ASCII_GLYPHS = {
    "critical": "X",
    "major": "^",
    "minor": "o",
    "warning": "!",
    "info": "i",
    "clear": "+",
}
UNKNOWN_GLYPH = "?"

# Fallback colours when the theme names none (the themes in ``themes/`` do).
DEFAULT_SEVERITY_COLOURS = {
    "critical": "#ff5f5f",
    "major": "#ff9f43",
    "minor": "#f5d547",
    "warning": "#e5c07b",
    "info": "#61afef",
    "clear": "#5fd787",
}


def theme_variable_defaults() -> dict[str, str]:
    """Variables our CSS and cells use, for themes that do not define them."""
    return {f"severity-{name}": colour for name, colour in DEFAULT_SEVERITY_COLOURS.items()}


def use_ascii() -> bool:
    """Plain ASCII glyphs: asked for with ``PCSO_ASCII=1``, or the terminal is not UTF-8."""
    flag = os.environ.get("PCSO_ASCII", "").strip().lower()
    if flag in ("1", "true", "yes"):
        return True
    if flag in ("0", "false", "no"):
        return False
    encoding = (getattr(sys.__stdout__, "encoding", None) or "").lower().replace("-", "")
    return bool(encoding) and encoding != "utf8"


def severity_glyph(severity: str, *, ascii: bool | None = None) -> str:
    glyphs = ASCII_GLYPHS if (use_ascii() if ascii is None else ascii) else GLYPHS
    return glyphs.get(severity, UNKNOWN_GLYPH)


def severity_label(severity: str, *, ascii: bool | None = None) -> str:
    """``"✖ critical"``: glyph and word, so it reads without colour."""
    word = one_line(severity, 12) if severity in SEVERITIES else one_line(severity or "unknown", 12)
    return f"{severity_glyph(severity, ascii=ascii)} {word}"


def _active_theme_variables() -> dict[str, str]:
    try:
        from textual._context import active_app

        return active_app.get().theme_variables
    except (LookupError, AttributeError):
        return {}


def severity_colour(severity: str) -> str | None:
    """The current theme's colour for a severity (None for unknown severities)."""
    if severity not in SEVERITIES:
        return None
    name = f"severity-{severity}"
    return _active_theme_variables().get(name) or DEFAULT_SEVERITY_COLOURS[severity]


@dataclass(frozen=True, slots=True)
class SeverityCell:
    """A table cell for a severity. Rendered at paint time, so a theme change recolours it."""

    severity: str
    ascii: bool | None = None

    @property
    def plain(self) -> str:
        return severity_label(self.severity, ascii=self.ascii)

    def __rich__(self) -> Text:
        colour = severity_colour(self.severity)
        bold = self.severity == "critical"
        style = Style(color=colour, bold=bold) if colour else Style(bold=bold)
        return Text(self.plain, style=style, no_wrap=True, end="")

    def __str__(self) -> str:
        return self.plain


def severity_cell(severity: str, *, ascii: bool | None = None) -> SeverityCell:
    return SeverityCell(severity, ascii)


def severity_content(severity: str, *, ascii: bool | None = None) -> Content:
    """The same for widgets that render ``Content`` (the colour follows the theme via CSS variables)."""
    style = f"$severity-{severity}" if severity in SEVERITIES else ""
    if severity == "critical":
        style += " bold"
    return Content.assemble((severity_label(severity, ascii=ascii), style.strip()))


def counted(n: int, word: str) -> str:
    """``1 topic``, ``3 topics``: a count and its noun, plural when it is not one."""
    return f"{n:,} {word}" if n == 1 else f"{n:,} {word}s"


def format_time(value: datetime, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """An aware time in the local time zone (naive times are shown as they are)."""
    return (value.astimezone() if value.tzinfo else value).strftime(fmt)


def _plain(value: Any, width: int | None) -> tuple[str, str]:
    """(text, justify) for a non-Text value."""
    if value is None:
        return "", "left"
    if isinstance(value, bool):
        return ("yes" if value else "no"), "left"
    if isinstance(value, int | float | Decimal):
        return one_line(f"{value:,.2f}" if isinstance(value, float) else str(value), width), "right"
    if isinstance(value, datetime):
        return format_time(value), "left"
    return one_line(str(value), width), "left"


def safe_cell(value: Any, *, width: int | None = None) -> Any:
    """A renderable table cell that shows ``value`` literally on one line."""
    if isinstance(value, SeverityCell):
        return value
    if isinstance(value, Text):
        clean = one_line(value.plain, width)
        if clean == value.plain:
            return value
        # Control characters inside a Text built elsewhere: keep its overall style, drop spans.
        return Text(clean, style=value.style, no_wrap=True, end="")
    text, justify = _plain(value, width)
    return Text(text, justify=justify, no_wrap=True, end="")  # type: ignore[arg-type]


def safe_text(value: Any, *, width: int | None = None, style: str | Style = "") -> Text:
    """Untrusted text as a one-line Rich ``Text``."""
    text, _ = _plain(value, width)
    return Text(text, style=style, no_wrap=True, end="")


def safe_content(value: Any, *, width: int | None = None, style: str = "") -> Content:
    """Untrusted text as one-line Textual ``Content`` (never parsed as markup)."""
    text, _ = _plain(value, width)
    return Content.assemble((text, style)) if style else Content(text)
