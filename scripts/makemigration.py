#!/usr/bin/env python3
"""Write a new Alembic migration from the difference between the models and the migrations.

    python scripts/makemigration.py "add outage region"       # next revision after head
    python scripts/makemigration.py --replace-initial          # rewrite 0001 (before 1.0 only)

It upgrades a scratch SQLite database to head, compares it with ``models.py`` and writes the
revision into ``src/pcso_tui/domain/core/migrations/versions``. Review it before committing; then
set ``HEAD`` in ``migrations/__init__.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from alembic import command

from pcso_tui.domain.core.db import Database
from pcso_tui.domain.core.schema import MIGRATIONS, alembic_config


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("message", nargs="?", default="initial schema")
    parser.add_argument("--replace-initial", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(Path(tmp) / "scratch.db")
        async with db.write_engine.begin() as conn:

            def generate(connection: object) -> None:
                config = alembic_config(connection)
                if args.replace_initial:
                    # Set the later revisions aside while 0001 is rewritten against an empty database.
                    versions = MIGRATIONS / "versions"
                    later = [p for p in versions.glob("[0-9][0-9][0-9][0-9]_*.py") if not p.name.startswith("0001")]
                    for p in versions.glob("0001_*.py"):
                        p.unlink()
                    parked = Path(tmp) / "parked"
                    parked.mkdir()
                    for p in later:
                        p.rename(parked / p.name)
                    try:
                        command.revision(config, args.message, autogenerate=True, rev_id="0001", head="base")
                    finally:
                        for p in later:
                            (parked / p.name).rename(p)
                else:
                    command.upgrade(config, "head")
                    versions = sorted(p.name[:4] for p in (MIGRATIONS / "versions").glob("[0-9][0-9][0-9][0-9]_*.py"))
                    next_id = f"{int(versions[-1]) + 1:04d}" if versions else "0001"
                    command.revision(config, args.message, autogenerate=True, rev_id=next_id)

            await conn.run_sync(generate)
        await db.dispose()


if __name__ == "__main__":
    asyncio.run(main())
