"""Plain statements outside SQLAlchemy's execution: `Database.write_rows` on both backends, and
the asyncpg connections kept for them (replaced when lost, never left broken)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import bindparam, func, insert, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine

from storage.database import Database
from storage.models import ProcessedUpdate
from storage.postgres_driver import KeptConnection
from storage.types import UTCDateTime

# Every value given: a plain statement applies no Python-side column default.
_RECORD = (
    insert(ProcessedUpdate)
    .values(update_id=bindparam("update_id"), processed_at=bindparam("at", type_=UTCDateTime()))
    .returning(ProcessedUpdate.update_id.label("update_id"))
)
_RECORDED_AT = select(ProcessedUpdate.processed_at.label("at")).where(
    ProcessedUpdate.update_id == bindparam("update_id")
)


async def test_write_rows_commits_one_statement_and_gives_its_returning_rows(
    database: Database,
) -> None:
    now = database.clock()
    assert [row.update_id for row in await database.write_rows(_RECORD, update_id=7, at=now)] == [7]
    async with database.read() as session:  # committed: another connection sees it
        found = await session.execute(select(ProcessedUpdate.processed_at))
        assert found.scalar_one() == now
    assert [row.at for row in await database.read_rows(_RECORDED_AT, update_id=7)] == [now]


async def test_a_failed_write_rows_keeps_nothing_and_the_next_one_works(
    database: Database,
) -> None:
    now = database.clock()
    await database.write_rows(_RECORD, update_id=7, at=now)
    with pytest.raises(DBAPIError) as failure:
        await database.write_rows(_RECORD, update_id=7, at=now + timedelta(hours=1))  # taken
    # The database refused the statement; the connection itself is fine and is kept.
    assert not failure.value.connection_invalidated
    assert [row.at for row in await database.read_rows(_RECORDED_AT, update_id=7)] == [now]
    assert len(await database.write_rows(_RECORD, update_id=8, at=now)) == 1


# ------------------------------------------------------------- PostgreSQL's kept connections


@pytest.fixture
def postgres(database: Database) -> Database:
    """The migrated database, on PostgreSQL only."""
    if database.is_sqlite:
        pytest.skip("PostgreSQL only: SQLite's kept connections are tested in test_sqlite_driver")
    return database


async def _terminate(database: Database, kept: KeptConnection) -> None:
    """End the kept connection's session from outside, as a PostgreSQL restart would."""
    async with kept.use() as driver:
        pid = driver.get_server_pid()
    async with database.engine.connect() as other:
        await other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})


async def test_a_read_survives_its_kept_connection_being_terminated(postgres: Database) -> None:
    now = postgres.clock()
    await postgres.write_rows(_RECORD, update_id=7, at=now)
    reader = postgres._postgres_reader
    assert reader is not None
    assert len(await postgres.read_rows(_RECORDED_AT, update_id=7)) == 1
    await _terminate(postgres, reader)
    # Whether or not asyncpg has noticed the end yet, the read answers: a connection found
    # closed is replaced before use, one lost during the statement is tried again once.
    assert [row.at for row in await postgres.read_rows(_RECORDED_AT, update_id=7)] == [now]
    assert reader.replaced == 1


async def test_a_write_on_a_lost_connection_fails_once_and_never_runs_twice(
    postgres: Database,
) -> None:
    writer = postgres._postgres_writer
    assert writer is not None
    now = postgres.clock()
    await postgres.write_rows(_RECORD, update_id=7, at=now)
    await _terminate(postgres, writer)
    failures: list[DBAPIError] = []
    try:
        await postgres.write_rows(_RECORD, update_id=8, at=now)
    except DBAPIError as error:
        failures.append(error)
        await postgres.write_rows(_RECORD, update_id=8, at=now)
    # Lost before asyncpg noticed: failed as a lost connection, not tried again (it could
    # have committed)...
    assert all(failure.connection_invalidated for failure in failures)
    # ...and either way the next statement runs on a new connection, once.
    assert writer.replaced == 1
    assert [row.at for row in await postgres.read_rows(_RECORDED_AT, update_id=8)] == [now]


async def test_a_cancelled_statement_leaves_no_busy_connection(postgres: Database) -> None:
    """A statement cancelled midway (a shutdown, a timeout) is not left running on the kept
    connection: the next one gets a fresh connection instead of "another operation is in
    progress"."""
    reader = postgres._postgres_reader
    assert reader is not None
    sleeping = select(func.pg_sleep(bindparam("seconds")).label("slept"))
    with pytest.raises(TimeoutError):
        # 0.2 s of a 60 s statement: it cannot have finished.
        await asyncio.wait_for(postgres.read_rows(sleeping, seconds=60), 0.2)
    assert reader.replaced == 1
    assert len(await postgres.read_rows(sleeping, seconds=0)) == 1


async def test_an_idle_kept_connection_is_pinged_and_replaced_if_dead(postgres: Database) -> None:
    """A connection idle past the ping delay is pinged before use: one that died meanwhile
    (here terminated, whether or not asyncpg noticed) is replaced, and the statement runs."""
    now = [0.0]
    engine = create_async_engine(postgres.url)
    kept = KeptConnection(engine.connect, ping_after_seconds=10, monotonic=lambda: now[0])
    pings: list[str] = []
    try:
        async with kept.use() as driver:
            assert await driver.fetchval("SELECT 1") == 1
            original = type(driver).execute

            async def counted(self: Any, query: str, *args: Any, **kwargs: Any) -> Any:
                pings.append(query)
                return await original(self, query, *args, **kwargs)

        await _terminate(postgres, kept)
        now[0] += 11
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(type(driver), "execute", counted)
            async with kept.use() as fresh:
                assert await fresh.fetchval("SELECT 2") == 2
        assert kept.replaced == 1
        # Pinged unless asyncpg had already seen the connection closed (then no ping needed).
        assert pings in (["SELECT 1"], [])
    finally:
        await kept.close()
        await engine.dispose()
