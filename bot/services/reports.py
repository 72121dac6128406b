"""Coordinators' views and figures: open requests, stuck claims, /stats, CSV exports, the chart.

Every method checks in the database that the caller is a coordinator (NOT_ALLOWED otherwise) and
works in its own short transaction, so handlers only call Telegram once it has ended. Figures are
computed in SQL with a handful of grouped queries, never one query per request.

Periods follow the town's calendar (`settings.tz`): "this month" starts at local midnight on the
1st, whatever UTC says. Exports never contain a beneficiary's name, phone, address, position or
the free texts that could name them (descriptions, notes, reasons); volunteers appear by member
id only.
"""

from __future__ import annotations

import asyncio
import csv
import io
import statistics
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from enum import Enum, StrEnum
from typing import Any, Generic, TypeVar

from babel.dates import format_date
from sqlalchemy import (
    ColumnElement,
    Table,
    and_,
    case,
    distinct,
    func,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.types import TypeDecorator
from telegram import InlineKeyboardButton

from bot import callbacks
from bot.callbacks import Action
from bot.domain.vocabulary import ClaimStatus, RequestStatus, Role
from bot.i18n import Translator
from bot.notices import Notices
from bot.services.outcomes import Outcome
from bot.settings import Settings
from bot.skills import skill_label
from storage import audit, outbox
from storage import members as member_store
from storage.database import Database
from storage.models import (
    AuditEvent,
    Base,
    Claim,
    HelpRequest,
    Member,
    Neighbourhood,
    Offer,
    Skill,
    VolunteerSkill,
)

# A claim said done but not confirmed for this long is stuck.
UNCONFIRMED_AFTER = timedelta(hours=48)
# Spreadsheets recognise UTF-8 by its byte order mark.
CSV_ENCODING = "utf-8-sig"
CSV_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
# The chart keeps the neighbourhoods with the most requests; the rest share one panel.
CHART_MAX_NEIGHBOURHOODS = 8
# Signals columns exported: numbers, dates, booleans, and strings from a closed vocabulary only.
_SIGNAL_VOCABULARY_SUFFIXES = ("status", "kind", "outcome", "state", "category", "type", "code")
_SIGNAL_PERSONAL_WORDS = (
    "name",
    "phone",
    "address",
    "street",
    "note",
    "text",
    "description",
    "detail",
    "comment",
    "message",
    "reason",
    "worry",
    "place",
    "access",
    "contact",
    "email",
    "username",
    "telegram",
    "lat",
    "lon",
    "lng",
)
_chart_lock = threading.Lock()  # matplotlib's global state is not thread-safe


class Period(StrEnum):
    """The periods /stats and /export offer (also their callback words)."""

    THIS_MONTH = "month"
    LAST_MONTH = "lastmonth"
    THIS_YEAR = "year"
    ALL_TIME = "all"


@dataclass(frozen=True)
class Window:
    """A period as instants: [start, end) in UTC (None: unbounded), and its local calendar days."""

    period: Period
    start: datetime | None
    end: datetime | None
    first_day: date | None
    last_day: date | None  # inclusive


def _month_start(year: int, month: int, tz: tzinfo) -> datetime:
    while month > 12:
        year, month = year + 1, month - 12
    while month < 1:
        year, month = year - 1, month + 12
    return datetime(year, month, 1, tzinfo=tz)


def period_window(period: Period, now: datetime, tz: tzinfo) -> Window:
    """The boundaries of `period` around `now`, at midnight in the town's time zone."""
    local = now.astimezone(tz)
    if period is Period.ALL_TIME:
        return Window(period, None, None, None, None)
    if period is Period.THIS_MONTH:
        start = _month_start(local.year, local.month, tz)
        end = _month_start(local.year, local.month + 1, tz)
    elif period is Period.LAST_MONTH:
        start = _month_start(local.year, local.month - 1, tz)
        end = _month_start(local.year, local.month, tz)
    else:
        start = datetime(local.year, 1, 1, tzinfo=tz)
        end = datetime(local.year + 1, 1, 1, tzinfo=tz)
    return Window(
        period,
        start.astimezone(UTC),
        end.astimezone(UTC),
        start.date(),
        (end - timedelta(days=1)).date(),
    )


def _within(column: Any, window: Window) -> ColumnElement[bool]:
    """`column` falls in the window (always true for all time; never true when NULL)."""
    conditions: list[ColumnElement[bool]] = []
    if window.start is not None:
        conditions.append(column >= window.start)
    if window.end is not None:
        conditions.append(column < window.end)
    if not conditions:
        return column.is_not(None)  # type: ignore[no-any-return]
    return and_(*conditions)


def _count_if(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _aware(value: datetime | None) -> datetime | None:
    """Aggregates (min over a union) may lose the column type on some drivers: re-attach UTC."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


# --- views -----------------------------------------------------------------------------------


T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a longer list."""

    items: tuple[T, ...]
    total: int
    offset: int

    @property
    def remaining(self) -> int:
        """How many come after this page."""
        return max(0, self.total - self.offset - len(self.items))


@dataclass(frozen=True)
class OpenRequest:
    """A request still waiting for volunteers, and what was tried for it."""

    id: int
    created_at: datetime
    skill_label: str
    neighbourhood: str | None
    area_label: str
    places_needed: int
    places_taken: int
    waves: int  # waves of direct offers sent (a re-offer or a widening counts as one)
    offered: int  # volunteers who received the offer in a private chat
    group_posts: int  # neighbourhood groups where it was posted
    declined: int  # volunteers who answered "not for me"
    escalated: bool  # the referent and coordinators were already alerted

    @property
    def places_left(self) -> int:
        """Places still free."""
        return max(0, self.places_needed - self.places_taken)


class StuckKind(StrEnum):
    """Why a claim is listed by /stuck."""

    UNCONFIRMED = "unconfirmed"  # said done, the referent has not confirmed for 48 h
    SILENT = "silent"  # still active after the bot asked whether it was done


@dataclass(frozen=True)
class StuckClaim:
    """A claim that needs a coordinator's nudge."""

    claim_id: int
    request_id: int
    kind: StuckKind
    since: datetime  # when it was said done (unconfirmed) or claimed (silent)
    skill_label: str
    volunteer_name: str | None
    referent_name: str | None
    can_remind: bool  # the request has a referent Brigade can still write to


@dataclass(frozen=True)
class RequestCounts:
    """How requests created in a period ended up (see `ReportService.stats`)."""

    created: int = 0
    claimed: int = 0
    done: int = 0
    closed: int = 0
    cancelled: int = 0
    expired: int = 0

    def __add__(self, other: RequestCounts) -> RequestCounts:
        return RequestCounts(
            self.created + other.created,
            self.claimed + other.claimed,
            self.done + other.done,
            self.closed + other.closed,
            self.cancelled + other.cancelled,
            self.expired + other.expired,
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

    @property
    def completion_rate(self) -> float | None:
        """Closed ÷ (created − cancelled)."""
        return self.requests.completion_rate


@dataclass(frozen=True)
class ExportFile:
    """One CSV file built in memory."""

    filename: str
    content: bytes = field(repr=False)
    rows: int


# --- CSV -------------------------------------------------------------------------------------


def _csv(header: Sequence[str], rows: Iterable[Sequence[object]]) -> tuple[bytes, int]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    count = 0
    for row in rows:
        writer.writerow(["" if value is None else value for value in row])
        count += 1
    return buffer.getvalue().encode(CSV_ENCODING), count


def _signal_column_exported(table: Table, name: str) -> bool:
    lowered = name.lower()
    if any(word in lowered for word in _SIGNAL_PERSONAL_WORDS):
        return False
    column_type = table.c[name].type
    if isinstance(column_type, TypeDecorator):
        column_type = column_type.impl_instance
    try:
        python_type = column_type.python_type
    except NotImplementedError:
        return False
    if isinstance(python_type, type) and issubclass(python_type, Enum):
        return True  # a closed vocabulary by construction
    if python_type in {int, float, bool, datetime, date}:
        return True
    if python_type is str:
        return lowered.endswith(_SIGNAL_VOCABULARY_SUFFIXES)
    return False


def signals_table() -> Table | None:
    """The `signals` table, if a model declares it (reports of isolated people)."""
    return Base.metadata.tables.get("signals")


# --- the service -----------------------------------------------------------------------------


class ReportService:
    """Read-only views and figures for coordinators, plus the reminder to a referent."""

    def __init__(
        self,
        database: Database,
        settings: Settings,
        notices: Notices,
        after_commit: Callable[[], None] = lambda: None,
    ) -> None:
        self._db = database
        self._settings = settings
        self._notices = notices
        self._clock = database.clock
        self._after_commit = after_commit

    @property
    def tz(self) -> tzinfo:
        """The town's time zone."""
        return self._settings.tz

    def window(self, period: Period) -> Window:
        """The period's boundaries now, in the town's calendar."""
        return period_window(period, self._clock(), self.tz)

    @staticmethod
    async def _is_coordinator(session: AsyncSession, telegram_id: int) -> bool:
        found = await member_store.get_with_role(session, telegram_id, Role.COORDINATOR)
        return found is not None

    # --- /open -------------------------------------------------------------------------------

    async def open_requests(
        self, coordinator_telegram_id: int, *, offset: int = 0, limit: int = 5
    ) -> Page[OpenRequest] | Outcome:
        """Requests with status open (places left), oldest first, with what was tried for each.

        Two queries: the count, and the page joined to per-request offer totals.
        """
        async with self._db.read() as session:
            if not await self._is_coordinator(session, coordinator_telegram_id):
                return Outcome.NOT_ALLOWED
            is_open = HelpRequest.status == RequestStatus.OPEN
            total = (
                await session.execute(select(func.count()).select_from(HelpRequest).where(is_open))
            ).scalar_one()
            offers = (
                select(
                    Offer.request_id.label("request_id"),
                    _count_if(Offer.kind == "direct").label("offered"),
                    _count_if(Offer.kind == "group").label("groups"),
                    func.count(Offer.declined_at).label("declined"),
                )
                .where(Offer.request_id.in_(select(HelpRequest.id).where(is_open)))
                .group_by(Offer.request_id)
                .subquery()
            )
            rows = (
                await session.execute(
                    select(
                        HelpRequest,
                        Skill.label,
                        Neighbourhood.name,
                        func.coalesce(offers.c.offered, 0),
                        func.coalesce(offers.c.groups, 0),
                        func.coalesce(offers.c.declined, 0),
                    )
                    .join(Skill, Skill.id == HelpRequest.skill_id)
                    .outerjoin(Neighbourhood, Neighbourhood.id == HelpRequest.neighbourhood_id)
                    .outerjoin(offers, offers.c.request_id == HelpRequest.id)
                    .where(is_open)
                    .order_by(HelpRequest.created_at, HelpRequest.id)
                    .offset(max(0, offset))
                    .limit(limit)
                )
            ).all()
            items = tuple(
                OpenRequest(
                    id=request.id,
                    created_at=request.created_at,
                    skill_label=label,
                    neighbourhood=name,
                    area_label=request.area_label,
                    places_needed=request.places_needed,
                    places_taken=request.places_taken,
                    waves=request.wave,
                    offered=int(offered),
                    group_posts=int(groups),
                    declined=int(declined),
                    escalated=request.escalated_at is not None,
                )
                for request, label, name, offered, groups, declined in rows
            )
            return Page(items, int(total), max(0, offset))

    # --- /stuck ------------------------------------------------------------------------------

    def _stuck_condition(self, now: datetime) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
        unconfirmed = and_(
            Claim.status == ClaimStatus.DONE, Claim.done_at <= now - UNCONFIRMED_AFTER
        )
        silent = and_(Claim.status == ClaimStatus.ACTIVE, Claim.nudges >= 1)
        return unconfirmed, silent

    async def stuck_claims(
        self, coordinator_telegram_id: int, *, offset: int = 0, limit: int = 5
    ) -> Page[StuckClaim] | Outcome:
        """Claims that wait too long, oldest first.

        - unconfirmed: status done, said done more than 48 hours ago, the referent has not
          confirmed (nor said it was not done);
        - silent: status active although the bot has already asked the volunteer at least once
          whether it was done (it asks once the planned time is past): they have not said it was
          done, released it or said they could not.
        """
        now = self._clock()
        unconfirmed, silent = self._stuck_condition(now)
        volunteer = aliased(Member)
        referent = aliased(Member)
        async with self._db.read() as session:
            if not await self._is_coordinator(session, coordinator_telegram_id):
                return Outcome.NOT_ALLOWED
            total = (
                await session.execute(
                    select(func.count()).select_from(Claim).where(or_(unconfirmed, silent))
                )
            ).scalar_one()
            rows = (
                await session.execute(
                    select(
                        Claim.id,
                        Claim.request_id,
                        Claim.status,
                        Claim.claimed_at,
                        Claim.done_at,
                        Skill.label,
                        volunteer.display_name.label("volunteer"),
                        referent.display_name.label("referent"),
                        referent.telegram_id.label("referent_telegram_id"),
                    )
                    .join(HelpRequest, HelpRequest.id == Claim.request_id)
                    .join(Skill, Skill.id == HelpRequest.skill_id)
                    .outerjoin(volunteer, volunteer.id == Claim.volunteer_id)
                    .outerjoin(referent, referent.id == HelpRequest.referent_id)
                    .where(or_(unconfirmed, silent))
                    .order_by(func.coalesce(Claim.done_at, Claim.claimed_at), Claim.id)
                    .offset(max(0, offset))
                    .limit(limit)
                )
            ).all()
        items = tuple(
            StuckClaim(
                claim_id=row.id,
                request_id=row.request_id,
                kind=StuckKind.UNCONFIRMED if row.status is ClaimStatus.DONE else StuckKind.SILENT,
                since=row.done_at
                if row.status is ClaimStatus.DONE and row.done_at
                else row.claimed_at,
                skill_label=row.label,
                volunteer_name=row.volunteer or None,
                referent_name=row.referent or None,
                can_remind=row.referent_telegram_id is not None,
            )
            for row in rows
        )
        return Page(items, int(total), max(0, offset))

    async def remind_referent(self, coordinator_telegram_id: int, claim_id: int) -> Outcome:
        """Queue a reminder to the referent of a stuck claim (with Confirm / Not done if done).

        DONE: queued; ALREADY_DONE: the claim is no longer stuck; NOT_FOUND: no such claim or
        no referent to write to.
        """
        now = self._clock()
        async with self._db.transaction() as session:
            actor = await member_store.get_with_role(
                session, coordinator_telegram_id, Role.COORDINATOR
            )
            if actor is None:
                return Outcome.NOT_ALLOWED
            row = (
                await session.execute(
                    select(Claim, HelpRequest, Skill.label)
                    .join(HelpRequest, HelpRequest.id == Claim.request_id)
                    .join(Skill, Skill.id == HelpRequest.skill_id)
                    .where(Claim.id == claim_id)
                )
            ).one_or_none()
            if row is None:
                return Outcome.NOT_FOUND
            claim, request, label = row
            unconfirmed, silent = self._stuck_condition(now)
            still_stuck = (
                await session.execute(
                    select(Claim.id).where(Claim.id == claim_id, or_(unconfirmed, silent))
                )
            ).one_or_none()
            if still_stuck is None:
                return Outcome.ALREADY_DONE
            referent = (
                await session.get(Member, request.referent_id) if request.referent_id else None
            )
            if referent is None or referent.telegram_id is None:
                return Outcome.NOT_FOUND
            volunteer = (
                await session.get(Member, claim.volunteer_id) if claim.volunteer_id else None
            )
            _ = self._notices.translator_for(referent)
            name = (volunteer.display_name if volunteer else "") or _("The volunteer")
            rows: list[list[InlineKeyboardButton]] = []
            if claim.status is ClaimStatus.DONE:
                text = _(
                    "Reminder from the coordinators: {name} said request #{id} ({skill}) was "
                    "done. Can you confirm it with the person?",
                    name=name,
                    id=request.id,
                    skill=skill_label(label, _),
                )
                rows = [
                    [
                        InlineKeyboardButton(
                            _("✅ Confirmed"),
                            callback_data=callbacks.encode(
                                Action.REFERENT_STEP, "confirm", claim.id
                            ),
                        ),
                        InlineKeyboardButton(
                            _("❌ Not done"),
                            callback_data=callbacks.encode(
                                Action.REFERENT_STEP, "notdone", claim.id
                            ),
                        ),
                    ]
                ]
            else:
                text = _(
                    "Reminder from the coordinators: {name} has not said whether request #{id} "
                    "({skill}) was done. You may want to call them ({phone}).",
                    name=name,
                    id=request.id,
                    skill=skill_label(label, _),
                    phone=(volunteer.phone if volunteer else None) or _("no phone given"),
                )
            await self._notices.tell(session, referent, text, rows=rows, priority=outbox.NOTICE)
            await audit.record(
                session,
                actor_id=actor.id,
                entity="claim",
                entity_id=claim.id,
                action="remind_referent",
                detail={"request_id": request.id},
            )
        self._after_commit()
        return Outcome.DONE

    # --- /stats ------------------------------------------------------------------------------

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
        - cancelled / expired: of those, requests with that status;
        - median time to first claim: over the claimed ones, the median of (first claim − created)
          where the first claim is the earliest claimed_at or "claim" audit event of the request
          (a claim taken again after a release keeps its first time);
        - completion rate: confirmed ÷ (created − cancelled), None when that is 0.

        Volunteers' activity is counted by when it happened:

        - active volunteers: distinct volunteers who took a claim (claimed_at) in the period;
        - services done: claims said done (done_at) in the period and not later found not done
          (status done or confirmed);
        - hours given: the sum of minutes_spent of those services (a missing duration counts 0).

        Seven queries whatever the number of requests: the role, the neighbourhoods' names,
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
            created_in = _within(HelpRequest.created_at, window)
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
                        _count_if(has_claim),
                        _count_if(status.in_([RequestStatus.COMPLETED, RequestStatus.CLOSED])),
                        _count_if(status == RequestStatus.CLOSED),
                        _count_if(status == RequestStatus.CANCELLED),
                        _count_if(status == RequestStatus.EXPIRED),
                    )
                    .join(Skill, Skill.id == HelpRequest.skill_id)
                    .where(created_in, place)
                    .group_by(Skill.id, Skill.label, HelpRequest.neighbourhood_id)
                )
            ).all()
            first_claims = self._first_claims()
            delays = (
                await session.execute(
                    select(HelpRequest.created_at, first_claims.c.first_at)
                    .join(first_claims, first_claims.c.request_id == HelpRequest.id)
                    .where(created_in, place)
                )
            ).all()
            claimed_in = _within(Claim.claimed_at, window)
            done_in = and_(
                _within(Claim.done_at, window),
                Claim.status.in_([ClaimStatus.DONE, ClaimStatus.CONFIRMED]),
            )
            activity = (
                func.count(distinct(case((claimed_in, Claim.volunteer_id)))),
                func.coalesce(
                    func.sum(case((done_in, func.coalesce(Claim.minutes_spent, 0)), else_=0)), 0
                ),
                _count_if(done_in),
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
            for created, first in ((_aware(c), _aware(f)) for c, f in delays)
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
        )

    @staticmethod
    def _first_claims() -> Any:
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

    # --- exports -----------------------------------------------------------------------------

    def _local(self, value: datetime | None) -> str | None:
        value = _aware(value)
        return value.astimezone(self.tz).strftime(CSV_TIME_FORMAT) if value else None

    def _filename(self, what: str, window: Window) -> str:
        if window.first_day is None:
            suffix = "all"
        elif window.period is Period.THIS_YEAR:
            suffix = f"{window.first_day:%Y}"
        else:
            suffix = f"{window.first_day:%Y-%m}"
        return f"brigade-{what}-{suffix}.csv"

    def _cell(self, value: object) -> object:
        """A CSV cell: times in the town's zone, statuses by value, the rest as is."""
        if isinstance(value, datetime):
            return self._local(value)
        if isinstance(value, StrEnum):
            return value.value
        return value

    async def _export(
        self,
        coordinator_telegram_id: int,
        columns: Sequence[tuple[str, Any]],
        query: Callable[[Any], Any],
        filename: str,
        translate: dict[str, Callable[[Any], object]] | None = None,
    ) -> ExportFile | Outcome:
        """Run `query(select(columns…))` and write its rows under the columns' headers."""
        async with self._db.read() as session:
            if not await self._is_coordinator(session, coordinator_telegram_id):
                return Outcome.NOT_ALLOWED
            rows = (await session.execute(query(select(*(c for _h, c in columns))))).all()
        headers = [header for header, _c in columns]
        changes = [(i, (translate or {}).get(header)) for i, header in enumerate(headers)]
        content, count = _csv(
            headers,
            (
                [self._cell(change(row[i]) if change else row[i]) for i, change in changes]
                for row in rows
            ),
        )
        return ExportFile(filename, content, count)

    async def export_requests(
        self, coordinator_telegram_id: int, period: Period, _: Translator
    ) -> ExportFile | Outcome:
        """Requests created in the period: no description, beneficiary, position or reason.

        Columns: id, created_at, status, skill_code, skill, neighbourhood_id, neighbourhood,
        area_label (street and neighbourhood, never a house number), when, starts_at,
        places_needed, places_taken, waves, first_claim_at, closed_at, expires_at; times in the
        town's time zone.
        """
        window = self.window(period)
        first_claims = self._first_claims()
        columns = [
            ("id", HelpRequest.id),
            ("created_at", HelpRequest.created_at),
            ("status", HelpRequest.status),
            ("skill_code", Skill.code),
            ("skill", Skill.label),
            ("neighbourhood_id", HelpRequest.neighbourhood_id),
            ("neighbourhood", Neighbourhood.name),
            ("area_label", HelpRequest.area_label),
            ("when", HelpRequest.when_kind),
            ("starts_at", HelpRequest.starts_at),
            ("places_needed", HelpRequest.places_needed),
            ("places_taken", HelpRequest.places_taken),
            ("waves", HelpRequest.wave),
            ("first_claim_at", first_claims.c.first_at),
            ("closed_at", HelpRequest.closed_at),
            ("expires_at", HelpRequest.expires_at),
        ]
        return await self._export(
            coordinator_telegram_id,
            columns,
            lambda query: (
                query.join(Skill, Skill.id == HelpRequest.skill_id)
                .outerjoin(Neighbourhood, Neighbourhood.id == HelpRequest.neighbourhood_id)
                .outerjoin(first_claims, first_claims.c.request_id == HelpRequest.id)
                .where(_within(HelpRequest.created_at, window))
                .order_by(HelpRequest.id)
            ),
            self._filename("requests", window),
            {"skill": lambda label: skill_label(label, _), "first_claim_at": _aware},
        )

    async def export_claims(
        self, coordinator_telegram_id: int, period: Period
    ) -> ExportFile | Outcome:
        """The claims on the requests created in the period (so both files join on request_id).

        Columns: id, request_id, volunteer_member_id (never a name), status, claimed_at, done_at,
        confirmed_at, released_at, minutes_spent. The volunteer's note is left out.
        """
        window = self.window(period)
        columns = [
            ("id", Claim.id),
            ("request_id", Claim.request_id),
            ("volunteer_member_id", Claim.volunteer_id),
            ("status", Claim.status),
            ("claimed_at", Claim.claimed_at),
            ("done_at", Claim.done_at),
            ("confirmed_at", Claim.confirmed_at),
            ("released_at", Claim.released_at),
            ("minutes_spent", Claim.minutes_spent),
        ]
        return await self._export(
            coordinator_telegram_id,
            columns,
            lambda query: (
                query.join(HelpRequest, HelpRequest.id == Claim.request_id)
                .where(_within(HelpRequest.created_at, window))
                .order_by(Claim.id)
            ),
            self._filename("claims", window),
        )

    async def export_volunteers(
        self, coordinator_telegram_id: int, _: Translator
    ) -> ExportFile | Outcome:
        """Every volunteer as of now (whatever the period): no name, phone, address or position.

        Columns: member_id, neighbourhood_id, neighbourhood, skills (labels, "; "-separated),
        status (pending, approved, rejected), approved_at, signed_up_at. Two queries: the
        volunteers, then all their skills.
        """
        async with self._db.read() as session:
            if not await self._is_coordinator(session, coordinator_telegram_id):
                return Outcome.NOT_ALLOWED
            held = (
                await session.execute(
                    select(VolunteerSkill.member_id, Skill.label)
                    .join(Skill, Skill.id == VolunteerSkill.skill_id)
                    .join(Member, Member.id == VolunteerSkill.member_id)
                    .where(Member.volunteer_status.is_not(None))
                    .order_by(VolunteerSkill.member_id, Skill.id)
                )
            ).all()
        skills: dict[int, list[str]] = {}
        for member_id, label in held:
            skills.setdefault(member_id, []).append(skill_label(label, _))
        columns = [
            ("member_id", Member.id),
            ("neighbourhood_id", Member.neighbourhood_id),
            ("neighbourhood", Neighbourhood.name),
            ("skills", Member.id),
            ("status", Member.volunteer_status),
            ("approved_at", Member.approved_at),
            ("signed_up_at", Member.created_at),
        ]
        today = self._clock().astimezone(self.tz)
        return await self._export(
            coordinator_telegram_id,
            columns,
            lambda query: (
                query.outerjoin(Neighbourhood, Neighbourhood.id == Member.neighbourhood_id)
                .where(Member.volunteer_status.is_not(None))
                .order_by(Member.id)
            ),
            f"brigade-volunteers-{today:%Y-%m-%d}.csv",
            {"skills": lambda member_id: "; ".join(skills.get(member_id, []))},
        )

    async def export_signals(
        self, coordinator_telegram_id: int, period: Period
    ) -> ExportFile | Outcome | None:
        """The `signals` table, if there is one (None otherwise), without any personal column.

        Kept: numbers (member ids, never names), dates, booleans, enumerations, and strings whose
        column name says they come from a closed vocabulary (…status, …kind, …outcome…); a column
        whose name suggests a person (name, phone, address, place, note, description, worry,
        position…) never, nor any other free text. Rows created in the period when the
        table has a created_at column.
        """
        table = signals_table()
        window = self.window(period)
        try:
            async with self._db.read() as session:
                if not await self._is_coordinator(session, coordinator_telegram_id):
                    return Outcome.NOT_ALLOWED
                if table is None:
                    return None
                columns = [c.name for c in table.columns if _signal_column_exported(table, c.name)]
                query = select(*[table.c[name] for name in columns])
                if "created_at" in table.c:
                    query = query.where(_within(table.c.created_at, window))
                if "id" in table.c:
                    query = query.order_by(table.c.id)
                rows = (await session.execute(query)).all()
        except DBAPIError:
            return None  # declared by a model but not migrated here yet
        content, count = _csv(
            columns,
            ([self._cell(value) for value in row] for row in rows),
        )
        return ExportFile(self._filename("signals", window), content, count)

    # --- the chart ---------------------------------------------------------------------------

    async def monthly_counts(
        self, coordinator_telegram_id: int, period: Period
    ) -> tuple[list[date], dict[int | None, tuple[list[int], list[int]]], dict[int, str]] | Outcome:
        """Per neighbourhood and local month: requests created, and requests confirmed (closed).

        A request counts as created in the month of its created_at and as completed in the month
        of its closed_at (status closed). Returns the months (first days), the two series per
        neighbourhood id (None: outside every neighbourhood), and the neighbourhoods' names.
        """
        window = self.window(period)
        closed_in = and_(
            HelpRequest.status == RequestStatus.CLOSED, _within(HelpRequest.closed_at, window)
        )
        async with self._db.read() as session:
            if not await self._is_coordinator(session, coordinator_telegram_id):
                return Outcome.NOT_ALLOWED
            rows = (
                await session.execute(
                    select(
                        HelpRequest.neighbourhood_id,
                        HelpRequest.created_at,
                        HelpRequest.status,
                        HelpRequest.closed_at,
                    ).where(or_(_within(HelpRequest.created_at, window), closed_in))
                )
            ).all()
            names = dict(
                (await session.execute(select(Neighbourhood.id, Neighbourhood.name))).all()
            )

        def month_of(value: datetime) -> date:
            local = value.astimezone(self.tz)
            return date(local.year, local.month, 1)

        created: dict[tuple[int | None, date], int] = {}
        completed: dict[tuple[int | None, date], int] = {}
        months: set[date] = set()
        for nb_id, created_value, status, closed_value in rows:
            created_at, closed_at = _aware(created_value), _aware(closed_value)
            if created_at is not None and self._in_window(created_at, window):
                key = (nb_id, month_of(created_at))
                created[key] = created.get(key, 0) + 1
                months.add(key[1])
            if (
                status is RequestStatus.CLOSED
                and closed_at is not None
                and self._in_window(closed_at, window)
            ):
                key = (nb_id, month_of(closed_at))
                completed[key] = completed.get(key, 0) + 1
                months.add(key[1])
        if window.first_day is not None and window.last_day is not None:
            first = date(window.first_day.year, window.first_day.month, 1)
            last = date(window.last_day.year, window.last_day.month, 1)
            if window.period is Period.THIS_YEAR:
                now = self._clock().astimezone(self.tz)
                last = date(now.year, now.month, 1)
        elif months:
            first, last = min(months), max(months)
        else:
            now = self._clock().astimezone(self.tz)
            first = last = date(now.year, now.month, 1)
        axis: list[date] = []
        cursor = first
        while cursor <= last:
            axis.append(cursor)
            cursor = _month_start(cursor.year, cursor.month + 1, UTC).date()
        neighbourhoods = {nb for nb, _m in [*created, *completed]}
        series = {
            nb: (
                [created.get((nb, month), 0) for month in axis],
                [completed.get((nb, month), 0) for month in axis],
            )
            for nb in neighbourhoods
        }
        return axis, series, names

    @staticmethod
    def _in_window(value: datetime, window: Window) -> bool:
        if window.start is not None and value < window.start:
            return False
        return not (window.end is not None and value >= window.end)

    async def monthly_chart(
        self, coordinator_telegram_id: int, period: Period, _: Translator
    ) -> bytes | Outcome:
        """A PNG bar chart of `monthly_counts`, one panel per neighbourhood (drawn off-screen)."""
        counted = await self.monthly_counts(coordinator_telegram_id, period)
        if isinstance(counted, Outcome):
            return counted
        months, series, names = counted
        ranked = sorted(series.items(), key=lambda item: (-sum(item[1][0]), str(item[0])))
        panels: list[tuple[str, list[int], list[int]]] = []
        for nb, (created, completed) in ranked[:CHART_MAX_NEIGHBOURHOODS]:
            label = names.get(nb, "") if nb is not None else _("No neighbourhood")
            panels.append((label, created, completed))
        rest = ranked[CHART_MAX_NEIGHBOURHOODS:]
        if rest:
            panels.append(
                (
                    _("Other neighbourhoods"),
                    [sum(values) for values in zip(*(s[0] for _nb, s in rest), strict=True)],
                    [sum(values) for values in zip(*(s[1] for _nb, s in rest), strict=True)],
                )
            )
        labels = ChartLabels(
            title=_("Requests per month and neighbourhood — {town}", town=self._settings.town_name),
            created=_("Created"),
            completed=_("Completed (confirmed)"),
            empty=_("No request in this period."),
            months=[format_date(month, "MMM yyyy", locale=_.language) for month in months],
        )
        return await asyncio.to_thread(draw_chart, panels, labels)


