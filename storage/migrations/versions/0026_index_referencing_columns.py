"""Index the columns that point at rows the bot deletes, and the lookups by chat (issue 20).

Neither SQLite nor PostgreSQL indexes a referencing column by itself. Without these indexes,
deleting one member (the idle purge, /forget) set `requests.referent_id`,
`audit_events.actor_member_id`, `offers.member_id`, `outbox.member_id`… to NULL by scanning each
whole table once per member, and pruning one offer scanned the outbox for `outbox.offer_id`; the
requests and audit events grow for months, and on SQLite the scans held the one write lock every
update waits for. A person's /mydata read their requests, offers, messages and audit events by
full scans too. The models add an index to every such column
(`storage.models._index_deleted_parents`); this migration creates them. Plain CREATE INDEX on
both databases: no table is rebuilt.

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-06 20:20:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (index, table, columns), frozen here as they were when written.
INDEXES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("ix_audit_events_actor", "audit_events", ("actor_member_id", "occurred_at")),
    ("ix_beneficiaries_referent_id", "beneficiaries", ("referent_id",)),
    ("ix_charters_published_by_id", "charters", ("published_by_id",)),
    ("ix_conduct_concerns_raised_by_id", "conduct_concerns", ("raised_by_id",)),
    ("ix_invites_created_by_id", "invites", ("created_by_id",)),
    ("ix_invites_neighbourhood_id", "invites", ("neighbourhood_id",)),
    ("ix_invites_used_by_id", "invites", ("used_by_id",)),
    ("ix_member_roles_granted_by_id", "member_roles", ("granted_by_id",)),
    ("ix_members_approved_by_id", "members", ("approved_by_id",)),
    ("ix_members_neighbourhood_id", "members", ("neighbourhood_id",)),
    ("ix_offers_chat_id", "offers", ("chat_id",)),
    ("ix_offers_member_id", "offers", ("member_id",)),
    ("ix_outbox_chat_id", "outbox", ("chat_id", "status")),
    ("ix_outbox_member_id", "outbox", ("member_id",)),
    ("ix_outbox_offer_id", "outbox", ("offer_id",)),
    ("ix_request_series_beneficiary_id", "request_series", ("beneficiary_id",)),
    ("ix_request_series_neighbourhood_id", "request_series", ("neighbourhood_id",)),
    ("ix_request_series_referent_id", "request_series", ("referent_id",)),
    ("ix_request_series_regular_volunteer_id", "request_series", ("regular_volunteer_id",)),
    ("ix_request_series_stopped_by_id", "request_series", ("stopped_by_id",)),
    ("ix_requests_beneficiary_id", "requests", ("beneficiary_id",)),
    ("ix_requests_neighbourhood_id", "requests", ("neighbourhood_id",)),
    ("ix_requests_referent_id", "requests", ("referent_id",)),
    ("ix_signals_assigned_to_member_id", "signals", ("assigned_to_member_id",)),
    ("ix_signals_neighbourhood_id", "signals", ("neighbourhood_id",)),
    ("ix_validation_cards_member_id", "validation_cards", ("member_id",)),
    ("ix_volunteer_skills_verified_by_id", "volunteer_skills", ("verified_by_id",)),
    ("ix_watch_calls_acknowledged_by_id", "watch_calls", ("acknowledged_by_id",)),
    ("ix_watch_calls_person_id", "watch_calls", ("person_id",)),
    ("ix_watch_campaigns_started_by_id", "watch_campaigns", ("started_by_id",)),
    ("ix_watch_campaigns_stopped_by_id", "watch_campaigns", ("stopped_by_id",)),
    ("ix_watch_lists_caller_id", "watch_lists", ("caller_id",)),
)


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, list(columns))


def downgrade() -> None:
    for name, table, _columns in reversed(INDEXES):
        op.drop_index(name, table_name=table)
