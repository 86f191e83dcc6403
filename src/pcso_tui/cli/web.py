"""``pcso web``: the customers' portal on the web."""

from __future__ import annotations

import sys
from dataclasses import replace
from typing import Any

import click

from pcso_tui.cli.common import CliContext, cannot_listen, listening_on, pass_cli, run, stop_on_signals
from pcso_tui.cli.logs import configure_logging, log_format_option
from pcso_tui.domain.core.errors import DomainError
from pcso_tui.domain.core.text import one_line


@click.command("web")
@click.option("--host", default=None, help="Address to listen on (default: [web] host, 127.0.0.1).")
@click.option("--port", type=click.IntRange(1, 65535), default=None, help="Port (default: [web] port, 8080).")
@click.option(
    "--public-url", default=None, metavar="URL", help="Where customers reach the portal; sign-in links point there."
)
@click.option("--behind-proxy", is_flag=True, default=None, help="Trust X-Forwarded-Proto/-For from a reverse proxy.")
@log_format_option
@pass_cli
def web(
    ctx: CliContext,
    host: str | None,
    port: int | None,
    public_url: str | None,
    behind_proxy: bool | None,
    log_format: str,
) -> None:
    """Serve the customer portal on the web: contacts sign in with a link sent to them.

    Sign-in links are queued as notices: run `pcso worker` beside it to deliver them.
    Stops on Ctrl-C. Cookies, proxies, rate limits and the [web] keys: docs/web.md.
    """

    from pcso_tui.web import serve

    try:
        settings = ctx.config.settings.web
    except DomainError as exc:  # a bad config file: one line, as every command says it
        click.echo(f"pcso: {one_line(exc.message)}", err=True)
        sys.exit(exc.exit_code)
    changes: dict[str, Any] = {}
    if host is not None:
        changes["host"] = host
    if port is not None:
        changes["port"] = port
    if public_url is not None:
        changes["public_url"] = public_url
    if behind_proxy:
        changes["behind_proxy"] = True
    try:
        settings = replace(settings, **changes)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    configure_logging(log_format)

    async def go() -> None:
        domain = await ctx.open_domain()
        stop = stop_on_signals()

        def ready(addresses: list[Any]) -> None:
            for address in addresses:
                click.echo(
                    f"pcso: customer portal on http://{listening_on(address)} ({domain.db.describe()})", err=True
                )

        try:
            await serve(domain, settings, behind_proxy=settings.behind_proxy, ready=ready, stop=stop)
        finally:
            await domain.close()

    try:
        run(go())
    except OSError as exc:
        cannot_listen(settings.host, settings.port, exc)


commands = (web,)
