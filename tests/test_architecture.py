"""The layering of DESIGN §4 and HACKING.md, enforced.

The layer contracts live in pyproject.toml (``[tool.importlinter]``) and run here, so plain
``pytest`` keeps them; ``lint-imports`` runs them alone. What import-linter cannot say (cycles
between single modules, private names taken across modules) is checked over the AST below.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import pcso_tui

PACKAGE = Path(pcso_tui.__file__).parent
PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"
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
    modules = sorted(
        "pcso_tui." + ".".join(p.relative_to(PACKAGE).with_suffix("").parts) for p in PACKAGE.rglob("views.py")
    )
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'sqlalchemy'))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    assert {m.split(".")[-2] for m in modules} >= {"core", "operations", "casework", "communications", "world"}


def test_plugins_do_not_reach_up_into_screens() -> None:
    offenders = []
    for path in sorted((PACKAGE / "plugins").rglob("*.py")):
        for module in imported_modules(path):
            if module.startswith(("pcso_tui.screens", "pcso_tui.app", "pcso_tui.cli", "textual")):
                offenders.append(f"{path.relative_to(PACKAGE)} imports {module}")
    assert offenders == []


def test_every_cli_area_module_is_registered() -> None:
    from pcso_tui.cli import AREAS

    # common and logs are what the areas share, not areas.
    modules = {p.stem for p in (PACKAGE / "cli").glob("*.py")} - {"__init__", "common", "logs"}
    assert modules == set(AREAS)


# --- import-linter contracts (pyproject.toml) -------------------------------------------------


def test_import_contracts_are_kept(capsys: pytest.CaptureFixture[str]) -> None:
    """Layers (cli > app > screens > widgets | plugins | receiver | world > config > domain, and
    the domain's areas over ``core``), no package cycles, the world kept out of the domain and
    the screens, no schema or SQLAlchemy above the domain."""
    # In a process of its own: import-linter configures logging, which would silence the
    # loggers later tests in this process read.
    command = Path(sys.executable).with_name("lint-imports")
    if not command.exists():
        pytest.skip("import-linter is not installed (pip install -e '.[test]')")
    result = subprocess.run(
        [str(command), "--config", str(PYPROJECT), "--no-cache"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


# --- what the AST says ---------------------------------------------------------------------------


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _type_only(tree: ast.Module) -> set[int]:
    """Ids of the import nodes under ``if TYPE_CHECKING:``: they name types and run nothing."""
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            found.update(id(inner) for stmt in node.body for inner in ast.walk(stmt))
    return found


def imports_of(path: Path, *, runtime_only: bool = False) -> Iterator[tuple[int, str, str | None]]:
    """(line, module, name) for every import of one of our modules anywhere in the file (inside
    functions and, unless ``runtime_only``, ``if TYPE_CHECKING:`` too). ``name`` is None for
    ``import x``, or when ``from x import name`` names a module; relative imports are resolved."""
    this = module_name(path)
    package = this if path.name == "__init__.py" else this.rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = _type_only(tree) if runtime_only else set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in MODULES:
                    yield node.lineno, alias.name, None
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            if module not in MODULES:
                continue
            for alias in node.names:
                if f"{module}.{alias.name}" in MODULES:
                    yield node.lineno, f"{module}.{alias.name}", None
                else:
                    yield node.lineno, module, alias.name


def is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def test_no_import_cycles_between_modules() -> None:
    # Every import that runs, at module level or inside a function. Type-only imports (under
    # ``if TYPE_CHECKING:``) are how a typed accessor names the App without importing it.
    graph = {name: {m for _, m, _ in imports_of(path, runtime_only=True)} - {name} for name, path in MODULES.items()}
    cycles: list[list[str]] = []
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []

    def visit(module: str) -> None:  # Tarjan's strongly connected components
        index[module] = low[module] = len(index)
        stack.append(module)
        for other in sorted(graph[module]):
            if other not in index:
                visit(other)
                low[module] = min(low[module], low[other])
            elif other in stack:
                low[module] = min(low[module], index[other])
        if low[module] == index[module]:
            component = [stack.pop()]
            while component[-1] != module:
                component.append(stack.pop())
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    assert cycles == []


def test_no_private_name_is_imported_across_modules() -> None:
    # ``from x import _name`` and ``x._name`` on an imported module of ours: make it public with
    # a good name instead (or move it to where both can use it).
    offenders = []
    for name, path in MODULES.items():
        imported_modules: dict[str, str] = {}
        for line, module, attr in imports_of(path):
            if attr is not None and is_private(attr):
                offenders.append(f"{name}:{line} imports {attr} from {module}")
            if any(is_private(part) for part in module.split(".")):
                offenders.append(f"{name}:{line} imports the private module {module}")
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom | ast.Import):
                for alias in node.names:
                    full = f"{node.module}.{alias.name}" if isinstance(node, ast.ImportFrom) else alias.name
                    if full in MODULES:
                        imported_modules[alias.asname or alias.name] = full
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in imported_modules
                and is_private(node.attr)
            ):
                offenders.append(f"{name}:{node.lineno} uses {imported_modules[node.value.id]}.{node.attr}")
    assert offenders == []
