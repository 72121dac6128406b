"""Claiming a place, and the claimer's own steps after it: release, could not, not yet, concern.

Places are taken with one conditional UPDATE — never read-then-write — and a unique
(request, volunteer) pair: at most `places_needed` claims, one per volunteer, on every backend.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache, partial
from typing import Any

from sqlalchemy import Select, and_, bindparam, case, func, or_, select, update
from sqlalchemy.exc import IntegrityError, MultipleResultsFound
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.domain.lifecycle import FINISHED_REQUESTS, HOLDING_PLACE
from bot.domain.vocabulary import ClaimStatus, RequestStatus, VolunteerStatus
from bot.messages.base import Reader
from bot.messages.claims import ClaimDetails, ClaimTaken, ConcernRaised, Contact, Person
from bot.messages.offers import RequestView
from bot.messages.visits import AskVisitPlan
from bot.services.outcomes import ClaimOutcome, StepOutcome
from bot.services.requests.base import (
    GIVEN_BACK,
    RELEASE_WINDOW,
    GiveBack,
    RequestsBase,
    request_still,
)
from bot.services.requests.drafts import ClaimResult
from storage import audit
from storage import members as member_store
from storage.models import (
    Beneficiary,
    Claim,
    HelpRequest,
    Member,
    Offer,
    Skill,
    VolunteerSkill,
)
from storage.offers import PERSONAL
from storage.writes import changed

# The offer tapped: the volunteer's own in their private chat, or the group's copy in the group
# (a neighbourhood group is the neighbourhood: no radius there); and the tapper's earlier claim.
# Built once: an alias proxies every column of its table, which cost more than the query's read.
_TAPPED_OFFER = aliased(Offer)
_EXISTING_CLAIM = aliased(Claim)

# How many finished requests a process remembers (a set of ints: ~0.5 MB at most); past it the
# memory starts again, and a tap on a forgotten one is answered from a read, as before.
FINISHED_REMEMBERED = 10_000


@dataclass(frozen=True)
class _MayClaim:
    """A volunteer allowed to take this request, as read at the start of a claim."""

    volunteer: Member
    request: HelpRequest
    existing: Claim | None  # a released claim of theirs, taken up again if they win a place


@dataclass(frozen=True)
class _ClaimState:
    """What the claim's checks read of the request and the tapper, as plain values."""

    request_status: RequestStatus
    referent_id: int
    member_id: int | None
    volunteer_status: VolunteerStatus | None
    claim_id: int | None
    claim_status: ClaimStatus | None
    holds_skill: bool
    verified: bool
    needs_verification: bool
    offered: bool
    releases: int

    @classmethod
    def of_rows(cls, rows: Sequence[Any]) -> _ClaimState | None:
        """From the lean statement's rows (None: no such request)."""
        if not rows:
            return None
        if len(rows) > 1:  # as one_or_none() for the write's check
            raise MultipleResultsFound("the claim's checks found several rows")
        return cls.of_row(rows[0])

    @classmethod
    def of_row(cls, row: Any) -> _ClaimState:
        """From a row of either shape of `_claim_check_statement`, by column name."""
        return cls(
            request_status=row.request_status,
            referent_id=row.referent_id,
            member_id=row.member_id,
            volunteer_status=row.volunteer_status,
            claim_id=row.claim_id,
            claim_status=row.claim_status,
            holds_skill=bool(row.holds_skill),
            verified=bool(row.verified),
            needs_verification=bool(row.needs_verification),
            offered=bool(row.offered),
            releases=row.releases,
        )


def _check_parameters(
    telegram_id: int, chat_id: int, request_id: int, now: datetime
) -> dict[str, Any]:
    """The claim check statement's parameters."""
    return {
        "telegram_id": telegram_id,
        "chat_id": chat_id,
        "released_since": now - RELEASE_WINDOW,
        "request_id": request_id,
    }


