"""Issue 15 end to end: the volunteer sign-up in eight actions (a pin or a typed address, two
skills), the reply keyboards removed when their step ends, the charter in short with "read it
all", the availability left for /profile, and the radius check at sign-up, on the coordinator's
cards and in /profile.

An action is what a person does on their phone: a message sent (a command, a text, a pin, a
contact, a reply-keyboard button) or an inline button tapped (`FakeUser.actions`).
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from storage.models import Member
from testkit.harness import PollingBrigade
from testkit.telegram import FakeTelegram, FakeUser, StoredMessage
from tests.conftest import COORDINATOR_ID

pytestmark = pytest.mark.e2e

# The most actions a sign-up may take, from /join to the application sent (issue 15's goal).
MOST_ACTIONS = 8
# A point 13.7 km north of the centre of Centre-Ville, the only neighbourhood of some tests.
FAR_NORTH = (45.5670 + 13.7 / 111.2, 5.921)


async def _coordinator(world: FakeTelegram) -> FakeUser:
    """Claire, coordinator, after /start (so that she exists)."""
    claire = world.add_user("Claire", user_id=COORDINATOR_ID, language_code="en")
    claire.send_command("start")
    await claire.expect_message()
    return claire


async def _neighbourhoods(live: PollingBrigade, *names: str) -> None:
    centres = {"Centre-Ville": (45.567, 5.921), "Le Biollay": (45.556, 5.9075)}
    for name in names:
        latitude, longitude = centres[name]
        created = await live.services.neighbourhoods.create(
            COORDINATOR_ID, name, latitude, longitude, 1.0
        )
        assert not isinstance(created, str)


async def _ticked(world: FakeTelegram, person: FakeUser, label: str) -> None:
    await world.wait_for(
        lambda: any(f"✅ {label}" in text for text in person.last_message.labels),
        what=f"{person.first_name}'s keyboard ticks {label!r}",
    )


async def _two_skills(world: FakeTelegram, person: FakeUser) -> StoredMessage:
    """Plumbing and Shopping ticked, then Done (three actions); returns the summary."""
    person.tap("Plumbing")
    await _ticked(world, person, "Plumbing")
    person.tap("Shopping")
    await _ticked(world, person, "Shopping")
    person.tap("Done")
    return await person.expect_message("Please check your answers")


async def test_a_pin_and_two_skills_take_eight_actions(
    world: FakeTelegram, live: PollingBrigade
) -> None:
    claire = await _coordinator(world)
    await _neighbourhoods(live, "Centre-Ville", "Le Biollay")
    odette = world.add_user(
        "Odette", last_name="Martin", language_code="en", phone_number="+33 6 12 34 56 78"
    )

    odette.send_command("join")
    await odette.expect_message("What name should the coordinators")
    assert odette.reply_keyboard == [["Use “Odette Martin”"]]
    odette.press("Use “Odette Martin”")
    await odette.expect_message("Your phone number")
    odette.press("Share my number")
    await odette.expect_message("Where are you based?")
    odette.send_location(45.5675, 5.9205)
    await odette.expect_message("Location received")
    # The location keyboard went with the step; the nearest neighbourhood was chosen for her.
    assert odette.reply_keyboard == []
    await odette.expect_message("What can you help with?")
    summary = await _two_skills(world, odette)
    text = summary.text or ""
    assert "Name: Odette Martin" in text
    assert "Phone: +33 6 12 34 56 78" in text
    assert "Neighbourhood: Centre-Ville" in text
    assert "Distance: up to 2 km" in text
    assert "Nearest neighbourhood: Centre-Ville, 0.1 km away." in text
    assert "Skills: Plumbing, Shopping" in text
    assert "Availability: not given (optional: add it below, or later with /profile)" in text
    # The charter in a few lines, not the whole text.
    assert "• I help for free: no money, no gift, no tip." in text
    assert "1. I help for free" not in text
    assert "✅ 2 km" in summary.labels
    assert "📖 Read the whole charter" in summary.labels
    odette.tap(summary, "I accept the charter and send my application")
    await odette.expect_message("Thank you! Your application has been sent")
    # The summary tapped says what was done, and its buttons are gone.
    assert (summary.text or "").endswith("✅ Charter accepted, application sent.")
    assert summary.labels == []

    assert odette.actions <= MOST_ACTIONS
    assert odette.actions == 8

    card = await claire.expect_message("New volunteer application")
    assert "Volunteer application: Odette Martin" in (card.text or "")
    assert "Nearest neighbourhood: Centre-Ville, 0.1 km away (within their distance)" in (
        card.text or ""
    )
    member = await live.services.members.find(odette.id)
    assert member is not None
    assert member.display_name == "Odette Martin"
    world.assert_sound()


async def test_a_typed_address_takes_eight_actions_and_removes_the_location_keyboard(
    world: FakeTelegram, live: PollingBrigade
) -> None:
    await _coordinator(world)
    await _neighbourhoods(live, "Centre-Ville", "Le Biollay")
    lina = world.add_user("Lina", language_code="fr")

    lina.send_command("join")
    await lina.expect_message("Quel nom")
    lina.send_text("Lina B.")  # a name typed instead of the Telegram one
    await lina.expect_message("Votre numéro")
    lina.press("Passer")
    await lina.expect_message("Où êtes-vous")
    assert any("Envoyer ma position" in label for row in lina.reply_keyboard for label in row)
    lina.send_text("8 rue du Pré de l'Âne, Chambéry")
    found = await lina.expect_message("Adresse trouvée")
    assert "Rue du Pré de l'Âne" in (found.text or "")
    # Typed, not pinned: the location keyboard goes all the same.
    assert lina.reply_keyboard == []
    await lina.expect_message("En quoi pouvez-vous aider")
    lina.tap("Plomberie")
    await _ticked(world, lina, "Plomberie")
    lina.tap("Courses")
    await _ticked(world, lina, "Courses")
    lina.tap("Terminé")
    summary = await lina.expect_message("Vérifiez vos réponses")
    assert "Quartier\u202f: Le Biollay" in (summary.text or "")
    lina.tap(summary, "J’accepte la charte et j’envoie ma candidature")
    await lina.expect_message("Merci")

    assert lina.actions == 8
    world.assert_sound()


async def test_two_neighbourhoods_about_as_near_are_asked(
    world: FakeTelegram, live: PollingBrigade
) -> None:
    await _coordinator(world)
    await _neighbourhoods(live, "Centre-Ville", "Le Biollay")
    sami = world.add_user("Sami", language_code="en")
    sami.send_command("join")
    await sami.expect_message("What name")
    sami.press("Use “Sami”")
    await sami.expect_message("Your phone number")
    sami.press("Skip")
    await sami.expect_message("Where are you based?")
    # Half-way between the two centres: both are plausible, so he chooses.
    sami.send_location(45.5615, 5.9143)
    choice = await sami.expect_message("Which neighbourhood")
    assert len(choice.labels) == 3  # both, nearest first, and ⬅
    sami.tap(choice, "Le Biollay")
    await sami.expect_message("What can you help with?")
    summary = await _two_skills(world, sami)
    assert "Neighbourhood: Le Biollay" in (summary.text or "")


async def test_the_whole_charter_is_one_tap_away_and_can_be_accepted_under_it(
    world: FakeTelegram, live: PollingBrigade
) -> None:
    await _coordinator(world)
    nina = world.add_user("Nina", language_code="en")
    nina.send_command("join")
    await nina.expect_message("What name")
    nina.press("Use “Nina”")
    await nina.expect_message("Your phone number")
    nina.press("Skip")
    await nina.expect_message("Where are you based?")
    nina.send_location(45.5675, 5.9205)  # a town without neighbourhoods: none to choose
    await nina.expect_message("What can you help with?")
    summary = await _two_skills(world, nina)
    assert "Neighbourhood: none" in (summary.text or "")
    nina.tap(summary, "📖 Read the whole charter")
    charter = await nina.expect_message("Charter of the volunteers of the brigade of Chambéry")
    assert "1. I help for free" in (charter.text or "")
    assert "6. The coordinators may end my participation" in (charter.text or "")
    assert charter.labels == ["✅ I accept the charter and send my application"]
    nina.tap(charter, "I accept the charter")
    await nina.expect_message("Thank you! Your application has been sent")
    assert (charter.text or "").endswith("✅ Charter accepted, application sent.")
    async with live.services.database.read() as session:
        member = (
            await session.execute(select(Member).where(Member.telegram_id == nina.id))
        ).scalar_one()
    assert member.charter_version == "2026-11"
    assert member.charter_accepted_at is not None


async def test_a_volunteer_out_of_reach_is_told_and_shown_a_distance_that_reaches(
    world: FakeTelegram, live: PollingBrigade
) -> None:
    claire = await _coordinator(world)
    await _neighbourhoods(live, "Centre-Ville")
    paul = world.add_user("Paul", language_code="en")
    paul.send_command("join")
    await paul.expect_message("What name")
    paul.press("Use “Paul”")
    await paul.expect_message("Your phone number")
    paul.press("Skip")
    await paul.expect_message("Where are you based?")
    paul.send_location(*FAR_NORTH)
    # No centre within 2 km: he is asked, the nearest first.
    choice = await paul.expect_message("Which neighbourhood")
    assert choice.labels[0] == "⭐ Centre-Ville (13.7 km)"
    paul.tap(choice, "Centre-Ville")
    await paul.expect_message("What can you help with?")
    summary = await _two_skills(world, paul)
    warning = (
        "⚠️ No neighbourhood is within 2 km of your place: you would receive no request. "
        "The nearest neighbourhood, Centre-Ville, is 13.7 km away: choose 15 km to receive "
        "its requests."
    )
    assert warning in (summary.text or "")
    assert "15 km" in summary.labels
    # 15 km: the summary tapped shows it, and the warning is gone.
    paul.tap(summary, "15 km")
    await world.wait_for(lambda: "Distance: up to 15 km" in (summary.text or ""))
    assert "⚠️" not in (summary.text or "")
    assert "Nearest neighbourhood: Centre-Ville, 13.7 km away." in (summary.text or "")
    assert "✅ 15 km" in summary.labels
    # Back to 2 km: warned again, and he sends it as it is.
    paul.tap(summary, "2 km")
    await world.wait_for(lambda: warning in (summary.text or ""))
    paul.tap(summary, "I accept the charter and send my application")
    sent = await paul.expect_message("Thank you! Your application has been sent")
    assert warning in (sent.text or "")
    assert "You will receive requests" not in (sent.text or "")

    # The coordinator's card flags it.
    card = await claire.expect_message("New volunteer application")
    assert (
        "⚠️ Nearest neighbourhood: Centre-Ville, 13.7 km away, beyond their 2 km: "
        "no request can be offered to them"
    ) in (card.text or "")
    # Approved, he is not told he will receive the requests near him.
    claire.tap(card, "✅ Approve")
    approved = await paul.expect_message("Good news: your application was approved")
    assert "You will now receive the requests near you" not in (approved.text or "")
    assert warning in (approved.text or "")

    # The member card says it too.
    claire.send_command("members", "Paul")
    listing = await claire.expect_message("Members matching")
    claire.tap(listing, "Paul")
    await world.wait_for(lambda: "Claims — taken" in (listing.text or ""))
    assert "⚠️ Nearest neighbourhood: Centre-Ville, 13.7 km away, beyond their 2 km" in (
        listing.text or ""
    )

    # /profile warns, and its distance question offers the distance that reaches.
    paul.send_command("profile")
    profile = await paul.expect_message("Your volunteer profile")
    assert warning in (profile.text or "")
    paul.tap(profile, "✏️ Distance")
    question = await paul.expect_message("How far from you")
    assert warning in (question.text or "")
    assert "15 km" in question.labels
    paul.tap(question, "15 km")
    await paul.expect_message("✅ Saved.")
    profile = await paul.expect_message("Your volunteer profile")
    assert "Distance: up to 15 km" in (profile.text or "")
    assert "Nearest neighbourhood: Centre-Ville, 13.7 km away." in (profile.text or "")
    assert "⚠️" not in (profile.text or "")
    # Back to 5 km from /profile: the save itself says it reaches nothing.
    paul.tap(profile, "✏️ Distance")
    question = await paul.expect_message("How far from you")
    paul.tap(question, "5 km")
    saved = await paul.expect_message("✅ Saved.")
    assert "No neighbourhood is within 5 km of your place" in (saved.text or "")
    world.assert_sound()


async def test_availability_skipped_at_sign_up_is_set_later_in_profile(
    world: FakeTelegram, live: PollingBrigade
) -> None:
    claire = await _coordinator(world)
    await _neighbourhoods(live, "Centre-Ville")
    marc = world.add_user("Marc", language_code="en")
    marc.send_command("join")
    await marc.expect_message("What name")
    marc.press("Use “Marc”")
    await marc.expect_message("Your phone number")
    marc.press("Skip")
    await marc.expect_message("Where are you based?")
    marc.send_location(45.5675, 5.9205)
    await marc.expect_message("What can you help with?")
    summary = await _two_skills(world, marc)
    marc.tap(summary, "I accept the charter and send my application")
    await marc.expect_message("Thank you!")
    card = await claire.expect_message("New volunteer application")
    assert "Availability: to be agreed each time" in (card.text or "")
    claire.tap(card, "✅ Approve")
    await marc.expect_message("Good news")

    marc.send_command("profile")
    profile = await marc.expect_message("Your volunteer profile")
    assert "Availability: to be agreed each time" in (profile.text or "")
    marc.tap(profile, "✏️ Availability")
    await marc.expect_message("When are you usually free?")
    marc.tap("Weekends")
    await _ticked(world, marc, "Sat")
    marc.tap("Done")
    profile = await marc.expect_message("Your volunteer profile")
    # Weekends ticked as a whole read as the preset, not as slots (availability summaries).
    assert "Availability: weekends" in (profile.text or "")


async def test_availability_can_be_added_from_the_summary(
    world: FakeTelegram, live: PollingBrigade
) -> None:
    await _coordinator(world)
    eva = world.add_user("Eva", language_code="en")
    eva.send_command("join")
    await eva.expect_message("What name")
    eva.press("Use “Eva”")
    await eva.expect_message("Your phone number")
    eva.press("Skip")
    await eva.expect_message("Where are you based?")
    eva.send_location(45.5675, 5.9205)
    await eva.expect_message("What can you help with?")
    summary = await _two_skills(world, eva)
    eva.tap(summary, "🗓 Add my availability")
    await eva.expect_message("When are you usually free?")
    eva.tap("Evenings")
    await _ticked(world, eva, "Mon")
    eva.tap("Done")
    summary = await eva.expect_message("Please check your answers")
    assert "Availability: evenings" in (summary.text or "")
    assert "🗓 Change my availability" in summary.labels
    # ⬅ from the summary leads to the skills, still ticked.
    eva.tap(summary, "⬅ Back")
    skills = await eva.expect_message("What can you help with?")
    assert "✅ Plumbing" in skills.labels
