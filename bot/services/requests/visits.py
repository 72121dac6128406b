"""The claimer's visit plan ("When will you go?") and the visit report after Done.

Each answer is one conditional UPDATE on the claim, checked against who answers and the claim's
state in the database: a plan only while the claim is active, a report only once it is said done
(or confirmed). The report's worried sentence is personal data about the person helped: it goes
to the referent and the coordinators through the outbox (blanked once sent) and is never stored;
a receipt photo travels by its Telegram file id only, in the outbox row that forwards it.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from functools import partial

from sqlalchemy import func, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.vocabulary import ClaimStatus, VisitPlan, Wellbeing
from bot.messages.base import Reader
from bot.messages.claims import Contact
from bot.messages.visits import (
    ExpenseAdvanced,
    ReceiptPhoto,
    VisitPlanned,
    VisitWorry,
    WantsMoreVisits,
)
from bot.money import MAX_EXPENSE_CENTS
from bot.services.outcomes import StepOutcome
from bot.services.requests.base import RequestsBase
from storage import audit
from storage.models import Claim, HelpRequest, Member
from storage.writes import changed

# The report comes after Done; the referent may have confirmed meanwhile.
REPORTED = (ClaimStatus.DONE, ClaimStatus.CONFIRMED)
# "Later today" / "tomorrow": the visit is expected by this local time of that day.
EVENING = time(21, 0)
MAX_WORRY_LENGTH = 1000


class Visits(RequestsBase):
    """When the claimer expects to go; how the visit went."""

    async def plan_visit(
        self, volunteer_telegram_id: int, claim_id: int, plan: VisitPlan
    ) -> StepOutcome:
        """ "When will you go?": stored once, the referent told, "is it done?" asked after it."""
        step = partial(self._plan, plan=plan)
        return await self._claimer_step(volunteer_telegram_id, claim_id, step)

    async def _plan(
        self, session: AsyncSession, claim: Claim, volunteer: Member, *, plan: VisitPlan
    ) -> StepOutcome:
        request = await session.get(HelpRequest, claim.request_id)
        if request is None or request.when_kind != "asap":
            return StepOutcome.NOT_FOUND  # only asked of as-soon-as-possible requests
        now = self._clock()
        planned = await changed(
            session,
            update(Claim)
            .where(
                Claim.id == claim.id,
                Claim.status == ClaimStatus.ACTIVE,
                Claim.visit_plan.is_(None),
            )
            .values(
                visit_plan=plan,
                visit_planned_at=now,
                # Not asked "is it done?" before the announced time.
                ask_done_at=self._later_ask(claim, plan, now),
            )
            .returning(Claim.id),
        )
        if planned is None:
            await session.refresh(claim)
            if claim.status is ClaimStatus.ACTIVE:
                return StepOutcome.ALREADY_DONE
            return StepOutcome.STALE
        await audit.record(
            session, "claim", claim.id, "visit_plan", by=volunteer.id, detail={"plan": plan.value}
        )
        notice = VisitPlanned(request.id, volunteer.display_name, plan)
        await self._tell_referent(session, request, notice)
        return StepOutcome.DONE

    def _later_ask(self, claim: Claim, plan: VisitPlan, now: datetime) -> datetime | None:
        """When to ask "is it done?": after the announced time, never earlier than planned."""
        asked_after = self._ask_done_after(plan, now)
        if claim.ask_done_at is None or asked_after is None:
            return claim.ask_done_at
        return max(claim.ask_done_at, asked_after)

    def _ask_done_after(self, plan: VisitPlan, now: datetime) -> datetime | None:
        """The time announced by the plan, plus the usual delay; None: no time announced."""
        tz = self._settings.tz
        local = now.astimezone(tz)
        if plan is VisitPlan.WITHIN_AN_HOUR:
            expected = now + timedelta(hours=1)
        elif plan is VisitPlan.TODAY:
            expected = max(datetime.combine(local.date(), EVENING, tz), now + timedelta(hours=1))
        elif plan is VisitPlan.TOMORROW:
            expected = datetime.combine(local.date() + timedelta(days=1), EVENING, tz)
        else:
            return None
        return expected + timedelta(minutes=self._settings.ask_done_after_minutes)

    async def record_wellbeing(
        self,
        volunteer_telegram_id: int,
        claim_id: int,
        answer: Wellbeing,
        sentence: str | None = None,
    ) -> StepOutcome:
        """How the person seemed: once per claim; worried → the referent and coordinators at
        once, "more visits" → the referent."""
        if sentence is not None and not 1 <= len(sentence) <= MAX_WORRY_LENGTH:
            return StepOutcome.NOT_FOUND
        step = partial(self._wellbeing, answer=answer, sentence=sentence)
        return await self._claimer_step(volunteer_telegram_id, claim_id, step)

    async def _wellbeing(
        self,
        session: AsyncSession,
        claim: Claim,
        volunteer: Member,
        *,
        answer: Wellbeing,
        sentence: str | None,
    ) -> StepOutcome:
        worried = answer is Wellbeing.WORRIED
        now = self._clock()
        values: dict[str, object] = {"wellbeing": answer}
        if worried:
            # A worried report is a concern: "Report a concern" afterwards says it was sent.
            # An earlier concern does not hold this one back: it carries what the volunteer saw.
            values["concern_at"] = func.coalesce(Claim.concern_at, now)
        recorded = await changed(
            session,
            update(Claim)
            .where(Claim.id == claim.id, Claim.status.in_(REPORTED), Claim.wellbeing.is_(None))
            .values(**values)
            .returning(Claim.id),
        )
        if recorded is None:
            await session.refresh(claim)
            return StepOutcome.ALREADY_DONE if claim.status in REPORTED else StepOutcome.STALE
        view = await self._view(session, claim.request_id)
        await audit.record(
            session,
            "claim",
            claim.id,
            "concern" if worried else "wellbeing",
            by=volunteer.id,
            detail={"request_id": view.id, "wellbeing": answer.value},
        )
        name = volunteer.display_name
        if worried:
            contact = Contact(name, volunteer.phone)
            notice = VisitWorry(view.id, view.skill_label, contact, sentence)
            people = await self._referent_and_coordinators(session, view)
            await self._messenger.send(session, notice, *map(Reader.of, people))
        elif answer is Wellbeing.WANTS_MORE_VISITS:
            await self._tell_referent(session, view, WantsMoreVisits(view.id, name))
        return StepOutcome.DONE

    async def record_expense(
        self, volunteer_telegram_id: int, claim_id: int, cents: int
    ) -> StepOutcome:
        """Money advanced for the person (0: none), once per claim; the referent is told."""
        if not 0 <= cents <= MAX_EXPENSE_CENTS:
            return StepOutcome.NOT_FOUND
        step = partial(self._expense, cents=cents)
        return await self._claimer_step(volunteer_telegram_id, claim_id, step)

    async def _expense(
        self, session: AsyncSession, claim: Claim, volunteer: Member, *, cents: int
    ) -> StepOutcome:
        recorded = await changed(
            session,
            update(Claim)
            .where(Claim.id == claim.id, Claim.status.in_(REPORTED), Claim.expense_cents.is_(None))
            .values(expense_cents=cents)
            .returning(Claim.request_id),
        )
        if recorded is None:
            await session.refresh(claim)
            return StepOutcome.ALREADY_DONE if claim.status in REPORTED else StepOutcome.STALE
        await audit.record(
            session, "claim", claim.id, "expense", by=volunteer.id, detail={"cents": cents}
        )
        if cents:
            notice = ExpenseAdvanced(claim.request_id, volunteer.display_name, cents)
            await self._tell_referent(session, await self._view(session, claim.request_id), notice)
        return StepOutcome.DONE

    async def send_receipt(
        self, volunteer_telegram_id: int, claim_id: int, file_id: str
    ) -> StepOutcome:
        """Forward the receipt photo of an advance to the referent, once."""
        step = partial(self._receipt, file_id=file_id)
        return await self._claimer_step(volunteer_telegram_id, claim_id, step)

    async def _receipt(
        self, session: AsyncSession, claim: Claim, volunteer: Member, *, file_id: str
    ) -> StepOutcome:
        sent = await changed(
            session,
            update(Claim)
            .where(
                Claim.id == claim.id,
                Claim.status.in_(REPORTED),
                Claim.expense_cents > 0,
                Claim.receipt_sent.is_(False),
            )
            .values(receipt_sent=True)
            .returning(Claim.request_id),
        )
        if sent is None:
            await session.refresh(claim)
            return StepOutcome.ALREADY_DONE if claim.receipt_sent else StepOutcome.STALE
        await audit.record(session, "claim", claim.id, "receipt", by=volunteer.id)
        notice = ReceiptPhoto(claim.request_id, volunteer.display_name, file_id)
        await self._tell_referent(session, await self._view(session, claim.request_id), notice)
        return StepOutcome.DONE
