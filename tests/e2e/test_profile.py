"""Self-service end to end: /profile and its edits, /pause and /resume, refusals and re-asks."""

from __future__ import annotations

from datetime import timedelta

import pytest
from babel.dates import format_date
from sqlalchemy import select

from bot.services.members import TelegramIdentity
from bot.services.outcomes import Outcome
from bot.services.volunteers import VolunteerApplication
from storage.models import Member, Skill
from testkit.harness import PollingBrigade
from testkit.telegram import FakeTelegram, FakeUser
from tests.conftest import COORDINATOR_ID

pytestmark = pytest.mark.e2e


async def _skill_id(live: PollingBrigade, code: str) -> int:
    async with live.services.database.read() as session:
        return (await session.execute(select(Skill.id).where(Skill.code == code))).scalar_one()


async def _member(live: PollingBrigade, person: FakeUser) -> Member:
    async with live.services.database.read() as session:
        query = select(Member).where(Member.telegram_id == person.id)
        return (await session.execute(query)).scalar_one()


async def _approved_volunteer(
    live: PollingBrigade, person: FakeUser, *codes: str, phone: str | None = None
) -> int:
    """Sign `person` up through the services and approve them, as a coordinator would."""
    services = live.services
    for telegram_id, name in ((COORDINATOR_ID, "Claire"), (person.id, person.first_name)):
        await services.members.identify(TelegramIdentity(telegram_id, name, language_code="en"))
    submitted = await services.volunteers.submit(
        person.id,
        VolunteerApplication(
            display_name=person.first_name,
            latitude=45.5675,
            longitude=5.9205,
            radius_km=2.0,
            skill_ids=tuple([await _skill_id(live, code) for code in codes]),
            availability=((5, "morning"),),
            charter_version="2026-11",
            phone=phone,
        ),
    )
    assert not isinstance(submitted, Outcome)
    decision = await services.volunteers.decide(COORDINATOR_ID, submitted.member_id, approve=True)
    assert decision.outcome is Outcome.DONE
    return submitted.member_id


async def _edited(world: FakeTelegram, person: FakeUser, marker: str) -> None:
    await world.wait_for(
        lambda: any(marker in label for label in person.last_message.labels),
        what=f"{person.first_name}'s keyboard shows {marker!r}",
    )


def _assert_no_apology(world: FakeTelegram, *people: FakeUser) -> None:
    """No handler failed (a double answer to a tap, an edit changing nothing…)."""
    for person in people:
        assert not any("went wrong" in (m.text or "") for m in person.inbox), person
    assert all(call.ok for call in world.calls_to("answerCallbackQuery"))
    world.assert_sound()


def _long_date(live: PollingBrigade, days: int) -> set[str]:
    """The date `days` from now as the bot spells it in English (either side of a midnight)."""
    tz = live.services.settings.tz
    now = live.clock()
    moments = (now + timedelta(days=days), now + timedelta(days=days, minutes=1))
    return {format_date(m.astimezone(tz).date(), "long", locale="en") for m in moments}


