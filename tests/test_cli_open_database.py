"""The database is opened, never conjured: ``--db`` and the config's URL name an existing
database unless the command makes one (``pcso db upgrade``, ``pcso seed``, ``pcso demo``).
Every way of naming a database that cannot be opened is one line and exit code 11."""

from __future__ import annotations

import asyncio
import os
import secrets
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from pcso_tui.cli import main
from pcso_tui.domain.core.migrations import HEAD
from tests.conftest import PostgresServer
from tests.identity import signed_in_as

UNAVAILABLE = 11


def pcso(*args: str, config: Path | None = None) -> Result:
    env = {"PCSO_CONFIG": str(config) if config else os.devnull}
    with signed_in_as("root"):
        return CliRunner().invoke(main, list(args), env=env)


def one_line_refusal(result: Result) -> str:
    assert result.exit_code == UNAVAILABLE, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_a_mistyped_path_is_an_error_naming_it_and_creates_nothing(tmp_path: Path) -> None:
    missing = tmp_path / "nonexistent" / "dir" / "y.db"
    for command in (["cases", "list"], ["users", "add", "root", "--role", "admin"], ["db", "current"]):
        line = one_line_refusal(pcso("--db", str(missing), *command))
        assert line == (
            f"pcso: no database at {missing}: check the path, or create one with `pcso db upgrade --db URL`"
        )
    assert not (tmp_path / "nonexistent").exists()


def test_the_config_files_url_must_name_an_existing_database_too(tmp_path: Path) -> None:
    missing = tmp_path / "typo" / "pcso.db"
    config = tmp_path / "config.toml"
    config.write_text(f'[database]\nurl = "sqlite:///{missing}"\n')
    line = one_line_refusal(pcso("cases", "list", config=config))
    assert line.startswith(f"pcso: no database at {missing}:")
    assert not missing.parent.exists()


def test_a_file_that_is_not_a_database_is_left_alone(tmp_path: Path) -> None:
    text_file = tmp_path / "passwd"
    text_file.write_text("root:x:0:0:root:/root:/bin/bash\n")
    for command in (["cases", "list"], ["db", "upgrade"], ["db", "current"]):
        line = one_line_refusal(pcso("--db", str(text_file), *command))
        assert line == f"pcso: cannot open sqlite+aiosqlite:///{text_file}: file is not a database"
    assert text_file.read_text() == "root:x:0:0:root:/root:/bin/bash\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["passwd"]


def test_another_applications_sqlite_file_is_not_a_pcso_database(tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE notes (body TEXT)")
    for command in (["cases", "list"], ["db", "upgrade"], ["seed"]):
        line = one_line_refusal(pcso("--db", str(other), *command))
        assert line == f"pcso: sqlite+aiosqlite:///{other} is not a pcso database (it holds other tables)"
    with sqlite3.connect(other) as conn:
        assert [name for (name,) in conn.execute("SELECT name FROM sqlite_master")] == ["notes"]


def test_a_directory_is_not_a_database(tmp_path: Path) -> None:
    assert one_line_refusal(pcso("--db", str(tmp_path), "cases", "list")) == f"pcso: {tmp_path} is not a database file"
    assert one_line_refusal(pcso("--db", str(tmp_path), "db", "upgrade")) == f"pcso: {tmp_path} is not a database file"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "mysql://pcso@db.example/pcso",
            "pcso: unsupported database URL 'mysql://pcso@db.example/pcso': "
            "use a file path, sqlite:///PATH or postgresql://USER@HOST/NAME",
        ),
        (
            "oracle://pcso:SECRET@db.example/pcso",
            "pcso: unsupported database URL 'oracle://pcso:***@db.example/pcso': "
            "use a file path, sqlite:///PATH or postgresql://USER@HOST/NAME",
        ),
        # Not installed, or not an asyncio driver: either way one line naming the URL.
        (
            "postgresql+nosuchdriver://pcso@127.0.0.1/pcso",
            "pcso: cannot open postgresql+nosuchdriver://pcso@127.0.0.1/pcso: ",
        ),
        ("postgresql+psycopg2://pcso@127.0.0.1/pcso", "pcso: cannot open postgresql+psycopg2://pcso@127.0.0.1/pcso: "),
    ],
)
def test_unsupported_urls_and_missing_drivers_are_one_line(url: str, expected: str) -> None:
    for command in (["cases", "list"], ["db", "upgrade"]):
        assert one_line_refusal(pcso("--db", url, *command)).startswith(expected)


def test_an_unreachable_server_is_one_line() -> None:
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    line = one_line_refusal(pcso("--db", f"postgresql://pcso@127.0.0.1:{port}/pcso", "cases", "list"))
    assert line.startswith(f"pcso: cannot reach postgresql+asyncpg://pcso@127.0.0.1:{port}/pcso: ")


def test_db_upgrade_takes_db_before_or_after_and_creates_the_file(tmp_path: Path) -> None:
    after = tmp_path / "new" / "after.db"
    done = pcso("db", "upgrade", "--db", str(after))
    assert done.exit_code == 0, done.output
    assert done.stdout.strip().endswith(f"empty → {HEAD}") and after.is_file()
    before = tmp_path / "before.db"
    assert pcso("--db", str(before), "db", "upgrade").exit_code == 0 and before.is_file()
    current = pcso("db", "current", "--db", str(before))
    assert current.exit_code == 0 and f": {HEAD} (this pcso needs {HEAD})" in current.stdout
    # Once made, the database is opened by every command.
    assert pcso("--db", str(after), "users", "add", "root", "--role", "admin").exit_code == 0


def test_seed_creates_the_database_it_is_given(tmp_path: Path) -> None:
    db = tmp_path / "world" / "pcso.db"
    seeded = pcso("--db", str(db), "seed", "--size", "tiny")
    assert seeded.exit_code == 0, seeded.output
    assert pcso("--db", str(db), "cases", "list").exit_code == 0


@pytest.mark.postgres
def test_a_postgresql_database_that_does_not_exist_is_one_line(postgres_server: PostgresServer) -> None:
    name = f"pcso_missing_{secrets.token_hex(6)}"
    url = postgres_server.url.set(database=name).render_as_string(hide_password=True)
    shown = url.replace("postgresql://", "postgresql+asyncpg://")
    for command in (["cases", "list"], ["db", "upgrade"], ["db", "current"]):
        line = one_line_refusal(pcso("--db", url, *command))
        assert line == f'pcso: cannot open {shown}: database "{name}" does not exist'

    async def exists() -> bool:
        import asyncpg

        conn = await asyncpg.connect(postgres_server.url.render_as_string(hide_password=False))
        try:
            return bool(await conn.fetchval("SELECT count(*) FROM pg_database WHERE datname = $1", name))
        finally:
            await conn.close()

    assert not asyncio.run(exists())


@pytest.mark.postgres
def test_db_upgrade_on_an_existing_postgresql_database(postgres_server: PostgresServer) -> None:
    name = f"pcso_fresh_{secrets.token_hex(6)}"
    asyncio.run(postgres_server._admin(f'CREATE DATABASE "{name}"'))
    postgres_server.created.append(name)
    url = postgres_server.url.set(database=name).render_as_string(hide_password=False)
    done = pcso("db", "upgrade", "--db", url)
    assert done.exit_code == 0, done.output
    assert done.stdout.strip().endswith(f"empty → {HEAD}")
    assert pcso("--db", url, "users", "add", "root", "--role", "admin").exit_code == 0
