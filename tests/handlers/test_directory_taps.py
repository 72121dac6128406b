"""The directory's buttons, forged or stale, tapped by a coordinator: answered, nothing done."""

from __future__ import annotations

from sqlalchemy import func, select

from bot.domain.vocabulary import VolunteerStatus
from storage.models import AuditEvent
from testkit.harness import InProcessBrigade
from testkit.telegram import FakeTelegram
from tests.conftest import COORDINATOR_ID
from tests.factories import new_volunteer


async def test_forged_and_stale_directory_taps_are_answered_and_change_nothing(
    world: FakeTelegram, brigade: InProcessBrigade
) -> None:
    claire = world.add_user("Claire", user_id=COORDINATOR_ID, language_code="en")
    claire.send_command("start")
    await brigade.deliver()
    nour = await new_volunteer(brigade, world, "Nour")
    member = await brigade.services.members.find(nour.id)
    assert member is not None
    claire.send_command("members")
    await brigade.deliver()
    listing = claire.last_message
    assert "Members of the brigade: 2" in (listing.text or "")
    async with brigade.services.database.read() as session:
        events = (await session.execute(select(func.count()).select_from(AuditEvent))).scalar()

    taps = {
        "mb:list:0_z_x_0_x_x": "no longer valid",  # a filter word this version never made
        "mb:card:99999": None,  # edits the message: "This member no longer exists."
        "st:yes:1": "no longer valid",  # no question was asked
        "st:reinstate:{nour}": "no longer applies",  # she is not suspended
        "st:unref:{nour}": "no longer applies",  # she is no referent
        "st:suspend:99999": "no longer applies",
    }
    for data, answer in taps.items():
        claire.tap_data(listing, data.format(nour=member.id))
        await brigade.deliver()
        if answer is not None:
            assert answer in (claire.callback_answers[-1].text or ""), data
    assert "This member no longer exists." in (
        world.message(claire.id, listing.message_id).text or ""
    )

    after = await brigade.services.members.find(nour.id)
    assert after is not None
    assert after.volunteer_status is VolunteerStatus.APPROVED
    async with brigade.services.database.read() as session:
        assert (await session.execute(select(func.count()).select_from(AuditEvent))).scalar() == (
            events
        )

    # A search typed after 🔎 finds her; text instead of a fragment is asked again.
    claire.tap_data(listing, "mb:search:x")
    await brigade.deliver()
    claire.send_sticker()
    await brigade.deliver()
    assert "part of a name or a phone number" in (claire.last_message.text or "")
    claire.send_text("NOU")
    await brigade.deliver()
    assert "Members matching “NOU”: 1" in (claire.last_message.text or "")
    world.assert_sound()
