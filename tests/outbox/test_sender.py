"""The outbox sender: pure pacing and error rules, then real PTB calls to the simulated Telegram.

Integration tests run on SQLite and PostgreSQL; they wait on database state or on the fake's
progress, never assert how long anything took, and print the figures worth reporting (run with
`-s` to see them).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from telegram import Bot, Chat, InlineKeyboardButton, InlineKeyboardMarkup, Message, MessageId
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TimedOut,
)
from telegram.ext import ExtBot

from bot.outbox import (
    Backoff,
    OutboxSender,
    SendLimiter,
    SendLimits,
    TokenBucket,
    Verdict,
    call_arguments,
    classify_error,
    classify_result,
)
from bot.ratelimit import SharedBudgetLimiter
from storage import outbox
from storage.database import Database
from storage.models import HelpRequest, Member, Offer, OutboxMessage, OutboxStatus, Skill
from testkit.clock import ManualClock
from testkit.telegram import FakeTelegram, FakeUser, InProcessRequest, TelegramLimits

# Pacing for tests about correctness rather than rate: Telegram's rules, just faster overall.
FAST = SendLimits(overall_per_second=300, overall_burst=30)
QUICK_BACKOFF = Backoff(base=0.05, cap=0.4)


# ---------------------------------------------------------------------------------- pure rules


def test_token_bucket_allows_a_burst_then_its_rate() -> None:
    bucket = TokenBucket(rate=1.0, burst=3, now=0.0)
    for _ in range(3):
        assert bucket.wait_time(0.0) == 0
        bucket.take(0.0)
    assert bucket.wait_time(0.0) == pytest.approx(1.0)
    assert bucket.wait_time(0.25) == pytest.approx(0.75)
    assert bucket.wait_time(1.0) == 0
    # Idle time never banks more than the burst.
    assert bucket.is_full(100.0)
    assert bucket.tokens == 3


def test_token_bucket_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="rate"):
        TokenBucket(rate=0, burst=3, now=0.0)


def test_limiter_paces_a_private_chat_at_one_per_second_after_three() -> None:
    limiter = SendLimiter(SendLimits(), now=0.0)
    assert [limiter.try_acquire(7, 0.0) for _ in range(4)] == [True, True, True, False]
    assert limiter.chat_wait(7, 0.0) == pytest.approx(1.0)
    assert limiter.try_acquire(8, 0.0)  # another chat has its own budget
    assert limiter.try_acquire(7, 1.0)
    assert not limiter.try_acquire(7, 1.5)


def test_bulk_sends_leave_a_chat_token_for_urgent_ones() -> None:
    limiter = SendLimiter(SendLimits(), now=0.0)
    assert [limiter.try_acquire(7, 0.0, bulk=True) for _ in range(3)] == [True, True, False]
    assert limiter.chat_wait(7, 0.0, bulk=True) == pytest.approx(1.0)
    assert limiter.chat_wait(7, 0.0) == 0
    assert limiter.try_acquire(7, 0.0)  # the claim confirmation goes at once
    assert not limiter.try_acquire(7, 0.0)


def test_limiter_paces_a_group_at_twenty_per_minute() -> None:
    limiter = SendLimiter(SendLimits(group_burst=5), now=0.0)
    assert sum(limiter.try_acquire(-100, 0.0) for _ in range(10)) == 5
    assert limiter.chat_wait(-100, 0.0) == pytest.approx(3.0)
    assert limiter.interval(-100) == pytest.approx(3.0)
    assert limiter.interval(100) == pytest.approx(1.0)
    assert limiter.try_acquire(-100, 3.0)


def test_limiter_caps_the_overall_rate() -> None:
    limiter = SendLimiter(SendLimits(overall_per_second=29, overall_burst=10), now=0.0)
    assert sum(limiter.try_acquire(chat, 0.0) for chat in range(1, 30)) == 10
    assert limiter.overall_wait(0.0) == pytest.approx(1 / 29)
    # Then one every 1/29 s, whatever the chats: 29 in the next second.
    moments = [(i + 1) / 29 for i in range(29)]
    assert all(limiter.try_acquire(100 + i, t) for i, t in enumerate(moments))
    assert not limiter.try_acquire(999, 1.0)
    # Idle time refills only up to the burst.
    assert sum(limiter.try_acquire(chat, 10.0) for chat in range(200, 240)) == 10


def test_direct_answers_go_first_and_the_outbox_waits_out_what_they_borrowed() -> None:
    limiter = SendLimiter(SendLimits(overall_per_second=29, overall_burst=10), now=0.0)
    assert sum(limiter.try_acquire(chat, 0.0, bulk=True) for chat in range(1, 30)) == 10
    # The outbox took the whole burst; direct answers still go at once, up to one burst ahead…
    assert [limiter.acquire_direct(500 + i, 0.0) for i in range(10)] == [0.0] * 10
    assert limiter.acquire_direct(600, 0.0) == pytest.approx(1 / 29)
    # …which the outbox repays before its next send: at most 10 + 10 + 29 in the first second.
    assert limiter.overall_wait(0.0) == pytest.approx(11 / 29)
    assert not limiter.try_acquire(1, 0.3)
    assert limiter.try_acquire(1, 11 / 29 + 1e-6)
    # A person's conversation does not hold back the outbox's rows to them, but a chat Telegram
    # refused waits for its retry_after, direct answers included.
    assert [limiter.acquire_direct(800, 20.0 + i / 100) for i in range(5)] == [0.0] * 5
    assert limiter.chat_wait(800, 20.05) == 0.0
    limiter.refused(700, 2.0, 1.0)
    assert limiter.acquire_direct(700, 1.0) == pytest.approx(2.0)
    assert limiter.acquire_direct(None, 2.0) == 0.0  # a call to no particular chat


def test_a_429_pauses_its_chat_and_many_of_them_pause_everything() -> None:
    limiter = SendLimiter(SendLimits(many_chats=3, many_chats_window=1.0), now=0.0)
    assert not limiter.refused(1, 5.0, now=0.0)
    assert limiter.chat_wait(1, 4.0) == pytest.approx(1.0)
    assert limiter.overall_wait(0.0) == 0
    # A second chat 2 s later: outside the window, still per chat.
    assert not limiter.refused(2, 1.0, now=2.0)
    assert not limiter.refused(3, 1.0, now=2.5)
    assert limiter.refused(4, 2.0, now=2.6)
    assert limiter.overall_wait(2.6) == pytest.approx(2.0)
    assert not limiter.try_acquire(99, 4.0)
    assert limiter.try_acquire(99, 4.6)


def test_the_limiter_forgets_idle_chats() -> None:
    limiter = SendLimiter(SendLimits(), now=0.0)
    for chat in range(1, 51):
        limiter.try_acquire(chat, 0.0)
    limiter.refused(7, 100.0, now=0.0)
    limiter.prune(10.0)
    assert limiter.known_chats == 1  # only the paused chat is remembered
    limiter.prune(100.0)
    assert limiter.known_chats == 0


def test_backoff_doubles_up_to_its_cap() -> None:
    backoff = Backoff()
    assert [backoff.delay(n) for n in range(1, 9)] == [1, 2, 4, 8, 16, 32, 60, 60]
    assert backoff.delay(10_000) == 60
    assert Backoff(base=0.5, factor=3, cap=10).delay(3) == 4.5


@pytest.mark.parametrize(
    ("error", "verdict"),
    [
        (RetryAfter(3), Verdict.RETRY_AFTER),
        (TimedOut(), Verdict.TRANSIENT),
        (NetworkError("Internal Server Error"), Verdict.TRANSIENT),
        (NetworkError("Bad Gateway"), Verdict.TRANSIENT),
        (Forbidden("Forbidden: bot was blocked by the user"), Verdict.UNREACHABLE),
        (BadRequest("Bad Request: message is not modified: specified new"), Verdict.SENT),
        (BadRequest("Bad Request: message to edit not found"), Verdict.SKIPPED),
        (BadRequest("Bad Request: message can't be edited"), Verdict.SKIPPED),
        (BadRequest("Bad Request: message to delete not found"), Verdict.SKIPPED),
        (BadRequest("Bad Request: chat not found"), Verdict.FAILED),
        (ChatMigrated(-1001234), Verdict.MIGRATED),
        (InvalidToken(), Verdict.HALT),
        (TypeError("unexpected keyword argument 'txt'"), Verdict.FAILED),
    ],
)
def test_errors_are_sorted_into_what_to_do(error: Exception, verdict: Verdict) -> None:
    assert classify_error(error).verdict == verdict


def test_a_429_carries_its_wait_and_a_migration_its_new_chat() -> None:
    assert classify_error(RetryAfter(timedelta(seconds=7))).retry_after == 7.0
    assert classify_error(ChatMigrated(-1001234)).new_chat_id == -1001234
    assert "blocked" in (classify_error(Forbidden("bot was blocked by the user")).error or "")


def test_results_give_the_new_message_id() -> None:
    chat = Chat(5, Chat.PRIVATE)
    message = Message(41, datetime(2026, 11, 23, 9, 0, tzinfo=UTC), chat)
    assert classify_result(message).message_id == 41
    assert classify_result(MessageId(42)).message_id == 42
    assert classify_result(True) == classify_result(True)
    assert classify_result(True).message_id is None


def test_call_arguments_rebuild_the_keyboard_and_fill_in_the_message_id() -> None:
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Je prends", callback_data="c:1")]])
    payload = {"text": "Offre", "reply_markup": keyboard.to_dict()}
    kwargs = call_arguments(payload, message_id=12)
    assert kwargs["reply_markup"] == keyboard
    assert kwargs["message_id"] == 12
    assert payload["reply_markup"] == keyboard.to_dict()  # the stored payload is untouched
    # An explicit message id wins over the offer's.
    assert call_arguments({"message_id": 3}, message_id=12)["message_id"] == 3


# ---------------------------------------------------------------------------------- helpers


@pytest.fixture
def clock() -> ManualClock:
    """A running sender's clock ticks: retries and pauses come due as seconds pass."""
    return ManualClock(ticking=True)


