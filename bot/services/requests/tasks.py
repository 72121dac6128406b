"""A volunteer's own claims (/tasks): coming up, to report, waiting for the referent; Done,
Release and the way to the place from each one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from functools import partial

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.lifecycle import HOLDING_PLACE
from bot.domain.vocabulary import ClaimStatus, RequestStatus
from bot.messages.offers import RequestView
from bot.services.outcomes import Outcome, StepOutcome
from bot.services.reports.views import Page
from bot.services.requests.base import ClaimerStep, GiveBack
from bot.services.requests.claims import Claims
from bot.services.requests.closing import Closing
from storage import members as member_store
from storage.models import Claim, HelpRequest, Member, Neighbourhood, Skill
from storage.writes import view_of

MAX_LISTED = 100


class TaskGroup(StrEnum):
    """Where a claim stands, as /tasks groups them (in this order)."""

    UPCOMING = "upcoming"  # active, its time not come yet (or as soon as possible)
    TO_REPORT = "report"  # active, its time is past: say it is done (or give it back)
    WAITING = "waiting"  # said done, the referent has not confirmed yet


_ORDER = list(TaskGroup)


@dataclass(frozen=True)
class MyTask:
    """One of a volunteer's claims and the public side of its request."""

    claim_id: int
    status: ClaimStatus
    request: RequestView
    due: bool  # its time (or the first "is it done?") is past

    @property
    def group(self) -> TaskGroup:
        """Where it stands."""
        if self.status is ClaimStatus.DONE:
            return TaskGroup.WAITING
        return TaskGroup.TO_REPORT if self.due else TaskGroup.UPCOMING

    @property
    def active(self) -> bool:
        """Done, Release and Directions work only while the claim is active."""
        return self.status is ClaimStatus.ACTIVE


class TaskVerb(StrEnum):
    """What a volunteer does from a card of /tasks (each re-reads the card afterwards)."""

    SHOW = "show"
    DONE = "done"
    RELEASE = "releaseyes"  # confirmed: the card asked first


@dataclass(frozen=True)
class TaskAnswer:
    """How a step on a card ended, and the card as it is now (None: not theirs)."""

    outcome: StepOutcome
    card: MyTask | None


@dataclass(frozen=True)
class Directions:
    """Where a claimer goes: the point of the request (the person's place, most often)."""

    request_id: int
    latitude: float
    longitude: float


class MyTasks(Claims, Closing):
    """/tasks: a volunteer's claims, and what they do from each card."""

    async def my_tasks(
        self, volunteer_telegram_id: int, *, offset: int = 0, limit: int = 5
    ) -> Page[MyTask] | Outcome:
        """The caller's claims that hold a place: coming up, to report, waiting for the referent."""
        async with self._db.read() as session:
            volunteer = await member_store.get_by_telegram_id(session, volunteer_telegram_id)
            if volunteer is None or volunteer.volunteer_status is None:
                return Outcome.NOT_ALLOWED
            items = await self._load(
                session,
                Claim.volunteer_id == volunteer.id,
                Claim.status.in_(HOLDING_PLACE),
            )
        items.sort(key=lambda item: (_ORDER.index(item.group), item.claim_id))
        start = max(0, offset)
        return Page(tuple(items[start : start + limit]), len(items), start)

    async def my_task(
        self, volunteer_telegram_id: int, claim_id: int, verb: TaskVerb = TaskVerb.SHOW
    ) -> TaskAnswer:
        """One card of /tasks, after the step its button names (the claimer's own steps)."""
        steps: dict[TaskVerb, ClaimerStep] = {
            TaskVerb.DONE: partial(self._done, note=None, minutes=None),
            TaskVerb.RELEASE: partial(self._end_claim, why=GiveBack.RELEASED),
        }
        step = steps.get(verb)
        card: list[MyTask] = []

        async def run(session: AsyncSession, claim: Claim, volunteer: Member) -> StepOutcome:
            outcome = StepOutcome.DONE if step is None else await step(session, claim, volunteer)
            card.extend(await self._load(session, Claim.id == claim.id))
            return outcome

        outcome = await self._claimer_step(volunteer_telegram_id, claim_id, run)
        return TaskAnswer(outcome, card[0] if card else None)

    async def directions(
        self, volunteer_telegram_id: int, claim_id: int
    ) -> Directions | StepOutcome:
        """The place of a claim, for its claimer only and only while the claim is active."""
        async with self._db.read() as session:
            row = (
                await session.execute(
                    select(
                        Claim.status, HelpRequest.id, HelpRequest.latitude, HelpRequest.longitude
                    )
                    .join(HelpRequest, HelpRequest.id == Claim.request_id)
                    .join(Member, Member.id == Claim.volunteer_id)
                    .where(Claim.id == claim_id, Member.telegram_id == volunteer_telegram_id)
                )
            ).one_or_none()
        if row is None:
            return StepOutcome.NOT_ALLOWED
        status, request_id, latitude, longitude = row
        if status is not ClaimStatus.ACTIVE:
            return StepOutcome.STALE
        return Directions(request_id, latitude, longitude)

    async def _load(self, session: AsyncSession, *where: ColumnElement[bool]) -> list[MyTask]:
        """Claims and the public side of their requests (one query)."""
        now = self._clock()
        rows = (
            await session.execute(
                select(Claim, HelpRequest, Skill.label, Neighbourhood.name)
                .join(HelpRequest, HelpRequest.id == Claim.request_id)
                .join(Skill, Skill.id == HelpRequest.skill_id)
                .outerjoin(Neighbourhood, Neighbourhood.id == HelpRequest.neighbourhood_id)
                .where(*where)
                .order_by(Claim.id)
                .limit(MAX_LISTED)
            )
        ).all()
        return [
            MyTask(
                claim.id,
                claim.status,
                view_of(RequestView, request, skill_label=label, neighbourhood=neighbourhood),
                due=_due(claim, request, now),
            )
            for claim, request, label, neighbourhood in rows
        ]


def _due(claim: Claim, request: HelpRequest, now: datetime) -> bool:
    """Whether the service's time has come: its slot began, or the bot asked if it was done."""
    if request.status is not RequestStatus.OPEN and request.status is not RequestStatus.FULL:
        return True
    if request.when_kind == "slot" and request.starts_at is not None:
        return request.starts_at <= now
    asked = claim.ask_done_at is not None and claim.ask_done_at <= now
    return asked or claim.nudges > 0
