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


# --- invisible format characters --------------------------------------------------------------

FORMAT_HOSTILE = {
    "\u202e": "\\u202e",  # right-to-left override
    "\u202a": "\\u202a",
    "\u2066": "\\u2066",  # left-to-right isolate
    "\u2069": "\\u2069",
    "\u200b": "\\u200b",  # zero-width space
    "\u200d": "\\u200d",  # zero-width joiner
    "\u200f": "\\u200f",  # right-to-left mark
    "\u2060": "\\u2060",  # word joiner
    "\ufeff": "\\ufeff",  # byte-order mark
    "\u2028": "\\u2028",  # line separator
    "\U000e0041": "\\U000e0041",  # tag letter A
}


@pytest.mark.parametrize(("raw", "shown"), FORMAT_HOSTILE.items())
def test_format_characters_are_shown_visibly(raw: str, shown: str) -> None:
    assert printable(f"db{raw}01") == f"db{shown}01"
    assert printable(f"db{raw}01", multiline=True) == f"db{shown}01"
    assert one_line(f"a\n{raw}") == f"a {shown}"


def test_every_format_character_of_the_unicode_tables_is_shown() -> None:
    import sys
    import unicodedata

    raw = [chr(c) for c in range(0xA0, sys.maxunicode + 1) if unicodedata.category(chr(c)) == "Cf"]
    left = [f"U+{ord(c):04X}" for c in raw if printable(c) == c]
    assert left == []


def test_a_cut_never_leaves_half_an_escape() -> None:
    line = "abcd\u202eefgh\u202c"
    for width in range(1, 20):
        cut_line = one_line(line, width)
        assert len(cut_line) <= width
        body = cut_line.removesuffix("…")
        # Whatever is left of an escape is the whole escape.
        for start in [i for i, c in enumerate(body) if c == "\\"]:
            assert body[start : start + 6] in ("\\u202e", "\\u202c"), (width, cut_line)
    assert one_line(line, 6) == "abcd…"
    assert one_line(line, 11) == "abcd\\u202e…"
    assert one_line("ab\x1bcd", 4) == "ab…"


def test_customer_text_keeps_its_own_rules_for_format_characters() -> None:
    # Customer channels drop the bidirectional characters and keep joiners (emoji sequences).
    assert customer_text("a\u200db\u202ec") == "a\u200dbc"
