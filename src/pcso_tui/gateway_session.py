"""The child ``pcso gateway`` runs for one SSH session: ``python -m pcso_tui.gateway_session FD``.

It reads what the gateway wrote to the inherited pipe ``FD`` (the database, the config file,
the signed ticket and the command), checks the ticket against the secret kept in that
database, and then runs the workspace, or the one CLI command, as the ticket's user. Nothing
else decides who that is: not argv, not the environment.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import sys
import termios
from pathlib import Path
from typing import Any

from pcso_tui.connection import Connection

REFUSED = 4


def _read_input(fd: int) -> dict[str, Any]:
    chunks = []
    while chunk := os.read(fd, 65536):
        chunks.append(chunk)
    os.close(fd)
    data = json.loads(b"".join(chunks))
    if not isinstance(data, dict):
        raise ValueError("not an object")
    return data


async def _verify(connection: Connection, ticket: str) -> tuple[str, str]:
    from pcso_tui.domain.core.user_keys import gateway_secret
    from pcso_tui.gateway import check_ticket

    domain = await connection.open_domain()
    try:
        secret = await gateway_secret(domain, create=False)
    finally:
        await domain.close()
    return check_ticket(secret, ticket)


def main(argv: list[str] | None = None) -> int:
    from pcso_tui.domain.core.errors import DomainError
    from pcso_tui.gateway import BadTicket

    args = sys.argv[1:] if argv is None else argv
    try:
        data = _read_input(int(args[0]))
        config = Path(data["config"]) if data.get("config") else None
        connection = Connection(data.get("db"), config, None)
        user, key = asyncio.run(_verify(connection, str(data.get("ticket", ""))))
    except (IndexError, ValueError, OSError, KeyError, BadTicket, DomainError) as exc:
        print(f"pcso gateway session: refused ({exc})", file=sys.stderr)
        return REFUSED
    signed = Connection(data.get("db"), config, None, authenticated_user=user, authenticated_key=key)
    command = data.get("command")
    if sys.stdin.isatty():
        # A new session has no controlling terminal: take the pty, so its resizes reach us.
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)
    if command is None:
        from pcso_tui.app import run_workspace

        return run_workspace(signed)
    from pcso_tui.cli import main as pcso

    global_options = ["--config", str(config)] if config else []
    if data.get("db"):
        global_options = ["--db", data["db"], *global_options]
    try:
        pcso.main([*global_options, *map(str, command)], prog_name="pcso", obj=signed)
    except SystemExit as exit:
        return exit.code if isinstance(exit.code, int) else (0 if exit.code is None else 1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
