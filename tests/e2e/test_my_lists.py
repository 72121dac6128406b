"""Issue 14 items 2–4 end to end over HTTP: everyone sees their own commitments.

/mine (a referent's requests by state, cancel with a confirmation, edits before any claim that
reach every copy of the offer), /tasks (a volunteer's claims: Done, Release, Directions to the
claimer only), /nearby (open requests a volunteer may take now, nearest first, with Claim), and
the forged or stale taps on all of them.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.domain.vocabulary import ClaimStatus, RequestStatus
from bot.services.outcomes import Outcome, StepOutcome
from bot.services.requests import BeneficiaryDetails, RequestDraft
from storage.models import AuditEvent, Claim, HelpRequest
from testkit.harness import PollingBrigade
from testkit.telegram import FakeGroup, FakeTelegram, FakeUser, StoredMessage
from tests.conftest import COORDINATOR_ID
from tests.factories import CENTRE, east, new_referent, new_volunteer, skill_id, the_coordinator

pytestmark = pytest.mark.e2e


async def _town(live: PollingBrigade, world: FakeTelegram) -> tuple[FakeUser, FakeGroup]:
    """A coordinator, a referent (by invitation), a neighbourhood with its group."""
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
    return rita, group


async def _post(
    live: PollingBrigade,
    rita: FakeUser,
    skill: str = "plumbing",
    *,
    at: tuple[float, float] = CENTRE,
    places: int = 1,
    description: str = "Leaking tap under the sink",
) -> int:
    draft = RequestDraft(
        skill_id=await skill_id(live.services.database, skill),
        description=description,
        latitude=at[0],
        longitude=at[1],
        area_label="Rue de Boigne",
        places_needed=places,
        beneficiary=BeneficiaryDetails(
            name="Mme Jeanne Martin",
            phone="+33 4 79 00 00 00",
            address="27 rue de Boigne, Chambéry",
            latitude=at[0],
            longitude=at[1],
            consent=True,
        ),
    )
    posted = await live.services.requests.post(rita.id, draft)
    assert posted is not None
    return posted.request_id


async def _claim(live: PollingBrigade, volunteer: FakeUser, request_id: int) -> int:
    """`volunteer` taps ✋ on their offer of the request; the claim's id."""
    offer = await volunteer.expect_message(f"Request #{request_id}")
    volunteer.tap(offer, "I'll do it")
    await volunteer.expect_message("Here are the private details")
    claim = await _claim_of(live, request_id)
    return claim.id


async def _claim_of(live: PollingBrigade, request_id: int) -> Claim:
    async with live.services.database.read() as session:
        return (
            (await session.execute(select(Claim).where(Claim.request_id == request_id)))
            .scalars()
            .one()
        )


async def _request(live: PollingBrigade, request_id: int) -> HelpRequest:
    async with live.services.database.read() as session:
        request = await session.get(HelpRequest, request_id)
    assert request is not None
    return request


async def _answered(world: FakeTelegram, person: FakeUser, count: int) -> str:
    """The text of the person's callback answer number `count` (waited for)."""
    await world.wait_for(lambda: len(person.callback_answers) >= count, what="the tap's answer")
    return person.callback_answers[count - 1].text or ""


async def _edited(
    world: FakeTelegram, message: StoredMessage, contains: str, what: str = "the card"
) -> None:
    await world.wait_for(lambda: contains in (message.text or ""), what=f"{what}: {contains}")


# --- /mine -------------------------------------------------------------------------------------


