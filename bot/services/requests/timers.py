"""What the clock does to requests: waves, alerts, expiry, follow-up, removals and purges.

Every timer is a column; `run_due` finds what is due (safe to call often, from several
processes) and does each thing in its own transaction, re-checked under a lock or a condition.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Select, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.vocabulary import ClaimStatus, RequestStatus
from bot.messages.base import Reader
from bot.messages.claims import AskDone, ClaimerSilent, ClaimReminder, Contact
from bot.messages.closing import RequestExpired, StillNotTaken
from bot.services.requests.base import GiveBack, request_ends, request_still
from bot.services.requests.beneficiaries import Beneficiaries
from bot.services.requests.validation import Validating
from storage import audit
from storage import members as member_store
from storage.models import Claim, HelpRequest, Offer
from storage.writes import changed

SWEEPS = (
    "waves",
    "escalations",
    "expired",
    "unconfirmed",
    "reminders",
    "asked",
    "released",
    "details_removed",
    "beneficiaries_purged",
    "validation_reminders",
)


async def _ids(session: AsyncSession, statement: Select[int]) -> list[int]:
    """The ids a one-column query returns."""
    return list((await session.execute(statement)).scalars())


class Timers(Validating, Beneficiaries):
    """The sweeps of the request lifecycle."""

    async def run_due(self) -> dict[str, int]:
        """Do what is due (waves, alerts, expiry, follow-up, removals); safe to call often."""
        now = self._clock()
        done = dict.fromkeys(SWEEPS, 0)
        open_request = HelpRequest.status == RequestStatus.OPEN
        async with self._db.read() as session:
            due_expiry = await _ids(
                session,
                select(HelpRequest.id).where(
                    open_request, HelpRequest.places_taken == 0, HelpRequest.expires_at <= now
                ),
            )
            due_waves = await _ids(
                session, select(HelpRequest.id).where(open_request, HelpRequest.next_wave_at <= now)
            )
            due_alerts = await _ids(
                session,
                select(HelpRequest.id).where(
                    open_request, HelpRequest.escalate_at <= now, HelpRequest.escalated_at.is_(None)
                ),
            )
            due_claims = await _ids(
                session,
                select(Claim.id).where(
                    Claim.status == ClaimStatus.ACTIVE,
                    (Claim.remind_at <= now) | (Claim.ask_done_at <= now),
                ),
            )
            due_removals = await _ids(
                session, select(Claim.id).where(Claim.purge_details_at <= now)
            )
            due_unconfirmed = await _ids(
                session,
                select(HelpRequest.id).where(
                    HelpRequest.status == RequestStatus.COMPLETED,
                    HelpRequest.updated_at <= now - self._confirm_window,
                ),
            )
        for request_id in due_expiry:
            done["expired"] += await self._expire(request_id, now)
        for request_id in set(due_waves) - set(due_expiry):
            done["waves"] += 1 if await self.next_wave(request_id, only_if_due=True) else 0
        for request_id in set(due_alerts) - set(due_expiry):
            done["escalations"] += await self._escalate(request_id, now)
        for claim_id in due_claims:
            kind = await self._follow_up(claim_id, now)
            if kind:
                done[kind] += 1
        for claim_id in due_removals:
            done["details_removed"] += await self._remove_details(claim_id, now)
        for request_id in due_unconfirmed:
            done["unconfirmed"] += await self._end_unconfirmed(request_id, now)
        done["beneficiaries_purged"] = await self._purge_beneficiaries()
        done["validation_reminders"] = await self._remind_validations()
        return done

    async def _remove_details(self, claim_id: int, now: datetime) -> int:
        """Replace the private details in the claimer's chat once they are no longer needed."""
        async with self._transaction() as session:
            claim = await session.get(Claim, claim_id, with_for_update=True)
            if claim is None or claim.purge_details_at is None or claim.purge_details_at > now:
                return 0
            return await self._remove_details_now(session, claim)

    async def _expire(self, request_id: int, now: datetime) -> int:
        """An open request nobody took by its deadline expires; its referent is told."""
        async with self._transaction() as session:
            expired = await changed(
                session,
                update(HelpRequest)
                .where(
                    request_still(request_id, RequestStatus.OPEN),
                    HelpRequest.places_taken == 0,
                    HelpRequest.expires_at <= now,
                )
                .values(**request_ends(RequestStatus.EXPIRED, now))
                .returning(HelpRequest.id),
            )
            if expired is None:
                return 0
            await audit.record(
                session,
                "request",
                request_id,
                "expire",
                moved=(RequestStatus.OPEN, RequestStatus.EXPIRED),
            )
            view = await self._view(session, request_id)
            notice = RequestExpired(view.id, view.skill_label)
            await self._tell_referent(session, view, notice)
            await self._refresh_copies(session, view)
            return 1

    @property
    def _confirm_window(self) -> timedelta:
        return timedelta(days=self._settings.confirm_window_days)

    async def _end_unconfirmed(self, request_id: int, now: datetime) -> int:
        """Done, and not confirmed within the window: the request ends unconfirmed.

        Without an end, a request its referent never answered held its offers and its
        beneficiary's name, phone and address for ever, and "not done" could reopen it months
        later. Its claims stay done (the volunteers' record); the town's figures count it done,
        not confirmed. Its copies already say it is done: nothing is sent.
        """
        async with self._transaction() as session:
            ended = await changed(
                session,
                update(HelpRequest)
                .where(
                    request_still(request_id, RequestStatus.COMPLETED),
                    # Completing it was its last change (updated_at): re-checked here.
                    HelpRequest.updated_at <= now - self._confirm_window,
                )
                .values(**request_ends(RequestStatus.UNCONFIRMED, now))
                .returning(HelpRequest.id),
            )
            if ended is None:
                return 0
            moved = (RequestStatus.COMPLETED, RequestStatus.UNCONFIRMED)
            await audit.record(session, "request", request_id, "end_unconfirmed", moved=moved)
            return 1

    async def _escalate(self, request_id: int, now: datetime) -> int:
        """Still not taken: the referent and the coordinators hear what was tried, with options."""
        async with self._transaction() as session:
            marked = await changed(
                session,
                update(HelpRequest)
                .where(
                    request_still(request_id, RequestStatus.OPEN),
                    HelpRequest.escalated_at.is_(None),
                )
                .values(escalated_at=now)
                .returning(HelpRequest.wave),
            )
            if marked is None:
                return 0
            view = await self._view(session, request_id)
            offered, groups, declined = (
                await session.execute(
                    select(
                        func.count().filter(Offer.kind == "direct"),
                        func.count().filter(Offer.kind == "group"),
                        func.count().filter(Offer.declined_at.is_not(None)),
                    ).where(Offer.request_id == request_id)
                )
            ).one()
            await audit.record(
                session,
                "request",
                request_id,
                "escalate",
                detail={"offered": offered, "declined": declined},
            )
            notice = StillNotTaken(view.id, view.skill_label, offered, marked[0], groups, declined)
            people = await self._referent_and_coordinators(session, view)
            await self._messenger.send(session, notice, *map(Reader.of, people))
            return 1

    async def _follow_up(self, claim_id: int, now: datetime) -> str | None:
        """A reminder before the time, or "is it done?" after it; nudges, then auto-release."""
        settings = self._settings
        async with self._transaction() as session:
            # Locked, and the timers re-read under the lock: one reminder however many sweep.
            claim = await session.get(Claim, claim_id, with_for_update=True)
            if claim is None or claim.status is not ClaimStatus.ACTIVE:
                return None
            volunteer = await member_store.by_id(session, claim.volunteer_id)
            if volunteer is None:
                return None
            view = await self._view(session, claim.request_id)
            to_volunteer = Reader.of(volunteer)
            if claim.remind_at is not None and claim.remind_at <= now:
                claim.remind_at = None
                await self._messenger.send(session, ClaimReminder(view), to_volunteer)
                return "reminders"
            if claim.ask_done_at is None or claim.ask_done_at > now:
                return None
            silent_for = now - claim.claimed_at
            if claim.nudges >= 2 and silent_for >= timedelta(
                hours=settings.auto_release_after_hours
            ):
                await self._give_back(session, claim.id, volunteer, GiveBack.SILENT)
                return "released"
            claim.nudges += 1
            claim.ask_done_at = now + timedelta(hours=settings.nudge_after_hours)
            await self._messenger.send(
                session, AskDone(claim.id, view.id, view.skill_label), to_volunteer
            )
            if claim.nudges >= 2:
                silent = ClaimerSilent(view.id, Contact(volunteer.display_name, volunteer.phone))
                await self._tell_referent(session, view, silent)
            return "asked"
