"""Shared fixtures: real databases (a SQLite file, a fresh PostgreSQL database) and settings.

PostgreSQL tests run when BRIGADE_TEST_POSTGRES_URL points at a server (CI sets it to the local
server on 127.0.0.1:5432). With BRIGADE_REQUIRE_POSTGRES=1 (also set by CI) a missing server is
a failure, not a skip, so the PostgreSQL half of the suite cannot silently vanish.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from bot.settings import Settings
from storage import migrate
from storage.database import Database
from testkit.clock import ManualClock
from testkit.harness import TEST_TOKEN, InProcessBrigade, brigade_settings, sqlite_url
from testkit.telegram import FakeTelegram

POSTGRES_URL = os.environ.get("BRIGADE_TEST_POSTGRES_URL", "")
REQUIRE_POSTGRES = os.environ.get("BRIGADE_REQUIRE_POSTGRES") == "1"
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def _postgres_or_skip() -> str:
    if POSTGRES_URL:
        return POSTGRES_URL
    if REQUIRE_POSTGRES:
        pytest.fail("BRIGADE_REQUIRE_POSTGRES=1 but BRIGADE_TEST_POSTGRES_URL is not set")
    pytest.skip("BRIGADE_TEST_POSTGRES_URL is not set")


async def _admin_execute(sql: str) -> None:
    import asyncpg

    url = make_url(POSTGRES_URL)
    connection = await asyncpg.connect(
        host=url.host or "127.0.0.1",
        port=url.port or 5432,
        user=url.username or "postgres",
        password=url.password,
        database=url.database or "postgres",
    )
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


def _postgres_url(name: str) -> str:
    return make_url(_postgres_or_skip()).set(database=name).render_as_string(hide_password=False)


# Migrated PostgreSQL databases that test databases are copied from (CREATE DATABASE … TEMPLATE),
# by the migration's time: migrations stamp the rows they seed with the clock (the skills
# catalogue), so a test's copy must come from a template migrated at its own clock's time.
# Copying costs a fresh database's creation; migrating every one cost as much again (0.3–0.5 s,
# 268 PostgreSQL tests). Dropped when the session ends.
_postgres_templates: dict[datetime, str] = {}


async def _postgres_template(clock: ManualClock) -> str:
    """The name of a database migrated to the newest revision at `clock`'s time."""
    migrated_at = clock()
    name = _postgres_templates.get(migrated_at)
    if name is None:
        name = f"brigade_template_{uuid.uuid4().hex[:12]}"
        await _admin_execute(f'CREATE DATABASE "{name}"')
        template = Database(_postgres_url(name), clock=clock)
        try:
            await migrate.upgrade(template)
        finally:
            await template.dispose()  # a template is copied only while nobody is connected
        _postgres_templates[migrated_at] = name
    return name


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Drop the PostgreSQL templates this session made."""
    names = list(_postgres_templates.values())
    _postgres_templates.clear()
    for name in names:
        asyncio.run(_admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def fresh_database_url(
    backend: str, tmp_path: Path, *, migrated_with: ManualClock | None = None
) -> AsyncIterator[str]:
    """Yield the URL of an empty database of the given backend, removed afterwards; with
    `migrated_with`, a PostgreSQL database already migrated with that clock instead."""
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'brigade.sqlite3'}"
        return
    _postgres_or_skip()
    name = f"brigade_test_{uuid.uuid4().hex[:12]}"
    if migrated_with is None:
        await _admin_execute(f'CREATE DATABASE "{name}"')
    else:
        template = await _postgres_template(migrated_with)
        await _admin_execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    try:
        yield _postgres_url(name)
    finally:
        await _admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """Each test using it runs once on SQLite and once on PostgreSQL."""
    return str(request.param)


@pytest.fixture
async def database_url(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[str]:
    """An empty database on the backend under test (on PostgreSQL, already migrated when the
    test also takes `database`, which would migrate it, on a clock that does not tick: see
    _postgres_template)."""
    migrated_with = None
    if "database" in request.fixturenames:
        clock = request.getfixturevalue("clock")
        # A ticking clock's time differs from test to test: no template would be shared.
        if not clock.ticking:
            migrated_with = clock
    async for url in fresh_database_url(backend, tmp_path, migrated_with=migrated_with):
        yield url


@pytest.fixture
def clock() -> ManualClock:
    """The clock of the test's database: frozen on a fixed date until the test moves it."""
    return ManualClock()


@pytest.fixture
async def database(database_url: str, clock: ManualClock) -> AsyncIterator[Database]:
    """A migrated database on the backend under test, on the test's clock."""
    db = Database(database_url, clock=clock)
    await migrate.upgrade(db)
    try:
        yield db
    finally:
        await db.dispose()


@pytest.fixture
async def sqlite_database(tmp_path: Path, clock: ManualClock) -> AsyncIterator[Database]:
    """A migrated SQLite database, for tests that need no PostgreSQL twin."""
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'brigade.sqlite3'}", clock=clock)
    await migrate.upgrade(db)
    try:
        yield db
    finally:
        await db.dispose()


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No BRIGADE_* variable and no .env file leak into the test from the machine."""
    for key in list(os.environ):
        if key.startswith("BRIGADE_") and key not in {
            "BRIGADE_TEST_POSTGRES_URL",
            "BRIGADE_REQUIRE_POSTGRES",
        }:
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    return


def make_settings(tmp_path: Path, **overrides: object) -> Settings:
    """Settings for tests: a fake token, a SQLite file in tmp_path, no .env file read."""
    values: dict[str, object] = {
        "bot_token": "123456:TEST-TOKEN",
        "database_url": f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}",
        "town_name": "Villeneuve",
        "geocoder": "none",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


# --- the simulated Telegram and the real application ---------------------------------------------

COORDINATOR_ID = 424242


@pytest.fixture
def world() -> FakeTelegram:
    """A fresh simulated Telegram whose bot token is the harness's."""
    return FakeTelegram(token=TEST_TOKEN)


@pytest.fixture
async def brigade(world: FakeTelegram, tmp_path: Path) -> AsyncIterator[InProcessBrigade]:
    """The real application on a SQLite file, fed in-process; one coordinator from settings."""
    settings = brigade_settings(sqlite_url(tmp_path), coordinator_ids=[COORDINATOR_ID])
    async with InProcessBrigade(world, settings) as running:
        yield running
