"""Repository functions for neighbourhoods (read only here)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.geo import distance_km
from storage.models import Neighbourhood


async def nearest(session: AsyncSession, latitude: float, longitude: float) -> int | None:
    """The nearest active neighbourhood within twice its radius of the point, if any."""
    rows = (
        await session.execute(select(Neighbourhood).where(Neighbourhood.archived_at.is_(None)))
    ).scalars()
    best: tuple[float, int] | None = None
    for row in rows:
        distance = distance_km(latitude, longitude, row.latitude, row.longitude)
        if distance <= row.radius_km * 2 and (best is None or distance < best[0]):
            best = (distance, row.id)
    return best[1] if best else None
