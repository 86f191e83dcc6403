"""``pcso gateway``: the workspace behind one SSH port.

Users authenticate with a public key registered for them (``pcso users keys``); nothing else is
offered: no password, no shell, no forwarding of ports, agents or X11, no subsystem (sftp).
The client's environment variables are never read.

Each session runs one ``pcso`` child process as the gateway's own account (the one that alone
holds the database): the workspace on a pseudo-terminal for a shell request, one CLI command
for an exec request. Who the child acts for is passed in a *ticket*: the user and key, an
expiry, signed (HMAC-SHA256) with a secret kept in the database itself, written to a pipe the
child inherits (``gateway_session``). A local user can start that child too, but cannot sign a
ticket without reading the database, which would already give them everything.

Why a child per session and not the App in this process: Textual drives the terminal of its
own process (``sys.__stdout__``, SIGWINCH, one active App per process), so a pty per child is
what it expects; and a dropped connection is then ended by killing one process group, which
releases whatever database lock or connection it held.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import fcntl
import hashlib
import hmac
import json
import logging
import os
import pty
import re
import secrets
import shlex
import signal
import struct
import sys
import tempfile
import termios
import time
import warnings
from collections import defaultdict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pcso_tui.domain.core.text import one_line

if TYPE_CHECKING:
    from pcso_tui.connection import Connection
    from pcso_tui.domain.core.service import Domain

with warnings.catch_warnings():
    # cryptography warns that DSA is deprecated when asyncssh is imported; DSA keys are refused.
    warnings.filterwarnings("ignore", message=".*DSA.*")
    import asyncssh

log = logging.getLogger("pcso.gateway")

TICKET_SECONDS = 60
# Top-level commands not offered over SSH: servers, workers and what creates or replaces a
# database. They are run by the service account itself.
NOT_OVER_SSH = frozenset({"gateway", "demo", "seed", "db", "serve", "worker", "status-page"})
TERM_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.+_-]{0,63}$")


# --- tickets: who a session's child acts for ------------------------------------------------


def sign_ticket(secret: bytes, user: str, key: str, *, now: float | None = None) -> str:
    body = json.dumps(
        {"user": user, "key": key, "expires": (now or time.time()) + TICKET_SECONDS, "nonce": secrets.token_hex(8)},
        separators=(",", ":"),
    ).encode()
    mac = hmac.new(secret, body, hashlib.sha256).hexdigest()
    return f"{base64.urlsafe_b64encode(body).decode()}.{mac}"


class BadTicket(Exception):
    pass


def check_ticket(secret: bytes, ticket: str, *, now: float | None = None) -> tuple[str, str]:
    """The (user, key fingerprint) a ticket was signed for; BadTicket if it was not signed
    with ``secret``, is malformed or has expired."""
    encoded, _, mac = ticket.strip().partition(".")
    try:
        body = base64.urlsafe_b64decode(encoded.encode())
    except ValueError:
        raise BadTicket("malformed ticket") from None
    if not hmac.compare_digest(hmac.new(secret, body, hashlib.sha256).hexdigest(), mac):
        raise BadTicket("ticket not signed by this database's gateway")
    fields = json.loads(body)
    if not isinstance(fields, dict) or not isinstance(fields.get("expires"), int | float):
        raise BadTicket("malformed ticket")
    if fields["expires"] < (now or time.time()):
        raise BadTicket("ticket expired")
    user, key = fields.get("user"), fields.get("key")
    if not isinstance(user, str) or not isinstance(key, str):
        raise BadTicket("malformed ticket")
    return user, key


# --- the host key ------------------------------------------------------------------------------


class GatewayError(Exception):
    """A one-line reason the gateway cannot start."""


def default_host_key() -> Path:
    from platformdirs import user_data_path

    return user_data_path("pcso-tui") / "gateway" / "ssh_host_ed25519_key"


def load_host_key(path: Path) -> asyncssh.SSHKey:
    """The host key at ``path``, made (0600, directory 0700) on first start."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        key = asyncssh.generate_private_key("ssh-ed25519", comment="pcso gateway")
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except OSError as exc:
            raise GatewayError(f"cannot write host key {path}: {exc.strerror or exc}") from None
        with os.fdopen(fd, "wb") as out:
            out.write(key.export_private_key())
        log.info("made host key %s (%s)", path, key.get_fingerprint("sha256"))
        return key
    try:
        mode = path.stat().st_mode & 0o777
    except OSError as exc:
        raise GatewayError(f"cannot read host key {path}: {exc.strerror or exc}") from None
    if mode & 0o077:
        raise GatewayError(f"host key {path} is open to others (mode {mode:04o}): chmod 600 it")
    try:
        return asyncssh.read_private_key(path)
    except (OSError, asyncssh.KeyImportError) as exc:
        raise GatewayError(f"cannot read host key {path}: {exc}") from None


