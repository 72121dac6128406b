"""Several processes on one PostgreSQL database: each person's updates, one process at a time.

PTB's ConversationHandler keeps conversation states in memory, loaded once at start (PTB issues
#4452 and #5225). Rather than replace it with a state machine of our own (every conversation is
written on it, with its ⬅, /cancel and stale-button rules), each update of a person is wrapped:

1. the person's PostgreSQL advisory lock is taken (`pg_advisory_lock`, a session lock on a
   connection of a small pool of its own, so the handlers' pool is never starved): another
   process handling the same person waits;
2. their conversation states and drafts are read from the database into PTB's memory
   (`DatabasePersistence.refresh_person`), whatever this process believed;
3. PTB handles the update (the update gate, the handlers);
4. what changed is written (`update_persistence`) before the lock is released.

So a person's next update, on whichever process, starts from what the last one wrote. The lock is
held by a connection, not a transaction: nothing stays open in PostgreSQL while the handlers call
Telegram. A process that dies loses its connection, and PostgreSQL releases its locks at once.

A tap on an offer (`callbacks.LOCK_FREE_ACTIONS`) is handled without steps 1, 2 and 4: no
conversation takes it, its handler keeps no draft, and the claim checks everything in a
transaction of its own. It is the update a crowd sends, hundreds at once on a popular request.

SQLite is one process only (one file, one writer): there the wrapper does nothing, and the
in-memory states are the truth, as before.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from telegram import Update
from telegram.ext import Application

from bot import callbacks
from bot.persistence import DatabasePersistence
from bot.updates import DEFAULT_CONCURRENCY, DEFAULT_MAX_WAITING, PerPersonUpdateProcessor
from storage.conversations import person_lock_key
from storage.database import Database

log = logging.getLogger(__name__)

AnyApplication = Application[Any, Any, Any, Any, Any, Any]


def lock_key(user_id: int) -> int:
    """The advisory lock's 64-bit key for a person (the draft sweep takes it too)."""
    return person_lock_key(user_id)


class PersonLocks:
    """Per-person advisory locks across processes, on connections of their own."""

    def __init__(self, database: Database, size: int = DEFAULT_CONCURRENCY) -> None:
        # As many connections as updates run at once (each holds one while it runs), opened
        # only when needed: a quiet bot keeps two. No pre-ping: see `_locked`.
        self.engine: AsyncEngine = create_async_engine(
            database.engine.url,
            pool_size=2,
            max_overflow=max(size - 2, 0),
            isolation_level="AUTOCOMMIT",
            hide_parameters=True,
        )

    @asynccontextmanager
    async def hold(self, user_id: int) -> AsyncIterator[AsyncConnection]:
        """Hold the person's lock; the connection holding it may read meanwhile."""
        key = lock_key(user_id)
        connection = await self._locked(key)
        try:
            yield connection
        finally:
            try:
                await connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
            except (SQLAlchemyError, OSError):
                # Closing the session is what releases the lock then: never pool it again.
                log.warning("could not release a person's lock: connection dropped")
                await connection.invalidate()
            finally:
                await connection.close()

    async def _locked(self, key: int) -> AsyncConnection:
        """A connection holding the lock. Pooled connections are not pinged before use (a round
        trip per update): one found dead (PostgreSQL restarted) is replaced once."""
        for attempt in (1, 2):
            connection = await self.engine.connect()
            try:
                await connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": key})
            except DBAPIError as error:
                await connection.close()
                if attempt == 2 or not error.connection_invalidated:
                    raise
                continue
            except BaseException:
                # Cancelled while waiting (a shutdown): the lock may have been granted meanwhile,
                # and only ending the session releases it for sure.
                await connection.invalidate()
                await connection.close()
                raise
            return connection
        raise AssertionError("unreachable")  # pragma: no cover

    async def dispose(self) -> None:
        """Close the lock connections."""
        await self.engine.dispose()


class SharedState:
    """Wraps each update: the person's lock, their states read back, handled, written, unlocked."""

    def __init__(self, database: Database, persistence: DatabasePersistence) -> None:
        self.enabled = not database.is_sqlite
        self._persistence = persistence
        self._locks = PersonLocks(database) if self.enabled else None
        self._application: AnyApplication | None = None
        # Updates handled under a person's lock, and how many found the memory out of date.
        self.refreshed = 0

    def attach(self, application: AnyApplication) -> None:
        """The application whose memory is refreshed (known once it is built)."""
        self._application = application

    async def run(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Handle one update under its person's lock, from and back to the database."""
        application = self._application
        user = update.effective_user if isinstance(update, Update) else None
        if self._locks is None or application is None or user is None or _lock_free(update):
            await coroutine
            return
        handled = False
        try:
            async with self._locks.hold(user.id) as connection:
                await self._persistence.refresh_person(connection, application, user.id)
                self.refreshed += 1
                handled = True
                await coroutine
                # PTB marks the person's drafts as changed once every handler ran, after the
                # registry's own flush: written here, while the lock is still held.
                await application.update_persistence()
        except (SQLAlchemyError, OSError):
            if handled:
                raise
            # The database is unreachable: the handlers will fail and apologise, as with one
            # process; dropping the update silently would be worse.
            log.warning("could not take a person's lock: update %s handled without it", _id(update))
            await coroutine

    async def dispose(self) -> None:
        """Close the lock connections."""
        if self._locks is not None:
            await self._locks.dispose()


def _lock_free(update: object) -> bool:
    """Whether this update is a tap that needs neither the person's lock nor their states."""
    query = update.callback_query if isinstance(update, Update) else None
    if query is None:
        return False
    parsed = callbacks.parse(query.data)
    return parsed is not None and parsed.action in callbacks.LOCK_FREE_ACTIONS


def _id(update: object) -> object:
    return update.update_id if isinstance(update, Update) else None


class SharedStateUpdateProcessor(PerPersonUpdateProcessor):
    """PerPersonUpdateProcessor (one person in order within a process, several people at once)
    whose updates run through `SharedState` (one person at a time across processes)."""

    def __init__(
        self,
        shared: SharedState,
        running_limit: int = DEFAULT_CONCURRENCY,
        *,
        max_waiting: int = DEFAULT_MAX_WAITING,
    ) -> None:
        super().__init__(running_limit, max_waiting=max_waiting)
        self.shared = shared

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Wait for the person's turn here, then run the update under their shared lock."""
        started = False

        async def guarded() -> None:
            nonlocal started
            started = True
            await self.shared.run(update, coroutine)

        try:
            await super().do_process_update(update, guarded())
        finally:
            if not started and inspect.iscoroutine(coroutine):
                coroutine.close()  # cancelled while waiting: never awaited, close it quietly
