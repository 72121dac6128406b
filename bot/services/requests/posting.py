"""Posting a request: the person, the need, when it expires, and its first wave of offers."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.domain.vocabulary import RequestStatus, Role
from bot.services.requests.beneficiaries import Beneficiaries
from bot.services.requests.drafts import Posted, RequestDraft
from bot.services.requests.waves import Waves
from storage import neighbourhoods
from storage.models import HelpRequest
from storage.writes import created


class Posting(Waves, Beneficiaries):
    """A referent posts a request for someone."""

    async def post(self, referent_telegram_id: int, draft: RequestDraft) -> Posted | None:
        """Create the request and send its first wave; None if the poster is not a referent."""
        now = self._clock()
        async with self._transaction() as session:
            referent = await self._require(session, referent_telegram_id, Role.REFERENT)
            if referent is None:
                return None
            beneficiary_id = await self._beneficiary(session, referent, draft)
            if beneficiary_id is None:
                return None
            neighbourhood_id = draft.neighbourhood_id or await neighbourhoods.nearest(
                session, draft.latitude, draft.longitude
            )
            request = HelpRequest(
                referent_id=referent.id,
                beneficiary_id=beneficiary_id,
                skill_id=draft.skill_id,
                neighbourhood_id=neighbourhood_id,
                description=draft.description.strip()[:1000],
                latitude=draft.latitude,
                longitude=draft.longitude,
                area_label=draft.area_label[:200],
                when_kind=draft.when_kind,
                starts_at=draft.starts_at,
                places_needed=max(1, min(20, draft.places_needed)),
                status=RequestStatus.OPEN,
                expires_at=self._expiry(draft.when_kind, draft.starts_at, now),
                created_at=now,
                updated_at=now,
            )
            await created(session, request, "request", "post", by=referent.id, state=request.status)
            view = await self._view(session, request.id)
            regular = draft.preferred_volunteer_id
            if regular is not None and await self._offer_to_regular(
                session, request, view, regular, draft.exclusive_minutes
            ):
                # The regular's turn: others (and the group) hear of it only if they pass.
                return Posted(request.id, 1, 0, False)
            group_posted = await self._post_in_group(session, view, neighbourhood_id)
            offered, remaining = await self._send_wave(session, request, view)
            return Posted(request.id, offered, remaining, group_posted)

    def _expiry(self, when_kind: str, starts_at: datetime | None, now: datetime) -> datetime:
        """When an unclaimed request stops waiting: its slot, the day's end, or after a while."""
        if when_kind == "slot" and starts_at is not None:
            return starts_at
        if when_kind == "today":
            local = now.astimezone(self._settings.tz)
            end = local.replace(hour=23, minute=59, second=0, microsecond=0)
            return end.astimezone(now.tzinfo)
        return now + timedelta(hours=self._settings.asap_expiry_hours)
