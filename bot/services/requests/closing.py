"""Ending a request: the volunteer says done, the referent confirms (or not), or it is cancelled."""

from __future__ import annotations

from datetime import timedelta
from functools import partial

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.lifecycle import HOLDING_PLACE, sources_of_claim
from bot.domain.vocabulary import ClaimStatus, RequestStatus
from bot.messages.base import Reader
from bot.messages.closing import AskConfirmation, RequestCancelled, ServiceConfirmed
from bot.services.outcomes import StepOutcome
from bot.services.requests.base import (
    CLAIM_TIMERS_OFF,
    RequestsBase,
    request_ends,
    request_still,
)
from storage import audit
from storage import members as member_store
from storage.models import Claim, HelpRequest, Member
from storage.writes import changed


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
        step = partial(self._done, note=note, minutes=minutes)
        return await self._claimer_step(volunteer_telegram_id, claim_id, step)

    async def _done(
        self,
        session: AsyncSession,
        claim: Claim,
        volunteer: Member,
        *,
        note: str | None,
        minutes: int | None,
    ) -> StepOutcome:
        done = await changed(
            session,
            update(Claim)
            .where(Claim.id == claim.id, Claim.status == ClaimStatus.ACTIVE)
            .values(
                status=ClaimStatus.DONE,
                done_at=self._clock(),
                note=note,
                minutes_spent=minutes,
                **CLAIM_TIMERS_OFF,
            )
            .returning(Claim.id),
        )
        if done is None:
            return StepOutcome.STALE
        moved = (ClaimStatus.ACTIVE, ClaimStatus.DONE)
        await audit.record(session, "claim", claim.id, "done", by=volunteer.id, moved=moved)
        await self._complete_if_all_done(session, claim.request_id)
        view = await self._view(session, claim.request_id)
        notice = AskConfirmation(claim.id, view.id, view.skill_label, volunteer.display_name, note)
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
                .where(request_still(request_id, RequestStatus.FULL))
                .values(status=RequestStatus.COMPLETED, updated_at=self._clock())
            )

    async def may_confirm(self, referent_telegram_id: int, claim_id: int) -> StepOutcome:
        """Whether the referent may still answer "Is it done?" for this claim (before asking
        whether it really was not done)."""
        async with self._db.read() as session:
            found = await _referents_claim(session, referent_telegram_id, claim_id)
            if isinstance(found, StepOutcome):
                return found
            _referent, claim, request = found
            return _may_say_not_done(claim, request)

    async def confirm(self, referent_telegram_id: int, claim_id: int, *, done: bool) -> StepOutcome:
        """The referent confirms the service (closing the request when all are) or says not done."""
        now = self._clock()
        target = ClaimStatus.CONFIRMED if done else ClaimStatus.NOT_DONE
        async with self._transaction() as session:
            # The request locked (PostgreSQL): a sweep ending it unconfirmed meanwhile would
            # leave this claim not done on an ended request, its place never reopened.
            found = await _referents_claim(session, referent_telegram_id, claim_id, lock=True)
            if isinstance(found, StepOutcome):
                return found
            referent, claim, request = found
            if not done and (refused := _may_say_not_done(claim, request)) is not StepOutcome.DONE:
                return refused
            confirmed = await changed(
                session,
                update(Claim)
                .where(Claim.id == claim_id, Claim.status.in_(sources_of_claim(target)))
                .values(
                    status=target,
                    confirmed_at=now if done else None,
                    # Kept a while after a confirmed service (a forgotten umbrella, a call
                    # back); removed at once when it was not done.
                    purge_details_at=(
                        now + timedelta(hours=self._settings.details_removal_hours) if done else now
                    ),
                )
                .returning(Claim.id),
            )
            if confirmed is None:
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
        # Completed, or ended unconfirmed and confirmed late (it then counts as confirmed).
        closing = (RequestStatus.COMPLETED, RequestStatus.FULL, RequestStatus.UNCONFIRMED)
        closed = await changed(
            session,
            update(HelpRequest)
            .where(request_still(request.id, *closing))
            .values(status=RequestStatus.CLOSED, closed_at=now, updated_at=now)
            .returning(HelpRequest.id),
        )
        if closed is not None:
            moved = (request.status, RequestStatus.CLOSED)
            await audit.record(session, "request", request.id, "close", moved=moved)

    async def cancel(
        self, actor_telegram_id: int, request_id: int, reason: str | None = None
    ) -> StepOutcome:
        """The referent (or a coordinator) cancels: claimers told, every copy marked cancelled."""
        step = partial(self._cancel, reason=reason)
        return await self._manager_step(actor_telegram_id, request_id, step)

    async def _cancel(
        self, session: AsyncSession, request: HelpRequest, actor: Member, *, reason: str | None
    ) -> StepOutcome:
        now = self._clock()
        active = (Claim.request_id == request.id, Claim.status == ClaimStatus.ACTIVE)
        cancelled = await changed(
            session,
            update(HelpRequest)
            .where(request_still(request.id, RequestStatus.OPEN, RequestStatus.FULL))
            .values(
                # Active claims are cancelled below; a claim already said done keeps its place
                # (it is the volunteer's record of a service given).
                places_taken=select(func.count())
                .where(Claim.request_id == request.id, Claim.status == ClaimStatus.DONE)
                .scalar_subquery(),
                cancel_reason=reason,
                **request_ends(RequestStatus.CANCELLED, now),
            )
            .returning(HelpRequest.id),
        )
        if cancelled is None:
            return StepOutcome.STALE
        claimers = await session.execute(
            select(Member).join(Claim, Member.id == Claim.volunteer_id).where(*active)
        )
        readers = [Reader.of(volunteer) for volunteer in claimers.scalars()]
        await session.execute(
            update(Claim)
            .where(*active)
            .values(status=ClaimStatus.CANCELLED, purge_details_at=now, **CLAIM_TIMERS_OFF)
        )
        moved = (None, RequestStatus.CANCELLED)
        await audit.record(session, "request", request.id, "cancel", by=actor.id, moved=moved)
        view = await self._view(session, request.id)
        await self._messenger.send(session, RequestCancelled(view.id, view.skill_label), *readers)
        await self._refresh_copies(session, view)
        return StepOutcome.DONE


def _may_say_not_done(claim: Claim, request: HelpRequest) -> StepOutcome:
    """Whether "not done" still applies: the claim waits for its answer (STALE otherwise) and
    its request did not end unconfirmed (TOO_LATE: it would not reopen)."""
    if claim.status not in sources_of_claim(ClaimStatus.NOT_DONE):
        return StepOutcome.STALE
    if request.status is RequestStatus.UNCONFIRMED:
        return StepOutcome.TOO_LATE
    return StepOutcome.DONE


async def _referents_claim(
    session: AsyncSession, referent_telegram_id: int, claim_id: int, *, lock: bool = False
) -> tuple[Member, Claim, HelpRequest] | StepOutcome:
    """The referent, a claim on their request and the request (row-locked until the
    transaction ends if `lock`): NOT_FOUND when the claim is gone, NOT_ALLOWED when the request
    is not theirs."""
    referent = await member_store.get_by_telegram_id(session, referent_telegram_id)
    claim = await session.get(Claim, claim_id)
    if claim is None:
        return StepOutcome.NOT_FOUND
    request = await session.get(HelpRequest, claim.request_id, with_for_update=lock or None)
    if referent is None or request is None or request.referent_id != referent.id:
        return StepOutcome.NOT_ALLOWED
    return referent, claim, request