# --- limits ----------------------------------------------------------------------------------


@dataclass
class FailureLimit:
    """At most ``failures`` unauthenticated connections per source address in ``window``
    seconds; after that the address is refused until the window has passed."""

    failures: int = 5
    window: float = 60.0
    clock: Callable[[], float] = time.monotonic
    _seen: dict[str, deque[float]] = field(default_factory=lambda: defaultdict(deque))

    def _recent(self, address: str) -> deque[float]:
        seen = self._seen[address]
        while seen and seen[0] <= self.clock() - self.window:
            seen.popleft()
        return seen

    def blocked(self, address: str) -> bool:
        return len(self._recent(address)) >= self.failures

    def failed(self, address: str) -> None:
        self._recent(address).append(self.clock())


@dataclass(frozen=True)
class GatewaySettings:
    host: str = "127.0.0.1"
    port: int = 2222
    host_key: Path = field(default_factory=default_host_key)
    idle_timeout: float = 900.0
    max_failures: int = 5
    failure_window: float = 60.0
    login_timeout: float = 30.0


# --- the server ------------------------------------------------------------------------------


class Gateway:
    """Owns the database connection the gateway checks keys with, and the sessions' children."""

    def __init__(self, connection: Connection, settings: GatewaySettings) -> None:
        self.connection = connection
        self.settings = settings
        self.limit = FailureLimit(settings.max_failures, settings.failure_window)
        self.domain: Domain | None = None
        self.secret = b""
        self.server: Any = None
        self.state_root = settings.host_key.parent / "state"

    async def start(self) -> Any:
        from pcso_tui.domain.core.user_keys import gateway_secret

        host_key = load_host_key(self.settings.host_key)
        self.domain = await self.connection.open_domain()
        self.secret = await gateway_secret(self.domain)
        self.server = await asyncssh.create_server(
            lambda: _Server(self),
            self.settings.host,
            self.settings.port,
            server_host_keys=[host_key],
            encoding=None,
            agent_forwarding=False,
            x11_forwarding=False,
            allow_scp=False,
            login_timeout=self.settings.login_timeout,
            # A client that vanished without closing (network gone) is noticed in ~1.5 min.
            keepalive_interval=30,
            keepalive_count_max=3,
        )
        log.info(
            "listening on %s:%s, host key %s",
            self.settings.host,
            self.port,
            host_key.get_fingerprint("sha256"),
        )
        return self.server

    @property
    def port(self) -> int:
        sockets = self.server.sockets if self.server is not None else []
        return int(sockets[0].getsockname()[1]) if sockets else self.settings.port

    @property
    def database(self) -> str | None:
        """The database as the children open it: they run in their own empty directory."""
        url = self.connection.database_url
        if url is None:  # resolved here: the children's environment has no XDG_* of ours
            from pcso_tui.domain.core.db import default_database_path

            return str(default_database_path())
        return url if "://" in url else str(Path(url).absolute())

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
        if self.domain is not None:
            await self.domain.close()

    async def key_owner(self, fingerprint: str) -> tuple[str, bool] | None:
        from pcso_tui.domain.core.user_keys import key_owner

        assert self.domain is not None
        owner = await key_owner(self.domain, fingerprint)
        return None if owner is None else (owner.name, owner.active)

    def child_input(self, user: str, key: str, command: Sequence[str] | None) -> bytes:
        """What the child reads from its inherited pipe: where the database is, the ticket,
        and the CLI command (None: the workspace). Not argv: others may read a process's argv."""
        from pcso_tui.config import config_path

        config = (self.connection.config_option or config_path()).absolute()
        return json.dumps(
            {
                "db": self.database,
                "config": str(config),
                "ticket": sign_ticket(self.secret, user, key),
                "command": None if command is None else list(command),
            }
        ).encode()

    def child_env(self, user: str, term: str | None) -> dict[str, str]:
        """The child's whole environment: built here, nothing taken from the client."""
        import pwd

        account = pwd.getpwuid(os.getuid())
        state = self.state_root / user
        state.mkdir(parents=True, exist_ok=True, mode=0o700)
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": account.pw_dir,
            "USER": account.pw_name,
            "LOGNAME": account.pw_name,
            "LANG": "C.UTF-8",
            "TERM": term if term and TERM_NAME.match(term) else "dumb",
            # Each user's small workspace choices (theme …) kept apart.
            "XDG_STATE_HOME": str(state),
        }


