"""A referent's concern about a volunteer's conduct: for the coordinators, never the volunteer.

Raised from the referent's "Is it done?" message (before or after answering it); kept as a row
the member card counts and lists (bot/services/directory.py).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.vocabulary import Role
from bot.messages.base import Reader
from bot.messages.standing import ConductConcernRaised
from bot.services.outcomes import StepOutcome
from bot.services.requests.base import RequestsBase
from storage import members as member_store
from storage.models import Claim, ConductConcern, HelpRequest, Member
from storage.writes import created


class Conduct(RequestsBase):
    """The referent tells the coordinators about a volunteer's conduct on their request."""

    async def may_report_conduct(self, referent_telegram_id: int, claim_id: int) -> StepOutcome:
        """Whether this person may report the conduct of this claim's volunteer (a read)."""
        async with self._db.read() as session:
            found = await self._conduct_target(session, referent_telegram_id, claim_id)
            return found if isinstance(found, StepOutcome) else StepOutcome.DONE

    async def report_conduct(self, referent_telegram_id: int, claim_id: int) -> StepOutcome:
        """Record the concern and tell every coordinator; once per claim and referent."""
        try:
            async with self._transaction() as session:
                found = await self._conduct_target(session, referent_telegram_id, claim_id)
                if isinstance(found, StepOutcome):
                    return found
                referent, claim, volunteer = found
                already = await session.execute(
                    select(ConductConcern.id).where(
                        ConductConcern.claim_id == claim.id,
                        ConductConcern.raised_by_id == referent.id,
                    )
                )
                if already.first() is not None:
                    return StepOutcome.ALREADY_DONE
                concern = ConductConcern(
                    volunteer_id=volunteer.id,
                    claim_id=claim.id,
                    request_id=claim.request_id,
                    raised_by_id=referent.id,
                    raised_at=self._clock(),
                )
                # Audited as the concern itself: the coordinators' matter, not an event of the
                # volunteer's own record (which /mydata gives them).
                await created(
                    session,
                    concern,
                    "conduct_concern",
                    "raise",
                    by=referent.id,
                    detail={"request_id": claim.request_id, "volunteer_id": volunteer.id},
                )
                coordinators = await member_store.members_with_any_role(session, [Role.COORDINATOR])
                notice = ConductConcernRaised(
                    volunteer.display_name, claim.request_id, referent.display_name, referent.phone
                )
                await self._messenger.send(
                    session, notice, *(Reader.of(member) for member, _roles in coordinators)
                )
                return StepOutcome.DONE
        except IntegrityError:
            # The same referent's second tap at the same moment: one concern is kept.
            return StepOutcome.ALREADY_DONE

    @staticmethod
    async def _conduct_target(
        session: AsyncSession, referent_telegram_id: int, claim_id: int
    ) -> tuple[Member, Claim, Member] | StepOutcome:
        """The referent of the claim's request, the claim and its volunteer (one query)."""
        volunteer = Member.__table__.alias("volunteer")
        row = (
            await session.execute(
                select(Claim, HelpRequest.referent_id, volunteer.c.id)
                .join(HelpRequest, HelpRequest.id == Claim.request_id)
                .outerjoin(volunteer, volunteer.c.id == Claim.volunteer_id)
                .where(Claim.id == claim_id)
            )
        ).one_or_none()
        if row is None:
            return StepOutcome.NOT_FOUND
        claim, referent_id, volunteer_id = row
        referent = await member_store.get_by_telegram_id(session, referent_telegram_id)
        if referent is None or referent.id != referent_id:
            return StepOutcome.NOT_ALLOWED
        member = await member_store.by_id(session, volunteer_id)
        if member is None or member.forgotten_at is not None:
            return StepOutcome.STALE
        return referent, claim, member
