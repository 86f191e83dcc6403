"""``pcso events``: the event log."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from pcso_tui.cli.common import CliContext, emit_table, json_option, pass_cli, run_command

if TYPE_CHECKING:
    pass


@click.group("events")
def group() -> None:
    """The event log: the audit trail and the live feed."""


@group.command("list")
@click.option("--since", "since_id", type=int, default=0, show_default=True, help="Only events after this id.")
@click.option("--limit", type=click.IntRange(1, 100_000), default=100, show_default=True)
@json_option
@pass_cli
def events_list(ctx: CliContext, since_id: int, limit: int, as_json: bool) -> None:
    """Events after an id, oldest first."""
    from pcso_tui.domain.core.audit import list_events

    run_command(
        ctx,
        list_events,
        since_id=since_id,
        limit=limit,
        as_json=as_json,
        show=lambda found: emit_table(
            ["id", "at", "actor", "kind", "subject"],
            [
                (
                    e.id,
                    e.at.strftime("%Y-%m-%d %H:%M:%S"),
                    e.actor_name + (f" (via {e.impersonator})" if e.impersonator else ""),
                    e.kind,
                    f"{e.subject_type} {e.subject_id or ''}",
                )
                for e in found
            ],
        ),
    )
