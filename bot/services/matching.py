"""Who should hear of a request: the approved, reachable, available volunteers near enough.

One SQL query narrows the volunteers with everything a database does well — skill (verified when
the skill requires it), approval, reachability, pause, weekly cap, not already offered — and a
latitude/longitude box: the widest any volunteer may travel (index-friendly), then each
volunteer's own radius. Exact distances are computed in Python for the few that remain.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.lifecycle import HOLDING_PLACE
from bot.domain.quiet_hours import in_quiet_hours
from bot.geo import KM_PER_DEGREE, bounding_box, distance_km
from storage.models import (
    Claim,
    ClaimStatus,
    Member,
    Offer,
    Skill,
    VolunteerSkill,
    VolunteerStatus,
)

# The farthest a volunteer may choose to travel (the radius column is capped at 100 km).
MAX_RADIUS_KM = 50.0
# Distances within the same 100 m count as equal: then the least recently offered come first.
DISTANCE_BUCKET_KM = 0.1
WEEK = timedelta(days=7)
_CLAIMS_COUNTING_FOR_CAP = (*HOLDING_PLACE, ClaimStatus.CONFIRMED)


@dataclass(frozen=True)
class Candidate:
    """A volunteer who may receive an offer, with what ranking and delivery need."""

    member_id: int
    telegram_id: int
    chosen_language: str | None
    telegram_language: str | None
    distance_km: float
    last_offered_at: datetime | None
    silent: bool  # inside their quiet hours: the offer arrives without a sound


@dataclass(frozen=True)
class Need:
    """What a request needs, as matching sees it."""

    skill_id: int
    latitude: float
    longitude: float
    request_id: int | None = None  # set: skip those already offered (or who declined) it
    exclude_member_id: int | None = None  # the referent, when they are also a volunteer
    radius_factor: float = 1.0  # > 1 when a coordinator widens an unclaimed request


def rank(candidates: Sequence[Candidate]) -> list[Candidate]:
    """Nearest first; among equals (same 100 m), those offered least recently first."""
    never = datetime.min.replace(tzinfo=ZoneInfo("UTC"))
    return sorted(
        candidates,
        key=lambda c: (
            math.floor(c.distance_km / DISTANCE_BUCKET_KM),
            c.last_offered_at or never,
            c.member_id,
        ),
    )


async def find_candidates(
    session: AsyncSession, need: Need, *, now: datetime, tz: ZoneInfo
) -> list[Candidate]:
    """Every volunteer who may receive this need now, ranked (one query, whatever the count)."""
    skill = await session.get(Skill, need.skill_id)
    if skill is None or skill.retired_at is not None:
        return []
    factor = max(1.0, need.radius_factor)
    box = bounding_box(need.latitude, need.longitude, MAX_RADIUS_KM * factor)
    # The widest a degree of longitude gets inside the box, for the per-volunteer box below.
    cos_lat = max(
        1e-6,
        min(math.cos(math.radians(box.min_latitude)), math.cos(math.radians(box.max_latitude))),
    )
    recent_claims = (
        select(Claim.volunteer_id, func.count().label("taken"))
        .where(Claim.claimed_at >= now - WEEK, Claim.status.in_(_CLAIMS_COUNTING_FOR_CAP))
        .group_by(Claim.volunteer_id)
        .subquery()
    )
    conditions = [
        Member.volunteer_status == VolunteerStatus.APPROVED,
        Member.reachable.is_(True),
        Member.telegram_id.is_not(None),
        Member.forgotten_at.is_(None),
        or_(Member.paused_until.is_(None), Member.paused_until <= now),
        Member.latitude.between(box.min_latitude, box.max_latitude),
        Member.longitude.between(box.min_longitude, box.max_longitude),
        # Each volunteer's own radius, as a box (exact distances follow in Python).
        func.abs(Member.latitude - need.latitude) <= Member.radius_km * factor / KM_PER_DEGREE,
        func.abs(Member.longitude - need.longitude)
        <= Member.radius_km * factor / (KM_PER_DEGREE * cos_lat),
        or_(
            Member.weekly_cap.is_(None), func.coalesce(recent_claims.c.taken, 0) < Member.weekly_cap
        ),
    ]
    if skill.requires_verification:
        conditions.append(VolunteerSkill.verified_at.is_not(None))
    if need.exclude_member_id is not None:
        conditions.append(Member.id != need.exclude_member_id)
    statement = (
        select(
            Member.id,
            Member.telegram_id,
            Member.language,
            Member.telegram_language,
            Member.latitude,
            Member.longitude,
            Member.radius_km,
            Member.last_offered_at,
            Member.quiet_start_minute,
            Member.quiet_end_minute,
        )
        .join(
            VolunteerSkill,
            and_(VolunteerSkill.member_id == Member.id, VolunteerSkill.skill_id == need.skill_id),
        )
        .outerjoin(recent_claims, recent_claims.c.volunteer_id == Member.id)
        .where(*conditions)
    )
    if need.request_id is not None:
        already = select(Offer.member_id).where(
            Offer.request_id == need.request_id, Offer.member_id.is_not(None)
        )
        statement = statement.where(Member.id.not_in(already))
    local = now.astimezone(tz)
    minute_of_day = local.hour * 60 + local.minute
    found = []
    for row in (await session.execute(statement)).all():
        (member_id, telegram_id, chosen, telegram_lang, lat, lon, radius, last, q_start, q_end) = (
            row
        )
        if lat is None or lon is None or telegram_id is None:
            continue
        distance = distance_km(need.latitude, need.longitude, lat, lon)
        if distance > radius * factor:
            continue
        found.append(
            Candidate(
                member_id=member_id,
                telegram_id=telegram_id,
                chosen_language=chosen,
                telegram_language=telegram_lang,
                distance_km=distance,
                last_offered_at=last,
                silent=in_quiet_hours(minute_of_day, q_start, q_end),
            )
        )
    return rank(found)
