"""The ``pcso`` command.

Every subcommand goes through the same domain commands and queries the screens use, acting
as the signed-in OS user (or ``--as`` someone, for admins and demo worlds). Lists take
``--json``. Exit codes scripts can rely on:

    0 ok · 1 error · 2 usage · 3 not found · 4 forbidden · 5 illegal transition
    6 invalid input · 7 conflict · 8 unknown user · 9 schema outdated · 10 database busy

Heavy modules (the database stack, Textual) are imported inside the commands that need them.
"""

from __future__ import annotations

import asyncio
import getpass
import json
import os
import sys
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from pcso_tui.domain.errors import DomainError
from pcso_tui.domain.text import one_line

if TYPE_CHECKING:
    from pcso_tui.config import Config
    from pcso_tui.domain.roles import Actor
    from pcso_tui.domain.service import Domain

T = TypeVar("T")


@dataclass
class CliContext:
    db_option: str | None
    config_option: Path | None
    as_name: str | None
    _config: Config | None = field(default=None, repr=False)

    @property
    def config(self) -> Config:
        if self._config is None:
            from pcso_tui import config

            self._config = config.load(self.config_option)
        return self._config

    @property
    def database_url(self) -> str | None:
        return self.db_option or self.config.database_url

    @staticmethod
    def os_user() -> str:
        return os.environ.get("PCSO_USER") or getpass.getuser()

    async def open_domain(self, *, upgrade: bool | None = None) -> Domain:
        from pcso_tui.domain.service import Domain
        from pcso_tui.plugins import plugin_manager

        return await Domain.open(
            self.database_url, settings=self.config.settings, hooks=plugin_manager().hook, upgrade=upgrade
        )

    async def sign_in(self, domain: Domain) -> Actor:
        from pcso_tui.domain.users import sign_in

        return await sign_in(domain, self.os_user(), as_name=self.as_name)


