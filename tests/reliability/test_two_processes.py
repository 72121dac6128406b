"""Two bot processes on one PostgreSQL: every update handled once, every offer sent once.

Both run in webhook mode behind an imagined load balancer that hands every update to both (as a
retry after a timeout would); both outbox senders lease from the same table.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import func, select

from storage.models import OutboxMessage, OutboxStatus, ProcessedUpdate
from testkit.telegram import FakeBotApiServer, FakeTelegram
from tests.conftest import fresh_database_url
from tests.reliability.support import (
    PATIENCE,
    SECRET,
    BotProcess,
    api_root,
    bot_status,
    drained,
    free_port,
    new_services,
    offer_counts,
    post_request,
    seed_town,
    settings_for,
)

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]
BROADCAST = 100
NEWCOMERS = 20


@pytest.fixture
async def server(world: FakeTelegram) -> AsyncIterator[FakeBotApiServer]:
    """The fake Bot API on 127.0.0.1, in this process."""
    async with FakeBotApiServer(world) as fake:
        yield fake


@pytest.fixture
async def postgres_url(tmp_path: Path) -> AsyncIterator[str]:
    """A fresh PostgreSQL database (skipped without BRIGADE_TEST_POSTGRES_URL)."""
    async for url in fresh_database_url("postgres", tmp_path):
        yield url


async def _until_listening(port: int, bot: BotProcess) -> None:
    async with asyncio.timeout(PATIENCE):
        while True:
            assert bot.alive, bot_status(bot)
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                await asyncio.sleep(0.1)
                continue
            writer.close()
            await writer.wait_closed()
            return


async def test_two_processes_share_updates_and_the_outbox_without_doing_anything_twice(
    world: FakeTelegram, server: FakeBotApiServer, tmp_path: Path, postgres_url: str
) -> None:
    services = new_services(settings_for(postgres_url, server, wave_size=BROADCAST))
    bots: list[BotProcess] = []
    try:
        # Migrated once, before either process starts (as a deployment should: see the docs).
        town = await seed_town(services, world, BROADCAST)
        ports = [free_port(), free_port()]
        for index, port in enumerate(ports):
            bots.append(
                BotProcess(
                    f"bot{index + 1}",
                    tmp_path,
                    api_base_url=api_root(server),
                    database_url=postgres_url,
                    env={
                        "BRIGADE_RUN_MODE": "webhook",
                        "BRIGADE_WEBHOOK_LISTEN": "127.0.0.1",
                        "BRIGADE_WEBHOOK_PORT": str(port),
                        "BRIGADE_WEBHOOK_URL": "https://brigade.example.org/",
                        "BRIGADE_WEBHOOK_SECRET": SECRET,
                        "BRIGADE_WAVE_SIZE": str(BROADCAST),
                    },
                )
            )
        for bot in bots:
            await bot.start()
        for bot, port in zip(bots, ports, strict=True):
            await _until_listening(port, bot)

        # The broadcast: rows committed by this process, leased by both senders.
        request_id = await post_request(services, town)
        posted_at = time.monotonic()
        owners: set[str] = set()

        async def watch_leases() -> None:
            while True:
                async with services.database.read() as session:
                    found = await session.execute(
                        select(OutboxMessage.lease_owner)
                        .where(OutboxMessage.lease_owner.is_not(None))
                        .distinct()
                    )
                    owners.update(owner for owner in found.scalars() if owner)
                await asyncio.sleep(0.05)

        watcher = asyncio.create_task(watch_leases())

        # Meanwhile newcomers say /start; each update reaches both processes.
        newcomers = [world.add_user(f"New{i:02d}") for i in range(NEWCOMERS)]
        for person in newcomers:
            person.send_command("start")
        updates = world.pop_updates()
        headers = {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": SECRET}

        async def post(port: int, update: dict[str, Any]) -> int:
            url = f"http://127.0.0.1:{port}/telegram"
            async with http.post(url, data=json.dumps(update), headers=headers) as answer:
                return answer.status

        async with aiohttp.ClientSession() as http:
            statuses = await asyncio.gather(
                *(post(port, update) for update in updates for port in ports)
            )
        assert statuses == [200] * (2 * NEWCOMERS)

        summary = await drained(services)
        watcher.cancel()
        broadcast_seconds = time.monotonic() - posted_at
        for person in newcomers:
            await person.expect_message("Bonjour", timeout=PATIENCE)

        # Every copy was seen: one process handled it, the other found it already handled.
        def skipped() -> int:
            return sum(bot.output().count("already handled (re-delivered)") for bot in bots)

        async with asyncio.timeout(PATIENCE):
            while True:
                if skipped() >= NEWCOMERS:
                    break
                await asyncio.sleep(0.1)
        # Both copies of every update are accounted for (one handled, one skipped: a skip
        # never answers), so no second answer can still be on its way.
        assert [len(person.inbox) for person in newcomers] == [1] * NEWCOMERS
        assert skipped() == NEWCOMERS
        async with services.database.read() as session:
            claimed = await session.execute(select(func.count()).select_from(ProcessedUpdate))
            assert claimed.scalar_one() == NEWCOMERS
            sent = await session.execute(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.status == OutboxStatus.SENT)
            )
            assert sent.scalar_one() == BROADCAST
        counts = offer_counts(world, town.volunteers, request_id)
        assert counts == [1] * BROADCAST  # SKIP LOCKED: no row taken by both senders
        assert summary["sent"] == BROADCAST
        assert len(owners) == 2, owners  # both senders leased rows side by side
        world.assert_sound()
        per_process = [bot.output().count("already handled (re-delivered)") for bot in bots]
        print(
            f"\ntwo processes: {NEWCOMERS} /start updates posted to both, each answered once "
            f"(copies skipped per process: {per_process}); broadcast of {BROADCAST} sent once "
            f"each in {broadcast_seconds:.1f} s by {len(owners)} senders leasing"
        )
        for bot in bots:
            bot.terminate()
        for bot in bots:
            assert await bot.wait() == 0, bot_status(bot)
    finally:
        for bot in bots:
            await bot.stop()
        await services.database.dispose()
