"""Issue 18's last behaviour on SQLite and PostgreSQL: 🙋 says what is needed; a skill makes a
request draft for the person's referent (the coordinators without one) that ✅ posts as /new
does, ✏️ hands to /new's preview, ✖ drops; first decision wins; a worry is a concern notice;
the person's removal withdraws a pending draft and leaves no name in it."""

from __future__ import annotations

import asyncio

from sqlalchemy import select, update

from bot.domain.watch import CONCERN, CallOutcome, Consent, DraftDecision, RegisteredBy
from bot.messages.base import Reader
from bot.messages.watch_calls import CallerList, NeedDraft, PersonNeeds
from bot.services.outcomes import Outcome
from bot.services.requests import DraftPosted
from bot.services.watch.calls import DraftAnswer, NeedChoices
from bot.services.watch.needs import draft_batch
from bot.services.watch.register import Entry
from storage.database import Database
from storage.models import Beneficiary, HelpRequest, Offer, OutboxMessage
from storage.watch_models import WatchCall, WatchPerson
from testkit.clock import ManualClock
from tests.conftest import COORDINATOR_ID
from tests.factories import CENTRE, approve_application, east, enrol, skill_id
from tests.services.test_watch_campaigns import (
    CALLERS,
    PLAN,
    RITA,
    Person,
    Town,
    _callers,
    _calls,
    town,
)

__all__ = ["town"]  # the fixture, shared with the campaigns' tests

SHOPPER = 7_100


async def _people(town: Town, count: int) -> list[int]:
    """Register entries with a place near the centre, Rita their referent."""
    ids = []
    for index in range(count):
        latitude, longitude = east(0.2 + 0.1 * index)
        added = await town.services.register.add(
            RITA,
            Entry(
                name=f"Odette {index}",
                phone=f"+33 2 35 00 00 {index:02d}",
                address=f"{index} rue des Lilas",
                registered_by=RegisteredBy.SELF,
                consent=Consent.WRITTEN,
                language="fr",
                latitude=latitude,
                longitude=longitude,
            ),
        )
        assert isinstance(added, int)
        ids.append(added)
    return ids