@pytest.fixture
async def bot(world: FakeTelegram) -> AsyncIterator[Bot]:
    """A plain PTB bot (no rate limiter) whose calls the simulated Telegram answers."""
    # A short read timeout makes the fake's hangs cost half a second, not five.
    ptb_bot = Bot(
        world.token,
        request=InProcessRequest(world, read_timeout=0.5),
        get_updates_request=InProcessRequest(world),
    )
    await ptb_bot.initialize()
    try:
        yield ptb_bot
    finally:
        await ptb_bot.shutdown()


async def add_people(
    world: FakeTelegram, database: Database, count: int, prefix: str = "Vol"
) -> list[tuple[FakeUser, int]]:
    """Simulated users with a member row each; returns (user, member id) pairs."""
    users = [world.add_user(f"{prefix}{i}") for i in range(count)]
    async with database.transaction() as session:
        members = [Member(telegram_id=user.id, display_name=user.first_name) for user in users]
        session.add_all(members)
        await session.flush()
        return [(user, member.id) for user, member in zip(users, members, strict=True)]


async def enqueue_texts(
    database: Database,
    people: Iterable[tuple[FakeUser, int]],
    *,
    priority: int = outbox.BULK,
    text: str = "Offre",
) -> list[int]:
    """One send_message per person, in one transaction; returns the row ids."""
    async with database.transaction() as session:
        rows = [
            await outbox.enqueue(
                session,
                chat_id=user.id,
                method="send_message",
                payload={"text": f"{text} pour {user.first_name}"},
                priority=priority,
                member_id=member_id,
            )
            for user, member_id in people
        ]
        return [row.id for row in rows]


