"""What every stage of the request lifecycle shares: the request's public view, its referent,
the edits of its offer copies, and the one way a claimer's place goes back to the request."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import ColumnElement, and_, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.vocabulary import ClaimStatus, RequestStatus, Role
from bot.geo import distance_km
from bot.messages.base import Notice, Reader
from bot.messages.claims import (
    ClaimGivenBack,
    DetailsRemoved,
    ReleasedForSilence,
    ReleaseLimitReached,
    YourClaimReleased,
)
from bot.messages.messenger import Messenger
from bot.messages.offers import OfferUpdate, RequestView
from bot.messages.standing import ClaimWithdrawn
from bot.services.base import Configured, no_wake
from bot.services.outcomes import StepOutcome
from bot.settings import Settings
from storage import audit, offers, outbox
from storage import members as member_store
from storage.database import Database
from storage.models import (
    Claim,
    HelpRequest,
    Member,
    MemberRole,
    Neighbourhood,
    Offer,
    OutboxMessage,
    OutboxStatus,
    Skill,
)
from storage.writes import changed, view_of

# A claim that no longer waits for its volunteer: no reminder, no "is it done?".
CLAIM_TIMERS_OFF = {"remind_at": None, "ask_done_at": None}


def request_ends(status: RequestStatus, now: datetime) -> dict[str, object]:
    """The columns of a request that ends (cancelled, expired): closed now, no timer left."""
    return {
        "status": status,
        "closed_at": now,
        "next_wave_at": None,
        "escalate_at": None,
        "updated_at": now,
    }


# A request in these states may have places taken, and so one given back.
HOLDING_REQUEST = (RequestStatus.OPEN, RequestStatus.FULL, RequestStatus.COMPLETED)


def request_still(request_id: int, *statuses: RequestStatus) -> ColumnElement[bool]:
    """This request if it is still in one of `statuses`: the guard of a conditional UPDATE."""
    return and_(HelpRequest.id == request_id, HelpRequest.status.in_(statuses))


# Claims given back (released, or "could not") within this window count towards the daily
# limit: claim-then-release must not become a way to read every beneficiary's details.
RELEASE_WINDOW = timedelta(hours=24)
GIVEN_BACK = (ClaimStatus.RELEASED, ClaimStatus.FAILED)


# A step of the claimer on their claim, or of a referent or coordinator on a request.
ClaimerStep = Callable[[AsyncSession, Claim, Member], Awaitable[StepOutcome]]
ManagerStep = Callable[[AsyncSession, HelpRequest, Member], Awaitable[StepOutcome]]


class GiveBack(StrEnum):
    """Why a claimer's place goes back to the request (also the audit event's action)."""

    RELEASED = "released"  # the volunteer tapped Release (or left with /forget)
    COULD_NOT = "failed"  # "I could not do it"
    SILENT = "auto_release"  # no answer to "is it done?" for too long
    SUSPENDED = "suspension_release"  # a coordinator suspended the volunteer


async def load_request_view(session: AsyncSession, request_id: int) -> RequestView | None:
    """The public side of a request (one query)."""
    row = (
        await session.execute(
            select(HelpRequest, Skill.label, Neighbourhood.name)
            .join(Skill, Skill.id == HelpRequest.skill_id)
            .outerjoin(Neighbourhood, Neighbourhood.id == HelpRequest.neighbourhood_id)
            .where(HelpRequest.id == request_id)
        )
    ).one_or_none()
    if row is None:
        return None
    request, label, neighbourhood = row
    return view_of(RequestView, request, skill_label=label, neighbourhood=neighbourhood)


async def given_back_since(session: AsyncSession, volunteer_id: int, since: datetime) -> int:
    """How many claims this volunteer gave back since `since`."""
    return int(
        (
            await session.execute(
                select(func.count(Claim.id)).where(
                    Claim.volunteer_id == volunteer_id,
                    Claim.status.in_(GIVEN_BACK),
                    Claim.released_at > since,
                )
            )
        ).scalar_one()
    )


class RequestsBase(Configured):
    """The request lifecycle's shared state and steps; no Telegram here, only notices."""

    def __init__(
        self,
        database: Database,
        messenger: Messenger,
        settings: Settings,
        *,
        after_commit: Callable[[], None] = no_wake,
    ) -> None:
        super().__init__(database, messenger, settings, after_commit=after_commit)
        # Requests read in a finished state (closed, cancelled, expired, declined): no state
        # leaves those (bot/domain/lifecycle.py), so what this process read stays true whatever
        # other processes do. A tap on one is answered without the database (Claims.claim).
        self._finished_requests: set[int] = set()

    def _expiry(self, when_kind: str, starts_at: datetime | None, now: datetime) -> datetime:
        """When an unclaimed request stops waiting: its slot, the day's end, or after a while."""
        if when_kind == "slot" and starts_at is not None:
            return starts_at
        if when_kind == "today":
            local = now.astimezone(self._settings.tz)
            end = local.replace(hour=23, minute=59, second=0, microsecond=0)
            return end.astimezone(now.tzinfo)
        return now + timedelta(hours=self._settings.asap_expiry_hours)

    async def _view(self, session: AsyncSession, request_id: int) -> RequestView:
        """The public side of a request known to exist."""
        view = await load_request_view(session, request_id)
        assert view is not None
        return view

    @staticmethod
    async def _referent(session: AsyncSession, request: HelpRequest | RequestView) -> Member | None:
        """Who posted the request (None once they left)."""
        return await member_store.by_id(session, request.referent_id)

    async def _tell_referent(
        self, session: AsyncSession, request: HelpRequest | RequestView, notice: Notice
    ) -> None:
        """Queue a notice to the request's referent, if Brigade can still write to them."""
        referent = await self._referent(session, request)
        await self._messenger.send(session, notice, Reader.of(referent))

    async def _refresh_copies(
        self, session: AsyncSession, view: RequestView, *, only: int | None = None
    ) -> int:
        """Queue an edit of every copy of the offer (places left, Claim button or not), or of
        the one copy `only` names."""
        chosen = Offer.id == only if only is not None else Offer.kind != offers.NEARBY
        rows = (
            await session.execute(
                select(Offer, Member)
                .outerjoin(Member, Member.id == Offer.member_id)
                .where(
                    Offer.request_id == view.id,
                    Offer.declined_at.is_(None),
                    Offer.kind != offers.NEARBY,  # a line of a /nearby list, not a copy
                    chosen,
                )
            )
        ).all()
        await offers.supersede_pending_edits(session, [offer.id for offer, _member in rows])
        await self._messenger.post(
            session,
            [
                (
                    OfferUpdate(
                        view, offer.id, direct=member is not None, distance_km=_from(view, member)
                    ),
                    Reader.in_chat(offer.chat_id, member),
                )
                for offer, member in rows
            ],
        )
        return len(rows)

    async def _reopen_place(self, session: AsyncSession, request_id: int) -> None:
        """One place back on the request: it is open again, alerting the referent later."""
        now = self._clock()
        await session.execute(
            update(HelpRequest)
            .where(
                request_still(request_id, *HOLDING_REQUEST),
                HelpRequest.places_taken > 0,
            )
            .values(
                places_taken=HelpRequest.places_taken - 1,
                status=RequestStatus.OPEN,
                updated_at=now,
                # Nobody else took it in the meantime: alert the referent later if still open.
                escalate_at=now + timedelta(minutes=self._settings.escalation_delay_minutes),
            )
        )

    async def _give_back(
        self, session: AsyncSession, claim_id: int, volunteer: Member, why: GiveBack
    ) -> bool:
        """The one way a place goes back: the claim ends, the request reopens, people are told.

        One conditional UPDATE: only an active claim is given back (False otherwise), however
        many taps or sweeps race for it. The claimer's details are removed from their chat.
        """
        now = self._clock()
        status = ClaimStatus.FAILED if why is GiveBack.COULD_NOT else ClaimStatus.RELEASED
        ended = await changed(
            session,
            update(Claim)
            .where(Claim.id == claim_id, Claim.status == ClaimStatus.ACTIVE)
            # They no longer need the person's details: removed from their chat.
            .values(status=status, released_at=now, purge_details_at=now, **CLAIM_TIMERS_OFF)
            .returning(Claim.request_id),
        )
        if ended is None:
            return False
        request_id = ended[0]
        await self._reopen_place(session, request_id)
        # The bot's own move after a silence; the coordinator's suspension is audited as such.
        by_volunteer = why not in {GiveBack.SILENT, GiveBack.SUSPENDED}
        await audit.record(
            session,
            "claim",
            claim_id,
            why.value,
            by=volunteer.id if by_volunteer else None,
            moved=(ClaimStatus.ACTIVE, status),
        )
        view = await self._view(session, request_id)
        name = volunteer.display_name
        if why is GiveBack.SILENT:
            await self._messenger.send(session, YourClaimReleased(request_id), Reader.of(volunteer))
            await self._tell_referent(session, view, ReleasedForSilence(request_id, name))
        elif why is GiveBack.SUSPENDED:
            # The referent hears that the place is free again, not why: that stays with the
            # coordinators.
            await self._tell_referent(session, view, ClaimWithdrawn(request_id, name))
        else:
            could_not = why is GiveBack.COULD_NOT
            await self._tell_referent(session, view, ClaimGivenBack(request_id, name, could_not))
        await self._refresh_copies(session, view)
        if by_volunteer:
            await self._check_release_limit(session, volunteer)
        return True

    async def _remove_details_now(self, session: AsyncSession, claim: Claim) -> int:
        """Replace the claimer's details message (or stop it if still unsent); 1 if done."""
        claim.purge_details_at = None
        row = (
            await session.get(OutboxMessage, claim.details_outbox_id)
            if claim.details_outbox_id
            else None
        )
        if row is None:
            return 0
        if row.status is OutboxStatus.PENDING:
            # Never delivered: make sure it never is.
            for column, value in outbox.final_values(OutboxStatus.SKIPPED).items():
                setattr(row, column, value)
            row.last_error = "details no longer needed"
            return 1
        if row.telegram_message_id is None:
            return 0
        volunteer = await member_store.by_id(session, claim.volunteer_id)
        given_back = claim.status in GIVEN_BACK
        notice = DetailsRemoved(claim.request_id, row.telegram_message_id, given_back)
        await self._messenger.send(session, notice, Reader.in_chat(row.chat_id, volunteer))
        return 1

    async def _check_release_limit(self, session: AsyncSession, volunteer: Member) -> None:
        """Tell the coordinators when a volunteer reaches the day's limit of claims given back."""
        given_back = await given_back_since(session, volunteer.id, self._clock() - RELEASE_WINDOW)
        if given_back != self._settings.releases_per_day:
            return  # below the limit, or already told when it was reached
        await audit.record(
            session,
            "member",
            volunteer.id,
            "release_limit",
            by=volunteer.id,
            detail={"claims_given_back": given_back},
        )
        coordinators = await member_store.members_with_any_role(session, [Role.COORDINATOR])
        await self._messenger.send(
            session,
            ReleaseLimitReached(volunteer.display_name, given_back),
            *(Reader.of(coordinator) for coordinator, _roles in coordinators),
        )

    @staticmethod
    async def _referent_and_coordinators(session: AsyncSession, view: RequestView) -> list[Member]:
        """Who must hear of trouble with a request (one query)."""
        rows = (
            await session.execute(
                select(Member)
                .outerjoin(
                    MemberRole,
                    (MemberRole.member_id == Member.id) & (MemberRole.role == Role.COORDINATOR),
                )
                .where(
                    Member.telegram_id.is_not(None),
                    (Member.id == view.referent_id) | MemberRole.member_id.is_not(None),
                )
                .distinct()
            )
        ).scalars()
        return list(rows)

    async def _claimer_step(
        self, volunteer_telegram_id: int, claim_id: int, step: ClaimerStep
    ) -> StepOutcome:
        """Run one of the claimer's steps in its transaction, if the claim is theirs."""
        async with self._transaction() as session:
            return await self._claimer_check(session, volunteer_telegram_id, claim_id, step)

    @staticmethod
    async def _claimer_check(
        session: AsyncSession, volunteer_telegram_id: int, claim_id: int, step: ClaimerStep
    ) -> StepOutcome:
        """Run `step` in this session if the claim is the volunteer's."""
        claim = await session.get(Claim, claim_id)
        if claim is None:
            return StepOutcome.NOT_FOUND
        volunteer = await member_store.get_by_telegram_id(session, volunteer_telegram_id)
        if volunteer is None or claim.volunteer_id != volunteer.id:
            return StepOutcome.NOT_ALLOWED
        return await step(session, claim, volunteer)

    async def _manager_step(
        self, actor_telegram_id: int, request_id: int, step: ManagerStep
    ) -> StepOutcome:
        """Run a step on a request in its transaction, if the actor is its referent or a
        coordinator."""
        async with self._transaction() as session:
            found = await self._request_and_actor(session, actor_telegram_id, request_id)
            if isinstance(found, StepOutcome):
                return found
            request, actor, roles = found
            if actor.id != request.referent_id and Role.COORDINATOR not in roles:
                return StepOutcome.NOT_ALLOWED
            return await step(session, request, actor)

    @classmethod
    async def _request_and_actor(
        cls, session: AsyncSession, actor_telegram_id: int, request_id: int
    ) -> tuple[HelpRequest, Member, frozenset[Role]] | StepOutcome:
        """The request, the member behind `actor_telegram_id` and their roles: NOT_FOUND when
        the request is gone, NOT_ALLOWED when Brigade does not know the actor."""
        request = await session.get(HelpRequest, request_id)
        if request is None:
            return StepOutcome.NOT_FOUND
        found = await cls._member_roles(session, actor_telegram_id)
        if found is None:
            return StepOutcome.NOT_ALLOWED
        actor, roles = found
        return request, actor, roles


def _from(view: RequestView, member: Member | None) -> float | None:
    """How far the request is from a volunteer's place (None for a group or no place)."""
    if member is None or member.latitude is None or member.longitude is None:
        return None
    return distance_km(view.latitude, view.longitude, member.latitude, member.longitude)
