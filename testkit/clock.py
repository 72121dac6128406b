"""A clock tests set and move: every test runs on the same dates, whatever today's date is."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

# A Monday, 10:00 in Paris: the start of every simulated day unless a test says otherwise.
DEFAULT_START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


class ManualClock:
    """ "Now" as the test decides: frozen, or ticking with real elapsed time from a fixed start.

    Frozen suits service tests (nothing moves unless the test says so). Ticking suits a running
    bot, whose outbox waits out retries and rate limits: seconds pass, but from a fixed date.
    Either way `advance()` jumps ahead and `now = …` sets the time.
    """

    def __init__(
        self,
        start: datetime = DEFAULT_START,
        *,
        ticking: bool = False,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if start.tzinfo is None:
            raise ValueError("a clock's start must be aware")
        self._ticking = ticking
        self._monotonic = monotonic
        self._base = start
        self._origin = monotonic()

    def __call__(self) -> datetime:
        if not self._ticking:
            return self._base
        return self._base + timedelta(seconds=self._monotonic() - self._origin)

    @property
    def ticking(self) -> bool:
        """Whether the clock moves with real time between the test's own moves."""
        return self._ticking

    @property
    def now(self) -> datetime:
        """The current time by this clock."""
        return self()

    @now.setter
    def now(self, moment: datetime) -> None:
        if moment.tzinfo is None:
            raise ValueError("a clock is set to aware datetimes only")
        self._base = moment
        self._origin = self._monotonic()

    def advance(self, delta: timedelta | None = None, **units: float) -> datetime:
        """Move the clock forward (`advance(hours=2)` or `advance(timedelta(...))`)."""
        step = (delta or timedelta()) + timedelta(**units)
        if step < timedelta():
            raise ValueError("a clock only moves forward; set `now` to go back")
        self.now = self() + step
        return self.now


class VirtualTimer:
    """A monotonic clock that moves only when someone sleeps on it: timing checks by counting.

    `sleep(s)` moves the clock `s` seconds ahead at once and yields to the loop, so code that
    spaces or paces itself (the geocoder's spacer) can be checked exactly, on any machine load.
    """

    def __init__(self, start: float = 1_000.0) -> None:
        self.seconds = start
        self.slept: list[float] = []

    def monotonic(self) -> float:
        """The virtual time, in seconds."""
        return self.seconds

    async def sleep(self, seconds: float) -> None:
        """Let `seconds` pass in no real time."""
        self.slept.append(seconds)
        self.seconds += max(seconds, 0.0)
        await asyncio.sleep(0)
