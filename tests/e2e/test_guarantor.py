"""Issue 17 end to end over HTTP: the coordinator as guarantor (/members, suspend, reinstate,
a referent's role withdrawn with their requests handed over, the coordinators who stay)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.domain.vocabulary import ClaimStatus, VolunteerStatus
from bot.services.requests import BeneficiaryDetails, RequestDraft
from storage.models import AuditEvent, Claim, HelpRequest, Member
from testkit.harness import PollingBrigade
from testkit.telegram import FakeTelegram, FakeUser, StoredMessage
from tests.conftest import COORDINATOR_ID
from tests.factories import CENTRE, new_referent, new_volunteer, skill_id, the_coordinator

pytestmark = pytest.mark.e2e


def _draft(skill: int) -> RequestDraft:
    return RequestDraft(
        skill_id=skill,
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
            access_notes="3rd floor, code 1234",
            consent=True,
        ),
    )


async def _post(live: PollingBrigade, referent: FakeUser) -> int:
    posted = await live.services.requests.post(
        referent.id, _draft(await skill_id(live.services.database, "plumbing"))
    )
    assert posted is not None
    return posted.request_id


async def _open_card(
    live: PollingBrigade, claire: FakeUser, fragment: str, name: str
) -> StoredMessage:
    """/members <fragment>, then the button of `name`: the list message becomes the card."""
    claire.send_command("members", fragment)
    listing = await claire.expect_message("Members matching")
    assert name in (listing.text or "")
    claire.tap(listing, name)
    await live.world.wait_for(
        lambda: "Claims — taken" in (listing.text or ""), what="the list edited into the card"
    )
    return listing


async def test_a_suspended_volunteer_loses_their_claim_and_offers_until_reinstated(
    world: FakeTelegram, live: PollingBrigade
) -> None:
    claire = await the_coordinator(world)
    rita = await new_referent(live, world)
    nour = await new_volunteer(live, world, "Nour Benali", km=0.5)
    omar = await new_volunteer(live, world, "Omar", km=0.8)

    first = await _post(live, rita)
    offer = await nour.expect_message(f"Request #{first}")
    omar_offer = await omar.expect_message(f"Request #{first}")
    nour.tap(offer, "I'll do it")
    details = await nour.expect_message("Here are the private details")
    assert "Mme Jeanne Martin" in (details.text or "")
    await world.wait_for(lambda: omar_offer.labels == [], what="Omar's copy shows it is taken")

    # A fragment of the name finds her; her card shows her claim; she is suspended.
    card = await _open_card(live, claire, "benal", "Nour Benali")
    assert "Claims — taken: 1" in (card.text or "")
    claire.tap(card, "Suspend")
    await claire.expect_message("Why is Nour Benali suspended?")
    claire.send_text("Rude to Mme Martin's neighbour")
    await world.wait_for(lambda: "Suspend Nour Benali?" in (card.text or ""), what="question")
    assert "1 claim" in (card.text or "")
    assert "Rude to Mme" in (card.text or "")
    claire.tap(card, "Yes")
    await world.wait_for(lambda: "Suspended by Claire" in (card.text or ""), what="card")
    assert "Status: suspended" in (card.text or "")
    assert "Reinstate" in " ".join(card.labels)

    # At once: she is told why, the details leave her chat, Rita is told, Omar's copy is back.
    told = await nour.expect_message("suspended your participation")
    assert "Rude to Mme Martin's neighbour" in (told.text or "")
    await world.wait_for(
        lambda: "have been removed" in (details.text or ""), what="details replaced"
    )
    assert "Jeanne" not in (details.text or "")
    await rita.expect_message(f"Nour Benali can no longer take your request #{first}")
    await world.wait_for(
        lambda: "I'll do it" in " ".join(omar_offer.labels), what="Omar's copy offers it again"
    )
    omar.tap(omar_offer, "I'll do it")
    await omar.expect_message("Here are the private details")

    # A new request does not reach her; her forged and old taps are refused.
    second = await _post(live, rita)
    await omar.expect_message(f"Request #{second}")
    await live.settle()
    assert not any(f"#{second}" in (m.text or "") for m in nour.inbox)
    nour.tap_data(offer, f"cl:{second}")
    nour.tap_data(offer, f"cl:{first}")
    await world.wait_for(lambda: len(nour.callback_answers) >= 3, what="both taps answered")
    for answer in nour.callback_answers[-2:]:
        assert "Only approved volunteers" in (answer.text or "")
    # She cannot apply again.
    nour.send_command("join")
    await nour.expect_message("you cannot apply again")

    async with live.services.database.read() as session:
        claims = {
            claim.status
            for claim in (await session.execute(select(Claim).where(Claim.request_id == first)))
            .scalars()
            .all()
        }
        event = (
            await session.execute(select(AuditEvent).where(AuditEvent.action == "suspend"))
        ).scalar_one()
    assert claims == {ClaimStatus.RELEASED, ClaimStatus.ACTIVE}  # hers given back, Omar's
    assert event.detail
    assert event.detail["reason"] == "Rude to Mme Martin's neighbour"
    coordinator = await live.services.members.find(COORDINATOR_ID)
    assert coordinator is not None
    assert event.actor_member_id == coordinator.id

    # Reinstated: approved again without a new application, told, and offers reach her.
    claire.tap(card, "Reinstate")
    await claire.expect_message("Why is Nour Benali reinstated?")
    claire.send_command("skip")
    await world.wait_for(lambda: "Reinstate Nour Benali?" in (card.text or ""), what="question")
    claire.tap(card, "Yes")
    await world.wait_for(lambda: "Reinstated by Claire" in (card.text or ""), what="card")
    await nour.expect_message("lifted your suspension")
    third = await _post(live, rita)
    await nour.expect_message(f"Request #{third}")
    member = await live.services.members.find(nour.id)
    assert member is not None
    assert member.volunteer_status is VolunteerStatus.APPROVED


async def test_a_referent_role_withdrawn_hands_their_requests_to_the_coordinator(
    world: FakeTelegram, live: PollingBrigade
) -> None:
    claire = await the_coordinator(world)
    rita = await new_referent(live, world, "Rita Lopez")
    await new_volunteer(live, world, "Nour", km=0.5)
    request_id = await _post(live, rita)

    card = await _open_card(live, claire, "lopez", "Rita Lopez")
    claire.tap(card, "Withdraw the referent role")
    await claire.expect_message("referent role withdrawn?")
    claire.send_text("Left the social services")
    await world.wait_for(lambda: "referent role?" in (card.text or ""), what="question")
    claire.tap(card, "Yes")
    await world.wait_for(lambda: "withdrawn by Claire" in (card.text or ""), what="card")

    handed = await claire.expect_message("is now yours to follow")
    assert f"#{request_id}" in (handed.text or "")
    told = await rita.expect_message("withdrawn your role of referent")
    assert "Left the social services" in (told.text or "")
    async with live.services.database.read() as session:
        request = await session.get(HelpRequest, request_id)
        holder = (
            await session.execute(select(Member).where(Member.telegram_id == COORDINATOR_ID))
        ).scalar_one()
    assert request is not None
    assert request.referent_id == holder.id
    rita.send_command("new")
    await rita.expect_message("Only the brigade's referents")

    # The coordinator named in the settings: no button, the card says why, a forged tap fails.
    own = await _open_card(live, claire, "claire", "Claire")
    assert "cannot be withdrawn from the chat" in (own.text or "")
    assert not any("coordinator role" in label for label in own.labels)
    claire.tap_data(own, f"st:uncoord:{holder.id}")
    await world.wait_for(
        lambda: "no longer applies" in (claire.callback_answers[-1].text or ""),
        what="the forged withdrawal refused",
    )
    still = await live.services.members.find(COORDINATOR_ID)
    assert still is not None
    assert still.is_coordinator


async def test_a_referent_raises_a_volunteers_conduct_with_the_coordinators_only(
    world: FakeTelegram, live: PollingBrigade
) -> None:
    claire = await the_coordinator(world)
    rita = await new_referent(live, world)
    nour = await new_volunteer(live, world, "Nour Benali", km=0.5)
    request_id = await _post(live, rita)
    offer = await nour.expect_message(f"Request #{request_id}")
    nour.tap(offer, "I'll do it")
    details = await nour.expect_message("Here are the private details")
    nour.tap(details, "Done")
    asked = await rita.expect_message("says your request")

    # Not done, then: it is about the volunteer's conduct (asked first, then told).
    rita.tap(asked, "Not done")
    await world.wait_for(lambda: "Yes, it was not done" in asked.labels, what="asked first")
    rita.tap(asked, "Yes, it was not done")
    await world.wait_for(
        lambda: asked.labels == ["⚠️ About the volunteer's conduct"], what="conduct button left"
    )
    conduct_data = str(asked.button("About the volunteer's conduct").callback_data)
    rita.tap(asked, "About the volunteer's conduct")
    await world.wait_for(lambda: "Yes, tell the coordinators" in " ".join(asked.labels))
    rita.tap(asked, "Yes, tell the coordinators")
    await world.wait_for(
        lambda: "You told the coordinators" in (asked.text or ""), what="shown where tapped"
    )
    alert = await claire.expect_message("is worried about the conduct of the volunteer")
    assert f"#{request_id}" in (alert.text or "")
    assert "Nour Benali" in (alert.text or "")
    # Twice is once (a forged second tap).
    rita.tap_data(asked, conduct_data.replace(":conduct:", ":conductok:"))
    await world.wait_for(
        lambda: "already told" in (rita.callback_answers[-1].text or ""), what="answered"
    )
    await live.settle()
    assert not any("worried" in (m.text or "") for m in nour.inbox)
    assert sum("worried" in (m.text or "") for m in claire.inbox) == 1

    card = await _open_card(live, claire, "nour", "Nour Benali")
    assert "1 concern about their conduct" in (card.text or "")
    assert f"request #{request_id}, raised by Rita" in (card.text or "")
