"""The schema: SQLAlchemy 2 typed ORM models.

Only the domain touches these. Screens, the CLI and plugins get read models (see ``views``).

Conventions:
- Imported records (accounts, contacts, products, CIs, install base items …) carry ``number``,
  the business key an import upserts by. Records the product creates itself (cases, incidents,
  outages) are numbered from their id (``CS0000042``), see ``numbers``.
- Mutable records carry ``version`` (optimistic locking): the ORM bumps it on every flush, and
  set-based statements bump it themselves.
- Times are timezone-aware UTC in Python and naive UTC in the database (``UTCDateTime``).
- The table for cases is ``support_case`` because ``case`` is an SQL keyword.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
    true,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in Python, naive UTC in the database (SQLite has no time zones)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: the domain only stores aware UTC times")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


JSONType = JSON().with_variant(JSONB(), "postgresql")

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSONType, list[Any]: JSONType}

    if TYPE_CHECKING:
        # Every model is mapped to a Table; DeclarativeBase types it as a FromClause, which
        # Core's insert()/update() and Table-only attributes do not accept.
        __table__: ClassVar[Table]


# --- people -------------------------------------------------------------------------------


class User(Base):
    """A person who signs in: staff (operator, agent, manager, admin) or a customer user."""

    __tablename__ = "app_user"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(16))
    # Customers are scoped to exactly one account.
    account_id: Mapped[int | None] = mapped_column(ForeignKey("account.id"))
    email: Mapped[str | None] = mapped_column(String(320))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]
    version: Mapped[int] = mapped_column(Integer, default=1)

    __table_args__ = (
        CheckConstraint("role IN ('operator','agent','manager','customer','admin')", name="role"),
        CheckConstraint("role <> 'customer' OR account_id IS NOT NULL", name="customer_has_account"),
    )
    __mapper_args__ = {"version_id_col": version}


class UserKey(Base):
    """An SSH public key a user signs in to ``pcso gateway`` with (``pcso users keys``).

    A key belongs to one user: the gateway finds the user by the key's fingerprint.
    """

    __tablename__ = "user_key"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), index=True)
    # "SHA256:" and the unpadded base64 of the key's SHA-256, as ssh-keygen -l prints it.
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)
    algorithm: Mapped[str] = mapped_column(String(64))
    # The key in OpenSSH's one-line form ("ssh-ed25519 AAAA..."), without its comment.
    public_key: Mapped[str] = mapped_column(Text)
    comment: Mapped[str] = mapped_column(String(200), default="")
    added_at: Mapped[datetime]


# --- install base ---------------------------------------------------------------------------


class Account(Base):
    __tablename__ = "account"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    tier: Mapped[str] = mapped_column(String(32), default="standard")
    region: Mapped[str] = mapped_column(String(64), default="")
    industry: Mapped[str] = mapped_column(String(64), default="")
    # Internal accounts (our own departments) never get customer notices.
    is_external: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}


class Contact(Base):
    __tablename__ = "contact"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(40))
    # email | webhook | sms | portal
    preferred_channel: Mapped[str] = mapped_column(String(16), default="email")
    webhook_url: Mapped[str | None] = mapped_column(String(2000))
    is_primary: Mapped[bool] = mapped_column(Boolean, default=False)
    # What the contact is for at the account (technical, billing …; "" when not said):
    # ``[delivery] notify`` may limit notices to some roles.
    role: Mapped[str] = mapped_column(String(16), default="", server_default="")
    opted_out: Mapped[bool] = mapped_column(Boolean, default=False)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __table_args__ = (Index("ix_contact_primary", "account_id", "is_primary"),)
    __mapper_args__ = {"version_id_col": version}


class Product(Base):
    __tablename__ = "product"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    family: Mapped[str] = mapped_column(String(64), default="")
    # What customers call it (None: ``name``), and whether customers are told about it at all.
    public_name: Mapped[str | None] = mapped_column(String(200))
    customer_facing: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}


class SoldProduct(Base):
    __tablename__ = "sold_product"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id"), index=True)
    quantity: Mapped[int] = mapped_column(Integer, default=1)
    starts_on: Mapped[date | None] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}


class ConfigurationItem(Base):
    """A piece of infrastructure or a service: datacentre, cluster, host, service, application …"""

    __tablename__ = "ci"

    id: Mapped[int] = mapped_column(primary_key=True)
    # The key alerts are mapped by (the value of the `ci`/`instance`/`service` label).
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(32), default="service")
    description: Mapped[str] = mapped_column(String(500), default="")
    environment: Mapped[str] = mapped_column(String(32), default="production")
    location: Mapped[str] = mapped_column(String(64), default="")
    # A service shared by many accounts (its outage touches all of them).
    multi_tenant: Mapped[bool] = mapped_column(Boolean, default=False)
    # The public service catalogue: the name customers know this CI by, and whether it is one
    # they see (None: decided by its kind, as before the catalogue).
    public_name: Mapped[str | None] = mapped_column(String(200))
    customer_facing: Mapped[bool | None] = mapped_column(Boolean)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}


class CIDependency(Base):
    """The service map: ``ci`` depends on ``depends_on`` (an outage of the latter hits the former)."""

    __tablename__ = "ci_dependency"

    ci_id: Mapped[int] = mapped_column(ForeignKey("ci.id"), primary_key=True)
    depends_on_id: Mapped[int] = mapped_column(ForeignKey("ci.id"), primary_key=True)

    __table_args__ = (
        # Impact walks downstream: from a broken CI to everything that depends on it.
        Index("ix_ci_dependency_upstream", "depends_on_id", "ci_id"),
        CheckConstraint("ci_id <> depends_on_id", name="not_self"),
    )


class MaintenanceWindow(Base):
    """While a window is active, alerts on its CI are flagged maintenance and raise no incident."""

    __tablename__ = "maintenance_window"

    id: Mapped[int] = mapped_column(primary_key=True)
    ci_id: Mapped[int] = mapped_column(ForeignKey("ci.id"), index=True)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    reason: Mapped[str] = mapped_column(String(500), default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    created_at: Mapped[datetime]

    __table_args__ = (CheckConstraint("ends_at > starts_at", name="ends_after_start"),)


class InstallBaseItem(Base):
    """A product installed for an account, on a CI. Components point to their parent and root."""

    __tablename__ = "install_base_item"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"))
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id"), index=True)
    sold_product_id: Mapped[int | None] = mapped_column(ForeignKey("sold_product.id"))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("install_base_item.id"), index=True)
    root_id: Mapped[int | None] = mapped_column(ForeignKey("install_base_item.id"), index=True)
    # The CI it runs on, and the business service it belongs to (its service context).
    ci_id: Mapped[int | None] = mapped_column(ForeignKey("ci.id"))
    service_ci_id: Mapped[int | None] = mapped_column(ForeignKey("ci.id"))
    status: Mapped[str] = mapped_column(String(32), default="in_use")
    installed_on: Mapped[date | None] = mapped_column(Date)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __table_args__ = (
        # Covering index for impact: CI → items → accounts without touching the table.
        Index("ix_install_base_item_ci_account", "ci_id", "account_id"),
        Index("ix_install_base_item_account", "account_id"),
        # Impact's component closure on a large outage scans the components alone (a fifth of the
        # items, say) instead of probing every affected item for children.
        Index(
            "ix_install_base_item_component",
            "parent_id",
            "ci_id",
            "account_id",
            sqlite_where=text("parent_id IS NOT NULL"),
            postgresql_where=text("parent_id IS NOT NULL"),
        ),
    )
    __mapper_args__ = {"version_id_col": version}


class Characteristic(Base):
    """One named characteristic of an install base item: version, region, tier, usage …"""

    __tablename__ = "characteristic"

    item_id: Mapped[int] = mapped_column(ForeignKey("install_base_item.id", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))

    __table_args__ = (Index("ix_characteristic_name_value", "name", "value", "item_id"),)


# --- operations: alerts and incidents ------------------------------------------------------


class Incident(Base):
    __tablename__ = "incident"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(500))
    state: Mapped[str] = mapped_column(String(16), default="new")
    severity: Mapped[str] = mapped_column(String(16))
    # The probable root cause: the nearest CI upstream of every CI in the incident.
    root_ci_id: Mapped[int | None] = mapped_column(ForeignKey("ci.id"))
    opened_at: Mapped[datetime]
    opened_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    # Name of the rule that opened it automatically, if no person did.
    opened_by_rule: Mapped[str | None] = mapped_column(String(64))
    eta: Mapped[datetime | None]
    resolution_code: Mapped[str | None] = mapped_column(String(64))
    resolution_notes: Mapped[str | None] = mapped_column(Text)
    resolved_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]
    version: Mapped[int] = mapped_column(Integer, default=1)

    __table_args__ = (Index("ix_incident_state", "state", "opened_at"),)
    __mapper_args__ = {"version_id_col": version}


class IncidentCI(Base):
    __tablename__ = "incident_ci"

    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id", ondelete="CASCADE"), primary_key=True)
    ci_id: Mapped[int] = mapped_column(ForeignKey("ci.id"), primary_key=True)

    __table_args__ = (Index("ix_incident_ci_ci", "ci_id", "incident_id"),)


class Alert(Base):
    """One alert, deduplicated by fingerprint within its source; it opens, closes, flaps and
    reopens in place."""

    __tablename__ = "alert"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Unique per source (with ``source``, below): a fingerprint is the sender's name for an
    # alert, and two senders may pick the same one for different alerts.
    fingerprint: Mapped[str] = mapped_column(String(128))
    source: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))
    severity: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), default="open")
    acknowledged: Mapped[bool] = mapped_column(Boolean, default=False)
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    maintenance: Mapped[bool] = mapped_column(Boolean, default=False)
    summary: Mapped[str] = mapped_column(Text, default="")
    description: Mapped[str] = mapped_column(Text, default="")
    labels: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    annotations: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    # The raw label value the CI was looked up by; ci_id stays NULL when unknown (unmapped).
    ci_key: Mapped[str | None] = mapped_column(String(200))
    ci_id: Mapped[int | None] = mapped_column(ForeignKey("ci.id"))
    generator_url: Mapped[str | None] = mapped_column(String(2000))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime | None]
    first_seen_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    last_change_at: Mapped[datetime]
    # How many times it was received, and how often it changed state recently (flapping).
    receive_count: Mapped[int] = mapped_column(Integer, default=1)
    flap_score: Mapped[int] = mapped_column(Integer, default=0)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incident.id"))
    version: Mapped[int] = mapped_column(Integer, default=1)

    __table_args__ = (
        UniqueConstraint("fingerprint", "source", name="uq_alert_fingerprint_source"),
        Index("ix_alert_state_severity", "state", "severity"),
        Index("ix_alert_incident", "incident_id"),
        Index("ix_alert_ci", "ci_id", "state"),
        Index("ix_alert_last_change", "last_change_at"),
        # The dashboard buckets alerts by when they were first seen.
        Index("ix_alert_first_seen", "first_seen_at"),
        CheckConstraint("state IN ('open','closed','flapping')", name="state"),
    )
    __mapper_args__ = {"version_id_col": version}


class HealthBaseline(Base):
    """The learned normal of one health-check metric (exponentially weighted mean and variance)."""

    __tablename__ = "health_baseline"

    check_name: Mapped[str] = mapped_column(String(200), primary_key=True)
    metric: Mapped[str] = mapped_column(String(32), primary_key=True)
    mean: Mapped[float] = mapped_column(Float, default=0.0)
    variance: Mapped[float] = mapped_column(Float, default=0.0)
    samples: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime]


# --- cases --------------------------------------------------------------------------------


class Case(Base):
    __tablename__ = "support_case"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), default="new")
    major_case_state: Mapped[str] = mapped_column(String(16), default="none")
    priority: Mapped[int] = mapped_column(Integer, default=4)
    short_description: Mapped[str] = mapped_column(String(500))
    description: Mapped[str] = mapped_column(Text, default="")
    # Customer-facing wording, apart from the internal text above: what notices, the portal
    # and the status page call this case. Only a person types it (or a neutral template).
    public_title: Mapped[str | None] = mapped_column(String(200))
    public_summary: Mapped[str | None] = mapped_column(Text)
    # How it reached us: monitoring, phone, email, portal, web.
    channel: Mapped[str] = mapped_column(String(16), default="monitoring")
    account_id: Mapped[int | None] = mapped_column(ForeignKey("account.id"))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contact.id"))
    product_id: Mapped[int | None] = mapped_column(ForeignKey("product.id"))
    ci_id: Mapped[int | None] = mapped_column(ForeignKey("ci.id"))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("support_case.id"))
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incident.id"))
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("alert.id"))
    opened_at: Mapped[datetime]
    opened_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    updated_at: Mapped[datetime]
    # Major case proposal and decision.
    proposed_at: Mapped[datetime | None]
    proposed_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    propose_reason: Mapped[str | None] = mapped_column(Text)
    business_impact: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[datetime | None]
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    reject_reason: Mapped[str | None] = mapped_column(Text)
    # A reactive case attached to a known major case: a call we could answer at once.
    deflected: Mapped[bool] = mapped_column(Boolean, default=False)
    resolution_code: Mapped[str | None] = mapped_column(String(64))
    resolution_notes: Mapped[str | None] = mapped_column(Text)
    resolved_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(Integer, default=1)

    __table_args__ = (
        CheckConstraint("kind IN ('reactive','proactive','major','child')", name="kind"),
        CheckConstraint("state IN ('new','open','awaiting_info','resolved','closed','canceled')", name="state"),
        CheckConstraint(
            "major_case_state IN ('none','proposed','accepted','rejected','cancelled')",
            name="major_case_state",
        ),
        CheckConstraint("priority BETWEEN 1 AND 4", name="priority"),
        Index("ix_support_case_queue", "kind", "state", "priority"),
        Index("ix_support_case_major_state", "major_case_state"),
        Index("ix_support_case_parent", "parent_id", "state"),
        Index("ix_support_case_account", "account_id", "state"),
        Index("ix_support_case_incident", "incident_id"),
        Index("ix_support_case_opened", "opened_at"),
        # The dashboard counts cases of one kind opened in a period.
        Index("ix_support_case_kind_opened", "kind", "opened_at"),
        # One child per account per major case, whoever approves, however often.
        Index(
            "uq_support_case_child_account",
            "parent_id",
            "account_id",
            unique=True,
            sqlite_where=text("kind = 'child'"),
            postgresql_where=text("kind = 'child'"),
        ),
    )
    __mapper_args__ = {"version_id_col": version}


class CaseAccount(Base):
    """An account affected by a case (the recipients of a major case)."""

    __tablename__ = "case_account"

    case_id: Mapped[int] = mapped_column(ForeignKey("support_case.id", ondelete="CASCADE"), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"), primary_key=True)
    # How we know: impact (service map), reported, likely (insight), manual.
    source: Mapped[str] = mapped_column(String(16), default="impact")

    __table_args__ = (Index("ix_case_account_account", "account_id", "case_id"),)


class CaseItem(Base):
    """An install base item affected by a case."""

    __tablename__ = "case_item"

    case_id: Mapped[int] = mapped_column(ForeignKey("support_case.id", ondelete="CASCADE"), primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("install_base_item.id"), primary_key=True)


class JournalEntry(Base):
    """A line on a case's or incident's journal.

    ``visibility`` keeps work notes (internal) apart from comments customers can read.
    ``kind``: work_note, comment, statement, progress, eta, state, resolution, reply.
    """

    __tablename__ = "journal_entry"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("support_case.id", ondelete="CASCADE"))
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incident.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    visibility: Mapped[str] = mapped_column(String(16), default="internal")
    body: Mapped[str] = mapped_column(Text)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    author_name: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    # Where a copied line came from: the statement, or the incident line it was synced from.
    statement_id: Mapped[int | None] = mapped_column(ForeignKey("statement.id"))
    source_entry_id: Mapped[int | None] = mapped_column(ForeignKey("journal_entry.id"))

    __table_args__ = (
        CheckConstraint("(case_id IS NULL) <> (incident_id IS NULL)", name="one_subject"),
        CheckConstraint("visibility IN ('internal','customer')", name="visibility"),
        Index("ix_journal_entry_case", "case_id", "id"),
        Index("ix_journal_entry_incident", "incident_id", "id"),
    )


class Statement(Base):
    """A customer-facing statement written on a major case."""

    __tablename__ = "statement"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("support_case.id"), index=True)
    body: Mapped[str] = mapped_column(Text)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    created_at: Mapped[datetime]


class Article(Base):
    """A knowledge or workaround article."""

    __tablename__ = "article"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    title: Mapped[str] = mapped_column(String(500))
    body: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16), default="workaround")
    customer_visible: Mapped[bool] = mapped_column(Boolean, default=True)
    # The product it is about, for the customers who have it; None: a general article.
    product_id: Mapped[int | None] = mapped_column(ForeignKey("product.id"), index=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}
    # Full-text search is kept by hand-written migration 0008 beside this table (SQLite: the
    # FTS5 table ``article_fts`` and its triggers; PostgreSQL: the ``search`` tsvector column
    # and its GIN index); ``FULL_TEXT_NAMES`` keeps them out of the model comparison.


# Schema objects of the full-text search that the models do not describe (see ``Article``).
FULL_TEXT_NAMES = frozenset({"article_fts", "search", "ix_article_search"})


def is_full_text_name(name: str | None) -> bool:
    """Whether a table, column or index belongs to the article search (FTS5 makes shadow
    tables ``article_fts_data`` and the like)."""
    return name is not None and (name in FULL_TEXT_NAMES or name.startswith("article_fts_"))


class ArticleViews(Base):
    """How often customers opened an article. Kept apart from ``article`` so that counting a
    read never bumps the version an editor's stale-edit check relies on."""

    __tablename__ = "article_views"

    article_id: Mapped[int] = mapped_column(ForeignKey("article.id", ondelete="CASCADE"), primary_key=True)
    views: Mapped[int] = mapped_column(Integer, default=0)
    last_viewed_at: Mapped[datetime]


