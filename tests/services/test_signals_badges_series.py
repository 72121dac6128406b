"""Relays' cases, brigade cards and recurring series, as use cases on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, text, update

from bot.domain.vocabulary import RequestStatus, Role, SignalOutcome, SignalStatus, VolunteerStatus
from bot.i18n import I18n
from bot.messages.cases import CaseClosed, CaseFollowedUp, CaseReported
from bot.messages.claims import RegularPassed
from bot.messages.series import RegularUnavailable, SeriesHalted, SeriesStopped
from bot.services.badges import ALPHABET, Badge, BadgeService, Check
from bot.services.outcomes import Outcome
from bot.services.privacy import PrivacyService
from bot.services.requests import BeneficiaryDetails, ClaimOutcome, RequestDraft, RequestService
from bot.services.series import SeriesService, SeriesView
from bot.services.signals import (
    MAX_REPORTS_PER_DAY,
    CaseOutcome,
    Reported,
    ReportRefusal,
    SignalDraft,
    SignalService,
    erase_reporter,
)
from storage import migrate
from storage.database import Database
from storage.models import (
    Beneficiary,
    Claim,
    HelpRequest,
    Member,
    MemberRole,
    Neighbourhood,
    Offer,
    OutboxMessage,
    RequestSeries,
    Signal,
    Skill,
    VolunteerSkill,
)
from testkit.clock import ManualClock
from testkit.harness import TEST_PSEUDONYMS, brigade_settings
from testkit.messages import RecordingMessenger
from tests.factories import CENTRE, east

BIOLLAY = (45.5580, 5.9100)  # Le Biollay
# Thursday 26 November 2026, 14:00 in Paris.
THURSDAY_2PM = datetime(2026, 11, 26, 13, 0, tzinfo=UTC)
NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)  # the Sunday before


@pytest.fixture
def clock() -> ManualClock:
    """This module's days start on the Sunday before the other tests'."""
    return ManualClock(NOW)


@dataclass
class Town:
    """Telegram ids of the people seeded, by role."""

    centre_id: int = 0
    biollay_id: int = 0
    skill_id: int = 0
    people: dict[str, int] = field(default_factory=dict)


async def _person(
    database: Database,
    telegram_id: int,
    name: str,
    roles: tuple[Role, ...] = (),
    *,
    neighbourhood_id: int | None = None,
    volunteer: VolunteerStatus | None = None,
    km: float = 0.2,
    skill_id: int | None = None,
) -> int:
    async with database.transaction() as session:
        latitude, longitude = east(km)
        member = Member(
            telegram_id=telegram_id,
            display_name=name,
            telegram_language="en",
            neighbourhood_id=neighbourhood_id,
            volunteer_status=volunteer,
            approved_at=NOW - timedelta(days=30) if volunteer is VolunteerStatus.APPROVED else None,
            latitude=latitude if volunteer else None,
            longitude=longitude if volunteer else None,
            radius_km=3.0,
        )
        session.add(member)
        await session.flush()
        for role in roles:
            session.add(MemberRole(member_id=member.id, role=role))
        if skill_id is not None:
            session.add(VolunteerSkill(member_id=member.id, skill_id=skill_id))
        return member.id


async def _town(database: Database) -> Town:
    """Two neighbourhoods, a referent in each, a coordinator, volunteers, and a relay."""
    town = Town()
    async with database.transaction() as session:
        centre = Neighbourhood(name="Centre-Ville", latitude=CENTRE[0], longitude=CENTRE[1])
        biollay = Neighbourhood(name="Le Biollay", latitude=BIOLLAY[0], longitude=BIOLLAY[1])
        session.add_all([centre, biollay])
        await session.flush()
        town.centre_id, town.biollay_id = centre.id, biollay.id
        town.skill_id = (
            await session.execute(select(Skill.id).where(Skill.code == "visit"))
        ).scalar_one()
    approved = VolunteerStatus.APPROVED
    seeds: list[tuple[str, int, tuple[Role, ...], dict[str, object]]] = [
        ("rita", 1, (Role.REFERENT,), {"neighbourhood_id": town.centre_id}),
        ("rob", 2, (Role.REFERENT,), {"neighbourhood_id": town.biollay_id}),
        ("claire", 3, (Role.COORDINATOR,), {}),
        ("ana", 10, (Role.VOLUNTEER,), {"volunteer": approved, "km": 0.2}),
        ("bob", 11, (Role.VOLUNTEER,), {"volunteer": approved, "km": 0.4}),
        # A volunteer attached to Centre-Ville, who must never hear of a case there.
        ("vera", 12, (Role.VOLUNTEER,), {"volunteer": approved, "neighbourhood_id": 0}),
        ("paul", 13, (Role.VOLUNTEER,), {"volunteer": VolunteerStatus.PENDING}),
        ("sam", 20, (), {}),  # a shopkeeper, no role
    ]
    for name, telegram_id, roles, extra in seeds:
        if extra.get("neighbourhood_id") == 0:
            extra["neighbourhood_id"] = town.centre_id
        skill = town.skill_id if Role.VOLUNTEER in roles else None
        await _person(
            database,
            telegram_id,
            name.capitalize(),
            roles,
            skill_id=skill,
            **extra,  # type: ignore[arg-type]
        )
        town.people[name] = telegram_id
    return town


async def _outbox(database: Database) -> list[OutboxMessage]:
    async with database.read() as session:
        return list(
            (await session.execute(select(OutboxMessage).order_by(OutboxMessage.id))).scalars()
        )


def _messenger() -> RecordingMessenger:
    """A messenger in English that remembers the notices sent."""
    config = brigade_settings("sqlite://", default_language="en", timezone="Europe/Paris")
    return RecordingMessenger(I18n("en"), config)


# --- relays: cases -----------------------------------------------------------------------------


def _draft(**changes: object) -> SignalDraft:
    values: dict[str, object] = {
        "description": "The elderly lady above the bakery",
        "worry": "Her shutters stay closed and nobody has seen her for a week.",
        "place": "12 rue de la Gare",
        "latitude": CENTRE[0],
        "longitude": CENTRE[1],
        "reporter_phone": "+33 6 12 34 56 78",
    }
    values.update(changes)
    return SignalDraft(**values)  # type: ignore[arg-type]


async def test_a_case_reaches_the_neighbourhoods_referents_and_coordinators_never_volunteers(
    database: Database,
) -> None:
    town = await _town(database)
    service = SignalService(database, sent := _messenger(), pseudonyms=TEST_PSEUDONYMS)
    reported = await service.report(town.people["sam"], _draft())
    assert isinstance(reported, Reported)
    assert (reported.neighbourhood, reported.notified) == ("Centre-Ville", 2)
    rows = await _outbox(database)
    told = [town.people["rita"], town.people["claire"]]
    assert sorted(row.chat_id for row in rows) == told
    assert sorted(sent.readers(CaseReported)) == told
    for notice in sent.of(CaseReported):
        case = notice.case
        assert (case.id, case.status, case.neighbourhood) == (
            reported.signal_id,
            SignalStatus.OPEN,  # with "I'll follow up" and "Close the case"
            "Centre-Ville",
        )
        assert "shutters stay closed" in case.worry
        assert case.reporter_telegram_id == town.people["sam"]
        assert case.reporter_phone == "+33 6 12 34 56 78"
    volunteers = {town.people[name] for name in ("ana", "bob", "vera", "paul")}
    assert not volunteers & {row.chat_id for row in rows}
    async with database.read() as session:
        case = await session.get(Signal, reported.signal_id)
    assert case is not None
    assert (case.status, case.neighbourhood_id) == (SignalStatus.OPEN, town.centre_id)


async def test_without_a_local_referent_every_referent_hears_of_the_case(
    database: Database,
) -> None:
    town = await _town(database)
    service = SignalService(database, sent := _messenger(), pseudonyms=TEST_PSEUDONYMS)
    # No place at all: no neighbourhood, so every referent and the coordinators.
    unplaced = await service.report(
        town.people["sam"], _draft(place=None, latitude=None, longitude=None)
    )
    assert isinstance(unplaced, Reported)
    assert unplaced.neighbourhood is None
    expected = sorted(town.people[name] for name in ("rita", "rob", "claire"))
    assert sorted(row.chat_id for row in await _outbox(database)) == expected
    # A chosen neighbourhood beats the place; a referent who reports is not told their own case.
    chosen = await service.report(town.people["rita"], _draft(neighbourhood_id=town.biollay_id))
    assert isinstance(chosen, Reported)
    assert chosen.neighbourhood == "Le Biollay"
    told = [
        r.chat_id
        for n, r in sent.sent
        if isinstance(n, CaseReported) and n.case.id == chosen.signal_id
    ]
    assert sorted(told) == [town.people["rob"], town.people["claire"]]


async def test_reports_are_validated_and_limited_per_day(
    clock: ManualClock, database: Database
) -> None:
    town = await _town(database)
    service = SignalService(database, _messenger(), pseudonyms=TEST_PSEUDONYMS)
    assert await service.report(town.people["sam"], _draft(worry="  ")) is ReportRefusal.INVALID
    assert await service.report(town.people["sam"], _draft(description="")) is ReportRefusal.INVALID
    assert await service.report(999, _draft()) is ReportRefusal.UNKNOWN
    for _ in range(MAX_REPORTS_PER_DAY):
        assert isinstance(await service.report(town.people["sam"], _draft()), Reported)
    assert await service.report(town.people["sam"], _draft()) is ReportRefusal.TOO_MANY
    clock.now += timedelta(days=1, minutes=1)
    assert isinstance(await service.report(town.people["sam"], _draft()), Reported)


async def test_i_ll_follow_up_has_exactly_one_winner(database: Database) -> None:
    town = await _town(database)
    service = SignalService(database, sent := _messenger(), pseudonyms=TEST_PSEUDONYMS)
    # A case placed in no neighbourhood goes to every referent: any of them may take it.
    reported = await service.report(town.people["sam"], _draft(latitude=None, longitude=None))
    assert isinstance(reported, Reported)
    tappers = [town.people["rita"], town.people["claire"], town.people["rob"]]
    results = await asyncio.gather(*(service.assign(t, reported.signal_id) for t in tappers))
    outcomes = sorted(result.outcome for result in results)
    assert outcomes == sorted([CaseOutcome.DONE, CaseOutcome.TAKEN, CaseOutcome.TAKEN])
    winner = tappers[[r.outcome for r in results].index(CaseOutcome.DONE)]
    async with database.read() as session:
        case = await session.get(Signal, reported.signal_id)
        assignee = await session.get(Member, case.assigned_to_member_id if case else 0)
    assert case is not None
    assert assignee is not None
    assert (case.status, assignee.telegram_id) == (SignalStatus.ASSIGNED, winner)
    assert all(r.assignee == assignee.display_name for r in results)
    assert (await service.assign(winner, reported.signal_id)).outcome is CaseOutcome.ALREADY_YOURS
    # Volunteers and people without a role cannot take a case.
    for outsider in ("ana", "sam"):
        result = await service.assign(town.people[outsider], reported.signal_id)
        assert result.outcome is CaseOutcome.NOT_ALLOWED
    # The reporter hears that someone follows up; no volunteer heard anything.
    assert sent.of(CaseFollowedUp, to=town.people["sam"]) == [CaseFollowedUp(reported.signal_id)]
    rows = await _outbox(database)
    volunteers = {town.people[name] for name in ("ana", "bob", "vera", "paul")}
    assert not volunteers & {row.chat_id for row in rows}


async def test_closing_a_case_records_its_outcome(clock: ManualClock, database: Database) -> None:
    town = await _town(database)
    service = SignalService(database, sent := _messenger(), pseudonyms=TEST_PSEUDONYMS)
    first = await service.report(town.people["sam"], _draft())
    second = await service.report(town.people["sam"], _draft(latitude=None, longitude=None))
    assert isinstance(first, Reported)
    assert isinstance(second, Reported)
    rita, rob, claire = (town.people[name] for name in ("rita", "rob", "claire"))
    assert (await service.assign(rita, first.signal_id)).outcome is CaseOutcome.DONE
    # Rob (Le Biollay) was never told of this Centre-Ville case: he may neither close it nor
    # learn who follows it. Rita may close it; then it is closed for everyone.
    refused = await service.close(rob, first.signal_id, SignalOutcome.HELPED)
    assert (refused.outcome, refused.assignee) == (CaseOutcome.NOT_ALLOWED, None)
    clock.now += timedelta(days=2)
    closed = await service.close(rita, first.signal_id, SignalOutcome.REFERRED)
    assert closed.outcome is CaseOutcome.DONE
    again = await service.close(claire, first.signal_id, SignalOutcome.HELPED)
    assert again.outcome is CaseOutcome.CLOSED
    assert (await service.assign(rob, first.signal_id)).outcome is CaseOutcome.NOT_ALLOWED
    assert (await service.assign(rita, first.signal_id)).outcome is CaseOutcome.CLOSED
    # A coordinator closes a case someone else follows up; an open one anyone on staff closes.
    assert (await service.assign(rob, second.signal_id)).outcome is CaseOutcome.DONE
    by_coordinator = await service.close(claire, second.signal_id, SignalOutcome.NOT_ISOLATED)
    assert by_coordinator.outcome is CaseOutcome.DONE
    async with database.read() as session:
        cases = {
            case.id: case
            for case in (await session.execute(select(Signal).order_by(Signal.id))).scalars()
        }
    assert cases[first.signal_id].status is SignalStatus.CLOSED
    assert cases[first.signal_id].outcome is SignalOutcome.REFERRED
    assert cases[first.signal_id].closed_at == clock.now
    assert cases[second.signal_id].outcome is SignalOutcome.NOT_ISOLATED
    # Rob, who followed it up, hears that Claire closed it.
    closed_notice = CaseClosed(second.signal_id, "Claire", SignalOutcome.NOT_ISOLATED)
    assert sent.of(CaseClosed, to=rob) == [closed_notice]
    assert await service.open_cases(claire) == []
    assert await service.open_cases(town.people["ana"]) is CaseOutcome.NOT_ALLOWED


async def test_closed_cases_are_purged_after_retention_and_forget_erases_the_phone(
    clock: ManualClock,
    database: Database,
) -> None:
    town = await _town(database)
    service = SignalService(database, _messenger(), pseudonyms=TEST_PSEUDONYMS)
    old = await service.report(town.people["sam"], _draft())
    kept = await service.report(town.people["sam"], _draft())
    assert isinstance(old, Reported)
    assert isinstance(kept, Reported)
    closed = await service.close(town.people["rita"], old.signal_id, SignalOutcome.HELPED)
    assert closed.outcome is CaseOutcome.DONE
    clock.now += timedelta(days=91)
    assert await service.purge(90) == 1
    assert await service.purge(90) == 0
    async with database.transaction() as session:
        purged = await session.get(Signal, old.signal_id)
        still = await session.get(Signal, kept.signal_id)
        assert purged is not None
        assert still is not None
        assert (purged.description, purged.place, purged.latitude, purged.reporter_phone) == (
            "—",
            None,
            None,
            None,
        )
        assert purged.outcome is SignalOutcome.HELPED  # the figures stay
        assert still.reporter_phone == "+33 6 12 34 56 78"  # open: kept
        member = await session.execute(
            select(Member.id).where(Member.telegram_id == town.people["sam"])
        )
        await erase_reporter(session, member.scalar_one())
    async with database.read() as session:
        erased = await session.get(Signal, kept.signal_id)
    assert erased is not None
    assert erased.reporter_phone is None
    assert erased.description == "The elderly lady above the bakery"


# --- badges ------------------------------------------------------------------------------------


async def test_a_badge_code_is_made_once_unique_and_unambiguous(database: Database) -> None:
    town = await _town(database)
    codes = iter(["K7M2QX", "K7M2QX", "HJ4P9T"])
    service = BadgeService(database, code_factory=lambda: next(codes))
    ana = await service.badge(town.people["ana"])
    assert isinstance(ana, Badge)
    assert (ana.display_name, ana.code, ana.approved_at) == ("Ana", "K7M2QX", NOW - timedelta(30))
    # The second volunteer draws the same code first: the unique index makes them draw again.
    bob = await service.badge(town.people["bob"])
    assert isinstance(bob, Badge)
    assert bob.code == "HJ4P9T"
    again = await service.badge(town.people["ana"])
    assert isinstance(again, Badge)
    assert again.code == "K7M2QX"  # kept, not redrawn
    for outsider in ("paul", "rita", "sam"):  # pending, referent, nobody
        assert await service.badge(town.people[outsider]) is Outcome.NOT_ALLOWED
    real = BadgeService(database)
    vera = await real.badge(town.people["vera"])
    assert isinstance(vera, Badge)
    assert len(vera.code) == 6
    assert set(vera.code) <= set(ALPHABET)
    assert not set(vera.code) & set("0O1IL")


async def test_verify_tells_valid_unknown_rejected_and_forgotten_codes_apart(
    clock: ManualClock,
    database: Database,
) -> None:
    town = await _town(database)
    service = BadgeService(database)
    codes = {}
    for name in ("ana", "bob", "vera"):
        card = await service.badge(town.people[name])
        assert isinstance(card, Badge)
        codes[name] = card.code
    rita = town.people["rita"]
    valid = await service.verify(rita, codes["ana"].lower()[:3] + " " + codes["ana"][3:])
    assert (valid.check, valid.first_name, valid.approved_at) == (
        Check.VALID,
        "Ana",
        NOW - timedelta(days=30),
    )
    assert (await service.verify(town.people["claire"], codes["ana"])).check is Check.VALID
    unused = next(c for c in ("AAAAAA", "BBBBBB", "CCCCCC") if c not in codes.values())
    assert (await service.verify(rita, unused)).check is Check.INVALID
    assert (await service.verify(rita, "12")).check is Check.MALFORMED
    assert (await service.verify(rita, "K0O1IL")).check is Check.MALFORMED
    # Only referents and coordinators check codes.
    assert (await service.verify(town.people["bob"], codes["ana"])).check is Check.NOT_ALLOWED
    assert (await service.verify(town.people["sam"], codes["ana"])).check is Check.NOT_ALLOWED
    # A volunteer no longer approved, or forgotten, has no valid card any more.
    async with database.transaction() as session:
        await session.execute(
            update(Member)
            .where(Member.telegram_id == town.people["bob"])
            .values(volunteer_status=VolunteerStatus.REJECTED)
        )
        await session.execute(
            update(Member).where(Member.telegram_id == town.people["vera"]).values(telegram_id=None)
        )
    assert (await service.verify(rita, codes["bob"])).check is Check.INVALID
    assert (await service.verify(rita, codes["vera"])).check is Check.INVALID
    # /forget erases the code itself.
    assert await PrivacyService(database).forget(town.people["ana"]) is Outcome.DONE
    assert (await service.verify(rita, codes["ana"])).check is Check.INVALID
    async with database.read() as session:
        left = (
            await session.execute(select(func.count()).where(Member.badge_code == codes["ana"]))
        ).scalar_one()
    assert left == 0


async def test_guessing_codes_is_rate_limited(clock: ManualClock, database: Database) -> None:
    town = await _town(database)
    service = BadgeService(database)
    card = await service.badge(town.people["ana"])
    assert isinstance(card, Badge)
    rita, claire = town.people["rita"], town.people["claire"]
    guesses = [c * 6 for c in ALPHABET if c * 6 != card.code][:10]
    for guess in guesses:
        clock.now += timedelta(minutes=1)
        assert (await service.verify(rita, guess)).check is Check.INVALID
    # Ten failures within the hour: even the right code waits now; others are not affected.
    assert (await service.verify(rita, card.code)).check is Check.TOO_MANY
    assert (await service.verify(claire, card.code)).check is Check.VALID
    # Successful checks never count: Claire is not limited by checking a valid code often.
    for _ in range(12):
        assert (await service.verify(claire, card.code)).check is Check.VALID
    clock.now += timedelta(minutes=52)  # the first failures leave the window
    assert (await service.verify(rita, card.code)).check is Check.VALID


# --- recurring series --------------------------------------------------------------------------


@dataclass
class Care:
    """A referent's weekly visit, made recurring from a first request Ana took."""

    town: Town
    clock: ManualClock
    requests: RequestService
    series: SeriesService
    view: SeriesView
    first_request_id: int
    sent: RecordingMessenger


