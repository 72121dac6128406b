"""The watch campaigns as tables (issue 18): the register, the campaigns, each day's calls.

Kept apart from storage/models.py (which imports this module at its end, so that the tables are
in the one metadata).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from bot.domain.watch import (
    Acknowledgement,
    CallOutcome,
    CampaignKind,
    Consent,
    DraftDecision,
    RegisteredBy,
)
from storage.clock import clock_default
from storage.models import Base, _str_enum
from storage.types import UTCDateTime


class WatchPerson(Base):
    """A person on the town's watch register, called during a heat or cold alert.

    Kept while the person is registered (the request retention does not touch it) and deleted,
    not blanked, when they are removed: nothing of them is left but the audit events' ids.
    """

    __tablename__ = "watch_register"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Who added them and follows them (told when they need something or cannot be reached).
    referent_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    # The beneficiary they were registered from, if any (a plain integer: a purge of the
    # beneficiary's contact data leaves the register entry as it is).
    beneficiary_id: Mapped[int | None] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(120))
    phone: Mapped[str] = mapped_column(String(32))
    address: Mapped[str] = mapped_column(String(256))
    registered_by: Mapped[RegisteredBy] = mapped_column(_str_enum(RegisteredBy))
    consent: Mapped[Consent] = mapped_column(_str_enum(Consent))
    best_time: Mapped[str | None] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(8))
    notes: Mapped[str | None] = mapped_column(Text)
    emergency_contact: Mapped[str | None] = mapped_column(String(200))
    # Where they live (found from the address, or their beneficiary's place) and the
    # neighbourhood whose centre is nearest (their beneficiary's when registered from one):
    # /watch counts by neighbourhood, and the nearest caller is picked from the place.
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    # No foreign key: neighbourhoods are archived, never deleted, and a key would make the
    # column impossible to add in place on SQLite (a rebuild of the register unlinks the calls).
    neighbourhood_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock_default)
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=clock_default, onupdate=clock_default
    )

    __table_args__ = (Index("ix_watch_register_referent", "referent_id"),)


class WatchCampaign(Base):
    """A heat or cold campaign: the register called every day (or every few days) in a window.

    `next_window_at` and `window_ends_at` are its timers: the sweep claims each with a
    conditional UPDATE, so one process alone assigns a day's calls or escalates its end.
    """

    __tablename__ = "watch_campaigns"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[CampaignKind] = mapped_column(_str_enum(CampaignKind))
    # The daily call window, in minutes after local midnight (the town's time zone).
    window_start: Mapped[int] = mapped_column(SmallInteger)
    window_end: Mapped[int] = mapped_column(SmallInteger)
    interval_days: Mapped[int] = mapped_column(SmallInteger, default=1)
    ends_on: Mapped[date | None] = mapped_column(Date)
    # The start of the next window not yet assigned; the end of the window under way.
    next_window_at: Mapped[datetime] = mapped_column(UTCDateTime)
    window_ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The middle of the window under way: callers who recorded nothing by then are replaced.
    silence_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The local date of the window under way (or last run): the callers' lists are for it.
    day: Mapped[date | None] = mapped_column(Date)
    # True while it runs, NULL once stopped: the unique index lets one campaign run at a time.
    running: Mapped[bool | None] = mapped_column(Boolean, unique=True)
    started_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock_default)
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    stopped_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))


class WatchCall(Base):
    """One person's call on one campaign day: the caller, the tries, the outcome, an escalation.

    The person's id is cleared when they are removed from the register: the row stays, naming
    nobody, for the campaign's figures.
    """

    __tablename__ = "watch_calls"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("watch_campaigns.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date)
    person_id: Mapped[int | None] = mapped_column(
        ForeignKey("watch_register.id", ondelete="SET NULL")
    )
    caller_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    outcome: Mapped[CallOutcome] = mapped_column(
        _str_enum(CallOutcome), default=CallOutcome.PENDING
    )
    # The two no-answers of the day (a second one escalates), and when to try again.
    first_no_answer_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    second_no_answer_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    retry_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outcome_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Nobody reached the person: the referent and coordinators were told; unacknowledged, it is
    # repeated to every coordinator at `repeat_at`.
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    repeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("members.id", ondelete="SET NULL")
    )
    acknowledgement: Mapped[Acknowledgement | None] = mapped_column(_str_enum(Acknowledgement))
    # 🙋 reached, needs something: the kind of help tapped (a request draft for the referent);
    # NULL with that outcome: something else or a worry (a concern for the referent). Plain
    # integers, no foreign keys: the columns were added in place (migration 0025).
    need_skill_id: Mapped[int | None] = mapped_column(Integer)
    # What the referent or a coordinator did with the draft (first decision wins), and the
    # request it became.
    draft_decision: Mapped[DraftDecision | None] = mapped_column(_str_enum(DraftDecision))
    draft_decided_by_id: Mapped[int | None] = mapped_column(Integer)
    request_id: Mapped[int | None] = mapped_column(Integer)

    __table_args__ = (
        UniqueConstraint("campaign_id", "day", "person_id", name="uq_watch_calls_day_person"),
        Index("ix_watch_calls_caller_day", "caller_id", "day"),
        Index("ix_watch_calls_retry", "retry_at"),
        Index("ix_watch_calls_repeat", "repeat_at"),
    )


class WatchList(Base):
    """A caller's list as sent (the morning's, again after a no-answer, or with people added):
    the outbox row that carried it says which message to edit when the day's window ends and its
    names, phones and notes are removed from the caller's chat."""

    __tablename__ = "watch_lists"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("watch_campaigns.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date)
    caller_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    outbox_id: Mapped[int] = mapped_column(Integer)
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The caller recorded nothing by the middle of the window: their people went to others
    # (and the next day they are not given anyone first).
    replaced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_watch_lists_campaign_day", "campaign_id", "day"),)
