"""Writing through the bot: the claimer and the referent while the claim holds, anyone to the
coordinators, a coordinator back to them; and a referent's phone for their claimers.

Nobody's phone or username travels: the reader gets a header with the writer's display name and
a copy of the message (bot/messages/correspondence.py). Each message is an audit event — who,
when, about which claim or person — never its content, which the database never holds.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.domain.lifecycle import HOLDING_PLACE
from bot.domain.vocabulary import RequestStatus, Role, VolunteerStatus
from bot.messages.base import Reader
from bot.messages.correspondence import (
    ABOUT_CLAIM,
    ANSWER_MEMBER,
    TO_COORDINATORS,
    CoordinatorsAnswer,
    CopiedMessage,
    LetterAboutClaim,
    LetterToCoordinators,
    Opening,
    Side,
)
from bot.messages.messenger import Messenger
from bot.pseudonyms import Pseudonyms
from bot.services.base import Notifying, no_wake
from bot.services.outcomes import Outcome
from bot.services.profile import PHONE_PATTERN
from storage import audit, limits
from storage import members as member_store
from storage.database import Database
from storage.models import AuditEvent, Claim, HelpRequest, Member, MemberRole

SUPPORT_WINDOW = timedelta(hours=24)
# A request still being worked on: its claimer and referent may write to each other.
LIVE_REQUEST = frozenset({RequestStatus.OPEN, RequestStatus.FULL})


class CorrespondenceService(Notifying):
    """Messages between people who must reach each other, through the bot."""

    def __init__(
        self,
        database: Database,
        messenger: Messenger,
        *,
        pseudonyms: Pseudonyms,
        support_per_day: int,
        after_commit: Callable[[], None] = no_wake,
    ) -> None:
        super().__init__(database, messenger, after_commit=after_commit)
        self._pseudonyms = pseudonyms
        self._support_per_day = support_per_day

    # --- between the claimer and the referent ----------------------------------------------

    async def open_claim(self, telegram_id: int, claim_id: int) -> Opening:
        """May this person write about this claim now, and to whom (the other side)."""
        async with self._db.transaction() as session:
            opening, _writer, _reader = await self._claim_sides(session, telegram_id, claim_id)
            return opening

    async def write_about_claim(self, telegram_id: int, claim_id: int, message_id: int) -> Opening:
        """Copy the person's message `message_id` to the other side of the claim, if it holds."""
        async with self._transaction() as session:
            opening, writer, reader = await self._claim_sides(session, telegram_id, claim_id)
            if opening.outcome is not Outcome.DONE or writer is None or reader is None:
                return opening
            assert opening.request_id is not None
            header = LetterAboutClaim(writer.display_name, opening.request_id)
            copy = CopiedMessage(telegram_id, message_id, ABOUT_CLAIM, claim_id)
            to = Reader.of(reader)
            assert to is not None
            await self._messenger.post(session, [(header, to), (copy, to)])
            await audit.record(
                session, "claim", claim_id, "write", by=writer.id, detail={"to": opening.to}
            )
            return opening

    async def _claim_sides(
        self, session: AsyncSession, telegram_id: int, claim_id: int
    ) -> tuple[Opening, Member | None, Member | None]:
        """The opening, the writer and the reader: the claimer and the request's referent."""
        volunteer, referent = aliased(Member), aliased(Member)
        row = (
            await session.execute(
                select(Claim, HelpRequest, volunteer, referent)
                .join(HelpRequest, HelpRequest.id == Claim.request_id)
                .outerjoin(volunteer, volunteer.id == Claim.volunteer_id)
                .outerjoin(referent, referent.id == HelpRequest.referent_id)
                .where(Claim.id == claim_id)
            )
        ).one_or_none()
        if row is None:
            # Answered like someone else's claim: a forged id learns nothing.
            return Opening(Outcome.NOT_ALLOWED), None, None
        claim, request, claimer, poster = row
        if claimer is not None and claimer.telegram_id == telegram_id:
            writer, reader, to = claimer, poster, Side.REFERENT
        elif poster is not None and poster.telegram_id == telegram_id:
            writer, reader, to = poster, claimer, Side.VOLUNTEER
        else:
            return Opening(Outcome.NOT_ALLOWED), None, None
        holds = (
            claim.status in HOLDING_PLACE
            and request.status in LIVE_REQUEST
            and claimer is not None
            and claimer.volunteer_status is VolunteerStatus.APPROVED
        )
        if not holds:
            return Opening(Outcome.EXPIRED, to, request_id=request.id), None, None
        if reader is None or reader.telegram_id is None or not reader.reachable:
            return Opening(Outcome.NOT_FOUND, to, request_id=request.id), None, None
        return Opening(Outcome.DONE, to, reader.display_name, request.id), writer, reader

    # --- the coordinators' inbox ------------------------------------------------------------

    async def open_support(self, telegram_id: int) -> Opening:
        """May this person write to the coordinators now (the day's limit)."""
        async with self._db.transaction() as session:
            return Opening(await self._support_allowed(session, telegram_id), Side.COORDINATORS)

    async def to_coordinators(self, telegram_id: int, message_id: int) -> Opening:
        """Copy the person's message `message_id` to every coordinator, with "↩ Reply"."""
        async with self._transaction() as session:
            writer = await member_store.get_by_telegram_id(session, telegram_id)
            if writer is None:
                return Opening(Outcome.NOT_FOUND)
            allowed = await self._support_allowed(session, telegram_id)
            if allowed is not Outcome.DONE:
                return Opening(allowed, Side.COORDINATORS)
            if await self._already_sent(session, writer.id, message_id):
                return Opening(Outcome.ALREADY_DONE, Side.COORDINATORS)
            coordinators = await self._coordinators(session)
            readers = [to for to in map(Reader.of, coordinators) if to is not None]
            if not readers:
                # Nobody would read it: say so, rather than "sent", and spend none of the day's.
                return Opening(Outcome.NOT_FOUND, Side.COORDINATORS)
            now = self._clock()
            mark = self._pseudonyms.of(telegram_id)
            await limits.add(session, limits.SUPPORT, mark, now + SUPPORT_WINDOW)
            header = LetterToCoordinators(writer.display_name)
            copy = CopiedMessage(telegram_id, message_id, ANSWER_MEMBER, writer.id)
            letters = [(notice, to) for to in readers for notice in (header, copy)]
            await self._messenger.post(session, letters)
            # The message's id in the writer's own chat: what tells a second tap on Send apart.
            await audit.record(session, "support", message_id, "write", by=writer.id)
            return Opening(Outcome.DONE, Side.COORDINATORS)

    async def open_answer(self, coordinator_telegram_id: int, member_id: int) -> Opening:
        """May this coordinator answer this person (still reachable)."""
        async with self._db.transaction() as session:
            opening, _coordinator, _member = await self._answer_sides(
                session, coordinator_telegram_id, member_id
            )
            return opening

    async def answer(
        self, coordinator_telegram_id: int, member_id: int, message_id: int
    ) -> Opening:
        """Copy a coordinator's message to the person, headed "The coordinators answer"."""
        async with self._transaction() as session:
            opening, coordinator, member = await self._answer_sides(
                session, coordinator_telegram_id, member_id
            )
            if coordinator is None or member is None:
                return opening
            to = Reader.of(member)
            assert to is not None
            copy = CopiedMessage(coordinator_telegram_id, message_id, TO_COORDINATORS, 0)
            await self._messenger.post(session, [(CoordinatorsAnswer(), to), (copy, to)])
            await audit.record(session, "member", member.id, "answer", by=coordinator.id)
            return opening

    async def _answer_sides(
        self, session: AsyncSession, coordinator_telegram_id: int, member_id: int
    ) -> tuple[Opening, Member | None, Member | None]:
        coordinator = await self._require(session, coordinator_telegram_id)
        if coordinator is None:
            return Opening(Outcome.NOT_ALLOWED), None, None
        member = await member_store.by_id(session, member_id)
        if member is None or member.telegram_id is None or not member.reachable:
            return Opening(Outcome.NOT_FOUND, Side.MEMBER), None, None
        return Opening(Outcome.DONE, Side.MEMBER, member.display_name), coordinator, member

    async def _support_allowed(self, session: AsyncSession, telegram_id: int) -> Outcome:
        """DONE while the person is below the day's limit (counted under their pseudonym, which
        /forget does not reset), TOO_SOON after."""
        since = self._clock() - SUPPORT_WINDOW
        mark = self._pseudonyms.of(telegram_id)
        sent = await limits.count_since(session, limits.SUPPORT, mark, since)
        return Outcome.DONE if sent < self._support_per_day else Outcome.TOO_SOON

    @staticmethod
    async def _already_sent(session: AsyncSession, member_id: int, message_id: int) -> bool:
        found = await session.execute(
            select(AuditEvent.id).where(
                AuditEvent.entity == "support",
                AuditEvent.entity_id == message_id,
                AuditEvent.actor_member_id == member_id,
            )
        )
        return found.first() is not None

    @staticmethod
    async def _coordinators(session: AsyncSession) -> list[Member]:
        """Every coordinator Brigade can write to (one query)."""
        rows = await session.execute(
            select(Member)
            .join(MemberRole, MemberRole.member_id == Member.id)
            .where(
                MemberRole.role == Role.COORDINATOR,
                Member.telegram_id.is_not(None),
                Member.reachable.is_(True),
            )
            .order_by(Member.id)
        )
        return list(rows.scalars())

    # --- a referent's phone -----------------------------------------------------------------

    async def share_phone(self, telegram_id: int, phone: str | None) -> Outcome:
        """A referent shows `phone` to the volunteers who take their requests, or (None) not."""
        cleaned = phone.strip() if phone is not None else None
        if cleaned is not None and not PHONE_PATTERN.match(cleaned):
            return Outcome.INVALID
        async with self._db.transaction() as session:
            referent = await self._require(session, telegram_id, Role.REFERENT)
            if referent is None:
                return Outcome.NOT_ALLOWED
            if cleaned is not None:
                referent.phone = cleaned
            referent.phone_shared = cleaned is not None
            detail = {"field": "phone_shared", "shared": referent.phone_shared}
            await audit.record(
                session, "member", referent.id, "edit_profile", by=referent.id, detail=detail
            )
            return Outcome.DONE
