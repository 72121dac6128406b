"""The town's own charter: coordinators publish versions; volunteers read and accept the latest.

Until the town publishes a version, the text shipped in the catalogs (bot/charter.py) is the
charter. Publishing is one transaction: the new version (the languages not replaced are carried
over from the previous one), its audit event, and one outbox row per volunteer (approved or
waiting for approval) asking them to accept it (priority BULK, one batch). Volunteers who have
not accepted it by its `accept_by` date are offered nothing: that rule lives in the matching
query (bot/services/matching.py), so that every way of offering a request obeys it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.charter import CHARTER_VERSION
from bot.domain.vocabulary import Role, VolunteerStatus
from bot.messages.base import Reader
from bot.messages.charters import CharterToAccept
from bot.messages.messenger import Messenger
from bot.services.base import Notifying, no_wake
from bot.services.outcomes import Outcome
from bot.settings import SUPPORTED_LANGUAGES
from storage import audit
from storage import charters as charter_store
from storage.database import Database
from storage.models import Charter, Member, MemberRole, OutboxMessage

# One Telegram message holds at most 4096 characters: the charter, the line above it and the
# question under it must fit in the one message a volunteer reads and answers.
MAX_CHARTER_LENGTH = 3500
BATCH_PREFIX = "charter:"


@dataclass(frozen=True)
class CharterView:
    """The charter in force: its version (0: the catalogs' default) and the town's texts."""

    number: int
    texts: tuple[tuple[str, str], ...]
    published_at: datetime | None
    accept_by: datetime | None

    @property
    def label(self) -> str:
        """The version as stored with an acceptance."""
        return str(self.number) if self.number else CHARTER_VERSION

    @property
    def by_language(self) -> dict[str, str]:
        """The town's texts by language code (a language missing reads the default)."""
        return dict(self.texts)

    def notice(self) -> CharterToAccept:
        """The message that asks a volunteer to read and accept this version."""
        return CharterToAccept(self.number, self.texts, self.accept_by)


DEFAULT_CHARTER = CharterView(0, (), None, None)


@dataclass(frozen=True)
class Standing:
    """A volunteer and the charter in force: whether and when they accepted it."""

    charter: CharterView
    accepted: bool
    accepted_version: str | None
    accepted_at: datetime | None


@dataclass(frozen=True)
class Published:
    """A new version published, and how many volunteers were asked to accept it."""

    charter: CharterView
    asked: int


def _view(charter: Charter | None) -> CharterView:
    if charter is None:
        return DEFAULT_CHARTER
    return CharterView(
        charter.version,
        tuple(sorted(charter.texts.items())),
        charter.published_at,
        charter.accept_by,
    )


def _volunteers(*statuses: VolunteerStatus) -> list[ColumnElement[bool]]:
    """Volunteers in one of `statuses`, not forgotten."""
    return [
        Member.volunteer_status.in_(statuses),
        Member.forgotten_at.is_(None),
        Member.id.in_(select(MemberRole.member_id).where(MemberRole.role == Role.VOLUNTEER)),
    ]


class CharterService(Notifying):
    """Show, publish and accept the town's charter."""

    def __init__(
        self,
        database: Database,
        messenger: Messenger,
        *,
        grace: timedelta,
        after_commit: Callable[[], None] = no_wake,
    ) -> None:
        super().__init__(database, messenger, after_commit=after_commit)
        self._grace = grace

    async def current(self) -> CharterView:
        """The charter in force: the newest published version, or the default."""
        async with self._db.read() as session:
            return _view(await charter_store.latest(session))

    async def standing(self, telegram_id: int) -> Standing | Outcome:
        """The charter in force and whether this volunteer accepted it; NOT_ALLOWED for someone
        who is not an approved or pending volunteer."""
        async with self._db.read() as session:
            member = await self._volunteer(session, telegram_id)
            if member is None:
                return Outcome.NOT_ALLOWED
            charter = _view(await charter_store.latest(session))
            return Standing(
                charter,
                member.charter_version == charter.label,
                member.charter_version,
                member.charter_accepted_at,
            )

    async def to_accept(self, telegram_id: int) -> CharterView | None:
        """The published version an approved volunteer has yet to accept (a reminder), if any."""
        standing = await self.standing(telegram_id)
        if isinstance(standing, Outcome) or standing.accepted or not standing.charter.number:
            return None
        return standing.charter

    async def publish(
        self, coordinator_telegram_id: int, texts: Mapping[str, str]
    ) -> Published | Outcome:
        """Publish a new version replacing the texts of `texts`' languages; ask every approved
        volunteer to accept it. INVALID for an unknown language, an empty or too long text."""
        cleaned = {language: text.strip() for language, text in texts.items()}
        if not cleaned or any(
            language not in SUPPORTED_LANGUAGES or not text or len(text) > MAX_CHARTER_LENGTH
            for language, text in cleaned.items()
        ):
            return Outcome.INVALID
        try:
            async with self._transaction() as session:
                actor = await self._require(session, coordinator_telegram_id)
                if actor is None:
                    return Outcome.NOT_ALLOWED
                previous = await charter_store.latest(session)
                now = self._clock()
                charter = await charter_store.add(
                    session,
                    Charter(
                        version=(previous.version if previous else 0) + 1,
                        texts=({**previous.texts} if previous else {}) | cleaned,
                        published_at=now,
                        accept_by=now + self._grace,
                        published_by_id=actor.id,
                    ),
                )
                view = _view(charter)
                asked = await self._ask_everyone(session, view)
                await audit.record(
                    session,
                    "charter",
                    charter.version,
                    "publish",
                    by=actor.id,
                    detail={
                        "languages": sorted(cleaned),
                        "asked": asked,
                        "accept_by": charter.accept_by.isoformat(),
                    },
                )
                return Published(view, asked)
        except IntegrityError:
            # Another coordinator published the same version number a moment before.
            return Outcome.ALREADY_DONE

    async def _ask_everyone(self, session: AsyncSession, charter: CharterView) -> int:
        """Queue the new version to every volunteer Brigade can write to, approved or waiting
        for approval (who would otherwise be approved into a charter they never saw): one query,
        one flush."""
        audience = select(Member).where(
            *_volunteers(VolunteerStatus.APPROVED, VolunteerStatus.PENDING),
            Member.reachable.is_(True),
            Member.telegram_id.is_not(None),
        )
        members = (await session.execute(audience.order_by(Member.id))).scalars().all()
        rows = await self._messenger.send(session, charter.notice(), *map(Reader.of, members))
        ids = [row.id for row in rows]
        if ids:
            await session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_(ids))
                .values(batch_key=f"{BATCH_PREFIX}{charter.number}")
            )
        return len(ids)

    async def accept(self, telegram_id: int, version: int) -> Standing | Outcome:
        """Record that the volunteer accepted `version` now; NOT_FOUND unless it is the version
        in force (an older message's button), ALREADY_DONE if they had accepted it."""
        async with self._db.transaction() as session:
            member = await self._volunteer(session, telegram_id)
            if member is None:
                return Outcome.NOT_ALLOWED
            charter = _view(await charter_store.latest(session))
            if version != charter.number:
                return Outcome.NOT_FOUND
            if member.charter_version == charter.label:
                return Outcome.ALREADY_DONE
            member.charter_version = charter.label
            member.charter_accepted_at = self._clock()
            await audit.record(
                session,
                "member",
                member.id,
                "accept_charter",
                by=member.id,
                detail={"charter_version": charter.label},
            )
            return Standing(charter, True, charter.label, member.charter_accepted_at)

    @staticmethod
    async def _volunteer(session: AsyncSession, telegram_id: int) -> Member | None:
        """The approved or pending volunteer with this Telegram id."""
        result = await session.execute(
            select(Member).where(
                Member.telegram_id == telegram_id,
                *_volunteers(VolunteerStatus.APPROVED, VolunteerStatus.PENDING),
            )
        )
        return result.scalar_one_or_none()
