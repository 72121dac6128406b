"""How long personal data lives: drafts, cached addresses, finished messages, member rows.

Each lifetime is enforced by the timer sweep: these tests move the database's clock and run the
sweep as the job queue does (`InProcessBrigade.run_timers`), on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select
from telegram.ext import ConversationHandler

from bot.domain.vocabulary import Role, SignalOutcome
from bot.services.geocoding import CachedGeocoder, reverse_cache_key, search_cache_key
from bot.services.members import TelegramIdentity
from bot.services.outcomes import Outcome
from bot.services.requests import BeneficiaryDetails, RequestDraft, StepOutcome
from bot.services.signals import CaseOutcome, Reported, SignalDraft
from bot.services.volunteers import VolunteerApplication
from storage import outbox
from storage.database import Database
from storage.models import (
    Claim,
    ConversationState,
    GeocodeCacheEntry,
    Member,
    OutboxMessage,
    OutboxStatus,
    Skill,
    UserData,
)
from testkit.clock import ManualClock
from testkit.geocoder import FakeGeocoder
from testkit.harness import InProcessBrigade, brigade_settings
from testkit.telegram import FakeGroup, FakeTelegram, FakeUser
from tests.conftest import COORDINATOR_ID

BOIGNE = (45.5677, 5.9204)  # 27 rue de Boigne, Chambéry, in the fake gazetteer
PUT_AWAY = (
    "Your request in progress was put away after 2 days without an answer; nothing was posted. "
    "Send /new to start again."
)


@pytest.fixture
def clock() -> ManualClock:
    """Ticking: the outbox sender puts a busy chat's rows back for a second or two."""
    return ManualClock(ticking=True)


@pytest.fixture
async def town(world: FakeTelegram, database: Database) -> AsyncIterator[InProcessBrigade]:
    """The real application on the test's database and clock, with the cached geocoder."""
    settings = brigade_settings(database.url, coordinator_ids=[COORDINATOR_ID])
    geocoder = CachedGeocoder(FakeGeocoder(), database)
    async with InProcessBrigade(world, settings, database=database, geocoder=geocoder) as running:
        claire = world.add_user("Claire", user_id=COORDINATOR_ID, language_code="en")
        claire.send_command("start")
        await running.deliver()
        yield running


async def _referent(world: FakeTelegram, town: InProcessBrigade, name: str) -> FakeUser:
    invite = await town.services.invites.create(COORDINATOR_ID, Role.REFERENT)
    assert not isinstance(invite, Outcome)
    person = world.add_user(name, language_code="en")
    person.start(invite.start_payload)
    await town.deliver()
    assert "You are now a referent" in (person.last_message.text or "")
    return person


async def _volunteer(
    world: FakeTelegram, town: InProcessBrigade, name: str, phone: str = "+33 6 11 22 33 44"
) -> FakeUser:
    """An approved plumber living at 27 rue de Boigne."""
    person = world.add_user(name, language_code="en")
    services = town.services
    await services.members.identify(TelegramIdentity(person.id, name, language_code="en"))
    submitted = await services.volunteers.submit(
        person.id,
        VolunteerApplication(
            display_name=name,
            phone=phone,
            latitude=BOIGNE[0],
            longitude=BOIGNE[1],
            radius_km=3.0,
            skill_ids=(await _skill(town, "plumbing"),),
            availability=(),
            charter_version="2026-11",
        ),
    )
    assert not isinstance(submitted, Outcome)
    await services.volunteers.decide(COORDINATOR_ID, submitted.member_id, approve=True)
    return person


async def _skill(town: InProcessBrigade, code: str) -> int:
    async with town.services.database.read() as session:
        return int((await session.execute(select(Skill.id).where(Skill.code == code))).scalar_one())


async def _post(town: InProcessBrigade, referent: FakeUser, name: str = "Mme Jeanne M.") -> int:
    posted = await town.services.requests.post(
        referent.id,
        RequestDraft(
            skill_id=await _skill(town, "plumbing"),
            description="The kitchen tap is leaking.",
            latitude=BOIGNE[0],
            longitude=BOIGNE[1],
            area_label="Rue de Boigne, Centre-Ville",
            beneficiary=BeneficiaryDetails(
                name=name,
                phone="+33 4 79 00 00 00",
                address="27 rue de Boigne, Chambéry",
                latitude=BOIGNE[0],
                longitude=BOIGNE[1],
                access_notes="door code 1234",
                consent=True,
            ),
        ),
    )
    assert posted is not None
    await town.deliver()
    return posted.request_id


