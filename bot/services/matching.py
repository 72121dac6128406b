"""Who should hear of a request: the approved, reachable, available volunteers near enough.

One SQL query narrows the volunteers with everything a database does well — skill (verified when
the skill requires it), approval, reachability, pause, weekly cap, the town's charter accepted,
not already offered — and place: a spatial index holds the box around each volunteer's radius
circle, per skill they hold (migration 0006, storage.reach), and yields the holders of the need's
skill whose box contains its point. Exact distances are computed in Python for those, a few
thousand at most.

Availability (the slots a volunteer said they are usually free, optional) does not exclude
anyone here: each candidate comes with whether the need's time fits it, in the same query, and
the waves decide what that means (bot/services/requests/waves.py: the others only in the last).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple, cast
from zoneinfo import ZoneInfo

from sqlalchemy import (
    CursorResult,
    Dialect,
    Float,
    Integer,
    Select,
    String,
    and_,
    any_,
    bindparam,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from bot.domain.availability import Wanted
from bot.domain.lifecycle import HOLDING_PLACE
from bot.domain.quiet_hours import in_quiet_hours
from bot.domain.vocabulary import ClaimStatus, VolunteerStatus
from bot.geo import KM_PER_DEGREE, bounding_box, distance_km
from storage.models import Availability, Charter, Claim, Member, Offer, Skill, VolunteerSkill
from storage.reach import (
    MEMBER_ID_SHIFT,
    SKILL_ID_MASK,
    VOLUNTEER_REACH,
    VOLUNTEER_SKILL_RANGE,
    VOLUNTEER_SKILL_REACH,
)
from storage.types import UTCDateTime

# The farthest a volunteer may choose to travel (the radius column is capped at 100 km).
MAX_RADIUS_KM = 50.0
# Distances within the same 100 m count as equal: then the least recently offered come first.
DISTANCE_BUCKET_KM = 0.1
WEEK = timedelta(days=7)
_CLAIMS_COUNTING_FOR_CAP = (*HOLDING_PLACE, ClaimStatus.CONFIRMED)
# Where to look for volunteers near enough: the reach index of the dialect, or boxes (below).
_BY_BOXES = "boxes"
# Or, for member_may_take: the holders of the skill, wherever they are.
_HOLDERS = "holders"


class Candidate(NamedTuple):
    """A volunteer who may receive an offer, with what ranking and delivery need.

    A named tuple rather than a frozen dataclass: matching builds thousands of them per request,
    and a tuple is built about twice as fast.
    """

    member_id: int
    telegram_id: int
    chosen_language: str | None
    telegram_language: str | None
    distance_km: float
    last_offered_at: datetime | None
    silent: bool  # inside their quiet hours: the offer arrives without a sound
    # A charter version published and not accepted yet (still in its grace period): the offer
    # reminds them.
    charter_to_accept: bool = False
    # Free at the need's time, by their availability (none given counts as free).
    available: bool = True


@dataclass(frozen=True)
class Need:
    """What a request needs, as matching sees it."""

    skill_id: int
    latitude: float
    longitude: float
    request_id: int | None = None  # set: skip those already offered (or who declined) it
    exclude_member_id: int | None = None  # the referent, when they are also a volunteer
    radius_factor: float = 1.0  # > 1 when a coordinator widens an unclaimed request
    wanted: Wanted | None = None  # set: each candidate says whether this slot fits them


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
    return await _candidates(session, need, _where_to_look(session, need), now=now, tz=tz)


async def find_candidates_by_boxes(
    session: AsyncSession, need: Need, *, now: datetime, tz: ZoneInfo
) -> list[Candidate]:
    """find_candidates without the reach index, as for a widened need (its reference in tests)."""
    return await _candidates(session, need, _BY_BOXES, now=now, tz=tz)


def _where_to_look(session: AsyncSession, need: Need) -> str:
    """The dialect's reach index; boxes when widened (the index holds each own radius, once)."""
    if max(1.0, need.radius_factor) > 1.0:
        return _BY_BOXES
    return "sqlite" if session.get_bind().dialect.name == "sqlite" else "postgresql"


