"""Taps that cannot be undone ask first or can be undone, and every decision shows in its message.

"Not for me" can be undone for a minute (the injected clock measures it); "⚠️ Report a concern"
asks what the problem is before anything is sent; "Not yet" says when the question comes back;
an application card decided elsewhere loses its buttons and says who decided. (Release, Not done,
Confirmed and Done: tests/e2e/test_request_lifecycle.py.)
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.domain.vocabulary import Role
from bot.services.invites import CreatedInvite
from bot.services.outcomes import Outcome
from bot.services.requests import BeneficiaryDetails, RequestDraft
from storage.models import Claim, Offer
from testkit.clock import ManualClock
from testkit.harness import PollingBrigade
from testkit.telegram import FakeTelegram, FakeUser, StoredMessage
from tests.conftest import COORDINATOR_ID
from tests.factories import CENTRE, enrol, new_referent, new_volunteer, skill_id, the_coordinator

pytestmark = pytest.mark.e2e


async def _town(live: PollingBrigade, world: FakeTelegram) -> tuple[FakeUser, FakeUser]:
    """The coordinator and a referent, in a neighbourhood (no group: offers are private)."""
    claire = await the_coordinator(world)
    rita = await new_referent(live, world)
    neighbourhood = await live.services.neighbourhoods.create(
        COORDINATOR_ID, "Centre-Ville", *CENTRE, 1.5
    )
    assert not isinstance(neighbourhood, Outcome)
    return claire, rita


async def _post(live: PollingBrigade, rita: FakeUser) -> int:
    draft = RequestDraft(
        skill_id=await skill_id(live.services.database, "plumbing"),
        description="Leaking tap under the sink",
        latitude=CENTRE[0],
        longitude=CENTRE[1],
        area_label="Rue de Boigne",
        beneficiary=BeneficiaryDetails(
            name="Mme Jeanne Martin",
            phone="+33 4 79 00 00 00",
            address="27 rue de Boigne, Chambéry",
            latitude=CENTRE[0],
            longitude=CENTRE[1],
            consent=True,
        ),
    )
    posted = await live.services.requests.post(rita.id, draft)
    assert posted is not None
    return posted.request_id


def _clock(live: PollingBrigade) -> ManualClock:
    assert isinstance(live.clock, ManualClock)
    return live.clock


async def _answered(world: FakeTelegram, person: FakeUser, count: int) -> str:
    """The text of the person's callback answer number `count` (waited for)."""
    await world.wait_for(lambda: len(person.callback_answers) >= count, what="the tap's answer")
    return person.callback_answers[count - 1].text or ""


async def _shows(world: FakeTelegram, message: StoredMessage, text: str) -> None:
    await world.wait_for(lambda: text in (message.text or ""), what=f"the message: {text}")


async def _declined_at(live: PollingBrigade, request_id: int) -> object:
    async with live.services.database.read() as session:
        return (
            await session.execute(select(Offer.declined_at).where(Offer.request_id == request_id))
        ).scalar_one()


# --- Not for me, and its Undo -------------------------------------------------------------------


async def test_not_for_me_can_be_undone_for_a_minute_then_it_is_too_late(
    world: FakeTelegram, live: PollingBrigade
) -> None:
    _claire, rita = await _town(live, world)
    nour = await new_volunteer(live, world, "Nour")
    request_id = await _post(live, rita)
    offer = await nour.expect_message(f"Request #{request_id}")
    assert offer.labels == ["✋ I'll do it", "Not for me"]

    # Not for me: the offer says so, with an Undo instead of its buttons.
    nour.tap(offer, "Not for me")
    await _shows(world, offer, "You said this one is not for you.")
    assert offer.labels == ["↩️ Undo"]
    assert await _declined_at(live, request_id) is not None

    # Undo within the minute: the offer is back as it now stands, with its buttons.
    _clock(live).advance(seconds=40)
    nour.tap(offer, "↩️ Undo")
    assert await _answered(world, nour, 2) == "Undone: the offer is back."
    await world.wait_for(lambda: offer.labels == ["✋ I'll do it", "Not for me"], what="back")
    assert "not for you" not in (offer.text or "")
    assert await _declined_at(live, request_id) is None

    # Passed on again; a minute later the Undo answers that it is too late, and goes.
    nour.tap(offer, "Not for me")
    await world.wait_for(lambda: offer.labels == ["↩️ Undo"], what="the Undo")
    _clock(live).advance(seconds=61)
    nour.tap(offer, "↩️ Undo")
    assert (await _answered(world, nour, 4)).startswith("Too late to undo.")
    await world.wait_for(lambda: offer.labels == [], what="the Undo gone")
    assert "not for you" in (offer.text or "")
    assert await _declined_at(live, request_id) is not None
    assert nour.callback_answers[3].show_alert


