"""Issue 17 items 5 and 6 end to end over HTTP: the town's own charter, and "Still with us?"."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.services.outcomes import Outcome
from bot.services.requests import BeneficiaryDetails, RequestDraft
from storage.models import AuditEvent, Charter, Member
from testkit.clock import ManualClock
from testkit.harness import PollingBrigade
from testkit.telegram import FakeTelegram, FakeUser
from tests.conftest import COORDINATOR_ID
from tests.factories import CENTRE, new_referent, new_volunteer, skill_id, the_coordinator

# The periodic sweep runs once, at start: the tests run the sweep themselves, clock moved.
pytestmark = [pytest.mark.e2e, pytest.mark.live_settings(timer_interval_seconds=3600)]

TOWN_CHARTER = "Charter of the Chambéry brigade.\n\n" + "\n".join(
    f"{n}. We help our neighbours kindly and for free, rule {n}." for n in range(1, 60)
)


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
            access_notes=None,
            consent=True,
        ),
    )


async def _post(live: PollingBrigade, rita: FakeUser) -> int:
    posted = await live.services.requests.post(
        rita.id, _draft(await skill_id(live.services.database, "plumbing"))
    )
    assert posted is not None
    return posted.request_id


def _offered(person: FakeUser, request_id: int) -> bool:
    return any(f"Request #{request_id}" in (m.text or "") for m in person.inbox)


def _clock(live: PollingBrigade) -> ManualClock:
    assert isinstance(live.clock, ManualClock)
    return live.clock


async def _member(live: PollingBrigade, person: FakeUser) -> Member:
    async with live.services.database.read() as session:
        return (
            await session.execute(select(Member).where(Member.telegram_id == person.id))
        ).scalar_one()


async def test_a_published_charter_withholds_offers_after_the_grace_period_until_accepted(
    world: FakeTelegram, live: PollingBrigade
) -> None:
    claire = await the_coordinator(world)
    rita = await new_referent(live, world)
    ana = await new_volunteer(live, world, "Ana")
    clock = _clock(live)

    # Claire replaces the English text with one long message, previews it, then publishes.
    claire.send_command("charter")
    card = await claire.expect_message("The charter in force is the default text")
    claire.tap(card, "✏️ Replace (en)")
    await claire.expect_message("Send the new charter in English")
    assert len(TOWN_CHARTER) > 3000
    claire.send_text(TOWN_CHARTER)
    preview = await claire.expect_message("Preview — as volunteers reading in English")
    assert "The brigade's charter has changed (version 1)" in (preview.text or "")
    assert TOWN_CHARTER in (preview.text or "")
    claire.tap(preview, "📜 Publish")
    confirm = await claire.expect_message("Publish version 1 of the charter")
    assert "This cannot be undone" in (confirm.text or "")
    claire.tap(confirm, "✅ Yes, publish")
    await world.wait_for(
        lambda: (
            "Version 1 of the charter is published: 1 volunteer is asked" in (confirm.text or "")
        ),
        what="the confirmation edited",
    )
    asked = await ana.expect_message("The brigade's charter has changed (version 1)")
    assert TOWN_CHARTER in (asked.text or "")
    assert asked.labels == ["✅ I accept the charter", "Not now"]

    # Within the grace period offers still reach her.
    first = await _post(live, rita)
    offer = await ana.expect_message(f"Request #{first}")
    assert "A new version of the brigade's charter awaits your acceptance" in (offer.text or "")

    # After it, none until she accepts; a command reminds her.
    clock.advance(days=15)
    second = await _post(live, rita)
    await live.settle()
    assert not _offered(ana, second)
    ana.send_command("help")
    assert "/charter" in ((await ana.expect_message("/profile")).text or "")
    await ana.expect_message("A new version of the brigade's charter awaits your acceptance")

    # "Not now" says how to accept later or leave; then she accepts with /charter.
    ana.tap(asked, "Not now")
    await world.wait_for(lambda: "accept it later with /charter" in (asked.text or ""))
    assert asked.labels == []
    ana.send_command("charter")
    again = await ana.expect_message("version 1")
    ana.tap(again, "✅ I accept the charter")
    await world.wait_for(
        lambda: "You accepted version 1 of the charter on" in (again.text or ""),
        what="the acceptance shown in the message",
    )
    accepted_at = clock()
    member = await _member(live, ana)
    assert member.charter_version == "1"
    assert member.charter_accepted_at is not None
    assert abs(member.charter_accepted_at - accepted_at) < timedelta(minutes=1)
    async with live.services.database.read() as session:
        event = (
            await session.execute(
                select(AuditEvent).where(
                    AuditEvent.action == "accept_charter", AuditEvent.entity_id == member.id
                )
            )
        ).scalar_one()
        published = (await session.execute(select(Charter))).scalar_one()
    assert event.detail == {"charter_version": "1"}
    assert published.texts == {"en": TOWN_CHARTER}

    third = await _post(live, rita)
    offer = await ana.expect_message(f"Request #{third}")
    assert "charter" not in (offer.text or "")


async def test_a_replaced_charter_can_be_discarded_and_a_file_is_refused(
    world: FakeTelegram, live: PollingBrigade
) -> None:
    claire = await the_coordinator(world)
    claire.send_command("charter")
    claire.tap(await claire.expect_message("The charter in force"), "✏️ Replace (fr)")
    await claire.expect_message("Send the new charter in Français")
    claire.send_photo()
    await claire.expect_message("Please send the charter as a text message")
    claire.send_text("x" * 3600)
    await claire.expect_message("too long (")
    claire.send_text("Charte de la brigade : nous aidons gratuitement.")
    preview = await claire.expect_message("Preview — as volunteers reading in Français")
    assert "La charte de la brigade a changé (version 1)" in (preview.text or "")
    claire.tap(preview, "✖ Discard")
    await claire.expect_message("Discarded: the charter in force is unchanged")
    assert (await live.services.charters.current()).number == 0


async def test_still_with_us_yes_keeps_silence_pauses_leave_asks_to_confirm(
    world: FakeTelegram, live: PollingBrigade
) -> None:
    await the_coordinator(world)
    rita = await new_referent(live, world)
    yves = await new_volunteer(live, world, "Yves", km=0.3)
    sam = await new_volunteer(live, world, "Sam", km=0.4)
    lea = await new_volunteer(live, world, "Léa", km=0.5)
    clock = _clock(live)
    checkins = live.services.checkins

    # Six months without taking anything: all three are asked.
    clock.advance(days=183)
    await checkins.run_due()
    questions = {p.first_name: await p.expect_message("Still with us?") for p in (yves, sam, lea)}
    assert questions["Yves"].labels == [
        "🙋 Yes, I am still here",
        "⏸ Pause for a while",
        "👋 Leave the brigade",
    ]
    yves.tap(questions["Yves"], "Yes, I am still here")
    await world.wait_for(
        lambda: "You keep receiving requests" in (questions["Yves"].text or ""),
        what="Yes shown in the question",
    )
    lea.tap(questions["Léa"], "Leave the brigade")
    confirmation = await lea.expect_message("Erase your personal data from Brigade?")
    lea.tap(confirmation, "🗑 Erase my data")
    await world.wait_for(
        lambda: "Your personal data has been erased" in (confirmation.text or ""),
        what="Léa forgotten",
    )

    # A month of silence: Sam is paused (and told), the marker is set; Yves is kept.
    clock.advance(days=31)
    await checkins.run_due()
    await sam.expect_message("We did not hear from you")
    assert (await _member(live, sam)).checkin_paused_at is not None
    assert await checkins.paused_by_silence((await _member(live, sam)).id)
    kept = await _member(live, yves)
    assert kept.checkin_paused_at is None
    assert kept.paused_until is None
    request_id = await _post(live, rita)
    await yves.expect_message(f"Request #{request_id}")
    await live.settle()
    assert not _offered(sam, request_id)

    # Sam comes back with /resume: offers again, the marker gone.
    sam.send_command("resume")
    await sam.expect_message("Welcome back")
    assert (await _member(live, sam)).checkin_paused_at is None
    assert (
        await live.services.charters.accept(sam.id, 5)
    ) is Outcome.NOT_FOUND  # no such version: nothing recorded


async def test_the_sign_up_shows_the_towns_text_and_records_its_version(
    world: FakeTelegram, live: PollingBrigade
) -> None:
    await the_coordinator(world)
    published = await live.services.charters.publish(
        COORDINATOR_ID, {"en": "Our town's own charter: kindness, discretion, no money."}
    )
    assert not isinstance(published, Outcome)
    nina = world.add_user("Nina", language_code="en", phone_number="+33 6 00 00 00 01")
    nina.send_command("join")
    await nina.expect_message("What name")
    nina.send_text("Nina")
    await nina.expect_message("Your phone number")
    nina.press("Share my number")
    await nina.expect_message("Where are you based?")
    nina.send_location(*CENTRE)
    await nina.expect_message("What can you help with?")
    nina.tap("Plumbing")
    await world.wait_for(lambda: "✅ Plumbing" in str(nina.last_message.labels))
    nina.tap("Done")
    # The summary shows the town's own text (short: whole), never the default one.
    summary = await nina.expect_message("Please check your answers")
    assert "Our town's own charter: kindness, discretion, no money." in (summary.text or "")
    assert "I help for free" not in (summary.text or "")
    nina.tap(summary, "📖 Read the whole charter")
    charter = await nina.expect_message("Our town's own charter")
    assert "I help for free" not in (charter.text or "")
    nina.tap(charter, "I accept the charter and send my application")
    await nina.expect_message("Thank you!")
    member = await _member(live, nina)
    assert member.charter_version == "1"
    assert member.charter_accepted_at is not None
