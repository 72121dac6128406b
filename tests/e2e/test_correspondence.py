"""Issue 14 items 1 and 8 end to end over HTTP: the claimer and the referent write to each other
through the bot, and anyone writes to the coordinators, who answer through the bot."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.domain.vocabulary import Role
from bot.services.invites import CreatedInvite
from bot.services.members import TelegramIdentity
from bot.services.outcomes import Outcome
from bot.services.requests import BeneficiaryDetails, RequestDraft
from bot.services.volunteers import VolunteerApplication
from storage.models import AuditEvent, OutboxMessage
from testkit.harness import PollingBrigade
from testkit.telegram import FakeTelegram, FakeUser, StoredMessage
from tests.conftest import COORDINATOR_ID
from tests.factories import CENTRE, approve_application, east, skill_id, the_coordinator

pytestmark = pytest.mark.e2e

WRITE_TO_REFERENT = "💬 Write to the referent"
REPLY = "↩ Reply"
CLOSED = "The conversation about request #{id} is closed"


def _now(world: FakeTelegram, person: FakeUser, message: StoredMessage) -> str:
    """The text a message of the person's chat shows now (after edits)."""
    return world.message(person.id, message.message_id).text or ""


async def _referent(live: PollingBrigade, world: FakeTelegram, *, share: str | None) -> FakeUser:
    """Rita opens her invitation; she gives `share` as the number her claimers see, or none."""
    await the_coordinator(world)
    created = await live.services.invites.create(COORDINATOR_ID, Role.REFERENT)
    assert isinstance(created, CreatedInvite)
    rita = world.add_user(
        "Rita", language_code="en", username="rita_private", phone_number="+33 7 00 00 00 01"
    )
    rita.start(created.start_payload)
    question = await rita.expect_message("see a phone number? (optional)")
    if share is None:
        rita.tap(question, "No, through the bot only")
        await world.wait_for(lambda: "Understood" in _now(world, rita, question))
    else:
        rita.tap(question, "Give my number")
        await rita.expect_message("Share your number")
        rita.send_text(share)
        await rita.expect_message("will see " + share)
    return rita


async def _volunteer_without_phone(live: PollingBrigade, world: FakeTelegram) -> FakeUser:
    """Nour, approved for plumbing, who gave no phone at sign-up (and has a username)."""
    nour = world.add_user(
        "Nour", language_code="en", username="nour_private", phone_number="+33 6 99 99 99 99"
    )
    services = live.services
    await services.members.identify(TelegramIdentity(nour.id, "Nour", language_code="en"))
    latitude, longitude = east(0.3)
    submitted = await services.volunteers.submit(
        nour.id,
        VolunteerApplication(
            display_name="Nour",
            phone=None,
            latitude=latitude,
            longitude=longitude,
            radius_km=2.0,
            skill_ids=(await skill_id(services.database, "plumbing"),),
            availability=(),
            charter_version="2026-11",
            neighbourhood_id=None,
        ),
    )
    assert not isinstance(submitted, Outcome)
    await approve_application(live, nour)
    return nour


async def _claimed(
    live: PollingBrigade, world: FakeTelegram, rita: FakeUser, nour: FakeUser
) -> tuple[int, StoredMessage, StoredMessage]:
    """Rita posts a request, Nour takes it: the request id, Nour's details, Rita's notice."""
    draft = RequestDraft(
        skill_id=await skill_id(live.services.database, "plumbing"),
        description="Leaking tap under the sink",
        latitude=CENTRE[0],
        longitude=CENTRE[1],
        area_label="Rue de Boigne",
        places_needed=1,
        beneficiary=BeneficiaryDetails(
            name="Mme Jeanne Martin",
            phone="+33 4 79 00 00 00",
            address="27 rue de Boigne, Chambéry",
            latitude=CENTRE[0],
            longitude=CENTRE[1],
            access_notes=None,
            consent=True,
        ),
    )
    posted = await live.services.requests.post(rita.id, draft)
    assert posted is not None
    offer = await nour.expect_message(f"Request #{posted.request_id}")
    nour.tap(offer, "I'll do it")
    details = await nour.expect_message("Here are the private details")
    taken = await rita.expect_message("takes your request")
    return posted.request_id, details, taken


