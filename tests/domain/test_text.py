"""Hostile text is shown literally and never reaches the terminal as control codes."""

from __future__ import annotations

import pytest

from pcso_tui.domain.core.text import one_line, printable

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