async def settle(database: Database, timeout: float = 40.0) -> None:  # noqa: ASYNC109
    """Wait until no outbox row is pending (the sender writes outcomes after the fake answers)."""
    async with asyncio.timeout(timeout):
        while True:
            async with database.read() as session:
                if await outbox.pending_count(session) == 0:
                    return
            await asyncio.sleep(0.05)


async def statuses(database: Database) -> dict[int, OutboxStatus]:
    """The status of every outbox row by id."""
    async with database.read() as session:
        found = await session.execute(select(OutboxMessage.id, OutboxMessage.status))
        return {id: status for id, status in found}


@asynccontextmanager
async def running(sender: OutboxSender) -> AsyncIterator[OutboxSender]:
    """Start a sender and stop it gracefully afterwards."""
    sender.start()
    try:
        yield sender
    finally:
        await sender.stop()


def sent_chats(world: FakeTelegram) -> list[int]:
    """Chat ids of the successful sendMessage calls, in the order Telegram took them."""
    return [
        int(call.chat_id)
        for call in world.calls_to("sendMessage")
        if call.ok and isinstance(call.chat_id, int)
    ]


# ---------------------------------------------------------------------------------- delivery


async def test_three_hundred_offers_under_telegram_limits(
    world: FakeTelegram, bot: Bot, database: Database, backend: str
) -> None:
    people = await add_people(world, database, 300)
    ids = await enqueue_texts(database, people)
    world.faults.enable_limits()
    sender = OutboxSender(database, bot, owner="bulk")
    started = time.monotonic()
    async with running(sender):
        sender.wake()
        await settle(database)
        elapsed = time.monotonic() - started
        assert sender.running
    print(
        f"\n[{backend}] 300 offers under limits: {elapsed:.1f} s, "
        f"429s={world.stats.limit_429s}, sends={world.stats.sends}, stats={sender.stats}"
    )
    assert all(len(user.inbox) == 1 for user, _ in people)
    assert [user.inbox[0].text for user, _ in people[:2]] == ["Offre pour Vol0", "Offre pour Vol1"]
    assert set((await statuses(database)).values()) == {OutboxStatus.SENT}
    # Every 429 was waited out and each message sent once. How few 429s the pacing causes is a
    # figure of bench/ (broadcast), and the pacing itself is tested above on a fake clock.
    assert len(ids) == world.stats.sends == 300
    world.assert_sound()