async def test_a_volunteer_changes_radius_skills_and_quiet_hours_then_pauses_and_resumes(
    world: FakeTelegram, live: PollingBrigade
) -> None:
    marc = world.add_user("Marc", language_code="en")
    member_id = await _approved_volunteer(live, marc, "plumbing", "electricity")
    electricity = await _skill_id(live, "electricity")
    outcome = await live.services.volunteers.verify_skill(COORDINATOR_ID, member_id, electricity)
    assert outcome is Outcome.DONE

    marc.send_command("profile")
    card = await marc.expect_message("Your volunteer profile")
    assert "Distance: up to 2 km" in (card.text or "")
    assert "Skills: Small electrical work (verified), Plumbing" in (card.text or "")
    assert "Requests: receiving requests" in (card.text or "")
    assert "Quiet hours: none" in (card.text or "")
    assert "Weekly limit: no limit" in (card.text or "")
    assert "Charter version 2026-11 accepted on" in (card.text or "")
    assert "⏸ Pause" in card.labels

    # Radius: one tap saves, and the profile comes back with the new value.
    marc.tap(card, "✏️ Distance")
    await marc.expect_message("How far from you")
    marc.tap("5 km")
    await marc.expect_message("✅ Saved.")
    card = await marc.expect_message("Distance: up to 5 km")

    # Skills: Plumbing out, Shopping in; the verified skill stays verified.
    marc.tap(card, "✏️ Skills")
    await marc.expect_message("What can you help with?")
    await _edited(world, marc, "✅ Plumbing")
    marc.tap("Shopping")
    await _edited(world, marc, "✅ Shopping")
    marc.tap("Plumbing")
    await _edited(world, marc, "▫️ Plumbing")
    marc.tap("Done")
    card = await marc.expect_message("Your volunteer profile")
    assert "Skills: Small electrical work (verified), Shopping" in (card.text or "")

    # Quiet hours from a preset.
    marc.tap(card, "✏️ Quiet hours")
    await marc.expect_message("quiet hours")
    marc.tap("22:00–08:00")
    card = await marc.expect_message("Quiet hours: 22:00–08:00")

    stored = await _member(live, marc)
    assert (stored.radius_km, stored.quiet_start_minute, stored.quiet_end_minute) == (
        5.0,
        1320,
        480,
    )

    # /pause for two weeks, said in the town's time zone; the profile shows it.
    marc.send_command("pause")
    menu = await marc.expect_message("For how long do you want to receive no request?")
    dates = _long_date(live, 14)
    marc.tap(menu, "2 weeks")
    await world.wait_for(lambda: "Paused." in (menu.text or ""), what="the pause confirmed")
    assert any(f"until {date}." in (menu.text or "") for date in dates), menu.text
    assert menu.labels == []
    paused_until = (await _member(live, marc)).paused_until
    assert paused_until is not None
    assert timedelta(days=13, hours=23) < paused_until - live.clock() <= timedelta(days=14)

    marc.send_command("profile")
    card = await marc.expect_message("Your volunteer profile")
    assert any(f"Requests: paused until {date}" in (card.text or "") for date in dates), card.text
    assert "▶️ Resume" in card.labels
    marc.send_command("pause")
    await marc.expect_message("You receive no request until")

    marc.send_command("resume")
    await marc.expect_message("Welcome back! You will receive requests again.")
    marc.send_command("resume")
    await marc.expect_message("You were not paused")
    assert (await _member(live, marc)).paused_until is None

    # "Until I resume" from the card's button, then ▶️ Resume from the next card.
    marc.send_command("profile")
    card = await marc.expect_message("Requests: receiving requests")
    marc.tap(card, "⏸ Pause")
    menu = await marc.expect_message("For how long")
    marc.tap(menu, "Until I resume")
    await world.wait_for(lambda: "until you send /resume" in (menu.text or ""))
    marc.send_command("profile")
    card = await marc.expect_message("Requests: paused until you send /resume")
    marc.tap(card, "▶️ Resume")
    await marc.expect_message("Welcome back!")
    assert all(answer.text is None for answer in marc.callback_answers)
    _assert_no_apology(world, marc)


async def test_a_sticker_is_re_asked_and_cancel_changes_nothing(
    world: FakeTelegram, live: PollingBrigade
) -> None:
    marc = world.add_user("Marc", language_code="en")
    await _approved_volunteer(live, marc, "plumbing")
    marc.send_command("profile")
    card = await marc.expect_message("Your volunteer profile")

    marc.tap(card, "✏️ Weekly limit")
    prompt = await marc.expect_message("At most how many requests a week")
    two = prompt.button("2").callback_data
    assert two is not None
    marc.send_sticker()
    await marc.expect_message("Sorry, I did not understand that answer.")
    await marc.expect_message("At most how many requests a week")
    marc.send_command("start")  # other commands wait for the answer
    await marc.expect_message("You are changing your profile")
    await marc.expect_message("At most how many requests a week")
    marc.send_command("cancel")
    await marc.expect_message("Nothing was changed.")
    assert (await _member(live, marc)).weekly_cap is None

    # The prompt's buttons were retired when it was asked again, and are dead once the edit is
    # over (an old client may still show them).
    assert prompt.labels == []
    marc.tap_data(prompt, two)
    await world.wait_for(lambda: len(marc.callback_answers) >= 2)
    assert "no longer valid" in (marc.callback_answers[-1].text or "")
    assert (await _member(live, marc)).weekly_cap is None

    # Wrong text in a name edit is re-asked; ⬅ Back leaves the name as it was.
    marc.tap(card, "✏️ Name")
    await marc.expect_message("What name should the coordinators and referents see? Now: Marc")
    marc.send_text("x" * 80)
    await marc.expect_message("Please send a name of 1 to 64 characters")
    marc.press("⬅ Back")
    await marc.expect_message("Nothing was changed.")
    await marc.expect_message("Your volunteer profile")
    assert (await _member(live, marc)).display_name == "Marc"

    # An inline ⬅ Back too.
    marc.tap(card, "✏️ Availability")
    await marc.expect_message("When are you usually free?")
    marc.tap("Any time")
    await _edited(world, marc, "✅ Mon")
    marc.tap("Any time")  # the same preset again: nothing to redraw, still answered
    await world.wait_for(lambda: len(marc.callback_answers) == 6)
    marc.tap("⬅ Back")
    card = await marc.expect_message("Your volunteer profile")
    assert "Availability: Sat morning" in (card.text or "")
    assert (await _member(live, marc)).display_name == "Marc"
    _assert_no_apology(world, marc)


