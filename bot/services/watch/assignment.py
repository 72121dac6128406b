"""Who calls whom on a campaign day: fetched once, decided in memory, written in bulk.

Each person keeps their regular caller when that caller is still available and below the day's
limit (the caller of their last campaign day, else the regular volunteer of one of their
recurring series); the others go to the caller with the fewest calls so far that day, the
nearest first among equals. A caller replaced for silence on the previous day is nobody's
regular and is chosen only when no one else can take the person. Nobody gets more than `limit`
people; a person no caller can take is reported as uncovered (the coordinators are told), never
silently dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.geo import distance_km


@dataclass(frozen=True)
class Caller:
    """An available caller: an approved, unpaused volunteer holding the phone-calls skill."""

    id: int
    latitude: float | None
    longitude: float | None
    # Replaced for silence on the campaign's previous day: given people after everyone else.
    silent: bool = False


@dataclass(frozen=True)
class Callee:
    """A registered person to call, where they live if known, and their regular caller."""

    id: int
    latitude: float | None
    longitude: float | None
    regular_id: int | None


@dataclass(frozen=True)
class Assignment:
    """The day's decision: person id → caller id, and the people nobody could take."""

    callers: dict[int, int]
    uncovered: tuple[int, ...]


def _distance(person: Callee, caller: Caller) -> float:
    """How far the caller lives from the person (unknown: as far as can be)."""
    if (
        person.latitude is None
        or person.longitude is None
        or caller.latitude is None
        or caller.longitude is None
    ):
        return float("inf")
    return distance_km(person.latitude, person.longitude, caller.latitude, caller.longitude)


def assign(
    people: list[Callee],
    callers: list[Caller],
    limit: int,
    load: dict[int, int] | None = None,
) -> Assignment:
    """Give each person one caller (see the module's docstring); `load`: the calls each caller
    already has that day (a silent caller's people given to others mid-window)."""
    load = {caller.id: (load or {}).get(caller.id, 0) for caller in callers}
    chosen: dict[int, int] = {}
    silent = {caller.id for caller in callers if caller.silent}
    for person in people:
        regular = person.regular_id
        if regular in silent:
            continue  # kept for the end: someone else first
        if regular is not None and regular in load and load[regular] < limit:
            chosen[person.id] = regular
            load[regular] += 1
    uncovered: list[int] = []
    for person in people:
        if person.id in chosen:
            continue
        free = [caller for caller in callers if load[caller.id] < limit]
        if not free:
            uncovered.append(person.id)
            continue
        best = min(
            free,
            key=lambda caller: (
                caller.silent,
                load[caller.id],
                _distance(person, caller),
                caller.id,
            ),
        )
        chosen[person.id] = best.id
        load[best.id] += 1
    return Assignment(chosen, tuple(uncovered))
