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
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Bot
from telegram.ext import ExtBot

from bot.batching import GroupCommit
from bot.outbox.limiter import Backoff, SendLimiter, SendLimits
from bot.outbox.outcomes import (
    Outcome,
    Verdict,
    call_arguments,
    classify_error,
    classify_result,
)
from storage import outbox
from storage.database import Database
from storage.models import OutboxMessage, OutboxStatus
from storage.writes import view_of

log = logging.getLogger(__name__)

# Seconds on a monotonic clock: pacing and leases measure durations, never dates.
Monotonic = Callable[[], float]
SendCall = Callable[..., Awaitable[Any]]

# An edit whose offer message is still queued looks again after this long.
ORIGINAL_WAIT = timedelta(seconds=1)
# InvalidToken: nothing can be sent; wait this long rather than burn every row's attempts.
HALT_SECONDS = 60.0
DEFAULT_LIMITS = SendLimits()
DEFAULT_BACKOFF = Backoff()


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
        return view_of(cls, row, payload=dict(row.payload), deadline=deadline, message_id=None)


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
        limits: SendLimits = DEFAULT_LIMITS,
        batch: int = 50,
        lease_seconds: float = 30.0,
        max_attempts: int = 8,
        backoff: Backoff = DEFAULT_BACKOFF,
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
        if not await outbox.has_due(self._db, now=now, below_priority=below):
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
