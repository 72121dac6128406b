"""Relays' reported cases, volunteers' card codes, recurring series of requests.

Only new tables, added columns and indexes: SQLite changes `members` and `requests` in place
(ALTER TABLE ADD COLUMN, CREATE INDEX), never by rebuilding them — a rebuild's DROP TABLE would
fire the ON DELETE actions of every table pointing at them. Hence `requests.series_id` is a plain
indexed integer and `members.badge_code` is unique through an index.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "signals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reporter_member_id", sa.Integer(), nullable=True),
        sa.Column("neighbourhood_id", sa.Integer(), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("place", sa.String(length=256), nullable=True),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("worry", sa.Text(), nullable=False),
        sa.Column("reporter_phone", sa.String(length=32), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("assigned_to_member_id", sa.Integer(), nullable=True),
        sa.Column("assigned_at", sa.DateTime(), nullable=True),
        sa.Column("outcome", sa.String(length=24), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.Column("purged_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["assigned_to_member_id"],
            ["members.id"],
            name=op.f("fk_signals_assigned_to_member_id_members"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["neighbourhood_id"],
            ["neighbourhoods.id"],
            name=op.f("fk_signals_neighbourhood_id_neighbourhoods"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["reporter_member_id"],
            ["members.id"],
            name=op.f("fk_signals_reporter_member_id_members"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signals")),
    )
    with op.batch_alter_table("signals", schema=None) as batch_op:
        batch_op.create_index("ix_signals_status", ["status"], unique=False)
        batch_op.create_index(
            "ix_signals_reporter", ["reporter_member_id", "created_at"], unique=False
        )

    op.create_table(
        "request_series",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("referent_id", sa.Integer(), nullable=True),
        sa.Column("beneficiary_id", sa.Integer(), nullable=True),
        sa.Column("skill_id", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("latitude", sa.Float(), nullable=False),
        sa.Column("longitude", sa.Float(), nullable=False),
        sa.Column("area_label", sa.String(length=200), nullable=False),
        sa.Column("neighbourhood_id", sa.Integer(), nullable=True),
        sa.Column("places", sa.SmallInteger(), nullable=False),
        sa.Column("interval_days", sa.SmallInteger(), nullable=False),
        sa.Column("weekday", sa.SmallInteger(), nullable=False),
        sa.Column("local_minute", sa.SmallInteger(), nullable=False),
        sa.Column("next_occurrence_at", sa.DateTime(), nullable=False),
        sa.Column("regular_volunteer_id", sa.Integer(), nullable=True),
        sa.Column("exclusive_hours", sa.SmallInteger(), nullable=False),
        sa.Column("stopped_at", sa.DateTime(), nullable=True),
        sa.Column("stopped_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "interval_days BETWEEN 1 AND 56", name=op.f("ck_request_series_interval_range")
        ),
        sa.CheckConstraint(
            "local_minute BETWEEN 0 AND 1439", name=op.f("ck_request_series_minute_range")
        ),
        sa.CheckConstraint("places BETWEEN 1 AND 20", name=op.f("ck_request_series_places_range")),
        sa.CheckConstraint("weekday BETWEEN 0 AND 6", name=op.f("ck_request_series_weekday_range")),
        sa.ForeignKeyConstraint(
            ["beneficiary_id"],
            ["beneficiaries.id"],
            name=op.f("fk_request_series_beneficiary_id_beneficiaries"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["neighbourhood_id"],
            ["neighbourhoods.id"],
            name=op.f("fk_request_series_neighbourhood_id_neighbourhoods"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["referent_id"],
            ["members.id"],
            name=op.f("fk_request_series_referent_id_members"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["regular_volunteer_id"],
            ["members.id"],
            name=op.f("fk_request_series_regular_volunteer_id_members"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["skill_id"], ["skills.id"], name=op.f("fk_request_series_skill_id_skills")
        ),
        sa.ForeignKeyConstraint(
            ["stopped_by_id"],
            ["members.id"],
            name=op.f("fk_request_series_stopped_by_id_members"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_request_series")),
    )
    with op.batch_alter_table("request_series", schema=None) as batch_op:
        batch_op.create_index(
            "ix_request_series_due", ["stopped_at", "next_occurrence_at"], unique=False
        )

    # In place on SQLite: a plain ADD COLUMN and a CREATE INDEX each, no table rebuild.
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.add_column(sa.Column("badge_code", sa.String(length=12), nullable=True))
        batch_op.create_index(batch_op.f("ix_members_badge_code"), ["badge_code"], unique=True)
    with op.batch_alter_table("requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("series_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_requests_series_id"), ["series_id"], unique=False)


def downgrade() -> None:
    # Dropping a column makes SQLite rebuild the table in batch mode: let it run without the
    # foreign-key actions a DROP TABLE would fire on the tables that point at it.
    with op.batch_alter_table("requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_requests_series_id"))
    _drop_column("requests", "series_id")
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_members_badge_code"))
    _drop_column("members", "badge_code")

    with op.batch_alter_table("request_series", schema=None) as batch_op:
        batch_op.drop_index("ix_request_series_due")
    op.drop_table("request_series")

    with op.batch_alter_table("signals", schema=None) as batch_op:
        batch_op.drop_index("ix_signals_reporter")
        batch_op.drop_index("ix_signals_status")
    op.drop_table("signals")


def _drop_column(table: str, column: str) -> None:
    """Drop a column in place (SQLite ≥ 3.35 and PostgreSQL both have DROP COLUMN)."""
    op.execute(sa.text(f'ALTER TABLE "{table}" DROP COLUMN "{column}"'))
