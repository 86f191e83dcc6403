"""Install base import: all or nothing, every bad row named, idempotent, set-based."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from pcso_tui.domain.core.errors import InvalidInput, NotFound, PermissionDenied
from pcso_tui.domain.core.models import (
    Account,
    Characteristic,
    CIDependency,
    ConfigurationItem,
    Contact,
    Event,
    InstallBaseItem,
    Product,
    SoldProduct,
)
from pcso_tui.domain.core.roles import Actor, Role
from pcso_tui.domain.core.service import Domain
from pcso_tui.domain.install_base.accounts import get_account, list_accounts, list_cis
from pcso_tui.domain.install_base.importer import import_records
from pcso_tui.domain.install_base.views import IMPORT_KINDS

HOSTILE = "[bold]Evil[/] \x1b[2J Corp"
TABLES = (
    Account,
    Contact,
    Product,
    SoldProduct,
    ConfigurationItem,
    CIDependency,
    InstallBaseItem,
    Characteristic,
    Event,
)

# A small world in every kind, as Python values; written out as CSV or JSON Lines by the tests.
WORLD: dict[str, list[dict[str, Any]]] = {
    "accounts": [
        {"number": "A-1", "name": "Acme", "tier": "gold", "region": "eu", "industry": "retail", "is_external": True},
        {"number": "A-2", "name": HOSTILE, "tier": "standard", "region": "us", "industry": "", "is_external": False},
    ],
    "contacts": [
        {
            "number": "C-1",
            "account": "A-1",
            "name": "Ann",
            "email": "ann@acme.example",
            "phone": "+1 555 0100",
            "preferred_channel": "email",
            "webhook_url": "",
            "is_primary": True,
            "role": "technical",
            "opted_out": False,
        },
        {
            "number": "C-2",
            "account": "A-2",
            "name": "Bob",
            "email": "",
            "phone": "",
            "preferred_channel": "webhook",
            "webhook_url": "https://hooks.example/evil",
            "is_primary": False,
            "opted_out": True,
        },
    ],
    "products": [
        {"number": "P-1", "name": "Router", "family": "network"},
        {"number": "P-2", "name": "Mail", "family": "saas"},
    ],
    "sold_products": [
        {"number": "S-1", "account": "A-1", "product": "P-1", "quantity": 3, "starts_on": "2025-01-01", "ends_on": ""},
        {
            "number": "S-2",
            "account": "A-2",
            "product": "P-2",
            "quantity": 1,
            "starts_on": "2025-02-01",
            "ends_on": "2026-01-31",
        },
    ],
    "cis": [
        {"name": "dc-1", "kind": "datacentre", "description": "", "environment": "production", "location": "ams"},
        {"name": "host-1", "kind": "host", "description": HOSTILE, "environment": "production", "location": "ams"},
        {"name": "mail", "kind": "service", "description": "", "environment": "production", "location": ""},
    ],
    "ci_relations": [{"ci": "host-1", "depends_on": "dc-1"}, {"ci": "mail", "depends_on": "host-1"}],
    "install_base_items": [
        # A component before its parent, two levels deep.
        {
            "number": "I-3",
            "name": "line card",
            "account": "A-1",
            "product": "P-1",
            "sold_product": "S-1",
            "parent": "I-2",
            "ci": "host-1",
            "service": "",
            "status": "in_use",
            "installed_on": "2025-03-01",
            "characteristics": {"version": "1.2"},
        },
        {
            "number": "I-2",
            "name": "chassis",
            "account": "A-1",
            "product": "P-1",
            "sold_product": "S-1",
            "parent": "I-1",
            "ci": "host-1",
            "service": "",
            "status": "in_use",
            "installed_on": "",
            "characteristics": {"version": "1.1", "region": "eu"},
        },
        {
            "number": "I-1",
            "name": "router",
            "account": "A-1",
            "product": "P-1",
            "sold_product": "",
            "parent": "",
            "ci": "host-1",
            "service": "mail",
            "status": "in_use",
            "installed_on": "2025-01-15",
            "characteristics": {"version": "2.0", "tier": HOSTILE},
        },
        {
            "number": "I-4",
            "name": HOSTILE,
            "account": "A-2",
            "product": "P-2",
            "sold_product": "S-2",
            "parent": "",
            "ci": "",
            "service": "mail",
            "status": "retired",
            "installed_on": "",
            "characteristics": {},
        },
    ],
}


# --- helpers ----------------------------------------------------------------------------------


def cell(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def to_csv(rows: list[dict[str, Any]]) -> str:
    """CSV with the union of the rows' columns; characteristics as ``characteristics.<name>``."""
    columns: list[str] = []
    flat = []
    for row in rows:
        out = {k: v for k, v in row.items() if k != "characteristics"}
        out |= {f"characteristics.{k}": v for k, v in row.get("characteristics", {}).items()}
        flat.append(out)
        columns += [c for c in out if c not in columns]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([cell(r.get(c)) for c in columns] for r in flat)
    return buffer.getvalue()


