"""The coordinators' lists: requests still open (/open), claims waiting too long (/stuck), and
the reminder a coordinator sends to the referent of a stuck claim."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, Row, Select, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.domain.vocabulary import ClaimStatus, RequestStatus
from bot.messages.base import Reader
from bot.messages.claims import Contact
from bot.messages.closing import ReferentReminder
from bot.services.outcomes import Outcome
from bot.services.reports.base import ReportsBase
from bot.services.reports.periods import count_if
from storage import audit
from storage import members as member_store
from storage.models import Claim, HelpRequest, Member, Neighbourhood, Offer, Skill

# A claim said done but not confirmed for this long is stuck.
UNCONFIRMED_AFTER = timedelta(hours=48)

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


async def page_of(
    session: AsyncSession,
    rows: Select[*tuple[Any, ...]],
    total: Select[int],
    item: Callable[[Row[*tuple[Any, ...]]], T],
    *,
    offset: int,
    limit: int,
) -> Page[T]:
    """The page of `rows` (already in order) from `offset`, each made an item, with how many
    there are in all (`total`, a count)."""
    start = max(0, offset)
    count = (await session.execute(total)).scalar_one()
    found = (await session.execute(rows.offset(start).limit(limit))).all()
    return Page(tuple(item(row) for row in found), int(count), start)


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


class Views(ReportsBase):
    """/open, /stuck and the reminder to a referent."""

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
            offers = (
                select(
                    Offer.request_id.label("request_id"),
                    count_if(Offer.kind == "direct").label("offered"),
                    count_if(Offer.kind == "group").label("groups"),
                    func.count(Offer.declined_at).label("declined"),
                )
                .where(Offer.request_id.in_(select(HelpRequest.id).where(is_open)))
                .group_by(Offer.request_id)
                .subquery()
            )
            rows = (
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
            )
            total = select(func.count()).select_from(HelpRequest).where(is_open)
            return await page_of(session, rows, total, _open_request, offset=offset, limit=limit)

    # --- /stuck ------------------------------------------------------------------------------

    def _stuck_condition(self, now: datetime) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
        # Once the confirmation window has passed the request ended unconfirmed: no longer waiting.
        # (An alias: the queries below join the claim's request, which must not be correlated.)
        request = aliased(HelpRequest)
        ended = select(request.id).where(
            request.id == Claim.request_id, request.status == RequestStatus.UNCONFIRMED
        )
        unconfirmed = and_(
            Claim.status == ClaimStatus.DONE,
            Claim.done_at <= now - UNCONFIRMED_AFTER,
            ~ended.exists(),
        )
        silent = and_(Claim.status == ClaimStatus.ACTIVE, Claim.nudges >= 1)
        return unconfirmed, silent

    async def stuck_claims(
        self, coordinator_telegram_id: int, *, offset: int = 0, limit: int = 5
    ) -> Page[StuckClaim] | Outcome:
        """Claims that wait too long, oldest first.

        - unconfirmed: status done, said done more than 48 hours ago, the referent has not
          confirmed (nor said it was not done), and the request has not ended unconfirmed;
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
            rows = (
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
            )
            total = select(func.count()).select_from(Claim).where(or_(unconfirmed, silent))
            return await page_of(session, rows, total, _stuck_claim, offset=offset, limit=limit)

    async def remind_referent(self, coordinator_telegram_id: int, claim_id: int) -> Outcome:
        """Queue a reminder to the referent of a stuck claim (with Confirm / Not done if done).

        DONE: queued; ALREADY_DONE: the claim is no longer stuck; NOT_FOUND: no such claim or
        no referent to write to.
        """
        now = self._clock()
        async with self._transaction() as session:
            actor = await self._require(session, coordinator_telegram_id)
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
            referent = Reader.of(await member_store.by_id(session, request.referent_id))
            if referent is None:
                return Outcome.NOT_FOUND
            volunteer = await member_store.by_id(session, claim.volunteer_id)
            notice = ReferentReminder(
                claim.id,
                request.id,
                label,
                Contact(volunteer.display_name, volunteer.phone) if volunteer else None,
                said_done=claim.status is ClaimStatus.DONE,
            )
            await self._messenger.send(session, notice, referent)
            await audit.record(
                session,
                "claim",
                claim.id,
                "remind_referent",
                by=actor.id,
                detail={"request_id": request.id},
            )
        return Outcome.DONE


def _open_request(row: Row[*tuple[Any, ...]]) -> OpenRequest:
    """A row of /open: the request, its skill and neighbourhood, and what was tried."""
    request, label, name, offered, groups, declined = row
    return OpenRequest(
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


def _stuck_claim(row: Row[*tuple[Any, ...]]) -> StuckClaim:
    """A row of /stuck: the claim, how it is stuck and since when, and who is involved."""
    return StuckClaim(
        claim_id=row.id,
        request_id=row.request_id,
        kind=StuckKind.UNCONFIRMED if row.status is ClaimStatus.DONE else StuckKind.SILENT,
        since=row.done_at if row.status is ClaimStatus.DONE and row.done_at else row.claimed_at,
        skill_label=row.label,
        volunteer_name=row.volunteer or None,
        referent_name=row.referent or None,
        can_remind=row.referent_telegram_id is not None,
    )
