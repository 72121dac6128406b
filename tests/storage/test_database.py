"""The database wrapper behaves the same on SQLite and PostgreSQL where it matters."""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import os
import sqlite3
import stat
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import aiosqlite
import pytest
from sqlalchemy import bindparam, or_, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.pool import QueuePool

from bot.domain.vocabulary import Role
from bot.services.members import MemberService, TelegramIdentity
from storage import members as member_store
from storage import migrate
from storage.database import (
    SQLITE_CACHED_STATEMENTS,
    SQLITE_SOFT_HEAP_LIMIT_BYTES,
    Database,
    ReadOnlySessionError,
)
from storage.models import HelpRequest, Member, MemberRole, Skill
from testkit.clock import ManualClock
from tests.conftest import fresh_database_url


async def test_sqlite_connections_use_wal_foreign_keys_and_a_busy_timeout(
    sqlite_database: Database,
) -> None:
    async with sqlite_database.read() as session:
        journal = (await session.execute(text("PRAGMA journal_mode"))).scalar_one()
        foreign_keys = (await session.execute(text("PRAGMA foreign_keys"))).scalar_one()
        busy_timeout = (await session.execute(text("PRAGMA busy_timeout"))).scalar_one()
    assert (journal, foreign_keys) == ("wal", 1)
    assert busy_timeout >= 5000


async def test_sqlite_page_caches_share_one_bounded_heap(sqlite_database: Database) -> None:
    """Six connections each reading 16 MB would cache 6 MiB of pages; the process-wide soft
    heap limit keeps SQLite's heap near 4 MiB however many connections the pool opens."""
    library = ctypes.CDLL(ctypes.util.find_library("sqlite3") or "libsqlite3.so.0")
    library.sqlite3_memory_used.restype = ctypes.c_int64
    async with sqlite_database.transaction() as session:
        await session.execute(text("CREATE TABLE filler (id INTEGER PRIMARY KEY, data BLOB)"))
        await session.execute(
            text(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 4000)"
                " INSERT INTO filler (data) SELECT randomblob(4000) FROM n"
            )
        )
    # What the process holds already (this writer's cache; another test's leftovers).
    before = library.sqlite3_memory_used()
    scanned = asyncio.Event()
    sizes: list[int] = []
    heap: list[int] = []

    async def read_everything() -> None:
        async with sqlite_database.read() as session:
            total = "SELECT sum(length(data)) FROM filler"
            sizes.append((await session.execute(text(total))).scalar_one())
            if len(sizes) == 6:
                heap.append(library.sqlite3_memory_used())  # six connections, six caches
                scanned.set()
            await scanned.wait()  # every connection stays open, its cache full, until all read

    await asyncio.gather(*(read_everything() for _ in range(6)))

    assert sizes == [16_000_000] * 6
    # Without the limit, five more connections' pages: 5 MiB on top of what was there.
    assert heap[0] < max(before, SQLITE_SOFT_HEAP_LIMIT_BYTES) + 1024 * 1024, (before, heap)


async def test_an_sqlite_connection_keeps_a_bounded_number_of_prepared_statements(
    sqlite_database: Database,
) -> None:
    """A hundred different wide SELECTs on one connection: each stays prepared only while it is
    among the last SQLITE_CACHED_STATEMENTS used (Python's default would keep 128)."""
    library = ctypes.CDLL(ctypes.util.find_library("sqlite3") or "libsqlite3.so.0")
    library.sqlite3_memory_used.restype = ctypes.c_int64
    columns = ", ".join(f"members.{column.name}" for column in Member.__table__.columns)
    columns += ", " + ", ".join(
        f"requests.{column.name}" for column in HelpRequest.__table__.columns
    )

    async def prepare(count: int, offset: int) -> int:
        """SQLite's heap growth while one connection prepares `count` new statements."""
        async with sqlite_database.read() as session:
            before = library.sqlite3_memory_used()
            for shape in range(offset, offset + count):
                # Built here from the models' column names and a number: nothing typed in.
                sql = f"SELECT {columns} FROM members JOIN requests ON requests.referent_id = "  # noqa: S608
                sql += f"members.id WHERE {shape} = {shape}"
                await session.execute(text(sql))
            return library.sqlite3_memory_used() - before

    kept = await prepare(SQLITE_CACHED_STATEMENTS, 0)
    more = await prepare(100, 1000)
    # The cache was full: a hundred more statements replaced 32, they did not add 100.
    assert kept > SQLITE_CACHED_STATEMENTS * 5_000, kept  # they do take room
    assert more < kept * 1.5, (kept, more)


