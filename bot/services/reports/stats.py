"""The evaluation figures of /stats: requests by the period they were created in, volunteers'
activity by when it happened; a handful of grouped queries, never one per request."""

from __future__ import annotations

import statistics
from dataclasses import astuple, dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, case, distinct, func, or_, select, true, union_all

from bot.domain.lifecycle import DONE_REQUESTS
from bot.domain.vocabulary import ClaimStatus, RequestStatus
from bot.services.outcomes import Outcome
from bot.services.reports.base import ReportsBase
from bot.services.reports.periods import Period, Window, aware, count_if, within
from bot.services.reports.visits import VisitMonth, visit_months
from storage.models import AuditEvent, Claim, HelpRequest, Neighbourhood, Skill


@dataclass(frozen=True)
class RequestCounts:
    """How requests created in a period ended up (see `ReportService.stats`)."""

    created: int = 0
    claimed: int = 0
    done: int = 0
    closed: int = 0
    cancelled: int = 0
    expired: int = 0
    # Held for validation (/ask, or every request when the town asks for it): still waiting,
    # or declined by a validator.
    to_validate: int = 0
    declined: int = 0

    def __add__(self, other: RequestCounts) -> RequestCounts:
        return RequestCounts(
            *(mine + theirs for mine, theirs in zip(astuple(self), astuple(other), strict=True))
        )

    @property
    def completion_rate(self) -> float | None:
        """Closed ÷ (created − cancelled); None when nothing could have been completed."""
        base = self.created - self.cancelled
        return self.closed / base if base > 0 else None


@dataclass(frozen=True)
class SkillFigures:
    """The request figures of one skill."""

    skill_id: int
    label: str
    requests: RequestCounts


@dataclass(frozen=True)
class NeighbourhoodFigures:
    """The figures of one neighbourhood (None: requests outside every neighbourhood)."""

    neighbourhood_id: int | None
    name: str | None
    requests: RequestCounts
    active_volunteers: int
    minutes_given: int


@dataclass(frozen=True)
class Stats:
    """Everything /stats shows for one period and one neighbourhood (or all)."""

    window: Window
    neighbourhood_id: int | None
    neighbourhood: str | None
    requests: RequestCounts
    median_first_claim: timedelta | None
    active_volunteers: int
    minutes_given: int
    services_done: int
    by_skill: tuple[SkillFigures, ...] = ()
    by_neighbourhood: tuple[NeighbourhoodFigures, ...] = ()
    # The visit reports of the services done in the period, month by month.
    visit_months: tuple[VisitMonth, ...] = ()

    @property
    def visits(self) -> VisitMonth | None:
        """The period's visit reports added up (None: no service done)."""
        return sum(self.visit_months[1:], self.visit_months[0]) if self.visit_months else None

    @property
    def completion_rate(self) -> float | None:
        """Closed ÷ (created − cancelled)."""
        return self.requests.completion_rate


def first_claims() -> Any:
    """Subquery (request_id, first_at): the earliest claim of each request.

    A claim taken again after a release gets a new claimed_at; its "claim" audit events keep
    the earlier times.
    """
    times = union_all(
        select(Claim.request_id.label("request_id"), Claim.claimed_at.label("at")),
        select(Claim.request_id, AuditEvent.occurred_at).join(
            AuditEvent,
            and_(
                AuditEvent.entity == "claim",
                AuditEvent.entity_id == Claim.id,
                AuditEvent.action == "claim",
            ),
        ),
    ).subquery()
    return (
        select(times.c.request_id, func.min(times.c.at).label("first_at"))
        .group_by(times.c.request_id)
        .subquery()
    )


