"""A small world for case tests: a service map, accounts with their contacts, an incident.

    dc-1 ← host-1 ← svc-1      (svc-1 depends on host-1, which depends on dc-1)
    svc-other                  (unrelated)

The incident is on host-1, so every account with an item on svc-1 is affected:

    ACC-T1    external, primary contact by email (the ``customer`` user's account)
    ACC-2     external, primary contact by webhook
    ACC-3     external, primary contact by sms
    ACC-OPT   external, primary contact opted out          → notice skipped
    ACC-NOC   external, no primary contact, one other      → child without contact; with the
                                                             default ``notify = "all"`` the
                                                             other contact is notified
    ACC-INT   internal (our own department)                → notice skipped

ACC-X has an item on svc-other (never affected); ACC-LATE has an item nowhere relevant and is
added by hand in the "add accounts" tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, insert, select

from pcso_tui.domain.core.models import (
    Account,
    Alert,
    Case,
    CaseAccount,
    CaseItem,
    CIDependency,
    ConfigurationItem,
    Contact,
    Event,
    Incident,
    IncidentCI,
    InstallBaseItem,
    JournalEntry,
    Notice,
    Product,
    Statement,
)
from pcso_tui.domain.core.roles import SYSTEM
from pcso_tui.domain.core.service import Domain

HOSTILE = "[bold]red[/] \x1b[2J [/"

# number: (external, primary channel or None for no primary contact, opted out)
ACCOUNTS: dict[str, tuple[bool, str | None, bool]] = {
    "ACC-T1": (True, "email", False),
    "ACC-2": (True, "webhook", False),
    "ACC-3": (True, "sms", False),
    "ACC-OPT": (True, "email", True),
    "ACC-NOC": (True, None, False),
    "ACC-INT": (False, "email", False),
}
AFFECTED = sorted(ACCOUNTS)
EXTERNAL = sorted(n for n, (ext, _, _) in ACCOUNTS.items() if ext)
# Accounts whose contact gets a pending notice (every account has one contact: the primary,
# or for ACC-NOC another one), and those whose notice is skipped; ``notify = "all"``.
NOTIFIED = sorted(n for n, (ext, ch, opt) in ACCOUNTS.items() if ext and not opt)
SKIPPED = sorted(n for n, (ext, ch, opt) in ACCOUNTS.items() if ch and (opt or not ext))


@dataclass
class World:
    accounts: dict[str, int] = field(default_factory=dict)
    # The primary contact of each account that has one.
    contacts: dict[str, int] = field(default_factory=dict)
    # The contacts that are not primary (ACC-NOC's only one).
    others: dict[str, int] = field(default_factory=dict)
    cis: dict[str, int] = field(default_factory=dict)
    incident_id: int = 0
    other_incident_id: int = 0
    critical_alert_id: int = 0
    minor_alert_id: int = 0
    other_alert_id: int = 0


async def build_world(domain: Domain) -> World:
    w = World()
    async with domain.transaction(SYSTEM) as tx:
        s = tx.session
        now = tx.now
        product = Product(number="P-PBX", name="Cloud PBX", family="voice")
        s.add(product)
        for name, kind in (("dc-1", "datacentre"), ("host-1", "host"), ("svc-1", "service"), ("svc-other", "service")):
            ci = ConfigurationItem(name=name, kind=kind, multi_tenant=kind == "service")
            s.add(ci)
            await s.flush()
            w.cis[name] = ci.id
        await s.execute(
            insert(CIDependency),
            [
                {"ci_id": w.cis["host-1"], "depends_on_id": w.cis["dc-1"]},
                {"ci_id": w.cis["svc-1"], "depends_on_id": w.cis["host-1"]},
            ],
        )
        existing = dict((await s.execute(select(Account.number, Account.id))).all())
        for number in [*AFFECTED, "ACC-X", "ACC-LATE"]:
            external, channel, opted_out = ACCOUNTS.get(number, (True, "email", False))
            if number in existing:
                w.accounts[number] = existing[number]
            else:
                account = Account(number=number, name=f"{number} Ltd", is_external=external, created_at=now)
                s.add(account)
                await s.flush()
                w.accounts[number] = account.id
            if channel is None:
                # Only a non-primary contact.
                second = Contact(number=f"C-{number}-2", account_id=w.accounts[number], name="Second", is_primary=False)
                s.add(second)
                await s.flush()
                w.others[number] = second.id
                continue
            contact = Contact(
                number=f"C-{number}",
                account_id=w.accounts[number],
                name=f"Primary of {number}",
                email=f"{number.lower()}@customers.example",
                preferred_channel=channel,
                webhook_url="http://127.0.0.1:9/hook" if channel == "webhook" else None,
                is_primary=True,
                opted_out=opted_out,
            )
            s.add(contact)
            await s.flush()
            w.contacts[number] = contact.id
        items: list[dict[str, Any]] = []
        for number in AFFECTED:
            items.append(
                {
                    "number": f"IB-{number}",
                    "name": f"PBX of {number}",
                    "account_id": w.accounts[number],
                    "product_id": product.id,
                    "ci_id": w.cis["svc-1"],
                }
            )
        items.append(
            {
                "number": "IB-ACC-X",
                "account_id": w.accounts["ACC-X"],
                "product_id": product.id,
                "ci_id": w.cis["svc-other"],
            }
        )
        items.append({"number": "IB-ACC-LATE", "account_id": w.accounts["ACC-LATE"], "product_id": product.id})
        await s.execute(insert(InstallBaseItem), items)

        incident = Incident(
            title=f"host-1 down {HOSTILE}",
            state="in_progress",
            severity="critical",
            root_ci_id=w.cis["host-1"],
            opened_at=now,
            updated_at=now,
        )
        other = Incident(title="svc-other slow", state="new", severity="minor", opened_at=now, updated_at=now)
        s.add_all([incident, other])
        await s.flush()
        w.incident_id, w.other_incident_id = incident.id, other.id
        await s.execute(
            insert(IncidentCI),
            [
                {"incident_id": incident.id, "ci_id": w.cis["host-1"]},
                {"incident_id": other.id, "ci_id": w.cis["svc-other"]},
            ],
        )
        alerts = {}
        for key, severity, inc, ci in (
            ("minor", "minor", incident.id, "host-1"),
            ("critical", "critical", incident.id, "host-1"),
            ("other", "minor", other.id, "svc-other"),
        ):
            alert = Alert(
                fingerprint=f"fp-{key}",
                source="test",
                name=f"{key} alert",
                severity=severity,
                summary=f"summary {key}",
                ci_key=ci,
                ci_id=w.cis[ci],
                starts_at=now,
                first_seen_at=now,
                last_seen_at=now,
                last_change_at=now,
                incident_id=inc,
            )
            s.add(alert)
            await s.flush()
            alerts[key] = alert.id
        w.critical_alert_id, w.minor_alert_id, w.other_alert_id = alerts["critical"], alerts["minor"], alerts["other"]
    return w


COUNTED = {
    "cases": Case,
    "case_accounts": CaseAccount,
    "case_items": CaseItem,
    "journal": JournalEntry,
    "notices": Notice,
    "statements": Statement,
    "events": Event,
}


async def counts(domain: Domain) -> dict[str, int]:
    """Row counts of every table a case command writes (to show a refusal changed nothing)."""
    out = {}
    async with domain.reading() as session:
        for name, model in COUNTED.items():
            out[name] = await session.scalar(select(func.count()).select_from(model))
        out["versions"] = await session.scalar(select(func.coalesce(func.sum(Case.version), 0)))
    return out


async def children_of(domain: Domain, major_id: int) -> list[Case]:
    async with domain.reading() as session:
        return list(await session.scalars(select(Case).where(Case.parent_id == major_id).order_by(Case.id)))


async def notices(domain: Domain, prefix: str = "") -> list[Notice]:
    async with domain.reading() as session:
        return list(
            await session.scalars(
                select(Notice).where(Notice.idempotency_key.startswith(prefix)).order_by(Notice.idempotency_key)
            )
        )


async def events(domain: Domain, kind: str) -> list[Event]:
    async with domain.reading() as session:
        return list(await session.scalars(select(Event).where(Event.kind == kind).order_by(Event.id)))


async def new_incident(domain: Domain, world: World, *, severity: str = "major") -> int:
    """Another active incident on host-1 (so a test can open many proactive cases)."""
    async with domain.transaction(SYSTEM) as tx:
        incident = Incident(title="host-1 again", state="new", severity=severity, opened_at=tx.now, updated_at=tx.now)
        tx.session.add(incident)
        await tx.session.flush()
        await tx.session.execute(insert(IncidentCI).values(incident_id=incident.id, ci_id=world.cis["host-1"]))
        return incident.id
