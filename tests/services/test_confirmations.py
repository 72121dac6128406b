"""The rules behind asking first and undoing, on real databases.

"Not for me" can be undone only on one's own copy and only within `UNDO_DECLINE` (the injected
clock); "Not done" may be asked only of the request's referent while the claim waits for an
answer; "Report a concern" asks only while the claim holds a place and was not reported; its
sentence reaches the referent and the coordinators and no table keeps it; "Not yet" tells when.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.messages.claims import ConcernRaised, DetailsRemoved
from bot.messages.offers import OfferUpdate
from bot.services.requests import StepOutcome
from bot.services.requests.waves import UNDO_DECLINE
from storage.database import Database
from storage.models import Claim, Offer, OutboxMessage, OutboxStatus
from testkit.clock import ManualClock
from tests.services.test_privacy import personal_traces
from tests.services.test_requests import REFERENT, _draft, _recording, _town
from tests.services.test_visit_reports import COORDINATOR, EVE, MARC, NOW, _claimed
from tests.services.test_visit_reports import clock as clock


async def _declined(database: Database, request_id: int, telegram_id: int) -> bool:
    async with database.read() as session:
        offer = (
            await session.execute(
                select(Offer).where(Offer.request_id == request_id, Offer.chat_id == telegram_id)
            )
        ).scalar_one()
    return offer.declined_at is not None


async def test_not_for_me_is_undone_within_the_minute_on_ones_own_copy_only(
    database: Database, clock: ManualClock
) -> None:
    skill_id = await _town(database, 2)
    service, sent = _recording(database)
    posted = await service.post(REFERENT, _draft(skill_id))
    assert posted is not None
    request_id = posted.request_id

    # Nothing to undo yet; nobody undoes another's pass.
    assert await service.undo_decline(MARC, request_id, message_id=None) is (
        StepOutcome.ALREADY_DONE
    )
    assert await service.decline(MARC, request_id, message_id=None) is StepOutcome.DONE
    assert await service.undo_decline(REFERENT, request_id, message_id=None) is (
        StepOutcome.NOT_FOUND
    )
    assert await _declined(database, request_id, MARC)

    # Within the minute: undone, and only Marc's copy is brought up to date.
    clock.advance(UNDO_DECLINE - timedelta(seconds=1))
    before = len(sent.of(OfferUpdate))
    assert await service.undo_decline(MARC, request_id, message_id=None) is StepOutcome.DONE
    assert not await _declined(database, request_id, MARC)
    assert sent.readers(OfferUpdate)[before:] == [MARC]
    assert await service.undo_decline(MARC, request_id, message_id=None) is (
        StepOutcome.ALREADY_DONE
    )

    # Passed on again: a second after the minute, too late, and it stays passed.
    assert await service.decline(MARC, request_id, message_id=None) is StepOutcome.DONE
    clock.advance(UNDO_DECLINE + timedelta(seconds=1))
    assert await service.undo_decline(MARC, request_id, message_id=None) is StepOutcome.STALE
    assert await _declined(database, request_id, MARC)
    assert not await _declined(database, request_id, EVE)


async def test_not_done_is_asked_only_of_the_referent_while_the_claim_waits_for_it(
    database: Database,
) -> None:
    service, _sent, claim_id = await _claimed(database)
    assert await service.may_confirm(REFERENT, claim_id) is StepOutcome.STALE  # not said done
    assert await service.mark_done(MARC, claim_id) is StepOutcome.DONE
    assert await service.may_confirm(MARC, claim_id) is StepOutcome.NOT_ALLOWED
    assert await service.may_confirm(COORDINATOR, claim_id) is StepOutcome.NOT_ALLOWED
    assert await service.may_confirm(REFERENT, 999_999) is StepOutcome.NOT_FOUND
    assert await service.may_confirm(REFERENT, claim_id) is StepOutcome.DONE
    assert await service.confirm(REFERENT, claim_id, done=False) is StepOutcome.DONE
    assert await service.may_confirm(REFERENT, claim_id) is StepOutcome.STALE  # answered


async def test_a_concern_carries_its_sentence_once_and_no_table_keeps_it(
    database: Database,
) -> None:
    service, sent, claim_id = await _claimed(database)
    assert await service.may_report_concern(EVE, claim_id) is StepOutcome.NOT_ALLOWED
    assert await service.may_report_concern(MARC, claim_id) is StepOutcome.DONE
    words = "Personne n'ouvre, les volets sont fermés"
    assert await service.concern(MARC, claim_id, words) is StepOutcome.DONE
    assert sorted(sent.readers(ConcernRaised)) == sorted([REFERENT, COORDINATOR])
    assert {notice.sentence for notice in sent.of(ConcernRaised)} == {words}
    assert await service.may_report_concern(MARC, claim_id) is StepOutcome.ALREADY_DONE
    # Only the outbox rows that carry it (blanked once sent) hold the sentence.
    assert set(await personal_traces(database, ["volets sont fermés"])) == {"outbox"}


async def test_not_yet_says_when_the_question_comes_back(
    database: Database, clock: ManualClock
) -> None:
    service, _sent, claim_id = await _claimed(database)
    assert await service.not_yet(MARC, claim_id) is StepOutcome.DONE
    nudge = timedelta(hours=service._settings.nudge_after_hours)
    assert await service.asks_again_at(MARC, claim_id) == NOW + nudge
    assert await service.asks_again_at(EVE, claim_id) is None  # not hers


async def test_a_released_claims_details_are_replaced_by_words_that_say_so(
    database: Database,
) -> None:
    service, sent, claim_id = await _claimed(database)
    async with database.transaction() as session:
        # As the sender would after delivering the details.
        claim = await session.get(Claim, claim_id)
        assert claim is not None
        details = await session.get(OutboxMessage, claim.details_outbox_id)
        assert details is not None
        details.status, details.telegram_message_id = OutboxStatus.SENT, 555
    assert await service.release(MARC, claim_id) is StepOutcome.DONE
    assert (await service.run_due())["details_removed"] == 1
    [removed] = sent.of(DetailsRemoved, to=MARC)
    assert removed.given_back  # "no longer yours", not "the request is over"
    assert removed.message_id == 555
