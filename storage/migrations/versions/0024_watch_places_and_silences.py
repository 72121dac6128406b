"""Watch register entries know where they are, and silent callers are replaced (issue 18
follow-ups): /watch counts by neighbourhood.

Three nullable columns on `watch_register`: the place found from the address (or the
beneficiary's), and the neighbourhood whose centre is nearest (the beneficiary's when
registered from one). Existing entries keep NULL: they are counted as "no neighbourhood".
`watch_campaigns.silence_at`: the middle of the day's window, when callers who recorded nothing
are replaced; `watch_lists.replaced_at`: that caller's list of the day was passed on.

Revision ID: 0024
Revises: 0020
Create Date: 2026-12-06 13:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Columns added in place, no batch rebuild: on SQLite a rebuild drops and recreates the
    # table, and the running campaign's calls would lose their person (ON DELETE SET NULL) or
    # go with their campaign (ON DELETE CASCADE).
    op.add_column("watch_register", sa.Column("latitude", sa.Float(), nullable=True))
    op.add_column("watch_register", sa.Column("longitude", sa.Float(), nullable=True))
    op.add_column("watch_register", sa.Column("neighbourhood_id", sa.Integer(), nullable=True))
    op.add_column("watch_campaigns", sa.Column("silence_at", sa.DateTime(), nullable=True))
    op.add_column("watch_lists", sa.Column("replaced_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    op.execute(sa.text('ALTER TABLE "watch_lists" DROP COLUMN "replaced_at"'))
    op.execute(sa.text('ALTER TABLE "watch_campaigns" DROP COLUMN "silence_at"'))
    for column in ("neighbourhood_id", "longitude", "latitude"):
        op.execute(sa.text(f'ALTER TABLE "watch_register" DROP COLUMN "{column}"'))
