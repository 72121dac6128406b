"""/new end to end: a referent posts requests for the people they support (someone new in 8
actions, someone known in 5, counted as a phone user would: messages sent and buttons tapped);
volunteers are offered them without any private detail.

Offers are outbox rows delivered by the background sender: each test checks the rows first, and
the main test finally waits for the offers to arrive in the volunteers' chats.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from babel.dates import format_date
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from bot.domain.vocabulary import Role, VolunteerStatus
from storage.models import (
    Beneficiary,
    HelpRequest,
    Member,
    MemberRole,
    OutboxMessage,
    Skill,
    VolunteerSkill,
)
from testkit.harness import PollingBrigade
from testkit.telegram import FakeTelegram, FakeUser
from tests.factories import east, new_referent

pytestmark = pytest.mark.e2e

# "27 rue de Boigne, Chambéry" in the fake gazetteer.
BOIGNE = (45.5677, 5.9204)
# What no volunteer may read before taking the request.
SECRETS = ("Jeanne", "+33 4 79", "27", "1234", "door code")
POST = "✅ Post the request"


async def _volunteer(
    live: PollingBrigade,
    person: FakeUser,
    *,
    km: float,
    skill: str,
    radius_km: float = 2.0,
    status: VolunteerStatus = VolunteerStatus.APPROVED,
) -> None:
    """A volunteer seeded in the database, `km` east of the rue de Boigne."""
    latitude, longitude = east(km, of=BOIGNE)
    async with live.services.database.transaction() as session:
        skill_id = (await session.execute(select(Skill.id).where(Skill.code == skill))).scalar_one()
        member = Member(
            telegram_id=person.id,
            display_name=person.first_name,
            telegram_language="en",
            latitude=latitude,
            longitude=longitude,
            radius_km=radius_km,
            volunteer_status=status,
        )
        session.add(member)
        await session.flush()
        session.add(MemberRole(member_id=member.id, role=Role.VOLUNTEER))
        session.add(VolunteerSkill(member_id=member.id, skill_id=skill_id))


async def _count(live: PollingBrigade, model: type[HelpRequest] | type[Beneficiary]) -> int:
    async with live.services.database.read() as session:
        return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


async def _offers(live: PollingBrigade) -> list[OutboxMessage]:
    """The offers queued for volunteers and groups (outbox rows tied to an offer)."""
    async with live.services.database.read() as session:
        rows = await session.execute(
            select(OutboxMessage)
            .where(OutboxMessage.offer_id.is_not(None))
            .order_by(OutboxMessage.id)
        )
        return list(rows.scalars())


def _share_contact(world: FakeTelegram, person: FakeUser, phone: str, first_name: str) -> None:
    """Share someone else's contact through 📎 → Contact (no Telegram account behind it)."""
    world.post_user_message(
        person, None, {"contact": {"phone_number": phone, "first_name": first_name}}
    )


async def _someone_new_up_to_consent(referent: FakeUser) -> None:
    """/new for someone new: the consent is asked before anything about the person."""
    referent.send_command("new")
    await referent.expect_message("Who is the request for?")
    referent.tap("➕ Someone new")
    await referent.expect_message("Does the person agree")


async def _someone_new_up_to_the_need(referent: FakeUser, name: str) -> None:
    """The short way through the new-person steps: consent, the name alone, no phone, a pin, no
    access notes."""
    await _someone_new_up_to_consent(referent)
    referent.tap("Yes, they agree")
    await referent.expect_message("name and phone number")
    referent.send_text(name)
    await referent.expect_message("phone number")
    referent.tap("Skip")
    await referent.expect_message(f"Where does {name} live?")
    assert referent.reply_keyboard == [["📍 Send a location"], ["⬅ Back"]]
    referent.send_location(45.5581, 5.9105)  # rue du Pré de l'Âne, sent with 📎 → Location
    await referent.expect_message("Location received.")
    assert referent.reply_keyboard == []  # the location keyboard went with its step
    await referent.expect_message("Anything that helps to get in")
    referent.tap("Skip")
    await referent.expect_message("What kind of help is needed?")


async def _up_to_the_preview(referent: FakeUser, name: str, skill: str, description: str) -> None:
    """Someone new (the short way), the need and a description: the preview."""
    await _someone_new_up_to_the_need(referent, name)
    referent.tap(skill)
    await referent.expect_message("Describe the request")
    referent.send_text(description)
    await referent.expect_message("Please check the request")


