"""The SQLite driver: one trip to the connection's thread per statement, same answers; the
update gate's transaction and a single read in one trip, with what SQLAlchemy would give."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from sqlalchemy import bindparam, func, insert, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.pool import QueuePool

from bot.domain.vocabulary import Role, VolunteerStatus
from bot.updates import UpdateGate, _Arrival
from storage import members as member_store
from storage import migrate
from storage import updates as update_store
from storage.database import Database
from storage.models import Member, MemberRole, ProcessedUpdate, Skill
from storage.sqlite_driver import OneTripCursor, one_trip_module
from testkit.clock import ManualClock


@pytest.fixture
def trips(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The name of each function sent to an aiosqlite connection's thread, in order."""
    sent: list[str] = []
    original = aiosqlite.Connection._execute

    async def counted(self: aiosqlite.Connection, fn: Any, *args: Any, **kwargs: Any) -> Any:
        sent.append(getattr(fn, "__name__", repr(fn)))
        return await original(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
    return sent


def test_the_installed_sqlalchemy_takes_the_one_trip_driver() -> None:
    """The fallback to SQLAlchemy's own driver is for an adapter this module does not know."""
    assert one_trip_module() is not None


async def test_a_transaction_costs_one_trip_per_statement(
    sqlite_database: Database, trips: list[str]
) -> None:
    """BEGIN, each statement and the end are one trip each (a SELECT was four, BEGIN three)."""
    await sqlite_database.engine.dispose()  # connections opened from here on are counted
    async with sqlite_database.transaction() as session:
        session.add(Skill(code="fuses", label="Fuses"))
    trips.clear()  # the connection's opening (pragmas) is not a statement of the transaction

    async with sqlite_database.transaction() as session:
        await session.execute(update(Skill).where(Skill.code == "fuses").values(label="Fusibles"))
    assert trips == ["_run", "_run", "commit"]  # BEGIN IMMEDIATE, UPDATE, COMMIT

    trips.clear()
    async with sqlite_database.read() as session:
        label = (await session.execute(select(Skill.label).where(Skill.code == "fuses"))).scalar()
    assert label == "Fusibles"
    assert trips == ["_run", "_run", "rollback"]  # BEGIN, SELECT, the read's end


async def test_rows_counts_and_keys_come_back_as_sqlite_gives_them(
    sqlite_database: Database,
) -> None:
    """Row counts, new keys, many rows, many parameter sets and empty results."""
    async with sqlite_database.engine.begin() as connection:
        raw = await connection.get_raw_connection()
        assert isinstance(raw.dbapi_connection.cursor(), OneTripCursor)  # type: ignore[union-attr]
        before = (await connection.execute(select(func.count()).select_from(Skill))).scalar_one()
        inserted = await connection.execute(
            insert(Skill).values(code="one", label="One", created_at=sqlite_database.clock())
        )
        assert inserted.inserted_primary_key is not None
        assert inserted.inserted_primary_key[0] > 0  # lastrowid
        many = [
            {"code": f"many{i}", "label": f"Many {i}", "created_at": sqlite_database.clock()}
            for i in range(5)
        ]
        await connection.execute(text("SELECT 1"))
        await connection.execute(insert(Skill), many)  # executemany
        changed = await connection.execute(
            update(Skill).where(Skill.code.like("many%")).values(label="Lots")
        )
        assert changed.rowcount == 5
        rows = (await connection.execute(select(Skill.code).order_by(Skill.code))).all()
        assert len(rows) == before + 6
        assert {"one", "many0", "many4"} <= {code for (code,) in rows}
        partial = await connection.execute(select(Skill.code).where(Skill.label == "Lots"))
        assert len(partial.fetchmany(2)) == 2
        assert len(partial.fetchall()) == 3
        empty = await connection.execute(select(Skill.code).where(Skill.code == "none"))
        assert empty.all() == []
        assert list(empty.keys()) == ["code"]  # described though empty


async def test_errors_keep_their_sqlalchemy_types(sqlite_database: Database) -> None:
    """A constraint broken on the connection's thread is still an IntegrityError, and the
    connection stays usable."""
    async with sqlite_database.transaction() as session:
        session.add(Skill(code="taps", label="Taps"))
    with pytest.raises(IntegrityError):
        async with sqlite_database.transaction() as session:
            session.add(Skill(code="taps", label="Taps again"))
    async with sqlite_database.read() as session:
        labels = (await session.execute(select(Skill.label).where(Skill.code == "taps"))).all()
    assert labels == [("Taps",)]


# --------------------------------------------------------------- a transaction in one trip


async def test_the_update_gate_records_a_batch_in_one_trip(
    sqlite_database: Database, trips: list[str]
) -> None:
    """Prune, insert, identities, BEGIN and COMMIT: one function on the connection's thread
    (through SQLAlchemy: a trip for each of the five)."""
    gate = UpdateGate()
    arrivals = [_Arrival(1, 11), _Arrival(2, 12)]
    await gate._record(sqlite_database, arrivals)  # opens the connection the trips keep
    trips.clear()
    admissions = await gate._record(sqlite_database, [_Arrival(3, 11), _Arrival(1, 11)])
    assert trips == ["_transaction"]
    assert [admission.fresh for admission in admissions] == [True, False]


async def test_plain_statements_read_and_write_what_sqlalchemy_does(
    sqlite_database: Database, clock: ManualClock
) -> None:
    """Identities (roles, an enum, a boolean, an aware datetime) equal `identities_of`'s; update
    rows written either way compare alike, so a prune sees both."""
    now = clock()
    async with sqlite_database.transaction() as session:
        ana = Member(telegram_id=11, display_name="Ana", volunteer_status=VolunteerStatus.APPROVED)
        bob = Member(telegram_id=12, display_name="Bob", reachable=False)
        session.add_all([ana, bob])
        await session.flush()
        session.add_all(
            [
                MemberRole(member_id=ana.id, role=Role.COORDINATOR),
                MemberRole(member_id=ana.id, role=Role.REFERENT),
            ]
        )
        session.add(ProcessedUpdate(update_id=7, processed_at=now - timedelta(days=8)))
    async with sqlite_database.core_transaction() as connection:
        expected = await member_store.identities_of(connection, [11, 12, 13])
    dialect = sqlite_database.engine.dialect

    def work(connection: sqlite3.Connection) -> tuple[Any, ...]:
        found = member_store.identities_plain(connection, dialect, [11, 12, 13, 11])
        first = update_store.claim_updates_plain(connection, dialect, [8, 9, 8], now)
        again = update_store.claim_updates_plain(connection, dialect, [9, 10], now)
        return found, first, again

    found, first, again = await sqlite_database.write_in_one_trip(work)
    assert found == expected
    assert set(found) == {11, 12}
    assert found[11].roles == {Role.COORDINATOR, Role.REFERENT}
    assert found[11].volunteer_status is VolunteerStatus.APPROVED
    assert found[12].reachable is False
    assert found[11].updated_at.tzinfo is not None
    assert (first, again) == ({8, 9}, {10})

    clock.advance(timedelta(days=4))

    def prune(connection: sqlite3.Connection) -> int:
        return update_store.prune_plain(connection, dialect, clock() - timedelta(days=3))

    # Id 7 (written by the ORM, 12 days old) and 8–10 (written plainly, 4 days old): all four.
    assert await sqlite_database.write_in_one_trip(prune) == 4
    async with sqlite_database.read() as session:
        left = await session.execute(select(func.count()).select_from(ProcessedUpdate))
    assert left.scalar_one() == 0


async def test_a_failed_one_trip_write_leaves_nothing_and_the_next_one_works(
    sqlite_database: Database, clock: ManualClock
) -> None:
    """Rolled back on the thread, raised as SQLAlchemy's error (the gate fails open on it)."""
    dialect = sqlite_database.engine.dialect

    def half_then_broken(connection: sqlite3.Connection) -> None:
        update_store.claim_updates_plain(connection, dialect, [1], clock())
        connection.execute("INSERT INTO no_such_table VALUES (1)")

    with pytest.raises(DBAPIError):
        await sqlite_database.write_in_one_trip(half_then_broken)

    def claim(connection: sqlite3.Connection) -> set[int]:
        return update_store.claim_updates_plain(connection, dialect, [1], clock())

    assert await sqlite_database.write_in_one_trip(claim) == {1}  # id 1 was not kept before


async def test_the_kept_connection_is_closed_with_the_database(tmp_path: Path) -> None:
    """One pooled connection is kept for the trips, and handed back on dispose."""
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'b.sqlite3'}", clock=ManualClock())
    await migrate.upgrade(database)
    pool = database.engine.pool
    assert isinstance(pool, QueuePool)
    await database.write_in_one_trip(lambda connection: connection.execute("SELECT 1"))
    await database.write_in_one_trip(lambda connection: connection.execute("SELECT 1"))
    assert pool.checkedout() == 1
    await database.dispose()
    assert pool.checkedout() == 0


