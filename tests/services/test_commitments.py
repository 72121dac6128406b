"""Everyone's own commitments as use cases, on SQLite and PostgreSQL: /nearby asks matching's
query for one volunteer and records what it shows as offers; /mine's edits reach every copy
before any claim and never after; each list shows its caller's own and nobody else's."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from bot.domain.vocabulary import ClaimStatus, Role, VolunteerStatus
from bot.messages.offers import OfferUpdate
from bot.services.outcomes import Outcome
from bot.services.requests import (
    ClaimOutcome,
    Directions,
    MineGroup,
    MineVerb,
    NearbyPage,
    RequestEdit,
    StepOutcome,
    TaskGroup,
    TaskVerb,
)
from storage.database import Database
from storage.models import HelpRequest, Member, MemberRole, Offer, VolunteerSkill
from testkit.clock import ManualClock
from tests.factories import east
from tests.services.test_requests import CENTRE, NOW, REFERENT, _draft, _recording, _town

LATE = 200  # an approved plumber who joined after the request was offered


@pytest.fixture
def clock() -> ManualClock:
    """Posted at the same moment as test_requests' requests."""
    return ManualClock(NOW)


async def _late_plumber(database: Database, skill_id: int, km: float = 0.4) -> None:
    async with database.transaction() as session:
        lat, lon = east(km)
        member = Member(
            telegram_id=LATE,
            display_name="Lucie",
            latitude=lat,
            longitude=lon,
            radius_km=2,
            volunteer_status=VolunteerStatus.APPROVED,
        )
        session.add(member)
        await session.flush()
        session.add(MemberRole(member_id=member.id, role=Role.VOLUNTEER))
        session.add(VolunteerSkill(member_id=member.id, skill_id=skill_id))


def _ids(found: NearbyPage | Outcome) -> list[int]:
    assert isinstance(found, NearbyPage)
    return [item.request.id for item in found.page.items]


async def test_nearby_is_matchings_rule_for_one_volunteer_and_a_claim_goes_through_it(
    database: Database,
) -> None:
    skill = await _town(database, 3)
    service, _sent = _recording(database)
    first = await service.post(REFERENT, _draft(skill))
    assert first is not None
    await _late_plumber(database, skill)
    # Not offered to the newcomer: a claim by the request's id alone is refused...
    assert (await service.claim(LATE, first.request_id)).outcome is ClaimOutcome.NOT_OFFERED
    # ...until /nearby shows it to them (recorded as an offer in their chat).
    assert _ids(await service.nearby(LATE)) == [first.request_id]
    async with database.read() as session:
        kinds = (await session.execute(select(Offer.kind).where(Offer.chat_id == LATE))).scalars()
        assert list(kinds) == ["nearby"]
    assert (await service.claim(LATE, first.request_id)).outcome is ClaimOutcome.CLAIMED
    # Taken (one place): no longer near anyone.
    assert _ids(await service.nearby(101)) == []


async def test_nearby_nearest_first_dismissed_included_and_the_same_exclusions_as_offers(
    database: Database, clock: ManualClock
) -> None:
    skill = await _town(database, 3)  # V0 0.1 km, V1 0.2 km, V2 0.3 km east; radius 5
    service, _sent = _recording(database)
    at_centre = await service.post(REFERENT, _draft(skill))
    farther_east = await service.post(REFERENT, replace(_draft(skill), longitude=east(0.35)[1]))
    assert at_centre is not None
    assert farther_east is not None
    assert await service.decline(102, at_centre.request_id, message_id=None) is StepOutcome.DONE
    # V2 (0.3 km east): the request 0.35 km east is nearer than the centre's; the one they said
    # was not for them is there too.
    assert _ids(await service.nearby(102)) == [farther_east.request_id, at_centre.request_id]
    assert _ids(await service.nearby(100)) == [at_centre.request_id, farther_east.request_id]
    # Paged.
    second_page = await service.nearby(100, offset=1, limit=1)
    assert _ids(second_page) == [farther_east.request_id]
    assert isinstance(second_page, NearbyPage)
    assert (second_page.page.total, second_page.radius_km) == (2, 5)
    # Paused, over their weekly cap, unreachable: nothing, as matching would offer nothing.
    async with database.transaction() as session:
        await session.execute(
            update(Member)
            .where(Member.telegram_id == 100)
            .values(paused_until=clock() + timedelta(days=1))
        )
        await session.execute(update(Member).where(Member.telegram_id == 101).values(weekly_cap=1))
    assert _ids(await service.nearby(100)) == []
    claimed = await service.claim(101, at_centre.request_id)
    assert claimed.outcome is ClaimOutcome.CLAIMED
    assert _ids(await service.nearby(101)) == []  # the cap of one is reached
    # Not a volunteer: refused.
    assert await service.nearby(REFERENT) is Outcome.NOT_ALLOWED


