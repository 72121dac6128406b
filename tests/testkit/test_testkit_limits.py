"""Telegram-like flood limits: the pure arithmetic, then the fake's limits mode."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from telegram.error import RetryAfter
from telegram.ext import Application

from testkit.telegram import FakeTelegram, TelegramLimits, TokenBucket

DemoApp = Application[Any, Any, Any, Any, Any, Any]


def test_token_bucket_refills_over_time() -> None:
    bucket = TokenBucket(capacity=3, per_second=1)
    for _ in range(3):
        assert bucket.wait_time(0.0) == 0
        bucket.take(0.0)
    assert bucket.wait_time(0.0) == pytest.approx(1.0)
    assert bucket.wait_time(0.5) == pytest.approx(0.5)
    assert bucket.wait_time(1.0) == 0
    # Idle time never stores more than the capacity.
    bucket.take(1.0)
    assert bucket.wait_time(100.0) == 0
    assert bucket.tokens == pytest.approx(3)


def test_private_chat_allows_a_burst_then_one_per_second() -> None:
    limits = TelegramLimits()
    assert [limits.check(1, is_group=False, now=0.0) for _ in range(4)] == [None, None, None, 1]
    # A refused send costs nothing: the next second still allows exactly one.
    assert limits.check(1, is_group=False, now=1.0) is None
    assert limits.check(1, is_group=False, now=1.0) == 1
    # Other chats have their own budget.
    assert limits.check(2, is_group=False, now=1.0) is None


def test_group_allows_twenty_per_minute() -> None:
    limits = TelegramLimits()
    results = [limits.check(-100, is_group=True, now=0.0) for _ in range(21)]
    assert results[:20] == [None] * 20
    assert results[20] == 3  # one more slot every 60/20 = 3 seconds
    assert limits.check(-100, is_group=True, now=3.0) is None


def test_overall_limit_across_chats() -> None:
    limits = TelegramLimits()
    results = [limits.check(chat, is_group=False, now=0.0) for chat in range(31)]
    assert results.count(None) == 30
    assert results[30] == 1
    assert limits.check(999, is_group=False, now=0.1) is None  # 3 tokens refilled in 0.1 s


def test_only_sends_and_edits_count() -> None:
    limits = TelegramLimits()
    assert limits.counts("sendMessage")
    assert limits.counts("editMessageText")
    assert not limits.counts("getUpdates")
    assert not limits.counts("answerCallbackQuery")


async def test_limits_mode_answers_429_past_one_message_per_second(world: FakeTelegram) -> None:
    alice = world.add_user("Alice")
    world.faults.enable_limits()
    statuses = []
    for i in range(6):
        status, body = await world.call("sendMessage", {"chat_id": alice.id, "text": f"m{i}"})
        statuses.append(status)
    assert statuses == [200, 200, 200, 429, 429, 429]
    assert body["parameters"] == {"retry_after": 1}
    assert body["description"] == "Too Many Requests: retry after 1"
    assert [m.text for m in alice.inbox] == ["m0", "m1", "m2"]
    assert world.stats.limit_429s == 3
    assert world.stats.too_many_requests == 3
    assert world.stats.sends == 3
    assert world.stats.chat(alice.id).too_many_requests == 3
    # Reading is not limited.
    assert (await world.call("getChat", {"chat_id": alice.id}))[0] == 200
    world.faults.disable_limits()
    assert (await world.call("sendMessage", {"chat_id": alice.id, "text": "ok"}))[0] == 200


async def test_limits_mode_seen_from_ptb(
    world: FakeTelegram, inprocess_app: DemoApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Opt in to PTB's timedelta retry_after (the int form is deprecated).
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    alice = world.add_user("Alice")
    world.faults.enable_limits()
    for i in range(3):
        await inprocess_app.bot.send_message(alice.id, f"burst {i}")
    with pytest.raises(RetryAfter) as refused:
        await inprocess_app.bot.send_message(alice.id, "one too many")
    assert refused.value.retry_after == dt.timedelta(seconds=1)
    assert len(alice.inbox) == 3
    assert world.stats.limit_429s == 1
