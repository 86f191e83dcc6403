"""alert fingerprints unique per source

An Alertmanager fingerprint and a generic one are names chosen by different senders: the same
string from two sources is two alerts. The unique key becomes (fingerprint, source); fingerprint
first, so lookups by fingerprint alone still use its index.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07 23:19:46.352658
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("alert", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_alert_fingerprint"), type_="unique")
        batch_op.create_unique_constraint("uq_alert_fingerprint_source", ["fingerprint", "source"])


def downgrade() -> None:
    # Fails, changing nothing, if two sources now share a fingerprint.
    with op.batch_alter_table("alert", schema=None) as batch_op:
        batch_op.drop_constraint("uq_alert_fingerprint_source", type_="unique")
        batch_op.create_unique_constraint(batch_op.f("uq_alert_fingerprint"), ["fingerprint"])
