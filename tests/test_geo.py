"""Distances agree with geopy; bounding boxes contain their circles."""

from __future__ import annotations

import pytest
from geopy.distance import geodesic, great_circle
from hypothesis import given
from hypothesis import strategies as st

from bot.geo import bounding_box, distance_km

latitudes = st.floats(min_value=-89.9, max_value=89.9)
longitudes = st.floats(min_value=-179.9, max_value=179.9)


@given(latitudes, longitudes, latitudes, longitudes)
def test_haversine_equals_geopys_great_circle(
    lat1: float, lon1: float, lat2: float, lon2: float
) -> None:
    expected = great_circle((lat1, lon1), (lat2, lon2)).km
    assert distance_km(lat1, lon1, lat2, lon2) == pytest.approx(expected, rel=1e-9, abs=1e-6)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ((45.5671, 5.9212), (45.5560, 5.9075)),
        ((50.8467, 4.3525), (50.8503, 4.3517)),
        ((49.4944, 0.1079), (49.4900, 0.1200)),
    ],
)
def test_within_half_a_percent_of_geodesic_at_town_scale(
    a: tuple[float, float], b: tuple[float, float]
) -> None:
    assert distance_km(*a, *b) == pytest.approx(geodesic(a, b).km, rel=0.005)


@given(latitudes, longitudes, st.floats(min_value=0.1, max_value=50), st.floats(0, 360))
def test_the_box_contains_every_point_of_the_circle(
    lat: float, lon: float, radius: float, bearing: float
) -> None:
    point = geodesic(kilometers=radius * 0.999).destination((lat, lon), bearing)
    box = bounding_box(lat, lon, radius)
    assert box.min_latitude <= point.latitude <= box.max_latitude
    # Longitudes may wrap past ±180 near the antimeridian; compare on the unwrapped value.
    unwrapped = point.longitude + 360 * round((lon - point.longitude) / 360)
    assert box.min_longitude - 1e-9 <= unwrapped <= box.max_longitude + 1e-9