async def test_faults_and_blocked_users_lose_nothing(
    world: FakeTelegram, bot: Bot, database: Database, backend: str
) -> None:
    people = await add_people(world, database, 80)
    blocked = await add_people(world, database, 5, prefix="Gone")
    for user, _ in blocked:
        user.block_bot()
    deliverable = await enqueue_texts(database, people)
    # Two rows each for the blocked: the first 403 must skip the other one.
    refused = await enqueue_texts(database, blocked) + await enqueue_texts(
        database, blocked, priority=outbox.NOTICE, text="Rappel"
    )
    # Timeouts after which the message had arrived anyway: the one duplicate each may cause.
    unlucky = {user.id for user, _ in people[:5]}
    for chat_id in unlucky:
        world.faults.hang("sendMessage", seconds=1.0, deliver=True, chat_id=chat_id)
    noise = world.faults.random_faults(0.2, seed=20260301, hang_seconds=1.0)
    sender = OutboxSender(database, bot, owner="faulty", limits=FAST, backoff=QUICK_BACKOFF)
    async with running(sender):
        sender.wake()
        await settle(database)
        assert sender.running  # it never crashed
        assert sender.stats.errors == 0

    duplicates = sum(len(user.inbox) - 1 for user, _ in people)
    print(
        f"\n[{backend}] 20% faults: random hits={noise.hits}, timeouts={world.stats.timeouts}, "
        f"duplicates={duplicates} (bound {len(unlucky)}), stats={sender.stats}"
    )
    assert all(1 <= len(user.inbox) <= 2 for user, _ in people)
    # Only the timeouts that delivered anyway left a duplicate, at most one each.
    assert {user.id for user, _ in people if len(user.inbox) == 2} <= unlucky
    assert duplicates <= len(unlucky)
    final = await statuses(database)
    assert {final[id] for id in deliverable} == {OutboxStatus.SENT}
    assert {final[id] for id in refused} == {OutboxStatus.SKIPPED}
    # Sent or skipped, no row keeps its text: the payload is blanked as the outcome is recorded.
    async with database.read() as session:
        payloads = (await session.execute(select(OutboxMessage.payload))).scalars().all()
    assert len(payloads) == len(deliverable) + len(refused)
    assert all(payload == {} for payload in payloads)
    for user, _ in blocked:
        assert user.inbox == []
        assert world.stats.chat(user.id).forbidden == 1
    async with database.read() as session:
        gone = (
            await session.execute(select(Member).where(Member.id.in_([m for _, m in blocked])))
        ).scalars()
        assert all(not member.reachable and member.unreachable_since for member in gone)
        still = await session.get(Member, people[0][1])
        assert still is not None
        assert still.reachable
    world.assert_sound()


