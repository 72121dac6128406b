"""Trust hardening: invitation tokens stored as hashes, limit marks, one concern per claim.

- `invites.token` becomes `invites.token_hash` (SHA-256 of the token): whoever reads the
  database file no longer holds working invitation links. Existing rows are hashed in place, so
  links already sent keep working. `invites` is rebuilt in batch mode on SQLite (a UNIQUE
  column cannot be dropped in place); no table points at it, so no ON DELETE action fires.
- `limit_marks`: pseudonymous traces of reports and rejections that survive /forget.
- `claims.concern_at`: added in place.

Downgrading cannot give the tokens back: open invitations stop working.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 09:00:00.000000
"""

import hashlib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("invites", schema=None) as batch_op:
        batch_op.add_column(sa.Column("token_hash", sa.String(length=64), nullable=True))
    invites = sa.table("invites", sa.column("id", sa.Integer), sa.column("token", sa.String))
    hashed = sa.table("invites", sa.column("id", sa.Integer), sa.column("token_hash", sa.String))
    connection = op.get_bind()
    for invite_id, token in connection.execute(sa.select(invites.c.id, invites.c.token)).all():
        connection.execute(
            sa.update(hashed)
            .where(hashed.c.id == invite_id)
            .values(token_hash=hashlib.sha256(token.encode()).hexdigest())
        )
    with op.batch_alter_table("invites", schema=None) as batch_op:
        batch_op.alter_column("token_hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.drop_constraint(batch_op.f("uq_invites_token"), type_="unique")
        batch_op.drop_column("token")
        batch_op.create_unique_constraint(batch_op.f("uq_invites_token_hash"), ["token_hash"])

    op.create_table(
        "limit_marks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_limit_marks")),
    )
    with op.batch_alter_table("limit_marks", schema=None) as batch_op:
        batch_op.create_index(
            "ix_limit_marks_kind_key", ["kind", "key", "expires_at"], unique=False
        )

    op.add_column("claims", sa.Column("concern_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    op.execute(sa.text('ALTER TABLE "claims" DROP COLUMN "concern_at"'))
    with op.batch_alter_table("limit_marks", schema=None) as batch_op:
        batch_op.drop_index("ix_limit_marks_kind_key")
    op.drop_table("limit_marks")
    with op.batch_alter_table("invites", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_invites_token_hash"), type_="unique")
        batch_op.alter_column(
            "token_hash", new_column_name="token", existing_type=sa.String(length=64)
        )
    # A constraint on a column renamed in the same batch is lost on SQLite: a second batch.
    with op.batch_alter_table("invites", schema=None) as batch_op:
        batch_op.create_unique_constraint(batch_op.f("uq_invites_token"), ["token"])
