"""Relays: anyone reports a person who seems isolated; referents and coordinators follow up.

A report becomes a *case* (table `signals`). It is told, through the outbox and in the same
transaction, to the referents of its neighbourhood (all referents when none is attached to it)
and to every coordinator — never to volunteers: the person's situation is not an offer. One of
them takes it ("I'll follow up": one conditional UPDATE, one winner), and whoever follows it up
closes it with an outcome.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from functools import partial

from sqlalchemy import ColumnElement, exists, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.vocabulary import Role, SignalOutcome, SignalStatus
from bot.geo import valid_point
from bot.messages.base import Reader
from bot.messages.cases import CaseClosed, CaseFollowedUp, CaseReported, CaseTaken, CaseView
from bot.messages.messenger import Messenger
from bot.pseudonyms import Pseudonyms
from bot.services.base import Notifying, no_wake
from bot.text import one_line, several_lines
from storage import audit, limits, neighbourhoods
from storage import members as member_store
from storage.database import Database
from storage.models import Member, MemberRole, Neighbourhood, Signal
from storage.writes import changed, created, erased, view_of

MAX_DESCRIPTION_LENGTH = 300
MAX_PLACE_LENGTH = 256
MAX_WORRY_LENGTH = 1000
# What a case keeps of the person once purged: nothing that says who, where or why.
ERASED_CASE = {
    "description": "—",
    "place": None,
    "latitude": None,
    "longitude": None,
    "worry": "—",
    "reporter_phone": None,
}
# A relay may report several people, not flood the referents.
MAX_REPORTS_PER_DAY = 5
REPORT_WINDOW = timedelta(days=1)


@dataclass(frozen=True)
class SignalDraft:
    """What a relay tells about a person who seems isolated."""

    description: str
    worry: str
    place: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    neighbourhood_id: int | None = None  # None: the nearest, if the place is known
    reporter_phone: str | None = None


class ReportRefusal(StrEnum):
    """Why a report was not recorded."""

    INVALID = "invalid"  # a required answer is missing or too long
    TOO_MANY = "too_many"  # MAX_REPORTS_PER_DAY reached
    UNKNOWN = "unknown"  # the reporter is not a known member (never talked to the bot)


@dataclass(frozen=True)
class Reported:
    """A case recorded, its neighbourhood, and how many people were told."""

    signal_id: int
    neighbourhood: str | None
    notified: int


class CaseOutcome(StrEnum):
    """How "I'll follow up" or a closing ended."""

    DONE = "done"
    ALREADY_YOURS = "already_yours"
    TAKEN = "taken"  # someone else follows it up
    CLOSED = "closed"  # the case is already closed
    NOT_ALLOWED = "not_allowed"  # not a referent or coordinator (or not the one following up)
    NOT_FOUND = "not_found"


@dataclass(frozen=True)
class CaseResult:
    """The result of a tap on a case, with who follows it up when that matters."""

    outcome: CaseOutcome
    assignee: str | None = None


def _told_to_referent(referent: Member) -> ColumnElement[bool]:
    """The cases `recipients` sends a referent: their neighbourhood's, the ones of neighbourhoods
    without a referent of their own or of no neighbourhood, and those they follow up.

    Other referents' cases (and the reporters' phones in them) are not theirs to read.
    """
    local_referent = (
        select(MemberRole.member_id)
        .join(Member, Member.id == MemberRole.member_id)
        .where(
            MemberRole.role == Role.REFERENT,
            Member.neighbourhood_id == Signal.neighbourhood_id,
            Member.telegram_id.is_not(None),
        )
        .correlate(Signal)
    )
    return or_(
        Signal.neighbourhood_id.is_(None),
        Signal.neighbourhood_id == referent.neighbourhood_id,
        ~exists(local_referent),
        Signal.assigned_to_member_id == referent.id,
    )


# A step of a referent or coordinator on a case: the actor and whether they coordinate.
CaseStep = Callable[[AsyncSession, int, Member, bool], Awaitable["CaseResult"]]


class SignalService(Notifying):
    """Record reports, tell the right people, assign and close cases."""

    def __init__(
        self,
        database: Database,
        messenger: Messenger,
        *,
        pseudonyms: Pseudonyms,
        after_commit: Callable[[], None] = no_wake,
    ) -> None:
        super().__init__(database, messenger, after_commit=after_commit)
        self._pseudonyms = pseudonyms

    # --- reporting -------------------------------------------------------------------------

    async def report(
        self, reporter_telegram_id: int, draft: SignalDraft
    ) -> Reported | ReportRefusal:
        """Record the case; queue its notice to the neighbourhood's referents and coordinators."""
        description = one_line(draft.description)
        worry = several_lines(draft.worry)
        if not description or len(description) > MAX_DESCRIPTION_LENGTH:
            return ReportRefusal.INVALID
        if not worry or len(worry) > MAX_WORRY_LENGTH:
            return ReportRefusal.INVALID
        located = draft.latitude is not None and draft.longitude is not None
        if located and not valid_point(draft.latitude or 0.0, draft.longitude or 0.0):
            return ReportRefusal.INVALID
        now = self._clock()
        async with self._transaction() as session:
            reporter = await member_store.get_by_telegram_id(session, reporter_telegram_id)
            if reporter is None:
                return ReportRefusal.UNKNOWN
            # Counted under a pseudonym that /forget does not erase: forgetting oneself must
            # not reset the day's limit (the review sent 10 reports to each referent that way).
            mark = self._pseudonyms.of(reporter_telegram_id)
            recent = await limits.count_since(session, limits.REPORT, mark, now - REPORT_WINDOW)
            if recent >= MAX_REPORTS_PER_DAY:
                return ReportRefusal.TOO_MANY
            await limits.add(session, limits.REPORT, mark, now + REPORT_WINDOW)
            neighbourhood_id = await self._neighbourhood(session, draft)
            signal = Signal(
                reporter_member_id=reporter.id,
                neighbourhood_id=neighbourhood_id,
                description=description,
                place=(draft.place or "").strip()[:MAX_PLACE_LENGTH] or None,
                latitude=draft.latitude if located else None,
                longitude=draft.longitude if located else None,
                worry=worry,
                reporter_phone=draft.reporter_phone,
                status=SignalStatus.OPEN,
                created_at=now,
            )
            await created(session, signal, "signal", "report", by=reporter.id, state=signal.status)
            view = await self._view(session, signal.id)
            assert view is not None
            recipients = await self.recipients(session, neighbourhood_id, exclude={reporter.id})
            await self._messenger.send(session, CaseReported(view), *map(Reader.of, recipients))
            return Reported(signal.id, view.neighbourhood, len(recipients))

    @staticmethod
    async def _neighbourhood(session: AsyncSession, draft: SignalDraft) -> int | None:
        """The chosen neighbourhood if it exists, else the nearest one (within twice its radius)."""
        if draft.neighbourhood_id is not None:
            chosen = await session.get(Neighbourhood, draft.neighbourhood_id)
            if chosen is not None and chosen.archived_at is None:
                return chosen.id
        if draft.latitude is None or draft.longitude is None:
            return None
        return await neighbourhoods.nearest(session, draft.latitude, draft.longitude)

    @staticmethod
    async def recipients(
        session: AsyncSession, neighbourhood_id: int | None, *, exclude: Iterable[int] = ()
    ) -> list[Member]:
        """The neighbourhood's referents (all referents if none is attached to it) and coordinators.

        Volunteers are never among them, unless they are also a referent or a coordinator.
        """
        rows = await member_store.members_with_any_role(session, [Role.REFERENT, Role.COORDINATOR])
        referents = [member for member, roles in rows if Role.REFERENT in roles]
        local = [
            member
            for member in referents
            if neighbourhood_id is not None and member.neighbourhood_id == neighbourhood_id
        ]
        chosen = {member.id: member for member in (local or referents)}
        for member, roles in rows:
            if Role.COORDINATOR in roles:
                chosen[member.id] = member
        skipped = set(exclude)
        return [
            member
            for member_id, member in sorted(chosen.items())
            if member_id not in skipped and member.telegram_id is not None
        ]

    # --- following up ----------------------------------------------------------------------

    async def _staff(self, session: AsyncSession, telegram_id: int) -> tuple[Member, bool] | None:
        """The actor and whether they coordinate, if they are a referent or a coordinator."""
        actor = await member_store.get_by_telegram_id(session, telegram_id)
        if actor is None:
            return None
        roles = await member_store.roles_of(session, actor.id)
        if not roles & {Role.REFERENT, Role.COORDINATOR}:
            return None
        return actor, Role.COORDINATOR in roles

    async def _on_case(
        self, session: AsyncSession, telegram_id: int, signal_id: int
    ) -> tuple[Member, bool] | None:
        """The staff member and whether they coordinate, if they may act on this case."""
        staff = await self._staff(session, telegram_id)
        if staff is None:
            return None
        actor, coordinates = staff
        if not coordinates and not await self._sees(session, actor, signal_id):
            return None
        return staff

    @staticmethod
    async def _sees(session: AsyncSession, referent: Member, signal_id: int) -> bool:
        """Whether this referent was told of this case (a coordinator sees them all)."""
        found = await session.execute(
            select(Signal.id).where(Signal.id == signal_id, _told_to_referent(referent))
        )
        return found.first() is not None

    async def assign(self, actor_telegram_id: int, signal_id: int) -> CaseResult:
        """ "I'll follow up": the first referent or coordinator to tap takes the case."""
        return await self._case_step(actor_telegram_id, signal_id, self._assign)

    async def _assign(
        self, session: AsyncSession, signal_id: int, actor: Member, _coordinates: bool
    ) -> CaseResult:
        now = self._clock()
        taken = await changed(
            session,
            update(Signal)
            .where(Signal.id == signal_id, Signal.status == SignalStatus.OPEN)
            .values(
                status=SignalStatus.ASSIGNED,
                assigned_to_member_id=actor.id,
                assigned_at=now,
            )
            .returning(Signal.id),
        )
        view = await self._view(session, signal_id)
        if view is None or taken is None:
            already = CaseOutcome.ALREADY_YOURS if view and view.assignee_id == actor.id else None
            return _unchanged(view, otherwise=already or CaseOutcome.TAKEN)
        await audit.record(
            session,
            "signal",
            signal_id,
            "assign",
            by=actor.id,
            moved=(SignalStatus.OPEN, SignalStatus.ASSIGNED),
        )
        signal = await session.get(Signal, signal_id)
        assert signal is not None
        others = await self.recipients(
            session, signal.neighbourhood_id, exclude={actor.id, signal.reporter_member_id or 0}
        )
        notice = CaseTaken(signal_id, actor.display_name)
        await self._messenger.send(session, notice, *map(Reader.of, others))
        reporter = await member_store.by_id(session, signal.reporter_member_id)
        await self._messenger.send(session, CaseFollowedUp(signal_id), Reader.of(reporter))
        return CaseResult(CaseOutcome.DONE, actor.display_name)

    async def close(
        self, actor_telegram_id: int, signal_id: int, outcome: SignalOutcome
    ) -> CaseResult:
        """Close the case with its outcome: by whoever follows it up, or a coordinator.

        An open case (nobody follows it up yet) may be closed by any referent or coordinator,
        e.g. when they already know the person.
        """
        step = partial(self._close, outcome=outcome)
        return await self._case_step(actor_telegram_id, signal_id, step)

    async def _close(
        self,
        session: AsyncSession,
        signal_id: int,
        actor: Member,
        coordinates: bool,
        *,
        outcome: SignalOutcome,
    ) -> CaseResult:
        now = self._clock()
        conditions = [
            Signal.id == signal_id,
            Signal.status.in_([SignalStatus.OPEN, SignalStatus.ASSIGNED]),
        ]
        if not coordinates:
            # In the UPDATE itself: a case taken meanwhile by someone else stays theirs.
            conditions.append(
                or_(
                    Signal.assigned_to_member_id.is_(None),
                    Signal.assigned_to_member_id == actor.id,
                )
            )
        closed = await changed(
            session,
            update(Signal)
            .where(*conditions)
            .values(status=SignalStatus.CLOSED, outcome=outcome, closed_at=now)
            .returning(Signal.assigned_to_member_id),
        )
        view = await self._view(session, signal_id)
        if view is None or closed is None:
            return _unchanged(view, otherwise=CaseOutcome.NOT_ALLOWED)
        await audit.record(
            session,
            "signal",
            signal_id,
            "close",
            by=actor.id,
            moved=(None, SignalStatus.CLOSED),
            detail={"outcome": outcome.value},
        )
        assignee_id = closed[0]
        if assignee_id is not None and assignee_id != actor.id:
            assignee = await member_store.by_id(session, assignee_id)
            notice = CaseClosed(signal_id, actor.display_name, outcome)
            await self._messenger.send(session, notice, Reader.of(assignee))
        return CaseResult(CaseOutcome.DONE, view.assignee_name)

    async def _case_step(
        self, actor_telegram_id: int, signal_id: int, step: CaseStep
    ) -> CaseResult:
        """Run a step on a case in its transaction, if the actor may act on it."""
        async with self._transaction() as session:
            staff = await self._on_case(session, actor_telegram_id, signal_id)
            if staff is None:
                return CaseResult(CaseOutcome.NOT_ALLOWED)
            actor, coordinates = staff
            return await step(session, signal_id, actor, coordinates)

    # --- retention and erasure --------------------------------------------------------------

    async def purge(self, retention_days: float) -> int:
        """Erase who, where and why of cases closed more than `retention_days` ago.

        The case row stays (status, outcome, dates, neighbourhood) for the town's figures.
        Call it from the retention sweep, next to the beneficiaries' purge.
        """
        now = self._clock()
        cutoff = now - timedelta(days=retention_days)
        async with self._transaction() as session:
            closed_long_ago = [
                Signal.status == SignalStatus.CLOSED,
                Signal.closed_at <= cutoff,
                Signal.purged_at.is_(None),
            ]
            values = {**ERASED_CASE, "purged_at": now}
            return await erased(session, Signal, "signal", closed_long_ago, values)

    # --- reading ---------------------------------------------------------------------------

    async def view(self, actor_telegram_id: int, signal_id: int) -> CaseView | CaseOutcome:
        """One case, for a referent or a coordinator."""
        async with self._db.read() as session:
            if await self._staff(session, actor_telegram_id) is None:
                return CaseOutcome.NOT_ALLOWED
            view = await self._view(session, signal_id)
            return view if view is not None else CaseOutcome.NOT_FOUND

    async def open_cases(
        self, actor_telegram_id: int, limit: int = 20
    ) -> list[CaseView] | CaseOutcome:
        """Cases not yet closed, oldest first: waiting ones, and those someone follows up."""
        async with self._db.read() as session:
            staff = await self._staff(session, actor_telegram_id)
            if staff is None:
                return CaseOutcome.NOT_ALLOWED
            actor, coordinates = staff
            wanted: list[ColumnElement[bool]] = [
                Signal.status.in_([SignalStatus.OPEN, SignalStatus.ASSIGNED])
            ]
            if not coordinates:
                wanted.append(_told_to_referent(actor))
            ids = (
                await session.execute(
                    select(Signal.id)
                    .where(*wanted)
                    .order_by(Signal.created_at, Signal.id)
                    .limit(limit)
                )
            ).scalars()
            views = [await self._view(session, signal_id) for signal_id in list(ids)]
            return [view for view in views if view is not None]

    @staticmethod
    async def _view(session: AsyncSession, signal_id: int) -> CaseView | None:
        signal = await session.get(Signal, signal_id, populate_existing=True)
        if signal is None:
            return None
        reporter = await member_store.by_id(session, signal.reporter_member_id)
        assignee = await member_store.by_id(session, signal.assigned_to_member_id)
        neighbourhood = (
            await session.get(Neighbourhood, signal.neighbourhood_id)
            if signal.neighbourhood_id
            else None
        )
        return view_of(
            CaseView,
            signal,
            neighbourhood=neighbourhood.name if neighbourhood else None,
            reporter_name=reporter.display_name if reporter else None,
            reporter_username=reporter.username if reporter else None,
            reporter_telegram_id=reporter.telegram_id if reporter else None,
            assignee_id=signal.assigned_to_member_id,
            assignee_name=assignee.display_name if assignee else None,
        )


async def erase_reporter(session: AsyncSession, member_id: int) -> None:
    """For /forget, in its transaction: the phone a person left with their reports goes.

    What they reported (about someone else) stays for the referents following it up; the row
    keeps pointing at the anonymised member.
    """
    await session.execute(
        update(Signal)
        .where(Signal.reporter_member_id == member_id)
        .values(reporter_phone=None)
        .execution_options(synchronize_session=False)
    )


def _unchanged(view: CaseView | None, *, otherwise: CaseOutcome) -> CaseResult:
    """Why a take or a close changed nothing: the case is gone, closed already, or `otherwise`."""
    if view is None:
        return CaseResult(CaseOutcome.NOT_FOUND)
    if view.status is SignalStatus.CLOSED:
        return CaseResult(CaseOutcome.CLOSED, view.assignee_name)
    return CaseResult(otherwise, view.assignee_name)
