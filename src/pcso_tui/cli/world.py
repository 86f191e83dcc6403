"""``pcso seed``: a synthetic world with six months of history, deterministic by ``--seed``."""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Any, TextIO

import click

from pcso_tui.cli.common import CliContext, emit_json, emit_table, json_option, pass_cli, with_domain
from pcso_tui.domain.core.text import one_line

if TYPE_CHECKING:
    from pcso_tui.domain.core.roles import Actor
    from pcso_tui.domain.core.service import Domain

# The same names as ``pcso_tui.world.worldgen.SIZES`` (kept here so --help loads no database stack).
SIZES = ("tiny", "small", "medium", "large")
SIZE_HELP = "tiny ≈ 20 accounts · small ≈ 2,000 · medium ≈ 20,000 · large 100,000 accounts, 1,000,000 items"


class ProgressBar:
    """One line per phase on a terminal, redrawn in place: ``history  [#####-----]  52%``."""

    WIDTH = 30

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.phase: str | None = None
        self.shown = -1

    def __call__(self, phase: str, done: int, total: int) -> None:
        if phase != self.phase:
            if self.phase is not None:
                self.stream.write("\n")
            self.phase, self.shown = phase, -1
        percent = 100 if total <= 0 else min(100, done * 100 // total)
        if percent == self.shown:
            return
        self.shown = percent
        filled = self.WIDTH * percent // 100
        bar = "#" * filled + "-" * (self.WIDTH - filled)
        self.stream.write(f"\r{phase:<13} [{bar}] {percent:3d}%  {done:,}/{total:,}")
        self.stream.flush()

    def close(self) -> None:
        if self.phase is not None:
            self.stream.write("\n")
            self.stream.flush()


@click.command("seed")
@click.option("--size", type=click.Choice(SIZES), default="small", show_default=True, help=SIZE_HELP)
@click.option("--seed", "seed", type=int, default=1, show_default=True, help="The same seed builds the same world.")
@json_option
@pass_cli
def seed(ctx: CliContext, size: str, seed: int, as_json: bool) -> None:
    """Build a synthetic world in an empty database: accounts, install base, service map, history.

    Adds the demo users admin, olivia (operator), adam (agent), maria (manager) and carl (a
    customer). On a database with no users at all, you become its first admin.
    """
    from pcso_tui.domain.core.errors import UnknownUser
    from pcso_tui.domain.core.roles import Actor, Role
    from pcso_tui.domain.core.users import add_user
    from pcso_tui.world.world import has_users, refuse_unless_empty, seed_world

    bar = ProgressBar(sys.stderr) if sys.stderr.isatty() else None

    async def action(domain: Domain, _actor: Actor) -> Any:
        try:
            actor = await ctx.sign_in(domain)
        except UnknownUser:
            if await has_users(domain):
                raise
            # A database with no users at all: the OS user bootstraps it as its first admin.
            await refuse_unless_empty(domain)
            stranger = Actor(user_id=None, name=ctx.user_name(), role=Role.CUSTOMER)
            await add_user(domain, stranger, ctx.user_name(), Role.ADMIN)
            actor = await ctx.sign_in(domain)
        try:
            return await seed_world(domain, actor, size=size, seed=seed, progress=bar)
        finally:
            if bar is not None:
                bar.close()

    started = time.perf_counter()
    summary = with_domain(ctx, action, sign_in=False, create=True)
    seconds = time.perf_counter() - started
    if as_json:
        emit_json(summary)
        return
    click.echo(f"seeded a {summary.size} world (seed {summary.seed}): {summary.total_rows:,} rows in {seconds:.1f} s")
    emit_table(["table", "rows"], [(table, f"{n:,}") for table, n in summary.counts.items()])
    click.echo(
        f"history: {summary.history_from:%Y-%m-%d} to {summary.history_to:%Y-%m-%d %H:%M} UTC; "
        f"users: {', '.join(summary.users)} — carl is a customer of {summary.customer_account} "
        f"({one_line(summary.customer_account_name)})"
    )


group = seed
