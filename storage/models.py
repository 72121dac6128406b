"""The Brigade domain as tables: members, roles, neighbourhoods, skills, requests, claims, outbox.

Statuses are stored as short strings (StrEnum values) so that PostgreSQL and SQLite hold the same
data and a new status needs no `ALTER TYPE`.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy import Enum as SAEnum
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from bot.domain.vocabulary import (
    ClaimStatus,
    RequestStatus,
    Role,
    SignalOutcome,
    SignalStatus,
    VisitPlan,
    VolunteerStatus,
    Wellbeing,
)
from storage.clock import clock_default
from storage.types import UTCDateTime

# Named constraints let Alembic drop and alter them on SQLite (batch mode) and PostgreSQL alike.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base carrying the naming convention."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _str_enum(enum: type[StrEnum], length: int = 16) -> SAEnum:
    """Store an enum by value in a VARCHAR, without a native type or CHECK constraint."""
    return SAEnum(
        enum,
        native_enum=False,
        create_constraint=False,
        length=length,
        values_callable=lambda members: [member.value for member in members],
    )


class OutboxStatus(StrEnum):
    """Delivery state of one outgoing Telegram call."""

    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    SKIPPED = "skipped"


class Member(Base):
    """A Telegram user known to Brigade: coordinator, referent and/or volunteer."""

    __tablename__ = "members"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Nullable because /forget erases it; NULLs never collide in a UNIQUE index.
    telegram_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    display_name: Mapped[str] = mapped_column(String(128), default="")
    username: Mapped[str | None] = mapped_column(String(64))
    phone: Mapped[str | None] = mapped_column(String(32))
    # A referent's choice: whether the volunteers who take their requests see their phone.
    phone_shared: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Chosen with /language; NULL means "follow Telegram's language_code".
    language: Mapped[str | None] = mapped_column(String(8))
    telegram_language: Mapped[str | None] = mapped_column(String(16))

    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    address: Mapped[str | None] = mapped_column(String(256))
    radius_km: Mapped[float] = mapped_column(Float, default=2.0)
    neighbourhood_id: Mapped[int | None] = mapped_column(
        ForeignKey("neighbourhoods.id", ondelete="SET NULL")
    )

    volunteer_status: Mapped[VolunteerStatus | None] = mapped_column(_str_enum(VolunteerStatus))
    status_reason: Mapped[str | None] = mapped_column(Text)
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    approved_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("members.id", ondelete="SET NULL")
    )
    charter_version: Mapped[str | None] = mapped_column(String(32))
    charter_accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    paused_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Quiet hours as minutes after local midnight; start > end wraps over midnight.
    quiet_start_minute: Mapped[int | None] = mapped_column(SmallInteger)
    quiet_end_minute: Mapped[int | None] = mapped_column(SmallInteger)
    weekly_cap: Mapped[int | None] = mapped_column(SmallInteger)

    reachable: Mapped[bool] = mapped_column(Boolean, default=True)
    unreachable_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_offered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock_default)
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=clock_default, onupdate=clock_default
    )
    forgotten_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The short code of the volunteer's brigade card (/badge), checked with /verify.
    badge_code: Mapped[str | None] = mapped_column(String(12), index=True, unique=True)
    # "Still with us?" (bot.services.checkins): asked and not yet answered since; last answered
    # "yes" (or "pause"); paused because the question went unanswered — the marker coordinators
    # see on the member card, cleared when the volunteer comes back.
    checkin_asked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    checkin_answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    checkin_paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        CheckConstraint("radius_km > 0 AND radius_km <= 100", name="radius_range"),
        Index("ix_members_lat_lon", "latitude", "longitude"),
    )


class Charter(Base):
    """A version of the town's own charter, as a coordinator published it; never changed after.

    Versions count from 1; before the first one, volunteers accept the text shipped in the
    catalogs (bot/charter.py). A member's `charter_version` holds the version they accepted.
    """

    __tablename__ = "charters"

    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    # The texts the town wrote, by language code; a language it never wrote reads the default.
    texts: Mapped[dict[str, str]] = mapped_column(JSON)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock_default)
    # The end of the grace period volunteers were told at publication: from then on, matching
    # offers nothing to those who have not accepted this version (or a later one).
    accept_by: Mapped[datetime] = mapped_column(UTCDateTime)
    published_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("members.id", ondelete="SET NULL")
    )


class MemberRole(Base):
    """One role held by one member."""

    __tablename__ = "member_roles"

    member_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[Role] = mapped_column(_str_enum(Role), primary_key=True)
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock_default)
    granted_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))


class Neighbourhood(Base):
    """An antenna of the brigade: a named area with a centre, a radius and maybe a group chat."""

    __tablename__ = "neighbourhoods"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    latitude: Mapped[float] = mapped_column(Float)
    longitude: Mapped[float] = mapped_column(Float)
    radius_km: Mapped[float] = mapped_column(Float, default=2.0)
    group_chat_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    post_to_group: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock_default)
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Skill(Base):
    """A kind of help from the catalogue (plumbing, shopping, friendly visit…)."""

    __tablename__ = "skills"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(48), unique=True)
    # Seeded skills hold an English msgid translated at display; added ones hold the typed label.
    label: Mapped[str] = mapped_column(String(120))
    requires_verification: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock_default)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class VolunteerSkill(Base):
    """A skill a volunteer offers, verified by a coordinator where the skill requires it."""

    __tablename__ = "volunteer_skills"

    member_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )
    skill_id: Mapped[int] = mapped_column(
        ForeignKey("skills.id", ondelete="CASCADE"), primary_key=True
    )
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    verified_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("members.id", ondelete="SET NULL")
    )

    __table_args__ = (Index("ix_volunteer_skills_skill", "skill_id"),)


class Availability(Base):
    """A part of a weekday when a volunteer is usually free."""

    __tablename__ = "availabilities"

    member_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )
    weekday: Mapped[int] = mapped_column(SmallInteger, primary_key=True)  # 0 = Monday
    period: Mapped[str] = mapped_column(String(16), primary_key=True)  # morning/afternoon/evening

    __table_args__ = (CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday_range"),)


class Beneficiary(Base):
    """A person helped; their contact data is private and purged after the retention period."""

    __tablename__ = "beneficiaries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    referent_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    name: Mapped[str] = mapped_column(String(120))
    phone: Mapped[str | None] = mapped_column(String(32))
    address: Mapped[str | None] = mapped_column(String(256))
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    access_notes: Mapped[str | None] = mapped_column(Text)
    consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock_default)
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A member who asked for themselves (/ask): they are the person helped. A plain indexed
    # integer (migration 0012): a foreign key added later would make SQLite rebuild the table.
    member_id: Mapped[int | None] = mapped_column(Integer, index=True)


class HelpRequest(Base):
    """A small service a referent asks the brigade for, on a beneficiary's behalf."""

    __tablename__ = "requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    referent_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    beneficiary_id: Mapped[int | None] = mapped_column(
        ForeignKey("beneficiaries.id", ondelete="SET NULL")
    )
    skill_id: Mapped[int] = mapped_column(ForeignKey("skills.id"))
    neighbourhood_id: Mapped[int | None] = mapped_column(
        ForeignKey("neighbourhoods.id", ondelete="SET NULL")
    )
    description: Mapped[str] = mapped_column(Text, default="")
    latitude: Mapped[float] = mapped_column(Float)
    longitude: Mapped[float] = mapped_column(Float)
    # What volunteers may see of the place: street and neighbourhood, never the house number.
    area_label: Mapped[str] = mapped_column(String(200), default="")
    when_kind: Mapped[str] = mapped_column(String(16), default="asap")  # asap / today / slot
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A slot wanted "in the morning" (afternoon, evening) rather than at a time: `starts_at` is
    # the start of that part of the day; None for a time of day or no slot.
    day_part: Mapped[str | None] = mapped_column(String(16))
    places_needed: Mapped[int] = mapped_column(SmallInteger, default=1)
    places_taken: Mapped[int] = mapped_column(SmallInteger, default=0)
    status: Mapped[RequestStatus] = mapped_column(
        _str_enum(RequestStatus), default=RequestStatus.OPEN
    )
    wave: Mapped[int] = mapped_column(SmallInteger, default=0)
    # Timers, kept here so that a restart finds them: the scheduler acts on what is due.
    next_wave_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    escalate_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock_default)
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=clock_default, onupdate=clock_default
    )
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The recurring series this request is an occurrence of. A plain indexed integer, like
    # claims.details_outbox_id: a foreign key added later would make SQLite rebuild the table.
    series_id: Mapped[int | None] = mapped_column(Integer, index=True)
    # Validation (a member's /ask, or every request when the town asks for it): who let it be
    # offered, and when the coordinators were reminded that it waits.
    validated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    validated_by_id: Mapped[int | None] = mapped_column(Integer)
    validation_reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        # The last line of defence against overbooking, whatever the code above does.
        CheckConstraint(
            "places_taken >= 0 AND places_taken <= places_needed", name="places_within_needed"
        ),
        CheckConstraint("places_needed BETWEEN 1 AND 20", name="places_needed_range"),
        Index("ix_requests_status", "status"),
    )


