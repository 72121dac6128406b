"""Limit marks: pseudonymous traces that limits count; they survive /forget and then expire."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import LimitMark

# What a mark records.
REPORT = "report"  # a /signal report (five a day)
REJECTED = "rejected"  # an application not accepted (a cool-down before the next one)
SUPPORT = "support"  # a message sent to the coordinators (a few a day)
SUSPENDED = "suspended"  # a volunteer suspended: /forget then a new application is no way back


async def add(session: AsyncSession, kind: str, key: str, expires_at: datetime) -> None:
    """Leave a mark until `expires_at`."""
    session.add(LimitMark(kind=kind, key=key, expires_at=expires_at))
    await session.flush()


async def count_since(session: AsyncSession, kind: str, key: str, since: datetime) -> int:
    """How many marks of this kind the person left since `since`."""
    result = await session.execute(
        select(func.count())
        .select_from(LimitMark)
        .where(LimitMark.kind == kind, LimitMark.key == key, LimitMark.created_at >= since)
    )
    return int(result.scalar_one())


async def active_until(
    session: AsyncSession, kind: str, key: str, now: datetime
) -> datetime | None:
    """Until when the person's latest unexpired mark of this kind holds, if any."""
    result = await session.execute(
        select(func.max(LimitMark.expires_at)).where(
            LimitMark.kind == kind, LimitMark.key == key, LimitMark.expires_at > now
        )
    )
    until = result.scalar_one_or_none()
    return until if isinstance(until, datetime) else None


async def remove(session: AsyncSession, kind: str, key: str) -> int:
    """Lift a person's marks of this kind (a coordinator allows a new application)."""
    result = await session.execute(
        delete(LimitMark).where(LimitMark.kind == kind, LimitMark.key == key)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def prune(session: AsyncSession, now: datetime) -> int:
    """Delete every expired mark."""
    result = await session.execute(delete(LimitMark).where(LimitMark.expires_at <= now))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