async def test_a_referent_posts_for_someone_new_in_eight_actions_and_only_fitting_volunteers_are_offered_it(  # noqa: E501
    world: FakeTelegram, live: PollingBrigade
) -> None:
    rita = await new_referent(live, world)
    paul, pia, pierre = (world.add_user(n, language_code="en") for n in ("Paul", "Pia", "Pierre"))
    nina, pedro = (world.add_user(n, language_code="en") for n in ("Nina", "Pedro"))
    await _volunteer(live, paul, km=0.3, skill="plumbing")
    await _volunteer(live, pia, km=1.0, skill="plumbing")
    await _volunteer(live, pierre, km=3.0, skill="plumbing")  # beyond his 2 km
    await _volunteer(live, nina, km=0.2, skill="shopping")  # near, not a plumber
    await _volunteer(live, pedro, km=0.2, skill="plumbing", status=VolunteerStatus.PENDING)
    before = rita.actions

    # Someone new: the consent first, then the name and phone in one message, then the address
    # with what helps to get in on the next line.
    rita.send_command("new")  # 1
    choice = await rita.expect_message("Who is the request for?")
    assert choice.labels == ["➕ Someone new", "✖ Cancel"]
    rita.tap("➕ Someone new")  # 2
    consent = await rita.expect_message("Does the person agree")
    rita.tap(consent, "Yes, they agree")  # 3
    await rita.expect_message("What are the person's name and phone number?")
    assert consent.labels == []  # the answered step's buttons are retired
    rita.send_text("Jeanne M. +33 4 79 00 00 00")  # 4
    await rita.expect_message("Where does Jeanne M. live?")
    assert rita.reply_keyboard == [["📍 Send a location"], ["⬅ Back"]]
    rita.send_text("27 rue de Boigne, Chambéry\n3rd floor, door code 1234")  # 5
    kept = await rita.expect_message("Address kept")
    # The short label (number, street, town), said once, not the geocoder's whole line.
    assert "27 Rue de Boigne, Chambéry\n" in (kept.text or "")
    assert "Savoie" not in (kept.text or "")
    assert rita.reply_keyboard == []
    need = await rita.expect_message("What kind of help is needed?")
    assert "Rue de Boigne" not in (need.text or "")
    assert {"Plumbing", "Shopping", "Small electrical work"} <= set(need.labels)
    rita.tap(need, "Plumbing")  # 6
    await rita.expect_message("Describe the request")
    rita.send_text("The kitchen tap is leaking.")  # 7

    # The preview: the public part as volunteers will read it, the private part apart, and the
    # defaults (at home, as soon as possible, one volunteer) with the buttons that change them.
    preview = await rita.expect_message("Please check the request")
    public, private = (preview.text or "").split("🔒")
    for secret in SECRETS:
        assert secret not in public
    for shown in ("Plumbing", "The kitchen tap is leaking.", "Where: Rue de Boigne, Centre-Ville"):
        assert shown in public
    assert "When: as soon as possible" in public
    assert "1 volunteer needed" in public
    for detail in ("Person: Jeanne M.", "Phone: +33 4 79 00 00 00", "Address: 27 Rue de Boigne, "):
        assert detail in private
    assert "Access: 3rd floor, door code 1234" in private
    assert "🏠 At Jeanne M.'s place · as soon as possible · 1 volunteer" in private
    assert preview.labels == [
        "✏️ Need",
        "✏️ Description",
        "✏️ Where",
        "✏️ When",
        "✏️ Volunteers",
        POST,
        "⬅ Back",
        "✖ Cancel",
    ]
    rita.tap(preview, POST)  # 8
    posted = await rita.expect_message("is posted")
    assert rita.actions - before == 8
    assert "2 volunteers received it now." in (posted.text or "")
    assert "No neighbourhood group received it." in (posted.text or "")

    async with live.services.database.read() as session:
        request = (await session.execute(select(HelpRequest))).scalar_one()
        jeanne = (await session.execute(select(Beneficiary))).scalar_one()
    assert (request.when_kind, request.starts_at, request.day_part) == ("asap", None, None)
    assert request.places_needed == 1
    assert request.description == "The kitchen tap is leaking."
    assert request.area_label == "Rue de Boigne, Centre-Ville"
    assert (request.latitude, request.longitude) == pytest.approx(BOIGNE)
    assert (jeanne.name, jeanne.phone) == ("Jeanne M.", "+33 4 79 00 00 00")
    assert jeanne.address == "27 Rue de Boigne, Chambéry"
    assert jeanne.access_notes == "3rd floor, door code 1234"
    assert jeanne.consent_at is not None
    assert request.beneficiary_id == jeanne.id

    # Only the two plumbers within their radius are offered it (without a private detail: their
    # chats are read below; a sent row keeps no text to read).
    offers = await _offers(live)
    assert sorted(row.chat_id for row in offers) == sorted([paul.id, pia.id])

    # A second request for Jeanne, as soon as possible: her button, her place reused, 5 actions.
    before = rita.actions
    rita.send_command("new")  # 1
    choice = await rita.expect_message("Who is the request for?")
    assert choice.labels[0] == "👤 Jeanne M."
    rita.tap(choice, "👤 Jeanne M.")  # 2
    await rita.expect_message("What kind of help is needed?")
    rita.tap("Shopping")  # 3
    await rita.expect_message("Describe the request")
    rita.send_text("Groceries for the week: bread, milk, fruit.")  # 4
    preview = await rita.expect_message("Please check the request")
    assert "Address: 27 Rue de Boigne, Chambéry" in (preview.text or "")
    assert "When: as soon as possible" in (preview.text or "")
    rita.tap(preview, POST)  # 5
    posted = await rita.expect_message("is posted")
    assert rita.actions - before == 5
    assert "1 volunteer received it now." in (posted.text or "")

    assert await _count(live, Beneficiary) == 1
    async with live.services.database.read() as session:
        second = (
            await session.execute(select(HelpRequest).where(HelpRequest.id != request.id))
        ).scalar_one()
    assert second.beneficiary_id == jeanne.id
    assert (second.when_kind, second.places_needed) == ("asap", 1)
    assert second.description == "Groceries for the week: bread, milk, fruit."
    assert (second.latitude, second.longitude) == pytest.approx(BOIGNE)
    assert [row.chat_id for row in await _offers(live)][2:] == [nina.id]

    # Delivery: the outbox sender takes the rows to the volunteers' chats.
    for volunteer in (paul, pia):
        offer = await volunteer.expect_message("Plumbing")
        for secret in SECRETS:
            assert secret not in (offer.text or "")
        assert "I'll do it" in " ".join(offer.labels)
    await nina.expect_message("Shopping")
    assert world.messages_in(pierre) == []
    assert world.messages_in(pedro) == []
    world.assert_sound()


