"""Data for fast handler tests: skills by code, approved volunteers near Chambéry's centre."""

from __future__ import annotations

import math

from sqlalchemy import select

from bot.services.members import TelegramIdentity
from bot.services.outcomes import Outcome
from bot.services.volunteers import VolunteerApplication
from storage.models import Skill
from testkit.harness import InProcessBrigade
from testkit.telegram import FakeUser
from tests.conftest import COORDINATOR_ID

CENTRE = (45.5670, 5.9210)  # Centre-Ville, Chambéry


def east_of_centre(km: float) -> tuple[float, float]:
    """A point `km` east of CENTRE."""
    return CENTRE[0], CENTRE[1] + km / (111.32 * math.cos(math.radians(CENTRE[0])))


async def skill_id(brigade: InProcessBrigade, code: str) -> int:
    """The id of a skill of the default catalogue."""
    async with brigade.services.database.read() as session:
        return (await session.execute(select(Skill.id).where(Skill.code == code))).scalar_one()


async def approved_volunteer(
    brigade: InProcessBrigade, person: FakeUser, km: float, code: str = "plumbing"
) -> int:
    """Sign `person` up `km` east of the centre with one skill, approved; their member id."""
    services = brigade.services
    identity = TelegramIdentity(person.id, person.first_name, language_code="en")
    await services.members.identify(identity)
    latitude, longitude = east_of_centre(km)
    submitted = await services.volunteers.submit(
        person.id,
        VolunteerApplication(
            display_name=person.first_name,
            phone="+33 6 11 22 33 44",
            latitude=latitude,
            longitude=longitude,
            radius_km=2.0,
            skill_ids=(await skill_id(brigade, code),),
            availability=(),
            charter_version="2026-11",
        ),
    )
    assert not isinstance(submitted, Outcome)
    await services.volunteers.decide(COORDINATOR_ID, submitted.member_id, approve=True)
    return submitted.member_id