async def test_mine_lists_every_state_and_cancel_asks_first_then_tells_every_claimer(
    world: FakeTelegram, live: PollingBrigade
) -> None:
    rita, group = await _town(live, world)
    nour = await new_volunteer(live, world, "Nour", km=0.3, skills=["plumbing", "shopping"])
    taken = await _post(live, rita, "plumbing")
    taken_claim = await _claim(live, nour, taken)
    said_done = await _post(live, rita, "shopping")
    done_claim = await _claim(live, nour, said_done)
    assert await live.services.requests.mark_done(nour.id, done_claim) is StepOutcome.DONE
    ended = await _post(live, rita, "plumbing", description="Another tap")
    await live.services.requests.cancel(rita.id, ended)
    waiting = await _post(live, rita, "gardening")
    await live.settle()

    rita.send_command("mine")
    listing = await rita.expect_message("Your requests: 4")
    text = listing.text or ""
    headings = [
        "Waiting for volunteers",
        "Taken",
        "Said done: to confirm",
        "Ended in the last 30 days",
    ]
    assert [text.index(heading) for heading in headings] == sorted(
        text.index(heading) for heading in headings
    ), text
    assert text.index(f"#{waiting} ") < text.index("Taken") < text.index(f"#{taken} ")
    assert "Nour" in text
    assert "Jeanne" not in text  # the person's name never shows in lists

    # The taken request's card: who took it, Cancel, but no edit (someone claimed it).
    rita.tap(listing, f"#{taken}:")
    await _edited(world, listing, "Taken by: Nour")
    assert "✏️ Description" not in listing.labels
    assert "❌ Cancel the request" in listing.labels

    # Cancel asks first, in the same message; "No" keeps it.
    rita.tap(listing, "❌ Cancel the request")
    await _edited(world, listing, f"Cancel request #{taken}")
    assert listing.labels == ["Yes, cancel it", "No, keep it"]
    rita.tap(listing, "No, keep it")
    await _edited(world, listing, "Taken by: Nour")
    await live.settle()
    assert (await _request(live, taken)).status is RequestStatus.FULL
    assert (await _claim_of(live, taken)).status is ClaimStatus.ACTIVE

    # "Yes" cancels: the card says so, the claimer and the group copy are told.
    rita.tap(listing, "❌ Cancel the request")
    await _edited(world, listing, f"Cancel request #{taken}")
    rita.tap(listing, "Yes, cancel it")
    await _edited(world, listing, "Request cancelled. The volunteers have been told.")
    assert "❌ Cancel the request" not in listing.labels
    await nour.expect_message(f"Request #{taken} (Plumbing) was cancelled by the referent")
    copy = next(m for m in group.messages if f"n° {taken}" in (m.text or ""))
    await _edited(world, copy, "Annulée par", what="the group's copy")
    assert (await _request(live, taken)).status is RequestStatus.CANCELLED
    assert (await _claim_of(live, taken)).id == taken_claim