async def _rows(town: InProcessBrigade, *columns: object) -> set[tuple[object, ...]]:
    async with town.services.database.read() as session:
        return {tuple(row) for row in await session.execute(select(*columns))}  # type: ignore[call-overload]


async def _drain(town: InProcessBrigade) -> None:
    """Wait until nothing is left to send, rows the sender put back for a second included."""
    async with asyncio.timeout(20):
        while True:
            async with town.services.database.read() as session:
                if await outbox.pending_count(session) == 0:
                    return
            town.services.waker()
            await asyncio.sleep(0.05)


def _in_conversation(town: InProcessBrigade, name: str, user_id: int) -> bool:
    """Whether PTB's in-memory state has the person in the named conversation."""
    for handlers in town.app.handlers.values():
        for handler in handlers:
            if isinstance(handler, ConversationHandler) and handler.name == name:
                return any(user_id in key for key in handler._conversations)
    raise AssertionError(f"no conversation named {name}")


# --- drafts ------------------------------------------------------------------------------------


async def test_a_draft_left_48_hours_goes_from_the_database_and_from_memory(
    world: FakeTelegram, town: InProcessBrigade, clock: ManualClock
) -> None:
    rita = await _referent(world, town, "Rita")
    rita.send_command("new")
    await town.deliver()
    rita.tap("➕ Someone new")
    await town.deliver()
    rita.tap("Yes, they agree")
    await town.deliver()
    rita.send_text("Zéphyrine Q.")
    await town.deliver()
    assert "What is Zéphyrine Q.'s phone number?" in (rita.last_message.text or "")
    clock.advance(hours=2)
    bob = world.add_user("Bob", language_code="en", phone_number="+33 6 01 02 03 04")
    bob.send_command("join")
    await town.deliver()
    bob.send_text("Bob Leroy")
    await town.deliver()
    assert "Your phone number" in (bob.last_message.text or "")
    before = await _rows(town, UserData.telegram_id)
    assert {(rita.id,), (bob.id,)} <= before

    clock.advance(hours=47)  # Rita has been silent for 49 hours, Bob for 47
    await town.run_timers()

    assert await _rows(town, UserData.telegram_id) == before - {(rita.id,)}
    states = await _rows(town, ConversationState.telegram_id, ConversationState.conversation)
    assert states == {(bob.id, "signup")}
    assert not town.app.user_data.get(rita.id)
    assert not _in_conversation(town, "posting", rita.id)
    assert _in_conversation(town, "signup", bob.id)
    # Rita is told at once, through the outbox, in her language; Bob hears nothing.
    await _drain(town)
    assert rita.last_message.text == PUT_AWAY
    assert "put away" not in (bob.last_message.text or "")
    told = len(rita.inbox)

    # Rita comes back with the answer to the last question: no second notice, nothing returns.
    rita.send_text("+33 6 98 76 54 32")
    await town.deliver()
    assert len(rita.inbox) == told + 1
    assert "coordinators" in (rita.last_message.text or "")  # outside any conversation now
    rita.tap(rita.inbox[told - 2], "Skip")  # a button of the old question
    await town.deliver()
    assert rita.callback_answers[-1].text == (
        "This button is no longer valid. Send /new to post a request."
    )
    assert await _rows(town, UserData.telegram_id) == before - {(rita.id,)}
    assert await _rows(town, ConversationState.telegram_id) == {(bob.id,)}
    # Bob, 47 hours on, carries on where he was.
    bob.press("Share my number")
    await town.deliver()
    assert "Where are you based?" in (bob.last_message.text or "")

    # Two days later Bob's sign-up is put away in turn, and Rita is not told a second time.
    clock.advance(hours=49)
    await town.run_timers()
    await _drain(town)
    assert len(rita.inbox) == told + 1
    assert bob.last_message.text == (
        "What you had started was put away after 2 days without an answer; your answers were "
        "deleted. To start again: /join."
    )
    assert await _rows(town, UserData.telegram_id) == set()
    assert await _rows(town, ConversationState.telegram_id) == set()


