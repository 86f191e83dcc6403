"""``pcso portal``: opens the workspace on the portal, or on an account's preview for staff.

The workspace itself is driven in ``tests/ui/test_portal.py``; here only what the command hands
to it, and its usage errors.
"""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner

from pcso_tui.cli import main


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []

    def fake_run_workspace(ctx: Any, **options: Any) -> int:
        calls.append({"db": ctx.db_option, **options})
        return 0

    monkeypatch.setattr("pcso_tui.app.run_workspace", fake_run_workspace)
    return calls


def invoke(*args: str) -> Any:
    env = {"PCSO_CONFIG": "/nonexistent/pcso-config.toml"}
    return CliRunner().invoke(main, ["--db", "/tmp/unused.db", "portal", *args], env=env)


def test_portal_opens_the_portal_mode(opened: list[dict[str, Any]]) -> None:
    assert invoke().exit_code == 0
    assert opened == [{"db": "/tmp/unused.db", "start_mode": "portal", "preview_account": None}]


def test_preview_opens_the_account_preview(opened: list[dict[str, Any]]) -> None:
    assert invoke("--preview", " ACC-T1 ").exit_code == 0
    assert opened == [{"db": "/tmp/unused.db", "start_mode": None, "preview_account": "ACC-T1"}]


def test_an_empty_preview_is_a_usage_error(opened: list[dict[str, Any]]) -> None:
    result = invoke("--preview", "  ")
    assert result.exit_code == 2 and "--preview needs an account number" in result.output
    assert opened == []


def test_help_names_the_preview() -> None:
    result = CliRunner().invoke(main, ["portal", "--help"])
    assert result.exit_code == 0 and "--preview ACCOUNT" in result.output and "read-only" in result.output
