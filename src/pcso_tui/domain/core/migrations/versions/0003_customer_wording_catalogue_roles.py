"""customer-facing wording, public service catalogue, contact roles

A case's customer-facing title and summary (apart from its internal text); the name customers
know a product or CI by and whether they see it at all; what a contact is for at the account.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07 20:59:43.005070
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("ci", schema=None) as batch_op:
        batch_op.add_column(sa.Column("public_name", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("customer_facing", sa.Boolean(), nullable=True))

    with op.batch_alter_table("contact", schema=None) as batch_op:
        batch_op.add_column(sa.Column("role", sa.String(length=16), server_default="", nullable=False))

    with op.batch_alter_table("product", schema=None) as batch_op:
        batch_op.add_column(sa.Column("public_name", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("customer_facing", sa.Boolean(), server_default=sa.true(), nullable=False))

    with op.batch_alter_table("support_case", schema=None) as batch_op:
        batch_op.add_column(sa.Column("public_title", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("public_summary", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("support_case", schema=None) as batch_op:
        batch_op.drop_column("public_summary")
        batch_op.drop_column("public_title")

    with op.batch_alter_table("product", schema=None) as batch_op:
        batch_op.drop_column("customer_facing")
        batch_op.drop_column("public_name")

    with op.batch_alter_table("contact", schema=None) as batch_op:
        batch_op.drop_column("role")

    with op.batch_alter_table("ci", schema=None) as batch_op:
        batch_op.drop_column("customer_facing")
        batch_op.drop_column("public_name")
