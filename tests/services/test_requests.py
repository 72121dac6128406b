"""The request lifecycle on real databases: posting, waves, the claim race, follow-up."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.domain.vocabulary import ClaimStatus, RequestStatus, Role, VolunteerStatus
from bot.i18n import I18n
from bot.messages.claims import ClaimDetails
from bot.messages.closing import RequestCancelled
from bot.messages.offers import OfferCopy
from bot.services.requests import (
    BeneficiaryDetails,
    ClaimOutcome,
    RequestDraft,
    RequestService,
    StepOutcome,
)
from storage.database import Database
from storage.models import (
    AuditEvent,
    Claim,
    HelpRequest,
    Member,
    MemberRole,
    Offer,
    OutboxMessage,
    Skill,
    VolunteerSkill,
)
from testkit.clock import ManualClock
from testkit.harness import brigade_settings
from testkit.messages import RecordingMessenger
from tests.factories import CENTRE, east

REFERENT = 1
NOW = datetime(2026, 11, 22, 14, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> ManualClock:
    """The requests of this module are posted at NOW."""
    return ManualClock(NOW)


def _recording(database: Database, **settings: object) -> tuple[RequestService, RecordingMessenger]:
    """The service, and the messenger that remembers its notices."""
    config = brigade_settings(database.url, **settings)
    messenger = RecordingMessenger(I18n("fr"), config)
    return RequestService(database, messenger, config), messenger


def _service(database: Database, **settings: object) -> RequestService:
    return _recording(database, **settings)[0]


async def _town(database: Database, volunteers: int, *, skill: str = "plumbing") -> int:
    """A referent and `volunteers` approved plumbers 100 m apart, eastwards; returns the skill."""
    async with database.transaction() as session:
        skill_id = (await session.execute(select(Skill.id).where(Skill.code == skill))).scalar_one()
        referent = Member(telegram_id=REFERENT, display_name="Rita", phone="+33 1 00 00 00 00")
        session.add(referent)
        await session.flush()
        session.add(MemberRole(member_id=referent.id, role=Role.REFERENT))
        for index in range(volunteers):
            lat, lon = east(0.1 * (index + 1))
            member = Member(
                telegram_id=100 + index,
                display_name=f"V{index}",
                latitude=lat,
                longitude=lon,
                radius_km=5,
                volunteer_status=VolunteerStatus.APPROVED,
            )
            session.add(member)
            await session.flush()
            session.add(MemberRole(member_id=member.id, role=Role.VOLUNTEER))
            session.add(VolunteerSkill(member_id=member.id, skill_id=skill_id))
        return skill_id


def _draft(skill_id: int, places: int = 1) -> RequestDraft:
    return RequestDraft(
        skill_id=skill_id,
        description="Fuite sous l'évier",
        latitude=CENTRE[0],
        longitude=CENTRE[1],
        area_label="Rue de Boigne",
        places_needed=places,
        beneficiary=BeneficiaryDetails(
            name="Mme Jeanne Martin",
            phone="+33 4 79 00 00 00",
            address="27 rue de Boigne, Chambéry",
            latitude=CENTRE[0],
            longitude=CENTRE[1],
            access_notes="3e étage, code 1234",
            consent=True,
        ),
    )


async def _outbox(database: Database) -> list[OutboxMessage]:
    async with database.read() as session:
        return list(
            (await session.execute(select(OutboxMessage).order_by(OutboxMessage.id))).scalars()
        )


async def test_posting_offers_the_nearest_wave_without_private_details(database: Database) -> None:
    skill = await _town(database, 5)
    service, sent = _recording(database, wave_size=3)
    posted = await service.post(REFERENT, _draft(skill))
    assert posted is not None
    assert (posted.offered, posted.remaining_candidates) == (3, 2)
    assert sent.readers(OfferCopy) == [100, 101, 102]  # nearest first
    assert [row.chat_id for row in await _outbox(database)] == [100, 101, 102]
    for notice, reader in sent.sent:
        assert isinstance(notice, OfferCopy)
        assert (notice.request.id, notice.request.area_label) == (
            posted.request_id,
            "Rue de Boigne",
        )
        assert notice.direct  # a private copy, with "Not for me"
        assert notice.request.places_left == 1
        text = sent.rendered(notice, reader).text
        for secret in ("Jeanne", "Martin", "+33 4 79", "27 rue", "1234"):
            assert secret not in repr(notice)
            assert secret not in text
    async with database.read() as session:
        request = await session.get(HelpRequest, posted.request_id)
    assert request is not None
    assert request.next_wave_at is not None
    # The second wave goes to the two others, and only to them.
    assert await service.next_wave(posted.request_id) == 2
    assert [row.chat_id for row in await _outbox(database)][3:] == [103, 104]


async def test_a_non_referent_cannot_post(database: Database) -> None:
    skill = await _town(database, 1)
    assert await _service(database).post(100, _draft(skill)) is None


@pytest.mark.parametrize(("places", "tappers"), [(1, 2), (3, 10)])
async def test_simultaneous_claims_never_overbook(
    database: Database, places: int, tappers: int
) -> None:
    skill = await _town(database, tappers)
    service, sent = _recording(database, wave_size=tappers)
    posted = await service.post(REFERENT, _draft(skill, places))
    assert posted is not None
    results = await asyncio.gather(
        *(service.claim(100 + index, posted.request_id) for index in range(tappers))
    )
    outcomes = [r.outcome for r in results]
    assert outcomes.count(ClaimOutcome.CLAIMED) == places
    assert outcomes.count(ClaimOutcome.FULL) == tappers - places
    async with database.read() as session:
        claims = (await session.execute(select(func.count()).select_from(Claim))).scalar_one()
        request = await session.get(HelpRequest, posted.request_id)
    assert claims == places
    assert request is not None
    assert (request.places_taken, request.status) == (places, RequestStatus.FULL)
    winners = {100 + i for i, r in enumerate(results) if r.outcome is ClaimOutcome.CLAIMED}
    assert set(sent.readers(ClaimDetails)) == winners  # only the winners got the details
    assert all(d.person and d.person.name == "Mme Jeanne Martin" for d in sent.of(ClaimDetails))
    async with database.read() as session:
        details_rows = (await session.execute(select(Claim.details_outbox_id))).scalars().all()
        chats = (
            await session.execute(
                select(OutboxMessage.chat_id).where(OutboxMessage.id.in_(details_rows))
            )
        ).scalars()
        assert set(chats) == winners  # and only their details rows were committed


async def test_a_double_tap_by_one_volunteer_takes_one_place(database: Database) -> None:
    skill = await _town(database, 2)
    service = _service(database)
    posted = await service.post(REFERENT, _draft(skill, 2))
    assert posted is not None
    results = await asyncio.gather(*(service.claim(100, posted.request_id) for _ in range(5)))
    assert sorted(r.outcome for r in results).count(ClaimOutcome.CLAIMED) == 1
    async with database.read() as session:
        request = await session.get(HelpRequest, posted.request_id)
    assert request is not None
    assert request.places_taken == 1


async def test_taps_on_a_full_request_are_answered_without_a_write_transaction(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    skill = await _town(database, 4)
    service = _service(database)
    posted = await service.post(REFERENT, _draft(skill, 1))
    assert posted is not None
    assert (await service.claim(100, posted.request_id)).outcome is ClaimOutcome.CLAIMED
    writes = 0
    open_transaction = database.transaction

    def counting_transaction(*args: object, **kwargs: object) -> object:
        nonlocal writes
        writes += 1
        return open_transaction(*args, **kwargs)  # type: ignore[arg-type]

    sessions, statements = 0, 0
    open_session, read_rows = database.read, database.read_rows

    def counting_session(*args: object, **kwargs: object) -> object:
        nonlocal sessions
        sessions += 1
        return open_session(*args, **kwargs)

    async def counting_rows(*args: Any, **kwargs: Any) -> Any:
        nonlocal statements
        statements += 1
        return await read_rows(*args, **kwargs)

    monkeypatch.setattr(database, "transaction", counting_transaction)
    monkeypatch.setattr(database, "read", counting_session)
    monkeypatch.setattr(database, "read_rows", counting_rows)
    # The crowd arriving after the last place went: a read answers each, no one waits for the
    # write lock; the same for the winner tapping again and for a stranger. Each read is one
    # statement of plain columns, without an ORM session.
    assert (await service.claim(101, posted.request_id)).outcome is ClaimOutcome.FULL
    assert (await service.claim(100, posted.request_id)).outcome is ClaimOutcome.ALREADY_YOURS
    assert (await service.claim(999, posted.request_id)).outcome is ClaimOutcome.NOT_ALLOWED
    assert (await service.claim(101, posted.request_id + 1)).outcome is ClaimOutcome.NOT_FOUND
    assert (writes, sessions, statements) == (0, 0, 4)
    # Once the place is free again, a tap writes (and wins).
    monkeypatch.setattr(database, "transaction", open_transaction)
    claim_id = (await service.claim(100, posted.request_id)).claim_id
    assert claim_id is not None
    assert await service.release(100, claim_id) is StepOutcome.DONE
    monkeypatch.setattr(database, "transaction", counting_transaction)
    assert (await service.claim(101, posted.request_id)).outcome is ClaimOutcome.CLAIMED
    assert writes == 1


async def test_taps_on_a_finished_request_are_answered_without_the_database(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    skill = await _town(database, 3)
    service = _service(database)
    posted = await service.post(REFERENT, _draft(skill, 2))
    assert posted is not None
    assert (await service.claim(100, posted.request_id)).outcome is ClaimOutcome.CLAIMED
    assert await service.cancel(REFERENT, posted.request_id) is StepOutcome.DONE
    # The first tap after the end reads it (and says so, whoever taps: even the claimer)...
    assert (await service.claim(101, posted.request_id)).outcome is ClaimOutcome.CLOSED
    sessions = 0
    opened = (database.read, database.transaction)

    def counting(open_session: Any) -> Any:
        def counted(*args: object, **kwargs: object) -> object:
            nonlocal sessions
            sessions += 1
            return open_session(*args, **kwargs)

        return counted

    monkeypatch.setattr(database, "read", counting(opened[0]))
    monkeypatch.setattr(database, "transaction", counting(opened[1]))
    # ...then no state leaves a cancelled request: the crowd after it costs no round trip.
    for volunteer in (100, 101, 102, 999):
        assert (await service.claim(volunteer, posted.request_id)).outcome is ClaimOutcome.CLOSED
    assert sessions == 0
    # A full request is not remembered: a released place reopens it, from any process.
    other = await service.post(REFERENT, _draft(skill, 1))
    assert other is not None
    claimed = await service.claim(100, other.request_id)
    assert claimed.claim_id is not None
    assert (await service.claim(101, other.request_id)).outcome is ClaimOutcome.FULL
    assert await service.release(100, claimed.claim_id) is StepOutcome.DONE
    assert (await service.claim(101, other.request_id)).outcome is ClaimOutcome.CLAIMED


async def test_only_approved_volunteers_holding_the_skill_may_claim(database: Database) -> None:
    skill = await _town(database, 1)  # volunteer 100: an approved plumber
    electricity = await _town_skill(database, "electricity")
    async with database.transaction() as session:
        referent = (
            await session.execute(select(Member).where(Member.telegram_id == REFERENT))
        ).scalar_one()
        referent.volunteer_status = VolunteerStatus.APPROVED  # a referent who also volunteers
        session.add(VolunteerSkill(member_id=referent.id, skill_id=skill))
        people = {
            200: (VolunteerStatus.PENDING, [(skill, None)]),
            201: (VolunteerStatus.REJECTED, [(skill, None)]),
            202: (VolunteerStatus.APPROVED, []),  # another skill only
            203: (VolunteerStatus.APPROVED, [(electricity, None)]),  # not verified yet
            204: (VolunteerStatus.APPROVED, [(electricity, NOW)]),  # verified
        }
        for telegram_id, (status, held) in people.items():
            lat, lon = east(0.5)
            member = Member(
                telegram_id=telegram_id,
                display_name=f"P{telegram_id}",
                latitude=lat,
                longitude=lon,
                radius_km=5,
                volunteer_status=status,
            )
            session.add(member)
            await session.flush()
            session.add_all(
                VolunteerSkill(member_id=member.id, skill_id=skill_id, verified_at=verified)
                for skill_id, verified in held
            )
    service = _service(database)
    plumbing = await service.post(REFERENT, _draft(skill, 5))
    wiring = await service.post(REFERENT, _draft(electricity, 5))
    assert plumbing is not None
    assert wiring is not None
    for telegram_id in (REFERENT, 200, 201, 202, 203):
        assert (await service.claim(telegram_id, plumbing.request_id)).outcome is (
            ClaimOutcome.NOT_ALLOWED
        ), telegram_id
    assert (await service.claim(203, wiring.request_id)).outcome is ClaimOutcome.NOT_ALLOWED
    assert (await service.claim(204, wiring.request_id)).outcome is ClaimOutcome.CLAIMED
    assert (await service.claim(100, plumbing.request_id)).outcome is ClaimOutcome.CLAIMED
    async with database.read() as session:
        claims = (await session.execute(select(func.count()).select_from(Claim))).scalar_one()
    assert claims == 2


async def _town_skill(database: Database, code: str) -> int:
    async with database.read() as session:
        return (await session.execute(select(Skill.id).where(Skill.code == code))).scalar_one()


async def test_release_reopens_and_cancel_tells_the_claimers(database: Database) -> None:
    skill = await _town(database, 3)
    service, sent = _recording(database)
    posted = await service.post(REFERENT, _draft(skill, 1))
    assert posted is not None
    first = await service.claim(100, posted.request_id)
    assert first.claim_id is not None
    assert await service.release(101, first.claim_id) is StepOutcome.NOT_ALLOWED  # not theirs
    assert await service.release(100, first.claim_id) is StepOutcome.DONE
    assert await service.release(100, first.claim_id) is StepOutcome.STALE
    second = await service.claim(101, posted.request_id)
    assert second.outcome is ClaimOutcome.CLAIMED
    assert await service.cancel(100, posted.request_id) is StepOutcome.NOT_ALLOWED
    assert await service.cancel(REFERENT, posted.request_id) is StepOutcome.DONE
    assert (await service.claim(102, posted.request_id)).outcome is ClaimOutcome.CLOSED
    assert sent.readers(RequestCancelled) == [101]  # the one holding a place
    assert sent.of(RequestCancelled) == [RequestCancelled(posted.request_id, "Plumbing")]


async def test_done_then_confirmed_closes_and_not_done_reopens(database: Database) -> None:
    skill = await _town(database, 2)
    service = _service(database)
    posted = await service.post(REFERENT, _draft(skill, 1))
    assert posted is not None
    claimed = await service.claim(100, posted.request_id)
    assert claimed.claim_id is not None
    assert await service.confirm(REFERENT, claimed.claim_id, done=True) is StepOutcome.STALE
    assert (
        await service.mark_done(100, claimed.claim_id, note="Joint changé", minutes=45)
        is StepOutcome.DONE
    )
    assert await service.confirm(100, claimed.claim_id, done=True) is StepOutcome.NOT_ALLOWED
    assert await service.confirm(REFERENT, claimed.claim_id, done=False) is StepOutcome.DONE
    async with database.read() as session:
        request = await session.get(HelpRequest, posted.request_id)
    assert request is not None
    assert (request.status, request.places_taken) == (RequestStatus.OPEN, 0)

    again = await service.claim(101, posted.request_id)
    assert again.claim_id is not None
    assert await service.mark_done(101, again.claim_id) is StepOutcome.DONE
    assert await service.confirm(REFERENT, again.claim_id, done=True) is StepOutcome.DONE
    async with database.read() as session:
        request = await session.get(HelpRequest, posted.request_id)
        statuses = dict((await session.execute(select(Claim.volunteer_id, Claim.status))).all())
        actions = (
            (await session.execute(select(AuditEvent.action).where(AuditEvent.entity == "request")))
            .scalars()
            .all()
        )
    assert request is not None
    assert request.status is RequestStatus.CLOSED
    assert sorted(statuses.values()) == sorted([ClaimStatus.NOT_DONE, ClaimStatus.CONFIRMED])
    assert actions[0] == "post"
    assert actions[-1] == "close"


async def test_not_for_me_stops_further_messages(database: Database) -> None:
    skill = await _town(database, 2)
    service = _service(database)
    posted = await service.post(REFERENT, _draft(skill, 1))
    assert posted is not None
    assert await service.decline(100, posted.request_id, message_id=None) is StepOutcome.DONE
    assert await service.decline(100, posted.request_id, message_id=None) is StepOutcome.STALE
    before = len(await _outbox(database))
    await service.claim(101, posted.request_id)
    new_rows = (await _outbox(database))[before:]
    assert 100 not in {row.chat_id for row in new_rows}
    async with database.read() as session:
        offers = (await session.execute(select(Offer.member_id, Offer.declined_at))).all()
    assert any(declined is not None for _member, declined in offers)
