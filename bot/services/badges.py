"""The brigade card: an approved volunteer shows a short code; a referent checks it at the door.

The code is 6 characters from an alphabet without look-alikes (no 0/O, 1/I/L), unique (a unique
index on `members.badge_code`), created on the volunteer's first /badge. /verify says whether the
code belongs to an approved volunteer who is still in the brigade: a rejected volunteer's code,
or a forgotten one's (erasure blanks the code and the Telegram id), is invalid.

Guessing is slowed down: each unsuccessful check is an audit event, and a person with
MAX_FAILED_CHECKS of them in the last hour is told to wait.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.vocabulary import Role, VolunteerStatus
from bot.services.base import Service
from bot.services.outcomes import Outcome
from storage import members as member_store
from storage.database import Database
from storage.models import AuditEvent, Member

ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 6
MAX_FAILED_CHECKS = 10
CHECK_WINDOW = timedelta(hours=1)
_ATTEMPTS = 20  # new codes tried before giving up (a clash is already one in ~900 million)


def new_code() -> str:
    """A random code from the unambiguous alphabet."""
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def normalise(raw: str) -> str | None:
    """The code as stored, from what someone typed ("abc 234", "ABC-234"); None if malformed."""
    code = "".join(raw.split()).replace("-", "").upper()
    if len(code) != CODE_LENGTH or any(char not in ALPHABET for char in code):
        return None
    return code


@dataclass(frozen=True)
class Badge:
    """What the volunteer's card shows."""

    display_name: str
    approved_at: datetime | None
    code: str


class Check(StrEnum):
    """The answer to /verify."""

    VALID = "valid"
    INVALID = "invalid"  # unknown code, or not an approved volunteer still in the brigade
    MALFORMED = "malformed"  # not 6 characters of the alphabet
    TOO_MANY = "too_many"  # too many unsuccessful checks in the last hour
    NOT_ALLOWED = "not_allowed"  # only referents and coordinators check codes


@dataclass(frozen=True)
class Verification:
    """The result of a check, with the volunteer's first name and approval date when valid."""

    check: Check
    first_name: str | None = None
    approved_at: datetime | None = None
    paused: bool = False


class BadgeService(Service):
    """Give volunteers their card code, and check codes for referents and coordinators."""

    def __init__(
        self,
        database: Database,
        *,
        max_failed_checks: int = MAX_FAILED_CHECKS,
        window: timedelta = CHECK_WINDOW,
        code_factory: Callable[[], str] = new_code,
    ) -> None:
        super().__init__(database)
        self._max_failed = max_failed_checks
        self._window = window
        self._new_code = code_factory

    async def badge(self, telegram_id: int) -> Badge | Outcome:
        """The approved volunteer's card, its code created on first use; NOT_ALLOWED otherwise."""
        async with self._db.transaction() as session:
            member = await member_store.get_by_telegram_id(session, telegram_id)
            if member is None or not await self._active_volunteer(session, member):
                return Outcome.NOT_ALLOWED
            if member.badge_code is None:
                code = await self._assign_code(session, member.id)
                if code is None:
                    return Outcome.INVALID
                await session.refresh(member)
            assert member.badge_code is not None
            return Badge(member.display_name, member.approved_at, member.badge_code)

    async def _assign_code(self, session: AsyncSession, member_id: int) -> str | None:
        """Give the member a code no one holds; the unique index settles any race."""
        for _attempt in range(_ATTEMPTS):
            code = self._new_code()
            try:
                async with session.begin_nested():
                    done = await session.execute(
                        update(Member)
                        .where(Member.id == member_id, Member.badge_code.is_(None))
                        .values(badge_code=code)
                        .returning(Member.badge_code)
                    )
                    if done.one_or_none() is None:
                        # A concurrent /badge of the same person gave it a code first.
                        return await session.scalar(
                            select(Member.badge_code).where(Member.id == member_id)
                        )
                return code
            except IntegrityError:
                continue  # someone else holds this code: draw another
        return None

    @staticmethod
    async def _active_volunteer(session: AsyncSession, member: Member) -> bool:
        if member.telegram_id is None or member.forgotten_at is not None:
            return False
        if member.volunteer_status is not VolunteerStatus.APPROVED:
            return False
        return Role.VOLUNTEER in await member_store.roles_of(session, member.id)

    async def verify(self, checker_telegram_id: int, raw_code: str) -> Verification:
        """Whether the code is an approved, active volunteer's; rate-limited per checker."""
        now = self._clock()
        async with self._db.transaction() as session:
            checker = await member_store.get_by_telegram_id(session, checker_telegram_id)
            if checker is None:
                return Verification(Check.NOT_ALLOWED)
            roles = await member_store.roles_of(session, checker.id)
            if not roles & {Role.REFERENT, Role.COORDINATOR}:
                return Verification(Check.NOT_ALLOWED)
            failed = (
                await session.execute(
                    select(func.count())
                    .select_from(AuditEvent)
                    .where(
                        AuditEvent.actor_member_id == checker.id,
                        AuditEvent.entity == "badge",
                        AuditEvent.action == "verify_failed",
                        AuditEvent.occurred_at > now - self._window,
                    )
                )
            ).scalar_one()
            if failed >= self._max_failed:
                return Verification(Check.TOO_MANY)
            code = normalise(raw_code)
            holder = (
                (
                    await session.execute(select(Member).where(Member.badge_code == code))
                ).scalar_one_or_none()
                if code is not None
                else None
            )
            valid = holder is not None and await self._active_volunteer(session, holder)
            session.add(
                AuditEvent(
                    occurred_at=now,
                    actor_member_id=checker.id,
                    entity="badge",
                    # The volunteer checked, when the code is theirs; 0 for an unknown code.
                    entity_id=holder.id if holder is not None else 0,
                    action="verify" if valid else "verify_failed",
                )
            )
            if code is None:
                return Verification(Check.MALFORMED)
            if not valid or holder is None:
                return Verification(Check.INVALID)
            first_name = (holder.display_name.split() or ["—"])[0]
            paused = holder.paused_until is not None and holder.paused_until > now
            return Verification(Check.VALID, first_name, holder.approved_at, paused)