def to_jsonl(rows: list[dict[str, Any]]) -> str:
    """JSON Lines; empty strings left out (absent = default), booleans and numbers typed."""
    lines = []
    for row in rows:
        obj = {k: v for k, v in row.items() if v != ""}
        lines.append(json.dumps(obj, ensure_ascii=False))
    return "\n".join(lines) + "\n"


def write(folder: Path, name: str, content: str) -> Path:
    path = folder / name
    path.write_text(content, encoding="utf-8", newline="")
    return path


async def state(domain: Domain) -> dict[str, Any]:
    """Row counts of every install base table and the event log, and the sum of versions."""
    async with domain.reading() as session:
        counts = {m.__tablename__: await session.scalar(select(func.count()).select_from(m)) for m in TABLES}
        for model in (Account, Contact, Product, SoldProduct, ConfigurationItem, InstallBaseItem):
            counts[f"{model.__tablename__}.versions"] = await session.scalar(
                select(func.coalesce(func.sum(model.version), 0))
            )
    return counts


async def import_world(domain: Domain, actor: Actor, folder: Path, fmt: str = "csv", world: dict | None = None) -> dict:
    results = {}
    for kind in IMPORT_KINDS:
        rows = (world or WORLD)[kind]
        path = write(folder, f"{kind}.{fmt}", to_csv(rows) if fmt == "csv" else to_jsonl(rows))
        results[kind] = await import_records(domain, actor, kind, path)
    return results


async def refused(domain: Domain, actor: Actor, kind: str, path: Path | io.StringIO, **kw: Any) -> InvalidInput:
    """Import that must be refused; returns the error after checking nothing changed."""
    before = await state(domain)
    with pytest.raises(InvalidInput) as caught:
        await import_records(domain, actor, kind, path, **kw)
    assert await state(domain) == before
    return caught.value


async def items(domain: Domain) -> dict[str, dict[str, Any]]:
    """Every install base item by number, with references as numbers and its characteristics."""
    item, parent, root = InstallBaseItem, InstallBaseItem.__table__.alias("p"), InstallBaseItem.__table__.alias("r")
    async with domain.reading() as session:
        rows = await session.execute(
            select(item.id, item.number, item.name, Account.number, parent.c.number, root.c.number, item.version)
            .join(Account, Account.id == item.account_id)
            .outerjoin(parent, parent.c.id == item.parent_id)
            .outerjoin(root, root.c.id == item.root_id)
        )
        found = {
            number: {"id": id_, "name": name, "account": acc, "parent": p, "root": r, "version": v, "chars": {}}
            for id_, number, name, acc, p, r, v in rows
        }
        by_id = {v["id"]: v for v in found.values()}
        for item_id, name, value in await session.execute(
            select(Characteristic.item_id, Characteristic.name, Characteristic.value)
        ):
            by_id[item_id]["chars"][name] = value
    return found


@pytest.fixture
def admin(actors: dict[Role, Actor]) -> Actor:
    return actors[Role.ADMIN]


# --- every kind, both formats ------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
async def test_every_kind_round_trips(domain: Domain, admin: Actor, tmp_path: Path, fmt: str) -> None:
    results = await import_world(domain, admin, tmp_path, fmt)
    assert {k: (r.rows, r.inserted, r.updated, r.unchanged) for k, r in results.items()} == {
        k: (len(v), len(v), 0, 0) for k, v in WORLD.items()
    }
    async with domain.reading() as session:
        acme = await session.scalar(select(Account).where(Account.number == "A-2"))
        assert (acme.name, acme.tier, acme.region, acme.is_external, acme.created_at) == (
            HOSTILE,
            "standard",
            "us",
            False,
            domain.clock(),
        )
        bob = await session.scalar(select(Contact).where(Contact.number == "C-2"))
        assert (bob.email, bob.phone, bob.preferred_channel, bob.webhook_url, bob.is_primary, bob.opted_out) == (
            None,
            None,
            "webhook",
            "https://hooks.example/evil",
            False,
            True,
        )
        ann = await session.scalar(select(Contact).where(Contact.number == "C-1"))
        assert (ann.role, bob.role) == ("technical", "")
        s1 = await session.scalar(select(SoldProduct).where(SoldProduct.number == "S-1"))
        assert (s1.quantity, s1.starts_on, s1.ends_on) == (3, date(2025, 1, 1), None)
        host = await session.scalar(select(ConfigurationItem).where(ConfigurationItem.name == "host-1"))
        assert (host.kind, host.description, host.location, host.multi_tenant) == ("host", HOSTILE, "ams", False)
        relations = await session.execute(
            select(ConfigurationItem.name, CIDependency.depends_on_id).join(
                CIDependency, CIDependency.ci_id == ConfigurationItem.id
            )
        )
        assert len(relations.all()) == 2
        i1 = await session.scalar(select(InstallBaseItem).where(InstallBaseItem.number == "I-1"))
        assert (i1.installed_on, i1.status, i1.sold_product_id) == (date(2025, 1, 15), "in_use", None)
    found = await items(domain)
    assert {n: (i["parent"], i["root"], i["chars"]) for n, i in found.items()} == {
        "I-1": (None, "I-1", {"version": "2.0", "tier": HOSTILE}),
        "I-2": ("I-1", "I-1", {"version": "1.1", "region": "eu"}),
        "I-3": ("I-2", "I-1", {"version": "1.2"}),
        "I-4": (None, "I-4", {}),
    }
    assert found["I-4"]["name"] == HOSTILE