async def test_a_missing_or_unreadable_phone_is_asked_again_and_nothing_typed_is_lost(
    world: FakeTelegram, live: PollingBrigade
) -> None:
    rita = await new_referent(live, world)
    await _someone_new_up_to_consent(rita)
    rita.send_text("oui")  # typed where the buttons wait: understood
    await rita.expect_message("name and phone number")
    rita.send_text("Odette Martin 06 12")  # too few digits for a number
    unreadable = await rita.expect_message("I kept the name Odette Martin")
    assert "could not read a phone number" in (unreadable.text or "")
    await rita.expect_message("What is Odette Martin's phone number?")
    rita.send_text("call her at home")
    await rita.expect_message("does not look like a phone number")
    _share_contact(world, rita, "+33 4 79 00 00 00", "Odette")
    await rita.expect_message("Where does Odette Martin live?")
    rita.send_text("1 rue de Nulle Part, Atlantis")
    await rita.expect_message("I could not find this address")
    rita.send_text("8 rue du Pré de l'Âne, Chambéry")
    await rita.expect_message("Address kept: 8 Rue du Pré de l'Âne, Chambéry")
    await rita.expect_message("What kind of help is needed?")
    rita.tap("Odd jobs")
    await rita.expect_message("Describe the request")
    rita.send_text("x" * 501)
    await rita.expect_message("This text is too long (501/500 characters)")
    rita.send_text("Hang two shelves.")
    preview = await rita.expect_message("Please check the request")
    for detail in ("Person: Odette Martin", "Phone: +33 4 79 00 00 00", "8 Rue du Pré de l'Âne"):
        assert detail in (preview.text or "")
    assert "Access:" not in (preview.text or "")

    # The number alone: the name is asked for, the number kept.
    await _someone_new_up_to_consent(rita)
    rita.tap("Yes, they agree")
    await rita.expect_message("name and phone number")
    rita.send_text("06 12 34 56 78")
    await rita.expect_message("I have the phone number")
    rita.send_text("Marcel")
    await rita.expect_message("Where does Marcel live?")
    rita.send_location(*BOIGNE)
    await rita.expect_message("Anything that helps to get in")
    rita.send_text("Ring twice")
    await rita.expect_message("What kind of help is needed?")
    rita.tap("Odd jobs")
    await rita.expect_message("Describe the request")
    rita.send_text("Hang a mirror.")
    preview = await rita.expect_message("Please check the request")
    for detail in ("Person: Marcel", "Phone: 06 12 34 56 78", "Access: Ring twice"):
        assert detail in (preview.text or "")
    assert await _count(live, Beneficiary) == 0
    world.assert_sound()


