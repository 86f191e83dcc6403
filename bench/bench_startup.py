"""Time to first frame: the pcso workspace against a minimal Textual app, in the same run.

Each run starts a fresh process on a pseudo-terminal of 80×24 (its controlling terminal, as
in a real session) and times from just before the spawn until the terminal has received the
frame's text:

- **minimal**: a Textual app with one ``Static``; the frame is in when its text arrives;
- **workspace first frame**: ``python -m pcso_tui --db …`` (the real ``pcso`` entry point,
  click and all); the frame is in when the connecting screen's "Connecting" arrives;
- **workspace ready**: the same run, until the header says "live" — the database stack loaded,
  the user signed in, the role's screen drawn and the live feed polling.

Both sides pay the interpreter start and Textual's import; the runs alternate so drift hits
both alike. Medians of ``--runs`` (default 5) after one untimed warm-up each. Goal: the
workspace's first frame within 2× the minimal app's.

``--against SRC`` adds a third side in the same run: the workspace from another source tree
(e.g. a checkout of an earlier commit's ``src``), started the same way with ``PYTHONPATH=SRC``,
so a change can be shown not to slow start-up.

    .venv/bin/python bench/bench_startup.py [--runs 5] [--against ../old/src]
"""

from __future__ import annotations

import argparse
import fcntl
import os
import pwd
import select
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import textwrap
import time
from pathlib import Path

MINIMAL_APP = textwrap.dedent(
    """
    from textual.app import App
    from textual.widgets import Static

    class Minimal(App):
        def compose(self):
            yield Static("minimal first frame")

    Minimal().run()
    """
)
MINIMAL_MARKER = b"minimal first frame"
FIRST_FRAME_MARKER = b"Connecting"
READY_MARKER = b"live"
TIMEOUT = 60.0


def spawn(args: list[str], env: dict[str, str]) -> tuple[subprocess.Popen[bytes], int, float]:
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))

    def controlling_terminal() -> None:
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    started = time.perf_counter()
    process = subprocess.Popen(
        args,
        stdin=slave,
        stdout=slave,
        stderr=slave,  # Textual draws on stderr
        env=env,
        start_new_session=True,
        preexec_fn=controlling_terminal,
    )
    os.close(slave)
    return process, master, started


def wait_for(master: int, markers: list[bytes], started: float) -> list[float]:
    """Seconds from spawn until each marker has arrived, in order."""
    seen = b""
    times: list[float] = []
    deadline = time.monotonic() + TIMEOUT
    while len(times) < len(markers):
        left = deadline - time.monotonic()
        if left <= 0:
            raise SystemExit(f"timed out waiting for {markers[len(times)]!r}; last output: {seen[-300:]!r}")
        ready, _, _ = select.select([master], [], [], left)
        if not ready:
            continue
        try:
            chunk = os.read(master, 65536)
        except OSError:
            chunk = b""
        if not chunk:
            raise SystemExit(f"the process ended before {markers[len(times)]!r}; last output: {seen[-300:]!r}")
        seen += chunk
        now = time.perf_counter()
        while len(times) < len(markers) and markers[len(times)] in seen:
            times.append(now - started)
    return times


def run_once(args: list[str], env: dict[str, str], markers: list[bytes]) -> list[float]:
    process, master, started = spawn(args, env)
    try:
        return wait_for(master, markers, started)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        os.close(master)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--against", type=Path, help="another source tree's src/ to time beside this one")
    options = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="pcso-bench-startup-") as tmp:
        folder = Path(tmp)
        env = dict(
            os.environ,
            TERM="xterm-256color",
            PCSO_CONFIG=str(folder / "none.toml"),
            XDG_STATE_HOME=str(folder / "state"),
            XDG_DATA_HOME=str(folder / "data"),
        )
        env.pop("PCSO_DATABASE_URL", None)
        database = folder / "bench" / "pcso.db"
        # Not timed: a migrated database with one user to sign in as, the OS account running this.
        me = pwd.getpwuid(os.getuid()).pw_name
        subprocess.run(
            [sys.executable, "-m", "pcso_tui", "--db", str(database), "users", "add", me, "--role", "admin"],
            env=env,
            check=True,
            capture_output=True,
        )
        minimal_script = folder / "minimal_app.py"
        minimal_script.write_text(MINIMAL_APP)
        minimal = [sys.executable, str(minimal_script)]
        workspace = [sys.executable, "-m", "pcso_tui", "--db", str(database)]

        other_env = dict(env, PYTHONPATH=str(options.against.resolve())) if options.against else None
        other_database = folder / "against" / "pcso.db"
        other_workspace = [sys.executable, "-m", "pcso_tui", "--db", str(other_database)]
        if other_env:
            # Its own database, made by its own code: the two trees' schemas may differ.
            subprocess.run(
                [*other_workspace, "users", "add", me, "--role", "admin"],
                env=other_env,
                check=True,
                capture_output=True,
            )
        run_once(minimal, env, [MINIMAL_MARKER])  # warm-ups: bytecode and file caches
        run_once(workspace, env, [FIRST_FRAME_MARKER, READY_MARKER])
        if other_env:
            run_once(other_workspace, other_env, [FIRST_FRAME_MARKER, READY_MARKER])
        minimal_times: list[float] = []
        first_frames: list[float] = []
        ready_times: list[float] = []
        other_first: list[float] = []
        other_ready: list[float] = []
        for _ in range(options.runs):
            minimal_times.extend(run_once(minimal, env, [MINIMAL_MARKER]))
            first, ready = run_once(workspace, env, [FIRST_FRAME_MARKER, READY_MARKER])
            first_frames.append(first)
            ready_times.append(ready)
            if other_env:
                first, ready = run_once(other_workspace, other_env, [FIRST_FRAME_MARKER, READY_MARKER])
                other_first.append(first)
                other_ready.append(ready)

    base = statistics.median(minimal_times)
    first = statistics.median(first_frames)
    ready = statistics.median(ready_times)
    print(f"time to first frame: median of {options.runs} fresh processes each, 80×24 pseudo-terminal")
    print(f"  {'minimal Textual app (one Static)':40} {base:6.3f} s")
    print(f"  {'pcso workspace, first frame':40} {first:6.3f} s   {first / base:4.2f}× minimal (goal ≤ 2×)")
    print(f"  {'pcso workspace, signed in and live':40} {ready:6.3f} s   {ready / base:4.2f}× minimal")
    if other_first:
        o_first, o_ready = statistics.median(other_first), statistics.median(other_ready)
        print(f"  {'--against tree, first frame':40} {o_first:6.3f} s   {o_first / base:4.2f}× minimal")
        print(f"  {'--against tree, signed in and live':40} {o_ready:6.3f} s   {o_ready / base:4.2f}× minimal")
        print(f"  this tree / --against tree: first frame {first / o_first:4.2f}×, live {ready / o_ready:4.2f}×")
    print(
        "  runs (s): minimal "
        + " ".join(f"{t:.3f}" for t in minimal_times)
        + " | first frame "
        + " ".join(f"{t:.3f}" for t in first_frames)
    )


if __name__ == "__main__":
    main()
