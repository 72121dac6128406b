"""A referent's own requests (/mine): listed by state, each with what fits it, and the edits a
request takes while nobody has claimed it (description, when, how many)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from functools import partial

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.lifecycle import HOLDING_PLACE
from bot.domain.vocabulary import ClaimStatus, RequestStatus, Role
from bot.messages.offers import RequestView
from bot.services.outcomes import Outcome, StepOutcome
from bot.services.reports.views import Page
from bot.services.requests.admin import AdminActions
from bot.services.requests.base import ManagerStep
from bot.services.requests.closing import Closing
from bot.services.requests.posting import Posting
from storage import audit
from storage.models import Claim, HelpRequest, Member, Neighbourhood, Skill
from storage.writes import changed, view_of

# Finished requests stay in /mine this long after they ended.
CLOSED_SHOWN_FOR = timedelta(days=30)
# The most requests /mine reads for one referent (a referent posts a few a week).
MAX_LISTED = 200
# The claims that name their volunteer on the referent's card.
NAMED_CLAIMS = (ClaimStatus.ACTIVE, ClaimStatus.DONE, ClaimStatus.CONFIRMED)
MAX_PLACES = 20  # the requests table's own limit


class MineGroup(StrEnum):
    """Where a request stands, as /mine groups them (in this order)."""

    OPEN = "open"  # places left: nobody claimed it yet, or some did
    TAKEN = "taken"  # every place taken
    TO_CONFIRM = "confirm"  # every claimer said done: the referent confirms
    CLOSED = "closed"  # confirmed, unconfirmed, cancelled or expired in the last 30 days


_GROUPS = {
    RequestStatus.OPEN: MineGroup.OPEN,
    RequestStatus.FULL: MineGroup.TAKEN,
    RequestStatus.COMPLETED: MineGroup.TO_CONFIRM,
    RequestStatus.CLOSED: MineGroup.CLOSED,
    RequestStatus.CANCELLED: MineGroup.CLOSED,
    RequestStatus.EXPIRED: MineGroup.CLOSED,
    RequestStatus.UNCONFIRMED: MineGroup.CLOSED,
}
_ORDER = list(MineGroup)


@dataclass(frozen=True)
class MyRequest:
    """One of a referent's requests, with the volunteers who hold (or held) its places."""

    request: RequestView
    claimers: tuple[str, ...]
    created_at: datetime
    # The claims the referent may still write about through the bot: (claim id, volunteer's name).
    correspondents: tuple[tuple[int, str], ...] = ()

    @property
    def group(self) -> MineGroup:
        """Where it stands."""
        return _GROUPS[self.request.status]

    @property
    def editable(self) -> bool:
        """Description, when and how many change only while nobody has claimed it."""
        return self.request.status is RequestStatus.OPEN and self.request.places_taken == 0

    @property
    def may_offer_again(self) -> bool:
        """Offer again / widen: only while places are left."""
        return self.request.status is RequestStatus.OPEN

    @property
    def may_cancel(self) -> bool:
        """A request still waiting or taken can be cancelled."""
        return self.request.status in {RequestStatus.OPEN, RequestStatus.FULL}


class MineVerb(StrEnum):
    """What a referent does from a card of /mine (each re-reads the card afterwards)."""

    SHOW = "show"
    CANCEL = "cancelyes"  # confirmed: the card asked first
    RESEND = "resend"
    WIDEN = "widen"


@dataclass(frozen=True)
class RequestEdit:
    """New answers for a request nobody has claimed yet (None: unchanged)."""

    description: str | None = None
    when_kind: str | None = None  # asap / today / slot
    starts_at: datetime | None = None  # the slot's start, for "slot"
    day_part: str | None = None  # the slot's part of the day ("morning"…), if not a time
    places_needed: int | None = None

    @property
    def fields(self) -> list[str]:
        """The names of what changes (for the audit log: never the text itself)."""
        names = []
        if self.description is not None:
            names.append("description")
        if self.when_kind is not None:
            names.append("when")
        if self.places_needed is not None:
            names.append("places")
        return names


@dataclass(frozen=True)
class MineAnswer:
    """How a step on a card ended, and the card as it is now (None: not theirs, or gone)."""

    outcome: StepOutcome
    card: MyRequest | None


