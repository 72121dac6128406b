"""Matching: only approved, reachable, available volunteers with the skill, within their radius."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import delete, select, text

from bot.domain.quiet_hours import in_quiet_hours
from bot.domain.vocabulary import ClaimStatus, VolunteerStatus
from bot.geo import bounding_box
from bot.services.matching import (
    Candidate,
    Need,
    find_candidates,
    find_candidates_by_boxes,
    rank,
)
from storage.database import Database
from storage.models import Claim, HelpRequest, Member, Offer, Skill, VolunteerSkill
from tests.factories import CENTRE, east

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 11, 22, 14, 0, tzinfo=UTC)  # 15:00 in Paris


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
    latitude, longitude = east(km)
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


async def test_among_equals_the_least_recently_offered_come_first(database: Database) -> None:
    plumbing = await _skill(database, "plumbing")
    recently, long_ago = NOW - timedelta(hours=2), NOW - timedelta(days=9)
    # 1, 2 and 3 within the same 100 m (about 0.55 to 0.59 km away); 4 nearer.
    await _volunteer(database, 1, 0.55, [plumbing], last_offered_at=recently)
    await _volunteer(database, 2, 0.57, [plumbing], last_offered_at=long_ago)
    await _volunteer(database, 3, 0.59, [plumbing])
    await _volunteer(database, 4, 0.30, [plumbing], last_offered_at=recently)
    async with database.read() as session:
        found = await find_candidates(session, Need(plumbing, *CENTRE), now=NOW, tz=PARIS)
    assert [(c.telegram_id, c.last_offered_at) for c in found] == [
        (4, recently),
        (3, None),
        (2, long_ago),
        (1, recently),
    ]
    assert all(c.last_offered_at is None or c.last_offered_at.tzinfo is not None for c in found)


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


# --- the reach index (migration 0006) -------------------------------------------------------------


async def _move(database: Database, member_id: int, **fields: object) -> None:
    async with database.transaction() as session:
        member = await session.get(Member, member_id)
        assert member is not None
        for key, value in fields.items():
            setattr(member, key, value)


async def _both_ways(database: Database, need: Need) -> list[int]:
    """The telegram ids found through the index, checked against the boxes without it."""
    async with database.read() as session:
        indexed = await find_candidates(session, need, now=NOW, tz=PARIS)
        by_boxes = await find_candidates_by_boxes(session, need, now=NOW, tz=PARIS)
    assert indexed == by_boxes
    return [c.telegram_id for c in indexed]


async def test_the_index_follows_a_volunteer_who_moves_or_changes_radius(
    database: Database,
) -> None:
    plumbing = await _skill(database, "plumbing")
    member = await _volunteer(database, 1, 3.0, [plumbing], radius=2)
    need = Need(plumbing, *CENTRE)
    assert await _both_ways(database, need) == []
    await _move(database, member, radius_km=5.0)
    assert await _both_ways(database, need) == [1]
    await _move(database, member, radius_km=2.0)
    assert await _both_ways(database, need) == []
    latitude, longitude = east(1.0)
    await _move(database, member, latitude=latitude, longitude=longitude)
    assert await _both_ways(database, need) == [1]
    far = Need(plumbing, CENTRE[0] + 1.0, CENTRE[1])  # 111 km north
    assert await _both_ways(database, far) == []
    await _move(database, member, latitude=CENTRE[0] + 1.0, longitude=CENTRE[1])
    assert await _both_ways(database, far) == [1]
    assert await _both_ways(database, need) == []


async def test_a_blanked_place_leaves_the_index_and_a_new_one_returns(database: Database) -> None:
    plumbing = await _skill(database, "plumbing")
    member = await _volunteer(database, 1, 0.5, [plumbing])
    need = Need(plumbing, *CENTRE)
    assert await _both_ways(database, need) == [1]
    # As /forget does: the place is set to NULL.
    await _move(database, member, latitude=None, longitude=None)
    assert await _both_ways(database, need) == []
    assert await _indexed(database) == set()
    await _move(database, member, latitude=CENTRE[0], longitude=CENTRE[1])
    assert await _both_ways(database, need) == [1]


async def test_the_index_follows_skills_added_and_removed_and_members_deleted(
    database: Database,
) -> None:
    plumbing = await _skill(database, "plumbing")
    shopping = await _skill(database, "shopping")
    member = await _volunteer(database, 1, 0.5, [plumbing])
    other = await _volunteer(database, 2, 0.6, [plumbing, shopping])
    assert await _indexed(database) == {
        (member, plumbing),
        (other, plumbing),
        (other, shopping),
    }
    async with database.transaction() as session:
        session.add(VolunteerSkill(member_id=member, skill_id=shopping))
    assert await _both_ways(database, Need(shopping, *CENTRE)) == [1, 2]
    async with database.transaction() as session:
        held = await session.get(VolunteerSkill, (member, plumbing))
        assert held is not None
        await session.delete(held)
    assert await _both_ways(database, Need(plumbing, *CENTRE)) == [2]
    async with database.transaction() as session:
        # Deleting the member removes their skills (ON DELETE CASCADE), and so their boxes.
        await session.execute(delete(Member).where(Member.id == other))
    assert await _indexed(database) == {(member, shopping)}
    assert await _both_ways(database, Need(shopping, *CENTRE)) == [1]


@pytest.mark.parametrize("pole", [89.9, -89.9])
async def test_a_volunteer_near_a_pole_reaches_across_its_meridians(
    database: Database, pole: float
) -> None:
    plumbing = await _skill(database, "plumbing")
    member = await _volunteer(database, 1, 0.0, [plumbing], radius=20)
    await _move(database, member, latitude=pole, longitude=0.0)
    # 11 km from the pole: a point on the same parallel 120° away is 19.3 km off, 180° is 22.2.
    assert await _both_ways(database, Need(plumbing, pole, 120.0)) == [1]
    assert await _both_ways(database, Need(plumbing, pole, -120.0)) == [1]
    assert await _both_ways(database, Need(plumbing, pole, 180.0)) == []
    assert await _both_ways(database, Need(plumbing, math.copysign(90.0, pole), 0.0)) == [1]


@pytest.mark.parametrize("longitude", [179.9, -179.9])
async def test_a_volunteer_far_east_or_west_is_found_on_their_side(
    database: Database, longitude: float
) -> None:
    plumbing = await _skill(database, "plumbing")
    member = await _volunteer(database, 1, 0.0, [plumbing], radius=10)
    await _move(database, member, latitude=45.0, longitude=longitude)
    inward = math.copysign(0.05, -longitude)  # 4 km towards Greenwich
    assert await _both_ways(database, Need(plumbing, 45.0, longitude + inward)) == [1]
    assert await _both_ways(database, Need(plumbing, 45.0, longitude + 3 * inward)) == []
    assert await _both_ways(database, Need(plumbing, 45.05, longitude)) == [1]


async def test_a_widened_need_reaches_twice_as_far_without_the_index(database: Database) -> None:
    plumbing = await _skill(database, "plumbing")
    await _volunteer(database, 1, 3.0, [plumbing], radius=2)
    assert await _ids(database, Need(plumbing, *CENTRE)) == []
    assert await _ids(database, Need(plumbing, *CENTRE, radius_factor=2.0)) == [1]


async def test_the_index_finds_exactly_what_the_boxes_find(database: Database) -> None:
    """Hundreds of volunteers and needs: through the index or without it, the same ranking."""
    rng = random.Random(2026)
    skills = [await _skill(database, code) for code in ("plumbing", "shopping", "electricity")]
    async with database.transaction() as session:
        for telegram_id in range(1, 401):
            if telegram_id % 10 == 0:  # far away, anywhere on Earth but the poles
                latitude, longitude = rng.uniform(-70, 70), rng.uniform(-180, 180)
            else:  # around the centre, as a town and its countryside
                latitude = CENTRE[0] + rng.uniform(-0.4, 0.4)
                longitude = CENTRE[1] + rng.uniform(-0.6, 0.6)
            member = Member(
                telegram_id=telegram_id,
                display_name=f"V{telegram_id}",
                latitude=latitude,
                longitude=longitude,
                radius_km=rng.uniform(0.5, 50.0),
                volunteer_status=VolunteerStatus.APPROVED,
                quiet_start_minute=rng.choice([None, 14 * 60]),
                quiet_end_minute=16 * 60,
            )
            session.add(member)
            await session.flush()
            session.add_all(
                VolunteerSkill(
                    member_id=member.id, skill_id=skill, verified_at=rng.choice([None, NOW])
                )
                for skill in rng.sample(skills, rng.randint(1, 3))
            )
    needs = [
        Need(
            rng.choice(skills),
            CENTRE[0] + rng.uniform(-0.5, 0.5),
            CENTRE[1] + rng.uniform(-0.7, 0.7),
            exclude_member_id=rng.choice([None, rng.randint(1, 400)]),
        )
        for _ in range(150)
    ]
    found = 0
    async with database.read() as session:
        for need in needs:
            indexed = await find_candidates(session, need, now=NOW, tz=PARIS)
            by_boxes = await find_candidates_by_boxes(session, need, now=NOW, tz=PARIS)
            assert indexed == by_boxes, need
            found += len(indexed)
    assert found > 150 * 20  # enough volunteers at the edge of their reach to matter


async def test_the_stored_reach_contains_the_bounding_box_of_bot_geo(database: Database) -> None:
    """The migration's own arithmetic (a polynomial cosine on SQLite) agrees with bot/geo.py."""
    rng = random.Random(7)
    plumbing = await _skill(database, "plumbing")
    places = [(rng.uniform(-89.99, 89.99), rng.uniform(-180, 180)) for _ in range(200)]
    places += [(89.5, 10.0), (-89.5, -10.0), (0.0, 179.99), (60.0, -179.99), (88.0, 0.0)]
    expected = {}
    async with database.transaction() as session:
        for telegram_id, (latitude, longitude) in enumerate(places, start=1):
            radius = rng.choice([0.01, 0.5, 2.0, 10.0, 50.0, 100.0])
            member = Member(
                telegram_id=telegram_id,
                latitude=latitude,
                longitude=longitude,
                radius_km=radius,
                volunteer_status=VolunteerStatus.APPROVED,
            )
            session.add(member)
            await session.flush()
            session.add(VolunteerSkill(member_id=member.id, skill_id=plumbing))
            expected[member.id] = bounding_box(latitude, longitude, radius)
    stored = await _stored_boxes(database)
    assert stored.keys() == expected.keys()
    for member_id, box in expected.items():
        south, north, west, east = stored[member_id]
        assert south <= box.min_latitude, member_id
        assert north >= box.max_latitude, member_id
        # bounding_box spans every longitude as lon ± 180 (not wrapped); the stored box as ±180.
        assert west <= max(-180.0, box.min_longitude), member_id
        assert east >= min(180.0, box.max_longitude), member_id


async def _indexed(database: Database) -> set[tuple[int, int]]:
    """The (member, skill) pairs that have a box in the reach index."""
    async with database.read() as session:
        if database.is_sqlite:
            rows = await session.execute(
                text("SELECT id >> 32, id & 4294967295 FROM volunteer_reach")
            )
        else:
            rows = await session.execute(
                text("SELECT member_id, skill_id FROM volunteer_skills WHERE reach IS NOT NULL")
            )
        return {(member_id, skill_id) for member_id, skill_id in rows}


async def _stored_boxes(database: Database) -> dict[int, tuple[float, float, float, float]]:
    """Each member's stored reach box (south, north, west, east), from the index itself."""
    async with database.read() as session:
        if database.is_sqlite:
            rows = await session.execute(
                text("SELECT id >> 32, south, north, west, east FROM volunteer_reach")
            )
        else:
            # box[0] is the upper right corner, box[1] the lower left; x = latitude.
            rows = await session.execute(
                text(
                    "SELECT member_id, (reach[1])[0], (reach[0])[0], (reach[1])[1], (reach[0])[1]"
                    " FROM volunteer_skills WHERE reach IS NOT NULL"
                )
            )
        return {row[0]: (row[1], row[2], row[3], row[4]) for row in rows}