async def test_csv_and_jsonl_give_the_same_records(domain: Domain, admin: Actor, tmp_path: Path) -> None:
    await import_world(domain, admin, tmp_path, "csv")
    before = await state(domain)
    results = await import_world(domain, admin, tmp_path, "jsonl")
    assert all(not r.changed for r in results.values()), results
    after = await state(domain)
    assert after["event"] == before["event"] + len(IMPORT_KINDS)
    assert {k: v for k, v in after.items() if k != "event"} == {k: v for k, v in before.items() if k != "event"}


# --- idempotency and updates -----------------------------------------------------------------


async def test_importing_the_same_files_again_changes_nothing(domain: Domain, admin: Actor, tmp_path: Path) -> None:
    await import_world(domain, admin, tmp_path)
    before = await state(domain)
    again = await import_world(domain, admin, tmp_path)
    assert {k: (r.inserted, r.updated, r.unchanged, r.changed) for k, r in again.items()} == {
        k: (0, 0, len(v), False) for k, v in WORLD.items()
    }
    after = await state(domain)
    assert {k: v for k, v in after.items() if k != "event"} == {k: v for k, v in before.items() if k != "event"}


async def test_one_changed_row_is_updated_and_only_its_version_moves(
    domain: Domain, admin: Actor, tmp_path: Path
) -> None:
    await import_world(domain, admin, tmp_path)
    path = write(
        tmp_path,
        "a.csv",
        "number,name,tier,region,industry,is_external\nA-1,Acme,platinum,eu,retail,true\nA-2,x,standard,us,,false\n",
    )
    result = await import_records(domain, admin, "accounts", path)
    assert (result.inserted, result.updated, result.unchanged) == (0, 2, 0)
    async with domain.reading() as session:
        rows = dict((await session.execute(select(Account.number, Account.version))).all())
        tiers = dict((await session.execute(select(Account.number, Account.tier))).all())
    assert rows == {"A-1": 2, "A-2": 2, "ACC-T1": 1}
    assert tiers["A-1"] == "platinum"
    again = await import_records(domain, admin, "accounts", path)
    assert (again.updated, again.unchanged) == (0, 2)


async def test_a_file_with_fewer_columns_leaves_the_others_alone(domain: Domain, admin: Actor, tmp_path: Path) -> None:
    await import_world(domain, admin, tmp_path)
    result = await import_records(domain, admin, "contacts", write(tmp_path, "opt.csv", "number,opted_out\nC-1,yes\n"))
    assert (result.updated, result.inserted) == (1, 0)
    async with domain.reading() as session:
        ann = await session.scalar(select(Contact).where(Contact.number == "C-1"))
    assert (ann.opted_out, ann.email, ann.is_primary, ann.name, ann.version) == (
        True,
        "ann@acme.example",
        True,
        "Ann",
        2,
    )
    # JSON Lines: a key left out is left alone too.
    result = await import_records(
        domain, admin, "contacts", write(tmp_path, "opt.jsonl", '{"number": "C-1", "name": "Ann B"}\n')
    )
    async with domain.reading() as session:
        ann = await session.scalar(select(Contact).where(Contact.number == "C-1"))
    assert (ann.opted_out, ann.name) == (True, "Ann B")


async def test_new_records_need_their_required_columns(domain: Domain, admin: Actor, tmp_path: Path) -> None:
    await import_world(domain, admin, tmp_path)
    error = await refused(domain, admin, "contacts", write(tmp_path, "c.csv", "number,opted_out\nC-1,yes\nC-9,no\n"))
    assert error.details == [
        "line 3: account: missing: a new contact needs it",
        "line 3: name: missing: a new contact needs it",
        "line 3: preferred_channel: 'email' needs an email",
    ]


