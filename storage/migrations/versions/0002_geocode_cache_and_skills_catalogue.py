"""Geocode cache; the skills catalogue seeded with the needs of the field documents.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 02:20:49.737106
"""

from collections.abc import Sequence
from datetime import UTC

import sqlalchemy as sa
from alembic import op

from storage.migrate import migration_now

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (code, English label — a msgid in bot/skills.py —, needs a coordinator's verification)
SEEDED_SKILLS = [
    ("electricity", "Small electrical work", True),
    ("plumbing", "Plumbing", False),
    ("odd_jobs", "Odd jobs", False),
    ("shopping", "Shopping", False),
    ("appointment", "Going to an appointment", False),
    ("visit", "Friendly visit", False),
    ("phone_call", "Phone call", False),
    ("outing", "Outing", False),
    ("digital", "Digital help", False),
    ("paperwork", "Paperwork", False),
    ("gardening", "Gardening", False),
]


def upgrade() -> None:
    op.create_table(
        "geocode_cache",
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_geocode_cache")),
    )
    skills = sa.table(
        "skills",
        sa.column("code", sa.String),
        sa.column("label", sa.String),
        sa.column("requires_verification", sa.Boolean),
        sa.column("created_at", sa.DateTime),
    )
    now = migration_now().astimezone(UTC).replace(tzinfo=None)
    op.bulk_insert(
        skills,
        [
            {"code": code, "label": label, "requires_verification": verify, "created_at": now}
            for code, label, verify in SEEDED_SKILLS
        ],
    )


def downgrade() -> None:
    skills = sa.table("skills", sa.column("code", sa.String))
    op.execute(skills.delete().where(skills.c.code.in_([code for code, _, _ in SEEDED_SKILLS])))
    op.drop_table("geocode_cache")