class Claim(Base):
    """One volunteer's place on a request."""

    __tablename__ = "claims"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id", ondelete="CASCADE"))
    volunteer_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    status: Mapped[ClaimStatus] = mapped_column(_str_enum(ClaimStatus), default=ClaimStatus.ACTIVE)
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock_default)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    note: Mapped[str | None] = mapped_column(Text)
    minutes_spent: Mapped[int | None] = mapped_column(Integer)
    # Follow-up timers: a reminder before the time, "is it done?" after it, nudges when silent.
    remind_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ask_done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    nudges: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")
    # The outbox row that carried the details: its Telegram message id says what to remove.
    details_outbox_id: Mapped[int | None] = mapped_column(Integer)
    purge_details_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the claimer first reported a concern: one alert per claim, not one per tap.
    concern_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # "When will you go?" (as-soon-as-possible requests): the answer, and when it was given.
    visit_plan: Mapped[VisitPlan | None] = mapped_column(_str_enum(VisitPlan))
    visit_planned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The visit report after Done: how the person seemed (never the worried sentence, which
    # only travels to the referent and the coordinators), money advanced, a receipt forwarded.
    wellbeing: Mapped[Wellbeing | None] = mapped_column(_str_enum(Wellbeing))
    expense_cents: Mapped[int | None] = mapped_column(Integer)
    receipt_sent: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    __table_args__ = (
        UniqueConstraint("request_id", "volunteer_id", name="uq_claims_request_volunteer"),
        Index("ix_claims_status", "status"),
        # A volunteer's claims of the week, for the weekly cap matching checks (migration 0006).
        Index("ix_claims_volunteer_claimed", "volunteer_id", "claimed_at"),
    )


class ConductConcern(Base):
    """A referent's worry about a volunteer's conduct on a claim: for the coordinators only.

    Ids and times only (no free text): the coordinators call the referent to hear more.
    """

    __tablename__ = "conduct_concerns"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    volunteer_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    claim_id: Mapped[int | None] = mapped_column(ForeignKey("claims.id", ondelete="SET NULL"))
    request_id: Mapped[int] = mapped_column(Integer)
    raised_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock_default)

    __table_args__ = (
        # One concern per claim and referent: a second tap changes nothing.
        UniqueConstraint("claim_id", "raised_by_id", name="uq_conduct_concerns_claim_raised_by"),
        Index("ix_conduct_concerns_volunteer", "volunteer_id", "raised_at"),
    )