async def test_a_draft_put_away_is_told_in_the_persons_language(
    world: FakeTelegram, town: InProcessBrigade, clock: ManualClock
) -> None:
    rita = await _referent(world, town, "Rita")
    rita.send_command("language")
    await town.deliver()
    rita.tap("Nederlands")
    await town.deliver()
    rita.send_command("new")
    await town.deliver()
    clock.advance(hours=49)
    await town.run_timers()
    await _drain(town)
    assert rita.last_message.text == (
        "Uw hulpvraag in behandeling is na 2 dagen zonder antwoord opgeborgen; er is niets "
        "geplaatst. Stuur /new om opnieuw te beginnen."
    )
    assert await _rows(town, UserData.telegram_id) == set()


# --- the geocoder cache ------------------------------------------------------------------------


async def test_typed_addresses_leave_the_geocoder_cache_after_the_retention_period(
    town: InProcessBrigade, clock: ManualClock
) -> None:
    geocoder = town.services.geocoder
    assert await geocoder.search("27 rue de Boigne, Chambéry", language="fr") is not None
    clock.advance(days=60)
    assert await geocoder.search("12 rue de la Gare, Chambéry", language="fr") is not None
    clock.advance(days=31)  # the first answer is 91 days old, the second 31: retention is 90
    await town.run_timers()
    assert await _rows(town, GeocodeCacheEntry.key) == {
        (search_cache_key("12 rue de la Gare, Chambéry", "fr"),)
    }


async def test_forget_erases_the_cached_lookups_of_the_addresses_the_person_gave(
    world: FakeTelegram, town: InProcessBrigade
) -> None:
    services, geocoder = town.services, town.services.geocoder
    marc = world.add_user("Marc", language_code="en")
    await services.members.identify(TelegramIdentity(marc.id, "Marc", language_code="en"))
    # Marc types his address at sign-up…
    typed = "27  Rue de BOIGNE, Chambéry"
    home = await geocoder.search(typed, language="en")
    assert home is not None
    submitted = await services.volunteers.submit(
        marc.id,
        VolunteerApplication(
            display_name="Marc Dubreuil",
            phone="+33 6 11 22 33 44",
            latitude=home.latitude,
            longitude=home.longitude,
            address=home.label,
            radius_km=2.0,
            skill_ids=(await _skill(town, "plumbing"),),
            availability=(),
            charter_version="2026-11",
        ),
    )
    assert not isinstance(submitted, Outcome)
    # …then moves his pin to his door with /profile: the street is what is kept of it.
    door = (home.latitude + 0.0002, home.longitude)
    pinned = await geocoder.reverse(*door, language="en")
    assert pinned is not None
    assert not isinstance(
        await services.profile.set_place(marc.id, *door, pinned.area_label), Outcome
    )
    # He types the street he was shown, in French: nothing is found (and that is cached too).
    assert await geocoder.search(pinned.area_label, language="fr") is None
    # Someone else's lookup, across town.
    assert await geocoder.search("15 avenue de Lyon, Chambéry", language="fr") is not None
    assert len(await _rows(town, GeocodeCacheEntry.key)) == 4

    assert await services.privacy.forget(marc.id) is Outcome.DONE

    assert await _rows(town, GeocodeCacheEntry.key) == {
        (search_cache_key("15 avenue de Lyon, Chambéry", "fr"),)
    }
    assert (reverse_cache_key(*door, "en"),) not in await _rows(town, GeocodeCacheEntry.key)


# --- finished messages -------------------------------------------------------------------------


