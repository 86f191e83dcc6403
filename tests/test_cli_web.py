"""``pcso web``: its options and usage errors, and the real command serving on loopback until
SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from pcso_tui.cli import main

ENV = {"PCSO_CONFIG": "/nonexistent/pcso-config.toml"}


def invoke(*args: str) -> Any:
    return CliRunner().invoke(main, ["--db", "/tmp/unused.db", "web", *args], env=ENV)


def test_help_names_the_options_and_the_worker() -> None:
    result = CliRunner().invoke(main, ["web", "--help"])
    assert result.exit_code == 0
    for word in ("--host", "--port", "--public-url", "--behind-proxy", "pcso worker"):
        assert word in result.output


def test_a_bad_public_url_is_a_usage_error() -> None:
    result = invoke("--public-url", "ftp://portal.example.com")
    assert result.exit_code == 2 and "public_url must start with http:// or https://" in result.output
    result = invoke("--port", "0")
    assert result.exit_code == 2


def test_a_bad_web_section_is_one_line(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[web]\nportt = 8080\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["--db", "/tmp/unused.db", "--config", str(config), "web"])
    assert result.exit_code == 6, result.output
    assert "web: unknown key 'portt'" in result.output and "Traceback" not in result.output


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_pcso_web_serves_the_sign_in_page_until_sigterm(tmp_path: Path) -> None:
    db = tmp_path / "pcso.db"
    subprocess.run(
        [sys.executable, "-m", "pcso_tui", "--db", str(db), "db", "upgrade"],
        env={**os.environ, **ENV},
        check=True,
        capture_output=True,
        timeout=120,
    )
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "pcso_tui", "--db", str(db), "web", "--port", str(port)],
        env={**os.environ, **ENV},
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stderr is not None
        line = server.stderr.readline()
        assert f"customer portal on http://127.0.0.1:{port}" in line, line
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/sign-in", timeout=30) as response:
            page = response.read().decode()
            assert response.status == 200 and "HttpOnly" in response.headers["Set-Cookie"]
        assert "Send me a sign-in link" in page
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    assert server.returncode == 0
