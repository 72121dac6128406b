"""Matching: only approved, reachable, available volunteers with the skill, within their radius."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.domain.quiet_hours import in_quiet_hours
from bot.services.matching import Candidate, Need, find_candidates, rank
from storage.database import Database
from storage.models import (
    Claim,
    ClaimStatus,
    HelpRequest,
    Member,
    Offer,
    Skill,
    VolunteerSkill,
    VolunteerStatus,
)

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 11, 22, 14, 0, tzinfo=UTC)  # 15:00 in Paris
CENTRE = (45.5670, 5.9210)


def _east(km: float) -> tuple[float, float]:
    """A point `km` kilometres east of the centre."""
    return CENTRE[0], CENTRE[1] + km / (111.32 * math.cos(math.radians(CENTRE[0])))


async def _skill(database: Database, code: str) -> int:
    async with database.read() as session:
        return (await session.execute(select(Skill.id).where(Skill.code == code))).scalar_one()


async def _volunteer(
    database: Database,
    telegram_id: int,
    km: float,
    skills: list[int],
    *,
    radius: float = 2.0,
    status: VolunteerStatus = VolunteerStatus.APPROVED,
    verified: bool = False,
    **fields: object,
) -> int:
    latitude, longitude = _east(km)
    async with database.transaction() as session:
        member = Member(
            telegram_id=telegram_id,
            display_name=f"V{telegram_id}",
            latitude=latitude,
            longitude=longitude,
            radius_km=radius,
            volunteer_status=status,
            **fields,
        )
        session.add(member)
        await session.flush()
        session.add_all(
            VolunteerSkill(member_id=member.id, skill_id=s, verified_at=NOW if verified else None)
            for s in skills
        )
        return member.id


async def _ids(database: Database, need: Need) -> list[int]:
    async with database.read() as session:
        found = await find_candidates(session, need, now=NOW, tz=PARIS)
    return [c.telegram_id for c in found]


async def test_only_fitting_volunteers_are_candidates_nearest_first(database: Database) -> None:
    plumbing = await _skill(database, "plumbing")
    shopping = await _skill(database, "shopping")
    await _volunteer(database, 1, 1.0, [plumbing])  # fits
    await _volunteer(database, 2, 3.0, [plumbing], radius=2)  # beyond their own radius
    await _volunteer(database, 3, 3.0, [plumbing], radius=5)  # fits, farther
    await _volunteer(database, 4, 0.5, [plumbing], status=VolunteerStatus.PENDING)
    await _volunteer(database, 5, 0.5, [shopping])  # other skill
    await _volunteer(database, 6, 0.5, [plumbing], paused_until=NOW + timedelta(days=1))
    await _volunteer(database, 7, 0.6, [plumbing], paused_until=NOW - timedelta(days=1))  # back
    await _volunteer(database, 8, 0.5, [plumbing], reachable=False)
    await _volunteer(database, 9, 0.2, [plumbing], forgotten_at=NOW)
    need = Need(plumbing, *CENTRE)
    assert await _ids(database, need) == [7, 1, 3]


async def test_a_skill_needing_verification_reaches_only_verified_volunteers(
    database: Database,
) -> None:
    electricity = await _skill(database, "electricity")
    await _volunteer(database, 1, 0.5, [electricity])
    await _volunteer(database, 2, 0.7, [electricity], verified=True)
    assert await _ids(database, Need(electricity, *CENTRE)) == [2]


async def test_weekly_cap_already_offered_and_the_referent_are_skipped(database: Database) -> None:
    plumbing = await _skill(database, "plumbing")
    capped = await _volunteer(database, 1, 0.5, [plumbing], weekly_cap=1)
    await _volunteer(database, 2, 0.6, [plumbing], weekly_cap=2)
    offered = await _volunteer(database, 3, 0.7, [plumbing])
    referent = await _volunteer(database, 4, 0.8, [plumbing])
    async with database.transaction() as session:
        old = HelpRequest(skill_id=plumbing, latitude=CENTRE[0], longitude=CENTRE[1])
        new = HelpRequest(skill_id=plumbing, latitude=CENTRE[0], longitude=CENTRE[1])
        session.add_all([old, new])
        await session.flush()
        session.add(
            Claim(
                request_id=old.id,
                volunteer_id=capped,
                status=ClaimStatus.DONE,
                claimed_at=NOW - timedelta(days=2),
            )
        )
        session.add(Offer(request_id=new.id, member_id=offered, chat_id=3, kind="direct"))
        new_id = new.id
    need = Need(plumbing, *CENTRE, request_id=new_id, exclude_member_id=referent)
    assert await _ids(database, need) == [2]


async def test_quiet_hours_send_silently_rather_than_skip(database: Database) -> None:
    plumbing = await _skill(database, "plumbing")
    # 15:00 in Paris: a 14:00–16:00 quiet window is on, 22:00–08:00 is off.
    await _volunteer(
        database, 1, 0.5, [plumbing], quiet_start_minute=14 * 60, quiet_end_minute=16 * 60
    )
    await _volunteer(
        database, 2, 0.6, [plumbing], quiet_start_minute=22 * 60, quiet_end_minute=8 * 60
    )
    async with database.read() as session:
        found = await find_candidates(session, Need(plumbing, *CENTRE), now=NOW, tz=PARIS)
    assert [(c.telegram_id, c.silent) for c in found] == [(1, True), (2, False)]


@pytest.mark.parametrize(
    ("minute", "start", "end", "quiet"),
    [
        (23 * 60, 22 * 60, 8 * 60, True),
        (7 * 60 + 59, 22 * 60, 8 * 60, True),
        (8 * 60, 22 * 60, 8 * 60, False),
        (12 * 60, 22 * 60, 8 * 60, False),
        (13 * 60, 12 * 60, 14 * 60, True),
        (13 * 60, None, None, False),
        (13 * 60, 600, 600, False),
    ],
)
def test_quiet_hours_wrap_over_midnight(
    minute: int, start: int | None, end: int | None, quiet: bool
) -> None:
    assert in_quiet_hours(minute, start, end) is quiet


def test_equal_distances_go_to_the_least_recently_offered_first() -> None:
    def candidate(member_id: int, km: float, last: datetime | None) -> Candidate:
        return Candidate(member_id, member_id, None, None, km, last, False)

    ranked = rank(
        [
            candidate(1, 0.51, NOW - timedelta(hours=1)),
            candidate(2, 0.55, None),
            candidate(3, 0.53, NOW - timedelta(days=3)),
            candidate(4, 0.40, NOW),
        ]
    )
    assert [c.member_id for c in ranked] == [4, 2, 3, 1]


async def test_a_volunteer_near_the_date_line_or_a_pole_does_not_break_matching(
    database: Database,
) -> None:
    plumbing = await _skill(database, "plumbing")
    async with database.transaction() as session:
        session.add(
            Member(
                telegram_id=1,
                display_name="P",
                latitude=89.99,
                longitude=179.9,
                radius_km=5,
                volunteer_status=VolunteerStatus.APPROVED,
            )
        )
    async with database.read() as session:
        assert await find_candidates(session, Need(plumbing, 90.0, 0.0), now=NOW, tz=PARIS) == []
        assert (
            await find_candidates(session, Need(plumbing, -90.0, -180.0), now=NOW, tz=PARIS) == []
        )
