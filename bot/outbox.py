"""Delivery of the outbox: lease due rows, send them within Telegram's limits, record outcomes.

The sender never holds a database transaction while a Telegram call is in flight: it leases rows
in one short transaction, calls Telegram, and records each outcome in another. Pacing is ours
(token buckets and 429 pauses), not PTB's AIORateLimiter, which serves calls in arrival order:
here the most urgent row always takes the next free send.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Bot, InlineKeyboardMarkup, Message, MessageId
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
)
from telegram.ext import ExtBot

from bot.batching import GroupCommit
from storage import outbox
from storage.database import Database
from storage.models import OutboxMessage, OutboxStatus

log = logging.getLogger(__name__)

# Seconds on a monotonic clock: pacing and leases measure durations, never dates.
Monotonic = Callable[[], float]
SendCall = Callable[..., Awaitable[Any]]

# An edit whose offer message is still queued looks again after this long.
ORIGINAL_WAIT = timedelta(seconds=1)
# InvalidToken: nothing can be sent; wait this long rather than burn every row's attempts.
HALT_SECONDS = 60.0


# ---------------------------------------------------------------------------------- pacing


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


# ---------------------------------------------------------------------------------- outcomes


class Verdict(StrEnum):
    """What to do with a row after its call."""

    SENT = "sent"
    RETRY_AFTER = "retry_after"  # 429: wait what Telegram says, not counted as a failure
    TRANSIENT = "transient"  # timeout, network, 5xx: back off and retry, up to max_attempts
    UNREACHABLE = "unreachable"  # 403: the person blocked the bot (or the bot left the group)
    SKIPPED = "skipped"  # the message to edit or delete is gone
    FAILED = "failed"  # permanent error: retrying cannot help
    MIGRATED = "migrated"  # the group became a supergroup with another id
    HALT = "halt"  # the token is refused: nothing can be sent at all


@dataclass(frozen=True)
class Outcome:
    """The classified result of one call."""

    verdict: Verdict
    message_id: int | None = None
    retry_after: float = 0.0
    new_chat_id: int | None = None
    error: str | None = None


_NOT_MODIFIED = "message is not modified"
_TARGET_GONE = (
    "message to edit not found",
    "message can't be edited",
    "message to delete not found",
    "message can't be deleted",
    "message_id_invalid",
)


def retry_after_seconds(exc: RetryAfter) -> float:
    """The seconds a 429 asks to wait."""
    # The private timedelta avoids PTB 22's deprecation warning on the public int property.
    value = getattr(exc, "_retry_after", None)
    if not isinstance(value, timedelta):
        value = exc.retry_after
    if isinstance(value, timedelta):
        return value.total_seconds()
    return float(value)


def classify_result(result: object) -> Outcome:
    """A successful call: remember the id of the message it created, if any."""
    if isinstance(result, Message | MessageId):
        return Outcome(Verdict.SENT, message_id=result.message_id)
    return Outcome(Verdict.SENT)


def classify_error(exc: BaseException) -> Outcome:
    """Sort a failed call into retry later, retry with backoff, skip, or give up."""
    error = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, RetryAfter):
        return Outcome(Verdict.RETRY_AFTER, retry_after=retry_after_seconds(exc), error=error)
    if isinstance(exc, Forbidden):
        return Outcome(Verdict.UNREACHABLE, error=error)
    if isinstance(exc, ChatMigrated):
        return Outcome(Verdict.MIGRATED, new_chat_id=exc.new_chat_id, error=error)
    if isinstance(exc, BadRequest):
        # Checked before NetworkError, of which PTB makes BadRequest a subclass.
        text = exc.message.lower()
        if _NOT_MODIFIED in text:
            return Outcome(Verdict.SENT, error=error)
        if any(gone in text for gone in _TARGET_GONE):
            return Outcome(Verdict.SKIPPED, error=error)
        return Outcome(Verdict.FAILED, error=error)
    if isinstance(exc, InvalidToken):
        return Outcome(Verdict.HALT, error=error)
    if isinstance(exc, NetworkError):
        # TimedOut, connection errors and 5xx answers: the call may or may not have gone through.
        return Outcome(Verdict.TRANSIENT, error=error)
    return Outcome(Verdict.FAILED, error=error)


def call_arguments(
    payload: Mapping[str, Any], *, message_id: int | None = None, bot: Bot | None = None
) -> dict[str, Any]:
    """The keyword arguments of the PTB call for a stored payload."""
    kwargs = dict(payload)
    markup = kwargs.get("reply_markup")
    if isinstance(markup, dict) and "inline_keyboard" in markup:
        # Rebuilt as an object so that ExtBot's callback-data handling sees a real keyboard;
        # other values (reply keyboards, entities…) go to Telegram as the JSON they are.
        kwargs["reply_markup"] = InlineKeyboardMarkup.de_json(markup, bot)
    if message_id is not None and "message_id" not in kwargs:
        kwargs["message_id"] = message_id
    return kwargs


# ---------------------------------------------------------------------------------- the sender


@dataclass
class SenderStats:
    """Counters of one sender since it was built."""

    leased: int = 0
    sent: int = 0
    rate_limited: int = 0
    retried: int = 0
    failed: int = 0
    skipped: int = 0
    unreachable: int = 0
    released: int = 0
    global_pauses: int = 0
    errors: int = 0


@dataclass
class _Leased:
    """A leased row, copied out of its session: what the sender needs to send and record it."""

    id: int
    chat_id: int
    member_id: int | None
    offer_id: int | None
    method: str
    payload: dict[str, Any]
    priority: int
    attempts: int
    deadline: float  # monotonic time at which the lease expires
    message_id: int | None = None

    @property
    def order(self) -> tuple[int, int]:
        """Most urgent first, then oldest."""
        return (self.priority, self.id)

    @property
    def lane(self) -> tuple[int, int]:
        """One call at a time per chat and priority keeps each lane of a chat in order."""
        return (self.chat_id, self.priority)

    @classmethod
    def from_row(cls, row: OutboxMessage, deadline: float) -> _Leased:
        """Copy a leased row."""
        return cls(
            id=row.id,
            chat_id=row.chat_id,
            member_id=row.member_id,
            offer_id=row.offer_id,
            method=row.method,
            payload=dict(row.payload),
            priority=row.priority,
            attempts=row.attempts,
            deadline=deadline,
        )


@dataclass
class _Release:
    """A leased row to give back unsent."""

    item: _Leased
    delay: float | None = None  # seconds before it is due again; None keeps its not_before


@dataclass
class _Plan:
    """What one dispatch pass decided besides launching calls."""

    releases: list[_Release] = field(default_factory=list)
    next_at: float = math.inf


class OutboxSender:
    """A background task delivering the outbox; `wake()` it after committing new rows."""

    def __init__(
        self,
        database: Database,
        bot: Bot,
        *,
        owner: str,
        limits: SendLimits = SendLimits(),
        batch: int = 50,
        lease_seconds: float = 30.0,
        max_attempts: int = 8,
        backoff: Backoff = Backoff(),
        poll_interval: float = 0.5,
        clock: Monotonic = time.monotonic,
    ) -> None:
        # `lease_seconds` must exceed the longest call (the bot's read timeout) plus its record,
        # or another sender may take a row still in flight and send it twice.
        if len(owner) > 64:
            raise ValueError("the owner name must fit the 64-character lease_owner column")
        self._db = database
        self._bot = bot
        self.owner = owner
        self.limits = limits
        self._batch = max(batch, 1)
        self._reserve = max(self._batch // 10, 1)
        self._lease_seconds = lease_seconds
        self._max_attempts = max_attempts
        self._backoff = backoff
        self._poll_interval = poll_interval
        self._clock = clock
        self._limiter = SendLimiter(limits, clock())
        self._methods: dict[str, SendCall] = {
            name: getattr(bot, name) for name in outbox.METHODS if hasattr(bot, name)
        }
        self.stats = SenderStats()
        self._queue: list[_Leased] = []
        self._busy: set[tuple[int, int]] = set()
        self._workers: set[asyncio.Task[None]] = set()
        self._signal = asyncio.Event()
        self._lease_requested = True
        self._more_due = False
        self._next_poll = -math.inf
        # When a row this sender put back for later becomes due: lease then, not at the next poll.
        self._next_due = math.inf
        self._recordings: set[asyncio.Task[None]] = set()
        # Deliveries finishing together are recorded in one transaction (see bot/batching.py).
        self._sent_records: GroupCommit[outbox.Sent, None] = GroupCommit(self._write_sent)
        self._stopping = False
        self._stop_timeout: float | None = None
        self._task: asyncio.Task[None] | None = None
        if isinstance(bot, ExtBot) and bot.rate_limiter is not None:
            log.warning(
                "the outbox sender paces itself; a bot with a rate limiter serves calls in "
                "arrival order and hides 429s from it: give the sender a bot without one"
            )

    # ------------------------------------------------------------------ life cycle

    @property
    def limiter(self) -> SendLimiter:
        """The sender's budget, which the bot's direct answers share (see SharedBudgetLimiter)."""
        return self._limiter

    @property
    def running(self) -> bool:
        """Whether the background task is alive."""
        return self._task is not None and not self._task.done()

    @property
    def task(self) -> asyncio.Task[None] | None:
        """The background task (cancelling it aborts: unsent leases are left to expire)."""
        return self._task

    @property
    def in_flight(self) -> int:
        """Calls to Telegram under way."""
        return len(self._workers)

    def start(self) -> None:
        """Start delivering in the background (in the running event loop)."""
        if self.running:
            return
        self._stopping = False
        self._task = asyncio.get_running_loop().create_task(
            self._run(), name=f"outbox-sender:{self.owner}"
        )

    def wake(self) -> None:
        """Look for new rows at once (call it after committing rows)."""
        self._lease_requested = True
        self._signal.set()

    async def stop(self, timeout: float | None = 30.0) -> None:  # noqa: ASYNC109 - a grace period
        """Stop leasing, let calls in flight finish (up to `timeout`), give back unsent leases."""
        task = self._task
        if task is None:
            return
        self._stopping = True
        self._stop_timeout = timeout
        self._signal.set()
        # asyncio.wait does not raise if the task was cancelled or failed; stop must not either.
        await asyncio.wait({task})
        if not task.cancelled() and task.exception() is not None:
            log.error("the outbox sender had stopped on an error", exc_info=task.exception())
        self._task = None

    async def _run(self) -> None:
        try:
            while not self._stopping:
                try:
                    await self._step()
                except Exception:
                    # The database may be briefly unreachable; the sender must outlive that.
                    self.stats.errors += 1
                    log.exception("outbox sender step failed; retrying shortly")
                    await self._wait(1.0)
            await self._drain()
        except asyncio.CancelledError:
            # Aborted: calls under way are cut short and their leases left to expire (answers
            # already received are still recorded, see _deliver).
            for worker in list(self._workers):
                worker.cancel()
            raise

    async def _drain(self) -> None:
        if self._workers:
            _, late = await asyncio.wait(set(self._workers), timeout=self._stop_timeout)
            for worker in late:
                worker.cancel()
            if late:
                await asyncio.wait(late)
        if self._recordings:
            await asyncio.wait(set(self._recordings))
        queued, self._queue = self._queue, []
        if queued:
            try:
                await self._release([_Release(item) for item in queued])
            except Exception:
                log.exception("could not give back %d leases; they will expire", len(queued))

    async def _wait(self, seconds: float) -> None:
        if seconds <= 0 or self._signal.is_set():
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._signal.wait()

    async def _step(self) -> None:
        self._signal.clear()
        now = self._clock()
        if self._should_lease(now):
            await self._lease()
        plan = self._dispatch(self._clock())
        if plan.releases:
            await self._release(plan.releases)
        # During a bot-wide pause there is nothing to lease before it ends.
        next_lease = max(min(self._next_poll, self._next_due), self._limiter.paused_until)
        await self._wait(min(next_lease, plan.next_at) - self._clock())

    # ------------------------------------------------------------------ leasing

    def _should_lease(self, now: float) -> bool:
        if self._limiter.paused_until > now:
            return False
        if self._lease_requested or now >= min(self._next_poll, self._next_due):
            return True
        return self._more_due and len(self._queue) < self._batch // 2

    async def _lease(self) -> None:
        self._lease_requested = False
        started = self._clock()
        self._next_poll = started + self._poll_interval
        if self._next_due <= started:
            self._next_due = math.inf
        limit = self._batch - len(self._queue)
        below: int | None = None
        if limit <= 0:
            # Full of rows waiting for their chats: still let more urgent rows jump in.
            worst = max(item.priority for item in self._queue)
            if worst <= outbox.INTERACTIVE:
                return
            limit, below = self._reserve, worst
        now = self._db.clock()
        # A read first: on SQLite an empty poll then never takes the write lock.
        async with self._db.read() as session:
            if not await outbox.has_due(session, now=now, below_priority=below):
                self._more_due = False
                return
        async with self._db.transaction() as session:
            rows = await outbox.lease_due(
                session,
                owner=self.owner,
                limit=limit,
                now=now,
                lease_seconds=self._lease_seconds,
                below_priority=below,
            )
            items = [_Leased.from_row(row, started + self._lease_seconds) for row in rows]
            items = await self._resolve_targets(session, items, now)
        self._more_due = len(rows) == limit
        self.stats.leased += len(items)
        for item in items:
            bisect.insort(self._queue, item, key=lambda queued: queued.order)

    async def _resolve_targets(
        self, session: AsyncSession, items: list[_Leased], now: datetime
    ) -> list[_Leased]:
        """Give offer edits their message id; put back or skip those whose original is not out."""
        needing = [
            item
            for item in items
            if item.offer_id is not None
            and item.method in outbox.TARGETS_MESSAGE
            and "message_id" not in item.payload
        ]
        if not needing:
            return items
        targets = await outbox.offer_targets(
            session, [item.offer_id for item in needing if item.offer_id is not None]
        )
        dropped: set[int] = set()
        for item in needing:
            assert item.offer_id is not None
            target = targets.get(item.offer_id)
            if target is not None and target.message_id is not None:
                item.message_id = target.message_id
                continue
            dropped.add(item.id)
            if target is not None and target.original_status == OutboxStatus.PENDING:
                self._due_in(ORIGINAL_WAIT.total_seconds())
                await outbox.reschedule(
                    session,
                    item.id,
                    now + ORIGINAL_WAIT,
                    "waiting for the offer message to be sent",
                    count_attempt=False,
                    owner=self.owner,
                )
            else:
                self.stats.skipped += 1
                await outbox.mark_skipped(
                    session, item.id, "the offer message was never sent", owner=self.owner
                )
        return [item for item in items if item.id not in dropped]

    async def _release(self, releases: Iterable[_Release]) -> None:
        now = self._db.clock()
        count = 0
        async with self._db.transaction() as session:
            for release in releases:
                not_before = None
                if release.delay is not None:
                    not_before = now + timedelta(seconds=release.delay)
                    self._due_in(release.delay)
                count += await outbox.release(
                    session, [release.item.id], owner=self.owner, not_before=not_before
                )
        self.stats.released += count

    # ------------------------------------------------------------------ dispatching

    def _slots_for(self, priority: int) -> int:
        if priority >= outbox.BULK:
            return max(self.limits.max_in_flight - self.limits.reserved_for_urgent, 1)
        return self.limits.max_in_flight

    def _dispatch(self, now: float) -> _Plan:
        """Launch every row that may go now, most urgent first; plan releases and the next look."""
        plan = _Plan()
        kept: list[_Leased] = []
        # Rows of each chat still waiting in this pass: a chat's rows go in queue order (most
        # urgent, then oldest), and the k-th waiting one expects k more of the chat's intervals.
        backlog: dict[int, int] = {}
        for item in self._queue:
            chat = item.chat_id
            if now >= item.deadline - self._lease_seconds / 2:
                # Half the lease is gone: too close to expiry to start a call safely.
                plan.releases.append(_Release(item))
                continue
            bulk = item.priority >= outbox.BULK
            ahead = backlog.get(chat, 0)
            chat_wait = self._limiter.chat_wait(chat, now, bulk=bulk)
            if ahead or chat_wait > 0 or item.lane in self._busy:
                backlog[chat] = ahead + 1
                expected = chat_wait + ahead * self._limiter.interval(chat)
                if expected > self.limits.hold_seconds:
                    # Back to the database, due when its turn should come.
                    plan.releases.append(_Release(item, expected))
                    continue
                kept.append(item)
                if chat_wait > 0:
                    plan.next_at = min(plan.next_at, now + chat_wait)
                continue  # a busy lane frees when its call ends, which signals the loop
            if len(self._workers) >= self._slots_for(item.priority):
                backlog[chat] = 1
                kept.append(item)  # a finishing call signals the loop
                continue
            overall_wait = self._limiter.overall_wait(now)
            if overall_wait > 0 or not self._limiter.try_acquire(chat, now, bulk=bulk):
                backlog[chat] = 1
                kept.append(item)
                plan.next_at = min(plan.next_at, now + max(overall_wait, 1e-3))
                continue
            self._launch(item)
        self._queue = kept
        return plan

    def _launch(self, item: _Leased) -> None:
        self._busy.add(item.lane)
        worker = asyncio.get_running_loop().create_task(
            self._deliver(item), name=f"outbox-send:{item.id}"
        )
        self._workers.add(worker)
        worker.add_done_callback(self._worker_done)

    def _worker_done(self, worker: asyncio.Task[None]) -> None:
        self._workers.discard(worker)
        self._signal.set()

    # ------------------------------------------------------------------ one call

    def _due_in(self, seconds: float) -> None:
        # A little late rather than early, so that the row is due when we look.
        self._next_due = min(self._next_due, self._clock() + seconds + 0.01)

    async def _deliver(self, item: _Leased) -> None:
        try:
            outcome = await self._call(item)
            # Once Telegram has answered, the record is what prevents a duplicate: shielded, it
            # still lands if this task is cancelled (a shutdown that cancels tasks).
            recording = asyncio.get_running_loop().create_task(self._record_safely(item, outcome))
            self._recordings.add(recording)
            recording.add_done_callback(self._recordings.discard)
            await asyncio.shield(recording)
        finally:
            self._busy.discard(item.lane)

    async def _record_safely(self, item: _Leased, outcome: Outcome) -> None:
        try:
            await self._record(item, outcome)
        except Exception:
            # Recording failed (database down): the lease expires and the row is sent again.
            self.stats.errors += 1
            log.exception("could not record the outcome of outbox row %d", item.id)

    async def _write_sent(self, records: Sequence[outbox.Sent]) -> list[None]:
        """Mark delivered rows sent (their payloads blanked), all in one statement."""
        async with self._db.transaction() as session:
            await outbox.mark_sent(session, records)
        return [None] * len(records)

    async def _call(self, item: _Leased) -> Outcome:
        call = self._methods.get(item.method)
        if call is None:
            return Outcome(Verdict.FAILED, error=f"unknown method {item.method!r}")
        kwargs = call_arguments(item.payload, message_id=item.message_id, bot=self._bot)
        try:
            result = await call(chat_id=item.chat_id, **kwargs)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            return classify_error(exc)
        return classify_result(result)

    async def _record(self, item: _Leased, outcome: Outcome) -> None:
        now = self._db.clock()
        verdict = outcome.verdict
        error = outcome.error or verdict.value
        if verdict == Verdict.RETRY_AFTER:
            self.stats.rate_limited += 1
            if self._limiter.refused(item.chat_id, outcome.retry_after, self._clock()):
                self.stats.global_pauses += 1
                log.warning("Telegram refuses many chats: pausing %.0f s", outcome.retry_after)
        elif verdict == Verdict.HALT:
            self._limiter.pause_all(HALT_SECONDS, self._clock())
            log.error("Telegram refuses the bot token: outbox paused for %.0f s", HALT_SECONDS)
        stale: list[_Leased] = []
        if verdict in (Verdict.UNREACHABLE, Verdict.MIGRATED):
            # Rows of that chat waiting here are skipped or moved in the database below.
            stale = [queued for queued in self._queue if queued.chat_id == item.chat_id]
            self._queue = [queued for queued in self._queue if queued.chat_id != item.chat_id]

        if verdict == Verdict.SENT:
            await self._sent_records.submit(outbox.Sent(item.id, outcome.message_id, now))
            self.stats.sent += 1
            return
        async with self._db.transaction() as session:
            if verdict in (Verdict.RETRY_AFTER, Verdict.HALT):
                wait = outcome.retry_after if verdict == Verdict.RETRY_AFTER else HALT_SECONDS
                self._due_in(wait)
                await outbox.reschedule(
                    session,
                    item.id,
                    now + timedelta(seconds=wait),
                    error,
                    count_attempt=False,
                    owner=self.owner,
                )
            elif verdict == Verdict.TRANSIENT:
                failures = item.attempts + 1
                if failures >= self._max_attempts:
                    self.stats.failed += 1
                    log.warning(
                        "outbox row %d failed after %d attempts: %s", item.id, failures, error
                    )
                    await outbox.mark_failed(session, item.id, error, owner=self.owner)
                else:
                    self.stats.retried += 1
                    delay = self._backoff.delay(failures)
                    self._due_in(delay)
                    await outbox.reschedule(
                        session, item.id, now + timedelta(seconds=delay), error, owner=self.owner
                    )
            elif verdict == Verdict.UNREACHABLE:
                self.stats.unreachable += 1
                await outbox.mark_unreachable(
                    session, chat_id=item.chat_id, member_id=item.member_id, now=now
                )
                await outbox.mark_skipped(session, item.id, error, owner=self.owner)
                await outbox.skip_chat(session, item.chat_id, error)
            elif verdict == Verdict.SKIPPED:
                self.stats.skipped += 1
                await outbox.mark_skipped(session, item.id, error, owner=self.owner)
            elif verdict == Verdict.MIGRATED:
                assert outcome.new_chat_id is not None
                await outbox.move_chat(session, item.chat_id, outcome.new_chat_id)
                await outbox.reschedule(
                    session, item.id, now, error, count_attempt=False, owner=self.owner
                )
                await outbox.release(
                    session, [queued.id for queued in stale], owner=self.owner, not_before=now
                )
            else:
                self.stats.failed += 1
                log.warning("outbox row %d failed: %s", item.id, error)
                await outbox.mark_failed(session, item.id, error, owner=self.owner)
