"""A pooled asyncpg connection kept for the statements every update or tap pays (PostgreSQL).

`Database.read_rows` and `Database.write_rows` run one `PlainStatement` at a time, each its own
transaction (asyncpg sends a statement outside any transaction: PostgreSQL commits it alone), on
a connection taken out of SQLAlchemy's pool and kept, so that neither the pool's checkout nor
SQLAlchemy's execution is paid per statement (see storage/plain.py for the figures). asyncpg
prepares each statement once per connection and keeps it.

A connection runs one statement at a time: callers take turns (`use`). A connection is kept as
long as it works:
- one PostgreSQL closed (a restart, `pg_terminate_backend`) is replaced before its next use;
- one idle for a while is pinged first, as the pool pings its own (`_ping_when_idle` in
  storage/database.py): a dropped network path is found by a ping, not by a statement;
- one whose statement failed for any reason other than the statement itself (a lost connection,
  a cancellation midway) is closed and replaced next time.
Errors come out as SQLAlchemy's DBAPIError, as from any other statement.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

log = logging.getLogger(__name__)


def _translated(error: BaseException, *, invalidated: bool) -> BaseException:
    """An asyncpg (or socket) error as SQLAlchemy's DBAPIError."""
    return DBAPIError.instance(
        None, None, error, Exception, hide_parameters=True, connection_invalidated=invalidated
    )


def _statement_failed(error: BaseException) -> bool:
    """Whether the statement itself failed (PostgreSQL refused it), the connection being fine."""
    return isinstance(error, asyncpg.PostgresError) and not isinstance(
        error, asyncpg.PostgresConnectionError
    )


class KeptConnection:
    """One of the pool's asyncpg connections, kept for one kind of plain statement."""

    def __init__(
        self,
        connect: Callable[[], Any],
        *,
        ping_after_seconds: float,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        # `connect`: the engine's connect(), awaited to borrow a connection for good.
        self._connect = connect
        self._ping_after = ping_after_seconds
        self._monotonic = monotonic
        self._lock = asyncio.Lock()
        self._held: tuple[AsyncConnection, asyncpg.Connection] | None = None
        self._used_at = 0.0
        # Connections replaced (found closed, failed a ping, or broken by a failure).
        self.replaced = 0

    @asynccontextmanager
    async def use(self) -> AsyncIterator[asyncpg.Connection]:
        """The asyncpg connection, to this caller alone until the block ends; the block makes
        driver calls only (any other error in it would be taken for a lost connection)."""
        async with self._lock:
            driver = await self._ready()
            try:
                yield driver
            except BaseException as error:
                if _statement_failed(error):
                    raise _translated(error, invalidated=False) from error
                await self._drop()
                if isinstance(error, Exception):
                    # A lost connection comes out of asyncpg in several shapes (an
                    # InterfaceError, an OSError, an InternalClientError "another operation is
                    # in progress" when the loss is found midway): all of them mean this one.
                    raise _translated(error, invalidated=True) from error
                raise  # a cancellation
            self._used_at = self._monotonic()

    async def _ready(self) -> asyncpg.Connection:
        """The kept connection, opened, checked or replaced as needed."""
        if self._held is not None:
            driver = self._held[1]
            if driver.is_closed():
                log.info("PostgreSQL: a kept connection was closed; opening another")
                await self._drop()
            elif self._monotonic() - self._used_at >= self._ping_after:
                try:
                    await driver.execute("SELECT 1")
                except Exception:  # any shape of a lost connection (see `use`)
                    log.info("PostgreSQL: a kept connection did not answer; opening another")
                    await self._drop()
        if self._held is None:
            try:
                connection = await self._connect()
                raw = await connection.get_raw_connection()
            except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as error:
                raise _translated(error, invalidated=True) from error
            self._held = (connection, raw.driver_connection)
        return self._held[1]

    async def _drop(self) -> None:
        """Close the kept connection for good (it is not handed back to the pool)."""
        held, self._held = self._held, None
        if held is None:
            return
        self.replaced += 1
        connection, driver = held
        driver.terminate()  # at once, whatever it was doing
        try:
            await connection.invalidate()
        finally:
            await connection.close()

    async def close(self) -> None:
        """Hand the connection back to the pool (at shutdown)."""
        async with self._lock:
            held, self._held = self._held, None
            if held is not None:
                await held[0].close()