class Offer(Base):
    """One copy of a request's offer in one chat (a volunteer's DM or a neighbourhood group)."""

    __tablename__ = "offers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id", ondelete="CASCADE"))
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    chat_id: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(16))  # direct / group
    wave: Mapped[int] = mapped_column(SmallInteger, default=0)
    message_id: Mapped[int | None] = mapped_column(BigInteger)
    declined_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock_default)

    __table_args__ = (
        UniqueConstraint("request_id", "chat_id", name="uq_offers_request_chat"),
        # The offers a person received, by chat (/mydata, /forget: member_id may be gone).
        Index("ix_offers_chat_id", "chat_id"),
    )


class ValidationCard(Base):
    """A request waiting for validation, as shown to one validator (edited once decided)."""

    __tablename__ = "validation_cards"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id", ondelete="CASCADE"))
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    # The outbox row that carried the card: its Telegram message id says what to edit.
    outbox_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock_default)

    __table_args__ = (
        UniqueConstraint("request_id", "member_id", name="uq_validation_cards_request_member"),
    )


class OutboxMessage(Base):
    """A Telegram call written in the same transaction as the change that caused it."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    offer_id: Mapped[int | None] = mapped_column(ForeignKey("offers.id", ondelete="SET NULL"))
    method: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    # Lower goes first: people who are acting before bulk broadcasts.
    priority: Mapped[int] = mapped_column(SmallInteger, default=10)
    status: Mapped[OutboxStatus] = mapped_column(
        _str_enum(OutboxStatus), default=OutboxStatus.PENDING
    )
    attempts: Mapped[int] = mapped_column(SmallInteger, default=0)
    not_before: Mapped[datetime] = mapped_column(UTCDateTime, default=clock_default)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    telegram_message_id: Mapped[int | None] = mapped_column(BigInteger)
    last_error: Mapped[str | None] = mapped_column(Text)
    # Groups the rows of one announcement or broadcast, to report how many were delivered.
    batch_key: Mapped[str | None] = mapped_column(String(40), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock_default)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_outbox_due", "status", "priority", "not_before"),
        # One chat's messages: moved when a group becomes a supergroup, erased with its member.
        Index("ix_outbox_chat_id", "chat_id", "status"),
    )


class LimitMark(Base):
    """A pseudonymous trace that a limit counts (a report sent, an application rejected).

    `key` is a keyed hash of the person's Telegram id (bot.pseudonyms): it names nobody without
    the bot's key, survives /forget — so that forgetting oneself does not reset a limit — and is
    deleted when it expires.
    """

    __tablename__ = "limit_marks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    key: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock_default)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_limit_marks_kind_key", "kind", "key", "expires_at"),)


class AuditEvent(Base):
    """Who changed what, when, from which state to which."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock_default)
    actor_member_id: Mapped[int | None] = mapped_column(
        ForeignKey("members.id", ondelete="SET NULL")
    )
    entity: Mapped[str] = mapped_column(String(24))
    entity_id: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(32))
    from_state: Mapped[str | None] = mapped_column(String(24))
    to_state: Mapped[str | None] = mapped_column(String(24))
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    __table_args__ = (
        Index("ix_audit_events_entity", "entity", "entity_id"),
        # The sweep deletes the oldest events first (BRIGADE_AUDIT_RETENTION_MONTHS).
        Index("ix_audit_events_occurred_at", "occurred_at"),
        # What one person did (their /mydata, the badge checks' limit), and their deletion.
        Index("ix_audit_events_actor", "actor_member_id", "occurred_at"),
    )


