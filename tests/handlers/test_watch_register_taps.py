"""/register, as a referent uses it (add, read, change, remove in the message tapped), and the
authorization walk: a volunteer, another referent and forged data are refused, nothing changes."""

from __future__ import annotations

from sqlalchemy import func, select

from bot.domain.vocabulary import Role
from bot.domain.watch import CallOutcome, CampaignKind, Consent, RegisteredBy
from bot.services.members import TelegramIdentity
from bot.services.outcomes import Outcome
from bot.services.watch.campaigns import CampaignPlan, CampaignView
from bot.services.watch.register import Entry
from storage.models import AuditEvent
from storage.watch_models import WatchCall, WatchPerson
from testkit.clock import ManualClock
from testkit.harness import InProcessBrigade
from testkit.telegram import FakeTelegram, FakeUser
from tests.conftest import COORDINATOR_ID
from tests.factories import new_volunteer

PHONE = "02 35 00 11 22"
NEW_PHONE = "06 98 76 54 32"


async def new_referent(
    brigade: InProcessBrigade, world: FakeTelegram, name: str = "Rita"
) -> FakeUser:
    """A referent who opened a coordinator's invitation."""
    await brigade.services.members.identify(TelegramIdentity(COORDINATOR_ID, "Claire"))
    person = world.add_user(name, language_code="en")
    person.send_command("start")
    await brigade.deliver()
    created = await brigade.services.invites.create(COORDINATOR_ID, Role.REFERENT)
    assert not isinstance(created, Outcome)
    person.start(created.start_payload)
    await brigade.deliver()
    return person


async def _answers(person: FakeUser, brigade: InProcessBrigade, *steps: str) -> None:
    """Type each answer, or tap the button whose label follows "tap:"."""
    for step in steps:
        if step.startswith("tap:"):
            person.tap(step.removeprefix("tap:"))
        else:
            person.send_text(step)
        await brigade.deliver()


async def _count(brigade: InProcessBrigade, model: type[object]) -> int:
    async with brigade.services.database.read() as session:
        return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


async def test_a_referent_adds_reads_changes_and_removes_a_person(
    world: FakeTelegram, brigade: InProcessBrigade
) -> None:
    rita = await new_referent(brigade, world)
    rita.send_command("register")
    await brigade.deliver()
    assert rita.last_message.text == "Nobody is on the watch register yet."

    rita.tap("➕ Add a person")
    await brigade.deliver()
    assert "What is the person's name" in (rita.last_message.text or "")
    await _answers(rita, brigade, "Odette Vigilance", "not a phone")
    assert "does not look like a phone number" in (rita.last_message.text or "")
    await _answers(
        rita,
        brigade,
        PHONE,
        "12 rue de la Canicule",
        "tap:a relative",
        "tap:in writing",
        "tap:Skip",
        "tap:Français",
        "hard of hearing",
        "tap:Skip",
    )
    summary = rita.last_message.text or ""
    assert summary.startswith("Please check before saving:")
    assert f"Phone: {PHONE}" in summary
    assert "Best time to call: not given" in summary
    assert "Notes: hard of hearing" in summary
    rita.tap("✅ Save")
    await brigade.deliver()
    card = rita.last_message
    assert (card.text or "").startswith("Added to the watch register.")
    assert "Registered by: a relative" in (card.text or "")
    assert "Referent: Rita" in (card.text or "")

    # ✏️ Change → the phone → the card again, changed.
    rita.tap(card, "✏️ Change")
    await brigade.deliver()
    rita.tap("Phone")
    await brigade.deliver()
    rita.send_text(NEW_PHONE)
    await brigade.deliver()
    changed = rita.last_message
    assert (changed.text or "").startswith("Changed.")
    assert f"Phone: {NEW_PHONE}" in (changed.text or "")

    # The list shows her; her card from the list.
    rita.send_command("register")
    await brigade.deliver()
    assert rita.last_message.text == "The watch register: 1"
    rita.tap(rita.last_message, "Odette Vigilance")
    await brigade.deliver()
    shown = rita.last_message
    assert f"Phone: {NEW_PHONE}" in (shown.text or "")

    # 🗑 asks first in the same message; "No, keep" shows the card again; Yes removes.
    rita.tap(shown, "🗑 Remove")
    await brigade.deliver()
    asked = world.message(rita.id, shown.message_id)
    assert "this cannot be undone" in (asked.text or "")
    assert await _count(brigade, WatchPerson) == 1
    rita.tap(asked, "No, keep")
    await brigade.deliver()
    assert f"Phone: {NEW_PHONE}" in (world.message(rita.id, shown.message_id).text or "")
    rita.tap(world.message(rita.id, shown.message_id), "🗑 Remove")
    await brigade.deliver()
    rita.tap(world.message(rita.id, shown.message_id), "Yes, remove")
    await brigade.deliver()
    assert (world.message(rita.id, shown.message_id).text or "").startswith(
        "Removed from the watch register"
    )
    assert await _count(brigade, WatchPerson) == 0


