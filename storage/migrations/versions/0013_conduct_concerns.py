"""Referents' concerns about a volunteer's conduct, for the coordinators (issue 17).

A new table only. The new volunteer status "suspended" needs no change: statuses are VARCHAR(16)
without a CHECK constraint or a native enum type, on SQLite and PostgreSQL alike.

Revision ID: 0013
Revises: 0014
Create Date: 2026-12-06 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "conduct_concerns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("volunteer_id", sa.Integer(), nullable=False),
        sa.Column("claim_id", sa.Integer(), nullable=True),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("raised_by_id", sa.Integer(), nullable=True),
        sa.Column("raised_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["claim_id"],
            ["claims.id"],
            name=op.f("fk_conduct_concerns_claim_id_claims"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["raised_by_id"],
            ["members.id"],
            name=op.f("fk_conduct_concerns_raised_by_id_members"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["volunteer_id"],
            ["members.id"],
            name=op.f("fk_conduct_concerns_volunteer_id_members"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conduct_concerns")),
        sa.UniqueConstraint(
            "claim_id", "raised_by_id", name=op.f("uq_conduct_concerns_claim_raised_by")
        ),
    )
    op.create_index(
        "ix_conduct_concerns_volunteer",
        "conduct_concerns",
        ["volunteer_id", "raised_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_conduct_concerns_volunteer", table_name="conduct_concerns")
    op.drop_table("conduct_concerns")
