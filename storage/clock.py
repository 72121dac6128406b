"""The one clock: every timestamp Brigade writes or compares comes from it.

The application factory builds one clock (the system's, in production) and hands it to the
`Database`; services, handlers, column defaults and repository functions all read that same
clock. Tests give the database a clock they move by hand (`testkit.clock.TestClock`), so no test
depends on today's date, and a change of "now" reaches every timestamp at once.

Only `system_clock` below reads the wall clock; a test fails when any other product module does.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

# "Now", aware, in UTC.
Clock = Callable[[], datetime]

# The execution option (for column defaults) and the session info key (for repository
# functions) under which the Database carries its clock; both set by `Database.__init__`.
CLOCK_OPTION = "brigade_clock"


def system_clock() -> datetime:
    """The wall clock, aware, in UTC: what production runs on."""
    return datetime.now(UTC)


def clock_default(context: Any) -> datetime:
    """Column default and onupdate: "now" by the clock of the database that runs the statement.

    SQLAlchemy passes the execution context, whose options include those of the engine the
    Database built with its clock. There is deliberately no fallback to the wall clock.
    """
    return _read(context.execution_options.get(CLOCK_OPTION), "statement run outside")


def session_now(session: AsyncSession) -> datetime:
    """ "Now" for a repository function, by the clock of the database that opened the session."""
    return _read(session.info.get(CLOCK_OPTION), "session not opened by")


def _read(clock: Clock | None, where: str) -> datetime:
    if clock is None:
        raise RuntimeError(f"{where} a brigade Database: no clock to read the time from")
    now = clock()
    assert isinstance(now, datetime)
    return now
