"""Issue 4 end to end: two volunteers sign up (pin / typed address), one approved, one rejected."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.domain.vocabulary import VolunteerStatus
from storage.models import Member, VolunteerSkill
from testkit.harness import PollingBrigade
from testkit.telegram import FakeTelegram, FakeUser
from tests.conftest import COORDINATOR_ID

pytestmark = pytest.mark.e2e


async def _neighbourhoods(live: PollingBrigade, coordinator: FakeUser) -> None:
    coordinator.send_command("start")
    await coordinator.expect_message()
    service = live.services.neighbourhoods
    assert not isinstance(
        await service.create(COORDINATOR_ID, "Centre-Ville", 45.567, 5.921, 1.0), str
    )
    assert not isinstance(
        await service.create(COORDINATOR_ID, "Le Biollay", 45.556, 5.9075, 1.0), str
    )


async def _edited(world: FakeTelegram, person: FakeUser, marker: str) -> None:
    await world.wait_for(
        lambda: any(marker in label for label in person.last_message.labels),
        what=f"{person.first_name}'s keyboard shows {marker!r}",
    )


async def test_two_volunteers_sign_up_one_is_approved_the_other_rejected(
    world: FakeTelegram, live: PollingBrigade
) -> None:
    claire = world.add_user("Claire", user_id=COORDINATOR_ID, language_code="en")
    await _neighbourhoods(live, claire)

    # Marc signs up from the /start button, shares his number and a location pin.
    marc = world.add_user("Marc", language_code="en", phone_number="+33 6 12 34 56 78")
    marc.send_command("start")
    await marc.expect_message("Hello Marc")
    marc.tap("Become a volunteer")
    await marc.expect_message("What name should the coordinators")
    marc.send_sticker()  # wrong input: re-asked, nothing lost
    await marc.expect_message("did not understand")
    marc.send_text("Marc D.")
    await marc.expect_message("Your phone number")
    marc.press("Share my number")
    await marc.expect_message("Where are you based?")
    marc.send_text("??")  # too short to be an address
    await marc.expect_message("Please type a street and a town")
    marc.send_location(45.5675, 5.9205)
    await marc.expect_message("Location received")
    # Centre-Ville is the nearest by far: chosen for him.
    await marc.expect_message("What can you help with?")
    marc.tap("Done")  # no skill yet: refused with an alert
    await world.wait_for(
        lambda: (
            bool(marc.callback_answers)
            and "at least one skill" in (marc.callback_answers[-1].text or "")
        )
    )
    marc.tap("Plumbing")
    await _edited(world, marc, "✅ Plumbing")
    marc.tap("Small electrical work")
    await _edited(world, marc, "✅ Small electrical work")
    marc.tap("Done")
    summary = await marc.expect_message("Please check your answers")
    assert "Phone: +33 6 12 34 56 78" in summary.text
    assert "Neighbourhood: Centre-Ville" in summary.text
    marc.tap(summary, "🗓 Add my availability")
    await marc.expect_message("When are you usually free?")
    marc.tap("Weekends")
    await _edited(world, marc, "✅ Sat")
    marc.tap("Done")
    summary = await marc.expect_message("Please check your answers")
    assert "Availability: weekends" in summary.text
    marc.tap(summary, "I accept the charter and send my application")
    await marc.expect_message("Thank you! Your application has been sent")
    marc_card = await claire.expect_message("New volunteer application")
    assert "Marc D." in marc_card.text
    assert "Small electrical work (to verify)" in marc_card.text

    # Lina signs up with /join, skips the phone and types her address.
    lina = world.add_user("Lina", language_code="en")
    lina.send_command("join")
    await lina.expect_message("What name")
    lina.press("Use “Lina”")
    await lina.expect_message("Your phone number")
    lina.press("Skip")
    await lina.expect_message("Where are you based?")
    lina.send_text("8 rue du Pré de l'Âne, Chambéry")
    found = await lina.expect_message("Address found:")
    assert "Rue du Pré de l'Âne" in found.text
    await lina.expect_message("What can you help with?")
    lina.tap("Shopping")
    await _edited(world, lina, "✅ Shopping")
    lina.tap("Done")
    summary = await lina.expect_message("Please check your answers")
    assert "Neighbourhood: Le Biollay" in summary.text
    lina.tap(summary, "5 km")
    await world.wait_for(lambda: "Distance: up to 5 km" in (summary.text or ""))
    lina.tap(summary, "I accept the charter and send my application")
    await lina.expect_message("Thank you!")
    lina_card = await claire.expect_message("New volunteer application")
    assert "Phone: not given" in lina_card.text
    assert "Distance: up to 5 km" in lina_card.text

    # Both are pending, with the charter version and time stored.
    async with live.services.database.read() as session:
        rows = (
            (
                await session.execute(
                    select(Member)
                    .where(Member.telegram_id.in_([marc.id, lina.id]))
                    .order_by(Member.id)
                )
            )
            .scalars()
            .all()
        )
        skills = (await session.execute(select(VolunteerSkill))).scalars().all()
    assert [row.volunteer_status for row in rows] == [VolunteerStatus.PENDING] * 2
    assert {row.charter_version for row in rows} == {"2026-11"}
    assert all(row.charter_accepted_at is not None for row in rows)
    assert rows[0].latitude == pytest.approx(45.5675)
    assert len(skills) == 3

    # A pending volunteer asking again is told to wait.
    marc.send_command("join")
    await marc.expect_message("waiting for a coordinator")

    # Claire approves Marc from his card and rejects Lina with a reason.
    claire.tap(marc_card, "✅ Approve")
    await marc.expect_message("Good news: your application was approved")
    await world.wait_for(lambda: "Approved by Claire" in (marc_card.text or ""))
    claire.tap(lina_card, "❌ Reject")
    await claire.expect_message("Why is Lina's application not accepted?")
    claire.send_text("No volunteer is needed in Le Biollay for now.")
    refusal = await lina.expect_message("not accepted")
    assert "No volunteer is needed in Le Biollay for now." in refusal.text
    await claire.expect_message("Lina's application is not accepted; they have been told.")
    # The card she tapped shows the decision, and the one thing left to do.
    await world.wait_for(lambda: "Not accepted by Claire." in (lina_card.text or ""))
    assert lina_card.labels == ["Allow a new application now"]
    # Lina cannot apply again at once…
    lina.send_command("join")
    wait = await lina.expect_message("Your last application was not accepted")
    assert "You may apply again from" in (wait.text or "")
    # …unless a coordinator allows it.
    claire.tap(lina_card, "Allow a new application now")
    await world.wait_for(lambda: "Claire allowed a new application now." in (lina_card.text or ""))
    assert lina_card.labels == []
    lina.send_command("join")
    await lina.expect_message("What name should the coordinators")
    lina.send_command("cancel")
    await lina.expect_message()

    # A second tap on the decided card changes nothing.
    claire.tap_data(marc_card, "vet:approve:1")
    await world.wait_for(lambda: "already" in (claire.callback_answers[-1].text or ""))

    async with live.services.database.read() as session:
        statuses = dict(
            (
                await session.execute(
                    select(Member.telegram_id, Member.volunteer_status).where(
                        Member.telegram_id.in_([marc.id, lina.id])
                    )
                )
            ).all()
        )
    assert statuses == {marc.id: VolunteerStatus.APPROVED, lina.id: VolunteerStatus.REJECTED}

    # The electricity skill waits for a coordinator's verification on the approved card.
    claire.tap(marc_card, "Verify: Small electrical work")
    await world.wait_for(lambda: "Skill verified" in (claire.callback_answers[-1].text or ""))
    world.assert_sound()
