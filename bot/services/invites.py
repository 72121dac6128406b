"""Invitations: single-use, expiring deep links that make someone a referent or coordinator."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update

from bot.domain.vocabulary import Role
from bot.services.base import Service
from bot.services.outcomes import Outcome
from storage import audit
from storage import members as member_store
from storage.database import Database
from storage.models import Invite
from storage.writes import created

INVITE_PREFIX = "i-"
NEIGHBOURHOOD_PREFIX = "n-"
INVITABLE_ROLES = (Role.REFERENT, Role.COORDINATOR)


def token_hash(token: str) -> str:
    """What the database keeps of an invitation's token (128 random bits: no salt needed)."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class CreatedInvite:
    """A fresh invitation and the deep-link payload that carries it."""

    token: str
    role: Role
    expires_at: datetime

    @property
    def start_payload(self) -> str:
        """What goes after `?start=` in the t.me link (Telegram allows A-Z a-z 0-9 _ -)."""
        return INVITE_PREFIX + self.token


@dataclass(frozen=True)
class Redemption:
    """The result of opening an invitation link."""

    outcome: Outcome
    role: Role | None = None


class InviteService(Service):
    """Create and redeem invitations; only coordinators create them."""

    def __init__(
        self,
        database: Database,
        ttl: timedelta = timedelta(days=7),
    ) -> None:
        super().__init__(database)
        self._ttl = ttl
        self._clock = database.clock

    async def create(self, coordinator_telegram_id: int, role: Role) -> CreatedInvite | Outcome:
        """A single-use link granting `role`; NOT_ALLOWED unless a coordinator asks."""
        if role not in INVITABLE_ROLES:
            return Outcome.INVALID
        async with self._db.transaction() as session:
            actor = await self._require(session, coordinator_telegram_id)
            if actor is None:
                return Outcome.NOT_ALLOWED
            token = secrets.token_urlsafe(16)  # 128 bits, 22 characters
            expires_at = self._clock() + self._ttl
            invite = Invite(
                token_hash=token_hash(token),
                role=role,
                created_by_id=actor.id,
                expires_at=expires_at,
            )
            detail = {"role": role.value}
            await created(
                session, invite, "invite", "create", by=actor.id, state="open", detail=detail
            )
            return CreatedInvite(token=token, role=role, expires_at=expires_at)

    async def redeem(self, token: str, telegram_id: int) -> Redemption:
        """Use an invitation for the member with this Telegram id (who must already exist)."""
        now = self._clock()
        hashed = token_hash(token)
        async with self._db.transaction() as session:
            member = await member_store.get_by_telegram_id(session, telegram_id)
            if member is None:
                return Redemption(Outcome.NOT_FOUND)
            # One conditional UPDATE: two people racing for one link cannot both win it.
            claimed = await session.execute(
                update(Invite)
                .where(
                    Invite.token_hash == hashed,
                    Invite.used_at.is_(None),
                    Invite.revoked_at.is_(None),
                    Invite.expires_at > now,
                )
                .values(used_at=now, used_by_id=member.id)
                .returning(Invite.id, Invite.role)
            )
            row = claimed.one_or_none()
            if row is None:
                invite = (
                    await session.execute(select(Invite).where(Invite.token_hash == hashed))
                ).scalar_one_or_none()
                if invite is None:
                    return Redemption(Outcome.NOT_FOUND)
                if invite.used_by_id == member.id:
                    return Redemption(Outcome.ALREADY_DONE, invite.role)
                if invite.used_at is not None or invite.revoked_at is not None:
                    return Redemption(Outcome.ALREADY_DONE)
                return Redemption(Outcome.EXPIRED)
            invite_id, role = row
            await member_store.grant_roles(session, member.id, [role])
            await audit.record(
                session,
                "invite",
                invite_id,
                "redeem",
                by=member.id,
                moved=("open", "used"),
                detail={"role": Role(role).value},
            )
            return Redemption(Outcome.DONE, Role(role))
