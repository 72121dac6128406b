"""Issue 5 end to end over HTTP: offers, the claim race, copies, follow-up, forged taps."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.domain.vocabulary import RequestStatus
from bot.services.outcomes import Outcome
from bot.services.requests import BeneficiaryDetails, RequestDraft
from storage.models import Claim, HelpRequest
from testkit.clock import ManualClock
from testkit.harness import PollingBrigade, sqlite_url
from testkit.telegram import FakeBotApiServer, FakeGroup, FakeTelegram, FakeUser
from tests.conftest import COORDINATOR_ID
from tests.factories import CENTRE, new_referent, new_volunteer, skill_id, the_coordinator

pytestmark = pytest.mark.e2e
SECRETS = ("Jeanne", "Martin", "+33 4 79", "27 rue", "code 1234")


async def _town(live: PollingBrigade, world: FakeTelegram) -> tuple[FakeUser, FakeGroup]:
    """A coordinator, a referent (by invitation), a neighbourhood with its group."""
    claire = await the_coordinator(world)
    rita = await new_referent(live, world)
    neighbourhood = await live.services.neighbourhoods.create(
        COORDINATOR_ID, "Centre-Ville", *CENTRE, 1.5
    )
    assert not isinstance(neighbourhood, Outcome)
    group = world.add_group("Brigade Centre-Ville", [claire, rita])
    assert (
        await live.services.neighbourhoods.link_group(COORDINATOR_ID, neighbourhood.id, group.id)
        is Outcome.DONE
    )
    return rita, group


def _draft(skill_id: int, places: int = 1) -> RequestDraft:
    return RequestDraft(
        skill_id=skill_id,
        description="Leaking tap under the sink",
        latitude=CENTRE[0],
        longitude=CENTRE[1],
        area_label="Rue de Boigne",
        places_needed=places,
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


async def _post(live: PollingBrigade, rita: FakeUser, skill: str, places: int = 1) -> int:
    posted = await live.services.requests.post(
        rita.id, _draft(await skill_id(live.services.database, skill), places)
    )
    assert posted is not None
    return posted.request_id


async def test_only_fitting_volunteers_and_the_group_get_the_offer_without_private_details(
    world: FakeTelegram, live: PollingBrigade
) -> None:
    rita, group = await _town(live, world)
    near = await new_volunteer(live, world, "Nour", km=0.5, skills=["plumbing"])
    far_but_willing = await new_volunteer(
        live, world, "Farid", km=3.0, skills=["plumbing"], radius=5
    )
    too_far = await new_volunteer(live, world, "Tim", km=3.0, skills=["plumbing"], radius=2)
    other_skill = await new_volunteer(live, world, "Olga", km=0.3, skills=["shopping"])
    pending = await new_volunteer(live, world, "Paul", km=0.2, skills=["plumbing"], approve=False)
    request_id = await _post(live, rita, "plumbing")

    offers = [
        await near.expect_message(f"Request #{request_id}"),
        await far_but_willing.expect_message(f"Request #{request_id}"),
        # The group copy speaks the town's language (French by default).
        await group.expect_message(f"Demande n° {request_id}"),
    ]
    await live.settle()  # a wrong delivery has happened by now
    for outsider in (too_far, other_skill, pending):
        assert not any(f"#{request_id}" in (m.text or "") for m in outsider.inbox)
    for offer in offers:
        text = offer.text or ""
        assert "Rue de Boigne" in text
        assert all(secret not in text for secret in SECRETS), text
    assert "(0.5 km from you)" in (offers[0].text or "")
    assert offers[0].labels == ["✋ I'll do it", "Not for me"]
    assert offers[2].labels == ["✋ Je m’en occupe"]  # the group copy has no "not for me"


@pytest.mark.parametrize(("places", "tappers"), [(1, 2), (3, 10)])
async def test_simultaneous_taps_give_exactly_the_places_and_update_every_copy(
    world: FakeTelegram, live_on_each_backend: PollingBrigade, places: int, tappers: int
) -> None:
    live = live_on_each_backend
    rita, group = await _town(live, world)
    volunteers = [
        await new_volunteer(live, world, f"V{i:02d}", km=0.1 * (i + 1), skills=["plumbing"])
        for i in range(tappers)
    ]
    request_id = await _post(live, rita, "plumbing", places)
    offers = [await v.expect_message(f"Request #{request_id}") for v in volunteers]
    for volunteer, offer in zip(volunteers, offers, strict=True):
        volunteer.tap(offer, "I'll do it")  # all queued before the bot polls: truly together
    await world.wait_for(lambda: all(v.callback_answers for v in volunteers), timeout=15)
    answers = [v.callback_answers[-1].text or "" for v in volunteers]
    winners = [v for v, a in zip(volunteers, answers, strict=True) if a.startswith("It's yours")]
    losers = [
        v for v, a in zip(volunteers, answers, strict=True) if "other volunteers were quicker" in a
    ]
    assert (len(winners), len(losers)) == (places, tappers - places)
    for winner in winners:
        details = await winner.expect_message("Here are the private details")
        assert "Mme Jeanne Martin" in (details.text or "")
        assert "code 1234" in (details.text or "")
    await live.settle()
    for loser in losers:
        assert not any("Jeanne" in (m.text or "") for m in loser.inbox)
    # Every copy, in private chats and in the group, ends up showing it is taken.
    copies = [*offers, group.last_message]
    await world.wait_for(
        lambda: all(
            ("Taken. Thank you!" in (c.text or "") or "Prise en charge. Merci" in (c.text or ""))
            and c.labels == []
            for c in copies
        ),
        timeout=15,
        what="every copy edited to 'taken'",
    )
    async with live.services.database.read() as session:
        claims = (await session.execute(select(func.count()).select_from(Claim))).scalar_one()
        request = await session.get(HelpRequest, request_id)
    assert claims == places
    assert request is not None
    assert (request.places_taken, request.status) == (places, RequestStatus.FULL)
    referent_notes = [m.text or "" for m in rita.inbox if "takes your request" in (m.text or "")]
    assert len(referent_notes) == places


async def test_release_reoffers_cancel_tells_claimers(
    world: FakeTelegram, live: PollingBrigade
) -> None:
    rita, group = await _town(live, world)
    ana = await new_volunteer(live, world, "Ana", km=0.3, skills=["plumbing"])
    bob = await new_volunteer(live, world, "Bob", km=0.6, skills=["plumbing"])
    request_id = await _post(live, rita, "plumbing")
    ana_offer = await ana.expect_message(f"#{request_id}")
    bob_offer = await bob.expect_message(f"#{request_id}")
    ana.tap(ana_offer, "I'll do it")
    details = await ana.expect_message("private details")
    await world.wait_for(lambda: bob_offer.labels == [])
    # Releasing purges the details and tells the referent: the details message asks first, in
    # place of its button; "No, keep it" puts the button back and changes nothing.
    ana.tap(details, "Release")
    await world.wait_for(lambda: "Yes, give it back" in details.labels, what="the question")
    assert "back? It will be offered to other volunteers" in (details.text or "")
    assert "↩️ Release" not in details.labels
    ana.tap(details, "No, keep it")
    await world.wait_for(lambda: "↩️ Release" in details.labels, what="kept")
    assert "back?" not in (details.text or "")
    assert "Mme Jeanne Martin" in (details.text or "")
    await live.settle()
    assert not any("released your request" in (m.text or "") for m in rita.inbox)
    ana.tap(details, "Release")
    await world.wait_for(lambda: "Yes, give it back" in details.labels, what="asked again")
    ana.tap(details, "Yes, give it back")
    await rita.expect_message("released your request")
    # The details message says so at once, without the details and without buttons.
    await world.wait_for(
        lambda: f"Request #{request_id} is no longer yours" in (details.text or ""),
        what="the details replaced",
    )
    assert "Jeanne" not in (details.text or "")
    assert details.labels == []
    await world.wait_for(
        lambda: bob_offer.labels == ["✋ I'll do it", "Not for me"], what="re-offered"
    )
    bob.tap(bob_offer, "I'll do it")
    await bob.expect_message("private details")
    rita_note = await rita.expect_message("Bob")
    # Cancelling cannot be undone: the note asks first; "No" puts it back as it was.
    rita.tap(rita_note, "Cancel the request")
    await world.wait_for(
        lambda: "This cannot be undone" in (rita_note.text or ""), what="the question"
    )
    assert {"Yes, cancel it", "No, keep it"} <= set(rita_note.labels)
    assert "Cancel the request" not in rita_note.labels
    rita.tap(rita_note, "No, keep it")
    await world.wait_for(lambda: "Cancel the request" in rita_note.labels, what="kept")
    await live.settle()
    assert not any("was cancelled" in (m.text or "") for m in bob.inbox)
    rita.tap(rita_note, "Cancel the request")
    await world.wait_for(lambda: "Yes, cancel it" in rita_note.labels, what="asked again")
    rita.tap(rita_note, "Yes, cancel it")
    cancelled = await bob.expect_message("was cancelled by the referent")
    await world.wait_for(
        lambda: f"Request #{request_id} was cancelled." in (rita_note.text or ""),
        what="the note saying so",
    )
    assert f"#{request_id}" in (cancelled.text or "")
    await world.wait_for(
        lambda: "Annulée par la personne référente" in (group.last_message.text or "")
    )


async def test_done_then_confirmed_closes_done_then_not_done_reopens(
    world: FakeTelegram, live: PollingBrigade
) -> None:
    rita, _group = await _town(live, world)
    ana = await new_volunteer(live, world, "Ana", km=0.3, skills=["plumbing"])
    bob = await new_volunteer(live, world, "Bob", km=0.6, skills=["plumbing"])
    request_id = await _post(live, rita, "plumbing")
    ana.tap(await ana.expect_message(f"#{request_id}"), "I'll do it")
    details = await ana.expect_message("private details")
    ana.tap(details, "Done")
    # The details message now shows the outcome; Done / Release / Concern are spent.
    await world.wait_for(lambda: "You said it is done" in (details.text or ""), what="shown")
    assert details.labels == ["💬 Write to the referent"]
    ask = await rita.expect_message("says your request")
    # "Not done" reopens and tells the volunteer: asked first; "No, go back" changes nothing.
    rita.tap(ask, "Not done")
    await world.wait_for(lambda: "Yes, it was not done" in ask.labels, what="the question")
    assert "Say it was not done?" in (ask.text or "")
    rita.tap(ask, "No, go back")
    await world.wait_for(lambda: "❌ Not done" in ask.labels, what="back")
    assert "Say it was not done?" not in (ask.text or "")
    await live.settle()
    assert not any("was not done" in (m.text or "") for m in ana.inbox)
    rita.tap(ask, "Not done")
    await world.wait_for(lambda: "Yes, it was not done" in ask.labels, what="asked again")
    rita.tap(ask, "Yes, it was not done")
    await ana.expect_message("was not done: it is offered again")
    await world.wait_for(lambda: "Rita said it was not done" in (ask.text or ""), what="shown")
    assert "Say it was not done?" not in (ask.text or "")
    assert ask.labels == ["⚠️ About the volunteer's conduct"]
    bob_offer = await bob.expect_message(f"#{request_id}")
    await world.wait_for(lambda: bob_offer.labels[:1] == ["✋ I'll do it"])
    bob.tap(bob_offer, "I'll do it")
    bob.tap(await bob.expect_message("private details"), "Done")
    question = await rita.expect_message("Bob says your request")
    rita.tap(question, "Confirmed")
    await bob.expect_message("Thank you for your help")
    # The question says it was confirmed, and by whom; only the conduct button stays.
    await world.wait_for(lambda: "✅ Confirmed by Rita." in (question.text or ""), what="shown")
    assert question.labels == ["⚠️ About the volunteer's conduct"]
    async with live.services.database.read() as session:
        request = await session.get(HelpRequest, request_id)
    assert request is not None
    assert request.status is RequestStatus.CLOSED


@pytest.mark.live_settings(timer_interval_seconds=3600)
async def test_not_done_weeks_later_is_answered_too_late_and_confirmed_still_counts(
    world: FakeTelegram, live: PollingBrigade
) -> None:
    """Said done and left unconfirmed past the window, the request ended unconfirmed: "Not
    done" is refused with why and what to do (the volunteer hears nothing), "Confirmed" still
    closes it."""
    rita, _group = await _town(live, world)
    ana = await new_volunteer(live, world, "Ana", km=0.3, skills=["plumbing"])
    request_id = await _post(live, rita, "plumbing")
    ana.tap(await ana.expect_message(f"#{request_id}"), "I'll do it")
    ana.tap(await ana.expect_message("private details"), "Done")
    ask = await rita.expect_message("says your request")
    assert isinstance(live.clock, ManualClock)
    live.clock.advance(days=15)
    assert (await live.services.requests.run_due())["unconfirmed"] == 1

    late = rita.tap(ask, "Not done")
    assert "Too late to reopen this request" in await rita.answer_to(late)
    assert "Say it was not done?" not in (ask.text or "")
    rita.tap(ask, "Confirmed")
    await ana.expect_message("Thank you for your help")
    await world.wait_for(lambda: "✅ Confirmed by Rita." in (ask.text or ""), what="shown")
    assert not any("was not done" in (m.text or "") for m in ana.inbox)
    async with live.services.database.read() as session:
        request = await session.get(HelpRequest, request_id)
    assert request is not None
    assert request.status is RequestStatus.CLOSED


async def test_forged_and_stale_taps_are_answered_and_change_nothing(
    world: FakeTelegram, live: PollingBrigade
) -> None:
    rita, _group = await _town(live, world)
    ana = await new_volunteer(live, world, "Ana", km=0.3, skills=["plumbing"])
    eve = await new_volunteer(live, world, "Eve", km=0.4, skills=["plumbing"])
    first = await _post(live, rita, "plumbing")
    ana.tap(await ana.expect_message(f"#{first}"), "I'll do it")
    details = await ana.expect_message("private details")
    claim_id = int(
        ((details.labels and details.rows[0][0].callback_data) or "cs:done:0").split(":")[2]
    )
    eve_offer = await eve.expect_message(f"#{first}")
    forged = [
        f"cs:done:{claim_id}",  # someone else's claim
        f"cs:release:{claim_id}",
        f"rs:confirm:{claim_id}",  # only the referent confirms
        f"ra:cancel:{first}",  # only the referent or a coordinator cancels
        "cl:999999",  # a request that does not exist
        f"cl:{first}",  # a full request
        "cl:not-a-number",
    ]
    for data in forged:
        eve.tap_data(eve_offer, data)
    await world.wait_for(lambda: len(eve.callback_answers) >= len(forged), timeout=10)
    answers = [a.text or "" for a in eve.callback_answers]
    assert answers == [
        "This action is not available to you.",
        "This action is not available to you.",
        "This action is not available to you.",
        "This action is not available to you.",
        "This button is no longer valid.",
        "Sorry, other volunteers were quicker: this request is taken.",
        "This button is no longer valid.",
    ]
    async with live.services.database.read() as session:
        request = await session.get(HelpRequest, first)
        claims = (await session.execute(select(Claim.status))).scalars().all()
    assert request is not None
    assert request.status is RequestStatus.FULL
    assert [c.value for c in claims] == ["active"]


async def test_unclaimed_goes_to_a_second_wave_then_alerts_referent_who_widens_it(
    world: FakeTelegram, server: FakeBotApiServer, tmp_path: Path
) -> None:
    async with PollingBrigade.for_server(
        world,
        server,
        sqlite_url(tmp_path),
        coordinator_ids=[COORDINATOR_ID],
        wave_size=1,
        wave_delay_minutes=0.01,  # 0.6 s
        escalation_delay_minutes=0.02,
        timer_interval_seconds=0.2,
    ) as live:
        rita, _group = await _town(live, world)
        first = await new_volunteer(live, world, "Ana", km=0.3, skills=["plumbing"])
        second = await new_volunteer(live, world, "Bob", km=0.6, skills=["plumbing"])
        farther = await new_volunteer(live, world, "Cyd", km=3.0, skills=["plumbing"], radius=2)
        request_id = await _post(live, rita, "plumbing")
        await first.expect_message(f"#{request_id}")
        assert not second.inbox  # the nearest first
        await second.expect_message(f"#{request_id}", timeout=10)  # the second wave
        alert = await rita.expect_message("is still not taken", timeout=10)
        assert "Volunteers contacted: 2 · waves: 2" in (alert.text or "")
        rita.tap(alert, "Widen the area")
        await farther.expect_message(f"#{request_id}", timeout=10)  # 3 km, twice their 2 km


async def test_claim_and_release_cannot_harvest_the_details_of_requests_never_offered(
    world: FakeTelegram, live: PollingBrigade
) -> None:
    """The review's attack: forged claim data carrying other requests' ids, from anywhere."""
    rita, group = await _town(live, world)
    # Mallory holds both skills but lives 9 km away with a 2 km radius: offered nothing.
    mallory = await new_volunteer(
        live, world, "Mallory", km=9.0, skills=["plumbing", "shopping"], radius=2
    )
    hidden = [await _post(live, rita, "shopping") for _ in range(4)]
    # The group is paced at Telegram's 20 messages a minute: the first copy is all we need.
    group_copy = await group.expect_message(f"Demande n° {hidden[0]}", timeout=30)
    mallory.send_command("help")
    anchor = await mallory.expect_message()
    for request_id in hidden:
        mallory.tap_data(anchor, f"cl:{request_id}")
    await world.wait_for(lambda: len(mallory.callback_answers) >= len(hidden))
    await live.settle()
    assert [answer.text for answer in mallory.callback_answers] == [
        "This request was not offered to you here."
    ] * len(hidden)
    assert not any(secret in (m.text or "") for m in mallory.inbox for secret in SECRETS)
    async with live.services.database.read() as session:
        assert (await session.execute(select(func.count()).select_from(Claim))).scalar_one() == 0
    # In the neighbourhood's group, the group's copy is hers to take: the group is the area.
    group.add_member(mallory)
    mallory.tap(group_copy, "Je m’en occupe")
    details = await mallory.expect_message("private details")
    assert f"#{hidden[0]}" in (details.text or "")
