"""Repository functions for the town's charter versions (add and flush; never commit)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Charter


async def latest(session: AsyncSession) -> Charter | None:
    """The newest published version; None while the town uses the default text."""
    result = await session.execute(select(Charter).order_by(Charter.version.desc()).limit(1))
    return result.scalar_one_or_none()


async def add(session: AsyncSession, charter: Charter) -> Charter:
    """Insert a version (a concurrent publication of the same number fails on the key)."""
    session.add(charter)
    await session.flush()
    return charter
