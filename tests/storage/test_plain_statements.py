"""Plain statements outside SQLAlchemy's execution: `Database.write_rows` on both backends, the
update gate's one statement on PostgreSQL, and the asyncpg connections kept for them (replaced
when lost, never left broken)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import bindparam, func, insert, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine

from bot.domain.vocabulary import Role
from bot.updates import _admit, _admit_alone, _Arrival
from storage import members as member_store
from storage import updates as update_store
from storage.database import Database
from storage.models import Member, MemberRole, ProcessedUpdate
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


async def test_the_gate_in_one_statement_admits_as_its_transaction_did(
    database: Database,
) -> None:
    """`_admit_alone` (PostgreSQL: one statement) against `_admit` (a transaction of three):
    the same new ids and the same identities, for a batch with a retry racing its original,
    a member with two roles, one without, a stranger and an update without a sender."""
    if database.is_sqlite:
        pytest.skip("PostgreSQL only: SQLite has no data-modifying CTE (it has its own trip)")
    now = database.clock()
    async with database.transaction() as session:
        ana = Member(telegram_id=11, display_name="Ana")
        session.add_all([ana, Member(telegram_id=12, display_name="Bob")])
        await session.flush()
        session.add_all(
            [
                MemberRole(member_id=ana.id, role=Role.REFERENT),
                MemberRole(member_id=ana.id, role=Role.COORDINATOR),
            ]
        )
        session.add(ProcessedUpdate(update_id=5, processed_at=now - timedelta(days=8)))
        session.add(ProcessedUpdate(update_id=6, processed_at=now))

    def batch(offset: int) -> list[_Arrival]:
        return [
            _Arrival(offset + 1, 11),
            _Arrival(offset + 2, 12),
            _Arrival(offset + 2, 12),  # a retry racing its original
            _Arrival(offset + 3, None),  # no sender (a channel post)
            _Arrival(offset + 4, 99),  # nobody Brigade knows
            _Arrival(6, 12),  # handled already: its sender is not read for it
        ]

    alone = await _admit_alone(database, batch(100), now, now - timedelta(days=3))
    together = await _admit(database, batch(200), now, None)
    assert alone[0] == 1  # update 5, older than the keep, pruned first
    assert alone[1] == {101, 102, 103, 104}
    assert together[1] == {201, 202, 203, 204}
    assert alone[2] == together[2]
    assert set(alone[2]) == {11, 12}
    assert alone[2][11].roles == {Role.REFERENT, Role.COORDINATOR}
    assert alone[2][12].roles == frozenset()
    async with database.read() as session:
        expected = await member_store.identities_of(session, [11, 12])
    assert alone[2] == expected
    # A batch of nothing new reads nobody.
    assert await _admit_alone(database, [_Arrival(101, 11)], now, None) == (0, set(), {})
    rows = await database.write_rows(update_store.PRUNE, older_than=now + timedelta(seconds=1))
    assert len(rows) == 9  # 6, the eight new ones (5 was pruned)


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