def _visit(skill_id: int, starts_at: datetime) -> RequestDraft:
    return RequestDraft(
        skill_id=skill_id,
        description="A cup of tea and a chat",
        latitude=CENTRE[0],
        longitude=CENTRE[1],
        area_label="Rue de Boigne",
        when_kind="slot",
        starts_at=starts_at,
        beneficiary=BeneficiaryDetails(
            name="Mme Jeanne Martin",
            phone="+33 4 79 00 00 00",
            address="27 rue de Boigne, Chambéry",
            latitude=CENTRE[0],
            longitude=CENTRE[1],
            consent=True,
        ),
    )


async def _weekly_visit(database: Database) -> Care:
    town = await _town(database)
    clock = database.clock
    assert isinstance(clock, ManualClock)
    config = brigade_settings(database.url, default_language="en", timezone="Europe/Paris")
    messenger = RecordingMessenger(I18n("en"), config)
    requests = RequestService(database, messenger, config)
    series = SeriesService(database, requests, messenger, config)
    posted = await requests.post(town.people["rita"], _visit(town.skill_id, THURSDAY_2PM))
    assert posted is not None
    claimed = await requests.claim(town.people["ana"], posted.request_id)
    assert claimed.outcome is ClaimOutcome.CLAIMED
    view = await series.create(town.people["rita"], posted.request_id, 7)
    assert isinstance(view, SeriesView)
    return Care(town, clock, requests, series, view, posted.request_id, messenger)


