"""Start-up and shutdown of the real ``pcso`` process: the first frame stays light, SIGHUP ends cleanly."""

from __future__ import annotations

import asyncio
import fcntl
import os
import select
import signal
import struct
import subprocess
import sys
import termios
import textwrap
import time
from pathlib import Path

import pytest
from tests.identity import add_me_as_admin

DATABASE_STACK = ("sqlalchemy", "aiosqlite", "alembic", "asyncpg")


def loaded_after(code: str) -> list[str]:
    probe = (
        code
        + "\nimport sys\nprint(','.join(sorted({m.split('.')[0] for m in sys.modules}"
        + f" & {set(DATABASE_STACK)!r})))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return [m for m in out.stdout.strip().split(",") if m]


def test_the_workspace_modules_load_without_the_database_stack() -> None:
    code = textwrap.dedent(
        """
        import pcso_tui.cli, pcso_tui.app
        import pcso_tui.screens.operator, pcso_tui.screens.agent, pcso_tui.screens.manager
        import pcso_tui.screens.portal, pcso_tui.screens.dashboard, pcso_tui.screens.help
        import pcso_tui.widgets.safe_table, pcso_tui.widgets.event_ticker, pcso_tui.widgets.palette
        """
    )
    assert loaded_after(code) == []


def test_the_database_stack_loads_only_after_the_first_frame(world_url: str, tmp_path: Path) -> None:
    # Record what is loaded at the moment the App starts connecting (after its first refresh).
    script = textwrap.dedent(
        f"""
        import sys
        from pathlib import Path
        from pcso_tui.app import PcsoApp
        from pcso_tui.connection import Connection

        class Probe(PcsoApp):
            seen = None
            def _start_connecting(self):
                Probe.seen = sorted({{m.split('.')[0] for m in sys.modules}} & {set(DATABASE_STACK)!r})
                self.exit()

        app = Probe(Connection({world_url!r}, Path({str(tmp_path / "none.toml")!r}), None,
                               authenticated_user="operator"),
                    state_file=Path({str(tmp_path / "ui.json")!r}))
        app.run(headless=True)
        print(",".join(Probe.seen))
        """
    )
    env = dict(os.environ)
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, env=env, timeout=60
    )
    assert out.stdout.strip() == ""


def test_quitting_mid_query_leaves_nothing_to_block_exit(world_url: str, tmp_path: Path) -> None:
    # Polling without pause, so that quitting often lands in the middle of a query. A query cut
    # in half by cancellation leaves SQLAlchemy's close of that connection waiting for ever,
    # and asyncio.run never returns (it waits for every cancelled task).
    script = textwrap.dedent(
        f"""
        from pathlib import Path
        from pcso_tui.app import create_app
        from pcso_tui.connection import Connection

        async def quit_when_live(pilot):
            app = pilot.app
            while not (app.session is not None and app.feed_state == "live"):
                await pilot.pause(0.01)
            await pilot.pause(0.05)
            app.exit()

        for _ in range(8):
            app = create_app(Connection({world_url!r}, Path({str(tmp_path / "none.toml")!r}), None,
                               authenticated_user="operator"),
                             state_file=Path({str(tmp_path / "ui.json")!r}), feed_interval=0)
            app.run(headless=True, auto_pilot=quit_when_live)
            assert app.domain is None and app.follower is None
        print("exited")
        """
    )
    env = dict(os.environ)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "exited"


def _spawn_in_terminal(args: list[str], env: dict[str, str], stdout_path: Path) -> tuple[subprocess.Popen[bytes], int]:
    """Run ``args`` with a pseudo-terminal (80×24) as its controlling terminal.

    Textual draws on stderr; stdout goes to a file (nothing should be printed there).
    """
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))

    def become_controlling_terminal() -> None:
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    with stdout_path.open("wb") as stdout:
        process = subprocess.Popen(
            args,
            stdin=slave,
            stdout=stdout,
            stderr=slave,
            env=env,
            start_new_session=True,
            preexec_fn=become_controlling_terminal,
        )
    os.close(slave)
    return process, master


def _read_until(master: int, marker: bytes, timeout: float) -> bytes:
    seen = b""
    deadline = time.monotonic() + timeout
    while marker not in seen:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"{marker!r} never appeared; the terminal showed: {seen[-400:]!r}")
        ready, _, _ = select.select([master], [], [], left)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
    return seen


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="pseudo-terminal behaviour checked on Linux")
@pytest.mark.parametrize("how", ["terminal closed", "SIGTERM"])
def test_the_workspace_ends_cleanly_on_hangup_and_terminate(world_url: str, tmp_path: Path, how: str) -> None:
    asyncio.run(add_me_as_admin(world_url))
    env = dict(
        os.environ,
        PCSO_CONFIG=str(tmp_path / "none.toml"),
        XDG_STATE_HOME=str(tmp_path / "state"),
        TERM="xterm-256color",
    )
    stdout = tmp_path / "stdout.txt"
    wal = Path(world_url + "-wal")
    process, master = _spawn_in_terminal(
        [sys.executable, "-m", "pcso_tui", "--db", world_url, "--as", "operator"], env, stdout
    )
    try:
        _read_until(master, b"live", timeout=60)  # signed in, the feed running
        assert wal.exists()  # the workspace holds the database open
        if how == "terminal closed":
            os.close(master)  # the kernel sends SIGHUP to the session
            master = -1
            expected = 128 + signal.SIGHUP
        else:
            process.send_signal(signal.SIGTERM)
            expected = 128 + signal.SIGTERM
        code = process.wait(timeout=30)
    finally:
        if master >= 0:
            os.close(master)
        if process.poll() is None:
            process.kill()
            process.wait()
    # Our handler ended it (an error on the way out would have made the exit code 1) ...
    assert code == expected
    # ... after closing every connection: SQLite removes the WAL when the last one closes.
    assert not wal.exists()
    assert stdout.read_text(errors="replace") == ""
