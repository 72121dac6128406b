"""How updates are let in: each update_id handled once, one person's updates in order.

Telegram delivers updates at least once (a webhook retries on any non-2xx or slow answer, a load
balancer may hand the same POST to two processes, a restarted poller fetches again what it had
not acknowledged). The gate below runs first for every update and lets each update_id through
once per database, so once across every process sharing it.

PTB handles updates one at a time unless told otherwise; `PerPersonUpdateProcessor` lets several
people be served at once while keeping each person's updates in the order they arrived, which
ConversationHandler and "tap twice" protections rely on.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import sqlite3
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Dialect
from sqlalchemy.exc import SQLAlchemyError
from telegram import Update
from telegram.ext import ApplicationHandlerStop, BaseUpdateProcessor, TypeHandler

from bot.batching import GroupCommit
from bot.context import BrigadeContext
from storage import members as member_store
from storage import updates as store
from storage.database import Database
from storage.members import MemberIdentity

log = logging.getLogger(__name__)

# Before every other group (PTB runs groups in increasing order).
DEDUPLICATION_GROUP = -1
# Telegram keeps an undelivered update for 24 hours, so a re-delivery is never older than that.
# After a week without updates Telegram starts update_ids again from a random number, so rows
# must be gone well before a week: then an old id can never shadow a new update.
KEEP_PROCESSED = timedelta(days=3)
PRUNE_EVERY = timedelta(hours=1)
# Updates served at once; more wait their turn (the database pool has 10 + 10 connections).
DEFAULT_CONCURRENCY = 16
# Updates accepted while waiting (for their person's earlier updates or for a free slot).
DEFAULT_MAX_WAITING = 4096


# Where the gate leaves the sender's identity, read in its transaction, for `speaker`
# (handlers/common.py): (their Telegram id, their member row or None when Brigade has none).
PREFETCHED_SENDER = "_brigade_prefetched_sender"


@dataclass(frozen=True)
class _Arrival:
    """An update at the gate: its id, and whose identity to read with it (None: nobody's)."""

    update_id: int
    sender: int | None


@dataclass(frozen=True)
class _Admission:
    """Whether an update is new, and its sender's identity as read in the same transaction."""

    fresh: bool
    sender: MemberIdentity | None


class UpdateGate:
    """The group -1 callback: record the update_id, stop the update if it was already there.

    Updates arriving together are recorded together (group commit): a crowd tapping at once
    costs one write transaction per batch, not one each. The same transaction reads the
    senders' identities (members and roles), which every handler starts with: one database
    session per update (batch) instead of two. Nothing else of this person's runs between
    this read and their handlers (their updates run one at a time, under their lock across
    processes), so it is the read the handler would have made itself.
    """

    def __init__(
        self,
        *,
        keep: timedelta = KEEP_PROCESSED,
        prune_every: timedelta = PRUNE_EVERY,
    ) -> None:
        self._keep = keep
        # A short keep (a benchmark's) is enforced as often as it asks: a third of it at most.
        self._prune_every = min(prune_every, keep / 3)
        # None: prune with the first update, which also covers the first update after a long
        # silence (see KEEP_PROCESSED).
        self._next_prune: datetime | None = None
        self._commits: GroupCommit[_Arrival, _Admission] | None = None
        self.skipped = 0

    @property
    def batches(self) -> int:
        """Write transactions used so far to record update ids."""
        return 0 if self._commits is None else self._commits.batches

    async def __call__(self, update: Update, context: BrigadeContext) -> None:
        """Let a new update through; raise ApplicationHandlerStop for one already handled."""
        if self._commits is None:
            database = context.services.database
            self._commits = GroupCommit(lambda ids: self._record(database, ids))
        user = update.effective_user
        sender = None if user is None or user.is_bot else user.id
        try:
            admission = await self._commits.submit(_Arrival(update.update_id, sender))
        except (SQLAlchemyError, OSError):
            # Fail open: with the database unreachable the handlers fail and apologise anyway,
            # and handling a rare re-delivery twice beats dropping every update.
            log.warning("could not check update %s for a re-delivery", update.update_id)
            return
        if admission.fresh:
            if sender is not None:
                setattr(context, PREFETCHED_SENDER, (sender, admission.sender))
            return
        self.skipped += 1
        log.info("update %s was already handled (re-delivered): skipped", update.update_id)
        raise ApplicationHandlerStop

    async def _record(self, database: Database, arrivals: Sequence[_Arrival]) -> list[_Admission]:
        """Record a batch of update ids; for each, whether it is seen for the first time and
        its sender's identity."""
        now = database.clock()
        # One batch is written at a time, so only one prunes.
        older_than = None
        if self._next_prune is None or now >= self._next_prune:
            self._next_prune = now + self._prune_every
            older_than = now - self._keep
        if database.writes_in_one_trip:
            dialect = database.engine.dialect
            work = functools.partial(_admit_plain, dialect, arrivals, now, older_than)
            pruned, inserted, identities = await database.write_in_one_trip(work)
        elif not database.is_sqlite:
            pruned, inserted, identities = await _admit_alone(database, arrivals, now, older_than)
        else:
            pruned, inserted, identities = await _admit(database, arrivals, now, older_than)
        if pruned:
            log.info("forgot %d handled updates older than %s", pruned, self._keep)
        # The same id twice in one batch (a retry racing its original): only the first is new.
        admissions = []
        for arrival in arrivals:
            fresh = arrival.update_id in inserted
            inserted.discard(arrival.update_id)
            sender = identities.get(arrival.sender) if arrival.sender is not None else None
            admissions.append(_Admission(fresh, sender))
        return admissions


# What a batch's transaction found: rows pruned, update ids new, identities of their senders.
_Recorded = tuple[int, set[int], dict[int, MemberIdentity]]


def _senders(arrivals: Sequence[_Arrival], inserted: set[int]) -> set[int]:
    """Whose identities to read: the senders of the updates seen for the first time."""
    return {a.sender for a in arrivals if a.sender is not None and a.update_id in inserted}


async def _admit(
    database: Database,
    arrivals: Sequence[_Arrival],
    now: datetime,
    older_than: datetime | None,
) -> _Recorded:
    """Prune (when due, before the insert: an old row must never make a new update look
    handled), record the ids, read the new updates' senders: one write transaction."""
    # A Core connection: nothing here loads ORM objects, and a session cost more than the
    # statements themselves.
    async with database.core_transaction() as connection:
        pruned = 0 if older_than is None else await store.prune(connection, older_than)
        inserted = await store.claim_updates(connection, [a.update_id for a in arrivals], now)
        senders = _senders(arrivals, inserted)
        identities = await member_store.identities_of(connection, senders) if senders else {}
    return pruned, inserted, identities


def _admit_plain(
    dialect: Dialect,
    arrivals: Sequence[_Arrival],
    now: datetime,
    older_than: datetime | None,
    connection: sqlite3.Connection,
) -> _Recorded:
    """`_admit` on SQLite, run on the connection's thread by `Database.write_in_one_trip`:
    the same statements in one trip instead of SQLAlchemy's execution around each (measured
    on the bench machine, one update per batch: 1.3–1.6 ms of CPU against 0.2–0.3 ms)."""
    pruned = 0 if older_than is None else store.prune_plain(connection, dialect, older_than)
    inserted = store.claim_updates_plain(connection, dialect, [a.update_id for a in arrivals], now)
    senders = _senders(arrivals, inserted)
    identities = member_store.identities_plain(connection, dialect, senders) if senders else {}
    return pruned, inserted, identities


async def _admit_alone(
    database: Database,
    arrivals: Sequence[_Arrival],
    now: datetime,
    older_than: datetime | None,
) -> _Recorded:
    """`_admit` on PostgreSQL: the prune (when due, first) and the batch, each one statement
    committed alone (`store.admission`) on a connection kept for them, instead of BEGIN,
    three statements and COMMIT through SQLAlchemy (measured on the bench machine, one update
    per batch: 0.9 ms of CPU and 1.3 ms of waiting against 0.13 ms and 0.4 ms)."""
    pruned = 0
    if older_than is not None:
        pruned = len(await database.write_rows(store.PRUNE, older_than=older_than))
    rows = await database.write_rows(
        store.admission(),
        update_ids=[a.update_id for a in arrivals],
        senders=[a.sender for a in arrivals],
        now=now,
    )
    inserted, identities = store.admitted(rows)
    return pruned, inserted, identities


def build_deduplication_handler(keep: timedelta = KEEP_PROCESSED) -> TypeHandler[Any, Any, None]:
    """The handler to register in DEDUPLICATION_GROUP, keeping handled ids for `keep`."""
    return TypeHandler(Update, UpdateGate(keep=keep))


def person_key(update: object) -> int | None:
    """Whose updates must stay in order: the user's id, else the chat's; None for neither."""
    if not isinstance(update, Update):
        return None
    if update.effective_user is not None:
        # A private chat's id is its user's id, so both kinds of update share one key.
        return update.effective_user.id
    if update.effective_chat is not None:
        return update.effective_chat.id
    return None


@dataclass
class _PersonLock:
    """One person's lock and how many of their updates hold it or wait for it."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0


class PerPersonUpdateProcessor(BaseUpdateProcessor):
    """Run updates concurrently up to a limit, one person's updates one after the other."""

    def __init__(
        self,
        running_limit: int = DEFAULT_CONCURRENCY,
        *,
        max_waiting: int = DEFAULT_MAX_WAITING,
    ) -> None:
        if running_limit < 1:
            raise ValueError("running_limit must be a positive integer")
        # PTB takes its semaphore (sized by max_concurrent_updates) *before* do_process_update.
        # Were it the running limit, one person's burst (each update waiting for the previous
        # one) could hold every slot while everyone else waits; so PTB's bound only caps the
        # updates in progress (running or waiting their turn), and the running limit is taken
        # below, once the person's turn has come.
        super().__init__(max(max_waiting, running_limit))
        self._running_limit = running_limit
        self._running = asyncio.Semaphore(running_limit)
        self._people: dict[int, _PersonLock] = {}
        self._active = 0

    @property
    def running_limit(self) -> int:
        """How many updates run at once."""
        return self._running_limit

    @property
    def running(self) -> int:
        """How many updates run now (not counting those waiting their turn)."""
        return self._active

    @property
    def people_waiting(self) -> int:
        """How many people have an update running or waiting (their locks are kept until idle)."""
        return len(self._people)

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release: PTB waits for the update tasks before shutting down."""

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Wait for this person's earlier updates, then for a free slot, then run it."""
        key = person_key(update)
        if key is None:
            await self._run(coroutine)
            return
        # No await between looking the lock up and counting ourselves in: the lock cannot be
        # dropped in between. asyncio.Lock serves waiters first come, first served, and tasks
        # reach this line in the order PTB took the updates from its queue.
        person = self._people.get(key)
        if person is None:
            person = self._people[key] = _PersonLock()
        person.users += 1
        try:
            async with person.lock:
                await self._run(coroutine)
        finally:
            person.users -= 1
            if person.users == 0:
                # Idle: forget the lock, so memory follows active people, not everyone ever seen.
                del self._people[key]

    async def _run(self, coroutine: Awaitable[Any]) -> None:
        started = False
        try:
            async with self._running:
                self._active += 1
                try:
                    started = True
                    await coroutine
                finally:
                    self._active -= 1
        finally:
            if not started and inspect.iscoroutine(coroutine):
                # Cancelled while waiting: close it, or Python warns it was never awaited.
                coroutine.close()