class Claims(RequestsBase):
    """A volunteer takes a place, then gives news of it."""

    async def claim(
        self, volunteer_telegram_id: int, request_id: int, *, in_chat: int | None = None
    ) -> ClaimResult:
        """Take one place, if one is left; the winner gets the private details.

        `in_chat` is the chat of the tapped offer: the volunteer's private chat (the default) or
        a neighbourhood group. A claim goes through an offer of this request in that chat — the
        volunteer's own, or the group's — never through a request id sent from anywhere.
        """
        chat_id = volunteer_telegram_id if in_chat is None else in_chat
        if request_id in self._finished_requests:
            # No state leaves a finished request: no need to ask the database again.
            return ClaimResult(ClaimOutcome.CLOSED)
        try:
            return await self._claim(volunteer_telegram_id, request_id, chat_id)
        except IntegrityError:
            # The same volunteer's concurrent second tap lost the unique (request, volunteer)
            # race: its transaction, place included, was rolled back.
            return ClaimResult(ClaimOutcome.ALREADY_YOURS)

    async def _claim(
        self, volunteer_telegram_id: int, request_id: int, chat_id: int
    ) -> ClaimResult:
        # Most taps of a crowd come after the last place went: those are answered from a read,
        # without waiting for the write lock. A read saying "open" proves nothing (someone may
        # take the last place meanwhile), so the write below checks everything again.
        now = self._clock()
        parameters = _check_parameters(volunteer_telegram_id, chat_id, request_id, now)
        # Plain columns, no ORM objects and no session: nothing read here serves the write.
        rows = await self._db.read_rows(_claim_check_statement(lean=True), **parameters)
        state = _ClaimState.of_rows(rows)
        if state is None:
            return ClaimResult(ClaimOutcome.NOT_FOUND)
        refused = self._judge(request_id, state)
        if refused is not None:
            return refused
        if state.request_status is RequestStatus.FULL:
            return ClaimResult(ClaimOutcome.FULL)
        if state.request_status is not RequestStatus.OPEN:
            return ClaimResult(ClaimOutcome.CLOSED)
        async with self._transaction() as session:
            checked = await self._claim_checks(
                session, volunteer_telegram_id, request_id, chat_id, now
            )
            if not isinstance(checked, _MayClaim):
                return checked
            volunteer, request, existing = checked.volunteer, checked.request, checked.existing
            taken = await changed(
                session,
                update(HelpRequest)
                .where(
                    request_still(request_id, RequestStatus.OPEN),
                    HelpRequest.places_taken < HelpRequest.places_needed,
                )
                .values(
                    places_taken=HelpRequest.places_taken + 1,
                    status=case(
                        (
                            HelpRequest.places_taken + 1 >= HelpRequest.places_needed,
                            RequestStatus.FULL.value,
                        ),
                        else_=RequestStatus.OPEN.value,
                    ),
                    updated_at=now,
                )
                .returning(HelpRequest.places_taken, HelpRequest.places_needed),
            )
            if taken is None:
                await session.refresh(request)
                if request.status in {RequestStatus.OPEN, RequestStatus.FULL}:
                    return ClaimResult(ClaimOutcome.FULL)
                return ClaimResult(ClaimOutcome.CLOSED)
            places_taken, places_needed = taken
            claim = await self._take_place(session, volunteer, request_id, existing, now)
            await session.refresh(request)
            self._plan_follow_up(claim, request, now)
            if places_taken >= places_needed:
                await audit.record(
                    session,
                    "request",
                    request_id,
                    "full",
                    by=volunteer.id,
                    moved=(RequestStatus.OPEN, RequestStatus.FULL),
                )
                request.next_wave_at = None
                request.escalate_at = None
            view = await self._view(session, request_id)
            await self._send_details(session, view, request, claim, volunteer)
            recurring = request.series_id is not None
            notice = ClaimTaken(view, _contact(volunteer), recurring=recurring, claim_id=claim.id)
            await self._tell_referent(session, view, notice)
            await self._refresh_copies(session, view)
            return ClaimResult(ClaimOutcome.CLAIMED, places_needed - places_taken, claim.id)

    async def _take_place(
        self,
        session: AsyncSession,
        volunteer: Member,
        request_id: int,
        existing: Claim | None,
        now: datetime,
    ) -> Claim:
        """The volunteer's claim on the place just taken: a new one, or their released one."""
        if existing is not None:
            reactivated = await changed(
                session,
                update(Claim)
                .where(Claim.id == existing.id, Claim.status == ClaimStatus.RELEASED)
                .values(
                    status=ClaimStatus.ACTIVE,
                    claimed_at=now,
                    released_at=None,
                    nudges=0,
                    visit_plan=None,  # asked again: the earlier plan was given up
                    visit_planned_at=None,
                )
                .returning(Claim.id),
            )
            if reactivated is None:
                raise IntegrityError("claim", {}, Exception("claim changed concurrently"))
            claim = existing
        else:
            claim = Claim(request_id=request_id, volunteer_id=volunteer.id, claimed_at=now)
            session.add(claim)
            await session.flush()
        await audit.record(
            session,
            "claim",
            claim.id,
            "claim",
            by=volunteer.id,
            moved=(None, ClaimStatus.ACTIVE),
            detail={"request_id": request_id},
        )
        return claim

    async def _claim_checks(
        self,
        session: AsyncSession,
        volunteer_telegram_id: int,
        request_id: int,
        chat_id: int,
        now: datetime,
    ) -> ClaimResult | _MayClaim:
        """What stops this volunteer from claiming this request, or what the claim starts from
        (in the write transaction: its objects are the write's)."""
        row = (
            await session.execute(
                _claim_check_statement(lean=False),
                _check_parameters(volunteer_telegram_id, chat_id, request_id, now),
            )
        ).one_or_none()
        if row is None:
            return ClaimResult(ClaimOutcome.NOT_FOUND)
        request, volunteer, claim = row[0], row[1], row[2]
        state = _ClaimState.of_row(row)
        refused = self._judge(request_id, state)
        if refused is not None:
            return refused
        return _MayClaim(volunteer, request, claim)

    def _judge(self, request_id: int, state: _ClaimState) -> ClaimResult | None:
        """Why this tap cannot take a place (None: it may, if one is left). One set of rules for
        the read before the write and for the write's own check."""
        if state.request_status in FINISHED_REQUESTS:
            # Over for everyone, whoever taps: the same answer the memory gives next time.
            # First, before the offer's check: a finished request's offers are pruned after a
            # few days (retention), and a tap on an old copy is told the request is over, not
            # that it was never offered.
            if len(self._finished_requests) >= FINISHED_REMEMBERED:
                self._finished_requests.clear()
            self._finished_requests.add(request_id)
            return ClaimResult(ClaimOutcome.CLOSED)
        may_take = (
            state.member_id is not None
            and state.volunteer_status is VolunteerStatus.APPROVED
            and state.member_id != state.referent_id  # never one's own request
            and state.holds_skill
            and (state.verified or not state.needs_verification)
        )
        if not may_take:
            return ClaimResult(ClaimOutcome.NOT_ALLOWED)
        if state.claim_id is not None and state.claim_status in HOLDING_PLACE:
            return ClaimResult(ClaimOutcome.ALREADY_YOURS, claim_id=state.claim_id)
        if not state.offered:
            return ClaimResult(ClaimOutcome.NOT_OFFERED)
        if state.releases >= self._settings.releases_per_day:
            return ClaimResult(ClaimOutcome.RELEASING_TOO_OFTEN)
        return None

    def _plan_follow_up(self, claim: Claim, request: HelpRequest, now: datetime) -> None:
        """Reminder before the time; "is it done?" after it (or after the claim, for asap)."""
        settings = self._settings
        if request.starts_at is not None and request.when_kind == "slot":
            reminder = request.starts_at - timedelta(minutes=settings.reminder_before_minutes)
            claim.remind_at = reminder if reminder > now else None
            claim.ask_done_at = request.starts_at + timedelta(
                minutes=settings.ask_done_after_minutes
            )
        else:
            claim.remind_at = None
            claim.ask_done_at = now + timedelta(
                minutes=max(settings.asap_ask_done_after_minutes, settings.ask_done_after_minutes)
            )

    async def _send_details(
        self,
        session: AsyncSession,
        view: RequestView,
        request: HelpRequest,
        claim: Claim,
        volunteer: Member,
    ) -> None:
        """The private details, only to the claimer, with their follow-up buttons."""
        beneficiary = (
            await session.get(Beneficiary, request.beneficiary_id)
            if request.beneficiary_id
            else None
        )
        person = None
        if beneficiary is not None and beneficiary.purged_at is None:
            person = Person(
                beneficiary.name, beneficiary.phone, beneficiary.address, beneficiary.access_notes
            )
        referent = await self._referent(session, request)
        if (
            referent is not None
            and beneficiary is not None
            and beneficiary.member_id == referent.id
        ):
            referent = None  # they asked for themselves (/ask): their details are the person's
        notice = ClaimDetails(
            view, claim.id, person, _referent_contact(referent) if referent else None
        )
        rows = await self._messenger.send(session, notice, Reader.of(volunteer))
        # Remembered so the details can be removed from the chat once the request is over.
        claim.details_outbox_id = rows[0].id if rows else None
        if request.when_kind == "asap":
            # "As soon as possible" says nothing of when: the referent is told the claimer's plan.
            ask = AskVisitPlan(claim.id, request.id)
            await self._messenger.send(session, ask, Reader.of(volunteer))

    # --- the claimer's steps -----------------------------------------------------------------

    async def release(self, volunteer_telegram_id: int, claim_id: int) -> StepOutcome:
        """Give the place back: the request reopens, copies regain their button, referent told."""
        step = partial(self._end_claim, why=GiveBack.RELEASED)
        return await self._claimer_step(volunteer_telegram_id, claim_id, step)

    async def could_not(self, volunteer_telegram_id: int, claim_id: int) -> StepOutcome:
        """ "Could not do it": the place reopens like a release."""
        step = partial(self._end_claim, why=GiveBack.COULD_NOT)
        return await self._claimer_step(volunteer_telegram_id, claim_id, step)

    async def _end_claim(
        self, session: AsyncSession, claim: Claim, volunteer: Member, *, why: GiveBack
    ) -> StepOutcome:
        if not await self._give_back(session, claim.id, volunteer, why):
            return StepOutcome.STALE
        return StepOutcome.DONE

    async def record_minutes(
        self, volunteer_telegram_id: int, claim_id: int, minutes: int
    ) -> StepOutcome:
        """How long the service took, for the town's "hours given" (after Done)."""
        if not 1 <= minutes <= 24 * 60:
            return StepOutcome.NOT_FOUND

        async def record(session: AsyncSession, claim: Claim, volunteer: Member) -> StepOutcome:
            if claim.status not in {ClaimStatus.DONE, ClaimStatus.CONFIRMED}:
                return StepOutcome.STALE
            claim.minutes_spent = minutes
            return StepOutcome.DONE

        return await self._claimer_step(volunteer_telegram_id, claim_id, record)

    async def not_yet(self, volunteer_telegram_id: int, claim_id: int) -> StepOutcome:
        """ "Not yet": ask again later."""
        return await self._claimer_step(volunteer_telegram_id, claim_id, self._ask_later)

    async def _ask_later(
        self, session: AsyncSession, claim: Claim, volunteer: Member
    ) -> StepOutcome:
        if claim.status is not ClaimStatus.ACTIVE:
            return StepOutcome.STALE
        claim.ask_done_at = self._clock() + timedelta(hours=self._settings.nudge_after_hours)
        return StepOutcome.DONE

    async def asks_again_at(self, volunteer_telegram_id: int, claim_id: int) -> datetime | None:
        """When "Is it done?" comes back to the claimer (None: it will not, or not theirs)."""
        async with self._db.read() as session:
            claim = await session.get(Claim, claim_id)
            volunteer = await member_store.get_by_telegram_id(session, volunteer_telegram_id)
            if claim is None or volunteer is None or claim.volunteer_id != volunteer.id:
                return None
            return claim.ask_done_at

    async def may_report_concern(self, volunteer_telegram_id: int, claim_id: int) -> StepOutcome:
        """Whether "Report a concern" may ask its question now (DONE), before any sentence."""

        async def check(session: AsyncSession, claim: Claim, volunteer: Member) -> StepOutcome:
            if claim.status not in HOLDING_PLACE:
                return StepOutcome.STALE
            return StepOutcome.DONE if claim.concern_at is None else StepOutcome.ALREADY_DONE

        async with self._db.read() as session:
            return await self._claimer_check(session, volunteer_telegram_id, claim_id, check)

    async def concern(
        self, volunteer_telegram_id: int, claim_id: int, sentence: str
    ) -> StepOutcome:
        """ "Report a concern", in the claimer's words: the referent and every coordinator are
        alerted, once per claim. The sentence goes through the outbox and is never stored."""
        step = partial(self._alert, sentence=sentence)
        return await self._claimer_step(volunteer_telegram_id, claim_id, step)

    async def _alert(
        self, session: AsyncSession, claim: Claim, volunteer: Member, *, sentence: str
    ) -> StepOutcome:
        # One conditional UPDATE: five taps (at once or not) make one alert, not five.
        first = await changed(
            session,
            update(Claim)
            .where(
                Claim.id == claim.id,
                Claim.status.in_(HOLDING_PLACE),
                Claim.concern_at.is_(None),
            )
            .values(concern_at=self._clock())
            .returning(Claim.id),
        )
        if first is None:
            await session.refresh(claim)
            return StepOutcome.ALREADY_DONE if claim.status in HOLDING_PLACE else StepOutcome.STALE
        view = await self._view(session, claim.request_id)
        await audit.record(
            session, "claim", claim.id, "concern", by=volunteer.id, detail={"request_id": view.id}
        )
        notice = ConcernRaised(view.id, view.skill_label, _contact(volunteer), sentence)
        people = await self._referent_and_coordinators(session, view)
        await self._messenger.send(session, notice, *map(Reader.of, people))
        return StepOutcome.DONE

    async def active_claims_of(self, volunteer_telegram_id: int) -> list[int]:
        """The claims a volunteer is holding now (to release them before /forget)."""
        async with self._db.read() as session:
            volunteer = await member_store.get_by_telegram_id(session, volunteer_telegram_id)
            if volunteer is None:
                return []
            found = await session.execute(
                select(Claim.id).where(
                    Claim.volunteer_id == volunteer.id, Claim.status == ClaimStatus.ACTIVE
                )
            )
            return list(found.scalars())


