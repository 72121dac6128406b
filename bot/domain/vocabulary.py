"""The words of the brigade: roles, and the states of volunteers, requests, claims and cases.

Plain enums, no database and no Telegram: the ORM (storage/models.py) stores them, the services
and the lifecycle rules (bot/domain/lifecycle.py) reason with them.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """What a member may do; a member can hold several roles."""

    COORDINATOR = "coordinator"
    REFERENT = "referent"
    VOLUNTEER = "volunteer"


class VolunteerStatus(StrEnum):
    """Where a volunteer stands: vetting, then suspension by a coordinator (and back)."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    # Stopped by a coordinator after approval: no offer, no claim, no new application; a
    # coordinator reinstates them (back to approved) without a new application.
    SUSPENDED = "suspended"


class RequestStatus(StrEnum):
    """Life of a request: open → full → completed → closed, or cancelled / expired; a request
    that needs validation (asked by a member for themselves) waits before it opens, or is
    declined. A completed request its referent never confirms ends unconfirmed."""

    TO_VALIDATE = "to_validate"
    OPEN = "open"
    FULL = "full"
    COMPLETED = "completed"
    CLOSED = "closed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    DECLINED = "declined"
    # Done (every claimer said so) and not confirmed within BRIGADE_CONFIRM_WINDOW_DAYS: over,
    # counted as done but not as confirmed; the referent may still confirm it (→ closed).
    UNCONFIRMED = "unconfirmed"


class ClaimStatus(StrEnum):
    """Life of one volunteer's claim on a request."""

    ACTIVE = "active"
    RELEASED = "released"
    DONE = "done"
    CONFIRMED = "confirmed"
    NOT_DONE = "not_done"
    FAILED = "failed"
    CANCELLED = "cancelled"


class SignalStatus(StrEnum):
    """Life of a reported case: open → assigned (someone follows up) → closed."""

    OPEN = "open"
    ASSIGNED = "assigned"
    CLOSED = "closed"


class SignalOutcome(StrEnum):
    """How a reported case ended."""

    HELPED = "helped"
    REFERRED = "referred"  # referred to a service (CCAS, social worker…)
    NOT_ISOLATED = "not_isolated"
    UNREACHABLE = "unreachable"  # could not reach the person


class VisitPlan(StrEnum):
    """When the claimer of an "as soon as possible" request expects to go (told the referent)."""

    WITHIN_AN_HOUR = "hour"
    TODAY = "today"
    TOMORROW = "tomorrow"
    WILL_WRITE = "write"  # they will agree on a time with the referent


class Wellbeing(StrEnum):
    """How the person seemed at the visit, as the volunteer reports it after Done."""

    FINE = "fine"
    WANTS_MORE_VISITS = "more"
    WORRIED = "worried"  # the volunteer is worried: a concern, sent at once
