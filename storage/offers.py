"""Repository functions for offer copies (add and flush; never commit)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import HelpRequest, Offer, OutboxMessage, OutboxStatus
from storage.outbox import final_values

EDIT_METHODS = ("edit_message_text", "edit_message_reply_markup")
# An offer recorded when /nearby shows a request to a volunteer: it lets them claim it from that
# list like from a direct offer, but it has no copy of its own to edit.
NEARBY = "nearby"
# Offers made to one volunteer in their private chat (a claim through them must be theirs).
PERSONAL = ("direct", NEARBY)


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


async def record_nearby(
    session: AsyncSession, member_id: int, chat_id: int, request_ids: Iterable[int]
) -> int:
    """An offer in a volunteer's chat for each request /nearby shows that has none there yet."""
    ids = list(request_ids)
    existing = set(
        (
            await session.execute(
                select(Offer.request_id).where(Offer.request_id.in_(ids), Offer.chat_id == chat_id)
            )
        ).scalars()
    )
    added = [
        Offer(request_id=request_id, member_id=member_id, chat_id=chat_id, kind=NEARBY)
        for request_id in ids
        if request_id not in existing
    ]
    session.add_all(added)
    await session.flush()
    return len(added)


async def prune_finished(
    session: AsyncSession, *, ended_before: datetime, finished: Iterable[str], limit: int
) -> int:
    """Delete up to `limit` offers of requests that ended (`finished`) before `ended_before`.

    Nothing needs them once the request is over and its copies were edited to say so: a late
    tap on an old copy is answered from the request ("this request is over"). The figures count
    requests and claims, not offers. Outbox rows that pointed at them keep their own lifetime.
    """
    # Driven from the offers (a few days' worth, bounded by this very prune), each one checking
    # its request by primary key: the requests table is kept, and grows for ever.
    over = (
        select(HelpRequest.id)
        .where(
            HelpRequest.id == Offer.request_id,
            HelpRequest.status.in_(list(finished)),
            HelpRequest.closed_at.is_not(None),
            HelpRequest.closed_at <= ended_before,
        )
        .exists()
    )
    due = select(Offer.id).where(over).limit(limit)
    result = await session.execute(
        delete(Offer).where(Offer.id.in_(due)).execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)
