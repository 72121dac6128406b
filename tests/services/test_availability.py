"""Availability in matching, on SQLite and PostgreSQL: a volunteer not free at a request's time
(its slot, or now for "as soon as possible") is offered only in the last wave; one who gave no
availability is free; /nearby lists such requests last, in a constant number of statements."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, select

from bot.domain.availability import PERIODS, Wanted, period_at, summarise, wanted_slot
from bot.messages.offers import OfferCopy
from bot.services.matching import Need, find_candidates
from bot.services.requests import NearbyPage
from storage.database import Database
from storage.models import Availability, HelpRequest, Member, Skill, VolunteerSkill
from testkit.clock import ManualClock
from tests.factories import CENTRE, east
from tests.services.test_requests import NOW, REFERENT, _draft, _recording, _town

PARIS = ZoneInfo("Europe/Paris")
SUNDAY, MONDAY = 6, 0
# NOW is Sunday 22 November 2026, 15:00 in Paris: Sunday afternoon.
MONDAY_MORNING = datetime(2026, 11, 23, 9, 0, tzinfo=PARIS)


@pytest.fixture
def clock() -> ManualClock:
    """Sunday afternoon in Paris."""
    return ManualClock(NOW)


async def _free(database: Database, telegram_id: int, *slots: tuple[int, str]) -> None:
    """Give a volunteer these usual slots."""
    async with database.transaction() as session:
        member_id = (
            await session.execute(select(Member.id).where(Member.telegram_id == telegram_id))
        ).scalar_one()
        session.add_all(Availability(member_id=member_id, weekday=d, period=p) for d, p in slots)


def _every(days: range | tuple[int, ...], *periods: str) -> list[tuple[int, str]]:
    return [(day, period) for day in days for period in periods]


# --- the slot a request needs, and the summary ---------------------------------------------------


def test_a_request_with_a_time_needs_its_slot_and_asap_the_current_one() -> None:
    assert wanted_slot("slot", MONDAY_MORNING, now=NOW, tz=PARIS) == Wanted(MONDAY, ("morning",))
    evening = datetime(2026, 11, 24, 19, 30, tzinfo=PARIS)
    assert wanted_slot("slot", evening, now=NOW, tz=PARIS) == Wanted(1, ("evening",))
    # As soon as possible: now, in the town's time zone (14:00 UTC is 15:00 in Paris).
    assert wanted_slot("asap", None, now=NOW, tz=PARIS) == Wanted(SUNDAY, ("afternoon",))
    late = datetime(2026, 11, 22, 22, 30, tzinfo=UTC)  # 23:30 in Paris, still Sunday
    assert wanted_slot("asap", None, now=late, tz=PARIS) == Wanted(SUNDAY, ("evening",))
    # Today: what is left of it.
    assert wanted_slot("today", None, now=NOW, tz=PARIS) == Wanted(SUNDAY, ("afternoon", "evening"))
    assert [period_at(datetime(2026, 1, 1, h, tzinfo=PARIS)) for h in (0, 11, 12, 17, 18)] == [
        "morning",
        "morning",
        "afternoon",
        "afternoon",
        "evening",
    ]


def test_a_volunteer_with_no_availability_is_free_and_others_only_at_their_slots() -> None:
    wanted = Wanted(SUNDAY, ("afternoon",))
    assert wanted.fits([])
    assert wanted.fits([(SUNDAY, "afternoon"), (MONDAY, "morning")])
    assert not wanted.fits([(SUNDAY, "morning"), (MONDAY, "afternoon")])


def test_the_summary_says_presets_not_slots() -> None:
    assert summarise([]) == ([], [])
    assert summarise(_every(range(7), *PERIODS)) == (["anytime"], [])
    assert summarise(_every(range(5), "evening") + _every((5, 6), *PERIODS)) == (
        ["weekends", "weekday-evenings"],
        [],
    )
    assert summarise(_every(range(7), "morning")) == (["mornings"], [])
    assert summarise(_every(range(5), *PERIODS) + _every((5, 6), "evening")) == (
        ["weekdays", "weekend-evenings"],
        [],
    )
    # What no preset says is listed as it is, in week order.
    assert summarise([*_every(range(7), "evening"), (2, "morning"), (0, "afternoon")]) == (
        ["evenings"],
        [(0, "afternoon"), (2, "morning")],
    )


# --- matching --------------------------------------------------------------------------------


async def test_each_candidate_says_whether_the_time_fits_and_nobody_is_dropped(
    database: Database,
) -> None:
    skill = await _town(database, 3)  # telegram ids 100, 101, 102
    await _free(database, 101, (SUNDAY, "afternoon"))
    await _free(database, 102, (SUNDAY, "morning"), (MONDAY, "afternoon"))
    async with database.read() as session:
        need = Need(skill, CENTRE[0], CENTRE[1], wanted=Wanted(SUNDAY, ("afternoon",)))
        timed = await find_candidates(session, need, now=NOW, tz=PARIS)
        untimed = await find_candidates(session, replace(need, wanted=None), now=NOW, tz=PARIS)
    assert [(c.telegram_id, c.available) for c in timed] == [(100, True), (101, True), (102, False)]
    assert [(c.telegram_id, c.available) for c in untimed] == [
        (100, True),
        (101, True),
        (102, True),
    ]


async def test_a_timed_request_reaches_those_not_free_then_only_in_the_last_wave(
    database: Database,
) -> None:
    skill = await _town(database, 4)
    await _free(database, 100, *_every((5, 6), *PERIODS))  # the nearest: weekends only
    await _free(database, 102, (MONDAY, "morning"))
    service, sent = _recording(database, wave_size=2)
    draft = replace(_draft(skill), when_kind="slot", starts_at=MONDAY_MORNING.astimezone(UTC))
    posted = await service.post(REFERENT, draft)
    assert posted is not None
    # 101 gave no availability (free), 102 is free on Monday mornings; 100 is not.
    assert sent.readers(OfferCopy) == [101, 102]
    assert (posted.offered, posted.remaining_candidates) == (2, 2)
    assert await service.next_wave(posted.request_id) == 2
    assert sent.readers(OfferCopy)[2:] == [100, 103]
    async with database.read() as session:
        request = await session.get(HelpRequest, posted.request_id)
    assert request is not None
    assert request.next_wave_at is None
    assert request.escalate_at is not None  # the last wave went: escalation comes next


async def test_as_soon_as_possible_uses_the_current_slot(
    database: Database, clock: ManualClock
) -> None:
    skill = await _town(database, 3)
    await _free(database, 100, *_every(range(7), "morning", "evening"))  # never afternoons
    await _free(database, 101, (SUNDAY, "afternoon"))
    service, sent = _recording(database, wave_size=5)
    posted = await service.post(REFERENT, _draft(skill))  # asap, on Sunday afternoon
    assert posted is not None
    assert sent.readers(OfferCopy) == [101, 102]
    assert posted.remaining_candidates == 1
    assert await service.next_wave(posted.request_id) == 1
    assert sent.readers(OfferCopy)[2:] == [100]
    # The same volunteer, asked on Sunday evening, is among the first.
    clock.advance(timedelta(hours=4))
    again = await service.post(REFERENT, _draft(skill))
    assert again is not None
    assert sent.readers(OfferCopy)[3:] == [100, 102]


async def test_when_nobody_is_free_the_first_wave_is_the_last_and_reaches_everyone(
    database: Database,
) -> None:
    skill = await _town(database, 3)
    for telegram_id in (100, 101, 102):
        await _free(database, telegram_id, (MONDAY, "morning"))
    service, sent = _recording(database, wave_size=1)
    posted = await service.post(REFERENT, _draft(skill))
    assert posted is not None
    assert sent.readers(OfferCopy) == [100, 101, 102]
    assert (posted.offered, posted.remaining_candidates) == (3, 0)
    async with database.read() as session:
        request = await session.get(HelpRequest, posted.request_id)
    assert request is not None
    assert (request.next_wave_at, request.escalate_at is not None) == (None, True)


# --- /nearby ---------------------------------------------------------------------------------


@contextmanager
def _statements(database: Database) -> Iterator[list[str]]:
    """The SQL statements run on `database` meanwhile."""
    seen: list[str] = []
    engine = database.engine.sync_engine

    def count(*args: Any) -> None:
        seen.append(args[2])

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def _ids(found: NearbyPage | object) -> list[tuple[int, bool]]:
    assert isinstance(found, NearbyPage)
    return [(item.request.id, item.unusual_time) for item in found.page.items]


async def test_nearby_runs_a_constant_number_of_statements_and_lists_unusual_times_last(
    database: Database,
) -> None:
    skill = await _town(database, 1)  # V0, telegram id 100, 0.1 km east, radius 5
    service, _sent = _recording(database)
    posted = []
    for index in range(12):
        when = {} if index % 3 else {"when_kind": "slot", "starts_at": MONDAY_MORNING}
        draft = replace(_draft(skill), longitude=east(0.02 * index)[1], **when)
        result = await service.post(REFERENT, draft)
        assert result is not None
        posted.append(result.request_id)
    with _statements(database) as few:
        await service.nearby(100, limit=3)
    # Free on Sunday afternoons only: the four requests of Monday morning come last.
    await _free(database, 100, (SUNDAY, "afternoon"))
    for _index in range(20):
        result = await service.post(REFERENT, _draft(skill))
        assert result is not None
    with _statements(database) as many:
        found = await service.nearby(100, limit=40)
    assert len(many) == len(few) <= 8
    listed = _ids(found)
    assert len(listed) == 32
    monday = {posted[index] for index in range(0, 12, 3)}
    assert {request_id for request_id, _unusual in listed[-4:]} == monday
    assert all(unusual == (request_id in monday) for request_id, unusual in listed)


async def test_nearby_checks_each_requests_own_skill(database: Database) -> None:
    """A skill needing verification is not listed to an unverified holder, even beside an open
    request of a skill they may take (the rules are correlated with each request)."""
    plumbing = await _town(database, 1)
    async with database.transaction() as session:
        electricity = (
            (await session.execute(select(Skill).where(Skill.requires_verification.is_(True))))
            .scalars()
            .first()
        )
        assert electricity is not None
        electricity_id = electricity.id
        member_id = (
            await session.execute(select(Member.id).where(Member.telegram_id == 100))
        ).scalar_one()
        session.add(VolunteerSkill(member_id=member_id, skill_id=electricity_id))
    service, _sent = _recording(database)
    plumbing_request = await service.post(REFERENT, _draft(plumbing))
    wiring = await service.post(REFERENT, _draft(electricity_id))
    assert plumbing_request is not None
    assert wiring is not None
    assert _ids(await service.nearby(100)) == [(plumbing_request.request_id, False)]
