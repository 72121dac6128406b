"""Whether a volunteer can be offered anything: a neighbourhood centre within their radius.

Matching offers a request to volunteers whose own radius reaches it; requests are posted in the
town's neighbourhoods. A volunteer whose radius reaches no neighbourhood centre would wait for
offers that never come: the sign-up, /profile and the coordinators' cards say so, with a radius
that would reach the nearest one.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from bot.geo import distance_km

# The radii a volunteer picks from (km), and the longer ones only suggested to reach a centre.
RADIUS_CHOICES_KM = (1.0, 2.0, 5.0, 10.0)
SUGGESTED_RADII_KM = (*RADIUS_CHOICES_KM, 15.0, 20.0, 25.0, 30.0, 40.0, 50.0)


@dataclass(frozen=True)
class Centre:
    """A neighbourhood's name and centre."""

    name: str
    latitude: float
    longitude: float


@dataclass(frozen=True)
class Reach:
    """The nearest neighbourhood centre to a volunteer's place, and whether their radius gets
    there."""

    nearest: str
    distance_km: float
    radius_km: float

    @property
    def in_reach(self) -> bool:
        """Whether the radius reaches the nearest centre."""
        return self.distance_km <= self.radius_km

    @property
    def suggested_km(self) -> float | None:
        """The smallest offered radius that reaches the nearest centre (None: beyond them all)."""
        # Rounded up to 0.1 km as it is shown: "13.7 km away" is reached by 15 km, never by 13.
        shown = math.ceil(self.distance_km * 10) / 10
        return next((km for km in SUGGESTED_RADII_KM if km >= shown), None)


def reach_of(
    latitude: float, longitude: float, radius_km: float, centres: Iterable[Centre]
) -> Reach | None:
    """How the place and radius stand to the nearest centre (None: the town has none)."""
    ranked = sorted(
        (distance_km(latitude, longitude, centre.latitude, centre.longitude), centre.name)
        for centre in centres
    )
    if not ranked:
        return None
    distance, name = ranked[0]
    return Reach(name, distance, radius_km)
