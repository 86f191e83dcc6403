"""A small world for delivery tests, written with Core inserts (not through the commands).

Accounts with one primary contact each, a major case with one child per account, a
statement on the major case, an article attached, and one ``statement`` notice per contact —
what approval and statements leave in the outbox.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.smtp import SMTP as SMTPServerProtocol
from sqlalchemy import func, insert, select

from pcso_tui.domain.core.models import (
    Account,
    Article,
    Case,
    CaseArticle,
    Contact,
    Event,
    JournalEntry,
    Notice,
    Statement,
)
from pcso_tui.domain.core.roles import SYSTEM
from pcso_tui.domain.core.service import Domain

STATEMENT = "Payments are failing for some card types. Engineers are rolling back the change."
WORKAROUND_TITLE = "Pay by bank transfer meanwhile"
WORKAROUND_BODY = "Choose 'bank transfer' at checkout; it does not use the card gateway."
INTERNAL_ARTICLE = "INTERNAL: restart pod gw-7 by hand"
WORK_NOTE = "WORK NOTE: db-cluster-07 password rotated, root cause is our bad deploy"


@dataclass
class World:
    major_id: int
    child_ids: list[int]
    account_ids: list[int]
    contact_ids: list[int]
    emails: list[str]
    statement_id: int
    article_id: int
    notice_ids: list[int] = field(default_factory=list)


async def make_world(
    domain: Domain,
    accounts: int = 3,
    *,
    channel: str = "email",
    prefix: str = "W",
    title: str = "Card payments failing",
    statement: str = STATEMENT,
    queue: bool = True,
) -> World:
    async with domain.transaction(SYSTEM) as tx:
        s, now = tx.session, tx.now
        await s.execute(
            insert(Account),
            [
                {"number": f"{prefix}-ACC-{i}", "name": f"{prefix} Customer {i}", "created_at": now}
                for i in range(accounts)
            ],
        )
        account_ids = list(
            (
                await s.scalars(select(Account.id).where(Account.number.like(f"{prefix}-ACC-%")).order_by(Account.id))
            ).all()
        )
        await s.execute(
            insert(Contact),
            [
                {
                    "number": f"{prefix}-CON-{i}",
                    "account_id": account_id,
                    "name": f"Contact {i}",
                    "email": f"contact{i}@{prefix.lower()}.example",
                    "phone": f"+4670000{i:04d}",
                    "preferred_channel": channel,
                    "is_primary": True,
                }
                for i, account_id in enumerate(account_ids)
            ],
        )
        contact_ids = list(
            (await s.scalars(select(Contact.id).where(Contact.account_id.in_(account_ids)).order_by(Contact.id))).all()
        )
        major = Case(
            kind="major",
            state="open",
            major_case_state="accepted",
            short_description="internal short description: " + WORK_NOTE,
            public_title=title,
            description="internal description: " + WORK_NOTE,
            opened_at=now,
            updated_at=now,
        )
        s.add(major)
        await s.flush()
        await s.execute(
            insert(Case),
            [
                {
                    "kind": "child",
                    "state": "open",
                    "short_description": "internal short description: " + WORK_NOTE,
                    "public_title": title,
                    "account_id": account_id,
                    "contact_id": contact_id,
                    "parent_id": major.id,
                    "opened_at": now,
                    "updated_at": now,
                }
                for account_id, contact_id in zip(account_ids, contact_ids, strict=True)
            ],
        )
        child_ids = list((await s.scalars(select(Case.id).where(Case.parent_id == major.id).order_by(Case.id))).all())
        stmt = Statement(case_id=major.id, body=statement, created_at=now)
        s.add(stmt)
        article = Article(
            number=f"{prefix}-KB-1", title=WORKAROUND_TITLE, body=WORKAROUND_BODY, created_at=now, updated_at=now
        )
        hidden = Article(
            number=f"{prefix}-KB-2",
            title=INTERNAL_ARTICLE,
            body=INTERNAL_ARTICLE,
            customer_visible=False,
            created_at=now,
            updated_at=now,
        )
        s.add_all([article, hidden])
        await s.flush()
        await s.execute(insert(CaseArticle), [{"case_id": major.id, "article_id": a.id} for a in (article, hidden)])
        s.add(
            JournalEntry(
                case_id=major.id,
                kind="work_note",
                visibility="internal",
                body=WORK_NOTE,
                author_name="op",
                created_at=now,
            )
        )
        world = World(
            major_id=major.id,
            child_ids=child_ids,
            account_ids=account_ids,
            contact_ids=contact_ids,
            emails=[f"contact{i}@{prefix.lower()}.example" for i in range(accounts)],
            statement_id=stmt.id,
            article_id=article.id,
        )
    if queue:
        world.notice_ids = await queue_statement_notices(domain, world)
    return world


async def queue_statement_notices(domain: Domain, world: World, *, channel: str | None = None) -> list[int]:
    """One ``statement`` notice per contact, on the contact's child case (what statements queue)."""
    async with domain.transaction(SYSTEM) as tx:
        rows = await tx.session.execute(
            select(Contact.id, Contact.preferred_channel).where(Contact.id.in_(world.contact_ids))
        )
        channels = {contact_id: preferred for contact_id, preferred in rows}
        await tx.session.execute(
            insert(Notice),
            [
                {
                    "idempotency_key": f"statement:{world.statement_id}:{contact_id}",
                    "kind": "statement",
                    "contact_id": contact_id,
                    "account_id": account_id,
                    "case_id": child_id,
                    "statement_id": world.statement_id,
                    "channel": channel or channels[contact_id],
                    "next_attempt_at": tx.now,
                    "created_at": tx.now,
                }
                for contact_id, account_id, child_id in zip(
                    world.contact_ids, world.account_ids, world.child_ids, strict=True
                )
            ],
        )
        ids = (
            await tx.session.scalars(
                select(Notice.id).where(Notice.statement_id == world.statement_id).order_by(Notice.id)
            )
        ).all()
    return list(ids)


