"""Install base import: ``pcso import KIND FILE`` from CSV or JSON Lines.

Kinds: accounts, contacts, products, sold_products, cis, ci_relations, install_base_items.
Records are upserted by their business key (``number``; a CI by its ``name``) and refer to each
other by those keys, never by database ids. See ``docs/import.md`` for the formats.

An import is one write transaction in three steps, so a refused file changes nothing:

1. **Stage.** The file is read chunk by chunk. Each row is checked on its own (types, lengths,
   required fields, enumerations) and written, typed, into a temporary staging table with its
   line number. Memory stays bounded by the chunk size, however long the file is.
2. **Check, in SQL.** Set-based statements over the staging table resolve references (to the
   database, or for a component's parent also to the same file), fill in what the file leaves
   out from the records it updates, and find duplicates, cycles and cross-field problems.
3. **Refuse or write.** Any bad row: :class:`InvalidInput` naming every bad row and field, and
   the transaction rolls back. Otherwise each row is classified (insert, update or unchanged)
   and written with one ``INSERT … SELECT … ON CONFLICT DO UPDATE``; ``version`` is bumped only
   on records that changed. One ``import.completed`` event carries the counts.

A column the file leaves out is left alone on records that exist (and takes its default on new
ones): a contacts file with just ``number,opted_out`` changes only opt-outs.
"""

from __future__ import annotations

import asyncio
import csv
import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from functools import cache, partial
from pathlib import Path
from typing import IO, Any

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    and_,
    bindparam,
    case,
    cast,
    delete,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from pcso_tui.domain.core.channels import NotificationChannel, address_field, address_problem
from pcso_tui.domain.core.errors import InvalidInput
from pcso_tui.domain.core.event_kinds import ImportCompleted
from pcso_tui.domain.core.events import Transaction
from pcso_tui.domain.core.models import (
    Account,
    Characteristic,
    CIDependency,
    ConfigurationItem,
    Contact,
    InstallBaseItem,
    Product,
    SoldProduct,
)
from pcso_tui.domain.core.roles import Actor, Permission, require
from pcso_tui.domain.core.service import Domain
from pcso_tui.domain.install_base.views import IMPORT_KINDS, ImportResult

FORMATS = ("csv", "jsonl")
EXTENSIONS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
CHARACTERISTICS = "characteristics"
# Bad rows are all counted, but a message lists at most this many problems.
MAX_DETAILS = 10_000
CHUNK_SIZE = 2_000

Progress = Callable[[int], None]


# --- what each kind looks like ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Field:
    """One column of an import file.

    ``type``: key (the business key), text (free text, stored as given), code (a short
    identifier: no control characters or outer spaces), bool, int, date, choice, address (a
    code that every notification channel sending to this contact field accepts: see
    ``check_address`` in ``domain/core/channels.py``),
    ref (another record, by its key) or parent (an install base item, in the file or the database).
    """

    name: str
    type: str = "text"
    column: str | None = None
    required: bool = False
    default: Any = None
    choices: tuple[str, ...] = ()
    ref: Any = None
    ref_key: str = "number"
    minimum: int | None = None

    @property
    def target(self) -> str:
        """The column of the target table this field is written to."""
        return self.column or (f"{self.name}_id" if self.type == "ref" else self.name)

    @property
    def stage(self) -> str:
        """The staging column holding the value written (refs: the resolved id)."""
        return f"{self.name}_id" if self.type == "ref" else self.name


@dataclass(frozen=True, slots=True)
class Kind:
    name: str
    noun: str
    model: Any
    fields: tuple[Field, ...]
    # Upserted by the first field; False for CI relations, which are (ci, depends_on) pairs.
    keyed: bool = True
    characteristics: bool = False

    @property
    def key(self) -> Field:
        return self.fields[0]

    def field(self, name: str) -> Field:
        return next(f for f in self.fields if f.name == name)


def _ref(name: str, model: Any, *, key: str = "number", column: str | None = None, required: bool = False) -> Field:
    return Field(name, "ref", ref=model, ref_key=key, column=column, required=required)


KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        Kind(
            "accounts",
            "account",
            Account,
            (
                Field("number", "key"),
                Field("name", required=True),
                Field("tier", "code", default="standard"),
                Field("region", default=""),
                Field("industry", default=""),
                Field("is_external", "bool", default=True),
            ),
        ),
        Kind(
            "contacts",
            "contact",
            Contact,
            (
                Field("number", "key"),
                _ref("account", Account, required=True),
                Field("name", required=True),
                Field("email", "address"),
                Field("phone", "address"),
                # The choices are the registered notification channels (see _Import).
                Field("preferred_channel", "choice", default="email"),
                Field("webhook_url", "address"),
                Field("is_primary", "bool", default=False),
                # What the contact is for (technical, billing …): ``[delivery] notify`` may
                # limit notices to some roles. Compared without regard to case.
                Field("role", "code", default=""),
                Field("opted_out", "bool", default=False),
            ),
        ),
        Kind(
            "products",
            "product",
            Product,
            (
                Field("number", "key"),
                Field("name", required=True),
                Field("family", default=""),
                # The public service catalogue: what customers call it; whether they are told of it.
                Field("public_name"),
                Field("customer_facing", "bool", default=True),
            ),
        ),
        Kind(
            "sold_products",
            "sold product",
            SoldProduct,
            (
                Field("number", "key"),
                _ref("account", Account, required=True),
                _ref("product", Product, required=True),
                Field("quantity", "int", default=1, minimum=1),
                Field("starts_on", "date"),
                Field("ends_on", "date"),
            ),
        ),
        Kind(
            "cis",
            "CI",
            ConfigurationItem,
            (
                Field("name", "key"),
                Field("kind", "code", default="service"),
                Field("description", default=""),
                Field("environment", "code", default="production"),
                Field("location", default=""),
                Field("multi_tenant", "bool", default=False),
                # Empty: decided by its kind (a service, business service or application is).
                Field("public_name"),
                Field("customer_facing", "bool"),
            ),
        ),
        Kind(
            "ci_relations",
            "CI relation",
            CIDependency,
            (
                _ref("ci", ConfigurationItem, key="name", required=True),
                _ref("depends_on", ConfigurationItem, key="name", required=True),
            ),
            keyed=False,
        ),
        Kind(
            "install_base_items",
            "install base item",
            InstallBaseItem,
            (
                Field("number", "key"),
                Field("name", default=""),
                _ref("account", Account, required=True),
                _ref("product", Product, required=True),
                _ref("sold_product", SoldProduct),
                Field("parent", "parent"),
                _ref("ci", ConfigurationItem, key="name"),
                _ref("service", ConfigurationItem, key="name", column="service_ci_id"),
                Field("status", "code", default="in_use"),
                Field("installed_on", "date"),
            ),
            characteristics=True,
        ),
    )
}
assert tuple(KINDS) == IMPORT_KINDS