class Invite(Base):
    """A single-use, expiring deep link that grants a role."""

    __tablename__ = "invites"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # SHA-256 of the link's token: reading the database does not give a working link.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[Role] = mapped_column(_str_enum(Role))
    neighbourhood_id: Mapped[int | None] = mapped_column(
        ForeignKey("neighbourhoods.id", ondelete="CASCADE")
    )
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock_default)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    used_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ProcessedUpdate(Base):
    """An update already handled, so a re-delivery (webhook retry) is not handled twice."""

    __tablename__ = "processed_updates"

    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    processed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock_default)


class ConversationState(Base):
    """Where a person is in a guided conversation, kept across restarts."""

    __tablename__ = "conversation_states"

    key: Mapped[str] = mapped_column(String(96), primary_key=True)
    conversation: Mapped[str] = mapped_column(String(32))
    # The person the state belongs to, so /forget can remove it.
    telegram_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    state: Mapped[str] = mapped_column(String(48))
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=clock_default, onupdate=clock_default
    )


class GeocodeCacheEntry(Base):
    """A geocoder answer kept so the same address is never asked twice (Nominatim's policy)."""

    __tablename__ = "geocode_cache"

    # "search:<lang>:<normalised query>" or "reverse:<lang>:<lat>,<lon>" (rounded).
    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    # None when the geocoder found nothing: "not found" is worth remembering too.
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock_default)


class UserData(Base):
    """A person's in-progress answers (PTB's user_data), kept across restarts."""

    __tablename__ = "user_data"

    telegram_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=clock_default, onupdate=clock_default
    )


