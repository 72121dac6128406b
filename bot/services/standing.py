"""A coordinator acts on a member: suspend or reinstate a volunteer, withdraw a role.

Each is one transaction: the change, its consequences through the request lifecycle (places
given back the one way, details removed, requests handed over), the audit event and the notices.
Offers, group claims and matching need nothing more: they take approved volunteers only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.lifecycle import volunteer_may_go
from bot.domain.vocabulary import ClaimStatus, Role, VolunteerStatus
from bot.messages.base import Reader
from bot.messages.messenger import Messenger
from bot.messages.standing import (
    RequestsHandedOver,
    RoleRevoked,
    VolunteerReinstated,
    VolunteerSuspended,
)
from bot.pseudonyms import Pseudonyms
from bot.services.base import no_wake
from bot.services.requests.base import HOLDING_REQUEST, GiveBack, RequestsBase
from bot.settings import Settings
from storage import audit, limits
from storage.database import Database
from storage.models import Claim, HelpRequest, Member, MemberRole
from storage.writes import changed

# Roles a coordinator may withdraw from the chat (a volunteer is suspended instead).
REVOCABLE = (Role.REFERENT, Role.COORDINATOR)
# How long a suspension is remembered under a pseudonym once the volunteer erased their data
# (/forget): long enough that erasing oneself is not a way back in; reinstating lifts it.
SUSPENSION_REMEMBERED = timedelta(days=365)
# A volunteer's standing moves: (from, to).
SUSPENSION = (VolunteerStatus.APPROVED, VolunteerStatus.SUSPENDED)
REINSTATEMENT = (VolunteerStatus.SUSPENDED, VolunteerStatus.APPROVED)


class Standing(StrEnum):
    """How a coordinator's action on a member ended."""

    DONE = "done"
    NOT_ALLOWED = "not_allowed"  # the actor is not a coordinator
    NOT_FOUND = "not_found"  # no such member (or forgotten)
    ALREADY_DONE = "already_done"  # suspended already, reinstated already, role already gone
    NOT_APPLICABLE = "not_applicable"  # not an approved volunteer (suspend), not suspended…
    LAST_COORDINATOR = "last_coordinator"  # the brigade would have no coordinator left
    BY_SETTINGS = "by_settings"  # named in BRIGADE_COORDINATOR_IDS: not from the chat


@dataclass(frozen=True)
class StandingResult:
    """What an action did: its outcome, whom it was about, what followed from it."""

    outcome: Standing
    name: str = ""
    claims_released: int = 0
    requests_handed_over: tuple[int, ...] = ()