async def test_characteristics_are_set_changed_and_removed_by_name(
    domain: Domain, admin: Actor, tmp_path: Path
) -> None:
    await import_world(domain, admin, tmp_path)
    before = await items(domain)
    path = write(tmp_path, "ch.csv", "number,characteristics.version,characteristics.region\nI-2,1.5,\nI-3,1.2,apac\n")
    result = await import_records(domain, admin, "install_base_items", path)
    assert (result.updated, result.unchanged) == (2, 0)
    after = await items(domain)
    # Named with a value: set; named but empty: removed; not named (I-1's tier): left alone.
    assert after["I-2"]["chars"] == {"version": "1.5"}
    assert after["I-3"]["chars"] == {"version": "1.2", "region": "apac"}
    assert after["I-1"]["chars"] == before["I-1"]["chars"]
    assert [after[n]["version"] - before[n]["version"] for n in ("I-1", "I-2", "I-3", "I-4")] == [0, 1, 1, 0]
    again = await import_records(domain, admin, "install_base_items", path)
    assert (again.updated, again.unchanged) == (0, 2)


async def test_one_event_per_import_with_its_counts(domain: Domain, admin: Actor, tmp_path: Path) -> None:
    async with domain.reading() as session:
        last = await session.scalar(select(func.max(Event.id)))
    path = write(tmp_path, "items.csv", to_csv(WORLD["accounts"]))
    await import_records(domain, admin, "accounts", path)
    async with domain.reading() as session:
        events = (await session.scalars(select(Event).where(Event.id > last))).all()
    assert [(e.kind, e.subject_type, e.actor_name) for e in events] == [("import.completed", "import", "admin")]
    assert events[0].payload == {
        "kind": "accounts",
        "file_name": str(path),
        "rows": 2,
        "inserted": 2,
        "updated": 0,
        "unchanged": 0,
        "rerooted": 0,
    }


# --- bad rows: nothing imported, every row named --------------------------------------------------


async def test_one_bad_row_imports_nothing_and_names_the_row(domain: Domain, admin: Actor, tmp_path: Path) -> None:
    path = write(tmp_path, "a.csv", "number,name,is_external\nA-1,One,true\nA-2,Two,perhaps\nA-3,Three,false\n")
    error = await refused(domain, admin, "accounts", path)
    assert error.message == f"{path}: 1 bad row; nothing was imported"
    assert error.details == ["line 3: is_external: 'perhaps' is not true or false"]


async def test_every_bad_row_and_field_is_named(domain: Domain, admin: Actor, tmp_path: Path) -> None:
    await import_world(domain, admin, tmp_path)
    long_name = "x" * 201
    content = (
        "number,account,name,email,phone,preferred_channel,webhook_url,is_primary\n"
        "C-10,A-1,Ok,ok@x.example,,email,,false\n"  # line 2: fine
        f"C-11,A-1,{long_name},not-an-email,,pigeon,,false\n"  # line 3: three bad fields
        "C-12,A-404,Cy,c@x.example,,email,,false\n"  # line 4: unknown account
        "C-13,A-1,Di,,,webhook,,false\n"  # line 5: webhook without a URL
        "C-10,A-1,Ok again,ok@x.example,,email,,false\n"  # line 6: duplicate of line 2
        "C-14,A-1,Ed,e@x.example,,email,ftp://nope,true\n"  # line 7: bad URL
        ",A-1,Fi,f@x.example,,email,,false\n"  # line 8: no number
        "C-15,A-1,Gus,g@x.example,,sms,,true\n"  # line 9: sms without phone; second primary of A-1
        '"C-16 ",A-1,\x1b[2J,h@x.example,,email,,false\n'  # line 10: key with a space (the name is fine)
    )
    error = await refused(domain, admin, "contacts", write(tmp_path, "c.csv", content))
    assert error.message.endswith(": 8 bad rows; nothing was imported")
    assert error.details == [
        "line 3: name: longer than 200 characters (201)",
        "line 3: email: 'not-an-email' is not an email address we can deliver to"
        " (an email address must have an @-sign)",
        "line 3: preferred_channel: 'pigeon' is not one of: email, webhook, sms, portal",
        "line 4: account: no account numbered 'A-404'",
        "line 5: preferred_channel: 'webhook' needs a webhook_url",
        "line 6: number: duplicate of line 2",
        "line 7: webhook_url: 'ftp://nope' is not an http(s) URL",
        "line 8: number: required",
        "line 9: preferred_channel: 'sms' needs a phone",
        "line 9: is_primary: account 'A-1' would have more than one primary contact",
        "line 10: number: 'C-16 ' has leading or trailing spaces",
    ]


