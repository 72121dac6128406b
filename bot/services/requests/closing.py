"""Ending a request: the volunteer says done, the referent confirms (or not), or it is cancelled."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.lifecycle import HOLDING_PLACE, sources_of_claim
from bot.domain.vocabulary import ClaimStatus, RequestStatus
from bot.messages.base import Reader
from bot.messages.closing import AskConfirmation, RequestCancelled, ServiceConfirmed
from bot.services.outcomes import StepOutcome
from bot.services.requests.base import RequestsBase
from storage import audit
from storage import members as member_store
from storage.models import Claim, HelpRequest, Member


class Closing(RequestsBase):
    """Done, confirmed or not done, cancelled."""

    async def mark_done(
        self,
        volunteer_telegram_id: int,
        claim_id: int,
        note: str | None = None,
        minutes: int | None = None,
    ) -> StepOutcome:
        """The volunteer says it is done: the referent is asked to confirm."""
        now = self._clock()
        async with self._transaction() as session:
            claim, volunteer = await self._own_claim(session, volunteer_telegram_id, claim_id)
            if claim is None or volunteer is None:
                return StepOutcome.NOT_ALLOWED if claim else StepOutcome.NOT_FOUND
            done = (
                await session.execute(
                    update(Claim)
                    .where(Claim.id == claim_id, Claim.status == ClaimStatus.ACTIVE)
                    .values(
                        status=ClaimStatus.DONE,
                        done_at=now,
                        note=note,
                        minutes_spent=minutes,
                        remind_at=None,
                        ask_done_at=None,
                    )
                    .returning(Claim.id)
                )
            ).one_or_none()
            if done is None:
                return StepOutcome.STALE
            await audit.record(
                session,
                "claim",
                claim_id,
                "done",
                by=volunteer.id,
                moved=(ClaimStatus.ACTIVE, ClaimStatus.DONE),
            )
            await self._complete_if_all_done(session, claim.request_id)
            view = await self._view(session, claim.request_id)
            notice = AskConfirmation(
                claim_id, view.id, view.skill_label, volunteer.display_name, note
            )
            await self._tell_referent(session, view, notice)
            return StepOutcome.DONE

    async def _complete_if_all_done(self, session: AsyncSession, request_id: int) -> None:
        """A full request whose every holding claim is done waits for confirmation."""
        holding = (
            (
                await session.execute(
                    select(Claim.status).where(
                        Claim.request_id == request_id, Claim.status.in_(HOLDING_PLACE)
                    )
                )
            )
            .scalars()
            .all()
        )
        if holding and all(status is ClaimStatus.DONE for status in holding):
            await session.execute(
                update(HelpRequest)
                .where(HelpRequest.id == request_id, HelpRequest.status == RequestStatus.FULL)
                .values(status=RequestStatus.COMPLETED, updated_at=self._clock())
            )

    async def confirm(self, referent_telegram_id: int, claim_id: int, *, done: bool) -> StepOutcome:
        """The referent confirms the service (closing the request when all are) or says not done."""
        now = self._clock()
        target = ClaimStatus.CONFIRMED if done else ClaimStatus.NOT_DONE
        async with self._transaction() as session:
            referent = await member_store.get_by_telegram_id(session, referent_telegram_id)
            claim = await session.get(Claim, claim_id)
            if claim is None:
                return StepOutcome.NOT_FOUND
            request = await session.get(HelpRequest, claim.request_id)
            if referent is None or request is None or request.referent_id != referent.id:
                return StepOutcome.NOT_ALLOWED
            changed = (
                await session.execute(
                    update(Claim)
                    .where(Claim.id == claim_id, Claim.status.in_(sources_of_claim(target)))
                    .values(
                        status=target,
                        confirmed_at=now if done else None,
                        # Kept a while after a confirmed service (a forgotten umbrella, a call
                        # back); removed at once when it was not done.
                        purge_details_at=(
                            now + timedelta(hours=self._settings.details_removal_hours)
                            if done
                            else now
                        ),
                    )
                    .returning(Claim.id)
                )
            ).one_or_none()
            if changed is None:
                return StepOutcome.STALE
            await audit.record(
                session,
                "claim",
                claim_id,
                "confirm" if done else "not_done",
                by=referent.id,
                moved=(ClaimStatus.DONE, target),
            )
            if done:
                await self._close_if_all_confirmed(session, request)
            else:
                await self._reopen_place(session, request.id)
            volunteer = await member_store.by_id(session, claim.volunteer_id)
            await self._messenger.send(
                session, ServiceConfirmed(request.id, done), Reader.of(volunteer)
            )
            await self._refresh_copies(session, await self._view(session, request.id))
            return StepOutcome.DONE

    async def _close_if_all_confirmed(self, session: AsyncSession, request: HelpRequest) -> None:
        """Close the request once every place is held by a confirmed service."""
        statuses = (
            (
                await session.execute(
                    select(Claim.status).where(
                        Claim.request_id == request.id,
                        Claim.status.in_([*HOLDING_PLACE, ClaimStatus.CONFIRMED]),
                    )
                )
            )
            .scalars()
            .all()
        )
        if not (
            statuses
            and all(s is ClaimStatus.CONFIRMED for s in statuses)
            and len(statuses) >= request.places_needed
        ):
            return
        now = self._clock()
        closed = await session.execute(
            update(HelpRequest)
            .where(
                HelpRequest.id == request.id,
                HelpRequest.status.in_([RequestStatus.COMPLETED, RequestStatus.FULL]),
            )
            .values(status=RequestStatus.CLOSED, closed_at=now, updated_at=now)
            .returning(HelpRequest.id)
        )
        if closed.one_or_none() is not None:
            await audit.record(
                session,
                "request",
                request.id,
                "close",
                moved=(RequestStatus.COMPLETED, RequestStatus.CLOSED),
            )

    async def cancel(
        self, actor_telegram_id: int, request_id: int, reason: str | None = None
    ) -> StepOutcome:
        """The referent (or a coordinator) cancels: claimers told, every copy marked cancelled."""
        now = self._clock()
        async with self._transaction() as session:
            request = await session.get(HelpRequest, request_id)
            if request is None:
                return StepOutcome.NOT_FOUND
            actor = await self._manager(session, actor_telegram_id, request)
            if actor is None:
                return StepOutcome.NOT_ALLOWED
            cancelled = (
                await session.execute(
                    update(HelpRequest)
                    .where(
                        HelpRequest.id == request_id,
                        HelpRequest.status.in_([RequestStatus.OPEN, RequestStatus.FULL]),
                    )
                    .values(
                        status=RequestStatus.CANCELLED,
                        # Active claims are cancelled below; a claim already said done keeps
                        # its place (it is the volunteer's record of a service given).
                        places_taken=select(func.count())
                        .where(Claim.request_id == request_id, Claim.status == ClaimStatus.DONE)
                        .scalar_subquery(),
                        cancel_reason=reason,
                        closed_at=now,
                        next_wave_at=None,
                        escalate_at=None,
                        updated_at=now,
                    )
                    .returning(HelpRequest.id)
                )
            ).one_or_none()
            if cancelled is None:
                return StepOutcome.STALE
            claimers = (
                await session.execute(
                    select(Member)
                    .join(Claim, Member.id == Claim.volunteer_id)
                    .where(Claim.request_id == request_id, Claim.status == ClaimStatus.ACTIVE)
                )
            ).scalars()
            readers = [Reader.of(volunteer) for volunteer in claimers]
            await session.execute(
                update(Claim)
                .where(Claim.request_id == request_id, Claim.status == ClaimStatus.ACTIVE)
                .values(
                    status=ClaimStatus.CANCELLED,
                    remind_at=None,
                    ask_done_at=None,
                    purge_details_at=now,
                )
            )
            await audit.record(
                session,
                "request",
                request_id,
                "cancel",
                by=actor.id,
                moved=(None, RequestStatus.CANCELLED),
            )
            view = await self._view(session, request_id)
            await self._messenger.send(
                session, RequestCancelled(view.id, view.skill_label), *readers
            )
            await self._refresh_copies(session, view)
            return StepOutcome.DONE
