"""``pcso mail-in``: customers' replies to notice emails, handed over by an MTA."""

from __future__ import annotations

from typing import Any

import click

from pcso_tui.cli.common import CliContext, cannot_listen, listening_on, pass_cli, run, stop_on_signals
from pcso_tui.cli.logs import configure_logging, log_format_option


@click.command("mail-in")
@click.option("--host", default=None, help="Address to listen on.  [default: [mail_in] host, 127.0.0.1]")
@click.option(
    "--port", default=None, type=click.IntRange(0, 65535), help="Port to listen on.  [default: [mail_in] port, 8025]"
)
@click.option("--lmtp/--smtp", "lmtp", default=None, help="Speak LMTP or SMTP.  [default: [mail_in] protocol, smtp]")
@log_format_option
@pass_cli
def mail_in(ctx: CliContext, host: str | None, port: int | None, lmtp: bool | None, log_format: str) -> None:
    """Receive replies to notice emails from an MTA (SMTP or LMTP) and add them to their cases.

    Needs [mail_in] address in the config; see docs/mail-in.md for the Postfix wiring.
    Stops on Ctrl-C.
    """

    from pcso_tui.mail_in import serve

    configure_logging(log_format)
    where = {"host": host or "127.0.0.1", "port": port}

    async def go() -> None:
        settings = ctx.config.settings.mail_in  # a bad [mail_in] is refused here, by run()
        where["host"] = listen_host = host or settings.host
        where["port"] = listen_port = settings.port if port is None else port
        use_lmtp = settings.protocol == "lmtp" if lmtp is None else lmtp
        protocol = "LMTP" if use_lmtp else "SMTP"
        if listen_host not in ("127.0.0.1", "localhost", "::1"):
            click.echo(f"pcso: warning: listening on {listen_host}; only your MTA should reach this port", err=True)
        domain = await ctx.open_domain()
        stop = stop_on_signals()

        def ready(addresses: list[Any]) -> None:
            for address in addresses:
                click.echo(
                    f"pcso: receiving replies for {settings.address} over {protocol} on {listening_on(address)}"
                    f" ({domain.db.describe()})",
                    err=True,
                )

        try:
            await serve(domain, host=listen_host, port=listen_port, lmtp=use_lmtp, stop=stop, ready=ready)
        finally:
            await domain.close()

    try:
        run(go())
    except OSError as exc:
        cannot_listen(where["host"], where["port"], exc)


commands = (mail_in,)
