"""Conversations in PTB's shape: a draft stored by an older version starts over cleanly, a button
of another step is answered as stale, and ⬅ pressed on a reply keyboard takes that keyboard away."""

from __future__ import annotations

from telegram.ext import ConversationHandler

from bot.domain.vocabulary import Role
from bot.services.outcomes import Outcome
from testkit.harness import InProcessBrigade
from testkit.telegram import FakeTelegram
from tests.conftest import COORDINATOR_ID

START_AGAIN = "Sorry, your answers so far could not be kept. Please start again: {command}."


async def test_a_draft_in_an_older_shape_starts_the_sign_up_again(
    world: FakeTelegram, brigade: InProcessBrigade
) -> None:
    bob = world.add_user("Bob", language_code="en")
    bob.send_command("join")
    await brigade.deliver()
    bob.send_text("Bob Leroy")
    await brigade.deliver()
    assert "Your phone number" in (bob.last_message.text or "")
    # What the previous version kept for Bob at this step (as loaded from the database).
    brigade.app.user_data[bob.id]["signup"] = {"name": "Bob Leroy", "_state": "phone"}

    bob.press("Skip")
    await brigade.deliver()
    assert bob.last_message.text == START_AGAIN.format(command="/join")
    assert "signup" not in brigade.app.user_data.get(bob.id, {})
    bob.send_text("Skip")  # the conversation is over: not an answer any more
    await brigade.deliver()
    assert "I did not expect a message here" in (bob.last_message.text or "")
    bob.send_command("join")  # and it starts again from the first question
    await brigade.deliver()
    assert "What name should the coordinators" in (bob.last_message.text or "")


async def test_cancel_works_whatever_the_shape_of_the_draft(
    world: FakeTelegram, brigade: InProcessBrigade
) -> None:
    bob = world.add_user("Bob", language_code="en")
    bob.send_command("join")
    await brigade.deliver()
    brigade.app.user_data[bob.id]["signup"] = {"name": "Bob"}
    bob.send_command("cancel")
    await brigade.deliver()
    assert bob.last_message.text == (
        "Sign-up cancelled. Nothing was kept. You can start again with /join."
    )


async def test_back_by_keyboard_removes_it_and_a_button_of_another_step_is_stale(
    world: FakeTelegram, brigade: InProcessBrigade
) -> None:
    lina = world.add_user("Lina", language_code="en")
    lina.send_command("join")
    await brigade.deliver()
    lina.send_text("Lina")
    await brigade.deliver()
    lina.press("Skip")
    await brigade.deliver()
    assert (lina.last_message.text or "").startswith("Where are you based?")
    lina.press("⬅ Back")
    await brigade.deliver()
    texts = [m.text or "" for m in lina.inbox[-2:]]
    assert texts[0] == "Back to the previous question."
    assert texts[1].startswith("Your phone number")
    lina.press("Skip")
    await brigade.deliver()
    lina.send_text("8 rue du Pré de l'Âne, Chambéry")
    await brigade.deliver()
    found, skills = lina.inbox[-2:]
    assert (found.text or "").startswith("Address found:")
    assert lina.reply_keyboard == []  # the typed address ended the step: its keyboard went
    assert "What can you help with?" in (skills.text or "")  # (this town has no neighbourhood)
    answered = len(lina.callback_answers)
    lina.tap_data(skills, "su:confirm:yes")  # the summary's Send, before the summary: refused
    await brigade.deliver()
    assert len(lina.callback_answers) == answered + 1
    assert lina.callback_answers[-1].text == "This button is no longer valid."
    assert lina.last_message.message_id == skills.message_id  # nothing sent, nothing asked


