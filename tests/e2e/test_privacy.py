"""/mydata and /forget end to end: a JSON copy, a confirmed erasure, forged and stale taps."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select

from bot.services.outcomes import Outcome
from bot.services.volunteers import VolunteerApplication
from storage.models import ConversationState, Member, Skill, UserData
from testkit.harness import PollingBrigade
from testkit.telegram import FakeTelegram, FakeUser
from tests.conftest import COORDINATOR_ID
from tests.services.test_privacy import person_needles, personal_traces

pytestmark = pytest.mark.e2e

MARC_ID = 734_567_890
MARC_NAME = "Marc Dubreuil"
MARC_PHONE = "+33 6 11 22 33 44"
MARC_USERNAME = "marc_dbr"
MARC_PIN = (45.5675, 5.9205)


async def _sign_up(world: FakeTelegram, marc: FakeUser) -> None:
    """Marc joins as a volunteer: name, shared number, pin, skill, availability, the charter."""
    marc.send_command("join")
    await marc.expect_message("What name should the coordinators")
    marc.send_text(MARC_NAME)
    await marc.expect_message("Your phone number")
    marc.press("Share my number")
    await marc.expect_message("Where are you based?")
    marc.send_location(*MARC_PIN)
    await marc.expect_message("Location received")
    await marc.expect_message("What can you help with?")  # no neighbourhood yet: none chosen
    marc.tap("Plumbing")
    await world.wait_for(lambda: "✅ Plumbing" in marc.last_message.labels)
    marc.tap("Done")
    summary = await marc.expect_message("Please check your answers")
    marc.tap(summary, "🗓 Add my availability")
    await marc.expect_message("When are you usually free?")
    marc.tap("Weekends")
    await world.wait_for(lambda: any("✅ Sat" in label for label in marc.last_message.labels))
    marc.tap("Done")
    summary = await marc.expect_message("Please check your answers")
    marc.tap(summary, "I accept the charter and send my application")
    await marc.expect_message("Thank you! Your application has been sent")


async def _member(live: PollingBrigade, telegram_id: int) -> Member | None:
    async with live.services.database.read() as session:
        result = await session.execute(select(Member).where(Member.telegram_id == telegram_id))
        return result.scalar_one_or_none()


async def _export(world: FakeTelegram, person: FakeUser) -> dict[str, Any]:
    person.send_command("mydata")
    sent = await person.expect_message("everything Brigade stores about you")
    assert sent.file is not None
    assert sent.file.filename == "brigade-my-data.json"
    assert "document" in sent.content
    data = json.loads(sent.file.content.decode("utf-8"))
    assert isinstance(data, dict)
    return data


def _marc() -> dict[str, Any]:
    return {
        "user_id": MARC_ID,
        "last_name": "Dubreuil",
        "username": MARC_USERNAME,
        "language_code": "en",
        "phone_number": MARC_PHONE,
    }


async def test_mydata_sends_the_person_a_json_file_of_their_data(
    world: FakeTelegram, live: PollingBrigade
) -> None:
    marc = world.add_user("Marc", **_marc())
    await _sign_up(world, marc)

    data = await _export(world, marc)
    member = data["member"]
    assert (member["telegram_id"], member["display_name"]) == (MARC_ID, MARC_NAME)
    assert (member["username"], member["phone"]) == (MARC_USERNAME, MARC_PHONE)
    assert (member["latitude"], member["longitude"]) == MARC_PIN
    assert member["volunteer_status"] == "pending"
    assert member["charter_accepted_at"].endswith("+00:00")  # ISO 8601, in UTC
    assert [role["role"] for role in data["roles"]] == ["volunteer"]
    assert [skill["code"] for skill in data["skills"]] == ["plumbing"]
    assert {slot["day"] for slot in data["availability"]} == {"Saturday", "Sunday"}
    assert [event["action"] for event in data["audit_events"]] == ["apply"]

    # Someone Brigade does not know is told so, and asking stores nothing about them.
    zoe = world.add_user("Zoé", language_code="en")
    zoe.send_command("mydata")
    await zoe.expect_message("Brigade stores nothing about you.")
    assert await _member(live, zoe.id) is None
    world.assert_sound()


async def test_forget_erases_only_on_the_persons_own_fresh_confirmation(
    world: FakeTelegram, live: PollingBrigade
) -> None:
    marc = world.add_user("Marc", **_marc())
    await _sign_up(world, marc)
    address = (await _export(world, marc))["member"]["address"]
    lina = world.add_user("Lina", language_code="en")
    lina.send_command("start")
    greeting = await lina.expect_message("Hello Lina!")
    before = await _member(live, MARC_ID)
    assert before is not None

    # The question says what goes and what stays; "Keep my data" changes nothing.
    marc.send_command("forget")
    question = await marc.expect_message("Erase your personal data from Brigade?")
    assert question.labels == ["🗑 Erase my data", "Keep my data"]
    explained = question.text or ""
    assert "Your name, Telegram username and phone number" in explained
    assert "The services you took part in" in explained
    assert "The requests you have taken and not done yet are handed back" in explained
    marc.tap(question, "Keep my data")
    await world.wait_for(lambda: "Nothing was erased" in (question.text or ""))
    assert question.labels == []
    kept = await _member(live, MARC_ID)
    assert kept is not None
    assert (kept.id, kept.display_name, kept.phone) == (before.id, MARC_NAME, MARC_PHONE)

    # A stale tap (the question was answered) changes nothing.
    answers = len(marc.callback_answers)
    marc.tap_data(question, "fg:yes")
    await world.wait_for(lambda: len(marc.callback_answers) > answers)
    assert "no longer valid" in (marc.callback_answers[-1].text or "")
    assert await _member(live, MARC_ID) is not None

    # Marc asks again; Lina forges the confirmation (she cannot see Marc's message, so on one of
    # hers): a tap acts on the presser, and she asked for nothing.
    marc.send_command("forget")
    question = await marc.expect_message("Erase your personal data from Brigade?")
    lina.tap_data(greeting, "fg:yes")
    await world.wait_for(lambda: len(lina.callback_answers) == 1)
    assert "no longer valid" in (lina.callback_answers[0].text or "")
    assert await _member(live, MARC_ID) is not None
    assert await _member(live, lina.id) is not None

    # Marc's own confirmation erases him, in his language, and removes the buttons.
    marc.tap(question, "Erase my data")
    await world.wait_for(lambda: "Your personal data has been erased" in (question.text or ""))
    assert question.labels == []
    assert "no longer valid" not in (marc.callback_answers[-1].text or "")
    needles = person_needles(
        MARC_ID, MARC_NAME, MARC_USERNAME, MARC_PHONE, *([address] if address else [])
    )
    needles += [repr(MARC_PIN[0]), repr(MARC_PIN[1])]
    assert await personal_traces(live.services.database, needles) == {}
    async with live.services.database.read() as session:
        anonymous = await session.get(Member, before.id)
        assert anonymous is not None
        assert (anonymous.telegram_id, anonymous.display_name) == (None, "")
        assert anonymous.forgotten_at is not None
    assert not live.app.user_data.get(MARC_ID)
    assert await _member(live, lina.id) is not None

    # Writing again, Marc is a newcomer.
    marc.send_command("start")
    hello = await marc.expect_message("Hello Marc Dubreuil!")
    assert "You are not a member of the brigade" in (hello.text or "")
    assert hello.labels == ["🙋 Become a volunteer"]
    newcomer = await _member(live, MARC_ID)
    assert newcomer is not None
    assert newcomer.id != before.id
    assert newcomer.phone is None
    world.assert_sound()


async def test_forget_ends_a_conversation_the_person_was_in(
    world: FakeTelegram, live: PollingBrigade
) -> None:
    claire = world.add_user("Claire", user_id=COORDINATOR_ID, language_code="en")
    claire.send_command("start")
    await claire.expect_message("Hello Claire!")
    lina = world.add_user("Lina", language_code="en")
    lina.send_command("start")
    await lina.expect_message("Hello Lina!")
    async with live.services.database.read() as session:
        plumbing = (await session.execute(select(Skill.id).where(Skill.code == "plumbing"))).one()
    submitted = await live.services.volunteers.submit(
        lina.id,
        VolunteerApplication(
            display_name="Lina",
            latitude=45.56,
            longitude=5.92,
            radius_km=2.0,
            skill_ids=(plumbing[0],),
            availability=((5, "morning"),),
            charter_version="2026-11",
        ),
    )
    assert not isinstance(submitted, Outcome)

    # Claire starts a rejection (the bot waits for her reason), then asks to be forgotten.
    claire.send_command("pending")
    card = await claire.expect_message("Volunteer application: Lina")
    claire.tap(card, "❌ Reject")
    await claire.expect_message("Why is Lina's application not accepted?")
    claire.send_command("forget")
    question = await claire.expect_message("Erase your personal data from Brigade?")
    assert "The invitations you created that nobody used yet stop working" in (question.text or "")
    claire.tap(question, "Erase my data")
    await world.wait_for(lambda: "Your personal data has been erased" in (question.text or ""))

    async with live.services.database.read() as session:
        states = await session.execute(
            select(ConversationState).where(ConversationState.telegram_id == COORDINATOR_ID)
        )
        assert states.first() is None
        assert await session.get(UserData, COORDINATOR_ID) is None

    # The rejection no longer waits: her next words are not taken as Lina's reason.
    claire.send_text("Lina lives too far away")
    await claire.expect_message("I did not expect a message here")
    lina_now = await _member(live, lina.id)
    assert lina_now is not None
    assert lina_now.status_reason is None
    # Nor did the draft PTB held in memory (whom she was rejecting) come back to the database.
    assert not live.app.user_data.get(COORDINATOR_ID)
    async with live.services.database.read() as session:
        assert await session.get(UserData, COORDINATOR_ID) is None
    world.assert_sound()