async def _occurrences(database: Database, series_id: int) -> list[HelpRequest]:
    async with database.read() as session:
        rows = await session.execute(
            select(HelpRequest).where(HelpRequest.series_id == series_id).order_by(HelpRequest.id)
        )
        return list(rows.scalars())


async def _offered_to(database: Database, request_id: int) -> set[int]:
    async with database.read() as session:
        rows = await session.execute(select(Offer.chat_id).where(Offer.request_id == request_id))
        return set(rows.scalars())


async def test_occurrences_are_posted_ahead_and_offered_to_the_regular_first(
    database: Database,
) -> None:
    care = await _weekly_visit(database)
    ana, bob = care.town.people["ana"], care.town.people["bob"]
    assert (care.view.weekday, care.view.local_minute) == (3, 14 * 60)  # Thursday, 14:00
    assert care.view.next_occurrence_at == THURSDAY_2PM + timedelta(days=7)
    assert care.view.regular_name == "Ana"
    assert await care.series.create(care.town.people["rita"], care.first_request_id, 7) is (
        Outcome.ALREADY_DONE
    )
    # Nothing before three days ahead of the next Thursday.
    care.clock.now = THURSDAY_2PM + timedelta(days=4) - timedelta(minutes=1)
    assert (await care.series.run_due())["posted"] == 0
    for week in (1, 2, 3):
        care.clock.now = THURSDAY_2PM + timedelta(days=7 * week - 3)
        assert (await care.series.run_due())["posted"] == 1
        assert (await care.series.run_due())["posted"] == 0  # once, however often it runs
        occurrence = (await _occurrences(database, care.view.id))[-1]
        assert occurrence.starts_at == THURSDAY_2PM + timedelta(days=7 * week)
        assert (occurrence.wave, occurrence.when_kind) == (0, "slot")
        assert await _offered_to(database, occurrence.id) == {ana}
        assert occurrence.next_wave_at == care.clock.now + timedelta(hours=24)
        claimed = await care.requests.claim(ana, occurrence.id)
        assert claimed.outcome is ClaimOutcome.CLAIMED
    assert bob not in await _offered_to(database, occurrence.id)
    assert len(await _occurrences(database, care.view.id)) == 4  # the first and three more


