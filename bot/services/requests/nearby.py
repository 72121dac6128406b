"""/nearby: the open requests a volunteer may take now, nearest first.

Who may take what is matching's rule (bot/services/matching.py), asked for this one volunteer:
the open requests of a skill they hold, inside the box of their own radius, that matching's rules
let them be offered (member_may_take, correlated with each request) — in one query, whatever the
number of requests; then the exact distance, on the rows. What is shown is recorded as an offer
in their chat, so that a claim from the list goes through the one claim path (an offer made in
the chat tapped).

Availability: the volunteer asks, so every request they may take is listed — what they are
usually free for is theirs to overrule — but those at a time they said they are usually not free
(for "as soon as possible": now) come after the others, marked. Their slots are one more query.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError

from bot.domain.availability import wanted_slot
from bot.domain.lifecycle import HOLDING_PLACE
from bot.domain.vocabulary import RequestStatus, VolunteerStatus
from bot.geo import bounding_box, distance_km
from bot.messages.offers import RequestView
from bot.services.matching import WEEK, member_may_take
from bot.services.outcomes import Outcome
from bot.services.reports.views import Page
from bot.services.requests.base import RequestsBase
from storage import members as member_store
from storage import offers
from storage.models import (
    Availability,
    Claim,
    HelpRequest,
    Neighbourhood,
    Skill,
    VolunteerSkill,
)
from storage.writes import view_of

# The most open requests looked at for one volunteer (those inside their radius's box).
MAX_CONSIDERED = 100


@dataclass(frozen=True)
class NearbyRequest:
    """An open request a volunteer may take, and how far it is from them."""

    request: RequestView
    distance_km: float
    # At a time the volunteer said they are usually not free (listed after the others).
    unusual_time: bool = False


@dataclass(frozen=True)
class NearbyPage:
    """One page of /nearby, and the radius it was looked for in."""

    page: Page[NearbyRequest]
    radius_km: float


class Nearby(RequestsBase):
    """Open requests near a volunteer."""

    async def nearby(
        self, volunteer_telegram_id: int, *, offset: int = 0, limit: int = 5
    ) -> NearbyPage | Outcome:
        """The open requests the caller may claim now, nearest first (NOT_ALLOWED: not an
        approved volunteer). Even those they said were not for them: that is what it is for."""
        now = self._clock()
        async with self._db.read() as session:
            volunteer = await member_store.get_by_telegram_id(session, volunteer_telegram_id)
            if volunteer is None or volunteer.volunteer_status is not VolunteerStatus.APPROVED:
                return Outcome.NOT_ALLOWED
            radius = volunteer.radius_km
            latitude, longitude = volunteer.latitude, volunteer.longitude
            found: list[NearbyRequest] = []
            if latitude is not None and longitude is not None:
                box = bounding_box(latitude, longitude, radius)
                held = select(VolunteerSkill.skill_id).where(
                    VolunteerSkill.member_id == volunteer.id
                )
                holding = select(Claim.request_id).where(
                    Claim.volunteer_id == volunteer.id, Claim.status.in_(HOLDING_PLACE)
                )
                rows = (
                    await session.execute(
                        select(HelpRequest, Skill.label, Neighbourhood.name)
                        .join(Skill, Skill.id == HelpRequest.skill_id)
                        .outerjoin(Neighbourhood, Neighbourhood.id == HelpRequest.neighbourhood_id)
                        .where(
                            HelpRequest.status == RequestStatus.OPEN,
                            HelpRequest.places_taken < HelpRequest.places_needed,
                            HelpRequest.skill_id.in_(held),
                            HelpRequest.latitude.between(box.min_latitude, box.max_latitude),
                            HelpRequest.longitude.between(box.min_longitude, box.max_longitude),
                            or_(
                                HelpRequest.referent_id.is_(None),
                                HelpRequest.referent_id != volunteer.id,
                            ),
                            HelpRequest.id.not_in(holding),
                            member_may_take(HelpRequest.__table__.c.skill_id),
                        )
                        .order_by(HelpRequest.id)
                        .limit(MAX_CONSIDERED),
                        {"member_id": volunteer.id, "now": now, "week_ago": now - WEEK},
                    )
                ).all()
                slots = (
                    await session.execute(
                        select(Availability.weekday, Availability.period).where(
                            Availability.member_id == volunteer.id
                        )
                    )
                ).all()
                held_slots = [(day, period) for day, period in slots]
                tz = self._settings.tz
                for request, label, neighbourhood in rows:
                    distance = distance_km(latitude, longitude, request.latitude, request.longitude)
                    if distance > radius:
                        continue
                    wanted = wanted_slot(request.when_kind, request.starts_at, now=now, tz=tz)
                    view = view_of(
                        RequestView, request, skill_label=label, neighbourhood=neighbourhood
                    )
                    found.append(NearbyRequest(view, distance, not wanted.fits(held_slots)))
        found.sort(key=lambda item: (item.unusual_time, item.distance_km, item.request.id))
        start = max(0, offset)
        shown = found[start : start + limit]
        if shown:
            await self._record_offers(volunteer.id, volunteer_telegram_id, shown)
        return NearbyPage(Page(tuple(shown), len(found), start), radius)

    async def _record_offers(
        self, volunteer_id: int, chat_id: int, shown: list[NearbyRequest]
    ) -> None:
        """Record what was shown as offers in the volunteer's chat (see the module's docstring)."""
        ids = [item.request.id for item in shown]
        try:
            async with self._transaction() as session:
                await offers.record_nearby(session, volunteer_id, chat_id, ids)
        except IntegrityError:
            # The same /nearby twice at once: the other one recorded them.
            pass
