"""Watch campaigns: a coordinator starts one (/watch) and stops it; the sweep runs its days.

Each day of a campaign has a call window in the town's time zone. At the window's start the
sweep claims the day (a conditional UPDATE moving `next_window_at` on: one process alone does
it, a restart finds it in the database), gives every registered person one caller
(bot/services/watch/assignment.py) and sends each caller their list through the outbox, in that
same transaction. The callers' taps are in bot/services/watch/calls.py, with the retries, the
escalations at the window's end and their repetition.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from sqlalchemy import and_, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from bot.domain.vocabulary import VolunteerStatus
from bot.domain.watch import CALL_SKILL, SETTLED, CallOutcome, CampaignKind
from bot.messages.base import Reader
from bot.messages.messenger import Letter, Messenger
from bot.messages.watch_calls import (
    CallerList,
    CallerListChanged,
    CallLine,
    CampaignEnded,
    ListRemoved,
    Uncovered,
)
from bot.services.base import Configured, coordinator_readers
from bot.services.outcomes import Outcome
from bot.services.watch.assignment import Callee, Caller, assign
from storage import audit, outbox
from storage.models import (
    Beneficiary,
    Member,
    Neighbourhood,
    OutboxMessage,
    OutboxStatus,
    RequestSeries,
    Skill,
    VolunteerSkill,
)
from storage.watch_models import WatchCall, WatchCampaign, WatchList, WatchPerson
from storage.writes import changed, view_of

MAX_INTERVAL_DAYS = 7
MAX_CAMPAIGN_DAYS = 120


@dataclass(frozen=True)
class CampaignPlan:
    """What a coordinator chooses when starting a campaign."""

    kind: CampaignKind
    window_start: int  # minutes after local midnight
    window_end: int
    interval_days: int = 1
    ends_on: date | None = None


@dataclass(frozen=True)
class CampaignView:
    """A running campaign, as /watch shows it."""

    id: int
    kind: CampaignKind
    window_start: int
    window_end: int
    interval_days: int
    ends_on: date | None
    started_at: datetime
    next_window_at: datetime


@dataclass(frozen=True)
class DayFigures:
    """How the campaign's current day stands (no names: counts only)."""

    registered: int
    reached: int
    needs: int
    no_answer: int
    emergency: int
    escalated: int
    not_called: int
    # The same, by neighbourhood (by name; None: no neighbourhood known), for the whole town.
    areas: tuple[AreaFigures, ...] = ()


@dataclass(frozen=True)
class AreaFigures:
    """A neighbourhood's share of the day's figures."""

    name: str | None
    figures: DayFigures


def day_figures(registered: int, calls: list[tuple[CallOutcome, bool, int]]) -> DayFigures:
    """The figures of (outcome, escalated, count) groups of the day's calls: an escalation
    counts while the person is still unreached."""
    counts: dict[CallOutcome, int] = {}
    escalated = 0
    for outcome, is_escalated, count in calls:
        counts[outcome] = counts.get(outcome, 0) + count
        if is_escalated and outcome not in SETTLED:
            escalated += count
    return DayFigures(
        registered=registered,
        reached=counts.get(CallOutcome.WELL, 0),
        needs=counts.get(CallOutcome.NEEDS, 0),
        no_answer=counts.get(CallOutcome.NO_ANSWER, 0),
        emergency=counts.get(CallOutcome.EMERGENCY, 0),
        escalated=escalated,
        not_called=counts.get(CallOutcome.PENDING, 0),
    )


def restated(
    messenger: Messenger, row: OutboxMessage, reader: Reader, updated: CallerList
) -> Letter | None:
    """A caller's list as it now reads: one not sent yet (nor being sent) rewritten before it
    goes, a sent one edited (the letter to post; None: nothing to post)."""
    if row.status is OutboxStatus.PENDING and row.lease_owner is None:
        row.payload = dict(messenger.call(updated, reader).payload)
    elif row.telegram_message_id is not None:
        return CallerListChanged(updated, row.telegram_message_id), reader
    return None


def silence_minute(campaign: WatchCampaign) -> int:
    """The middle of the window: a caller who recorded nothing by then is replaced."""
    return (campaign.window_start + campaign.window_end) // 2


