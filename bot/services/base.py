"""What every use case shares: its database and clock, a transaction that wakes the outbox
sender once committed, and the check that the caller holds a role; and, for those that tell
people, the messenger (with the town's settings for those that follow them)."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any, TypeVar

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.vocabulary import Role
from bot.messages.base import Reader
from bot.messages.messenger import Messenger
from bot.services.outcomes import Outcome
from bot.settings import Settings
from storage import members as member_store
from storage.database import Database
from storage.models import Member
from storage.writes import Identified, created

R = TypeVar("R", bound=Identified)


def no_wake() -> None:
    """No outbox sender to wake (a use case that queues no message, or a test)."""


async def coordinator_readers(session: AsyncSession) -> list[Reader]:
    """Every reachable coordinator, as readers (one query)."""
    readers = []
    for member, _roles in await member_store.members_with_any_role(session, [Role.COORDINATOR]):
        reader = Reader.of(member)
        if reader is not None and member.reachable:
            readers.append(reader)
    return readers


class Service:
    """A family of use cases on one database; each owns its transaction."""

    def __init__(self, database: Database, *, after_commit: Callable[[], None] = no_wake) -> None:
        self._db = database
        self._clock = database.clock
        # Wakes the outbox sender: the rows just committed go out at once, not at its next poll.
        self._after_commit = after_commit

    def _transaction(self) -> AbstractAsyncContextManager[AsyncSession]:
        """A write transaction that wakes the outbox sender once committed."""
        return self._db.transaction(on_commit=self._after_commit)

    @staticmethod
    async def _require(
        session: AsyncSession, telegram_id: int, role: Role = Role.COORDINATOR
    ) -> Member | None:
        """The member behind `telegram_id` if they hold `role` (a coordinator unless said)."""
        return await member_store.get_with_role(session, telegram_id, role)

    async def _coordinator_adds(
        self, telegram_id: int, row: R, entity: str, action: str, *, state: str | None = None
    ) -> R | Outcome:
        """A coordinator adds a named row to the town's catalogue (a neighbourhood, a skill):
        NOT_ALLOWED for anyone else, INVALID when the name is taken."""
        try:
            async with self._db.transaction() as session:
                actor = await self._require(session, telegram_id)
                if actor is None:
                    return Outcome.NOT_ALLOWED
                await created(session, row, entity, action, by=actor.id, state=state)
                return row
        except IntegrityError:
            return Outcome.INVALID

    @classmethod
    async def _coordinator_on(
        cls, session: AsyncSession, telegram_id: int, model: type[Any], row_id: int
    ) -> tuple[Member, Any] | Outcome:
        """The coordinator behind `telegram_id` and the row of `model` they act on:
        NOT_ALLOWED for anyone else, NOT_FOUND when the row is gone."""
        actor = await cls._require(session, telegram_id)
        if actor is None:
            return Outcome.NOT_ALLOWED
        row = await session.get(model, row_id)
        if row is None:
            return Outcome.NOT_FOUND
        return actor, row

    @staticmethod
    async def _member_roles(
        session: AsyncSession, telegram_id: int
    ) -> tuple[Member, frozenset[Role]] | None:
        """The member behind `telegram_id` and the roles they hold, if Brigade knows them."""
        member = await member_store.get_by_telegram_id(session, telegram_id)
        if member is None:
            return None
        return member, await member_store.roles_of(session, member.id)


class Notifying(Service):
    """A family of use cases that tell people: their notices are queued through the messenger,
    in the same transaction as what they record."""

    def __init__(
        self,
        database: Database,
        messenger: Messenger,
        *,
        after_commit: Callable[[], None] = no_wake,
    ) -> None:
        super().__init__(database, after_commit=after_commit)
        self._messenger = messenger


class Configured(Notifying):
    """Notifying use cases that also follow the town's settings (delays, limits, time zone)."""

    def __init__(
        self,
        database: Database,
        messenger: Messenger,
        settings: Settings,
        *,
        after_commit: Callable[[], None] = no_wake,
    ) -> None:
        super().__init__(database, messenger, after_commit=after_commit)
        self._settings = settings