# The query is written with the tables' Core columns, not the ORM attributes: session.execute
# then runs it without the ORM's per-row work (about 1 ms for a couple of thousand rows).
_MEMBERS = Member.__table__.c
_HELD = VolunteerSkill.__table__.c
_SKILLS = Skill.__table__.c
_CLAIMS = Claim.__table__.c
_OFFERS = Offer.__table__.c
_CHARTERS = Charter.__table__.c
_AVAILABILITY = Availability.__table__.c
# Its parameters, typed once: the query is built once per shape (see _query).
_SKILL_ID = bindparam("skill_id", type_=Integer)
_LATITUDE = bindparam("latitude", type_=Float)
_LONGITUDE = bindparam("longitude", type_=Float)


def _available_then() -> ColumnElement[bool]:
    """Whether the volunteer is free at the wanted slot (parameters "weekday" and "periods"): no
    availability given at all, or one of the slots. Two probes of the availabilities' primary key
    (member, weekday, period) per volunteer, no scan: no index to add."""
    given = select(_AVAILABILITY.member_id).where(_AVAILABILITY.member_id == _MEMBERS.id)
    fits = given.where(
        _AVAILABILITY.weekday == bindparam("weekday", type_=Integer),
        _AVAILABILITY.period.in_(bindparam("periods", expanding=True)),
    )
    return or_(fits.exists(), ~given.exists())


def _holders_near_enough(where: str, skill_id: ColumnElement[int]) -> ColumnElement[bool]:
    """Holders of the skill whose reach may hold the need's point (exact distances follow)."""
    if where == _HOLDERS:
        return (
            select(_HELD.member_id)
            .where(_HELD.member_id == _MEMBERS.id, _HELD.skill_id == skill_id)
            .correlate_except(VolunteerSkill)
            .exists()
        )
    if where == "sqlite":
        # The R*Tree's rows are per volunteer skill: this skill's boxes that hold the point. The
        # id's low bits check the skill exactly (the R*Tree keeps 32-bit floats).
        reach = VOLUNTEER_REACH.c
        return _MEMBERS.id.in_(
            select(reach.id.bitwise_rshift(MEMBER_ID_SHIFT)).where(
                reach.skill_low <= skill_id,
                reach.skill_high >= skill_id,
                reach.id.bitwise_and(SKILL_ID_MASK) == skill_id,
                reach.south <= _LATITUDE,
                reach.north >= _LATITUDE,
                reach.west <= _LONGITUDE,
                reach.east >= _LONGITUDE,
            )
        )
    if where == "postgresql":
        # The GiST index on (skill range, reach); the point as a zero-size box, because box_ops
        # serve `box @> box`, not `box @> point`. `= ANY(ARRAY(…))` rather than `IN (…)`: the
        # planner then reads the members in id order, a quarter faster than in hash order.
        point = func.point(_LATITUDE, _LONGITUDE)
        holders = select(_HELD.member_id).where(
            VOLUNTEER_SKILL_RANGE.bool_op("@>")(skill_id),
            VOLUNTEER_SKILL_REACH.bool_op("@>")(func.box(point, point)),
        )
        return _MEMBERS.id == any_(func.array(holders.scalar_subquery()))
    # Boxes: the widest anyone may travel (index-friendly, but it covers a whole region), then
    # each volunteer's own radius × factor as a box (which no index serves).
    factor = bindparam("factor", type_=Float)
    min_cos_latitude = bindparam("min_cos_latitude", type_=Float)
    return and_(
        _MEMBERS.id.in_(select(_HELD.member_id).where(_HELD.skill_id == skill_id)),
        _MEMBERS.latitude.between(bindparam("min_latitude"), bindparam("max_latitude")),
        _MEMBERS.longitude.between(bindparam("min_longitude"), bindparam("max_longitude")),
        func.abs(_MEMBERS.latitude - _LATITUDE) <= _MEMBERS.radius_km * factor / KM_PER_DEGREE,
        func.abs(_MEMBERS.longitude - _LONGITUDE)
        <= _MEMBERS.radius_km * factor / (KM_PER_DEGREE * min_cos_latitude),
    )