def window_at(day: date, minute: int, tz: tzinfo) -> datetime:
    """The moment (UTC) of `minute` after local midnight on a local `day`."""
    local = datetime.combine(day, time(minute // 60, minute % 60), tzinfo=tz)
    return local.astimezone(UTC)


def valid_plan(plan: CampaignPlan, today: date) -> bool:
    """A window within one day, a sensible frequency, an end date not past nor too far."""
    if not 0 <= plan.window_start < plan.window_end <= 24 * 60 - 1:
        return False
    if not 1 <= plan.interval_days <= MAX_INTERVAL_DAYS:
        return False
    return plan.ends_on is None or today <= plan.ends_on <= today + timedelta(MAX_CAMPAIGN_DAYS)


class CampaignService(Configured):
    """Starting and stopping campaigns, and opening each day's window."""

    @property
    def _tz(self) -> tzinfo:
        """The town's time zone: windows open and close in local time."""
        return self._settings.tz

    def _today(self) -> date:
        """The town's local date now."""
        return self._clock().astimezone(self._tz).date()

    async def current(self, telegram_id: int) -> CampaignView | Outcome | None:
        """The running campaign (None: none runs); coordinators only."""
        async with self._db.read() as session:
            if await self._require(session, telegram_id) is None:
                return Outcome.NOT_ALLOWED
            row = await _running(session)
            return None if row is None else view_of(CampaignView, row)

    async def figures(self, telegram_id: int) -> tuple[CampaignView, DayFigures] | Outcome | None:
        """The running campaign and its current day's figures (None: none runs)."""
        async with self._db.read() as session:
            if await self._require(session, telegram_id) is None:
                return Outcome.NOT_ALLOWED
            row = await _running(session)
            if row is None:
                return None
            registered: dict[int | None, int] = {
                area: count
                for area, count in await session.execute(
                    select(WatchPerson.neighbourhood_id, func.count()).group_by(
                        WatchPerson.neighbourhood_id
                    )
                )
            }
            escalated = WatchCall.escalated_at.is_not(None)
            calls = (
                await session.execute(
                    select(WatchPerson.neighbourhood_id, WatchCall.outcome, escalated, func.count())
                    .join(WatchPerson, WatchPerson.id == WatchCall.person_id)
                    .where(WatchCall.campaign_id == row.id, WatchCall.day == row.day)
                    .group_by(WatchPerson.neighbourhood_id, WatchCall.outcome, escalated)
                )
            ).all()
            by_area: dict[int | None, list[tuple[CallOutcome, bool, int]]] = {}
            for area, outcome, is_escalated, count in calls:
                by_area.setdefault(area, []).append((outcome, is_escalated, count))
            names = {
                area: name
                for area, name in await session.execute(
                    select(Neighbourhood.id, Neighbourhood.name)
                )
            }
            areas = sorted(
                (
                    AreaFigures(
                        names.get(area) if area is not None else None,
                        day_figures(registered.get(area, 0), by_area.get(area, [])),
                    )
                    for area in set(registered) | set(by_area)
                ),
                key=lambda found: (found.name is None, found.name or ""),
            )
            every_call = [call for area_calls in by_area.values() for call in area_calls]
            figures = replace(day_figures(sum(registered.values()), every_call), areas=tuple(areas))
            return view_of(CampaignView, row), figures

    async def start(self, telegram_id: int, plan: CampaignPlan) -> CampaignView | Outcome:
        """Start a campaign: its first window is today's if it has not ended yet."""
        now, today = self._clock(), self._today()
        if not valid_plan(plan, today):
            return Outcome.INVALID
        first = today if now < window_at(today, plan.window_end, self._tz) else today + timedelta(1)
        try:
            async with self._transaction() as session:
                actor = await self._require(session, telegram_id)
                if actor is None:
                    return Outcome.NOT_ALLOWED
                if await _running(session) is not None:
                    return Outcome.ALREADY_DONE
                row = WatchCampaign(
                    **asdict(plan),
                    next_window_at=window_at(first, plan.window_start, self._tz),
                    running=True,
                    started_by_id=actor.id,
                )
                session.add(row)
                await session.flush()
                await audit.record(
                    session, "watch_campaign", row.id, "start", by=actor.id, moved=(None, "running")
                )
                return view_of(CampaignView, row)
        except IntegrityError:
            # Another coordinator started one at the same moment (the unique `running`).
            return Outcome.ALREADY_DONE

    async def stop(self, telegram_id: int, campaign_id: int) -> Outcome:
        """Stop a campaign for good: no more lists, retries or escalations."""
        now = self._clock()
        async with self._transaction() as session:
            actor = await self._require(session, telegram_id)
            if actor is None:
                return Outcome.NOT_ALLOWED
            stopped = await changed(
                session,
                update(WatchCampaign)
                .where(WatchCampaign.id == campaign_id, WatchCampaign.running.is_(True))
                .values(
                    running=None,
                    stopped_at=now,
                    stopped_by_id=actor.id,
                    window_ends_at=None,
                    silence_at=None,
                )
                .returning(WatchCampaign.id),
            )
            if stopped is None:
                exists = await session.get(WatchCampaign, campaign_id)
                return Outcome.NOT_FOUND if exists is None else Outcome.ALREADY_DONE
            await session.execute(
                update(WatchCall)
                .where(WatchCall.campaign_id == campaign_id)
                .values(retry_at=None, repeat_at=None)
            )
            # The day's lists leave the callers' chats now: the calls are over.
            day = (
                await session.execute(
                    select(WatchCampaign.day).where(WatchCampaign.id == campaign_id)
                )
            ).scalar_one()
            if day is not None:
                await self._messenger.post(
                    session, await self._lists_removed(session, campaign_id, day, now)
                )
            await audit.record(
                session,
                "watch_campaign",
                campaign_id,
                "stop",
                by=actor.id,
                moved=("running", "stopped"),
            )
            return Outcome.DONE

    async def _due(self, timer: InstrumentedAttribute[datetime | None], now: datetime) -> list[int]:
        """The running campaigns whose `timer` (a column of theirs) has come, to claim each."""
        async with self._db.read() as session:
            due = await session.execute(
                select(WatchCampaign.id).where(WatchCampaign.running.is_(True), timer <= now)
            )
            return list(due.scalars())

    @staticmethod
    async def _claim(
        session: AsyncSession,
        campaign_id: int,
        timer: InstrumentedAttribute[datetime | None],
        now: datetime,
    ) -> WatchCampaign | None:
        """Claim a campaign's due `timer` by clearing it (a conditional UPDATE): the campaign,
        or None when another process took it first."""
        claimed = await changed(
            session,
            update(WatchCampaign)
            .where(WatchCampaign.id == campaign_id, timer <= now)
            .values({timer: None})
            .returning(WatchCampaign.id),
        )
        return None if claimed is None else await session.get(WatchCampaign, campaign_id)

    async def _send_lists(
        self, session: AsyncSession, campaign_id: int, day: date, sending: list[tuple[int, Letter]]
    ) -> None:
        """Queue callers' lists, remembering each one's outbox row (to remove it at day's end)."""
        rows = await self._messenger.post(session, [letter for _caller, letter in sending])
        if rows:
            await session.execute(
                insert(WatchList),
                [
                    {
                        "campaign_id": campaign_id,
                        "day": day,
                        "caller_id": caller,
                        "outbox_id": row.id,
                    }
                    for (caller, _letter), row in zip(sending, rows, strict=True)
                ],
            )

    async def _lists_removed(
        self, session: AsyncSession, campaign_id: int, day: date, now: datetime
    ) -> list[Letter]:
        """The day's lists leave the callers' chats: each sent one edited, an unsent one never
        sent (names, phones and notes were for that day only)."""
        rows = (
            await session.execute(
                select(WatchList, OutboxMessage, Member)
                .join(OutboxMessage, OutboxMessage.id == WatchList.outbox_id)
                .outerjoin(Member, Member.id == WatchList.caller_id)
                .where(
                    WatchList.campaign_id == campaign_id,
                    WatchList.day == day,
                    WatchList.removed_at.is_(None),
                )
            )
        ).all()
        letters: list[Letter] = []
        for listed, row, caller in rows:
            listed.removed_at = now
            if row.status is OutboxStatus.PENDING:
                for column, value in outbox.final_values(OutboxStatus.SKIPPED).items():
                    setattr(row, column, value)
                row.last_error = "list no longer needed"
            elif row.telegram_message_id is not None:
                reader = Reader.in_chat(row.chat_id, caller)
                letters.append((ListRemoved(day, row.telegram_message_id), reader))
        await session.flush()
        return letters

    # --- the day's window --------------------------------------------------------------------

    async def open_due_windows(self) -> dict[str, int]:
        """Assign the day of every campaign whose window has come; safe to call often."""
        now = self._clock()
        done = {"watch_days": 0, "watch_calls": 0, "watch_uncovered": 0, "watch_ended": 0}
        for campaign_id in await self._due(WatchCampaign.next_window_at, now):
            for key, value in (await self._open_window(campaign_id, now)).items():
                done[key] += value
        return done

    async def _open_window(self, campaign_id: int, now: datetime) -> dict[str, int]:
        """Claim the due window, assign its calls and send the lists, in one transaction."""
        async with self._transaction() as session:
            campaign = await session.get(WatchCampaign, campaign_id)
            if campaign is None or not campaign.running or campaign.next_window_at > now:
                return {}
            claimed_at = campaign.next_window_at
            day = claimed_at.astimezone(self._tz).date()
            end = window_at(day, campaign.window_end, self._tz)
            # A window missed entirely (the bot was down) is skipped, never called late.
            while end <= now:
                day += timedelta(campaign.interval_days)
                end = window_at(day, campaign.window_end, self._tz)
            following = window_at(
                day + timedelta(campaign.interval_days), campaign.window_start, self._tz
            )
            over = campaign.ends_on is not None and day > campaign.ends_on
            values: dict[str, object] = (
                {"running": None, "stopped_at": now, "window_ends_at": None}
                if over
                else {
                    "next_window_at": following,
                    "window_ends_at": end,
                    "day": day,
                    "silence_at": window_at(day, silence_minute(campaign), self._tz),
                }
            )
            claimed = await changed(
                session,
                update(WatchCampaign)
                .where(
                    WatchCampaign.id == campaign_id,
                    WatchCampaign.running.is_(True),
                    WatchCampaign.next_window_at == claimed_at,
                )
                .values(**values)
                .returning(WatchCampaign.id),
            )
            if claimed is None:
                return {}  # another process took it
            if over:
                await audit.record(
                    session, "watch_campaign", campaign_id, "end", moved=("running", "ended")
                )
                days = (
                    await session.execute(
                        select(func.count(func.distinct(WatchCall.day))).where(
                            WatchCall.campaign_id == campaign_id
                        )
                    )
                ).scalar_one()
                notice = CampaignEnded(int(days))
                await self._messenger.post(
                    session, [(notice, reader) for reader in await coordinator_readers(session)]
                )
                return {"watch_ended": 1}
            calls, uncovered = await self._assign_day(session, campaign, day)
            return {"watch_days": 1, "watch_calls": calls, "watch_uncovered": uncovered}

    async def _assign_day(
        self, session: AsyncSession, campaign: WatchCampaign, day: date
    ) -> tuple[int, int]:
        """Give each registered person a caller for `day`; queue the lists; tell who is left."""
        people = await registered_people(session)
        callers = await available_callers(session, self._clock())
        # Callers replaced for silence on the campaign's previous day come last.
        previous = (
            select(func.max(WatchCall.day))
            .where(WatchCall.campaign_id == campaign.id, WatchCall.day < day)
            .scalar_subquery()
        )
        silent = set(
            (
                await session.execute(
                    select(WatchList.caller_id).where(
                        WatchList.campaign_id == campaign.id,
                        WatchList.day == previous,
                        WatchList.replaced_at.is_not(None),
                    )
                )
            ).scalars()
        )
        decided = assign(
            people,
            [replace(caller, silent=caller.id in silent) for caller in callers.values()],
            self._settings.watch_calls_per_volunteer,
        )
        if decided.callers:
            await session.execute(
                insert(WatchCall),
                [
                    {
                        "campaign_id": campaign.id,
                        "day": day,
                        "person_id": person_id,
                        "caller_id": caller_id,
                        "outcome": CallOutcome.PENDING,
                    }
                    for person_id, caller_id in decided.callers.items()
                ],
            )
        lists = await caller_lines(session, campaign.id, day, set(decided.callers.values()))
        members = {
            member.id: member
            for member in (
                await session.execute(select(Member).where(Member.id.in_(list(lists))))
            ).scalars()
        }
        sending: list[tuple[int, Letter]] = []
        for caller_id, lines in lists.items():
            reader = Reader.of(members.get(caller_id))
            if reader is not None:
                notice = CallerList(day, campaign.window_start, campaign.window_end, lines)
                sending.append((caller_id, (notice, reader)))
        await self._send_lists(session, campaign.id, day, sending)
        letters: list[Letter] = []
        if decided.uncovered:
            names = (
                await session.execute(
                    select(WatchPerson.name)
                    .where(WatchPerson.id.in_(decided.uncovered))
                    .order_by(WatchPerson.name)
                )
            ).scalars()
            notice_uncovered = Uncovered(tuple(names))
            letters += [(notice_uncovered, reader) for reader in await coordinator_readers(session)]
        await self._messenger.post(session, letters)
        await audit.record(
            session,
            "watch_campaign",
            campaign.id,
            "day",
            detail={
                "day": day.isoformat(),
                "calls": len(decided.callers),
                "uncovered": len(decided.uncovered),
            },
        )
        return len(decided.callers), len(decided.uncovered)


async def _running(session: AsyncSession) -> WatchCampaign | None:
    """The campaign that runs, if any."""
    return (
        await session.execute(select(WatchCampaign).where(WatchCampaign.running.is_(True)))
    ).scalar_one_or_none()


async def registered_people(session: AsyncSession) -> list[Callee]:
    """Everyone on the register, where they live (from their beneficiary) and their regular."""
    last_call = (
        select(WatchCall.person_id, func.max(WatchCall.id).label("last_id"))
        .where(WatchCall.caller_id.is_not(None))
        .group_by(WatchCall.person_id)
        .subquery()
    )
    last_caller = (
        select(WatchCall.person_id, WatchCall.caller_id)
        .join(last_call, last_call.c.last_id == WatchCall.id)
        .subquery()
    )
    series_regular = (
        select(
            RequestSeries.beneficiary_id, func.min(RequestSeries.regular_volunteer_id).label("rid")
        )
        .where(RequestSeries.stopped_at.is_(None), RequestSeries.regular_volunteer_id.is_not(None))
        .group_by(RequestSeries.beneficiary_id)
        .subquery()
    )
    rows = await session.execute(
        select(
            WatchPerson.id,
            func.coalesce(Beneficiary.latitude, WatchPerson.latitude),
            func.coalesce(Beneficiary.longitude, WatchPerson.longitude),
            last_caller.c.caller_id,
            series_regular.c.rid,
        )
        .outerjoin(Beneficiary, Beneficiary.id == WatchPerson.beneficiary_id)
        .outerjoin(last_caller, last_caller.c.person_id == WatchPerson.id)
        .outerjoin(series_regular, series_regular.c.beneficiary_id == WatchPerson.beneficiary_id)
        .order_by(WatchPerson.id)
    )
    return [
        Callee(person_id, latitude, longitude, last if last is not None else regular)
        for person_id, latitude, longitude, last, regular in rows.all()
    ]


async def available_callers(session: AsyncSession, now: datetime) -> dict[int, Caller]:
    """Approved, reachable, unpaused volunteers holding the phone-calls skill (one query)."""
    rows = await session.execute(
        select(Member.id, Member.latitude, Member.longitude)
        .join(VolunteerSkill, VolunteerSkill.member_id == Member.id)
        .join(Skill, and_(Skill.id == VolunteerSkill.skill_id, Skill.code == CALL_SKILL))
        .where(
            Member.volunteer_status == VolunteerStatus.APPROVED,
            Member.reachable.is_(True),
            Member.telegram_id.is_not(None),
            Member.forgotten_at.is_(None),
            or_(Member.paused_until.is_(None), Member.paused_until <= now),
        )
        .order_by(Member.id)
    )
    return {row_id: Caller(row_id, latitude, longitude) for row_id, latitude, longitude in rows}


async def caller_lines(
    session: AsyncSession, campaign_id: int, day: date, caller_ids: set[int]
) -> dict[int, tuple[CallLine, ...]]:
    """Each caller's list of the day, in the order it was given (one query)."""
    if not caller_ids:
        return {}
    rows = await session.execute(
        select(WatchCall, WatchPerson, Skill.label)
        .join(WatchPerson, WatchPerson.id == WatchCall.person_id)
        .outerjoin(Skill, Skill.id == WatchCall.need_skill_id)
        .where(
            WatchCall.campaign_id == campaign_id,
            WatchCall.day == day,
            WatchCall.caller_id.in_(caller_ids),
        )
        .order_by(WatchCall.id)
    )
    lists: dict[int, list[CallLine]] = {}
    for call, person, need in rows.all():
        assert call.caller_id is not None
        lists.setdefault(call.caller_id, []).append(
            CallLine(
                call.id,
                person.name,
                person.phone,
                person.best_time,
                person.notes,
                call.outcome,
                call.first_no_answer_at,
                need,
            )
        )
    return {caller_id: tuple(lines) for caller_id, lines in lists.items()}
