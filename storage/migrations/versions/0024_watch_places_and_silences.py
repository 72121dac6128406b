"""Watch register entries know where they are, and silent callers are replaced (issue 18
follow-ups): /watch counts by neighbourhood.

Three nullable columns on `watch_register`: the place found from the address (or the
beneficiary's), and the neighbourhood whose centre is nearest (the beneficiary's when
registered from one). Existing entries keep NULL: they are counted as "no neighbourhood".
`watch_campaigns.silence_at`: the middle of the day's window, when callers who recorded nothing
are replaced; `watch_lists.replaced_at`: that caller's list of the day was passed on.

Revision ID: 0024
Revises: 0021
Create Date: 2026-12-06 13:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("watch_register") as batch:
        batch.add_column(sa.Column("latitude", sa.Float(), nullable=True))
        batch.add_column(sa.Column("longitude", sa.Float(), nullable=True))
        batch.add_column(sa.Column("neighbourhood_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            batch.f("fk_watch_register_neighbourhood_id_neighbourhoods"),
            "neighbourhoods",
            ["neighbourhood_id"],
            ["id"],
            ondelete="SET NULL",
        )
    with op.batch_alter_table("watch_campaigns") as batch:
        batch.add_column(sa.Column("silence_at", sa.DateTime(), nullable=True))
    with op.batch_alter_table("watch_lists") as batch:
        batch.add_column(sa.Column("replaced_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("watch_lists") as batch:
        batch.drop_column("replaced_at")
    with op.batch_alter_table("watch_campaigns") as batch:
        batch.drop_column("silence_at")
    with op.batch_alter_table("watch_register") as batch:
        batch.drop_constraint(
            batch.f("fk_watch_register_neighbourhood_id_neighbourhoods"), type_="foreignkey"
        )
        batch.drop_column("neighbourhood_id")
        batch.drop_column("longitude")
        batch.drop_column("latitude")
