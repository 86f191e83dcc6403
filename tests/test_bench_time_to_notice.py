"""The time-to-notice bench end to end on a tiny world: one Alertmanager POST to ``pcso serve``,
the rule opens the proactive case and accepts its major case, ``pcso worker`` sends every
notice to the SMTP server on loopback. Checks what arrived, never how fast."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
ACCOUNTS = 20


def run_bench(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PCSO_DATABASE_URL", "PCSO_CONFIG")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])
    return subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench_time_to_notice.py"), "--accounts", str(ACCOUNTS), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


def check_every_notice_arrived(out: subprocess.CompletedProcess[str]) -> None:
    assert out.returncode == 0, out.stdout + out.stderr
    text = out.stdout
    assert f"all notices received: yes ({ACCOUNTS}, each contact exactly once)" in text
    counted = re.search(r"notices received by the SMTP server\s+(\d+) of (\d+) to be told", text)
    assert counted is not None and counted.groups() == (str(ACCOUNTS), str(ACCOUNTS)), text
    # The chain went through the rule: one child case per account, plus the proactive case.
    assert f"major case accepted, {ACCOUNTS + 1} child cases" in text
    assert re.search(r"POST → first notice at SMTP server\s+\d+\.\d+ s", text), text
    assert f"{{'sent': {ACCOUNTS}}}" in text


def test_one_alert_reaches_every_affected_contact_on_sqlite() -> None:
    check_every_notice_arrived(run_bench())


@pytest.mark.postgres
def test_one_alert_reaches_every_affected_contact_on_postgresql() -> None:
    url = os.environ.get("PCSO_TEST_DATABASE_URL")
    if not url:
        pytest.skip("PCSO_TEST_DATABASE_URL is not set: PostgreSQL tests skipped")
    check_every_notice_arrived(run_bench("--db", url))
