"""The periods of /stats and /export, in the town's calendar, and the SQL that filters by them.

"This month" starts at local midnight on the 1st, whatever UTC says.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func


class Period(StrEnum):
    """The periods /stats and /export offer (also their callback words)."""

    THIS_MONTH = "month"
    LAST_MONTH = "lastmonth"
    THIS_YEAR = "year"
    ALL_TIME = "all"


@dataclass(frozen=True)
class Window:
    """A period as instants: [start, end) in UTC (None: unbounded), and its local calendar days."""

    period: Period
    start: datetime | None
    end: datetime | None
    first_day: date | None
    last_day: date | None  # inclusive


def month_start(year: int, month: int, tz: tzinfo) -> datetime:
    """The first instant of a month (months past 12 or below 1 roll over the year)."""
    while month > 12:
        year, month = year + 1, month - 12
    while month < 1:
        year, month = year - 1, month + 12
    return datetime(year, month, 1, tzinfo=tz)


def period_window(period: Period, now: datetime, tz: tzinfo) -> Window:
    """The boundaries of `period` around `now`, at midnight in the town's time zone."""
    local = now.astimezone(tz)
    if period is Period.ALL_TIME:
        return Window(period, None, None, None, None)
    if period is Period.THIS_MONTH:
        start = month_start(local.year, local.month, tz)
        end = month_start(local.year, local.month + 1, tz)
    elif period is Period.LAST_MONTH:
        start = month_start(local.year, local.month - 1, tz)
        end = month_start(local.year, local.month, tz)
    else:
        start = datetime(local.year, 1, 1, tzinfo=tz)
        end = datetime(local.year + 1, 1, 1, tzinfo=tz)
    return Window(
        period,
        start.astimezone(UTC),
        end.astimezone(UTC),
        start.date(),
        (end - timedelta(days=1)).date(),
    )


def within(column: Any, window: Window) -> ColumnElement[bool]:
    """`column` falls in the window (always true for all time; never true when NULL)."""
    conditions: list[ColumnElement[bool]] = []
    if window.start is not None:
        conditions.append(column >= window.start)
    if window.end is not None:
        conditions.append(column < window.end)
    if not conditions:
        return column.is_not(None)  # type: ignore[no-any-return]
    return and_(*conditions)


def count_if(condition: ColumnElement[bool]) -> ColumnElement[int]:
    """How many rows meet `condition` (0, never NULL, when none)."""
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def aware(value: datetime | None) -> datetime | None:
    """Aggregates (min over a union) may lose the column type on some drivers: re-attach UTC."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def in_window(value: datetime, window: Window) -> bool:
    """Whether an instant falls in the window."""
    if window.start is not None and value < window.start:
        return False
    return not (window.end is not None and value >= window.end)
