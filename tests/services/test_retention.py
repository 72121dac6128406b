"""Every table has a lifetime (issue 20): offers of finished requests, audit events, freed space.

Each rule runs through `RetentionService.run_due`, as the timer sweep calls it, with the
ManualClock: a row just inside its lifetime stays, a row just past it goes. On SQLite and
PostgreSQL (the `database` fixture), except the vacuum steps, which are SQLite's own.
"""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text

import bot.services.requests.closing as closing_module
import bot.services.retention as retention_module
from bot.domain.vocabulary import ClaimStatus, RequestStatus
from bot.i18n import I18n
from bot.messages.drafts import ConversationPutAway
from bot.services.members import MemberService, TelegramIdentity
from bot.services.requests import ClaimOutcome, StepOutcome
from bot.services.retention import RetentionService, months_before
from bot.shared_state import PersonLocks
from storage import migrate
from storage.database import INCREMENTAL_VACUUM, Database
from storage.models import (
    AuditEvent,
    Beneficiary,
    Claim,
    ConversationState,
    HelpRequest,
    Member,
    Offer,
    OutboxMessage,
    UserData,
)
from testkit.clock import ManualClock
from testkit.harness import brigade_settings
from testkit.messages import RecordingMessenger
from tests.services.test_requests import REFERENT, _draft, _recording, _town

KEEP = timedelta(days=3)


def _retention(database: Database, **settings: object) -> RetentionService:
    config = brigade_settings(database.url, **settings)
    return RetentionService(database, RecordingMessenger(I18n("fr"), config), config)


async def _offers(database: Database, request_id: int) -> int:
    async with database.read() as session:
        query = select(func.count()).select_from(Offer).where(Offer.request_id == request_id)
        return int((await session.execute(query)).scalar_one())


async def test_offers_of_a_finished_request_go_once_it_ended_their_lifetime_ago(
    database: Database, clock: ManualClock
) -> None:
    skill = await _town(database, 3)
    service, _sent = _recording(database)
    cancelled = await service.post(REFERENT, _draft(skill))
    still_open = await service.post(REFERENT, _draft(skill))
    assert cancelled is not None
    assert still_open is not None
    assert await _offers(database, cancelled.request_id) == 3
    assert await service.cancel(REFERENT, cancelled.request_id) is StepOutcome.DONE
    retention = _retention(database, offers_keep_days=3)

    clock.advance(KEEP - timedelta(seconds=1))
    assert (await retention.run_due())["offers_pruned"] == 0
    assert await _offers(database, cancelled.request_id) == 3

    clock.advance(timedelta(seconds=2))
    assert (await retention.run_due())["offers_pruned"] == 3
    assert await _offers(database, cancelled.request_id) == 0
    # An open request keeps its offers, however old: its volunteers may still claim it.
    assert await _offers(database, still_open.request_id) == 3
    # A tap on an old copy of the cancelled request is told it is over, not "never offered".
    late = await service.claim(100, cancelled.request_id)
    assert late.outcome is ClaimOutcome.CLOSED


async def _said_done_and_left(database: Database) -> tuple[Any, int, int]:
    """A request its only volunteer said done, never confirmed: the service, the request id,
    the claim id."""
    skill = await _town(database, 3)
    service, _sent = _recording(database, confirm_window_days=14, retention_days=90)
    posted = await service.post(REFERENT, _draft(skill))
    assert posted is not None
    claimed = await service.claim(100, posted.request_id)
    assert claimed.claim_id is not None
    await service.mark_done(100, claimed.claim_id, minutes=30)
    return service, posted.request_id, claimed.claim_id


async def _statuses(database: Database, request_id: int, claim_id: int) -> tuple[Any, ...]:
    async with database.read() as session:
        request = await session.get(HelpRequest, request_id)
        claim = await session.get(Claim, claim_id)
        assert request is not None
        assert claim is not None
        return request.status, request.closed_at, claim.status


