"""/mydata and /forget as use cases, on SQLite and PostgreSQL, inspecting every table afterwards."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import MetaData, event, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.vocabulary import (
    ClaimStatus,
    RequestStatus,
    Role,
    VisitPlan,
    VolunteerStatus,
    Wellbeing,
)
from bot.services.invites import token_hash
from bot.services.members import MemberService, TelegramIdentity
from bot.services.outcomes import Outcome
from bot.services.privacy import PrivacyService
from storage import members as member_store
from storage.database import Database
from storage.models import (
    AuditEvent,
    Availability,
    Base,
    Beneficiary,
    Claim,
    ConversationState,
    GeocodeCacheEntry,
    HelpRequest,
    Invite,
    Member,
    MemberRole,
    Neighbourhood,
    Offer,
    OutboxMessage,
    Skill,
    UserData,
    VolunteerSkill,
)
from testkit.clock import ManualClock

NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> ManualClock:
    """This module's tests run at NOW."""
    return ManualClock(NOW)


# The person who asks to be forgotten: every value distinctive enough to be searched for.
TELEGRAM_ID = 987_654_321
NAME = "Zéphyrine Quillard"
USERNAME = "zephyrine_q"
PHONE = "+33 6 98 76 54 32"
# The claim columns of the visit plan and report (/mydata shows each).
VISIT_KEYS = ("visit_plan", "visit_planned_at", "wellbeing", "expense_cents", "receipt_sent")
ADDRESS = "17 rue des Capucines, Villeneuve"
LATITUDE, LONGITUDE = 45.123456, 5.654321

# Other people, who must not appear in the person's export.
COORDINATOR_ID = 111_222
COORDINATOR_NAME = "Claire Autremembre"
BENEFICIARY = ("Odette Bénéficiaire", "+33 4 79 00 00 01", "3 impasse des Lilas")
OTHER_BENEFICIARY = ("Gaston Voisin", "+33 4 79 00 00 02", "8 chemin des Vignes")
OTHER_REASON = "Too far from Gaston's street"
INVITE_TOKEN = "tok-claire-for-zephyrine-0001"


def person_needles(
    telegram_id: int, name: str, *texts: str, coordinates: tuple[float, float] | None = None
) -> list[str]:
    """What must not be found anywhere once a person is forgotten (compared casefolded)."""
    needles = [str(telegram_id), name, *texts]
    # A first or last name alone, as free text would mention it.
    needles += [part for part in name.split() if len(part) >= 4]
    if coordinates is not None:
        for value in coordinates:
            needles += [repr(value), f"{value:.5f}"]  # as stored, and as a geocode-cache key
    return needles


async def personal_traces(database: Database, needles: list[str]) -> dict[str, set[str]]:
    """Every table.column of the live database holding one of `needles`, in any row."""
    metadata = MetaData()
    async with database.engine.connect() as connection:
        # Reflected rather than taken from the models: a column only a migration added counts.
        await connection.run_sync(metadata.reflect)
        assert {table.name for table in Base.metadata.sorted_tables} <= set(metadata.tables)
        found: dict[str, set[str]] = {}
        wanted = [needle.casefold() for needle in needles]
        for table in metadata.sorted_tables:
            for row in (await connection.execute(select(table))).mappings():
                for column, value in row.items():
                    if value is None:
                        continue
                    text = (
                        json.dumps(value, ensure_ascii=False)
                        if isinstance(value, dict | list)
                        else str(value)
                    ).casefold()
                    if any(needle in text for needle in wanted):
                        found.setdefault(table.name, set()).add(str(column))
    return found


@dataclass(frozen=True)
class Seeded:
    """Ids of the rows the tests look at again."""

    person_id: int
    coordinator_id: int
    done_claim_id: int
    active_claim_id: int
    full_request_id: int
    own_request_id: int
    own_beneficiary_id: int


async def _skill(session: AsyncSession, code: str) -> int:
    return int((await session.execute(select(Skill.id).where(Skill.code == code))).scalar_one())


