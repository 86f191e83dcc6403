"""``pcso gateway``: the workspace behind one SSH port (docs/gateway.md)."""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path

import click

from pcso_tui.cli.common import CliContext, pass_cli


@click.command("gateway")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=2222, show_default=True, type=click.IntRange(0, 65535), help="Port to listen on.")
@click.option(
    "--host-key",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The SSH host key, made (mode 0600) on first start. Default: in the user data directory.",
)
@click.option(
    "--idle-timeout",
    default=900,
    show_default=True,
    type=click.IntRange(1),
    metavar="SECONDS",
    help="Close a session after this long without input.",
)
@click.option(
    "--max-failures",
    default=5,
    show_default=True,
    type=click.IntRange(1),
    help="Failed sign-ins per address and minute before it is refused for the rest of it.",
)
@pass_cli
def gateway(ctx: CliContext, host: str, port: int, host_key: Path | None, idle_timeout: int, max_failures: int) -> None:
    """Serve the workspace over SSH to users with a registered key (`pcso users keys add`).

    A shell request opens the workspace for the key's user; `ssh -p PORT HOST cases list`
    runs one command as them. No shell, no forwarding. Runs until stopped (Ctrl+C, SIGTERM).
    """
    from pcso_tui.domain.core.errors import DomainError
    from pcso_tui.domain.core.text import one_line
    from pcso_tui.gateway import GatewayError, GatewaySettings, default_host_key, serve

    logging.basicConfig(level=logging.INFO, format="pcso gateway: %(message)s", stream=sys.stderr)
    # asyncssh logs every packet exchange at INFO; the gateway logs what matters itself.
    logging.getLogger("asyncssh").setLevel(logging.WARNING)
    settings = GatewaySettings(
        host=host,
        port=port,
        host_key=host_key or default_host_key(),
        idle_timeout=float(idle_timeout),
        max_failures=max_failures,
    )
    try:
        asyncio.run(serve(ctx, settings))
    except (GatewayError, DomainError) as exc:
        click.echo(f"pcso: {one_line(str(exc))}", err=True)
        sys.exit(getattr(exc, "exit_code", 1))
    except KeyboardInterrupt:
        pass


commands = (gateway,)
