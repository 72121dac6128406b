"""The SQLite driver: one trip to the connection's thread per statement, same answers."""

from __future__ import annotations

from typing import Any

import aiosqlite
import pytest
from sqlalchemy import func, insert, select, text, update
from sqlalchemy.exc import IntegrityError

from storage.database import Database
from storage.models import Skill
from storage.sqlite_driver import OneTripCursor, one_trip_module


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