async def test_a_request_never_confirmed_ends_after_the_window_then_lets_go_of_its_data(
    database: Database, clock: ManualClock
) -> None:
    """Said done, never confirmed: it waits 14 days, then ends "done, not confirmed" once; "not
    done" can no longer reopen it; its offers go like a finished request's, and its
    beneficiary's contact data after the retention period (both were kept for ever)."""
    service, request_id, claim_id = await _said_done_and_left(database)
    retention = _retention(database, offers_keep_days=3)
    done = RequestStatus.COMPLETED

    clock.advance(timedelta(days=14) - timedelta(seconds=1))
    assert (await service.run_due())["unconfirmed"] == 0
    assert await _statuses(database, request_id, claim_id) == (done, None, ClaimStatus.DONE)
    assert await service.may_confirm(REFERENT, claim_id) is StepOutcome.DONE

    clock.advance(timedelta(seconds=2))
    assert (await service.run_due())["unconfirmed"] == 1
    assert (await service.run_due())["unconfirmed"] == 0  # once
    ended = (RequestStatus.UNCONFIRMED, clock(), ClaimStatus.DONE)
    assert await _statuses(database, request_id, claim_id) == ended
    # Too late to say it was not done: nothing moves, the volunteer keeps their record.
    assert await service.may_confirm(REFERENT, claim_id) is StepOutcome.TOO_LATE
    assert await service.confirm(REFERENT, claim_id, done=False) is StepOutcome.TOO_LATE
    assert await _statuses(database, request_id, claim_id) == ended
    async with database.read() as session:
        event = (
            await session.execute(select(AuditEvent).where(AuditEvent.action == "end_unconfirmed"))
        ).scalar_one()
    moved = (event.entity_id, event.from_state, event.to_state, event.actor_member_id)
    assert moved == (request_id, "completed", "unconfirmed", None)

    assert await _offers(database, request_id) == 3
    clock.advance(KEEP + timedelta(seconds=1))
    assert (await retention.run_due())["offers_pruned"] == 3
    clock.advance(timedelta(days=90) - KEEP)
    assert (await service.run_due())["beneficiaries_purged"] == 1
    async with database.read() as session:
        person = (await session.execute(select(Beneficiary))).scalar_one()
    assert (person.name, person.phone, person.address) == ("—", None, None)


async def test_a_late_confirmation_still_closes_a_request_that_ended_unconfirmed(
    database: Database, clock: ManualClock
) -> None:
    service, request_id, claim_id = await _said_done_and_left(database)
    clock.advance(timedelta(days=15))
    assert (await service.run_due())["unconfirmed"] == 1

    clock.advance(timedelta(days=1))
    assert await service.confirm(REFERENT, claim_id, done=True) is StepOutcome.DONE
    closed = (RequestStatus.CLOSED, clock(), ClaimStatus.CONFIRMED)
    assert await _statuses(database, request_id, claim_id) == closed
    assert (await service.run_due())["unconfirmed"] == 0


async def _waiting_for_a_lock(database: Database) -> bool:
    """Whether another session of this database waits for a row lock."""
    async with database.read() as session:
        waiting = await session.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
        )
        return bool(waiting.scalar_one())


