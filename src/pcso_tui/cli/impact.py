"""``pcso impact``: who an outage touches — CIs, install base items, accounts, contacts."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from pcso_tui.cli.common import CliContext, emit_table, json_option, pass_cli, run_command
from pcso_tui.domain.core.text import one_line

if TYPE_CHECKING:
    from pcso_tui.domain.install_base.views import ImpactView

NEAREST_SHOWN = 8


@click.command("impact")
@click.argument("ci_names", nargs=-1, metavar="[CI_NAME]...")
@click.option("--incident", metavar="INC…", help="The impact of an incident's CIs instead.")
@click.option("--page", type=click.IntRange(min=1), default=None, help="Which page of accounts (from 1).")
@click.option("--offset", type=click.IntRange(min=0), default=None, help="Skip this many accounts instead.")
@click.option("--page-size", type=click.IntRange(1, 1000), default=50, show_default=True, help="Accounts per page.")
@click.option("--search", default=None, metavar="TEXT", help="Only accounts whose number or name contains TEXT.")
@json_option
@pass_cli
def group(
    ctx: CliContext,
    ci_names: tuple[str, ...],
    incident: str | None,
    page: int | None,
    offset: int | None,
    page_size: int,
    search: str | None,
    as_json: bool,
) -> None:
    """What breaks if CI_NAME (or the CIs of --incident) goes down.

    Totals of affected CIs, install base items, accounts and contacts, then a page of the
    affected accounts, most important first (tier, then how many of their items are hit),
    with what they run there and their health (the worst active alert their CIs depend on).
    """
    from pcso_tui.domain.core.views import parse_number
    from pcso_tui.domain.install_base.impact import impact_of

    if bool(ci_names) == bool(incident):
        raise click.UsageError("name the CIs that broke, or give --incident — one of the two")
    if page is not None and offset is not None:
        raise click.UsageError("--page and --offset say the same thing; give one")
    incident_id = None
    if incident:
        incident_id = parse_number(incident, "INC")
        if incident_id is None:
            raise click.UsageError(f"not an incident number: {one_line(incident)!r} (expected INC0000042 or 42)")
    start = offset if offset is not None else ((page or 1) - 1) * page_size

    run_command(
        ctx,
        impact_of,
        ci_names=list(ci_names) if ci_names else None,
        incident_id=incident_id,
        page_size=page_size,
        offset=start,
        search=search,
        as_json=as_json,
        show=lambda view: _print(view, incident or ", ".join(ci_names)),
    )


def _print(view: ImpactView, what: str) -> None:
    click.echo(f"Impact of {one_line(what, 100)}")
    click.echo(
        f"  {view.ci_count} CIs · {view.item_count} install base items · {view.account_count} accounts "
        f"({view.external_account_count} external) · {view.contact_count} contacts"
    )
    if view.cis:
        shown = view.cis[:NEAREST_SHOWN]
        nearest = ", ".join(f"{one_line(c.name, 40)} ({one_line(c.kind, 20)}, {c.distance})" for c in shown)
        more = view.ci_count - len(shown)
        click.echo(f"  nearest CIs: {nearest}" + (f" and {more} more" if more > 0 else ""))
    if not view.accounts:
        click.echo("  no accounts on this page" if view.matched_accounts else "  no accounts affected")
        return
    first = view.offset + 1
    last = view.offset + len(view.accounts)
    matching = f" matching {one_line(view.search, 40)!r}" if view.search else ""
    click.echo(f"Accounts {first}–{last} of {view.matched_accounts}{matching}:")
    emit_table(
        ["account", "name", "tier", "region", "items", "health", "contact", "channel", "products", "characteristics"],
        [
            (
                a.number,
                a.name,
                a.tier,
                a.region,
                a.items,
                a.health,
                a.contact_name or "",
                a.contact_channel or "",
                a.products,
                a.characteristics,
            )
            for a in view.accounts
        ],
    )
