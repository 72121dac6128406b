"""/ask and validation: the member a beneficiary is (asking for themselves), who validated a
request and when its validators were reminded, and the validation cards to edit once decided.

Only a new table and added columns: `beneficiaries.member_id` and `requests.validated_by_id` are
plain integers, so that SQLite adds them in place instead of rebuilding the tables (a rebuild's
DROP TABLE would fire the ON DELETE actions of every table pointing at them).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REQUEST_COLUMNS = (
    ("validated_at", sa.DateTime()),
    ("validated_by_id", sa.Integer()),
    ("validation_reminded_at", sa.DateTime()),
)


def upgrade() -> None:
    op.create_table(
        "validation_cards",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=True),
        sa.Column("outbox_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_validation_cards_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["requests.id"],
            name=op.f("fk_validation_cards_request_id_requests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_validation_cards")),
        sa.UniqueConstraint(
            "request_id", "member_id", name=op.f("uq_validation_cards_request_member")
        ),
    )
    # In place on SQLite: a plain ADD COLUMN and a CREATE INDEX each, no table rebuild.
    with op.batch_alter_table("beneficiaries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("member_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_beneficiaries_member_id"), ["member_id"])
    with op.batch_alter_table("requests", schema=None) as batch_op:
        for column, column_type in REQUEST_COLUMNS:
            batch_op.add_column(sa.Column(column, column_type, nullable=True))


def downgrade() -> None:
    for column, _type in REQUEST_COLUMNS:
        _drop_column("requests", column)
    with op.batch_alter_table("beneficiaries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_beneficiaries_member_id"))
    _drop_column("beneficiaries", "member_id")
    op.drop_table("validation_cards")


def _drop_column(table: str, column: str) -> None:
    """Drop a column in place (SQLite ≥ 3.35 and PostgreSQL both have DROP COLUMN)."""
    op.execute(sa.text(f'ALTER TABLE "{table}" DROP COLUMN "{column}"'))
