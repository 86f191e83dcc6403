"""Theme files and the rules of which role may open which mode."""

from __future__ import annotations

from pathlib import Path

import pytest

from pcso_tui.domain.core.roles import Role
from pcso_tui.screens import modes
from pcso_tui.widgets.themes import ThemeFileError, builtin_themes_dir, load_theme_file, load_themes


def test_the_shipped_themes_load() -> None:
    themes, errors = load_themes(builtin_themes_dir())
    assert errors == []
    assert {"pcso-dark", "pcso-light", "pcso-high-contrast"} <= set(themes)
    assert themes["pcso-light"].dark is False
    for theme in themes.values():
        assert {f"severity-{s}" for s in ("critical", "major", "minor", "warning", "info", "clear")} <= set(
            theme.variables
        )


def test_the_wheel_ships_the_themes_directory() -> None:
    import tomllib

    pyproject = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    assert pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["force-include"]["themes"] == "pcso_tui/themes"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('name = "x"\nprimary = "#fff"\ncolour = "#000"\n', "unknown key 'colour'"),
        ('primary = "#fff"\n', "needs a name"),
        ('name = "x"\n', "needs a primary colour"),
        ('name = "x"\nprimary = "not-a-colour"\n', "primary = 'not-a-colour' is not a colour"),
        ('name = "x"\nprimary = "#fff"\ndark = "yes"\n', "dark must be true or false"),
        ('name = "x"\nprimary = "#fff"\ntext_alpha = 2\n', "text_alpha must be a number from 0 to 1"),
        ('name = "x"\nprimary = "#fff"\n[variables]\nseverity-major = "nope"\n', "variables.severity-major"),
        ('name = "x"\nprimary = ', "not valid TOML"),
    ],
)
def test_a_bad_theme_file_is_named_with_its_mistake(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ThemeFileError, match=r"bad\.toml") as caught:
        load_theme_file(path)
    assert message in str(caught.value)


def test_a_bad_file_among_good_ones_is_reported_not_fatal(tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text('name = "mine"\nprimary = "#123456"\n')
    (tmp_path / "b.toml").write_text('name = "broken"\n')
    themes, errors = load_themes(builtin_themes_dir(), tmp_path, tmp_path / "missing")
    assert "mine" in themes and "broken" not in themes
    assert len(errors) == 1 and "b.toml" in errors[0]


ROLES = list(Role)


@pytest.mark.parametrize("role", ROLES)
def test_outside_demo_worlds_each_role_keeps_to_its_own_mode(role: Role) -> None:
    allowed = modes.openable_modes(role, demo=False)
    home = modes.home_mode(role)
    expected = [home] if role is Role.CUSTOMER else [home, "dashboard"]
    if role is Role.ADMIN:  # the operator's and the manager's permissions, and the agent's with them
        expected = ["operator", "agent", "manager", "dashboard"]
    assert sorted(allowed) == sorted(expected)


def test_a_closed_screen_says_whose_it_is() -> None:
    assert modes.closed_reason(Role.AGENT, "manager") == (
        "F4 (Major cases) is the major case manager's screen; you are signed in as an agent"
    )
    assert modes.closed_reason(Role.OPERATOR, "portal") == (
        "F5 (Customer portal) is the customer's portal; you are signed in as a NOC operator"
    )
    assert modes.closed_reason(Role.ADMIN, "portal").endswith("(pcso portal --preview ACCOUNT shows a customer's view)")
    assert modes.closed_reason(Role.CUSTOMER, "dashboard") == (
        "F6 (Dashboard) is for staff; you are signed in as a customer"
    )


@pytest.mark.parametrize("role", ROLES)
def test_in_demo_worlds_every_mode_opens(role: Role) -> None:
    assert modes.openable_modes(role, demo=True) == list(modes.MODES)


def test_homes_and_personas() -> None:
    assert modes.home_mode(Role.ADMIN) == "operator"
    assert modes.home_mode(Role.CUSTOMER) == "portal"
    assert modes.persona_role("operator", Role.ADMIN) is None  # admins work the operator screen as themselves
    assert modes.persona_role("manager", Role.OPERATOR) is Role.MANAGER
    assert modes.persona_role("dashboard", Role.AGENT) is None
    assert modes.persona_role("dashboard", Role.CUSTOMER) is Role.MANAGER
    assert not modes.may_open(Role.MANAGER, "nowhere", demo=True)
    assert len({m.key for m in modes.MODES.values()}) == len(modes.MODES)


def test_demo_personas_are_the_users_the_seed_creates() -> None:
    from pcso_tui.world.world import CUSTOMER, STAFF

    seeded = {role: name for name, role, _display in STAFF} | {Role.CUSTOMER: CUSTOMER[0]}
    assert seeded == modes.DEMO_PERSONAS
