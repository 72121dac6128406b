"""Repository functions for the updates already handled (add and flush; never commit)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import ProcessedUpdate


async def claim_update(session: AsyncSession, update_id: int, now: datetime) -> bool:
    """Record an update as handled; False when a row for it was already there.

    One atomic `INSERT … ON CONFLICT DO NOTHING` rather than a read then a write: two processes
    given the same update at the same moment cannot both see it as new.
    """
    values = {"update_id": update_id, "processed_at": now}
    if session.get_bind().dialect.name == "postgresql":
        pg_statement = (
            postgresql_insert(ProcessedUpdate)
            .values(**values)
            .on_conflict_do_nothing(index_elements=[ProcessedUpdate.update_id])
            .returning(ProcessedUpdate.update_id)
        )
        result = await session.execute(pg_statement)
    else:
        lite_statement = (
            sqlite_insert(ProcessedUpdate)
            .values(**values)
            .on_conflict_do_nothing(index_elements=[ProcessedUpdate.update_id])
            .returning(ProcessedUpdate.update_id)
        )
        result = await session.execute(lite_statement)
    # RETURNING yields the row only when it was inserted, on both backends.
    return result.first() is not None


async def prune(session: AsyncSession, older_than: datetime) -> int:
    """Forget updates handled before `older_than`; returns how many."""
    result = await session.execute(
        delete(ProcessedUpdate)
        .where(ProcessedUpdate.processed_at < older_than)
        .returning(ProcessedUpdate.update_id)
    )
    return len(result.all())
