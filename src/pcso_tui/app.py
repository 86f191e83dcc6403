"""The Textual workspace (placeholder until the workspace shell lands)."""

from __future__ import annotations

from typing import Any


def run_workspace(cli: Any) -> int:
    raise SystemExit("pcso: the workspace is not built yet")
