"""Watch campaigns (issue 18): the register of people called during a heat or cold alert."""

from bot.services.watch.calls import WatchService
from bot.services.watch.register import RegisterService
from bot.services.watch.report import WatchReports

__all__ = ["RegisterService", "WatchReports", "WatchService"]
