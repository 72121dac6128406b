"""Repository functions for the updates already handled (add and flush; never commit)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import cast

from sqlalchemy import Table, delete
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import ProcessedUpdate


async def claim_update(session: AsyncSession, update_id: int, now: datetime) -> bool:
    """Record an update as handled; False when a row for it was already there."""
    return update_id in await claim_updates(session, [update_id], now)


async def claim_updates(
    session: AsyncSession, update_ids: Iterable[int], now: datetime
) -> set[int]:
    """Record updates as handled; returns those that were not recorded yet.

    One atomic `INSERT … ON CONFLICT DO NOTHING` rather than a read then a write: two processes
    given the same update at the same moment cannot both see it as new.
    """
    rows = [
        {"update_id": update_id, "processed_at": now} for update_id in dict.fromkeys(update_ids)
    ]
    if not rows:
        return set()
    insert = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    # On the Core table: the ORM's bulk-insert machinery cost more than the statement itself.
    table = cast(Table, ProcessedUpdate.__table__)
    statement = (
        insert(table)
        .values(rows)
        .on_conflict_do_nothing(index_elements=[table.c.update_id])
        .returning(table.c.update_id)
    )
    # RETURNING yields a row only for the ids inserted now, on both backends.
    return set((await session.execute(statement)).scalars())


async def prune(session: AsyncSession, older_than: datetime) -> int:
    """Forget updates handled before `older_than`; returns how many."""
    result = await session.execute(
        delete(ProcessedUpdate)
        .where(ProcessedUpdate.processed_at < older_than)
        .returning(ProcessedUpdate.update_id)
    )
    return len(result.all())
