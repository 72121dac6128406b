"""Issue 18, a watch campaign's days on SQLite and PostgreSQL: one caller per person and day
(the regular kept, at most the limit each, a paused caller replaced), the lists sent once, the
outcomes, the hour before calling again, the escalations and their repetition, a removed person
no longer called."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, replace
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.app import build_services
from bot.context import Services
from bot.domain.vocabulary import Role
from bot.domain.watch import (
    CONCERN,
    Acknowledgement,
    CallOutcome,
    CampaignKind,
    Consent,
    RegisteredBy,
    WatchField,
)
from bot.messages.watch_calls import (
    AlertAnswered,
    CallerList,
    CallerListChanged,
    CallsPassedOn,
    CampaignEnded,
    PersonNeeds,
    Uncovered,
    Unreached,
)
from bot.services.invites import CreatedInvite
from bot.services.members import TelegramIdentity
from bot.services.outcomes import Outcome
from bot.services.watch import RegisterService, WatchService
from bot.services.watch.calls import Acknowledged, alert_batch
from bot.services.watch.campaigns import CampaignPlan, CampaignView
from bot.services.watch.register import Entry
from bot.services.watch.report import CampaignReport
from storage.database import Database
from storage.models import OutboxMessage, OutboxStatus
from storage.watch_models import WatchCall, WatchList
from testkit.clock import ManualClock
from testkit.harness import brigade_settings
from testkit.messages import RecordingMessenger
from tests.conftest import COORDINATOR_ID
from tests.factories import CENTRE, approve_application, east, enrol

RITA = 5_001
CALLERS = [6_001 + index for index in range(6)]
# 11:00–14:00 in Paris; the test clock starts at 10:00 there (09:00 UTC).
PLAN = CampaignPlan(CampaignKind.HEAT, window_start=11 * 60, window_end=14 * 60)


@dataclass
class Person:
    """Enough of a Telegram user for the factories."""

    id: int
    first_name: str


@dataclass
class Town:
    services: Services
    sent: RecordingMessenger


@pytest.fixture
async def town(database: Database) -> Town:
    settings = brigade_settings(
        database.url, coordinator_ids=[COORDINATOR_ID], watch_calls_per_volunteer=8
    )
    built = build_services(settings, database)
    recording = RecordingMessenger(built.i18n, settings)
    services = replace(
        built,
        watch=WatchService(database, recording, settings),
        register=RegisterService(database, recording),
    )
    await services.members.identify(TelegramIdentity(COORDINATOR_ID, "Claire"))
    await services.members.identify(TelegramIdentity(RITA, "Rita"))
    created = await services.invites.create(COORDINATOR_ID, Role.REFERENT)
    assert isinstance(created, CreatedInvite)
    assert (await services.invites.redeem(created.token, RITA)).outcome is Outcome.DONE
    return Town(services, recording)


async def _callers(town: Town) -> dict[int, int]:
    """Six approved volunteers holding the phone-calls skill: member id → Telegram id."""
    members = {}
    for index, telegram_id in enumerate(CALLERS):
        person = Person(telegram_id, f"Caller{index}")
        member_id = await enrol(town, person, km=0.2 * index, skills=("phone_call",))
        await approve_application(town, person)
        members[member_id] = telegram_id
    # A volunteer without the skill is never given anyone.
    await enrol(town, Person(7_000, "Plumber"), skills=("plumbing",))
    await approve_application(town, Person(7_000, "Plumber"))
    return members


async def _register(town: Town, count: int) -> list[int]:
    ids = []
    for index in range(count):
        entry = Entry(
            name=f"Personne {index:02d}",
            phone=f"+33 2 35 00 {index:02d} {index:02d}",
            address=f"{index} rue de la Canicule",
            registered_by=RegisteredBy.SELF,
            consent=Consent.WRITTEN,
            language="fr",
        )
        added = await town.services.register.add(RITA, entry)
        assert isinstance(added, int)
        ids.append(added)
    return ids


async def _calls(database: Database, day_index: int | None = None) -> list[WatchCall]:
    async with database.read() as session:
        rows = list((await session.execute(select(WatchCall).order_by(WatchCall.id))).scalars())
    if day_index is None:
        return rows
    days = sorted({row.day for row in rows})
    return [row for row in rows if row.day == days[day_index]]


async def test_three_days_of_calls(town: Town, database: Database, clock: ManualClock) -> None:
    watch, sent = town.services.watch, town.sent
    members = await _callers(town)
    people = await _register(town, 40)

    # Only a coordinator starts a campaign; one runs at a time.
    assert await watch.start(RITA, PLAN) is Outcome.NOT_ALLOWED
    assert await watch.start(COORDINATOR_ID, replace(PLAN, window_end=10 * 60)) is Outcome.INVALID
    campaign = await watch.start(COORDINATOR_ID, PLAN)
    assert isinstance(campaign, CampaignView)
    assert await watch.start(COORDINATOR_ID, PLAN) is Outcome.ALREADY_DONE

    # Before the window, nothing; at its start, each person gets exactly one caller, at most 8
    # each, and each caller one list (through the outbox).
    assert (await watch.run_due())["watch_days"] == 0
    clock.advance(hours=1)
    done = await watch.run_due()
    assert (done["watch_days"], done["watch_calls"], done["watch_uncovered"]) == (1, 40, 0)
    assert (await watch.run_due())["watch_days"] == 0  # claimed once
    day1 = await _calls(database, 0)
    assert sorted(call.person_id for call in day1) == people
    load = Counter(call.caller_id for call in day1)
    assert set(load) == set(members)
    assert max(load.values()) <= 8
    assert sorted(sent.readers(CallerList)) == sorted(CALLERS)
    assert not sent.of(Uncovered)

    # Outcomes, each by the person's own caller.
    owner = {call.id: members[call.caller_id or 0] for call in day1}
    first, second, third, fourth, *rest = day1
    other = next(tid for tid in CALLERS if tid != owner[first.id])
    assert await watch.record(other, first.id, CallOutcome.WELL) is Outcome.NOT_ALLOWED
    listed = await watch.record(owner[first.id], first.id, CallOutcome.WELL)
    assert isinstance(listed, CallerList)
    assert {line.call_id: line.outcome for line in listed.lines}[first.id] is CallOutcome.WELL
    assert await watch.record_need(owner[first.id], first.id, CONCERN) is Outcome.ALREADY_DONE
    # 🙋 comes with what is needed (here a worry: told to the referent and the coordinators).
    assert await watch.record(owner[second.id], second.id, CallOutcome.NEEDS) is Outcome.INVALID
    assert isinstance(await watch.record_need(owner[second.id], second.id, CONCERN), CallerList)
    assert sent.readers(PersonNeeds) == [RITA, COORDINATOR_ID]
    # Two no-answers: escalated at once to the referent and the coordinators.
    await watch.record(owner[third.id], third.id, CallOutcome.NO_ANSWER)
    clock.advance(minutes=30)
    assert (await watch.run_due())["watch_retries"] == 0
    clock.advance(minutes=31)
    assert (await watch.run_due())["watch_retries"] == 1
    again = sent.of(CallerList, to=owner[third.id])[-1]
    assert again.again is not None
    await watch.record(owner[third.id], third.id, CallOutcome.NO_ANSWER)
    assert sent.readers(Unreached) == [RITA, COORDINATOR_ID]
    alert = sent.of(Unreached)[0]
    assert alert.call_id == third.id
    assert len(alert.tries) == 2
    for call in rest:
        assert isinstance(await watch.record(owner[call.id], call.id, CallOutcome.WELL), CallerList)
    # A coordinator acknowledges the first; a second tap changes nothing; a volunteer cannot.
    assert await watch.acknowledge(CALLERS[0], third.id, Acknowledgement.GO) is (
        Outcome.NOT_ALLOWED
    )
    # Rita's copy was delivered, the coordinator's is the one tapped: Rita's is edited, not the
    # tapped one (its handler edits it).
    async with database.transaction() as session:
        copies = list(
            (
                await session.execute(
                    select(OutboxMessage)
                    .where(OutboxMessage.batch_key == alert_batch(third.id))
                    .order_by(OutboxMessage.id)
                )
            ).scalars()
        )
        assert [copy.chat_id for copy in copies] == [RITA, COORDINATOR_ID]
        for copy in copies:
            copy.status, copy.telegram_message_id = OutboxStatus.SENT, 900 + copy.id
        tapped = (COORDINATOR_ID, 900 + copies[1].id)
    acknowledged = await watch.acknowledge(
        COORDINATOR_ID, third.id, Acknowledgement.POLICE, tapped=tapped
    )
    assert isinstance(acknowledged, Acknowledged)
    edits = sent.of(AlertAnswered)
    assert [(edit.message_id, edit.who) for edit in edits] == [(900 + copies[0].id, "Claire")]
    assert sent.readers(AlertAnswered) == [RITA]
    assert sent.rendered(edits[0], sent.sent[-1][1]).keyboard is None
    assert await watch.acknowledge(RITA, third.id, Acknowledgement.GO) is Outcome.ALREADY_DONE
    # The window ends: the one nobody tapped for is escalated too.
    clock.advance(hours=2)
    done = await watch.run_due()
    assert done["watch_escalated"] == 1
    assert [notice.call_id for notice in sent.of(Unreached, to=RITA)] == [third.id, fourth.id]
    # An hour later, only the unacknowledged one is told again, to the coordinators only.
    clock.advance(minutes=61)
    assert (await watch.run_due())["watch_repeated"] == 1
    repeated = [notice for notice in sent.of(Unreached) if notice.repeated]
    assert [notice.call_id for notice in repeated] == [fourth.id]
    assert sent.readers(Unreached)[-1] == COORDINATOR_ID
    # Rita goes: the first alert and its repetition, not sent yet, go out saying so, without
    # buttons.
    assert isinstance(await watch.acknowledge(RITA, fourth.id, Acknowledgement.GO), Acknowledged)
    async with database.read() as session:
        payloads = [
            row.payload
            for row in (
                await session.execute(
                    select(OutboxMessage).where(OutboxMessage.batch_key == alert_batch(fourth.id))
                )
            ).scalars()
        ]
    assert len(payloads) == 3  # Rita and the coordinator, then the coordinator again
    assert all(payload["reply_markup"] is None for payload in payloads)
    name = f"Personne {people.index(fourth.person_id or 0):02d}"
    assert all(
        payload["text"].startswith(name) and "Rita — " in payload["text"] for payload in payloads
    ), payloads

    # Day 2: a caller paused; everyone else keeps their regular caller.
    paused_tid = owner[rest[0].id]
    paused_member = next(member for member, tid in members.items() if tid == paused_tid)
    assert not isinstance(
        await town.services.profile.pause(paused_tid, clock() + timedelta(days=3)), Outcome
    )
    removed = people[-1]
    assert await town.services.register.remove(RITA, removed) is Outcome.DONE
    clock.advance(hours=20)
    done = await watch.run_due()
    assert (done["watch_days"], done["watch_calls"]) == (1, 39)
    day2 = await _calls(database, 1)
    assert removed not in {call.person_id for call in day2}
    assert paused_member not in {call.caller_id for call in day2}
    assert max(Counter(call.caller_id for call in day2).values()) <= 8
    yesterday = {call.person_id: call.caller_id for call in day1}
    for call in day2:
        if yesterday[call.person_id] != paused_member:
            assert call.caller_id == yesterday[call.person_id]
    assert await watch.record(owner[first.id], first.id, CallOutcome.WELL) is Outcome.EXPIRED

    # Day 3, then the coordinator stops the campaign: no more days.
    clock.advance(days=1)
    assert (await watch.run_due())["watch_calls"] == 39
    assert await watch.stop(RITA, campaign.id) is Outcome.NOT_ALLOWED
    assert await watch.stop(COORDINATOR_ID, campaign.id) is Outcome.DONE
    # The day's lists (still unsent here) will never be: the calls are over.
    async with database.read() as session:
        waiting = (
            await session.execute(
                select(func.count())
                .select_from(OutboxMessage)
                .where(
                    OutboxMessage.chat_id.in_(CALLERS),
                    OutboxMessage.status == OutboxStatus.PENDING,
                )
            )
        ).scalar_one()
    assert waiting == 0
    assert await watch.stop(COORDINATOR_ID, campaign.id) is Outcome.ALREADY_DONE
    clock.advance(days=1)
    assert (await watch.run_due())["watch_days"] == 0
    assert len(await _calls(database)) == 40 + 39 + 39

    # The report's figures equal a count of the database's rows, and hold no name or phone.
    reports = town.services.watch_reports
    assert await reports.report(RITA, campaign.id) is Outcome.NOT_ALLOWED
    report = await reports.report(COORDINATOR_ID, campaign.id)
    assert isinstance(report, CampaignReport)
    calls = await _calls(database)
    days = sorted({call.day for call in calls})
    assert [row.day for row in report.days] == days
    for row in report.days:
        of_day = [call for call in calls if call.day == row.day]
        outcomes = Counter(call.outcome for call in of_day)
        assert row.calls == len(of_day)
        assert (row.well, row.needs, row.emergency, row.no_answer, row.not_called) == (
            outcomes[CallOutcome.WELL],
            outcomes[CallOutcome.NEEDS],
            outcomes[CallOutcome.EMERGENCY],
            outcomes[CallOutcome.NO_ANSWER],
            outcomes[CallOutcome.PENDING],
        )
        assert row.escalated == sum(call.escalated_at is not None for call in of_day)
        assert row.acknowledged == sum(call.acknowledged_at is not None for call in of_day)
    assert (report.days[0].escalated, report.days[0].acknowledged) == (2, 2)
    content = report.csv().decode("utf-8-sig")
    assert content.splitlines()[-1].startswith("total,118,")
    assert "Personne" not in content
    assert "+33" not in content


async def test_too_few_callers_tell_the_coordinators_who_is_uncovered(
    town: Town, database: Database, clock: ManualClock
) -> None:
    members = await _callers(town)
    await _register(town, 50)  # 6 callers × 8 = 48
    assert isinstance(await town.services.watch.start(COORDINATOR_ID, PLAN), CampaignView)
    clock.advance(hours=1)
    done = await town.services.watch.run_due()
    assert (done["watch_calls"], done["watch_uncovered"]) == (48, 2)
    assert Counter(call.caller_id for call in await _calls(database)) == dict.fromkeys(members, 8)
    uncovered = town.sent.of(Uncovered, to=COORDINATOR_ID)
    assert [len(notice.names) for notice in uncovered] == [2]


async def test_two_sweeps_at_once_open_the_day_once(
    town: Town, database: Database, clock: ManualClock
) -> None:
    await _callers(town)
    await _register(town, 12)
    assert isinstance(await town.services.watch.start(COORDINATOR_ID, PLAN), CampaignView)
    clock.advance(hours=1)
    # A second process: its own service on the same database.
    other = WatchService(
        database,
        RecordingMessenger(town.services.i18n, town.services.settings),
        town.services.settings,
    )
    first, second = await asyncio.gather(town.services.watch.run_due(), other.run_due())
    assert first["watch_days"] + second["watch_days"] == 1
    assert len(await _calls(database)) == 12
    async with database.read() as session:
        lists = (
            await session.execute(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.chat_id.in_(CALLERS))
            )
        ).scalar_one()
    assert lists == len({call.caller_id for call in await _calls(database)})


async def test_a_campaign_past_its_end_date_stops_and_tells_the_coordinators(
    town: Town, database: Database, clock: ManualClock
) -> None:
    await _callers(town)
    await _register(town, 3)
    today = clock().astimezone(town.services.settings.tz).date()
    plan = replace(PLAN, ends_on=today + timedelta(days=1))
    assert isinstance(await town.services.watch.start(COORDINATOR_ID, plan), CampaignView)
    clock.advance(hours=1)
    assert (await town.services.watch.run_due())["watch_days"] == 1
    clock.advance(days=1)
    assert (await town.services.watch.run_due())["watch_days"] == 1
    clock.advance(days=1)
    done = await town.services.watch.run_due()
    assert (done["watch_days"], done["watch_ended"]) == (0, 1)
    assert town.sent.readers(CampaignEnded) == [COORDINATOR_ID]
    assert await town.services.watch.current(COORDINATOR_ID) is None
    clock.advance(days=1)
    assert (await town.services.watch.run_due())["watch_ended"] == 0


async def test_a_person_removed_mid_day_leaves_the_lists_already_made(
    town: Town, database: Database, clock: ManualClock
) -> None:
    await _callers(town)
    people = await _register(town, 12)
    assert isinstance(await town.services.watch.start(COORDINATOR_ID, PLAN), CampaignView)
    clock.advance(hours=1)
    await town.services.watch.run_due()
    calls = {call.person_id: call for call in await _calls(database)}
    async with database.transaction() as session:
        rows = {
            row.chat_id: row
            for row in (
                await session.execute(
                    select(OutboxMessage).where(OutboxMessage.chat_id.in_(CALLERS))
                )
            ).scalars()
        }
        # One list was already delivered (message 77); the others still wait in the outbox.
        delivered = next(iter(rows.values()))
        delivered.status, delivered.telegram_message_id = OutboxStatus.SENT, 77
    members = await _member_map(town)
    caller_of = {person: members[calls[person].caller_id or 0] for person in people}
    first = next(person for person in people if caller_of[person] == delivered.chat_id)
    unsent = next(person for person in people if caller_of[person] != delivered.chat_id)

    assert await town.services.register.remove(RITA, first) is Outcome.DONE
    edits = town.sent.of(CallerListChanged, to=delivered.chat_id)
    assert [edit.message_id for edit in edits] == [77]
    assert calls[first].id not in {line.call_id for line in edits[0].updated.lines}

    assert await town.services.register.remove(RITA, unsent) is Outcome.DONE
    async with database.read() as session:
        waiting = (
            await session.execute(
                select(OutboxMessage).where(OutboxMessage.chat_id == caller_of[unsent])
            )
        ).scalar_one()
    index = people.index(unsent)
    assert f"Personne {index:02d}" not in str(waiting.payload)
    assert f"+33 2 35 00 {index:02d} {index:02d}" not in str(waiting.payload)


async def _member_map(town: Town) -> dict[int, int]:
    """Member id → Telegram id of the callers."""
    found = {}
    for telegram_id in CALLERS:
        member = await town.services.members.find(telegram_id)
        assert member is not None
        found[member.id] = telegram_id
    return found


async def test_coverage_by_neighbourhood(
    town: Town, database: Database, clock: ManualClock
) -> None:
    """Each entry counts in the neighbourhood whose centre is nearest its place; an entry
    without a place counts apart; the neighbourhoods add up to the town's figures."""
    services = town.services
    for name, (latitude, longitude) in (("Centre-Ville", CENTRE), ("Biollay", east(5))):
        created = await services.neighbourhoods.create(
            COORDINATOR_ID, name, latitude, longitude, 1.0
        )
        assert not isinstance(created, Outcome)
    members = await _callers(town)
    places = [east(0.2), east(0.4), east(4.8), None]
    ids = []
    for index, place in enumerate(places):
        entry = Entry(
            name=f"Personne {index}",
            phone=f"+33 2 35 00 00 {index:02d}",
            address=f"{index} rue du Quartier",
            registered_by=RegisteredBy.SELF,
            consent=Consent.ORAL,
            language="fr",
            latitude=None if place is None else place[0],
            longitude=None if place is None else place[1],
        )
        added = await services.register.add(RITA, entry)
        assert isinstance(added, int)
        ids.append(added)
    # A new address moves the entry to its own nearest neighbourhood.
    assert (
        await services.register.edit(
            RITA, ids[1], WatchField.ADDRESS, "2 avenue du Biollay", place=east(5.1)
        )
        is Outcome.DONE
    )

    await services.watch.start(COORDINATOR_ID, PLAN)
    clock.advance(hours=1)
    assert (await services.watch.run_due())["watch_calls"] == 4
    calls = {call.person_id: call for call in await _calls(database)}
    first = calls[ids[0]]
    assert first.caller_id is not None
    recorded = await services.watch.record(members[first.caller_id], first.id, CallOutcome.WELL)
    assert not isinstance(recorded, Outcome)

    found = await services.watch.figures(COORDINATOR_ID)
    assert isinstance(found, tuple)
    figures = found[1]
    by_name = {area.name: area.figures for area in figures.areas}
    assert list(by_name) == ["Biollay", "Centre-Ville", None]
    assert (by_name["Centre-Ville"].registered, by_name["Centre-Ville"].reached) == (1, 1)
    assert (by_name["Biollay"].registered, by_name["Biollay"].not_called) == (2, 2)
    assert (by_name[None].registered, by_name[None].not_called) == (1, 1)
    assert sum(area.registered for area in by_name.values()) == figures.registered == 4
    assert sum(area.not_called for area in by_name.values()) == figures.not_called == 3
    assert await services.watch.figures(RITA) is Outcome.NOT_ALLOWED


