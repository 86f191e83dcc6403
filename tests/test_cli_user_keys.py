"""``pcso users keys add|list|remove`` on a real database file."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from pcso_tui.cli import main
from pcso_tui.connection import Connection


class Pcso:
    def __init__(self, tmp_path: Path) -> None:
        self.db = str(tmp_path / "pcso.db")
        self.config = tmp_path / "config.toml"
        self.config.write_text("")

    def __call__(self, *args: str, user: str = "root", stdin: str | None = None) -> Result:
        # Who runs the command is handed in the way the gateway does it (a trusted caller's
        # Connection), not through anything a user could set.
        signed = Connection(None, None, None, authenticated_user=user)
        return CliRunner().invoke(main, ["--db", self.db, "--config", str(self.config), *args], obj=signed, input=stdin)


@pytest.fixture
def pcso(tmp_path: Path) -> Pcso:
    cli = Pcso(tmp_path)
    assert cli("db", "upgrade").exit_code == 0
    assert cli("users", "add", "root", "--role", "admin").exit_code == 0
    assert cli("users", "add", "ada", "--role", "agent").exit_code == 0
    return cli


@pytest.fixture
def key(tmp_path: Path) -> tuple[Path, str]:
    path = tmp_path / "id_ada"
    try:
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "ada", "-f", str(path)], check=True)
    except FileNotFoundError:
        pytest.skip("ssh-keygen is not installed")
    listed = subprocess.run(["ssh-keygen", "-lf", f"{path}.pub"], check=True, capture_output=True, text=True)
    return Path(f"{path}.pub"), listed.stdout.split()[1]


def listed(pcso: Pcso) -> list[dict[str, str]]:
    result = pcso("users", "keys", "list", "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_add_list_remove(pcso: Pcso, key: tuple[Path, str]) -> None:
    path, fingerprint = key
    added = pcso("users", "keys", "add", "ada", str(path))
    assert added.exit_code == 0 and added.stdout == f"added key {fingerprint} (ssh-ed25519) for ada\n"
    table = pcso("users", "keys", "list", "ada")
    assert fingerprint in table.stdout and "ssh-ed25519" in table.stdout
    assert [(k["user"], k["fingerprint"], k["comment"]) for k in listed(pcso)] == [("ada", fingerprint, "ada")]
    removed = pcso("users", "keys", "remove", "ada", str(path))
    assert removed.exit_code == 0 and removed.stdout == f"removed key {fingerprint} from ada\n"
    assert listed(pcso) == []


def test_add_from_standard_input_and_remove_by_fingerprint(pcso: Pcso, key: tuple[Path, str]) -> None:
    path, fingerprint = key
    assert pcso("users", "keys", "add", "ada", "-", stdin=path.read_text()).exit_code == 0
    assert pcso("users", "keys", "remove", "ada", fingerprint).exit_code == 0
    assert listed(pcso) == []


def test_refusals_are_one_line_and_change_nothing(pcso: Pcso, key: tuple[Path, str], tmp_path: Path) -> None:
    path, fingerprint = key
    assert pcso("users", "keys", "add", "ada", str(path)).exit_code == 0
    before = listed(pcso)
    junk = tmp_path / "junk.pub"
    junk.write_bytes(b"\xff\xfe not text")
    private = path.with_suffix("")
    cases = [
        (("users", "keys", "add", "root", str(path)), 7, f"pcso: key {fingerprint} is already registered for 'ada'"),
        (("users", "keys", "add", "ada", str(tmp_path / "none.pub")), 6, "pcso: cannot read key file"),
        (("users", "keys", "add", "ada", str(junk)), 6, "is not an SSH public key (not text)"),
        (("users", "keys", "add", "ada", str(private)), 6, "is a private key: give the public one"),
        (("users", "keys", "add", "nobody", str(path)), 3, "pcso: no pcso user named 'nobody'"),
        (("users", "keys", "remove", "root", fingerprint), 3, "pcso: user 'root' has no key"),
    ]
    for args, code, says in cases:
        result = pcso(*args)
        assert result.exit_code == code and says in result.stderr, (args, result.output)
        assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.output
    refused = pcso("users", "keys", "add", "ada", str(path), user="ada")
    assert refused.exit_code == 4 and "may not manage users" in refused.stderr
    assert pcso("users", "keys", "list", user="ada").exit_code == 4
    assert listed(pcso) == before


def test_events_name_the_key_changes(pcso: Pcso, key: tuple[Path, str]) -> None:
    path, fingerprint = key
    pcso("users", "keys", "add", "ada", str(path))
    pcso("users", "keys", "remove", "ada", fingerprint)
    events = json.loads(pcso("events", "list", "--json").stdout)
    kinds = [(e["kind"], e["payload"].get("fingerprint")) for e in events]
    assert ("user.key_added", fingerprint) in kinds and ("user.key_removed", fingerprint) in kinds
