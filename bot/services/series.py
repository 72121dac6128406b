"""Recurring care: a request made weekly (or every two weeks), offered to the same volunteer first.

A referent turns one of their requests into a *series* (table `request_series`): same person,
need, place and description, on a weekday at a local time. `SeriesService.run_due` posts each
occurrence `lead_days` before it takes place, through `RequestService.post` as the referent, with
the series' regular volunteer preferred: they alone get it for `exclusive_hours` (at most half
the time left), then everyone does, as for any request, and the referent is told (by
RequestService on a "Not for me" or at the deadline; here when the regular cannot take it at
posting time — paused, unreachable, capped…). The volunteer holding the latest claim on an
occurrence becomes (or stays) the regular.

Posting an occurrence first moves `next_occurrence_at` forward with a conditional UPDATE, so two
schedulers (or a retried run) never post the same occurrence twice; a crash between that commit
and the post loses that one occurrence rather than doubling it. An occurrence whose time is
already (nearly) past, e.g. after a long outage, is skipped, never posted late.
Stopping a series posts nothing more; occurrences already posted stay, unless cancelled.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.lifecycle import HOLDING_PLACE
from bot.domain.vocabulary import ClaimStatus, RequestStatus, Role
from bot.messages.base import Reader
from bot.messages.messenger import Messenger
from bot.messages.series import (
    RegularUnavailable,
    Schedule,
    SeriesHalted,
    SeriesStarted,
    SeriesStopped,
)
from bot.services.base import Notifying, no_wake
from bot.services.outcomes import Outcome
from bot.services.requests import RequestDraft, RequestService
from bot.settings import Settings
from storage import audit
from storage import members as member_store
from storage.database import Database
from storage.models import Beneficiary, Claim, HelpRequest, Member, RequestSeries, Skill
from storage.writes import changed

INTERVALS_DAYS = (7, 14)
LEAD_DAYS = 3.0
DEFAULT_EXCLUSIVE_HOURS = 24
# An occurrence starting sooner than this is skipped rather than posted at the last minute.
MIN_NOTICE = timedelta(hours=2)
# Claims that make their volunteer the regular of a series.
REGULAR_CLAIMS = (*HOLDING_PLACE, ClaimStatus.CONFIRMED)
# Requests not worth making recurring.
_NOT_RECURRING = (RequestStatus.CANCELLED,)
MINUTES_PER_DAY = 24 * 60
_GONE = "gone"


@dataclass(frozen=True)
class SeriesSource:
    """A request a referent may make recurring, and what is already known of its schedule."""

    request_id: int
    skill_label: str
    weekday: int | None  # known when the request had a chosen day and time
    local_minute: int | None
    regular_name: str | None


@dataclass(frozen=True)
class SeriesView:
    """A series as its referent or a coordinator reads it."""

    id: int
    referent_id: int | None
    skill_label: str
    description: str
    area_label: str
    interval_days: int
    weekday: int
    local_minute: int
    next_occurrence_at: datetime
    regular_name: str | None
    stopped_at: datetime | None

    @property
    def schedule(self) -> Schedule:
        """When it comes back."""
        return Schedule(self.interval_days, self.weekday, self.local_minute)


@dataclass(frozen=True)
class Stopped:
    """How stopping went, and the occurrences already posted that are still open."""

    outcome: Outcome
    open_request_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class _Occurrence:
    """What one due occurrence needs once its transaction has committed."""

    series_id: int
    referent_telegram_id: int | None
    regular_id: int | None
    draft: RequestDraft


class SeriesService(Notifying):
    """Create, list, stop series; post their occurrences when due."""

    def __init__(
        self,
        database: Database,
        requests: RequestService,
        messenger: Messenger,
        settings: Settings,
        after_commit: Callable[[], None] = no_wake,
        *,
        lead_days: float = LEAD_DAYS,
        exclusive_hours: int = DEFAULT_EXCLUSIVE_HOURS,
    ) -> None:
        super().__init__(database, messenger, after_commit=after_commit)
        self._requests = requests
        self._settings = settings
        self._lead = timedelta(days=lead_days)
        self._exclusive_hours = exclusive_hours

    # --- dates -----------------------------------------------------------------------------

    def occurrence_on(self, local_day: datetime, local_minute: int) -> datetime:
        """The UTC instant of `local_minute` on the town-local date of `local_day`."""
        tz = self._settings.tz
        moment = time(local_minute // 60, local_minute % 60)
        return datetime.combine(local_day.astimezone(tz).date(), moment, tzinfo=tz).astimezone(UTC)

    def following(self, occurrence: datetime, interval_days: int, local_minute: int) -> datetime:
        """The occurrence `interval_days` later, at the same local time (across DST changes)."""
        tz = self._settings.tz
        day = occurrence.astimezone(tz) + timedelta(days=interval_days)
        return self.occurrence_on(day, local_minute)

    def first_after(self, after: datetime, weekday: int, local_minute: int) -> datetime:
        """The first time after `after` that falls on `weekday` at `local_minute`, town time."""
        tz = self._settings.tz
        local = after.astimezone(tz)
        for offset in range(8):
            candidate = self.occurrence_on(local + timedelta(days=offset), local_minute)
            if candidate.astimezone(tz).weekday() == weekday and candidate > after:
                return candidate
        return self.occurrence_on(local + timedelta(days=7), local_minute)  # pragma: no cover

    # --- making a request recurring --------------------------------------------------------

    async def _own_request(
        self, session: AsyncSession, referent_telegram_id: int, request_id: int
    ) -> tuple[Member, HelpRequest] | Outcome:
        referent = await self._require(session, referent_telegram_id, Role.REFERENT)
        request = await session.get(HelpRequest, request_id)
        if request is None:
            return Outcome.NOT_FOUND
        if referent is None or request.referent_id != referent.id:
            return Outcome.NOT_ALLOWED
        if request.series_id is not None:
            return Outcome.ALREADY_DONE
        if request.status in _NOT_RECURRING or request.beneficiary_id is None:
            return Outcome.INVALID
        return referent, request

    def _slot(self, request: HelpRequest) -> tuple[int, int] | None:
        """Weekday and local minute of a request with a chosen time."""
        if request.when_kind != "slot" or request.starts_at is None:
            return None
        local = request.starts_at.astimezone(self._settings.tz)
        return local.weekday(), local.hour * 60 + local.minute

    @staticmethod
    async def _latest_claimer(
        session: AsyncSession, *conditions: ColumnElement[bool]
    ) -> Member | None:
        """The volunteer of the most recent claim holding (or having held) a place."""
        return (
            await session.execute(
                select(Member)
                .join(Claim, Claim.volunteer_id == Member.id)
                .join(HelpRequest, HelpRequest.id == Claim.request_id)
                .where(*conditions, Claim.status.in_(REGULAR_CLAIMS))
                .order_by(Claim.claimed_at.desc(), Claim.id.desc())
                .limit(1)
            )
        ).scalar_one_or_none()

    async def source(self, referent_telegram_id: int, request_id: int) -> SeriesSource | Outcome:
        """What "Make it recurring" needs to know about one of the referent's requests."""
        async with self._db.read() as session:
            found = await self._own_request(session, referent_telegram_id, request_id)
            if isinstance(found, Outcome):
                return found
            _referent, request = found
            skill = await session.get(Skill, request.skill_id)
            regular = await self._latest_claimer(session, HelpRequest.id == request.id)
            slot = self._slot(request)
            return SeriesSource(
                request_id=request.id,
                skill_label=skill.label if skill else "",
                weekday=slot[0] if slot else None,
                local_minute=slot[1] if slot else None,
                regular_name=regular.display_name if regular else None,
            )

    async def create(
        self,
        referent_telegram_id: int,
        request_id: int,
        interval_days: int,
        *,
        weekday: int | None = None,
        local_minute: int | None = None,
    ) -> SeriesView | Outcome:
        """Make the request recurring; it becomes the series' first occurrence.

        The weekday and time are the request's own when it had a chosen time, else those given.
        """
        if interval_days not in INTERVALS_DAYS:
            return Outcome.INVALID
        now = self._clock()
        async with self._transaction() as session:
            found = await self._own_request(session, referent_telegram_id, request_id)
            if isinstance(found, Outcome):
                return found
            referent, request = found
            slot = self._slot(request)
            if weekday is None and local_minute is None and slot is not None:
                weekday, local_minute = slot
                first = self.following(request.starts_at or now, interval_days, local_minute)
            elif weekday is None or local_minute is None:
                return Outcome.INVALID
            else:
                first = self.first_after(now + MIN_NOTICE, weekday, local_minute)
            if not (0 <= weekday <= 6 and 0 <= local_minute < MINUTES_PER_DAY):
                return Outcome.INVALID
            while first <= now + MIN_NOTICE:
                first = self.following(first, interval_days, local_minute)
            regular = await self._latest_claimer(session, HelpRequest.id == request.id)
            series = RequestSeries(
                **_repeated(request),
                referent_id=referent.id,
                places=request.places_needed,
                interval_days=interval_days,
                weekday=weekday,
                local_minute=local_minute,
                next_occurrence_at=first,
                regular_volunteer_id=regular.id if regular else None,
                exclusive_hours=self._exclusive_hours,
                created_at=now,
            )
            session.add(series)
            await session.flush()
            linked = await changed(
                session,
                update(HelpRequest)
                .where(HelpRequest.id == request.id, HelpRequest.series_id.is_(None))
                .values(series_id=series.id)
                .returning(HelpRequest.id),
            )
            if linked is None:
                # A concurrent tap made it recurring first: keep theirs.
                await session.delete(series)
                await session.flush()
                return Outcome.ALREADY_DONE
            await audit.record(
                session,
                "series",
                series.id,
                "create",
                by=referent.id,
                moved=(None, "active"),
                detail={"request_id": request.id, "interval_days": interval_days},
            )
            view = await self._view(session, series.id)
            assert view is not None
            started = SeriesStarted(
                request.id, view.skill_label, referent.display_name, view.schedule
            )
            await self._messenger.send(session, started, Reader.of(regular))
            return view

    async def recurring_candidates(
        self, referent_telegram_id: int, limit: int = 5
    ) -> list[tuple[int, str]]:
        """The referent's recent requests someone took, not yet recurring: (id, skill label)."""
        since = self._clock() - timedelta(days=60)
        async with self._db.read() as session:
            referent = await self._require(session, referent_telegram_id, Role.REFERENT)
            if referent is None:
                return []
            taken = select(Claim.request_id).where(Claim.status.in_(REGULAR_CLAIMS))
            rows = await session.execute(
                select(HelpRequest.id, Skill.label)
                .join(Skill, Skill.id == HelpRequest.skill_id)
                .where(
                    HelpRequest.referent_id == referent.id,
                    HelpRequest.series_id.is_(None),
                    HelpRequest.status.not_in(_NOT_RECURRING),
                    HelpRequest.beneficiary_id.is_not(None),
                    HelpRequest.created_at >= since,
                    HelpRequest.id.in_(taken),
                )
                .order_by(HelpRequest.created_at.desc(), HelpRequest.id.desc())
                .limit(limit)
            )
            return [(request_id, label) for request_id, label in rows.all()]

    # --- listing and stopping --------------------------------------------------------------

    async def active(self, actor_telegram_id: int) -> list[SeriesView] | Outcome:
        """Running series: the referent's own; every one for a coordinator."""
        async with self._db.read() as session:
            found = await self._member_roles(session, actor_telegram_id)
            if found is None or not found[1] & {Role.REFERENT, Role.COORDINATOR}:
                return Outcome.NOT_ALLOWED
            actor, roles = found
            query = select(RequestSeries.id).where(RequestSeries.stopped_at.is_(None))
            if Role.COORDINATOR not in roles:
                query = query.where(RequestSeries.referent_id == actor.id)
            ids = list(
                (await session.execute(query.order_by(RequestSeries.next_occurrence_at))).scalars()
            )
            views = [await self._view(session, series_id) for series_id in ids[:30]]
            return [view for view in views if view is not None]

    async def stop(self, actor_telegram_id: int, series_id: int) -> Stopped:
        """No further occurrence (one tap, the referent or a coordinator); posted ones stay."""
        now = self._clock()
        async with self._transaction() as session:
            series = await session.get(RequestSeries, series_id)
            if series is None:
                return Stopped(Outcome.NOT_FOUND)
            found = await self._member_roles(session, actor_telegram_id)
            if found is None:
                return Stopped(Outcome.NOT_ALLOWED)
            actor, roles = found
            if actor.id != series.referent_id and Role.COORDINATOR not in roles:
                return Stopped(Outcome.NOT_ALLOWED)
            stopped = await changed(
                session,
                update(RequestSeries)
                .where(RequestSeries.id == series_id, RequestSeries.stopped_at.is_(None))
                .values(stopped_at=now, stopped_by_id=actor.id)
                .returning(RequestSeries.id),
            )
            open_ids = tuple(
                (
                    await session.execute(
                        select(HelpRequest.id)
                        .where(
                            HelpRequest.series_id == series_id,
                            HelpRequest.status.in_([RequestStatus.OPEN, RequestStatus.FULL]),
                            # Occurrences to come; a past one is only waiting for its follow-up.
                            or_(HelpRequest.starts_at.is_(None), HelpRequest.starts_at > now),
                        )
                        .order_by(HelpRequest.id)
                    )
                ).scalars()
            )
            if stopped is None:
                return Stopped(Outcome.ALREADY_DONE, open_ids)
            await audit.record(
                session, "series", series_id, "stop", by=actor.id, moved=("active", "stopped")
            )
            view = await self._view(session, series_id)
            assert view is not None
            # The referent and the regular, once each, unless they stopped it themselves.
            told = dict.fromkeys(
                member_id
                for member_id in (series.referent_id, series.regular_volunteer_id)
                if member_id and member_id != actor.id
            )
            people = [await member_store.by_id(session, member_id) for member_id in told]
            stopped_notice = SeriesStopped(view.skill_label, actor.display_name, view.schedule)
            await self._messenger.send(session, stopped_notice, *map(Reader.of, people))
            return Stopped(Outcome.DONE, open_ids)

    async def _view(self, session: AsyncSession, series_id: int) -> SeriesView | None:
        series = await session.get(RequestSeries, series_id, populate_existing=True)
        if series is None:
            return None
        skill = await session.get(Skill, series.skill_id)
        # The latest claimer, who will be preferred at the next posting; else the one recorded.
        regular = await self._latest_claimer(session, HelpRequest.series_id == series_id)
        if regular is None and series.regular_volunteer_id:
            regular = await session.get(Member, series.regular_volunteer_id)
        return SeriesView(
            id=series.id,
            referent_id=series.referent_id,
            skill_label=skill.label if skill else "",
            description=series.description,
            area_label=series.area_label,
            interval_days=series.interval_days,
            weekday=series.weekday,
            local_minute=series.local_minute,
            next_occurrence_at=series.next_occurrence_at,
            regular_name=regular.display_name if regular and regular.telegram_id else None,
            stopped_at=series.stopped_at,
        )

    # --- the scheduler ---------------------------------------------------------------------

    async def run_due(self) -> dict[str, int]:
        """Post the occurrences due within `lead_days`; safe to call often and concurrently."""
        now = self._clock()
        done = {"posted": 0, "skipped": 0, "stopped": 0}
        async with self._db.read() as session:
            due = list(
                (
                    await session.execute(
                        select(RequestSeries.id)
                        .where(
                            RequestSeries.stopped_at.is_(None),
                            RequestSeries.next_occurrence_at <= now + self._lead,
                        )
                        .order_by(RequestSeries.next_occurrence_at)
                    )
                ).scalars()
            )
        for series_id in due:
            kind = await self._run_one(series_id, now)
            if kind is not None:
                done[kind] += 1
        return done

    async def _run_one(self, series_id: int, now: datetime) -> str | None:
        planned = await self._take_occurrence(series_id, now)
        if planned == _GONE:
            await self._stop_by_scheduler(series_id, now, "person_gone")
            return "stopped"
        if planned is None or isinstance(planned, str):
            return planned
        if planned.referent_telegram_id is None:
            await self._stop_by_scheduler(series_id, now, "referent_gone")
            return "stopped"
        posted = await self._requests.post(planned.referent_telegram_id, planned.draft)
        if posted is None:
            # No longer a referent, or the person is no longer theirs: nothing can be posted.
            await self._stop_by_scheduler(series_id, now, "cannot_post")
            return "stopped"
        async with self._transaction() as session:
            await session.execute(
                update(HelpRequest)
                .where(HelpRequest.id == posted.request_id)
                .values(series_id=series_id)
            )
            request = await session.get(HelpRequest, posted.request_id)
            assert request is not None
            await audit.record(
                session,
                "series",
                series_id,
                "occurrence",
                detail={"request_id": request.id, "regular_first": request.wave == 0},
            )
            if planned.regular_id is not None and request.wave != 0:
                await self._tell_regular_unavailable(session, request, planned.regular_id)
        return "posted"

    async def _take_occurrence(self, series_id: int, now: datetime) -> _Occurrence | str | None:
        """Move the series past its due occurrence (one winner); what to post, if anything."""
        async with self._transaction() as session:
            series = await session.get(RequestSeries, series_id, populate_existing=True)
            if series is None or series.stopped_at is not None:
                return None
            person = (
                await session.get(Beneficiary, series.beneficiary_id)
                if series.beneficiary_id
                else None
            )
            if person is None or person.purged_at is not None:
                return _GONE  # the person's details were erased: nothing left to post
            planned = series.next_occurrence_at
            occurrence, skipped = planned, 0
            while occurrence <= now + MIN_NOTICE:
                occurrence = self.following(occurrence, series.interval_days, series.local_minute)
                skipped += 1
            due = occurrence <= now + self._lead
            after = (
                self.following(occurrence, series.interval_days, series.local_minute)
                if due
                else occurrence
            )
            moved = await changed(
                session,
                update(RequestSeries)
                .where(
                    RequestSeries.id == series_id,
                    RequestSeries.next_occurrence_at == planned,
                    RequestSeries.stopped_at.is_(None),
                )
                .values(next_occurrence_at=after)
                .returning(RequestSeries.id),
            )
            if moved is None:
                return None  # another run took it
            if skipped:
                await audit.record(session, "series", series_id, "skip", detail={"missed": skipped})
            if not due:
                return "skipped" if skipped else None
            regular = await self._latest_claimer(session, HelpRequest.series_id == series_id)
            regular_id = regular.id if regular is not None else series.regular_volunteer_id
            if regular_id != series.regular_volunteer_id:
                await session.execute(
                    update(RequestSeries)
                    .where(RequestSeries.id == series_id)
                    .values(regular_volunteer_id=regular_id)
                )
            referent = await member_store.by_id(session, series.referent_id)
            minutes_left = (occurrence - now).total_seconds() / 60
            draft = RequestDraft(
                **_repeated(series),
                places_needed=series.places,
                when_kind="slot",
                starts_at=occurrence,
                preferred_volunteer_id=regular_id,
                exclusive_minutes=min(series.exclusive_hours * 60.0, minutes_left / 2),
            )
            return _Occurrence(
                series_id=series_id,
                referent_telegram_id=referent.telegram_id if referent is not None else None,
                regular_id=regular_id,
                draft=draft,
            )

    async def _tell_regular_unavailable(
        self, session: AsyncSession, request: HelpRequest, regular_id: int
    ) -> None:
        """The regular could not be offered the occurrence: the referent hears why it went wide."""
        referent = await member_store.by_id(session, request.referent_id)
        regular = await member_store.by_id(session, regular_id)
        skill = await session.get(Skill, request.skill_id)
        notice = RegularUnavailable(
            request.id,
            skill.label if skill else "",
            (regular.display_name or None) if regular else None,
            request.starts_at,
        )
        await self._messenger.send(session, notice, Reader.of(referent))

    async def _stop_by_scheduler(self, series_id: int, now: datetime, cause: str) -> None:
        async with self._transaction() as session:
            stopped = await changed(
                session,
                update(RequestSeries)
                .where(RequestSeries.id == series_id, RequestSeries.stopped_at.is_(None))
                .values(stopped_at=now)
                .returning(RequestSeries.referent_id),
            )
            if stopped is None:
                return
            await audit.record(
                session,
                "series",
                series_id,
                "stop",
                moved=("active", "stopped"),
                detail={"cause": cause},
            )
            referent = await member_store.by_id(session, stopped[0])
            await self._messenger.send(session, SeriesHalted(), Reader.of(referent))


# What every occurrence repeats of the request a series was made from (same column names on
# requests, series and drafts).
REPEATED = (
    "beneficiary_id",
    "skill_id",
    "description",
    "latitude",
    "longitude",
    "area_label",
    "neighbourhood_id",
)


def _repeated(row: HelpRequest | RequestSeries) -> dict[str, Any]:
    """The columns of `row` an occurrence repeats."""
    return {name: getattr(row, name) for name in REPEATED}
