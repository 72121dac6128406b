"""🙋 "reached, needs something" says what (issue 18): a request draft for the referent.

Four nullable columns on `watch_calls`, added in place (no batch rebuild: on SQLite a rebuild of
the table would be dropped and recreated under the running campaign):
`need_skill_id` the kind of help the caller tapped (NULL with the outcome "needs": something else
or a worry, told to the referent as a concern); `draft_decision`, `draft_decided_by_id` what the
referent (or a coordinator) did with the request draft, first decision wins; `request_id` the
request posted from it. Plain integers, no foreign keys: a key would need the rebuild.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-06 15:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ("need_skill_id", "draft_decision", "draft_decided_by_id", "request_id")


def upgrade() -> None:
    op.add_column("watch_calls", sa.Column("need_skill_id", sa.Integer(), nullable=True))
    op.add_column("watch_calls", sa.Column("draft_decision", sa.String(16), nullable=True))
    op.add_column("watch_calls", sa.Column("draft_decided_by_id", sa.Integer(), nullable=True))
    op.add_column("watch_calls", sa.Column("request_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    for column in reversed(COLUMNS):
        op.execute(sa.text(f'ALTER TABLE "watch_calls" DROP COLUMN "{column}"'))