async def test_direct_answers_during_a_broadcast_share_its_budget_and_meet_no_429(
    world: FakeTelegram, database: Database, backend: str
) -> None:
    people = await add_people(world, database, 150)
    askers = [world.add_user(f"Asker{i}") for i in range(60)]
    await enqueue_texts(database, people)
    world.faults.enable_limits()
    sender_bot = Bot(world.token, request=InProcessRequest(world))
    sender = OutboxSender(database, sender_bot, owner="shared")
    # The application's bot, as bot/app.py builds it: its limiter spends the sender's budget.
    app_bot = ExtBot(
        world.token,
        request=InProcessRequest(world),
        rate_limiter=SharedBudgetLimiter(sender.limiter),
    )
    await sender_bot.initialize()
    await app_bot.initialize()
    try:
        async with running(sender):
            sender.wake()
            await world.wait_for(lambda: world.stats.sends >= 30, timeout=20)
            # Sixty people get a direct answer while the broadcast runs at full speed.
            await asyncio.gather(
                *(app_bot.send_message(asker.id, "Réponse directe") for asker in askers)
            )
            await settle(database)
    finally:
        await app_bot.shutdown()
        await sender_bot.shutdown()
    print(
        f"\n[{backend}] 150 offers + 60 direct answers under limits: "
        f"429s={world.stats.limit_429s}, sends={world.stats.sends}"
    )
    assert all(len(user.inbox) == 1 for user, _ in people)
    assert all([m.text for m in asker.inbox] == ["Réponse directe"] for asker in askers)
    # Both senders together stay under Telegram's overall limit: not a single 429.
    assert world.stats.limit_429s == 0
    assert world.stats.sends == 210


async def test_an_interactive_row_overtakes_two_hundred_bulk_rows(
    world: FakeTelegram, bot: Bot, database: Database, backend: str
) -> None:
    people = await add_people(world, database, 200)
    (claimer,) = await add_people(world, database, 1, prefix="Claimer")
    await enqueue_texts(database, people)
    sender = OutboxSender(database, bot, owner="lanes", limits=FAST)
    async with running(sender):
        sender.wake()
        await world.wait_for(lambda: world.stats.sends >= 20, timeout=20)
        sent_before = world.stats.sends
        await enqueue_texts(database, [claimer], priority=outbox.INTERACTIVE, text="Confirmé")
        sender.wake()
        await world.wait_for(lambda: bool(claimer[0].inbox), timeout=20)
        await settle(database)
    position = sent_chats(world).index(claimer[0].id)
    print(f"\n[{backend}] interactive row: sent {position}th of 201 ({sent_before} before it)")
    assert len(sent_chats(world)) == 201
    # Enqueued after 200 bulk rows, it went out before most of them.
    assert position < 100


async def test_a_busy_chat_is_paced_and_an_urgent_row_still_gets_through(
    world: FakeTelegram, bot: Bot, database: Database, backend: str
) -> None:
    # Telegram's per-chat rule at twice the speed, to keep the test short.
    world.faults.enable_limits(TelegramLimits(private_per_second=2, private_burst=3))
    limits = SendLimits(private_per_second=2, private_burst=3, hold_seconds=0.3)
    ((ana, ana_id),) = await add_people(world, database, 1)
    await enqueue_texts(database, [(ana, ana_id)] * 4, text="Annonce")
    sender = OutboxSender(database, bot, owner="pacing", limits=limits)
    async with running(sender):
        sender.wake()
        # Bulk rows take two of the chat's three tokens at once, then one every half second.
        await world.wait_for(lambda: len(ana.inbox) >= 2, timeout=10)
        await enqueue_texts(database, [(ana, ana_id)], priority=outbox.INTERACTIVE, text="Merci")
        sender.wake()
        await settle(database)
    texts = [message.text for message in ana.inbox]
    print(f"\n[{backend}] one chat: 429s={world.stats.limit_429s}, stats={sender.stats}")
    assert len(texts) == 5
    # The kept token lets the urgent row through before the bulk backlog.
    assert texts.index("Merci pour Vol0") == 2
    assert [text for text in texts if text and text.startswith("Annonce")] == [
        "Annonce pour Vol0"
    ] * 4
    assert sender.stats.released > 0  # the backlog waited in the database, not in memory
    assert world.stats.limit_429s <= 1


