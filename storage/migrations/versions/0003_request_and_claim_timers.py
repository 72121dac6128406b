"""Request and claim timers (waves, escalation, expiry, reminders, nudges, details purge).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 02:44:06.870242
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("claims", schema=None) as batch_op:
        batch_op.add_column(sa.Column("remind_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("ask_done_at", sa.DateTime(), nullable=True))
        batch_op.add_column(
            sa.Column("nudges", sa.SmallInteger(), server_default="0", nullable=False)
        )
        batch_op.add_column(sa.Column("details_message_id", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("purge_details_at", sa.DateTime(), nullable=True))
        batch_op.create_index("ix_claims_status", ["status"], unique=False)

    with op.batch_alter_table("requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("next_wave_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("escalate_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("escalated_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("expires_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("cancel_reason", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("requests", schema=None) as batch_op:
        batch_op.drop_column("cancel_reason")
        batch_op.drop_column("expires_at")
        batch_op.drop_column("escalated_at")
        batch_op.drop_column("escalate_at")
        batch_op.drop_column("next_wave_at")

    with op.batch_alter_table("claims", schema=None) as batch_op:
        batch_op.drop_index("ix_claims_status")
        batch_op.drop_column("purge_details_at")
        batch_op.drop_column("details_message_id")
        batch_op.drop_column("nudges")
        batch_op.drop_column("ask_done_at")
        batch_op.drop_column("remind_at")