async def test_a_need_becomes_a_draft_the_referent_posts(
    town: Town, database: Database, clock: ManualClock
) -> None:
    services, sent = town.services, town.sent
    created = await services.neighbourhoods.create(COORDINATOR_ID, "Centre-Ville", *CENTRE, 2.0)
    assert not isinstance(created, Outcome)
    members = await _callers(town)
    await enrol(town, Person(SHOPPER, "Sam"), km=0.3, skills=("shopping",))
    await approve_application(town, Person(SHOPPER, "Sam"))
    people = await _people(town, 6)
    # The last one has no referent (their referent left): the coordinators get the draft.
    async with database.transaction() as session:
        await session.execute(
            update(WatchPerson).where(WatchPerson.id == people[5]).values(referent_id=None)
        )
    shopping = await skill_id(database, "shopping")
    await services.watch.start(COORDINATOR_ID, PLAN)
    clock.advance(hours=1)
    assert (await services.watch.run_due())["watch_calls"] == 6
    calls = {call.person_id: call for call in await _calls(database)}
    owner = {call.id: members[call.caller_id or 0] for call in calls.values()}
    first = calls[people[0]]
    stranger = next(tid for tid in CALLERS if tid != owner[first.id])

    # 🙋: what do they need? Only the person's caller is asked; nothing is recorded yet.
    assert await services.watch.need_choices(stranger, first.id) is Outcome.NOT_ALLOWED
    choices = await services.watch.need_choices(owner[first.id], first.id)
    assert isinstance(choices, NeedChoices)
    assert choices.name == "Odette 0"
    assert (shopping, "Shopping") in choices.skills
    assert (await _calls(database))[0].outcome is CallOutcome.PENDING
    listed = await services.watch.caller_list(owner[first.id], first.id)  # ⬅ Back
    assert isinstance(listed, CallerList)

    # A skill: recorded with the need, the list shows it, Rita gets the draft (no phone).
    assert await services.watch.record_need(stranger, first.id, shopping) is Outcome.NOT_ALLOWED
    assert await services.watch.record_need(owner[first.id], first.id, 9_999) is Outcome.INVALID
    listed = await services.watch.record_need(owner[first.id], first.id, shopping)
    assert isinstance(listed, CallerList)
    line = next(line for line in listed.lines if line.call_id == first.id)
    assert (line.outcome, line.need) == (CallOutcome.NEEDS, "Shopping")
    assert await services.watch.record_need(owner[first.id], first.id, shopping) is (
        Outcome.ALREADY_DONE
    )
    assert await services.watch.need_choices(owner[first.id], first.id) is Outcome.ALREADY_DONE
    assert sent.readers(NeedDraft) == [RITA]
    draft = sent.of(NeedDraft)[0]
    text = sent.rendered(draft, Reader(RITA, language="en")).text
    assert "📋 Draft request for Odette 0 (watch call, 11:00 by Caller" in text
    assert "Shopping — as soon as possible — 1 volunteer" in text
    assert "0 rue des Lilas" in text
    assert "+33" not in text
    assert not sent.of(PersonNeeds)

    # ✅ by a caller (not the referent, not a coordinator): refused; by Rita: posted once, the
    # broadcast goes to the shopper; a coordinator's late ✖ changes nothing.
    assert await services.requests.post_watch_draft(stranger, first.id) is Outcome.NOT_ALLOWED
    posted = await services.requests.post_watch_draft(RITA, first.id)
    assert isinstance(posted, DraftPosted)
    assert posted.done.decision is DraftDecision.POST
    assert posted.posted.offered >= 1
    late = await services.watch.decide_draft(COORDINATOR_ID, first.id, DraftDecision.DISMISS)
    assert late is Outcome.ALREADY_DONE
    decided = await services.watch.draft_decided(first.id)
    assert decided is not None
    assert (decided.who, decided.decision) == ("Rita", DraftDecision.POST)
    async with database.read() as session:
        call = await session.get(WatchCall, first.id)
        assert call is not None
        request = await session.get(HelpRequest, call.request_id)
        assert request is not None
        assert request.skill_id == shopping
        assert request.area_label == "Centre-Ville"
        beneficiary = await session.get(Beneficiary, request.beneficiary_id)
        assert beneficiary is not None
        assert (beneficiary.name, beneficiary.phone) == ("Odette 0", "+33 2 35 00 00 00")
        assert beneficiary.consent_at is not None  # ✅ says the person agreed, as /new asks
        shopper = await services.members.find(SHOPPER)
        assert shopper is not None
        offers = await session.execute(
            select(Offer.member_id).where(Offer.request_id == request.id)
        )
        assert shopper.id in set(offers.scalars())

    # Two deciders at once: one decision, one request.
    second = calls[people[1]]
    await services.watch.record_need(owner[second.id], second.id, shopping)
    results = await asyncio.gather(
        services.requests.post_watch_draft(RITA, second.id),
        services.watch.decide_draft(COORDINATOR_ID, second.id, DraftDecision.DISMISS),
    )
    assert sum(result is Outcome.ALREADY_DONE for result in results) == 1
    async with database.read() as session:
        requests = (await session.execute(select(HelpRequest.id))).scalars().all()
    assert len(requests) == 1 + isinstance(results[0], DraftPosted)

    # ✏️ Edit first: the request as /new's answers; then ✅ is too late.
    third = calls[people[2]]
    await services.watch.record_need(owner[third.id], third.id, shopping)
    answer = await services.watch.decide_draft(RITA, third.id, DraftDecision.EDIT)
    assert isinstance(answer, DraftAnswer)
    assert answer.prefill is not None
    assert (answer.prefill.name, answer.prefill.skill_id) == ("Odette 2", shopping)
    assert answer.prefill.latitude is not None
    assert await services.requests.post_watch_draft(RITA, third.id) is Outcome.ALREADY_DONE

    # A worry: a concern notice to Rita and the coordinators, no draft.
    fourth = calls[people[3]]
    assert isinstance(
        await services.watch.record_need(owner[fourth.id], fourth.id, CONCERN), CallerList
    )
    assert sent.readers(PersonNeeds) == [RITA, COORDINATOR_ID]
    assert await services.requests.post_watch_draft(RITA, fourth.id) is Outcome.NOT_FOUND

    # Removed from the register before anyone decided: withdrawn, every copy names nobody.
    fifth = calls[people[4]]
    await services.watch.record_need(owner[fifth.id], fifth.id, shopping)
    assert await services.register.remove(RITA, people[4]) is Outcome.DONE
    assert await services.requests.post_watch_draft(RITA, fifth.id) is Outcome.NOT_FOUND
    async with database.read() as session:
        copies = (
            await session.execute(
                select(OutboxMessage).where(OutboxMessage.batch_key == draft_batch(fifth.id))
            )
        ).scalars()
        texts = [str(row.payload) for row in copies]
    assert texts
    # (Rita's Telegram gave no language: she reads the town's, French.)
    assert all("Odette" not in text and "brouillon a été retiré" in text for text in texts), texts

    # No referent: the coordinators get the draft; one of them drops it.
    sixth = calls[people[5]]
    await services.watch.record_need(owner[sixth.id], sixth.id, shopping)
    assert sent.readers(NeedDraft)[-1] == COORDINATOR_ID
    assert await services.watch.decide_draft(RITA, sixth.id, DraftDecision.DISMISS) is (
        Outcome.NOT_ALLOWED
    )
    dropped = await services.watch.decide_draft(COORDINATOR_ID, sixth.id, DraftDecision.DISMISS)
    assert isinstance(dropped, DraftAnswer)
    assert dropped.done.decision is DraftDecision.DISMISS

    # The campaign's day over (the next one opened): the caller's buttons are refused; a draft
    # not decided stays with the referent (the person still needs it).
    clock.advance(days=1)
    await services.watch.run_due()
    assert await services.watch.need_choices(owner[first.id], first.id) is Outcome.EXPIRED
    assert await services.watch.record_need(owner[first.id], first.id, shopping) is (
        Outcome.EXPIRED
    )