def _boxes_parameters(need: Need, factor: float) -> dict[str, float]:
    """What _holders_near_enough("boxes") needs: the box of the widest reach around the need."""
    box = bounding_box(need.latitude, need.longitude, MAX_RADIUS_KM * factor)
    return {
        "factor": factor,
        "min_latitude": box.min_latitude,
        "max_latitude": box.max_latitude,
        "min_longitude": box.min_longitude,
        "max_longitude": box.max_longitude,
        # The widest a degree of longitude gets inside the box, for the per-volunteer box.
        "min_cos_latitude": max(
            1e-6,
            min(
                math.cos(math.radians(box.min_latitude)),
                math.cos(math.radians(box.max_latitude)),
            ),
        ),
    }


@functools.cache
def _query(
    where: str,
    skip_offered: bool,
    skip_referent: bool,
    timed: bool = False,
) -> Select[*tuple[Any, ...]]:
    """The candidates query of one shape, with bound parameters.

    Built once per shape and kept: building it and computing its cache key anew took 1.5 ms a
    call. One builder for every way of looking, so that the rules cannot drift apart.
    """
    conditions = _rules(where, _SKILL_ID, skip_offered, skip_referent, one_member=False)
    charter_latest = select(func.max(_CHARTERS.version)).scalar_subquery()
    return select(
        _MEMBERS.id,
        _MEMBERS.telegram_id,
        _MEMBERS.language,
        _MEMBERS.telegram_language,
        _MEMBERS.latitude,
        _MEMBERS.longitude,
        _MEMBERS.radius_km,
        _MEMBERS.last_offered_at,
        _MEMBERS.quiet_start_minute,
        _MEMBERS.quiet_end_minute,
        and_(
            charter_latest.is_not(None),
            func.coalesce(_MEMBERS.charter_version, "") != sql_cast(charter_latest, String),
        ),
        _available_then() if timed else literal(True),
    ).where(*conditions)


@functools.cache
def member_may_take(skill_id: ColumnElement[int]) -> ColumnElement[bool]:
    """Whether the volunteer of parameter "member_id" may be offered a request of `skill_id` now
    (parameter "now"), place and availability aside: matching's rules, as a condition.

    For /nearby, where it is correlated with each open request of one query; the caller checks
    the distance and the availability on the rows.
    """
    conditions = _rules(_HOLDERS, skill_id, False, False, one_member=True)
    return select(_MEMBERS.id).where(*conditions).exists()


def _rules(
    where: str,
    skill_id: ColumnElement[int],
    skip_offered: bool,
    skip_referent: bool,
    one_member: bool,
) -> list[ColumnElement[bool]]:
    """Matching's rules on a volunteer, for the need's skill (a parameter or a column)."""
    # Claims holding a place this week, counted only for volunteers with a cap (the OR stops
    # before it otherwise), through ix_claims_volunteer_claimed: the work grows with the capped
    # candidates, not with every recent claim.
    taken = (
        select(func.count())
        .where(
            _CLAIMS.volunteer_id == _MEMBERS.id,
            _CLAIMS.claimed_at >= bindparam("week_ago", type_=UTCDateTime),
            _CLAIMS.status.in_(_CLAIMS_COUNTING_FOR_CAP),
        )
        .scalar_subquery()
    )
    # correlate_except: a skill_id column (member_may_take) belongs to the outermost query,
    # which SQLAlchemy's automatic correlation, one level deep, would not see from here.
    skill = select(_SKILLS.id).where(_SKILLS.id == skill_id).correlate_except(Skill)
    now = bindparam("now", type_=UTCDateTime)
    # The town's charter: the newest version whose grace period is over must have been accepted
    # (it or a later one: members.charter_version holds the version number accepted). Here, in
    # the one query, so that every way of offering — waves, re-offers, /nearby — obeys it.
    charter_due = (
        select(func.max(_CHARTERS.version)).where(_CHARTERS.accept_by <= now).scalar_subquery()
    )
    charter_accepted = (
        select(_CHARTERS.version)
        .where(
            sql_cast(_CHARTERS.version, String) == _MEMBERS.charter_version,
            _CHARTERS.version >= charter_due,
        )
        .exists()
    )
    conditions = [
        _MEMBERS.volunteer_status == VolunteerStatus.APPROVED,
        _MEMBERS.reachable.is_(True),
        _MEMBERS.telegram_id.is_not(None),
        _MEMBERS.forgotten_at.is_(None),
        or_(_MEMBERS.paused_until.is_(None), _MEMBERS.paused_until <= now),
        or_(charter_due.is_(None), charter_accepted),
        _holders_near_enough(where, skill_id),
        or_(_MEMBERS.weekly_cap.is_(None), taken < _MEMBERS.weekly_cap),
        # The skill is checked in the same round trip, once per query (uncorrelated): not
        # retired; and when it requires verification, only verified holders.
        skill.where(_SKILLS.retired_at.is_(None)).exists(),
        or_(
            ~skill.where(_SKILLS.requires_verification.is_(True)).exists(),
            select(_HELD.member_id)
            .where(
                _HELD.member_id == _MEMBERS.id,
                _HELD.skill_id == skill_id,
                _HELD.verified_at.is_not(None),
            )
            .correlate_except(VolunteerSkill)
            .exists(),
        ),
    ]
    if skip_referent:
        conditions.append(_MEMBERS.id != bindparam("referent_id", type_=Integer))
    if one_member:
        conditions.append(_MEMBERS.id == bindparam("member_id", type_=Integer))
    if skip_offered:
        already = select(_OFFERS.member_id).where(
            _OFFERS.request_id == bindparam("request_id", type_=Integer),
            _OFFERS.member_id.is_not(None),
        )
        conditions.append(_MEMBERS.id.not_in(already))
    return conditions


