"""/ask end to end, over HTTP: a member (or someone who registers by asking) asks for themselves;
the request waits for a referent's or a coordinator's validation before anyone is offered it."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from bot.services.outcomes import Outcome
from bot.services.requests import Asked, BeneficiaryDetails, RequestDraft
from storage.models import Beneficiary, HelpRequest, Member, Offer
from testkit.harness import PollingBrigade
from testkit.telegram import FakeGroup, FakeTelegram, FakeUser
from tests.conftest import COORDINATOR_ID
from tests.factories import CENTRE, new_referent, new_volunteer, skill_id, the_coordinator

pytestmark = pytest.mark.e2e

SEND = "📨 Send for validation"
APPROVE = "✅ Approve as is"


async def _town(live: PollingBrigade, world: FakeTelegram) -> tuple[FakeUser, FakeUser, FakeGroup]:
    """A coordinator, a referent, the Centre-Ville neighbourhood with its group."""
    claire = await the_coordinator(world)
    rita = await new_referent(live, world)
    neighbourhood = await live.services.neighbourhoods.create(
        COORDINATOR_ID, "Centre-Ville", *CENTRE, 1.5
    )
    assert not isinstance(neighbourhood, Outcome)
    group = world.add_group("Brigade Centre-Ville", [claire, rita])
    linked = await live.services.neighbourhoods.link_group(
        COORDINATOR_ID, neighbourhood.id, group.id
    )
    assert linked is Outcome.DONE
    return claire, rita, group


async def _ask_from_the_need(
    live: PollingBrigade, person: FakeUser, need: str, description: str
) -> int:
    """The need, the description, as soon as possible, the preview, Send; the request's id."""
    menu = await person.expect_message()
    person.tap(menu, need)
    await person.expect_message()
    person.send_text(description)
    when = await person.expect_message()
    person.tap(when, when.labels[0])  # as soon as possible
    preview = await person.expect_message()
    person.tap(preview, preview.labels[3])  # Send (after the three edit buttons)
    await person.expect_message("validation")
    async with live.services.database.read() as session:
        return int((await session.execute(select(func.max(HelpRequest.id)))).scalar_one())


async def _offers(live: PollingBrigade) -> int:
    async with live.services.database.read() as session:
        return int((await session.execute(select(func.count()).select_from(Offer))).scalar_one())


