"""End-to-end fixtures: the real application polling a fake Bot API server over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from testkit.harness import PollingBrigade, sqlite_url
from testkit.telegram import FakeBotApiServer, FakeTelegram
from tests.conftest import COORDINATOR_ID

# A test that sets the timer interval this long or longer moves the clock and runs the sweeps.
HAND_DRIVEN_TIMERS_SECONDS = 3600


@pytest.fixture
async def server(world: FakeTelegram) -> AsyncIterator[FakeBotApiServer]:
    """The fake Bot API on 127.0.0.1, an ephemeral port."""
    fake = FakeBotApiServer(world)
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()


@pytest.fixture
async def live(
    world: FakeTelegram, server: FakeBotApiServer, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[PollingBrigade]:
    """Brigade running in polling mode against the fake server, on a SQLite file.

    `@pytest.mark.live_settings(name=value, …)` on a test changes its settings. A timer interval
    of an hour or more says the test drives the timers itself: the job's sweep is removed.
    """
    marker = request.node.get_closest_marker("live_settings")
    settings = dict(marker.kwargs) if marker else {}
    async with PollingBrigade.for_server(
        world, server, sqlite_url(tmp_path), coordinator_ids=[COORDINATOR_ID], **settings
    ) as running:
        if settings.get("timer_interval_seconds", 0) >= HAND_DRIVEN_TIMERS_SECONDS:
            running.stop_timer_job()
        yield running


@pytest.fixture
async def live_on_each_backend(
    world: FakeTelegram, server: FakeBotApiServer, database_url: str
) -> AsyncIterator[PollingBrigade]:
    """Brigade over HTTP, once on SQLite and once on PostgreSQL."""
    async with PollingBrigade.for_server(
        world, server, database_url, coordinator_ids=[COORDINATOR_ID]
    ) as running:
        yield running
