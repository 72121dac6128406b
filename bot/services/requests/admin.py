"""A request nobody took: its referent or a coordinator offers it again, or farther away."""

from __future__ import annotations

from datetime import timedelta
from functools import partial

from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.vocabulary import RequestStatus
from bot.services.outcomes import StepOutcome
from bot.services.requests.waves import Waves
from storage import audit
from storage.models import HelpRequest, Member


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
        step = partial(self._offer_again, radius_factor=radius_factor)
        return await self._manager_step(actor_telegram_id, request_id, step)

    async def _offer_again(
        self, session: AsyncSession, request: HelpRequest, actor: Member, *, radius_factor: float
    ) -> StepOutcome:
        if request.status is not RequestStatus.OPEN:
            return StepOutcome.STALE
        now = self._clock()
        view = await self._view(session, request.id)
        candidates = await self._candidates(session, request, radius_factor=radius_factor)
        request.wave += 1
        await self._offer_to(session, view, request.wave, candidates, now)
        request.escalated_at = None
        request.escalate_at = now + timedelta(minutes=self._settings.escalation_delay_minutes)
        action = "widen" if radius_factor > 1 else "resend"
        detail = {"offered": len(candidates)}
        await audit.record(session, "request", request.id, action, by=actor.id, detail=detail)
        return StepOutcome.DONE