_REF_NOUNS = {Account: "account", Product: "product", SoldProduct: "sold product", ConfigurationItem: "CI"}


def _length(kind: Kind, f: Field) -> int | None:
    if f.type == "ref":
        column = f.ref.__table__.c[f.ref_key]
    elif f.type == "parent":
        column = InstallBaseItem.__table__.c.number
    else:
        column = kind.model.__table__.c[f.target]
    return getattr(column.type, "length", None)


def kind_columns(kind: str) -> list[str]:
    """The columns a file of ``kind`` may have (install base items also ``characteristics.*``)."""
    spec = _kind(kind)
    return [f.name for f in spec.fields] + ([f"{CHARACTERISTICS}.<name>"] if spec.characteristics else [])


def _kind(name: str) -> Kind:
    spec = KINDS.get(name.strip().lower().replace("-", "_"))
    if spec is None:
        raise InvalidInput(f"unknown kind {name!r}; kinds: {', '.join(IMPORT_KINDS)}")
    return spec


# --- one value at a time --------------------------------------------------------------------


class _Bad(Exception):
    """One bad value; the message is the reason."""


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_INT = re.compile(r"^[+-]?\d{1,18}$")
_TRUE = frozenset({"true", "yes", "y", "t", "1"})
_FALSE = frozenset({"false", "no", "n", "f", "0"})


def _show(value: Any) -> str:
    if isinstance(value, str) and len(value) > 40:
        value = value[:40] + "…"
    return repr(value)


def _json_type(value: Any) -> str:
    return {bool: "a boolean", int: "a number", float: "a number", list: "a list", dict: "an object"}.get(
        type(value), type(value).__name__
    )


def _is_empty(raw: Any) -> bool:
    return raw is None or raw == ""


def _text(raw: Any) -> str:
    if isinstance(raw, str):
        return raw
    if isinstance(raw, int) and not isinstance(raw, bool):
        return str(raw)
    raise _Bad(f"expected text, not {_json_type(raw)}")


def _parser(
    f: Field, length: int | None, *, iso_dates: bool, checks: Sequence[Callable[[str], str | None]] = ()
) -> Callable[[Any], Any]:
    """A function from a non-empty cell to its typed value (or ``_Bad``), made once per field.

    ``iso_dates``: dates as ``YYYY-MM-DD`` text, the way SQLite stores them.
    """
    t = f.type
    if t == "bool":

        def parse_bool(raw: Any) -> bool:
            if isinstance(raw, bool):
                return raw
            if isinstance(raw, str):
                word = raw.strip().lower()
                if word in _TRUE:
                    return True
                if word in _FALSE:
                    return False
            raise _Bad(f"{_show(raw)} is not true or false")

        return parse_bool
    if t == "int":

        def parse_int(raw: Any) -> int:
            if isinstance(raw, int) and not isinstance(raw, bool):
                value = raw
            elif isinstance(raw, str) and _INT.match(raw.strip()):
                value = int(raw.strip())
            else:
                raise _Bad(f"{_show(raw)} is not a whole number")
            if f.minimum is not None and value < f.minimum:
                raise _Bad(f"{value} is less than {f.minimum}")
            if abs(value) > 2**31 - 1:
                raise _Bad(f"{value} is too large")
            return value

        return parse_int
    if t == "date":

        def parse_date(raw: Any) -> date | str:
            if isinstance(raw, str) and _DATE.match(raw):
                try:
                    value = date.fromisoformat(raw)
                except ValueError:
                    pass
                else:
                    return raw if iso_dates else value
            raise _Bad(f"{_show(raw)} is not a date (YYYY-MM-DD)")

        return parse_date
    limit = length or 0

    def parse_text(raw: Any) -> str:
        value = raw if raw.__class__ is str else _text(raw)
        if "\x00" in value:
            raise _Bad("contains a NUL character")
        if limit and len(value) > limit:
            raise _Bad(f"longer than {limit} characters ({len(value)})")
        if t == "text":
            if f.required and not value.strip():
                raise _Bad("is blank")
            return value
        if _CONTROL.search(value):
            raise _Bad(f"{_show(value)} contains control characters")
        if value != value.strip():
            raise _Bad(f"{_show(value)} has leading or trailing spaces")
        if t == "choice" and value not in f.choices:
            raise _Bad(f"{_show(value)} is not one of: {', '.join(f.choices)}")
        for check in checks:
            if problem := check(value):
                raise _Bad(f"{_show(value)} {problem}")
        return value

    return parse_text


