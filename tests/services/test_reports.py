"""Coordinators' figures on real databases: every /stats figure from an exactly seeded history.

The history (times in UTC; the town is in Europe/Paris, UTC+1 in November, and "now" is
2026-11-15 12:00):

    req  neighbourhood  skill     created (UTC)      status     claims
    R1   Centre-Ville   plumbing  2026-11-02 10:00   closed     C1 v1 confirmed, +1 h, 90 min
    R2   Centre-Ville   shopping  2026-11-05 08:00   completed  C2 v2 done (Nov 5), +30 min, 45 min
    R3   Biollay        plumbing  2026-11-10 09:00   cancelled  C3 v3 cancelled, +1 h
    R4   Biollay        shopping  2026-11-12 07:00   expired    —
    R5   Centre-Ville   plumbing  2026-10-31 23:30   open       C6 v2 released +2 h; C5 v3 active
                                  (= Nov 1, 00:30 local)        (claimed +4 h, but its audit
                                                                "claim" event says +15 min)
    R6   Centre-Ville   plumbing  2026-10-20 08:00   closed     C7 v1 confirmed +1 h, done Nov 1,
                                                                30 min
    R7   Biollay        shopping  2026-10-31 22:30   expired    C8 v3 not done, +15 min, 60 min
                                  (= Oct 31, 23:30 local)
    R8   Centre-Ville   plumbing  2025-12-20 10:00   closed     C9 v2 confirmed +2 h, 120 min

Visit reports: C1 worried, advanced 12.50 with a receipt; C2 fine, nothing advanced; C7 would
like more visits, advanced 8.30; C8 (not done) fine, 5.00; C9 no answer, advanced 20.00.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import (
    Column,
    DateTime,
    Enum,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    select,
    update,
)

from bot.domain.vocabulary import ClaimStatus, RequestStatus, Role, VolunteerStatus, Wellbeing
from bot.i18n import I18n
from bot.messages.base import Town
from bot.messages.claims import Contact
from bot.messages.closing import ReferentReminder
from bot.messages.reports import stats_text
from bot.services import reports
from bot.services.outcomes import Outcome
from bot.services.reports import (
    ExportFile,
    Page,
    Period,
    ReportService,
    RequestCounts,
    Stats,
    StuckKind,
    exports,
    period_window,
)
from bot.services.reports.visits import VisitMonth
from storage.database import Database
from storage.models import (
    AuditEvent,
    Beneficiary,
    Claim,
    HelpRequest,
    Member,
    MemberRole,
    Neighbourhood,
    Offer,
    OutboxMessage,
    Skill,
    VolunteerSkill,
)
from storage.types import UTCDateTime
from testkit.clock import ManualClock
from testkit.harness import brigade_settings
from testkit.messages import RecordingMessenger

NOW = datetime(2026, 11, 15, 12, 0, tzinfo=UTC)
COORDINATOR, REFERENT = 1, 2
SECRETS = ("Jeanne", "Martin", "+33 4 79", "27 rue", "1234", "Victor", "+33 6 99")
_ = I18n("en").translator("en")
TOWN = Town("Chambéry", ZoneInfo("Europe/Paris"), "EUR")


def at(text: str) -> datetime:
    """A UTC instant written "YYYY-MM-DD HH:MM"."""
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=UTC)


def service(database: Database, now: datetime = NOW) -> ReportService:
    """The report service, with the database's clock set to `now`."""
    assert isinstance(database.clock, ManualClock)
    database.clock.now = now
    settings = brigade_settings(database.url)
    assert settings.timezone == "Europe/Paris"
    return ReportService(database, settings, RecordingMessenger(I18n("en"), settings))