async def test_email_addresses_are_checked_as_the_email_channel_sends_them(
    domain: Domain, admin: Actor, tmp_path: Path
) -> None:
    await import_world(domain, admin, tmp_path)
    content = (
        "number,account,name,email\n"
        "C-20,A-1,Idn,x@bücher.example\n"  # line 2: fine, sent as x@xn--bcher-kva.example
        "C-21,A-1,Loc,ops@localhost\n"  # line 3: not a domain on the internet
        "C-22,A-1,Utf,ünï@bücher.example\n"  # line 4: would need SMTPUTF8
        "C-23,A-1,Lit,a@[192.0.2.1]\n"  # line 5: an IP address
        "C-24,A-1,Tst,a@example.test\n"  # line 6: a special-use domain
        '"C-25",A-1,Quo,"""a b""@x.example"\n'  # line 7: a quoted local part
    )
    error = await refused(domain, admin, "contacts", write(tmp_path, "e.csv", content))
    assert error.message.endswith(": 5 bad rows; nothing was imported")
    assert [d.split(": ", 2)[:2] for d in error.details] == [[f"line {n}", "email"] for n in range(3, 8)]
    assert "we can deliver to (the part after the @-sign is not valid" in error.details[0]
    assert "internationalized characters before the @-sign are not supported" in error.details[1]
    assert "a bracketed IP address" in error.details[2]
    assert "special-use or reserved name" in error.details[3]
    assert "quoting the part before the @-sign is not allowed" in error.details[4]
    good = "\n".join(content.splitlines()[:2]) + "\n"
    result = await import_records(domain, admin, "contacts", write(tmp_path, "ok.csv", good))
    assert result.inserted == 1
    async with domain.reading() as session:
        assert await session.scalar(select(Contact.email).where(Contact.number == "C-20")) == "x@bücher.example"


async def test_a_second_primary_contact_for_an_account_is_refused(domain: Domain, admin: Actor, tmp_path: Path) -> None:
    await import_world(domain, admin, tmp_path)
    path = write(tmp_path, "c.csv", "number,account,name,email,is_primary\nC-20,A-1,Zed,z@x.example,true\n")
    error = await refused(domain, admin, "contacts", path)
    assert error.details == ["line 2: is_primary: account 'A-1' would have more than one primary contact"]
    # Moving the primary flag in one file is fine.
    path = write(
        tmp_path,
        "c2.csv",
        "number,account,name,email,is_primary\nC-20,A-1,Zed,z@x.example,true\nC-1,A-1,Ann,ann@acme.example,false\n",
    )
    result = await import_records(domain, admin, "contacts", path)
    assert (result.inserted, result.updated) == (1, 1)


async def test_type_checks_for_numbers_dates_and_json_values(domain: Domain, admin: Actor, tmp_path: Path) -> None:
    await import_world(domain, admin, tmp_path)
    lines = [
        {"number": "S-10", "account": "A-1", "product": "P-1", "quantity": "many"},
        {"number": "S-11", "account": "A-1", "product": "P-1", "quantity": 0},
        {"number": "S-12", "account": "A-1", "product": "P-1", "starts_on": "2025-02-30"},
        {"number": "S-13", "account": "A-1", "product": "P-1", "starts_on": "2025-05-01", "ends_on": "2025-04-01"},
        {"number": ["S-14"], "account": "A-1", "product": True},
        {"number": 15, "account": "A-1", "product": "P-1", "quantity": 2, "starts_on": "2025-01-01"},
    ]
    content = "\n".join(json.dumps(line) for line in lines) + "\n"
    error = await refused(domain, admin, "sold_products", write(tmp_path, "s.jsonl", content))
    assert error.details == [
        "line 1: quantity: 'many' is not a whole number",
        "line 2: quantity: 0 is less than 1",
        "line 3: starts_on: '2025-02-30' is not a date (YYYY-MM-DD)",
        "line 4: ends_on: before starts_on (2025-05-01)",
        "line 5: number: expected text, not a list",
        "line 5: product: expected text, not a boolean",
    ]
    # Line 6 alone is good: a JSON number is accepted as a key.
    result = await import_records(
        domain, admin, "sold_products", write(tmp_path, "s6.jsonl", json.dumps(lines[5]) + "\n")
    )
    assert result.inserted == 1


async def test_broken_json_lines_are_named(domain: Domain, admin: Actor, tmp_path: Path) -> None:
    content = (
        '{"number": "A-1", "name": "One"}\nnot json\n[1, 2]\n\n{"number": "A-2", "name": "Two", "colour": "red"}\n'
        '{"number": "A-3", "name": "\\ud800"}\n'
    )
    error = await refused(domain, admin, "accounts", write(tmp_path, "a.jsonl", content))
    assert error.details == [
        "line 2: not valid JSON: Expecting value (column 1)",
        "line 3: expected a JSON object, not a list",
        "line 5: colour: unknown field",
        "line 6: contains a \\u escape that is not a character (a lone surrogate)",
    ]


