"""When volunteers are usually free: the week's slots, the presets, and the slot a request needs.

A volunteer's availability is a set of slots, (weekday, part of day), Monday = 0. It is optional:
a volunteer who gave none is "to be agreed each time", and matching counts them as available.

The presets are defined here once: the sign-up's and the profile's quick buttons tick them, and
every summary (the profile, the application card) reads a set of slots back as presets, "weekday
evenings, weekends", rather than as up to 21 slots.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

PERIODS = ("morning", "afternoon", "evening")
WEEKDAYS = (0, 1, 2, 3, 4)
WEEKEND = (5, 6)
EVERY_DAY = (*WEEKDAYS, *WEEKEND)
# Where the parts of a day begin (local hour); before noon is the morning, night included.
AFTERNOON_FROM_HOUR = 12
EVENING_FROM_HOUR = 18

Slot = tuple[int, str]


@dataclass(frozen=True)
class Preset:
    """A named set of slots: these days, at these parts of the day."""

    key: str
    days: tuple[int, ...]
    periods: tuple[str, ...]

    @property
    def slots(self) -> frozenset[Slot]:
        """Every slot of the preset."""
        return frozenset((day, period) for day in self.days for period in self.periods)


# The quick buttons of the availability picker, in the order shown.
PICKER_PRESETS = (
    Preset("weekdays", WEEKDAYS, PERIODS),
    Preset("weekends", WEEKEND, PERIODS),
    Preset("evenings", EVERY_DAY, ("evening",)),
    Preset("anytime", EVERY_DAY, PERIODS),
)
# The words a summary is made of, widest first: a summary takes each preset whose slots are all
# chosen and not yet said, so "weekdays + Saturday and Sunday evenings" reads "weekdays, weekend
# evenings", never "weekdays, evenings".
SUMMARY_PRESETS = (
    Preset("anytime", EVERY_DAY, PERIODS),
    Preset("weekdays", WEEKDAYS, PERIODS),
    Preset("weekends", WEEKEND, PERIODS),
    *(Preset(f"{period}s", EVERY_DAY, (period,)) for period in PERIODS),
    *(Preset(f"weekday-{period}s", WEEKDAYS, (period,)) for period in PERIODS),
    *(Preset(f"weekend-{period}s", WEEKEND, (period,)) for period in PERIODS),
)
PRESETS_BY_KEY = {preset.key: preset for preset in (*PICKER_PRESETS, *SUMMARY_PRESETS)}


def summarise(slots: Iterable[Slot]) -> tuple[list[str], list[Slot]]:
    """The presets that say `slots` (their keys, widest first) and the slots left over, in week
    order. Nothing chosen: nothing said."""
    chosen = {slot for slot in slots if slot[0] in EVERY_DAY and slot[1] in PERIODS}
    left = set(chosen)
    said = []
    for preset in SUMMARY_PRESETS:
        if preset.slots <= left:
            said.append(preset.key)
            left -= preset.slots
    return said, sorted(left, key=lambda slot: (slot[0], PERIODS.index(slot[1])))


def period_at(local: datetime) -> str:
    """The part of the day a local time falls in."""
    if local.hour < AFTERNOON_FROM_HOUR:
        return "morning"
    return "afternoon" if local.hour < EVENING_FROM_HOUR else "evening"


@dataclass(frozen=True)
class Wanted:
    """When a request is to be done, as availability sees it: one day, one or more parts of it.

    A volunteer is free for it when they gave no availability at all or hold one of its slots.
    """

    weekday: int
    periods: tuple[str, ...]

    def fits(self, slots: Iterable[Slot]) -> bool:
        """Whether a volunteer with these slots is free then (none given: free)."""
        held = set(slots)
        return not held or any((self.weekday, period) in held for period in self.periods)


def wanted_slot(
    when_kind: str, starts_at: datetime | None, *, now: datetime, tz: ZoneInfo
) -> Wanted:
    """The slot a request needs: its own time's when it has one; as soon as possible, the current
    slot (now, in the town's time zone); "today", what is left of today."""
    if starts_at is not None and when_kind != "asap" and when_kind != "today":
        local = starts_at.astimezone(tz)
        return Wanted(local.weekday(), (period_at(local),))
    local = now.astimezone(tz)
    current = period_at(local)
    if when_kind == "today":
        return Wanted(local.weekday(), PERIODS[PERIODS.index(current) :])
    return Wanted(local.weekday(), (current,))
