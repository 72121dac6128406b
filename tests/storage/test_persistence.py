"""Drafts persisted in the database: written when they change, never for an unchanged update."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from bot.persistence import DatabasePersistence
from storage.database import Database
from storage.models import ConversationState, UserData


async def _stored(database: Database) -> dict[int, object]:
    async with database.read() as session:
        rows = (await session.execute(select(UserData))).scalars()
        return {row.telegram_id: (row.data, row.updated_at) for row in rows}


async def test_unchanged_drafts_are_not_written_again(database: Database) -> None:
    persistence = DatabasePersistence(database)
    assert await persistence.get_user_data() == {}
    await persistence.update_user_data(1, {})  # PTB asks after every update: nothing to store
    assert await _stored(database) == {}

    await persistence.update_user_data(1, {"posting": {"step": "need"}})
    first = await _stored(database)
    assert first[1][0] == {"posting": {"step": "need"}}  # type: ignore[index]

    await persistence.update_user_data(1, {"posting": {"step": "need"}})
    assert await _stored(database) == first  # same row, same updated_at: no write

    await persistence.update_user_data(1, {"posting": {"step": "when"}})
    assert (await _stored(database))[1][0] == {"posting": {"step": "when"}}  # type: ignore[index]

    await persistence.update_user_data(1, {})
    assert await _stored(database) == {}


async def test_after_a_restart_what_was_loaded_counts_as_stored(database: Database) -> None:
    before = DatabasePersistence(database)
    await before.get_user_data()
    await before.update_user_data(1, {"signup": {"name": "Ana"}})
    await before.update_user_data(2, {"signup": {"name": "Béa"}})
    stored = await _stored(database)

    after = DatabasePersistence(database)  # a restarted process
    assert await after.get_user_data() == {
        1: {"signup": {"name": "Ana"}},
        2: {"signup": {"name": "Béa"}},
    }
    await after.update_user_data(1, {"signup": {"name": "Ana"}})
    assert await _stored(database) == stored
    # A draft finished after the restart is removed, though this process never wrote it.
    await after.update_user_data(2, {})
    assert set(await _stored(database)) == {1}
    await after.drop_user_data(1)
    assert await _stored(database) == {}
    await after.update_user_data(1, {"signup": {"name": "Ana"}})  # and written again if it returns
    assert set(await _stored(database)) == {1}


async def test_a_step_and_its_drafts_are_committed_together(database: Database) -> None:
    """PTB stores them with concurrent calls: one transaction, or a crash splits them."""
    persistence = DatabasePersistence(database)
    await persistence.get_user_data()
    await asyncio.gather(
        persistence.update_conversation("posting", (7, 7), "desc"),
        persistence.update_user_data(7, {"posting": {"skill": 3, "place": "home"}}),
    )
    assert persistence.write_transactions == 1
    async with database.read() as session:
        states = (await session.execute(select(ConversationState))).scalars().all()
    assert [(s.key, s.state, s.telegram_id) for s in states] == [("posting|[7,7]", "desc", 7)]
    assert (await _stored(database))[7][0] == {"posting": {"skill": 3, "place": "home"}}  # type: ignore[index]