def _contact(member: Member) -> Contact:
    """A member as someone to call."""
    return Contact(member.display_name, member.phone)


def _referent_contact(member: Member) -> Contact:
    """The referent as the claimer sees them: their phone only if they chose to show it."""
    return Contact(member.display_name, member.phone if member.phone_shared else None)


@cache
def _claim_check_statement(lean: bool) -> Select[Any]:
    """The claim's checks in one statement, built once per shape: every tap of a crowd runs
    it, and building it (joins, comparisons, its cache key's parts) cost more than compiling
    it, which SQLAlchemy caches anyway. Parameters: `_check_parameters`. `lean` (the read
    before the write) selects plain columns only; otherwise the request, the member and their
    claim come first, loaded as objects for the write."""
    offer, existing = _TAPPED_OFFER, _EXISTING_CLAIM
    recent_releases = (
        select(func.count(Claim.id))
        .where(
            Claim.volunteer_id == Member.id,
            Claim.status.in_(GIVEN_BACK),
            Claim.released_at > bindparam("released_since"),
        )
        .correlate(Member)
        .scalar_subquery()
    )
    # Named as `_ClaimState`'s fields: both shapes are judged from these.
    state = (
        HelpRequest.status.label("request_status"),
        HelpRequest.referent_id.label("referent_id"),
        Member.id.label("member_id"),
        Member.volunteer_status.label("volunteer_status"),
        existing.id.label("claim_id"),
        existing.status.label("claim_status"),
        VolunteerSkill.member_id.is_not(None).label("holds_skill"),
        VolunteerSkill.verified_at.is_not(None).label("verified"),
        Skill.requires_verification.label("needs_verification"),
        offer.id.is_not(None).label("offered"),
        recent_releases.label("releases"),
    )
    selected = select(*state) if lean else select(HelpRequest, Member, existing, *state)
    return (
        selected.select_from(HelpRequest)
        .outerjoin(Member, Member.telegram_id == bindparam("telegram_id"))
        .outerjoin(
            VolunteerSkill,
            and_(
                VolunteerSkill.member_id == Member.id,
                VolunteerSkill.skill_id == HelpRequest.skill_id,
            ),
        )
        .outerjoin(Skill, Skill.id == HelpRequest.skill_id)
        .outerjoin(
            existing,
            and_(existing.request_id == HelpRequest.id, existing.volunteer_id == Member.id),
        )
        .outerjoin(
            offer,
            and_(
                offer.request_id == HelpRequest.id,
                offer.chat_id == bindparam("chat_id"),
                or_(
                    and_(offer.kind.in_(PERSONAL), offer.member_id == Member.id),
                    offer.kind == "group",
                ),
            ),
        )
        .where(HelpRequest.id == bindparam("request_id"))
    )