class CaseArticle(Base):
    __tablename__ = "case_article"

    case_id: Mapped[int] = mapped_column(ForeignKey("support_case.id", ondelete="CASCADE"), primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("article.id"), primary_key=True)


class Outage(Base):
    """A period a service is (or will be) down or degraded; status follows from begin/end."""

    __tablename__ = "outage"

    id: Mapped[int] = mapped_column(primary_key=True)
    type: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(500))
    # Customer-facing text only: this is what the status page shows.
    details: Mapped[str] = mapped_column(Text, default="")
    ci_id: Mapped[int | None] = mapped_column(ForeignKey("ci.id"))
    product_id: Mapped[int | None] = mapped_column(ForeignKey("product.id"))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("support_case.id"))
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incident.id"))
    begins_at: Mapped[datetime]
    ends_at: Mapped[datetime | None]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    created_at: Mapped[datetime]
    version: Mapped[int] = mapped_column(Integer, default=1)

    __table_args__ = (
        CheckConstraint("type IN ('unplanned','planned','degradation')", name="type"),
        CheckConstraint("ends_at IS NULL OR ends_at >= begins_at", name="ends_after_begin"),
        Index("ix_outage_begins", "begins_at"),
    )
    __mapper_args__ = {"version_id_col": version}


class Notice(Base):
    """The notification outbox: one row per message to one contact.

    ``idempotency_key`` is stable per (what, contact) so a retried or re-queued notice is the
    same notice; channels pass it on (email Message-ID, webhook header).
    """

    __tablename__ = "notice"

    id: Mapped[int] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    # major_case_opened, statement, resolved, closed, outage_planned …
    kind: Mapped[str] = mapped_column(String(32))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contact.id"))
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("support_case.id"))
    statement_id: Mapped[int | None] = mapped_column(ForeignKey("statement.id"))
    # The outage a planned-maintenance notice is about.
    outage_id: Mapped[int | None] = mapped_column(ForeignKey("outage.id"))
    channel: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    # The message as first rendered (canonical JSON), frozen before the first send so that a
    # retry or a re-send after a crash carries exactly the same bytes.
    rendered: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __table_args__ = (
        CheckConstraint("state IN ('pending','sent','dead','skipped')", name="state"),
        Index("ix_notice_due", "state", "next_attempt_at"),
        # sent_at too: the first notice sent on a case is one index seek (the dashboard).
        Index("ix_notice_case", "case_id", "state", "sent_at"),
    )
    __mapper_args__ = {"version_id_col": version}


