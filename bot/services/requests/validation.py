"""Validation: a request a member asks for themselves (/ask) — or, when the town says so, any
referent's request — waits until a referent of its neighbourhood or a coordinator approves it
(as it is, or edited) or declines it with a reason. Nothing is offered before.

Approving is one conditional UPDATE (`to_validate` → `open`): two validators tapping at once
post the request once; the other is told who was quicker. Every validator's card is edited
once someone decides.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import partial

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.vocabulary import RequestStatus, Role
from bot.messages.base import Reader
from bot.messages.offers import RequestView
from bot.messages.validation import (
    RequestApproved,
    RequestDeclined,
    ValidationCard,
    ValidationDecided,
    ValidationWaiting,
)
from bot.services.outcomes import StepOutcome
from bot.services.requests.waves import Waves
from bot.services.signals import SignalService
from storage import audit, outbox
from storage import members as member_store
from storage.models import (
    HelpRequest,
    Member,
    OutboxMessage,
    OutboxStatus,
)
from storage.models import (
    ValidationCard as CardRow,
)
from storage.writes import changed

MAX_DECLINE_REASON = 500
# What a validator may change "when" to (a slot is the poster's to choose).
EDITABLE_WHEN = frozenset({"asap", "today"})


@dataclass(frozen=True)
class Decision:
    """How a validator's tap ended: done (and how far the first wave went), or why not."""

    outcome: StepOutcome
    # Who decided before, when the request was no longer waiting.
    decided_by: str | None = None
    offered: int = 0


