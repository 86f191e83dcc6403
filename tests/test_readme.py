"""The README's generated parts (CLI summary, KPI definitions) and docs/cli.md match the code."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _readme_parts():
    spec = importlib.util.spec_from_file_location("readme_parts", ROOT / "scripts" / "readme_parts.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_parts_are_current() -> None:
    parts = _readme_parts()
    readme, cli_doc = parts.render()
    assert (ROOT / "README.md").read_text(encoding="utf-8") == readme, "run python scripts/readme_parts.py"
    assert (ROOT / "docs" / "cli.md").read_text(encoding="utf-8") == cli_doc, "run python scripts/readme_parts.py"


def test_every_kpi_is_defined_in_the_readme() -> None:
    from pcso_tui.domain.reporting.dashboard import KPIS

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for spec in KPIS:
        assert f"**{spec.title}**" in readme
        assert spec.definition in readme


def test_every_top_level_command_is_in_the_readme() -> None:
    import click

    from pcso_tui.cli import main

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ctx = click.Context(main, info_name="pcso")
    for name in main.list_commands(ctx):
        assert f"`pcso {name}`" in readme
