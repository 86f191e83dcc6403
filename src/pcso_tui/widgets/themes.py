"""Theme files: one TOML file per theme, mapping onto ``textual.theme.Theme``.

    # themes/dark.toml
    name = "pcso-dark"
    dark = true
    primary = "#4c9be8"
    background = "#12161c"
    ...
    [variables]
    severity-critical = "#ff5f5f"     # app variables: $severity-* colour severity cells

Keys are the fields of ``Theme`` (name, primary, secondary, warning, error, success, accent,
foreground, background, surface, panel, boost, dark, luminosity_spread, text_alpha, ansi)
plus the ``[variables]`` table. Colours are checked when loaded; a mistake is an error that
names the file and the key. The built-in themes ship inside the wheel (``pcso_tui/themes``)
and live in the repository's top-level ``themes/``; users add their own in
``~/.config/pcso-tui/themes/``.
"""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path
from typing import Any

from textual.color import Color, ColorParseError
from textual.theme import Theme

COLOUR_KEYS = (
    "primary",
    "secondary",
    "warning",
    "error",
    "success",
    "accent",
    "foreground",
    "background",
    "surface",
    "panel",
    "boost",
)
FIELDS = {f.name for f in dataclasses.fields(Theme)}


class ThemeFileError(ValueError):
    """A theme file that cannot be used; the message names the file and what is wrong."""


def builtin_themes_dir() -> Path:
    """``pcso_tui/themes`` in an installed wheel; the repository's ``themes/`` in a checkout."""
    package = Path(__file__).resolve().parent.parent
    shipped = package / "themes"
    if shipped.is_dir():
        return shipped
    return package.parent.parent / "themes"


def user_themes_dir() -> Path:
    from pcso_tui.config import config_path

    return config_path().parent / "themes"


def _check_colour(path: Path, key: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ThemeFileError(f"{path}: {key} must be a colour string, not {value!r}")
    try:
        Color.parse(value)
    except ColorParseError:
        raise ThemeFileError(f"{path}: {key} = {value!r} is not a colour") from None
    return value


def theme_from_mapping(data: dict[str, Any], path: Path) -> Theme:
    unknown = sorted(set(data) - FIELDS)
    if unknown:
        raise ThemeFileError(f"{path}: unknown key {unknown[0]!r} (known: {', '.join(sorted(FIELDS))})")
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ThemeFileError(f"{path}: a theme needs a name")
    if "primary" not in data:
        raise ThemeFileError(f"{path}: a theme needs a primary colour")
    values: dict[str, Any] = {"name": name.strip()}
    for key in COLOUR_KEYS:
        if key in data:
            values[key] = _check_colour(path, key, data[key])
    for key in ("dark", "ansi"):
        if key in data:
            if not isinstance(data[key], bool):
                raise ThemeFileError(f"{path}: {key} must be true or false")
            values[key] = data[key]
    for key in ("luminosity_spread", "text_alpha"):
        if key in data:
            value = data[key]
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
                raise ThemeFileError(f"{path}: {key} must be a number from 0 to 1")
            values[key] = float(value)
    variables = data.get("variables", {})
    if not isinstance(variables, dict):
        raise ThemeFileError(f"{path}: [variables] must be a table")
    for key, value in variables.items():
        if not isinstance(value, str):
            raise ThemeFileError(f"{path}: variables.{key} must be a string")
        if key.startswith("severity-"):
            _check_colour(path, f"variables.{key}", value)
    values["variables"] = dict(variables)
    return Theme(**values)


def load_theme_file(path: Path) -> Theme:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ThemeFileError(f"{path}: cannot be read ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ThemeFileError(f"{path}: not valid TOML ({exc})") from None
    return theme_from_mapping(data, path)


def load_themes(*directories: Path) -> tuple[dict[str, Theme], list[str]]:
    """Every ``*.toml`` theme in the directories (later ones override), and the errors met."""
    themes: dict[str, Theme] = {}
    errors: list[str] = []
    for directory in directories:
        if not directory.is_dir():
            continue
        for path in sorted(directory.glob("*.toml")):
            try:
                theme = load_theme_file(path)
            except ThemeFileError as exc:
                errors.append(str(exc))
                continue
            themes[theme.name] = theme
    return themes, errors