async def test_sqlite_writers_queue_instead_of_failing_busy(sqlite_database: Database) -> None:
    """Forty read-then-write transactions at once all succeed and none loses an increment."""
    async with sqlite_database.transaction() as session:
        session.add(Skill(code="counter", label="counter"))

    async def read_then_write() -> None:
        async with sqlite_database.transaction() as session:
            skill = (
                await session.execute(select(Skill).where(Skill.code == "counter"))
            ).scalar_one()
            await asyncio.sleep(0)  # give the other writers every chance to interleave
            skill.label = str(int(skill.label) + 1) if skill.label.isdigit() else "1"

    await asyncio.gather(*(read_then_write() for _ in range(40)))
    async with sqlite_database.read() as session:
        label = (
            await session.execute(select(Skill.label).where(Skill.code == "counter"))
        ).scalar_one()
    assert label == "40"


async def test_an_sqlite_connection_is_rolled_back_on_return_only_inside_a_transaction(
    sqlite_database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A transaction that ended costs no second rollback when its connection goes back to the
    pool; one left open (begun under SQLAlchemy's nose) is rolled back there: its write is
    undone and the write lock is free for the next writer."""
    rollbacks: list[object] = []
    original = aiosqlite.Connection.rollback

    async def counted(self: aiosqlite.Connection) -> None:
        rollbacks.append(self)
        await original(self)

    monkeypatch.setattr(aiosqlite.Connection, "rollback", counted)
    async with sqlite_database.transaction() as session:
        session.add(Skill(code="kept", label="kept"))
    async with sqlite_database.read() as session:
        await session.execute(select(Skill.code))
    assert len(rollbacks) == 1  # the read's own end; none for the committed write

    async with sqlite_database.engine.connect() as connection:
        raw = await connection.get_raw_connection()
        driver = raw.driver_connection
        assert driver is not None
        await driver.execute("BEGIN IMMEDIATE")
        await driver.execute("UPDATE skills SET label = 'changed' WHERE code = 'kept'")
        assert driver.in_transaction
    assert len(rollbacks) == 2  # the pool's reset, for the transaction left open
    assert not driver.in_transaction

    async with sqlite_database.transaction() as session:  # the write lock is free
        session.add(Skill(code="next", label="next"))
    async with sqlite_database.read() as session:
        rows = (await session.execute(select(Skill.code, Skill.label))).all()
    labels = {code: label for code, label in rows}
    assert labels["kept"] == "kept"
    assert labels["next"] == "next"


async def test_datetimes_come_back_aware_and_equal(database: Database) -> None:
    paris = timezone(timedelta(hours=1))
    moment = datetime(2026, 11, 22, 9, 30, tzinfo=paris)
    async with database.transaction() as session:
        session.add(Member(telegram_id=1, display_name="Ana", paused_until=moment))
    async with database.read() as session:
        stored = (await session.execute(select(Member.paused_until))).scalar_one()
    assert stored == moment
    assert stored is not None
    assert stored.tzinfo == UTC


async def test_naive_datetimes_are_refused(database: Database) -> None:
    with pytest.raises(Exception, match="naive datetime"):
        async with database.transaction() as session:
            session.add(Member(telegram_id=2, display_name="Bo", paused_until=datetime(2026, 1, 1)))


async def test_the_schema_refuses_more_claims_than_places(database: Database) -> None:
    async with database.transaction() as session:
        skill = Skill(code="test_roofing", label="Roofing")
        session.add(skill)
        await session.flush()
        session.add(HelpRequest(skill_id=skill.id, latitude=48.0, longitude=2.0, places_needed=2))
    with pytest.raises(IntegrityError):
        async with database.transaction() as session:
            await session.execute(update(HelpRequest).values(places_taken=3))


async def test_foreign_keys_are_enforced(database: Database) -> None:
    with pytest.raises(IntegrityError):
        async with database.transaction() as session:
            session.add(MemberRole(member_id=999, role=Role.REFERENT))


async def test_first_contacts_at_once_create_one_member(database: Database) -> None:
    """Ten updates from one new person handled concurrently make a single member, one role."""
    service = MemberService(database, coordinator_ids=[42])
    who = TelegramIdentity(telegram_id=42, first_name="Claire", language_code="fr-FR")
    profiles = await asyncio.gather(*(service.identify(who) for _ in range(10)))
    assert {profile.id for profile in profiles} == {profiles[0].id}
    assert all(profile.roles == {Role.COORDINATOR} for profile in profiles)
    async with database.read() as session:
        members = (await session.execute(select(Member))).scalars().all()
        roles = (await session.execute(select(MemberRole))).scalars().all()
    assert [m.telegram_id for m in members] == [42]
    assert [(r.member_id, r.role) for r in roles] == [(profiles[0].id, Role.COORDINATOR)]


async def test_a_failed_use_case_leaves_nothing_behind(database: Database) -> None:
    async def failing_use_case() -> None:
        async with database.transaction() as session:
            session.add(Member(telegram_id=7, display_name="Dora"))
            await session.flush()
            raise RuntimeError("the use case failed after writing")

    with pytest.raises(RuntimeError):
        await failing_use_case()
    async with database.read() as session:
        assert (await session.execute(select(Member))).scalars().all() == []


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The common default umask (022), under which files are created world-readable."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.usefixtures("open_umask")
async def test_the_sqlite_folder_and_files_are_private(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    database = Database(f"sqlite+aiosqlite:///{folder / 'brigade.sqlite3'}", clock=ManualClock())
    try:
        await migrate.upgrade(database)
        async with database.transaction() as session:
            session.add(Member(telegram_id=1, display_name="Odette"))
        files = [folder / name for name in ("brigade.sqlite3", "brigade.sqlite3-wal")]
        files.append(folder / "brigade.sqlite3-shm")
        assert all(path.exists() for path in files)
        assert _mode(folder) == 0o700
        assert {path.name: _mode(path) for path in files} == {path.name: 0o600 for path in files}
    finally:
        await database.dispose()


@pytest.mark.usefixtures("open_umask")
def test_files_left_readable_by_an_older_version_are_closed(tmp_path: Path) -> None:
    tmp_path.chmod(0o755)
    path = tmp_path / "brigade.sqlite3"
    sqlite3.connect(path).close()
    path.chmod(0o644)
    Database(f"sqlite+aiosqlite:///{path}", clock=ManualClock())  # connects lazily: no dispose
    assert _mode(path) == 0o600
    assert _mode(tmp_path) == 0o755  # someone else's folder: only warned about


async def test_identities_of_reads_several_members_and_their_roles_in_one_statement(
    database: Database,
) -> None:
    async with database.transaction() as session:
        ana = Member(telegram_id=11, display_name="Ana")
        bob = Member(telegram_id=12, display_name="Bob")
        session.add_all([ana, bob])
        await session.flush()
        session.add_all(
            [
                MemberRole(member_id=ana.id, role=Role.COORDINATOR),
                MemberRole(member_id=ana.id, role=Role.REFERENT),
            ]
        )
    async with database.core_transaction() as connection:
        found = await member_store.identities_of(connection, [11, 12, 13, 11])
    assert set(found) == {11, 12}  # 13 is nobody: no key
    assert found[11].roles == {Role.COORDINATOR, Role.REFERENT}
    assert found[11].display_name == "Ana"
    assert found[12].roles == frozenset()
    async with database.read() as session:
        assert await member_store.identity_of(session, 11) == found[11]


async def test_the_pool_opens_the_connections_it_keeps_at_once(database: Database) -> None:
    """`fill_pool` (called once the bot has started) leaves the pool holding as many open
    connections as it keeps, and they serve reads and writes as before."""
    await database.dispose()
    pool = database.engine.pool
    assert isinstance(pool, QueuePool)
    assert pool.checkedin() == 0
    assert await database.fill_pool() == pool.size() == pool.checkedin() > 1
    async with database.transaction() as session:
        session.add(Skill(code="filled_pool", label="Filled pool"))
    async with database.read() as session:
        codes = (await session.execute(select(Skill.code))).scalars().all()
    assert "filled_pool" in codes


@pytest.fixture
async def postgres_url(tmp_path: Path) -> AsyncIterator[str]:
    """A fresh PostgreSQL database (skipped without BRIGADE_TEST_POSTGRES_URL)."""
    async for url in fresh_database_url("postgres", tmp_path):
        yield url


async def _backend_pid(database: Database) -> int:
    async with database.read() as session:
        return int((await session.execute(text("SELECT pg_backend_pid()"))).scalar_one())


async def _terminate(url: str, pid: int) -> None:
    """Cut a backend's connection from another one, as a PostgreSQL restart would."""
    killer = Database(url, clock=ManualClock())
    try:
        async with killer.read() as session:
            await session.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    finally:
        await killer.dispose()


def _count_pings(database: Database, monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """The connections the pool pings from now on (the list fills as it does)."""
    pings: list[object] = []
    ping = database.engine.dialect.do_ping
    monkeypatch.setattr(database.engine.dialect, "do_ping", lambda c: pings.append(c) or ping(c))
    return pings


async def test_a_postgres_connection_back_from_idle_is_pinged_and_replaced_if_dead(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every connection counts as idle: each checkout pings.
    database = Database(postgres_url, clock=ManualClock(), ping_after_idle_seconds=0)
    pings = _count_pings(database, monkeypatch)
    try:
        first = await _backend_pid(database)
        assert pings == []  # a connection just opened is not pinged
        await _terminate(postgres_url, first)
        # The dead connection is found by its ping and replaced: the read goes through.
        again = await _backend_pid(database)
        assert again != first
        assert len(pings) == 1
    finally:
        await database.dispose()


async def test_a_postgres_connection_in_use_is_lent_without_a_ping(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A crowd's transactions pay no ping round trip; a connection killed meanwhile fails its
    next transaction once, and the one after gets a new connection."""
    database = Database(postgres_url, clock=ManualClock(), ping_after_idle_seconds=3600)
    pings = _count_pings(database, monkeypatch)
    try:
        first = await _backend_pid(database)
        assert [await _backend_pid(database) for _ in range(5)] == [first] * 5
        assert pings == []
        await _terminate(postgres_url, first)
        with pytest.raises(DBAPIError) as failed:
            await _backend_pid(database)
        assert failed.value.connection_invalidated
        assert await _backend_pid(database) != first
        assert pings == []
    finally:
        await database.dispose()


async def test_reads_on_postgresql_are_autocommit_statements_and_writes_transactions(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read costs its statements only on PostgreSQL (no BEGIN, no ROLLBACK round trip: READ
    COMMITTED takes a snapshot per statement anyway); a writer still gets a transaction."""
    if database.is_sqlite:
        pytest.skip("PostgreSQL only: SQLite's read is its snapshot (see the test below)")
    import asyncpg.transaction

    begun: list[object] = []
    original = asyncpg.transaction.Transaction.start

    async def counted(self: asyncpg.transaction.Transaction) -> None:
        begun.append(self)
        await original(self)

    monkeypatch.setattr(asyncpg.transaction.Transaction, "start", counted)
    async with database.transaction() as session:
        session.add(Skill(code="seen", label="Seen"))
    assert len(begun) == 1
    async with database.read() as session:
        labels = (await session.execute(select(Skill.label).where(Skill.code == "seen"))).all()
        count = (await session.execute(select(Skill.id))).all()
    assert labels == [("Seen",)]
    assert count
    assert len(begun) == 1  # the read began none
    async with database.transaction() as session:  # and writers are unchanged by it
        skill = (await session.execute(select(Skill).where(Skill.code == "seen"))).scalar_one()
        skill.label = "Seen again"
    assert len(begun) == 2
    async with database.read() as session:
        label = (await session.execute(select(Skill.label).where(Skill.code == "seen"))).scalar()
    assert label == "Seen again"


async def test_an_sqlite_read_sees_one_snapshot(sqlite_database: Database) -> None:
    """SQLite's reading session keeps its transaction: a write committed between two of its
    statements is not seen by the second."""
    async with sqlite_database.transaction() as session:
        session.add(Skill(code="snap", label="before"))
    async with sqlite_database.read() as session:
        first = (await session.execute(select(Skill.label).where(Skill.code == "snap"))).scalar()
        async with sqlite_database.transaction() as writer:
            await writer.execute(update(Skill).where(Skill.code == "snap").values(label="after"))
        second = (await session.execute(select(Skill.label).where(Skill.code == "snap"))).scalar()
    assert (first, second) == ("before", "before")


async def test_a_reading_session_refuses_to_write_and_never_flushes(database: Database) -> None:
    """On PostgreSQL a read is autocommit: a write slipped into it would be committed at once.
    So a reading session refuses writes, on both backends, and an object changed while reading
    is never written."""
    async with database.transaction() as session:
        session.add(Skill(code="kept", label="Kept"))
    with pytest.raises(ReadOnlySessionError):
        async with database.read() as session:
            await session.execute(update(Skill).where(Skill.code == "kept").values(label="x"))
    async with database.read() as session:
        session.add(Skill(code="added", label="Added"))
        with pytest.raises(ReadOnlySessionError):
            await session.flush()
    async with database.read() as session:
        skill = (await session.execute(select(Skill).where(Skill.code == "kept"))).scalar_one()
        skill.label = "Changed for display"
        # Another query: no autoflush writes the change first.
        count = len((await session.execute(select(Skill.id))).all())
    assert count > 0
    async with database.read() as session:
        rows = (
            await session.execute(select(Skill.code, Skill.label).where(Skill.code != "x"))
        ).all()
    labels = dict(rows)
    assert labels["kept"] == "Kept"
    assert "added" not in labels


async def test_read_rows_gives_plain_columns_typed_as_the_orm_would(database: Database) -> None:
    """Rows by column key, with the columns' types (an enum, a boolean, an aware datetime) and
    constants written in the statement (`in_` of a tuple), on both backends."""
    async with database.transaction() as session:
        session.add_all(
            [
                Member(telegram_id=11, display_name="Ana", reachable=False),
                Member(telegram_id=12, display_name="Bob"),
            ]
        )
        await session.flush()
        session.add(
            MemberRole(
                member_id=(
                    await session.execute(select(Member.id).where(Member.telegram_id == 11))
                ).scalar_one(),
                role=Role.REFERENT,
            )
        )
    statement = (
        select(
            Member.display_name.label("name"),
            Member.reachable.label("reachable"),
            Member.updated_at.label("updated_at"),
            MemberRole.role.label("role"),
        )
        .outerjoin(MemberRole, MemberRole.member_id == Member.id)
        .where(
            Member.telegram_id == bindparam("telegram_id"),
            Member.updated_at <= bindparam("seen_by"),  # a datetime compared as stored
            or_(MemberRole.role.is_(None), MemberRole.role.in_((Role.REFERENT, Role.COORDINATOR))),
        )
    )
    now = database.clock()
    assert await database.read_rows(statement, telegram_id=11, seen_by=now - timedelta(0, 1)) == []
    (ana,) = await database.read_rows(statement, telegram_id=11, seen_by=now)
    assert (ana.name, ana.reachable, ana.role) == ("Ana", False, Role.REFERENT)
    assert ana.role is Role.REFERENT
    assert ana.updated_at.tzinfo is not None
    (bob,) = await database.read_rows(statement, telegram_id=12, seen_by=now)
    assert (bob.name, bob.reachable, bob.role) == ("Bob", True, None)
    assert await database.read_rows(statement, telegram_id=13, seen_by=now) == []
