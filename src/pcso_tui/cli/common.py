"""What every ``pcso`` subcommand shares: the context, running a command, printing results."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import click

from pcso_tui.connection import Connection
from pcso_tui.domain.core.errors import DomainError
from pcso_tui.domain.core.text import one_line

if TYPE_CHECKING:
    from pcso_tui.domain.core.roles import Actor
    from pcso_tui.domain.core.service import Domain

T = TypeVar("T")


class CliContext(Connection):
    """The ``pcso`` command's context object: the flags every subcommand shares."""


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


def stop_on_signals() -> asyncio.Event:
    """An event set by SIGINT or SIGTERM: how every long-running command learns to stop
    (called on the running loop)."""
    import signal

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    return stop


def listening_on(address: Sequence[Any]) -> str:
    """``host:port`` of a listening socket's address, an IPv6 host in brackets."""
    host = str(address[0])
    return f"[{host}]:{address[1]}" if ":" in host else f"{host}:{address[1]}"


def cannot_listen(host: object, port: object, exc: OSError) -> None:
    """The one line a server command ends with when its port cannot be had (exit 1)."""
    click.echo(f"pcso: cannot listen on {host}:{port}: {exc.strerror or exc}", err=True)
    sys.exit(1)


def with_domain(
    ctx: CliContext, action: Callable[[Domain, Actor], Awaitable[T]], *, sign_in: bool = True, create: bool = False
) -> T:
    """Open the domain (``create`` a missing database only for commands that make one), sign
    in, run ``action(domain, actor)``, close."""

    async def go() -> T:
        domain = await ctx.open_domain(create=create)
        try:
            actor = await ctx.sign_in(domain) if sign_in else None
            return await action(domain, actor)  # type: ignore[arg-type]
        finally:
            await domain.close()

    return run(go())


def run_command(
    ctx: CliContext,
    command: Callable[..., Awaitable[T]],
    *args: Any,
    as_json: bool = False,
    show: Callable[[T], str | None] | None = None,
    **kwargs: Any,
) -> T:
    """The shape of most subcommands: open the domain, sign in, ``await command(domain, actor,
    *args, **kwargs)``, close; then print the result as JSON (``as_json``) or through ``show``
    (which prints it itself, or returns the line to print). A refusal is one line on stderr
    and its exit code (see ``run``)."""

    async def action(domain: Domain, actor: Actor) -> T:
        return await command(domain, actor, *args, **kwargs)

    result = with_domain(ctx, action)
    if as_json:
        emit_json(result)
    elif show is not None:
        line = show(result)
        if line is not None:
            click.echo(line)
    return result


def emit_json(data: Any) -> None:
    from pcso_tui.domain.core.views import to_jsonable

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