async def seed(database: Database) -> dict[str, int]:
    """The history above; returns the ids by name."""
    ids: dict[str, int] = {}
    async with database.transaction() as session:
        skills = dict((await session.execute(select(Skill.code, Skill.id))).all())
        plumbing, shopping = skills["plumbing"], skills["shopping"]
        centre = Neighbourhood(name="Centre-Ville", latitude=45.567, longitude=5.921, radius_km=1)
        biollay = Neighbourhood(name="Biollay", latitude=45.555, longitude=5.93, radius_km=1)
        session.add_all([centre, biollay])
        await session.flush()
        ids |= {"centre": centre.id, "biollay": biollay.id}

        def member(telegram_id: int, name: str, **values: Any) -> Member:
            row = Member(telegram_id=telegram_id, display_name=name, **values)
            session.add(row)
            return row

        coordinator = member(COORDINATOR, "Claire")
        referent = member(REFERENT, "Rita", phone="+33 1 00 00 00 00")
        volunteers = [
            member(
                10 + n,
                f"Victor Volunteer {n}",
                phone=f"+33 6 99 00 00 0{n}",
                address=f"{n} rue Secrète",
                latitude=45.56,
                longitude=5.92,
                neighbourhood_id=nb,
                volunteer_status=status,
                approved_at=at("2025-11-01 09:00") if status is VolunteerStatus.APPROVED else None,
                created_at=at("2025-10-30 09:00"),
            )
            for n, nb, status in [
                (1, centre.id, VolunteerStatus.APPROVED),
                (2, centre.id, VolunteerStatus.APPROVED),
                (3, biollay.id, VolunteerStatus.APPROVED),
                (4, centre.id, VolunteerStatus.PENDING),
            ]
        ]
        await session.flush()
        session.add(MemberRole(member_id=coordinator.id, role=Role.COORDINATOR))
        session.add(MemberRole(member_id=referent.id, role=Role.REFERENT))
        for volunteer in volunteers:
            session.add(MemberRole(member_id=volunteer.id, role=Role.VOLUNTEER))
            session.add(VolunteerSkill(member_id=volunteer.id, skill_id=plumbing))
        session.add(VolunteerSkill(member_id=volunteers[0].id, skill_id=shopping))
        v1, v2, v3, _v4 = volunteers
        ids |= {"v1": v1.id, "v2": v2.id, "v3": v3.id, "referent": referent.id}
        beneficiary = Beneficiary(
            referent_id=referent.id,
            name="Mme Jeanne Martin",
            phone="+33 4 79 00 00 00",
            address="27 rue de Boigne, Chambéry",
            latitude=45.567,
            longitude=5.921,
            access_notes="3rd floor, code 1234",
        )
        session.add(beneficiary)
        await session.flush()

        def request(
            name: str,
            nb: int,
            skill: int,
            created: str,
            status: RequestStatus,
            closed: str | None = None,
            **values: Any,
        ) -> HelpRequest:
            row = HelpRequest(
                referent_id=referent.id,
                beneficiary_id=beneficiary.id,
                skill_id=skill,
                neighbourhood_id=nb,
                description="Leaking tap at Jeanne Martin's, code 1234",
                latitude=45.567,
                longitude=5.921,
                area_label="Rue de Boigne",
                status=status,
                created_at=at(created),
                updated_at=at(created),
                closed_at=at(closed) if closed else None,
                cancel_reason="Jeanne went to her daughter's" if closed else None,
                **values,
            )
            session.add(row)
            return row

        closed, completed = RequestStatus.CLOSED, RequestStatus.COMPLETED
        requests = {
            "R1": request(
                "R1", centre.id, plumbing, "2026-11-02 10:00", closed, "2026-11-03 10:00"
            ),
            "R2": request("R2", centre.id, shopping, "2026-11-05 08:00", completed),
            "R3": request(
                "R3",
                biollay.id,
                plumbing,
                "2026-11-10 09:00",
                RequestStatus.CANCELLED,
                "2026-11-10 12:00",
            ),
            "R4": request(
                "R4",
                biollay.id,
                shopping,
                "2026-11-12 07:00",
                RequestStatus.EXPIRED,
                "2026-11-13 07:00",
            ),
            "R5": request(
                "R5",
                centre.id,
                plumbing,
                "2026-10-31 23:30",
                RequestStatus.OPEN,
                places_needed=2,
                places_taken=1,
                wave=2,
            ),
            "R6": request(
                "R6", centre.id, plumbing, "2026-10-20 08:00", closed, "2026-11-02 08:00"
            ),
            "R7": request(
                "R7",
                biollay.id,
                shopping,
                "2026-10-31 22:30",
                RequestStatus.EXPIRED,
                "2026-11-01 22:30",
            ),
            "R8": request(
                "R8", centre.id, plumbing, "2025-12-20 10:00", closed, "2025-12-21 10:00"
            ),
        }
        await session.flush()
        ids |= {name: row.id for name, row in requests.items()}

        def claim(
            name: str, req: str, volunteer: Member, status: ClaimStatus, claimed: str, **times: Any
        ) -> Claim:
            row = Claim(
                request_id=requests[req].id,
                volunteer_id=volunteer.id,
                status=status,
                claimed_at=at(claimed),
                note="Mme Martin was happy",
                **{k: at(v) if k.endswith("_at") else v for k, v in times.items()},
            )
            session.add(row)
            return row

        c, s = ClaimStatus, "2026-11-0"
        claims = {
            "C1": claim(
                "C1",
                "R1",
                v1,
                c.CONFIRMED,
                f"{s}2 11:00",
                done_at=f"{s}3 09:00",
                confirmed_at=f"{s}3 10:00",
                minutes_spent=90,
                wellbeing=Wellbeing.WORRIED,
                expense_cents=1250,
                receipt_sent=True,
            ),
            "C2": claim(
                "C2",
                "R2",
                v2,
                c.DONE,
                f"{s}5 08:30",
                done_at=f"{s}5 12:00",
                minutes_spent=45,
                wellbeing=Wellbeing.FINE,
                expense_cents=0,
            ),
            "C3": claim("C3", "R3", v3, c.CANCELLED, "2026-11-10 10:00"),
            "C5": claim("C5", "R5", v3, c.ACTIVE, f"{s}1 03:30", nudges=1),
            "C6": claim("C6", "R5", v2, c.RELEASED, f"{s}1 01:30", released_at=f"{s}1 02:00"),
            "C7": claim(
                "C7",
                "R6",
                v1,
                c.CONFIRMED,
                "2026-10-20 09:00",
                done_at=f"{s}1 10:00",
                confirmed_at=f"{s}2 08:00",
                minutes_spent=30,
                wellbeing=Wellbeing.WANTS_MORE_VISITS,
                expense_cents=830,
            ),
            "C8": claim(
                "C8",
                "R7",
                v3,
                c.NOT_DONE,
                "2026-10-31 22:45",
                done_at=f"{s}1 10:00",
                minutes_spent=60,
                wellbeing=Wellbeing.FINE,
                expense_cents=500,
            ),
            "C9": claim(
                "C9",
                "R8",
                v2,
                c.CONFIRMED,
                "2025-12-20 12:00",
                done_at="2025-12-21 09:00",
                confirmed_at="2025-12-21 10:00",
                minutes_spent=120,
                expense_cents=2000,
            ),
        }
        await session.flush()
        ids |= {name: row.id for name, row in claims.items()}
        # v3 first took R5 15 minutes after it was posted, released it, and took it again.
        session.add(
            AuditEvent(
                entity="claim",
                entity_id=claims["C5"].id,
                action="claim",
                occurred_at=at("2026-10-31 23:45"),
            )
        )
        r5 = requests["R5"].id
        session.add_all(
            [
                Offer(request_id=r5, member_id=v1.id, chat_id=11, kind="direct", wave=1),
                Offer(
                    request_id=r5,
                    member_id=v2.id,
                    chat_id=12,
                    kind="direct",
                    wave=1,
                    declined_at=at("2026-11-01 01:00"),
                ),
                Offer(request_id=r5, member_id=v3.id, chat_id=13, kind="direct", wave=2),
                Offer(request_id=r5, chat_id=-100, kind="group", wave=0),
            ]
        )
    return ids