async def test_the_volunteer_who_claims_an_occurrence_becomes_the_regular(
    database: Database,
) -> None:
    care = await _weekly_visit(database)
    ana, bob = care.town.people["ana"], care.town.people["bob"]
    care.clock.now = THURSDAY_2PM + timedelta(days=4)
    await care.series.run_due()
    first = (await _occurrences(database, care.view.id))[-1]
    # Ana passes: the others get it at once and the referent is told; Bob takes it.
    assert await care.requests.decline(ana, first.id, message_id=None) == "done"
    await care.requests.run_due()
    assert bob in await _offered_to(database, first.id)
    passed = care.sent.of(RegularPassed, to=care.town.people["rita"])
    assert passed == [RegularPassed(first.id, "Friendly visit")]
    assert (await care.requests.claim(bob, first.id)).outcome is ClaimOutcome.CLAIMED
    care.clock.now += timedelta(days=7)
    assert (await care.series.run_due())["posted"] == 1
    second = (await _occurrences(database, care.view.id))[-1]
    assert second.wave == 0
    assert await _offered_to(database, second.id) == {bob}
    async with database.read() as session:
        series = await session.get(RequestSeries, care.view.id)
        regular = await session.get(Member, series.regular_volunteer_id if series else 0)
    assert regular is not None
    assert regular.telegram_id == bob