async def test_not_done_and_the_window_ending_at_the_same_moment_do_not_interleave(
    database: Database, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL: the referent's "not done" locks the request it reopens, so the sweep ending
    it unconfirmed at that very moment waits, then finds it open again and leaves it. Unlocked,
    the sweep committed in between: a claim not done on a request ended done, its place lost.
    (SQLite's writers queue whole transactions: this cannot interleave there.)"""
    if database.is_sqlite:
        pytest.skip("PostgreSQL only: SQLite's writers queue whole transactions")
    service, request_id, claim_id = await _said_done_and_left(database)
    clock.advance(timedelta(days=15))  # past the window: the sweep would end it
    sweep: asyncio.Task[int] | None = None
    record = closing_module.audit.record

    async def record_then_let_the_sweep_in(*args: Any, **kwargs: Any) -> None:
        # Inside "not done"'s transaction, after its read of the request: the sweep starts
        # now, and either waits for the request's lock or (unlocked) commits at once.
        nonlocal sweep
        if args[3] == "not_done" and sweep is None:
            sweep = asyncio.create_task(service._end_unconfirmed(request_id, clock()))
            async with asyncio.timeout(30):
                # Another session's state, seen only by asking PostgreSQL: polled.
                while not sweep.done() and not await _waiting_for_a_lock(database):  # noqa: ASYNC110
                    await asyncio.sleep(0.01)
        await record(*args, **kwargs)

    monkeypatch.setattr(closing_module.audit, "record", record_then_let_the_sweep_in)
    assert await service.confirm(REFERENT, claim_id, done=False) is StepOutcome.DONE
    assert sweep is not None
    assert await sweep == 0
    reopened = (RequestStatus.OPEN, None, ClaimStatus.NOT_DONE)
    assert await _statuses(database, request_id, claim_id) == reopened


async def test_not_done_stays_possible_on_a_cancelled_request_said_done(
    database: Database, clock: ManualClock
) -> None:
    """Too late is only for a request that ended unconfirmed: a cancelled request keeps its
    claim said done, and the referent may still say it was not done (as before)."""
    skill = await _town(database, 3)
    service, _sent = _recording(database, confirm_window_days=14)
    posted = await service.post(REFERENT, _draft(skill, places=2))
    assert posted is not None
    claimed = await service.claim(100, posted.request_id)
    assert claimed.claim_id is not None
    await service.mark_done(100, claimed.claim_id, minutes=30)
    assert await service.cancel(REFERENT, posted.request_id) is StepOutcome.DONE
    clock.advance(timedelta(days=15))
    assert (await service.run_due())["unconfirmed"] == 0
    assert await service.may_confirm(REFERENT, claimed.claim_id) is StepOutcome.DONE
    assert await service.confirm(REFERENT, claimed.claim_id, done=False) is StepOutcome.DONE
    statuses = await _statuses(database, posted.request_id, claimed.claim_id)
    assert (statuses[0], statuses[2]) == (RequestStatus.CANCELLED, ClaimStatus.NOT_DONE)


async def test_offers_are_pruned_in_bounded_batches(
    database: Database, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    skill = await _town(database, 3)
    service, _sent = _recording(database)
    posted = await service.post(REFERENT, _draft(skill))
    assert posted is not None
    assert await service.cancel(REFERENT, posted.request_id) is StepOutcome.DONE
    clock.advance(KEEP + timedelta(minutes=1))
    monkeypatch.setattr(retention_module, "OFFER_PRUNE_BATCH", 2)
    retention = _retention(database)
    assert (await retention.run_due())["offers_pruned"] == 2
    assert (await retention.run_due())["offers_pruned"] == 1
    assert await _offers(database, posted.request_id) == 0


async def _events(database: Database) -> list[str]:
    async with database.read() as session:
        found = await session.execute(select(AuditEvent.action).order_by(AuditEvent.id))
        return list(found.scalars())


async def test_audit_events_are_kept_for_the_towns_evaluation_period_then_deleted(
    database: Database, clock: ManualClock
) -> None:
    started = clock()
    async with database.transaction() as session:
        session.add(AuditEvent(entity="request", entity_id=1, action="old"))
    clock.advance(timedelta(days=40))
    async with database.transaction() as session:
        session.add(AuditEvent(entity="request", entity_id=2, action="newer"))
    retention = _retention(database, audit_retention_months=13)
    # 13 calendar months after the first event, less a minute: both stay.
    clock.now = months_before(started, -13) - timedelta(minutes=1)
    assert (await retention.run_due())["audit_events_pruned"] == 0
    assert await _events(database) == ["old", "newer"]
    clock.advance(timedelta(minutes=2))
    assert (await retention.run_due())["audit_events_pruned"] == 1
    assert await _events(database) == ["newer"]


async def test_idle_strangers_go_after_the_retention_period_but_not_people_who_come_back(
    database: Database, clock: ManualClock
) -> None:
    # A retention of 40 minutes (the soak's kind): "seen" is refreshed every 10 minutes, so a
    # person who writes every 15 minutes is never taken for idle, however long ago they came.
    period = timedelta(minutes=40)
    retention = _retention(database, retention_days=period / timedelta(days=1))
    members = MemberService(database, [], seen_resolution=period / 4)
    await members.identify(TelegramIdentity(501, "Once"))
    often = (await members.identify(TelegramIdentity(502, "Often"))).id
    for _ in range(8):  # two hours
        clock.advance(timedelta(minutes=15))
        await retention.run_due()
        # The same row each time: never purged and made again.
        assert (await members.identify(TelegramIdentity(502, "Often"))).id == often
    async with database.read() as session:
        left = (await session.execute(select(Member.telegram_id))).scalars().all()
    assert left == [502]


def test_months_are_counted_on_the_calendar() -> None:
    assert months_before(datetime(2027, 12, 6, 12, 0, tzinfo=UTC), 13) == datetime(
        2026, 11, 6, 12, 0, tzinfo=UTC
    )
    # The 31st of a month that has no 31st a year earlier: that month's last day.
    assert months_before(datetime(2027, 3, 31, tzinfo=UTC), 13) == datetime(2026, 2, 28, tzinfo=UTC)
    assert months_before(datetime(2027, 1, 15, tzinfo=UTC), 1) == datetime(2026, 12, 15, tzinfo=UTC)
    # A fraction (the soak benchmark's minutes) adds that share of an average month.
    assert months_before(datetime(2027, 1, 15, tzinfo=UTC), 1.5) == datetime(
        2026, 12, 15, tzinfo=UTC
    ) - timedelta(days=365.2425 / 24)
    minutes = 10 / (60 * 24 * 30.436875)
    assert months_before(datetime(2027, 1, 15, tzinfo=UTC), minutes) == datetime(
        2027, 1, 14, 23, 50, tzinfo=UTC
    )


def _sqlite_file(database: Database) -> Path:
    return Path(database.url.removeprefix("sqlite+aiosqlite:///"))


def _pragma(path: Path, name: str) -> int:
    with sqlite3.connect(path) as connection:
        return int(connection.execute(f"PRAGMA {name}").fetchone()[0])


async def test_the_sweep_gives_freed_pages_back_to_the_file_system(
    sqlite_database: Database, clock: ManualClock
) -> None:
    database = sqlite_database
    path = _sqlite_file(database)
    assert _pragma(path, "auto_vacuum") == INCREMENTAL_VACUUM  # a new file starts with it
    async with database.transaction() as session:
        session.add_all(
            AuditEvent(entity="request", entity_id=i, action="x" * 30, detail={"pad": "y" * 900})
            for i in range(3000)
        )
    clock.advance(timedelta(days=500))
    retention = _retention(database, audit_retention_months=13)
    done = await retention.run_due()
    assert done["audit_events_pruned"] == 3000
    # One sweep gives back at most VACUUM_PAGES_PER_SWEEP pages; the rest follow.
    assert done["pages_given_back"] > 0
    while (await retention.run_due())["pages_given_back"]:
        pass
    assert _pragma(path, "freelist_count") < 256
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert path.stat().st_size < 1_000_000


async def test_an_sqlite_file_made_before_incremental_vacuum_is_switched_on_once(
    tmp_path: Path, clock: ManualClock
) -> None:
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE made_by_an_older_version (x INTEGER)")
    assert _pragma(path, "auto_vacuum") == 0
    database = Database(f"sqlite+aiosqlite:///{path}", clock=clock)
    try:
        await migrate.upgrade(database)  # switches it on after migrating
        assert _pragma(path, "auto_vacuum") == INCREMENTAL_VACUUM
        assert await database.switch_on_incremental_vacuum() is False  # once only
    finally:
        await database.dispose()


async def test_postgresql_leaves_freed_space_to_its_autovacuum(database: Database) -> None:
    if database.is_sqlite:
        pytest.skip("PostgreSQL only")
    assert await database.give_back_space(max_pages=10, min_pages=0) == 0
    assert await database.switch_on_incremental_vacuum() is False


# --- abandoned conversations -------------------------------------------------------------------


async def _converse(database: Database, telegram_id: int, conversation: str) -> None:
    """A person in the middle of a conversation, with a draft (as PTB's persistence saves it)."""
    async with database.transaction() as session:
        session.add(
            ConversationState(
                key=f"[{telegram_id}, {telegram_id}]",
                conversation=conversation,
                telegram_id=telegram_id,
                state="PHONE",
            )
        )
        session.add(UserData(telegram_id=telegram_id, data={"name": "Zéphyrine Q."}))


async def _people_with_drafts(database: Database) -> set[int]:
    async with database.read() as session:
        drafts = await session.execute(select(UserData.telegram_id))
        states = await session.execute(select(ConversationState.telegram_id))
        return set(drafts.scalars()) | {t for t in states.scalars() if t is not None}


async def test_a_conversation_put_away_is_told_once_in_the_sweeps_transaction(
    database: Database, clock: ManualClock
) -> None:
    config = brigade_settings(database.url, draft_ttl_hours=48)
    messenger = RecordingMessenger(I18n("fr"), config)
    retention = RetentionService(database, messenger, config)
    await _converse(database, 501, "posting")
    await _converse(database, 502, "visit")
    clock.advance(hours=47)
    await _converse(database, 503, "signup")
    assert await retention.expire_drafts() == {}
    clock.advance(hours=2)  # 501 and 502 silent for 49 hours, 503 for 2

    assert await retention.expire_drafts() == {
        501: frozenset({"posting"}),
        502: frozenset({"visit"}),
    }
    assert await _people_with_drafts(database) == {503}
    # 502's visit report ends without a word; 501 is told, once, in an outbox row.
    assert messenger.readers(ConversationPutAway) == [501]
    assert messenger.of(ConversationPutAway) == [
        ConversationPutAway(frozenset({"posting"}), timedelta(hours=48))
    ]
    async with database.read() as session:
        rows = (await session.execute(select(OutboxMessage.chat_id, OutboxMessage.payload))).all()
    assert [(chat, payload["text"]) for chat, payload in rows] == [
        (
            501,
            "Votre demande en cours a été rangée après 2\u00a0jours sans réponse\u202f; rien n’a "
            "été publié. Envoyez /new pour recommencer.",
        )
    ]
    assert await retention.expire_drafts() == {}
    assert messenger.readers(ConversationPutAway) == [501]


async def test_a_person_whose_update_is_being_handled_elsewhere_is_not_expired(
    database: Database, clock: ManualClock
) -> None:
    """PostgreSQL, several processes: the sweep skips a person whose advisory lock another
    process holds (it is handling their update, and will write their state back)."""
    if database.is_sqlite:
        pytest.skip("PostgreSQL only: one process on SQLite")
    config = brigade_settings(database.url, draft_ttl_hours=48)
    messenger = RecordingMessenger(I18n("fr"), config)
    retention = RetentionService(database, messenger, config)
    await _converse(database, 601, "posting")
    await _converse(database, 602, "posting")
    clock.advance(hours=49)
    locks = PersonLocks(database)
    try:
        async with locks.hold(601):
            assert await retention.expire_drafts() == {602: frozenset({"posting"})}
            assert await _people_with_drafts(database) == {601}
        assert await retention.expire_drafts() == {601: frozenset({"posting"})}
    finally:
        await locks.dispose()
    assert await _people_with_drafts(database) == set()
    assert messenger.readers(ConversationPutAway) == [602, 601]