async def seed(database: Database) -> Seeded:
    """A volunteer, referent and coordinator with every personal field filled, and the town."""
    async with database.transaction() as session:
        neighbourhood = Neighbourhood(name="Centre-Ville", latitude=45.12, longitude=5.65)
        coordinator = Member(telegram_id=COORDINATOR_ID, display_name=COORDINATOR_NAME)
        session.add_all([neighbourhood, coordinator])
        await session.flush()
        person = Member(
            telegram_id=TELEGRAM_ID,
            display_name=NAME,
            username=USERNAME,
            phone=PHONE,
            language="en",
            telegram_language="en-GB",
            latitude=LATITUDE,
            longitude=LONGITUDE,
            address=ADDRESS,
            radius_km=5.0,
            neighbourhood_id=neighbourhood.id,
            volunteer_status=VolunteerStatus.APPROVED,
            status_reason=f"Welcome back, {NAME}",
            approved_at=NOW - timedelta(days=20),
            approved_by_id=coordinator.id,
            charter_version="2026-11",
            charter_accepted_at=NOW - timedelta(days=21),
            paused_until=NOW + timedelta(days=3),
            quiet_start_minute=22 * 60,
            quiet_end_minute=7 * 60,
            weekly_cap=3,
            reachable=False,
            unreachable_since=NOW - timedelta(days=1),
            last_offered_at=NOW - timedelta(hours=5),
        )
        session.add(person)
        await session.flush()
        plumbing, shopping = await _skill(session, "plumbing"), await _skill(session, "shopping")
        session.add_all(
            [
                MemberRole(member_id=coordinator.id, role=Role.COORDINATOR),
                MemberRole(member_id=coordinator.id, role=Role.REFERENT),
                *(MemberRole(member_id=person.id, role=role) for role in Role),
                VolunteerSkill(
                    member_id=person.id,
                    skill_id=plumbing,
                    verified_at=NOW - timedelta(days=19),
                    verified_by_id=coordinator.id,
                ),
                VolunteerSkill(member_id=person.id, skill_id=shopping),
                Availability(member_id=person.id, weekday=0, period="morning"),
                Availability(member_id=person.id, weekday=5, period="evening"),
                ConversationState(
                    key=f"signup|[{TELEGRAM_ID},{TELEGRAM_ID}]",
                    conversation="signup",
                    telegram_id=TELEGRAM_ID,
                    state="phone",
                ),
                UserData(telegram_id=TELEGRAM_ID, data={"signup": {"name": NAME, "phone": PHONE}}),
                Invite(
                    token_hash=token_hash(INVITE_TOKEN),
                    role=Role.REFERENT,
                    created_by_id=coordinator.id,
                    expires_at=NOW + timedelta(days=7),
                    used_at=NOW - timedelta(days=10),
                    used_by_id=person.id,
                ),
                Invite(
                    token_hash=token_hash("tok-zephyrine-unused-0002"),
                    role=Role.REFERENT,
                    created_by_id=person.id,
                    expires_at=NOW + timedelta(days=7),
                ),
            ]
        )
        theirs = Beneficiary(
            referent_id=person.id,
            name=BENEFICIARY[0],
            phone=BENEFICIARY[1],
            address=BENEFICIARY[2],
            latitude=45.2,
            longitude=5.8,
        )
        others = Beneficiary(
            referent_id=coordinator.id,
            name=OTHER_BENEFICIARY[0],
            phone=OTHER_BENEFICIARY[1],
            address=OTHER_BENEFICIARY[2],
            latitude=45.3,
            longitude=5.7,
        )
        session.add_all([theirs, others])
        await session.flush()

        def request(referent: Member, beneficiary: Beneficiary, **values: object) -> HelpRequest:
            return HelpRequest(
                referent_id=referent.id,
                beneficiary_id=beneficiary.id,
                skill_id=plumbing,
                neighbourhood_id=neighbourhood.id,
                description=f"Leaking tap at {beneficiary.name}'s",
                latitude=beneficiary.latitude,
                longitude=beneficiary.longitude,
                area_label="Chemin des Vignes",
                **values,
            )

        done_request = request(coordinator, others, status=RequestStatus.COMPLETED, places_taken=1)
        full_request = request(coordinator, others, status=RequestStatus.FULL, places_taken=1)
        own_request = request(person, theirs)
        session.add_all([done_request, full_request, own_request])
        await session.flush()
        done_claim = Claim(
            request_id=done_request.id,
            volunteer_id=person.id,
            status=ClaimStatus.CONFIRMED,
            claimed_at=NOW - timedelta(days=5),
            done_at=NOW - timedelta(days=4),
            confirmed_at=NOW - timedelta(days=3),
            note=f"Fixed it. {NAME}, {PHONE}",
            minutes_spent=45,
            visit_plan=VisitPlan.TOMORROW,
            visit_planned_at=NOW - timedelta(days=5),
            wellbeing=Wellbeing.WANTS_MORE_VISITS,
            expense_cents=1250,
            receipt_sent=True,
        )
        active_claim = Claim(
            request_id=full_request.id,
            volunteer_id=person.id,
            claimed_at=NOW - timedelta(hours=2),
            remind_at=NOW + timedelta(hours=1),
            ask_done_at=NOW + timedelta(hours=4),
        )
        direct_offer = Offer(
            request_id=full_request.id, member_id=person.id, chat_id=TELEGRAM_ID, kind="direct"
        )
        group_offer = Offer(request_id=full_request.id, chat_id=-100_555, kind="group")
        session.add_all([done_claim, active_claim, direct_offer, group_offer])
        await session.flush()
        session.add_all(
            [
                OutboxMessage(
                    chat_id=TELEGRAM_ID,
                    member_id=person.id,
                    offer_id=direct_offer.id,
                    method="sendMessage",
                    payload={"chat_id": TELEGRAM_ID, "text": f"Hello {NAME}"},
                ),
                OutboxMessage(
                    chat_id=COORDINATOR_ID,
                    member_id=coordinator.id,
                    method="sendMessage",
                    payload={"chat_id": COORDINATOR_ID, "text": "A request is full."},
                ),
                AuditEvent(
                    actor_member_id=person.id,
                    entity="member",
                    entity_id=person.id,
                    action="apply",
                    to_state="pending",
                    detail={"charter_version": "2026-11"},
                ),
                AuditEvent(
                    actor_member_id=coordinator.id,
                    entity="member",
                    entity_id=person.id,
                    action="reject",
                    from_state="pending",
                    to_state="rejected",
                    detail={"reason": f"{NAME} lives at {ADDRESS}, call {PHONE}"},
                ),
                AuditEvent(
                    actor_member_id=person.id,
                    entity="member",
                    entity_id=coordinator.id,
                    action="reject",
                    detail={"reason": OTHER_REASON, "skill_id": plumbing},
                ),
                AuditEvent(
                    actor_member_id=coordinator.id,
                    entity="invite",
                    entity_id=1,
                    action="create",
                    detail={"role": "referent"},
                ),
                GeocodeCacheEntry(
                    key=f"reverse:en:{LATITUDE:.5f},{LONGITUDE:.5f}",
                    result={"label": "Rue des Capucines, Villeneuve", "latitude": 45.1234},
                ),
                GeocodeCacheEntry(
                    key="search:fr:17 rue des capucines villeneuve",
                    result={"label": ADDRESS, "latitude": LATITUDE, "longitude": LONGITUDE},
                ),
                GeocodeCacheEntry(
                    key="search:fr:1 place de la mairie",
                    result={"label": "1 Place de la Mairie", "latitude": 45.0, "longitude": 5.0},
                ),
            ]
        )
        return Seeded(
            person_id=person.id,
            coordinator_id=coordinator.id,
            done_claim_id=done_claim.id,
            active_claim_id=active_claim.id,
            full_request_id=full_request.id,
            own_request_id=own_request.id,
            own_beneficiary_id=theirs.id,
        )


