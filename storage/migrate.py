"""Apply Alembic migrations from inside the running event loop, on the app's own engine."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import Connection

from storage.clock import Clock
from storage.database import Database

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# Where a migration finds the clock of the database it migrates (see `migration_now`).
CLOCK_ATTRIBUTE = "clock"


def alembic_config(url: str) -> Config:
    """An Alembic configuration pointing at the packaged migrations."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    # Escape % so ConfigParser does not read URL-encoded passwords as interpolation.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def migration_now() -> datetime:
    """ "Now" for a migration that writes rows, by the clock of the database it migrates."""
    clock = context.config.attributes.get(CLOCK_ATTRIBUTE)
    if clock is None:
        raise RuntimeError("migration run without a clock (see storage.migrate)")
    now = clock()
    assert isinstance(now, datetime)
    return now


def _run(connection: Connection, url: str, clock: Clock, action: str, revision: str) -> None:
    config = alembic_config(url)
    # env.py uses this connection instead of opening its own (no nested event loop).
    config.attributes["connection"] = connection
    config.attributes[CLOCK_ATTRIBUTE] = clock
    if action == "upgrade":
        command.upgrade(config, revision)
    else:
        command.downgrade(config, revision)


async def upgrade(database: Database, revision: str = "head") -> None:
    """Bring the schema up to `revision` (the newest by default); on SQLite, switch an older
    file to incremental vacuum (the timer sweep then gives freed space back)."""
    async with database.engine.begin() as connection:
        await connection.run_sync(_run, database.url, database.clock, "upgrade", revision)
    await database.switch_on_incremental_vacuum()


async def downgrade(database: Database, revision: str) -> None:
    """Take the schema down to `revision` (`base` removes every table)."""
    async with database.engine.begin() as connection:
        await connection.run_sync(_run, database.url, database.clock, "downgrade", revision)
