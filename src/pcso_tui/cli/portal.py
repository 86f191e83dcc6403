"""``pcso portal``: the workspace on the customer portal, or staff's read-only preview of an account."""

from __future__ import annotations

import sys

import click

from pcso_tui.cli.common import CliContext, pass_cli


@click.command("portal")
@click.option(
    "--preview",
    "preview_account",
    metavar="ACCOUNT",
    help="Staff (agents, managers, admins): see exactly what this account sees, read-only.",
)
@pass_cli
def portal(ctx: CliContext, preview_account: str | None) -> None:
    """Open the customer portal: outages, cases and workaround articles of your account.

    Customers see their own account and reply on their cases. Staff open an account's portal
    read-only with --preview ACCOUNT (Esc closes the preview).
    """
    from pcso_tui.app import run_workspace

    preview = preview_account.strip() if preview_account else None
    if preview_account is not None and not preview:
        raise click.UsageError("--preview needs an account number")
    sys.exit(run_workspace(ctx, start_mode=None if preview else "portal", preview_account=preview))


commands = (portal,)