async def test_a_paused_regular_is_skipped_and_the_referent_told(database: Database) -> None:
    care = await _weekly_visit(database)
    ana, bob = care.town.people["ana"], care.town.people["bob"]
    async with database.transaction() as session:
        await session.execute(
            update(Member)
            .where(Member.telegram_id == ana)
            .values(paused_until=THURSDAY_2PM + timedelta(days=60))
        )
    care.clock.now = THURSDAY_2PM + timedelta(days=4)
    assert (await care.series.run_due())["posted"] == 1
    occurrence = (await _occurrences(database, care.view.id))[-1]
    assert occurrence.wave == 1  # everyone, at once
    assert await _offered_to(database, occurrence.id) == {bob, care.town.people["vera"]}
    told = care.sent.of(RegularUnavailable, to=care.town.people["rita"])
    assert told == [
        RegularUnavailable(occurrence.id, "Friendly visit", "Ana", occurrence.starts_at)
    ]


async def test_stopping_a_series_prevents_further_occurrences(database: Database) -> None:
    care = await _weekly_visit(database)
    rita, ana = care.town.people["rita"], care.town.people["ana"]
    care.clock.now = THURSDAY_2PM + timedelta(days=4)
    await care.series.run_due()
    posted = (await _occurrences(database, care.view.id))[-1]
    assert (await care.series.stop(ana, care.view.id)).outcome is Outcome.NOT_ALLOWED
    stopped = await care.series.stop(rita, care.view.id)
    assert stopped.outcome is Outcome.DONE
    assert stopped.open_request_ids == (posted.id,)  # still open: it stays unless cancelled
    assert (await care.series.stop(rita, care.view.id)).outcome is Outcome.ALREADY_DONE
    for week in (2, 3, 4):
        care.clock.now = THURSDAY_2PM + timedelta(days=7 * week - 2)
        assert (await care.series.run_due())["posted"] == 0
    assert len(await _occurrences(database, care.view.id)) == 2
    async with database.read() as session:
        still = await session.get(HelpRequest, posted.id)
    assert still is not None
    assert still.status is RequestStatus.OPEN
    assert await care.series.active(rita) == []
    # Ana, the regular, was told; Rita stopped it herself.
    assert care.sent.readers(SeriesStopped) == [ana]
    [notice] = care.sent.of(SeriesStopped)
    assert (notice.stopped_by, notice.schedule) == ("Rita", care.view.schedule)