class Validating(Waves):
    """Hold a request for validation, and the validators' decisions."""

    async def _hold_for_validation(
        self, session: AsyncSession, request: HelpRequest, poster: Member, *, for_themselves: bool
    ) -> int:
        """Send the validation cards (never to the poster); how many validators were told.

        A member's own request goes to its neighbourhood's referents and the coordinators; a
        referent's request (when the town wants every request validated) to coordinators only.
        """
        if for_themselves:
            validators = await SignalService.recipients(
                session, request.neighbourhood_id, exclude={poster.id}
            )
        else:
            rows = await member_store.members_with_any_role(session, [Role.COORDINATOR])
            validators = [
                member
                for member, _roles in rows
                if member.id != poster.id and member.telegram_id is not None
            ]
        view = await self._view(session, request.id)
        notice = ValidationCard(view, poster.display_name, for_themselves)
        sent = await self._messenger.send(session, notice, *map(Reader.of, validators))
        session.add_all(
            CardRow(request_id=request.id, member_id=member.id, outbox_id=row.id)
            for member, row in zip(validators, sent, strict=True)
        )
        await session.flush()
        return len(validators)

    async def may_validate(self, validator_telegram_id: int, request_id: int) -> StepOutcome:
        """Whether this person may decide on this request now (before asking for a reason)."""
        async with self._db.read() as session:
            found = await self._validator(session, validator_telegram_id, request_id)
            if isinstance(found, StepOutcome):
                return found
            request, _actor = found
            return (
                StepOutcome.DONE
                if request.status is RequestStatus.TO_VALIDATE
                else StepOutcome.ALREADY_DONE
            )

    async def _validator(
        self, session: AsyncSession, telegram_id: int, request_id: int
    ) -> tuple[HelpRequest, Member] | StepOutcome:
        """The request and the actor, if the actor may validate it: a coordinator, or a referent
        it was sent to for validation; never the person who posted it."""
        found = await self._request_and_actor(session, telegram_id, request_id)
        if isinstance(found, StepOutcome):
            return found
        request, actor, roles = found
        if actor.id == request.referent_id:
            return StepOutcome.NOT_ALLOWED
        if Role.COORDINATOR in roles:
            return request, actor
        sent_to_them = (
            await session.execute(
                select(CardRow.id).where(
                    CardRow.request_id == request_id, CardRow.member_id == actor.id
                )
            )
        ).first()
        if Role.REFERENT not in roles or sent_to_them is None:
            return StepOutcome.NOT_ALLOWED
        return request, actor

    async def approve_request(
        self,
        validator_telegram_id: int,
        request_id: int,
        *,
        description: str | None = None,
        when_kind: str | None = None,
    ) -> Decision:
        """Approve (with an edited description, or "as soon as possible" / "today" instead of
        what was asked, if given): the request is offered as if just posted; the cards are
        edited; the poster is told."""
        step = partial(self._approve_request, description=description, when_kind=when_kind)
        return await self._validation_step(validator_telegram_id, request_id, step)

    async def _approve_request(
        self,
        session: AsyncSession,
        request: HelpRequest,
        actor: Member,
        *,
        description: str | None,
        when_kind: str | None,
    ) -> Decision:
        now = self._clock()
        values: dict[str, object] = {
            "validated_at": now,
            "updated_at": now,
        }
        if description:
            values["description"] = description.strip()[:1000]
        if when_kind in EDITABLE_WHEN:
            # "today": volunteers then read "today" (no start time is shown for it).
            values["when_kind"] = when_kind
            values["starts_at"] = now if when_kind == "today" else None
            values["day_part"] = None
        if when_kind in EDITABLE_WHEN or request.when_kind == "asap":
            # It waited: "as soon as possible" runs from now on.
            kind = when_kind or request.when_kind
            values["expires_at"] = self._expiry(kind, request.starts_at, now)
        edited: dict[str, object] = {"edited": bool(description or when_kind)}
        lost = await self._decide(
            session, request, actor, RequestStatus.OPEN, "validate", values, detail=edited
        )
        if lost is not None:
            return lost
        view = await self._view(session, request.id)
        await self._post_in_group(session, view, request.neighbourhood_id)
        offered, _rest = await self._send_wave(session, request, view)
        await self._edit_cards(session, view, actor.display_name, approved=True)
        await self._tell_referent(session, view, RequestApproved(view))
        return Decision(StepOutcome.DONE, offered=offered)

    async def decline_request(
        self, validator_telegram_id: int, request_id: int, reason: str
    ) -> Decision:
        """Decline with a reason: the poster is told it in their language; the cards are edited."""
        step = partial(self._decline_request, reason=reason.strip()[:MAX_DECLINE_REASON])
        return await self._validation_step(validator_telegram_id, request_id, step)

    async def _decline_request(
        self, session: AsyncSession, request: HelpRequest, actor: Member, *, reason: str
    ) -> Decision:
        now = self._clock()
        values: dict[str, object] = {
            "cancel_reason": reason,
            "closed_at": now,
            "updated_at": now,
        }
        lost = await self._decide(
            session, request, actor, RequestStatus.DECLINED, "decline", values
        )
        if lost is not None:
            return lost
        view = await self._view(session, request.id)
        await self._edit_cards(session, view, actor.display_name, approved=False, reason=reason)
        notice = RequestDeclined(view.id, view.skill_label, reason)
        await self._tell_referent(session, view, notice)
        return Decision(StepOutcome.DONE)

    async def _validation_step(
        self,
        validator_telegram_id: int,
        request_id: int,
        step: Callable[[AsyncSession, HelpRequest, Member], Awaitable[Decision]],
    ) -> Decision:
        """Run a decision on a request in its transaction, if this person may validate it."""
        async with self._transaction() as session:
            found = await self._validator(session, validator_telegram_id, request_id)
            if isinstance(found, StepOutcome):
                return Decision(found)
            request, actor = found
            return await step(session, request, actor)

    async def _decide(
        self,
        session: AsyncSession,
        request: HelpRequest,
        actor: Member,
        to: RequestStatus,
        action: str,
        values: dict[str, object],
        *,
        detail: dict[str, object] | None = None,
    ) -> Decision | None:
        """The actor moves the request out of validation to `to` (with `values`), audited as
        `action`: None when this decision is the one that counts, the answer for the slower one
        otherwise.

        One statement: two validators deciding at once decide once.
        """
        won = await changed(
            session,
            update(HelpRequest)
            .where(HelpRequest.id == request.id, HelpRequest.status == RequestStatus.TO_VALIDATE)
            .values(status=to, validated_by_id=actor.id, **values)
            .returning(HelpRequest.id),
        )
        if won is None:
            return await self._decided_before(session, request)
        await session.refresh(request)
        await audit.record(
            session,
            "request",
            request.id,
            action,
            by=actor.id,
            moved=(RequestStatus.TO_VALIDATE, to),
            detail=detail,
        )
        return None

    async def _decided_before(self, session: AsyncSession, request: HelpRequest) -> Decision:
        """Someone was quicker (or the request moved on): who, if a validator."""
        await session.refresh(request)
        decider = await member_store.by_id(session, request.validated_by_id)
        return Decision(StepOutcome.STALE, decided_by=decider.display_name if decider else None)

    async def _edit_cards(
        self,
        session: AsyncSession,
        view: RequestView,
        by_name: str,
        *,
        approved: bool,
        reason: str | None = None,
    ) -> None:
        """Every validator's card says what was decided, and by whom (one query)."""
        rows = (
            await session.execute(
                select(OutboxMessage, Member)
                .join(CardRow, CardRow.outbox_id == OutboxMessage.id)
                .outerjoin(Member, Member.id == CardRow.member_id)
                .where(CardRow.request_id == view.id)
            )
        ).all()
        letters = []
        for row, member in rows:
            if row.status is OutboxStatus.PENDING:
                # Not delivered yet: it never will be, there is nothing left to decide.
                for column, value in outbox.final_values(OutboxStatus.SKIPPED).items():
                    setattr(row, column, value)
                row.last_error = "decided before delivery"
            elif row.telegram_message_id is not None:
                notice = ValidationDecided(view, row.telegram_message_id, by_name, approved, reason)
                letters.append((notice, Reader.in_chat(row.chat_id, member)))
        await self._messenger.post(session, letters)

    async def _remind_validations(self) -> int:
        """Remind the coordinators, once, of requests waiting too long for validation."""
        now = self._clock()
        hours = self._settings.validation_remind_hours
        async with self._transaction() as session:
            reminded = (
                await session.execute(
                    update(HelpRequest)
                    .where(
                        HelpRequest.status == RequestStatus.TO_VALIDATE,
                        HelpRequest.validation_reminded_at.is_(None),
                        HelpRequest.created_at <= now - timedelta(hours=hours),
                    )
                    .values(validation_reminded_at=now)
                    .returning(HelpRequest.id, HelpRequest.referent_id)
                )
            ).all()
            if not reminded:
                return 0
            coordinators = await member_store.members_with_any_role(session, [Role.COORDINATOR])
            for request_id, poster_id in reminded:
                view = await self._view(session, request_id)
                readers = [
                    Reader.of(member) for member, _roles in coordinators if member.id != poster_id
                ]
                await self._messenger.send(session, ValidationWaiting(view, hours), *readers)
                await audit.record(session, "request", request_id, "validation_reminder")
            return len(reminded)

    @staticmethod
    async def _waiting_validation(session: AsyncSession, asker_id: int) -> int:
        """How many of a member's own requests wait for validation."""
        return int(
            (
                await session.execute(
                    select(func.count(HelpRequest.id)).where(
                        HelpRequest.referent_id == asker_id,
                        HelpRequest.status == RequestStatus.TO_VALIDATE,
                    )
                )
            ).scalar_one()
        )