async def test_the_preview_changes_where_when_and_how_many_and_comes_back(
    world: FakeTelegram, live: PollingBrigade
) -> None:
    rita = await new_referent(live, world)
    paul = world.add_user("Paul", language_code="en")
    await _volunteer(live, paul, km=0.3, skill="appointment")
    await _up_to_the_preview(rita, "Yvette", "Going to an appointment", "A lift to the doctor.")
    preview = rita.last_message
    assert "Where: Rue du Pré de l'Âne, Le Biollay" in (preview.text or "")

    # Somewhere else: a typed address, said once; volunteers see the street, not the number.
    rita.tap(preview, "✏️ Where")
    await rita.expect_message("Where will the help take place?")
    rita.tap("📍 Somewhere else")
    await rita.expect_message("Where will it take place?")
    rita.send_text("15 avenue de Lyon, Chambéry")
    await rita.expect_message("📍 15 Avenue de Lyon, Chambéry")
    preview = await rita.expect_message("Please check the request")
    public = (preview.text or "").split("🔒")[0]
    assert "Where: Avenue de Lyon, Le Biollay" in public
    assert "15" not in public
    assert "📍 Somewhere else · as soon as possible · 1 volunteer" in (preview.text or "")

    # ⬅ on the step an edit jumped to leads back to the preview, unchanged.
    rita.tap(preview, "✏️ When")
    await rita.expect_message("When is the help needed?")
    rita.tap("📅 Choose a day")
    await rita.expect_message("Which day?")
    rita.tap("⬅ Back")
    await rita.expect_message("When is the help needed?")
    rita.tap("⬅ Back")
    preview = await rita.expect_message("Please check the request")
    assert "When: as soon as possible" in (preview.text or "")

    # In the morning: a part of the day, not a time nobody set.
    rita.tap(preview, "✏️ When")
    await rita.expect_message("When is the help needed?")
    rita.tap("📅 Choose a day")
    days = await rita.expect_message("Which day?")
    tz = live.settings.tz
    tomorrow = (live.clock().astimezone(tz) + timedelta(days=1)).date()
    rita.tap(days, format_date(tomorrow, "EEEE d MMMM", locale="en"))
    parts = await rita.expect_message("At what time of day")
    assert parts.labels[:3] == ["In the morning", "In the afternoon", "In the evening"]
    rita.tap(parts, "In the morning")
    preview = await rita.expect_message("Please check the request")
    day = format_date(tomorrow, "EEEE d MMMM", locale="en")
    assert f"When: {day}, in the morning" in (preview.text or "")
    assert "09:00" not in (preview.text or "")
    rita.tap(preview, "✏️ Volunteers")
    await rita.expect_message("How many volunteers are needed?")
    rita.tap("2")
    preview = await rita.expect_message("Please check the request")
    assert "2 volunteers needed" in (preview.text or "")
    assert f"📍 Somewhere else · {day}, in the morning · 2 volunteers" in (preview.text or "")
    rita.tap(preview, POST)
    await rita.expect_message("is posted")

    async with live.services.database.read() as session:
        request = (await session.execute(select(HelpRequest))).scalar_one()
        yvette = (await session.execute(select(Beneficiary))).scalar_one()
    assert (request.latitude, request.longitude) == pytest.approx((45.5619, 5.9139))
    assert request.area_label == "Avenue de Lyon, Le Biollay"
    assert (yvette.latitude, yvette.longitude) == pytest.approx((45.5581, 5.9105))
    assert (request.when_kind, request.day_part, request.places_needed) == ("slot", "morning", 2)
    # The reminders count from the start of the morning.
    assert request.starts_at == datetime.combine(tomorrow, time(9, 0), tzinfo=tz).astimezone(UTC)
    offer = await paul.expect_message("Going to an appointment")
    assert f"When: {day}, in the morning" in (offer.text or "")
    assert "09:00" not in (offer.text or "")
    world.assert_sound()


