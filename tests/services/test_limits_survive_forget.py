"""Limits that neither /forget nor a tapping finger can reset.

The review found three: /signal's five reports a day started afresh after /forget (10 reports
reached each referent), a rejected applicant re-applied at once, forever, and five taps on
"report a concern" sent five alerts to everyone.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import select

from bot.messages.claims import ConcernRaised
from bot.services.members import MemberService, TelegramIdentity
from bot.services.outcomes import Outcome
from bot.services.privacy import PrivacyService
from bot.services.requests import StepOutcome
from bot.services.signals import MAX_REPORTS_PER_DAY, Reported, ReportRefusal, SignalService
from bot.services.volunteers import VolunteerApplication
from storage.database import Database
from storage.models import LimitMark, Member
from testkit.clock import ManualClock
from testkit.harness import TEST_PSEUDONYMS
from tests.factories import vetting_service
from tests.services.test_membership import COORDINATOR, _people, _skill_ids
from tests.services.test_requests import REFERENT, _draft, _recording, _town
from tests.services.test_signals_badges_series import _draft as _report
from tests.services.test_signals_badges_series import _messenger
from tests.services.test_signals_badges_series import _town as _relay_town

APPLICANT = 7000


async def _forget_and_come_back(database: Database, telegram_id: int) -> None:
    assert await PrivacyService(database).forget(telegram_id) is Outcome.DONE
    await MemberService(database, []).identify(TelegramIdentity(telegram_id, "Sam again"))


async def test_forgetting_oneself_does_not_reset_the_days_reports(
    clock: ManualClock, database: Database
) -> None:
    town = await _relay_town(database)
    service = SignalService(database, _messenger(), pseudonyms=TEST_PSEUDONYMS)
    sam = town.people["sam"]
    for _ in range(MAX_REPORTS_PER_DAY):
        assert isinstance(await service.report(sam, _report()), Reported)
    assert await service.report(sam, _report()) is ReportRefusal.TOO_MANY
    await _forget_and_come_back(database, sam)
    assert await service.report(sam, _report()) is ReportRefusal.TOO_MANY
    # What stays names nobody: no Telegram id, only marks that expire.
    async with database.read() as session:
        marks = list((await session.execute(select(LimitMark))).scalars())
    assert len(marks) == MAX_REPORTS_PER_DAY
    assert all(str(sam) not in mark.key for mark in marks)
    clock.advance(days=1, minutes=1)
    assert isinstance(await service.report(sam, _report()), Reported)


async def _application(database: Database) -> VolunteerApplication:
    return VolunteerApplication(
        display_name="Marc",
        phone=None,
        latitude=45.566,
        longitude=5.921,
        radius_km=2.0,
        skill_ids=await _skill_ids(database, "plumbing"),
        availability=(),
        charter_version="2026-11",
    )


async def _member_id(database: Database, telegram_id: int) -> int:
    async with database.read() as session:
        return (
            await session.execute(select(Member.id).where(Member.telegram_id == telegram_id))
        ).scalar_one()


async def test_a_rejected_applicant_waits_even_after_forgetting_unless_a_coordinator_allows(
    clock: ManualClock, database: Database
) -> None:
    await _people(database, COORDINATOR, APPLICANT)
    vetting = vetting_service(database, reapply_cooldown=timedelta(days=30))
    submitted = await vetting.submit(APPLICANT, await _application(database))
    assert not isinstance(submitted, Outcome)
    rejected = await vetting.decide(
        COORDINATOR, submitted.member_id, approve=False, reason="Not now"
    )
    assert rejected.outcome is Outcome.DONE
    assert await vetting.reapply_from(APPLICANT) == clock.now + timedelta(days=30)
    assert await vetting.submit(APPLICANT, await _application(database)) is Outcome.TOO_SOON
    await _forget_and_come_back(database, APPLICANT)
    assert await vetting.submit(APPLICANT, await _application(database)) is Outcome.TOO_SOON
    # The old application is gone with the rest of their data; the wait is not.
    card = await vetting.application(COORDINATOR, submitted.member_id)
    assert card is Outcome.NOT_FOUND
    clock.advance(days=29)
    assert await vetting.submit(APPLICANT, await _application(database)) is Outcome.TOO_SOON
    clock.advance(days=1, minutes=1)
    again = await vetting.submit(APPLICANT, await _application(database))
    assert not isinstance(again, Outcome)


async def test_a_coordinator_may_allow_a_new_application_sooner(database: Database) -> None:
    await _people(database, COORDINATOR, APPLICANT, 8000)
    vetting = vetting_service(database)
    submitted = await vetting.submit(APPLICANT, await _application(database))
    assert not isinstance(submitted, Outcome)
    await vetting.decide(COORDINATOR, submitted.member_id, approve=False)
    card = await vetting.application(COORDINATOR, submitted.member_id)
    assert not isinstance(card, Outcome)
    assert card.reapply_from is not None
    assert await vetting.allow_reapply(8000, submitted.member_id) is Outcome.NOT_ALLOWED
    assert await vetting.allow_reapply(COORDINATOR, submitted.member_id) is Outcome.DONE
    assert await vetting.allow_reapply(COORDINATOR, submitted.member_id) is Outcome.ALREADY_DONE
    assert await vetting.reapply_from(APPLICANT) is None
    again = await vetting.submit(APPLICANT, await _application(database))
    assert not isinstance(again, Outcome)


async def test_one_concern_per_claim_however_many_taps(database: Database) -> None:
    skill = await _town(database, 1)
    service, sent = _recording(database)
    posted = await service.post(REFERENT, _draft(skill))
    assert posted is not None
    claimed = await service.claim(100, posted.request_id)
    assert claimed.claim_id is not None
    claim_id = claimed.claim_id
    outcomes = await asyncio.gather(
        *(service.concern(100, claim_id, "The door is locked") for _ in range(5))
    )
    assert sorted(outcomes) == sorted([StepOutcome.DONE] + [StepOutcome.ALREADY_DONE] * 4)
    assert await service.concern(100, claim_id, "The door is locked") is StepOutcome.ALREADY_DONE
    assert sent.readers(ConcernRaised) == [REFERENT]  # once, to the referent (no coordinator)
