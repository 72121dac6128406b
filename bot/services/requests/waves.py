"""Offering a request: the neighbourhood's group, the nearest volunteers first, then the others.

A series' regular volunteer may get it alone first (wave 0); "Not for me" ends their turn.

Availability: the first wave goes to the nearest volunteers free at the request's time (its own
slot, or for "as soon as possible" the current one); those who said they are usually not free
then are offered only in the last wave, with everyone left, and escalation comes after it as
before. Not "never": availability is what a volunteer is *usually* free for, and a request that
nobody free can do must still reach someone who might before a coordinator is alerted — the
coordinator would otherwise have to find, by hand, the very people the bot skipped. When nobody
free is left at the first wave, it is the last one: everyone at once, no wait for nothing. A
series' regular (wave 0) and a coordinator's re-offer or widening reach everyone eligible, as
those are deliberate choices of a person.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.availability import wanted_slot
from bot.domain.vocabulary import RequestStatus
from bot.messages.base import Reader
from bot.messages.claims import RegularPassed
from bot.messages.offers import OfferCopy, RequestView
from bot.services.matching import Candidate, Need, find_candidates
from bot.services.outcomes import StepOutcome
from bot.services.requests.base import RequestsBase
from storage import audit
from storage import members as member_store
from storage.models import HelpRequest, Member, Neighbourhood, Offer
from storage.writes import changed

# How long "Not for me" can be undone from the offer it was tapped on.
UNDO_DECLINE = timedelta(minutes=1)


class Waves(RequestsBase):
    """Offer a request in waves, and hear who passes."""

    async def _candidates(
        self, session: AsyncSession, request: HelpRequest, *, radius_factor: float = 1.0
    ) -> list[Candidate]:
        """Who may be offered the request now, nearest first (never its referent), each saying
        whether the request's time fits their availability."""
        now = self._clock()
        tz = self._settings.tz
        return await find_candidates(
            session,
            Need(
                request.skill_id,
                request.latitude,
                request.longitude,
                request_id=request.id,
                exclude_member_id=request.referent_id,
                radius_factor=radius_factor,
                wanted=wanted_slot(request.when_kind, request.starts_at, now=now, tz=tz),
            ),
            now=now,
            tz=tz,
        )

    async def _offer_to_regular(
        self,
        session: AsyncSession,
        request: HelpRequest,
        view: RequestView,
        regular_id: int,
        exclusive_minutes: float,
    ) -> bool:
        """Offer the request to the series' regular alone (wave 0), if they may take it now."""
        regular = [c for c in await self._candidates(session, request) if c.member_id == regular_id]
        if not regular:
            return False  # paused, unreachable, capped…: offered to everyone, as usual
        now = self._clock()
        await self._offer_to(session, view, 0, regular, now)
        request.wave = 0
        request.next_wave_at = now + timedelta(minutes=max(1.0, exclusive_minutes))
        return True

    async def _post_in_group(
        self, session: AsyncSession, view: RequestView, neighbourhood_id: int | None
    ) -> bool:
        """Post the offer in the neighbourhood's group, if it has one that takes requests."""
        neighbourhood = (
            await session.get(Neighbourhood, neighbourhood_id) if neighbourhood_id else None
        )
        if neighbourhood is None or neighbourhood.group_chat_id is None:
            return False
        if not neighbourhood.post_to_group:
            return False
        offer = Offer(request_id=view.id, chat_id=neighbourhood.group_chat_id, kind="group", wave=0)
        session.add(offer)
        await session.flush()
        notice = OfferCopy(view, offer.id, direct=False)
        await self._messenger.send(session, notice, Reader(neighbourhood.group_chat_id))
        return True

    async def _send_wave(
        self,
        session: AsyncSession,
        request: HelpRequest,
        view: RequestView,
        *,
        everyone: bool = False,
    ) -> tuple[int, int]:
        """Offer the request to the next nearest candidates; plan the next wave or the alert.

        The first wave takes only volunteers free at the request's time (see the module's
        docstring); with none of them, it is the last wave and takes everyone.
        """
        now = self._clock()
        candidates = await self._candidates(session, request)
        free = [candidate for candidate in candidates if candidate.available]
        if everyone or not free:
            wave, rest = candidates, []
        else:
            wave = free[: self._settings.wave_size]
            chosen = {candidate.member_id for candidate in wave}
            rest = [candidate for candidate in candidates if candidate.member_id not in chosen]
        request.wave += 1
        await self._offer_to(session, view, request.wave, wave, now)
        if rest:
            request.next_wave_at = now + timedelta(minutes=self._settings.wave_delay_minutes)
            request.escalate_at = None
        else:
            request.next_wave_at = None
            request.escalate_at = now + timedelta(minutes=self._settings.escalation_delay_minutes)
        return len(wave), len(rest)

    async def _offer_to(
        self,
        session: AsyncSession,
        view: RequestView,
        wave: int,
        candidates: list[Candidate],
        now: datetime,
    ) -> None:
        """One offer copy per candidate, in their private chat."""
        if not candidates:
            return
        members = {
            m.id: m
            for m in (
                await session.execute(
                    select(Member).where(Member.id.in_([c.member_id for c in candidates]))
                )
            ).scalars()
        }
        offers = [
            Offer(
                request_id=view.id,
                member_id=candidate.member_id,
                chat_id=candidate.telegram_id,
                kind="direct",
                wave=wave,
            )
            for candidate in candidates
        ]
        # One flush for the whole wave: a widened request may reach thousands of volunteers, and
        # this transaction holds the write lock all along.
        session.add_all(offers)
        await session.flush()
        for member in members.values():
            member.last_offered_at = now
        await self._messenger.post(
            session,
            [
                (
                    OfferCopy(
                        view,
                        offer.id,
                        direct=True,
                        distance_km=candidate.distance_km,
                        silent=candidate.silent,
                        charter_to_accept=candidate.charter_to_accept,
                    ),
                    Reader.in_chat(offer.chat_id, members[candidate.member_id]),
                )
                for offer, candidate in zip(offers, candidates, strict=True)
            ],
        )

    async def next_wave(self, request_id: int, *, only_if_due: bool = False) -> int:
        """Offer a still-open request to the rest of its candidates (the second wave)."""
        now = self._clock()
        async with self._transaction() as session:
            # Locked and re-checked: two processes sweeping timers send the wave once.
            request = await session.get(HelpRequest, request_id, with_for_update=True)
            if request is None or request.status is not RequestStatus.OPEN:
                return 0
            if only_if_due and (request.next_wave_at is None or request.next_wave_at > now):
                return 0
            view = await self._view(session, request_id)
            regular_passed = request.wave == 0
            if regular_passed:
                await self._post_in_group(session, view, request.neighbourhood_id)
            offered, _ = await self._send_wave(session, request, view, everyone=not regular_passed)
            if regular_passed:
                notice = RegularPassed(view.id, view.skill_label)
                await self._tell_referent(session, view, notice)
            await audit.record(
                session,
                "request",
                request.id,
                "wave",
                detail={"wave": request.wave, "offered": offered},
            )
            return offered

    async def decline(
        self, volunteer_telegram_id: int, request_id: int, *, message_id: int | None
    ) -> StepOutcome:
        """ "Not for me", tapped on `message_id`: no further message about this request to them.

        Only on the volunteer's own copy of this request's offer: DONE lets the caller edit the
        tapped message, so a button forged on another message must not get that far.
        """
        return await self._own_copy_step(
            volunteer_telegram_id, request_id, message_id, self._decline
        )

    async def _decline(
        self, session: AsyncSession, volunteer: Member, offer: Offer, now: datetime
    ) -> StepOutcome:
        if offer.declined_at is not None:
            return StepOutcome.STALE
        offer.declined_at = now
        await audit.record(session, "offer", offer.id, "decline", by=volunteer.id)
        request = await session.get(HelpRequest, offer.request_id)
        if request is not None and request.wave == 0 and request.status is RequestStatus.OPEN:
            # The regular passed: the others need not wait for the deadline.
            request.next_wave_at = now
        return StepOutcome.DONE

    async def undo_decline(
        self, volunteer_telegram_id: int, request_id: int, *, message_id: int | None
    ) -> StepOutcome:
        """↩️ Undo a "Not for me" within `UNDO_DECLINE`: the copy is offered again as it now
        stands (edited through the outbox); STALE once the minute is over."""
        return await self._own_copy_step(
            volunteer_telegram_id, request_id, message_id, self._undo_decline
        )

    async def _undo_decline(
        self, session: AsyncSession, volunteer: Member, offer: Offer, now: datetime
    ) -> StepOutcome:
        if offer.declined_at is None:
            return StepOutcome.ALREADY_DONE
        # One conditional UPDATE: a late or repeated tap cannot bring it back.
        undone = await changed(
            session,
            update(Offer)
            .where(Offer.id == offer.id, Offer.declined_at >= now - UNDO_DECLINE)
            .values(declined_at=None)
            .returning(Offer.id),
        )
        if undone is None:
            return StepOutcome.STALE
        await audit.record(session, "offer", offer.id, "undo_decline", by=volunteer.id)
        await self._refresh_copies(
            session, await self._view(session, offer.request_id), only=offer.id
        )
        return StepOutcome.DONE

    async def _own_copy_step(
        self,
        telegram_id: int,
        request_id: int,
        message_id: int | None,
        step: Callable[[AsyncSession, Member, Offer, datetime], Awaitable[StepOutcome]],
    ) -> StepOutcome:
        """Run one of the volunteer's steps on their own copy of the offer, in its transaction."""
        now = self._clock()
        async with self._transaction() as session:
            found = await self._own_copy(session, telegram_id, request_id, message_id)
            if isinstance(found, StepOutcome):
                return found
            volunteer, offer = found
            return await step(session, volunteer, offer, now)

    @staticmethod
    async def _own_copy(
        session: AsyncSession, telegram_id: int, request_id: int, message_id: int | None
    ) -> tuple[Member, Offer] | StepOutcome:
        """The volunteer's own private copy of the offer, if the tap came from it."""
        volunteer = await member_store.get_by_telegram_id(session, telegram_id)
        if volunteer is None:
            return StepOutcome.NOT_ALLOWED
        offer = (
            await session.execute(
                select(Offer).where(
                    Offer.request_id == request_id,
                    Offer.member_id == volunteer.id,
                    Offer.chat_id == telegram_id,
                )
            )
        ).scalar_one_or_none()
        # A copy whose message id is not recorded yet (just sent) is taken on trust.
        if offer is None or offer.message_id not in {None, message_id}:
            return StepOutcome.NOT_FOUND
        return volunteer, offer
