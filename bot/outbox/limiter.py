"""Our pacing of the outbox: token buckets under Telegram's limits, 429 pauses, backoff.

Times are seconds on a monotonic clock, always passed in: the limiter measures durations, never
dates, and tests drive it with a virtual clock.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True)
class SendLimits:
    """Our pacing, kept just under Telegram's limits so that 429s stay rare."""

    overall_per_second: float = 29.0
    # A modest burst: Telegram's overall limit is fuzzy and a full second's worth at once is
    # where 429s start.
    overall_burst: float = 10.0
    private_per_second: float = 1.0
    private_burst: float = 3.0
    group_per_minute: float = 20.0
    group_burst: float = 5.0
    # Calls in flight at once; BULK rows may not take the last `reserved_for_urgent` of them.
    max_in_flight: int = 8
    reserved_for_urgent: int = 2
    # Tokens of a chat's bucket BULK rows leave alone, so that a claim confirmation to someone
    # who just received a broadcast never waits for that chat's budget to refill.
    chat_tokens_kept_from_bulk: float = 1.0
    # 429s from this many distinct chats within this many seconds mean the bot-wide limit was
    # hit, not one chat's: everything pauses.
    many_chats: int = 3
    many_chats_window: float = 1.0
    # A row expected to wait longer than this for its chat goes back to the database until then,
    # so that one busy group cannot fill the sender's memory and sit on leases.
    hold_seconds: float = 2.0


class TokenBucket:
    """`burst` sends at once, refilled at `rate` per second; the time is always passed in."""

    def __init__(self, rate: float, burst: float, now: float) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("a token bucket needs rate > 0 and burst >= 1")
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.updated = now

    def _refill(self, now: float) -> None:
        if now > self.updated:
            self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
            self.updated = now

    def wait_time(self, now: float, keep: float = 0.0) -> float:
        """Seconds until one send is allowed while leaving `keep` tokens (0.0: allowed now)."""
        self._refill(now)
        needed = 1 + min(max(keep, 0.0), self.burst - 1)
        # The tolerance keeps float dust from turning "now" into a 1e-15 s wait.
        if self.tokens >= needed - 1e-9:
            return 0.0
        return (needed - self.tokens) / self.rate

    def urgent_wait(self, now: float, debt: float) -> float:
        """Seconds until one urgent send may go, the bucket allowed down to `-debt` tokens."""
        self._refill(now)
        if self.tokens >= 1 - debt - 1e-9:
            return 0.0
        return (1 - debt - self.tokens) / self.rate

    def take(self, now: float) -> None:
        """Spend one send."""
        self._refill(now)
        self.tokens -= 1

    def is_full(self, now: float) -> bool:
        """Whether the bucket is as if never used (so it can be forgotten)."""
        self._refill(now)
        return self.tokens >= self.burst


