"""Who you are is the OS account running ``pcso``: not an environment variable, not a flag.

The first admin is bootstrapped explicitly, ``--as`` is for admins and is recorded with the
real user, and ``pcso events list --json`` shows both names.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from pcso_tui.cli import main
from pcso_tui.connection import Connection
from tests.identity import ME, signed_in_as

FORGED = {"PCSO_USER": "admin", "LOGNAME": "admin", "USER": "admin", "USERNAME": "admin"}


def pcso(db: Path, user: str, *args: str) -> Result:
    with signed_in_as(user):
        return CliRunner().invoke(main, ["--db", str(db), *args], env={"PCSO_CONFIG": os.devnull})


def users(db: Path) -> list[str]:
    with sqlite3.connect(db) as conn:
        return sorted(name for (name,) in conn.execute("SELECT name FROM app_user"))


@pytest.fixture
def empty_db(tmp_path: Path) -> Path:
    db = tmp_path / "pcso.db"
    assert pcso(db, "root", "db", "upgrade").exit_code == 0
    return db


def test_the_os_user_is_the_account_of_the_process(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in FORGED.items():
        monkeypatch.setenv(name, value + "-forged")
    assert Connection.os_user() == ME
    assert Connection(None, None, None).user_name() == ME


def test_the_authenticated_user_replaces_the_os_user() -> None:
    assert Connection(None, None, None, authenticated_user="adam").user_name() == "adam"


def test_the_first_admin_must_be_the_one_running_the_command(empty_db: Path) -> None:
    wrong = pcso(empty_db, "root", "users", "add", "admin2", "--role", "admin")
    assert wrong.exit_code == 4
    assert wrong.stderr.strip() == (
        "pcso: there is no admin yet: the first admin is you, 'root'; run `pcso users add root --role admin`"
    )
    assert users(empty_db) == []
    not_admin = pcso(empty_db, "root", "users", "add", "root", "--role", "agent")
    assert not_admin.exit_code == 4 and "the first admin is you, 'root'" in not_admin.stderr
    assert users(empty_db) == []

    other = pcso(empty_db, "root", "cases", "list")
    assert other.exit_code == 8
    assert "no admin yet: run `pcso users add root --role admin`" in other.stderr

    done = pcso(empty_db, "root", "users", "add", "root", "--role", "admin")
    assert done.exit_code == 0, done.output
    assert done.stdout.strip() == "added root (admin)"
    added = pcso(empty_db, "root", "users", "add", "admin2", "--role", "admin")
    assert added.exit_code == 0, added.output
    assert users(empty_db) == ["admin2", "root"]


def test_a_stranger_is_told_they_are_not_a_user_not_a_wrong_role(empty_db: Path) -> None:
    assert pcso(empty_db, "root", "users", "add", "root", "--role", "admin").exit_code == 0
    for command in (["users", "add", "carl", "--role", "admin"], ["users", "add", "mallory", "--role", "agent"]):
        refused = pcso(empty_db, "carl", *command)
        assert refused.exit_code == 8
        assert refused.stderr.strip() == (
            "pcso: no pcso user named 'carl': ask an admin to run `pcso users add carl --role agent`"
        )
    assert users(empty_db) == ["root"]


def test_only_admins_act_as_someone_else_and_the_event_log_names_both(empty_db: Path) -> None:
    assert pcso(empty_db, "root", "users", "add", "root", "--role", "admin").exit_code == 0
    assert pcso(empty_db, "root", "users", "add", "boss", "--role", "admin").exit_code == 0
    assert pcso(empty_db, "root", "users", "add", "olivia", "--role", "operator").exit_code == 0

    refused = pcso(empty_db, "olivia", "--as", "boss", "users", "add", "mallory", "--role", "admin")
    assert refused.exit_code == 4 and refused.stderr.strip() == "pcso: only admins may act --as another user"
    assert "mallory" not in users(empty_db)

    assert pcso(empty_db, "root", "--as", "boss", "users", "add", "zed", "--role", "agent").exit_code == 0
    listed = pcso(empty_db, "root", "events", "list", "--json")
    assert listed.exit_code == 0, listed.output
    events = {e["payload"]["name"]: e for e in json.loads(listed.stdout)}
    assert (events["root"]["kind"], events["root"]["actor_name"], events["root"]["impersonator"]) == (
        "user.bootstrapped",
        "root",
        None,
    )
    assert (events["olivia"]["actor_name"], events["olivia"]["impersonator"]) == ("root", None)
    assert (events["zed"]["actor_name"], events["zed"]["impersonator"]) == ("boss", "root")
    table = pcso(empty_db, "root", "events", "list")
    assert "boss (via root)" in table.stdout


def test_forged_variables_change_nothing_in_a_real_process(empty_db: Path) -> None:
    env = {**os.environ, **FORGED, "PCSO_CONFIG": os.devnull}
    env.pop("PCSO_DATABASE_URL", None)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "pcso_tui", "--db", str(empty_db), *args]
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)

    assert pcso(empty_db, ME, "users", "add", ME, "--role", "admin").exit_code == 0
    assert pcso(empty_db, ME, "users", "add", "admin", "--role", "operator").exit_code == 0
    done = run("users", "add", "zed", "--role", "agent", "--json")
    assert done.returncode == 0, done.stderr
    events = json.loads(run("events", "list", "--json").stdout)
    assert (events[-1]["actor_name"], events[-1]["impersonator"]) == (ME, None)


# --- a second, real OS account (only when the tests run as root) ----------------------------

OTHER_ACCOUNT = "pcso-probe"


@pytest.fixture
def other_account() -> Iterator[str]:
    if os.geteuid() != 0 or shutil.which("useradd") is None:
        pytest.skip("creating an OS account needs root and useradd")
    import pwd

    try:
        pwd.getpwnam(OTHER_ACCOUNT)
        created = False
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", OTHER_ACCOUNT], check=True)
        created = True
    try:
        yield OTHER_ACCOUNT
    finally:
        if created:
            subprocess.run(["userdel", OTHER_ACCOUNT], check=False)


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A directory every account may write (the test's own tmp_path is closed to others)."""
    path = Path(tempfile.mkdtemp(prefix="pcso-identity-"))
    path.chmod(0o777)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def run_as_account(account: str, env: dict[str, str], *args: str) -> tuple[int, str]:
    """``pcso ARGS`` in a child process that has become ``account`` (setgid/setuid after fork,
    no exec: the interpreter may live where that account cannot read). The modules it needs
    are already imported by the parent."""
    import pwd

    entry = pwd.getpwnam(account)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(entry.pw_gid)
            os.setuid(entry.pw_uid)
            os.environ.update(env)
            result = CliRunner().invoke(main, list(args))
            os.write(write_end, json.dumps([result.exit_code, result.stderr]).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as answer:
        data = answer.read()
    os.waitpid(pid, 0)
    code, stderr = json.loads(data)
    return code, stderr


def test_another_os_account_cannot_forge_its_way_to_admin(other_account: str, shared_dir: Path) -> None:
    db = shared_dir / "pcso.db"
    assert pcso(db, "root", "db", "upgrade").exit_code == 0
    assert pcso(db, "root", "users", "add", "root", "--role", "admin").exit_code == 0
    assert pcso(db, "root", "users", "add", "admin", "--role", "admin").exit_code == 0
    assert pcso(db, "root", "users", "add", other_account, "--role", "operator").exit_code == 0
    # Warm the imports the child needs, as this (root) process.
    assert pcso(db, other_account, "users", "add", "mallory", "--role", "admin").exit_code == 4
    assert pcso(db, other_account, "--as", "admin", "users", "list").exit_code == 4
    for path in shared_dir.iterdir():
        path.chmod(0o666)
    env = {**FORGED, "PCSO_CONFIG": os.devnull}

    code, stderr = run_as_account(other_account, env, "--db", str(db), "users", "add", "mallory", "--role", "admin")
    assert (code, stderr.strip()) == (4, f"pcso: {other_account} (operator) may not manage users")
    code, stderr = run_as_account(
        other_account, env, "--db", str(db), "--as", "admin", "users", "add", "mallory", "--role", "admin"
    )
    assert (code, stderr.strip()) == (4, "pcso: only admins may act --as another user")
    assert "mallory" not in users(db)
    with sqlite3.connect(db) as conn:
        kinds = [kind for (kind,) in conn.execute("SELECT kind FROM event WHERE actor_name = 'admin'")]
    assert kinds == []  # nothing was ever done in admin's name


def test_an_in_process_caller_hands_over_the_user_it_authenticated(empty_db: Path) -> None:
    """The seam the SSH gateway uses for one command: ``obj=CliContext(authenticated_user=…)``."""
    from pcso_tui.cli.common import CliContext

    assert pcso(empty_db, "root", "users", "add", "root", "--role", "admin").exit_code == 0
    assert pcso(empty_db, "root", "users", "add", "olivia", "--role", "operator").exit_code == 0
    given = CliContext(db_option=None, config_option=None, as_name=None, authenticated_user="olivia")
    with signed_in_as("root"):
        result = CliRunner().invoke(
            main, ["--db", str(empty_db), "users", "list"], env={"PCSO_CONFIG": os.devnull}, obj=given
        )
    assert result.exit_code == 4
    assert result.stderr.strip() == "pcso: olivia (operator) may not manage users"