async def test_a_silent_caller_is_replaced(
    town: Town, database: Database, clock: ManualClock
) -> None:
    """By the middle of the window (12:30), a caller who recorded nothing has the people still
    to call given to the callers with the fewest calls, both told; a caller who tapped keeps
    theirs; the next day the silent caller is given people after everyone else."""
    watch, sent = town.services.watch, town.sent
    members = await _callers(town)
    people = await _register(town, 12)
    await watch.start(COORDINATOR_ID, PLAN)
    clock.advance(hours=1)
    assert (await watch.run_due())["watch_calls"] == 12
    day1 = await _calls(database, 0)
    by_caller: dict[int, list[WatchCall]] = {}
    for call in day1:
        assert call.caller_id is not None
        by_caller.setdefault(call.caller_id, []).append(call)
    silent_member = min(by_caller)
    silent = members[silent_member]
    silent_calls = by_caller[silent_member]
    assert len(silent_calls) == 2
    for member_id, calls in by_caller.items():
        if member_id != silent_member:
            await watch.record(members[member_id], calls[0].id, CallOutcome.WELL)

    clock.advance(minutes=89)  # 12:29: not yet
    assert (await watch.run_due())["watch_replaced"] == 0
    clock.advance(minutes=2)
    assert (await watch.run_due())["watch_replaced"] == 2
    assert (await watch.run_due())["watch_replaced"] == 0  # claimed once
    moved = {call.id: call.caller_id for call in await _calls(database, 0)}
    receivers = {moved[call.id] for call in silent_calls}
    assert silent_member not in receivers
    assert all(len([c for c in moved.values() if c == r]) <= 3 for r in receivers)
    # Both told: the silent caller why, the others their list with the people added.
    passed = sent.of(CallsPassedOn, to=silent)
    assert [(notice.count, notice.by) for notice in passed] == [(2, 12 * 60 + 30)]
    added = [notice for notice in sent.of(CallerList) if notice.added]
    assert sum(notice.added for notice in added) == 2
    assert {line.call_id for notice in added for line in notice.lines} >= {
        call.id for call in silent_calls
    }
    # The silent caller's old buttons no longer record anything; their list (not sent yet in
    # this test) goes out without the people given away.
    assert await watch.record(silent, silent_calls[0].id, CallOutcome.WELL) is Outcome.NOT_ALLOWED
    async with database.read() as session:
        lists = (
            await session.execute(
                select(OutboxMessage)
                .join(WatchList, WatchList.outbox_id == OutboxMessage.id)
                .where(WatchList.caller_id == silent_member)
            )
        ).scalars()
        for row in lists:
            assert "Personne" not in row.payload["text"]

    # Day 2: a newly registered person goes to someone else than yesterday's silent caller,
    # although they have the fewest calls.
    newcomer = await town.services.register.add(
        RITA,
        Entry(
            name="Personne nouvelle",
            phone="+33 2 35 00 99 99",
            address="99 rue de la Canicule",
            registered_by=RegisteredBy.RELATIVE,
            consent=Consent.WRITTEN,
            language="fr",
        ),
    )
    clock.advance(hours=23)
    assert (await watch.run_due())["watch_calls"] == 13
    day2 = {call.person_id: call.caller_id for call in await _calls(database, 1)}
    assert day2[newcomer] != silent_member
    assert silent_member not in day2.values()
    assert len(people) == 12
