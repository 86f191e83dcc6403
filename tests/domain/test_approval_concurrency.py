"""Two managers, two OS processes, one proposal: exactly one approval, one child per account.

Each process opens the same database (the SQLite file, or PostgreSQL when configured), signs
in, says "ready", and waits for a go-file; the test creates it once both are waiting, so the
two commands start within milliseconds of each other.
"""

from __future__ import annotations

import asyncio
import json
import sys
import textwrap
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select

from pcso_tui.domain.casework import major_cases as mc
from pcso_tui.domain.core.models import Case, Event, Notice
from pcso_tui.domain.core.roles import Actor, Role
from pcso_tui.domain.core.service import Domain
from tests.domain.case_world import AFFECTED, NOTIFIED, SKIPPED, build_world

pytestmark = pytest.mark.slow

RACER = textwrap.dedent(
    """
    import asyncio, json, os, sys
    from pcso_tui.domain.casework import major_cases as mc
    from pcso_tui.domain.core.errors import DomainError
    from pcso_tui.domain.core.service import Domain
    from pcso_tui.domain.core.users import sign_in

    async def main(url, operation, case_id, go):
        domain = await Domain.open(url)
        try:
            actor = await sign_in(domain, "manager")
            print("ready", flush=True)
            while not os.path.exists(go):
                await asyncio.sleep(0.002)
            try:
                if operation == "approve":
                    result = await mc.approve_major_case(domain, actor, case_id)
                    print(json.dumps({"ok": result.children_created}), flush=True)
                else:
                    result = await mc.add_affected_accounts(domain, actor, case_id, ["ACC-LATE"])
                    print(json.dumps({"ok": result.children_created}), flush=True)
            except DomainError as exc:
                print(json.dumps({"error": exc.code, "message": exc.message}), flush=True)
        finally:
            await domain.close()

    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]))
    """
)


async def race(url: str, operation: str, case_id: int, tmp_path: Path) -> list[dict]:
    go = tmp_path / f"go-{operation}"
    root = str(Path(__file__).resolve().parents[2])
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            RACER,
            url,
            operation,
            str(case_id),
            str(go),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=root,
        )
        for _ in range(2)
    ]
    for proc in procs:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), timeout=60)
        assert line.strip() == b"ready", (await proc.stderr.read()).decode() if proc.stderr else line
    go.touch()
    outputs = []
    for proc in procs:
        out, err = await asyncio.wait_for(proc.communicate(), timeout=120)
        assert proc.returncode == 0, err.decode()
        outputs.append(json.loads(out.decode().strip().splitlines()[-1]))
    return outputs


async def child_accounts(domain: Domain, major_id: int) -> Counter[int]:
    async with domain.reading() as session:
        rows = await session.scalars(select(Case.account_id).where(Case.parent_id == major_id, Case.kind == "child"))
        return Counter(rows)


async def test_two_processes_approving_at_once_make_one_major_case(
    database_url: str, domain: Domain, actors: dict[Role, Actor], tmp_path: Path
) -> None:
    await build_world(domain)
    manager = actors[Role.MANAGER]
    candidate = await mc.open_major_candidate(
        domain, manager, short_description="outage", reason="r", business_impact="b", account_numbers=AFFECTED
    )
    outputs = await race(database_url, "approve", candidate.id, tmp_path)

    assert sorted(o.get("ok", -1) for o in outputs) == [-1, len(AFFECTED)], outputs
    (refused,) = [o for o in outputs if "error" in o]
    assert refused["error"] == "illegal_transition"
    assert "is accepted and cannot become accepted" in refused["message"]
    children = await child_accounts(domain, candidate.id)
    assert len(children) == len(AFFECTED) and set(children.values()) == {1}
    async with domain.reading() as session:
        approvals = await session.scalar(
            select(func.count()).select_from(Event).where(Event.kind == "major_case.approved")
        )
        notices = await session.scalar(select(func.count()).select_from(Notice))
    assert approvals == 1
    assert notices == len(NOTIFIED) + len(SKIPPED)


async def test_two_processes_adding_the_same_account_make_one_child(
    database_url: str, domain: Domain, actors: dict[Role, Actor], tmp_path: Path
) -> None:
    await build_world(domain)
    manager = actors[Role.MANAGER]
    candidate = await mc.open_major_candidate(
        domain, manager, short_description="outage", reason="r", business_impact="b", account_numbers=["ACC-2"]
    )
    await mc.approve_major_case(domain, manager, candidate.id)
    outputs = await race(database_url, "add-accounts", candidate.id, tmp_path)

    assert sorted(o["ok"] for o in outputs) == [0, 1], outputs
    children = await child_accounts(domain, candidate.id)
    assert len(children) == 2 and set(children.values()) == {1}