async def test_a_read_of_plain_columns_is_one_trip_and_never_waits_for_a_writer(
    sqlite_database: Database, trips: list[str]
) -> None:
    """`read_rows`: one trip on a connection of its own, so a write holding SQLite's lock (the
    gate's, a winner's claim) does not hold it up; WAL shows it the last committed state."""
    async with sqlite_database.transaction() as session:
        session.add(Skill(code="taps", label="Taps"))
    statement = select(Skill.label.label("label"), Skill.created_at.label("created_at")).where(
        Skill.code == bindparam("code")
    )
    await sqlite_database.read_rows(statement, code="taps")  # opens the connection it keeps
    trips.clear()
    async with sqlite_database.transaction() as session:
        await session.execute(update(Skill).where(Skill.code == "taps").values(label="Robinets"))
        # The write lock is held until this block ends: the read still answers at once.
        rows = await asyncio.wait_for(sqlite_database.read_rows(statement, code="taps"), 30)
        assert [row.label for row in rows] == ["Taps"]
        assert rows[0].created_at.tzinfo is not None
        assert trips.count("_read") == 1
    rows = await sqlite_database.read_rows(statement, code="taps")
    assert [row.label for row in rows] == ["Robinets"]
    with pytest.raises(TypeError, match="expected the parameters"):
        await sqlite_database.read_rows(statement, kode="taps")
