"""Configuration: a TOML file, then the environment, then command-line flags.

The file is ``$PCSO_CONFIG`` or ``config.toml`` in the user's config directory
(``~/.config/pcso-tui/config.toml`` on Linux). Each TOML table fills one section of
``pcso_tui.domain.core.settings.Settings``; an unknown section or key, or a value of the wrong type,
is an error that names it (a typo must not be silently ignored).

    [database]
    url = "postgresql://pcso@db.example/pcso"

    [workflow]
    on_proactive_case = "propose"
    account_threshold = 2

    [plugins.sample]              # a plugin's own section (docs/plugins.md)
    channel_prefix = "pigeon"

A plugin declares its ``[plugins.NAME]`` section (the ``pcso_config_sections`` hook) and it is
read exactly like a built-in one, into the plugin's dataclass; a ``[plugins.NAME]`` that no
installed plugin declares is an error too.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pcso_tui.domain.core.errors import InvalidInput
from pcso_tui.domain.core.settings import PluginSection, Settings

ENV_CONFIG = "PCSO_CONFIG"
ENV_DATABASE_URL = "PCSO_DATABASE_URL"


def config_path() -> Path:
    if os.environ.get(ENV_CONFIG):
        return Path(os.environ[ENV_CONFIG]).expanduser()
    from platformdirs import user_config_path

    return user_config_path("pcso-tui") / "config.toml"


def state_path() -> Path:
    """Where the workspace remembers small choices (theme …) between runs."""
    from platformdirs import user_state_path

    return user_state_path("pcso-tui") / "ui.json"


@dataclasses.dataclass(frozen=True)
class Config:
    settings: Settings
    database_url: str | None
    path: Path | None


def _matches(value: Any, hint: Any) -> bool:
    origin = typing.get_origin(hint)
    if hint is Any:
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, arg) for arg in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if origin in (list, tuple):
        (item, *_) = typing.get_args(hint) or (Any,)
        return isinstance(value, list) and all(_matches(v, item) for v in value)
    if origin is dict:
        return isinstance(value, dict)
    return isinstance(value, hint)


def _build(cls: type, table: dict[str, Any], where: str) -> Any:
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    values: dict[str, Any] = {}
    for key, value in table.items():
        name = key.replace("-", "_")
        if name not in fields:
            known = ", ".join(sorted(fields)) or "none"
            raise InvalidInput(f"{where}: unknown key {key!r} (known: {known})")
        hint = hints[name]
        item = _table_list_item(hint)
        if dataclasses.is_dataclass(hint):
            if not isinstance(value, dict):
                raise InvalidInput(f"{where}.{key} must be a table")
            values[name] = _build(hint, value, f"{where}.{key}")  # type: ignore[arg-type]
        elif item is not None:
            # A list of tables: [[section.key]] in TOML.
            if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
                raise InvalidInput(f"{where}.{key} must be a list of tables ([[{where}.{key}]])")
            built = [_build(item, v, f"{where}.{key}[{i}]") for i, v in enumerate(value)]
            values[name] = tuple(built) if typing.get_origin(hint) is tuple else built
        elif not _matches(value, hint):
            raise InvalidInput(f"{where}.{key} = {value!r} is not a {getattr(hint, '__name__', hint)}")
        else:
            values[name] = tuple(value) if typing.get_origin(hint) is tuple else value
    missing = [
        f.name
        for f in fields.values()
        if f.name not in values and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise InvalidInput(f"{where}: missing key {', '.join(repr(m) for m in missing)}")
    try:
        return cls(**values)
    except ValueError as exc:  # a section's own validation (__post_init__)
        raise InvalidInput(f"{where}: {exc}") from None


def _table_list_item(hint: Any) -> type | None:
    """The dataclass of a ``list[X]``/``tuple[X, ...]`` field, if it is a list of tables."""
    if typing.get_origin(hint) not in (list, tuple):
        return None
    args = typing.get_args(hint)
    return args[0] if args and isinstance(args[0], type) and dataclasses.is_dataclass(args[0]) else None


def installed_sections() -> dict[str, PluginSection]:
    """The ``[plugins.NAME]`` sections of the installed plugins (built-in and third-party)."""
    from pcso_tui.domain.core.extensions import Extensions
    from pcso_tui.plugins import plugin_manager

    return Extensions(plugin_manager().hook, Settings()).config_sections()


def _plugin_settings(tables: Any, sections: Mapping[str, PluginSection] | None, where: str) -> dict[str, Any]:
    """Each ``[plugins.NAME]`` table built into the dataclass its plugin declares."""
    if not isinstance(tables, dict) or not all(isinstance(t, dict) for t in tables.values()):
        raise InvalidInput(f"{where} must hold one table per plugin ([plugins.NAME])")
    if tables and sections is None:
        sections = installed_sections()
    built: dict[str, Any] = {}
    for name, table in tables.items():
        section = (sections or {}).get(name)
        if section is None:
            known = ", ".join(sorted(sections or {})) or "none"
            raise InvalidInput(f"{where}: unknown plugin section {name!r} (known: {known})")
        built[name] = _build(section.settings, table, f"{where}.{name}")
    return built


def settings_from(
    data: dict[str, Any], where: str = "config", *, sections: Mapping[str, PluginSection] | None = None
) -> Settings:
    """Settings from parsed TOML; ``sections``: the plugins' (default: the installed plugins')."""
    data = dict(data)
    plugins = _plugin_settings(data.pop("plugins", {}), sections, f"{where}.plugins")
    return dataclasses.replace(_build(Settings, data, where), plugins=plugins)


def load(path: Path | None = None, *, sections: Mapping[str, PluginSection] | None = None) -> Config:
    """Read the config file (missing is fine: defaults apply).

    ``sections``: the plugins' config sections (default: ask the installed plugins, if the file
    has any ``[plugins.NAME]``)."""
    path = path or config_path()
    data: dict[str, Any] = {}
    if path.exists():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise InvalidInput(f"{path}: not valid TOML ({exc})") from None
    database = data.pop("database", {})
    if not isinstance(database, dict) or set(database) - {"url"}:
        raise InvalidInput(f"{path}: [database] takes only `url`")
    url = os.environ.get(ENV_DATABASE_URL) or database.get("url")
    settings = settings_from(data, str(path), sections=sections)
    return Config(settings=settings, database_url=url, path=path if path.exists() else None)