PERSON_NEEDLES = person_needles(
    TELEGRAM_ID, NAME, USERNAME, PHONE, ADDRESS, coordinates=(LATITUDE, LONGITUDE)
)


async def test_forget_leaves_no_personal_data_in_any_table(database: Database) -> None:
    seeded = await seed(database)
    before = await personal_traces(database, PERSON_NEEDLES)
    # The inspection sees the seeded data: its silence afterwards means something.
    assert {"members", "user_data", "conversation_states", "claims", "audit_events"} <= set(before)
    assert {"outbox", "offers", "geocode_cache"} <= set(before)

    assert await PrivacyService(database).forget(TELEGRAM_ID) is Outcome.DONE

    assert await personal_traces(database, PERSON_NEEDLES) == {}
    async with database.read() as session:
        member = await session.get(Member, seeded.person_id)
        assert member is not None
        assert member.telegram_id is None
        assert member.display_name == ""
        assert member.forgotten_at == NOW
        assert member.neighbourhood_id is None
        assert member.volunteer_status is None
        assert member.charter_version is None
        for table in (MemberRole, VolunteerSkill, Availability):
            rows = await session.execute(select(table).where(table.member_id == member.id))
            assert rows.first() is None, table.__tablename__

        # The services done stay, pointing at the anonymous row, for the statistics.
        done = await session.get(Claim, seeded.done_claim_id)
        assert done is not None
        assert (done.volunteer_id, done.status, done.minutes_spent) == (
            seeded.person_id,
            ClaimStatus.CONFIRMED,
            45,
        )
        assert done.note is None
        # When they planned to go goes; how the visit went stays for the figures, naming nobody.
        assert (done.visit_plan, done.visit_planned_at) == (None, None)
        assert (done.wellbeing, done.expense_cents, done.receipt_sent) == (
            Wellbeing.WANTS_MORE_VISITS,
            1250,
            True,
        )
        # The place held on a request is given back so that someone else can take it.
        active = await session.get(Claim, seeded.active_claim_id)
        assert active is not None
        assert (active.volunteer_id, active.status) == (seeded.person_id, ClaimStatus.RELEASED)
        assert (active.released_at, active.remind_at, active.ask_done_at) == (NOW, None, None)
        full = await session.get(HelpRequest, seeded.full_request_id)
        assert full is not None
        assert (full.status, full.places_taken) == (RequestStatus.OPEN, 0)

        # What the person registered as a referent belongs to the town's scheme.
        own_request = await session.get(HelpRequest, seeded.own_request_id)
        beneficiary = await session.get(Beneficiary, seeded.own_beneficiary_id)
        assert own_request is not None
        assert own_request.referent_id == seeded.person_id
        assert beneficiary is not None
        assert (beneficiary.referent_id, beneficiary.name) == (seeded.person_id, BENEFICIARY[0])

        invites = {
            invite.token_hash: invite
            for invite in (await session.execute(select(Invite))).scalars()
        }
        assert invites[token_hash("tok-zephyrine-unused-0002")].revoked_at == NOW
        assert invites[token_hash(INVITE_TOKEN)].used_by_id == seeded.person_id

        events = (await session.execute(select(AuditEvent).order_by(AuditEvent.id))).scalars()
        by_action = {
            (event.action, event.entity_id, event.actor_member_id): event for event in events
        }
        forget = by_action[("forget", seeded.person_id, seeded.person_id)]
        assert (forget.entity, forget.to_state, forget.detail) == ("member", "forgotten", None)
        assert by_action[("apply", seeded.person_id, seeded.person_id)].detail == {
            "charter_version": "2026-11"
        }
        assert by_action[("reject", seeded.person_id, seeded.coordinator_id)].detail is None
        assert by_action[("reject", seeded.coordinator_id, seeded.person_id)].detail == {
            "skill_id": await _skill(session, "plumbing")
        }
        assert by_action[("create", 1, seeded.coordinator_id)].detail == {"role": "referent"}

        # Nobody else lost anything.
        claire = await session.get(Member, seeded.coordinator_id)
        assert claire is not None
        assert (claire.telegram_id, claire.display_name) == (COORDINATOR_ID, COORDINATOR_NAME)
        assert await session.get(GeocodeCacheEntry, "search:fr:1 place de la mairie") is not None
        kept_outbox = (await session.execute(select(OutboxMessage.chat_id))).scalars().all()
        assert kept_outbox == [COORDINATOR_ID]
        kept_offers = (await session.execute(select(Offer.chat_id))).scalars().all()
        assert kept_offers == [-100_555]


