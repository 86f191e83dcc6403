"""``pcso db``: the database schema."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from pcso_tui.cli.common import CliContext, pass_cli, run

if TYPE_CHECKING:
    pass


@click.group("db")
def group() -> None:
    """The database schema."""


# Also accepted after the subcommand (`pcso db upgrade --db URL`), where people put it.
db_option = click.option("--db", "db_option", metavar="URL", help="Database path or URL (as `pcso --db URL`).")


@group.command("upgrade")
@db_option
@pass_cli
def db_upgrade(ctx: CliContext, db_option: str | None) -> None:
    """Create the schema, or apply pending migrations (the embedded database is upgraded on
    start anyway). Creates a missing SQLite file; a server database must exist (createdb)."""
    from pcso_tui.domain.core import schema
    from pcso_tui.domain.core.db import Database

    async def go() -> None:
        database = Database(db_option or ctx.database_url, create=True)
        try:
            before = await schema.opened_revision(database)
            after = await schema.upgrade(database)
        finally:
            await database.dispose()
        click.echo(f"{database.describe()}: {before or 'empty'} → {after}")

    run(go())


@group.command("current")
@db_option
@pass_cli
def db_current(ctx: CliContext, db_option: str | None) -> None:
    """Show the schema revision and where the database is."""
    from pcso_tui.domain.core import schema
    from pcso_tui.domain.core.db import Database

    async def go() -> None:
        database = Database(db_option or ctx.database_url, create=False)
        try:
            revision = await schema.opened_revision(database)
        finally:
            await database.dispose()
        click.echo(f"{database.describe()}: {revision or 'empty'} (this pcso needs {schema.HEAD})")

    run(go())


@group.command("copy")
@click.option("--from", "source_url", required=True, metavar="URL", help="The database to copy from.")
@click.option("--to", "target_url", required=True, metavar="URL", help="The empty database to copy into.")
@pass_cli
def db_copy(ctx: CliContext, source_url: str, target_url: str) -> None:
    """Copy every row into an empty database at the same schema (run `pcso db upgrade` on it first)."""
    from pcso_tui.domain.core.db import Database
    from pcso_tui.domain.core.transfer import copy_database

    async def go() -> None:
        source = Database(source_url, create=False)
        try:
            target = Database(target_url, create=False)
        except BaseException:
            await source.dispose()
            raise
        try:
            copied = await copy_database(source, target)
        finally:
            await source.dispose()
            await target.dispose()
        total = sum(copied.values())
        click.echo(f"copied {total} rows in {sum(1 for n in copied.values() if n)} tables")
        click.echo(f"{source.describe()} → {target.describe()}")

    run(go())
