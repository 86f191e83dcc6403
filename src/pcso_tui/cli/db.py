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


@group.command("upgrade")
@pass_cli
def db_upgrade(ctx: CliContext) -> None:
    """Apply pending migrations (the embedded database is upgraded on start anyway)."""
    from pcso_tui.domain.core import schema
    from pcso_tui.domain.core.db import Database

    async def go() -> None:
        database = Database(ctx.database_url)
        try:
            before = await schema.current_revision(database)
            after = await schema.upgrade(database)
        finally:
            await database.dispose()
        click.echo(f"{database.describe()}: {before or 'empty'} → {after}")

    run(go())


@group.command("current")
@pass_cli
def db_current(ctx: CliContext) -> None:
    """Show the schema revision and where the database is."""
    from pcso_tui.domain.core import schema
    from pcso_tui.domain.core.db import Database

    async def go() -> None:
        database = Database(ctx.database_url)
        try:
            revision = await schema.current_revision(database)
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
        source, target = Database(source_url), Database(target_url)
        try:
            copied = await copy_database(source, target)
        finally:
            await source.dispose()
            await target.dispose()
        total = sum(copied.values())
        click.echo(f"copied {total} rows in {sum(1 for n in copied.values() if n)} tables")
        click.echo(f"{source.describe()} → {target.describe()}")

    run(go())
