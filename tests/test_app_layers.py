"""The workspace (App, screens, widgets) never reaches up into the command line."""

from __future__ import annotations

from tests.test_architecture import PACKAGE, imported_modules


def test_the_workspace_imports_nothing_from_the_cli() -> None:
    paths = [PACKAGE / "app.py", PACKAGE / "connection.py"]
    paths += sorted((PACKAGE / "screens").rglob("*.py")) + sorted((PACKAGE / "widgets").rglob("*.py"))
    offenders = [
        f"{path.relative_to(PACKAGE)} imports {module}"
        for path in paths
        for module in imported_modules(path)
        if module == "pcso_tui.cli" or module.startswith("pcso_tui.cli.")
    ]
    assert offenders == []