class Figures(ReportsBase):
    """/stats."""

    async def stats(
        self, coordinator_telegram_id: int, period: Period, neighbourhood_id: int | None = None
    ) -> Stats | Outcome:
        """The evaluation figures of one period, for one neighbourhood or all of them.

        Requests are counted by the period they were *created* in (a cohort), each figure as
        it stands now; a neighbourhood is the request's, not the volunteer's:

        - created: requests whose created_at falls in the period;
        - claimed: of those, requests that at least one volunteer took (a claim row exists,
          whatever became of it: released, cancelled… still counts);
        - done: of those, requests with status completed or closed (every volunteer holding a
          place said it was done);
        - confirmed: of those, requests with status closed (the referent confirmed every claim);
        - cancelled / expired / waiting for validation / declined: of those, requests with that
          status;
        - median time to first claim: over the claimed ones, the median of (first claim − created)
          where the first claim is the earliest claimed_at or "claim" audit event of the request
          (a claim taken again after a release keeps its first time);
        - completion rate: confirmed ÷ (created − cancelled), None when that is 0.

        Volunteers' activity is counted by when it happened:

        - active volunteers: distinct volunteers who took a claim (claimed_at) in the period;
        - services done: claims said done (done_at) in the period and not later found not done
          (status done or confirmed);
        - hours given: the sum of minutes_spent of those services (a missing duration counts 0);
        - visit reports: those services by how the person seemed, and the money advanced, by
          month (bot/services/reports/visits.py).

        Eight queries whatever the number of requests: the role, the neighbourhoods' names,
        request counts by (skill, neighbourhood), first-claim delays, activity totals, and
        activity by neighbourhood.
        """
        window = self.window(period)
        async with self._db.read() as session:
            if not await self._is_coordinator(session, coordinator_telegram_id):
                return Outcome.NOT_ALLOWED
            names = {
                row_id: (name, archived is not None)
                for row_id, name, archived in (
                    await session.execute(
                        select(Neighbourhood.id, Neighbourhood.name, Neighbourhood.archived_at)
                    )
                ).all()
            }
            if neighbourhood_id is not None and neighbourhood_id not in names:
                return Outcome.NOT_FOUND
            created_in = within(HelpRequest.created_at, window)
            place: ColumnElement[bool] = (
                HelpRequest.neighbourhood_id == neighbourhood_id
                if neighbourhood_id is not None
                else true()
            )
            has_claim = select(Claim.id).where(Claim.request_id == HelpRequest.id).exists()
            status = HelpRequest.status
            counts = (
                await session.execute(
                    select(
                        Skill.id,
                        Skill.label,
                        HelpRequest.neighbourhood_id,
                        func.count(HelpRequest.id),
                        count_if(has_claim),
                        count_if(status.in_(DONE_REQUESTS)),
                        count_if(status == RequestStatus.CLOSED),
                        count_if(status == RequestStatus.CANCELLED),
                        count_if(status == RequestStatus.EXPIRED),
                        count_if(status == RequestStatus.TO_VALIDATE),
                        count_if(status == RequestStatus.DECLINED),
                    )
                    .join(Skill, Skill.id == HelpRequest.skill_id)
                    .where(created_in, place)
                    .group_by(Skill.id, Skill.label, HelpRequest.neighbourhood_id)
                )
            ).all()
            earliest = first_claims()
            delays = (
                await session.execute(
                    select(HelpRequest.created_at, earliest.c.first_at)
                    .join(earliest, earliest.c.request_id == HelpRequest.id)
                    .where(created_in, place)
                )
            ).all()
            claimed_in = within(Claim.claimed_at, window)
            done_in = and_(
                within(Claim.done_at, window),
                Claim.status.in_([ClaimStatus.DONE, ClaimStatus.CONFIRMED]),
            )
            activity = (
                func.count(distinct(case((claimed_in, Claim.volunteer_id)))),
                func.coalesce(
                    func.sum(case((done_in, func.coalesce(Claim.minutes_spent, 0)), else_=0)), 0
                ),
                count_if(done_in),
            )
            totals = (
                await session.execute(
                    select(*activity)
                    .join(HelpRequest, HelpRequest.id == Claim.request_id)
                    .where(place, or_(claimed_in, done_in))
                )
            ).one()
            by_place = (
                await session.execute(
                    select(HelpRequest.neighbourhood_id, *activity)
                    .join(HelpRequest, HelpRequest.id == Claim.request_id)
                    .where(place, or_(claimed_in, done_in))
                    .group_by(HelpRequest.neighbourhood_id)
                )
            ).all()
            months = await visit_months(session, window, place, self.tz)

        skills: dict[int, tuple[str, RequestCounts]] = {}
        places: dict[int | None, RequestCounts] = {}
        total = RequestCounts()
        for skill_id, label, place_id, *numbers in counts:
            figures = RequestCounts(*(int(n) for n in numbers))
            total += figures
            previous = skills.get(skill_id, (label, RequestCounts()))[1]
            skills[skill_id] = (label, previous + figures)
            places[place_id] = places.get(place_id, RequestCounts()) + figures
        seconds = [
            max(0.0, (first - created).total_seconds())
            for created, first in ((aware(c), aware(f)) for c, f in delays)
            if created is not None and first is not None
        ]
        activity_by_place = {
            place_id: (int(volunteers), int(minutes))
            for place_id, volunteers, minutes, _d in by_place
        }
        wanted: list[int | None]
        if neighbourhood_id is not None:
            wanted = [neighbourhood_id]
        else:
            shown = {nb for nb, (_n, archived) in names.items() if not archived}
            shown |= {nb for nb in [*places, *activity_by_place] if nb is not None}
            wanted = sorted(shown, key=lambda nb: names[nb][0].casefold() if nb in names else "")
            if None in places or None in activity_by_place:
                wanted.append(None)
        by_neighbourhood = tuple(
            NeighbourhoodFigures(
                neighbourhood_id=nb,
                name=names[nb][0] if nb is not None and nb in names else None,
                requests=places.get(nb, RequestCounts()),
                active_volunteers=activity_by_place.get(nb, (0, 0))[0],
                minutes_given=activity_by_place.get(nb, (0, 0))[1],
            )
            for nb in wanted
        )
        by_skill = tuple(
            SkillFigures(skill_id, label, figures)
            for skill_id, (label, figures) in sorted(
                skills.items(), key=lambda item: (-item[1][1].created, item[1][0].casefold())
            )
        )
        return Stats(
            window=window,
            neighbourhood_id=neighbourhood_id,
            neighbourhood=names[neighbourhood_id][0] if neighbourhood_id is not None else None,
            requests=total,
            median_first_claim=(timedelta(seconds=statistics.median(seconds)) if seconds else None),
            active_volunteers=int(totals[0]),
            minutes_given=int(totals[1]),
            services_done=int(totals[2]),
            by_skill=by_skill,
            by_neighbourhood=by_neighbourhood,
            visit_months=months,
        )