class SendLimiter:
    """The overall bucket, one bucket per chat, and the pauses Telegram's 429s impose."""

    def __init__(self, limits: SendLimits, now: float) -> None:
        self.limits = limits
        self._overall = TokenBucket(limits.overall_per_second, limits.overall_burst, now)
        self._chats: dict[int, TokenBucket] = {}
        self._chat_paused_until: dict[int, float] = {}
        self._paused_until = -math.inf
        self._refusals: deque[tuple[float, int]] = deque()
        self._acquired = 0

    @staticmethod
    def is_group(chat_id: int) -> bool:
        """Groups, supergroups and channels have negative ids; private chats are user ids."""
        return chat_id < 0

    def interval(self, chat_id: int) -> float:
        """Steady-state seconds between two sends to this chat."""
        if self.is_group(chat_id):
            return 60.0 / self.limits.group_per_minute
        return 1.0 / self.limits.private_per_second

    def _chat_bucket(self, chat_id: int, now: float) -> TokenBucket:
        bucket = self._chats.get(chat_id)
        if bucket is None:
            limits = self.limits
            if self.is_group(chat_id):
                bucket = TokenBucket(limits.group_per_minute / 60, limits.group_burst, now)
            else:
                bucket = TokenBucket(limits.private_per_second, limits.private_burst, now)
            self._chats[chat_id] = bucket
        return bucket

    def overall_wait(self, now: float) -> float:
        """Seconds until any send may go (bot-wide pause and overall bucket)."""
        return max(self._paused_until - now, self._overall.wait_time(now), 0.0)

    def chat_wait(self, chat_id: int, now: float, *, bulk: bool = False) -> float:
        """Seconds until this chat may receive a send (its pause and its bucket)."""
        paused = self._chat_paused_until.get(chat_id, -math.inf) - now
        keep = self.limits.chat_tokens_kept_from_bulk if bulk else 0.0
        return max(paused, self._chat_bucket(chat_id, now).wait_time(now, keep), 0.0)

    def wait_time(self, chat_id: int, now: float, *, bulk: bool = False) -> float:
        """Seconds until a send to this chat may go."""
        return max(self.overall_wait(now), self.chat_wait(chat_id, now, bulk=bulk))

    def try_acquire(self, chat_id: int, now: float, *, bulk: bool = False) -> bool:
        """Spend one send to this chat if every limit allows it now."""
        if self.wait_time(chat_id, now, bulk=bulk) > 0:
            return False
        self._overall.take(now)
        self._chat_bucket(chat_id, now).take(now)
        self._acquired += 1
        if self._acquired % 1000 == 0:
            self.prune(now)
        return True

    def acquire_direct(self, chat_id: int | None, now: float) -> float:
        """Spend one send on a direct answer; else the seconds to wait before asking again.

        Direct answers (a command's reply, a conversation's next question) share the overall
        budget with the outbox, so that both together stay under Telegram's limit, and go first:
        they may borrow up to one burst ahead, which the outbox then waits out. The chat's own
        bucket is left alone: these are replies to the person's own messages, and charging them
        would hold back the notices the outbox owes that person after a conversation.
        """
        wait = max(
            self._paused_until - now,
            self._overall.urgent_wait(now, self.limits.overall_burst),
            0.0 if chat_id is None else self._chat_paused_until.get(chat_id, -math.inf) - now,
        )
        if wait > 0:
            return wait
        self._overall.take(now)
        return 0.0

    def chat_pause(self, chat_id: int | None, now: float) -> float:
        """Seconds left of a pause Telegram imposed on this chat (0.0: none)."""
        if chat_id is None:
            return 0.0
        return max(self._chat_paused_until.get(chat_id, -math.inf) - now, 0.0)

    def pause_all(self, seconds: float, now: float) -> None:
        """Send nothing for `seconds`."""
        self._paused_until = max(self._paused_until, now + seconds)

    @property
    def paused_until(self) -> float:
        """When the bot-wide pause ends (-inf when there is none)."""
        return self._paused_until

    def refused(self, chat_id: int, retry_after: float, now: float) -> bool:
        """Honour a 429 for a chat; True when it paused everything (many chats refused)."""
        until = now + retry_after
        self._chat_paused_until[chat_id] = max(self._chat_paused_until.get(chat_id, until), until)
        self._refusals.append((now, chat_id))
        while self._refusals and self._refusals[0][0] < now - self.limits.many_chats_window:
            self._refusals.popleft()
        if len({chat for _, chat in self._refusals}) >= self.limits.many_chats:
            self._refusals.clear()
            self.pause_all(retry_after, now)
            return True
        return False

    def prune(self, now: float) -> None:
        """Forget finished pauses and full buckets: such chats behave as new ones."""
        for chat_id in [c for c, until in self._chat_paused_until.items() if until <= now]:
            del self._chat_paused_until[chat_id]
        for chat_id in [c for c, b in self._chats.items() if b.is_full(now)]:
            if chat_id not in self._chat_paused_until:
                del self._chats[chat_id]

    @property
    def known_chats(self) -> int:
        """How many chats have a bucket (for tests of pruning)."""
        return len(self._chats)


@dataclass(frozen=True)
class Backoff:
    """Bounded exponential delays for transient failures: base, base*factor, … up to cap."""

    base: float = 1.0
    factor: float = 2.0
    cap: float = 60.0

    def delay(self, failures: int) -> float:
        """Seconds to wait after the `failures`-th failure in a row (1 for the first)."""
        exponent = max(failures - 1, 0)
        # Stop multiplying once past the cap: factor ** 1000 would overflow.
        if exponent > 64:
            return self.cap
        return float(min(self.cap, self.base * self.factor**exponent))