# --- periods -------------------------------------------------------------------------------------


def test_periods_follow_the_town_calendar() -> None:
    tz = brigade_settings("sqlite+aiosqlite:///x").tz
    month = period_window(Period.THIS_MONTH, NOW, tz)
    assert (month.start, month.end) == (at("2026-10-31 23:00"), at("2026-11-30 23:00"))
    last = period_window(Period.LAST_MONTH, NOW, tz)
    # October starts in summer time (UTC+2) and ends in winter time (UTC+1).
    assert (last.start, last.end) == (at("2026-09-30 22:00"), at("2026-10-31 23:00"))
    year = period_window(Period.THIS_YEAR, NOW, tz)
    assert (year.start, year.end) == (at("2025-12-31 23:00"), at("2026-12-31 23:00"))
    assert (str(year.first_day), str(year.last_day)) == ("2026-01-01", "2026-12-31")
    january = period_window(Period.LAST_MONTH, at("2027-01-10 00:00"), tz)
    assert str(january.first_day) == "2026-12-01"
    everything = period_window(Period.ALL_TIME, NOW, tz)
    assert (everything.start, everything.end) == (None, None)


# --- /stats --------------------------------------------------------------------------------------


async def _stats(database: Database, period: Period, nb: int | None = None) -> Stats:
    result = await service(database).stats(COORDINATOR, period, nb)
    assert isinstance(result, Stats)
    return result


