"""/new end to end: a referent posts requests for the people they support; volunteers are offered
them without any private detail.

Offers are outbox rows delivered by the background sender: each test checks the rows first, and
the main test finally waits for the offers to arrive in the volunteers' chats.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from babel.dates import format_date, format_datetime
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


async def _someone_new_up_to_consent(referent: FakeUser, name: str) -> None:
    """The short way through the new-person steps: no phone, a pin, no access notes."""
    referent.send_command("new")
    await referent.expect_message("Who is the request for?")
    referent.tap("➕ Someone new")
    await referent.expect_message("first name")
    referent.send_text(name)
    await referent.expect_message("phone number")
    referent.tap("Skip")
    await referent.expect_message(f"Where does {name} live?")
    assert referent.reply_keyboard == [["📍 Send a location"], ["⬅ Back"]]
    referent.send_location(45.5581, 5.9105)  # rue du Pré de l'Âne, sent with 📎 → Location
    await referent.expect_message("Location received.")
    await referent.expect_message("Anything that helps to get in")
    referent.tap("Skip")
    await referent.expect_message("Does the person agree")


async def test_a_referent_posts_for_someone_new_and_only_fitting_volunteers_are_offered_it(
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

    # Someone new: name, a shared contact, a typed address (confirmed), access notes, consent.
    rita.send_command("new")
    choice = await rita.expect_message("Who is the request for?")
    assert choice.labels == ["➕ Someone new", "✖ Cancel"]
    rita.tap("➕ Someone new")
    await rita.expect_message("first name")
    rita.send_text("Jeanne M.")
    await rita.expect_message("What is Jeanne M.'s phone number?")
    rita.send_text("call her at home")
    await rita.expect_message("does not look like a phone number")
    _share_contact(world, rita, "+33 4 79 00 00 00", "Jeanne")
    await rita.expect_message("Where does Jeanne M. live?")
    rita.send_text("1 rue de Nulle Part, Atlantis")
    await rita.expect_message("I could not find this address")
    rita.send_text("27 rue de Boigne, Chambéry")
    found = await rita.expect_message("I found:")
    assert "Rue de Boigne" in (found.text or "")
    await rita.expect_message("Is this the right place?")
    rita.tap("Yes, that's the place")
    await rita.expect_message("Anything that helps to get in")
    rita.send_text("3rd floor, door code 1234")
    await rita.expect_message("Does the person agree")
    rita.tap("Yes, they agree")

    # The need (translated labels of the active skills), a description, where, when, how many.
    need = await rita.expect_message("What kind of help is needed?")
    assert {"Plumbing", "Shopping", "Small electrical work"} <= set(need.labels)
    rita.tap(need, "Plumbing")
    await rita.expect_message("Describe the request")
    rita.send_text("x" * 501)
    await rita.expect_message("This text is too long (501/500 characters)")
    rita.send_text("The kitchen tap is leaking.")
    await rita.expect_message("Where will the help take place?")
    rita.tap("🏠 At Jeanne M.'s place")
    await rita.expect_message("When is the help needed?")
    rita.tap("As soon as possible")
    await rita.expect_message("How many volunteers are needed?")
    rita.tap("1")

    # The preview: the public part as volunteers will read it, the private part apart.
    preview = await rita.expect_message("Please check the request")
    public, private = (preview.text or "").split("🔒")
    for secret in SECRETS:
        assert secret not in public
    for shown in ("Plumbing", "The kitchen tap is leaking.", "Where: Rue de Boigne, Centre-Ville"):
        assert shown in public
    assert "When: as soon as possible" in public
    assert "1 volunteer needed" in public
    for detail in ("Person: Jeanne M.", "Phone: +33 4 79 00 00 00", "27", "door code 1234"):
        assert detail in private

    # An edit button jumps to its step and comes back to the preview.
    rita.tap(preview, "✏️ Description")
    await rita.expect_message("Describe the request")
    rita.send_text("The kitchen tap is leaking: a new washer is needed.")
    preview = await rita.expect_message("Please check the request")
    assert "a new washer is needed" in (preview.text or "")
    rita.tap(preview, POST)
    posted = await rita.expect_message("is posted")
    assert "2 volunteers received it now." in (posted.text or "")
    assert "No neighbourhood group received it." in (posted.text or "")

    async with live.services.database.read() as session:
        request = (await session.execute(select(HelpRequest))).scalar_one()
        jeanne = (await session.execute(select(Beneficiary))).scalar_one()
    assert (request.when_kind, request.places_needed) == ("asap", 1)
    assert request.area_label == "Rue de Boigne, Centre-Ville"
    assert (request.latitude, request.longitude) == pytest.approx(BOIGNE)
    assert (jeanne.name, jeanne.phone) == ("Jeanne M.", "+33 4 79 00 00 00")
    assert jeanne.address is not None
    assert "27" in jeanne.address
    assert jeanne.access_notes == "3rd floor, door code 1234"
    assert jeanne.consent_at is not None
    assert request.beneficiary_id == jeanne.id

    # Only the two plumbers within their radius are offered it (without a private detail: their
    # chats are read below; a sent row keeps no text to read).
    offers = await _offers(live)
    assert sorted(row.chat_id for row in offers) == sorted([paul.id, pia.id])

    # A second request for Jeanne: her button, no new person, straight to the need.
    rita.send_command("new")
    choice = await rita.expect_message("Who is the request for?")
    assert choice.labels[0] == "👤 Jeanne M."
    rita.tap(choice, "👤 Jeanne M.")
    await rita.expect_message("What kind of help is needed?")
    rita.tap("Shopping")
    await rita.expect_message("Describe the request")
    rita.send_text("Groceries for the week: bread, milk, fruit.")
    await rita.expect_message("Where will the help take place?")
    rita.tap("🏠 At Jeanne M.'s place")
    await rita.expect_message("When is the help needed?")
    rita.tap("📅 Choose a day")
    days = await rita.expect_message("Which day?")
    tz = live.settings.tz
    tomorrow = (live.clock().astimezone(tz) + timedelta(days=1)).date()
    rita.tap(days, format_date(tomorrow, "EEEE d MMMM", locale="en"))
    await rita.expect_message("At what time of day")
    rita.tap("Afternoon (14:00)")
    await rita.expect_message("How many volunteers are needed?")
    rita.tap("2")
    preview = await rita.expect_message("Please check the request")
    starts_at = datetime.combine(tomorrow, time(14, 0), tzinfo=tz)
    when = format_datetime(starts_at, "EEEE d MMMM, HH:mm", tzinfo=tz, locale="en")
    assert f"When: {when}" in (preview.text or "")
    assert "2 volunteers needed" in (preview.text or "")
    rita.tap(preview, POST)
    posted = await rita.expect_message("is posted")
    assert "1 volunteer received it now." in (posted.text or "")

    assert await _count(live, Beneficiary) == 1
    async with live.services.database.read() as session:
        second = (
            await session.execute(select(HelpRequest).where(HelpRequest.id != request.id))
        ).scalar_one()
    assert second.beneficiary_id == jeanne.id
    assert (second.when_kind, second.places_needed) == ("slot", 2)
    assert second.starts_at == starts_at.astimezone(UTC)
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


async def test_the_preview_edits_where_and_when_and_comes_back(
    world: FakeTelegram, live: PollingBrigade
) -> None:
    rita = await new_referent(live, world)
    await _someone_new_up_to_consent(rita, "Yvette")
    rita.tap("Yes, they agree")
    await rita.expect_message("What kind of help is needed?")
    rita.tap("Going to an appointment")
    await rita.expect_message("Describe the request")
    rita.send_text("A lift to the doctor and back.")
    await rita.expect_message("Where will the help take place?")
    rita.tap("🏠 At Yvette's place")
    await rita.expect_message("When is the help needed?")
    rita.tap("As soon as possible")
    await rita.expect_message("How many volunteers are needed?")
    rita.tap("1")
    preview = await rita.expect_message("Please check the request")
    assert "Where: Rue du Pré de l'Âne, Le Biollay" in (preview.text or "")

    # Somewhere else: a typed address, confirmed; volunteers see the street, not the number.
    rita.tap(preview, "✏️ Where")
    await rita.expect_message("Where will the help take place?")
    rita.tap("📍 Somewhere else")
    await rita.expect_message("Where will it take place?")
    rita.send_text("15 avenue de Lyon, Chambéry")
    await rita.expect_message("I found:")
    await rita.expect_message("Is this the right place?")
    rita.tap("Yes, that's the place")
    preview = await rita.expect_message("Please check the request")
    public = (preview.text or "").split("🔒")[0]
    assert "Where: Avenue de Lyon, Le Biollay" in public
    assert "15" not in public

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
    rita.tap(preview, POST)
    await rita.expect_message("is posted")
    async with live.services.database.read() as session:
        request = (await session.execute(select(HelpRequest))).scalar_one()
        yvette = (await session.execute(select(Beneficiary))).scalar_one()
    assert (request.latitude, request.longitude) == pytest.approx((45.5619, 5.9139))
    assert request.area_label == "Avenue de Lyon, Le Biollay"
    assert (yvette.latitude, yvette.longitude) == pytest.approx((45.5581, 5.9105))
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
    await _someone_new_up_to_consent(rita, "Marcel")
    rita.tap("No")
    refusal = await rita.expect_message("cannot be posted")
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


async def test_a_double_tap_on_post_creates_one_request(
    world: FakeTelegram, live: PollingBrigade
) -> None:
    rita = await new_referent(live, world)
    await _someone_new_up_to_consent(rita, "Lucien")
    rita.tap("Yes, they agree")
    await rita.expect_message("What kind of help is needed?")
    rita.tap("Friendly visit")
    await rita.expect_message("Describe the request")
    rita.send_text("A chat and a coffee on Sunday afternoon.")
    await rita.expect_message("Where will the help take place?")
    rita.tap("🏠 At Lucien's place")
    await rita.expect_message("When is the help needed?")
    rita.tap("Today")
    await rita.expect_message("How many volunteers are needed?")
    rita.tap("1")
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
    await _someone_new_up_to_consent(rita, "Odette")
    rita.tap("Yes, they agree")
    need = await rita.expect_message("What kind of help is needed?")
    rita.send_command("cancel")
    await rita.expect_message("Request cancelled")
    assert await _count(live, Beneficiary) == 0
    assert await _count(live, HelpRequest) == 0
    assert "posting" not in live.app.user_data.get(rita.id, {})

    answered = len(rita.callback_answers)
    rita.tap(need, "Plumbing")  # a button of the cancelled request
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
    await rita.expect_message("first name")
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
    await rita.expect_message("Does the person agree")
    rita.tap("Yes, they agree")
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
    await rita.expect_message("Where will the help take place?")
    rita.tap("⬅ Back")
    back = await rita.expect_message("Describe the request")
    assert "Now: Hang two shelves in the living room." in (back.text or "")
    assert await _count(live, HelpRequest) == 0
    world.assert_sound()


async def test_a_write_that_fails_after_the_tap_was_answered_is_still_told(
    world: FakeTelegram, live: PollingBrigade, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Post answers the tap, then the database fails: the referent must not be left guessing."""
    rita = await new_referent(live, world)
    await _someone_new_up_to_consent(rita, "Lucien")
    rita.tap("Yes, they agree")
    await rita.expect_message("What kind of help is needed?")
    rita.tap("Friendly visit")
    await rita.expect_message("Describe the request")
    rita.send_text("A chat and a coffee on Sunday afternoon.")
    await rita.expect_message("Where will the help take place?")
    rita.tap("🏠 At Lucien's place")
    await rita.expect_message("When is the help needed?")
    rita.tap("Today")
    await rita.expect_message("How many volunteers are needed?")
    rita.tap("1")
    preview = await rita.expect_message("Please check the request")

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