# --- Report a concern ---------------------------------------------------------------------------


async def test_report_a_concern_asks_what_the_problem_is_before_sending_it(
    world: FakeTelegram, live: PollingBrigade
) -> None:
    claire, rita = await _town(live, world)
    nour = await new_volunteer(live, world, "Nour")
    request_id = await _post(live, rita)
    nour.tap(await nour.expect_message(f"Request #{request_id}"), "✋ I'll do it")
    details = await nour.expect_message("private details")

    # /cancel: nothing is sent.
    nour.tap(details, "⚠️ Report a concern")
    await nour.expect_message("What is the problem?")
    nour.send_command("cancel")
    await nour.expect_message("Nothing was sent.")
    await live.settle()
    assert not any("reports a concern" in (m.text or "") for m in [*rita.inbox, *claire.inbox])

    # Too long after the question: nothing is sent either.
    nour.tap(details, "⚠️ Report a concern")
    await nour.expect_message("What is the problem?")
    _clock(live).advance(minutes=31)
    nour.send_text("The door is locked")
    await nour.expect_message("nothing was sent")
    await live.settle()
    assert not any("reports a concern" in (m.text or "") for m in [*rita.inbox, *claire.inbox])

    # The sentence goes to the referent and the coordinators, in the volunteer's words (a
    # sticker is not one).
    nour.tap(details, "⚠️ Report a concern")
    await nour.expect_message("What is the problem?")
    nour.send_sticker()
    await nour.expect_message("Please write what the problem is in a text message")
    nour.send_text("Nobody opens the door & the neighbour is worried")
    await nour.expect_message("The referent and the coordinators have been alerted")
    for reader in (rita, claire):
        alert = await reader.expect_message("Nour (+33 6 11 22 33 44) reports a concern")
        assert f"request #{request_id}" in (alert.text or "")
        assert "Nobody opens the door & the neighbour is worried" in (alert.text or "")

    # Once per claim: a second tap says it was already reported, and asks nothing.
    asked = sum("What is the problem?" in (m.text or "") for m in nour.inbox)
    nour.tap(details, "⚠️ Report a concern")
    assert "You already reported a concern" in await _answered(world, nour, 5)
    await live.settle()
    assert sum("What is the problem?" in (m.text or "") for m in nour.inbox) == asked


# --- Not yet ------------------------------------------------------------------------------------


async def test_not_yet_says_when_and_i_could_not_do_it_asks_first(
    world: FakeTelegram, live: PollingBrigade
) -> None:
    _claire, rita = await _town(live, world)
    nour = await new_volunteer(live, world, "Nour")
    request_id = await _post(live, rita)
    nour.tap(await nour.expect_message(f"Request #{request_id}"), "✋ I'll do it")
    await nour.expect_message("private details")
    _clock(live).advance(hours=3)
    await live.services.requests.run_due()
    question = await nour.expect_message(f"Is request #{request_id} (Plumbing) done?")

    nour.tap(question, "Not yet")
    await _shows(world, question, "⏳ Not yet: I will ask you again on ")
    assert question.labels == []
    async with live.services.database.read() as session:
        again = (await session.execute(select(Claim.ask_done_at))).scalar_one()
    assert again is not None
    local = again.astimezone(live.services.settings.tz)
    # In the reader's language and the town's time: "on Tuesday 24 November, 12:00".
    assert f"on {local:%A} {local.day} {local:%B}, {local:%H:%M}." in (question.text or "")

    # Asked again; "I could not do it" gives the claim back: asked first, in the question.
    _clock(live).advance(hours=25)
    await live.services.requests.run_due()
    again = await nour.expect_message(f"Is request #{request_id} (Plumbing) done?")
    nour.tap(again, "I could not do it")
    await world.wait_for(lambda: "Yes, give it back" in again.labels, what="the question")
    assert "back? It will be offered to other volunteers" in (again.text or "")
    nour.tap(again, "No, keep it")
    await world.wait_for(lambda: "I could not do it" in again.labels, what="kept")
    await live.settle()
    assert not any("could not do your request" in (m.text or "") for m in rita.inbox)
    nour.tap(again, "I could not do it")
    await world.wait_for(lambda: "Yes, give it back" in again.labels, what="asked again")
    nour.tap(again, "Yes, give it back")
    await rita.expect_message(f"Nour could not do your request #{request_id}")
    await _shows(world, again, f"Request #{request_id} is no longer yours")
    assert (again.text or "").startswith(f"Is request #{request_id} (Plumbing) done?")
    assert "back?" not in (again.text or "")
    assert again.labels == []


