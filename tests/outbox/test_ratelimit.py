"""The direct answers' limiter: waiters take turns instead of all polling the budget."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from bot.outbox.limiter import SendLimiter, SendLimits
from bot.ratelimit import SharedBudgetLimiter


class CountingLimiter(SendLimiter):
    """Counts how often the budget is asked."""

    asked = 0

    def acquire_direct(self, chat_id: int | None, now: float) -> float:
        self.asked += 1
        return super().acquire_direct(chat_id, now)


async def _send(limiter: SharedBudgetLimiter, chat: int, sent: list[int]) -> None:
    async def call(**_: Any) -> bool:
        sent.append(chat)
        return True

    await limiter.process_request(call, (), {}, "sendMessage", {"chat_id": chat}, None)


async def test_answers_waiting_for_the_budget_ask_it_in_turn_not_all_at_each_refill() -> None:
    # 200/s with a burst of 1 (borrowing one burst ahead): 20 answers take ~0.1 s.
    limits = SendLimits(overall_per_second=200.0, overall_burst=1.0)
    budget = CountingLimiter(limits, time.monotonic())
    limiter = SharedBudgetLimiter(budget)
    sent: list[int] = []
    await asyncio.gather(*(_send(limiter, chat, sent) for chat in range(1, 21)))
    assert sorted(sent) == list(range(1, 21))
    # Each waiter asks about once per refill it waits for, the first of the queue only: all
    # polling at once asked ~20 × 20 / 2 = 200 times.
    assert budget.asked <= 2 * 20 + 5


async def test_a_paused_chat_does_not_hold_up_the_answers_to_others() -> None:
    budget = SendLimiter(SendLimits(), time.monotonic())
    limiter = SharedBudgetLimiter(budget)
    budget.refused(1, 30.0, time.monotonic())  # Telegram paused chat 1 for 30 s
    sent: list[int] = []
    paused = asyncio.create_task(_send(limiter, 1, sent))
    await asyncio.sleep(0)
    await asyncio.wait_for(_send(limiter, 2, sent), timeout=5)
    assert sent == [2]
    paused.cancel()
