"""``pcso import``, ``pcso accounts`` and ``pcso cis``: the install base in and out."""

from __future__ import annotations

import io
import sys
from typing import TYPE_CHECKING, Any

import click

from pcso_tui.cli.common import CliContext, emit_json, emit_table, json_option, pass_cli, run_command, with_domain
from pcso_tui.domain.core.text import one_line
from pcso_tui.domain.install_base.views import IMPORT_KINDS

if TYPE_CHECKING:
    from pcso_tui.domain.core.roles import Actor
    from pcso_tui.domain.core.service import Domain
    from pcso_tui.domain.install_base.views import AccountDetail, ImportResult


class _Counter:
    """Rows read so far, on one rewritten line of stderr; silent unless stderr is a terminal."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.shown = False
        self.enabled = sys.stderr.isatty()

    def __call__(self, rows: int) -> None:
        if self.enabled:
            click.echo(f"\rimporting {self.kind}: {rows:,} rows read", err=True, nl=False)
            self.shown = True

    def done(self) -> None:
        if self.shown:
            click.echo("\r\x1b[2K", err=True, nl=False)


def _summary(result: ImportResult) -> str:
    what = f"{result.kind} from {one_line(result.file_name)}: {result.rows:,} row{'s' if result.rows != 1 else ''}"
    if not result.changed:
        return f"{what}; nothing changed ({result.unchanged:,} unchanged)"
    counts = f"{result.inserted:,} inserted, {result.updated:,} updated, {result.unchanged:,} unchanged"
    if result.rerooted:
        counts += f"; {result.rerooted:,} items below them moved to a new root"
    return f"{what}: {counts}"


@click.command("import")
@click.argument("kind", type=click.Choice(IMPORT_KINDS))
@click.argument("file", metavar="FILE|-")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "jsonl"]),
    help="The file's format (default: from its extension; needed for stdin).",
)
@json_option
@pass_cli
def import_command(ctx: CliContext, kind: str, file: str, fmt: str | None, as_json: bool) -> None:
    """Import install base records from CSV or JSON Lines (admins only).

    KIND is one of: accounts, contacts, products, sold_products, cis, ci_relations,
    install_base_items. FILE is a .csv or .jsonl file, or - for stdin (with --format).
    Records are upserted by number (CIs by name), so importing a file again changes nothing.
    A file with any bad row imports nothing; every bad row and field is listed.
    See docs/import.md for the columns of each kind.
    """
    from pcso_tui.domain.install_base.importer import import_records

    source: Any = file
    name = None
    if file == "-":
        if fmt is None:
            raise click.UsageError("reading stdin needs --format csv|jsonl")
        source = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8-sig", newline="")
        name = "<stdin>"
    counter = _Counter(kind)

    async def action(domain: Domain, actor: Actor) -> ImportResult:
        try:
            return await import_records(domain, actor, kind, source, fmt=fmt, name=name, progress=counter)
        finally:
            counter.done()

    result = with_domain(ctx, action)
    if as_json:
        emit_json(result)
    else:
        click.echo(_summary(result))


# --- accounts -------------------------------------------------------------------------------


@click.group("accounts")
def accounts_group() -> None:
    """Customer accounts, their contacts and install base."""


@accounts_group.command("list")
@click.option("--search", metavar="TEXT", help="Only those whose number or name contains TEXT.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=100, show_default=True)
@click.option("--offset", type=click.IntRange(0), default=0, show_default=True)
@json_option
@pass_cli
def accounts_list(ctx: CliContext, search: str | None, limit: int, offset: int, as_json: bool) -> None:
    """Accounts by number, with their counts of contacts and install base items."""
    from pcso_tui.domain.install_base.accounts import list_accounts

    run_command(
        ctx,
        list_accounts,
        search=search,
        limit=limit,
        offset=offset,
        as_json=as_json,
        show=lambda found: emit_table(
            ["number", "name", "tier", "region", "contacts", "items"],
            [(a.number, a.name, a.tier, a.region, a.contacts, a.items) for a in found],
        ),
    )


@accounts_group.command("show")
@click.argument("number")
@click.option("--items", "item_limit", type=click.IntRange(1, 10_000), default=1_000, show_default=True)
@json_option
@pass_cli
def accounts_show(ctx: CliContext, number: str, item_limit: int, as_json: bool) -> None:
    """One account: its details, contacts and install base items with their characteristics."""
    from pcso_tui.domain.install_base.accounts import get_account

    async def action(domain: Domain, actor: Actor) -> AccountDetail:
        return await get_account(domain, actor, number, item_limit=item_limit)

    detail = with_domain(ctx, action)
    if as_json:
        emit_json(detail)
        return
    a = detail.account
    for label, value in (
        ("account", a.number),
        ("name", a.name),
        ("tier", a.tier),
        ("region", a.region),
        ("industry", a.industry),
        ("external", "yes" if a.is_external else "no (internal)"),
    ):
        click.echo(f"{label + ':':10}{one_line(value)}".rstrip())
    click.echo(f"\ncontacts ({a.contacts})")
    emit_table(
        ["number", "name", "role", "email", "phone", "channel", "primary", "opted out"],
        [
            (
                c.number,
                c.name,
                c.role,
                c.email,
                c.phone,
                c.preferred_channel,
                "yes" if c.is_primary else "",
                "yes" if c.opted_out else "",
            )
            for c in detail.contacts
        ],
    )
    shown = f", first {len(detail.items)}" if len(detail.items) < detail.items_total else ""
    click.echo(f"\ninstall base items ({detail.items_total}{shown})")
    emit_table(
        ["number", "name", "product", "parent", "ci", "service", "status", "characteristics"],
        [
            (
                i.number,
                i.name,
                i.product_number,
                i.parent_number,
                i.ci_name,
                i.service_name,
                i.status,
                ", ".join(f"{k}={v}" for k, v in i.characteristics.items()),
            )
            for i in detail.items
        ],
    )


# --- CIs ----------------------------------------------------------------------------------


@click.group("cis")
def cis_group() -> None:
    """Configuration items: the service map."""


@cis_group.command("list")
@click.option("--search", metavar="TEXT", help="Only those whose name or description contains TEXT.")
@click.option("--kind", metavar="KIND", help="Only CIs of this kind (host, service …).")
@click.option("--limit", type=click.IntRange(1, 10_000), default=100, show_default=True)
@click.option("--offset", type=click.IntRange(0), default=0, show_default=True)
@json_option
@pass_cli
def cis_list(ctx: CliContext, search: str | None, kind: str | None, limit: int, offset: int, as_json: bool) -> None:
    """CIs by name, with how many they depend on, how many depend on them, and items on them."""
    from pcso_tui.domain.install_base.accounts import list_cis

    run_command(
        ctx,
        list_cis,
        search=search,
        kind=kind,
        limit=limit,
        offset=offset,
        as_json=as_json,
        show=lambda found: emit_table(
            ["name", "kind", "environment", "location", "shared", "depends on", "dependents", "items"],
            [
                (
                    c.name,
                    c.kind,
                    c.environment,
                    c.location,
                    "yes" if c.multi_tenant else "",
                    c.dependencies,
                    c.dependents,
                    c.items,
                )
                for c in found
            ],
        ),
    )


commands = (import_command, accounts_group, cis_group)