async def test_a_request_ended_unconfirmed_counts_as_done_not_as_confirmed(
    database: Database,
) -> None:
    """R2 (said done, waiting for its referent) ends unconfirmed: done, not confirmed."""
    ids = await seed(database)
    async with database.transaction() as session:
        await session.execute(
            update(HelpRequest)
            .where(HelpRequest.id == ids["R2"])
            .values(status=RequestStatus.UNCONFIRMED, closed_at=at("2026-11-20 08:00"))
        )
    stats = await _stats(database, Period.THIS_MONTH)
    assert stats.requests == RequestCounts(
        created=5, claimed=4, done=2, closed=1, cancelled=1, expired=1
    )
    assert stats.completion_rate == pytest.approx(1 / 4)
    # Nor is it waiting any more: /stuck drops its claim (C2), a reminder is refused.
    page = await service(database).stuck_claims(COORDINATOR)
    assert isinstance(page, Page)
    assert [i.claim_id for i in page.items] == [ids["C5"]]
    reminded = await service(database).remind_referent(COORDINATOR, ids["C2"])
    assert reminded is Outcome.ALREADY_DONE


async def test_this_month_figures_for_every_neighbourhood(database: Database) -> None:
    ids = await seed(database)
    stats = await _stats(database, Period.THIS_MONTH)
    # R1, R2, R3, R4 and R5 (posted at 00:30 local on November 1st, 23:30 UTC on October 31st).
    assert stats.requests == RequestCounts(
        created=5, claimed=4, done=2, closed=1, cancelled=1, expired=1
    )
    # First claims: R1 60 min, R2 30 min, R3 60 min, R5 15 min (its audit event) → 45 min.
    assert stats.median_first_claim == timedelta(minutes=45)
    assert stats.completion_rate == pytest.approx(1 / 4)
    # Claims taken in November: C1 v1, C2 v2, C3 v3, C5 v3, C6 v2 (released: still taken).
    assert stats.active_volunteers == 3
    # Said done in November and not found undone: C1 90, C2 45, C7 30 (R6 is October's);
    # C8 (not done) does not count.
    assert (stats.services_done, stats.minutes_given) == (3, 165)
    assert [(s.label, s.requests) for s in stats.by_skill] == [
        ("Plumbing", RequestCounts(3, 3, 1, 1, 1, 0)),
        ("Shopping", RequestCounts(2, 1, 1, 0, 0, 1)),
    ]
    assert [
        (n.neighbourhood_id, n.name, n.requests, n.active_volunteers, n.minutes_given)
        for n in stats.by_neighbourhood
    ] == [
        (ids["biollay"], "Biollay", RequestCounts(2, 1, 0, 0, 1, 1), 1, 0),
        (ids["centre"], "Centre-Ville", RequestCounts(3, 3, 2, 1, 0, 0), 3, 165),
    ]
    # The visits of those services: C1 worried (12.50), C2 fine, C7 more visits (8.30); C8, not
    # done, counts neither its answer nor its money.
    assert stats.visit_months == (
        VisitMonth(date(2026, 11, 1), 3, 1, 1, 1, expenses=2, expense_cents=2080),
    )
    text = stats_text(stats, _, TOWN)
    assert "Visit reports: 3" in text
    assert "• 😊 fine: 1 · 🙂 would like more visits: 1 · 😟 worried: 1 · no answer: 0" in text
    assert "• November 2026: €20.80 (visits: 2)" in text
    french = stats_text(stats, I18n("fr").translator("fr"), TOWN)
    assert "• novembre 2026\u202f: 20,80\xa0€ (visites\u202f: 2)" in french