async def test_an_earlier_steps_button_tapped_at_the_preview_keeps_the_preview(
    world: FakeTelegram, live: PollingBrigade
) -> None:
    rita = await new_referent(live, world)
    await _someone_new_up_to_consent(rita)
    rita.tap("Yes, they agree")
    name_question = await rita.expect_message("name and phone number")
    back = name_question.button("⬅ Back").callback_data
    assert back is not None
    rita.send_text("Lucien 06 12 34 56 78")
    await rita.expect_message("Where does Lucien live?")
    rita.send_location(*BOIGNE)
    await rita.expect_message("Anything that helps to get in")
    rita.tap("Skip")
    need = await rita.expect_message("What kind of help is needed?")
    skill = need.button("Friendly visit").callback_data
    assert skill is not None
    rita.tap(need, "Friendly visit")
    await rita.expect_message("Describe the request")
    assert need.labels == []  # retired when the next question came
    rita.send_text("A chat and a coffee.")
    preview = await rita.expect_message("Please check the request")

    # The name question's ⬅ and the need's button, as an old client still shows them.
    for message, data in ((name_question, back), (need, skill)):
        answered = len(rita.callback_answers)
        rita.tap_data(message, data)
        await world.wait_for(lambda: len(rita.callback_answers) > answered)  # noqa: B023
        assert "from an earlier step" in (rita.callback_answers[-1].text or "")
    await live.settle()
    assert rita.last_message.message_id == preview.message_id  # no question jumped to
    rita.tap(preview, POST)  # the preview is still the step
    await rita.expect_message("is posted")
    assert await _count(live, HelpRequest) == 1
    world.assert_sound()


async def test_someone_who_is_not_a_referent_is_told_who_can_post(
    world: FakeTelegram, live: PollingBrigade
) -> None:
    nora = world.add_user("Nora", language_code="en")
    nora.send_command("new")
    refusal = await nora.expect_message("Only the brigade's referents")
    assert "invited by a coordinator" in (refusal.text or "")
    # No conversation was started: a message afterwards is not taken as an answer.
    nora.send_text("Jeanne")
    await nora.expect_message("I did not expect a message here")
    assert await _count(live, HelpRequest) == 0


async def test_without_consent_nothing_can_be_posted(
    world: FakeTelegram, live: PollingBrigade
) -> None:
    rita = await new_referent(live, world)
    await _someone_new_up_to_consent(rita)
    rita.tap("No")
    refusal = await rita.expect_message("cannot be posted")
    # Nothing about the person was asked: without consent, nothing is collected.
    assert not any("name and phone" in (message.text or "") for message in rita.inbox)
    assert refusal.labels == ["⬅ Back", "✖ Cancel the request"]
    rita.tap(refusal, "⬅ Back")  # go back: the question again
    await rita.expect_message("Does the person agree")
    rita.tap("No")
    refusal = await rita.expect_message("cannot be posted")
    assert all(POST not in message.labels for message in rita.inbox)
    rita.tap(refusal, "✖ Cancel the request")
    await rita.expect_message("Request cancelled")
    assert await _count(live, Beneficiary) == 0
    assert await _count(live, HelpRequest) == 0
    assert "posting" not in live.app.user_data.get(rita.id, {})


async def test_a_double_tap_on_post_creates_one_request(
    world: FakeTelegram, live: PollingBrigade
) -> None:
    rita = await new_referent(live, world)
    await _up_to_the_preview(rita, "Lucien", "Friendly visit", "A chat and a coffee.")
    rita.tap(rita.last_message, "✏️ When")
    await rita.expect_message("When is the help needed?")
    rita.tap("Today")
    preview = await rita.expect_message("Please check the request")
    assert "When: today" in (preview.text or "")
    rita.tap(preview, POST)
    rita.tap(preview, POST)  # before the first tap is even handled
    posted = await rita.expect_message("is posted")
    # Nobody in town does friendly visits: the coordinators will be alerted.
    assert "No volunteer fits this request right now" in (posted.text or "")
    await world.wait_for(
        lambda: any("already been posted" in (a.text or "") for a in rita.callback_answers),
        what="the second tap answered as already posted",
    )
    assert all(call.ok for call in world.calls_to("answerCallbackQuery"))  # each one once
    assert await _count(live, HelpRequest) == 1
    assert await _count(live, Beneficiary) == 1
    await world.wait_for(lambda: preview.labels == [], what="the preview's buttons taken away")
    world.assert_sound()


