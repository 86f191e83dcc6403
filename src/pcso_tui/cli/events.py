"""``pcso events``: the event log."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from pcso_tui.cli.common import CliContext, emit_json, emit_table, json_option, pass_cli, with_domain

if TYPE_CHECKING:
    from pcso_tui.domain.core.roles import Actor
    from pcso_tui.domain.core.service import Domain


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

    async def action(domain: Domain, actor: Actor) -> Any:
        return await list_events(domain, actor, since_id=since_id, limit=limit)

    found = with_domain(ctx, action)
    if as_json:
        emit_json(found)
    else:
        emit_table(
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
        )