@dataclass(frozen=True)
class ChartLabels:
    """The chart's texts, already translated."""

    title: str
    created: str
    completed: str
    empty: str
    months: list[str]


def draw_chart(panels: Sequence[tuple[str, list[int], list[int]]], labels: ChartLabels) -> bytes:
    """Grouped bars (created, completed) per month, one panel per neighbourhood; PNG bytes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    months = len(labels.months)
    width = min(16.0, max(6.0, 0.55 * months + 2.5))
    height = 1.2 + 2.0 * max(1, len(panels))
    with _chart_lock:
        figure = Figure(figsize=(width, height), dpi=100, layout="constrained")
        FigureCanvasAgg(figure)
        figure.suptitle(labels.title)
        if not panels:
            axes = figure.subplots()
            axes.text(0.5, 0.5, labels.empty, ha="center", va="center")
            axes.set_axis_off()
        else:
            grid = figure.subplots(len(panels), 1, sharex=True, squeeze=False)
            positions = list(range(months))
            bar = 0.4
            series = ((-bar / 2, labels.created, "#9ecae1"), (bar / 2, labels.completed, "#2b6cb0"))
            for (name, *values), axes in zip(panels, grid[:, 0], strict=True):
                for (shift, label, colour), counts in zip(series, values, strict=True):
                    bars = axes.bar(
                        [x + shift for x in positions], counts, bar, label=label, color=colour
                    )
                    axes.bar_label(bars, [str(n) if n else "" for n in counts], fontsize=7)
                axes.set_title(name, loc="left", fontsize=10)
                pad = max(0.0, (4 - months) / 2)  # a lone month keeps slim bars
                axes.set_xlim(-0.7 - pad, months - 0.3 + pad)
                axes.set_ylim(0, max(1, *values[0], *values[1]) * 1.2)
                axes.yaxis.set_major_locator(MaxNLocator(integer=True))
                axes.grid(axis="y", alpha=0.3)
            step = max(1, months // 18)
            many = months > 6
            grid[-1, 0].set_xticks(
                positions[::step],
                labels.months[::step],
                rotation=45 if many else 0,
                ha="right" if many else "center",
            )
            handles, names = grid[0, 0].get_legend_handles_labels()
            figure.legend(handles, names, loc="outside lower center", ncols=2, fontsize=8)
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
    return buffer.getvalue()
