"""Watch campaigns (issue 18): the register of vulnerable people, the campaigns, each day's calls.

New tables only.

Revision ID: 0021
Revises: 0015
Create Date: 2026-12-06 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "watch_register",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("referent_id", sa.Integer(), nullable=True),
        sa.Column("beneficiary_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=False),
        sa.Column("address", sa.String(length=256), nullable=False),
        sa.Column("registered_by", sa.String(length=16), nullable=False),
        sa.Column("consent", sa.String(length=16), nullable=False),
        sa.Column("best_time", sa.String(length=64), nullable=True),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("emergency_contact", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["referent_id"],
            ["members.id"],
            name=op.f("fk_watch_register_referent_id_members"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_watch_register")),
    )
    op.create_index("ix_watch_register_referent", "watch_register", ["referent_id"], unique=False)
    op.create_table(
        "watch_campaigns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("window_start", sa.SmallInteger(), nullable=False),
        sa.Column("window_end", sa.SmallInteger(), nullable=False),
        sa.Column("interval_days", sa.SmallInteger(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=True),
        sa.Column("next_window_at", sa.DateTime(), nullable=False),
        sa.Column("window_ends_at", sa.DateTime(), nullable=True),
        sa.Column("day", sa.Date(), nullable=True),
        sa.Column("running", sa.Boolean(), nullable=True),
        sa.Column("started_by_id", sa.Integer(), nullable=True),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("stopped_at", sa.DateTime(), nullable=True),
        sa.Column("stopped_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["started_by_id"],
            ["members.id"],
            name=op.f("fk_watch_campaigns_started_by_id_members"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["stopped_by_id"],
            ["members.id"],
            name=op.f("fk_watch_campaigns_stopped_by_id_members"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_watch_campaigns")),
        sa.UniqueConstraint("running", name=op.f("uq_watch_campaigns_running")),
    )
    op.create_table(
        "watch_calls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("caller_id", sa.Integer(), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("first_no_answer_at", sa.DateTime(), nullable=True),
        sa.Column("second_no_answer_at", sa.DateTime(), nullable=True),
        sa.Column("retry_at", sa.DateTime(), nullable=True),
        sa.Column("outcome_at", sa.DateTime(), nullable=True),
        sa.Column("escalated_at", sa.DateTime(), nullable=True),
        sa.Column("repeat_at", sa.DateTime(), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(), nullable=True),
        sa.Column("acknowledged_by_id", sa.Integer(), nullable=True),
        sa.Column("acknowledgement", sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(
            ["acknowledged_by_id"],
            ["members.id"],
            name=op.f("fk_watch_calls_acknowledged_by_id_members"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["caller_id"],
            ["members.id"],
            name=op.f("fk_watch_calls_caller_id_members"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["watch_campaigns.id"],
            name=op.f("fk_watch_calls_campaign_id_watch_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["watch_register.id"],
            name=op.f("fk_watch_calls_person_id_watch_register"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_watch_calls")),
        sa.UniqueConstraint(
            "campaign_id", "day", "person_id", name=op.f("uq_watch_calls_day_person")
        ),
    )
    op.create_index("ix_watch_calls_caller_day", "watch_calls", ["caller_id", "day"])
    op.create_table(
        "watch_lists",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("caller_id", sa.Integer(), nullable=True),
        sa.Column("outbox_id", sa.Integer(), nullable=False),
        sa.Column("removed_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["caller_id"],
            ["members.id"],
            name=op.f("fk_watch_lists_caller_id_members"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["watch_campaigns.id"],
            name=op.f("fk_watch_lists_campaign_id_watch_campaigns"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_watch_lists")),
    )
    op.create_index("ix_watch_lists_campaign_day", "watch_lists", ["campaign_id", "day"])
    op.create_index("ix_watch_calls_retry", "watch_calls", ["retry_at"])
    op.create_index("ix_watch_calls_repeat", "watch_calls", ["repeat_at"])


def downgrade() -> None:
    op.drop_index("ix_watch_lists_campaign_day", table_name="watch_lists")
    op.drop_table("watch_lists")
    op.drop_index("ix_watch_calls_repeat", table_name="watch_calls")
    op.drop_index("ix_watch_calls_retry", table_name="watch_calls")
    op.drop_index("ix_watch_calls_caller_day", table_name="watch_calls")
    op.drop_table("watch_calls")
    op.drop_table("watch_campaigns")
    op.drop_index("ix_watch_register_referent", table_name="watch_register")
    op.drop_table("watch_register")
