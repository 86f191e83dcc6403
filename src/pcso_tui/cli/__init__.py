"""The ``pcso`` command.

Every subcommand goes through the same domain commands and queries the screens use, acting
as the signed-in OS user (or ``--as`` someone, for admins and demo worlds). Lists take
``--json``. Exit codes scripts can rely on:

    0 ok · 1 error · 2 usage · 3 not found · 4 forbidden · 5 illegal transition
    6 invalid input · 7 conflict · 8 unknown user · 9 schema outdated · 10 database busy
    11 database cannot be opened

Heavy modules (the database stack, Textual) are imported inside the commands that need them.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from pcso_tui.cli.common import CliContext
from pcso_tui.connection import Connection


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
    # An in-process caller that authenticated the user itself (the SSH gateway's session
    # running one command) passes ``obj=Connection(..., authenticated_user=NAME)``; argv and
    # the environment cannot set it.
    signed = ctx.obj if isinstance(ctx.obj, Connection) else None
    ctx.obj = CliContext(
        db_option=db_option,
        config_option=config_option,
        as_name=as_name,
        authenticated_user=signed.authenticated_user if signed else None,
        authenticated_key=signed.authenticated_key if signed else None,
    )
    if ctx.invoked_subcommand is None:
        from pcso_tui.app import run_workspace

        sys.exit(run_workspace(ctx.obj))


# One module per area, one line each (sorted), so areas are added without touching each other.
AREAS = (
    "alerts",
    "cases",
    "dashboard",
    "db",
    "delivery",
    "demo",
    "events",
    "gateway",
    "impact",
    "incidents",
    "insight",
    "install_base",
    "mail_in",
    "outages",
    "portal",
    "users",
    "web",
    "world",
)


def _register() -> None:
    import importlib

    for area in AREAS:
        module = importlib.import_module(f"pcso_tui.cli.{area}")
        commands = getattr(module, "commands", None) or (module.group,)
        for command in commands:
            main.add_command(command)


_register()
