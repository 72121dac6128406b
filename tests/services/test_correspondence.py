"""Writing through the bot, as use cases on SQLite and PostgreSQL: who may write about a claim and
while when, what the reader is sent (a header and a copy, never the text), what the audit keeps,
and a referent's phone shown to the claimer only when they chose so."""

from __future__ import annotations

from sqlalchemy import select, update

from bot.domain.vocabulary import Role
from bot.i18n import I18n
from bot.messages.claims import ClaimDetails
from bot.messages.correspondence import CopiedMessage, LetterAboutClaim, Side, refusal
from bot.pseudonyms import Pseudonyms
from bot.services.correspondence import CorrespondenceService
from bot.services.outcomes import Outcome
from bot.services.requests import ClaimOutcome, StepOutcome
from storage.database import Database
from storage.models import AuditEvent, Member, MemberRole
from testkit.harness import TEST_TOKEN, brigade_settings
from testkit.messages import RecordingMessenger
from tests.services.test_requests import REFERENT, _draft, _recording, _town

CLAIMER, OTHER = 100, 101


def _correspondence(database: Database) -> tuple[CorrespondenceService, RecordingMessenger]:
    config = brigade_settings(database.url)
    messenger = RecordingMessenger(I18n("fr"), config)
    service = CorrespondenceService(
        database, messenger, pseudonyms=Pseudonyms.from_secret(TEST_TOKEN), support_per_day=3
    )
    return service, messenger


async def test_only_the_two_sides_write_and_only_while_the_claim_holds(database: Database) -> None:
    skill = await _town(database, 2)
    requests, _sent = _recording(database)
    posted = await requests.post(REFERENT, _draft(skill))
    assert posted is not None
    claimed = await requests.claim(CLAIMER, posted.request_id)
    assert claimed.outcome is ClaimOutcome.CLAIMED
    assert claimed.claim_id is not None
    claim = claimed.claim_id
    service, sent = _correspondence(database)

    assert (await service.open_claim(OTHER, claim)).outcome is Outcome.NOT_ALLOWED
    assert (await service.open_claim(CLAIMER, claim + 1)).outcome is Outcome.NOT_ALLOWED
    to_referent = await service.open_claim(CLAIMER, claim)
    assert (to_referent.outcome, to_referent.to, to_referent.name) == (
        Outcome.DONE,
        Side.REFERENT,
        "Rita",
    )
    assert (await service.open_claim(REFERENT, claim)).to is Side.VOLUNTEER

    written = await service.write_about_claim(CLAIMER, claim, message_id=42)
    assert written.outcome is Outcome.DONE
    [header] = sent.of(LetterAboutClaim, to=REFERENT)
    [copy] = sent.of(CopiedMessage, to=REFERENT)
    assert (header.writer, header.request_id) == ("V0", posted.request_id)
    assert (copy.from_chat_id, copy.message_id) == (CLAIMER, 42)
    assert (await service.write_about_claim(OTHER, claim, message_id=43)).outcome is (
        Outcome.NOT_ALLOWED
    )

    assert await requests.release(CLAIMER, claim) is StepOutcome.DONE
    for person in (CLAIMER, REFERENT):
        closed = await service.write_about_claim(person, claim, message_id=44)
        assert closed.outcome is Outcome.EXPIRED
        assert closed.request_id == posted.request_id
    assert len(sent.of(CopiedMessage)) == 1  # nothing after the release

    async with database.read() as session:
        events = (
            (await session.execute(select(AuditEvent).where(AuditEvent.action == "write")))
            .scalars()
            .all()
        )
    assert [(e.entity, e.entity_id, e.detail) for e in events] == [
        ("claim", claim, {"to": "referent"})
    ]


async def test_the_claimer_sees_the_referents_phone_only_once_shared(database: Database) -> None:
    skill = await _town(database, 2)
    requests, sent = _recording(database)
    service, _letters = _correspondence(database)
    first = await requests.post(REFERENT, _draft(skill))
    assert first is not None
    await requests.claim(CLAIMER, first.request_id)
    [hidden] = sent.of(ClaimDetails, to=CLAIMER)
    assert hidden.referent is not None
    assert hidden.referent.phone is None  # Rita has a phone, but never chose to show it

    assert await service.share_phone(CLAIMER, "+33 6 00 00 00 00") is Outcome.NOT_ALLOWED
    assert await service.share_phone(REFERENT, "not a phone") is Outcome.INVALID
    assert await service.share_phone(REFERENT, "+33 4 79 99 99 99") is Outcome.DONE
    second = await requests.post(REFERENT, _draft(skill))
    assert second is not None
    await requests.claim(OTHER, second.request_id)
    [shown] = sent.of(ClaimDetails, to=OTHER)
    assert shown.referent is not None
    assert shown.referent.phone == "+33 4 79 99 99 99"

    assert await service.share_phone(REFERENT, None) is Outcome.DONE
    async with database.read() as session:
        rita = (
            await session.execute(select(Member).where(Member.telegram_id == REFERENT))
        ).scalar_one()
    assert rita.phone_shared is False
    assert rita.phone == "+33 4 79 99 99 99"  # kept for the coordinators; /forget erases it


async def test_a_suspended_claimer_closes_the_conversation(database: Database) -> None:
    skill = await _town(database, 1)
    requests, _sent = _recording(database)
    posted = await requests.post(REFERENT, _draft(skill))
    assert posted is not None
    claimed = await requests.claim(CLAIMER, posted.request_id)
    assert claimed.claim_id is not None
    service, _letters = _correspondence(database)
    async with database.transaction() as session:
        await session.execute(
            update(Member).where(Member.telegram_id == CLAIMER).values(volunteer_status="rejected")
        )
    assert (await service.open_claim(REFERENT, claimed.claim_id)).outcome is Outcome.EXPIRED


async def test_with_no_coordinator_reachable_nothing_is_said_sent_nor_counted(
    database: Database,
) -> None:
    await _town(database, 1)
    service, sent = _correspondence(database)
    async with database.transaction() as session:
        found = await session.execute(select(Member).where(Member.telegram_id == REFERENT))
        rita = found.scalar_one()
        session.add(MemberRole(member_id=rita.id, role=Role.COORDINATOR))
        rita.reachable = False  # the town's only coordinator blocked the bot
    nobody = await service.to_coordinators(CLAIMER, message_id=7)
    assert (nobody.outcome, nobody.to) == (Outcome.NOT_FOUND, Side.COORDINATORS)
    assert sent.of(CopiedMessage) == []
    assert "No coordinator can be reached" in refusal(nobody, I18n("en").translator("en"))

    async with database.transaction() as session:
        await session.execute(update(Member).values(reachable=True))
    # Reachable again: the refused attempt spent none of the day's three messages.
    for message_id in (7, 8, 9):
        assert (await service.to_coordinators(CLAIMER, message_id)).outcome is Outcome.DONE
    assert (await service.to_coordinators(CLAIMER, 10)).outcome is Outcome.TOO_SOON
