"""Repository functions for the geocode cache (add and flush; never commit)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import Insert as PgInsert
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import Insert as LiteInsert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from storage.clock import session_now
from storage.models import GeocodeCacheEntry


async def get_cached(session: AsyncSession, key: str) -> GeocodeCacheEntry | None:
    """The cached answer for a key, however old; None when the key was never cached."""
    return await session.get(GeocodeCacheEntry, key)


async def put_cached(
    session: AsyncSession,
    key: str,
    result: dict[str, Any] | None,
    *,
    now: datetime | None = None,
) -> None:
    """Store (or replace) the answer for a key; None records "nothing found"."""
    created_at = now if now is not None else session_now(session)
    values = {"key": key, "result": result, "created_at": created_at}
    dialect = session.get_bind().dialect.name
    inserts: dict[str, Callable[[type[GeocodeCacheEntry]], PgInsert | LiteInsert]] = {
        "postgresql": postgresql_insert,
        "sqlite": sqlite_insert,
    }
    insert = inserts.get(dialect)
    if insert is None:
        # Other backends are not supported in production; merge is correct without concurrency.
        await session.merge(GeocodeCacheEntry(key=key, result=result, created_at=created_at))
    else:
        # A single INSERT … ON CONFLICT DO UPDATE: two workers caching the same key at once
        # cannot both take the "insert" branch of a read-then-write and trip over the key.
        statement = insert(GeocodeCacheEntry).values(values)
        await session.execute(
            statement.on_conflict_do_update(
                index_elements=[GeocodeCacheEntry.key],
                set_={
                    "result": statement.excluded.result,
                    "created_at": statement.excluded.created_at,
                },
            )
        )
    await session.flush()


async def purge_older_than(session: AsyncSession, before: datetime) -> int:
    """Delete the answers cached before `before` (typed addresses must not live forever)."""
    result = await session.execute(
        delete(GeocodeCacheEntry)
        .where(GeocodeCacheEntry.created_at < before)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)