async def test_forgetting_twice_finds_nobody_and_an_unknown_person_nothing(
    database: Database,
) -> None:
    await seed(database)
    privacy = PrivacyService(database)
    assert await privacy.forget(TELEGRAM_ID) is Outcome.DONE
    assert await privacy.forget(TELEGRAM_ID) in {Outcome.NOT_FOUND, Outcome.ALREADY_DONE}
    assert await privacy.export(TELEGRAM_ID) is None

    # Someone with drafts but no member row: the drafts go all the same.
    async with database.transaction() as session:
        session.add(UserData(telegram_id=555, data={"signup": {"name": "Passer-by"}}))
    assert await privacy.forget(555) is Outcome.NOT_FOUND
    async with database.read() as session:
        assert await session.get(UserData, 555) is None
    assert await privacy.export(555) is None


async def test_a_forgotten_person_who_comes_back_is_a_new_member(database: Database) -> None:
    seeded = await seed(database)
    await PrivacyService(database).forget(TELEGRAM_ID)
    members = MemberService(database, coordinator_ids=[])
    again = await members.identify(TelegramIdentity(TELEGRAM_ID, "Zéphyrine", language_code="en"))
    assert again.id != seeded.person_id
    assert again.roles == frozenset()
    assert again.volunteer_status is None