async def test_last_month_this_year_and_all_time(database: Database) -> None:
    await seed(database)
    october = await _stats(database, Period.LAST_MONTH)
    # R6 and R7 (23:30 local on October 31st).
    assert october.requests == RequestCounts(2, 2, 1, 1, 0, 1)
    assert october.median_first_claim == timedelta(minutes=37, seconds=30)  # 60 and 15
    assert october.completion_rate == pytest.approx(1 / 2)
    assert (october.active_volunteers, october.services_done, october.minutes_given) == (2, 0, 0)

    year = await _stats(database, Period.THIS_YEAR)
    assert year.requests == RequestCounts(7, 6, 3, 2, 1, 2)
    assert year.median_first_claim == timedelta(minutes=45)  # 15 15 30 | 60 60 60
    assert year.completion_rate == pytest.approx(2 / 6)
    assert (year.active_volunteers, year.services_done, year.minutes_given) == (3, 3, 165)

    everything = await _stats(database, Period.ALL_TIME)
    assert everything.requests == RequestCounts(8, 7, 4, 3, 1, 2)
    assert everything.median_first_claim == timedelta(minutes=60)  # R8 adds 120
    assert everything.completion_rate == pytest.approx(3 / 7)
    assert (everything.active_volunteers, everything.services_done) == (3, 4)
    assert everything.minutes_given == 285
    # Month by month, oldest first; C9 said nothing of the person.
    assert everything.visit_months == (
        VisitMonth(date(2025, 12, 1), 1, expenses=1, expense_cents=2000),
        VisitMonth(date(2026, 11, 1), 3, 1, 1, 1, expenses=2, expense_cents=2080),
    )
    assert everything.visits == VisitMonth(date(2025, 12, 1), 4, 1, 1, 1, 3, 4080)
    assert everything.visits.unanswered == 1
    assert october.visit_months == ()
    assert "Visit reports" not in stats_text(october, _, TOWN)


async def test_figures_of_one_neighbourhood(database: Database) -> None:
    ids = await seed(database)
    centre = await _stats(database, Period.THIS_MONTH, ids["centre"])
    assert centre.neighbourhood == "Centre-Ville"
    assert centre.requests == RequestCounts(3, 3, 2, 1, 0, 0)
    assert centre.median_first_claim == timedelta(minutes=30)  # 60, 30, 15
    assert centre.completion_rate == pytest.approx(1 / 3)
    assert (centre.active_volunteers, centre.services_done, centre.minutes_given) == (3, 3, 165)
    assert [n.name for n in centre.by_neighbourhood] == ["Centre-Ville"]
    assert [(m.visits, m.expense_cents) for m in centre.visit_months] == [(3, 2080)]

    biollay = await _stats(database, Period.THIS_MONTH, ids["biollay"])
    assert biollay.requests == RequestCounts(2, 1, 0, 0, 1, 1)
    assert biollay.median_first_claim == timedelta(minutes=60)
    assert biollay.completion_rate == 0.0
    assert (biollay.active_volunteers, biollay.services_done, biollay.minutes_given) == (1, 0, 0)
    assert biollay.visits is None

    assert await service(database).stats(COORDINATOR, Period.THIS_MONTH, 999) is Outcome.NOT_FOUND


async def test_an_empty_period_has_no_rate_and_no_median(database: Database) -> None:
    await seed(database)
    later = await service(database, at("2030-06-01 12:00")).stats(COORDINATOR, Period.THIS_MONTH)
    assert isinstance(later, Stats)
    assert later.requests == RequestCounts()
    assert (later.median_first_claim, later.completion_rate) == (None, None)
    assert (later.active_volunteers, later.minutes_given) == (0, 0)
    assert later.by_skill == ()
    assert [n.requests for n in later.by_neighbourhood] == [RequestCounts(), RequestCounts()]


async def test_everything_is_refused_to_anyone_but_a_coordinator(database: Database) -> None:
    ids = await seed(database)
    reports_ = service(database)
    for telegram_id in (REFERENT, 11, 999):
        assert await reports_.stats(telegram_id, Period.ALL_TIME) is Outcome.NOT_ALLOWED
        assert await reports_.open_requests(telegram_id) is Outcome.NOT_ALLOWED
        assert await reports_.stuck_claims(telegram_id) is Outcome.NOT_ALLOWED
        assert await reports_.remind_referent(telegram_id, ids["C2"]) is Outcome.NOT_ALLOWED
        assert await reports_.export_requests(telegram_id, Period.ALL_TIME, _) is (
            Outcome.NOT_ALLOWED
        )
        assert await reports_.export_claims(telegram_id, Period.ALL_TIME, _) is Outcome.NOT_ALLOWED
        assert await reports_.export_volunteers(telegram_id, _) is Outcome.NOT_ALLOWED
        assert await reports_.monthly_chart(telegram_id, Period.ALL_TIME, _) is (
            Outcome.NOT_ALLOWED
        )
    async with database.read() as session:
        assert (await session.execute(select(OutboxMessage))).first() is None


