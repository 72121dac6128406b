"""Geocoders for tests: an in-memory FakeGeocoder and a local fake Nominatim HTTP server.

Both read the same small gazetteer of Chambéry addresses in two neighbourhoods (Centre-Ville
and Le Biollay), so a flow test and an HTTP test agree on where "12 rue de la Gare" is.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from aiohttp import web

from bot.services.geocoding import GeocoderUnavailable, Place

EARTH_RADIUS_M = 6_371_000.0
DEFAULT_REVERSE_RADIUS_M = 200.0


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres (haversine; plenty for a town)."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi, dlambda = phi2 - phi1, math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(a))


def _query_key(query: str) -> str:
    return " ".join(query.split()).casefold()


@dataclass(frozen=True)
class GazetteerEntry:
    """One known address, with the structured parts Nominatim would return for it."""

    queries: tuple[str, ...]
    latitude: float
    longitude: float
    city: str
    postcode: str
    house_number: str | None = None
    road: str | None = None
    suburb: str | None = None
    county: str = "Savoie"
    state: str = "Auvergne-Rhône-Alpes"
    country: str = "France"
    country_code: str = "fr"

    @property
    def display_name(self) -> str:
        """The full label, in Nominatim's order (house number first, country last)."""
        parts = [self.house_number, self.road, self.suburb, self.city, self.county, self.state]
        if self.country_code == "fr":
            parts.append("France métropolitaine")
        parts += [self.postcode, self.country]
        return ", ".join(part for part in parts if part)

    def address(self) -> dict[str, str]:
        """Nominatim's `address` object (addressdetails=1)."""
        details = {
            "house_number": self.house_number,
            "road": self.road,
            "suburb": self.suburb,
            # Nominatim names French communes "city", "town" or "village" by size.
            "city": self.city,
            "municipality": self.city,
            "county": self.county,
            "state": self.state,
            "ISO3166-2-lvl4": "FR-ARA" if self.country_code == "fr" else None,
            "postcode": self.postcode,
            "country": self.country,
            "country_code": self.country_code,
        }
        return {key: value for key, value in details.items() if value}

    def place(self) -> Place:
        """The place a geocoder should make of this entry."""
        return Place(
            latitude=self.latitude,
            longitude=self.longitude,
            label=self.display_name,
            street=self.road,
            district=self.suburb,
            city=self.city,
            postcode=self.postcode,
            house_number=self.house_number,
        )

    def nominatim_json(
        self, *, place_id: int, fmt: str = "json", addressdetails: bool = True
    ) -> dict[str, Any]:
        """One result as Nominatim's /search (in a list) or /reverse (alone) sends it."""
        kind = ("place", "house") if self.house_number else ("highway", "residential")
        if self.road is None:
            kind = ("place", "suburb") if self.suburb else ("boundary", "administrative")
        result: dict[str, Any] = {
            "place_id": place_id,
            "licence": "Data © OpenStreetMap contributors, ODbL 1.0. http://osm.org/copyright",
            "osm_type": "node" if self.house_number else "way",
            "osm_id": 1_000_000 + place_id,
            # Nominatim sends coordinates as strings.
            "lat": f"{self.latitude:.7f}",
            "lon": f"{self.longitude:.7f}",
            "type": kind[1],
            "place_rank": 30 if self.house_number else 26,
            "importance": 0.1,
            "addresstype": kind[1],
            "name": "" if self.house_number else (self.road or self.suburb or self.city),
            "display_name": self.display_name,
            "boundingbox": [
                f"{self.latitude - 0.0001:.7f}",
                f"{self.latitude + 0.0001:.7f}",
                f"{self.longitude - 0.0001:.7f}",
                f"{self.longitude + 0.0001:.7f}",
            ],
        }
        # format=json says "class", format=jsonv2 says "category".
        result["category" if fmt == "jsonv2" else "class"] = kind[0]
        if addressdetails:
            result["address"] = self.address()
        return result


