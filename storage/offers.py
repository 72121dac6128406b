"""Repository functions for offer copies (add and flush; never commit)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import OutboxMessage, OutboxStatus
from storage.outbox import final_values

EDIT_METHODS = ("edit_message_text", "edit_message_reply_markup")


async def supersede_pending_edits(session: AsyncSession, offer_ids: Iterable[int]) -> int:
    """Skip queued edits of these copies: a newer edit carries the whole current state.

    Without this, an older edit that had to wait (for its original's message id, or a 429) could
    be delivered after a newer one and leave a copy showing a stale number of places.
    """
    ids = list(offer_ids)
    if not ids:
        return 0
    result = await session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.offer_id.in_(ids),
            OutboxMessage.method.in_(EDIT_METHODS),
            OutboxMessage.status == OutboxStatus.PENDING,
        )
        .values(last_error="superseded by a newer edit", **final_values(OutboxStatus.SKIPPED))
        .execution_options(synchronize_session=False)
    )
    await session.flush()
    return int(getattr(result, "rowcount", 0) or 0)
