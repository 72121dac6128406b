"""Validation on real databases: a member's /ask waits, nothing is offered before a validator
approves it (once, however many approve at once), a decline reaches the asker with its reason,
the coordinators are reminded once, and the town's setting holds referents' requests too."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from bot.domain.vocabulary import RequestStatus, Role, VolunteerStatus
from bot.i18n import I18n
from bot.messages.base import Reader
from bot.messages.claims import ClaimDetails
from bot.messages.offers import OfferCopy
from bot.messages.validation import (
    RequestApproved,
    RequestDeclined,
    ValidationCard,
    ValidationDecided,
    ValidationWaiting,
)
from bot.services.outcomes import ClaimOutcome, Outcome, StepOutcome
from bot.services.privacy import PrivacyService
from bot.services.reports import Period, ReportService
from bot.services.requests import Asked, BeneficiaryDetails, RequestDraft, RequestService
from storage.database import Database
from storage.models import (
    Beneficiary,
    HelpRequest,
    Member,
    MemberRole,
    Offer,
    OutboxMessage,
    OutboxStatus,
    Skill,
    VolunteerSkill,
)
from testkit.clock import ManualClock
from testkit.harness import brigade_settings
from testkit.messages import RecordingMessenger
from tests.factories import CENTRE, east
from tests.services.test_privacy import personal_traces

NOW = datetime(2026, 11, 22, 14, 0, tzinfo=UTC)
ASKER, REFERENT, COORDINATOR, OTHER_COORDINATOR = 1, 2, 3, 4
VOLUNTEERS = (100, 101)


@pytest.fixture
def clock() -> ManualClock:
    """The requests of this module are asked at NOW."""
    return ManualClock(NOW)


def _recording(database: Database, **settings: object) -> tuple[RequestService, RecordingMessenger]:
    config = brigade_settings(database.url, **settings)
    messenger = RecordingMessenger(I18n("fr"), config)
    return RequestService(database, messenger, config), messenger


async def _town(database: Database) -> int:
    """An asker with no role, a referent, two coordinators, two approved plumbers nearby."""
    async with database.transaction() as session:
        skill = (
            await session.execute(select(Skill.id).where(Skill.code == "plumbing"))
        ).scalar_one()
        people = [
            (ASKER, "Albert", None),
            (REFERENT, "Rita", Role.REFERENT),
            (COORDINATOR, "Claire", Role.COORDINATOR),
            (OTHER_COORDINATOR, "Cyril", Role.COORDINATOR),
        ]
        for telegram_id, name, role in people:
            member = Member(telegram_id=telegram_id, display_name=name)
            session.add(member)
            await session.flush()
            if role is not None:
                session.add(MemberRole(member_id=member.id, role=role))
        for index, telegram_id in enumerate(VOLUNTEERS):
            lat, lon = east(0.1 * (index + 1))
            member = Member(
                telegram_id=telegram_id,
                display_name=f"V{index}",
                latitude=lat,
                longitude=lon,
                radius_km=5,
                volunteer_status=VolunteerStatus.APPROVED,
            )
            session.add(member)
            await session.flush()
            session.add(MemberRole(member_id=member.id, role=Role.VOLUNTEER))
            session.add(VolunteerSkill(member_id=member.id, skill_id=skill))
        return skill


def _draft(
    skill: int, *, phone: str | None = "+32 2 555 12 34", consent: bool = True
) -> RequestDraft:
    return RequestDraft(
        skill_id=skill,
        description="Le robinet fuit",
        latitude=CENTRE[0],
        longitude=CENTRE[1],
        area_label="Rue de Boigne",
        beneficiary=BeneficiaryDetails(
            name="Albert Lenoir",
            phone=phone,
            address="27 rue de Boigne, Chambéry",
            latitude=CENTRE[0],
            longitude=CENTRE[1],
            consent=consent,
        ),
    )


async def _asked(service: RequestService, skill: int) -> int:
    asked = await service.ask(ASKER, _draft(skill))
    assert isinstance(asked, Asked), asked
    return asked.request_id


async def _status(database: Database, request_id: int) -> RequestStatus:
    async with database.read() as session:
        request = await session.get(HelpRequest, request_id)
        assert request is not None
        return request.status


async def _offers(database: Database) -> int:
    async with database.read() as session:
        return len((await session.execute(select(Offer))).scalars().all())


async def test_an_ask_waits_for_validation_and_nothing_is_offered(database: Database) -> None:
    skill = await _town(database)
    service, sent = _recording(database)
    request_id = await _asked(service, skill)
    assert await _status(database, request_id) is RequestStatus.TO_VALIDATE
    # Cards to the referent and both coordinators, never to the asker; no offer, no wave later.
    assert sorted(sent.readers(ValidationCard)) == [REFERENT, COORDINATOR, OTHER_COORDINATOR]
    assert sent.of(OfferCopy) == []
    assert await _offers(database) == 0
    await service.run_due()
    # Neither the timers, nor "offer again" / "widen" by the asker or a coordinator, nor a claim
    # by a volunteer reach it before validation.
    for actor in (ASKER, COORDINATOR):
        assert await service.resend(actor, request_id) is StepOutcome.STALE
        assert await service.widen(actor, request_id) is StepOutcome.STALE
    assert (await service.claim(VOLUNTEERS[0], request_id)).outcome is not ClaimOutcome.CLAIMED
    assert sent.of(OfferCopy) == []
    assert await _offers(database) == 0
    # The asker is the person helped, with their member id; and they follow the request.
    async with database.read() as session:
        request = await session.get(HelpRequest, request_id)
        assert request is not None
        beneficiary = await session.get(Beneficiary, request.beneficiary_id)
        asker = (
            await session.execute(select(Member).where(Member.telegram_id == ASKER))
        ).scalar_one()
        assert beneficiary is not None
        assert beneficiary.member_id == asker.id
        assert request.referent_id == asker.id


async def test_approval_offers_it_and_the_claimer_gets_the_askers_details(
    database: Database,
) -> None:
    skill = await _town(database)
    service, sent = _recording(database)
    request_id = await _asked(service, skill)
    decision = await service.approve_request(REFERENT, request_id)
    assert decision.outcome is StepOutcome.DONE
    assert decision.offered == 2
    assert await _status(database, request_id) is RequestStatus.OPEN
    assert sorted(sent.readers(OfferCopy)) == list(VOLUNTEERS)
    assert sent.readers(RequestApproved) == [ASKER]
    claimed = await service.claim(VOLUNTEERS[0], request_id)
    assert claimed.outcome is ClaimOutcome.CLAIMED
    (details,) = sent.of(ClaimDetails, to=VOLUNTEERS[0])
    assert details.person is not None
    assert details.person.phone == "+32 2 555 12 34"


async def test_a_second_approval_is_refused_and_names_who_decided(database: Database) -> None:
    skill = await _town(database)
    service, _sent = _recording(database)
    request_id = await _asked(service, skill)
    assert (await service.approve_request(COORDINATOR, request_id)).outcome is StepOutcome.DONE
    late = await service.approve_request(REFERENT, request_id)
    assert late.outcome is StepOutcome.STALE
    assert late.decided_by == "Claire"
    assert (await service.decline_request(REFERENT, request_id, "non")).outcome is StepOutcome.STALE


async def test_two_validators_approving_at_once_post_it_once(database: Database) -> None:
    skill = await _town(database)
    service, _sent = _recording(database)
    request_id = await _asked(service, skill)
    decisions = await asyncio.gather(
        service.approve_request(COORDINATOR, request_id),
        service.approve_request(OTHER_COORDINATOR, request_id),
        service.approve_request(REFERENT, request_id),
    )
    assert sorted(d.outcome for d in decisions).count(StepOutcome.DONE) == 1
    # One wave: each volunteer got one offer copy (the unique constraint would have refused a
    # second one anyway; the outbox says the same).
    assert await _offers(database) == len(VOLUNTEERS)
    async with database.read() as session:
        copies = (
            await session.execute(
                select(OutboxMessage).where(OutboxMessage.chat_id.in_(VOLUNTEERS))
            )
        ).scalars()
        assert len(list(copies)) == len(VOLUNTEERS)


async def test_decline_tells_the_asker_the_reason_and_edits_every_card(database: Database) -> None:
    skill = await _town(database)
    service, sent = _recording(database)
    request_id = await _asked(service, skill)
    # The cards were delivered: they can be edited.
    async with database.transaction() as session:
        for index, row in enumerate((await session.execute(select(OutboxMessage))).scalars()):
            row.telegram_message_id, row.status = 500 + index, OutboxStatus.SENT
    decision = await service.decline_request(
        COORDINATOR, request_id, "Un plombier de la mairie passe demain"
    )
    assert decision.outcome is StepOutcome.DONE
    assert await _status(database, request_id) is RequestStatus.DECLINED
    (told,) = sent.of(RequestDeclined, to=ASKER)
    assert told.reason == "Un plombier de la mairie passe demain"
    assert sorted(sent.readers(ValidationDecided)) == [REFERENT, COORDINATOR, OTHER_COORDINATOR]
    assert sent.of(OfferCopy) == []


async def test_who_may_validate(database: Database) -> None:
    skill = await _town(database)
    service, _sent = _recording(database)
    request_id = await _asked(service, skill)
    # The asker themselves, a volunteer, a stranger, and a forged request id.
    assert (await service.approve_request(ASKER, request_id)).outcome is StepOutcome.NOT_ALLOWED
    assert (
        await service.approve_request(VOLUNTEERS[0], request_id)
    ).outcome is StepOutcome.NOT_ALLOWED
    assert (await service.approve_request(999, request_id)).outcome is StepOutcome.NOT_ALLOWED
    assert (
        await service.approve_request(COORDINATOR, request_id + 50)
    ).outcome is StepOutcome.NOT_FOUND
    assert await _status(database, request_id) is RequestStatus.TO_VALIDATE


async def test_asking_needs_consent_and_a_phone_from_someone_without_a_role(
    database: Database,
) -> None:
    skill = await _town(database)
    service, sent = _recording(database)
    assert await service.ask(ASKER, _draft(skill, consent=False)) is Outcome.INVALID
    assert await service.ask(ASKER, _draft(skill, phone=None)) is Outcome.INVALID
    # A referent asking for themselves needs no phone.
    assert isinstance(await service.ask(REFERENT, _draft(skill, phone=None)), Asked)
    assert REFERENT not in sent.readers(ValidationCard)
    for _ in range(3):
        await _asked(service, skill)
    assert await service.ask(ASKER, _draft(skill)) is Outcome.TOO_SOON


async def test_the_coordinators_are_reminded_once_of_a_long_wait(
    database: Database, clock: ManualClock
) -> None:
    skill = await _town(database)
    service, sent = _recording(database, validation_remind_hours=24)
    await _asked(service, skill)
    assert (await service.run_due())["validation_reminders"] == 0
    clock.advance(hours=25)
    assert (await service.run_due())["validation_reminders"] == 1
    assert (await service.run_due())["validation_reminders"] == 0
    assert sorted(sent.readers(ValidationWaiting)) == [COORDINATOR, OTHER_COORDINATOR]


async def test_the_setting_holds_a_referents_request_for_the_coordinators(
    database: Database,
) -> None:
    skill = await _town(database)
    service, sent = _recording(database, requests_need_validation=True)
    posted = await service.post(REFERENT, _draft(skill))
    assert posted is not None
    assert posted.awaiting_validation
    assert sorted(sent.readers(ValidationCard)) == [COORDINATOR, OTHER_COORDINATOR]
    assert sent.of(OfferCopy) == []
    assert (
        await service.approve_request(REFERENT, posted.request_id)
    ).outcome is StepOutcome.NOT_ALLOWED
    assert (
        await service.approve_request(COORDINATOR, posted.request_id)
    ).outcome is StepOutcome.DONE
    assert sorted(sent.readers(OfferCopy)) == list(VOLUNTEERS)


async def test_without_the_setting_a_referents_request_is_offered_at_once(
    database: Database,
) -> None:
    skill = await _town(database)
    service, sent = _recording(database)
    posted = await service.post(REFERENT, _draft(skill))
    assert posted is not None
    assert not posted.awaiting_validation
    assert sent.of(ValidationCard) == []
    assert sorted(sent.readers(OfferCopy)) == list(VOLUNTEERS)


async def test_what_the_asker_gave_is_in_mydata_and_gone_after_forget(database: Database) -> None:
    skill = await _town(database)
    service, _sent = _recording(database)
    request_id = await _asked(service, skill)
    privacy = PrivacyService(database)
    exported = await privacy.export(ASKER)
    assert exported is not None
    (own,) = exported["asked_for_yourself"]
    assert (own["name"], own["phone"]) == ("Albert Lenoir", "+32 2 555 12 34")

    assert await privacy.forget(ASKER) is Outcome.DONE
    needles = ["Albert Lenoir", "+32 2 555 12 34", "27 rue de Boigne"]
    assert await personal_traces(database, needles) == {}
    # What waited for validation is withdrawn: no validator can still offer it.
    assert await _status(database, request_id) is RequestStatus.CANCELLED
    assert (await service.approve_request(COORDINATOR, request_id)).outcome is StepOutcome.STALE


async def test_a_declined_askers_details_are_purged_after_the_retention_period(
    database: Database, clock: ManualClock
) -> None:
    skill = await _town(database)
    service, _sent = _recording(database, retention_days=30)
    request_id = await _asked(service, skill)
    await service.decline_request(COORDINATOR, request_id, "Pas ici")
    clock.advance(days=29)
    assert (await service.run_due())["beneficiaries_purged"] == 0
    clock.advance(days=2)
    assert (await service.run_due())["beneficiaries_purged"] == 1
    assert await personal_traces(database, ["Albert Lenoir", "+32 2 555 12 34"]) == {}


async def test_a_coordinator_who_asks_for_themselves_cannot_approve_it(database: Database) -> None:
    skill = await _town(database)
    service, sent = _recording(database)
    asked = await service.ask(COORDINATOR, _draft(skill))
    assert isinstance(asked, Asked)
    assert COORDINATOR not in sent.readers(ValidationCard)
    mine = await service.approve_request(COORDINATOR, asked.request_id)
    assert mine.outcome is StepOutcome.NOT_ALLOWED
    assert (await service.approve_request(OTHER_COORDINATOR, asked.request_id)).offered == 2


async def test_stats_count_what_waits_for_validation_and_what_was_declined(
    database: Database,
) -> None:
    skill = await _town(database)
    service, _sent = _recording(database)
    await _asked(service, skill)
    declined = await _asked(service, skill)
    await service.decline_request(REFERENT, declined, "Pas ici")
    config = brigade_settings(database.url)
    reports = ReportService(database, config, RecordingMessenger(I18n("en"), config))
    stats = await reports.stats(COORDINATOR, Period.ALL_TIME)
    assert not isinstance(stats, Outcome)
    counts = stats.requests
    assert (counts.created, counts.to_validate, counts.declined) == (2, 1, 1)


async def test_a_validator_may_change_when_before_approving(database: Database) -> None:
    skill = await _town(database)
    service, sent = _recording(database)
    request_id = await _asked(service, skill)
    decision = await service.approve_request(REFERENT, request_id, when_kind="today")
    assert decision.outcome is StepOutcome.DONE
    async with database.read() as session:
        request = await session.get(HelpRequest, request_id)
        assert request is not None
        assert (request.when_kind, request.starts_at) == ("today", NOW)
        assert request.expires_at is not None
        assert request.expires_at.date() == NOW.date()
    offer = sent.of(OfferCopy)[0]
    assert "aujourd’hui" in sent.rendered(offer, Reader(VOLUNTEERS[0])).text
