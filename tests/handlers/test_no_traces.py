"""After the purges, nothing is left of what was purged: not in any table, not in the file.

A beneficiary's name, phone, address and door code, a reported case, a volunteer who erases
their data and a relay nobody needs any more all go through the outbox (offers, the claimer's
details, the referent's notices, the case's notices with the reporter's link). Then the
beneficiary's retention purge (clock moved), the case purge, /forget and the other lifetimes
run; then every column of every table (reflected, so a column only a migration added counts) is
searched for them, and on SQLite the database file's bytes too.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from bot.domain.vocabulary import Role, SignalOutcome, Wellbeing
from bot.services.geocoding import CachedGeocoder
from bot.services.members import TelegramIdentity
from bot.services.outcomes import Outcome
from bot.services.requests import StepOutcome
from bot.services.signals import CaseOutcome, Reported, SignalDraft
from bot.services.volunteers import VolunteerApplication
from storage import outbox
from storage.database import Database
from storage.models import Claim, Skill
from testkit.clock import ManualClock
from testkit.geocoder import FakeGeocoder
from testkit.harness import InProcessBrigade, brigade_settings
from testkit.telegram import FakeTelegram, FakeUser
from tests.conftest import COORDINATOR_ID
from tests.services.test_privacy import personal_traces

BOIGNE = (45.5677, 5.9204)  # 27 rue de Boigne, Chambéry, in the fake gazetteer
VINCE_ID, OLGA_ID = 7_345_678_901, 7_123_456_789

BENEFICIARY = ("Zephyrine", "Quillard", "+33 4 79 86 42 17", "door code 4817B")
# The geocoder's label of the typed address (house number first), and the typed text.
ADDRESS = ("27, Rue de Boigne", "27 rue de Boigne")
ABANDONED = ("Hortense", "Valmont")
CASE = (
    "Barnabe",
    "Oxley",
    "14 impasse des Capucins",
    "shutters",
    "+33 7 12 34 56 78",
    f"tg://user?id={OLGA_ID}",
)
VOLUNTEER = ("Ignatius", "Pemberton", "+33 6 55 44 33 22", str(VINCE_ID))
RELAY = ("Vasquez", str(OLGA_ID))
# What a worried visit report says of the person, and the file id of a receipt photo.
VISIT = ("Zephyrine seemed lost and her radiator is cold", "AgACAgQAAxkBAAIreceiptfile")
NEEDLES = [*BENEFICIARY, *ADDRESS, *ABANDONED, *CASE, *VOLUNTEER, *RELAY, *VISIT]


@pytest.fixture
def clock() -> ManualClock:
    """Ticking: the outbox sender puts a busy chat's rows back for a second or two."""
    return ManualClock(ticking=True)


@pytest.fixture
async def town(world: FakeTelegram, database: Database) -> AsyncIterator[InProcessBrigade]:
    """The real application on the test's database and clock, with the cached geocoder."""
    settings = brigade_settings(database.url, coordinator_ids=[COORDINATOR_ID])
    geocoder = CachedGeocoder(FakeGeocoder(), database)
    async with InProcessBrigade(world, settings, database=database, geocoder=geocoder) as running:
        yield running


async def _drain(town: InProcessBrigade) -> None:
    """Wait until nothing is left to send, rows the sender put back for a second included."""
    async with asyncio.timeout(20):
        while True:
            async with town.services.database.read() as session:
                if await outbox.pending_count(session) == 0:
                    return
            town.services.waker()
            await asyncio.sleep(0.05)


async def _say(town: InProcessBrigade, person: FakeUser, text: str) -> None:
    person.send_text(text)
    await town.deliver()


async def _tap(town: InProcessBrigade, person: FakeUser, label: str) -> None:
    person.tap(label)
    await town.deliver()


async def _people(world: FakeTelegram, town: InProcessBrigade) -> tuple[FakeUser, ...]:
    """Claire (coordinator), Rita (referent), Vince (volunteer), Olga (a relay)."""
    services = town.services
    claire = world.add_user("Claire", user_id=COORDINATOR_ID, language_code="en")
    claire.send_command("start")
    await town.deliver()
    invite = await services.invites.create(COORDINATOR_ID, Role.REFERENT)
    assert not isinstance(invite, Outcome)
    rita = world.add_user("Rita", language_code="en")
    rita.start(invite.start_payload)
    vince = world.add_user("Ignatius", user_id=VINCE_ID, last_name="Pemberton", language_code="en")
    olga = world.add_user("Olga", user_id=OLGA_ID, last_name="Vasquez", language_code="en")
    olga.send_command("start")
    await town.deliver()
    await services.members.identify(
        TelegramIdentity(vince.id, "Ignatius", "Pemberton", language_code="en")
    )
    async with services.database.read() as session:
        plumbing = (await session.execute(select(Skill.id).where(Skill.code == "plumbing"))).one()
    submitted = await services.volunteers.submit(
        vince.id,
        VolunteerApplication(
            display_name="Ignatius Pemberton",
            phone="+33 6 55 44 33 22",
            latitude=BOIGNE[0],
            longitude=BOIGNE[1] + 0.01,
            radius_km=3.0,
            skill_ids=(plumbing[0],),
            availability=(),
            charter_version="2026-11",
        ),
    )
    assert not isinstance(submitted, Outcome)
    await services.volunteers.decide(COORDINATOR_ID, submitted.member_id, approve=True)
    return claire, rita, vince, olga


