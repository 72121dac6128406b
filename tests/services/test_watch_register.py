"""Issue 18, the watch register, on SQLite and PostgreSQL: who sees and changes whom, every
reading in the audit log, a removal erases the person, the request retention leaves it alone."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import select

from bot.app import build_services
from bot.context import Services
from bot.domain.vocabulary import Role
from bot.domain.watch import Consent, RegisteredBy, WatchField
from bot.services.invites import CreatedInvite
from bot.services.members import TelegramIdentity
from bot.services.outcomes import Outcome
from bot.services.watch.register import Entry, Record, RegisterPage
from storage.database import Database
from storage.models import AuditEvent, Beneficiary
from storage.watch_models import WatchPerson
from testkit.clock import ManualClock
from testkit.harness import brigade_settings
from tests.conftest import COORDINATOR_ID
from tests.factories import CENTRE, east
from tests.services.test_privacy import personal_traces

RITA, ROBIN, VOLUNTEER = 5_001, 5_002, 5_003
ODETTE = Entry(
    name="Odette Vigilance",
    phone="+33 2 35 00 11 22",
    address="12 rue de la Canicule, Le Havre",
    registered_by=RegisteredBy.RELATIVE,
    consent=Consent.WRITTEN,
    language="fr",
    best_time="le matin, pas avant 10 h",
    notes="malentendante : laisser sonner longtemps",
    emergency_contact="Sa fille Agnès, 06 98 76 54 32",
)


@pytest.fixture
async def services(database: Database) -> Services:
    settings = brigade_settings(database.url, coordinator_ids=[COORDINATOR_ID])
    built = build_services(settings, database)
    await built.members.identify(TelegramIdentity(COORDINATOR_ID, "Claire"))
    for telegram_id, name in ((RITA, "Rita"), (ROBIN, "Robin")):
        await built.members.identify(TelegramIdentity(telegram_id, name))
        created = await built.invites.create(COORDINATOR_ID, Role.REFERENT)
        assert isinstance(created, CreatedInvite)
        assert (await built.invites.redeem(created.token, telegram_id)).outcome is Outcome.DONE
    await built.members.identify(TelegramIdentity(VOLUNTEER, "Vic"))
    return built


async def _events(database: Database, person_id: int) -> list[tuple[str, int | None]]:
    async with database.read() as session:
        rows = await session.execute(
            select(AuditEvent.action, AuditEvent.actor_member_id)
            .where(AuditEvent.entity == "watch_person", AuditEvent.entity_id == person_id)
            .order_by(AuditEvent.id)
        )
        return [(action, actor) for action, actor in rows.all()]


async def _member_id(services: Services, telegram_id: int) -> int:
    member = await services.members.find(telegram_id)
    assert member is not None
    return member.id


async def test_a_referent_registers_reads_and_changes_their_people_only(
    services: Services, database: Database
) -> None:
    register = services.register
    odette = await register.add(RITA, ODETTE)
    assert isinstance(odette, int)
    gaston = await register.add(ROBIN, replace(ODETTE, name="Gaston Voisin"))
    assert isinstance(gaston, int)

    # Each referent lists their own people; the coordinator lists everyone, by name.
    rita_page = await register.page(RITA, 0, 10)
    assert isinstance(rita_page, RegisterPage)
    assert rita_page.people == ((odette, "Odette Vigilance"),)
    everyone = await register.page(COORDINATOR_ID, 0, 10)
    assert isinstance(everyone, RegisterPage)
    assert [name for _, name in everyone.people] == ["Gaston Voisin", "Odette Vigilance"]
    assert everyone.total == 2

    # Reading a record: its referent and a coordinator may, and each reading is audited.
    record = await register.record(RITA, odette)
    assert isinstance(record, Record)
    assert record.entry == ODETTE
    assert record.referent_name == "Rita"
    assert isinstance(await register.record(COORDINATOR_ID, odette), Record)
    assert await register.record(ROBIN, odette) is Outcome.NOT_ALLOWED
    assert await register.record(VOLUNTEER, odette) is Outcome.NOT_ALLOWED
    rita, claire = await _member_id(services, RITA), await _member_id(services, COORDINATOR_ID)
    assert await _events(database, odette) == [
        ("register", rita),
        ("view", rita),
        ("view", claire),
    ]

    # Changing one part: its referent or a coordinator; an invalid value changes nothing.
    assert await register.edit(RITA, odette, WatchField.BEST_TIME, "après 14 h") is Outcome.DONE
    assert await register.edit(COORDINATOR_ID, odette, WatchField.CONSENT, "oral") is Outcome.DONE
    assert await register.edit(ROBIN, odette, WatchField.NAME, "X") is Outcome.NOT_ALLOWED
    assert await register.edit(RITA, odette, WatchField.LANGUAGE, "de") is Outcome.INVALID
    assert await register.edit(RITA, odette, WatchField.NAME, "") is Outcome.INVALID
    assert await register.edit(RITA, odette, WatchField.NOTES, None) is Outcome.DONE
    changed = await register.record(RITA, odette)
    assert isinstance(changed, Record)
    assert changed.entry == replace(
        ODETTE, best_time="après 14 h", consent=Consent.ORAL, notes=None
    )
    # The audit log says which part changed, never what it became.
    async with database.read() as session:
        details = (
            await session.execute(
                select(AuditEvent.detail).where(
                    AuditEvent.entity == "watch_person", AuditEvent.action == "edit"
                )
            )
        ).scalars()
        assert [detail for detail in details] == [
            {"field": "time"},
            {"field": "consent"},
            {"field": "notes"},
        ]

    # Nobody without the role adds anyone; an entry breaking a rule is refused.
    assert await register.add(VOLUNTEER, ODETTE) is Outcome.NOT_ALLOWED
    assert await register.page(VOLUNTEER, 0, 10) is Outcome.NOT_ALLOWED
    assert await register.add(RITA, replace(ODETTE, language="de")) is Outcome.INVALID
    assert await register.add(RITA, replace(ODETTE, name="x" * 121)) is Outcome.INVALID


async def test_removal_erases_the_person_at_once(services: Services, database: Database) -> None:
    register = services.register
    odette = await register.add(RITA, ODETTE)
    assert isinstance(odette, int)
    assert await register.remove(ROBIN, odette) is Outcome.NOT_ALLOWED
    assert await register.remove(VOLUNTEER, odette) is Outcome.NOT_ALLOWED
    assert await register.remove(RITA, odette) is Outcome.DONE
    assert await register.remove(RITA, odette) is Outcome.NOT_FOUND
    assert await register.record(COORDINATOR_ID, odette) is Outcome.NOT_FOUND
    assert await register.edit(RITA, odette, WatchField.NAME, "Odette") is Outcome.NOT_FOUND

    # Nothing of her is left anywhere in the database: name, phone, address, notes, contact.
    needles = [
        ODETTE.name,
        ODETTE.phone,
        ODETTE.address,
        "malentendante",
        "Agnès",
        "06 98 76 54 32",
    ]
    assert await personal_traces(database, needles) == {}
    assert [action for action, _ in await _events(database, odette)] == ["register", "remove"]


async def test_from_a_beneficiary_and_kept_past_the_request_retention(
    services: Services, database: Database, clock: ManualClock
) -> None:
    rita = await _member_id(services, RITA)
    centre = await services.neighbourhoods.create(COORDINATOR_ID, "Centre-Ville", *CENTRE, 1.0)
    assert not isinstance(centre, Outcome)
    latitude, longitude = east(0.3)
    async with database.transaction() as session:
        known = Beneficiary(
            referent_id=rita,
            name="Odette Vigilance",
            phone=ODETTE.phone,
            latitude=latitude,
            longitude=longitude,
        )
        other = Beneficiary(referent_id=await _member_id(services, ROBIN), name="Gaston")
        session.add_all([known, other])
        await session.flush()
        known_id, other_id = known.id, other.id

    register = services.register
    assert [(person.id, person.name) for person in await register.known(RITA)] == [
        (known_id, "Odette Vigilance")
    ]
    # Only one's own beneficiaries.
    assert await register.add(RITA, replace(ODETTE, beneficiary_id=other_id)) is (
        Outcome.NOT_ALLOWED
    )
    odette = await register.add(RITA, replace(ODETTE, beneficiary_id=known_id))
    assert isinstance(odette, int)
    # She is counted where her beneficiary's place is: the nearest neighbourhood centre.
    async with database.read() as session:
        entry = await session.get(WatchPerson, odette)
        assert entry is not None
        assert (entry.latitude, entry.neighbourhood_id) == (latitude, centre.id)

    # Years later, the retention purges the requests' people: not the register.
    clock.advance(days=3 * 365)
    purged = await services.requests.run_due()
    assert purged["beneficiaries_purged"] == 2
    await services.retention.run_due()
    async with database.read() as session:
        person = await session.get(WatchPerson, odette)
        assert person is not None
        assert (person.name, person.phone, person.address) == (
            ODETTE.name,
            ODETTE.phone,
            ODETTE.address,
        )
        known_now = await session.get(Beneficiary, known_id)
        assert known_now is not None
        assert known_now.purged_at is not None
