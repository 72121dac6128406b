"""The engine, the sessions and the transaction boundary the use cases own."""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import sqlite3
import stat
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar, cast

import aiosqlite
from sqlalchemy import Select, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction
from sqlalchemy.pool import PoolResetState, QueuePool
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.elements import ClauseElement

from storage.clock import CLOCK_OPTION, Clock
from storage.plain import PlainStatement
from storage.postgres_driver import KeptConnection
from storage.sqlite_driver import (
    one_trip_module,
    read_in_one_trip,
    write_in_one_trip,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

# Set on the read-only engine view so that SQLite readers start a plain (deferred) transaction.
_READ_ONLY_OPTION = "brigade_read_only"
SQLITE_BUSY_TIMEOUT_MS = 15_000
# Each pooled connection keeps a private page cache (SQLite's default: 2 MiB). It fills slowly as
# the bot touches pages, so a process's memory crept up for its first hours (measured with the
# soak benchmark: SQLite's heap grew while Python's stayed flat). 1 MiB each, reached in minutes;
# re-reads beyond it come from the operating system's file cache, shared by every connection.
SQLITE_CACHE_KIB = 1024
# SQLite's heap for the whole process (every pooled connection's page cache, statements, schema):
# above it, SQLite gives back cached pages instead of growing. Without it a connection the pool
# opens only in a busy hour keeps a full page cache of its own for the life of the process.
SQLITE_SOFT_HEAP_LIMIT_BYTES = 4 * 1024 * 1024
# Prepared statements each connection keeps (Python's default: 128). They are not evictable,
# and one of the bot's wide SELECTs takes 10–35 KB prepared: 128 of them on each of the pool's
# connections came to megabytes that filled in for hours as busy minutes drew on connections
# rarely used before. The hot statements (the update gate, the identity read, the outbox) stay
# prepared; a rare one is prepared again (tens of microseconds).
SQLITE_CACHED_STATEMENTS = 32
# read_rows's and write_rows's compiled statements kept per Database (the bot has a handful: a
# tap's check, the outbox's poll in two shapes, the gate's).
PLAIN_STATEMENTS_KEPT = 32
# PRAGMA auto_vacuum's value for INCREMENTAL.
INCREMENTAL_VACUUM = 2
# PostgreSQL: a pooled connection idle for longer is pinged before it is lent (see
# `_ping_when_idle`); one used more recently than this is lent as it is.
PING_AFTER_IDLE_SECONDS = 10.0
# The pool record's note of when its connection was last given back (time.monotonic()).
_RETURNED_AT = "brigade_returned_at"


async def _pragma(driver: Any, name: str) -> int:
    """The integer value of an SQLite pragma, read on the aiosqlite connection."""
    cursor = await driver.execute(f"PRAGMA {name}")
    row = await cursor.fetchone()
    await cursor.close()
    return int(row[0])


def _configure_sqlite(engine: AsyncEngine) -> None:
    """Incremental vacuum, WAL, foreign keys, a busy timeout, secure deletes, and writers that
    lock up front.

    A deferred SQLite transaction that reads then writes fails with SQLITE_BUSY at once when
    another writer got there first, whatever the timeout; `BEGIN IMMEDIATE` queues instead.
    `secure_delete` zeroes what a DELETE or an UPDATE frees: without it a purged name or door
    code stays readable in the file's free space until the page happens to be reused.
    `auto_vacuum=INCREMENTAL` comes first: it only takes on a new file before anything else
    writes its header (an existing file switches with one VACUUM, `switch_on_incremental_vacuum`).
    """

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event below emit BEGIN instead of the driver.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        # Only on a brand-new file (no page written yet): on an existing one the pragma wants
        # the write lock, and a connection opened while another writes (a read inside a write
        # use case) would wait for it. Existing files switch once at start (see above).
        cursor.execute("PRAGMA page_count")
        if cursor.fetchone()[0] == 0:
            cursor.execute("PRAGMA auto_vacuum=INCREMENTAL")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
        # Process-wide: every connection sets the same value.
        cursor.execute(f"PRAGMA soft_heap_limit={SQLITE_SOFT_HEAP_LIMIT_BYTES}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "reset")
    def _on_reset(dbapi_connection: Any, record: Any, reset_state: PoolResetState) -> None:
        # In place of SQLAlchemy's reset on return (off: `pool_reset_on_return=None`), which
        # rolls back every connection handed back, also one whose transaction has just
        # committed or rolled back: with aiosqlite each rollback is one more trip to the
        # connection's thread, 1 in 9 of a one-statement transaction's. A transaction left
        # open (an error path) is still rolled back.
        if reset_state.terminate_only or not reset_state.asyncio_safe:
            return  # the connection is being closed, which ends any transaction
        driver = getattr(record, "driver_connection", None)
        if driver is None or driver.in_transaction:
            dbapi_connection.rollback()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        if connection.get_execution_options().get(_READ_ONLY_OPTION):
            connection.exec_driver_sql("BEGIN")
        else:
            connection.exec_driver_sql("BEGIN IMMEDIATE")


def _plain_rows(
    plain: PlainStatement, values: dict[str, Any], connection: sqlite3.Connection
) -> list[Any]:
    """`write_rows`'s work on SQLite, run on the connection's thread."""
    return plain.rows(connection, **values)


def _translated(error: sqlite3.Error) -> BaseException:
    """An sqlite3 error met on a kept connection, as SQLAlchemy's DBAPIError (what every other
    statement raises)."""
    return DBAPIError.instance(None, None, error, sqlite3.Error, hide_parameters=True)


class ReadOnlySessionError(RuntimeError):
    """A write was attempted in a session opened with `Database.read()`."""


class ReadingSession(Session):
    """The session behind `Database.read()`: it never flushes on its own and refuses to write.

    On PostgreSQL a reading session runs autocommit statements: a write there would be committed
    at once, where a write transaction's rules (the use case commits) are the only way in. An
    object changed in memory while reading (for display) is never written: no autoflush.
    """


@event.listens_for(ReadingSession, "before_flush")
def _refuse_flush(session: Session, _context: UOWTransaction, _instances: Any) -> None:
    if session.new or session.dirty or session.deleted:
        raise ReadOnlySessionError("a reading session cannot write: use Database.transaction()")


@event.listens_for(ReadingSession, "do_orm_execute")
def _refuse_writes(state: ORMExecuteState) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        raise ReadOnlySessionError("a reading session cannot write: use Database.transaction()")


def _ping_when_idle(engine: AsyncEngine, after_seconds: float) -> None:
    """Ping a pooled PostgreSQL connection before lending it, if it sat idle `after_seconds`.

    SQLAlchemy's `pool_pre_ping` pings at every checkout: one more round trip for each
    transaction, paid most in a crowd (500 taps), where the connections go round in
    milliseconds. A connection that sat idle is the one a PostgreSQL restart or a dropped
    network has likely killed: it is pinged, and replaced if dead (the pool tries a new one when
    a checkout listener raises DisconnectionError). One killed while busy fails its next
    statement once; SQLAlchemy then invalidates the whole pool, so that process's other
    connections are replaced on their next checkout.
    """

    @event.listens_for(engine.sync_engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info[_RETURNED_AT] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        returned = record.info.get(_RETURNED_AT)
        # A new connection (nothing noted) was just opened: nothing to check.
        if returned is None or time.monotonic() - returned < after_seconds:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as error:
            raise DisconnectionError("a pooled connection did not answer its ping") from error


def _private_sqlite_file(path: Path) -> None:
    """Make the database file (and its WAL and shared-memory files) readable by the bot only.

    SQLite gives -wal and -shm the permissions of the database file, so creating that file 0600
    before SQLite opens it covers all three. A folder created here is 0700; an existing folder
    is left as it is (it may be someone's home) but a warning says when others can read it.
    """
    if not path.parent.exists():
        path.parent.mkdir(mode=0o700, parents=True)
    elif path.parent.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning(
            "the folder holding the database (%s) is open to other users of this machine; "
            "`chmod 700` it unless that is intended",
            path.parent,
        )
    if not path.exists():
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    for name in (path.name, path.name + "-wal", path.name + "-shm", path.name + "-journal"):
        sibling = path.with_name(name)
        if sibling.exists() and sibling.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            sibling.chmod(0o600)


class Database:
    """One engine per process, two session factories (writers and readers), and the clock.

    The clock is the application's one source of "now" (see storage/clock.py): column defaults
    read it from the engine's execution options, repository functions from the session's info.
    """

    def __init__(
        self,
        url: str,
        *,
        clock: Clock,
        echo: bool = False,
        log_parameters: bool = False,
        ping_after_idle_seconds: float = PING_AFTER_IDLE_SECONDS,
    ) -> None:
        parsed = make_url(url)
        self.url = url
        self.clock = clock
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        # Whether write_in_one_trip is available (SQLite, with this package's driver),
        # and the connection it keeps once used.
        self.writes_in_one_trip = False
        self._trip_lock = asyncio.Lock()
        self._trip_connection: tuple[AsyncConnection, aiosqlite.Connection] | None = None
        # read_rows's: on SQLite, a connection of its own (a read must never queue behind the
        # gate's write, which may be waiting for the write lock) and its compiled statements.
        self._reader_lock = asyncio.Lock()
        self._reader_connection: tuple[AsyncConnection, aiosqlite.Connection] | None = None
        self._plain: dict[int, tuple[Executable, PlainStatement]] = {}
        if self.is_sqlite and parsed.database and parsed.database != ":memory:":
            _private_sqlite_file(Path(parsed.database))
        # A failed statement's message holds its parameters (a beneficiary's name, a phone):
        # hidden unless a developer asks for them (BRIGADE_LOG_PERSONAL_DATA).
        engine_args: dict[str, Any] = {
            "echo": echo,
            "hide_parameters": not log_parameters,
            # The connection returned last is lent first: a light load keeps reusing one or two
            # connections whose caches are warm (SQLite: each keeps a page cache of its own),
            # and the others stay idle instead of each filling a cache of its own.
            "pool_use_lifo": True,
        }
        if self.is_sqlite:
            engine_args["connect_args"] = {"cached_statements": SQLITE_CACHED_STATEMENTS}
            # One trip to the connection's thread per statement instead of four.
            module = one_trip_module()
            if module is not None:
                engine_args["module"] = module
            self.writes_in_one_trip = module is not None
            # Reset on return by the "reset" event instead (see _configure_sqlite).
            engine_args["pool_reset_on_return"] = None
        else:
            engine_args |= {"pool_size": 10, "max_overflow": 10}
        self.engine = create_async_engine(url, **engine_args)
        if self.is_sqlite:
            _configure_sqlite(self.engine)
        else:
            _ping_when_idle(self.engine, ping_after_idle_seconds)
        stamped = self.engine.execution_options(**{CLOCK_OPTION: clock})
        self._stamped = stamped
        info = {CLOCK_OPTION: clock}
        self._writers = async_sessionmaker(stamped, expire_on_commit=False, info=info)
        readers = stamped.execution_options(**{_READ_ONLY_OPTION: True})
        if not self.is_sqlite:
            # PostgreSQL's READ COMMITTED (its default, and Brigade's) takes a new snapshot for
            # every statement, inside a transaction or not: a reading transaction bought no
            # consistency, only a BEGIN and a ROLLBACK — two round trips around a one-statement
            # read, such as each tap of a crowd on a full request. Readers run in autocommit
            # instead (switched on the driver's side as the connection is lent: no round trip).
            # SQLite keeps its transaction: there it is the snapshot that every read of a
            # session shares.
            readers = readers.execution_options(isolation_level="AUTOCOMMIT")
        self._core_readers = readers
        # PostgreSQL with asyncpg: read_rows's and write_rows's connections, kept out of the pool
        # (one each: the gate writes one batch at a time; reads take turns, a round trip each).
        self._postgres_reader: KeptConnection | None = None
        self._postgres_writer: KeptConnection | None = None
        if not self.is_sqlite and parsed.get_driver_name() == "asyncpg":
            self._postgres_reader, self._postgres_writer = (
                KeptConnection(self.engine.connect, ping_after_seconds=ping_after_idle_seconds)
                for _ in range(2)
            )
        self._readers = async_sessionmaker(
            readers,
            expire_on_commit=False,
            info=info,
            sync_session_class=ReadingSession,
            autoflush=False,
        )

    @asynccontextmanager
    async def transaction(
        self, on_commit: Callable[[], None] | None = None
    ) -> AsyncIterator[AsyncSession]:
        """Open a write transaction; it commits on success and rolls back on error.

        `on_commit` runs once the commit is done (e.g. wake the outbox sender for the new rows).
        """
        async with self._writers.begin() as session:
            yield session
        if on_commit is not None:
            on_commit()

    @asynccontextmanager
    async def core_transaction(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction on a Core connection, without an ORM session: for the hottest
        statements (the update gate's), which load no objects. Commits on success."""
        async with self._stamped.begin() as connection:
            yield connection

    async def write_in_one_trip(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """SQLite only (see `writes_in_one_trip`): run `work` — plain sqlite3 statements,
        `PlainStatement`s — in one write transaction, as one trip to a connection's thread; it
        commits on success. For the update gate, the one transaction every update pays;
        everything else goes through `transaction()`.

        The connection is one of the pool's, kept for these trips (lending it each time cost
        three greenlet hops, more than the trip). A failure comes out as SQLAlchemy's
        DBAPIError, as from any other transaction, and the connection goes back to the pool.
        """
        if not self.writes_in_one_trip:
            raise RuntimeError("write_in_one_trip needs SQLite and storage.sqlite_driver")
        async with self._trip_lock:
            if self._trip_connection is None:
                self._trip_connection = await self._keep_connection()
            connection, driver_connection = self._trip_connection
            try:
                return await write_in_one_trip(driver_connection, work)
            except BaseException as error:
                # Rolled back on its thread; handed back all the same, in case it could not be.
                self._trip_connection = None
                await connection.close()
                if isinstance(error, sqlite3.Error):
                    raise _translated(error) from error
                raise

    async def read_rows(self, statement: Select[Any], **values: Any) -> list[Any]:
        """The rows of one Core SELECT (labelled columns, no ORM objects), outside any session:
        for the reads a crowd repeats (a tap on a full request) or an idle bot (the outbox's
        poll). Rows are read by column key.

        One statement is its own snapshot on both backends, run as a `PlainStatement` (compiled
        once per statement) on a connection kept for these reads: on SQLite one trip to its
        thread (never queued behind the gate's write, which may be waiting for the write lock);
        on PostgreSQL with asyncpg one prepared statement, tried again once on a fresh
        connection if the kept one was lost (a read can be).
        """
        if self._postgres_reader is not None:
            plain = self._plain_statement(statement)
            parameters = plain.parameters(values)
            for attempt in (1, 2):
                try:
                    async with self._postgres_reader.use() as driver:
                        rows = await driver.fetch(plain.sql, *parameters)
                    return plain.converted(rows)
                except DBAPIError as error:
                    if attempt == 2 or not error.connection_invalidated:
                        raise
            raise AssertionError("unreachable")  # pragma: no cover
        if not self.writes_in_one_trip:
            async with self._core_readers.connect() as connection:
                return list((await connection.execute(statement, values)).all())
        plain = self._plain_statement(statement)
        async with self._reader_lock:
            if self._reader_connection is None:
                self._reader_connection = await self._keep_connection()
            driver_connection = self._reader_connection[1]
        try:
            return await read_in_one_trip(driver_connection, plain, values)
        except sqlite3.Error as error:
            raise _translated(error) from error

    async def write_rows(self, statement: Executable, **values: Any) -> list[Any]:
        """One write statement (with RETURNING, for its rows), committed alone: for the update
        gate's, which every update pays. Rows are read by column key.

        On PostgreSQL with asyncpg, one prepared statement on a connection kept for it (never
        tried again: it may have committed before the connection was lost); on SQLite, a
        transaction of that one statement in one trip (`write_in_one_trip`); otherwise a Core
        transaction.
        """
        if self._postgres_writer is not None:
            plain = self._plain_statement(statement)
            parameters = plain.parameters(values)
            async with self._postgres_writer.use() as driver:
                rows = await driver.fetch(plain.sql, *parameters)
            return plain.converted(rows)
        if self.writes_in_one_trip:
            plain = self._plain_statement(statement)
            return await self.write_in_one_trip(functools.partial(_plain_rows, plain, values))
        async with self.core_transaction() as connection:
            return list((await connection.execute(statement, values)).all())

    def _plain_statement(self, statement: Executable) -> PlainStatement:
        """The statement compiled for this database's driver, once."""
        entry = self._plain.get(id(statement))
        if entry is None or entry[0] is not statement:
            if len(self._plain) >= PLAIN_STATEMENTS_KEPT:
                # Statements are meant to be built once (module-level, cached); one built per
                # call would otherwise be kept, with its compilation, for ever.
                self._plain.clear()
            compiled = PlainStatement(cast(ClauseElement, statement), self.engine.dialect)
            entry = self._plain[id(statement)] = (statement, compiled)
        return entry[1]

    async def _keep_connection(self) -> tuple[AsyncConnection, aiosqlite.Connection]:
        """A pooled connection taken out for good (until dispose), and its aiosqlite driver."""
        connection = await self._stamped.connect()
        lent = await connection.get_raw_connection()
        return connection, cast(aiosqlite.Connection, lent.driver_connection)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """Open a session for reading: a transaction on SQLite (one snapshot for its reads),
        autocommit statements on PostgreSQL (see __init__); it refuses to write (ReadingSession).

        Closing (rather than rolling back) detaches the loaded objects without expiring them, so
        what was read stays readable after the block.
        """
        async with self._readers() as session:
            yield session

    async def fill_pool(self) -> int:
        """Open the connections the pool keeps, now; how many it holds.

        Called once the bot has started: each connection then opens (a thread, and on SQLite
        the parsed schema, about 200 KB) at start-up instead of in the first busy minutes, so
        the process reaches its steady memory at once. Nothing is executed (on SQLite a
        statement would begin a write transaction and the next connection would wait for it).
        """
        pool = self.engine.pool
        if not isinstance(pool, QueuePool):  # an in-memory SQLite database: one connection
            return 0
        held: list[AsyncConnection] = []
        try:
            # Held together: a connection handed back would be lent again (the pool is LIFO).
            for _ in range(pool.size()):
                held.append(await self.engine.connect())
        finally:
            for connection in held:
                await connection.close()
        return pool.checkedin()

    async def switch_on_incremental_vacuum(self) -> bool:
        """On an SQLite file made before incremental vacuum, switch it on (one VACUUM, which
        rewrites the file: a few seconds for a large one, once). True when it did."""
        if not self.is_sqlite:
            return False
        async with self.engine.connect() as connection:
            driver = (await connection.get_raw_connection()).driver_connection
            assert driver is not None
            mode = await _pragma(driver, "auto_vacuum")
            if mode == INCREMENTAL_VACUUM:
                return False
            await driver.executescript("PRAGMA auto_vacuum=INCREMENTAL; VACUUM;")
        log.info("SQLite: incremental vacuum switched on (the file was rewritten once)")
        return True

    async def give_back_space(self, *, max_pages: int, min_pages: int) -> int:
        """SQLite: return up to `max_pages` free pages to the file system, if at least
        `min_pages` are free; how many pages were given back (0 on PostgreSQL, whose
        autovacuum reuses space itself).

        Each call is one short write transaction (`PRAGMA incremental_vacuum`), so a writer
        waits for it at most a few tens of milliseconds.
        """
        if not self.is_sqlite:
            return 0
        async with self.engine.connect() as connection:
            driver = (await connection.get_raw_connection()).driver_connection
            assert driver is not None
            if await _pragma(driver, "auto_vacuum") != INCREMENTAL_VACUUM:
                return 0
            free = await _pragma(driver, "freelist_count")
            if free < min_pages:
                return 0
            # executescript steps the pragma to its end (execute() frees one page only).
            await driver.executescript(
                f"BEGIN IMMEDIATE; PRAGMA incremental_vacuum({int(max_pages)}); COMMIT;"
            )
            return free - await _pragma(driver, "freelist_count")

    async def dispose(self) -> None:
        """Close every pooled connection."""
        for postgres in (self._postgres_reader, self._postgres_writer):
            if postgres is not None:
                await postgres.close()
        async with self._trip_lock, self._reader_lock:
            for kept in (self._trip_connection, self._reader_connection):
                if kept is not None:
                    await kept[0].close()
            self._trip_connection = self._reader_connection = None
        await self.engine.dispose()