async def test_an_offer_edit_waits_for_its_original_message(
    world: FakeTelegram, bot: Bot, database: Database
) -> None:
    (vera, vera_id), (omar, omar_id) = await add_people(world, database, 2)
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Je prends", callback_data="c:1")]])
    async with database.transaction() as session:
        skill = Skill(code="outbox_test_errand", label="Errand")
        session.add(skill)
        await session.flush()
        request = HelpRequest(skill_id=skill.id, latitude=45.56, longitude=5.92)
        session.add(request)
        await session.flush()
        offers = [
            Offer(request_id=request.id, member_id=member_id, chat_id=user.id, kind="direct")
            for user, member_id in ((vera, vera_id), (omar, omar_id))
        ]
        session.add_all(offers)
        await session.flush()
        rows = {}
        for (user, member_id), offer in zip(
            ((vera, vera_id), (omar, omar_id)), offers, strict=True
        ):
            rows[user.id, "send"] = await outbox.enqueue(
                session,
                chat_id=user.id,
                method="send_message",
                payload={"text": "Courses rue Vaugelas", "reply_markup": keyboard},
                member_id=member_id,
                offer_id=offer.id,
            )
            # More urgent than its original, so it is leased first and has to wait for it.
            rows[user.id, "edit"] = await outbox.enqueue(
                session,
                chat_id=user.id,
                method="edit_message_text",
                payload={"text": "Courses rue Vaugelas — pourvu"},
                priority=outbox.INTERACTIVE,
                offer_id=offer.id,
            )
        vera_offer_id = offers[0].id
    # Omar's original fails for good, so his edit has nothing to edit.
    world.faults.fail(
        "sendMessage", status=400, description="Bad Request: chat not found", chat_id=omar.id
    )
    sender = OutboxSender(database, bot, owner="edits", limits=FAST)
    async with running(sender):
        sender.wake()
        await settle(database)
    final = await statuses(database)
    (message,) = vera.inbox
    assert message.text == "Courses rue Vaugelas — pourvu"
    assert message.reply_markup is None  # Telegram drops the keyboard on an edit without one
    assert len(message.history) == 1
    assert final[rows[vera.id, "send"].id] == final[rows[vera.id, "edit"].id] == OutboxStatus.SENT
    assert final[rows[omar.id, "send"].id] == OutboxStatus.FAILED
    assert final[rows[omar.id, "edit"].id] == OutboxStatus.SKIPPED
    assert omar.inbox == []
    async with database.read() as session:
        copy = await session.get(Offer, vera_offer_id)
        assert copy is not None
        assert copy.message_id == message.message_id


async def test_edits_of_vanished_or_unchanged_messages_are_settled(
    world: FakeTelegram, bot: Bot, database: Database
) -> None:
    ((ana, _),) = await add_people(world, database, 1)
    shown = await bot.send_message(ana.id, "Merci !")
    async with database.transaction() as session:
        same = await outbox.enqueue(
            session,
            chat_id=ana.id,
            method="edit_message_text",
            payload={"message_id": shown.message_id, "text": "Merci !"},
        )
        gone = await outbox.enqueue(
            session,
            chat_id=ana.id,
            method="edit_message_reply_markup",
            payload={"message_id": 999},
        )
        deleted = await outbox.enqueue(
            session, chat_id=ana.id, method="delete_message", payload={"message_id": 998}
        )
    sender = OutboxSender(database, bot, owner="edits", limits=FAST)
    async with running(sender):
        sender.wake()
        await settle(database)
    final = await statuses(database)
    assert final[same.id] == OutboxStatus.SENT  # "message is not modified" is harmless
    assert final[gone.id] == final[deleted.id] == OutboxStatus.SKIPPED


