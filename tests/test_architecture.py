"""The layering of DESIGN §4, enforced."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pcso_tui

PACKAGE = Path(pcso_tui.__file__).parent
FORBIDDEN_IN_DOMAIN = (
    "textual",
    "rich",
    "pcso_tui.screens",
    "pcso_tui.widgets",
    "pcso_tui.app",
    "pcso_tui.cli",
    "pcso_tui.plugins",
)


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def test_domain_imports_nothing_from_the_screen_or_above() -> None:
    offenders = []
    for path in sorted((PACKAGE / "domain").rglob("*.py")):
        for module in imported_modules(path):
            if any(module == f or module.startswith(f + ".") for f in FORBIDDEN_IN_DOMAIN):
                offenders.append(f"{path.relative_to(PACKAGE)} imports {module}")
    assert offenders == []


def test_loading_every_domain_module_loads_no_textual_or_rich() -> None:
    modules = sorted(
        "pcso_tui." + ".".join(p.relative_to(PACKAGE).with_suffix("").parts)
        for p in (PACKAGE / "domain").rglob("*.py")
        if "migrations" not in p.parts and p.name != "__init__.py"
    )
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich'))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
    assert len(modules) > 5


def test_read_models_load_without_the_database_stack() -> None:
    # Screens import views before the first frame; SQLAlchemy must wait until after it.
    code = "import sys, pcso_tui.domain.core.views; print('sqlalchemy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_plugins_do_not_reach_up_into_screens() -> None:
    offenders = []
    for path in sorted((PACKAGE / "plugins").rglob("*.py")):
        for module in imported_modules(path):
            if module.startswith(("pcso_tui.screens", "pcso_tui.app", "pcso_tui.cli", "textual")):
                offenders.append(f"{path.relative_to(PACKAGE)} imports {module}")
    assert offenders == []


def test_every_cli_area_module_is_registered() -> None:
    from pcso_tui.cli import AREAS

    modules = {p.stem for p in (PACKAGE / "cli").glob("*.py")} - {"__init__", "common"}
    assert modules == set(AREAS)