async def test_name_phone_place_and_a_skill_to_verify(
    world: FakeTelegram, live: PollingBrigade
) -> None:
    claire = world.add_user("Claire", user_id=COORDINATOR_ID, language_code="en")
    lina = world.add_user("Lina", language_code="en")
    await _approved_volunteer(live, lina, "shopping", phone="+33 6 11 22 33 44")
    lina.send_command("profile")
    card = await lina.expect_message("Phone: +33 6 11 22 33 44")

    lina.tap(card, "✏️ Name")
    await lina.expect_message("What name")
    lina.send_text("  Lina   B. ")
    card = await lina.expect_message("Name: Lina B.")

    lina.tap(card, "✏️ Phone")
    await lina.expect_message("Your phone number")
    lina.press("Remove my number")
    card = await lina.expect_message("Phone: not given")

    lina.tap(card, "✏️ Place")
    await lina.expect_message("Where are you based?")
    lina.send_text("nowhere at all")
    await lina.expect_message("I could not find this address")
    lina.send_text("12 rue de la Gare, Chambéry")
    await lina.expect_message("I found: 12 Rue de la Gare, Chambéry")
    lina.tap("Yes, that's it")
    card = await lina.expect_message("Place: 12 Rue de la Gare, Chambéry")
    stored = await _member(live, lina)
    assert stored.latitude == pytest.approx(45.5714)
    assert stored.longitude == pytest.approx(5.9188)

    # A skill that needs a check: the coordinators get the card with its Verify button.
    lina.tap(card, "✏️ Skills")
    await lina.expect_message("What can you help with?")
    lina.tap("Small electrical work")
    await _edited(world, lina, "✅ Small electrical work")
    lina.tap("Done")
    await lina.expect_message("A coordinator will check your new skill")
    card = await lina.expect_message("Small electrical work (to verify)")
    request = await claire.expect_message("Lina B. added a skill that needs your check.")
    claire.tap(request, "Verify: Small electrical work")
    await world.wait_for(
        lambda: any("Skill verified" in (answer.text or "") for answer in claire.callback_answers)
    )
    lina.send_command("profile")
    await lina.expect_message("Small electrical work (verified)")
    _assert_no_apology(world, lina, claire)


async def test_people_who_are_not_volunteers_are_refused_politely(
    world: FakeTelegram, live: PollingBrigade
) -> None:
    tom = world.add_user("Tom", language_code="en")
    for command in ("profile", "pause", "resume"):
        tom.send_command(command)
        refusal = await tom.expect_message("for the brigade's volunteers")
        assert "/join" in (refusal.text or "")
    # A forged pause or edit button changes nothing either.
    tom.tap_data(refusal, "pz:1w")
    tom.tap_data(refusal, "pf:edit:radius")
    await world.wait_for(lambda: len(tom.callback_answers) == 2)
    assert all("volunteers" in (answer.text or "") for answer in tom.callback_answers)
    async with live.services.database.read() as session:
        member = (
            await session.execute(select(Member).where(Member.telegram_id == tom.id))
        ).scalar_one()
    assert member.paused_until is None
    assert member.radius_km == 2.0
    _assert_no_apology(world, tom)


@pytest.mark.live_settings(address_example="rue de la Gare 12, Ixelles")
async def test_an_address_not_found_shows_the_towns_own_example(
    world: FakeTelegram, live: PollingBrigade
) -> None:
    """Brussels writes the number after the street: the example comes from the settings."""
    lina = world.add_user("Lina", language_code="nl")
    await _approved_volunteer(live, lina, "shopping")
    lina.send_command("profile")
    card = await lina.expect_message("Uw vrijwilligersprofiel")
    lina.tap(card, "✏️ Locatie")
    await lina.expect_message("Waar bevindt u zich meestal?")
    lina.send_text("nowhere at all")
    answer = await lina.expect_message("Ik heb dit adres niet gevonden")
    text = answer.text or ""
    assert "(bijvoorbeeld “rue de la Gare 12, Ixelles”)" in text
    assert "Stationsstraat" not in text