class _Server(asyncssh.SSHServer):
    """One SSH connection: public-key authentication only, nothing forwarded."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.conn: Any = None
        self.peer = "?"
        self.authenticated = False
        self.blocked = False
        self.username: str | None = None
        self.offered: list[str] = []
        self.accepted: tuple[str, str] | None = None

    def connection_made(self, conn: Any) -> None:
        self.conn = conn
        peer = conn.get_extra_info("peername") or ("?", 0)
        self.peer = str(peer[0])
        self.blocked = self.gateway.limit.blocked(self.peer)
        if self.blocked:
            log.warning("refused connection from %s: too many failed sign-ins", self.peer)
            conn.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.authenticated and not self.blocked:
            self.gateway.limit.failed(self.peer)
            user = self.username
            log.warning(
                "failed sign-in%s from %s%s",
                f" as {user!r}" if user else "",
                self.peer,
                f" with key {', '.join(self.offered)}" if self.offered else " (no key offered)",
            )

    def begin_auth(self, username: str) -> bool:
        self.username = username
        return True

    def password_auth_supported(self) -> bool:
        return False

    def kbdint_auth_supported(self) -> bool:
        return False

    def host_based_auth_supported(self) -> bool:
        return False

    def public_key_auth_supported(self) -> bool:
        return True

    async def validate_public_key(self, username: str, key: Any) -> bool:
        fingerprint = key.get_fingerprint("sha256")
        owner = await self.gateway.key_owner(fingerprint)
        if owner is None or owner[0] != username or not owner[1]:
            if fingerprint not in self.offered:
                self.offered.append(fingerprint)
            why = (
                "unknown key"
                if owner is None
                else ("user deactivated" if owner[0] == username else "another user's key")
            )
            log.info("key %s refused for %r from %s: %s", fingerprint, username, self.peer, why)
            return False
        self.accepted = (username, fingerprint)
        return True

    def auth_completed(self) -> None:
        self.authenticated = True
        assert self.accepted is not None
        log.info("%s signed in from %s with key %s", self.accepted[0], self.peer, self.accepted[1])

    def session_requested(self) -> _Session:
        return _Session(self.gateway)

    def connection_requested(self, *args: Any) -> bool:
        log.info("refused port forwarding for %s from %s", self.user, self.peer)
        return False

    def server_requested(self, *args: Any) -> bool:
        log.info("refused remote port forwarding for %s from %s", self.user, self.peer)
        return False

    def unix_connection_requested(self, *args: Any) -> bool:
        return False

    def unix_server_requested(self, *args: Any) -> bool:
        return False

    @property
    def user(self) -> str:
        return self.accepted[0] if self.accepted else "?"


def refuse_command(args: list[str]) -> str | None:
    """Why an exec command is not run over SSH, or None. Files are read and written by the
    service account, so no argument may name one outside the session's empty directory."""
    if not args:
        return None
    if args[0].startswith("-") and args[0] not in ("--help", "-h", "--version"):
        return "global options (--db, --config, --as) are the gateway's: start with a command"
    if args[0] in NOT_OVER_SSH:
        return f"`pcso {args[0]}` is not offered over SSH"
    for arg in args[1:]:
        for part in {arg, arg.partition("=")[2]}:
            if part.startswith(("/", "~")) or ".." in Path(part).parts:
                return f"over SSH, files come from standard input (`-`): {part[:60]!r} names a path"
    return None


