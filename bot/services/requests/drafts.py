"""What a referent asks for, and what the use cases of the request lifecycle answer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.services.outcomes import ClaimOutcome


@dataclass(frozen=True)
class BeneficiaryDetails:
    """Who is helped; private: only for the referent and the claimers."""

    name: str
    phone: str | None
    address: str | None
    latitude: float
    longitude: float
    access_notes: str | None = None
    consent: bool = False


@dataclass(frozen=True)
class RequestDraft:
    """What a referent asks for."""

    skill_id: int
    description: str
    latitude: float
    longitude: float
    area_label: str
    places_needed: int = 1
    when_kind: str = "asap"  # asap / today / slot
    starts_at: datetime | None = None
    # A slot wanted in a part of the day ("morning"…): `starts_at` is that part's start.
    day_part: str | None = None
    beneficiary_id: int | None = None  # one of the referent's own
    beneficiary: BeneficiaryDetails | None = None  # or a new one
    neighbourhood_id: int | None = None
    # Recurring care: the series' regular volunteer gets the request alone first, this long.
    preferred_volunteer_id: int | None = None
    exclusive_minutes: float = 0


@dataclass(frozen=True)
class Posted:
    """A request created, and how far its first wave went."""

    request_id: int
    offered: int
    remaining_candidates: int
    group_posted: bool
    # Held until a coordinator validates it (BRIGADE_REQUESTS_NEED_VALIDATION): nothing offered.
    awaiting_validation: bool = False


@dataclass(frozen=True)
class Asked:
    """A member's request for themselves, held for validation, and how many validators know."""

    request_id: int
    validators: int


@dataclass(frozen=True)
class ClaimResult:
    """The result of a claim tap."""

    outcome: ClaimOutcome
    places_left: int = 0
    claim_id: int | None = None