async def notices(domain: Domain, ids: Sequence[int] | None = None) -> list[Any]:
    async with domain.reading() as session:
        query = select(Notice).order_by(Notice.id)
        if ids is not None:
            query = query.where(Notice.id.in_(ids))
        return list((await session.scalars(query)).all())


async def count(domain: Domain, model: type, *where: Any) -> int:
    async with domain.reading() as session:
        return await session.scalar(select(func.count()).select_from(model).where(*where)) or 0


async def events_of_kind(domain: Domain, kind: str) -> list[Any]:
    async with domain.reading() as session:
        return list((await session.scalars(select(Event).where(Event.kind == kind).order_by(Event.id))).all())


# --- a real SMTP server on loopback ---------------------------------------------------------


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    @property
    def message(self) -> email.message.EmailMessage:
        return email.message_from_bytes(self.data, policy=email.policy.default)  # type: ignore[return-value]

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"])

    @property
    def text(self) -> str:
        body = self.message.get_body(("plain",))
        assert body is not None
        return body.get_content()

    @property
    def html(self) -> str | None:
        body = self.message.get_body(("html",))
        return body.get_content() if body is not None else None


class SmtpServer:
    """aiosmtpd on 127.0.0.1 in the test's own loop; it can be stopped mid-conversation."""

    def __init__(
        self, *, stop_after: int | None = None, reply: str = "250 OK", login: tuple[str, str] | None = None
    ) -> None:
        self.login = login
        self.logins: list[str] = []
        self.received: list[Received] = []
        self.stop_after = stop_after
        self.reply = reply
        self.port = 0
        self._server: asyncio.AbstractServer | None = None
        self._protocols: list[SMTPServerProtocol] = []
        self.stopped = asyncio.Event()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if not self.reply.startswith("250"):
            return self.reply
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        if self.stop_after is not None and len(self.received) >= self.stop_after:
            self.stop_after = None
            # Drop everything at once, like a crashed relay; this message's reply may be lost.
            asyncio.get_running_loop().call_soon(self._abort)
        return "250 OK"

    def _authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
        from aiosmtpd.smtp import AuthResult

        user, password = data.login.decode(), data.password.decode()
        ok = (user, password) == self.login
        if ok:
            self.logins.append(user)
        return AuthResult(success=ok, handled=False)

    def _factory(self) -> SMTPServerProtocol:
        extra: dict[str, Any] = {}
        if self.login is not None:
            extra = {"authenticator": self._authenticate, "auth_required": True, "auth_require_tls": False}
        protocol = SMTPServerProtocol(self, hostname="localhost", ident="test-smtp", **extra)
        self._protocols.append(protocol)
        return protocol

    async def start(self) -> SmtpServer:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._factory, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        self.stopped.clear()
        return self

    def _abort(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for protocol in self._protocols:
            transport = getattr(protocol, "transport", None)
            if transport is not None:
                transport.abort()
        self._protocols.clear()
        self.stopped.set()

    async def stop(self) -> None:
        server = self._server
        self._abort()
        if server is not None:
            await server.wait_closed()

    def by_recipient(self) -> dict[str, list[Received]]:
        found: dict[str, list[Received]] = {}
        for r in self.received:
            for rcpt in r.rcpt_tos:
                found.setdefault(rcpt, []).append(r)
        return found


# --- a real HTTP server on loopback ---------------------------------------------------------


@dataclass
class Hook:
    path: str
    headers: dict[str, str]
    body: bytes


class WebhookServer:
    """aiohttp on 127.0.0.1; answers each path with the statuses queued for it (then 200)."""

    def __init__(self) -> None:
        self.received: list[Hook] = []
        self.statuses: dict[str, list[tuple[int, dict[str, str]]]] = {}
        self.port = 0
        self._runner: Any = None

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def answer(self, path: str, *statuses: int, headers: dict[str, str] | None = None) -> None:
        self.statuses.setdefault(path, []).extend((s, headers or {}) for s in statuses)

    async def _handle(self, request: Any) -> Any:
        from aiohttp import web

        body = await request.read()
        self.received.append(Hook(request.path, dict(request.headers), body))
        queued = self.statuses.get(request.path)
        status, headers = queued.pop(0) if queued else (200, {})
        return web.Response(status=status, text="ok", headers=headers)

    async def start(self) -> WebhookServer:
        from aiohttp import web

        app = web.Application()
        app.router.add_route("POST", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


# --- an install base on a small service map -------------------------------------------------


@dataclass
class ServiceMap:
    ci: dict[str, int]
    accounts: dict[str, int]
    contacts: dict[str, int]


async def make_service_map(domain: Domain, *, extra_account_id: int | None = None) -> ServiceMap:
    """dc-1 ← host-1 ← payments (a service); other-svc stands alone.

    Accounts: A on payments (and a secondary contact), B on host-1 with a component item,
    C on other-svc (product P-OTHER), D internal on payments, E on payments but opted out.
    ``extra_account_id`` (e.g. the customer user's account) gets an item on payments too.
    """
    from pcso_tui.domain.core.models import CIDependency, ConfigurationItem, InstallBaseItem, Product

    async with domain.transaction(SYSTEM) as tx:
        s, now = tx.session, tx.now
        await s.execute(
            insert(ConfigurationItem),
            [
                {"name": "dc-1", "kind": "datacentre"},
                {"name": "host-1", "kind": "host"},
                {"name": "payments", "kind": "service"},
                {"name": "other-svc", "kind": "service"},
            ],
        )
        ci = {name: id_ for id_, name in await s.execute(select(ConfigurationItem.id, ConfigurationItem.name))}
        await s.execute(
            insert(CIDependency),
            [
                {"ci_id": ci["host-1"], "depends_on_id": ci["dc-1"]},
                {"ci_id": ci["payments"], "depends_on_id": ci["host-1"]},
            ],
        )
        await s.execute(
            insert(Product),
            [{"number": "P-PAY", "name": "Payments Platform"}, {"number": "P-OTHER", "name": "Other Product"}],
        )
        product = {number: id_ for id_, number in await s.execute(select(Product.id, Product.number))}
        letters = "ABCDE"
        await s.execute(
            insert(Account),
            [
                {"number": f"SM-{x}", "name": f"Map Customer {x}", "is_external": x != "D", "created_at": now}
                for x in letters
            ],
        )
        accounts = {
            number[-1]: id_
            for id_, number in await s.execute(select(Account.id, Account.number).where(Account.number.like("SM-%")))
        }
        await s.execute(
            insert(Contact),
            [
                {
                    "number": f"SM-C-{x}",
                    "account_id": accounts[x],
                    "name": f"Primary {x}",
                    "email": f"{x.lower()}@map.example",
                    "is_primary": True,
                    "opted_out": x == "E",
                }
                for x in letters
            ]
            + [
                {
                    "number": "SM-C-A2",
                    "account_id": accounts["A"],
                    "name": "Secondary A",
                    "email": "a2@map.example",
                    "is_primary": False,
                }
            ],
        )
        contacts = {
            number.removeprefix("SM-C-"): id_
            for id_, number in await s.execute(select(Contact.id, Contact.number).where(Contact.number.like("SM-C-%")))
        }
        where = {"A": "payments", "B": "host-1", "C": "other-svc", "D": "payments", "E": "payments"}
        rows = [
            {
                "number": f"SM-I-{x}",
                "account_id": accounts[x],
                "product_id": product["P-OTHER" if x == "C" else "P-PAY"],
                "ci_id": ci[where[x]],
            }
            for x in letters
        ]
        if extra_account_id is not None:
            rows.append(
                {
                    "number": "SM-I-X",
                    "account_id": extra_account_id,
                    "product_id": product["P-PAY"],
                    "ci_id": ci["payments"],
                }
            )
        await s.execute(insert(InstallBaseItem), rows)
        parent = await s.scalar(select(InstallBaseItem.id).where(InstallBaseItem.number == "SM-I-B"))
        await s.execute(
            insert(InstallBaseItem),
            [
                {
                    "number": "SM-I-B-1",
                    "account_id": accounts["B"],
                    "product_id": product["P-PAY"],
                    "parent_id": parent,
                    "root_id": parent,
                }
            ],
        )
    return ServiceMap(ci=ci, accounts=accounts, contacts=contacts)