async def test_cancel_mid_way_keeps_nothing_and_old_buttons_are_stale(
    world: FakeTelegram, live: PollingBrigade
) -> None:
    rita = await new_referent(live, world)
    await _someone_new_up_to_the_need(rita, "Odette")
    need = rita.last_message
    plumbing = need.button("Plumbing").callback_data
    assert plumbing is not None
    rita.send_command("cancel")
    await rita.expect_message("Request cancelled")
    assert need.labels == []  # the question's buttons went with it
    assert await _count(live, Beneficiary) == 0
    assert await _count(live, HelpRequest) == 0
    assert "posting" not in live.app.user_data.get(rita.id, {})

    answered = len(rita.callback_answers)
    rita.tap_data(need, plumbing)  # a button of the cancelled request, on an old client
    await world.wait_for(lambda: len(rita.callback_answers) > answered)
    assert "no longer valid" in (rita.callback_answers[-1].text or "")
    rita.send_text("Plumbing")  # not an answer any more
    await rita.expect_message("I did not expect a message here")
    assert await _count(live, HelpRequest) == 0


async def test_unexpected_input_is_asked_again(world: FakeTelegram, live: PollingBrigade) -> None:
    rita = await new_referent(live, world)
    rita.send_command("new")
    await rita.expect_message("Who is the request for?")
    rita.send_sticker()  # a button is expected
    await rita.expect_message("did not understand")
    await rita.expect_message("Who is the request for?")
    rita.tap("➕ Someone new")
    await rita.expect_message("Does the person agree")
    rita.send_text("perhaps")
    await rita.expect_message("did not understand")
    await rita.expect_message("Does the person agree")
    rita.tap("Yes, they agree")
    await rita.expect_message("name and phone number")
    rita.send_text("René")
    await rita.expect_message("phone number")
    rita.tap("Skip")
    await rita.expect_message("Where does René live?")
    rita.send_photo()  # an address or a pin is expected
    await rita.expect_message("did not understand")
    await rita.expect_message("Where does René live?")
    rita.send_location(*BOIGNE)
    await rita.expect_message("Anything that helps to get in")
    rita.tap("Skip")
    await rita.expect_message("What kind of help is needed?")
    rita.send_text("Oui")  # where buttons are expected: pointed to them
    await rita.expect_message("Please answer with the buttons of the question below.")
    await rita.expect_message("What kind of help is needed?")
    rita.tap("Odd jobs")
    await rita.expect_message("Describe the request")
    rita.send_sticker()  # text is expected
    await rita.expect_message("did not understand")
    await rita.expect_message("Describe the request")
    rita.send_command("help")  # other commands wait
    await rita.expect_message("You are posting a request")
    await rita.expect_message("Describe the request")
    rita.send_text("Hang two shelves in the living room.")
    preview = await rita.expect_message("Please check the request")
    rita.tap(preview, "⬅ Back")
    back = await rita.expect_message("Describe the request")
    assert "Now: Hang two shelves in the living room." in (back.text or "")
    assert await _count(live, HelpRequest) == 0
    world.assert_sound()


async def test_a_write_that_fails_after_the_tap_was_answered_is_still_told(
    world: FakeTelegram, live: PollingBrigade, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Post answers the tap, then the database fails: the referent must not be left guessing."""
    rita = await new_referent(live, world)
    await _up_to_the_preview(rita, "Lucien", "Friendly visit", "A chat and a coffee.")
    preview = rita.last_message

    async def database_down(*_args: object, **_kwargs: object) -> None:
        raise OperationalError("INSERT INTO requests …", {}, Exception("disk I/O error"))

    monkeypatch.setattr(type(live.services.requests), "post", database_down)
    rita.tap(preview, POST)
    apology = await rita.expect_message("Sorry, something went wrong on our side")
    assert apology.message_id > preview.message_id
    assert await _count(live, HelpRequest) == 0
    # Nothing was lost: the answers are kept, and Post works once the database is back.
    monkeypatch.undo()
    rita.tap(preview, POST)
    await rita.expect_message("is posted")
    assert await _count(live, HelpRequest) == 1