# --- /open and /stuck ----------------------------------------------------------------------------


async def test_open_requests_say_what_was_tried(database: Database) -> None:
    ids = await seed(database)
    page = await service(database).open_requests(COORDINATOR)
    assert isinstance(page, Page)
    assert (page.total, page.remaining) == (1, 0)
    [item] = page.items
    assert (item.id, item.skill_label, item.neighbourhood, item.area_label) == (
        ids["R5"],
        "Plumbing",
        "Centre-Ville",
        "Rue de Boigne",
    )
    assert (item.places_left, item.places_needed, item.waves) == (1, 2, 2)
    assert (item.offered, item.group_posts, item.declined, item.escalated) == (3, 1, 1, False)


async def test_stuck_claims_and_the_reminder(database: Database) -> None:
    ids = await seed(database)
    page = await service(database).stuck_claims(COORDINATOR)
    assert isinstance(page, Page)
    assert [(i.claim_id, i.kind) for i in page.items] == [
        (ids["C5"], StuckKind.SILENT),  # claimed Nov 1, asked "is it done?" once
        (ids["C2"], StuckKind.UNCONFIRMED),  # said done Nov 5, unconfirmed
    ]
    _silent, unconfirmed = page.items
    assert (unconfirmed.volunteer_name, unconfirmed.referent_name) == ("Victor Volunteer 2", "Rita")
    assert unconfirmed.since == at("2026-11-05 12:00")
    assert unconfirmed.can_remind
    # 47 hours after "done" it is not stuck yet; 49 hours after, it is.
    early = await service(database, at("2026-11-07 11:00")).stuck_claims(COORDINATOR)
    late = await service(database, at("2026-11-07 13:00")).stuck_claims(COORDINATOR)
    assert isinstance(early, Page)
    assert isinstance(late, Page)
    assert [i.claim_id for i in early.items] == [ids["C5"]]
    assert [i.claim_id for i in late.items] == [ids["C5"], ids["C2"]]
    first = await service(database).stuck_claims(COORDINATOR, offset=0, limit=1)
    assert isinstance(first, Page)
    assert (len(first.items), first.remaining) == (1, 1)

    reports_ = service(database)
    sent = reports_._messenger
    assert isinstance(sent, RecordingMessenger)
    assert await reports_.remind_referent(COORDINATOR, ids["C2"]) is Outcome.DONE
    assert await reports_.remind_referent(COORDINATOR, ids["C1"]) is Outcome.ALREADY_DONE
    assert await reports_.remind_referent(COORDINATOR, 9999) is Outcome.NOT_FOUND
    async with database.read() as session:
        rows = list((await session.execute(select(OutboxMessage))).scalars())
        events = list(
            (
                await session.execute(
                    select(AuditEvent).where(AuditEvent.action == "remind_referent")
                )
            ).scalars()
        )
    assert [row.chat_id for row in rows] == [REFERENT]
    [(reminder, reader)] = sent.sent
    assert reader.chat_id == REFERENT
    assert isinstance(reminder, ReferentReminder)
    assert (reminder.claim_id, reminder.said_done) == (ids["C2"], True)  # Confirmed / Not done
    assert reminder.volunteer is not None
    assert reminder.volunteer.name == "Victor Volunteer 2"
    assert [(e.entity, e.entity_id) for e in events] == [("claim", ids["C2"])]

    assert await reports_.remind_referent(COORDINATOR, ids["C5"]) is Outcome.DONE
    silent = sent.of(ReferentReminder)[-1]
    assert (silent.claim_id, silent.said_done) == (ids["C5"], False)
    # The referent may call them.
    assert silent.volunteer == Contact("Victor Volunteer 3", "+33 6 99 00 00 03")


# --- exports -------------------------------------------------------------------------------------


def _parse(file: ExportFile | Outcome | None, delimiter: str = ",") -> list[dict[str, str]]:
    assert isinstance(file, ExportFile)
    assert file.content.startswith(b"\xef\xbb\xbf")  # UTF-8 byte order mark
    text = file.content.decode("utf-8-sig")
    for secret in SECRETS:
        assert secret not in text, (file.filename, secret)
    rows = list(csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter))
    assert len(rows) == file.rows
    return rows


