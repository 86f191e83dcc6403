"""Every domain command, found by shape: a public coroutine of a domain (or world) module whose first two
parameters are ``domain`` and ``actor``; and placeholder arguments to call one with."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pcso_tui.domain
import pcso_tui.world

# Ids no test world reaches, so a permitted caller meets NotFound, never a real change.
MISSING_ID = 987_654


def discover() -> dict[str, Callable[..., Any]]:
    found: dict[str, Callable[..., Any]] = {}
    # The demo world's commands (seed_world) check roles like the domain's, so they are walked too.
    modules = [
        *pkgutil.walk_packages(pcso_tui.domain.__path__, "pcso_tui.domain."),
        *pkgutil.walk_packages(pcso_tui.world.__path__, "pcso_tui.world."),
    ]
    for info in modules:
        if info.ispkg or ".migrations" in info.name:
            continue
        module = importlib.import_module(info.name)
        leaf = info.name.rsplit(".", 1)[-1]
        for name, fn in vars(module).items():
            if name.startswith("_") or not inspect.iscoroutinefunction(fn) or fn.__module__ != module.__name__:
                continue
            if list(inspect.signature(fn).parameters)[:2] == ["domain", "actor"]:
                found[f"{leaf}.{name}"] = fn
    return found


def placeholder(annotation: str, now: datetime) -> Any:
    a = annotation.replace(" ", "")
    if a.startswith(("int", "int|")):
        return MISSING_ID
    if a.startswith(("str", "str|")):
        return "KB-MISSING"
    if a.startswith("bool"):
        return False
    if a.startswith("datetime"):
        return now
    if a.startswith(("Iterable", "list", "Sequence", "tuple")):
        return []
    if a.startswith(("dict", "Mapping")):
        return {}
    if a.startswith("bytes"):
        return b"{}"
    return None


def arguments(fn: Callable[..., Any], now: datetime) -> tuple[list[Any], dict[str, Any]]:
    """Placeholders for every required parameter after (domain, actor)."""
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    for p in list(inspect.signature(fn).parameters.values())[2:]:
        if p.default is not inspect.Parameter.empty or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        value = placeholder(str(p.annotation), now)
        if p.kind is p.KEYWORD_ONLY:
            kwargs[p.name] = value
        else:
            args.append(value)
    return args, kwargs