async def test_a_coordinator_stops_any_series_and_missed_occurrences_are_skipped(
    database: Database,
) -> None:
    care = await _weekly_visit(database)
    # The bot was down for three weeks: past occurrences are skipped, never posted late.
    care.clock.now = THURSDAY_2PM + timedelta(days=21, hours=1)
    done = await care.series.run_due()
    assert done["posted"] == 0
    assert done["skipped"] == 1
    async with database.read() as session:
        series = await session.get(RequestSeries, care.view.id)
    assert series is not None
    assert series.next_occurrence_at == THURSDAY_2PM + timedelta(days=28)
    care.clock.now = THURSDAY_2PM + timedelta(days=25)
    assert (await care.series.run_due())["posted"] == 1
    views = await care.series.active(care.town.people["claire"])
    assert isinstance(views, list)
    assert [view.id for view in views] == [care.view.id]
    stopped = await care.series.stop(care.town.people["claire"], care.view.id)
    assert stopped.outcome is Outcome.DONE


async def test_a_request_without_a_time_takes_the_chosen_day_and_hour(database: Database) -> None:
    care = await _weekly_visit(database)
    rita = care.town.people["rita"]
    posted = await care.requests.post(
        rita,
        RequestDraft(
            skill_id=care.town.skill_id,
            description="Phone call",
            latitude=CENTRE[0],
            longitude=CENTRE[1],
            area_label="Rue de Boigne",
            beneficiary_id=(await _occurrences(database, care.view.id))[0].beneficiary_id,
        ),
    )
    assert posted is not None
    source = await care.series.source(rita, posted.request_id)
    assert not isinstance(source, Outcome)
    assert source.weekday is None
    assert await care.series.create(rita, posted.request_id, 14) is Outcome.INVALID
    view = await care.series.create(rita, posted.request_id, 14, weekday=0, local_minute=10 * 60)
    assert isinstance(view, SeriesView)
    assert view.interval_days == 14
    # Sunday 22 → Monday 23 November, 10:00 in Paris.
    assert view.next_occurrence_at == datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    assert await care.series.create(care.town.people["rob"], posted.request_id, 7) is (
        Outcome.NOT_ALLOWED
    )


