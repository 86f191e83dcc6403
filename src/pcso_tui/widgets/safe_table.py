"""``SafeTable``: a DataTable that live screens update by row key.

    table = SafeTable([("sev", "Severity"), ("ci", "CI"), ("count", "Count")], max_rows=2000)
    table.upsert_rows({alert.id: (severity_cell(alert.severity), alert.ci, alert.count)})
    table.remove_rows([closed_id])

- Rows are added or changed in place by key; the table is never cleared, so the cursor stays
  on its row and the view does not jump (DataTable.clear() throws both away).
- Every cell goes through ``cells.safe_cell``: data is shown literally, never as markup,
  and control characters are made visible.
- It is bounded: an upsert that would take the table past ``max_rows`` is refused whole
  (``TableFull``) — page or filter in SQL instead. The built-in DataTable measures every
  cell on the event loop, so thousands of mounted rows freeze the screen (docs/performance.md).
- Changes made in one call repaint once.
- Nothing arrives unseen: rows added while the list is scrolled, that land above the rows on
  screen, are counted until they are scrolled into view; the table's top border then says
  "↑ 3 new above · Home: newest"; a sort keeps the cursor on its row. Home and End go to the
  first and last row (Ctrl+Home and Ctrl+End too).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import Any, Self, TypeVar

from rich.text import Text
from textual.binding import Binding
from textual.content import Content
from textual.geometry import Size
from textual.reactive import reactive
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey, RowKey

from pcso_tui.widgets.cells import safe_cell, safe_text

# "key", ("key", "Label"), ("key", "Label", width) or ("key", "Label", minimum width, share):
# a column with a share grows with the table, taking that share of the width left over.
ColumnSpec = str | tuple[str, str] | tuple[str, str, int] | tuple[str, str, int, int]

DEFAULT_MAX_ROWS = 2000

# A table's row key: any hashable value (Mapping is invariant in its key type).
K = TypeVar("K", bound=Hashable)


class TableFull(ValueError):
    """An upsert would take a SafeTable past its ``max_rows``; nothing was changed."""


class SafeTable(DataTable[Any]):
    """A DataTable updated by row key, with safe cells and a bound on mounted rows."""

    DEFAULT_CSS = """
    SafeTable {
        height: 1fr;
    }
    SafeTable.-new-above {
        border-top: solid $warning;
        border-title-color: $warning;
        border-title-style: bold;
        border-title-align: left;
    }
    """

    BINDINGS = [
        Binding("home", "first_row", "First row (the newest)", show=False),
        Binding("end", "last_row", "Last row", show=False),
    ]

    # Rows that arrived above the rows on screen and were not scrolled into view yet.
    new_above: reactive[int] = reactive(0, init=False)

    def __init__(
        self,
        columns: Sequence[ColumnSpec] = (),
        *,
        max_rows: int = DEFAULT_MAX_ROWS,
        cursor_type: str = "row",
        zebra_stripes: bool = False,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(
            name=name,
            id=id,
            classes=classes,
            cursor_type=cursor_type,  # type: ignore[arg-type]
            zebra_stripes=zebra_stripes,
        )
        if max_rows < 1:
            raise ValueError("max_rows must be at least 1")
        self.max_rows = max_rows
        self._keys: dict[str, Hashable] = {}
        self._column_keys: list[ColumnKey] = []
        self._shares: dict[ColumnKey, tuple[int, int]] = {}
        self._arrived: set[str] = set()
        self._unseen: set[str] = set()
        for spec in columns:
            self.add_safe_column(spec)

    # --- columns -----------------------------------------------------------------------------

    def add_safe_column(self, spec: ColumnSpec) -> ColumnKey:
        """Add a column: ``"key"``, ``("key", "Label")``, ``("key", "Label", width)`` or
        ``("key", "Label", minimum width, share)``."""
        share = 0
        if isinstance(spec, str):
            key, label, width = spec, spec, None
        elif len(spec) == 2:
            key, label, width = spec[0], spec[1], None
        elif len(spec) == 3:
            key, label, width = spec
        else:
            key, label, width, share = spec
        column_key = self.add_column(safe_text(label), key=key, width=width)
        self._column_keys.append(column_key)
        if share > 0 and width is not None:
            self._shares[column_key] = (width, share)
        return column_key

    # --- columns share the width ---------------------------------------------------------------

    def on_resize(self) -> None:
        self.share_width()

    def share_width(self) -> None:
        """Give the width the columns' minimums leave over to the columns with a share, so text
        columns grow with the terminal instead of cutting names short beside unused space."""
        if not self._shares:
            return
        room = self.scrollable_content_region.width
        for key, (minimum, _) in self._shares.items():
            self.columns[key].width = minimum
        spare = room - sum(column.get_render_width(self) for column in self.columns.values())
        if spare > 0:
            total = sum(share for _, share in self._shares.values())
            given = 0
            for n, (key, (minimum, share)) in enumerate(self._shares.items()):
                extra = spare - given if n == len(self._shares) - 1 else spare * share // total
                self.columns[key].width = minimum + extra
                given += extra
        width = sum(column.get_render_width(self) for column in self.columns.values())
        self.virtual_size = Size(width, self.virtual_size.height)
        self.refresh()

    # --- rows by key ----------------------------------------------------------------------------

    @property
    def room(self) -> int:
        """How many more rows fit."""
        return self.max_rows - self.row_count

    def row_keys(self) -> list[Hashable]:
        """The keys of the rows, in display order."""
        return [self._keys[row.key.value] for row in self.ordered_rows if row.key.value is not None]

    def has_row(self, key: Hashable) -> bool:
        return self._key(key) in self._keys

    @property
    def cursor_key(self) -> Hashable | None:
        """The key of the row under the cursor (None when the table is empty)."""
        if not self.row_count:
            return None
        row_key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key
        return self._keys.get(row_key.value) if row_key.value is not None else None

    def row_plain(self, key: Hashable) -> tuple[str, ...]:
        """The row's cells as the plain text shown (for tests and copy)."""
        cells = self.get_row(self._key(key))
        return tuple(getattr(cell, "plain", str(cell)) for cell in cells)

    @staticmethod
    def _key(key: Hashable) -> str:
        return key if isinstance(key, str) else repr(key)

    def upsert_rows(self, rows: Mapping[K, Sequence[Any]]) -> tuple[int, int]:
        """Add new rows and change existing ones, by key. Returns (added, changed).

        Raises ``TableFull`` (changing nothing) when the new rows do not fit in ``max_rows``,
        and ``ValueError`` when a row has more cells than there are columns.
        """
        width = len(self._column_keys)
        prepared: dict[str, tuple[Hashable, list[Any]]] = {}
        for key, cells in rows.items():
            if len(cells) > width:
                raise ValueError(f"row {key!r} has {len(cells)} cells for {width} columns")
            safe = [safe_cell(c) for c in cells] + [safe_cell(None)] * (width - len(cells))
            prepared[self._key(key)] = (key, safe)
        new = [k for k in prepared if k not in self._keys]
        if len(new) > self.room:
            raise TableFull(
                f"the table holds at most {self.max_rows} rows ({self.row_count} shown, {len(new)} new): "
                "page or filter the query"
            )
        added = changed = 0
        if new and self.row_count:  # the first rows of a table are not news
            self._arrived.update(new)
            if self.is_attached:
                # Counted once the rows are in place and the view has settled (the caller
                # may still sort them and keep the selected row where it was on screen).
                self.call_after_refresh(self.count_new_above)
        with self._batch():
            for str_key, (original, safe) in prepared.items():
                if str_key in self._keys:
                    current = self.get_row(str_key)
                    for column_key, old, value in zip(self._column_keys, current, safe, strict=True):
                        if old != value:
                            self.update_cell(str_key, column_key, value, update_width=self._widens(column_key, value))
                            changed += 1
                else:
                    self.add_row(*safe, key=str_key)
                    self._keys[str_key] = original
                    added += 1
        return added, changed

    def _widens(self, column_key: Any, value: Any) -> bool:
        """Whether ``value`` needs its column wider. Columns grow but never shrink on an update:
        DataTable re-measures the whole column whenever a cell gets narrower, once per cell, so
        ageing a page of rows ("59s" → "1m") would measure rows × rows cells and freeze the loop."""
        column = self.columns.get(column_key)
        if column is None or not isinstance(value, Text):
            return True
        return value.cell_len > column.content_width

    def sort(self, *columns: Any, key: Any = None, reverse: bool = False) -> Self:
        """Sort the rows; the cursor stays on its row, at the same height on screen (at the
        top of the list the top stays in view, so rows sorted in above show at once)."""
        cursor = self.coordinate_to_cell_key(self.cursor_coordinate).row_key if self.row_count else None
        top = int(self.scroll_y)
        offset = self.cursor_row - top
        super().sort(*columns, key=key, reverse=reverse)
        if cursor is not None and cursor.value in self._keys:
            index = self.get_row_index(cursor)
            if index != self.cursor_row:
                self.move_cursor(row=index, animate=False, scroll=False)
                keep_top = top == 0 and index < self.scrollable_content_region.height - self.header_height
                if not keep_top:
                    self.scroll_to(y=max(0, index - offset), animate=False, immediate=True)
        return self

    # --- nothing arrives unseen -------------------------------------------------------------

    def count_new_above(self) -> int:
        """Count the rows that arrived above the rows on screen (and forget those now seen)."""
        top = int(self.scroll_y)
        for key in self._arrived:
            if key in self._keys and self.get_row_index(key) < top:
                self._unseen.add(key)
        self._arrived.clear()
        self._forget_seen(top)
        return self.new_above

    def _forget_seen(self, top: int) -> None:
        self._unseen = {k for k in self._unseen if k in self._keys and self.get_row_index(k) < top}
        self.new_above = len(self._unseen)

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if self._unseen and int(new_value) < int(old_value):
            self._forget_seen(int(new_value))

    def watch_new_above(self, count: int) -> None:
        self.set_class(count > 0, "-new-above")
        self.border_title = Content(f"↑ {count} new above · Home: newest") if count else None

    def action_first_row(self) -> None:
        """To the first row (the newest, in a list newest first)."""
        if self.row_count:
            self.move_cursor(row=0, animate=False)
        self.scroll_to(y=0, animate=False, immediate=True)

    def action_last_row(self) -> None:
        if self.row_count:
            self.move_cursor(row=self.row_count - 1, animate=False)

    def remove_rows(self, keys: Iterable[Hashable]) -> int:
        """Remove rows by key (unknown keys are ignored). The cursor stays on its row."""
        doomed = [k for k in {self._key(key) for key in keys} if k in self._keys]
        if not doomed:
            return 0
        cursor_key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key if self.row_count else None
        top = int(self.scroll_y)
        above = sum(1 for k in doomed if self.get_row_index(k) < top)
        with self._batch():
            for k in doomed:
                self.remove_row(k)
            if cursor_key is not None and cursor_key.value in self._keys:
                self.move_cursor(row=self.get_row_index(cursor_key), animate=False, scroll=False)
            if above:
                self.scroll_to(y=max(0, top - above), animate=False, immediate=True)
        return len(doomed)

    def _batch(self) -> Any:
        from contextlib import nullcontext

        return self.app.batch_update() if self.is_attached else nullcontext()

    # --- guard the ways around the safety ---------------------------------------------------

    def add_row(self, *cells: Any, height: int | None = 1, key: str | None = None, label: Any = None) -> RowKey:
        # Cells reaching the DataTable directly are made safe too (a str would be parsed as markup).
        if self.row_count >= self.max_rows:
            raise TableFull(f"the table holds at most {self.max_rows} rows: page or filter the query")
        row_key = super().add_row(
            *(safe_cell(c) for c in cells),
            height=height,
            key=key,
            label=safe_cell(label) if label is not None else None,
        )
        assert row_key.value is not None
        self._keys.setdefault(row_key.value, row_key.value)
        return row_key

    def update_cell(
        self, row_key: RowKey | str, column_key: ColumnKey | str, value: Any, *, update_width=False
    ) -> None:
        super().update_cell(row_key, column_key, safe_cell(value), update_width=update_width)

    def remove_row(self, row_key: RowKey | str) -> None:
        super().remove_row(row_key)
        value = row_key.value if isinstance(row_key, RowKey) else row_key
        self._keys.pop(value, None)  # type: ignore[arg-type]

    def clear(self, columns: bool = False) -> SafeTable:
        """Refused: live tables are updated by key (``remove_rows`` to drop rows)."""
        raise TypeError("SafeTable is never cleared: use upsert_rows/remove_rows so cursor and scroll survive")