async def test_finished_messages_go_after_a_few_days_unless_something_still_reads_them(
    world: FakeTelegram, town: InProcessBrigade, clock: ManualClock
) -> None:
    services = town.services
    rita = await _referent(world, town, "Rita")
    vince = await _volunteer(world, town, "Vince")
    await _post(town, rita)
    vince.tap("I'll do it")
    await town.deliver()
    details = next(m for m in vince.inbox if "private details" in (m.text or ""))
    announced = await services.announcements.send(COORDINATOR_ID, None, "Meeting on Thursday")
    assert not isinstance(announced, Outcome)
    await _drain(town)
    [(claim_id, details_row)] = await _rows(town, Claim.id, Claim.details_outbox_id)
    before = await _rows(town, OutboxMessage.id, OutboxMessage.status)
    assert {status for _, status in before} == {OutboxStatus.SENT}
    announcement = await _rows(town, OutboxMessage.id, OutboxMessage.batch_key)
    announcement_rows = {id for id, key in announcement if key == announced.batch_key}
    assert len(announcement_rows) == 1

    clock.advance(days=4)
    await town.run_timers()
    await _drain(town)
    # The announcement's rows stay for its delivery count, the details for their removal.
    # (The sweep itself asks Vince whether it is done: a new row.)
    kept = {id for (id,) in await _rows(town, OutboxMessage.id)} & {id for id, _ in before}
    assert kept == announcement_rows | {details_row}
    delivery = await services.announcements.delivery(COORDINATOR_ID, announced.announcement_id)
    assert not isinstance(delivery, Outcome)
    assert (delivery.total, delivery.sent) == (1, 1)

    # The service is done and confirmed: the details leave Vince's chat a day later…
    assert await services.requests.mark_done(vince.id, claim_id) is StepOutcome.DONE
    assert await services.requests.confirm(rita.id, claim_id, done=True) is StepOutcome.DONE
    await _drain(town)
    clock.advance(hours=25)
    await town.run_timers()
    await _drain(town)
    assert "have been removed" in (world.message(vince, details.message_id).text or "")
    # …and then nothing needs the row any more.
    clock.advance(days=4)
    await town.run_timers()
    assert {id for (id,) in await _rows(town, OutboxMessage.id)} == announcement_rows
    clock.advance(days=90)
    await town.run_timers()
    assert await _rows(town, OutboxMessage.id) == set()


# --- member rows -------------------------------------------------------------------------------


async def _group_of_the_town(
    world: FakeTelegram, town: InProcessBrigade, *people: FakeUser
) -> FakeGroup:
    area = await town.services.neighbourhoods.create(COORDINATOR_ID, "Centre-Ville", *BOIGNE, 1.5)
    assert not isinstance(area, Outcome)
    group = world.add_group("Brigade Centre-Ville", people)
    linked = await town.services.neighbourhoods.link_group(COORDINATOR_ID, area.id, group.id)
    assert linked is Outcome.DONE
    return group


async def test_a_strangers_tap_in_a_group_is_answered_without_storing_them(
    world: FakeTelegram, town: InProcessBrigade
) -> None:
    rita = await _referent(world, town, "Rita")
    vince = await _volunteer(world, town, "Vince")
    gus = world.add_user("Gus", language_code="en")
    group = await _group_of_the_town(world, town, rita, vince, gus)
    request_id = await _post(town, rita)
    assert f"{request_id}" in (group.last_message.text or "")

    gus.tap("✋ Je m’en occupe", chat=group)
    await town.deliver()
    assert gus.callback_answers[-1].text == (
        "Only approved volunteers with this skill can take this request. See /start."
    )
    assert (gus.id,) not in await _rows(town, Member.telegram_id)

    # A volunteer of the brigade still takes it from the group.
    vince.tap("✋ Je m’en occupe", chat=group)
    await town.deliver()
    assert (vince.callback_answers[-1].text or "").startswith("It's yours")
    assert len(await _rows(town, Claim.id)) == 1


async def test_members_with_nothing_to_keep_go_after_the_retention_period(
    world: FakeTelegram, town: InProcessBrigade, clock: ManualClock
) -> None:
    services = town.services
    ida, leo, olga = (world.add_user(name, language_code="en") for name in ("Ida", "Leo", "Olga"))
    for person in (ida, leo, olga):
        person.send_command("start")
    await town.deliver()
    rita = await _referent(world, town, "Rita")
    vince = await _volunteer(world, town, "Vince")
    reported = await services.signals.report(
        olga.id, SignalDraft(description="My neighbour", worry="His shutters stay closed.")
    )
    assert isinstance(reported, Reported)
    clock.advance(days=60)
    leo.send_command("help")  # Leo comes back now and then
    await town.deliver()

    clock.advance(days=31)
    await town.run_timers()
    known = {id for (id,) in await _rows(town, Member.telegram_id)}
    assert ida.id not in known  # only ever said hello, 91 days ago
    assert {leo.id, olga.id, rita.id, vince.id, COORDINATOR_ID} <= known
    assert all(chat != ida.id for (chat,) in await _rows(town, OutboxMessage.chat_id))

    # Olga stays while the case she reported is open, and leaves with its purge.
    closed = await services.signals.close(rita.id, reported.signal_id, SignalOutcome.HELPED)
    assert closed.outcome is CaseOutcome.DONE
    clock.advance(days=91)
    await town.run_timers()
    known = {id for (id,) in await _rows(town, Member.telegram_id)}
    assert olga.id not in known
    assert {rita.id, vince.id, COORDINATOR_ID} <= known
