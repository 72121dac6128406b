"""Each person's conversation read back per update, under their lock (bot/shared_state.py).

Two applications in this process on one PostgreSQL database stand for two bot processes; their
updates go through PTB's update processor, as in production. PostgreSQL only: SQLite is one
process, the wrapper does nothing there (checked below).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from telegram import Update

from bot.callbacks import Action, encode
from bot.shared_state import PersonLocks, SharedState, SharedStateUpdateProcessor, lock_key
from storage.models import Neighbourhood
from testkit.harness import InProcessBrigade, brigade_settings, settle, sqlite_url
from testkit.telegram import FakeTelegram, FakeUser
from tests.conftest import POSTGRES_URL, REQUIRE_POSTGRES, fresh_database_url

CENTRE = (45.5667, 5.9208)


@pytest.fixture
async def postgres_url(tmp_path: Path) -> AsyncIterator[str]:
    """A fresh PostgreSQL database (skipped without BRIGADE_TEST_POSTGRES_URL: on SQLite one
    process holds every conversation, nothing is shared)."""
    if not POSTGRES_URL and not REQUIRE_POSTGRES:
        pytest.skip(
            "several processes share conversations on PostgreSQL only (SQLite is one process); "
            "set BRIGADE_TEST_POSTGRES_URL"
        )
    async for url in fresh_database_url("postgres", tmp_path):
        yield url


def _shared(brigade: InProcessBrigade) -> SharedState:
    processor = brigade.app.update_processor
    assert isinstance(processor, SharedStateUpdateProcessor)
    return processor.shared


async def _through(brigade: InProcessBrigade, world: FakeTelegram) -> None:
    """Handle the queued updates in `brigade` as PTB does: through its update processor."""
    for data in world.pop_updates():
        update = Update.de_json(data, brigade.app.bot)
        await brigade.app.update_processor.process_update(
            update, brigade.app.process_update(update)
        )
    await settle(brigade.services)


async def test_a_sign_up_whose_answers_alternate_between_two_applications_keeps_every_answer(
    world: FakeTelegram, postgres_url: str
) -> None:
    settings = brigade_settings(postgres_url)
    async with InProcessBrigade(world, settings) as a, InProcessBrigade(world, settings) as b:
        async with a.services.database.transaction() as session:
            session.add(Neighbourhood(name="Centre-Ville", latitude=CENTRE[0], longitude=CENTRE[1]))
        odette = world.add_user(
            "Odette", last_name="Martin", language_code="en", phone_number="+33 6 12 34 56 78"
        )
        steps = [
            lambda: odette.send_command("join"),
            lambda: odette.press("Use “Odette Martin”"),
            lambda: odette.press("Share my number"),
            lambda: odette.send_location(*CENTRE),
            lambda: odette.tap("Plumbing"),
            lambda: odette.tap("Shopping"),
            lambda: odette.tap("Done"),
        ]
        for index, step in enumerate(steps):
            step()
            await _through((a, b)[index % 2], world)
        summary = odette.last_message
        assert "Please check your answers" in (summary.text or ""), _transcript(odette)
        assert "Skills: Plumbing, Shopping" in (summary.text or "")
        # Each application read the person back before each of their updates.
        assert _shared(a).refreshed == 4
        assert _shared(b).refreshed == 3


async def test_a_stale_memory_is_replaced_by_the_database_and_not_written_back(
    world: FakeTelegram, postgres_url: str
) -> None:
    settings = brigade_settings(postgres_url)
    async with InProcessBrigade(world, settings) as a, InProcessBrigade(world, settings) as b:
        ana = world.add_user("Ana", language_code="en")
        ana.send_command("join")
        await _through(a, world)  # A: /join, at the name step
        ana.send_command("cancel")
        await _through(b, world)  # B: /cancel, the conversation is over
        # A still remembers her at the name step; her next update on A finds her out of it.
        signup = _conversations(a, "signup")
        assert any(key[-1] == ana.id for key in signup)
        writes = a.app.persistence.write_transactions  # type: ignore[union-attr]
        ana.send_text("Ana Lopez")
        await _through(a, world)
        assert not any(key[-1] == ana.id for key in _conversations(a, "signup"))
        # Not taken as her name: the phone question does not come.
        assert "Your phone number" not in (ana.last_message.text or ""), _transcript(ana)
        # Reading her back changed nothing to write: no state written for the refresh.
        assert a.app.persistence.write_transactions - writes <= 1  # type: ignore[union-attr]


def _conversations(brigade: InProcessBrigade, name: str) -> dict[tuple[int | str, ...], object]:
    for handlers in brigade.app.handlers.values():
        for handler in handlers:
            if getattr(handler, "name", None) == name:
                return dict(handler._conversations)  # type: ignore[attr-defined]
    raise AssertionError(f"no conversation {name}")


def _transcript(person: FakeUser) -> str:
    return "\n".join(message.text or "" for message in person.inbox)


async def test_a_persons_lock_excludes_another_process_and_only_that_person(
    world: FakeTelegram, postgres_url: str
) -> None:
    settings = brigade_settings(postgres_url)
    async with InProcessBrigade(world, settings) as brigade:
        database = brigade.services.database
        first, second = PersonLocks(database), PersonLocks(database)  # two processes
        try:
            async with first.hold(1001), second.engine.connect() as probe:
                # Person 1001 is held: another process cannot take them, person 1002 is free.
                taken = await probe.execute(
                    text("SELECT pg_try_advisory_lock(:key)"), {"key": lock_key(1001)}
                )
                assert taken.scalar_one() is False
                async with second.hold(1002):
                    pass
            async with second.engine.connect() as probe:
                taken = await probe.execute(
                    text("SELECT pg_try_advisory_lock(:key)"), {"key": lock_key(1001)}
                )
                assert taken.scalar_one() is True  # released with the block
        finally:
            await first.dispose()
            await second.dispose()
    assert lock_key(1001) != lock_key(1002)


async def test_a_lock_connection_found_dead_is_replaced(
    world: FakeTelegram, postgres_url: str
) -> None:
    settings = brigade_settings(postgres_url)
    async with InProcessBrigade(world, settings) as brigade:
        locks = PersonLocks(brigade.services.database)
        try:
            async with locks.hold(1001) as connection:
                backend = (await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one()
            # PostgreSQL restarted, or the connection cut: the pooled connection is dead.
            async with brigade.services.database.transaction() as session:
                await session.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": backend})
            async with locks.hold(1001) as connection:
                again = (await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one()
            assert again != backend
        finally:
            await locks.dispose()
    assert lock_key(1001) == lock_key(1001)


async def test_on_sqlite_nothing_is_locked_nor_read_back(
    world: FakeTelegram, tmp_path: Path
) -> None:
    async with InProcessBrigade(world, brigade_settings(sqlite_url(tmp_path))) as brigade:
        assert _shared(brigade).enabled is False
        world.add_user("Ana", language_code="en").send_command("help")
        await _through(brigade, world)
        assert _shared(brigade).refreshed == 0


async def test_a_claim_tap_needs_neither_the_persons_lock_nor_their_states(
    world: FakeTelegram, postgres_url: str
) -> None:
    """While another process holds Ana's lock (her conversation update running there), her tap
    on an offer is still answered here, and nothing of hers was read back for it."""
    settings = brigade_settings(postgres_url)
    async with InProcessBrigade(world, settings) as brigade:
        ana = world.add_user("Ana", language_code="en")
        ana.send_command("help")
        await _through(brigade, world)
        assert _shared(brigade).refreshed == 1  # an ordinary update: locked and read back
        other_process = PersonLocks(brigade.services.database)
        try:
            async with other_process.hold(ana.id):
                tap = ana.tap_data(ana.last_message, encode(Action.CLAIM, 999))
                await asyncio.wait_for(_through(brigade, world), timeout=30)
                assert await ana.answer_to(tap)  # answered (no such request), not waiting
        finally:
            await other_process.dispose()
        assert _shared(brigade).refreshed == 1
