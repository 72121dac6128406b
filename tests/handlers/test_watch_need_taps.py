"""🙋 as a caller and a referent use it: the need asked in the list's place (⬅ records nothing),
a skill recorded in one more tap, the referent's draft (no phone) posted in one tap, edited in
/new's preview, withdrawn when the person leaves the register; and the authorization walk of
every new button: the wrong person, forged or stale data, a draft decided already."""

from __future__ import annotations

from sqlalchemy import select

from bot.domain.watch import CallOutcome, CampaignKind, Consent, RegisteredBy
from bot.services.outcomes import Outcome
from bot.services.watch.campaigns import CampaignPlan, CampaignView
from bot.services.watch.register import Entry
from storage.models import HelpRequest
from storage.watch_models import WatchCall
from testkit.clock import ManualClock
from testkit.harness import InProcessBrigade
from testkit.telegram import FakeTelegram
from testkit.telegram.models import StoredMessage
from tests.conftest import COORDINATOR_ID
from tests.factories import east, new_volunteer, skill_id
from tests.handlers.test_watch_register_taps import new_referent

PHONE = "02 35 00 11 22"
NAMES = ("Odette Vigilance", "Marcel Vigilance", "Jeanne Vigilance")


async def _calls(brigade: InProcessBrigade) -> dict[str, WatchCall]:
    async with brigade.services.database.read() as session:
        rows = (await session.execute(select(WatchCall).order_by(WatchCall.id))).scalars()
        return {NAMES[index]: call for index, call in enumerate(rows)}


def _draft(inbox: list[StoredMessage], name: str) -> StoredMessage:
    return next(m for m in inbox if (m.text or "").startswith(f"📋 Draft request for {name}"))


