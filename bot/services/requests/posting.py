"""Posting a request: the person, the need, when it expires, and its first wave of offers."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.vocabulary import RequestStatus, Role, VolunteerStatus
from bot.services.outcomes import Outcome
from bot.services.requests.beneficiaries import Beneficiaries
from bot.services.requests.drafts import Asked, Posted, RequestDraft
from bot.services.requests.validation import Validating
from storage import members as member_store
from storage import neighbourhoods
from storage.models import HelpRequest, Member
from storage.writes import created

# Requests one member may have waiting for validation at once (anyone may /ask).
MAX_WAITING_ASKS = 3


class Posting(Validating, Beneficiaries):
    """A referent posts a request for someone; a member asks for themselves."""

    async def post(self, referent_telegram_id: int, draft: RequestDraft) -> Posted | None:
        """Create the request and send its first wave; None if the poster is not a referent."""
        now = self._clock()
        async with self._transaction() as session:
            referent = await self._require(session, referent_telegram_id, Role.REFERENT)
            if referent is None:
                return None
            return await self._post_in(session, referent, draft, now)

    async def _post_in(
        self, session: AsyncSession, referent: Member, draft: RequestDraft, now: datetime
    ) -> Posted | None:
        """`post` in an open transaction (also a watch call's draft, posted with ✅); None if
        the beneficiary is not the referent's own."""
        beneficiary_id = await self._beneficiary(session, referent, draft)
        if beneficiary_id is None:
            return None
        held = self._settings.requests_need_validation
        request = await self._new_request(session, referent, beneficiary_id, draft, now, held)
        if held:
            await self._hold_for_validation(session, request, referent, for_themselves=False)
            return Posted(request.id, 0, 0, False, awaiting_validation=True)
        neighbourhood_id = request.neighbourhood_id
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

    async def ask(self, asker_telegram_id: int, draft: RequestDraft) -> Asked | Outcome:
        """A member asks for themselves: held for validation, the validators are sent a card.

        Anyone may ask who gives their name, place and consent; someone with no role yet (who
        registers by asking) gives a phone too, so that the volunteer can reach them.
        """
        now = self._clock()
        details = draft.beneficiary
        if details is None or not details.consent or not details.name.strip():
            return Outcome.INVALID
        async with self._transaction() as session:
            asker = await member_store.get_by_telegram_id(session, asker_telegram_id)
            if asker is None:
                return Outcome.NOT_FOUND
            if details.phone is None and not await self._is_approved_member(session, asker):
                return Outcome.INVALID
            if await self._waiting_validation(session, asker.id) >= MAX_WAITING_ASKS:
                return Outcome.TOO_SOON
            beneficiary_id = await self._asker_as_beneficiary(session, asker, details)
            # The asker follows their request as a referent would: told when it is taken, asked
            # to confirm the service (they received it), able to cancel it.
            request = await self._new_request(session, asker, beneficiary_id, draft, now, True)
            told = await self._hold_for_validation(session, request, asker, for_themselves=True)
            return Asked(request.id, told)

    @staticmethod
    async def _is_approved_member(session: AsyncSession, member: Member) -> bool:
        """A referent, a coordinator or an approved volunteer."""
        roles = await member_store.roles_of(session, member.id)
        if roles & {Role.REFERENT, Role.COORDINATOR}:
            return True
        return Role.VOLUNTEER in roles and member.volunteer_status is VolunteerStatus.APPROVED

    async def _new_request(
        self,
        session: AsyncSession,
        poster: Member,
        beneficiary_id: int,
        draft: RequestDraft,
        now: datetime,
        held: bool,
    ) -> HelpRequest:
        """The request row, open (or `held` for validation), recorded in the audit log."""
        neighbourhood_id = draft.neighbourhood_id or await neighbourhoods.nearest(
            session, draft.latitude, draft.longitude
        )
        request = HelpRequest(
            referent_id=poster.id,
            beneficiary_id=beneficiary_id,
            skill_id=draft.skill_id,
            neighbourhood_id=neighbourhood_id,
            description=draft.description.strip()[:1000],
            latitude=draft.latitude,
            longitude=draft.longitude,
            area_label=draft.area_label[:200],
            when_kind=draft.when_kind,
            starts_at=draft.starts_at,
            day_part=draft.day_part if draft.when_kind == "slot" else None,
            places_needed=max(1, min(20, draft.places_needed)),
            status=RequestStatus.TO_VALIDATE if held else RequestStatus.OPEN,
            expires_at=self._expiry(draft.when_kind, draft.starts_at, now),
            created_at=now,
            updated_at=now,
        )
        await created(session, request, "request", "post", by=poster.id, state=request.status)
        return request
