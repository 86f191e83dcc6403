"""Several OS processes writing one embedded database at once — agents (cases, notes,
priorities), operators (alert acknowledgements) and the receiver (ingest) — and nobody ever
sees "database is locked" or any other failure. Driven by ``bench/bench_load.py``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]


def test_many_writer_processes_on_one_sqlite_file_all_succeed(tmp_path: Path) -> None:
    env = os.environ | {"PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    # At least 4 s, and on until every actor did 25 operations of all its kinds: a loaded
    # machine stretches the run instead of thinning it below what the assertions need.
    args = ["--agents", "3", "--operators", "2", "--seconds", "4", "--alerts-per-second", "25", "--min-ops", "25"]
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench_load.py"), *args, "--db", str(tmp_path / "shared.db"), "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=True,
    )
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["errors"] == []
    assert set(report["by_operation"]) == {
        "open case",
        "priority",
        "work note",
        "queue",
        "alerts",
        "acknowledge",
        "ingest",
    }
    assert report["by_operation"]["ingest"] >= 25  # the receiver kept its pace beside the writers
    assert (tmp_path / "shared.db").stat().st_mode & 0o777 == 0o660
