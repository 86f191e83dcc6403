"""``pcso import``, ``pcso accounts`` and ``pcso cis`` through the command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from pcso_tui.cli import main
from pcso_tui.cli.install_base import _Counter
from tests.identity import ME, signed_in_as

HOSTILE = "[bold]Evil[/] \x1b[2J Corp"


class Pcso:
    """Runs ``pcso --db <file> …`` as a given OS user."""

    def __init__(self, db: Path) -> None:
        self.db = db
        self.runner = CliRunner()

    def __call__(self, *args: str, user: str = "admin", input: str | None = None) -> Result:
        with signed_in_as(user):
            return self.runner.invoke(main, ["--db", str(self.db), *args], env={"PCSO_CONFIG": os.devnull}, input=input)


@pytest.fixture
def pcso(tmp_path: Path) -> Pcso:
    run = Pcso(tmp_path / "pcso.db")
    assert run("db", "upgrade").exit_code == 0
    assert run("users", "add", "admin", "--role", "admin").exit_code == 0
    assert run("users", "add", "agent", "--role", "agent").exit_code == 0
    return run


def write(folder: Path, name: str, content: str) -> Path:
    path = folder / name
    path.write_text(content, encoding="utf-8", newline="")
    return path


def test_import_reports_counts_and_is_idempotent(pcso: Pcso, tmp_path: Path) -> None:
    path = write(tmp_path, "accounts.csv", "number,name,region\nA-1,One,eu\nA-2,Two,us\n")
    first = pcso("import", "accounts", str(path))
    assert first.exit_code == 0, first.output
    assert first.stdout == f"accounts from {path}: 2 rows: 2 inserted, 0 updated, 0 unchanged\n"
    # stderr is not a terminal here: no progress counter.
    assert first.stderr == ""
    again = pcso("import", "accounts", str(path), "--json")
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout) == {
        "kind": "accounts",
        "file_name": str(path),
        "rows": 2,
        "inserted": 0,
        "updated": 0,
        "unchanged": 2,
        "rerooted": 0,
    }
    third = pcso("import", "accounts", str(path))
    assert third.stdout == f"accounts from {path}: 2 rows; nothing changed (2 unchanged)\n"


def test_a_bad_file_exits_6_and_lists_every_bad_row(pcso: Pcso, tmp_path: Path) -> None:
    path = write(tmp_path, "accounts.csv", "number,name,is_external\nA-1,One,maybe\nA-2,,true\nA-3,Three,no\n")
    result = pcso("import", "accounts", str(path))
    assert result.exit_code == 6
    assert result.stderr.splitlines() == [
        f"pcso: {path}: 2 bad rows; nothing was imported",
        "  line 2: is_external: 'maybe' is not true or false",
        "  line 3: name: required",
    ]
    assert json.loads(pcso("accounts", "list", "--json").stdout) == []


def test_unknown_columns_are_named_on_the_command_line(pcso: Pcso, tmp_path: Path) -> None:
    path = write(tmp_path, "a.csv", "number,name,colour\nA-1,One,red\n")
    result = pcso("import", "accounts", str(path))
    assert result.exit_code == 6
    assert f"pcso: {path} has unknown column 'colour'; nothing was imported" in result.stderr
    assert "line 1: colour: unknown column" in result.stderr


def test_stdin_needs_a_format_and_then_imports(pcso: Pcso) -> None:
    content = '{"number": "A-1", "name": "One"}\n{"number": "A-2", "name": "Two"}\n'
    refused = pcso("import", "accounts", "-", input=content)
    assert refused.exit_code == 2
    assert "reading stdin needs --format csv|jsonl" in refused.stderr
    result = pcso("import", "accounts", "-", "--format", "jsonl", input=content)
    assert result.exit_code == 0, result.output
    assert result.stdout == "accounts from <stdin>: 2 rows: 2 inserted, 0 updated, 0 unchanged\n"


def test_only_admins_import(pcso: Pcso, tmp_path: Path) -> None:
    path = write(tmp_path, "a.csv", "number,name\nA-1,One\n")
    result = pcso("import", "accounts", str(path), user="agent")
    assert result.exit_code == 4
    assert "agent (agent) may not import install base data" in result.stderr
    assert json.loads(pcso("accounts", "list", "--json").stdout) == []


def test_hostile_names_are_stored_literally_and_shown_escaped(pcso: Pcso, tmp_path: Path) -> None:
    write(tmp_path, "a.jsonl", json.dumps({"number": "A-1", "name": HOSTILE, "region": "[/]"}) + "\n")
    write(tmp_path, "p.csv", "number,name\nP-1,Router\n")
    write(tmp_path, "c.csv", f'name,description\nhost-1,"{HOSTILE}"\n')
    items = f'number,account,product,ci,characteristics.note\nI-1,A-1,P-1,host-1,"{HOSTILE}"\n'
    write(tmp_path, "i.csv", items)
    for kind, name in (
        ("accounts", "a.jsonl"),
        ("products", "p.csv"),
        ("cis", "c.csv"),
        ("install_base_items", "i.csv"),
    ):
        result = pcso("import", kind, str(tmp_path / name))
        assert result.exit_code == 0, result.output

    shown = "[bold]Evil[/] \\x1b[2J Corp"
    listed = pcso("accounts", "list")
    assert listed.exit_code == 0, listed.output
    assert shown in listed.stdout and "[/]" in listed.stdout
    detail = pcso("accounts", "show", "A-1")
    assert detail.exit_code == 0, detail.output
    assert f"name:     {shown}" in detail.stdout
    assert f"note={shown}" in detail.stdout
    cis = pcso("cis", "list")
    assert "host-1" in cis.stdout
    for output in (listed.stdout, detail.stdout, cis.stdout):
        assert "\x1b" not in output
    # JSON keeps the text exactly as stored.
    data = json.loads(pcso("accounts", "show", "A-1", "--json").stdout)
    assert data["account"]["name"] == HOSTILE
    assert data["items"][0]["characteristics"] == {"note": HOSTILE}


def test_accounts_and_cis_lists(pcso: Pcso, tmp_path: Path) -> None:
    files = {
        "accounts": "number,name\nA-1,Acme\nA-2,Beta\n",
        "contacts": "number,account,name,email,is_primary\nC-1,A-1,Ann,ann@acme.example,yes\n",
        "products": "number,name\nP-1,Router\n",
        "cis": "name,kind\ndc-1,datacentre\nhost-1,host\n",
        "ci_relations": "ci,depends_on\nhost-1,dc-1\n",
        "install_base_items": "number,account,product,ci,installed_on\nI-1,A-1,P-1,host-1,2025-01-02\n",
    }
    for kind, content in files.items():
        result = pcso("import", kind, str(write(tmp_path, f"{kind}.csv", content)))
        assert result.exit_code == 0, result.output

    listed = json.loads(pcso("accounts", "list", "--json", user="agent").stdout)
    assert [(a["number"], a["contacts"], a["items"]) for a in listed] == [("A-1", 1, 1), ("A-2", 0, 0)]
    assert [a["number"] for a in json.loads(pcso("accounts", "list", "--search", "bet", "--json").stdout)] == ["A-2"]
    detail = json.loads(pcso("accounts", "show", "A-1", "--json", user="agent").stdout)
    assert detail["items"][0]["installed_on"] == "2025-01-02"
    assert detail["contacts"][0]["email"] == "ann@acme.example"
    missing = pcso("accounts", "show", "A-404")
    assert missing.exit_code == 3
    assert "no account numbered 'A-404'" in missing.stderr

    cis = json.loads(pcso("cis", "list", "--json", user="agent").stdout)
    assert [(c["name"], c["dependencies"], c["dependents"], c["items"]) for c in cis] == [
        ("dc-1", 0, 1, 0),
        ("host-1", 1, 0, 1),
    ]
    table = pcso("cis", "list", "--kind", "host").stdout.splitlines()
    assert table[0].split() == [
        "NAME",
        "KIND",
        "ENVIRONMENT",
        "LOCATION",
        "SHARED",
        "DEPENDS",
        "ON",
        "DEPENDENTS",
        "ITEMS",
    ]
    assert table[1].split() == ["host-1", "host", "production", "1", "0", "1"]


def test_progress_counter_writes_to_a_terminal_only(capsys: pytest.CaptureFixture[str]) -> None:
    counter = _Counter("accounts")
    counter.enabled = True
    counter(2_000)
    counter(4_500)
    counter.done()
    err = capsys.readouterr().err
    assert "\rimporting accounts: 4,500 rows read" in err
    silent = _Counter("accounts")
    silent.enabled = False
    silent(10)
    silent.done()
    assert capsys.readouterr().err == ""


def test_a_real_pipe_into_pcso_import(tmp_path: Path) -> None:
    env = {**os.environ, "PCSO_CONFIG": os.devnull}
    env.pop("PCSO_DATABASE_URL", None)
    db = str(tmp_path / "pipe.db")

    def run(*args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "pcso_tui", "--db", db, *args],
            input=input,
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )

    assert run("db", "upgrade").returncode == 0
    assert run("users", "add", ME, "--role", "admin").returncode == 0
    result = run("import", "products", "-", "--format", "csv", input="number,name\r\nP-1,Router\r\nP-2,Mail\r\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "products from <stdin>: 2 rows: 2 inserted, 0 updated, 0 unchanged\n"


def test_accounts_show_lists_each_contacts_role(pcso: Pcso, tmp_path: Path) -> None:
    write(tmp_path, "a.csv", "number,name\nA-1,One\n")
    contacts = (
        "number,account,name,email,is_primary,role,opted_out\n"
        "C-1,A-1,Ann,ann@one.example,true,,false\n"
        "C-2,A-1,Ben,ben@bücher.example,false,technical,false\n"
        "C-3,A-1,Cat,cat@one.example,false,billing,true\n"
    )
    write(tmp_path, "c.csv", contacts)
    for kind, name in (("accounts", "a.csv"), ("contacts", "c.csv")):
        result = pcso("import", kind, str(tmp_path / name))
        assert result.exit_code == 0, result.output
    detail = pcso("accounts", "show", "A-1")
    assert detail.exit_code == 0, detail.output
    lines = detail.stdout.splitlines()
    assert "NUMBER  NAME  ROLE       EMAIL" in detail.stdout
    rows = {line.split()[0]: line.split() for line in lines if line.startswith("C-")}
    assert rows["C-2"][:4] == ["C-2", "Ben", "technical", "ben@bücher.example"]
    assert rows["C-3"][:3] == ["C-3", "Cat", "billing"]
    data = json.loads(pcso("accounts", "show", "A-1", "--json").stdout)
    roles = [(c["number"], c["role"]) for c in data["contacts"]]
    assert roles == [("C-1", ""), ("C-2", "technical"), ("C-3", "billing")]
