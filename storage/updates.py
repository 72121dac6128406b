"""Repository functions for the updates already handled (add and flush; never commit)."""

from __future__ import annotations

import functools
import json
import sqlite3
from collections.abc import Iterable
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Dialect,
    Select,
    Table,
    bindparam,
    delete,
    func,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from storage.members import IDENTITY_COLUMNS, MemberIdentity, identities_in
from storage.models import Member, MemberRole, ProcessedUpdate
from storage.plain import PlainStatement
from storage.sqlite_driver import json_ids
from storage.types import UTCDateTime


async def claim_update(session: AsyncSession, update_id: int, now: datetime) -> bool:
    """Record an update as handled; False when a row for it was already there."""
    return update_id in await claim_updates(session, [update_id], now)


_TABLE = cast(Table, ProcessedUpdate.__table__)
# The prune, one statement on every path (a session, write_rows, a plain sqlite3 trip).
PRUNE = (
    delete(_TABLE)
    .where(_TABLE.c.processed_at < bindparam("older_than", type_=UTCDateTime()))
    .returning(_TABLE.c.update_id)
)

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
    result = await session.execute(PRUNE, {"older_than": older_than})
    return len(result.all())


# ---------------------------------- plain statements (Database.write_rows, write_in_one_trip)


@functools.cache
def admission() -> Select[Any]:
    """PostgreSQL: record a batch of updates and read the new ones' senders, in one statement
    (committed alone: `Database.write_rows`). Parameters: `update_ids` and `senders` (the
    same length; a sender may be None) and `now`. A row per new update (and per role of its
    sender): its `update_id`, then `members.IDENTITY_COLUMNS`, NULL where it has no member.

    The insert is a data-modifying CTE: as atomic as `claim_updates` (`ON CONFLICT DO
    NOTHING`), and the members read in the same snapshot, as the gate's transaction did.
    """
    arrivals = select(
        func.unnest(bindparam("update_ids", type_=ARRAY(BigInteger))).label("update_id"),
        func.unnest(bindparam("senders", type_=ARRAY(BigInteger))).label("sender"),
    ).cte("arrivals")
    inserted = (
        postgresql_insert(_TABLE)
        .from_select(
            ["update_id", "processed_at"],
            select(arrivals.c.update_id, bindparam("now", type_=UTCDateTime())).distinct(),
        )
        .on_conflict_do_nothing(index_elements=[_TABLE.c.update_id])
        .returning(_TABLE.c.update_id)
        .cte("inserted")
    )
    return (
        select(inserted.c.update_id.label("update_id"), *IDENTITY_COLUMNS)
        .select_from(inserted)
        .join(arrivals, arrivals.c.update_id == inserted.c.update_id)
        .outerjoin(Member, Member.telegram_id == arrivals.c.sender)
        .outerjoin(MemberRole, MemberRole.member_id == Member.id)
    )


def admitted(rows: Iterable[Any]) -> tuple[set[int], dict[int, MemberIdentity]]:
    """`admission()`'s rows: the update ids new, and the identities of their senders."""
    rows = list(rows)
    return {row.update_id for row in rows}, identities_in(
        row for row in rows if row.telegram_id is not None
    )


@functools.lru_cache(maxsize=4)  # one dialect per engine: a process has one
def _plain(dialect: Dialect) -> tuple[PlainStatement, PlainStatement]:
    """SQLite: the prune and the claim for a plain sqlite3 connection, compiled once."""
    ids = json_ids("update_ids")
    claim = (
        sqlite_insert(_TABLE)
        # `WHERE 1 = 1`: SQLite reads `SELECT … ON CONFLICT` as a join without a WHERE.
        .from_select(
            ["update_id", "processed_at"],
            select(ids.c.value, bindparam("now", type_=UTCDateTime())).where(true()),
        )
        .on_conflict_do_nothing(index_elements=[_TABLE.c.update_id])
        .returning(_TABLE.c.update_id)
    )
    return PlainStatement(PRUNE, dialect), PlainStatement(claim, dialect)


def claim_updates_plain(
    connection: sqlite3.Connection, dialect: Dialect, update_ids: Iterable[int], now: datetime
) -> set[int]:
    """`claim_updates` on a plain sqlite3 connection, in one statement."""
    wanted = list(dict.fromkeys(update_ids))
    if not wanted:
        return set()
    rows = _plain(dialect)[1].rows(connection, update_ids=json.dumps(wanted), now=now)
    return {row.update_id for row in rows}


def prune_plain(connection: sqlite3.Connection, dialect: Dialect, older_than: datetime) -> int:
    """`prune` on a plain sqlite3 connection."""
    return len(_plain(dialect)[0].rows(connection, older_than=older_than))
