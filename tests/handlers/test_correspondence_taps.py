"""Writing through the bot, fast tier: forged and stale taps, stickers and commands while the bot
waits, /cancel, a restart in the middle, the coordinators' inbox limits, a referent's phone."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.domain.vocabulary import Role
from bot.services.invites import CreatedInvite
from bot.services.requests import BeneficiaryDetails, RequestDraft
from storage.models import AuditEvent, Member
from testkit.clock import ManualClock
from testkit.harness import InProcessBrigade, brigade_settings, sqlite_url
from testkit.telegram import FakeTelegram, FakeUser, StoredMessage
from tests.conftest import COORDINATOR_ID
from tests.factories import CENTRE, new_volunteer, skill_id

WRITE_TO_REFERENT = "💬 Write to the referent"
EXPECTED = "Please send a text, a photo, a voice message or a location"
NOT_YOURS = "This conversation is not yours."


@pytest.fixture
async def town(world: FakeTelegram, tmp_path: Path) -> AsyncIterator[InProcessBrigade]:
    """The bot on a SQLite file, at most two messages a day to the coordinators."""
    settings = brigade_settings(
        sqlite_url(tmp_path), coordinator_ids=[COORDINATOR_ID], support_messages_per_day=2
    )
    async with InProcessBrigade(world, settings) as running:
        claire = world.add_user("Claire", user_id=COORDINATOR_ID, language_code="en")
        claire.send_command("start")
        await running.deliver()
        yield running


async def _referent(world: FakeTelegram, town: InProcessBrigade) -> tuple[FakeUser, StoredMessage]:
    """Rita, by invitation; her welcome (with the phone question)."""
    created = await town.services.invites.create(COORDINATOR_ID, Role.REFERENT)
    assert isinstance(created, CreatedInvite)
    rita = world.add_user("Rita", language_code="en")
    rita.start(created.start_payload)
    await town.deliver()
    welcome = rita.last_message
    assert "You are now a referent" in (welcome.text or "")
    return rita, welcome


async def _claimed(
    world: FakeTelegram, town: InProcessBrigade
) -> tuple[FakeUser, FakeUser, StoredMessage, StoredMessage]:
    """Rita posts, Nour takes it: Rita, Nour, Nour's details, Rita's "takes your request"."""
    rita, _welcome = await _referent(world, town)
    nour = await new_volunteer(town, world, "Nour")
    draft = RequestDraft(
        skill_id=await skill_id(town.services.database, "plumbing"),
        description="Leaking tap",
        latitude=CENTRE[0],
        longitude=CENTRE[1],
        area_label="Rue de Boigne",
        places_needed=1,
        beneficiary=BeneficiaryDetails(
            name="Mme Jeanne Martin",
            phone=None,
            address="27 rue de Boigne",
            latitude=CENTRE[0],
            longitude=CENTRE[1],
            access_notes=None,
            consent=True,
        ),
    )
    assert await town.services.requests.post(rita.id, draft) is not None
    await town.deliver()
    nour.tap(nour.last_message, "I'll do it")
    await town.deliver()
    details = next(m for m in nour.inbox if "Here are the private details" in (m.text or ""))
    taken = next(m for m in rita.inbox if "takes your request" in (m.text or ""))
    return rita, nour, details, taken


def _texts(person: FakeUser) -> list[str]:
    return [m.text or m.caption or "" for m in person.inbox]


async def test_a_sticker_or_a_command_keeps_the_wait_and_a_restart_loses_nothing(
    world: FakeTelegram, tmp_path: Path
) -> None:
    settings = brigade_settings(sqlite_url(tmp_path), coordinator_ids=[COORDINATOR_ID])
    async with InProcessBrigade(world, settings) as first:
        world.add_user("Claire", user_id=COORDINATOR_ID, language_code="en").send_command("start")
        await first.deliver()
        rita, nour, details, _taken = await _claimed(world, first)
        nour.tap(details, WRITE_TO_REFERENT)
        await first.deliver()
        assert "Write your message to the referent" in (nour.last_message.text or "")
    seen_by_rita = len(rita.inbox)

    async with InProcessBrigade(world, settings) as restarted:
        nour.send_sticker()
        await restarted.deliver()
        assert EXPECTED in (nour.last_message.text or "")
        nour.send_command("help")
        await restarted.deliver()
        assert "I am waiting for your message first" in (nour.last_message.text or "")
        assert len(rita.inbox) == seen_by_rita  # neither went to Rita
        nour.send_voice()
        await restarted.deliver()
        assert "Sent to the referent" in (nour.last_message.text or "")
        header, voice = rita.inbox[-2:]
        assert "Nour writes to you about request #" in (header.text or "")
        assert voice.content.get("voice")
        assert voice.labels == ["↩ Reply"]


async def test_cancel_writes_nothing_and_the_next_text_is_not_sent(
    world: FakeTelegram, town: InProcessBrigade
) -> None:
    rita, nour, details, _taken = await _claimed(world, town)
    nour.tap(details, WRITE_TO_REFERENT)
    await town.deliver()
    nour.send_command("cancel")
    await town.deliver()
    assert nour.last_message.text == "Nothing was sent."
    nour.send_text("Hello?")
    await town.deliver()
    # Outside the conversation, a text is offered to the coordinators instead.
    assert "send it to the coordinators" in (nour.last_message.text or "")
    assert not any("Hello?" in text for text in _texts(rita))


async def test_someone_elses_claim_a_forged_id_or_a_forged_answer_are_refused(
    world: FakeTelegram, town: InProcessBrigade
) -> None:
    rita, nour, _details, _taken = await _claimed(world, town)
    olga = await new_volunteer(town, world, "Olga")
    olga.send_command("help")
    await town.deliver()
    async with town.services.database.read() as session:
        rita_id = (
            await session.execute(select(Member.id).where(Member.telegram_id == rita.id))
        ).scalar_one()
    claim_data = next(b.callback_data for b in _details.buttons if b.text == WRITE_TO_REFERENT)
    for data in (claim_data, "wr:claim:999", f"wr:coord:{rita_id}"):
        olga.tap_data(olga.last_message, data)
        await town.deliver()
        answer = olga.callback_answers[-1]
        assert answer.show_alert
        assert answer.text == NOT_YOURS
    olga.send_text("Is this going to Rita?")
    await town.deliver()
    assert "send it to the coordinators" in (olga.last_message.text or "")
    assert not any("Is this going" in text for text in _texts(rita) + _texts(nour))


async def test_the_coordinators_inbox_counts_a_message_once_and_holds_a_daily_limit(
    world: FakeTelegram, town: InProcessBrigade
) -> None:
    claire = world.users[COORDINATOR_ID]
    bob = world.add_user("Bob", language_code="en")
    bob.send_text("First message")
    await town.deliver()
    question = bob.last_message
    [send_data] = [b.callback_data for b in question.buttons if b.text == "📨 Send it"]
    bob.tap(question, "Send it")
    await town.deliver()
    bob.tap_data(question, send_data)  # a second tap, as a modified client may send it
    await town.deliver()
    assert bob.callback_answers[-1].text == "This message was already sent."
    assert _texts(claire).count("First message") == 1

    bob.send_photo(caption="Second message")
    await town.deliver()
    bob.tap(bob.last_message, "Send it")
    await town.deliver()
    # Forgetting oneself does not reset the day's count (a keyed pseudonym keeps it).
    assert await town.services.privacy.forget(bob.id) is not None
    bob.send_text("Third message")
    await town.deliver()
    third = bob.last_message
    bob.tap(third, "Send it")
    await town.deliver()
    assert bob.callback_answers[-1].show_alert
    assert "wait until tomorrow" in (bob.callback_answers[-1].text or "")
    assert world.message(bob.id, third.message_id).labels == ["📨 Send it", "No"]
    assert "Third message" not in _texts(claire)
    assert "Second message" in _texts(claire)

    # "No" keeps the message to oneself, and says so in the question.
    bob.send_text("Never mind")
    await town.deliver()
    kept = bob.last_message
    bob.tap(kept, "No")
    await town.deliver()
    assert (world.message(bob.id, kept.message_id).text or "").startswith("Not sent.")


async def test_a_coordinator_cannot_answer_someone_who_left(
    world: FakeTelegram, town: InProcessBrigade
) -> None:
    claire = world.users[COORDINATOR_ID]
    bob = world.add_user("Bob", language_code="en")
    bob.send_text("Please call me")
    await town.deliver()
    bob.tap(bob.last_message, "Send it")
    await town.deliver()
    copy = claire.last_message
    assert copy.labels == ["↩ Reply"]
    await town.services.privacy.forget(bob.id)
    claire.tap(copy, "↩ Reply")
    await town.deliver()
    assert claire.callback_answers[-1].text == (
        "This person can no longer be reached through the bot."
    )
    async with town.services.database.read() as session:
        events = (await session.execute(select(AuditEvent.action))).scalars().all()
    assert "answer" not in events


async def test_a_referent_gives_a_number_for_their_claimers_and_others_cannot(
    world: FakeTelegram, town: InProcessBrigade
) -> None:
    rita, welcome = await _referent(world, town)
    nour = await new_volunteer(town, world, "Nour")
    nour.send_command("help")
    await town.deliver()
    nour.tap_data(nour.last_message, "ph:ask:0")
    await town.deliver()
    assert nour.callback_answers[-1].text == "This is for the brigade's referents."
    nour.tap_data(nour.last_message, "ph:no:0")
    await town.deliver()
    assert nour.callback_answers[-1].text == "This is for the brigade's referents."

    rita.tap(welcome, "Give my number")
    await town.deliver()
    assert world.message(rita.id, welcome.message_id).labels == []
    rita.send_text("call me maybe")
    await town.deliver()
    assert "does not look like a phone number" in (rita.last_message.text or "")
    rita.send_contact("+33 4 79 11 22 33")
    await town.deliver()
    assert "will see +33 4 79 11 22 33" in (rita.last_message.text or "")
    exported = await town.services.privacy.export(rita.id)
    assert exported is not None
    assert exported["member"]["phone_shared"] is True
    assert exported["member"]["phone"] == "+33 4 79 11 22 33"

    await town.services.privacy.forget(rita.id)
    async with town.services.database.read() as session:
        shared = (await session.execute(select(Member.phone_shared, Member.phone))).all()
    assert all(not flag for flag, _phone in shared)
    assert all(phone != "+33 4 79 11 22 33" for _flag, phone in shared)


async def test_a_write_left_waiting_expires_with_the_drafts(
    world: FakeTelegram, town: InProcessBrigade
) -> None:
    rita, nour, details, _taken = await _claimed(world, town)
    nour.tap(details, WRITE_TO_REFERENT)
    await town.deliver()
    assert isinstance(town.clock, ManualClock)
    town.clock.advance(hours=49)
    await town.run_timers()
    await town.deliver()
    assert nour.last_message.text == (
        "What you had started was put away after 2 days without an answer; your answers were "
        "deleted. To start again: /help."
    )
    nour.send_text("Two days later")
    await town.deliver()
    assert "put away" not in (nour.last_message.text or "")
    assert not any("Two days later" in text for text in _texts(rita))
    assert "write" not in town.app.user_data.get(nour.id, {})