def run(coro: Awaitable[T]) -> T:
    """Run a coroutine; a refusal becomes one line on stderr and its exit code."""
    try:
        return asyncio.run(coro)  # type: ignore[arg-type]
    except DomainError as exc:
        click.echo(f"pcso: {one_line(exc.message)}", err=True)
        for detail in exc.details:
            click.echo(f"  {one_line(detail)}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)


def with_domain(
    ctx: CliContext, action: Callable[[Domain, Actor], Awaitable[T]], *, sign_in: bool = True
) -> T:
    """Open the domain, sign in, run ``action(domain, actor)``, close."""

    async def go() -> T:
        domain = await ctx.open_domain()
        try:
            actor = await ctx.sign_in(domain) if sign_in else None
            return await action(domain, actor)  # type: ignore[arg-type]
        finally:
            await domain.close()

    return run(go())


def emit_json(data: Any) -> None:
    from pcso_tui.domain.views import to_jsonable

    click.echo(json.dumps(to_jsonable(data), indent=2, ensure_ascii=False))


def emit_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """Plain aligned columns; every cell made printable (no escape sequences reach the terminal)."""
    cells = [[one_line("" if v is None else str(v), 60) for v in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    click.echo("  ".join(h.upper().ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
    for row in cells:
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
pass_cli = click.make_pass_decorator(CliContext)


@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--db", "db_option", envvar="PCSO_DATABASE_URL", metavar="URL", help="Database path or URL.")
@click.option("--config", "config_option", type=click.Path(path_type=Path), envvar="PCSO_CONFIG", help="Config file.")
@click.option("--as", "as_name", metavar="NAME", help="Act as another user (admins and demo worlds only).")
@click.version_option(package_name="pcso-tui")
@click.pass_context
def main(ctx: click.Context, db_option: str | None, config_option: Path | None, as_name: str | None) -> None:
    """pcso: proactive customer service operations in the terminal.

    Without a command, opens the workspace on your role's screen.
    """
    ctx.obj = CliContext(db_option=db_option, config_option=config_option, as_name=as_name)
    if ctx.invoked_subcommand is None:
        from pcso_tui.app import run_workspace

        sys.exit(run_workspace(ctx.obj))


# --- db -----------------------------------------------------------------------------------


@main.group()
def db() -> None:
    """The database schema."""


@db.command("upgrade")
@pass_cli
def db_upgrade(ctx: CliContext) -> None:
    """Apply pending migrations (the embedded database is upgraded on start anyway)."""
    from pcso_tui.domain import schema
    from pcso_tui.domain.db import Database

    async def go() -> None:
        database = Database(ctx.database_url)
        try:
            before = await schema.current_revision(database)
            after = await schema.upgrade(database)
        finally:
            await database.dispose()
        click.echo(f"{database.describe()}: {before or 'empty'} → {after}")

    run(go())


@db.command("current")
@pass_cli
def db_current(ctx: CliContext) -> None:
    """Show the schema revision and where the database is."""
    from pcso_tui.domain import schema
    from pcso_tui.domain.db import Database

    async def go() -> None:
        database = Database(ctx.database_url)
        try:
            revision = await schema.current_revision(database)
        finally:
            await database.dispose()
        click.echo(f"{database.describe()}: {revision or 'empty'} (this pcso needs {schema.HEAD})")

    run(go())


# --- users --------------------------------------------------------------------------------


@main.group()
def users() -> None:
    """Who may sign in, and as what."""


@users.command("add")
@click.argument("name")
@click.option(
    "--role",
    required=True,
    type=click.Choice(["operator", "agent", "manager", "customer", "admin"]),
    help="What the user does.",
)
@click.option("--account", "account_number", metavar="NUMBER", help="The account a customer user belongs to.")
@click.option("--display-name", default="", help="Full name to show.")
@click.option("--email", default=None)
@json_option
@pass_cli
def users_add(
    ctx: CliContext, name: str, role: str, account_number: str | None, display_name: str, email: str | None, as_json: bool
) -> None:
    """Add a user. On a database with no admin yet, this bootstraps the first admin."""
    from pcso_tui.domain.errors import UnknownUser
    from pcso_tui.domain.roles import Actor, Role
    from pcso_tui.domain.users import add_user

    async def action(domain: Domain, _actor: Actor) -> Any:
        try:
            actor = await ctx.sign_in(domain)
        except UnknownUser:
            # Not yet a user: allowed only to bootstrap the first admin, which the domain checks.
            actor = Actor(user_id=None, name=ctx.os_user(), role=Role.CUSTOMER)
        return await add_user(
            domain, actor, name, role, account_number=account_number, display_name=display_name, email=email
        )

    user = with_domain(ctx, action, sign_in=False)
    if as_json:
        emit_json(user)
    else:
        click.echo(f"added {one_line(user.name)} ({user.role})")


@users.command("list")
@json_option
@pass_cli
def users_list(ctx: CliContext, as_json: bool) -> None:
    """List users (admins only)."""
    from pcso_tui.domain.users import list_users

    found = with_domain(ctx, list_users)
    if as_json:
        emit_json(found)
    else:
        emit_table(
            ["name", "role", "account", "display name", "active"],
            [(u.name, u.role, u.account_number or "", u.display_name, "yes" if u.active else "no") for u in found],
        )


# --- events -------------------------------------------------------------------------------


@main.group()
def events() -> None:
    """The event log: the audit trail and the live feed."""


@events.command("list")
@click.option("--since", "since_id", type=int, default=0, show_default=True, help="Only events after this id.")
@click.option("--limit", type=click.IntRange(1, 100_000), default=100, show_default=True)
@json_option
@pass_cli
def events_list(ctx: CliContext, since_id: int, limit: int, as_json: bool) -> None:
    """Events after an id, oldest first."""
    from pcso_tui.domain.audit import list_events

    async def action(domain: Domain, actor: Actor) -> Any:
        return await list_events(domain, actor, since_id=since_id, limit=limit)

    found = with_domain(ctx, action)
    if as_json:
        emit_json(found)
    else:
        emit_table(
            ["id", "at", "actor", "kind", "subject"],
            [
                (
                    e.id,
                    e.at.strftime("%Y-%m-%d %H:%M:%S"),
                    e.actor_name + (f" (via {e.impersonator})" if e.impersonator else ""),
                    e.kind,
                    f"{e.subject_type} {e.subject_id or ''}",
                )
                for e in found
            ],
        )