async def test_a_volunteer_asks_and_nothing_is_offered_before_a_referent_approves(
    world: FakeTelegram, live: PollingBrigade
) -> None:
    claire, rita, group = await _town(live, world)
    nour = await new_volunteer(live, world, "Nour", km=0.5, skills=["plumbing"])
    vera = await new_volunteer(live, world, "Vera", km=0.3, skills=["shopping"])

    vera.send_command("ask")
    await vera.expect_message("You are asking the brigade for help for yourself")
    assert vera.reply_keyboard == [["Vera"]]
    vera.send_text("Vera")
    await vera.expect_message("What is your phone number?")
    # An approved member may keep their number to themselves.
    assert vera.reply_keyboard == [["📱 Share my number"], ["Skip", "⬅ Back"]]
    vera.press("Skip")
    await vera.expect_message("Where do you live?")
    vera.send_sticker()
    await vera.expect_message("did not understand")
    await vera.expect_message("Where do you live?")
    vera.send_location(*CENTRE)
    await vera.expect_message("Location received.")
    await vera.expect_message("Anything that helps to get in")
    vera.send_text("2nd floor, code 4711")
    consent = await vera.expect_message("Do you agree")
    vera.tap(consent, "Yes, I agree")
    await vera.expect_message("What kind of help is needed?")
    vera.tap("Plumbing")
    await vera.expect_message("Describe the request")
    vera.send_text("My kitchen tap is leaking.")
    when = await vera.expect_message("When is the help needed?")
    vera.tap(when, "As soon as possible")
    preview = await vera.expect_message("Please check the request")
    assert "Person: Vera" in (preview.text or "")
    vera.tap(preview, SEND)
    sent = await vera.expect_message("was sent for validation")
    async with live.services.database.read() as session:
        request = (await session.execute(select(HelpRequest))).scalar_one()
        person = (await session.execute(select(Beneficiary))).scalar_one()
        asker = (
            await session.execute(select(Member).where(Member.telegram_id == vera.id))
        ).scalar_one()
    assert f"#{request.id}" in (sent.text or "")
    assert person.member_id == asker.id
    assert request.referent_id == asker.id
    assert person.access_notes == "2nd floor, code 4711"

    # The validators get a card; nobody is offered anything, in private or in the group.
    rita_card = await rita.expect_message("Vera asks for help for themselves")
    claire_card = await claire.expect_message("Vera asks for help for themselves")
    assert "code 4711" not in (rita_card.text or "")
    await live.settle()
    assert not [m for m in nour.inbox if "Request #" in (m.text or "")]
    assert group.messages == []
    assert await _offers(live) == 0
    # The timers do not offer it either.
    await live.services.requests.run_due()
    # A volunteer and the asker herself cannot approve it (forged taps on their own messages).
    nour.send_command("start")
    await nour.expect_message()
    nour_tap = nour.tap_data(nour.last_message, f"va:approve:{request.id}")
    vera_tap = vera.tap_data(vera.last_message, f"va:approve:{request.id}")
    assert "never the person who asked" in await nour.answer_to(nour_tap)
    assert "never the person who asked" in await vera.answer_to(vera_tap)
    await live.settle()
    assert await _offers(live) == 0

    # Rita approves: offered now; every card says who approved; the asker is told.
    approval = rita.tap(rita_card, APPROVE)
    assert "Approved: 1 volunteer received it now." in await rita.answer_to(approval)
    offer = await nour.expect_message(f"Request #{request.id}")
    assert "code 4711" not in (offer.text or "")
    assert "Vera" not in (offer.text or "")
    await group.expect_message("My kitchen tap is leaking.")
    await vera.expect_message("was validated and is now offered")
    await world.wait_for(
        lambda: "Approved by Rita" in (world.message(claire.id, claire_card.message_id).text or "")
    )
    assert world.message(claire.id, claire_card.message_id).labels == []
    # A late second approval is told who was quicker.
    late = claire.tap_data(
        world.message(claire.id, claire_card.message_id), f"va:approve:{request.id}"
    )
    assert "Rita decided on this request already." in await claire.answer_to(late)

    # Nour claims: the private details are Vera's own.
    nour.tap(offer, "✋ I'll do it")
    details = await nour.expect_message("Here are the private details")
    for shown in ("Person: Vera", "Access: 2nd floor, code 4711"):
        assert shown in (details.text or "")
    assert "Referent:" not in (details.text or "")
    await vera.expect_message("Nour")


async def test_someone_new_registers_by_asking_and_a_decline_reaches_them_in_french(
    world: FakeTelegram, live: PollingBrigade
) -> None:
    claire, rita, _group = await _town(live, world)
    nour = await new_volunteer(live, world, "Nour", km=0.5, skills=["plumbing"])
    albert = world.add_user("Albert", language_code="fr")

    albert.send_command("ask")
    await albert.expect_message("Vous demandez de l’aide")
    albert.send_command("help")
    await albert.expect_message("/cancel")
    await albert.expect_message("Vous demandez de l’aide")
    albert.send_text("Albert L.")
    await albert.expect_message("numéro de téléphone")
    # Someone with no role yet must give a number: no Skip for them.
    assert albert.reply_keyboard == [["📱 Partager mon numéro"], ["⬅ Retour"]]
    albert.send_text("pas de téléphone")
    await albert.expect_message("ne ressemble pas à un numéro")
    albert.send_contact("+32 2 555 12 34")
    await albert.expect_message("Où habitez-vous")
    albert.send_text("27 rue de Boigne, Chambéry")
    await albert.expect_message("J’ai trouvé")
    place = await albert.expect_message("Est-ce le bon endroit")
    albert.tap(place, place.labels[0])
    notes = await albert.expect_message()
    albert.tap(notes, "Passer")
    consent = await albert.expect_message("Acceptez-vous")
    albert.tap(consent, consent.labels[0])
    request_id = await _ask_from_the_need(
        live, albert, "Plomberie", "Le robinet de la cuisine fuit."
    )
    async with live.services.database.read() as session:
        registered = (await session.execute(select(Beneficiary))).scalar_one()
    assert (registered.name, registered.phone) == ("Albert L.", "+32 2 555 12 34")

    card = await claire.expect_message("Albert asks for help for themselves")
    await rita.expect_message("Albert asks for help for themselves")
    claire.tap(card, "❌ Decline")
    await claire.expect_message(f"Why is request #{request_id} declined?")
    # A sticker, a command, a reason too long: said so, asked again, nothing decided yet.
    claire.send_sticker()
    await claire.expect_message("did not understand")
    await claire.expect_message(f"Why is request #{request_id} declined?")
    claire.send_command("stats")
    await claire.expect_message("Type your answer about the request above")
    await claire.expect_message(f"Why is request #{request_id} declined?")
    claire.send_text("x" * 501)
    await claire.expect_message("at most 500 characters")
    claire.send_text("The town's plumber comes tomorrow: we asked him to stop by.")
    await claire.expect_message("Declined. The person was told the reason.")
    told = await albert.expect_message("n’a pas été validée")
    assert "The town's plumber comes tomorrow" in (told.text or "")
    await world.wait_for(lambda: "Declined by Claire" in (rita.last_message.text or ""))
    # The old card's buttons, or a forged request id, are answered without acting.
    stale = claire.tap_data(card, f"va:decline:{request_id}")
    assert await claire.answer_to(stale) == "This request was already decided."
    forged = claire.tap_data(card, "va:approve:99999")
    assert await claire.answer_to(forged) == "This request no longer exists."
    await live.settle()
    assert await _offers(live) == 0
    assert not [m for m in nour.inbox if "Request #" in (m.text or "")]


