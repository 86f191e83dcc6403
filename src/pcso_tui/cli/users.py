"""``pcso users``: who may sign in, and as what."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import click

from pcso_tui.cli.common import CliContext, emit_json, emit_table, json_option, pass_cli, run_command, with_domain
from pcso_tui.domain.core.text import one_line

if TYPE_CHECKING:
    from pcso_tui.domain.core.roles import Actor
    from pcso_tui.domain.core.service import Domain
    from pcso_tui.domain.core.views import UserKeyView


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
    """Add a user (admins only).

    On a database with no admin yet, add yourself (your OS account name) as the first admin.
    """
    from pcso_tui.domain.core.errors import UnknownUser
    from pcso_tui.domain.core.users import add_first_admin, add_user

    options: dict[str, Any] = {"account_number": account_number, "display_name": display_name, "email": email}

    async def action(domain: Domain, _actor: Actor) -> Any:
        try:
            actor = await ctx.sign_in(domain)
        except UnknownUser:
            if ctx.as_name:
                raise
            return await add_first_admin(domain, ctx.user_name(), name, role, **options)
        return await add_user(domain, actor, name, role, **options)

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


# --- pcso users keys: the SSH public keys users sign in to `pcso gateway` with ---------------


def read_key_file(path: str) -> tuple[str, str]:
    """The text of a key file (``-``: standard input) and how to name it in an error."""
    from pcso_tui.domain.core.errors import InvalidInput

    source = "standard input" if path == "-" else f"key file {one_line(path, 120)!r}"
    try:
        data = sys.stdin.buffer.read(1 << 16) if path == "-" else open(path, "rb").read(1 << 16)  # noqa: SIM115
        return data.decode("utf-8"), source
    except UnicodeDecodeError:
        raise InvalidInput(f"{source} is not an SSH public key (not text)") from None
    except OSError as exc:
        raise InvalidInput(f"cannot read {source}: {exc.strerror or exc}") from None


@group.group("keys")
def keys() -> None:
    """SSH public keys for `pcso gateway` (admins only)."""


@keys.command("add")
@click.argument("name")
@click.argument("keyfile", metavar="KEYFILE")
@json_option
@pass_cli
def keys_add(ctx: CliContext, name: str, keyfile: str, as_json: bool) -> None:
    """Register the public key in KEYFILE (`-`: standard input) for user NAME."""
    from pcso_tui.domain.core.user_keys import add_user_key

    async def add(domain: Domain, actor: Actor) -> UserKeyView:
        text, source = read_key_file(keyfile)
        return await add_user_key(domain, actor, name, text, source=source)

    run_command(
        ctx,
        add,
        as_json=as_json,
        show=lambda k: f"added key {k.fingerprint} ({one_line(k.algorithm)}) for {one_line(k.user)}",
    )


@keys.command("list")
@click.argument("name", required=False)
@json_option
@pass_cli
def keys_list(ctx: CliContext, name: str | None, as_json: bool) -> None:
    """List NAME's keys (everyone's, without NAME) with their SHA256 fingerprints."""
    from pcso_tui.domain.core.user_keys import list_user_keys

    found: list[Any] = run_command(ctx, list_user_keys, name)
    if as_json:
        emit_json(found)
    else:
        emit_table(
            ["user", "fingerprint", "type", "comment", "added"],
            [(k.user, k.fingerprint, k.algorithm, k.comment, k.added_at.strftime("%Y-%m-%d %H:%M")) for k in found],
        )


@keys.command("remove")
@click.argument("name")
@click.argument("key", metavar="FINGERPRINT|KEYFILE")
@pass_cli
def keys_remove(ctx: CliContext, name: str, key: str) -> None:
    """Remove one of NAME's keys, named by its fingerprint (SHA256:…) or its public key file."""
    from pcso_tui.domain.core.user_keys import remove_user_key

    async def remove(domain: Domain, actor: Actor) -> UserKeyView:
        if key.startswith("SHA256:"):
            return await remove_user_key(domain, actor, name, key)
        text, source = read_key_file(key)
        return await remove_user_key(domain, actor, name, text, source=source)

    run_command(ctx, remove, show=lambda k: f"removed key {k.fingerprint} from {one_line(k.user)}")
