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

from bot.app import build_application
from bot.context import BrigadeApplication, Services
from bot.services.geocoding import Geocoder
from bot.settings import Settings
from storage.models import OutboxMessage, OutboxStatus
from storage.types import utcnow
from testkit.geocoder import FakeGeocoder
from testkit.telegram import FakeBotApiServer, FakeTelegram, InProcessRequest
from testkit.telegram.request import process_pending_updates

# A made-up token: the fake Bot API accepts it, Telegram never sees it.
TEST_TOKEN = "123456:BRIGADE-TEST-TOKEN"  # noqa: S105


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
                        OutboxMessage.not_before <= utcnow(),
                    )
                    .limit(1)
                )
                if waiting.first() is None:
                    return
            services.waker()
            await asyncio.sleep(0.02)


class InProcessBrigade:
    """The real application, its Bot API calls answered in-process by a FakeTelegram."""

    def __init__(
        self,
        world: FakeTelegram,
        settings: Settings,
        *,
        geocoder: Geocoder | None = None,
    ) -> None:
        self.world = world
        self.settings = settings
        self.geocoder = geocoder or FakeGeocoder()
        self.app: BrigadeApplication = build_application(
            settings,
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
    ) -> None:
        self.world = world
        self.server = server
        self.settings = settings
        self.geocoder = geocoder or FakeGeocoder()
        self.app: BrigadeApplication = build_application(settings, geocoder=self.geocoder)

    @classmethod
    def for_server(
        cls,
        world: FakeTelegram,
        server: FakeBotApiServer,
        database_url: str,
        *,
        geocoder: Geocoder | None = None,
        **settings: Any,
    ) -> PollingBrigade:
        """Settings pointing at the server, then the application."""
        base = server.base_url.removesuffix("/bot")
        return cls(
            world,
            server,
            brigade_settings(database_url, api_base_url=base, **settings),
            geocoder=geocoder,
        )

    @property
    def services(self) -> Services:
        """The running application's services."""
        services = self.app.bot_data["services"]
        assert isinstance(services, Services)
        return services

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
