"""Relays, brigade cards and recurring care, end to end over the fake Bot API (English users)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from bot.domain.vocabulary import SignalOutcome, SignalStatus
from bot.services.outcomes import Outcome
from bot.services.requests import BeneficiaryDetails, RequestDraft
from storage.models import HelpRequest, Member, Signal
from testkit.clock import ManualClock
from testkit.harness import PollingBrigade
from testkit.telegram import FakeTelegram, FakeUser
from tests.conftest import COORDINATOR_ID
from tests.factories import CENTRE, new_referent, new_volunteer, skill_id, the_coordinator

pytestmark = pytest.mark.e2e
BIOLLAY = (45.5560, 5.9075)  # Le Biollay


async def _town(live: PollingBrigade, world: FakeTelegram) -> tuple[FakeUser, FakeUser, int, int]:
    """Claire (coordinator), Rita (referent of Centre-Ville) and two neighbourhoods."""
    claire = await the_coordinator(world)
    rita = await new_referent(live, world, "Rita")
    centre = await live.services.neighbourhoods.create(COORDINATOR_ID, "Centre-Ville", *CENTRE, 1.0)
    biollay = await live.services.neighbourhoods.create(COORDINATOR_ID, "Le Biollay", *BIOLLAY, 0.8)
    assert not isinstance(centre, Outcome)
    assert not isinstance(biollay, Outcome)
    await _attach(live, rita, centre.id)
    return claire, rita, centre.id, biollay.id


async def _attach(live: PollingBrigade, person: FakeUser, neighbourhood_id: int) -> None:
    """A referent's own neighbourhood (set by the coordinators' tools, out of this scope)."""
    async with live.services.database.transaction() as session:
        await session.execute(
            update(Member)
            .where(Member.telegram_id == person.id)
            .values(neighbourhood_id=neighbourhood_id)
        )


def _has(person: FakeUser, text: str) -> bool:
    return any(text in (message.text or "") for message in person.inbox)


# --- recurring care ----------------------------------------------------------------------------


@pytest.mark.live_settings(timer_interval_seconds=3600)
async def test_a_weekly_call_goes_to_its_regular_until_they_pause(
    world: FakeTelegram, live: PollingBrigade
) -> None:
    _claire, rita, _centre, _biollay = await _town(live, world)
    ana = await new_volunteer(live, world, "Ana", km=0.3, skills=["phone_call"], radius=3.0)
    bob = await new_volunteer(live, world, "Bob", km=0.6, skills=["phone_call"], radius=3.0)
    first_start = (live.clock() + timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
    posted = await live.services.requests.post(
        rita.id,
        RequestDraft(
            skill_id=await skill_id(live.services.database, "phone_call"),
            description="A friendly phone call, she likes to talk about her garden",
            latitude=CENTRE[0],
            longitude=CENTRE[1],
            area_label="Rue de Boigne",
            when_kind="slot",
            starts_at=first_start,
            beneficiary=BeneficiaryDetails(
                name="Mme Odette Lambert",
                phone="+33 4 79 00 00 00",
                address="27 rue de Boigne, Chambéry",
                latitude=CENTRE[0],
                longitude=CENTRE[1],
                consent=True,
            ),
        ),
    )
    assert posted is not None
    # The weekly call is claimed once, by Ana.
    ana.tap(await ana.expect_message(f"Request #{posted.request_id}"), "I'll do it")
    await ana.expect_message("private details")
    await rita.expect_message(f"Ana (+33 6 11 22 33 44) takes your request #{posted.request_id}")
    # Rita makes it recurring from /series.
    rita.send_command("series")
    listing = await rita.expect_message("No recurring request is running.")
    rita.tap(listing, f"Make #{posted.request_id} (Phone call) recurring")
    question = await rita.expect_message("How often?")
    assert "offered first to the volunteer who took it last (Ana)" in (question.text or "")
    rita.tap(question, "Every week")
    await world.wait_for(
        lambda: "is now recurring (every week" in (question.text or ""), what="series created"
    )
    assert question.labels == ["⏹ Stop the series"]
    await ana.expect_message(f"Rita made request #{posted.request_id} (Phone call) recurring")

    # Weeks pass on the bot's one clock; the test runs the series sweep itself (the periodic
    # sweep is set an hour apart, so that it cannot run the same sweep at the same moment).
    clock = live.clock
    assert isinstance(clock, ManualClock)
    series = live.services.series
    services = live.services
    occurrence_ids: list[int] = []
    for week in (1, 2, 3):
        clock.now = first_start + timedelta(days=7 * week - 3)  # three days ahead
        assert (await series.run_due())["posted"] == 1
        async with services.database.read() as session:
            newest = (
                (await session.execute(select(HelpRequest.id).order_by(HelpRequest.id.desc())))
                .scalars()
                .first()
            )
        assert newest is not None
        occurrence_ids.append(newest)
        offer = await ana.expect_message(f"Request #{newest}")
        assert offer.labels == ["✋ I'll do it", "Not for me"]
        ana.tap(offer, "I'll do it")
        await ana.expect_message(f"You take request #{newest}")
    await live.settle()  # a wrong delivery has happened by now
    for request_id in occurrence_ids:
        assert not _has(bob, f"#{request_id}"), f"Bob was offered #{request_id}"

    # Ana pauses; the next occurrence goes to the others at once, and Rita is told.
    ana.send_command("pause")
    answered = len(ana.callback_answers)
    ana.tap(await ana.expect_message("For how long"), "1 month")
    await world.wait_for(lambda: len(ana.callback_answers) > answered, what="pause answered")
    clock.now = first_start + timedelta(days=7 * 4 - 3)
    assert (await series.run_due())["posted"] == 1
    async with services.database.read() as session:
        fourth = (
            (await session.execute(select(HelpRequest).order_by(HelpRequest.id.desc())))
            .scalars()
            .first()
        )
    assert fourth is not None
    assert fourth.wave == 1
    offer = await bob.expect_message(f"Request #{fourth.id}")
    assert "Phone call" in (offer.text or "")
    told = await rita.expect_message("the usual volunteer, cannot be offered")
    assert f"request #{fourth.id} is offered to the other volunteers" in (told.text or "")
    await live.settle()
    assert not _has(ana, f"Request #{fourth.id}")


# --- relays ------------------------------------------------------------------------------------


async def test_a_relays_report_reaches_the_neighbourhoods_referents_and_no_volunteer(
    world: FakeTelegram, live: PollingBrigade
) -> None:
    claire, rita, centre, biollay = await _town(live, world)
    rob = await new_referent(live, world, "Rob")
    await _attach(live, rob, biollay)
    vera = await new_volunteer(
        live, world, "Vera", km=0.2, skills=["visit"], radius=3.0, neighbourhood_id=centre
    )
    ana = await new_volunteer(live, world, "Ana", km=0.4, skills=["visit"], radius=3.0)
    # Sam, a baker, opens the relay link from a poster in the shop.
    sam = world.add_user("Sam", language_code="en", username="sam_bakery")
    sam.start("relay")
    await sam.expect_message("Thank you for looking out for someone")
    await sam.expect_message("Who seems isolated?")
    sam.send_sticker()  # unexpected input: the same question again
    await sam.expect_message("Sorry, I did not understand")
    await sam.expect_message("Who seems isolated?")
    sam.send_text("Mme Odette, the lady above the bakery")
    await sam.expect_message("Where can the brigade find them?")
    sam.send_text("12 rue de la Gare, Chambéry")
    await sam.expect_message("Noted: 12 rue de la Gare")
    choice = await sam.expect_message("Which neighbourhood is it in?")
    assert choice.labels[0].startswith("⭐ Centre-Ville")
    sam.tap(choice, "Centre-Ville")
    worry = await sam.expect_message("What worries you?")
    sam.tap(worry, "⬅ Back")  # back works, then forward again
    sam.tap(await sam.expect_message("Which neighbourhood is it in?"), "Centre-Ville")
    await sam.expect_message("What worries you?")
    sam.send_text("She has not come for her bread for ten days and her shutters stay closed.")
    await sam.expect_message("How can the brigade reach you back")
    sam.press("Telegram is enough")
    summary = await sam.expect_message("Please check your report")
    assert "Neighbourhood: Centre-Ville" in (summary.text or "")
    assert "never to volunteers" in (summary.text or "")
    sam.tap(summary, "Send the report")
    sent = await sam.expect_message("Your report #")
    assert "passed on to 2 members of the brigade" in (sent.text or "")

    case = await rita.expect_message("Case #")
    text = case.text or ""
    assert "Mme Odette" in text
    assert "shutters stay closed" in text
    assert "Centre-Ville" in text
    assert "Reported by: Sam @sam_bakery" in text
    assert case.labels == ["🤝 I'll follow up", "Close the case"]
    claire_copy = await claire.expect_message("Case #")
    await live.settle()
    for outsider in (rob, vera, ana):
        assert not _has(outsider, "Case #"), f"{outsider.first_name} heard of the case"

    # Rita follows it up; Claire's tap comes second; Sam hears someone is on it.
    follow = rita.tap(case, "I'll follow up")
    assert (await rita.answer_to(follow)).startswith("It's yours")
    await claire.expect_message("is followed up by Rita")
    await sam.expect_message("a member of the brigade is now following it up")
    second = claire.tap(claire_copy, "I'll follow up")
    assert await claire.answer_to(second) == "Rita already follows this case up."
    await world.wait_for(lambda: case.labels == ["Close the case"], what="Rita's copy refreshed")
    rita.tap(case, "Close the case")
    await world.wait_for(lambda: "Helped" in case.labels, what="the outcomes")
    rita.tap(case, "Helped")
    await world.wait_for(lambda: case.labels == [], what="case closed")
    assert "Status: closed: Helped" in (case.text or "")
    async with live.services.database.read() as session:
        stored = (await session.execute(select(Signal))).scalar_one()
    assert (stored.status, stored.outcome) == (SignalStatus.CLOSED, SignalOutcome.HELPED)
    assert not _has(vera, "Case #")
    assert not _has(ana, "Case #")


# --- the brigade card --------------------------------------------------------------------------


async def test_a_volunteer_shows_the_card_and_a_referent_checks_its_code(
    world: FakeTelegram, live: PollingBrigade
) -> None:
    _claire, rita, _centre, _biollay = await _town(live, world)
    ana = await new_volunteer(live, world, "Ana Dupont", km=0.3, skills=["visit"], radius=3.0)
    ana.send_command("badge")
    card = await ana.expect_message("Brigade card — Chambéry")
    text = card.text or ""
    assert "Volunteer: Ana Dupont" in text
    found = re.search(r"Card code: ([A-Z0-9]{6})", text)
    assert found is not None
    code = found.group(1)
    ana.send_command("badge")
    assert f"Card code: {code}" in ((await ana.expect_message("Brigade card")).text or "")

    rita.send_command("verify", code.lower())
    valid = await rita.expect_message(f"Code {code} is valid")
    assert "Ana is a volunteer of the brigade, approved on" in (valid.text or "")
    rita.send_command("verify")
    await rita.expect_message("Send the code shown on the volunteer's card")
    wrong = "AAAAAA" if code != "AAAAAA" else "BBBBBB"
    rita.send_text(wrong)
    await rita.expect_message(f"Code {wrong} is not valid")
    # Volunteers cannot check codes; people without a role have no card.
    ana.send_command("verify", code)
    await ana.expect_message("reserved for referents and coordinators")
    newcomer = world.add_user("Nina", language_code="en")
    newcomer.send_command("badge")
    await newcomer.expect_message("The brigade card is for approved volunteers")
