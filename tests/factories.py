"""People and places for tests, made the way the town makes them.

Everything here works on a running bot (`InProcessBrigade`, `PollingBrigade`: anything with
`.services`) and goes through the use cases, not raw inserts: a volunteer applies and is
approved by the coordinator of the settings, a referent opens a coordinator's invitation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Protocol

from sqlalchemy import select

from bot.context import Services
from bot.domain.vocabulary import Role
from bot.i18n import I18n
from bot.services.invites import CreatedInvite
from bot.services.members import TelegramIdentity
from bot.services.outcomes import Outcome
from bot.services.volunteers import VolunteerApplication, VolunteerService
from storage.database import Database
from storage.models import Skill
from testkit.harness import TEST_PSEUDONYMS, brigade_settings
from testkit.messages import RecordingMessenger
from testkit.telegram import FakeTelegram, FakeUser
from tests.conftest import COORDINATOR_ID

CENTRE = (45.5670, 5.9210)  # Centre-Ville, Chambéry
VOLUNTEER_PHONE = "+33 6 11 22 33 44"


class Running(Protocol):
    """A running bot, in either test tier."""

    @property
    def services(self) -> Services:
        """Its services."""
        ...


def vetting_service(database: Database, **options: object) -> VolunteerService:
    """The vetting use cases on a bare database, their card edits queued by a real messenger."""
    messenger = RecordingMessenger(I18n("en"), brigade_settings(database.url))
    return VolunteerService(database, messenger, pseudonyms=TEST_PSEUDONYMS, **options)  # type: ignore[arg-type]


def east(km: float, of: tuple[float, float] = CENTRE) -> tuple[float, float]:
    """The point `km` east of `of` (the centre of Chambéry by default)."""
    return of[0], of[1] + km / (111.32 * math.cos(math.radians(of[0])))


async def skill_id(database: Database, code: str) -> int:
    """The id of a skill of the default catalogue."""
    async with database.read() as session:
        return (await session.execute(select(Skill.id).where(Skill.code == code))).scalar_one()


async def the_coordinator(world: FakeTelegram, name: str = "Claire") -> FakeUser:
    """The coordinator named in the settings, who has opened the bot."""
    person = world.add_user(name, user_id=COORDINATOR_ID, language_code="en")
    person.send_command("start")
    await person.expect_message()
    return person


async def new_referent(bot: Running, world: FakeTelegram, name: str = "Rita") -> FakeUser:
    """A referent made the real way: a coordinator's invitation, opened with /start."""
    await _coordinator_known(bot)
    created = await bot.services.invites.create(COORDINATOR_ID, Role.REFERENT)
    assert isinstance(created, CreatedInvite)
    person = world.add_user(name, language_code="en")
    person.start(created.start_payload)
    await person.expect_message("You are now a referent")
    return person


async def new_volunteer(
    bot: Running,
    world: FakeTelegram,
    name: str,
    *,
    km: float = 0.3,
    skills: Sequence[str] = ("plumbing",),
    radius: float = 2.0,
    neighbourhood_id: int | None = None,
    approve: bool = True,
) -> FakeUser:
    """A volunteer `km` east of the centre who applied (and was approved, unless told)."""
    person = world.add_user(name, language_code="en")
    await enrol(bot, person, km=km, skills=skills, radius=radius, neighbourhood_id=neighbourhood_id)
    if approve:
        await approve_application(bot, person)
    return person


async def approved_volunteer(
    bot: Running, person: FakeUser, km: float = 0.3, code: str = "plumbing"
) -> int:
    """`person` signed up `km` east of the centre with one skill, and approved; their member id."""
    member_id = await enrol(bot, person, km=km, skills=(code,))
    await approve_application(bot, person)
    return member_id


async def enrol(
    bot: Running,
    person: FakeUser,
    *,
    km: float = 0.3,
    skills: Sequence[str] = ("plumbing",),
    radius: float = 2.0,
    neighbourhood_id: int | None = None,
) -> int:
    """`person`'s volunteer application, as the sign-up sends it; their member id."""
    services = bot.services
    identity = TelegramIdentity(person.id, person.first_name, language_code="en")
    await services.members.identify(identity)
    latitude, longitude = east(km)
    submitted = await services.volunteers.submit(
        person.id,
        VolunteerApplication(
            display_name=person.first_name,
            phone=VOLUNTEER_PHONE,
            latitude=latitude,
            longitude=longitude,
            radius_km=radius,
            skill_ids=tuple([await skill_id(services.database, code) for code in skills]),
            availability=(),
            charter_version="2026-11",
            neighbourhood_id=neighbourhood_id,
        ),
    )
    assert not isinstance(submitted, Outcome), submitted
    return submitted.member_id


async def approve_application(bot: Running, person: FakeUser) -> None:
    """The coordinator of the settings approves `person`'s application."""
    member = await bot.services.members.find(person.id)
    assert member is not None
    await _coordinator_known(bot)
    decision = await bot.services.volunteers.decide(COORDINATOR_ID, member.id, approve=True)
    assert decision.outcome is Outcome.DONE


async def _coordinator_known(bot: Running) -> None:
    """The coordinator named in the settings, known as they are after their first update."""
    if await bot.services.members.find(COORDINATOR_ID) is None:
        await bot.services.members.identify(
            TelegramIdentity(COORDINATOR_ID, "Claire", language_code="en")
        )