async def _write(person: FakeUser, on: StoredMessage, label: str, expect: str) -> None:
    """Tap a write button and wait for the prompt."""
    person.tap(on, label)
    await person.expect_message(expect)


async def test_claimer_and_referent_write_both_ways_without_phone_or_username(
    world: FakeTelegram, live: PollingBrigade
) -> None:
    rita = await _referent(live, world, share=None)
    nour = await _volunteer_without_phone(live, world)
    request_id, details, taken = await _claimed(live, world, rita, nour)
    assert WRITE_TO_REFERENT in details.labels
    assert "💬 Write to Nour" in taken.labels
    assert "Referent: Rita (via Telegram)" in (details.text or "")

    # 1. Nour writes a text to Rita.
    await _write(nour, details, WRITE_TO_REFERENT, "Write your message to the referent")
    nour.send_text("I will come at 5 pm, is the building door open?")
    await nour.expect_message(f"Sent to the referent of request #{request_id}")
    header = await rita.expect_message(f"💬 Nour writes to you about request #{request_id}:")
    copy = await rita.expect_message("I will come at 5 pm")
    assert copy.message_id > header.message_id
    assert copy.labels == [REPLY]

    # 2. Rita answers with a photo (of the door code panel), from the copy's Reply.
    await _write(rita, copy, REPLY, f"Write your message to Nour about request #{request_id}")
    rita.send_photo(caption="The entrance")
    await rita.expect_message("Sent to Nour")
    await nour.expect_message(f"💬 Rita writes to you about request #{request_id}:")
    photo = await nour.expect_message("The entrance")
    assert photo.content.get("photo")
    assert photo.labels == [REPLY]

    # 3. Nour answers the photo with a photo; 4. Rita with a text.
    await _write(nour, photo, REPLY, "Write your message to the referent")
    nour.send_photo(caption="Found it")
    await nour.expect_message("Sent to the referent")
    nour_photo = await rita.expect_message("Found it")
    assert nour_photo.content.get("photo")
    await _write(rita, nour_photo, REPLY, "Write your message to Nour")
    rita.send_text("Thank you, see you soon")
    await rita.expect_message("Sent to Nour")
    await nour.expect_message("Thank you, see you soon")
    await live.settle()

    # Neither saw the other's phone or username; every copy comes from the bot, unforwarded.
    for reader, other in ((rita, nour), (nour, rita)):
        secrets = [other.username, other.phone_number]
        assert None not in secrets
        for message in world.messages_in(reader.id):
            shown = " ".join(filter(None, [message.text, message.caption]))
            assert not any(secret in shown for secret in secrets if secret), shown
            assert message.from_bot or message.sender["id"] == reader.id
            assert "forward_origin" not in message.to_api()

    # The audit log holds four interactions — who, about which claim — never their content.
    async with live.services.database.read() as session:
        events = (
            (await session.execute(select(AuditEvent).where(AuditEvent.action == "write")))
            .scalars()
            .all()
        )
        copies = (
            (
                await session.execute(
                    select(OutboxMessage).where(OutboxMessage.method == "copy_message")
                )
            )
            .scalars()
            .all()
        )
    nour_id = (await live.services.members.find(nour.id)).id  # type: ignore[union-attr]
    rita_id = (await live.services.members.find(rita.id)).id  # type: ignore[union-attr]
    assert [(e.entity, e.actor_member_id) for e in events] == [
        ("claim", nour_id),
        ("claim", rita_id),
        ("claim", nour_id),
        ("claim", rita_id),
    ]
    assert [e.detail for e in events] == [{"to": side} for side in ("referent", "volunteer") * 2]
    recorded = repr([(e.detail, e.from_state, e.to_state) for e in events])
    assert "5 pm" not in recorded
    assert "Thank you" not in recorded
    assert len(copies) == 4
    assert all(row.payload == {} for row in copies)


