"""Timers of the request lifecycle, driven by a clock the test moves: all derived from the DB."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.domain.vocabulary import ClaimStatus, RequestStatus, Role
from bot.i18n import I18n
from bot.messages.base import Notice, Town
from bot.messages.claims import (
    AskDone,
    ClaimerSilent,
    ClaimReminder,
    DetailsRemoved,
    YourClaimReleased,
)
from bot.messages.closing import RequestExpired, StillNotTaken
from bot.messages.messenger import Messenger
from bot.services.requests import ClaimOutcome, RequestDraft, RequestService, StepOutcome
from storage.database import Database
from storage.models import (
    Beneficiary,
    Claim,
    HelpRequest,
    Member,
    MemberRole,
    OutboxMessage,
    OutboxStatus,
)
from testkit.clock import ManualClock
from testkit.harness import brigade_settings
from testkit.messages import RecordingMessenger
from tests.services.test_requests import REFERENT, _draft, _town

COORDINATOR = 7


async def _service(database: Database, **settings: object) -> RequestService:
    config = brigade_settings(database.url, **settings)
    async with database.transaction() as session:
        coordinator = Member(telegram_id=COORDINATOR, display_name="Claire")
        session.add(coordinator)
        await session.flush()
        session.add(MemberRole(member_id=coordinator.id, role=Role.COORDINATOR))
    return RequestService(database, RecordingMessenger(I18n("en"), config), config)


def _sent(service: RequestService) -> RecordingMessenger:
    messenger = service._messenger
    assert isinstance(messenger, RecordingMessenger)
    return messenger


def _to(service: RequestService, chat_id: int) -> list[Notice]:
    """The notices the service sent to one chat, oldest first."""
    return _sent(service).of(Notice, to=chat_id)


async def test_second_wave_then_alert_to_the_referent_and_coordinators(
    clock: ManualClock, database: Database
) -> None:
    skill = await _town(database, 4)
    service = await _service(
        database, wave_size=2, wave_delay_minutes=20, escalation_delay_minutes=60
    )
    posted = await service.post(REFERENT, _draft(skill))
    assert posted is not None
    assert (posted.offered, posted.remaining_candidates) == (2, 2)
    clock.advance(minutes=19)
    assert (await service.run_due())["waves"] == 0
    clock.advance(minutes=2)
    assert (await service.run_due())["waves"] == 1
    assert len(_to(service, 102)) == 1  # the second wave reached the 3rd volunteer
    clock.advance(minutes=59)
    assert (await service.run_due())["escalations"] == 0
    clock.advance(minutes=2)
    assert (await service.run_due())["escalations"] == 1
    assert (await service.run_due())["escalations"] == 0  # once
    alert = StillNotTaken(posted.request_id, "Plumbing", offered=4, waves=2, groups=0, declined=0)
    for chat in (REFERENT, COORDINATOR):
        assert _to(service, chat)[-1] == alert


async def test_an_unclaimed_request_expires_and_the_referent_is_told(
    clock: ManualClock, database: Database
) -> None:
    skill = await _town(database, 0)
    service = await _service(database, asap_expiry_hours=48)
    posted = await service.post(REFERENT, _draft(skill))
    assert posted is not None
    clock.advance(hours=47)
    assert (await service.run_due())["expired"] == 0
    clock.advance(hours=2)
    assert (await service.run_due())["expired"] == 1
    async with database.read() as session:
        request = await session.get(HelpRequest, posted.request_id)
    assert request is not None
    assert request.status is RequestStatus.EXPIRED
    assert _to(service, REFERENT)[-1] == RequestExpired(posted.request_id, "Plumbing")


async def test_silent_claimer_is_asked_nudged_referent_alerted_then_released(
    clock: ManualClock,
    database: Database,
) -> None:
    skill = await _town(database, 1)
    service = await _service(database, nudge_after_hours=24, auto_release_after_hours=72)
    posted = await service.post(REFERENT, _draft(skill))
    assert posted is not None
    claimed = await service.claim(100, posted.request_id)
    assert claimed.outcome is ClaimOutcome.CLAIMED
    clock.advance(hours=3)
    assert (await service.run_due())["asked"] == 1
    assert _to(service, 100)[-1] == AskDone(claimed.claim_id or 0, posted.request_id, "Plumbing")
    clock.advance(hours=25)
    assert (await service.run_due())["asked"] == 1  # the nudge
    assert isinstance(silent := _to(service, REFERENT)[-1], ClaimerSilent)
    assert (silent.request_id, silent.volunteer.name) == (posted.request_id, "V0")
    clock.advance(hours=50)
    assert (await service.run_due())["released"] == 1
    async with database.read() as session:
        claim = await session.get(Claim, claimed.claim_id)
        request = await session.get(HelpRequest, posted.request_id)
    assert claim is not None
    assert request is not None
    assert claim.status is ClaimStatus.RELEASED
    assert (request.status, request.places_taken) == (RequestStatus.OPEN, 0)
    assert YourClaimReleased(posted.request_id) in _to(service, 100)


async def test_not_yet_postpones_the_question(clock: ManualClock, database: Database) -> None:
    skill = await _town(database, 1)
    service = await _service(database, nudge_after_hours=24)
    posted = await service.post(REFERENT, _draft(skill))
    assert posted is not None
    claimed = await service.claim(100, posted.request_id)
    assert claimed.claim_id is not None
    clock.advance(hours=3)
    await service.run_due()
    assert await service.not_yet(100, claimed.claim_id) is StepOutcome.DONE
    clock.advance(hours=23)
    assert (await service.run_due())["asked"] == 0


async def test_a_reminder_comes_before_a_scheduled_service(
    clock: ManualClock, database: Database
) -> None:
    skill = await _town(database, 1)
    service = await _service(database, reminder_before_minutes=120)
    start = clock.now + timedelta(days=2)
    draft = _draft(skill)
    scheduled = RequestDraft(**{**draft.__dict__, "when_kind": "slot", "starts_at": start})
    posted = await service.post(REFERENT, scheduled)
    assert posted is not None
    await service.claim(100, posted.request_id)
    clock.now = start - timedelta(minutes=121)
    assert (await service.run_due())["reminders"] == 0
    clock.advance(minutes=2)
    assert (await service.run_due())["reminders"] == 1
    reminder = _to(service, 100)[-1]
    assert isinstance(reminder, ClaimReminder)
    assert (reminder.request.id, reminder.request.starts_at) == (posted.request_id, start)


async def test_a_morning_is_kept_as_such_and_reminded_from_its_start(
    clock: ManualClock, database: Database
) -> None:
    skill = await _town(database, 1)
    service = await _service(database, reminder_before_minutes=60)
    start = clock.now + timedelta(days=1)  # the morning's start, as /new computes it
    draft = _draft(skill)
    morning = RequestDraft(
        **{**draft.__dict__, "when_kind": "slot", "starts_at": start, "day_part": "morning"}
    )
    posted = await service.post(REFERENT, morning)
    assert posted is not None
    async with database.read() as session:
        request = await session.get(HelpRequest, posted.request_id)
        assert request is not None
        assert (request.day_part, request.starts_at) == ("morning", start)
    await service.claim(100, posted.request_id)
    clock.now = start - timedelta(minutes=61)
    assert (await service.run_due())["reminders"] == 0
    clock.advance(minutes=2)
    assert (await service.run_due())["reminders"] == 1
    reminder = _to(service, 100)[-1]
    assert isinstance(reminder, ClaimReminder)
    assert reminder.request.day_part == "morning"
    text = reminder.render(I18n("fr").translator("fr"), Town("Chambéry", ZoneInfo("UTC"))).text
    assert "dans la matinée" in text


async def test_details_are_removed_after_closing_and_contact_data_purged_after_retention(
    clock: ManualClock,
    database: Database,
) -> None:
    skill = await _town(database, 1)
    service = await _service(database, details_removal_hours=24, retention_days=90)
    posted = await service.post(REFERENT, _draft(skill))
    assert posted is not None
    claimed = await service.claim(100, posted.request_id)
    assert claimed.claim_id is not None
    async with database.transaction() as session:
        # As the sender would after delivering the details.
        claim = await session.get(Claim, claimed.claim_id)
        assert claim is not None
        details = await session.get(OutboxMessage, claim.details_outbox_id)
        assert details is not None
        assert "Mme Jeanne Martin" in details.payload["text"]
        details.status, details.telegram_message_id = OutboxStatus.SENT, 555
    await service.mark_done(100, claimed.claim_id, minutes=45)
    assert await service.confirm(REFERENT, claimed.claim_id, done=True) is StepOutcome.DONE
    clock.advance(hours=23)
    assert (await service.run_due())["details_removed"] == 0
    clock.advance(hours=2)
    assert (await service.run_due())["details_removed"] == 1
    assert _to(service, 100)[-1] == DetailsRemoved(posted.request_id, message_id=555)

    clock.advance(days=88)  # 89 days and 1 hour after closing
    assert (await service.run_due())["beneficiaries_purged"] == 0
    clock.advance(days=2)
    assert (await service.run_due())["beneficiaries_purged"] == 1
    async with database.read() as session:
        person = (await session.execute(select(Beneficiary))).scalar_one()
    assert (person.name, person.phone, person.address, person.access_notes) == (
        "—",
        None,
        None,
        None,
    )
    assert person.latitude is None
    assert person.purged_at is not None


async def test_a_released_claimers_undelivered_details_are_never_sent(
    clock: ManualClock, database: Database
) -> None:
    skill = await _town(database, 1)
    service = await _service(database)
    posted = await service.post(REFERENT, _draft(skill))
    assert posted is not None
    claimed = await service.claim(100, posted.request_id)
    assert claimed.claim_id is not None
    assert await service.release(100, claimed.claim_id) is StepOutcome.DONE
    assert (await service.run_due())["details_removed"] == 1
    async with database.read() as session:
        claim = await session.get(Claim, claimed.claim_id)
        assert claim is not None
        details = await session.get(OutboxMessage, claim.details_outbox_id)
    assert details is not None
    assert details.status is OutboxStatus.SKIPPED


async def test_two_processes_sweeping_at_once_ask_once(
    clock: ManualClock, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each process has its own engine; the row lock makes the second see the first's work."""
    post = Messenger.post

    async def post_slowly(self: Messenger, *args: Any, **kwargs: Any) -> Any:
        # Hold the transaction open long enough for the other sweep to read the same claim.
        await asyncio.sleep(0.3)
        return await post(self, *args, **kwargs)

    skill = await _town(database, 1)
    first = await _service(database)
    posted = await first.post(REFERENT, _draft(skill))
    assert posted is not None
    await first.claim(100, posted.request_id)
    other_database = Database(database.url, clock=clock)
    try:
        config = brigade_settings(database.url)
        second = RequestService(other_database, RecordingMessenger(I18n("en"), config), config)
        clock.advance(hours=3)
        monkeypatch.setattr(Messenger, "post", post_slowly)
        results = await asyncio.gather(first.run_due(), second.run_due())
    finally:
        await other_database.dispose()
    assert sum(result["asked"] for result in results) == 1
    asked = [_sent(service).of(AskDone, to=100) for service in (first, second)]
    assert sum(map(len, asked)) == 1
