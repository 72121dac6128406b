"""Alembic environment: runs on a connection handed in by storage.migrate, or opens its own."""

from __future__ import annotations

import asyncio
import os

from alembic import context
from sqlalchemy import Connection

from storage.clock import system_clock
from storage.database import Database
from storage.migrate import CLOCK_ATTRIBUTE
from storage.models import Base
from storage.reach import include_name

config = context.config
target_metadata = Base.metadata


def _run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things: batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        # The reach index (0006) is dialect-specific and outside the models: autogenerate must
        # neither drop it nor report it.
        include_name=include_name,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_standalone(url: str) -> None:
    database = Database(url, clock=system_clock)
    try:
        async with database.engine.begin() as connection:
            await connection.run_sync(_run_migrations)
    finally:
        await database.dispose()


def _url() -> str:
    from bot.settings import DEFAULT_DATABASE_URL

    return (
        config.get_main_option("sqlalchemy.url")
        or os.environ.get("BRIGADE_DATABASE_URL")
        or DEFAULT_DATABASE_URL
    )


# Command-line use takes the wall clock; storage.migrate hands in the app's own.
config.attributes.setdefault(CLOCK_ATTRIBUTE, system_clock)

if context.is_offline_mode():
    context.configure(
        url=_url(), target_metadata=target_metadata, literal_binds=True, include_name=include_name
    )
    with context.begin_transaction():
        context.run_migrations()
elif (shared := config.attributes.get("connection")) is not None:
    _run_migrations(shared)
else:
    # Command-line use (`alembic upgrade head`): no loop is running yet, so start one.
    asyncio.run(_run_standalone(_url()))
