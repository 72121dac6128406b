"""The town's own charter (versions published by coordinators) and the six-monthly check-in.

A new table, and three nullable columns added to `members` in place (ALTER TABLE ADD COLUMN on
both backends): a batch rebuild's DROP TABLE would fire the ON DELETE actions of every table
pointing at `members`.

Revision ID: 0014
Revises: 0012
Create Date: 2026-12-06 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHECKIN_COLUMNS = ("checkin_asked_at", "checkin_answered_at", "checkin_paused_at")


def upgrade() -> None:
    op.create_table(
        "charters",
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("texts", sa.JSON(), nullable=False),
        sa.Column("published_at", sa.DateTime(), nullable=False),
        sa.Column("accept_by", sa.DateTime(), nullable=False),
        sa.Column("published_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["published_by_id"],
            ["members.id"],
            name=op.f("fk_charters_published_by_id_members"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_charters")),
    )
    for column in CHECKIN_COLUMNS:
        op.add_column("members", sa.Column(column, sa.DateTime(), nullable=True))


def downgrade() -> None:
    for column in reversed(CHECKIN_COLUMNS):
        op.execute(sa.text(f'ALTER TABLE "members" DROP COLUMN "{column}"'))
    op.drop_table("charters")
