"""Who is talking to the bot: members, their roles and their language."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from bot.domain.vocabulary import Role, VolunteerStatus
from bot.services.base import Service
from storage import members as member_store
from storage.database import Database
from storage.members import MemberIdentity
from storage.models import Member
from storage.writes import view_of

# How precisely a member's last sighting is kept (`updated_at`): one write a day at most.
SEEN_RESOLUTION = timedelta(days=1)


@dataclass(frozen=True)
class TelegramIdentity:
    """What Telegram tells us about a user, taken from an update."""

    telegram_id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None

    @property
    def full_name(self) -> str:
        """First and last name, as Telegram shows them."""
        return " ".join(part for part in (self.first_name, self.last_name) if part)


@dataclass(frozen=True)
class MemberProfile:
    """A read-only snapshot of a member, safe to use after the transaction has ended."""

    # None for a guest: someone Brigade answers without keeping a row for them (see `guest`).
    id: int | None
    telegram_id: int
    display_name: str
    chosen_language: str | None
    telegram_language: str | None
    roles: frozenset[Role]
    volunteer_status: VolunteerStatus | None

    @property
    def is_coordinator(self) -> bool:
        """Whether the member runs the brigade."""
        return Role.COORDINATOR in self.roles

    @classmethod
    def guest(cls, who: TelegramIdentity) -> MemberProfile:
        """Someone unknown, answered as such: no role, nothing stored."""
        return cls(
            id=None,
            telegram_id=who.telegram_id,
            display_name=who.full_name,
            chosen_language=None,
            telegram_language=who.language_code,
            roles=frozenset(),
            volunteer_status=None,
        )


def _profile(member: Member | MemberIdentity, roles: frozenset[Role]) -> MemberProfile:
    assert member.telegram_id is not None  # forgotten members never reach a handler
    return view_of(MemberProfile, member, chosen_language=member.language, roles=roles)


class MemberService(Service):
    """Identify members, keep their Telegram details fresh, and change their language."""

    def __init__(
        self,
        database: Database,
        coordinator_ids: Iterable[int],
        *,
        seen_resolution: timedelta = SEEN_RESOLUTION,
    ) -> None:
        super().__init__(database)
        self._coordinator_ids = frozenset(coordinator_ids)
        self._seen_resolution = seen_resolution

    async def identify(self, who: TelegramIdentity) -> MemberProfile:
        """Find or create the member behind an update; talking to the bot makes them reachable."""
        known = await self._known(who)
        return known if known is not None else await self._refresh(who)

    async def identify_known(self, who: TelegramIdentity) -> MemberProfile | None:
        """Like `identify`, but None for someone Brigade does not know: no row is created.

        For updates that lead nowhere for a stranger (a tap in a group): a row created then
        would hold their name with nothing the town needs. Coordinators named in the settings
        are always known.
        """
        known = await self._known(who)
        if known is not None:
            return known
        if (
            who.telegram_id not in self._coordinator_ids
            and await self.find(who.telegram_id) is None
        ):
            return None
        return await self._refresh(who)

    def known_from(
        self, identity: MemberIdentity | None, who: TelegramIdentity
    ) -> MemberProfile | None:
        """The member from an identity read already (the update gate's), when nothing about
        them needs writing; None otherwise (then `identify` reads and writes as usual)."""
        if identity is not None and self._unchanged(identity, who):
            return _profile(identity, identity.roles)
        return None

    async def _known(self, who: TelegramIdentity) -> MemberProfile | None:
        """The member, when nothing about them needs writing."""
        # Most updates come from known, unchanged members: a read answers them without taking
        # SQLite's write lock (every tap would otherwise queue behind every other writer).
        async with self._db.read() as session:
            known = await member_store.identity_of(session, who.telegram_id)
        if known is not None and self._unchanged(known, who):
            return _profile(known, known.roles)
        return None

    async def _refresh(self, who: TelegramIdentity) -> MemberProfile:
        """Create the member if needed and store what Telegram says about them now."""
        async with self._db.transaction() as session:
            await member_store.insert_member_if_absent(
                session,
                who.telegram_id,
                display_name=who.full_name[:128],
                username=who.username,
                telegram_language=who.language_code,
                radius_km=2.0,
                reachable=True,
            )
            member = await member_store.get_by_telegram_id(session, who.telegram_id)
            assert member is not None
            member.telegram_language = who.language_code
            member.username = who.username
            if not member.display_name:
                member.display_name = who.full_name[:128]
            if not member.reachable:
                member.reachable = True
                member.unreachable_since = None
            # Seen now: idle members are purged some time after this (RetentionService).
            member.updated_at = self._db.clock()
            # The first coordinators come from settings; the rest are appointed in the bot.
            if who.telegram_id in self._coordinator_ids:
                await member_store.grant_roles(session, member.id, [Role.COORDINATOR])
            roles = await member_store.roles_of(session, member.id)
            return _profile(member, roles)

    def _unchanged(self, member: MemberIdentity, who: TelegramIdentity) -> bool:
        """Whether identifying `who` would change nothing stored about `member`."""
        return (
            member.updated_at > self._db.clock() - self._seen_resolution
            and member.reachable
            and bool(member.display_name)
            and member.telegram_language == who.language_code
            and member.username == who.username
            # A coordinator named in the settings holds the role already: nothing to grant.
            and (who.telegram_id not in self._coordinator_ids or Role.COORDINATOR in member.roles)
        )

    async def set_language(self, telegram_id: int, language: str) -> MemberProfile | None:
        """Remember the language a member chose; None if they are unknown."""
        async with self._db.transaction() as session:
            member = await member_store.get_by_telegram_id(session, telegram_id)
            if member is None:
                return None
            member.language = language
            roles = await member_store.roles_of(session, member.id)
            return _profile(member, roles)

    async def mark_unreachable(self, telegram_id: int) -> None:
        """Stop sending to someone who blocked the bot, until they write to it again."""
        async with self._db.transaction() as session:
            member = await member_store.get_by_telegram_id(session, telegram_id)
            if member is not None and member.reachable:
                member.reachable = False
                member.unreachable_since = self._db.clock()

    async def find(self, telegram_id: int) -> MemberProfile | None:
        """The member with this Telegram id, without changing anything."""
        async with self._db.read() as session:
            member = await member_store.identity_of(session, telegram_id)
        return None if member is None else _profile(member, member.roles)

    async def staff(self) -> list[MemberProfile]:
        """Coordinators and referents, who get their own command menus."""
        async with self._db.read() as session:
            rows = await member_store.members_with_any_role(
                session, [Role.COORDINATOR, Role.REFERENT]
            )
            return [_profile(member, roles) for member, roles in rows]