async def test_once_the_claim_ends_writing_is_refused_and_nothing_is_sent(
    world: FakeTelegram, live: PollingBrigade
) -> None:
    rita = await _referent(live, world, share=None)
    nour = await _volunteer_without_phone(live, world)
    request_id, details, taken = await _claimed(live, world, rita, nour)
    # Rita starts writing; before she sends it, Nour gives the request back.
    await _write(rita, taken, "💬 Write to Nour", "Write your message to Nour")
    write_data = details.button(WRITE_TO_REFERENT).callback_data
    assert write_data is not None
    nour.tap(details, "Release")  # asked first, in the details message
    await world.wait_for(lambda: "Yes, give it back" in details.labels, what="the question")
    nour.tap(details, "Yes, give it back")
    await rita.expect_message("Nour released your request")
    rita.send_text("Are you still coming?")
    await rita.expect_message(CLOSED.format(id=request_id))
    # The details message lost its buttons; a tap on the old write button (a stale copy) says
    # the same, as an alert, and asks for nothing.
    assert WRITE_TO_REFERENT not in details.labels
    answered = len(nour.callback_answers)
    nour.tap_data(details, write_data)
    await world.wait_for(lambda: len(nour.callback_answers) > answered)
    answer = nour.callback_answers[-1]
    assert answer.show_alert
    assert CLOSED.format(id=request_id) in (answer.text or "")
    await live.settle()
    assert not any("Are you still coming?" in (m.text or "") for m in nour.inbox)
    assert not any("Write your message" in (m.text or "") for m in nour.inbox)


async def test_a_referent_who_shares_a_phone_is_shown_with_it_to_the_claimer(
    world: FakeTelegram, live: PollingBrigade
) -> None:
    rita = await _referent(live, world, share="+33 4 79 12 34 56")
    nour = await _volunteer_without_phone(live, world)
    _request_id, details, _taken = await _claimed(live, world, rita, nour)
    assert "Referent: Rita (+33 4 79 12 34 56)" in (details.text or "")
    assert WRITE_TO_REFERENT in details.labels


async def test_a_message_to_the_coordinators_and_their_answer(
    world: FakeTelegram, live: PollingBrigade
) -> None:
    claire = await the_coordinator(world)
    bob = world.add_user("Bob", language_code="en", username="bob_private")
    bob.send_command("start")
    await bob.expect_message()
    bob.send_text("My neighbour has not opened her shutters for three days")
    question = await bob.expect_message("send it to the coordinators")
    bob.tap(question, "Send it")
    await world.wait_for(lambda: "Sent to the coordinators" in _now(world, bob, question))
    # The decision is shown in the message it was taken on, whose buttons are gone.
    assert world.message(bob.id, question.message_id).labels == []

    await claire.expect_message("📨 Bob writes to the coordinators")
    copy = await claire.expect_message("has not opened her shutters")
    assert copy.labels == [REPLY]
    await _write(claire, copy, REPLY, "Write your answer to Bob")
    claire.send_text("Thank you Bob, we are calling her now")
    await claire.expect_message("Sent to Bob")
    header = await bob.expect_message("📨 The coordinators answer:")
    answer = await bob.expect_message("we are calling her now")
    assert answer.message_id > header.message_id
    assert answer.labels == [REPLY]

    # Bob answers back with a photo, through the Reply under their answer.
    await _write(bob, answer, REPLY, "Write your message to the coordinators")
    bob.send_photo(caption="Her door")
    await bob.expect_message("Sent to the coordinators")
    assert (await claire.expect_message("Her door")).content.get("photo")
    await live.settle()
    assert not any("bob_private" in (m.text or "") for m in claire.inbox)
    assert not any(str(COORDINATOR_ID) in (m.text or "") for m in bob.inbox)
