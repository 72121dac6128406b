"""Repository functions for the updates already handled (add and flush; never commit)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import cast

from sqlalchemy import Table, delete
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from storage.models import ProcessedUpdate


async def claim_update(session: AsyncSession, update_id: int, now: datetime) -> bool:
    """Record an update as handled; False when a row for it was already there."""
    return update_id in await claim_updates(session, [update_id], now)


_TABLE = cast(Table, ProcessedUpdate.__table__)
# Built once per dialect, parameters apart: compiled once, then taken from SQLAlchemy's cache (a
# multi-row `.values(rows)` was compiled again for every batch). Executed with a list of
# parameters, SQLAlchemy sends it as one multi-row INSERT ("insertmanyvalues").
_CLAIM = {
    name: insert(_TABLE)
    .on_conflict_do_nothing(index_elements=[_TABLE.c.update_id])
    .returning(_TABLE.c.update_id)
    for name, insert in (("postgresql", postgresql_insert), ("sqlite", sqlite_insert))
}


async def claim_updates(
    session: AsyncSession | AsyncConnection, update_ids: Iterable[int], now: datetime
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
    dialect = session.get_bind().dialect if isinstance(session, AsyncSession) else session.dialect
    statement = _CLAIM["postgresql" if dialect.name == "postgresql" else "sqlite"]
    # RETURNING yields a row only for the ids inserted now, on both backends.
    return set((await session.execute(statement, rows)).scalars())


async def prune(session: AsyncSession | AsyncConnection, older_than: datetime) -> int:
    """Forget updates handled before `older_than`; returns how many."""
    result = await session.execute(
        delete(ProcessedUpdate)
        .where(ProcessedUpdate.processed_at < older_than)
        .returning(ProcessedUpdate.update_id)
    )
    return len(result.all())
