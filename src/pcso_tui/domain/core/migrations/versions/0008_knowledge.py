"""knowledge search, article products and views

Articles may name the product they are about, customers' reads are counted in
``article_views``, and articles are searchable: on SQLite an FTS5 table kept by triggers, on
PostgreSQL a generated tsvector column with a GIN index. Both are written by hand per dialect
(the models leave them out, see ``models.FULL_TEXT_NAMES``).

Revision ID: 0008_knowledge
Revises: 0006_web_sessions
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_knowledge"
down_revision: str | None = "0006_web_sessions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Porter stemming over the Unicode tokenizer, accents folded: "Connecting" finds "connection".
SQLITE_FTS = (
    "CREATE VIRTUAL TABLE article_fts USING fts5(title, body, content='article', content_rowid='id', "
    "tokenize='porter unicode61 remove_diacritics 2')"
)
SQLITE_TRIGGERS = (
    "CREATE TRIGGER article_fts_insert AFTER INSERT ON article BEGIN "
    "INSERT INTO article_fts(rowid, title, body) VALUES (new.id, new.title, new.body); END",
    "CREATE TRIGGER article_fts_delete AFTER DELETE ON article BEGIN "
    "INSERT INTO article_fts(article_fts, rowid, title, body) VALUES ('delete', old.id, old.title, old.body); END",
    "CREATE TRIGGER article_fts_update AFTER UPDATE OF title, body ON article BEGIN "
    "INSERT INTO article_fts(article_fts, rowid, title, body) VALUES ('delete', old.id, old.title, old.body); "
    "INSERT INTO article_fts(rowid, title, body) VALUES (new.id, new.title, new.body); END",
)
# Titles weigh more than bodies in the ranking.
POSTGRES_SEARCH = (
    "ALTER TABLE article ADD COLUMN search tsvector GENERATED ALWAYS AS ("
    "setweight(to_tsvector('english', coalesce(title, '')), 'A') || "
    "setweight(to_tsvector('english', coalesce(body, '')), 'B')) STORED"
)


def upgrade() -> None:
    op.create_table(
        "article_views",
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("views", sa.Integer(), nullable=False),
        sa.Column("last_viewed_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"], ["article.id"], name=op.f("fk_article_views_article_id_article"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("article_id", name=op.f("pk_article_views")),
    )
    # On SQLite this rebuilds ``article``: the search is created after it, on the new table.
    with op.batch_alter_table("article", schema=None) as batch_op:
        batch_op.add_column(sa.Column("product_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_article_product_id"), ["product_id"], unique=False)
        batch_op.create_foreign_key(batch_op.f("fk_article_product_id_product"), "product", ["product_id"], ["id"])

    if op.get_context().dialect.name == "sqlite":
        op.execute(SQLITE_FTS)
        for trigger in SQLITE_TRIGGERS:
            op.execute(trigger)
        op.execute("INSERT INTO article_fts(article_fts) VALUES ('rebuild')")
    else:
        op.execute(POSTGRES_SEARCH)
        op.execute("CREATE INDEX ix_article_search ON article USING gin (search)")


def downgrade() -> None:
    if op.get_context().dialect.name == "sqlite":
        for trigger in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER article_fts_{trigger}")
        op.execute("DROP TABLE article_fts")
    else:
        op.execute("DROP INDEX ix_article_search")
        op.execute("ALTER TABLE article DROP COLUMN search")
    with op.batch_alter_table("article", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_article_product_id_product"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_article_product_id"))
        batch_op.drop_column("product_id")

    op.drop_table("article_views")
