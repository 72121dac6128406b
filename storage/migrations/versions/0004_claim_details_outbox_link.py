"""Claims remember the outbox row of their details; outbox rows may belong to a batch.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 03:10:49.692822
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("claims", schema=None) as batch_op:
        batch_op.add_column(sa.Column("details_outbox_id", sa.Integer(), nullable=True))
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("batch_key", sa.String(length=40), nullable=True))
        batch_op.create_index(batch_op.f("ix_outbox_batch_key"), ["batch_key"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_batch_key"))
        batch_op.drop_column("batch_key")
    with op.batch_alter_table("claims", schema=None) as batch_op:
        batch_op.drop_column("details_outbox_id")