# Plausible coordinates in Chambéry: three addresses in Centre-Ville, two in Le Biollay, the
# neighbourhood itself, and one Brussels address to exercise country filtering.
DEFAULT_GAZETTEER: tuple[GazetteerEntry, ...] = (
    GazetteerEntry(
        queries=("12 rue de la Gare, Chambéry", "12 rue de la Gare, 73000 Chambéry"),
        latitude=45.5714,
        longitude=5.9188,
        house_number="12",
        road="Rue de la Gare",
        suburb="Centre-Ville",
        city="Chambéry",
        postcode="73000",
    ),
    GazetteerEntry(
        queries=("3 place Saint-Léger, Chambéry",),
        latitude=45.5658,
        longitude=5.9226,
        house_number="3",
        road="Place Saint-Léger",
        suburb="Centre-Ville",
        city="Chambéry",
        postcode="73000",
    ),
    GazetteerEntry(
        queries=("27 rue de Boigne, Chambéry",),
        latitude=45.5677,
        longitude=5.9204,
        house_number="27",
        road="Rue de Boigne",
        suburb="Centre-Ville",
        city="Chambéry",
        postcode="73000",
    ),
    GazetteerEntry(
        queries=("8 rue du Pré de l'Âne, Chambéry",),
        latitude=45.5581,
        longitude=5.9105,
        house_number="8",
        road="Rue du Pré de l'Âne",
        suburb="Le Biollay",
        city="Chambéry",
        postcode="73000",
    ),
    GazetteerEntry(
        queries=("15 avenue de Lyon, Chambéry",),
        latitude=45.5619,
        longitude=5.9139,
        house_number="15",
        road="Avenue de Lyon",
        suburb="Le Biollay",
        city="Chambéry",
        postcode="73000",
    ),
    GazetteerEntry(
        queries=("Le Biollay, Chambéry",),
        latitude=45.5560,
        longitude=5.9075,
        suburb="Le Biollay",
        city="Chambéry",
        postcode="73000",
    ),
    GazetteerEntry(
        queries=("1 Grand-Place, Bruxelles",),
        latitude=50.8467,
        longitude=4.3525,
        house_number="1",
        road="Grand-Place - Grote Markt",
        suburb="Pentagone - Vijfhoek",
        city="Bruxelles - Brussel",
        postcode="1000",
        county="Bruxelles-Capitale - Brussel-Hoofdstad",
        state="Région de Bruxelles-Capitale - Brussels Hoofdstedelijk Gewest",
        country="België / Belgique / Belgien",
        country_code="be",
    ),
)


def default_places() -> dict[str, Place]:
    """Every query of the default gazetteer with the place it finds."""
    return {query: entry.place() for entry in DEFAULT_GAZETTEER for query in entry.queries}


class FakeGeocoder:
    """An in-memory Geocoder: known queries (any case or spacing), known points, a down switch."""

    def __init__(
        self,
        places: Mapping[str, Place] | None = None,
        *,
        reverse_radius_m: float = DEFAULT_REVERSE_RADIUS_M,
        delay_seconds: float = 0.0,
    ) -> None:
        self._places: dict[str, Place] = {}
        self.reverse_radius_m = reverse_radius_m
        # A delay makes concurrent callers overlap, like a real network round trip.
        self.delay_seconds = delay_seconds
        self.down = False
        self.search_calls = 0
        self.reverse_calls = 0
        self.searches: list[str] = []
        self.reverses: list[tuple[float, float]] = []
        for query, place in (default_places() if places is None else places).items():
            self.add(query, place)

    @property
    def calls(self) -> int:
        """Searches and reverse lookups made so far."""
        return self.search_calls + self.reverse_calls

    def add(self, query: str, place: Place) -> None:
        """Make a query known (its place also becomes a known reverse point)."""
        self._places[_query_key(query)] = place

    async def _call(self) -> None:
        if self.delay_seconds:
            await asyncio.sleep(self.delay_seconds)
        if self.down:
            raise GeocoderUnavailable("the fake geocoder is down")

    async def search(self, query: str, *, language: str) -> Place | None:
        """The place known for this query, or None."""
        self.search_calls += 1
        self.searches.append(query)
        await self._call()
        return self._places.get(_query_key(query))

    async def reverse(self, latitude: float, longitude: float, *, language: str) -> Place | None:
        """The nearest known place within the radius, at the given point, or None."""
        self.reverse_calls += 1
        self.reverses.append((latitude, longitude))
        await self._call()
        nearest = _nearest(self._places.values(), latitude, longitude, self.reverse_radius_m)
        return None if nearest is None else replace(nearest, latitude=latitude, longitude=longitude)

    async def aclose(self) -> None:
        """Nothing to close."""


def _nearest(
    places: Iterable[Place], latitude: float, longitude: float, radius_m: float
) -> Place | None:
    best: tuple[float, Place] | None = None
    for place in places:
        distance = distance_m(latitude, longitude, place.latitude, place.longitude)
        if distance <= radius_m and (best is None or distance < best[0]):
            best = (distance, place)
    return None if best is None else best[1]


@dataclass(frozen=True)
class RecordedRequest:
    """One request the fake Nominatim received."""

    path: str
    params: dict[str, str]
    user_agent: str | None


