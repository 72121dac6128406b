"""Quiet hours: the part of the day a volunteer receives offers without a sound."""

from __future__ import annotations


def in_quiet_hours(minute_of_day: int, start: int | None, end: int | None) -> bool:
    """Whether a local time (minutes after midnight) is in [start, end); start > end wraps."""
    if start is None or end is None or start == end:
        return False
    if start < end:
        return start <= minute_of_day < end
    return minute_of_day >= start or minute_of_day < end
