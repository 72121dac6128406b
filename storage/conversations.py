"""Repository functions for conversation states and drafts (add and flush; never commit)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.clock import session_now
from storage.models import ConversationState, UserData


async def load_states(session: AsyncSession, conversation: str) -> list[ConversationState]:
    """Every stored state of one named conversation."""
    result = await session.execute(
        select(ConversationState).where(ConversationState.conversation == conversation)
    )
    return list(result.scalars())


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
                key=key, conversation=conversation, telegram_id=telegram_id, state=state, data={}
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
