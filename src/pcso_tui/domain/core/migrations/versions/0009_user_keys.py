"""user keys and the key an event was made with

Revision ID: 0009_user_keys
Revises: 0008_knowledge
Create Date: 2026-12-07 23:08:42.630815
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0009_user_keys"
down_revision: str | None = "0008_knowledge"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "user_key",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("algorithm", sa.String(length=64), nullable=False),
        sa.Column("public_key", sa.Text(), nullable=False),
        sa.Column("comment", sa.String(length=200), nullable=False),
        sa.Column("added_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["app_user.id"], name=op.f("fk_user_key_user_id_app_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_key")),
        sa.UniqueConstraint("fingerprint", name=op.f("uq_user_key_fingerprint")),
    )
    with op.batch_alter_table("user_key", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_user_key_user_id"), ["user_id"], unique=False)

    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.add_column(sa.Column("key_fingerprint", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.drop_column("key_fingerprint")

    with op.batch_alter_table("user_key", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_user_key_user_id"))

    op.drop_table("user_key")
