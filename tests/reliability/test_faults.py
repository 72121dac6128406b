"""A broadcast through a flaky Telegram: 429s, 500s and timeouts at random, and people who left."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from storage.models import Member
from testkit.harness import sqlite_url
from testkit.telegram import FakeBotApiServer, FakeTelegram
from tests.reliability.support import (
    BotProcess,
    api_root,
    bot_status,
    drained,
    new_services,
    offer_counts,
    post_request,
    seed_town,
    settings_for,
    wait_until_polling,
)

pytestmark = pytest.mark.e2e
VOLUNTEERS = 55
BLOCKED = range(10, 15)
# The bot's HTTP read timeout is 5 s: a call held longer is a timeout for it.
HANG_SECONDS = 6.0


@pytest.fixture
async def server(world: FakeTelegram) -> AsyncIterator[FakeBotApiServer]:
    """The fake Bot API on 127.0.0.1, in this process."""
    async with FakeBotApiServer(world) as fake:
        yield fake


async def test_random_faults_and_blocked_people_lose_no_offer_and_crash_nothing(
    world: FakeTelegram, server: FakeBotApiServer, tmp_path: Path
) -> None:
    database_url = sqlite_url(tmp_path)
    services = new_services(settings_for(database_url, server, wave_size=100))
    try:
        town = await seed_town(services, world, VOLUNTEERS)
        request_id = await post_request(services, town)
        blocked = [town.volunteers[i] for i in BLOCKED]
        deliverable = [p for i, p in enumerate(town.volunteers) if i not in BLOCKED]
        # They block the bot once their offers are queued: the bot learns it from their
        # my_chat_member updates and from Telegram's 403s, whichever comes first.
        for person in blocked:
            person.block_bot()
        bot = BotProcess("bot", tmp_path, api_base_url=api_root(server), database_url=database_url)
        try:
            await bot.start()
            await wait_until_polling(world, bot)
            # Faults from now on (at start a failing getMe rightly stops the bot with a message).
            randomly = world.faults.random_faults(0.2, seed=20261122, hang_seconds=HANG_SECONDS)
            # Two timeouts after which the message *was* delivered: the only allowed duplicates.
            world.faults.hang("sendMessage", HANG_SECONDS, times=2, deliver=True)

            summary = await drained(services)
            counts = offer_counts(world, deliverable, request_id)
            assert all(counts), [p for p, c in zip(deliverable, counts, strict=True) if not c]
            assert offer_counts(world, blocked, request_id) == [0] * len(blocked)
            delivered_by_timeouts = {
                call.chat_id
                for call in world.calls_to("sendMessage")
                if call.fault == "rule:hang" and call.status == 200
            }
            twice = {p.id for p, c in zip(deliverable, counts, strict=True) if c > 1}
            assert max(counts) <= 2
            assert twice <= delivered_by_timeouts
            async with services.database.read() as session:
                found = await session.execute(
                    select(Member.telegram_id, Member.reachable).where(
                        Member.telegram_id.in_([p.id for p in town.volunteers])
                    )
                )
                reachable = {telegram_id: flag for telegram_id, flag in found}
            assert [reachable[p.id] for p in blocked] == [False] * len(blocked)
            assert all(reachable[p.id] for p in deliverable)
            assert bot.alive, bot_status(bot)
            world.assert_sound()
            stats = world.stats
            print(
                f"\nfaults: {len(deliverable)} deliverable offers all delivered, "
                f"{len(blocked)} blocked people marked unreachable; random faults hit "
                f"{randomly.hits} calls (429s {stats.too_many_requests}, 500s "
                f"{stats.server_errors}, timeouts {stats.timeouts}), 403s {stats.forbidden}; "
                f"duplicates {len(twice)} (timeouts that delivered: "
                f"{len(delivered_by_timeouts)}); outbox {summary}"
            )
            bot.terminate()
            assert await bot.wait() == 0, bot_status(bot)
        finally:
            await bot.stop()
    finally:
        await services.database.dispose()
