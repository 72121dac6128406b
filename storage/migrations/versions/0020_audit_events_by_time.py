"""The audit trail's lifetime: an index on audit_events.occurred_at (issue 20).

The timer sweep deletes events older than the town's evaluation period
(BRIGADE_AUDIT_RETENTION_MONTHS) in bounded batches; the index lets each batch start at the
oldest rows instead of reading the whole table every sweep.

Revision ID: 0020
Revises: 0021
Create Date: 2026-12-06 12:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0020"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_audit_events_occurred_at", "audit_events", ["occurred_at"])


def downgrade() -> None:
    op.drop_index("ix_audit_events_occurred_at", table_name="audit_events")
