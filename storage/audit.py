"""The audit log: every state change, who made it, from which state to which."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AuditEvent

# A change of state: (from, to); from is None for something just created. Enum members of
# the domain's vocabulary are strings and are stored as their values.
Move = tuple[str | None, str]


def _event(
    entity: str,
    entity_id: int,
    action: str,
    by: int | None,
    moved: Move | None,
    detail: dict[str, Any] | None,
) -> AuditEvent:
    was, now = moved if moved is not None else (None, None)
    return AuditEvent(
        actor_member_id=by,
        entity=entity,
        entity_id=entity_id,
        action=action,
        from_state=None if was is None else str(was),
        to_state=None if now is None else str(now),
        detail=detail,
    )


async def record(
    session: AsyncSession,
    entity: str,
    entity_id: int,
    action: str,
    *,
    by: int | None = None,
    moved: Move | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Append one event to the audit log, in the caller's transaction.

    `by` is the member who acted (None: the bot itself, e.g. a timer).
    """
    session.add(_event(entity, entity_id, action, by, moved, detail))
    await session.flush()


async def record_each(
    session: AsyncSession, entity: str, entity_ids: Iterable[int], action: str
) -> None:
    """The same action of the bot on many rows (a purge), with one flush."""
    session.add_all(_event(entity, entity_id, action, None, None, None) for entity_id in entity_ids)
    await session.flush()


async def last_by(
    session: AsyncSession, entity: str, entity_id: int, actions: Iterable[str]
) -> tuple[str, int] | None:
    """The latest of these actions on an entity taken by a member: (action, member id)."""
    found = (
        await session.execute(
            select(AuditEvent.action, AuditEvent.actor_member_id)
            .where(
                AuditEvent.entity == entity,
                AuditEvent.entity_id == entity_id,
                AuditEvent.action.in_(list(actions)),
                AuditEvent.actor_member_id.is_not(None),
            )
            .order_by(AuditEvent.id.desc())
            .limit(1)
        )
    ).first()
    if found is None or found[1] is None:
        return None
    return found[0], found[1]


async def prune(session: AsyncSession, *, before: datetime, limit: int) -> int:
    """Delete up to `limit` events that occurred before `before` (read by their time index)."""
    due = select(AuditEvent.id).where(AuditEvent.occurred_at < before).limit(limit)
    result = await session.execute(
        delete(AuditEvent)
        .where(AuditEvent.id.in_(due))
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)
