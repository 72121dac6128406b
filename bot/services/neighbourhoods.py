"""Neighbourhoods (antennas): created by coordinators; a centre, a radius and a group chat each."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.reach import Centre, Reach, reach_of
from bot.domain.vocabulary import VolunteerStatus
from bot.geo import distance_km, valid_point
from bot.services.base import Service
from bot.services.outcomes import Outcome
from storage import audit
from storage.models import Member, Neighbourhood
from storage.writes import view_of

MAX_RADIUS_KM = 50.0


@dataclass(frozen=True)
class NeighbourhoodView:
    """A neighbourhood as handlers show it."""

    id: int
    name: str
    latitude: float
    longitude: float
    radius_km: float
    group_chat_id: int | None
    post_to_group: bool


def _view(row: Neighbourhood) -> NeighbourhoodView:
    return view_of(NeighbourhoodView, row)


async def centres(session: AsyncSession) -> list[Centre]:
    """The active neighbourhoods' centres (one query, for any number of volunteers)."""
    rows = await session.execute(
        select(Neighbourhood.name, Neighbourhood.latitude, Neighbourhood.longitude).where(
            Neighbourhood.archived_at.is_(None)
        )
    )
    return [Centre(name, latitude, longitude) for name, latitude, longitude in rows.all()]


class NeighbourhoodService(Service):
    """Create, list and locate neighbourhoods, and attach their group chats."""

    async def create(
        self,
        coordinator_telegram_id: int,
        name: str,
        latitude: float,
        longitude: float,
        radius_km: float,
    ) -> NeighbourhoodView | Outcome:
        """Add a neighbourhood; INVALID for a blank or taken name or an impossible place."""
        name = " ".join(name.split())[:120]
        if not name or not valid_point(latitude, longitude):
            return Outcome.INVALID
        if not 0 < radius_km <= MAX_RADIUS_KM:
            return Outcome.INVALID
        row = Neighbourhood(name=name, latitude=latitude, longitude=longitude, radius_km=radius_km)
        added = await self._coordinator_adds(
            coordinator_telegram_id, row, "neighbourhood", "create", state="active"
        )
        return _view(added) if isinstance(added, Neighbourhood) else added

    async def all(self) -> list[NeighbourhoodView]:
        """Active neighbourhoods, by name."""
        async with self._db.read() as session:
            rows = await session.execute(
                select(Neighbourhood)
                .where(Neighbourhood.archived_at.is_(None))
                .order_by(Neighbourhood.name)
            )
            return [_view(row) for row in rows.scalars()]

    async def nearest(
        self, latitude: float, longitude: float
    ) -> list[tuple[NeighbourhoodView, float]]:
        """Every active neighbourhood with its distance from the point, nearest first."""
        ranked = [
            (view, distance_km(latitude, longitude, view.latitude, view.longitude))
            for view in await self.all()
        ]
        return sorted(ranked, key=lambda pair: pair[1])

    async def reach(self, latitude: float, longitude: float, radius_km: float) -> Reach | None:
        """Whether a radius from this place reaches the nearest neighbourhood centre (None: the
        town has no neighbourhood)."""
        async with self._db.read() as session:
            return reach_of(latitude, longitude, radius_km, await centres(session))

    async def volunteer_counts(self) -> dict[int, int]:
        """Approved volunteers per neighbourhood (one grouped query)."""
        async with self._db.read() as session:
            rows = await session.execute(
                select(Member.neighbourhood_id, func.count())
                .where(
                    Member.neighbourhood_id.is_not(None),
                    Member.volunteer_status == VolunteerStatus.APPROVED,
                )
                .group_by(Member.neighbourhood_id)
            )
            return {nb_id: count for nb_id, count in rows.all() if nb_id is not None}

    async def _on_active(
        self,
        coordinator_telegram_id: int,
        neighbourhood_id: int,
        step: Callable[[AsyncSession, Member, Neighbourhood], Awaitable[Outcome]],
    ) -> Outcome:
        """Run a coordinator's change to a neighbourhood still in use, in its transaction."""
        async with self._db.transaction() as session:
            found = await self._coordinator_on(
                session, coordinator_telegram_id, Neighbourhood, neighbourhood_id
            )
            if isinstance(found, Outcome):
                return found
            actor, row = found
            if row.archived_at is not None:
                return Outcome.NOT_FOUND
            return await step(session, actor, row)

    async def set_post_to_group(
        self, coordinator_telegram_id: int, neighbourhood_id: int, enabled: bool
    ) -> Outcome:
        """Choose whether a neighbourhood's requests are also posted in its group."""
        step = partial(self._set_post_to_group, enabled=enabled)
        return await self._on_active(coordinator_telegram_id, neighbourhood_id, step)

    @staticmethod
    async def _set_post_to_group(
        session: AsyncSession, actor: Member, row: Neighbourhood, *, enabled: bool
    ) -> Outcome:
        if row.post_to_group == enabled:
            return Outcome.ALREADY_DONE
        row.post_to_group = enabled
        await audit.record(
            session,
            "neighbourhood",
            row.id,
            "post_to_group_on" if enabled else "post_to_group_off",
            by=actor.id,
        )
        return Outcome.DONE

    async def by_group_chat(self, chat_id: int) -> NeighbourhoodView | None:
        """The neighbourhood whose group is this chat."""
        async with self._db.read() as session:
            row = (
                await session.execute(
                    select(Neighbourhood).where(Neighbourhood.group_chat_id == chat_id)
                )
            ).scalar_one_or_none()
            return _view(row) if row else None

    async def link_group(
        self, coordinator_telegram_id: int, neighbourhood_id: int, chat_id: int
    ) -> Outcome:
        """Make `chat_id` the neighbourhood's group (moving it from another if it was linked)."""
        step = partial(self._link_group, chat_id=chat_id)
        return await self._on_active(coordinator_telegram_id, neighbourhood_id, step)

    @staticmethod
    async def _link_group(
        session: AsyncSession, actor: Member, target: Neighbourhood, *, chat_id: int
    ) -> Outcome:
        if target.group_chat_id == chat_id:
            return Outcome.ALREADY_DONE
        previous = (
            await session.execute(
                select(Neighbourhood).where(Neighbourhood.group_chat_id == chat_id)
            )
        ).scalar_one_or_none()
        if previous is not None:
            previous.group_chat_id = None
            await session.flush()
        target.group_chat_id = chat_id
        await audit.record(
            session,
            "neighbourhood",
            target.id,
            "link_group",
            by=actor.id,
            detail={"chat_id": chat_id},
        )
        return Outcome.DONE
