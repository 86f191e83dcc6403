"""``pcso gateway`` against a real SSH client (OpenSSH's ``ssh``) and tmux, on loopback.

One gateway serves the module (a tiny demo world: admin, the agent adam, the customer carl of
ACC-000001); tests that change its limits start their own. Skipped without ssh or tmux.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from pcso_tui.domain.core.service import Domain
from pcso_tui.domain.core.user_keys import add_user_key, gateway_secret
from pcso_tui.domain.core.users import sign_in
from pcso_tui.gateway import (
    BadTicket,
    FailureLimit,
    GatewayError,
    check_ticket,
    load_host_key,
    refuse_command,
    sign_ticket,
)

SSH = shutil.which("ssh")
TMUX = shutil.which("tmux")
needs_ssh = pytest.mark.skipif(SSH is None or shutil.which("ssh-keygen") is None, reason="OpenSSH client not installed")
needs_tmux = pytest.mark.skipif(TMUX is None, reason="tmux not installed")


# --- tickets, limits, commands, the host key: no network -----------------------------------------


def test_a_ticket_names_its_user_and_key_only_with_its_secret() -> None:
    secret = os.urandom(32)
    ticket = sign_ticket(secret, "adam", "SHA256:abc")
    assert check_ticket(secret, ticket) == ("adam", "SHA256:abc")
    with pytest.raises(BadTicket, match="not signed"):
        check_ticket(os.urandom(32), ticket)
    mac = ticket.split(".")[1]
    forged = sign_ticket(secret, "admin", "SHA256:abc").split(".")[0]
    with pytest.raises(BadTicket, match="not signed"):
        check_ticket(secret, f"{forged}.{mac}")
    with pytest.raises(BadTicket, match="expired"):
        check_ticket(secret, ticket, now=time.time() + 3600)
    with pytest.raises(BadTicket):
        check_ticket(secret, "not a ticket")


def test_failures_are_limited_per_address_for_a_window() -> None:
    now = [0.0]
    limit = FailureLimit(failures=2, window=60, clock=lambda: now[0])
    limit.failed("10.0.0.1")
    assert not limit.blocked("10.0.0.1")
    limit.failed("10.0.0.1")
    assert limit.blocked("10.0.0.1") and not limit.blocked("10.0.0.2")
    now[0] = 61
    assert not limit.blocked("10.0.0.1")


@pytest.mark.parametrize(
    ("command", "says"),
    [
        (["--db", "/tmp/x.db", "cases", "list"], "global options"),
        (["--as", "admin", "users", "list"], "global options"),
        (["gateway"], "not offered over SSH"),
        (["seed"], "not offered over SSH"),
        (["db", "upgrade"], "not offered over SSH"),
        (["ingest", "/etc/passwd"], "names a path"),
        (["report", "--out=../x.html"], "names a path"),
        (["report", "--out", "~/x.html"], "names a path"),
    ],
)
def test_commands_that_reach_past_the_session_are_refused(command: list[str], says: str) -> None:
    refused = refuse_command(command)
    assert refused is not None and says in refused


def test_ordinary_commands_pass() -> None:
    assert refuse_command(["cases", "list", "--json"]) is None
    assert refuse_command(["case", "note", "CS0000001", "checked a/b and c/d"]) is None
    assert refuse_command(["ingest", "-"]) is None
    assert refuse_command([]) is None


def test_the_host_key_is_made_private_once_and_refused_when_open(tmp_path: Path) -> None:
    path = tmp_path / "gw" / "host_key"
    first = load_host_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert load_host_key(path).get_fingerprint("sha256") == first.get_fingerprint("sha256")
    path.chmod(0o644)
    with pytest.raises(GatewayError, match=r"open to others \(mode 0644\): chmod 600 it"):
        load_host_key(path)


# --- a real gateway and a real client ------------------------------------------------------------


@dataclass
class World:
    root: Path
    db: Path
    config: Path
    keys: dict[str, Path]
    fingerprints: dict[str, str]


def keygen(path: Path) -> str:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", path.name, "-f", str(path)], check=True)
    listed = subprocess.run(["ssh-keygen", "-lf", f"{path}.pub"], check=True, capture_output=True, text=True)
    return listed.stdout.split()[1]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    if SSH is None or shutil.which("ssh-keygen") is None:
        pytest.skip("OpenSSH client not installed")
    root = tmp_path_factory.mktemp("gateway")
    db, config = root / "pcso.db", root / "config.toml"
    config.write_text("")
    env = {**os.environ, "PCSO_CONFIG": str(config)}
    subprocess.run(
        [sys.executable, "-m", "pcso_tui", "--db", str(db), "seed", "--size", "tiny"],
        check=True,
        env=env,
        capture_output=True,
    )
    keys = {name: root / f"id_{name}" for name in ("admin", "adam", "carl", "stranger")}
    fingerprints = {name: keygen(path) for name, path in keys.items()}

    async def register() -> None:
        domain = await Domain.open(db)
        admin = await sign_in(domain, "admin")
        for name in ("admin", "adam", "carl"):
            await add_user_key(domain, admin, name, Path(f"{keys[name]}.pub").read_text())
        await domain.close()

    asyncio.run(register())
    return World(root, db, config, keys, fingerprints)


@dataclass
class Gateway:
    process: subprocess.Popen[str]
    port: int
    log: Path

    def logged(self) -> str:
        return self.log.read_text()


def start_gateway(world: World, name: str, *options: str) -> Gateway:
    log = world.root / f"{name}.log"
    with socket.socket() as probe:  # a free port; the gateway binds it a moment later
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "pcso_tui", "--db", str(world.db), "gateway", "--port", str(port)),
            *("--host-key", str(world.root / f"{name}_host_key"), *options),
        ],
        env={**os.environ, "PCSO_CONFIG": str(world.config)},
        stderr=log.open("w"),
        text=True,
    )
    gateway = Gateway(process, port, log)
    wait_for(lambda: "listening on" in gateway.logged() or process.poll() is not None, 60)
    assert process.poll() is None, gateway.logged()
    return gateway


def stop_gateway(gateway: Gateway) -> None:
    gateway.process.terminate()
    gateway.process.wait(10)


def wait_for(condition: Callable[[], object], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.1)


@pytest.fixture(scope="module")
def gateway(world: World) -> Iterator[Gateway]:
    # A high failure limit: the refusal tests would otherwise lock the others out.
    gateway = start_gateway(world, "main", "--max-failures", "1000")
    yield gateway
    stop_gateway(gateway)


def ssh_args(world: World, gateway: Gateway, user: str, key: str | None = None, *options: str) -> list[str]:
    return [
        str(SSH),
        "-p",
        str(gateway.port),
        "-i",
        str(world.keys[key or user]),
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        "UserKnownHostsFile=/dev/null",
        "-o",
        "BatchMode=yes",
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        "LogLevel=ERROR",
        *options,
        f"{user}@127.0.0.1",
    ]


def ssh(
    world: World,
    gateway: Gateway,
    user: str,
    *command: str,
    key: str | None = None,
    options: tuple[str, ...] = (),
    stdin: str = "",
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*ssh_args(world, gateway, user, key, *options), *command],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


@needs_ssh
def test_exec_runs_the_cli_as_the_keys_user(world: World, gateway: Gateway) -> None:
    agent = ssh(world, gateway, "adam", "cases", "list", "--json")
    assert agent.returncode == 0, agent.stderr
    customer = ssh(world, gateway, "carl", "cases", "list", "--json")
    assert customer.returncode == 0, customer.stderr
    agents_accounts = {c["account_number"] for c in json.loads(agent.stdout)}
    customers_accounts = {c["account_number"] for c in json.loads(customer.stdout)}
    assert len(agents_accounts) > 1 and customers_accounts == {"ACC-000001"}


@needs_ssh
def test_a_refusal_comes_back_as_stderr_and_exit_status(world: World, gateway: Gateway) -> None:
    result = ssh(world, gateway, "adam", "users", "list")
    assert result.returncode == 4 and result.stdout == ""
    assert result.stderr.strip() == "pcso: adam (agent) may not manage users"


@needs_ssh
def test_an_unknown_key_or_another_users_key_is_refused_and_logged(world: World, gateway: Gateway) -> None:
    unknown = ssh(world, gateway, "adam", "cases", "list", key="stranger")
    assert unknown.returncode == 255 and "Permission denied (publickey)" in unknown.stderr
    borrowed = ssh(world, gateway, "admin", "users", "list", key="carl")
    assert borrowed.returncode == 255 and "Permission denied (publickey)" in borrowed.stderr
    wait_for(lambda: world.fingerprints["carl"] in gateway.logged().split("failed sign-in as 'admin'")[-1], 10)
    assert f"failed sign-in as 'adam' from 127.0.0.1 with key {world.fingerprints['stranger']}" in gateway.logged()


@needs_ssh
def test_no_shell_only_pcso(world: World, gateway: Gateway, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    for command in ("sh -c id", "bash", f"touch {marker}; id", "id"):
        result = ssh(world, gateway, "adam", command)
        assert result.returncode == 2 and "uid=" not in result.stdout + result.stderr, command
    assert "No such command 'id'" in result.stderr and not marker.exists()
    no_terminal = ssh(world, gateway, "adam", options=("-T",))
    assert no_terminal.returncode == 1 and "the workspace needs a terminal" in no_terminal.stderr
    sftp = subprocess.run(
        [*ssh_args(world, gateway, "adam", None, "-s"), "sftp"], input="", capture_output=True, text=True, timeout=60
    )
    assert sftp.returncode != 0


@needs_ssh
def test_port_forwarding_is_refused(world: World, gateway: Gateway) -> None:
    stdio = ssh(world, gateway, "adam", options=("-W", f"127.0.0.1:{gateway.port}"))
    assert stdio.returncode == 255 and "forwarding failed" in stdio.stderr
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        local = probe.getsockname()[1]
    forward = subprocess.Popen(
        [*ssh_args(world, gateway, "adam", None, "-N", "-L", f"{local}:127.0.0.1:{gateway.port}")],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: _connects(local), 30)
        with socket.create_connection(("127.0.0.1", local), timeout=10) as through:
            assert through.recv(100) == b""  # closed at once: no SSH banner from the other side
        wait_for(lambda: "refused port forwarding for adam" in gateway.logged(), 10)
    finally:
        forward.kill()
        forward.wait(10)


def _connects(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


@needs_ssh
def test_the_clients_environment_changes_nothing(world: World, gateway: Gateway) -> None:
    forged = ("-o", "SetEnv=PCSO_USER=admin PCSO_DATABASE_URL=/tmp/other.db LOGNAME=admin USER=admin")
    result = ssh(world, gateway, "adam", "users", "list", options=forged)
    assert result.returncode == 4 and "adam (agent) may not manage users" in result.stderr
    assert not Path("/tmp/other.db").exists()


@needs_ssh
def test_events_made_through_the_gateway_name_the_key(world: World, gateway: Gateway) -> None:
    new_key = world.root / "id_adam_second"
    fingerprint = keygen(new_key)
    added = ssh(world, gateway, "admin", "users", "keys", "add", "adam", "-", stdin=Path(f"{new_key}.pub").read_text())
    assert added.returncode == 0 and fingerprint in added.stdout, added.stderr
    events = json.loads(ssh(world, gateway, "admin", "events", "list", "--limit", "100000", "--json").stdout)
    (event,) = [e for e in events if e["kind"] == "user.key_added" and e["payload"]["fingerprint"] == fingerprint]
    assert event["actor_name"] == "admin" and event["key_fingerprint"] == world.fingerprints["admin"]


@needs_ssh
def test_a_session_child_refuses_a_ticket_it_cannot_verify(world: World, gateway: Gateway) -> None:
    """What a local user could try: start the session child with a ticket of their own."""
    read_end, write_end = os.pipe()
    ticket = sign_ticket(os.urandom(32), "admin", "SHA256:forged")
    os.write(write_end, json.dumps({"db": str(world.db), "config": str(world.config), "ticket": ticket}).encode())
    os.close(write_end)
    child = subprocess.run(
        [sys.executable, "-m", "pcso_tui.gateway_session", str(read_end), "users", "list"],
        pass_fds=(read_end,),
        capture_output=True,
        text=True,
        timeout=60,
    )
    os.close(read_end)
    assert child.returncode == 4 and "refused (ticket not signed by this database's gateway)" in child.stderr
    assert child.stdout == ""

    async def real_secret() -> bytes:
        domain = await Domain.open(world.db)
        try:
            return await gateway_secret(domain, create=False)
        finally:
            await domain.close()

    assert len(asyncio.run(real_secret())) == 32


# --- the workspace through tmux --------------------------------------------------------------------


class Tmux:
    def __init__(self, socket_name: str) -> None:
        self.socket = socket_name

    def __call__(self, *args: str) -> str:
        return subprocess.run(
            [str(TMUX), "-L", self.socket, *args], capture_output=True, text=True, check=True, timeout=30
        ).stdout

    def screen(self) -> list[str]:
        return self("capture-pane", "-p").splitlines()


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[Tmux]:
    session = Tmux(f"pcso-gw-{os.getpid()}-{tmp_path.name}")
    yield session
    subprocess.run([str(TMUX), "-L", session.socket, "kill-server"], capture_output=True)


def session_children(gateway: Gateway) -> list[psutil.Process]:
    return [
        p
        for p in psutil.Process(gateway.process.pid).children(recursive=True)
        if "pcso_tui.gateway_session" in " ".join(p.cmdline())
    ]


@needs_ssh
@needs_tmux
def test_the_workspace_renders_at_80x24_resizes_and_ends_with_the_connection(
    world: World, gateway: Gateway, tmux: Tmux
) -> None:
    command = " ".join([*ssh_args(world, gateway, "adam", None, "-tt")])
    tmux("new-session", "-d", "-x", "80", "-y", "24", f"TERM=xterm-256color {command}")
    wait_for(lambda: tmux.screen()[0].rstrip().endswith("live"), 90)
    screen = tmux.screen()
    assert len(screen) == 24 and screen[0].split()[:2] == ["pcso", "Agent"] and "(agent)" in screen[0]
    assert screen[0].rstrip().endswith("live") and max(len(line) for line in screen) <= 80
    assert session_children(gateway), "the workspace runs in a session child"
    assert "38;5;" in tmux("capture-pane", "-p", "-e")  # 256 colours, as the client's TERM says

    tmux("resize-window", "-x", "100", "-y", "30")
    wait_for(
        lambda: (
            len(tmux.screen()) == 30
            and tmux.screen()[0].rstrip().endswith("live")
            and len(tmux.screen()[0].rstrip()) > 80
        ),
        30,
    )
    assert "(agent)" in tmux.screen()[0]

    tmux("kill-server")  # the client goes away without a word
    wait_for(lambda: not session_children(gateway), 30)


@needs_ssh
def test_limits_refuse_an_address_after_failures_and_close_idle_sessions(world: World) -> None:
    gateway = start_gateway(world, "strict", "--max-failures", "2", "--idle-timeout", "2")
    try:
        idle = subprocess.Popen(
            [*ssh_args(world, gateway, "adam"), "ingest", "-"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        idle.wait(60)  # its standard input stays open and silent
        assert idle.stderr is not None and "closed after being idle" in idle.stderr.read()
        assert idle.returncode != 0

        for _ in range(2):
            assert ssh(world, gateway, "adam", "cases", "list", key="stranger").returncode == 255
        wait_for(lambda: gateway.logged().count("failed sign-in") >= 2, 10)
        blocked = ssh(world, gateway, "adam", "cases", "list")  # the right key, from a blocked address
        assert blocked.returncode == 255
        assert "refused connection from 127.0.0.1: too many failed sign-ins" in gateway.logged()
    finally:
        stop_gateway(gateway)


@needs_ssh
@needs_tmux
def test_a_customer_key_gets_the_portal_only(world: World, gateway: Gateway, tmux: Tmux) -> None:
    command = " ".join(ssh_args(world, gateway, "carl", None, "-tt"))
    tmux("new-session", "-d", "-x", "80", "-y", "24", f"TERM=xterm {command}")
    wait_for(lambda: "(customer)" in tmux.screen()[0], 90)
    assert "pcso  Customer portal │ Carl Jensen (customer)" in tmux.screen()[0]
    coloured = tmux("capture-pane", "-p", "-e")
    assert "\x1b[3" in coloured and "38;5;" not in coloured and "38;2;" not in coloured  # TERM=xterm: 16


def test_a_sessions_environment_is_built_not_inherited(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pcso_tui.connection import Connection
    from pcso_tui.gateway import Gateway as Server
    from pcso_tui.gateway import GatewaySettings

    monkeypatch.setenv("PCSO_USER", "admin")
    monkeypatch.setenv("PCSO_DATABASE_URL", "/tmp/other.db")
    server = Server(Connection(None, None, None), GatewaySettings(host_key=tmp_path / "gw" / "key"))
    env = server.child_env("adam", "xterm-256color")
    assert env["TERM"] == "xterm-256color" and not [k for k in env if k.startswith("PCSO")]
    assert server.child_env("adam", "\x1b]0;evil\x07")["TERM"] == "dumb"
    assert server.child_env("adam", None)["TERM"] == "dumb"


@needs_ssh
async def test_what_an_asyncssh_client_asks_for_beyond_a_command_is_refused(world: World, gateway: Gateway) -> None:
    import asyncssh

    async with asyncssh.connect(
        "127.0.0.1",
        gateway.port,
        username="adam",
        client_keys=[str(world.keys["adam"])],
        known_hosts=None,
        agent_path=None,
    ) as conn:
        result = await conn.run("users list", env={"PCSO_USER": "admin", "LOGNAME": "admin"})
        assert result.exit_status == 4 and "adam (agent) may not manage users" in str(result.stderr)
        with pytest.raises(asyncssh.ChannelOpenError):
            await conn.create_connection(asyncssh.SSHTCPSession, "127.0.0.1", gateway.port)
        with pytest.raises(asyncssh.ChannelListenError):
            await conn.forward_remote_port("127.0.0.1", 0, "127.0.0.1", gateway.port)
        with pytest.raises(asyncssh.ChannelOpenError, match="Session request failed"):
            await conn.start_sftp_client()


def test_the_gateway_refuses_to_start_with_one_line(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from pcso_tui.cli import main

    key = tmp_path / "host_key"
    load_host_key(key)
    key.chmod(0o640)
    db = str(tmp_path / "pcso.db")
    assert CliRunner().invoke(main, ["--db", db, "db", "upgrade"]).exit_code == 0  # pcso opens, never conjures
    result = CliRunner().invoke(main, ["--db", db, "gateway", "--port", "0", "--host-key", str(key)])
    assert (
        result.exit_code == 1 and result.stderr == f"pcso: host key {key} is open to others (mode 0640): chmod 600 it\n"
    )

    key.chmod(0o600)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        busy = CliRunner().invoke(main, ["--db", db, "gateway", "--port", str(port), "--host-key", str(key)])
    assert busy.exit_code == 1 and busy.stderr.startswith(f"pcso: cannot listen on 127.0.0.1:{port}: ")
    assert len(busy.stderr.splitlines()) == 1