async def test_unknown_columns_are_named(domain: Domain, admin: Actor, tmp_path: Path) -> None:
    path = write(tmp_path, "a.csv", "number,name,colour,size\nA-1,One,red,xl\n")
    error = await refused(domain, admin, "accounts", path)
    assert error.message == f"{path} has unknown columns 'colour', 'size'; nothing was imported"
    assert [d.split(" (columns")[0] for d in error.details] == [
        "line 1: colour: unknown column",
        "line 1: size: unknown column",
    ]
    assert "columns: number, name, tier, region, industry, is_external" in error.details[0]


@pytest.mark.parametrize(
    ("kind", "content", "detail"),
    [
        ("accounts", "name\nOne\n", "line 1: number: missing column"),
        ("accounts", "number,name,name\nA-1,One,Uno\n", "line 1: name: the column appears twice"),
        ("ci_relations", "ci\nhost-1\n", "line 1: depends_on: missing column"),
        ("accounts", "number,characteristics.x\nA-1,1\n", "line 1: characteristics.x: unknown column"),
        ("accounts", "number,name\nA-1,One,extra\n", "line 2: has 3 cells; the header has 2"),
        ("accounts", "", "line 1: the file is empty: a CSV file starts with a header row"),
    ],
)
async def test_bad_csv_shapes_are_refused(
    domain: Domain, admin: Actor, tmp_path: Path, kind: str, content: str, detail: str
) -> None:
    error = await refused(domain, admin, kind, write(tmp_path, "f.csv", content))
    assert detail in [d.split(" (columns")[0] for d in error.details]


async def test_ci_relations_refer_to_known_cis_and_never_to_themselves(
    domain: Domain, admin: Actor, tmp_path: Path
) -> None:
    await import_world(domain, admin, tmp_path)
    content = "ci,depends_on\nmail,dc-1\nmail,mail\nghost,dc-1\nmail,dc-1\n"
    error = await refused(domain, admin, "ci_relations", write(tmp_path, "r.csv", content))
    assert error.details == [
        "line 3: depends_on: a CI cannot depend on itself",
        "line 4: ci: no CI named 'ghost'",
        "line 5: depends_on: duplicate of line 2",
    ]
    result = await import_records(
        domain, admin, "ci_relations", write(tmp_path, "r2.csv", "ci,depends_on\nmail,dc-1\nmail,host-1\n")
    )
    assert (result.inserted, result.unchanged) == (1, 1)


async def test_sold_products_on_items_belong_to_the_same_account_and_product(
    domain: Domain, admin: Actor, tmp_path: Path
) -> None:
    await import_world(domain, admin, tmp_path)
    content = "number,account,product,sold_product\nI-10,A-1,P-1,S-2\nI-11,A-2,P-1,S-2\n"
    error = await refused(domain, admin, "install_base_items", write(tmp_path, "i.csv", content))
    assert error.details == [
        "line 2: sold_product: 'S-2' was sold to account 'A-2'",
        "line 3: sold_product: 'S-2' is for product 'P-2'",
    ]