async def test_register_refused_to_the_wrong_role_person_and_data(
    world: FakeTelegram, brigade: InProcessBrigade
) -> None:
    rita = await new_referent(brigade, world)
    robin = await new_referent(brigade, world, "Robin")
    vic = await new_volunteer(brigade, world, "Vic")
    rita.send_command("register")
    await brigade.deliver()
    rita.tap("➕ Add a person")
    await brigade.deliver()
    await _answers(
        rita,
        brigade,
        "Odette Vigilance",
        PHONE,
        "12 rue de la Canicule",
        "tap:the person themselves",
        "tap:orally",
        "tap:Skip",
        "tap:Français",
        "tap:Skip",
        "tap:Skip",
        "tap:✅ Save",
    )
    async with brigade.services.database.read() as session:
        person_id = (await session.execute(select(WatchPerson.id))).scalar_one()

    # A volunteer's /register is refused.
    vic.send_command("register")
    await brigade.deliver()
    assert vic.last_message.text == "This is for the brigade's referents and coordinators."
    events = await _count(brigade, AuditEvent)

    # Every button of the register, forged by a volunteer and by another referent.
    for person in (vic, robin):
        person.send_command("start")
        await brigade.deliver()
        message = person.last_message
        for data in (
            f"wg:card:{person_id}",
            f"wg:remove:{person_id}",
            f"wg:removeyes:{person_id}",
            f"wg:edit:{person_id}",
        ):
            person.tap_data(message, data)
            await brigade.deliver()
            answer = person.callback_answers[-1].text or ""
            shown = world.message(person.id, message.message_id).text or ""
            refused = "referents and coordinators" in answer + shown
            assert refused, (person, data, answer, shown)
            assert PHONE not in shown
    vic.tap_data(vic.last_message, "wg:add:0")
    await brigade.deliver()
    assert "referents and coordinators" in (vic.callback_answers[-1].text or "")
    # Forged data: answered as no longer valid.
    for data in ("wg:card:abc", "wg:zap:1", "wgs:field:name", "wgs:save:x"):
        robin.tap_data(robin.last_message, data)
        await brigade.deliver()
        assert "no longer valid" in (robin.callback_answers[-1].text or ""), data

    # Nothing changed, nothing was read: the audit log holds no new event.
    assert await _count(brigade, WatchPerson) == 1
    assert await _count(brigade, AuditEvent) == events
    # The phone reached nobody but Rita.
    for person in (vic, robin):
        assert all(PHONE not in (message.text or "") for message in person.inbox)


async def test_call_and_alert_buttons_refuse_the_wrong_person_and_forged_data(
    world: FakeTelegram, brigade: InProcessBrigade
) -> None:
    rita = await new_referent(brigade, world)
    robin = await new_referent(brigade, world, "Robin")
    ana = await new_volunteer(brigade, world, "Ana", skills=("phone_call",))
    vic = await new_volunteer(brigade, world, "Vic", skills=("plumbing",))
    entry = Entry(
        name="Odette Vigilance",
        phone=PHONE,
        address="12 rue de la Canicule",
        registered_by=RegisteredBy.SELF,
        consent=Consent.ORAL,
        language="fr",
    )
    person_id = await brigade.services.register.add(rita.id, entry)
    assert isinstance(person_id, int)
    clock = brigade.clock
    assert isinstance(clock, ManualClock)
    # A window that has begun (the test clock reads 10:00 in Paris).
    plan = CampaignPlan(CampaignKind.COLD, window_start=9 * 60, window_end=12 * 60)
    assert isinstance(await brigade.services.watch.start(COORDINATOR_ID, plan), CampaignView)
    await brigade.run_timers()
    listing = ana.last_message
    assert PHONE in (listing.text or "")
    async with brigade.services.database.read() as session:
        call_id = (await session.execute(select(WatchCall.id))).scalar_one()

    # Someone else's list: refused, and the phone is not shown to them.
    for person in (vic, rita):
        person.send_command("start")
        await brigade.deliver()
        person.tap_data(person.last_message, f"wc:well:{call_id}")
        await brigade.deliver()
        assert "not on your list" in (person.callback_answers[-1].text or "")
    # Forged outcomes and actions: no longer valid.
    for data in ("wc:zap:1", "wc:pending:{call}", "wa:zap:{call}", "wc:well:abc"):
        ana.tap_data(listing, data.format(call=call_id))
        await brigade.deliver()
        assert "no longer valid" in (ana.callback_answers[-1].text or ""), data
    # An alert's buttons before any escalation, by the caller or another referent: refused.
    for person in (ana, robin):
        person.tap_data(person.last_message, f"wa:go:{call_id}")
        await brigade.deliver()
        answer = person.callback_answers[-1].text or ""
        assert "referents and coordinators" in answer or "no longer valid" in answer
    async with brigade.services.database.read() as session:
        call = (await session.execute(select(WatchCall))).scalar_one()
    assert call.outcome is CallOutcome.PENDING
    assert call.acknowledged_at is None

    # Two no-answers escalate; Robin (not her referent) cannot act on it, Rita can, once.
    ana.tap(listing, "1 📵")
    await brigade.deliver()
    assert "no answer" in (ana.callback_answers[-1].text or "")
    ana.tap(world.message(ana.id, listing.message_id), "1 📵")
    await brigade.deliver()
    alert = next(m for m in rita.inbox if "Nobody has reached" in (m.text or ""))
    assert PHONE not in (alert.text or "")
    robin.tap_data(robin.last_message, f"wa:go:{call_id}")
    await brigade.deliver()
    assert "referents and coordinators" in (robin.callback_answers[-1].text or "")
    rita.tap(alert, "🚶 I'll go")
    await brigade.deliver()
    assert "Rita — 🚶 I'll go" in (world.message(rita.id, alert.message_id).text or "")
    rita.tap_data(alert, f"wa:reached:{call_id}")
    await brigade.deliver()
    assert "already said" in (rita.callback_answers[-1].text or "")
    # Her list takes no more taps for her once escalated.
    ana.tap_data(listing, f"wc:well:{call_id}")
    await brigade.deliver()
    assert "Already recorded" in (ana.callback_answers[-1].text or "")