async def test_a_series_stops_when_its_person_or_referent_is_gone(database: Database) -> None:
    care = await _weekly_visit(database)
    first = (await _occurrences(database, care.view.id))[0]
    async with database.transaction() as session:
        await session.execute(
            update(Beneficiary)
            .where(Beneficiary.id == first.beneficiary_id)
            .values(purged_at=NOW, name="—")
        )
    care.clock.now = THURSDAY_2PM + timedelta(days=4)
    assert await care.series.run_due() == {"posted": 0, "skipped": 0, "stopped": 1}
    assert len(await _occurrences(database, care.view.id)) == 1
    assert await care.series.active(care.town.people["rita"]) == []
    assert care.sent.readers(SeriesHalted) == [care.town.people["rita"]]


# --- the migration keeps what it does not touch ------------------------------------------------


async def test_migration_0005_keeps_every_existing_row(database_url: str) -> None:
    """members and requests gain a column in place: no rebuild, so no cascade on their rows."""
    database = Database(database_url, clock=ManualClock(NOW))
    try:
        await migrate.upgrade(database, "0004")
        async with database.engine.begin() as connection:
            await connection.execute(
                text(
                    "INSERT INTO members (id, telegram_id, display_name, radius_km, reachable,"
                    " created_at, updated_at) VALUES (1, 5, 'Ana', 2, true, :t, :t)"
                ),
                {"t": NOW.replace(tzinfo=None)},
            )
            await connection.execute(
                text(
                    "INSERT INTO member_roles (member_id, role, granted_at)"
                    " VALUES (1, 'volunteer', :t)"
                ),
                {"t": NOW.replace(tzinfo=None)},
            )
            await connection.execute(
                text(
                    "INSERT INTO requests (id, referent_id, skill_id, description, latitude,"
                    " longitude, area_label, when_kind, places_needed, places_taken, status,"
                    " wave, created_at, updated_at) VALUES (1, 1, 1, '', 45.5, 5.9, '', 'asap',"
                    " 1, 1, 'full', 1, :t, :t)"
                ),
                {"t": NOW.replace(tzinfo=None)},
            )
            await connection.execute(
                text(
                    "INSERT INTO claims (id, request_id, volunteer_id, status, claimed_at, nudges)"
                    " VALUES (1, 1, 1, 'active', :t, 0)"
                ),
                {"t": NOW.replace(tzinfo=None)},
            )
        await migrate.upgrade(database)
        for _round in range(2):
            async with database.read() as session:
                counts = [
                    (await session.execute(select(func.count()).select_from(model))).scalar_one()
                    for model in (Member, MemberRole, HelpRequest, Claim)
                ]
            assert counts == [1, 1, 1, 1]
            await migrate.downgrade(database, "0004")
            async with database.engine.connect() as connection:
                kept = (await connection.execute(text("SELECT count(*) FROM claims"))).scalar()
            assert kept == 1
            await migrate.upgrade(database)
    finally:
        await database.dispose()