# --- application cards decided elsewhere --------------------------------------------------------


async def test_every_copy_of_an_application_card_follows_the_decision(
    world: FakeTelegram, live: PollingBrigade
) -> None:
    claire = await the_coordinator(world)
    created = await live.services.invites.create(COORDINATOR_ID, Role.COORDINATOR)
    assert isinstance(created, CreatedInvite)
    dora = world.add_user("Dora", language_code="fr")
    dora.start(created.start_payload)
    await dora.expect_message("Vous faites désormais partie de la coordination")
    marc = world.add_user("Marc", language_code="en")
    member_id = await enrol(live, marc, skills=("shopping",))

    # The cards sent at sign-up (one per coordinator, through the outbox), and Dora's copy
    # from /pending.
    await live.services.volunteers.send_card(member_id)
    claire_card = await claire.expect_message("New volunteer application.")
    dora_card = await dora.expect_message("Nouvelle candidature")
    dora.send_command("pending")
    dora_listed = await dora.expect_message("Candidature de bénévole\u202f: Marc")
    assert dora_listed.labels == ["✅ Valider", "❌ Refuser"]

    # Claire approves from her card: every copy says so, and its Approve / Reject are gone.
    claire.tap(claire_card, "✅ Approve")
    await _shows(world, claire_card, "Approved by Claire.")
    for card in (dora_card, dora_listed):
        await _shows(world, card, "Validée par Claire.")
        assert card.labels == []
        assert "Statut : validée" in (card.text or "").replace("\u202f", " ")

    # A tap from a card not yet edited (a slow phone) is answered with who decided; nothing
    # changes, and the card is brought up to date — Approve and Reject alike.
    answers = len(dora.callback_answers)
    dora.tap_data(dora_listed, f"vet:approve:{member_id}")
    said = await _answered(world, dora, answers + 1)
    assert "validée par Claire" in said.replace("\u202f", " ")
    dora.tap_data(dora_card, f"vet:reject:{member_id}")
    said = await _answered(world, dora, answers + 2)
    assert "validée par Claire" in said.replace("\u202f", " ")
    await live.settle()
    assert not any("Pourquoi" in (m.text or "") for m in dora.inbox)  # no reason asked
    decision = await live.services.volunteers.decided(member_id)
    assert (decision.approved, decision.decided_by) == (True, "Claire")
    assert sum("Good news" in (m.text or "") for m in marc.inbox) == 1  # told once

    # Turned down with a reason on Claire's card: Dora's copy says so too, and by whom.
    lina = world.add_user("Lina", language_code="en")
    await live.services.volunteers.send_card(await enrol(live, lina, skills=("shopping",)))
    claire_lina = await claire.expect_message("Volunteer application: Lina")
    dora_lina = await dora.expect_message("Candidature de bénévole\u202f: Lina")
    claire.tap(claire_lina, "❌ Reject")
    await claire.expect_message("Why is Lina's application not accepted?")
    claire.send_text("No volunteer is needed in Le Biollay for now.")
    await _shows(world, dora_lina, "Candidature non retenue par Claire.")
    assert dora_lina.labels == ["Autoriser une nouvelle candidature"]
