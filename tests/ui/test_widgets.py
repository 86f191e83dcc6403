"""The widgets other screens build on: SafeTable, severity cells, the ticker, the header."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from rich.text import Text
from textual.app import App, ComposeResult

from pcso_tui.domain.core.views import EventView
from pcso_tui.widgets.cells import SEVERITIES, safe_cell, severity_cell, severity_content, severity_label
from pcso_tui.widgets.event_ticker import EventTicker
from pcso_tui.widgets.feed import describe_event, subject_of
from pcso_tui.widgets.header import WorkspaceHeader
from pcso_tui.widgets.safe_table import SafeTable, TableFull

HOSTILE = ["[bold]", "[/", "\x1b[2J", "[red]x[/red]", "[@click=app.quit]q[/]"]


class TableApp(App[None]):
    def __init__(self, max_rows: int = 100) -> None:
        super().__init__()
        self.max_rows = max_rows

    def compose(self) -> ComposeResult:
        yield SafeTable([("sev", "Severity"), ("name", "Name"), ("n", "Count")], max_rows=self.max_rows)


def rows(n: int, start: int = 0) -> dict[int, tuple[object, ...]]:
    return {i: (severity_cell("minor"), f"row {i}", i) for i in range(start, start + n)}


async def test_rows_are_added_and_changed_by_key() -> None:
    app = TableApp()
    async with app.run_test() as pilot:
        table = app.query_one(SafeTable)
        assert table.upsert_rows(rows(5)) == (5, 0)
        assert table.upsert_rows({2: (severity_cell("critical"), "row 2", 2)}) == (0, 1)  # one cell changed
        assert table.upsert_rows({2: (severity_cell("critical"), "row 2", 2)}) == (0, 0)  # nothing changed
        await pilot.pause()
        assert table.row_keys() == [0, 1, 2, 3, 4]
        assert table.row_plain(2) == ("✖ critical", "row 2", "2")


async def test_columns_grow_for_wider_cells_and_never_re_measure_for_narrower_ones(monkeypatch) -> None:
    app = TableApp(max_rows=300)
    async with app.run_test() as pilot:
        table = app.query_one(SafeTable)
        table.upsert_rows({i: (severity_cell("minor"), f"row {i} with a long name", i) for i in range(200)})
        await pilot.pause()
        name = table.columns[table._column_keys[1]]
        wide = name.content_width
        measured: list[int] = []
        original = table._update_column_widths

        def spy(cells):  # type: ignore[no-untyped-def]
            measured.append(len(cells))
            return original(cells)

        monkeypatch.setattr(table, "_update_column_widths", spy)
        # Every row gets a shorter name (an ageing page): no column re-measure at all.
        table.upsert_rows({i: (severity_cell("minor"), f"r{i}", i) for i in range(200)})
        await pilot.pause()
        assert measured == [] and name.content_width == wide
        # A wider cell widens its column.
        table.upsert_rows({7: (severity_cell("minor"), "x" * (wide + 10), 7)})
        await pilot.pause()
        assert name.content_width == wide + 10


async def test_cursor_stays_on_its_row_when_rows_above_go() -> None:
    app = TableApp()
    async with app.run_test() as pilot:
        table = app.query_one(SafeTable)
        table.upsert_rows(rows(10))
        await pilot.pause()
        table.move_cursor(row=6)
        assert table.cursor_key == 6
        assert table.remove_rows([0, 1, 99]) == 2  # unknown keys are ignored
        table.upsert_rows({6: (severity_cell("clear"), "row 6 cleared", 6)})
        await pilot.pause()
        assert table.cursor_key == 6
        assert table.row_keys() == [2, 3, 4, 5, 6, 7, 8, 9]


async def test_the_view_stays_on_the_same_rows_when_rows_above_go() -> None:
    app = TableApp()
    async with app.run_test(size=(60, 12)) as pilot:
        table = app.query_one(SafeTable)
        table.upsert_rows(rows(60))
        await pilot.pause()
        table.move_cursor(row=40)
        await pilot.pause()
        top_before = table.row_keys()[int(table.scroll_y)]
        assert top_before > 10
        table.remove_rows(range(10))
        await pilot.pause()
        assert table.cursor_key == 40
        assert table.row_keys()[int(table.scroll_y)] == top_before


async def test_a_table_is_never_cleared() -> None:
    app = TableApp()
    async with app.run_test():
        table = app.query_one(SafeTable)
        table.upsert_rows(rows(3))
        with pytest.raises(TypeError, match="never cleared"):
            table.clear()
        assert table.row_count == 3


async def test_the_table_is_bounded_and_refuses_whole() -> None:
    app = TableApp(max_rows=5)
    async with app.run_test():
        table = app.query_one(SafeTable)
        table.upsert_rows(rows(4))
        with pytest.raises(TableFull, match="at most 5 rows"):
            table.upsert_rows({**rows(2, start=4), 0: (severity_cell("major"), "changed", 0)})
        # Nothing changed: not the new rows, not the update that came with them.
        assert table.row_count == 4
        assert table.row_plain(0)[1] == "row 0"
        assert table.room == 1
        assert table.upsert_rows(rows(1, start=4)) == (1, 0)
        with pytest.raises(TableFull):
            table.add_row("one", "too", "many")
        with pytest.raises(ValueError, match="4 cells for 3 columns"):
            table.upsert_rows({9: ("a", "b", "c", "d")})
        assert table.row_count == 5


@pytest.mark.parametrize("hostile", HOSTILE)
async def test_cells_are_data_never_markup(hostile: str) -> None:
    app = TableApp()
    async with app.run_test() as pilot:
        table = app.query_one(SafeTable)
        table.upsert_rows({"k": (severity_cell("info"), hostile, None)})
        table.add_row(severity_cell("info"), hostile, key="direct")  # the DataTable way is made safe too
        await pilot.pause()
        expected = hostile.replace("\x1b", "\\x1b")
        assert table.row_plain("k")[1] == expected
        assert table.row_plain("direct")[1] == expected
        cells = table.get_row("k")
        assert isinstance(cells[1], Text) and cells[1].spans == []
        assert app.screen._compositor.render_strips()  # renders without a markup error


def test_safe_cell_handles_every_kind_of_value() -> None:
    assert safe_cell(None).plain == ""
    assert safe_cell(42).plain == "42" and safe_cell(42).justify == "right"
    assert safe_cell(True).plain == "yes"
    assert safe_cell("two\nlines").plain == "two lines"
    assert safe_cell(datetime(2026, 11, 23, 9, 5, tzinfo=UTC)).plain == "2026-11-23 09:05"
    made_elsewhere = Text("two\nlines", style="bold")
    assert safe_cell(made_elsewhere).plain == "two lines"
    assert safe_cell(made_elsewhere).style == "bold"
    assert safe_cell(Text("fine", style="bold")).style == "bold"


def test_severity_is_glyph_word_and_colour() -> None:
    glyphs = [severity_label(s, ascii=False) for s in SEVERITIES]
    assert glyphs == ["✖ critical", "▲ major", "● minor", "⚠ warning", "ℹ info", "✔ clear"]
    ascii = [severity_label(s, ascii=True) for s in SEVERITIES]
    assert ascii == ["X critical", "^ major", "o minor", "! warning", "i info", "+ clear"]
    assert all(a.isascii() for a in ascii)
    rendered = severity_cell("critical", ascii=False).__rich__()
    assert rendered.plain == "✖ critical" and rendered.style.bold and rendered.style.color is not None
    assert severity_label("[bold]", ascii=False) == "? [bold]"
    assert severity_content("major", ascii=True).plain == "^ major"


def test_ascii_fallback_is_chosen_by_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PCSO_ASCII", "1")
    assert severity_cell("warning").plain == "! warning"
    monkeypatch.setenv("PCSO_ASCII", "0")
    assert severity_cell("warning").plain == "⚠ warning"


async def test_severity_colour_follows_the_theme() -> None:
    from pcso_tui.widgets.themes import builtin_themes_dir, load_themes

    themes, _ = load_themes(builtin_themes_dir())
    app = TableApp()
    async with app.run_test() as pilot:
        for theme in themes.values():
            app.register_theme(theme)
        app.theme = "pcso-light"
        await pilot.pause()
        light = severity_cell("critical").__rich__().style.color
        app.theme = "pcso-high-contrast"
        await pilot.pause()
        contrast = severity_cell("critical").__rich__().style.color
    assert light is not None and contrast is not None
    assert light.triplet.hex == themes["pcso-light"].variables["severity-critical"]
    assert contrast.triplet.hex == themes["pcso-high-contrast"].variables["severity-critical"]


def event(n: int, **payload: object) -> EventView:
    return EventView(n, datetime(2026, 11, 23, 9, 0, n, tzinfo=UTC), "ann", None, "case.noted", "case", n, payload)


def test_event_subjects_name_the_record() -> None:
    assert subject_of(event(42, title="Printer")) == "CS0000042 Printer"
    assert subject_of(EventView(1, datetime.now(UTC), "a", None, "k", "incident", 3)) == "INC0000003"
    assert subject_of(EventView(1, datetime.now(UTC), "a", None, "k", "alert", 3, {"nested": {}})) == "alert #3"
    line = describe_event(EventView(1, datetime.now(UTC), "bob", "ada", "k\x1b[2J", "user", None))
    assert (line.actor, line.kind, line.subject) == ("ada→bob", "k\\x1b[2J", "user")


class TickerApp(App[None]):
    def compose(self) -> ComposeResult:
        yield EventTicker(limit=3, accept=lambda e: e.id != 2)


async def test_the_ticker_keeps_the_newest_few_and_skips_repeats() -> None:
    app = TickerApp()
    async with app.run_test() as pilot:
        ticker = app.query_one(EventTicker)
        ticker.add_events([event(1), event(2), event(3)])
        ticker.add_events([event(3), event(4), event(5)])  # 3 again: skipped
        await pilot.pause()
        assert [line.id for line in ticker.lines] == [5, 4, 3]  # 2 filtered out, 1 pushed out


class HeaderApp(App[None]):
    def compose(self) -> ComposeResult:
        yield WorkspaceHeader(mode_title="Operator", user="[b]x[/b] \x1b[2J", role="operator", database="x.db")


async def test_the_header_says_live_or_stale_in_words() -> None:
    app = HeaderApp()
    async with app.run_test(size=(80, 3)) as pilot:
        header = app.query_one(WorkspaceHeader)
        await pilot.pause()
        plain = str(header.render())
        assert "[b]x[/b] \\x1b[2J" in plain and "○ connecting" in plain
        header.feed_state = "stale"
        assert "◌ stale" in str(header.render())


async def test_text_columns_share_the_width_left_over() -> None:
    from collections.abc import Iterator

    from textual.app import App

    from pcso_tui.widgets.safe_table import SafeTable

    class Harness(App[None]):
        def compose(self) -> Iterator[SafeTable]:
            yield SafeTable([("sev", "Sev", 8), ("name", "Name", 10, 3), ("ci", "CI", 10, 1)], id="t")

    for width, name, ci in ((30, 10, 10), (80, 10 + 34, 10 + 12)):  # 80: 46 spare, 3 : 1
        app = Harness()
        async with app.run_test(size=(width, 10)) as pilot:
            table = app.query_one(SafeTable)
            table.upsert_rows({1: ("x", "atlas-fra1-000-db-primary", "atlas-fra1-000")})
            await pilot.pause()
            widths = [table.columns[key].width for key in table.columns]
            assert widths[0] == 8  # fixed
            assert (widths[1], widths[2]) == (name, ci)
            used = sum(column.get_render_width(table) for column in table.columns.values())
            assert used <= max(width, 8 + 10 + 10 + 6)


def test_counts_say_one_thing_or_many() -> None:
    from pcso_tui.widgets.cells import counted

    assert counted(1, "topic") == "1 topic"
    assert counted(0, "topic") == "0 topics"
    assert counted(1200, "inbound case") == "1,200 inbound cases"


def test_a_rule_proposal_says_rule_once() -> None:
    from dataclasses import replace

    from tests.ui.test_dialogs import AT, CASE

    from pcso_tui.domain.casework.views import CaseDetail
    from pcso_tui.widgets.case_detail import summary_content

    detail = CaseDetail(
        case=CASE,
        description="",
        contact_number=None,
        contact_name=None,
        contact_channel=None,
        product_name=None,
        propose_reason="rule: 3 accounts ≥ threshold 2",
        business_impact=None,
        proposed_at=AT,
        proposed_by=None,
        decided_at=None,
        decided_by=None,
        reject_reason=None,
        resolution_code=None,
        resolution_notes=None,
        resolved_at=None,
        closed_at=None,
        accounts=(),
        accounts_total=0,
        items=(),
        items_total=0,
        incident=None,
        alert=None,
        journal=(),
        children_by_state={},
        children_total=0,
        statements=(),
        notices_by_state={},
    )
    text = summary_content(detail).plain
    assert "by the workflow rule: 3 accounts ≥ threshold 2" in text and "rule: rule:" not in text
    by_hand = summary_content(replace(detail, proposed_by="Adam", propose_reason="rule: of thumb")).plain
    assert "by Adam: rule: of thumb" in by_hand


async def test_any_table_counts_rows_sorted_in_above_the_rows_on_screen() -> None:
    from collections.abc import Iterator

    from textual.app import App

    from pcso_tui.widgets.safe_table import SafeTable

    class Harness(App[None]):
        def compose(self) -> Iterator[SafeTable]:
            yield SafeTable([("n", "N", 6), ("what", "What", 20)])

    app = Harness()
    async with app.run_test(size=(40, 12)) as pilot:
        table = app.query_one(SafeTable)
        table.upsert_rows({n: (n, f"row {n}") for n in range(50)})
        table.focus()
        await pilot.pause()
        await pilot.press(*["down"] * 30)
        await pilot.pause()
        assert table.scroll_y > 0 and table.new_above == 0
        table.upsert_rows({-1: (-1, "newest")})
        rank = {id(table.get_row(str(k) if isinstance(k, str) else repr(k))[0]): k for k in table.row_keys()}
        table.sort(key=lambda cells: rank[id(cells[0])])  # the newest first, as a live list sorts
        await pilot.pause()
        assert table.new_above == 1
        assert str(table.border_title) == "↑ 1 new above · Home: newest"
        assert table.cursor_key == 30  # still on its row
        await pilot.press("home")
        await pilot.pause()
        assert table.cursor_key == -1 and table.new_above == 0 and not table.border_title
        await pilot.press("end")
        assert table.cursor_key == 49


def test_the_impact_totals_line_fits_its_width() -> None:
    from pcso_tui.domain.install_base.views import ImpactView
    from pcso_tui.widgets.impact_table import summary

    impact = ImpactView(
        ci_ids=(1,),
        incident_id=7,
        ci_count=2_345,
        item_count=123_456,
        account_count=12_345,
        external_account_count=12_000,
        contact_count=30_000,
        cis=(),
        accounts=(),
        matched_accounts=12_345,
        offset=0,
        page_size=100,
    )
    full = summary(impact)
    assert full == (
        "INC0000007: 12,345 accounts (12,000 external), 123,456 items, 2,345 CIs, 30,000 contacts · 0–0 of 12,345"
    )
    for width in (60, 70, 80, 90, 100):
        line = summary(impact, width)
        assert len(line) <= width and "12,345 accounts (12,000 external)" in line, line
    assert summary(impact, 80) == "INC0000007: 12,345 accounts (12,000 external), 123,456 items · 0–0 of 12,345"
    assert summary(impact, 200) == full