async def _post_for_zephyrine(town: InProcessBrigade, rita: FakeUser) -> None:
    """/new for someone new, every private detail typed, then posted."""
    rita.send_command("new")
    await town.deliver()
    await _tap(town, rita, "➕ Someone new")
    await _tap(town, rita, "Yes, they agree")
    await _say(town, rita, "Zephyrine Quillard +33 4 79 86 42 17")
    await _say(town, rita, "27 rue de Boigne, Chambéry\n3rd floor, door code 4817B")
    await _tap(town, rita, "Plumbing")
    await _say(town, rita, "The kitchen tap is leaking.")
    await _tap(town, rita, "✅ Post the request")
    assert "is posted" in (rita.last_message.text or "")


def _checkpointed_file(path: Path) -> tuple[bytes, bytes]:
    """Write the WAL back into the file (its own connection, outside any transaction); return
    what is left of the WAL (empty) and the file's bytes."""
    connection = sqlite3.connect(path)
    try:
        busy, _log, _copied = connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    finally:
        connection.close()
    assert busy == 0
    wal = path.with_name(path.name + "-wal")
    return (wal.read_bytes() if wal.exists() else b""), path.read_bytes()


async def _file_traces(database: Database, needles: list[str]) -> set[str]:
    """The needles found in the bytes of the SQLite file, once the WAL is written back into it.

    The tables alone prove little about the file: SQLite leaves deleted rows and the old version
    of updated ones in the free space of their pages, readable with `strings`, until the space is
    reused; only `PRAGMA secure_delete` (or a VACUUM, which rewrites the whole file) zeroes it.
    """
    path = Path(str(make_url(database.url).database))
    wal, content = await asyncio.to_thread(_checkpointed_file, path)
    assert wal == b""
    return {
        needle
        for needle in needles
        if needle.encode() in content or needle.casefold().encode() in content
    }


async def test_nothing_purged_is_left_in_any_table_or_in_the_file(
    world: FakeTelegram, town: InProcessBrigade, clock: ManualClock, backend: str
) -> None:
    services = town.services
    claire, rita, vince, olga = await _people(world, town)
    await _post_for_zephyrine(town, rita)
    # A second request, abandoned after the name: a draft nobody finishes.
    rita.send_command("new")
    await town.deliver()
    await _tap(town, rita, "➕ Someone new")
    await _tap(town, rita, "Yes, they agree")
    await _say(town, rita, "Hortense Valmont")

    # Vince takes it: the details go to him, his name and phone to Rita. Done, confirmed.
    await _tap(town, vince, "I'll do it")
    assert any("door code 4817B" in (m.text or "") for m in vince.inbox)
    assert any("+33 6 55 44 33 22" in (m.text or "") for m in rita.inbox)
    async with services.database.read() as session:
        [claim_id] = (await session.execute(select(Claim.id))).scalars()
    assert await services.requests.mark_done(vince.id, claim_id) is StepOutcome.DONE
    # His visit report: what worried him, and a receipt photo, reach Rita and stay nowhere.
    worried = await services.requests.record_wellbeing(
        vince.id, claim_id, Wellbeing.WORRIED, VISIT[0]
    )
    assert worried is StepOutcome.DONE
    assert await services.requests.record_expense(vince.id, claim_id, 1250) is StepOutcome.DONE
    assert await services.requests.send_receipt(vince.id, claim_id, VISIT[1]) is StepOutcome.DONE
    await _drain(town)
    assert any(VISIT[0] in (m.text or "") for m in rita.inbox)
    assert await services.requests.confirm(rita.id, claim_id, done=True) is StepOutcome.DONE

    # Olga reports someone; Rita follows it up and closes the case.
    reported = await services.signals.report(
        olga.id,
        SignalDraft(
            description="Monsieur Barnabe Oxley",
            worry="Barnabe has not opened his shutters since Monday.",
            place="14 impasse des Capucins",
            reporter_phone="+33 7 12 34 56 78",
        ),
    )
    assert isinstance(reported, Reported)
    await _drain(town)
    assert any(f"tg://user?id={OLGA_ID}" in str(m.entities) for m in rita.inbox)
    assert (await services.signals.assign(rita.id, reported.signal_id)).outcome is CaseOutcome.DONE
    closed = await services.signals.close(rita.id, reported.signal_id, SignalOutcome.REFERRED)
    assert closed.outcome is CaseOutcome.DONE

    # Vince erases his data.
    vince.send_command("forget")
    await town.deliver()
    await _tap(town, vince, "🗑 Erase my data")
    await _drain(town)
    # Everything was in the database (the inspection sees it: its silence later means something).
    assert set(await personal_traces(services.database, NEEDLES)) >= {"beneficiaries", "signals"}

    # The retention period passes; the sweep purges, prunes and expires.
    clock.advance(days=services.settings.retention_days + 1)
    await town.run_timers()
    await _drain(town)

    assert await personal_traces(services.database, NEEDLES) == {}
    if backend == "sqlite":
        assert await _file_traces(services.database, NEEDLES) == set()
    assert claire.id == COORDINATOR_ID
