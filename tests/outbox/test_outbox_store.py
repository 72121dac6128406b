"""The outbox store on SQLite and PostgreSQL: enqueue, leasing order and exclusivity, outcomes."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from storage import offers, outbox
from storage.database import Database
from storage.models import (
    HelpRequest,
    Member,
    Neighbourhood,
    Offer,
    OutboxMessage,
    OutboxStatus,
    Skill,
)

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    """A moment `seconds` after T0."""
    return T0 + timedelta(seconds=seconds)


async def add_rows(database: Database, *specs: tuple[int, int]) -> list[int]:
    """Enqueue one send_message per (chat_id, priority), due at T0; return their ids."""
    async with database.transaction() as session:
        rows = [
            await outbox.enqueue(
                session,
                chat_id=chat_id,
                method="send_message",
                payload={"text": f"to {chat_id}"},
                priority=priority,
                not_before=T0,
            )
            for chat_id, priority in specs
        ]
        return [row.id for row in rows]


async def lease(
    database: Database, owner: str, now: datetime, limit: int = 10, seconds: float = 30
) -> list[int]:
    """Lease in a transaction of its own; return the leased ids in order."""
    async with database.transaction() as session:
        rows = await outbox.lease_due(
            session, owner=owner, limit=limit, now=now, lease_seconds=seconds
        )
        return [row.id for row in rows]


async def row(database: Database, id: int) -> OutboxMessage:
    """A fresh copy of one outbox row."""
    async with database.read() as session:
        found = await session.get(OutboxMessage, id)
        assert found is not None
        return found


async def make_offer(database: Database, telegram_id: int = 501) -> tuple[int, int]:
    """A member and an offer of a request to them; returns (member id, offer id)."""
    async with database.transaction() as session:
        skill = Skill(code=f"skill_{telegram_id}", label="Shopping")
        member = Member(telegram_id=telegram_id, display_name="Vera")
        session.add_all([skill, member])
        await session.flush()
        request = HelpRequest(skill_id=skill.id, latitude=45.5, longitude=5.9)
        session.add(request)
        await session.flush()
        offer = Offer(
            request_id=request.id, member_id=member.id, chat_id=telegram_id, kind="direct"
        )
        session.add(offer)
        await session.flush()
        return member.id, offer.id


async def test_enqueue_stores_a_pending_row_with_plain_json(database: Database) -> None:
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Je prends", callback_data="c:1")]])
    async with database.transaction() as session:
        stored = await outbox.enqueue(
            session,
            chat_id=42,
            method="send_message",
            payload={"text": "Courses rue Vaugelas", "reply_markup": keyboard},
            priority=outbox.INTERACTIVE,
        )
        assert stored.id is not None
    fresh = await row(database, stored.id)
    assert fresh.status == OutboxStatus.PENDING
    assert (fresh.attempts, fresh.priority, fresh.lease_owner) == (0, outbox.INTERACTIVE, None)
    assert fresh.payload == {
        "text": "Courses rue Vaugelas",
        "reply_markup": {"inline_keyboard": [[{"text": "Je prends", "callback_data": "c:1"}]]},
    }
    assert fresh.not_before == database.clock()


async def test_enqueue_refuses_what_the_sender_could_not_send(database: Database) -> None:
    async with database.transaction() as session:
        with pytest.raises(ValueError, match="cannot send"):
            await outbox.enqueue(session, chat_id=1, method="sendMessage", payload={"text": "x"})
        with pytest.raises(ValueError, match="chat_id"):
            await outbox.enqueue(
                session, chat_id=1, method="send_message", payload={"chat_id": 2, "text": "x"}
            )
        with pytest.raises(ValueError, match="not JSON"):
            await outbox.enqueue(
                session, chat_id=1, method="send_message", payload={"text": object()}
            )
        assert await outbox.pending_count(session) == 0


async def test_a_rolled_back_use_case_leaves_no_message(database: Database) -> None:
    async def failing_use_case() -> None:
        async with database.transaction() as session:
            await outbox.enqueue(session, chat_id=1, method="send_message", payload={"text": "x"})
            raise RuntimeError("the state change failed")

    with pytest.raises(RuntimeError):
        await failing_use_case()
    async with database.read() as session:
        assert await outbox.pending_count(session) == 0


async def test_lease_takes_the_most_urgent_first_then_the_oldest(database: Database) -> None:
    bulk_a, notice, bulk_b, urgent_a, urgent_b = await add_rows(
        database,
        (1, outbox.BULK),
        (2, outbox.NOTICE),
        (3, outbox.BULK),
        (4, outbox.INTERACTIVE),
        (5, outbox.INTERACTIVE),
    )
    assert await lease(database, "a", at(0), limit=3) == [urgent_a, urgent_b, notice]
    assert await lease(database, "a", at(0), limit=3) == [bulk_a, bulk_b]
    assert await lease(database, "a", at(0)) == []
    leased = await row(database, urgent_a)
    assert (leased.lease_owner, leased.lease_expires_at) == ("a", at(30))


async def test_lease_can_be_limited_to_more_urgent_rows(database: Database) -> None:
    _, notice, urgent = await add_rows(
        database, (1, outbox.BULK), (2, outbox.NOTICE), (3, outbox.INTERACTIVE)
    )
    async with database.transaction() as session:
        rows = await outbox.lease_due(
            session, owner="a", limit=5, now=at(0), lease_seconds=30, below_priority=outbox.BULK
        )
    assert [r.id for r in rows] == [urgent, notice]


async def test_lease_honours_not_before(database: Database) -> None:
    async with database.transaction() as session:
        later = await outbox.enqueue(
            session, chat_id=9, method="send_message", payload={"text": "x"}, not_before=at(60)
        )
    assert not await outbox.has_due(database, now=at(59))
    assert await outbox.has_due(database, now=at(60))
    assert not await outbox.has_due(database, now=at(60), below_priority=outbox.BULK)
    assert await lease(database, "a", at(59)) == []
    assert await lease(database, "a", at(60)) == [later.id]


async def test_a_live_lease_is_respected_and_an_expired_one_taken_over(database: Database) -> None:
    (only,) = await add_rows(database, (1, outbox.BULK))
    assert await lease(database, "dead", at(0), seconds=10) == [only]
    assert await lease(database, "alive", at(9.9)) == []
    assert await lease(database, "alive", at(10)) == [only]
    assert (await row(database, only)).lease_owner == "alive"


async def test_mark_sent_records_the_message_and_the_offer_copy(database: Database) -> None:
    member_id, offer_id = await make_offer(database)
    async with database.transaction() as session:
        send = await outbox.enqueue(
            session,
            chat_id=501,
            method="send_message",
            payload={"text": "Offre"},
            member_id=member_id,
            offer_id=offer_id,
        )
        edit = await outbox.enqueue(
            session,
            chat_id=501,
            method="edit_message_text",
            payload={"text": "Offre pourvue"},
            offer_id=offer_id,
        )
    async with database.transaction() as session:
        assert await outbox.offer_targets(session, [offer_id]) == {
            offer_id: outbox.OfferTarget(None, OutboxStatus.PENDING)
        }
        # An edit's success never overwrites the id of the message it edited.
        await outbox.mark_sent(
            session, [outbox.Sent(send.id, 77, at(1)), outbox.Sent(edit.id, 78, at(2))]
        )
    sent = await row(database, send.id)
    assert (sent.status, sent.telegram_message_id, sent.sent_at) == (OutboxStatus.SENT, 77, at(1))
    assert sent.lease_owner is None
    async with database.read() as session:
        assert (await session.get(Offer, offer_id)).message_id == 77  # type: ignore[union-attr]
        assert await outbox.offer_targets(session, [offer_id]) == {
            offer_id: outbox.OfferTarget(77, OutboxStatus.SENT)
        }


async def test_a_final_row_keeps_no_text_in_the_write_that_finishes_it(
    database: Database,
) -> None:
    """Sent, failed, skipped, skipped with its chat or superseded: the payload is blank at once."""
    _member, offer_id = await make_offer(database, telegram_id=701)
    texts = [f"Mme Zéphyrine Q., 06 98 76 54 {n:02}, door code 48{n:02}B" for n in range(7)]
    async with database.transaction() as session:
        rows = [
            await outbox.enqueue(
                session,
                chat_id=chat_id,
                method=method,
                payload={"text": text, "message_id": 5}
                if method != "send_message"
                else {"text": text},
                offer_id=offer_id if method != "send_message" else None,
            )
            for (chat_id, method), text in zip(
                [
                    (701, "send_message"),
                    (702, "send_message"),
                    (703, "send_message"),
                    (704, "send_message"),
                    (705, "send_message"),
                    (701, "edit_message_text"),
                    (706, "send_message"),
                ],
                texts,
                strict=True,
            )
        ]
    sent, also_sent, failed, skipped, blocked, superseded, pending = (item.id for item in rows)
    async with database.transaction() as session:
        await outbox.mark_sent(
            session, [outbox.Sent(sent, 11, at(1)), outbox.Sent(also_sent, 12, at(1))]
        )
        assert await outbox.mark_failed(session, failed, "Bad Request: chat not found")
        assert await outbox.mark_skipped(session, skipped, "message to edit not found")
        assert await outbox.skip_chat(session, 705, "Forbidden: bot was blocked by the user") == 1
        assert await offers.supersede_pending_edits(session, [offer_id]) == 1
    for finished in (sent, also_sent, failed, skipped, blocked, superseded):
        assert (await row(database, finished)).payload == {}
    assert (await row(database, sent)).telegram_message_id == 11
    assert (await row(database, pending)).payload == {"text": texts[-1]}


async def test_reschedule_counts_attempts_unless_told_not_to(database: Database) -> None:
    (only,) = await add_rows(database, (1, outbox.BULK))
    await lease(database, "a", at(0))
    async with database.transaction() as session:
        assert await outbox.reschedule(session, only, at(5), "TimedOut", owner="a")
    rescheduled = await row(database, only)
    assert (rescheduled.attempts, rescheduled.not_before) == (1, at(5))
    assert (rescheduled.lease_owner, rescheduled.last_error) == (None, "TimedOut")
    assert await lease(database, "a", at(4)) == []
    assert await lease(database, "a", at(5)) == [only]
    async with database.transaction() as session:
        assert await outbox.reschedule(session, only, at(7), "429", count_attempt=False, owner="a")
    assert (await row(database, only)).attempts == 1


async def test_a_sender_whose_lease_expired_cannot_undo_the_next_owner(database: Database) -> None:
    (only,) = await add_rows(database, (1, outbox.BULK))
    await lease(database, "old", at(0), seconds=1)
    await lease(database, "new", at(2))
    async with database.transaction() as session:
        assert not await outbox.reschedule(session, only, at(3), "late", owner="old")
        assert not await outbox.mark_failed(session, only, "late", owner="old")
        assert await outbox.release(session, [only], owner="old") == 0
    assert (await row(database, only)).lease_owner == "new"


async def test_failed_and_skipped_rows_are_final(database: Database) -> None:
    failed, skipped = await add_rows(database, (1, outbox.BULK), (2, outbox.BULK))
    async with database.transaction() as session:
        assert await outbox.mark_failed(session, failed, "Bad Request: chat not found")
        assert await outbox.mark_skipped(session, skipped, "message to edit not found")
        assert not await outbox.reschedule(session, failed, at(0), "again")
        assert await outbox.pending_count(session) == 0
    assert (await row(database, failed)).status == OutboxStatus.FAILED
    assert (await row(database, skipped)).status == OutboxStatus.SKIPPED
    assert await lease(database, "a", at(100)) == []


async def test_skip_chat_and_mark_unreachable(database: Database) -> None:
    blocked_member, _ = await make_offer(database, telegram_id=601)
    first, second, other = await add_rows(
        database, (601, outbox.BULK), (601, outbox.INTERACTIVE), (602, outbox.BULK)
    )
    async with database.transaction() as session:
        await outbox.mark_sent(session, [outbox.Sent(first, 1, at(0))])
        assert await outbox.skip_chat(session, 601, "Forbidden: bot was blocked by the user") == 1
        await outbox.mark_unreachable(session, chat_id=601, member_id=None, now=at(1))
        assert await outbox.pending_count(session) == 1
    assert (await row(database, first)).status == OutboxStatus.SENT
    assert (await row(database, second)).status == OutboxStatus.SKIPPED
    assert (await row(database, other)).status == OutboxStatus.PENDING
    async with database.read() as session:
        member = await session.get(Member, blocked_member)
        assert member is not None
        assert (member.reachable, member.unreachable_since) == (False, at(1))


async def test_release_gives_rows_back_at_once_or_later(database: Database) -> None:
    a, b = await add_rows(database, (1, outbox.BULK), (2, outbox.BULK))
    await lease(database, "a", at(0))
    async with database.transaction() as session:
        assert await outbox.release(session, [a], owner="a") == 1
        assert await outbox.release(session, [b], owner="a", not_before=at(30)) == 1
    assert await lease(database, "b", at(1)) == [a]
    assert await lease(database, "b", at(30)) == [b]
    assert (await row(database, b)).attempts == 0


async def _neighbourhood(database: Database, name: str, group_chat_id: int) -> int:
    async with database.transaction() as session:
        area = Neighbourhood(name=name, latitude=45.57, longitude=5.92, group_chat_id=group_chat_id)
        session.add(area)
        await session.flush()
        return area.id


async def test_move_chat_follows_a_group_to_its_supergroup(database: Database) -> None:
    (only,) = await add_rows(database, (-4001, outbox.BULK))
    area = await _neighbourhood(database, "Centre", -4001)
    async with database.transaction() as session:
        assert await outbox.move_chat(session, -4001, -1004001) == 1
    assert (await row(database, only)).chat_id == -1004001
    async with database.read() as session:
        neighbourhood = await session.get(Neighbourhood, area)
        assert neighbourhood is not None
        # Its next offers go straight to the supergroup, not through one failed call each.
        assert neighbourhood.group_chat_id == -1004001


async def test_a_group_that_removed_the_bot_stops_receiving_offers(database: Database) -> None:
    removed = await _neighbourhood(database, "Centre", -4001)
    other = await _neighbourhood(database, "Gare", -4002)
    async with database.transaction() as session:
        await outbox.mark_unreachable(session, chat_id=-4001, member_id=None, now=at(1))
    async with database.read() as session:
        found = await session.execute(select(Neighbourhood.id, Neighbourhood.post_to_group))
        assert {area: posting for area, posting in found} == {removed: False, other: True}


async def test_two_leasers_never_take_the_same_row(database: Database, database_url: str) -> None:
    """Two processes (two engines) lease in a loop until nothing is left: no row twice."""
    ids = set(await add_rows(database, *((chat, outbox.BULK) for chat in range(1, 301))))
    other = Database(database_url, clock=database.clock)
    try:

        async def leaser(db: Database, owner: str) -> list[int]:
            taken: list[int] = []
            while batch := await lease(db, owner, at(0), limit=7):
                taken += batch
                await asyncio.sleep(0)
            return taken

        first, second = await asyncio.gather(leaser(database, "p1"), leaser(other, "p2"))
    finally:
        await other.dispose()
    assert not set(first) & set(second)
    assert len(first) + len(second) == len(ids)
    assert set(first) | set(second) == ids
    async with database.read() as session:
        found = await session.execute(select(OutboxMessage.id, OutboxMessage.lease_owner))
        owners = {id: owner for id, owner in found}
    assert all(owners[i] == "p1" for i in first)
    assert all(owners[i] == "p2" for i in second)


async def test_postgres_leasers_skip_rows_locked_by_an_open_lease(
    database: Database, database_url: str
) -> None:
    """While one lease transaction is still open, another takes the next rows without waiting."""
    if database.is_sqlite:
        pytest.skip("SQLite serialises writers: the second would wait for the first to commit")
    ids = await add_rows(database, *((chat, outbox.BULK) for chat in range(1, 11)))
    other = Database(database_url, clock=database.clock)
    try:
        async with database.transaction() as first_session:
            first = await outbox.lease_due(
                first_session, owner="p1", limit=4, now=at(0), lease_seconds=30
            )
            async with asyncio.timeout(5):
                second = await lease(other, "p2", at(0), limit=4)
    finally:
        await other.dispose()
    assert [r.id for r in first] == ids[:4]
    assert second == ids[4:8]
