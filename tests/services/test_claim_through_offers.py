"""A claim goes through an offer that exists, and claim-then-release cannot harvest details.

The security review claimed request after request by sending other requests' ids in the claim
button's data, then released each one: every beneficiary's name, phone and door code arrived.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.domain.vocabulary import Role, VolunteerStatus
from bot.messages.claims import ClaimDetails, ReleaseLimitReached
from bot.services.requests import ClaimOutcome, StepOutcome
from storage.database import Database
from storage.models import Claim, Member, MemberRole, Neighbourhood, VolunteerSkill
from testkit.clock import ManualClock
from tests.factories import east
from tests.services.test_requests import CENTRE, REFERENT, _draft, _recording, _town

GROUP = -100_777
COORDINATOR = 9
FAR = 500  # a plumber 30 km away: never a candidate
STRANGER = 600  # a member of the group who is no volunteer


async def _neighbourhood_and_outsiders(database: Database, skill_id: int) -> None:
    """A neighbourhood with a group, a far plumber, a group member, a coordinator."""
    async with database.transaction() as session:
        session.add(
            Neighbourhood(
                name="Centre-Ville", latitude=CENTRE[0], longitude=CENTRE[1], group_chat_id=GROUP
            )
        )
        lat, lon = east(30)
        far = Member(
            telegram_id=FAR,
            display_name="Faraway",
            latitude=lat,
            longitude=lon,
            radius_km=2,
            volunteer_status=VolunteerStatus.APPROVED,
        )
        coordinator = Member(telegram_id=COORDINATOR, display_name="Claire")
        session.add_all([far, coordinator, Member(telegram_id=STRANGER, display_name="Sam")])
        await session.flush()
        session.add_all(
            [
                MemberRole(member_id=far.id, role=Role.VOLUNTEER),
                VolunteerSkill(member_id=far.id, skill_id=skill_id),
                MemberRole(member_id=coordinator.id, role=Role.COORDINATOR),
            ]
        )


async def _claims(database: Database) -> int:
    async with database.read() as session:
        return int((await session.execute(select(func.count()).select_from(Claim))).scalar_one())


async def test_a_request_never_offered_to_a_volunteer_cannot_be_claimed_by_its_id(
    database: Database,
) -> None:
    skill = await _town(database, 4)
    await _neighbourhood_and_outsiders(database, skill)
    service, sent = _recording(database, wave_size=2)
    posted = await service.post(REFERENT, _draft(skill))
    assert posted is not None
    # 100 and 101 were offered it; 103 (next wave) and the far plumber were not.
    for outsider in (103, FAR):
        result = await service.claim(outsider, posted.request_id)
        assert result.outcome is ClaimOutcome.NOT_OFFERED
        # Nor by pretending the tap came from the group, or from someone else's private chat.
        for chat in (-100_999, 100):
            forged = await service.claim(outsider, posted.request_id, in_chat=chat)
            assert forged.outcome is ClaimOutcome.NOT_OFFERED
        assert sent.of(ClaimDetails, to=outsider) == []
    assert await _claims(database) == 0
    assert (await service.claim(100, posted.request_id)).outcome is ClaimOutcome.CLAIMED


async def test_the_group_copy_may_be_claimed_in_its_group_by_an_eligible_member(
    database: Database,
) -> None:
    skill = await _town(database, 1)
    await _neighbourhood_and_outsiders(database, skill)
    service, sent = _recording(database)
    posted = await service.post(REFERENT, _draft(skill))
    assert posted is not None
    assert posted.group_posted
    # The group is the neighbourhood: a volunteer holding the skill may take it there, whatever
    # their own radius. Someone who is no volunteer may not.
    stranger = await service.claim(STRANGER, posted.request_id, in_chat=GROUP)
    assert stranger.outcome is ClaimOutcome.NOT_ALLOWED
    far = await service.claim(FAR, posted.request_id, in_chat=GROUP)
    assert far.outcome is ClaimOutcome.CLAIMED
    assert sent.readers(ClaimDetails) == [FAR]  # in their private chat, not in the group


async def test_a_series_regulars_turn_is_theirs_alone(database: Database) -> None:
    skill = await _town(database, 3)
    service = _recording(database)[0]
    async with database.read() as session:
        regular_id = (
            await session.execute(select(Member.id).where(Member.telegram_id == 101))
        ).scalar_one()
    draft = replace(_draft(skill), preferred_volunteer_id=regular_id, exclusive_minutes=60)
    posted = await service.post(REFERENT, draft)
    assert posted is not None
    assert (await service.claim(100, posted.request_id)).outcome is ClaimOutcome.NOT_OFFERED
    assert (await service.claim(101, posted.request_id)).outcome is ClaimOutcome.CLAIMED


async def test_claiming_and_giving_back_too_often_stops_claims_and_tells_the_coordinators(
    clock: ManualClock, database: Database
) -> None:
    skill = await _town(database, 1)
    await _neighbourhood_and_outsiders(database, skill)
    service, sent = _recording(database, releases_per_day=3)
    requests = []
    for _ in range(5):
        posted = await service.post(REFERENT, _draft(skill))
        assert posted is not None
        requests.append(posted.request_id)
    for request_id in requests[:2]:
        claimed = await service.claim(100, request_id)
        assert claimed.claim_id is not None
        assert await service.release(100, claimed.claim_id) is StepOutcome.DONE
    third = await service.claim(100, requests[2])
    assert third.claim_id is not None
    assert await service.could_not(100, third.claim_id) is StepOutcome.DONE
    # Three given back within a day: a fourth claim is refused — by the read before the write,
    # which opens no write transaction — and the coordinator was told.
    writes = 0
    open_transaction = database.transaction

    def counting_transaction(*args: Any, **kwargs: Any) -> Any:
        nonlocal writes
        writes += 1
        return open_transaction(*args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(database, "transaction", counting_transaction)
        refused = await service.claim(100, requests[3])
    assert refused.outcome is ClaimOutcome.RELEASING_TOO_OFTEN
    assert writes == 0
    assert sent.of(ReleaseLimitReached, to=COORDINATOR) == [ReleaseLimitReached("V0", 3)]
    assert len(sent.of(ClaimDetails, to=100)) == 3  # the three it held, no fourth
    assert await _claims(database) == 3
    # A day after the first was given back, one more may be taken.
    clock.advance(hours=24, minutes=1)
    assert (await service.claim(100, requests[3])).outcome is ClaimOutcome.CLAIMED