async def test_a_referent_sees_the_cases_they_were_told_of_and_no_others(
    database: Database,
) -> None:
    """`/cases` showed every neighbourhood's cases, reporters' phones included, to any referent."""
    town = await _town(database)
    service = SignalService(database, _messenger(), pseudonyms=TEST_PSEUDONYMS)
    centre = await service.report(town.people["sam"], _draft())
    biollay = await service.report(town.people["sam"], _draft(neighbourhood_id=town.biollay_id))
    nowhere = await service.report(town.people["sam"], _draft(latitude=None, longitude=None))
    assert isinstance(centre, Reported)
    assert isinstance(biollay, Reported)
    assert isinstance(nowhere, Reported)

    def ids(views: object) -> set[int]:
        assert isinstance(views, list)
        return {view.id for view in views}

    rita, rob, claire = (town.people[name] for name in ("rita", "rob", "claire"))
    assert ids(await service.open_cases(rita)) == {centre.signal_id, nowhere.signal_id}
    assert ids(await service.open_cases(rob)) == {biollay.signal_id, nowhere.signal_id}
    everything = {centre.signal_id, biollay.signal_id, nowhere.signal_id}
    assert ids(await service.open_cases(claire)) == everything
    # Forged taps on a case one was not told of change nothing.
    assert (await service.assign(rob, centre.signal_id)).outcome is CaseOutcome.NOT_ALLOWED
    closing = await service.close(rob, centre.signal_id, SignalOutcome.HELPED)
    assert closing.outcome is CaseOutcome.NOT_ALLOWED
    assert (await service.assign(rita, centre.signal_id)).outcome is CaseOutcome.DONE
