"""A silent caller is replaced: by the middle of a day's window, a caller who recorded nothing on
their list has the people still to call given to other callers with room (the fewest calls
first, nearest first), both told; the next day they are given people after everyone else
(bot/services/watch/assignment.py).

The middle of the window is a timer (`watch_campaigns.silence_at`) claimed with a conditional
UPDATE, so one process alone does it; the calls move in one UPDATE that only takes calls still
pending with their silent caller (a tap at that very moment keeps its call).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import date, datetime

from sqlalchemy import case, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.watch import CallOutcome
from bot.messages.base import Reader
from bot.messages.messenger import Letter
from bot.messages.watch_calls import CallerList, CallsPassedOn
from bot.services.watch.assignment import assign
from bot.services.watch.campaigns import (
    CampaignService,
    available_callers,
    caller_lines,
    registered_people,
    restated,
    silence_minute,
)
from storage import audit
from storage.models import Member, OutboxMessage
from storage.watch_models import WatchCall, WatchCampaign, WatchList


class SilentCallers(CampaignService):
    """The middle of each window: silent callers' people given to others."""

    async def _silences(self, now: datetime) -> int:
        """Every running campaign whose window's middle has come; how many calls moved."""
        moved = 0
        for campaign_id in await self._due(WatchCampaign.silence_at, now):
            async with self._transaction() as session:
                # The end of the window, read before the claim clears the middle.
                ends = (
                    await session.execute(
                        select(WatchCampaign.window_ends_at).where(WatchCampaign.id == campaign_id)
                    )
                ).scalar_one_or_none()
                campaign = await self._claim(session, campaign_id, WatchCampaign.silence_at, now)
                if campaign is None or campaign.day is None:
                    continue
                if ends is None or ends <= now:
                    continue  # the window is over (the bot was down): nothing to move now
                moved += await self._replace(session, campaign, campaign.day, now)
        return moved

    async def _replace(
        self, session: AsyncSession, campaign: WatchCampaign, day: date, now: datetime
    ) -> int:
        """Move the silent callers' pending calls; tell them and their replacements."""
        calls = list(
            (
                await session.execute(
                    select(WatchCall).where(
                        WatchCall.campaign_id == campaign.id,
                        WatchCall.day == day,
                        WatchCall.caller_id.is_not(None),
                        WatchCall.person_id.is_not(None),
                    )
                )
            ).scalars()
        )
        active = {
            call.caller_id
            for call in calls
            if call.outcome_at is not None or call.first_no_answer_at is not None
        }
        silent = {call.caller_id for call in calls} - active
        waiting = {
            call.person_id: call
            for call in calls
            if call.caller_id in silent
            and call.outcome is CallOutcome.PENDING
            and call.escalated_at is None
        }
        if not waiting:
            return 0
        others = [
            caller
            for caller_id, caller in (await available_callers(session, now)).items()
            if caller_id not in silent
        ]
        people = [
            replace(person, regular_id=None)
            for person in await registered_people(session)
            if person.id in waiting
        ]
        load = Counter(call.caller_id for call in calls if call.caller_id is not None)
        decided = assign(people, others, self._settings.watch_calls_per_volunteer, dict(load))
        if not decided.callers:
            return 0  # nobody has room: they stay with their caller, never without one
        new_caller = {waiting[person].id: caller for person, caller in decided.callers.items()}
        moved = (
            await session.execute(
                update(WatchCall)
                .where(
                    WatchCall.id.in_(new_caller),
                    WatchCall.outcome == CallOutcome.PENDING,
                    WatchCall.caller_id.in_(silent),
                )
                .values(caller_id=case(new_caller, value=WatchCall.id))
                .returning(WatchCall.id, WatchCall.caller_id)
                .execution_options(synchronize_session=False)
            )
        ).all()
        if not moved:
            return 0
        old_caller = {call.id: call.caller_id for call in calls}
        for call in calls:
            session.expire(call)  # moved in SQL: read again with their new callers
        lost = Counter(old_caller[call_id] for call_id, _caller in moved)
        gained = Counter(caller_id for _call, caller_id in moved)
        await session.execute(
            update(WatchList)
            .where(
                WatchList.campaign_id == campaign.id,
                WatchList.day == day,
                WatchList.caller_id.in_(lost),
            )
            .values(replaced_at=now)
        )
        await self._tell(session, campaign, day, lost, gained)
        await audit.record(
            session,
            "watch_campaign",
            campaign.id,
            "silent_replaced",
            detail={"day": day.isoformat(), "callers": len(lost), "calls": len(moved)},
        )
        return len(moved)

    async def _tell(
        self,
        session: AsyncSession,
        campaign: WatchCampaign,
        day: date,
        lost: Counter[int | None],
        gained: Counter[int | None],
    ) -> None:
        """The silent callers: their lists without the people given away, and why; the others:
        their list with the people added (one query for the lists, one for the members)."""
        everyone = {caller for caller in (*lost, *gained) if caller is not None}
        lines = await caller_lines(session, campaign.id, day, everyone)
        members = {
            member.id: member
            for member in (
                await session.execute(select(Member).where(Member.id.in_(everyone)))
            ).scalars()
        }
        letters: list[Letter] = []
        listed = await session.execute(
            select(WatchList, OutboxMessage)
            .join(OutboxMessage, OutboxMessage.id == WatchList.outbox_id)
            .where(
                WatchList.campaign_id == campaign.id,
                WatchList.day == day,
                WatchList.caller_id.in_(list(lost)),
                WatchList.removed_at.is_(None),
            )
        )
        for sent_list, row in listed.all():
            owner = sent_list.caller_id or 0
            in_chat = Reader.in_chat(row.chat_id, members.get(owner))
            updated = CallerList(
                day, campaign.window_start, campaign.window_end, lines.get(owner, ())
            )
            letter = restated(self._messenger, row, in_chat, updated)
            if letter is not None:
                letters.append(letter)
        by = silence_minute(campaign)
        for caller_id, count in lost.items():
            reader = Reader.of(members.get(caller_id or 0))
            if reader is not None:
                letters.append((CallsPassedOn(count, by), reader))
        await self._messenger.post(session, letters)
        sending: list[tuple[int, Letter]] = []
        for caller_id, count in gained.items():
            reader = Reader.of(members.get(caller_id or 0))
            if caller_id is not None and reader is not None:
                notice = CallerList(
                    day,
                    campaign.window_start,
                    campaign.window_end,
                    lines.get(caller_id, ()),
                    added=count,
                )
                sending.append((caller_id, (notice, reader)))
        await self._send_lists(session, campaign.id, day, sending)