async def test_a_need_tapped_becomes_a_draft_the_referent_posts_or_edits(
    world: FakeTelegram, brigade: InProcessBrigade
) -> None:
    rita = await new_referent(brigade, world)
    robin = await new_referent(brigade, world, "Robin")
    ana = await new_volunteer(brigade, world, "Ana", skills=("phone_call",))
    vic = await new_volunteer(brigade, world, "Vic", skills=("shopping",))
    for index, name in enumerate(NAMES):
        latitude, longitude = east(0.2 + 0.1 * index)
        entry = Entry(
            name=name,
            phone=PHONE,
            address=f"{index + 12} rue de la Canicule",
            registered_by=RegisteredBy.SELF,
            consent=Consent.ORAL,
            language="fr",
            latitude=latitude,
            longitude=longitude,
        )
        assert isinstance(await brigade.services.register.add(rita.id, entry), int)
    clock = brigade.clock
    assert isinstance(clock, ManualClock)
    plan = CampaignPlan(CampaignKind.HEAT, window_start=9 * 60, window_end=12 * 60)
    assert isinstance(await brigade.services.watch.start(COORDINATOR_ID, plan), CampaignView)
    await brigade.run_timers()
    listing = ana.last_message
    calls = await _calls(brigade)
    odette, marcel, jeanne = (calls[name].id for name in NAMES)
    shopping = await skill_id(brigade.services.database, "shopping")

    # Someone else's list: 🙋 and a need refused, nothing shown of the person.
    for person in (vic, rita):
        person.send_command("start")
        await brigade.deliver()
        for data in (f"wc:needs:{odette}", f"wn:{shopping}:{odette}", f"wc:list:{odette}"):
            person.tap_data(person.last_message, data)
            await brigade.deliver()
            assert "not on your list" in (person.callback_answers[-1].text or ""), data
        assert all("Odette" not in (m.text or "") for m in person.inbox)
    # Forged needs: no longer valid, nothing recorded.
    for data in (f"wn:abc:{odette}", f"wn:999999:{odette}", "wn:1:999999", f"wd:zap:{odette}"):
        ana.tap_data(listing, data)
        await brigade.deliver()
        answer = ana.callback_answers[-1].text or ""
        assert any(
            refusal in answer
            for refusal in ("no longer valid", "not on your list", "not available to you")
        ), data

    # 🙋: the list becomes the question; ⬅ brings it back, nothing recorded.
    ana.tap(listing, "1 🙋")
    await brigade.deliver()
    asked = world.message(ana.id, listing.message_id)
    assert asked.text == "🙋 What does Odette Vigilance need?"
    assert {"Shopping", "💬 Something else / a worry", "⬅ Back"} <= set(asked.labels)
    ana.tap(asked, "⬅ Back")
    await brigade.deliver()
    assert "1 🙋" in world.message(ana.id, listing.message_id).labels
    assert (await _calls(brigade))[NAMES[0]].outcome is CallOutcome.PENDING
    # 🙋 then Shopping: two taps; the line says it, the referent has the draft.
    ana.tap(listing, "1 🙋")
    await brigade.deliver()
    ana.tap(world.message(ana.id, listing.message_id), "Shopping")
    await brigade.deliver()
    assert "draft request goes to their referent" in (ana.callback_answers[-1].text or "")
    assert "🙋 needs: Shopping" in (world.message(ana.id, listing.message_id).text or "")
    assert (await _calls(brigade))[NAMES[0]].need_skill_id == shopping
    # A stale question tapped again: already recorded.
    ana.tap_data(listing, f"wn:{shopping}:{odette}")
    await brigade.deliver()
    assert "Already recorded" in (ana.callback_answers[-1].text or "")
    draft = _draft(rita.inbox, "Odette Vigilance")
    assert "Shopping — as soon as possible — 1 volunteer" in (draft.text or "")
    assert "12 rue de la Canicule" in (draft.text or "")
    assert PHONE not in (draft.text or "")
    assert draft.labels == ["✅ Post it", "✏️ Edit first", "✖ Not needed"]

    # Not her referent, not a coordinator, the caller: refused, nothing posted.
    for person in (robin, vic, ana):
        for verb in ("post", "edit", "dismiss"):
            person.tap_data(person.last_message, f"wd:{verb}:{odette}")
            await brigade.deliver()
            assert "Only the person's referent" in (person.callback_answers[-1].text or "")
    async with brigade.services.database.read() as session:
        assert (await session.execute(select(HelpRequest.id))).first() is None

    # ✅ Post it: one tap; the draft says so; Vic (shopping, nearby) gets the offer; a second
    # tap is told who decided.
    rita.tap(draft, "✅ Post it")
    await brigade.deliver()
    posted = world.message(rita.id, draft.message_id)
    assert "📋 Odette Vigilance: request posted by Rita." in (posted.text or "")
    assert posted.labels == []
    offer = vic.last_message
    assert "Shopping" in (offer.text or "")
    assert PHONE not in (offer.text or "")
    rita.tap_data(draft, f"wd:dismiss:{odette}")
    await brigade.deliver()
    assert "request posted by Rita" in (rita.callback_answers[-1].text or "")

    # ✏️ Edit first: /new's preview, the need in; its ✏️ buttons work.
    ana.tap(listing, "2 🙋")
    await brigade.deliver()
    ana.tap(world.message(ana.id, listing.message_id), "Shopping")
    await brigade.deliver()
    second = _draft(rita.inbox, "Marcel Vigilance")
    rita.tap(second, "✏️ Edit first")
    await brigade.deliver()
    assert "Marcel Vigilance: Rita is editing the request." in (
        world.message(rita.id, second.message_id).text or ""
    )
    preview = rita.last_message
    assert "Shopping" in (preview.text or "")
    assert "✅ Post the request" in preview.labels
    rita.tap(preview, "✏️ Volunteers")
    await brigade.deliver()
    rita.tap(rita.last_message, "2")
    await brigade.deliver()
    preview = rita.last_message
    rita.tap(preview, "✅ Post the request")
    await brigade.deliver()
    async with brigade.services.database.read() as session:
        places = (await session.execute(select(HelpRequest.places_needed))).scalars().all()
    assert sorted(places) == [1, 2]
    rita.tap_data(second, f"wd:post:{marcel}")
    await brigade.deliver()
    assert "Rita is editing the request" in (rita.callback_answers[-1].text or "")

    # The person leaves the register before anyone decides: the draft names nobody any more.
    ana.tap(listing, "3 🙋")
    await brigade.deliver()
    ana.tap(world.message(ana.id, listing.message_id), "Shopping")
    await brigade.deliver()
    third = _draft(rita.inbox, "Jeanne Vigilance")
    person_id = (await _calls(brigade))[NAMES[2]].person_id
    assert person_id is not None
    assert await brigade.services.register.remove(rita.id, person_id) is Outcome.DONE
    await brigade.deliver()
    withdrawn = world.message(rita.id, third.message_id)
    assert "withdrawn" in (withdrawn.text or "")
    assert "Jeanne" not in (withdrawn.text or "")
    rita.tap_data(third, f"wd:post:{jeanne}")
    await brigade.deliver()
    assert "withdrawn" in (rita.callback_answers[-1].text or "")
