"""``pcso users``: who may sign in, and as what."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from pcso_tui.cli.common import CliContext, emit_json, emit_table, json_option, pass_cli, with_domain
from pcso_tui.domain.core.text import one_line

if TYPE_CHECKING:
    from pcso_tui.domain.core.roles import Actor
    from pcso_tui.domain.core.service import Domain


@click.group("users")
def group() -> None:
    """Who may sign in, and as what."""


@group.command("add")
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
    ctx: CliContext,
    name: str,
    role: str,
    account_number: str | None,
    display_name: str,
    email: str | None,
    as_json: bool,
) -> None:
    """Add a user. On a database with no admin yet, this bootstraps the first admin."""
    from pcso_tui.domain.core.errors import UnknownUser
    from pcso_tui.domain.core.roles import Actor, Role
    from pcso_tui.domain.core.users import add_user

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


@group.command("list")
@json_option
@pass_cli
def users_list(ctx: CliContext, as_json: bool) -> None:
    """List users (admins only)."""
    from pcso_tui.domain.core.users import list_users

    found = with_domain(ctx, list_users)
    if as_json:
        emit_json(found)
    else:
        emit_table(
            ["name", "role", "account", "display name", "active"],
            [(u.name, u.role, u.account_number or "", u.display_name, "yes" if u.active else "no") for u in found],
        )


def _add_keys() -> None:
    from pcso_tui.cli.user_keys import keys

    group.add_command(keys)


_add_keys()
