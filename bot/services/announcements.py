"""Announcements: a coordinator writes once, every approved volunteer of the audience receives it.

Sending is one transaction: the audit event (whose id names the batch), then one outbox row per
recipient (priority BULK, `batch_key` = "announce:<audit id>"), so an announcement is either
queued for everybody or for nobody. The outbox sender delivers it at its own pace; counting the
batch's rows by status tells how far it went.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.vocabulary import Role, VolunteerStatus
from bot.messages.announcements import Announcement
from bot.messages.base import Reader
from bot.services.base import Notifying
from bot.services.outcomes import Outcome
from storage.models import (
    AuditEvent,
    Member,
    MemberRole,
    Neighbourhood,
    OutboxMessage,
    OutboxStatus,
)

MAX_ANNOUNCEMENT_LENGTH = 3500
BATCH_PREFIX = "announce:"


def batch_key(announcement_id: int) -> str:
    """The outbox batch of an announcement (its audit event's id)."""
    return f"{BATCH_PREFIX}{announcement_id}"


def _recipients(neighbourhood_id: int | None) -> list[ColumnElement[bool]]:
    """Approved volunteers Brigade can write to, of one neighbourhood or all."""
    return [
        Member.volunteer_status == VolunteerStatus.APPROVED,
        Member.reachable.is_(True),
        Member.telegram_id.is_not(None),
        Member.forgotten_at.is_(None),
        Member.neighbourhood_id == neighbourhood_id if neighbourhood_id is not None else true(),
    ]


def _volunteers() -> ColumnElement[bool]:
    return (MemberRole.member_id == Member.id) & (MemberRole.role == Role.VOLUNTEER)


@dataclass(frozen=True)
class Audience:
    """Who an announcement can go to (neighbourhood None: every volunteer)."""

    neighbourhood_id: int | None
    name: str | None
    volunteers: int


@dataclass(frozen=True)
class Announced:
    """An announcement queued."""

    announcement_id: int
    batch_key: str
    recipients: int


@dataclass(frozen=True)
class Delivery:
    """How far an announcement's batch went."""

    total: int
    sent: int
    failed: int
    skipped: int
    pending: int


class AnnouncementService(Notifying):
    """Choose an audience, queue the announcement, follow its delivery."""

    async def audiences(self, coordinator_telegram_id: int) -> list[Audience] | Outcome:
        """Everybody first, then each active neighbourhood by name, with how many they reach."""
        async with self._db.read() as session:
            if await self._require(session, coordinator_telegram_id) is None:
                return Outcome.NOT_ALLOWED
            counts = dict(
                (
                    await session.execute(
                        select(Member.neighbourhood_id, func.count(Member.id))
                        .join(MemberRole, _volunteers())
                        .where(*_recipients(None))
                        .group_by(Member.neighbourhood_id)
                    )
                ).all()
            )
            neighbourhoods = (
                await session.execute(
                    select(Neighbourhood.id, Neighbourhood.name)
                    .where(Neighbourhood.archived_at.is_(None))
                    .order_by(Neighbourhood.name)
                )
            ).all()
        return [
            Audience(None, None, sum(counts.values())),
            *(Audience(nb_id, name, counts.get(nb_id, 0)) for nb_id, name in neighbourhoods),
        ]

    async def audience(
        self, coordinator_telegram_id: int, neighbourhood_id: int | None
    ) -> Audience | Outcome:
        """One audience, counted now; NOT_FOUND for an unknown or archived neighbourhood."""
        found = await self.audiences(coordinator_telegram_id)
        if isinstance(found, Outcome):
            return found
        for audience in found:
            if audience.neighbourhood_id == neighbourhood_id:
                return audience
        return Outcome.NOT_FOUND

    async def send(
        self, coordinator_telegram_id: int, neighbourhood_id: int | None, text: str
    ) -> Announced | Outcome:
        """Queue `text` for every approved, reachable volunteer of the audience.

        INVALID for an empty or too long text; NOT_FOUND for an unknown neighbourhood.
        Each volunteer reads it under a line in their own language saying who it comes from.
        """
        text = text.strip()
        if not text or len(text) > MAX_ANNOUNCEMENT_LENGTH:
            return Outcome.INVALID
        async with self._transaction() as session:
            actor = await self._require(session, coordinator_telegram_id)
            if actor is None:
                return Outcome.NOT_ALLOWED
            if neighbourhood_id is not None:
                place = await session.get(Neighbourhood, neighbourhood_id)
                if place is None or place.archived_at is not None:
                    return Outcome.NOT_FOUND
            event = AuditEvent(
                actor_member_id=actor.id,
                entity="announcement",
                entity_id=neighbourhood_id or 0,
                action="announce",
            )
            session.add(event)
            await session.flush()
            key = batch_key(event.id)
            count = await self._enqueue(session, neighbourhood_id, text, key)
            event.detail = {
                "neighbourhood_id": neighbourhood_id,
                "recipients": count,
                "length": len(text),
                "batch_key": key,
            }
        return Announced(event.id, key, count)

    async def _enqueue(
        self, session: AsyncSession, neighbourhood_id: int | None, text: str, key: str
    ) -> int:
        members = (
            (
                await session.execute(
                    select(Member)
                    .join(MemberRole, _volunteers())
                    .where(*_recipients(neighbourhood_id))
                    .order_by(Member.id)
                )
            )
            .scalars()
            .all()
        )
        rows = await self._messenger.send(session, Announcement(text), *map(Reader.of, members))
        ids = [row.id for row in rows]
        if ids:
            await session.execute(
                update(OutboxMessage).where(OutboxMessage.id.in_(ids)).values(batch_key=key)
            )
        return len(ids)

    async def delivery(
        self, coordinator_telegram_id: int, announcement_id: int
    ) -> Delivery | Outcome:
        """Count the announcement's outbox rows by status (one grouped query)."""
        async with self._db.read() as session:
            if await self._require(session, coordinator_telegram_id) is None:
                return Outcome.NOT_ALLOWED
            counts = dict(
                (
                    await session.execute(
                        select(OutboxMessage.status, func.count(OutboxMessage.id))
                        .where(OutboxMessage.batch_key == batch_key(announcement_id))
                        .group_by(OutboxMessage.status)
                    )
                ).all()
            )
            if not counts:
                announced = await session.get(AuditEvent, announcement_id)
                if announced is None or announced.entity != "announcement":
                    return Outcome.NOT_FOUND
        return Delivery(
            total=sum(counts.values()),
            sent=counts.get(OutboxStatus.SENT, 0),
            failed=counts.get(OutboxStatus.FAILED, 0),
            skipped=counts.get(OutboxStatus.SKIPPED, 0),
            pending=counts.get(OutboxStatus.PENDING, 0),
        )
