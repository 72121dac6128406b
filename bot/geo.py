"""Distances and bounding boxes: filter cheaply in SQL, then measure the few that remain."""

from __future__ import annotations

import math
from dataclasses import dataclass

from geopy.distance import great_circle

# Kilometres per degree of latitude (and of longitude at the equator).
KM_PER_DEGREE = 111.32


@dataclass(frozen=True)
class BoundingBox:
    """A latitude/longitude rectangle that contains a circle."""

    min_latitude: float
    max_latitude: float
    min_longitude: float
    max_longitude: float


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in kilometres (within 0.5 % of geodesic at town scale)."""
    return float(great_circle((lat1, lon1), (lat2, lon2)).km)


def bounding_box(latitude: float, longitude: float, radius_km: float) -> BoundingBox:
    """The smallest lat/lon box containing the circle (clamped at the poles)."""
    delta_lat = radius_km / KM_PER_DEGREE
    cos_lat = math.cos(math.radians(latitude))
    # Near the poles a circle spans every longitude.
    delta_lon = 180.0 if cos_lat < 1e-6 else min(180.0, radius_km / (KM_PER_DEGREE * cos_lat))
    return BoundingBox(
        min_latitude=max(-90.0, latitude - delta_lat),
        max_latitude=min(90.0, latitude + delta_lat),
        min_longitude=longitude - delta_lon,
        max_longitude=longitude + delta_lon,
    )


def valid_point(latitude: float, longitude: float) -> bool:
    """Whether the pair is a real position on Earth."""
    return -90.0 <= latitude <= 90.0 and -180.0 <= longitude <= 180.0
