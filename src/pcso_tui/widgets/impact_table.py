"""``ImpactTable``: one page of the accounts an incident touches, keyed by account id.

    table = ImpactTable(id="impact")
    table.show_page(impact)             # an ImpactView: totals and one page of accounts

Each row: account number and name, tier, region, health (the worst active alert reaching the
account's affected items: glyph + word, ``✔ ok`` when none), affected items, products and the
characteristics (versions, regions …). ``summary(impact)`` is the line above it. Text is shown
literally. The page comes from SQL (``domain.impact.impact_of``); at most ``page_size`` rows
are mounted.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text

from pcso_tui.domain.core.text import one_line
from pcso_tui.domain.core.views import incident_number
from pcso_tui.domain.install_base.views import ImpactAccountView, ImpactView
from pcso_tui.widgets.alert_table import FixedWidthTable
from pcso_tui.widgets.cells import SEVERITIES, severity_cell, severity_colour, use_ascii

COLUMNS = (
    ("account", "Account", 10),
    ("name", "Name", 18, 1),
    ("tier", "Tier", 8),
    ("region", "Region", 10),
    ("health", "Health", 10),
    ("items", "Items", 5),
    ("products", "Products", 24),
    ("traits", "Characteristics", 30),
)


def health_cell(health: str) -> Any:
    if health in SEVERITIES and health != "clear":
        return severity_cell(health)
    glyph = "+" if use_ascii() else "✔"
    return Text(f"{glyph} {one_line(health, 10)}", style=severity_colour("clear") or "", no_wrap=True, end="")


def account_cells(account: ImpactAccountView) -> tuple[Any, ...]:
    name = account.name if account.is_external else f"{account.name} (internal)"
    return (
        account.number,
        name,
        account.tier,
        account.region,
        health_cell(account.health),
        account.items,
        account.products,
        account.characteristics,
    )


def summary(impact: ImpactView, width: int | None = None) -> str:
    """``INC0000001: 12 accounts (10 external), 340 items, 25 CIs, 30 contacts · 1–12 of 12``.

    Given the ``width`` of its line, the totals that matter least give way first (contacts,
    then CIs, then items, then the incident's number), so the line is never cut."""
    what = incident_number(impact.incident_id) if impact.incident_id is not None else "these CIs"
    if impact.account_count == 0:
        return f"{what}: no install base item depends on its {impact.ci_count} CIs"
    first = impact.offset + 1 if impact.accounts else impact.offset
    last = impact.offset + len(impact.accounts)
    accounts = f"{impact.account_count:,} accounts ({impact.external_account_count:,} external)"
    totals = [f"{impact.item_count:,} items", f"{impact.ci_count:,} CIs", f"{impact.contact_count:,} contacts"]
    page = f" · {first:,}–{last:,} of {impact.matched_accounts:,}"
    line = f"{what}: {', '.join([accounts, *totals])}{page}"
    while width is not None and len(line) > width and totals:
        totals.pop()
        line = f"{what}: {', '.join([accounts, *totals])}{page}"
    if width is not None and len(line) > width:
        line = f"{accounts}{page}"
    return line


class ImpactTable(FixedWidthTable):
    BINDING_GROUP_TITLE = "Impact"

    def __init__(self, *, page_size: int = 100, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(COLUMNS, max_rows=page_size, id=id, classes=classes)
        self.accounts: dict[int, ImpactAccountView] = {}

    def show_page(self, impact: ImpactView) -> None:
        """Show exactly this page's accounts, in its order (business weight)."""
        wanted = {a.account_id: a for a in impact.accounts}
        with self._batch():
            gone = [key for key in self.accounts if key not in wanted]
            self.remove_rows(gone)
            for key in gone:
                self.accounts.pop(key, None)
            changed = {k: account_cells(a) for k, a in wanted.items() if self.accounts.get(k) != a}
            if changed:
                self.upsert_rows(changed)
            self.accounts = dict(wanted)
            order = list(wanted)
            if self.row_keys() != order:
                rank = {id(self.get_row(self._key(key))[0]): n for n, key in enumerate(order)}
                self.sort(key=lambda cells: rank.get(id(cells[0]), len(rank)))

    def clear_page(self) -> None:
        self.remove_rows(list(self.accounts))
        self.accounts.clear()