def _characteristic_name(name: str) -> str | None:
    """Why ``name`` cannot name a characteristic, or None if it can."""
    if not name or name != name.strip():
        return "a characteristic needs a name without outer spaces"
    if _CONTROL.search(name):
        return "a characteristic name cannot contain control characters"
    length = Characteristic.__table__.c.name.type.length  # type: ignore[attr-defined]  # String(n): typed TypeEngine
    if len(name) > length:
        return f"a characteristic name is at most {length} characters"
    return None


def _characteristic_value(raw: Any) -> str | None:
    if _is_empty(raw):
        return None
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, int | float):
        return str(raw)
    if not isinstance(raw, str):
        raise _Bad(f"expected text, not {_json_type(raw)}")
    if "\x00" in raw:
        raise _Bad("contains a NUL character")
    length = Characteristic.__table__.c.value.type.length  # type: ignore[attr-defined]  # String(n): typed TypeEngine
    if len(raw) > length:
        raise _Bad(f"longer than {length} characters ({len(raw)})")
    return raw


# --- reading files ------------------------------------------------------------------------


def _encodable(obj: Any) -> bool:
    """False if a JSON value holds a lone surrogate (``"\\ud800"``), which no database stores."""
    try:
        json.dumps(obj, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class _Fatal(Exception):
    """The file cannot be read any further.

    ``args`` = (line, reason) for a problem on that line, or (None, message) when the
    problems are already noted and ``message`` is the one line for the whole refusal."""


@dataclass
class _Source:
    stream: IO[str]
    fmt: str
    name: str
    close: bool


def _open(source: str | Path | IO[str], fmt: str | None, name: str | None) -> _Source:
    if fmt is not None and fmt not in FORMATS:
        raise InvalidInput(f"unknown format {fmt!r}; formats: {', '.join(FORMATS)}")
    if isinstance(source, str | Path):
        path = Path(source)
        label = name or str(source)
        fmt = fmt or EXTENSIONS.get(path.suffix.lower())
        if fmt is None:
            raise InvalidInput(f"cannot tell the format of {label} from its name: give --format csv|jsonl")
        try:
            stream = path.open(encoding="utf-8-sig", newline="")
        except OSError as exc:
            raise InvalidInput(f"cannot read {label}: {exc.strerror or exc}") from None
        return _Source(stream, fmt, label, close=True)
    label = name or str(getattr(source, "name", "") or "<stdin>")
    fmt = fmt or EXTENSIONS.get(Path(label).suffix.lower())
    if fmt is None:
        raise InvalidInput(f"cannot tell the format of {label}: give --format csv|jsonl")
    return _Source(source, fmt, label, close=False)


# --- the import -----------------------------------------------------------------------------


@dataclass
class _Problems:
    """Every bad row and field, in file order; bounded by ``MAX_DETAILS`` lines of detail."""

    order: dict[str, int]
    seen: dict[tuple[int, str], str] = field(default_factory=dict)
    bad_rows: set[int] = field(default_factory=set)
    dropped: int = 0

    def add(self, line: int, name: str, reason: str) -> None:
        if (line, name) in self.seen:
            return
        self.bad_rows.add(line)
        if len(self.seen) >= MAX_DETAILS:
            self.dropped += 1
            return
        self.seen[(line, name)] = reason

    def __bool__(self) -> bool:
        return bool(self.bad_rows)

    def error(self, file_name: str, message: str | None = None) -> InvalidInput:
        keys = sorted(self.seen, key=lambda k: (k[0], self.order.get(k[1].split(".")[0], len(self.order)), k[1]))
        details = [
            f"line {line}: {name}: {self.seen[(line, name)]}" if name else f"line {line}: {self.seen[(line, name)]}"
            for line, name in keys
        ]
        if self.dropped:
            details.append(f"… and {self.dropped} more problems not listed")
        n = len(self.bad_rows)
        message = message or f"{file_name}: {n} bad row{'s' if n != 1 else ''}; nothing was imported"
        return InvalidInput(message, details=details)


@cache
def _staging_tables(kind_name: str) -> tuple[MetaData, Table, Table | None, Table | None]:
    """The temporary tables an import of ``kind_name`` stages into: (metadata, rows,
    characteristics, roots). Made once per kind, so SQLAlchemy's statement cache applies."""
    kind = KINDS[kind_name]
    metadata = MetaData()
    opts: dict[str, Any] = {"prefixes": ["TEMPORARY"], "postgresql_on_commit": "DROP"}
    columns: list[Column[Any]] = [
        Column("row_no", Integer, nullable=False),
        Column("given", Integer, nullable=False),
        Column("bad", Boolean, nullable=False),
        Column("target_id", Integer),
        Column("action", String(8)),
    ]
    types = {"bool": Boolean, "int": Integer, "date": Date}
    for f in kind.fields:
        columns.append(Column(f.name, types.get(f.type, Text)))
        if f.type == "ref":
            columns.append(Column(f.stage, Integer))
    stage = Table("pcso_import_stage", metadata, *columns, **opts)
    Index("ix_pcso_import_stage_target", stage.c.target_id)
    Index("ix_pcso_import_stage_row", stage.c.row_no)
    if kind.keyed:
        Index("ix_pcso_import_stage_key", stage.c[kind.key.name])
    else:
        Index("ix_pcso_import_stage_pair", *(stage.c[f.name] for f in kind.fields))
    if not kind.characteristics:
        return metadata, stage, None, None
    chars = Table(
        "pcso_import_char",
        metadata,
        Column("row_no", Integer, nullable=False),
        Column("name", Text, nullable=False),
        Column("value", Text),
        **opts,
    )
    Index("ix_pcso_import_char_row", chars.c.row_no, chars.c.name)
    roots = Table(
        "pcso_import_root",
        metadata,
        Column("item_id", Integer, primary_key=True),
        Column("root_id", Integer, nullable=False),
        **opts,
    )
    return metadata, stage, chars, roots


class _Import:
    def __init__(
        self, tx: Transaction, kind: Kind, file_name: str, channels: Mapping[str, NotificationChannel]
    ) -> None:
        self.tx = tx
        self.channels = channels
        self.kind = kind
        self.file_name = file_name
        self.session = tx.session
        self.table = kind.model.__table__
        self.lengths = {f.name: _length(kind, f) for f in kind.fields}
        self.bits = {f.name: 1 << i for i, f in enumerate(kind.fields)}
        self.problems = _Problems(order={f.name: i for i, f in enumerate(kind.fields)})
        self.rows = 0
        # Fields some row left out: only those are filled in from the database.
        self.absent = 0
        self._sql: dict[str, str] = {}
        self.metadata, self.stage, self.chars, self.roots = _staging_tables(kind.name)
        self._plan()

    # -- staging tables (temporary: private to this connection, gone at commit or rollback) --

    async def create_stage(self) -> None:
        await self.session.run_sync(lambda s: self.metadata.drop_all(s.connection()))
        await self.session.run_sync(lambda s: self.metadata.create_all(s.connection()))

    async def drop_stage(self) -> None:
        await self.session.run_sync(lambda s: self.metadata.drop_all(s.connection()))

    # -- step 1: read, check each row, stage -------------------------------------------------

    def _plan(self) -> None:
        """How each field is read, decided once: (name, bit, parse, value if absent, if empty,
        whether absence is a problem, whether the field has a resolved-id column)."""
        iso_dates = self.tx.dialect == "sqlite"
        self.plan = []
        for f in self.kind.fields:
            nothing = None if f.type in ("key", "ref", "parent") else f.default
            must = f.type == "key" or (f.required and not self.kind.keyed)
            if f.name == "preferred_channel":  # a contact's channel is one that is registered
                f = replace(f, choices=tuple(self.channels))
            # An address is checked by every channel that sends to its field.
            checks = [
                partial(address_problem, channel)
                for channel in self.channels.values()
                if f.type == "address" and address_field(channel) == f.name
            ]
            parse = _parser(f, self.lengths[f.name], iso_dates=iso_dates, checks=checks)
            self.plan.append(
                (f.name, self.bits[f.name], parse, nothing, f.type == "key" or f.required, must, f.type == "ref")
            )

    def _stage_row(
        self,
        line: int,
        values: dict[str, Any],
        chars: dict[str, Any],
        out: list[tuple[Any, ...]],
        out_chars: list[tuple[Any, ...]],
    ) -> None:
        """Check one row and add it (as a tuple in staging-column order) to ``out``."""
        row: list[Any] = [line, 0, False, None, None]
        given = 0
        problems = self.problems
        for name, bit, parse, nothing, required, must, is_ref in self.plan:
            if name not in values:
                value = nothing
                self.absent |= bit
                if must:
                    problems.add(line, name, "missing")
            else:
                given |= bit
                raw = values[name]
                if raw is None or raw == "":
                    value = nothing
                    if required:
                        problems.add(line, name, "required")
                else:
                    try:
                        value = parse(raw)
                    except _Bad as exc:
                        value = None
                        problems.add(line, name, str(exc))
            row.append(value)
            if is_ref:
                row.append(None)
        row[1] = given
        if not self.kind.keyed and row[5] is not None and row[5] == row[7]:
            problems.add(line, self.kind.fields[1].name, "a CI cannot depend on itself")
        for name, raw in chars.items():
            try:
                out_chars.append((line, name, _characteristic_value(raw)))
            except _Bad as exc:
                problems.add(line, f"{CHARACTERISTICS}.{name}", str(exc))
        row[2] = line in problems.bad_rows
        out.append(tuple(row))

    def _records(self, source: _Source) -> Iterator[tuple[int, dict[str, Any], dict[str, Any]]]:
        """(line, values by field, characteristics) for every row of the file."""
        try:
            if source.fmt == "csv":
                yield from self._csv(source.stream)
            else:
                yield from self._jsonl(source.stream)
        except UnicodeDecodeError as exc:
            raise _Fatal(self.rows + 1, f"not UTF-8 text ({exc.reason})") from None

    def _csv(self, stream: IO[str]) -> Iterator[tuple[int, dict[str, Any], dict[str, Any]]]:
        reader = csv.reader(stream, strict=True)
        end = 0
        header: list[str] | None = None
        try:
            for cells in reader:
                start, end = end + 1, reader.line_num
                if not cells or cells == [""]:
                    continue
                if header is None:
                    header = self._header(start, cells)
                    continue
                if len(cells) != len(header):
                    self.problems.add(start, "", f"has {len(cells)} cells; the header has {len(header)}")
                    continue
                values: dict[str, Any] = {}
                chars: dict[str, Any] = {}
                for name, cell in zip(header, cells, strict=True):
                    if name.startswith(CHARACTERISTICS + "."):
                        chars[name[len(CHARACTERISTICS) + 1 :]] = cell
                    else:
                        values[name] = cell
                yield start, values, chars
        except csv.Error as exc:
            raise _Fatal(reader.line_num, f"not readable as CSV: {exc}") from None
        if header is None:
            raise _Fatal(1, "the file is empty: a CSV file starts with a header row")

    def _header(self, line: int, cells: list[str]) -> list[str]:
        names = [c.strip() for c in cells]
        known = {f.name for f in self.kind.fields}
        bad: list[tuple[str, str]] = []
        for i, name in enumerate(names):
            if name in names[:i]:
                bad.append((name, "the column appears twice"))
            elif name.startswith(CHARACTERISTICS + ".") and self.kind.characteristics:
                why = _characteristic_name(name[len(CHARACTERISTICS) + 1 :])
                if why:
                    bad.append((name, why))
            elif name not in known:
                bad.append(
                    (name or f"column {i + 1}", f"unknown column (columns: {', '.join(kind_columns(self.kind.name))})")
                )
        required = [self.kind.key] if self.kind.keyed else list(self.kind.fields)
        bad.extend((f.name, "missing column") for f in required if f.name not in names)
        if bad:
            for name, why in bad:
                self.problems.add(line, name, why)
            unknown = [n for n, why in bad if why.startswith("unknown")]
            plural = "s" if len(unknown) > 1 else ""
            what = f"unknown column{plural} {', '.join(map(repr, unknown))}" if unknown else "a bad header"
            raise _Fatal(None, f"{self.file_name} has {what}; nothing was imported")
        return names

    def _jsonl(self, stream: IO[str]) -> Iterator[tuple[int, dict[str, Any], dict[str, Any]]]:
        known = {f.name for f in self.kind.fields}
        for line_no, line in enumerate(stream, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                self.problems.add(line_no, "", f"not valid JSON: {exc.msg} (column {exc.colno})")
                continue
            if not isinstance(obj, dict):
                self.problems.add(line_no, "", f"expected a JSON object, not {_json_type(obj)}")
                continue
            if "\\u" in line and not _encodable(obj):
                self.problems.add(line_no, "", "contains a \\u escape that is not a character (a lone surrogate)")
                continue
            chars: dict[str, Any] = {}
            values: dict[str, Any] = {}
            for key, value in obj.items():
                if key == CHARACTERISTICS and self.kind.characteristics:
                    if value is None:
                        continue
                    if not isinstance(value, dict):
                        self.problems.add(line_no, key, f"expected an object, not {_json_type(value)}")
                        continue
                    for name, v in value.items():
                        why = _characteristic_name(name)
                        if why:
                            self.problems.add(line_no, f"{CHARACTERISTICS}.{name}", why)
                        else:
                            chars[name] = v
                elif key in known:
                    values[key] = value
                else:
                    self.problems.add(line_no, key, "unknown field")
            if self.kind.keyed and self.kind.key.name not in values:
                self.problems.add(line_no, self.kind.key.name, "missing")
            yield line_no, values, chars

    async def stage_file(self, source: _Source, progress: Progress | None, chunk_size: int) -> None:
        """Read, check and stage the file. While the database thread writes one chunk, the
        next one is read and checked here."""
        rows: list[tuple[Any, ...]] = []
        chars: list[tuple[Any, ...]] = []
        writing: asyncio.Task[None] | None = None
        try:
            for line, values, row_chars in self._records(source):
                self._stage_row(line, values, row_chars, rows, chars)
                self.rows += 1
                if len(rows) >= chunk_size:
                    if writing is not None:
                        await writing
                    writing = asyncio.ensure_future(self._write_chunk(rows, chars, self.rows, progress))
                    rows, chars = [], []
                    # Let the chunk reach the database thread before reading on.
                    await asyncio.sleep(0)
        except _Fatal as exc:
            line, message = exc.args
            if line is not None:
                self.problems.add(line, "", message)
            raise self.problems.error(self.file_name, message if line is None else None) from None
        finally:
            if writing is not None:
                await writing
        await self._write_chunk(rows, chars, self.rows, progress)

    async def _write_chunk(
        self, rows: list[tuple[Any, ...]], chars: list[tuple[Any, ...]], done: int, progress: Progress | None
    ) -> None:
        # Plain executemany of tuples: the staging tables are ours and the values already typed,
        # so the per-row parameter processing of a Core insert would only cost time.
        connection = await self.session.connection()
        if rows:
            await connection.exec_driver_sql(self._insert_sql(self.stage), rows)
        if chars:
            assert self.chars is not None  # characteristics are staged only for kinds that have them
            await connection.exec_driver_sql(self._insert_sql(self.chars), chars)
        if progress is not None:
            progress(done)

    # -- step 2: check in SQL ----------------------------------------------------------------

    async def _report(self, query: Any, name: str, reason: Callable[..., str]) -> None:
        """Add a problem for every (row_no, *values) the query returns."""
        result = await self.session.execute(query.limit(MAX_DETAILS + 1))
        for row_no, *values in result:
            self.problems.add(row_no, name, reason(*values))

    async def check(self) -> None:
        s = self.stage
        if self.tx.dialect == "postgresql":
            await self.session.execute(text(f"ANALYZE {s.name}"))
        table, kind = self.table, self.kind
        if kind.keyed:
            key = kind.key
            await self.session.execute(
                update(s).values(
                    target_id=select(table.c.id).where(table.c[key.name] == s.c[key.name]).scalar_subquery()
                )
            )
        for f in kind.fields:
            if f.type != "ref":
                continue
            ref = f.ref.__table__
            await self.session.execute(
                update(s)
                .where(s.c[f.name].is_not(None))
                .values({f.stage: select(ref.c.id).where(ref.c[f.ref_key] == s.c[f.name]).scalar_subquery()})
            )
            how = "named" if f.ref_key == "name" else "numbered"
            await self._report(
                select(s.c.row_no, s.c[f.name]).where(s.c[f.name].is_not(None), s.c[f.stage].is_(None)),
                f.name,
                lambda v, f=f, how=how: f"no {_REF_NOUNS[f.ref]} {how} {_show(v)}",
            )
        if kind.keyed:
            await self._check_new_rows()
            await self._fill_from_database()
        await self._check_duplicates()
        checks = {
            "contacts": self._check_contacts,
            "sold_products": self._check_sold_products,
            "install_base_items": self._check_items,
        }
        if kind.name in checks:
            await checks[kind.name]()

    def _given(self, name: str) -> Any:
        return self.stage.c.given.op("&")(self.bits[name]) != 0

    async def _check_new_rows(self) -> None:
        s = self.stage
        for f in self.kind.fields[1:]:
            if f.required and self.absent & self.bits[f.name]:
                await self._report(
                    select(s.c.row_no).where(s.c.target_id.is_(None), ~s.c.bad, ~self._given(f.name)),
                    f.name,
                    lambda f=f: f"missing: a new {self.kind.noun} needs it",
                )

    async def _fill_from_database(self) -> None:
        """Fields a row leaves out keep the values of the record it updates."""
        s, t = self.stage, self.table
        values: dict[str, Any] = {}
        for f in self.kind.fields[1:]:
            if not self.absent & self.bits[f.name]:
                continue
            if f.type == "parent":
                parent = t.alias("fill_parent")
                current = (
                    select(cast(parent.c.number, Text))
                    .select_from(t.join(parent, parent.c.id == t.c.parent_id))
                    .where(t.c.id == s.c.target_id)
                    .scalar_subquery()
                )
                values[f.name] = case((self._given(f.name), s.c[f.name]), else_=current)
            else:
                current = select(t.c[f.target]).where(t.c.id == s.c.target_id).scalar_subquery()
                values[f.stage] = case((self._given(f.name), s.c[f.stage]), else_=current)
        if values:
            await self.session.execute(update(s).where(s.c.target_id.is_not(None)).values(values))

    async def _check_duplicates(self) -> None:
        s = self.stage
        keys = [s.c[self.kind.key.name]] if self.kind.keyed else [s.c[f.name] for f in self.kind.fields]
        first = (
            select(*keys, func.min(s.c.row_no).label("first"))
            .where(*(k.is_not(None) for k in keys))
            .group_by(*keys)
            .having(func.count() > 1)
            .subquery()
        )
        query = (
            select(s.c.row_no, first.c.first)
            .join(first, and_(*(k == first.c[k.name] for k in keys)))
            .where(s.c.row_no != first.c.first)
            .order_by(s.c.row_no)
        )
        name = self.kind.key.name if self.kind.keyed else self.kind.fields[1].name
        await self._report(query, name, lambda first: f"duplicate of line {first}")

    async def _check_contacts(self) -> None:
        s = self.stage
        ok = ~s.c.bad
        for channel, needs in ((name, address_field(c)) for name, c in self.channels.items()):
            if needs is None:
                continue
            await self._report(
                select(s.c.row_no).where(ok, s.c.preferred_channel == channel, s.c[needs].is_(None)),
                "preferred_channel",
                lambda channel=channel, needs=needs: f"{channel!r} needs {'an' if needs == 'email' else 'a'} {needs}",
            )
        # At most one primary contact per account, counting the contacts already there.
        c, a = Contact.__table__, Account.__table__
        staged = select(s.c.account_id).where(s.c.is_primary.is_(True), ok)
        others = select(c.c.account_id).where(
            c.c.is_primary.is_(True),
            c.c.account_id.in_(select(s.c.account_id).where(s.c.is_primary.is_(True))),
            ~exists().where(s.c.number == c.c.number),
        )
        union = staged.union_all(others).subquery()
        crowded = select(union.c.account_id).group_by(union.c.account_id).having(func.count() > 1)
        await self._report(
            select(s.c.row_no, a.c.number)
            .join(a, a.c.id == s.c.account_id)
            .where(ok, s.c.is_primary.is_(True), s.c.account_id.in_(crowded))
            .order_by(s.c.row_no),
            "is_primary",
            lambda number: f"account {_show(number)} would have more than one primary contact",
        )

    async def _check_sold_products(self) -> None:
        s = self.stage
        await self._report(
            select(s.c.row_no, s.c.starts_on).where(~s.c.bad, s.c.ends_on < s.c.starts_on),
            "ends_on",
            lambda starts: f"before starts_on ({starts.isoformat() if starts else ''})",
        )

    async def _check_items(self) -> None:
        s, t = self.stage, self.table
        sp, a, p = SoldProduct.__table__, Account.__table__, Product.__table__
        await self._report(
            select(s.c.row_no, s.c.sold_product, a.c.number)
            .join(sp, sp.c.id == s.c.sold_product_id)
            .join(a, a.c.id == sp.c.account_id)
            .where(~s.c.bad, s.c.account_id.is_not(None), sp.c.account_id != s.c.account_id),
            "sold_product",
            lambda number, account: f"{_show(number)} was sold to account {_show(account)}",
        )
        await self._report(
            select(s.c.row_no, s.c.sold_product, p.c.number)
            .join(sp, sp.c.id == s.c.sold_product_id)
            .join(p, p.c.id == sp.c.product_id)
            .where(~s.c.bad, s.c.product_id.is_not(None), sp.c.product_id != s.c.product_id),
            "sold_product",
            lambda number, product: f"{_show(number)} is for product {_show(product)}",
        )
        # The parent: in this file or in the database, of the same account, and no cycle.
        s2 = s.alias("s2")
        in_file = exists().where(s2.c.number == s.c.parent)
        in_db = exists().where(t.c.number == s.c.parent)
        await self._report(
            select(s.c.row_no, s.c.parent).where(s.c.parent.is_not(None), ~in_file, ~in_db),
            "parent",
            lambda v: f"no install base item numbered {_show(v)} in this file or the database",
        )
        parent_account = func.coalesce(
            select(func.min(s2.c.account_id)).where(s2.c.number == s.c.parent).scalar_subquery(),
            select(t.c.account_id).where(t.c.number == s.c.parent).scalar_subquery(),
        )
        await self._report(
            select(s.c.row_no, s.c.parent).where(
                s.c.parent.is_not(None), s.c.account_id.is_not(None), parent_account != s.c.account_id
            ),
            "parent",
            lambda v: f"{_show(v)} belongs to another account",
        )
        # Walk up each row's parent chain, through this file first and the database second;
        # a chain that comes back to where it started is a cycle. UNION keeps the walk finite.
        up = select(s.c.number.label("start"), s.c.parent.label("cur")).where(s.c.parent.is_not(None))
        walk = up.cte("pcso_import_walk", recursive=True)
        s3, item, item_parent = s.alias("s3"), t.alias("i"), t.alias("ip")
        step = (
            select(walk.c.start, case((s3.c.number.is_not(None), s3.c.parent), else_=cast(item_parent.c.number, Text)))
            .select_from(
                walk.outerjoin(s3, s3.c.number == walk.c.cur)
                .outerjoin(item, and_(item.c.number == walk.c.cur, s3.c.number.is_(None)))
                .outerjoin(item_parent, item_parent.c.id == item.c.parent_id)
            )
            .where(walk.c.cur.is_not(None), walk.c.cur != walk.c.start)
        )
        walk = walk.union(step)
        looped = select(walk.c.start).where(walk.c.cur == walk.c.start)
        await self._report(
            select(s.c.row_no, s.c.parent).where(s.c.number.in_(looped)).order_by(s.c.row_no),
            "parent",
            lambda v: f"{_show(v)} makes a cycle: the parent chain comes back to this item",
        )

    # -- step 3: write ------------------------------------------------------------------------

    def _insert_sql(self, table: Table) -> str:
        """``INSERT INTO table VALUES (…)`` in the driver's own parameter style, all columns in order."""
        if table.name not in self._sql:
            dialect = self.session.get_bind().dialect
            compiled = (
                insert(table)
                .values({c.name: bindparam(c.name, type_=c.type) for c in table.c})
                .compile(dialect=dialect)
            )
            assert list(compiled.positiontup or []) == [c.name for c in table.c], compiled.positiontup
            self._sql[table.name] = str(compiled)
        return self._sql[table.name]

    def _insert(self, table: Table) -> Any:
        return (postgresql.insert if self.tx.dialect == "postgresql" else sqlite.insert)(table)

    async def classify(self) -> None:
        s, t = self.stage, self.table
        if not self.kind.keyed:
            there = exists().where(t.c.ci_id == s.c.ci_id, t.c.depends_on_id == s.c.depends_on_id)
            await self.session.execute(update(s).values(action=case((there, "same"), else_="insert")))
            return
        equal = [t.c.id == s.c.target_id]
        for f in self.kind.fields[1:]:
            if f.type == "parent":
                parent = t.alias("cmp_parent")
                number = select(cast(parent.c.number, Text)).where(parent.c.id == t.c.parent_id).scalar_subquery()
                equal.append(number.is_not_distinct_from(s.c.parent))
            else:
                equal.append(t.c[f.target].is_not_distinct_from(s.c[f.stage]))
        if self.kind.characteristics:
            ch, sc = Characteristic.__table__, self.chars
            assert sc is not None  # a kind with characteristics stages them
            has = exists().where(ch.c.item_id == s.c.target_id, ch.c.name == sc.c.name)
            has_same = exists().where(ch.c.item_id == s.c.target_id, ch.c.name == sc.c.name, ch.c.value == sc.c.value)
            differs = or_(and_(sc.c.value.is_(None), has), and_(sc.c.value.is_not(None), ~has_same))
            equal.append(~exists().where(sc.c.row_no == s.c.row_no, differs))
        same = exists().where(*equal)
        await self.session.execute(
            update(s).values(action=case((s.c.target_id.is_(None), "insert"), (same, "same"), else_="update"))
        )

    async def write(self) -> int:
        """Write every inserted or changed row; returns how many items were re-rooted."""
        s, t = self.stage, self.table
        changed = s.c.action.in_(("insert", "update"))
        if not self.kind.keyed:
            stmt = self._insert(t).from_select(
                ["ci_id", "depends_on_id"], select(s.c.ci_id, s.c.depends_on_id).where(s.c.action == "insert")
            )
            await self.session.execute(stmt.on_conflict_do_nothing())
            return 0
        fields = [f for f in self.kind.fields if f.type != "parent"]
        columns = [f.target for f in fields] + ["version"]
        selected = [s.c[f.stage] for f in fields] + [literal(1)]
        if "created_at" in t.c:
            columns.append("created_at")
            selected.append(literal(self.tx.now, t.c.created_at.type))
        stmt = self._insert(t).from_select(columns, select(*selected).where(changed))
        stmt = stmt.on_conflict_do_update(
            index_elements=[t.c[self.kind.key.target]],
            set_={f.target: stmt.excluded[f.target] for f in fields[1:]} | {"version": t.c.version + 1},
        )
        await self.session.execute(stmt)
        if not self.kind.characteristics:
            return 0
        await self.session.execute(
            update(s)
            .where(s.c.action == "insert")
            .values(target_id=select(t.c.id).where(t.c.number == s.c.number).scalar_subquery())
        )
        await self._write_parents()
        rerooted = await self._write_roots()
        await self._write_characteristics()
        return rerooted

    async def _write_parents(self) -> None:
        s, t = self.stage, self.table
        parent = t.alias("new_parent")
        new_parent_id = (
            select(parent.c.id)
            .select_from(s.join(parent, parent.c.number == s.c.parent))
            .where(s.c.target_id == t.c.id)
            .scalar_subquery()
        )
        written = select(s.c.target_id).where(s.c.action.in_(("insert", "update")))
        await self.session.execute(
            update(t)
            .where(t.c.id.in_(written))
            .values(parent_id=new_parent_id)
            .execution_options(synchronize_session=False)
        )

    async def _write_roots(self) -> int:
        """Derive ``root_id`` (the top of the parent chain; a top item is its own root) for the
        written items and everything below them; returns how many other items' roots moved."""
        s, t, r = self.stage, self.table, self.roots
        assert r is not None  # only install base items (a kind with characteristics) have roots
        written = s.c.action.in_(("insert", "update"))
        below = select(s.c.target_id.label("id")).where(written).cte("pcso_import_below", recursive=True)
        below = below.union(select(t.c.id).join(below, t.c.parent_id == below.c.id))
        up = select(below.c.id.label("start"), below.c.id.label("cur")).cte("pcso_import_up", recursive=True)
        up = up.union(select(up.c.start, t.c.parent_id).join(t, t.c.id == up.c.cur).where(t.c.parent_id.is_not(None)))
        top = select(up.c.start, up.c.cur).join(t, t.c.id == up.c.cur).where(t.c.parent_id.is_(None))
        await self.session.execute(insert(r).from_select(["item_id", "root_id"], top))
        # Only the rows whose root moves are touched (the walk covered just the written items
        # and what lies below them, never the whole table).
        current = t.alias("current")
        moved = (
            select(r.c.item_id)
            .join(current, current.c.id == r.c.item_id)
            .where(r.c.root_id.is_distinct_from(current.c.root_id))
        )
        in_file = exists().where(s.c.target_id == t.c.id, written)
        await self.session.execute(delete(r).where(r.c.item_id.not_in(moved)))
        rerooted = await self.session.scalar(
            select(func.count()).select_from(r).where(~exists().where(s.c.target_id == r.c.item_id, written))
        )
        new_root = select(r.c.root_id).where(r.c.item_id == t.c.id).scalar_subquery()
        await self.session.execute(
            update(t)
            .where(t.c.id.in_(select(r.c.item_id)))
            .values(root_id=new_root, version=case((in_file, t.c.version), else_=t.c.version + 1))
            .execution_options(synchronize_session=False)
        )
        return rerooted or 0

    async def _write_characteristics(self) -> None:
        s, sc, ch = self.stage, self.chars, Characteristic.__table__
        assert sc is not None  # only called for a kind with characteristics
        removed = (
            select(s.c.target_id, sc.c.name)
            .join(s, s.c.row_no == sc.c.row_no)
            .where(s.c.action == "update", sc.c.value.is_(None))
        )
        await self.session.execute(delete(ch).where(tuple_(ch.c.item_id, ch.c.name).in_(removed)))
        stmt = self._insert(ch).from_select(
            ["item_id", "name", "value"],
            select(s.c.target_id, sc.c.name, sc.c.value)
            .join(s, s.c.row_no == sc.c.row_no)
            .where(sc.c.value.is_not(None), s.c.action.in_(("insert", "update"))),
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[ch.c.item_id, ch.c.name],
            set_={"value": stmt.excluded.value},
            where=ch.c.value != stmt.excluded.value,
        )
        await self.session.execute(stmt)

    async def counts(self) -> dict[str, int]:
        s = self.stage
        rows = await self.session.execute(select(s.c.action, func.count()).group_by(s.c.action))
        return {action: n for action, n in rows}


async def import_records(
    domain: Domain,
    actor: Actor,
    kind: str,
    source: str | Path | IO[str],
    *,
    fmt: str | None = None,
    name: str | None = None,
    progress: Progress | None = None,
    chunk_size: int = CHUNK_SIZE,
) -> ImportResult:
    """Import a CSV or JSON Lines file (a path, or an open text stream such as stdin).

    ``fmt`` is ``csv`` or ``jsonl``; without it the file name's extension decides. ``name``
    is the file name to report (default: the path, or the stream's name). ``progress`` is
    called with the number of rows read so far, after every chunk.

    Either every row is good and all are written, or nothing is: ``InvalidInput`` lists every
    bad row and field as ``line N: field: reason``.
    """
    require(actor, Permission.IMPORT_DATA)
    spec = _kind(kind)
    src = _open(source, fmt, name)
    try:
        async with domain.transaction(actor) as tx:
            job = _Import(tx, spec, src.name, domain.extensions.channels())
            await job.create_stage()
            await job.stage_file(src, progress, max(1, chunk_size))
            await job.check()
            if job.problems:
                raise job.problems.error(src.name)
            await job.classify()
            rerooted = await job.write()
            counts = await job.counts()
            result = ImportResult(
                kind=spec.name,
                file_name=src.name,
                rows=job.rows,
                inserted=counts.get("insert", 0),
                updated=counts.get("update", 0),
                unchanged=counts.get("same", 0),
                rerooted=rerooted,
            )
            await job.drop_stage()
            # One event per import, not per row.
            tx.record(
                None,
                ImportCompleted(
                    import_kind=result.kind,
                    file_name=result.file_name,
                    rows=result.rows,
                    inserted=result.inserted,
                    updated=result.updated,
                    unchanged=result.unchanged,
                    rerooted=result.rerooted,
                ),
            )
            return result
    finally:
        if src.close:
            src.stream.close()