class StandingService(RequestsBase):
    """Suspend, reinstate, withdraw a role; the coordinators' hand on the brigade."""

    def __init__(
        self,
        database: Database,
        messenger: Messenger,
        settings: Settings,
        *,
        pseudonyms: Pseudonyms,
        after_commit: Callable[[], None] = no_wake,
    ) -> None:
        super().__init__(database, messenger, settings, after_commit=after_commit)
        self._pseudonyms = pseudonyms

    async def suspend(
        self, coordinator_telegram_id: int, member_id: int, reason: str | None
    ) -> StandingResult:
        """Suspend an approved volunteer at once: their claims given back, details removed."""
        async with self._transaction() as session:
            found = await self._move(
                session, coordinator_telegram_id, member_id, SUSPENSION, reason
            )
            if isinstance(found, StandingResult):
                return found
            actor, member = found
            active = list(
                (
                    await session.execute(
                        select(Claim.id).where(
                            Claim.volunteer_id == member.id, Claim.status == ClaimStatus.ACTIVE
                        )
                    )
                ).scalars()
            )
            released = 0
            for claim_id in active:
                released += await self._give_back(session, claim_id, member, GiveBack.SUSPENDED)
            # Every private detail still in their chat goes now: the places just given back,
            # and the services said done that wait for their referent.
            holding_details = (
                await session.execute(
                    select(Claim).where(
                        Claim.volunteer_id == member.id,
                        Claim.details_outbox_id.is_not(None),
                        (Claim.purge_details_at.is_not(None)) | (Claim.status == ClaimStatus.DONE),
                    )
                )
            ).scalars()
            for claim in list(holding_details):
                await self._remove_details_now(session, claim)
            if member.telegram_id is not None:
                await limits.add(
                    session,
                    limits.SUSPENDED,
                    self._pseudonyms.of(member.telegram_id),
                    self._clock() + SUSPENSION_REMEMBERED,
                )
            await audit.record(
                session,
                "member",
                member.id,
                "suspend",
                by=actor.id,
                moved=SUSPENSION,
                detail={"reason": reason, "claims_released": released} if reason else None,
            )
            await self._messenger.send(session, VolunteerSuspended(reason), Reader.of(member))
            return StandingResult(Standing.DONE, member.display_name, claims_released=released)

    async def reinstate(
        self, coordinator_telegram_id: int, member_id: int, reason: str | None
    ) -> StandingResult:
        """Lift a suspension: approved again, without a new application."""
        async with self._transaction() as session:
            found = await self._move(
                session, coordinator_telegram_id, member_id, REINSTATEMENT, reason
            )
            if isinstance(found, StandingResult):
                return found
            actor, member = found
            if member.telegram_id is not None:
                await limits.remove(
                    session, limits.SUSPENDED, self._pseudonyms.of(member.telegram_id)
                )
            await audit.record(
                session,
                "member",
                member.id,
                "reinstate",
                by=actor.id,
                moved=REINSTATEMENT,
                detail={"reason": reason} if reason else None,
            )
            await self._messenger.send(session, VolunteerReinstated(reason), Reader.of(member))
            return StandingResult(Standing.DONE, member.display_name)

    async def revoke(
        self, coordinator_telegram_id: int, member_id: int, role: Role, reason: str | None
    ) -> StandingResult:
        """Withdraw a referent's or a coordinator's role; a referent's running requests go to
        the coordinator acting. Never the last coordinator, never one named in the settings."""
        if role not in REVOCABLE:
            return StandingResult(Standing.NOT_APPLICABLE)
        async with self._transaction() as session:
            found = await self._actor_and_member(session, coordinator_telegram_id, member_id)
            if isinstance(found, StandingResult):
                return found
            actor, member = found
            name = member.display_name
            if role is Role.COORDINATOR:
                if member.telegram_id in self._settings.coordinator_ids:
                    return StandingResult(Standing.BY_SETTINGS, name)
                # Locked (PostgreSQL): two coordinators withdrawing each other at once cannot
                # both see the other one left.
                coordinators = (
                    await session.execute(
                        select(MemberRole.member_id)
                        .where(MemberRole.role == Role.COORDINATOR)
                        .with_for_update()
                    )
                ).scalars()
                held = set(coordinators)
                if member.id in held and len(held) <= 1:
                    return StandingResult(Standing.LAST_COORDINATOR, name)
            removed = (
                await session.execute(
                    delete(MemberRole)
                    .where(MemberRole.member_id == member.id, MemberRole.role == role)
                    .returning(MemberRole.member_id)
                )
            ).one_or_none()
            if removed is None:
                return StandingResult(Standing.ALREADY_DONE, name)
            handed: tuple[int, ...] = ()
            if role is Role.REFERENT:
                handed = await self._hand_over(session, member, actor)
            await audit.record(
                session,
                "member",
                member.id,
                "revoke_role",
                by=actor.id,
                moved=(role, "revoked"),
                detail={"role": role.value, "reason": reason, "handed_over": list(handed)},
            )
            await self._messenger.send(session, RoleRevoked(role, reason), Reader.of(member))
            return StandingResult(Standing.DONE, name, requests_handed_over=handed)

    async def _hand_over(
        self, session: AsyncSession, referent: Member, coordinator: Member
    ) -> tuple[int, ...]:
        """The referent's requests still running become the coordinator's (who is told)."""
        handed = tuple(
            sorted(
                (
                    await session.execute(
                        update(HelpRequest)
                        .where(
                            HelpRequest.referent_id == referent.id,
                            HelpRequest.status.in_(HOLDING_REQUEST),
                        )
                        .values(referent_id=coordinator.id, updated_at=self._clock())
                        .returning(HelpRequest.id)
                    )
                ).scalars()
            )
        )
        if handed:
            notice = RequestsHandedOver(referent.display_name, handed)
            await self._messenger.send(session, notice, Reader.of(coordinator))
        return handed

    async def _actor_and_member(
        self, session: AsyncSession, coordinator_telegram_id: int, member_id: int
    ) -> tuple[Member, Member] | StandingResult:
        """The coordinator acting and the member acted on (or why there is none)."""
        actor = await self._require(session, coordinator_telegram_id)
        if actor is None:
            return StandingResult(Standing.NOT_ALLOWED)
        member = await session.get(Member, member_id)
        if member is None or member.forgotten_at is not None:
            return StandingResult(Standing.NOT_FOUND)
        return actor, member

    async def _move(
        self,
        session: AsyncSession,
        coordinator_telegram_id: int,
        member_id: int,
        move: tuple[VolunteerStatus, VolunteerStatus],
        reason: str | None,
    ) -> tuple[Member, Member] | StandingResult:
        """The coordinator moves the volunteer (from, to) with one conditional UPDATE: the
        coordinator and the volunteer once moved, or why it did not happen."""
        source, target = move
        found = await self._actor_and_member(session, coordinator_telegram_id, member_id)
        if isinstance(found, StandingResult):
            return found
        actor, member = found
        current = member.volunteer_status
        if current is target:
            return StandingResult(Standing.ALREADY_DONE, member.display_name)
        if current is not source or not volunteer_may_go(current, target):
            return StandingResult(Standing.NOT_APPLICABLE, member.display_name)
        # Conditional on the status read: two coordinators acting at once act once.
        moved = await changed(
            session,
            update(Member)
            .where(Member.id == member.id, Member.volunteer_status == source)
            .values(volunteer_status=target, status_reason=reason)
            .returning(Member.id),
        )
        if moved is None:
            return StandingResult(Standing.ALREADY_DONE, member.display_name)
        await session.refresh(member)
        return actor, member
