"""Columns nobody reads: requests.ends_at, claims.details_message_id, conversation_states.data.

`claims.details_outbox_id` says which message carried the details (its Telegram id is on the
outbox row); `conversation_states` keeps only the step, the drafts being in `user_data`. Dropped
in place (ALTER TABLE … DROP COLUMN on both backends): `requests` and `claims` are referenced by
other tables, and a batch rebuild's DROP TABLE would fire their ON DELETE actions.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DROPPED = (
    ("requests", "ends_at", sa.DateTime()),
    ("claims", "details_message_id", sa.BigInteger()),
    ("conversation_states", "data", sa.JSON()),
)


def upgrade() -> None:
    for table, column, _type in DROPPED:
        op.execute(sa.text(f'ALTER TABLE "{table}" DROP COLUMN "{column}"'))


def downgrade() -> None:
    for table, column, column_type in DROPPED:
        nullable = column != "data"
        op.add_column(
            table,
            sa.Column(
                column,
                column_type,
                nullable=nullable,
                server_default=None if nullable else sa.text("'{}'"),
            ),
        )
