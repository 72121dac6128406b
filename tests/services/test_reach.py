"""The radius check read by the use cases, on SQLite and PostgreSQL: the application a
coordinator reviews, the member card and the volunteer's own profile all carry how far the
volunteer's radius reaches (one query for the town's centres, whatever the number of members)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.services.directory import DirectoryService
from bot.services.members import MemberService, TelegramIdentity
from bot.services.neighbourhoods import NeighbourhoodService
from bot.services.outcomes import Outcome
from bot.services.profile import ProfileService
from bot.services.volunteers import VolunteerApplication
from storage.database import Database
from storage.models import Skill
from tests.factories import vetting_service

COORDINATOR = 1000
NEAR, FAR = 3001, 3002
# 13.7 km north of Centre-Ville's centre; and a point 0.1 km from it.
FAR_NORTH = (45.567 + 13.7 / 111.2, 5.921)
IN_TOWN = (45.5675, 5.9205)


async def _apply(database: Database, telegram_id: int, place: tuple[float, float]) -> int:
    async with database.read() as session:
        plumbing = (
            await session.execute(select(Skill.id).where(Skill.code == "plumbing"))
        ).scalar_one()
    result = await vetting_service(database).submit(
        telegram_id,
        VolunteerApplication(
            display_name=f"Volunteer {telegram_id}",
            latitude=place[0],
            longitude=place[1],
            radius_km=2.0,
            skill_ids=(plumbing,),
            availability=(),
            charter_version="2026-11",
        ),
    )
    assert not isinstance(result, Outcome)
    return result.member_id


async def test_applications_cards_and_profiles_say_how_far_the_radius_reaches(
    database: Database,
) -> None:
    members = MemberService(database, coordinator_ids=[COORDINATOR])
    for telegram_id in (COORDINATOR, NEAR, FAR):
        await members.identify(TelegramIdentity(telegram_id, f"User {telegram_id}"))
    neighbourhoods = NeighbourhoodService(database)
    # No neighbourhood yet: nothing to reach, nothing to say.
    assert await neighbourhoods.reach(*FAR_NORTH, 2.0) is None
    for name, latitude, longitude in (
        ("Centre-Ville", 45.567, 5.921),
        ("Le Biollay", 45.556, 5.9075),
    ):
        created = await neighbourhoods.create(COORDINATOR, name, latitude, longitude, 1.0)
        assert not isinstance(created, Outcome)
    near_id = await _apply(database, NEAR, IN_TOWN)
    far_id = await _apply(database, FAR, FAR_NORTH)

    pending = await vetting_service(database).pending(COORDINATOR)
    assert not isinstance(pending, Outcome)
    reaches = {view.member_id: view.reach for view in pending}
    near, far = reaches[near_id], reaches[far_id]
    assert near is not None
    assert (near.nearest, near.in_reach) == ("Centre-Ville", True)
    assert far is not None
    assert (far.nearest, far.in_reach, far.suggested_km) == ("Centre-Ville", False, 15.0)
    assert far.distance_km == pytest.approx(13.7, abs=0.05)

    card = await DirectoryService(database, frozenset({COORDINATOR})).card(COORDINATOR, far_id)
    assert not isinstance(card, Outcome)
    assert card.reach == far

    profiles = ProfileService(database)
    widened = await profiles.set_radius(FAR, 15.0)
    assert not isinstance(widened, Outcome)
    assert widened.reach is not None
    assert widened.reach.in_reach
    assert widened.reach.radius_km == 15.0
