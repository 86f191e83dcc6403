"""Hostile text is shown literally and never reaches the terminal as control codes."""

from __future__ import annotations

import pytest

from pcso_tui.domain.core.text import customer_line, customer_text, normalise_layout, one_line, printable

HOSTILE = ["[bold]", "[/", "\x1b[2J", "\x9b31m", "a\x07b", "[link=file:///etc/passwd]x[/link]"]


@pytest.mark.parametrize("text", HOSTILE)
def test_no_control_character_survives(text: str) -> None:
    shown = printable(text)
    assert not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in shown)


def test_escape_sequences_are_shown_as_text() -> None:
    assert printable("\x1b[2Jgone") == "\\x1b[2Jgone"
    assert printable("[bold]x[/]") == "[bold]x[/]"


def test_newlines_only_survive_when_multiline() -> None:
    assert printable("a\nb") == "a\\x0ab"
    assert printable("a\nb", multiline=True) == "a\nb"
    assert one_line("a\nb\r\nc") == "a b c"


def test_one_line_cuts_with_an_ellipsis() -> None:
    assert one_line("abcdef", 4) == "abc…"
    assert one_line(None) == ""


# --- what customers read ---------------------------------------------------------------------

CUSTOMER_HOSTILE = "Line one\r\nline two\tend\rthird \u202eevil\u202c \u2066iso\u2069 \x1b[2J"


def test_customer_text_normalises_line_endings_tabs_and_bidi() -> None:
    shown = customer_text(CUSTOMER_HOSTILE)
    assert shown == "Line one\nline two end\nthird evil iso \\x1b[2J"
    assert "\r" not in shown and "\t" not in shown
    assert not any(0x202A <= ord(c) <= 0x202E or 0x2066 <= ord(c) <= 0x2069 for c in shown)


@pytest.mark.parametrize("text", [CUSTOMER_HOSTILE, *HOSTILE, "  padded  ", "", "plain"])
def test_customer_text_is_idempotent(text: str) -> None:
    once = customer_text(text)
    assert customer_text(once) == once
    assert not any((ord(c) < 0x20 and c != "\n") or 0x7F <= ord(c) <= 0x9F for c in once)


def test_customer_line_is_one_line_cut_with_an_ellipsis() -> None:
    assert customer_line("a\r\nb\tc") == "a b c"
    assert customer_line("abcdef", 4) == "abc…"
    assert customer_line(None) == ""


def test_normalise_layout_leaves_control_characters_to_the_screen() -> None:
    assert normalise_layout("a\r\nb\tc\u202ed\x1b") == "a\nb cd\x1b"
    assert normalise_layout(None) == ""