async def test_an_edit_before_any_claim_reaches_every_copy_and_is_refused_once_claimed(
    world: FakeTelegram, live: PollingBrigade
) -> None:
    rita, group = await _town(live, world)
    nour = await new_volunteer(live, world, "Nour", km=0.3)
    farid = await new_volunteer(live, world, "Farid", km=0.6)
    request_id = await _post(live, rita)
    offers = [
        await nour.expect_message(f"Request #{request_id}"),
        await farid.expect_message(f"Request #{request_id}"),
        await group.expect_message(f"Demande n° {request_id}"),
    ]

    rita.send_command("mine")
    listing = await rita.expect_message("Your requests: 1")
    rita.tap(listing, f"#{request_id}:")
    await _edited(world, listing, "Where: Rue de Boigne")  # the card, where the list was
    card = listing

    # The description: /new's question and checks, then the card anew.
    rita.tap(card, "✏️ Description")
    await rita.expect_message("Send the new description")
    rita.send_text("x" * 501)
    await rita.expect_message("This text is too long (")
    rita.send_text("Two leaking taps, bring a wrench")
    changed = await rita.expect_message("Changed: every volunteer who was offered it")
    assert "Two leaking taps" in (changed.text or "")
    for offer in offers:
        await _edited(world, offer, "Two leaking taps", what="an offer copy")

    # How many volunteers: every copy shows the places.
    rita.tap(changed, "✏️ Volunteers")
    question = await rita.expect_message("How many volunteers are needed?")
    rita.tap(question, "2")
    changed = await rita.expect_message("Changed: every volunteer")
    for offer in offers[:2]:
        await _edited(world, offer, "2 volunteers needed", what="an offer copy")
    await _edited(world, offers[2], "2 bénévoles", what="the group's copy")

    # When: a day and a part of the day, with /new's pickers.
    rita.tap(changed, "✏️ When")
    question = await rita.expect_message("When is the help needed?")
    rita.tap(question, "📅 Choose a day")
    days = await rita.expect_message("Which day?")
    rita.tap(days, days.labels[2])
    parts = await rita.expect_message("At what time of day")
    rita.tap(parts, "In the afternoon")
    changed = await rita.expect_message("Changed: every volunteer")
    for offer in offers[:2]:
        await _edited(world, offer, "in the afternoon", what="an offer copy")
    request = await _request(live, request_id)
    assert (request.when_kind, request.places_needed) == ("slot", 2)
    assert request.day_part == "afternoon"
    assert request.expires_at == request.starts_at

    # Offer again (the escalation's own step): a volunteer who joined since receives it.
    lucie = await new_volunteer(live, world, "Lucie", km=0.4)
    rita.tap(changed, "🔁 Offer again")
    await _edited(world, changed, "Offered again to every volunteer who fits.")
    await lucie.expect_message(f"Request #{request_id}")

    # Once someone has claimed it, an edit (from an older card too) is refused, nothing changes.
    nour.tap(offers[0], "I'll do it")
    await nour.expect_message("Here are the private details")
    before = len(rita.callback_answers)
    rita.tap(changed, "✏️ Description")
    answer = await _answered(world, rita, before + 1)
    assert "Someone has already taken this request" in answer
    await live.settle()
    assert (await _request(live, request_id)).description == "Two leaking taps, bring a wrench"
    async with live.services.database.read() as session:
        edits = (
            await session.execute(
                select(AuditEvent.detail).where(
                    AuditEvent.entity_id == request_id, AuditEvent.action == "edit"
                )
            )
        ).scalars()
        details = list(edits)
    # The audit log says what changed, never the text itself.
    assert details == [{"fields": ["description"]}, {"fields": ["places"]}, {"fields": ["when"]}]


# --- /tasks ------------------------------------------------------------------------------------