async def test_export_holds_the_persons_data_and_nobody_elses(database: Database) -> None:
    seeded = await seed(database)
    exported = await PrivacyService(database).export(TELEGRAM_ID)
    assert exported is not None
    text = json.dumps(exported, ensure_ascii=False)  # JSON-ready as it is: no custom encoder

    member = exported["member"]
    assert member["id"] == seeded.person_id
    assert (member["telegram_id"], member["display_name"], member["username"]) == (
        TELEGRAM_ID,
        NAME,
        USERNAME,
    )
    assert (member["phone"], member["address"]) == (PHONE, ADDRESS)
    assert (member["latitude"], member["longitude"]) == (LATITUDE, LONGITUDE)
    assert member["neighbourhood"] == "Centre-Ville"
    assert member["volunteer_status"] == "approved"
    assert member["charter_accepted_at"] == (NOW - timedelta(days=21)).isoformat()
    assert exported["exported_at"] == NOW.isoformat()

    assert {role["role"] for role in exported["roles"]} == {"coordinator", "referent", "volunteer"}
    skills = {skill["code"]: skill["verified"] for skill in exported["skills"]}
    assert skills == {"plumbing": True, "shopping": False}
    assert [(slot["day"], slot["period"]) for slot in exported["availability"]] == [
        ("Monday", "morning"),
        ("Saturday", "evening"),
    ]
    claims = {claim["id"]: claim for claim in exported["claims"]}
    assert claims[seeded.done_claim_id]["minutes_spent"] == 45
    assert claims[seeded.done_claim_id]["status"] == "confirmed"
    visit = {key: claims[seeded.done_claim_id][key] for key in VISIT_KEYS}
    assert visit == {
        "visit_plan": "tomorrow",
        "visit_planned_at": (NOW - timedelta(days=5)).isoformat(),
        "wellbeing": "more",
        "expense_cents": 1250,
        "receipt_sent": True,
    }
    assert claims[seeded.active_claim_id]["status"] == "active"
    assert [invite["role"] for invite in exported["invitations_used"]] == ["referent"]
    assert [invite["used"] for invite in exported["invitations_created"]] == [False]
    assert [r["id"] for r in exported["requests_posted"]] == [seeded.own_request_id]
    assert exported["beneficiaries_registered"] == 1
    assert len(exported["offers_received"]) == 1
    assert exported["drafts"] == {"signup": {"name": NAME, "phone": PHONE}}
    assert [c["conversation"] for c in exported["conversations"]] == ["signup"]
    reasons = [event["detail"] for event in exported["audit_events"] if event["action"] == "reject"]
    # The reason given about them is theirs; the one they gave about someone else is not.
    assert {"reason": f"{NAME} lives at {ADDRESS}, call {PHONE}"} in reasons
    assert OTHER_REASON not in text

    for foreign in (COORDINATOR_NAME, "Autremembre", *BENEFICIARY, *OTHER_BENEFICIARY):
        assert foreign not in text, foreign
    assert "Odette" not in text
    assert "Gaston" not in text
    assert str(COORDINATOR_ID) not in text
    assert INVITE_TOKEN not in text
    assert "tok-zephyrine-unused-0002" not in text  # a live secret stays out of a file


# Tables that grow with the town's history (or hold days of it): a person's own rows are found
# through an index, never by reading every row.
GROWING_TABLES = ("requests", "claims", "offers", "outbox", "audit_events", "beneficiaries")


async def test_a_persons_data_is_found_by_index_in_the_tables_that_grow(
    sqlite_database: Database,
) -> None:
    """/mydata, /forget and the idle purge: SQLite's plan for every statement they run."""
    await seed(sqlite_database)
    statements: list[tuple[str, Any]] = []

    def remember(_c: object, _cur: object, statement: str, parameters: object, *_: object) -> None:
        statements.append((statement, parameters))

    event.listen(sqlite_database.engine.sync_engine, "before_cursor_execute", remember)
    privacy = PrivacyService(sqlite_database)
    assert await privacy.export(TELEGRAM_ID) is not None
    assert await privacy.forget(TELEGRAM_ID) is Outcome.DONE
    async with sqlite_database.transaction() as session:
        await member_store.purge_idle(session, before=NOW + timedelta(days=1), limit=100)
    event.remove(sqlite_database.engine.sync_engine, "before_cursor_execute", remember)

    path = sqlite_database.engine.url.database
    assert path is not None
    full_scans = []
    with closing(sqlite3.connect(path)) as connection:
        for statement, parameters in statements:
            if not statement.lstrip().upper().startswith(("SELECT", "UPDATE", "DELETE", "WITH")):
                continue
            if isinstance(parameters, list):  # executemany: one row's parameters will do
                parameters = parameters[0]
            plan = connection.execute(f"EXPLAIN QUERY PLAN {statement}", parameters).fetchall()
            full_scans += [
                (detail, statement)
                for *_ids, detail in plan
                if detail.split(" ")[:2] in [["SCAN", table] for table in GROWING_TABLES]
            ]
    assert len(statements) > 30  # the three use cases ran their statements
    assert full_scans == []
