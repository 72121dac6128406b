"""Repository functions for conversation states and drafts (add and flush; never commit)."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CompoundSelect,
    String,
    delete,
    func,
    literal,
    null,
    select,
    text,
    type_coerce,
    union,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from storage.clock import session_now
from storage.models import ConversationState, UserData


async def load_states(session: AsyncSession, conversation: str) -> list[ConversationState]:
    """Every stored state of one named conversation."""
    result = await session.execute(
        select(ConversationState).where(ConversationState.conversation == conversation)
    )
    return list(result.scalars())


async def load_person(
    connection: AsyncConnection | AsyncSession, telegram_id: int
) -> tuple[list[tuple[str, str, str]], dict[str, Any]]:
    """One person's stored states (conversation, key, state) and drafts ({}: none), read in one
    statement (it runs before every update of the person when several processes share them)."""
    nothing = literal(None, String)
    rows = await connection.execute(
        union_all(
            select(
                ConversationState.conversation,
                ConversationState.key,
                ConversationState.state,
                type_coerce(null(), JSON).label("data"),
            ).where(ConversationState.telegram_id == telegram_id),
            select(nothing, nothing, nothing, UserData.data).where(
                UserData.telegram_id == telegram_id
            ),
        )
    )
    states: list[tuple[str, str, str]] = []
    drafts: dict[str, Any] = {}
    for conversation, key, state, data in rows:
        if conversation is None:
            drafts = dict(data or {})
        else:
            states.append((str(conversation), str(key), str(state)))
    return states, drafts


async def save_state(
    session: AsyncSession, key: str, conversation: str, telegram_id: int | None, state: str | None
) -> None:
    """Store where a person is in a conversation; None means they left it."""
    existing = await session.get(ConversationState, key)
    if state is None:
        if existing is not None:
            await session.delete(existing)
    elif existing is None:
        session.add(
            ConversationState(
                key=key, conversation=conversation, telegram_id=telegram_id, state=state
            )
        )
    else:
        existing.state = state
        existing.updated_at = session_now(session)
    await session.flush()


async def load_user_data(session: AsyncSession) -> dict[int, dict[str, Any]]:
    """Every person's drafts."""
    result = await session.execute(select(UserData))
    return {row.telegram_id: dict(row.data) for row in result.scalars()}


async def save_user_data(session: AsyncSession, telegram_id: int, data: dict[str, Any]) -> None:
    """Store a person's drafts, removing the row when there is nothing left."""
    existing = await session.get(UserData, telegram_id)
    if not data:
        if existing is not None:
            await session.delete(existing)
    elif existing is None:
        session.add(UserData(telegram_id=telegram_id, data=data))
    else:
        existing.data = data
        existing.updated_at = session_now(session)
    await session.flush()


async def delete_person(session: AsyncSession, telegram_id: int) -> None:
    """Forget a person's drafts and conversation states (for /forget)."""
    await session.execute(delete(UserData).where(UserData.telegram_id == telegram_id))
    await session.execute(
        delete(ConversationState).where(ConversationState.telegram_id == telegram_id)
    )
    await session.flush()


def person_lock_key(telegram_id: int) -> int:
    """The 64-bit key of a person's PostgreSQL advisory lock (bot/shared_state.py), in a
    namespace of its own: no other lock of the database may collide with it, and two people
    sharing one would only wait for each other."""
    digest = hashlib.blake2b(f"brigade.person:{telegram_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


async def expire(
    session: AsyncSession, before: datetime, *, limit: int, lock_people: bool = False
) -> dict[int, set[str]]:
    """Delete the drafts and states of people not heard from since `before` (`limit` people at
    most, the longest silent first).

    A person's drafts and states go together, and only once all of them are that old: a state
    left without its draft (or the reverse) would make a conversation ask its questions out of
    order. With `lock_people` (PostgreSQL, several processes), a person is expired only if their
    advisory lock is free, and it stays taken until the transaction ends: a process handling an
    update of theirs right now keeps them (they are not silent), and the next one waits, then
    reads that nothing is left. Returns each person's Telegram id with the conversations they
    were in.
    """
    fresh: CompoundSelect[int] = union(
        select(UserData.telegram_id).where(UserData.updated_at > before),
        select(ConversationState.telegram_id).where(
            ConversationState.updated_at > before, ConversationState.telegram_id.is_not(None)
        ),
    )
    stale = union(
        select(UserData.telegram_id.label("telegram_id"), UserData.updated_at.label("at")).where(
            UserData.updated_at <= before
        ),
        select(ConversationState.telegram_id, ConversationState.updated_at).where(
            ConversationState.updated_at <= before, ConversationState.telegram_id.is_not(None)
        ),
    ).subquery()
    candidates = list(
        (
            await session.execute(
                select(stale.c.telegram_id)
                .where(stale.c.telegram_id.not_in(fresh))
                .group_by(stale.c.telegram_id)
                .order_by(func.min(stale.c.at))
                .limit(limit)
            )
        ).scalars()
    )
    if lock_people and candidates:
        keys = {person_lock_key(telegram_id): telegram_id for telegram_id in candidates}
        taken = await session.execute(
            text(
                "SELECT key FROM unnest(CAST(:keys AS BIGINT[])) AS key "
                "WHERE pg_try_advisory_xact_lock(key)"
            ),
            {"keys": list(keys)},
        )
        candidates = [keys[key] for key in taken.scalars()]
    expired: dict[int, set[str]] = {telegram_id: set() for telegram_id in candidates}
    states = await session.execute(
        delete(ConversationState)
        .where(
            ConversationState.updated_at <= before,
            ConversationState.telegram_id.is_(None) | ConversationState.telegram_id.in_(candidates),
        )
        .returning(ConversationState.telegram_id, ConversationState.conversation)
        .execution_options(synchronize_session=False)
    )
    for telegram_id, conversation in states:
        if telegram_id is not None:
            expired[telegram_id].add(conversation)
    await session.execute(
        delete(UserData)
        .where(UserData.telegram_id.in_(candidates))
        .execution_options(synchronize_session=False)
    )
    return expired
