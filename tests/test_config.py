"""The config file: defaults, overrides and typos named."""

from __future__ import annotations

from pathlib import Path

import pytest

from pcso_tui import config
from pcso_tui.domain.core.errors import InvalidInput


def test_missing_file_means_defaults(tmp_path: Path) -> None:
    loaded = config.load(tmp_path / "none.toml")
    assert loaded.settings.workflow.account_threshold == 2
    assert loaded.path is None


def test_values_override_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(config.ENV_DATABASE_URL, raising=False)
    path = tmp_path / "c.toml"
    path.write_text('[database]\nurl = "x.db"\n[workflow]\naccount_threshold = 5\n')
    loaded = config.load(path)
    assert loaded.settings.workflow.account_threshold == 5
    assert loaded.database_url == "x.db"


def test_environment_beats_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[database]\nurl = "x.db"\n')
    monkeypatch.setenv(config.ENV_DATABASE_URL, "y.db")
    assert config.load(path).database_url == "y.db"


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[workflow]\naccount_treshold = 3\n", "unknown key 'account_treshold'"),
        ("[workflw]\n", "unknown key 'workflw'"),
        ('[workflow]\naccount_threshold = "3"\n', "is not a int"),
        ("[workflow\n", "not valid TOML"),
        ("[database]\nuri = 1\n", "takes only `url`"),
    ],
)
def test_mistakes_are_named(tmp_path: Path, toml: str, message: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(toml)
    with pytest.raises(InvalidInput, match=message):
        config.load(path)


@pytest.mark.parametrize(
    ("toml", "notify"),
    [
        ("", "all"),
        ('[delivery]\nnotify = "primary"\n', "primary"),
        ('[delivery]\nnotify = ["Technical", "primary", "technical"]\n', ("primary", "technical")),
    ],
)
def test_who_is_notified_is_read_and_made_canonical(tmp_path: Path, toml: str, notify: object) -> None:
    path = tmp_path / "c.toml"
    path.write_text(toml)
    assert config.load(path).settings.delivery.notify == notify


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('"technical"', r"delivery: notify = 'technical' must be \"all\", \"primary\" or a list of contact roles"),
        ('"everyone"', r"delivery: notify = 'everyone' must be"),
        ("[]", r"delivery: notify = \[\] would notify no one"),
        ('["all"]', r"delivery: notify = \['all'\]: 'all' is not a contact role"),
        ('["technical", ""]', r"delivery: notify = .*'' is not a contact role"),
        ('["a-role-much-too-long"]', r"delivery: notify = .* is not a contact role \(a role is 1 to 16"),
        ("3", r"delivery.notify = 3 is not a"),
        ("[1, 2]", r"delivery.notify = \[1, 2\] is not a"),
    ],
)
def test_a_bad_notify_is_refused_with_the_key_named(tmp_path: Path, value: str, message: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(f"[delivery]\nnotify = {value}\n")
    with pytest.raises(InvalidInput, match=message):
        config.load(path)


def test_the_workspace_bell_is_off_unless_asked_for(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("")
    assert config.load(path).settings.workspace.bell == "never"
    path.write_text('[workspace]\nbell = "incidents"\n')
    assert config.load(path).settings.workspace.bell == "incidents"
    path.write_text('[workspace]\nbell = "always"\n')
    with pytest.raises(InvalidInput, match=r"workspace: bell = 'always' is not one of never, critical, incidents"):
        config.load(path)
