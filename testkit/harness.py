"""Run the real Brigade application against the simulated Telegram, in either test tier.

- `InProcessBrigade`: updates are fed with `process_update`; Bot API calls go to the fake without
  HTTP. Fast, deterministic: for handler tests.
- `PollingBrigade`: the application polls a `FakeBotApiServer` over HTTP on 127.0.0.1, exactly as
  it polls Telegram: for end-to-end tests and the demo.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from sqlalchemy import select
from telegram.ext import Application

from bot.app import build_application
from bot.context import BrigadeApplication, Services
from bot.pseudonyms import Pseudonyms
from bot.services.geocoding import Geocoder
from bot.settings import Settings
from storage.clock import Clock
from storage.database import Database
from storage.models import OutboxMessage, OutboxStatus
from testkit.clock import ManualClock
from testkit.geocoder import FakeGeocoder
from testkit.telegram import FakeBotApiServer, FakeTelegram, InProcessRequest
from testkit.telegram.request import process_pending_updates

# A made-up token: the fake Bot API accepts it, Telegram never sees it.
TEST_TOKEN = "123456:BRIGADE-TEST-TOKEN"  # noqa: S105
# The pseudonyms of a bot with that token (services built outside an application use them).
TEST_PSEUDONYMS = Pseudonyms.from_secret(TEST_TOKEN)


def brigade_settings(
    database_url: str,
    *,
    api_base_url: str = "http://127.0.0.1:9",
    coordinator_ids: Sequence[int] = (),
    **overrides: Any,
) -> Settings:
    """Settings for a simulated run: the test token, the given database, no .env file."""
    values: dict[str, Any] = {
        "bot_token": TEST_TOKEN,
        "database_url": database_url,
        "bot_api_base_url": api_base_url,
        "coordinator_ids": tuple(coordinator_ids),
        "town_name": "Chambéry",
        "geocoder": "none",
        "log_level": "WARNING",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


def sqlite_url(folder: Path, name: str = "brigade.sqlite3") -> str:
    """A SQLite database file in `folder`."""
    return f"sqlite+aiosqlite:///{folder / name}"


async def settle(services: Services, timeout: float = 10.0) -> None:  # noqa: ASYNC109
    """Wait until every due outbox row is finished (sent, skipped or failed), leased ones too."""
    async with asyncio.timeout(timeout):
        while True:
            async with services.database.read() as session:
                waiting = await session.execute(
                    select(OutboxMessage.id)
                    .where(
                        OutboxMessage.status == OutboxStatus.PENDING,
                        OutboxMessage.not_before <= services.clock(),
                    )
                    .limit(1)
                )
                if waiting.first() is None:
                    return
            services.waker()
            await asyncio.sleep(0.02)


async def updates_handled(
    app: Application[Any, Any, Any, Any, Any, Any],
    world: FakeTelegram,
    timeout: float = 10.0,  # noqa: ASYNC109
) -> None:
    """Wait until a polling application has fetched every queued update and handled it."""
    async with asyncio.timeout(timeout):
        # Acknowledged by the next getUpdates, which PTB sends once they are in its queue.
        await world.wait_for(lambda: not world.pending_updates, timeout)
        # PTB marks each update taken from its queue done once its handlers have run.
        await app.update_queue.join()


class InProcessBrigade:
    """The real application, its Bot API calls answered in-process by a FakeTelegram."""

    def __init__(
        self,
        world: FakeTelegram,
        settings: Settings,
        *,
        geocoder: Geocoder | None = None,
        clock: Clock | None = None,
        database: Database | None = None,
    ) -> None:
        self.world = world
        self.settings = settings
        self.geocoder = geocoder or FakeGeocoder()
        # Seconds pass as in real life, from a fixed date: no test depends on today's.
        self.clock = database.clock if database else clock or ManualClock(ticking=True)
        self.app: BrigadeApplication = build_application(
            settings,
            database=database,
            clock=self.clock,
            geocoder=self.geocoder,
            request=InProcessRequest(world),
            get_updates_request=InProcessRequest(world),
            sender_request=InProcessRequest(world),
        )

    @property
    def services(self) -> Services:
        """The running application's services (database, use cases…)."""
        services = self.app.bot_data["services"]
        assert isinstance(services, Services)
        return services

    async def __aenter__(self) -> Self:
        await self.app.initialize()
        if self.app.post_init is not None:
            await self.app.post_init(self.app)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.app.shutdown()
        if self.app.post_shutdown is not None:
            await self.app.post_shutdown(self.app)

    async def run_timers(self) -> None:
        """Run the timer sweep once, now, as the job queue would; then deliver what it queued.

        The job's callback is called directly, so that an error fails the test instead of
        reaching the error handler.
        """
        assert self.app.job_queue is not None
        [job] = self.app.job_queue.get_jobs_by_name("timers")
        await job.callback(self.app.context_types.context.from_job(job, self.app))
        await settle(self.services)

    async def deliver(self, *, concurrently: bool = False) -> int:
        """Handle every queued update, then wait until the outbox has sent what they caused."""
        handled = len(
            await process_pending_updates(self.app, self.world, concurrently=concurrently)
        )
        await settle(self.services)
        return handled