# --- the customers' web portal ---------------------------------------------------------------


class WebSignInToken(Base):
    """A one-time sign-in link sent to a contact: only its SHA-256 is kept, so the table alone
    signs nobody in. Used once (``used_at``), and never after ``expires_at``."""

    __tablename__ = "web_sign_in_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contact.id"), index=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class WebSession(Base):
    """A signed-in contact's browser session, stored by the SHA-256 of its cookie."""

    __tablename__ = "web_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contact.id"), index=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]


# --- the event log ------------------------------------------------------------------------


class Event(Base):
    """Append-only: who did what to which record, when. Also the live-update feed.

    Triggers (see the initial migration) refuse UPDATE and DELETE on this table.
    """

    __tablename__ = "event"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime]
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    actor_name: Mapped[str] = mapped_column(String(64))
    # The admin who acted --as actor_name, if any.
    impersonator: Mapped[str | None] = mapped_column(String(64))
    # The SSH key (its fingerprint) the actor signed in to ``pcso gateway`` with, if any.
    key_fingerprint: Mapped[str | None] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(64))
    subject_type: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[int | None] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)

    __table_args__ = (Index("ix_event_subject", "subject_type", "subject_id", "id"),)


class Setting(Base):
    """Small facts about this database (e.g. whether it is a demo world)."""

    __tablename__ = "setting"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[dict[str, Any] | list[Any] | str | int | None] = mapped_column(JSONType)
