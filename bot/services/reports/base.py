"""What every report shares: the coordinator check, the town's time zone and calendar."""

from __future__ import annotations

from collections.abc import Callable
from datetime import tzinfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.messages.messenger import Messenger
from bot.services.base import Notifying, no_wake
from bot.services.reports.periods import Period, Window, period_window
from bot.settings import Settings
from storage.database import Database


class ReportsBase(Notifying):
    """Coordinators' views and figures: each checks the role in its own short transaction."""

    def __init__(
        self,
        database: Database,
        settings: Settings,
        messenger: Messenger,
        after_commit: Callable[[], None] = no_wake,
    ) -> None:
        super().__init__(database, messenger, after_commit=after_commit)
        self._settings = settings

    @property
    def tz(self) -> tzinfo:
        """The town's time zone."""
        return self._settings.tz

    def window(self, period: Period) -> Window:
        """The period's boundaries now, in the town's calendar."""
        return period_window(period, self._clock(), self.tz)

    async def _is_coordinator(self, session: AsyncSession, telegram_id: int) -> bool:
        """Whether the caller coordinates (every report checks it in the database)."""
        return await self._require(session, telegram_id) is not None