async def test_exports_parse_and_hold_no_personal_data(database: Database) -> None:
    ids = await seed(database)
    reports_ = service(database)
    requests = _parse(await reports_.export_requests(COORDINATOR, Period.ALL_TIME, _))
    assert [int(r["id"]) for r in requests] == sorted(ids[f"R{n}"] for n in range(1, 9))
    assert list(requests[0]) == [
        "id",
        "created_at",
        "status",
        "skill_code",
        "skill",
        "neighbourhood_id",
        "neighbourhood",
        "area_label",
        "when",
        "starts_at",
        "places_needed",
        "places_taken",
        "waves",
        "first_claim_at",
        "closed_at",
        "expires_at",
    ]
    r5 = next(r for r in requests if int(r["id"]) == ids["R5"])
    assert r5["created_at"] == "2026-11-01 00:30:00"  # local time
    assert r5["first_claim_at"] == "2026-11-01 00:45:00"
    assert (r5["status"], r5["skill_code"], r5["skill"]) == ("open", "plumbing", "Plumbing")
    assert (r5["neighbourhood"], r5["area_label"], r5["places_needed"]) == (
        "Centre-Ville",
        "Rue de Boigne",
        "2",
    )
    november = _parse(await reports_.export_requests(COORDINATOR, Period.THIS_MONTH, _))
    assert len(november) == 5

    claims = _parse(await reports_.export_claims(COORDINATOR, Period.ALL_TIME, _))
    assert len(claims) == 8
    c1 = next(c for c in claims if int(c["id"]) == ids["C1"])
    assert c1 == {
        "id": str(ids["C1"]),
        "request_id": str(ids["R1"]),
        "volunteer_member_id": str(ids["v1"]),
        "status": "confirmed",
        "claimed_at": "2026-11-02 12:00:00",
        "done_at": "2026-11-03 10:00:00",
        "confirmed_at": "2026-11-03 11:00:00",
        "released_at": "",
        "minutes_spent": "90",
        "wellbeing": "worried",
        "expense_cents": "1250",
        "receipt_sent": "True",
    }
    visits = _parse(await reports_.export_visits(COORDINATOR, Period.ALL_TIME, _))
    assert visits == [
        {
            "month": "2025-12",
            "visits": "1",
            "fine": "0",
            "more_visits": "0",
            "worried": "0",
            "no_answer": "1",
            "expenses": "1",
            "expenses_total": "20.00",
            "currency": "EUR",
        },
        {
            "month": "2026-11",
            "visits": "3",
            "fine": "1",
            "more_visits": "1",
            "worried": "1",
            "no_answer": "0",
            "expenses": "2",
            "expenses_total": "20.80",
            "currency": "EUR",
        },
    ]
    # In the reader's number format; only the period's months.
    french = _parse(
        await reports_.export_visits(COORDINATOR, Period.THIS_MONTH, I18n("fr").translator("fr")),
        delimiter=";",
    )
    assert [(v["month"], v["expenses_total"]) for v in french] == [("2026-11", "20,80")]
    assert await reports_.export_visits(REFERENT, Period.ALL_TIME, _) is Outcome.NOT_ALLOWED

    volunteers = _parse(await reports_.export_volunteers(COORDINATOR, _))
    assert [(v["member_id"], v["neighbourhood"], v["status"]) for v in volunteers] == [
        (str(ids["v1"]), "Centre-Ville", "approved"),
        (str(ids["v2"]), "Centre-Ville", "approved"),
        (str(ids["v3"]), "Biollay", "approved"),
        (str(ids["v1"] + 3), "Centre-Ville", "pending"),
    ]
    assert volunteers[0]["skills"] == "Plumbing; Shopping"
    assert volunteers[0]["approved_at"] == "2025-11-01 10:00:00"