async def test_two_validators_approving_at_once_post_it_once(
    world: FakeTelegram, live: PollingBrigade
) -> None:
    claire, rita, group = await _town(live, world)
    nour = await new_volunteer(live, world, "Nour", km=0.5, skills=["plumbing"])
    vera = await new_volunteer(live, world, "Vera", km=0.3, skills=["shopping"])
    plumbing = await skill_id(live.services.database, "plumbing")
    asked = await live.services.requests.ask(
        vera.id,
        RequestDraft(
            skill_id=plumbing,
            description="Leaking tap",
            latitude=CENTRE[0],
            longitude=CENTRE[1],
            area_label="Rue de Boigne",
            beneficiary=BeneficiaryDetails("Vera", None, "1 rue X", *CENTRE, consent=True),
        ),
    )
    assert isinstance(asked, Asked)
    rita_card = await rita.expect_message("asks for help")
    claire_card = await claire.expect_message("asks for help")
    # Both taps are queued before the bot fetches either.
    rita_tap = rita.tap(rita_card, APPROVE)
    claire_tap = claire.tap(claire_card, APPROVE)
    answers = sorted([await rita.answer_to(rita_tap), await claire.answer_to(claire_tap)])
    assert sum(answer.startswith("Approved:") for answer in answers) == 1
    assert sum("decided on this request already" in answer for answer in answers) == 1
    await live.settle()
    assert await _offers(live) == 2  # Nour's copy and the group's, once each
    assert len([m for m in nour.inbox if "Request #" in (m.text or "")]) == 1
    assert len(group.messages) == 1


@pytest.mark.live_settings(requests_need_validation=True)
async def test_with_the_setting_a_referents_request_waits_for_a_coordinator(
    world: FakeTelegram, live: PollingBrigade
) -> None:
    claire, rita, group = await _town(live, world)
    nour = await new_volunteer(live, world, "Nour", km=0.5, skills=["plumbing"])
    plumbing = await skill_id(live.services.database, "plumbing")
    posted = await live.services.requests.post(
        rita.id,
        RequestDraft(
            skill_id=plumbing,
            description="Leaking tap",
            latitude=CENTRE[0],
            longitude=CENTRE[1],
            area_label="Rue de Boigne",
            beneficiary=BeneficiaryDetails(
                "Jeanne", None, "27 rue de Boigne", *CENTRE, consent=True
            ),
        ),
    )
    assert posted is not None
    assert posted.awaiting_validation
    card = await claire.expect_message("Rita posted a request")
    await live.settle()
    assert not [m for m in rita.inbox if "posted a request" in (m.text or "")]
    assert await _offers(live) == 0
    # The referent who posted it may not validate it herself.
    own = rita.tap_data(rita.last_message, f"va:approve:{posted.request_id}")
    assert "never the person who asked" in await rita.answer_to(own)

    # The coordinator edits the description, which approves it.
    claire.tap(card, "✏️ Edit, then approve")
    change = await claire.expect_message(f"What do you change in request #{posted.request_id}")
    assert change.labels == ["✏️ Description", "✏️ When", "✖ Cancel"]
    claire.tap(change, "✏️ Description")
    await claire.expect_message("Type the new description")
    claire.send_text("The kitchen tap leaks: bring a washer.")
    await claire.expect_message("Approved: 1 volunteer received it now.")
    offer = await nour.expect_message(f"Request #{posted.request_id}")
    assert "bring a washer" in (offer.text or "")
    await group.expect_message("bring a washer")
    await rita.expect_message("was validated and is now offered")