class PollingBrigade:
    """The real application polling a FakeBotApiServer over HTTP, as in production."""

    def __init__(
        self,
        world: FakeTelegram,
        server: FakeBotApiServer,
        settings: Settings,
        *,
        geocoder: Geocoder | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.world = world
        self.server = server
        self.settings = settings
        self.geocoder = geocoder or FakeGeocoder()
        self.clock = clock or ManualClock(ticking=True)
        self.app: BrigadeApplication = build_application(
            settings, geocoder=self.geocoder, clock=self.clock
        )

    @classmethod
    def for_server(
        cls,
        world: FakeTelegram,
        server: FakeBotApiServer,
        database_url: str,
        *,
        geocoder: Geocoder | None = None,
        clock: Clock | None = None,
        **settings: Any,
    ) -> PollingBrigade:
        """Settings pointing at the server, then the application."""
        base = server.base_url.removesuffix("/bot")
        return cls(
            world,
            server,
            brigade_settings(database_url, api_base_url=base, **settings),
            geocoder=geocoder,
            clock=clock,
        )

    @property
    def services(self) -> Services:
        """The running application's services."""
        services = self.app.bot_data["services"]
        assert isinstance(services, Services)
        return services

    def stop_timer_job(self) -> None:
        """For a test that drives the timers itself (a moved clock, then `run_due`): the job
        queue's own sweep, which runs a second after start and then every interval, would race
        it and take the moment the test moved the clock to (seen under load: a day opened by
        the job, the test's own sweep finding nothing left to do)."""
        assert self.app.job_queue is not None
        for job in self.app.job_queue.get_jobs_by_name("timers"):
            job.schedule_removal()

    async def settle(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """Wait until the bot is idle: every update fetched and handled, the outbox drained.

        Negative checks ("nobody else got it") come after this, never after a fixed sleep: a
        wrong delivery, however slow, has happened by the time the bot has nothing left to do.
        """
        async with asyncio.timeout(timeout):
            await updates_handled(self.app, self.world, timeout)
            await settle(self.services, timeout)

    async def __aenter__(self) -> Self:
        await self.app.initialize()
        if self.app.post_init is not None:
            await self.app.post_init(self.app)
        assert self.app.updater is not None
        await self.app.updater.start_polling(poll_interval=0, timeout=1, allowed_updates=None)
        await self.app.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        assert self.app.updater is not None
        if self.app.updater.running:
            await self.app.updater.stop()
        if self.app.running:
            await self.app.stop()
        await self.app.shutdown()
        if self.app.post_shutdown is not None:
            await self.app.post_shutdown(self.app)