async def test_without_a_signals_table_there_is_no_signals_file(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    await seed(database)
    monkeypatch.setattr(exports, "signals_table", lambda: None)
    assert await service(database).export_signals(COORDINATOR, Period.ALL_TIME, _) is None
    assert (
        await service(database).export_signals(REFERENT, Period.ALL_TIME, _) is Outcome.NOT_ALLOWED
    )


async def test_the_signals_of_the_models_are_exported_without_personal_data(
    database: Database,
) -> None:
    """Whatever the `signals` model declares: every free text and position is left out."""
    table = reports.signals_table()
    if table is None:
        pytest.skip("no signals table in this version's models")
    await seed(database)
    values: dict[str, object] = {}
    for column in table.columns:
        if column.primary_key or column.foreign_keys or isinstance(column.type, Enum):
            continue
        if isinstance(column.type, String | Text):
            length = getattr(column.type, "length", None) or 200
            values[column.name] = (
                "Mme Jeanne Martin, 27 rue de Boigne, +33 4 79 00, code 1234"
                if length >= 60
                else "+33 4 79 00 00 00"[:length]
            )
        elif isinstance(column.type, Float):
            values[column.name] = 45.5
        elif isinstance(column.type, UTCDateTime):
            values[column.name] = at("2026-11-03 09:00")
    async with database.transaction() as session:
        await session.execute(table.insert(), [values])
    rows = _parse(await service(database).export_signals(COORDINATOR, Period.THIS_MONTH, _))
    assert len(rows) == 1
    assert "id" in rows[0]


async def test_a_signals_table_is_exported_without_its_personal_columns(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    await seed(database)
    metadata = MetaData()
    signals = Table(
        "signals_probe",  # standing for whatever `signals` table a model declares
        metadata,
        Column("id", Integer, primary_key=True),
        Column("created_at", UTCDateTime),
        Column("status", String(16)),
        Column("neighbourhood_id", Integer),
        Column("person_name", String(120)),
        Column("phone", String(32)),
        Column("address", String(200)),
        Column("latitude", Float),
        Column("notes", Text),
        Column("seen_by", String(40)),
        Column("raw_time", DateTime),
    )
    async with database.engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
        await connection.execute(
            signals.insert(),
            [
                {
                    "created_at": at("2026-11-03 09:00"),
                    "status": "open",
                    "neighbourhood_id": 1,
                    "person_name": "Jeanne Martin",
                    "phone": "+33 4 79 11 11 11",
                    "address": "27 rue de Boigne",
                    "latitude": 45.5,
                    "notes": "code 1234",
                    "seen_by": "Victor",
                },
                {
                    "created_at": at("2026-09-03 09:00"),
                    "status": "closed",
                    "neighbourhood_id": None,
                    "person_name": None,
                    "phone": None,
                    "address": None,
                    "latitude": None,
                    "notes": None,
                    "seen_by": None,
                },
            ],
        )
    monkeypatch.setattr(exports, "signals_table", lambda: signals)
    rows = _parse(await service(database).export_signals(COORDINATOR, Period.THIS_MONTH, _))
    assert rows == [
        {
            "id": "1",
            "created_at": "2026-11-03 10:00:00",
            "status": "open",
            "neighbourhood_id": "1",
            "raw_time": "",
        }
    ]


async def test_the_monthly_chart_counts_and_draws(database: Database) -> None:
    ids = await seed(database)
    reports_ = service(database)
    counted = await reports_.monthly_counts(COORDINATOR, Period.ALL_TIME)
    assert not isinstance(counted, Outcome)
    months, series, names = counted
    assert (str(months[0]), str(months[-1]), len(months)) == ("2025-12-01", "2026-11-01", 12)
    centre_created, centre_completed = series[ids["centre"]]
    assert (centre_created[0], centre_created[10], centre_created[11]) == (1, 1, 3)  # Dec, Oct, Nov
    assert sum(centre_created) == 5
    assert (centre_completed[0], centre_completed[11], sum(centre_completed)) == (1, 2, 3)
    biollay_created, biollay_completed = series[ids["biollay"]]
    assert (biollay_created[10], biollay_created[11], sum(biollay_completed)) == (1, 2, 0)
    assert names[ids["biollay"]] == "Biollay"

    png = await reports_.monthly_chart(COORDINATOR, Period.ALL_TIME, _)
    assert isinstance(png, bytes)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    from PIL import Image

    with Image.open(io.BytesIO(png)) as image:
        image.load()
        assert image.format == "PNG"
        assert image.width > 300
        assert image.height > 200
    empty = await service(database, at("2030-06-01 12:00")).monthly_chart(
        COORDINATOR, Period.LAST_MONTH, _
    )
    assert isinstance(empty, bytes)
    assert empty.startswith(b"\x89PNG")