async def test_too_many_problems_are_counted_but_not_all_listed(
    domain: Domain, admin: Actor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pcso_tui.domain.install_base import importer

    monkeypatch.setattr(importer, "MAX_DETAILS", 3)
    content = "number,name,is_external\n" + "".join(f"A-{n},N,maybe\n" for n in range(5))
    error = await refused(domain, admin, "accounts", write(tmp_path, "a.csv", content))
    assert error.message.endswith("5 bad rows; nothing was imported")
    assert len(error.details) == 4
    assert error.details[-1] == "… and 2 more problems not listed"


# --- the parent chain ---------------------------------------------------------------------------


ITEM_HEADER = "number,account,product,parent\n"


async def test_parents_may_come_later_in_the_file_or_be_in_the_database(
    domain: Domain, admin: Actor, tmp_path: Path
) -> None:
    await import_world(domain, admin, tmp_path)
    # I-12 under I-11 (later in this file) under I-1 (already in the database); small chunks so
    # child and parent are staged separately.
    content = ITEM_HEADER + "I-12,A-1,P-1,I-11\nI-13,A-1,P-1,I-12\nI-11,A-1,P-1,I-1\n"
    result = await import_records(domain, admin, "install_base_items", write(tmp_path, "i.csv", content), chunk_size=1)
    assert result.inserted == 3
    found = await items(domain)
    assert [(found[n]["parent"], found[n]["root"]) for n in ("I-11", "I-12", "I-13")] == [
        ("I-1", "I-1"),
        ("I-11", "I-1"),
        ("I-12", "I-1"),
    ]


async def test_moving_an_item_moves_the_root_of_everything_below_it(
    domain: Domain, admin: Actor, tmp_path: Path
) -> None:
    await import_world(domain, admin, tmp_path)
    before = await items(domain)
    # I-2 (with I-3 below it) leaves I-1 and becomes a top item.
    result = await import_records(
        domain, admin, "install_base_items", write(tmp_path, "m.csv", "number,parent\nI-2,\n")
    )
    assert (result.updated, result.rerooted) == (1, 1)
    after = await items(domain)
    assert [(after[n]["parent"], after[n]["root"]) for n in ("I-1", "I-2", "I-3")] == [
        (None, "I-1"),
        (None, "I-2"),
        ("I-2", "I-2"),
    ]
    assert [after[n]["version"] - before[n]["version"] for n in ("I-1", "I-2", "I-3")] == [0, 1, 1]


@pytest.mark.parametrize(
    ("content", "details"),
    [
        (
            ITEM_HEADER + "I-20,A-1,P-1,I-21\nI-21,A-1,P-1,I-20\n",
            [
                "line 2: parent: 'I-21' makes a cycle: the parent chain comes back to this item",
                "line 3: parent: 'I-20' makes a cycle: the parent chain comes back to this item",
            ],
        ),
        (
            ITEM_HEADER + "I-22,A-1,P-1,I-22\n",
            ["line 2: parent: 'I-22' makes a cycle: the parent chain comes back to this item"],
        ),
        # Through the database: I-3 is under I-2 under I-1; making I-1 a child of I-3 closes a loop.
        ("number,parent\nI-1,I-3\n", ["line 2: parent: 'I-3' makes a cycle: the parent chain comes back to this item"]),
        (
            ITEM_HEADER + "I-23,A-1,P-1,I-404\n",
            ["line 2: parent: no install base item numbered 'I-404' in this file or the database"],
        ),
        (ITEM_HEADER + "I-24,A-2,P-1,I-1\n", ["line 2: parent: 'I-1' belongs to another account"]),
    ],
)
async def test_bad_parents_are_refused(
    domain: Domain, admin: Actor, tmp_path: Path, content: str, details: list[str]
) -> None:
    await import_world(domain, admin, tmp_path)
    error = await refused(domain, admin, "install_base_items", write(tmp_path, "i.csv", content))
    assert error.details == details


# --- sources, formats, roles --------------------------------------------------------------------


async def test_streams_need_a_format_and_files_a_known_extension(domain: Domain, admin: Actor, tmp_path: Path) -> None:
    stream = io.StringIO("number,name\nA-1,One\n")
    with pytest.raises(InvalidInput, match="give --format"):
        await import_records(domain, admin, "accounts", stream)
    with pytest.raises(InvalidInput, match="give --format"):
        await import_records(domain, admin, "accounts", write(tmp_path, "a.txt", "number,name\n"))
    with pytest.raises(InvalidInput, match="cannot read"):
        await import_records(domain, admin, "accounts", tmp_path / "absent.csv")
    with pytest.raises(InvalidInput, match="unknown kind"):
        await import_records(domain, admin, "planets", stream, fmt="csv")
    result = await import_records(domain, admin, "accounts", stream, fmt="csv", name="<stdin>")
    assert (result.file_name, result.inserted) == ("<stdin>", 1)
    # --format wins over the extension.
    result = await import_records(
        domain, admin, "accounts", write(tmp_path, "b.txt", '{"number": "A-2", "name": "Two"}\n'), fmt="jsonl"
    )
    assert result.inserted == 1


async def test_a_file_that_is_not_utf8_is_refused(domain: Domain, admin: Actor, tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes("number,name\nA-1,Café\n".encode("latin-1"))
    error = await refused(domain, admin, "accounts", path)
    assert "not UTF-8" in error.details[0]


async def test_hostile_text_is_stored_literally(domain: Domain, admin: Actor, tmp_path: Path) -> None:
    content = f'number,name,region\nA-1,"{HOSTILE}",[/]\n'
    await import_records(domain, admin, "accounts", write(tmp_path, "a.csv", content))
    async with domain.reading() as session:
        account = await session.scalar(select(Account).where(Account.number == "A-1"))
    assert (account.name, account.region) == (HOSTILE, "[/]")
    # Keys are not free text: a control character in a number is refused.
    error = await refused(domain, admin, "accounts", write(tmp_path, "b.csv", "number,name\nA-\x1b[2J,x\n"))
    assert error.details == ["line 2: number: 'A-\\x1b[2J' contains control characters"]


async def test_a_progress_callback_sees_the_rows_read(domain: Domain, admin: Actor, tmp_path: Path) -> None:
    seen: list[int] = []
    content = "number,name\n" + "".join(f"A-{n},N{n}\n" for n in range(7))
    await import_records(
        domain, admin, "accounts", write(tmp_path, "a.csv", content), progress=seen.append, chunk_size=3
    )
    assert seen == [3, 6, 7]


@pytest.mark.parametrize("role", [Role.OPERATOR, Role.AGENT, Role.MANAGER, Role.CUSTOMER])
async def test_only_admins_import(domain: Domain, actors: dict[Role, Actor], tmp_path: Path, role: Role) -> None:
    path = write(tmp_path, "a.csv", "number,name\nA-1,One\n")
    before = await state(domain)
    with pytest.raises(PermissionDenied, match="may not import install base data"):
        await import_records(domain, actors[role], "accounts", path)
    assert await state(domain) == before


# --- queries ------------------------------------------------------------------------------------


async def test_accounts_list_with_counts_search_and_paging(
    domain: Domain, actors: dict[Role, Actor], tmp_path: Path
) -> None:
    await import_world(domain, actors[Role.ADMIN], tmp_path)
    agent = actors[Role.AGENT]
    found = await list_accounts(domain, agent)
    assert [(a.number, a.contacts, a.items) for a in found] == [("A-1", 1, 3), ("A-2", 1, 1), ("ACC-T1", 0, 0)]
    assert [a.number for a in await list_accounts(domain, agent, search="evil")] == ["A-2"]
    assert [a.number for a in await list_accounts(domain, agent, search="%")] == []
    assert [a.number for a in await list_accounts(domain, agent, limit=1, offset=1)] == ["A-2"]
    with pytest.raises(InvalidInput, match="limit"):
        await list_accounts(domain, agent, limit=0)


async def test_account_detail_has_contacts_and_items_with_characteristics(
    domain: Domain, actors: dict[Role, Actor], tmp_path: Path
) -> None:
    await import_world(domain, actors[Role.ADMIN], tmp_path)
    detail = await get_account(domain, actors[Role.MANAGER], "A-1")
    assert (detail.account.name, detail.account.contacts, detail.items_total) == ("Acme", 1, 3)
    assert [(c.number, c.is_primary, c.role) for c in detail.contacts] == [("C-1", True, "technical")]
    by_number = {i.number: i for i in detail.items}
    i3 = by_number["I-3"]
    assert (i3.parent_number, i3.root_number, i3.product_number, i3.sold_product_number, i3.ci_name) == (
        "I-2",
        "I-1",
        "P-1",
        "S-1",
        "host-1",
    )
    assert by_number["I-1"].characteristics == {"tier": HOSTILE, "version": "2.0"}
    assert by_number["I-1"].service_name == "mail"
    assert len((await get_account(domain, actors[Role.MANAGER], "A-1", item_limit=2)).items) == 2
    with pytest.raises(NotFound, match="no account numbered 'A-404'"):
        await get_account(domain, actors[Role.AGENT], "A-404")


async def test_customers_see_only_their_own_account(domain: Domain, actors: dict[Role, Actor], tmp_path: Path) -> None:
    await import_world(domain, actors[Role.ADMIN], tmp_path)
    customer = actors[Role.CUSTOMER]
    assert [a.number for a in await list_accounts(domain, customer)] == ["ACC-T1"]
    assert (await get_account(domain, customer, "ACC-T1")).account.number == "ACC-T1"
    for other in ("A-1", "A-404"):
        with pytest.raises(PermissionDenied, match="only see their own account"):
            await get_account(domain, customer, other)
    with pytest.raises(PermissionDenied):
        await list_cis(domain, customer)


async def test_cis_list_with_neighbourhood_counts(domain: Domain, actors: dict[Role, Actor], tmp_path: Path) -> None:
    await import_world(domain, actors[Role.ADMIN], tmp_path)
    found = await list_cis(domain, actors[Role.OPERATOR])
    assert [(c.name, c.dependencies, c.dependents, c.items) for c in found] == [
        ("dc-1", 0, 1, 0),
        ("host-1", 1, 1, 3),
        ("mail", 1, 0, 0),
    ]
    assert [c.name for c in await list_cis(domain, actors[Role.AGENT], kind="host")] == ["host-1"]
    assert [c.name for c in await list_cis(domain, actors[Role.AGENT], search="EVIL")] == ["host-1"]
    assert found[1].description == HOSTILE


DOCS = Path(__file__).resolve().parents[2] / "docs" / "import.md"


@pytest.mark.skipif(not DOCS.exists(), reason="docs/import.md is not in this tree")
@pytest.mark.parametrize("fmt", ["csv", "json"])
async def test_the_examples_in_the_import_docs_import_cleanly(
    domain: Domain, admin: Actor, tmp_path: Path, fmt: str
) -> None:
    import re

    sections = re.split(r"^### (\w+)$", DOCS.read_text(encoding="utf-8"), flags=re.M)
    kinds = sections[1::2]
    assert kinds == list(IMPORT_KINDS)
    for kind, body in zip(kinds, sections[2::2], strict=True):
        example = re.search(rf"```{fmt}\n(.*?)```", body, re.S)
        assert example, f"no {fmt} example for {kind}"
        path = write(tmp_path, f"{kind}.{'csv' if fmt == 'csv' else 'jsonl'}", example.group(1))
        result = await import_records(domain, admin, kind, path)
        assert result.inserted == result.rows > 0
