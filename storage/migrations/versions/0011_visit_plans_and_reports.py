"""The claimer's visit plan and the visit report (issue 14, items 5 and 6).

`claims` gains, in place (ALTER TABLE … ADD/DROP COLUMN on both backends: `claims` is referenced
by other tables, and a batch rebuild's DROP TABLE would fire their ON DELETE actions):

- `visit_plan`, `visit_planned_at`: "When will you go?" for as-soon-as-possible requests;
- `wellbeing`, `expense_cents`, `receipt_sent`: how the person seemed, money advanced (integer
  cents), whether a receipt photo was forwarded (the photo itself is never stored).

Revision ID: 0011
Revises: 0009
Create Date: 2026-12-06 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ADDED: tuple[sa.Column[object], ...] = (
    sa.Column("visit_plan", sa.String(16), nullable=True),
    sa.Column("visit_planned_at", sa.DateTime(), nullable=True),
    sa.Column("wellbeing", sa.String(16), nullable=True),
    sa.Column("expense_cents", sa.Integer(), nullable=True),
    sa.Column("receipt_sent", sa.Boolean(), nullable=False, server_default=sa.false()),
)


def upgrade() -> None:
    for column in ADDED:
        op.add_column("claims", column)


def downgrade() -> None:
    for column in reversed(ADDED):
        op.execute(sa.text(f'ALTER TABLE "claims" DROP COLUMN "{column.name}"'))
