"""The town's charter in the matching query, and the check-in sweep's set-based steps, on SQLite
and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import event, select

from bot.domain.vocabulary import Role, VolunteerStatus
from bot.i18n import I18n
from bot.messages.charters import STAY, CharterToAccept, CheckIn, PausedForSilence
from bot.services.charters import CharterService, Published, Standing
from bot.services.checkins import CheckinService
from bot.services.matching import Need, find_candidates
from bot.services.outcomes import Outcome
from storage.database import Database
from storage.models import Claim, HelpRequest, Member, MemberRole, OutboxMessage, VolunteerSkill
from testkit.clock import ManualClock
from testkit.harness import brigade_settings
from testkit.messages import RecordingMessenger
from tests.factories import CENTRE, east, skill_id

PARIS = ZoneInfo("Europe/Paris")
COORDINATOR = 7


async def _coordinator(database: Database) -> int:
    async with database.transaction() as session:
        member = Member(telegram_id=COORDINATOR, display_name="Claire")
        session.add(member)
        await session.flush()
        session.add(MemberRole(member_id=member.id, role=Role.COORDINATOR))
        return member.id


async def _volunteer(
    database: Database, telegram_id: int, *, approved_days_ago: float = 400, **fields: Any
) -> int:
    latitude, longitude = east(0.3)
    now = database.clock()
    async with database.transaction() as session:
        member = Member(
            telegram_id=telegram_id,
            display_name=f"V{telegram_id}",
            latitude=latitude,
            longitude=longitude,
            radius_km=2.0,
            volunteer_status=VolunteerStatus.APPROVED,
            approved_at=now - timedelta(days=approved_days_ago),
            charter_version="2026-11",
            **fields,
        )
        session.add(member)
        await session.flush()
        session.add(MemberRole(member_id=member.id, role=Role.VOLUNTEER))
        session.add(
            VolunteerSkill(member_id=member.id, skill_id=await skill_id(database, "plumbing"))
        )
        return member.id


async def _offered(database: Database) -> dict[int, bool]:
    """The candidates for a plumbing need at the centre: whether each is asked for the charter."""
    need = Need(await skill_id(database, "plumbing"), *CENTRE)
    async with database.read() as session:
        found = await find_candidates(session, need, now=database.clock(), tz=PARIS)
    return {c.telegram_id: c.charter_to_accept for c in found}


def _services(
    database: Database, **settings: Any
) -> tuple[CharterService, CheckinService, RecordingMessenger]:
    config = brigade_settings(database.url, **settings)
    messenger = RecordingMessenger(I18n("en"), config)
    charters = CharterService(database, messenger, grace=timedelta(days=config.charter_grace_days))
    return charters, CheckinService(database, messenger, config), messenger


async def test_a_published_version_withholds_offers_after_its_grace_until_accepted(
    database: Database, clock: ManualClock
) -> None:
    charters, _checkins, sent = _services(database, charter_grace_days=14)
    await _coordinator(database)
    for telegram_id in (101, 102, 103):
        await _volunteer(database, telegram_id)
    assert await _offered(database) == {101: False, 102: False, 103: False}

    published = await charters.publish(COORDINATOR, {"fr": "Notre charte, version de la ville."})
    assert isinstance(published, Published)
    assert (published.charter.number, published.asked) == (1, 3)
    assert sorted(sent.readers(CharterToAccept)) == [101, 102, 103]
    async with database.read() as session:
        batch = (
            await session.execute(
                select(OutboxMessage.batch_key).where(OutboxMessage.chat_id.in_([101, 102, 103]))
            )
        ).scalars()
        assert set(batch) == {"charter:1"}
    # Within the grace period: still offered, and reminded.
    clock.advance(days=13)
    assert await _offered(database) == {101: True, 102: True, 103: True}
    accepted = await charters.accept(101, 1)
    assert isinstance(accepted, Standing)
    assert (accepted.accepted_version, accepted.accepted_at) == ("1", clock())
    assert await charters.accept(101, 1) is Outcome.ALREADY_DONE
    # After it: only who accepted.
    clock.advance(days=1)
    assert await _offered(database) == {101: False}

    # A second version: who accepted the first is offered during its grace, not after.
    second = await charters.publish(COORDINATOR, {"en": "Our charter, the town's version."})
    assert isinstance(second, Published)
    assert second.charter.by_language == {
        "fr": "Notre charte, version de la ville.",
        "en": "Our charter, the town's version.",
    }
    assert await charters.accept(102, 1) is Outcome.NOT_FOUND  # a stale button
    assert await _offered(database) == {101: True}
    clock.advance(days=14)
    assert await _offered(database) == {}
    assert isinstance(await charters.accept(102, 2), Standing)
    assert await _offered(database) == {102: False}


async def test_only_coordinators_publish_and_texts_are_checked(database: Database) -> None:
    charters, _checkins, _sent = _services(database)
    await _coordinator(database)
    await _volunteer(database, 101)
    assert await charters.publish(101, {"fr": "Texte"}) is Outcome.NOT_ALLOWED
    assert await charters.publish(COORDINATOR, {"de": "Text"}) is Outcome.INVALID
    assert await charters.publish(COORDINATOR, {"fr": "  "}) is Outcome.INVALID
    assert await charters.publish(COORDINATOR, {"fr": "x" * 3501}) is Outcome.INVALID
    assert (await charters.current()).number == 0


@contextmanager
def _statements(database: Database) -> Iterator[list[str]]:
    """The SQL statements run meanwhile that read or change rows: the inserts of outbox and
    audit rows are the messages themselves (the driver may send them one by one)."""
    seen: list[str] = []

    def count(*args: object) -> None:
        statement = str(args[2])
        if not statement.lstrip().upper().startswith("INSERT"):
            seen.append(statement)

    engine = database.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


async def test_the_checkin_asks_the_quiet_then_pauses_the_silent_in_set_based_steps(
    database: Database, clock: ManualClock
) -> None:
    _charters, checkins, sent = _services(database, checkin_months=6, checkin_silence_days=30)
    await _coordinator(database)
    quiet = [await _volunteer(database, telegram_id) for telegram_id in range(200, 230)]
    busy = await _volunteer(database, 301)
    await _volunteer(database, 302, approved_days_ago=20)  # too new to be asked
    await _volunteer(database, 303, paused_until=clock() + timedelta(days=300))
    await _volunteer(database, 304, checkin_answered_at=clock() - timedelta(days=10))
    async with database.transaction() as session:
        request = HelpRequest(
            skill_id=await skill_id(database, "plumbing"), latitude=CENTRE[0], longitude=CENTRE[1]
        )
        session.add(request)
        await session.flush()
        session.add(
            Claim(request_id=request.id, volunteer_id=busy, claimed_at=clock() - timedelta(days=9))
        )

    with _statements(database) as many:
        done = await checkins.run_due()
    assert done == {"checkins_asked": 30, "checkins_paused": 0}
    assert sorted(sent.readers(CheckIn)) == list(range(200, 230))
    assert await checkins.run_due() == {"checkins_asked": 0, "checkins_paused": 0}

    # One due volunteer or thirty: the same queries (none per volunteer).
    await _volunteer(database, 400)
    with _statements(database) as one:
        assert (await checkins.run_due())["checkins_asked"] == 1
    assert len(one) == len(many)
    assert len([s for s in many if "SELECT" in s.upper()]) <= 2

    # "Yes" keeps them; the others, silent a month, are paused with the marker.
    assert await checkins.answer(200, STAY) is Outcome.DONE
    assert await checkins.answer(200, STAY) is Outcome.NOT_FOUND
    assert await checkins.answer(201, "maybe") is Outcome.INVALID
    clock.advance(days=31)
    assert await checkins.run_due() == {"checkins_asked": 0, "checkins_paused": 30}
    assert len(sent.readers(PausedForSilence)) == 30
    async with database.read() as session:
        rows = {
            m.telegram_id: m
            for m in (await session.execute(select(Member).where(Member.id.in_(quiet)))).scalars()
        }
    assert rows[200].checkin_paused_at is None
    assert rows[200].paused_until is None
    assert rows[201].checkin_paused_at == clock()
    assert rows[201].paused_until is not None
    assert rows[201].paused_until > clock() + timedelta(days=3000)
    assert await checkins.paused_by_silence(quiet[1])
    assert not await checkins.paused_by_silence(quiet[0])

    # "Yes" on the old question after silence paused them: offers again, the marker gone.
    assert await checkins.answer(201, STAY) is Outcome.DONE
    assert not await checkins.paused_by_silence(quiet[1])
    assert 201 in await _offered(database)

    # Six months after "yes", asked again.
    clock.advance(days=183)
    await checkins.run_due()
    assert sent.readers(CheckIn).count(200) == 2


def test_checkin_period_is_whole_days() -> None:
    from bot.services.checkins import checkin_period

    assert checkin_period(6) == timedelta(days=183)
    assert datetime(2026, 1, 1, tzinfo=UTC) + checkin_period(12) == datetime(2027, 1, 1, tzinfo=UTC)
