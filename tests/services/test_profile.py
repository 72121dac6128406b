"""Self-service on real databases: each profile setter, skills and their verification, pauses."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from sqlalchemy import select

from bot.services.members import MemberService, TelegramIdentity
from bot.services.neighbourhoods import NeighbourhoodService
from bot.services.outcomes import Outcome
from bot.services.profile import (
    INDEFINITE_PAUSE,
    ProfileService,
    ProfileView,
    SkillsSaved,
    in_quiet_hours,
    pause_end,
)
from bot.services.skills import SkillService
from bot.services.volunteers import VolunteerApplication
from storage.database import Database
from storage.models import AuditEvent, Member, Skill
from testkit.clock import ManualClock
from tests.factories import vetting_service

COORDINATOR = 1000
VOLUNTEER = 7000


@pytest.fixture
def clock() -> ManualClock:
    """This module's tests start on the Sunday before the others'."""
    return ManualClock(datetime(2026, 11, 22, 9, 0, tzinfo=UTC))


async def _skill_ids(database: Database, *codes: str) -> tuple[int, ...]:
    async with database.read() as session:
        rows = await session.execute(select(Skill.id).where(Skill.code.in_(codes)))
        return tuple(sorted(rows.scalars()))


async def _skill_id(database: Database, code: str) -> int:
    async with database.read() as session:
        return (await session.execute(select(Skill.id).where(Skill.code == code))).scalar_one()


async def _volunteer(
    database: Database, telegram_id: int = VOLUNTEER, *, approve: bool = True
) -> int:
    """A volunteer who applied (plumbing + electricity, two slots), approved unless told."""
    members = MemberService(database, coordinator_ids=[COORDINATOR])
    for person in (COORDINATOR, telegram_id):
        await members.identify(TelegramIdentity(person, f"User {person}"))
    volunteers = vetting_service(database)
    submitted = await volunteers.submit(
        telegram_id,
        VolunteerApplication(
            display_name="Marc",
            latitude=45.566,
            longitude=5.921,
            radius_km=2.0,
            skill_ids=await _skill_ids(database, "plumbing", "electricity"),
            availability=((0, "morning"), (5, "afternoon")),
            charter_version="2026-11",
        ),
    )
    assert not isinstance(submitted, Outcome)
    if approve:
        decision = await volunteers.decide(COORDINATOR, submitted.member_id, approve=True)
        assert decision.outcome is Outcome.DONE
    return submitted.member_id


def _view(result: ProfileView | Outcome) -> ProfileView:
    assert isinstance(result, ProfileView), result
    return result


async def _member(database: Database, telegram_id: int = VOLUNTEER) -> Member:
    async with database.read() as session:
        query = select(Member).where(Member.telegram_id == telegram_id)
        return (await session.execute(query)).scalar_one()


async def _audit_actions(database: Database, member_id: int) -> list[tuple[str, object]]:
    async with database.read() as session:
        events = (
            (
                await session.execute(
                    select(AuditEvent)
                    .where(AuditEvent.entity == "member", AuditEvent.entity_id == member_id)
                    .order_by(AuditEvent.id)
                )
            )
            .scalars()
            .all()
        )
    return [(event.action, (event.detail or {}).get("field")) for event in events]


# --- who may use it ------------------------------------------------------------------------------


async def test_only_approved_and_pending_volunteers_have_a_profile(database: Database) -> None:
    await _volunteer(database)
    await _volunteer(database, 7100, approve=False)
    rejected_id = await _volunteer(database, 7200, approve=False)
    await vetting_service(database).decide(COORDINATOR, rejected_id, approve=False)
    profiles = ProfileService(database)

    approved = _view(await profiles.view(VOLUNTEER))
    assert approved.display_name == "Marc"
    assert approved.availability == ((0, "morning"), (5, "afternoon"))
    assert approved.charter_version == "2026-11"
    assert not approved.paused
    assert (approved.quiet_start_minute, approved.weekly_cap) == (None, None)
    _view(await profiles.view(7100))  # pending: may fix answers while waiting

    for outsider in (COORDINATOR, 7200, 99999):
        assert await profiles.view(outsider) is Outcome.NOT_ALLOWED
        assert await profiles.set_radius(outsider, 5.0) is Outcome.NOT_ALLOWED
        assert await profiles.pause(outsider, database.clock() + timedelta(days=1)) is (
            Outcome.NOT_ALLOWED
        )
        assert await profiles.resume(outsider) is Outcome.NOT_ALLOWED


# --- each setter validates and persists ----------------------------------------------------------


async def test_name_and_phone_are_validated_and_saved(database: Database) -> None:
    member_id = await _volunteer(database)
    profiles = ProfileService(database)
    assert _view(await profiles.rename(VOLUNTEER, "  Marc   D. ")).display_name == "Marc D."
    assert await profiles.rename(VOLUNTEER, "   ") is Outcome.INVALID
    assert await profiles.rename(VOLUNTEER, "x" * 65) is Outcome.INVALID
    assert _view(await profiles.set_phone(VOLUNTEER, " +33 6 12 34 56 78 ")).phone == (
        "+33 6 12 34 56 78"
    )
    assert await profiles.set_phone(VOLUNTEER, "call me maybe") is Outcome.INVALID
    assert (await _member(database)).phone == "+33 6 12 34 56 78"
    assert _view(await profiles.set_phone(VOLUNTEER, None)).phone is None
    stored = await _member(database)
    assert (stored.display_name, stored.phone) == ("Marc D.", None)
    # The audit log names the field, never the personal value.
    actions = await _audit_actions(database, member_id)
    assert actions[-3:] == [("edit_profile", field) for field in ("name", "phone", "phone")]
    async with database.read() as session:
        details = (await session.execute(select(AuditEvent.detail))).scalars().all()
    assert not any("Marc D." in str(detail) or "+33" in str(detail) for detail in details)


async def test_place_neighbourhood_and_radius_are_validated_and_saved(
    database: Database,
) -> None:
    await _volunteer(database)
    profiles = ProfileService(database)
    moved = _view(await profiles.set_place(VOLUNTEER, 45.5714, 5.9188, " 12 rue de la Gare "))
    assert (moved.latitude, moved.longitude) == (45.5714, 5.9188)
    assert moved.address == "12 rue de la Gare"
    assert _view(await profiles.set_place(VOLUNTEER, 45.57, 5.92, None)).address is None
    assert await profiles.set_place(VOLUNTEER, 95.0, 5.92, "Nowhere") is Outcome.INVALID
    assert await profiles.set_place(VOLUNTEER, 45.0, 190.0, None) is Outcome.INVALID
    assert (await _member(database)).latitude == pytest.approx(45.57)

    centre = await NeighbourhoodService(database).create(
        COORDINATOR, "Centre-Ville", 45.567, 5.921, 1.0
    )
    assert not isinstance(centre, Outcome)
    chosen = _view(await profiles.set_neighbourhood(VOLUNTEER, centre.id))
    assert (chosen.neighbourhood_id, chosen.neighbourhood) == (centre.id, "Centre-Ville")
    assert await profiles.set_neighbourhood(VOLUNTEER, 99999) is Outcome.INVALID
    assert (await _member(database)).neighbourhood_id == centre.id
    assert _view(await profiles.set_neighbourhood(VOLUNTEER, None)).neighbourhood is None

    assert _view(await profiles.set_radius(VOLUNTEER, 5.0)).radius_km == 5.0
    for impossible in (0.0, -1.0, 51.0):
        assert await profiles.set_radius(VOLUNTEER, impossible) is Outcome.INVALID
    assert (await _member(database)).radius_km == 5.0


async def test_availability_quiet_hours_and_weekly_cap_are_validated_and_saved(
    database: Database,
) -> None:
    member_id = await _volunteer(database)
    profiles = ProfileService(database)
    slots = ((6, "evening"), (0, "morning"), (1, "afternoon"))
    saved = _view(await profiles.set_availability(VOLUNTEER, slots))
    assert saved.availability == ((0, "morning"), (1, "afternoon"), (6, "evening"))
    assert await profiles.set_availability(VOLUNTEER, [(7, "morning")]) is Outcome.INVALID
    assert await profiles.set_availability(VOLUNTEER, [(1, "night")]) is Outcome.INVALID
    assert _view(await profiles.view(VOLUNTEER)).availability == saved.availability
    assert _view(await profiles.set_availability(VOLUNTEER, [])).availability == ()

    quiet = _view(await profiles.set_quiet_hours(VOLUNTEER, 22 * 60, 8 * 60))
    assert (quiet.quiet_start_minute, quiet.quiet_end_minute) == (1320, 480)
    for start, end in ((1320, None), (None, 480), (1440, 0), (-1, 480), (600, 600)):
        assert await profiles.set_quiet_hours(VOLUNTEER, start, end) is Outcome.INVALID
    stored = await _member(database)
    assert (stored.quiet_start_minute, stored.quiet_end_minute) == (1320, 480)
    cleared = _view(await profiles.set_quiet_hours(VOLUNTEER, None, None))
    assert (cleared.quiet_start_minute, cleared.quiet_end_minute) == (None, None)

    assert _view(await profiles.set_weekly_cap(VOLUNTEER, 3)).weekly_cap == 3
    for impossible in (0, -2, 21):
        assert await profiles.set_weekly_cap(VOLUNTEER, impossible) is Outcome.INVALID
    assert (await _member(database)).weekly_cap == 3
    assert _view(await profiles.set_weekly_cap(VOLUNTEER, None)).weekly_cap is None

    fields = [field for action, field in await _audit_actions(database, member_id)]
    assert fields.count("availability") == 2
    assert fields.count("quiet_hours") == 2
    assert fields.count("weekly_cap") == 2


# --- skills and their verification ---------------------------------------------------------------


async def test_kept_skills_keep_their_verification_and_added_ones_start_unverified(
    database: Database,
) -> None:
    member_id = await _volunteer(database)
    plumbing, electricity = [await _skill_id(database, c) for c in ("plumbing", "electricity")]
    shopping = await _skill_id(database, "shopping")
    assert await vetting_service(database).verify_skill(COORDINATOR, member_id, electricity) is (
        Outcome.DONE
    )
    profiles = ProfileService(database)

    saved = await profiles.set_skills(VOLUNTEER, [electricity, shopping])
    assert isinstance(saved, SkillsSaved)
    held = {skill.skill_id: skill.verified for skill in saved.view.skills}
    assert held == {electricity: True, shopping: False}
    assert saved.awaiting_verification == ()
    assert saved.coordinator_telegram_ids == ()

    # Dropping the verified skill then adding it back needs a new verification.
    assert isinstance(await profiles.set_skills(VOLUNTEER, [shopping]), SkillsSaved)
    again = await profiles.set_skills(VOLUNTEER, [shopping, electricity, plumbing])
    assert isinstance(again, SkillsSaved)
    assert {s.skill_id: s.verified for s in again.view.skills} == {
        plumbing: False,
        electricity: False,
        shopping: False,
    }
    assert again.awaiting_verification == (electricity,)
    assert again.coordinator_telegram_ids == (COORDINATOR,)

    assert await profiles.set_skills(VOLUNTEER, []) is Outcome.INVALID
    assert await profiles.set_skills(VOLUNTEER, [shopping, 99999]) is Outcome.INVALID
    assert set(_view(await profiles.view(VOLUNTEER)).skill_ids) == {
        plumbing,
        electricity,
        shopping,
    }


async def test_a_retired_skill_may_be_kept_but_not_added(database: Database) -> None:
    await _volunteer(database)
    plumbing = await _skill_id(database, "plumbing")
    gardening = await _skill_id(database, "gardening")
    catalogue = SkillService(database)
    assert await catalogue.retire(COORDINATOR, plumbing) is Outcome.DONE
    assert await catalogue.retire(COORDINATOR, gardening) is Outcome.DONE
    profiles = ProfileService(database)
    assert isinstance(await profiles.set_skills(VOLUNTEER, [plumbing]), SkillsSaved)
    assert await profiles.set_skills(VOLUNTEER, [plumbing, gardening]) is Outcome.INVALID
    assert _view(await profiles.view(VOLUNTEER)).skill_ids == (plumbing,)


async def test_a_pending_volunteer_adding_a_sensitive_skill_alerts_nobody_yet(
    database: Database,
) -> None:
    await _volunteer(database, approve=False)
    plumbing = await _skill_id(database, "plumbing")
    electricity = await _skill_id(database, "electricity")
    profiles = ProfileService(database)
    assert isinstance(await profiles.set_skills(VOLUNTEER, [plumbing]), SkillsSaved)
    saved = await profiles.set_skills(VOLUNTEER, [plumbing, electricity])
    assert isinstance(saved, SkillsSaved)
    # The coordinators review the whole application, new skill included.
    assert saved.awaiting_verification == (electricity,)
    assert saved.coordinator_telegram_ids == ()


# --- pause and resume ----------------------------------------------------------------------------


async def test_pause_and_resume_are_idempotent(clock: ManualClock, database: Database) -> None:
    member_id = await _volunteer(database)
    profiles = ProfileService(database)
    assert await profiles.resume(VOLUNTEER) is Outcome.ALREADY_DONE

    until = pause_end("2w", clock.now)
    assert until == clock.now + timedelta(weeks=2)
    paused = _view(await profiles.pause(VOLUNTEER, until))
    assert paused.paused_until == until
    assert not paused.paused_indefinitely
    # Pausing again only moves the end of the pause.
    longer = pause_end("1m", clock.now)
    assert longer is not None
    assert _view(await profiles.pause(VOLUNTEER, longer)).paused_until == longer
    assert (await _member(database)).paused_until == longer

    assert not _view(await profiles.resume(VOLUNTEER)).paused
    assert await profiles.resume(VOLUNTEER) is Outcome.ALREADY_DONE
    assert (await _member(database)).paused_until is None

    actions = [action for action, _ in await _audit_actions(database, member_id)]
    assert actions.count("pause") == 2
    assert actions.count("resume") == 1


async def test_a_pause_must_end_in_the_future_and_within_ten_years(
    clock: ManualClock, database: Database
) -> None:
    await _volunteer(database)
    profiles = ProfileService(database)
    assert await profiles.pause(VOLUNTEER, clock.now) is Outcome.INVALID
    assert await profiles.pause(VOLUNTEER, clock.now - timedelta(days=1)) is Outcome.INVALID
    naive = datetime(2026, 12, 1, 9, 0)  # a naive time is refused
    assert await profiles.pause(VOLUNTEER, naive) is Outcome.INVALID
    far = datetime(9999, 12, 31, tzinfo=UTC)
    assert await profiles.pause(VOLUNTEER, far) is Outcome.INVALID
    assert (await _member(database)).paused_until is None


async def test_until_i_resume_is_ten_years_and_round_trips(
    clock: ManualClock, database: Database
) -> None:
    await _volunteer(database)
    profiles = ProfileService(database)
    until = pause_end("open", clock.now)
    assert until == clock.now + INDEFINITE_PAUSE
    view = _view(await profiles.pause(VOLUNTEER, until))
    assert view.paused_indefinitely
    stored = (await _member(database)).paused_until
    assert stored == until
    assert stored is not None
    assert stored.tzinfo is not None
    assert _view(await profiles.view(VOLUNTEER)).paused_indefinitely


async def test_a_pause_that_has_ended_is_no_pause(clock: ManualClock, database: Database) -> None:
    await _volunteer(database)
    profiles = ProfileService(database)
    until = pause_end("1w", clock.now)
    assert until is not None
    assert _view(await profiles.pause(VOLUNTEER, until)).paused
    clock.now = until
    assert not _view(await profiles.view(VOLUNTEER)).paused
    assert await profiles.resume(VOLUNTEER) is Outcome.ALREADY_DONE


def test_pause_end_knows_only_its_words() -> None:
    now = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
    assert pause_end("1w", now) == now + timedelta(days=7)
    assert pause_end("1m", now) == now + timedelta(days=30)
    assert pause_end("forever", now) is None


# --- the quiet-hours rule ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "start", "end", "quiet"),
    [
        # 22:00–08:00 wraps over midnight: [22:00, 08:00).
        (time(23, 0), 1320, 480, True),
        (time(7, 59), 1320, 480, True),
        (time(7, 59, 59), 1320, 480, True),
        (time(8, 0), 1320, 480, False),
        (time(12, 0), 1320, 480, False),
        (time(22, 0), 1320, 480, True),
        (time(21, 59), 1320, 480, False),
        (time(0, 0), 1320, 480, True),
        # A window within one day.
        (time(12, 0), 540, 1020, True),
        (time(8, 59), 540, 1020, False),
        (time(17, 0), 540, 1020, False),
        # No quiet hours, or an empty window.
        (time(23, 0), None, None, False),
        (time(3, 0), None, None, False),
        (time(3, 0), 600, 600, False),
    ],
)
def test_in_quiet_hours(now: time, start: int | None, end: int | None, quiet: bool) -> None:
    assert in_quiet_hours(now, start, end) is quiet
