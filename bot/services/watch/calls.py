"""A campaign day's calls: the caller's taps, the hour before trying again, the escalation of
those nobody reached, and its repetition to every coordinator until someone acts.

Each tap is checked against the database: the call is the presser's own, of the campaign's
current day, and still waiting for that outcome (one conditional UPDATE: a double tap or a stale
list changes nothing). Timers (`retry_at`, `window_ends_at`, `repeat_at`) are claimed the same
way, so that two processes never send the same reminder or alert twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.vocabulary import Role
from bot.domain.watch import CONCERN, Acknowledgement, CallOutcome, DraftDecision
from bot.messages.base import Reader
from bot.messages.messenger import Letter
from bot.messages.watch_calls import (
    AlertAnswered,
    CallerList,
    NeedDraft,
    PersonNeeds,
    Unreached,
)
from bot.services.base import coordinator_readers
from bot.services.outcomes import Outcome
from bot.services.watch.campaigns import caller_lines
from bot.services.watch.needs import (
    DraftOutcome,
    DraftPrefill,
    check_draft,
    claim_draft,
    decider_of,
    draft_batch,
    edit_copies,
    prefill,
)
from bot.services.watch.silence import SilentCallers
from storage import audit
from storage import members as member_store
from storage.models import Member, Skill
from storage.watch_models import WatchCall, WatchCampaign, WatchPerson
from storage.writes import changed

RETRY_AFTER = timedelta(hours=1)
OPEN = (CallOutcome.PENDING, CallOutcome.NO_ANSWER)


def alert_batch(call_id: int) -> str:
    """The outbox batch holding every copy of the alerts about one call (first and repeated):
    all are edited when someone says what they do."""
    return f"watch-alert:{call_id}"


@dataclass(frozen=True)
class NeedChoices:
    """🙋 tapped: the person, and the kinds of help the caller may say they need (/new's)."""

    call_id: int
    name: str
    skills: list[tuple[int, str]]


@dataclass(frozen=True)
class DraftAnswer:
    """A decision about a draft (✏️ or ✖): the tapped copy's new text, and for ✏️ the request
    as /new's answers."""

    done: DraftOutcome
    prefill: DraftPrefill | None = None


@dataclass(frozen=True)
class Acknowledged:
    """Someone said what they do about a person nobody reached."""

    name: str
    who: str
    acknowledgement: Acknowledgement


class WatchService(SilentCallers):
    """Campaigns (start, stop, the day's window) and their calls."""

    async def run_due(self) -> dict[str, int]:
        """Everything due now: windows' ends (before a new day can open: after a long outage the
        last day is still closed), repeats, calls to try again, windows to open."""
        now = self._clock()
        escalated = await self._close_windows(now)
        replaced = await self._silences(now)
        repeated = await self._repeats(now)
        retries = await self._retries(now)
        done = await self.open_due_windows()
        done |= {
            "watch_escalated": escalated,
            "watch_repeated": repeated,
            "watch_retries": retries,
            "watch_replaced": replaced,
        }
        return done

    # --- the caller's taps -------------------------------------------------------------------

    async def record(
        self, telegram_id: int, call_id: int, outcome: CallOutcome
    ) -> CallerList | Outcome:
        """A caller's outcome on one person of their list; their list as it now reads.

        NOT_ALLOWED: not their call; EXPIRED: not the campaign's current day (or stopped);
        ALREADY_DONE: the call is no longer waiting for this (a double tap, an old list);
        INVALID: NEEDS, which comes with what is needed (`record_need`).
        """
        if outcome is CallOutcome.NEEDS:
            return Outcome.INVALID
        now = self._clock()
        async with self._transaction() as session:
            found = await self._callers(session, telegram_id, call_id)
            if isinstance(found, Outcome):
                return found
            member, call, campaign, person = found
            was = call.outcome
            moved = await self._move(session, call, outcome, now)
            if moved is None:
                return Outcome.ALREADY_DONE
            await audit.record(
                session, "watch_call", call.id, "outcome", by=member.id, moved=(was, moved)
            )
            letters: list[Letter] = []
            if moved is CallOutcome.EMERGENCY:
                notice = PersonNeeds(person.name, member.display_name, moved)
                letters += [(notice, reader) for reader in await self._staff(session, person)]
            elif moved is CallOutcome.NO_ANSWER and call.second_no_answer_at is not None:
                await self._unreached(session, [call], repeated=False)
            await self._messenger.post(session, letters)
            return await self._list_of(session, member, campaign, call)

    async def _callers(
        self, session: AsyncSession, telegram_id: int, call_id: int
    ) -> tuple[Member, WatchCall, WatchCampaign, WatchPerson] | Outcome:
        """The presser's own call of the campaign's current day, and its person.

        NOT_ALLOWED: not their call; EXPIRED: not the current day (or stopped); NOT_FOUND: the
        person left the register.
        """
        member = await member_store.get_by_telegram_id(session, telegram_id)
        call = await session.get(WatchCall, call_id)
        if member is None or call is None or call.caller_id != member.id:
            return Outcome.NOT_ALLOWED
        campaign = await session.get(WatchCampaign, call.campaign_id)
        if campaign is None or not campaign.running or campaign.day != call.day:
            return Outcome.EXPIRED
        person = await session.get(WatchPerson, call.person_id) if call.person_id else None
        if person is None:
            return Outcome.NOT_FOUND
        return member, call, campaign, person

    @staticmethod
    async def _list_of(
        session: AsyncSession, member: Member, campaign: WatchCampaign, call: WatchCall
    ) -> CallerList:
        """The caller's list of the call's day, as it now reads."""
        lines = await caller_lines(session, campaign.id, call.day, {member.id})
        return CallerList(
            call.day, campaign.window_start, campaign.window_end, lines.get(member.id, ())
        )

    async def caller_list(self, telegram_id: int, call_id: int) -> CallerList | Outcome:
        """⬅ from "what do they need?": the caller's list again, nothing recorded."""
        async with self._db.read() as session:
            found = await self._callers(session, telegram_id, call_id)
            if isinstance(found, Outcome):
                return found
            member, call, campaign, _person = found
            return await self._list_of(session, member, campaign, call)

    async def need_choices(self, telegram_id: int, call_id: int) -> NeedChoices | Outcome:
        """🙋 tapped: what the person may need (the skills /new offers), nothing recorded yet.

        Refused as `record` refuses; ALREADY_DONE: the call is no longer waiting."""
        async with self._db.read() as session:
            found = await self._callers(session, telegram_id, call_id)
            if isinstance(found, Outcome):
                return found
            _member, call, _campaign, person = found
            if call.outcome not in OPEN or call.escalated_at is not None:
                return Outcome.ALREADY_DONE
            skills = await session.execute(
                select(Skill.id, Skill.label).where(Skill.retired_at.is_(None)).order_by(Skill.id)
            )
            return NeedChoices(call.id, person.name, [(row.id, row.label) for row in skills])

    async def record_need(
        self, telegram_id: int, call_id: int, skill_id: int
    ) -> CallerList | Outcome:
        """🙋 then what is needed: the outcome NEEDS with the need; a request draft for the
        person's referent (the coordinators without one), or, for `CONCERN` (something else, a
        worry), a concern notice to the referent and the coordinators. The list as it now reads.

        Refused as `record` refuses; INVALID: a skill that is not offered (retired, forged).
        """
        now = self._clock()
        async with self._transaction() as session:
            found = await self._callers(session, telegram_id, call_id)
            if isinstance(found, Outcome):
                return found
            member, call, campaign, person = found
            skill = None
            if skill_id != CONCERN:
                skill = await session.get(Skill, skill_id)
                if skill is None or skill.retired_at is not None:
                    return Outcome.INVALID
            was = call.outcome
            moved = await self._move(
                session, call, CallOutcome.NEEDS, now, need=skill.id if skill else None
            )
            if moved is None:
                return Outcome.ALREADY_DONE
            await audit.record(
                session, "watch_call", call.id, "outcome", by=member.id, moved=(was, moved)
            )
            if skill is None:
                notice = PersonNeeds(person.name, member.display_name, CallOutcome.NEEDS)
                letters: list[Letter] = [
                    (notice, reader) for reader in await self._staff(session, person)
                ]
                await self._messenger.post(session, letters)
            else:
                draft = NeedDraft(
                    call.id, person.name, person.address, member.display_name, now, skill.label
                )
                referent = (
                    Reader.of(await session.get(Member, person.referent_id))
                    if person.referent_id
                    else None
                )
                readers = [referent] if referent else await coordinator_readers(session)
                rows = await self._messenger.post(session, [(draft, r) for r in readers])
                for row in rows:
                    row.batch_key = draft_batch(call.id)
            return await self._list_of(session, member, campaign, call)

    # --- the referent's draft ----------------------------------------------------------------

    async def decide_draft(
        self,
        telegram_id: int,
        call_id: int,
        decision: DraftDecision,
        *,
        tapped: tuple[int, int] | None = None,
    ) -> DraftAnswer | Outcome:
        """✖ Not needed, or ✏️ Edit first (then the request as /new's answers, for its
        preview): first decision wins; every other copy of the draft says who decided.
        (✅ is the posting service's: bot/services/requests/watch_drafts.py.)

        Refused as `check_draft` refuses; ✏️ only for referents (who post).
        """
        if decision not in (DraftDecision.DISMISS, DraftDecision.EDIT):
            return Outcome.INVALID
        async with self._transaction() as session:
            found = await check_draft(
                session, telegram_id, call_id, to_post=decision is DraftDecision.EDIT
            )
            if isinstance(found, Outcome):
                return found
            answers = None
            if decision is DraftDecision.EDIT:
                reader = Reader.of(found.member)
                assert reader is not None
                answers = await prefill(session, found, self._messenger.translator(reader))
            if not await claim_draft(session, found, decision):
                return Outcome.ALREADY_DONE
            done = DraftOutcome(found.person.name, found.member.display_name, decision)
            await edit_copies(session, self._messenger, call_id, done, tapped)
            return DraftAnswer(done, answers)

    async def draft_decided(self, call_id: int) -> DraftOutcome | None:
        """A draft already decided: who decided what (for a late tap)."""
        async with self._db.read() as session:
            call = await session.get(WatchCall, call_id)
            if call is None or call.draft_decision is None:
                return None
            person = await session.get(WatchPerson, call.person_id) if call.person_id else None
            if person is None:
                return None
            return DraftOutcome(person.name, await decider_of(session, call), call.draft_decision)

    async def _move(
        self,
        session: AsyncSession,
        call: WatchCall,
        outcome: CallOutcome,
        now: datetime,
        *,
        need: int | None = None,
    ) -> CallOutcome | None:
        """Record the outcome with a conditional UPDATE; the outcome stored, or None."""
        waiting = [
            WatchCall.id == call.id,
            WatchCall.escalated_at.is_(None),
            WatchCall.outcome.in_(OPEN),
        ]
        if outcome is CallOutcome.NO_ANSWER:
            if call.outcome is CallOutcome.PENDING:
                values = {
                    "outcome": CallOutcome.NO_ANSWER,
                    "first_no_answer_at": now,
                    "retry_at": now + RETRY_AFTER,
                }
                waiting.append(WatchCall.outcome == CallOutcome.PENDING)
            else:
                # The second no-answer of the day: escalated at once.
                values = {
                    "second_no_answer_at": now,
                    "retry_at": None,
                    "escalated_at": now,
                    "repeat_at": now + self._escalation_repeat,
                }
                waiting.append(WatchCall.second_no_answer_at.is_(None))
        elif outcome in (CallOutcome.WELL, CallOutcome.NEEDS, CallOutcome.EMERGENCY):
            values = {"outcome": outcome, "outcome_at": now, "retry_at": None}
            if outcome is CallOutcome.NEEDS:
                values["need_skill_id"] = need
        else:
            return None
        moved = await changed(
            session, update(WatchCall).where(*waiting).values(**values).returning(WatchCall.id)
        )
        if moved is None:
            return None
        await session.refresh(call)
        return outcome

    @property
    def _escalation_repeat(self) -> timedelta:
        """How long an escalation waits for someone to act before every coordinator is told."""
        return timedelta(minutes=self._settings.watch_escalation_minutes)

    # --- timers ------------------------------------------------------------------------------

    async def _retries(self, now: datetime) -> int:
        """An hour after a no-answer: the caller's list again, "time to call … again"."""
        sent = 0
        async with self._transaction() as session:
            due = (
                await session.execute(
                    update(WatchCall)
                    .where(
                        WatchCall.retry_at <= now,
                        WatchCall.outcome == CallOutcome.NO_ANSWER,
                        WatchCall.escalated_at.is_(None),
                    )
                    .values(retry_at=None)
                    .returning(WatchCall.id)
                )
            ).scalars()
            due_ids = list(due)
            if not due_ids:
                return 0
            rows = await session.execute(
                select(WatchCall, WatchCampaign, WatchPerson.name, Member)
                .join(WatchCampaign, WatchCampaign.id == WatchCall.campaign_id)
                .join(WatchPerson, WatchPerson.id == WatchCall.person_id)
                .join(Member, Member.id == WatchCall.caller_id)
                .where(
                    WatchCall.id.in_(due_ids),
                    WatchCampaign.running.is_(True),
                    WatchCampaign.day == WatchCall.day,
                )
            )
            due_rows = rows.all()
            # One query per campaign day for the lists (not one per call), one insert for all.
            wanted: dict[tuple[int, date], set[int]] = {}
            for call, campaign, _name, caller in due_rows:
                wanted.setdefault((campaign.id, call.day), set()).add(caller.id)
            lists = {
                key: await caller_lines(session, key[0], key[1], callers)
                for key, callers in wanted.items()
            }
            sending: dict[tuple[int, date], list[tuple[int, Letter]]] = {}
            for call, campaign, name, caller in due_rows:
                reader = Reader.of(caller)
                if reader is None:
                    continue
                key = (campaign.id, call.day)
                notice = CallerList(
                    call.day,
                    campaign.window_start,
                    campaign.window_end,
                    lists[key].get(caller.id, ()),
                    again=name,
                )
                sending.setdefault(key, []).append((caller.id, (notice, reader)))
                sent += 1
            for (campaign_id, day), letters in sending.items():
                await self._send_lists(session, campaign_id, day, letters)
        return sent

    async def _close_windows(self, now: datetime) -> int:
        """At a window's end: everyone not reached is escalated to their referent and the
        coordinators, with the day's tries."""
        escalated = 0
        for campaign_id in await self._due(WatchCampaign.window_ends_at, now):
            async with self._transaction() as session:
                campaign = await self._claim(
                    session, campaign_id, WatchCampaign.window_ends_at, now
                )
                if campaign is None or campaign.day is None:
                    continue
                ids = list(
                    (
                        await session.execute(
                            update(WatchCall)
                            .where(
                                WatchCall.campaign_id == campaign_id,
                                WatchCall.day == campaign.day,
                                WatchCall.outcome.in_(OPEN),
                                WatchCall.escalated_at.is_(None),
                                WatchCall.person_id.is_not(None),
                            )
                            .values(
                                escalated_at=now,
                                retry_at=None,
                                repeat_at=now + self._escalation_repeat,
                            )
                            .returning(WatchCall.id)
                        )
                    ).scalars()
                )
                calls = list(
                    (
                        await session.execute(
                            select(WatchCall).where(WatchCall.id.in_(ids)).order_by(WatchCall.id)
                        )
                    ).scalars()
                )
                await self._unreached(session, calls, repeated=False)
                removed = await self._lists_removed(session, campaign_id, campaign.day, now)
                await self._messenger.post(session, removed)
                escalated += len(calls)
        return escalated

    async def _repeats(self, now: datetime) -> int:
        """Escalations nobody acted on: told again to every coordinator, once."""
        async with self._transaction() as session:
            ids = list(
                (
                    await session.execute(
                        update(WatchCall)
                        .where(WatchCall.repeat_at <= now, WatchCall.acknowledged_at.is_(None))
                        .values(repeat_at=None)
                        .returning(WatchCall.id)
                    )
                ).scalars()
            )
            if not ids:
                return 0
            calls = list(
                (
                    await session.execute(
                        select(WatchCall).where(WatchCall.id.in_(ids)).order_by(WatchCall.id)
                    )
                ).scalars()
            )
            await self._unreached(session, calls, repeated=True)
            return len(calls)

    async def _unreached(
        self, session: AsyncSession, calls: list[WatchCall], *, repeated: bool
    ) -> None:
        """The alerts about people nobody reached: to their referent and the coordinators (a
        repetition: to the coordinators), with few queries whatever the number of people. Each
        copy is kept in its call's batch (`alert_batch`), to be edited once someone acts."""
        person_ids = [call.person_id for call in calls if call.person_id is not None]
        if not person_ids:
            return
        people = {
            person.id: person
            for person in (
                await session.execute(select(WatchPerson).where(WatchPerson.id.in_(person_ids)))
            ).scalars()
        }
        member_ids = {
            *(person.referent_id for person in people.values() if person.referent_id),
            *(call.caller_id for call in calls if call.caller_id),
        }
        members = {
            member.id: member
            for member in (
                await session.execute(select(Member).where(Member.id.in_(member_ids)))
            ).scalars()
        }
        coordinators = await coordinator_readers(session)
        alerts: list[tuple[Unreached, Reader]] = []
        for call in calls:
            person = people.get(call.person_id or 0)
            if person is None:
                continue
            caller = members.get(call.caller_id or 0)
            tries = tuple(
                moment
                for moment in (call.first_no_answer_at, call.second_no_answer_at)
                if moment is not None
            )
            notice = Unreached(
                call.id,
                person.name,
                person.address,
                caller.display_name if caller else None,
                tries,
                repeated=repeated,
            )
            readers = list(coordinators)
            referent = Reader.of(members.get(person.referent_id or 0))
            if not repeated and referent is not None and referent not in readers:
                readers.insert(0, referent)
            alerts += [(notice, reader) for reader in readers]
        action = "repeated" if repeated else "escalated"
        await audit.record_each(session, "watch_call", [call.id for call in calls], action)
        rows = await self._messenger.post(session, alerts)
        for (sent, _reader), row in zip(alerts, rows, strict=True):
            row.batch_key = alert_batch(sent.call_id)

    async def _staff(self, session: AsyncSession, person: WatchPerson) -> list[Reader]:
        """The person's referent, then the coordinators."""
        readers = await coordinator_readers(session)
        referent = (
            Reader.of(await session.get(Member, person.referent_id)) if person.referent_id else None
        )
        if referent is not None and referent not in readers:
            readers.insert(0, referent)
        return readers

    # --- acknowledging an escalation ---------------------------------------------------------

    async def acknowledge(
        self,
        telegram_id: int,
        call_id: int,
        acknowledgement: Acknowledgement,
        *,
        tapped: tuple[int, int] | None = None,
    ) -> Acknowledged | Outcome:
        """A referent (the person's) or a coordinator says what they do; the repetition stops,
        and every other copy of the alert (`tapped`: the chat and message id of the one tapped,
        edited by the handler) says who acts, without buttons.

        ALREADY_DONE: someone said it first (nothing changes).
        """
        now = self._clock()
        async with self._transaction() as session:
            found = await self._member_roles(session, telegram_id)
            call = await session.get(WatchCall, call_id)
            if found is None or call is None or call.escalated_at is None:
                return Outcome.NOT_ALLOWED if found is None else Outcome.NOT_FOUND
            member, roles = found
            person = await session.get(WatchPerson, call.person_id) if call.person_id else None
            is_referent = person is not None and person.referent_id == member.id
            if Role.COORDINATOR not in roles and not (Role.REFERENT in roles and is_referent):
                return Outcome.NOT_ALLOWED
            if person is None:
                return Outcome.NOT_FOUND
            taken = await changed(
                session,
                update(WatchCall)
                .where(WatchCall.id == call_id, WatchCall.acknowledged_at.is_(None))
                .values(
                    acknowledged_at=now,
                    acknowledged_by_id=member.id,
                    acknowledgement=acknowledgement,
                    repeat_at=None,
                    **(
                        {"outcome": CallOutcome.WELL, "outcome_at": now}
                        if acknowledgement is Acknowledgement.REACHED
                        else {}
                    ),
                )
                .returning(WatchCall.id),
            )
            if taken is None:
                return Outcome.ALREADY_DONE
            await audit.record(
                session,
                "watch_call",
                call_id,
                "acknowledged",
                by=member.id,
                detail={"action": acknowledgement.value},
            )
            done = Acknowledged(person.name, member.display_name, acknowledgement)
            await self._answer_copies(session, call_id, done, tapped)
            return done

    async def _answer_copies(
        self,
        session: AsyncSession,
        call_id: int,
        done: Acknowledged,
        tapped: tuple[int, int] | None,
    ) -> None:
        """Every copy of the call's alerts but the tapped one, as it now stands."""
        await self._messenger.follow_copies(
            session,
            alert_batch(call_id),
            tapped,
            lambda message_id: AlertAnswered(done.name, done.who, done.acknowledgement, message_id),
        )
