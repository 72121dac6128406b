"""Apply Alembic migrations from inside the running event loop, on the app's own engine."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection

from storage.database import Database

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    """An Alembic configuration pointing at the packaged migrations."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    # Escape % so ConfigParser does not read URL-encoded passwords as interpolation.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def _run(connection: Connection, url: str, action: str, revision: str) -> None:
    config = alembic_config(url)
    # env.py uses this connection instead of opening its own (no nested event loop).
    config.attributes["connection"] = connection
    if action == "upgrade":
        command.upgrade(config, revision)
    else:
        command.downgrade(config, revision)


async def upgrade(database: Database, revision: str = "head") -> None:
    """Bring the schema up to `revision` (the newest by default)."""
    async with database.engine.begin() as connection:
        await connection.run_sync(_run, database.url, "upgrade", revision)


async def downgrade(database: Database, revision: str) -> None:
    """Take the schema down to `revision` (`base` removes every table)."""
    async with database.engine.begin() as connection:
        await connection.run_sync(_run, database.url, "downgrade", revision)