class MyRequests(Posting, Closing, AdminActions):
    """/mine: a referent's own requests, and what they do from each card."""

    async def my_requests(
        self, referent_telegram_id: int, *, offset: int = 0, limit: int = 5
    ) -> Page[MyRequest] | Outcome:
        """The requests the caller posted: open, taken, to confirm, then ended in the last 30 days.

        NOT_ALLOWED for someone who is neither a referent nor a coordinator (they post none).
        """
        async with self._db.read() as session:
            found = await self._member_roles(session, referent_telegram_id)
            if found is None or not found[1] & {Role.REFERENT, Role.COORDINATOR}:
                return Outcome.NOT_ALLOWED
            member = found[0]
            since = self._clock() - CLOSED_SHOWN_FOR
            items = await _load(
                session,
                HelpRequest.referent_id == member.id,
                or_(HelpRequest.closed_at.is_(None), HelpRequest.closed_at >= since),
            )
        items.sort(key=lambda item: (_ORDER.index(item.group), -item.request.id))
        start = max(0, offset)
        return Page(tuple(items[start : start + limit]), len(items), start)

    async def my_request(
        self, actor_telegram_id: int, request_id: int, verb: MineVerb = MineVerb.SHOW
    ) -> MineAnswer:
        """One card of /mine, after the step its button names (cancel, offer again, widen).

        The same steps, and the same checks, as the buttons of an escalation: the request's
        referent or a coordinator, and the request's current state.
        """
        steps: dict[MineVerb, ManagerStep] = {
            MineVerb.CANCEL: partial(self._cancel, reason=None),
            MineVerb.RESEND: partial(self._offer_again, radius_factor=1.0),
            MineVerb.WIDEN: partial(self._offer_again, radius_factor=2.0),
        }
        return await self._on_card(actor_telegram_id, request_id, steps.get(verb))

    async def edit_request(
        self, actor_telegram_id: int, request_id: int, edit: RequestEdit
    ) -> MineAnswer:
        """Change a request nobody has claimed yet; every copy of its offer is edited.

        STALE once someone claimed it (or it ended): the claimers agreed to what they read.
        """

        async def change(session: AsyncSession, request: HelpRequest, actor: Member) -> StepOutcome:
            values = self._edited_values(edit)
            if values is None:
                return StepOutcome.NOT_FOUND
            edited = await changed(
                session,
                update(HelpRequest)
                .where(
                    HelpRequest.id == request.id,
                    HelpRequest.status == RequestStatus.OPEN,
                    HelpRequest.places_taken == 0,
                )
                .values(**values)
                .returning(HelpRequest.id),
            )
            if edited is None:
                return StepOutcome.STALE
            detail = {"fields": edit.fields}
            await audit.record(session, "request", request.id, "edit", by=actor.id, detail=detail)
            await session.refresh(request)
            # Every copy (volunteers' chats and the group) shows the new answers.
            await self._refresh_copies(session, await self._view(session, request.id))
            return StepOutcome.DONE

        return await self._on_card(actor_telegram_id, request_id, change)

    def _edited_values(self, edit: RequestEdit) -> dict[str, object] | None:
        """The columns an edit changes; None if an answer breaks a rule."""
        now = self._clock()
        values: dict[str, object] = {"updated_at": now}
        if edit.description is not None:
            description = edit.description.strip()
            if not description:
                return None
            values["description"] = description[:1000]
        if edit.places_needed is not None:
            if not 1 <= edit.places_needed <= MAX_PLACES:
                return None
            values["places_needed"] = edit.places_needed
        if edit.when_kind is not None:
            if edit.when_kind not in {"asap", "today", "slot"}:
                return None
            starts_at = edit.starts_at if edit.when_kind == "slot" else None
            if edit.when_kind == "slot" and (starts_at is None or starts_at <= now):
                return None
            if edit.when_kind == "today":
                starts_at = now  # as /new does: volunteers read "today"
            values |= {
                "when_kind": edit.when_kind,
                "starts_at": starts_at,
                "day_part": edit.day_part if edit.when_kind == "slot" else None,
                "expires_at": self._expiry(edit.when_kind, starts_at, now),
            }
        return values if len(values) > 1 else None

    async def _on_card(
        self,
        actor_telegram_id: int,
        request_id: int,
        step: ManagerStep | None,
    ) -> MineAnswer:
        """Run a step on the request (its referent or a coordinator), then read its card."""
        card: list[MyRequest] = []

        async def run(session: AsyncSession, request: HelpRequest, actor: Member) -> StepOutcome:
            outcome = StepOutcome.DONE
            if step is not None:
                outcome = await step(session, request, actor)
            card.extend(await _load(session, HelpRequest.id == request.id))
            return outcome

        outcome = await self._manager_step(actor_telegram_id, request_id, run)
        return MineAnswer(outcome, card[0] if card else None)


async def _load(session: AsyncSession, *where: ColumnElement[bool]) -> list[MyRequest]:
    """Requests and the names of their claimers (two queries, whatever the count)."""
    rows = (
        await session.execute(
            select(HelpRequest, Skill.label, Neighbourhood.name)
            .join(Skill, Skill.id == HelpRequest.skill_id)
            .outerjoin(Neighbourhood, Neighbourhood.id == HelpRequest.neighbourhood_id)
            .where(*where)
            .order_by(HelpRequest.id.desc())
            .limit(MAX_LISTED)
        )
    ).all()
    claims = await _claimers(session, [request.id for request, _label, _name in rows])
    return [
        MyRequest(
            view_of(RequestView, request, skill_label=label, neighbourhood=neighbourhood),
            tuple(name for _id, name, _status in claims.get(request.id, ())),
            request.created_at,
            tuple(
                (claim_id, name)
                for claim_id, name, status in claims.get(request.id, ())
                # What the correspondence allows (it checks again at every tap).
                if status in HOLDING_PLACE
                and request.status in (RequestStatus.OPEN, RequestStatus.FULL)
            ),
        )
        for request, label, neighbourhood in rows
    ]


async def _claimers(
    session: AsyncSession, request_ids: Sequence[int]
) -> dict[int, list[tuple[int, str, ClaimStatus]]]:
    """Each request's claims (id, volunteer's name, status), in the order they were made."""
    if not request_ids:
        return {}
    found = await session.execute(
        select(Claim.request_id, Claim.id, Member.display_name, Claim.status)
        .join(Member, Member.id == Claim.volunteer_id)
        .where(Claim.request_id.in_(request_ids), Claim.status.in_(NAMED_CLAIMS))
        .order_by(Claim.claimed_at, Claim.id)
    )
    claims: dict[int, list[tuple[int, str, ClaimStatus]]] = {}
    for request_id, claim_id, name, status in found:
        claims.setdefault(request_id, []).append((claim_id, name, status))
    return claims
