"""SQLAlchemy's aiosqlite driver with one trip to the connection's thread per statement.

aiosqlite runs each SQLite connection in a thread of its own; every call on it is a trip:
queued to that thread, answered through a future that wakes the event loop. SQLAlchemy's
adapter makes a statement four trips (open a cursor, execute, fetch the rows, close the
cursor), and a `BEGIN` three. Measured on the bench machine, a trip costs ~45 µs of CPU and the
SQLite work of a small statement ~2 µs: the update gate's transaction was a dozen trips.

Here the cursor runs the whole statement (cursor, execute, fetchall, close) as one function on
the connection's thread, through aiosqlite's own queue — the same door SQLAlchemy's adapter uses
to set `isolation_level`. What SQLAlchemy reads afterwards (the rows, `description`, `rowcount`,
`lastrowid`) is kept on the adapter's cursor, as its buffered cursor already kept the rows.
Server-side cursors (streamed results) are SQLAlchemy's own, unchanged.

Below that, for the two things every update or tap of a crowd pays, SQLAlchemy's execution
itself is skipped: `write_in_one_trip` runs a whole write transaction (the update gate's) as one
function on the thread, `read_in_one_trip` one read statement (a claim tap's check, the outbox's
poll); both with `PlainStatement`s (storage/plain.py), Core statements compiled once, so that
the SQL still comes from the models and every value still goes through its column's type.

Private parts used, checked by `tests/storage/test_sqlite_driver.py` against the installed
versions: SQLAlchemy's `_cursor_cls` hook and `_execute_mutex` (2.1), aiosqlite's
`Connection._execute` and `_conn`. When SQLAlchemy's adapter is not shaped as expected,
`one_trip_module()` returns None and the engine keeps SQLAlchemy's own driver.
"""

from __future__ import annotations

import collections
import logging
import sqlite3
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import aiosqlite
from sqlalchemy import String, bindparam, func
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util import immutabledict

from storage.plain import PlainStatement

log = logging.getLogger(__name__)

T = TypeVar("T")

# (description, rows or None, rowcount, lastrowid): what a statement leaves for SQLAlchemy.
_Outcome = tuple[Any, list[Any] | None, int, int | None]


def _run(connection: sqlite3.Connection, operation: str, parameters: Any) -> _Outcome:
    """Execute one statement on the connection's thread and take everything it returns."""
    cursor = connection.cursor()
    try:
        if parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        description = cursor.description
        rows = cursor.fetchall() if description else None
        return description, rows, cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


def _run_many(connection: sqlite3.Connection, operation: str, parameters: Any) -> _Outcome:
    """Execute one statement for each parameter set on the connection's thread."""
    cursor = connection.cursor()
    try:
        cursor.executemany(operation, parameters)
        return cursor.description, None, cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


class OneTripCursor(AsyncAdapt_aiosqlite_cursor):
    """A buffered cursor whose statement is one trip to the connection's thread."""

    __slots__ = ("_description", "_lastrowid", "_rowcount")

    def __init__(self, adapt_connection: Any) -> None:
        # No driver cursor is opened here (SQLAlchemy's would be a trip of its own): each
        # statement opens and closes one on the connection's thread.
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = None  # type: ignore[assignment]  # no driver cursor between statements
        self._soft_closed_memoized = immutabledict()
        self._rows = collections.deque()
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: int | None = None

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> Any:
        return self._lastrowid

    @property
    def arraysize(self) -> int:
        return 1  # sqlite3's default, what fetchmany() without a size fetches

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        pass  # fetchmany() reads from the rows already taken; the size it asks is its own

    async def _async_soft_close(self) -> None:
        return  # the driver's cursor is already closed, its rows already taken

    async def _execute_async(self, operation: Any, parameters: Any) -> None:
        await self._trip(_run, operation, parameters)

    async def _executemany_async(self, operation: Any, seq_of_parameters: Any) -> None:
        await self._trip(_run_many, operation, seq_of_parameters)

    async def _trip(
        self, run: Callable[[sqlite3.Connection, str, Any], _Outcome], operation: Any, params: Any
    ) -> None:
        """Run the statement on the connection's thread; keep what SQLAlchemy reads after."""
        async with self._adapt_connection._execute_mutex:
            outcome = await self._connection._execute(
                run, self._connection._conn, operation, params
            )
        self._description, rows, self._rowcount, self._lastrowid = outcome
        self._rows = collections.deque(rows or ())


class OneTripConnection(AsyncAdapt_aiosqlite_connection):
    """SQLAlchemy's aiosqlite connection adapter, lending one-trip cursors."""

    __slots__ = ()
    _cursor_cls = OneTripCursor


class OneTripModule(AsyncAdapt_aiosqlite_dbapi):
    """SQLAlchemy's aiosqlite DBAPI module, whose connections lend one-trip cursors."""

    def connect(self, *arg: Any, **kw: Any) -> Any:
        adapted = super().connect(*arg, **kw)
        return OneTripConnection(self, adapted._connection)


def one_trip_module() -> OneTripModule | None:
    """The DBAPI module to hand `create_async_engine(module=...)` for aiosqlite, or None to
    keep SQLAlchemy's own (its adapter is not the one this module was written against)."""
    expected = ("_cursor_cls", "_execute_mutex")
    shaped = all(hasattr(AsyncAdapt_aiosqlite_connection, name) for name in expected)
    if not shaped or not hasattr(aiosqlite.Connection, "_execute"):  # pragma: no cover
        log.warning("SQLite: SQLAlchemy's aiosqlite adapter changed; using it as it is")
        return None
    return OneTripModule(aiosqlite, sqlite3)


# ------------------------------------------------ a transaction, or a read, in one trip


def _transaction(connection: sqlite3.Connection, work: Callable[[sqlite3.Connection], T]) -> T:
    """BEGIN IMMEDIATE, the work, COMMIT, on the connection's thread; rolled back on error."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        result = work(connection)
        connection.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise
    return result


async def write_in_one_trip(
    driver_connection: aiosqlite.Connection, work: Callable[[sqlite3.Connection], T]
) -> T:
    """Run `work` in a write transaction as one trip to the connection's thread.

    For the hottest transaction only (the update gate's): its few statements cost a few
    microseconds each in SQLite, and SQLAlchemy's execution around each one (events, result
    objects, the greenlet hop) about 0.3 ms. `work` runs on that thread: plain sqlite3 calls,
    nothing that awaits, no other connection.
    """
    execute: Callable[..., Awaitable[T]] = driver_connection._execute  # untyped in aiosqlite
    return await execute(_transaction, driver_connection._conn, work)


def json_ids(name: str) -> Any:
    """A table (column `value`) of the integers in a JSON array given as the parameter `name`:
    how a PlainStatement takes a list (`IN (SELECT value FROM …)`), one parameter whatever its
    length, so that its SQL is compiled once."""
    return func.json_each(bindparam(name, type_=String)).table_valued("value")


def _read(
    connection: sqlite3.Connection, plain: PlainStatement, values: dict[str, Any]
) -> list[Any]:
    """One statement outside any transaction (SQLite gives it its own snapshot)."""
    return plain.rows(connection, **values)


async def read_in_one_trip(
    driver_connection: aiosqlite.Connection, plain: PlainStatement, values: dict[str, Any]
) -> list[Any]:
    """One read statement's rows, as one trip to the connection's thread."""
    execute: Callable[..., Awaitable[list[Any]]] = driver_connection._execute
    return await execute(_read, driver_connection._conn, plain, values)
