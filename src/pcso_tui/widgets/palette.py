"""The command palette: one provider that asks the App and the current screen what fits now.

The App answers ``palette_commands(screen)`` (switch screen, theme, help, quit); a screen adds
its own by defining ``palette_commands()``::

    class OperatorScreen(ModeScreen):
        def palette_commands(self) -> Iterable[PaletteCommand]:
            yield PaletteCommand("Alert: acknowledge", "Acknowledge the selected alert", self.action_ack)

Names are plain text (never markup); the first word before a colon groups related commands.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.content import Content
from textual.fuzzy import Matcher


@dataclass(frozen=True, slots=True)
class PaletteCommand:
    name: str
    help: str
    callback: Callable[[], Any]
    discover: bool = True  # listed before anything is typed


class WorkspaceCommands(Provider):
    """Commands for where the user is: the App's and the current screen's."""

    def commands(self) -> list[PaletteCommand]:
        found: list[PaletteCommand] = []
        app_commands = getattr(self.app, "palette_commands", None)
        if app_commands is not None:
            found.extend(app_commands(self.screen))
        screen_commands = getattr(self.screen, "palette_commands", None)
        if screen_commands is not None:
            found.extend(screen_commands())
        return found

    async def discover(self) -> Hits:
        for command in self.commands():
            if command.discover:
                yield DiscoveryHit(Content(command.name), command.callback, text=command.name, help=command.help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for command in self.commands():
            score = matcher.match(command.name)
            if score > 0:
                yield Hit(
                    score, _highlight(matcher, command.name), command.callback, text=command.name, help=command.help
                )


def _highlight(matcher: Matcher, candidate: str) -> Content:
    """Like ``Matcher.highlight`` but the candidate is text, never markup."""
    content = Content(candidate)
    _score, offsets = matcher.fuzzy_search.match(matcher.query, candidate)
    for offset in offsets:
        if not candidate[offset].isspace():
            content = content.stylize(matcher.match_style, offset, offset + 1)
    return content