async def test_retries_are_paced_and_bounded(
    world: FakeTelegram, bot: Bot, database: Database
) -> None:
    (patient, flaky, doomed) = await add_people(world, database, 3)
    world.faults.fail("sendMessage", status=429, retry_after=1, chat_id=patient[0].id)
    world.faults.fail("sendMessage", status=500, times=2, chat_id=flaky[0].id)
    world.faults.fail("sendMessage", status=502, times=None, chat_id=doomed[0].id)
    ids = await enqueue_texts(database, [patient, flaky, doomed])
    sender = OutboxSender(
        database, bot, owner="retries", limits=FAST, backoff=QUICK_BACKOFF, max_attempts=3
    )
    async with running(sender):
        sender.wake()
        await settle(database)
    async with database.read() as session:
        rows = [await session.get(OutboxMessage, id) for id in ids]
    assert [(r.status, r.attempts) for r in rows if r] == [
        (OutboxStatus.SENT, 0),  # a 429 is a wait, not a failure
        (OutboxStatus.SENT, 2),
        (OutboxStatus.FAILED, 2),  # third attempt failed: recorded, not counted again
    ]
    assert rows[2] is not None
    assert "Bad Gateway" in (rows[2].last_error or "")
    assert [len(p[0].inbox) for p in (patient, flaky, doomed)] == [1, 1, 0]
    assert len(world.calls_to("sendMessage")) == 2 + 3 + 3
    assert (sender.stats.rate_limited, sender.stats.retried, sender.stats.failed) == (1, 4, 1)


# ---------------------------------------------------------------------------------- restarts


async def _leased_by(database: Database, owner: str) -> int:
    async with database.read() as session:
        found = await session.execute(
            select(OutboxMessage.id).where(
                OutboxMessage.lease_owner == owner, OutboxMessage.status == OutboxStatus.PENDING
            )
        )
        return len(found.all())


async def test_a_graceful_stop_hands_over_without_duplicates(
    world: FakeTelegram, bot: Bot, database: Database
) -> None:
    people = await add_people(world, database, 150)
    await enqueue_texts(database, people)
    first = OutboxSender(database, bot, owner="first", limits=FAST)
    first.start()
    first.wake()
    await world.wait_for(lambda: world.stats.sends >= 40, timeout=20)
    await first.stop()
    assert await _leased_by(database, "first") == 0  # unsent leases were given back
    assert world.stats.sends < 150
    async with running(OutboxSender(database, bot, owner="second", limits=FAST)) as second:
        second.wake()
        await settle(database)
    assert [len(user.inbox) for user, _ in people] == [1] * 150


async def test_a_crashed_sender_is_taken_over_after_its_leases_expire(
    world: FakeTelegram, bot: Bot, database: Database, backend: str
) -> None:
    people = await add_people(world, database, 150)
    await enqueue_texts(database, people)
    # The crash comes while the call to this user is in flight, its message already delivered.
    unlucky = people[50][0]
    world.faults.hang("sendMessage", seconds=5.0, deliver=True, chat_id=unlucky.id)
    crashed = OutboxSender(database, bot, owner="crashed", limits=FAST, lease_seconds=1.0)
    crashed.start()
    crashed.wake()

    def unlucky_call_in_flight() -> bool:
        return any(call.chat_id == unlucky.id for call in world.active_calls)

    await world.wait_for(unlucky_call_in_flight, timeout=20)
    in_flight = crashed.in_flight
    sent_before = world.stats.sends
    task = crashed.task
    assert task is not None
    task.cancel()  # as if the process died: no lease is given back
    await asyncio.wait({task})
    async with database.read() as session:
        orphaned = await session.execute(
            select(OutboxMessage.id).where(OutboxMessage.lease_owner == "crashed")
        )
        assert orphaned.first() is not None  # the heir has to wait for these leases to expire
    async with running(OutboxSender(database, bot, owner="heir", limits=FAST)) as heir:
        heir.wake()
        await settle(database)
    duplicates = sum(len(user.inbox) - 1 for user, _ in people)
    print(
        f"\n[{backend}] crash after {sent_before} sends: {in_flight} calls in flight, "
        f"{duplicates} duplicates"
    )
    assert all(len(user.inbox) >= 1 for user, _ in people)
    # The call cut short after Telegram took it is sent again: the accepted duplicate.
    assert len(unlucky.inbox) == 2
    # No other row can be sent twice than one in flight at the crash.
    assert duplicates <= in_flight <= FAST.max_in_flight
    assert all(len(user.inbox) <= 2 for user, _ in people)
    assert set((await statuses(database)).values()) == {OutboxStatus.SENT}