async def test_tasks_done_release_and_directions_only_to_the_claimer_while_active(
    world: FakeTelegram, live: PollingBrigade
) -> None:
    rita, _group = await _town(live, world)
    nour = await new_volunteer(live, world, "Nour", km=0.3, skills=["plumbing", "shopping"])
    farid = await new_volunteer(live, world, "Farid", km=0.6, skills=["gardening"])
    first = await _post(live, rita, "plumbing")
    first_claim = await _claim(live, nour, first)
    second = await _post(live, rita, "shopping", at=east(0.5))
    second_claim = await _claim(live, nour, second)

    nour.send_command("tasks")
    listing = await nour.expect_message("The requests you took: 2")
    assert "Coming up" in (listing.text or "")
    nour.tap(listing, f"#{first}:")
    await _edited(world, listing, "Where: Rue de Boigne")  # the card, where the list was
    assert listing.labels[:3] == ["✅ Done", "↩️ Release", "📍 Directions"]

    # 📍 Directions: a map pin of the request's place, to the claimer only.
    nour.tap(listing, "📍 Directions")
    pin = await nour.expect_message()
    assert pin.content["location"]["latitude"] == pytest.approx(CENTRE[0], abs=1e-5)
    assert pin.content["location"]["longitude"] == pytest.approx(CENTRE[1], abs=1e-5)
    farid.send_command("start")
    anchor = await farid.expect_message()
    farid.tap_data(anchor, f"tk:where:{first_claim}")
    assert "not available to you" in await _answered(world, farid, 1)
    await live.settle()
    assert not any("location" in m.content for m in farid.inbox)

    # Release asks first; "No" keeps it; "Yes" gives it back (the existing path).
    nour.tap(listing, "↩️ Release")
    await _edited(world, listing, f"Give request #{first} (Plumbing) back?")
    nour.tap(listing, "No, keep it")
    await _edited(world, listing, "Coming up")
    assert (await _claim_of(live, first)).status is ClaimStatus.ACTIVE
    nour.tap(listing, "↩️ Release")
    await _edited(world, listing, "back?")
    nour.tap(listing, "Yes, give it back")
    await _edited(world, listing, "Released: the request is offered to others again.")
    assert "📍 Directions" not in listing.labels
    await rita.expect_message(f"Nour released your request #{first}")
    assert (await _claim_of(live, first)).status is ClaimStatus.RELEASED

    # Directions after the release: refused clearly, no pin.
    pins = sum("location" in m.content for m in nour.inbox)
    answers = len(nour.callback_answers)
    nour.tap_data(listing, f"tk:where:{first_claim}")
    assert "no longer yours" in await _answered(world, nour, answers + 1)
    await live.settle()
    assert sum("location" in m.content for m in nour.inbox) == pins

    # Done from the list: the card says so, the referent is asked, the time question follows.
    nour.tap(listing, "⬅ My tasks")
    await _edited(world, listing, "The requests you took: 1")
    nour.tap(listing, f"#{second}:")
    await _edited(world, listing, "Where: Rue de Boigne")
    nour.tap(listing, "✅ Done")
    await _edited(world, listing, "Thank you! The referent is asked to confirm.")
    await nour.expect_message("How long did it take")
    await rita.expect_message(f"Nour says your request #{second} (Shopping) is done")
    assert (await _claim_of(live, second)).status is ClaimStatus.DONE
    nour.send_command("tasks")
    waiting = await nour.expect_message("The requests you took: 1")
    assert "Waiting for the referent's confirmation" in (waiting.text or "")
    assert second_claim != first_claim


# --- /nearby -----------------------------------------------------------------------------------


async def test_nearby_lists_what_one_may_claim_nearest_first_dismissed_offers_included(
    world: FakeTelegram, live: PollingBrigade
) -> None:
    rita, _group = await _town(live, world)
    nour = await new_volunteer(live, world, "Nour", km=0.3, radius=2)
    olga = await new_volunteer(live, world, "Olga", km=0.3, skills=["shopping"])
    tim = await new_volunteer(live, world, "Tim", km=4.0, radius=2)
    paula = await new_volunteer(live, world, "Paula", km=0.2)
    centre = await _post(live, rita, at=CENTRE)  # 0.3 km from Nour
    closer = await _post(live, rita, at=east(0.5))  # 0.2 km from Nour
    offer = await nour.expect_message(f"Request #{centre}")
    nour.tap(offer, "Not for me")
    await _edited(world, offer, "not for you", what="the dismissed offer")
    paused = await live.services.profile.pause(paula.id, live.services.clock() + timedelta(days=2))
    assert not isinstance(paused, Outcome)

    nour.send_command("nearby")
    found = await nour.expect_message("2 open requests within 2 km of you, nearest first")
    text = found.text or ""
    assert text.index(f"Request #{closer}") < text.index(f"Request #{centre}")  # nearest first
    assert "Jeanne" not in text
    assert "27 rue" not in text
    assert found.labels[:2] == [f"✋ #{closer}: I'll do it", f"✋ #{centre}: I'll do it"]

    # The dismissed one, claimed from the list: the one claim path, the details follow.
    nour.tap(found, f"✋ #{centre}: I'll do it")
    assert (await _answered(world, nour, 2)).startswith("It's yours")
    details = await nour.expect_message("Here are the private details")
    assert "Mme Jeanne Martin" in (details.text or "")
    assert (await _claim_of(live, centre)).status is ClaimStatus.ACTIVE

    # Wrong skill, too far, paused: nothing (the same rules as the offers).
    empty = {}
    for outsider in (olga, tim, paula):
        outsider.send_command("nearby")
        empty[outsider] = await outsider.expect_message("Nothing open near you right now")
        assert "(within 2 km)" in (empty[outsider].text or "")
    # What /nearby shows cannot be claimed by someone it was not shown to.
    before = len(olga.callback_answers)
    olga.tap_data(empty[olga], f"cl:{closer}")
    assert "Only approved volunteers with this skill" in await _answered(world, olga, before + 1)
    await live.settle()
    async with live.services.database.read() as session:
        claims = (await session.execute(select(Claim.request_id))).scalars().all()
    assert claims == [centre]


