"""A request wanted "in the morning" keeps that part of the day (issue 15).

One nullable column: `day_part` ("morning", "afternoon", "evening") beside `starts_at`, which
stays the start of that part (reminders and expiry count from it). Existing requests keep NULL:
they read as the time they were given.

Revision ID: 0015
Revises: 0013
Create Date: 2026-12-06 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Added and dropped in place (no batch rebuild): on SQLite a rebuild of `requests` drops the
    # table, and its claims and offers would go with it (ON DELETE CASCADE).
    op.add_column("requests", sa.Column("day_part", sa.String(length=16), nullable=True))


def downgrade() -> None:
    op.execute(sa.text('ALTER TABLE "requests" DROP COLUMN "day_part"'))