async def test_a_posting_draft_in_an_older_shape_starts_again_at_the_next_tap(
    world: FakeTelegram, brigade: InProcessBrigade
) -> None:
    claire = world.add_user("Claire", user_id=COORDINATOR_ID, language_code="en")
    claire.send_command("start")
    rita = world.add_user("Rita", language_code="en")
    rita.send_command("start")
    await brigade.deliver()
    invite = await brigade.services.invites.create(COORDINATOR_ID, Role.REFERENT)
    assert not isinstance(invite, Outcome)
    rita.start(invite.start_payload)
    await brigade.deliver()
    rita.send_command("new")
    await brigade.deliver()
    rita.tap("➕ Someone new")
    await brigade.deliver()
    rita.tap("Yes, they agree")
    await brigade.deliver()
    rita.send_text("Jeanne M.")
    await brigade.deliver()
    question = rita.last_message
    assert "What is Jeanne M.'s phone number?" in (question.text or "")
    # The previous version's keys, with the step kept a second time.
    brigade.app.user_data[rita.id]["posting"] = {"b_name": "Jeanne M.", "_state": "bphone"}

    rita.tap(question, "Skip")
    await brigade.deliver()
    assert rita.last_message.text == START_AGAIN.format(command="/new")
    assert rita.callback_answers[-1].text is None  # the tap is answered, once
    rita.tap(question, "Skip")  # the conversation is over
    await brigade.deliver()
    assert rita.callback_answers[-1].text == (
        "This button is no longer valid. Send /new to post a request."
    )


def _signup_states(brigade: InProcessBrigade) -> dict[object, object]:
    """PTB's in-memory states of the sign-up (what persistence loads at start)."""
    for handlers in brigade.app.handlers.values():
        for handler in handlers:
            if isinstance(handler, ConversationHandler) and handler.name == "signup":
                return handler._conversations  # type: ignore[return-value]
    raise AssertionError("no sign-up conversation")


async def test_a_step_of_an_older_sign_up_goes_on_to_the_first_question_left(
    world: FakeTelegram, brigade: InProcessBrigade
) -> None:
    bob = world.add_user("Bob", language_code="en")
    bob.send_command("join")
    await brigade.deliver()
    bob.press("Use “Bob”")
    await brigade.deliver()
    bob.press("Skip")
    await brigade.deliver()
    bob.send_location(45.5675, 5.9205)
    await brigade.deliver()
    skills = bob.last_message
    assert "What can you help with?" in (skills.text or "")
    # An older version kept him at its radius step (gone since): its button, still on screen…
    _signup_states(brigade)[(bob.id, bob.id)] = "radius"
    bob.tap_data(skills, "su:radius:2")
    await brigade.deliver()
    # …leads to the first question left, his answers kept.
    assert bob.last_message.message_id != skills.message_id
    assert "What can you help with?" in (bob.last_message.text or "")
    assert brigade.app.user_data[bob.id]["signup"]["name"] == "Bob"
    # The same at the older charter step, once the skills are chosen: the summary.
    bob.tap("Plumbing")
    await brigade.deliver()
    _signup_states(brigade)[(bob.id, bob.id)] = "charter"
    bob.send_text("I accept")
    await brigade.deliver()
    assert "Please check your answers" in (bob.last_message.text or "")


async def test_a_skill_retired_before_the_application_is_sent_asks_the_skills_again(
    world: FakeTelegram, brigade: InProcessBrigade
) -> None:
    claire = world.add_user("Claire", user_id=COORDINATOR_ID, language_code="en")
    claire.send_command("start")
    bob = world.add_user("Bob", language_code="en")
    bob.send_command("join")
    await brigade.deliver()
    bob.press("Use “Bob”")
    await brigade.deliver()
    bob.press("Skip")
    await brigade.deliver()
    bob.send_location(45.5675, 5.9205)
    await brigade.deliver()
    bob.tap("Gardening")
    await brigade.deliver()
    bob.tap("Done")
    await brigade.deliver()
    summary = bob.last_message
    assert "Skills: Gardening" in (summary.text or "")
    gardening = next(s.id for s in await brigade.services.skills.active() if "arden" in s.label)
    assert await brigade.services.skills.retire(COORDINATOR_ID, gardening) is Outcome.DONE

    bob.tap(summary, "I accept the charter and send my application")
    await brigade.deliver()
    note, skills = bob.inbox[-2:]
    assert note.text == "Some answers are missing or no longer valid. Let's check them."
    assert "What can you help with?" in (skills.text or "")
    assert not any("Gardening" in label for label in skills.labels)
    assert not any("Thank you" in (m.text or "") for m in bob.inbox)
