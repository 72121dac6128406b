"""SIGTERM during a broadcast: the bot exits cleanly, gives its leases back, loses nothing."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from testkit.harness import sqlite_url
from testkit.telegram import FakeBotApiServer, FakeTelegram
from tests.reliability.support import (
    PATIENCE,
    BotProcess,
    api_root,
    bot_status,
    drained,
    new_services,
    offer_counts,
    outbox_summary,
    post_request,
    seed_town,
    settings_for,
)

pytestmark = pytest.mark.e2e
BROADCAST = 150
STOP_AFTER = 50


@pytest.fixture
async def server(world: FakeTelegram) -> AsyncIterator[FakeBotApiServer]:
    """The fake Bot API on 127.0.0.1, in this process."""
    async with FakeBotApiServer(world) as fake:
        yield fake


async def test_sigterm_during_a_broadcast_exits_0_and_leaves_no_lease(
    world: FakeTelegram, server: FakeBotApiServer, tmp_path: Path
) -> None:
    database_url = sqlite_url(tmp_path)
    services = new_services(settings_for(database_url, server, wave_size=BROADCAST))
    try:
        town = await seed_town(services, world, BROADCAST)
        request_id = await post_request(services, town)
        world.faults.enable_limits()  # about five seconds of sending
        bot = BotProcess("bot", tmp_path, api_base_url=api_root(server), database_url=database_url)
        try:
            await bot.start()
            await world.wait_for(
                lambda: world.stats.sends >= STOP_AFTER, PATIENCE, what="the first offers"
            )
            bot.terminate()
            signalled = time.monotonic()
            assert await bot.wait() == 0, bot_status(bot)
            exited_after = time.monotonic() - signalled
            after_stop = await outbox_summary(services)
            delivered = sum(offer_counts(world, town.volunteers, request_id))
            # Calls under way were finished and recorded; everything else was given back.
            assert after_stop["leased"] == 0, after_stop
            assert after_stop["sent"] == delivered
            assert after_stop["pending"] == BROADCAST - delivered

            await bot.start()
            summary = await drained(services)
            finished_after = time.monotonic() - signalled
            counts = offer_counts(world, town.volunteers, request_id)
            assert counts == [1] * BROADCAST  # nobody missed, nobody twice
            assert summary["sent"] == BROADCAST
            world.assert_sound()
            print(
                f"\nSIGTERM after {delivered} of {BROADCAST} offers: exit status 0 after "
                f"{exited_after:.2f} s, 0 rows left leased; restarted, the rest was out "
                f"{finished_after:.1f} s after the signal, no duplicate"
            )
            bot.terminate()
            assert await bot.wait() == 0, bot_status(bot)
        finally:
            await bot.stop()
    finally:
        await services.database.dispose()