class Signal(Base):
    """A case: someone (a shopkeeper, a nurse, a neighbour) reports a person who seems isolated."""

    __tablename__ = "signals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reporter_member_id: Mapped[int | None] = mapped_column(
        ForeignKey("members.id", ondelete="SET NULL")
    )
    neighbourhood_id: Mapped[int | None] = mapped_column(
        ForeignKey("neighbourhoods.id", ondelete="SET NULL")
    )
    # Who seems isolated: a first name or a description; no name is required.
    description: Mapped[str] = mapped_column(Text, default="")
    place: Mapped[str | None] = mapped_column(String(256))
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    worry: Mapped[str] = mapped_column(Text, default="")
    reporter_phone: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[SignalStatus] = mapped_column(_str_enum(SignalStatus), default=SignalStatus.OPEN)
    assigned_to_member_id: Mapped[int | None] = mapped_column(
        ForeignKey("members.id", ondelete="SET NULL")
    )
    assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[SignalOutcome | None] = mapped_column(_str_enum(SignalOutcome, 24))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock_default)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the person's description, place and worry were erased (retention period).
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_signals_status", "status"),
        Index("ix_signals_reporter", "reporter_member_id", "created_at"),
    )


class RequestSeries(Base):
    """Recurring care: the same request every week or two, offered to its regular first."""

    __tablename__ = "request_series"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    referent_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    beneficiary_id: Mapped[int | None] = mapped_column(
        ForeignKey("beneficiaries.id", ondelete="SET NULL")
    )
    skill_id: Mapped[int] = mapped_column(ForeignKey("skills.id"))
    description: Mapped[str] = mapped_column(Text, default="")
    latitude: Mapped[float] = mapped_column(Float)
    longitude: Mapped[float] = mapped_column(Float)
    area_label: Mapped[str] = mapped_column(String(200), default="")
    neighbourhood_id: Mapped[int | None] = mapped_column(
        ForeignKey("neighbourhoods.id", ondelete="SET NULL")
    )
    places: Mapped[int] = mapped_column(SmallInteger, default=1)
    interval_days: Mapped[int] = mapped_column(SmallInteger, default=7)
    weekday: Mapped[int] = mapped_column(SmallInteger)  # 0 = Monday, in the town's time zone
    local_minute: Mapped[int] = mapped_column(SmallInteger)  # minutes after local midnight
    # The start of the next occurrence not yet posted; it is posted some days before.
    next_occurrence_at: Mapped[datetime] = mapped_column(UTCDateTime)
    regular_volunteer_id: Mapped[int | None] = mapped_column(
        ForeignKey("members.id", ondelete="SET NULL")
    )
    exclusive_hours: Mapped[int] = mapped_column(SmallInteger, default=24)
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    stopped_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock_default)

    __table_args__ = (
        CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday_range"),
        CheckConstraint("local_minute BETWEEN 0 AND 1439", name="minute_range"),
        CheckConstraint("interval_days BETWEEN 1 AND 56", name="interval_range"),
        CheckConstraint("places BETWEEN 1 AND 20", name="places_range"),
        Index("ix_request_series_due", "stopped_at", "next_occurrence_at"),
    )


# The watch campaigns' tables (issue 18) live in their own module; importing it here puts them
# in `Base.metadata` wherever the models are loaded (Alembic, the tests).
from storage import watch_models as watch_models  # noqa: E402


def _index_deleted_parents(metadata: MetaData) -> None:
    """Index every foreign key whose parent's deletion acts on it (CASCADE, SET NULL).

    Neither SQLite nor PostgreSQL indexes a referencing column by itself: without an index,
    deleting one member (the idle purge, /forget) or one offer (their pruning) scans the whole
    child table — the requests and audit events a town keeps for years — once per row deleted,
    holding SQLite's one write lock meanwhile. A column already leading an index is left alone.
    """
    for table in metadata.tables.values():
        leading = {
            next(iter(index.columns)).name for index in table.indexes if len(index.columns) > 0
        }
        leading |= {
            next(iter(constraint.columns)).name
            for constraint in table.constraints
            if isinstance(constraint, (PrimaryKeyConstraint, UniqueConstraint))
            and len(constraint.columns) > 0
        }
        for key in sorted(table.foreign_keys, key=lambda fk: fk.parent.name):
            if key.ondelete in {"CASCADE", "SET NULL"} and key.parent.name not in leading:
                Index(None, key.parent)
                leading.add(key.parent.name)


_index_deleted_parents(Base.metadata)
