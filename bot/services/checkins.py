"""Keeping the list true: "Still with us?" to volunteers who took nothing for months.

The timer sweep asks, then pauses those who stayed silent, each step one set-based UPDATE …
RETURNING whatever the count (no query per volunteer) and one flush of outbox rows. A volunteer
paused so keeps `checkin_paused_at` — the marker coordinators see on the member card — until they
come back (/resume, or "Yes" on the old question). Idle members with no role are purged by
bot/services/retention.py, as before.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.vocabulary import Role, VolunteerStatus
from bot.messages.base import Reader
from bot.messages.charters import LEAVE, PAUSE, STAY, CheckIn, PausedForSilence
from bot.services.base import Configured
from bot.services.outcomes import Outcome
from bot.services.profile import INDEFINITE_PAUSE
from storage import audit
from storage.models import Claim, Member, MemberRole

# Volunteers asked (or paused) per sweep at most: a first run on an old brigade goes in slices.
CHECKIN_BATCH = 200
DAYS_PER_MONTH = 365.25 / 12
_READER = (Member.id, Member.telegram_id, Member.language, Member.telegram_language)


def checkin_period(months: int) -> timedelta:
    """How long "months" is for the check-in (whole days)."""
    return timedelta(days=round(months * DAYS_PER_MONTH))


def _readers(rows: object) -> list[Reader]:
    """Readers from (id, telegram id, language, Telegram's language) rows."""
    return [
        Reader(telegram_id, member_id, language, telegram_language)
        for member_id, telegram_id, language, telegram_language in rows  # type: ignore[attr-defined]
        if telegram_id is not None
    ]


class CheckinService(Configured):
    """Ask quiet volunteers whether they are still with the brigade; pause the silent ones."""

    @property
    def _period(self) -> timedelta:
        """How long a volunteer may take nothing before they are asked."""
        return checkin_period(self._settings.checkin_months)

    @property
    def _silence(self) -> timedelta:
        """How long an asked volunteer may stay silent before they are paused."""
        return timedelta(days=self._settings.checkin_silence_days)

    @property
    def _question(self) -> CheckIn:
        """The question, naming both periods."""
        settings = self._settings
        return CheckIn(settings.checkin_months, round(settings.checkin_silence_days))

    async def run_due(self) -> dict[str, int]:
        """Ask those due, pause those silent since they were asked; safe to call often."""
        async with self._transaction() as session:
            paused = await self._pause_silent(session)
            asked = await self._ask_due(session)
        return {"checkins_asked": asked, "checkins_paused": paused}

    async def _ask_due(self, session: AsyncSession) -> int:
        """Approved, reachable, unpaused volunteers of at least a period who took nothing in it
        and were not asked (or answered) within it: asked now."""
        now = self._clock()
        since = now - self._period
        due = (
            select(Member.id)
            .where(
                Member.volunteer_status == VolunteerStatus.APPROVED,
                Member.reachable.is_(True),
                Member.telegram_id.is_not(None),
                Member.forgotten_at.is_(None),
                func.coalesce(Member.approved_at, Member.created_at) <= since,
                or_(Member.paused_until.is_(None), Member.paused_until <= now),
                Member.checkin_asked_at.is_(None),
                or_(Member.checkin_answered_at.is_(None), Member.checkin_answered_at <= since),
                exists().where(
                    MemberRole.member_id == Member.id, MemberRole.role == Role.VOLUNTEER
                ),
                ~exists().where(Claim.volunteer_id == Member.id, Claim.claimed_at > since),
            )
            .order_by(Member.id)
            .limit(CHECKIN_BATCH)
        )
        rows = await session.execute(
            update(Member)
            .where(Member.id.in_(due))
            # Asking is not seeing them: `updated_at` (last seen) stays as it was.
            .values(checkin_asked_at=now, updated_at=Member.updated_at)
            .returning(*_READER)
            .execution_options(synchronize_session=False)
        )
        readers = _readers(rows.all())
        await self._messenger.post(session, [(self._question, reader) for reader in readers])
        await audit.record_each(
            session, "member", [reader.member_id or 0 for reader in readers], "checkin_asked"
        )
        return len(readers)

    async def _pause_silent(self, session: AsyncSession) -> int:
        """Those asked longer than the silence period ago: paused until they come back."""
        now = self._clock()
        silent = (
            select(Member.id)
            .where(
                Member.checkin_asked_at <= now - self._silence,
                Member.forgotten_at.is_(None),
            )
            .order_by(Member.id)
            .limit(CHECKIN_BATCH)
        )
        rows = await session.execute(
            update(Member)
            .where(Member.id.in_(silent))
            .values(
                checkin_asked_at=None,
                checkin_paused_at=now,
                paused_until=now + INDEFINITE_PAUSE,
                updated_at=Member.updated_at,
            )
            .returning(*_READER)
            .execution_options(synchronize_session=False)
        )
        readers = _readers(rows.all())
        await self._messenger.post(session, [(PausedForSilence(), reader) for reader in readers])
        await audit.record_each(
            session, "member", [reader.member_id or 0 for reader in readers], "checkin_paused"
        )
        return len(readers)

    async def answer(self, telegram_id: int, choice: str) -> Outcome:
        """Record the volunteer's answer to an open check-in: DONE, or NOT_FOUND when no
        question is open for them. "Yes" after silence paused them ends that pause too."""
        if choice not in (STAY, PAUSE, LEAVE):
            return Outcome.INVALID
        now = self._clock()
        async with self._db.transaction() as session:
            member = (
                await session.execute(
                    select(Member).where(
                        Member.telegram_id == telegram_id,
                        Member.forgotten_at.is_(None),
                        or_(
                            Member.checkin_asked_at.is_not(None),
                            Member.checkin_paused_at.is_not(None),
                        ),
                    )
                )
            ).scalar_one_or_none()
            if member is None:
                return Outcome.NOT_FOUND
            if choice == STAY and member.checkin_paused_at is not None:
                member.paused_until = None
            if choice == STAY:
                member.checkin_paused_at = None
            member.checkin_asked_at = None
            member.checkin_answered_at = now
            await audit.record(
                session,
                "member",
                member.id,
                "checkin_answer",
                by=member.id,
                detail={"cause": choice},
            )
            return Outcome.DONE

    async def paused_by_silence(self, member_id: int) -> bool:
        """Whether this member's offers are paused because they did not answer the check-in
        (for the member card)."""
        async with self._db.read() as session:
            member = await session.get(Member, member_id)
            return member is not None and member.checkin_paused_at is not None