class FakeNominatimServer:
    """Nominatim's /search and /reverse (json and jsonv2) on 127.0.0.1, from a gazetteer.

    Switches: `fail_with` (an HTTP status such as 500 or 429, with `retry_after` for the
    Retry-After header) and `hang` (hold requests until `hang_seconds` pass or the server stops).
    """

    def __init__(
        self,
        entries: Sequence[GazetteerEntry] = DEFAULT_GAZETTEER,
        *,
        host: str = "127.0.0.1",
        reverse_radius_m: float = DEFAULT_REVERSE_RADIUS_M,
    ) -> None:
        self.entries = list(entries)
        self.host = host
        self.reverse_radius_m = reverse_radius_m
        self.requests: list[RecordedRequest] = []
        self.fail_with: int | None = None
        self.retry_after: int | None = None
        self.hang = False
        self.hang_seconds = 30.0
        self._port = 0
        self._runner: web.AppRunner | None = None
        self._release = asyncio.Event()

    @property
    def port(self) -> int:
        """The bound port (after start)."""
        if not self._port:
            raise RuntimeError("the server has not been started")
        return self._port

    @property
    def domain(self) -> str:
        """What to give NominatimGeocoder as `domain` (with scheme="http")."""
        return f"{self.host}:{self.port}"

    def requests_to(self, path: str) -> list[RecordedRequest]:
        """The requests received on one path ("/search" or "/reverse")."""
        return [request for request in self.requests if request.path == path]

    async def start(self) -> None:
        """Listen on an ephemeral port."""
        if self._runner is not None:
            return
        app = web.Application()
        app.router.add_get("/search", self._search)
        app.router.add_get("/reverse", self._reverse)
        # Short shutdown timeout: stop() releases hanging requests first anyway.
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await runner.setup()
        site = web.TCPSite(runner, self.host, 0)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self._port = int(runner.addresses[0][1])
        self._release = asyncio.Event()

    async def stop(self) -> None:
        """Release hanging requests and stop listening."""
        runner, self._runner = self._runner, None
        self._release.set()
        if runner is not None:
            await runner.cleanup()

    async def _intercept(self, request: web.Request) -> web.StreamResponse | None:
        """Record the request, then apply the failure switches."""
        self.requests.append(
            RecordedRequest(
                path=request.path,
                params=dict(request.query),
                user_agent=request.headers.get("User-Agent"),
            )
        )
        if self.hang:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._release.wait(), timeout=self.hang_seconds)
        if self.fail_with is not None:
            headers = {}
            if self.retry_after is not None:
                headers["Retry-After"] = str(self.retry_after)
            return web.Response(status=self.fail_with, text="fake failure", headers=headers)
        return None

    async def _search(self, request: web.Request) -> web.StreamResponse:
        failure = await self._intercept(request)
        if failure is not None:
            return failure
        query = _query_key(request.query.get("q", ""))
        codes = {c for c in request.query.get("countrycodes", "").lower().split(",") if c}
        details = request.query.get("addressdetails") == "1"
        fmt = request.query.get("format", "json")
        limit = int(request.query.get("limit", "10") or "10")
        results = [
            entry.nominatim_json(place_id=index + 1, fmt=fmt, addressdetails=details)
            for index, entry in enumerate(self.entries)
            if query in {_query_key(alias) for alias in entry.queries}
            and (not codes or entry.country_code in codes)
        ]
        return web.json_response(results[:limit])

    async def _reverse(self, request: web.Request) -> web.StreamResponse:
        failure = await self._intercept(request)
        if failure is not None:
            return failure
        try:
            latitude = float(request.query["lat"])
            longitude = float(request.query["lon"])
        except (KeyError, ValueError):
            return web.json_response(
                {"error": {"code": 400, "message": "Parameter 'lat' must be a number."}},
                status=400,
            )
        # Nominatim's reverse defaults to addressdetails=1.
        details = request.query.get("addressdetails", "1") == "1"
        fmt = request.query.get("format", "xml")
        best: tuple[float, int] | None = None
        for index, entry in enumerate(self.entries):
            distance = distance_m(latitude, longitude, entry.latitude, entry.longitude)
            if distance <= self.reverse_radius_m and (best is None or distance < best[0]):
                best = (distance, index)
        if best is None:
            return web.json_response({"error": "Unable to geocode"})
        entry = self.entries[best[1]]
        return web.json_response(
            entry.nominatim_json(place_id=best[1] + 1, fmt=fmt, addressdetails=details)
        )
