"""members.phone_shared: whether a referent lets the volunteers who take their requests see
their phone (asked when they accept their invitation; off until they say yes).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Added in place (no batch rebuild): `members` is referenced by most tables.
    op.add_column(
        "members",
        sa.Column("phone_shared", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    op.execute(sa.text('ALTER TABLE "members" DROP COLUMN "phone_shared"'))
