"""Issue 18's last behaviour end to end over HTTP: a caller's 🙋 and "Shopping" (two taps) put a
draft request in the referent's chat; ✅ (one tap) posts it and a volunteer who shops nearby is
offered it, without the person's phone; another 🙋's ✏️ opens /new's preview with the need in,
and the coordinator's copy of a draft sent to the coordinators says who decided."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from bot.domain.watch import CampaignKind, Consent, RegisteredBy
from bot.services.watch.campaigns import CampaignPlan, CampaignView
from bot.services.watch.register import Entry
from storage.watch_models import WatchPerson
from testkit.harness import PollingBrigade
from testkit.telegram import FakeTelegram
from tests.conftest import COORDINATOR_ID
from tests.factories import east, new_referent, new_volunteer, the_coordinator

pytestmark = [pytest.mark.e2e, pytest.mark.live_settings(timer_interval_seconds=3600)]

PHONE = "+33 2 35 19 00 00"


async def test_a_need_becomes_a_posted_request(world: FakeTelegram, live: PollingBrigade) -> None:
    claire = await the_coordinator(world)
    rita = await new_referent(live, world)
    ana = await new_volunteer(live, world, "Ana", skills=("phone_call",))
    sam = await new_volunteer(live, world, "Sam", km=0.4, skills=("shopping",))
    ids = []
    for index, name in enumerate(("Odette Martin", "Marcel Martin", "Jeanne Martin")):
        latitude, longitude = east(0.2 + 0.1 * index)
        added = await live.services.register.add(
            rita.id,
            Entry(
                name=name,
                phone=PHONE,
                address=f"{index + 3} rue des Lilas",
                registered_by=RegisteredBy.RELATIVE,
                consent=Consent.WRITTEN,
                language="fr",
                latitude=latitude,
                longitude=longitude,
            ),
        )
        assert isinstance(added, int)
        ids.append(added)
    # Jeanne's referent left: her draft goes to the coordinators.
    async with live.services.database.transaction() as session:
        await session.execute(
            update(WatchPerson).where(WatchPerson.id == ids[2]).values(referent_id=None)
        )
    plan = CampaignPlan(CampaignKind.HEAT, window_start=9 * 60, window_end=12 * 60)
    assert isinstance(await live.services.watch.start(COORDINATOR_ID, plan), CampaignView)
    await live.services.watch.run_due()
    await live.settle()
    listing = await ana.expect_message("📞 Your calls for")

    # Ana: 🙋, then Shopping — two taps, the list edited in place.
    ana.tap(listing, "1 🙋")
    await world.wait_for(lambda: "What does Odette Martin need?" in (listing.text or ""))
    ana.tap(listing, "Shopping")
    await world.wait_for(lambda: "🙋 needs: Shopping" in (listing.text or ""))

    # Rita: the draft, without the phone; ✅ — one tap — posts it.
    draft = await rita.expect_message("📋 Draft request for Odette Martin (watch call, ")
    assert "Shopping — as soon as possible — 1 volunteer" in (draft.text or "")
    assert PHONE not in (draft.text or "")
    rita.tap(draft, "✅ Post it")
    await world.wait_for(lambda: "request posted by Rita" in (draft.text or ""))
    offer = await sam.expect_message("Shopping")
    assert "Odette" not in (offer.text or "")
    assert PHONE not in (offer.text or "")

    # Another 🙋: ✏️ Edit first opens /new's preview with the need in.
    ana.tap(listing, "2 🙋")
    await world.wait_for(lambda: "What does Marcel Martin need?" in (listing.text or ""))
    ana.tap(listing, "Shopping")
    second = await rita.expect_message("📋 Draft request for Marcel Martin")
    rita.tap(second, "✏️ Edit first")
    preview = await rita.expect_message("Shopping")
    assert "✅ Post the request" in preview.labels
    assert "✏️ Where" in preview.labels

    # No referent: Claire has the draft; her ✖ edits it.
    ana.tap(listing, "3 🙋")
    await world.wait_for(lambda: "What does Jeanne Martin need?" in (listing.text or ""))
    ana.tap(listing, "Shopping")
    third = await claire.expect_message("📋 Draft request for Jeanne Martin")
    claire.tap(third, "✖ Not needed")
    await world.wait_for(lambda: "Jeanne Martin: not needed, said Claire." in (third.text or ""))
    await live.settle()
    assert not any("Jeanne" in (m.text or "") for m in rita.inbox)