class _Session(asyncssh.SSHServerSession[bytes]):
    """One channel: the workspace on a pty, or one CLI command."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.chan: Any = None
        self.term: str | None = None
        self.size: tuple[int, int] = (80, 24)
        self.pty_wanted = False
        self.command: list[str] | None = None
        self.refused: str | None = None
        self.process: asyncio.subprocess.Process | None = None
        self.master: int | None = None
        self.last_input = time.monotonic()
        self.tasks: list[asyncio.Future[Any]] = []
        self.pumps: list[asyncio.Future[Any]] = []
        self.pending: list[bytes] = []
        self.eof = False
        self.workdir: tempfile.TemporaryDirectory[str] | None = None

    # -- what the client asks for
    def connection_made(self, chan: Any) -> None:
        self.chan = chan

    def pty_requested(self, term_type: str, term_size: tuple[int, int, int, int], term_modes: Any) -> bool:
        self.pty_wanted = True
        self.term = term_type
        if term_size[0] and term_size[1]:
            self.size = (term_size[0], term_size[1])
        return True

    def shell_requested(self) -> bool:
        self.command = None
        return True

    def exec_requested(self, command: str) -> bool:
        try:
            self.command = shlex.split(command)
        except ValueError as exc:
            self.refused = f"cannot read the command: {exc}"
            return True
        self.refused = refuse_command(self.command)
        if not self.command:
            self.command = None  # `ssh host ''`: the workspace
        return True

    def subsystem_requested(self, subsystem: str) -> bool:
        log.info("refused subsystem %r", subsystem)
        return False

    def session_started(self) -> None:
        self.tasks.append(asyncio.ensure_future(self._run_or_report()))

    # -- the child
    async def _run_or_report(self) -> None:
        try:
            await self._run()
        except Exception:  # the session ends with a line; the gateway serves on
            log.exception("session failed")
            self._stop_child()
            self._finish("pcso gateway: the session could not be run\r\n", 1)

    async def _run(self) -> None:
        conn = self.chan.get_connection()
        user = conn.get_extra_info("username")
        server: _Server = conn.get_owner()
        assert server.accepted is not None and server.accepted[0] == user
        key = server.accepted[1]
        if self.refused is not None:
            self._finish(f"pcso gateway: {self.refused}\r\n", 2)
            return
        if self.command is None and not self.pty_wanted:
            self._finish("pcso gateway: the workspace needs a terminal (ssh -t)\r\n", 1)
            return
        what = "workspace" if self.command is None else one_line(shlex.join(self.command), 200)
        log.info("%s (%s): %s", user, key, what)
        self.workdir = tempfile.TemporaryDirectory(prefix="pcso-gateway-")
        read_end, write_end = os.pipe()
        try:
            self.process = await self._spawn(user, read_end)
        finally:
            os.close(read_end)
        try:
            os.write(write_end, self.gateway.child_input(user, key, self.command))
        finally:
            os.close(write_end)
        self._input_so_far()
        self.tasks.append(asyncio.ensure_future(self._idle_watch()))
        code = await self.process.wait()
        log.info("%s (%s): %s ended, exit status %s", user, key, what, code)
        await asyncio.gather(*self.pumps, return_exceptions=True)
        if self.master is not None:
            await self._drain_master()
        self._finish(None, code if code >= 0 else 128 - code)

    async def _spawn(self, user: str, ticket_fd: int) -> asyncio.subprocess.Process:
        argv = [sys.executable, "-m", "pcso_tui.gateway_session", str(ticket_fd)]
        env = self.gateway.child_env(user, self.term)
        assert self.workdir is not None
        if self.pty_wanted:
            master, slave = pty.openpty()
            self.master = master
            self._set_size(*self.size)
            try:
                process = await asyncio.create_subprocess_exec(
                    *argv,
                    stdin=slave,
                    stdout=slave,
                    stderr=slave,
                    env=env,
                    cwd=self.workdir.name,
                    pass_fds=(ticket_fd,),
                    start_new_session=True,  # its own session: the pty becomes its terminal
                )
            finally:
                os.close(slave)
            os.set_blocking(master, False)
            asyncio.get_running_loop().add_reader(master, self._from_master)
            return process
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
            cwd=self.workdir.name,
            pass_fds=(ticket_fd,),
            start_new_session=True,
        )
        assert process.stdout is not None and process.stderr is not None
        self.pumps = [
            asyncio.ensure_future(self._pump(process.stdout, self.chan.write)),
            asyncio.ensure_future(self._pump(process.stderr, self.chan.write_stderr)),
        ]
        return process

    async def _pump(self, stream: asyncio.StreamReader, write: Callable[[bytes], None]) -> None:
        while chunk := await stream.read(65536):
            write(chunk)

    def _from_master(self) -> None:
        assert self.master is not None
        try:
            data = os.read(self.master, 65536)
        except BlockingIOError:
            return
        except OSError:  # EIO: the child closed the terminal
            data = b""
        if not data:
            asyncio.get_running_loop().remove_reader(self.master)
            return
        self.chan.write(data)

    async def _drain_master(self) -> None:
        assert self.master is not None
        with contextlib.suppress(OSError):
            while data := os.read(self.master, 65536):
                self.chan.write(data)

    def _set_size(self, width: int, height: int) -> None:
        if self.master is not None:
            fcntl.ioctl(self.master, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))

    async def _idle_watch(self) -> None:
        timeout = self.gateway.settings.idle_timeout
        while self.process is not None and self.process.returncode is None:
            idle = time.monotonic() - self.last_input
            if idle >= timeout:
                log.info("closing a session idle for %.0f s", idle)
                self.chan.write_stderr(b"\r\npcso gateway: closed after being idle\r\n")
                self._stop_child()
                return
            await asyncio.sleep(min(timeout - idle, 30.0) + 0.01)

    def _stop_child(self) -> None:
        """End the child's whole process group: hang-up first (the App restores the terminal and
        ends its transaction), then kill it if it has not gone in five seconds."""
        process = self.process
        if process is None or process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGHUP)

        async def kill_later() -> None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(process.wait(), 5)
                return
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)

        self.tasks.append(asyncio.ensure_future(kill_later()))

    def _finish(self, message: str | None, code: int) -> None:
        if message:
            self.chan.write_stderr(message.encode())
        with contextlib.suppress(Exception):
            self.chan.exit(code)
        self._release()

    def _release(self) -> None:
        if self.master is not None:
            with contextlib.suppress(ValueError, OSError):
                asyncio.get_running_loop().remove_reader(self.master)
            with contextlib.suppress(OSError):
                os.close(self.master)
            self.master = None
        if self.workdir is not None:
            self.workdir.cleanup()
            self.workdir = None

    # -- from the client
    def data_received(self, data: bytes, datatype: Any) -> None:
        self.last_input = time.monotonic()
        if self.process is None:  # still starting: kept until it is
            self.pending.append(data)
        elif self.master is not None:
            with contextlib.suppress(OSError):
                os.write(self.master, data)
        elif self.process.stdin is not None:
            self.process.stdin.write(data)

    def eof_received(self) -> bool:
        self.eof = True
        if self.master is None and self.process is not None and self.process.stdin is not None:
            self.process.stdin.close()
        return True

    def _input_so_far(self) -> None:
        """What the client sent while the child was starting."""
        pending, self.pending = self.pending, []
        for data in pending:
            self.data_received(data, None)
        if self.eof:
            self.eof_received()

    def terminal_size_changed(self, width: int, height: int, pixwidth: int, pixheight: int) -> None:
        self.last_input = time.monotonic()
        if width and height:
            self.size = (width, height)
            self._set_size(width, height)

    def break_received(self, msec: int) -> bool:
        return False

    def signal_received(self, signal_name: str) -> None:
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_child()
        if self.process is None or self.process.returncode is not None:
            self._release()


async def serve(
    connection: Connection, settings: GatewaySettings, *, started: Callable[[Gateway], None] | None = None
) -> None:
    """Run the gateway until cancelled (Ctrl+C, SIGTERM)."""
    gateway = Gateway(connection, settings)
    try:
        await gateway.start()
    except OSError as exc:
        await gateway.close()
        raise GatewayError(f"cannot listen on {settings.host}:{settings.port}: {exc.strerror or exc}") from None
    if started is not None:
        started(gateway)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        await gateway.close()