async def test_an_edit_reaches_every_copy_before_any_claim_and_is_refused_after(
    database: Database,
) -> None:
    skill = await _town(database, 2)
    service, sent = _recording(database)
    posted = await service.post(REFERENT, _draft(skill))
    assert posted is not None
    async with database.read() as session:
        copies = (
            await session.execute(
                select(Offer.chat_id).where(Offer.request_id == posted.request_id)
            )
        ).scalars()
        offered = sorted(copies)
    # Someone else's request: refused, no card.
    stranger = await service.edit_request(100, posted.request_id, RequestEdit(description="x"))
    assert (stranger.outcome, stranger.card) == (StepOutcome.NOT_ALLOWED, None)
    # Fewer than one volunteer, an empty text: refused, nothing changes.
    invalid = await service.edit_request(REFERENT, posted.request_id, RequestEdit(places_needed=0))
    assert invalid.outcome is StepOutcome.NOT_FOUND
    edited = await service.edit_request(
        REFERENT, posted.request_id, RequestEdit(description="Deux robinets", places_needed=2)
    )
    assert edited.outcome is StepOutcome.DONE
    assert edited.card is not None
    assert (edited.card.request.description, edited.card.request.places_needed) == (
        "Deux robinets",
        2,
    )
    updates = sent.of(OfferUpdate)
    assert sorted(sent.readers(OfferUpdate)) == offered
    assert {notice.request.description for notice in updates} == {"Deux robinets"}

    assert (await service.claim(100, posted.request_id)).outcome is ClaimOutcome.CLAIMED
    refused = await service.edit_request(REFERENT, posted.request_id, RequestEdit(description="y"))
    assert refused.outcome is StepOutcome.STALE
    assert refused.card is not None
    assert refused.card.editable is False
    async with database.read() as session:
        request = await session.get(HelpRequest, posted.request_id)
        assert request is not None
        assert request.description == "Deux robinets"


async def test_each_list_holds_its_callers_own_and_the_steps_check_the_state(
    database: Database,
) -> None:
    skill = await _town(database, 2)
    service, _sent = _recording(database)
    posted = await service.post(REFERENT, _draft(skill))
    assert posted is not None
    claim = await service.claim(100, posted.request_id)
    assert claim.claim_id is not None

    mine = await service.my_requests(REFERENT)
    assert not isinstance(mine, Outcome)
    assert [(item.group, item.claimers) for item in mine.items] == [(MineGroup.TAKEN, ("V0",))]
    assert await service.my_requests(100) is Outcome.NOT_ALLOWED  # a volunteer posts nothing
    tasks = await service.my_tasks(100)
    assert not isinstance(tasks, Outcome)
    assert [(item.claim_id, item.group) for item in tasks.items] == [
        (claim.claim_id, TaskGroup.UPCOMING)
    ]
    others = await service.my_tasks(101)
    assert not isinstance(others, Outcome)
    assert others.total == 0

    # Directions: the claimer only, while active.
    assert await service.directions(101, claim.claim_id) is StepOutcome.NOT_ALLOWED
    place = await service.directions(100, claim.claim_id)
    assert place == Directions(posted.request_id, CENTRE[0], CENTRE[1])
    # Another volunteer's Release: refused; the claimer's: done, then stale.
    foreign = await service.my_task(101, claim.claim_id, TaskVerb.RELEASE)
    assert (foreign.outcome, foreign.card) == (StepOutcome.NOT_ALLOWED, None)
    released = await service.my_task(100, claim.claim_id, TaskVerb.RELEASE)
    assert released.outcome is StepOutcome.DONE
    assert released.card is not None
    assert released.card.status is ClaimStatus.RELEASED
    assert (await service.my_task(100, claim.claim_id, TaskVerb.RELEASE)).outcome is (
        StepOutcome.STALE
    )
    assert await service.directions(100, claim.claim_id) is StepOutcome.STALE

    # Cancel from /mine: only the referent (or a coordinator), once.
    assert (await service.my_request(100, posted.request_id, MineVerb.CANCEL)).card is None
    cancelled = await service.my_request(REFERENT, posted.request_id, MineVerb.CANCEL)
    assert cancelled.outcome is StepOutcome.DONE
    assert cancelled.card is not None
    assert cancelled.card.group is MineGroup.CLOSED
    again = await service.my_request(REFERENT, posted.request_id, MineVerb.CANCEL)
    assert again.outcome is StepOutcome.STALE


async def test_mine_pages_and_keeps_ended_requests_thirty_days(
    database: Database, clock: ManualClock
) -> None:
    skill = await _town(database, 1)
    service, _sent = _recording(database)
    ids = []
    for _index in range(6):
        posted = await service.post(REFERENT, _draft(skill))
        assert posted is not None
        ids.append(posted.request_id)
    assert await service.cancel(REFERENT, ids[0]) is StepOutcome.DONE
    first = await service.my_requests(REFERENT, offset=0, limit=5)
    assert not isinstance(first, Outcome)
    assert (first.total, first.remaining) == (6, 1)
    # Open ones first (newest first), the cancelled one last.
    assert [item.request.id for item in first.items] == ids[:0:-1]
    last = await service.my_requests(REFERENT, offset=5, limit=5)
    assert not isinstance(last, Outcome)
    assert [(item.request.id, item.group) for item in last.items] == [(ids[0], MineGroup.CLOSED)]
    clock.advance(days=31)
    later = await service.my_requests(REFERENT)
    assert not isinstance(later, Outcome)
    assert ids[0] not in [item.request.id for item in later.items]
