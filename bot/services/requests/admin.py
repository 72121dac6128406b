"""A request nobody took: its referent or a coordinator offers it again, or farther away."""

from __future__ import annotations

from datetime import timedelta

from bot.domain.vocabulary import RequestStatus
from bot.services.outcomes import StepOutcome
from bot.services.requests.waves import Waves
from storage import audit
from storage.models import HelpRequest


class AdminActions(Waves):
    """Offer again, or widen the area."""

    async def resend(self, actor_telegram_id: int, request_id: int) -> StepOutcome:
        """Offer an open request to every fitting volunteer not yet asked; plan a new alert."""
        return await self._reoffer(actor_telegram_id, request_id, radius_factor=1.0)

    async def widen(self, actor_telegram_id: int, request_id: int) -> StepOutcome:
        """Offer an open request to volunteers up to twice their own radius away."""
        return await self._reoffer(actor_telegram_id, request_id, radius_factor=2.0)

    async def _reoffer(
        self, actor_telegram_id: int, request_id: int, *, radius_factor: float
    ) -> StepOutcome:
        now = self._clock()
        async with self._transaction() as session:
            request = await session.get(HelpRequest, request_id)
            if request is None:
                return StepOutcome.NOT_FOUND
            actor = await self._manager(session, actor_telegram_id, request)
            if actor is None:
                return StepOutcome.NOT_ALLOWED
            if request.status is not RequestStatus.OPEN:
                return StepOutcome.STALE
            view = await self._view(session, request_id)
            candidates = await self._candidates(session, request, radius_factor=radius_factor)
            request.wave += 1
            await self._offer_to(session, view, request.wave, candidates, now)
            request.escalated_at = None
            request.escalate_at = now + timedelta(minutes=self._settings.escalation_delay_minutes)
            await audit.record(
                session,
                "request",
                request.id,
                "widen" if radius_factor > 1 else "resend",
                by=actor.id,
                detail={"offered": len(candidates)},
            )
            return StepOutcome.DONE