async def test_nearby_in_french_and_a_claim_elsewhere_is_not_offered(
    world: FakeTelegram, live: PollingBrigade
) -> None:
    rita, _group = await _town(live, world)
    far = await new_volunteer(live, world, "Farid", km=3.5, radius=2)
    request_id = await _post(live, rita)
    await live.settle()
    # Not offered (too far) and not shown: a forged claim is refused, nothing is recorded.
    far.send_command("nearby")
    empty = await far.expect_message("Nothing open near you")
    far.tap_data(empty, f"cl:{request_id}")
    assert "was not offered to you here" in await _answered(world, far, 1)
    await live.settle()
    assert not any("private details" in (m.text or "") for m in far.inbox)
    # The radius follows the reader's locale.
    fr = await new_volunteer(live, world, "Françoise", km=4.0, radius=1.5)
    await live.services.members.set_language(fr.id, "fr")
    fr.send_command("nearby")
    await fr.expect_message("Rien d’ouvert près de chez vous pour l’instant (à moins de 1,5\xa0km)")


# --- forged and stale taps, wrong people -------------------------------------------------------


async def test_someone_elses_requests_and_claims_and_group_taps_are_refused(
    world: FakeTelegram, live: PollingBrigade
) -> None:
    rita, group = await _town(live, world)
    nour = await new_volunteer(live, world, "Nour", km=0.3)
    farid = await new_volunteer(live, world, "Farid", km=0.6)
    request_id = await _post(live, rita)
    claim_id = await _claim(live, nour, request_id)
    other_referent = await new_referent(live, world, "Omar")

    # Another referent: not their request; a volunteer: not their claim.
    omar_anchor = other_referent.last_message
    for data in (
        f"mi:cancelyes:{request_id}",
        f"mi:show:{request_id}",
        f"mi:editdesc:{request_id}",
    ):
        before = len(other_referent.callback_answers)
        other_referent.tap_data(omar_anchor, data)
        assert "not available to you" in await _answered(world, other_referent, before + 1), data
    farid.send_command("tasks")
    farid_anchor = await farid.expect_message("You have no request in progress")
    for data in (f"tk:releaseyes:{claim_id}", f"tk:done:{claim_id}", f"tk:show:{claim_id}"):
        before = len(farid.callback_answers)
        farid.tap_data(farid_anchor, data)
        assert "not available to you" in await _answered(world, farid, before + 1), data
    # Garbage verbs and numbers.
    before = len(farid.callback_answers)
    farid.tap_data(farid_anchor, "tk:explode:1")
    assert "no longer valid" in await _answered(world, farid, before + 1)

    # In the group, none of these buttons work (the tap gate).
    anchor = group.last_message
    for data in (f"mi:cancelyes:{request_id}", f"tk:where:{claim_id}", "nb:page:0"):
        before = len(rita.callback_answers)
        rita.tap_data(anchor, data)
        await _answered(world, rita, before + 1)
    await live.settle()
    assert (await _request(live, request_id)).status is RequestStatus.FULL
    assert (await _claim_of(live, request_id)).status is ClaimStatus.ACTIVE
    assert not any("location" in m.content for m in group.messages)

    # The wrong role for each command: a clear answer.
    nour.send_command("mine")
    await nour.expect_message("This is for referents")
    rita.send_command("tasks")
    await rita.expect_message("This is for approved volunteers")
    rita.send_command("nearby")
    await rita.expect_message("This is for approved volunteers")
