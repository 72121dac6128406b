"""The bot's direct answers, paced with the outbox's budget so that together they stay in limits.

Telegram allows about 30 messages a second per bot, whoever sends them. The outbox sender already
spends ~29 of them during a broadcast; PTB's own AIORateLimiter would add its own 30 for the
bot's direct answers, and the sum would meet 429s. This limiter draws the direct answers from the
sender's buckets instead, ahead of the outbox's rows.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

from telegram._utils.types import JSONDict
from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

from bot.outbox import SendLimiter, retry_after_seconds

log = logging.getLogger(__name__)


def _chat_of(data: dict[str, Any]) -> int | None:
    """The numeric chat a call writes to; None for calls that write to no chat."""
    chat_id = data.get("chat_id")
    if isinstance(chat_id, int):
        return chat_id
    if isinstance(chat_id, str) and chat_id.lstrip("-").isdigit():
        return int(chat_id)
    return None


class SharedBudgetLimiter(BaseRateLimiter[int]):
    """PTB's rate limiter for the application's Bot, spending from the outbox sender's budget."""

    def __init__(
        self,
        limiter: SendLimiter,
        *,
        max_retries: int = 3,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._limiter = limiter
        self._max_retries = max_retries
        self._clock = clock
        # Waiters take turns, first come first served: only the first polls the buckets, the
        # others sleep on the lock. Without it every waiting answer woke at each refill (16
        # updates at once: ~16 wake-ups of a deep coroutine chain per answer sent, profiled).
        self._turn = asyncio.Lock()

    async def initialize(self) -> None:
        """Nothing to set up: the buckets belong to the sender."""

    async def shutdown(self) -> None:
        """Nothing to release."""

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | JSONDict | list[JSONDict]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> bool | JSONDict | list[JSONDict]:
        """Wait for the budget when the call writes to a chat, then call; wait out 429s."""
        if "chat_id" not in data:
            # answerCallbackQuery, getUpdates, setMyCommands…: not messages in a chat.
            return await callback(*args, **kwargs)
        chat = _chat_of(data)
        retries = self._max_retries if rate_limit_args is None else rate_limit_args
        attempt = 0
        while True:
            await self._acquire(chat)
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as exc:
                if attempt >= retries:
                    raise
                attempt += 1
                seconds = retry_after_seconds(exc)
                log.info("%s refused by Telegram's limits: retrying in %.0f s", endpoint, seconds)
                if chat is not None:
                    self._limiter.refused(chat, seconds, self._clock())
                await asyncio.sleep(seconds)

    async def _acquire(self, chat: int | None) -> None:
        """Spend one send from the budget, waiting for it in turn."""
        if not self._turn.locked() and self._limiter.acquire_direct(chat, self._clock()) == 0:
            return  # nobody waiting and the budget allows it: the common case
        while True:
            # A pause Telegram imposed on this chat is waited out apart: it must not hold up
            # the answers to other chats queued behind.
            pause = self._limiter.chat_pause(chat, self._clock())
            if pause > 0:
                await asyncio.sleep(pause)
                continue
            async with self._turn:
                # The buckets refill with time, not on an event: sleep exactly until they allow.
                while (wait := self._limiter.acquire_direct(chat, self._clock())) > 0:
                    if self._limiter.chat_pause(chat, self._clock()) > 0:
                        break
                    await asyncio.sleep(wait)
                else:
                    return
