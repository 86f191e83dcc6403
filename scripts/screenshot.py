"""Take the README's screenshot: the operator screen of a demo world in the middle of an outage.

    python scripts/screenshot.py [--out docs/screenshot.svg] [--steps 12]

Builds a demo world in a temporary directory with ``pcso demo --steps N`` (the simulation sends
alerts through the normal ingest path; incidents and a proactive case follow), opens the
workspace headless as the demo's operator and saves an SVG (Textual's own screenshot).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


async def shoot(database: Path, out: Path, size: tuple[int, int]) -> None:
    from pcso_tui.app import PcsoApp
    from pcso_tui.cli.common import CliContext
    from pcso_tui.widgets.themes import builtin_themes_dir

    context = CliContext(
        db_option=str(database),
        config_option=database.with_suffix(".none.toml"),
        as_name=None,
        authenticated_user="olivia",
    )
    app = PcsoApp(
        context,
        state_file=database.with_suffix(".ui.json"),
        theme_dirs=[builtin_themes_dir()],
        cursor_blink=False,
    )
    async with app.run_test(size=size) as pilot:
        for _ in range(500):  # up to ten seconds for the first page of alerts
            await pilot.pause(0.02)
            table = app.screen.query("AlertTable")
            if table and table.first().row_count:
                break
        else:
            raise SystemExit("the operator screen showed no alerts")
        await pilot.pause(0.5)
        app.save_screenshot(filename=out.name, path=str(out.parent))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshot.svg")
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--size", default="120x34", help="columns x rows")
    args = parser.parse_args()
    columns, rows = (int(n) for n in args.size.split("x"))
    with tempfile.TemporaryDirectory() as folder:
        database = Path(folder) / "demo.db"
        env = os.environ | {"XDG_DATA_HOME": folder, "XDG_CONFIG_HOME": folder, "XDG_STATE_HOME": folder}
        subprocess.run(
            [Path(sys.executable).with_name("pcso"), "demo", "--db", str(database), "--steps", str(args.steps)],
            check=True,
            env=env,
            stdout=subprocess.DEVNULL,
        )
        asyncio.run(shoot(database, args.out.resolve(), (columns, rows)))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