async def _candidates(
    session: AsyncSession, need: Need, where: str, *, now: datetime, tz: ZoneInfo
) -> list[Candidate]:
    """Run the query for `need`, measure each volunteer found and rank them."""
    factor = max(1.0, need.radius_factor)
    parameters: dict[str, Any] = {
        "skill_id": need.skill_id,
        "latitude": need.latitude,
        "longitude": need.longitude,
        "now": now,
        "week_ago": now - WEEK,
        "request_id": need.request_id,
        "referent_id": need.exclude_member_id,
    }
    if need.wanted is not None:
        parameters |= {"weekday": need.wanted.weekday, "periods": list(need.wanted.periods)}
    if where == _BY_BOXES:
        parameters |= _boxes_parameters(need, factor)
    statement = _query(
        where,
        need.request_id is not None,
        need.exclude_member_id is not None,
        need.wanted is not None,
    )
    result = await session.execute(statement, parameters)
    assert isinstance(result, CursorResult)
    # The driver's rows rather than SQLAlchemy's Row objects, which cost a tenth of the whole
    # call for a couple of thousand volunteers. The one column SQLAlchemy would convert,
    # last_offered_at, is converted below, for the volunteers kept.
    rows = result.cursor.fetchall()
    result.close()
    to_datetime = _datetime_converter(session.get_bind().dialect)
    local = now.astimezone(tz)
    minute_of_day = local.hour * 60 + local.minute
    latitude, longitude = need.latitude, need.longitude
    found = []
    # Lean on purpose: this runs for every volunteer found (thousands where towns are dense).
    for (
        member_id,
        telegram_id,
        chosen,
        telegram_lang,
        lat,
        lon,
        radius,
        last,
        q_start,
        q_end,
        charter_to_accept,
        available,
    ) in rows:
        if lat is None or lon is None or telegram_id is None:
            continue
        distance = distance_km(latitude, longitude, lat, lon)
        if distance > radius * factor:
            continue
        found.append(
            Candidate(
                member_id,
                telegram_id,
                chosen,
                telegram_lang,
                distance,
                None if last is None else to_datetime(last),
                q_start is not None and in_quiet_hours(minute_of_day, q_start, q_end),
                bool(charter_to_accept),
                bool(available),
            )
        )
    return rank(found)


def _datetime_converter(dialect: Dialect) -> Callable[[Any], datetime]:
    """What SQLAlchemy does to a raw members.last_offered_at: an aware UTC datetime."""
    column_type = _MEMBERS.last_offered_at.type
    convert = column_type.dialect_impl(dialect).result_processor(dialect, None)
    assert convert is not None
    return cast("Callable[[Any], datetime]", convert)
