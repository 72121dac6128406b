"""Typed addresses to places and back: Nominatim behind a rate limit and a database cache.

Nominatim's usage policy (https://operations.osmfoundation.org/policies/nominatim/) asks for at
most one request per second for the whole application, an identifying User-Agent, cached
results and no bulk geocoding. `NominatimGeocoder` enforces the first two, `CachedGeocoder` the
third, and nothing here ever loops over addresses.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any, Protocol

import aiohttp
from geopy import exc as geopy_exc
from geopy.adapters import AioHTTPAdapter
from geopy.geocoders import Nominatim

from bot.settings import GeocoderKind, Settings
from storage import geocoding as cache_store
from storage.database import Database

logger = logging.getLogger(__name__)

DEFAULT_NOMINATIM_DOMAIN = "nominatim.openstreetmap.org"
# Longer than any real address; the cap keeps cache keys within their String(300) column.
MAX_QUERY_LENGTH = 200
DEFAULT_CACHE_TTL = timedelta(days=180)
# Without a Retry-After header a 429 still means "stop for a while", not "try again in 1 s".
DEFAULT_RATE_LIMITED_BACKOFF_SECONDS = 60.0
MAX_RATE_LIMITED_BACKOFF_SECONDS = 3600.0

# Nominatim's address keys, most useful first.
_STREET_KEYS = ("road", "pedestrian", "square", "footway", "path", "cycleway")
_DISTRICT_KEYS = ("suburb", "quarter", "neighbourhood", "city_district", "borough")
_CITY_KEYS = ("city", "town", "village", "municipality", "hamlet")


@dataclass(frozen=True)
class Place:
    """A located address: coordinates, the full label, and the parts safe to show to others."""

    latitude: float
    longitude: float
    # The geocoder's full address, house number included: shown only to the person it is about.
    label: str
    street: str | None = None
    district: str | None = None
    city: str | None = None
    postcode: str | None = None
    house_number: str | None = None

    @property
    def short_label(self) -> str:
        """Number, street and town ("27 Rue de Boigne, Chambéry"), as people write an address;
        the full label when the geocoder gave no street."""
        if not self.street:
            return self.label
        street = f"{self.house_number} {self.street}" if self.house_number else self.street
        town = self.city or self.postcode
        return f"{street}, {town}" if town else street

    @property
    def area_label(self) -> str:
        """Street and district (or city), never the house number; "" when nothing is known."""
        if self.street:
            parts = [self.street, self.district or self.city]
        elif self.district:
            parts = [self.district, self.city]
        else:
            parts = [self.city or self.postcode]
        shown: list[str] = []
        for part in parts:
            if part and part.casefold() not in {seen.casefold() for seen in shown}:
                shown.append(part)
        return ", ".join(shown)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict, as stored in the geocode cache."""
        return {
            "latitude": self.latitude,
            "longitude": self.longitude,
            "label": self.label,
            "street": self.street,
            "district": self.district,
            "city": self.city,
            "postcode": self.postcode,
            "house_number": self.house_number,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Place:
        """Rebuild a place from `to_json()`'s output; ValueError when the data is malformed."""
        label = data.get("label")
        if not isinstance(label, str):
            raise ValueError("cached place has no label")
        parts: dict[str, str | None] = {}
        for name in ("street", "district", "city", "postcode", "house_number"):
            value = data.get(name)
            if value is not None and not isinstance(value, str):
                raise ValueError(f"bad {name} in cached place: {value!r}")
            parts[name] = value
        return cls(
            latitude=_coordinate(data.get("latitude")),
            longitude=_coordinate(data.get("longitude")),
            label=label,
            **parts,
        )


def _coordinate(value: object) -> float:
    # bool is an int: reject it so that a corrupted entry is not read as (1, 0).
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"bad coordinate in cached place: {value!r}")
    return float(value)


class GeocoderUnavailable(Exception):
    """The geocoding service is down, timed out, refused the request, or is disabled."""


class Geocoder(Protocol):
    """Turns a typed address into a place, and a point into the address around it."""

    async def search(self, query: str, *, language: str) -> Place | None:
        """The best match for a typed address, or None when nothing matches."""
        ...

    async def reverse(self, latitude: float, longitude: float, *, language: str) -> Place | None:
        """The address at a point (the place keeps the given coordinates), or None."""
        ...


def normalise_query(query: str) -> str:
    """The query as sent: whitespace collapsed and stripped, at most MAX_QUERY_LENGTH chars."""
    return " ".join(query.split())[:MAX_QUERY_LENGTH].rstrip()


def _normalise_language(language: str) -> str:
    return language.strip().casefold()[:16]


def search_cache_key(query: str, language: str) -> str:
    """The cache key of a search: differently cased or spaced queries share it."""
    text = normalise_query(query).casefold()[:MAX_QUERY_LENGTH]
    return f"search:{_normalise_language(language)}:{text}"


def search_cache_key_pattern(query: str) -> str:
    """A LIKE pattern (escape character "\\") matching the search key of `query` in any language."""
    text = search_cache_key(query, "").removeprefix("search::")
    for special in ("\\", "%", "_"):
        text = text.replace(special, "\\" + special)
    return f"search:%:{text}"


def reverse_cache_key(latitude: float, longitude: float, language: str) -> str:
    """The cache key of a reverse lookup: points within about a metre share it."""
    # Adding 0.0 turns -0.0 into 0.0, so both sides of the equator/meridian format alike.
    lat, lon = round(latitude, 5) + 0.0, round(longitude, 5) + 0.0
    return f"reverse:{_normalise_language(language)}:{lat:.5f},{lon:.5f}"


def _first(address: Mapping[str, Any], keys: Sequence[str]) -> str | None:
    for key in keys:
        value = address.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def place_from_nominatim(raw: Mapping[str, Any]) -> Place | None:
    """A place from one Nominatim result (json/jsonv2 with addressdetails), None if unusable."""
    try:
        latitude, longitude = float(raw["lat"]), float(raw["lon"])
    except (KeyError, TypeError, ValueError):
        return None
    address = raw.get("address")
    if not isinstance(address, Mapping):
        address = {}
    postcode = address.get("postcode")
    return Place(
        latitude=latitude,
        longitude=longitude,
        label=str(raw.get("display_name") or ""),
        street=_first(address, _STREET_KEYS),
        district=_first(address, _DISTRICT_KEYS),
        city=_first(address, _CITY_KEYS),
        postcode=(postcode.strip() or None) if isinstance(postcode, str) else None,
        house_number=_first(address, ("house_number",)),
    )


class RequestSpacer:
    """Lets callers through one at a time, first come first served, `min_delay` seconds apart.

    The asyncio lock is held while sleeping, so concurrent callers queue behind each other in
    arrival order instead of all waking at once; the next start is measured from the previous
    caller's actual start (monotonic clock), so a late wake-up can only widen the gap.
    """

    def __init__(
        self,
        min_delay_seconds: float,
        *,
        max_wait_seconds: float = math.inf,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if min_delay_seconds < 0:
            raise ValueError("min_delay_seconds must not be negative")
        self.min_delay_seconds = min_delay_seconds
        self.max_wait_seconds = max_wait_seconds
        # Injected so that tests check the spacing on a virtual clock, whatever the CPU load.
        self._monotonic = monotonic
        self._sleep = sleep
        self._lock = asyncio.Lock()
        self._last_start = -math.inf
        self._not_before = -math.inf
        self._waiting = 0

    def _next_start(self) -> float:
        return max(self._last_start + self.min_delay_seconds, self._not_before)

    def expected_wait(self) -> float:
        """Seconds a caller arriving now would wait for its turn."""
        ahead = max(0.0, self._next_start() - self._monotonic())
        return ahead + self._waiting * self.min_delay_seconds

    def back_off(self, seconds: float) -> None:
        """Let nobody through for the next `seconds` (the service asked us to slow down)."""
        self._not_before = max(self._not_before, self._monotonic() + seconds)

    async def wait_turn(self) -> None:
        """Return when this caller may start its request; GeocoderUnavailable if too far off."""
        if self.expected_wait() > self.max_wait_seconds:
            # Better to tell the person now (they can send a pin) than after minutes of silence.
            raise GeocoderUnavailable("the geocoder is busy or backing off")
        self._waiting += 1
        try:
            async with self._lock:
                # A loop, not one sleep: a 429 answered meanwhile may have pushed the next start.
                while (remaining := self._next_start() - self._monotonic()) > 0:
                    if remaining > self.max_wait_seconds:
                        raise GeocoderUnavailable("the geocoder is backing off")
                    await self._sleep(remaining)
                self._last_start = self._monotonic()
        finally:
            self._waiting -= 1


def _parse_country_codes(country_codes: str | Sequence[str]) -> list[str]:
    items = country_codes.split(",") if isinstance(country_codes, str) else country_codes
    return [code.strip().lower() for code in items if code.strip()]


class NominatimGeocoder:
    """Nominatim over aiohttp; make one per application so its rate limit is application-wide."""

    def __init__(
        self,
        *,
        user_agent: str,
        domain: str = DEFAULT_NOMINATIM_DOMAIN,
        scheme: str = "https",
        country_codes: str | Sequence[str] = (),
        timeout: float = 10.0,
        min_delay_seconds: float = 1.0,
        max_queue_seconds: float = 30.0,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if not user_agent.strip():
            raise ValueError("Nominatim requires an identifying User-Agent")
        if domain == DEFAULT_NOMINATIM_DOMAIN and min_delay_seconds < 1.0:
            raise ValueError("the public Nominatim allows at most one request per second")
        self.country_codes = _parse_country_codes(country_codes)
        self.spacer = RequestSpacer(
            min_delay_seconds, max_wait_seconds=max_queue_seconds, monotonic=monotonic, sleep=sleep
        )
        # The adapter opens its aiohttp session lazily, on the first request, inside the loop.
        self._nominatim: Any = Nominatim(
            user_agent=user_agent.strip(),
            domain=domain,
            scheme=scheme,
            timeout=timeout,
            adapter_factory=AioHTTPAdapter,
        )
        self._closed = False

    async def search(self, query: str, *, language: str) -> Place | None:
        """The best match for a typed address, or None (an empty query makes no request)."""
        text = normalise_query(query)
        if not text:
            return None
        location = await self._request(
            lambda: self._nominatim.geocode(
                text,
                exactly_one=True,
                addressdetails=True,
                language=language,
                country_codes=self.country_codes or None,
            )
        )
        if location is None:
            return None
        return place_from_nominatim(location.raw)

    async def reverse(self, latitude: float, longitude: float, *, language: str) -> Place | None:
        """The address nearest a point, keeping the point's own coordinates, or None."""
        if not (-90.0 <= latitude <= 90.0 and -180.0 <= longitude <= 180.0):
            raise ValueError(f"not a point on Earth: {latitude}, {longitude}")
        location = await self._request(
            lambda: self._nominatim.reverse(
                (latitude, longitude), exactly_one=True, addressdetails=True, language=language
            )
        )
        if location is None:
            return None
        place = place_from_nominatim(location.raw)
        # Nominatim answers with the nearest mapped object; the person is at their pin.
        return None if place is None else replace(place, latitude=latitude, longitude=longitude)

    async def _request(self, call: Callable[[], Awaitable[Any]]) -> Any:
        """One request in its turn, with every failure turned into GeocoderUnavailable."""
        if self._closed:
            raise GeocoderUnavailable("the geocoder has been closed")
        await self.spacer.wait_turn()
        # No retries here: a retry would be a second request in the same second.
        try:
            return await call()
        except geopy_exc.GeocoderRateLimited as error:
            seconds = error.retry_after or DEFAULT_RATE_LIMITED_BACKOFF_SECONDS
            seconds = min(
                max(float(seconds), self.spacer.min_delay_seconds), MAX_RATE_LIMITED_BACKOFF_SECONDS
            )
            self.spacer.back_off(seconds)
            logger.warning("Nominatim rate-limited us; pausing geocoding for %.0f s", seconds)
            raise GeocoderUnavailable("rate limited by the geocoder") from error
        except geopy_exc.GeocoderInsufficientPrivileges as error:
            # 403: Nominatim blocks unidentified or abusive clients; the operator must act.
            logger.error("Nominatim refused us (403): check BRIGADE_GEOCODER_USER_AGENT")
            raise GeocoderUnavailable("refused by the geocoder") from error
        except (geopy_exc.GeopyError, aiohttp.ClientError, TimeoutError, OSError) as error:
            # The query is someone's address: log the kind of failure, never the text.
            logger.warning("Geocoder request failed: %s", type(error).__name__)
            raise GeocoderUnavailable(type(error).__name__) from error

    async def aclose(self) -> None:
        """Close the HTTP session; later calls raise GeocoderUnavailable."""
        if self._closed:
            return
        self._closed = True
        await self._nominatim.__aexit__(None, None, None)


class CachedGeocoder:
    """Any geocoder behind the database cache: answers, "not found" included, kept for a TTL."""

    def __init__(
        self,
        inner: Geocoder,
        database: Database,
        *,
        ttl: timedelta = DEFAULT_CACHE_TTL,
    ) -> None:
        self.inner = inner
        self._database = database
        self._ttl = ttl
        self._clock = database.clock
        # One lookup per key at a time: concurrent identical queries share one request.
        self._inflight: dict[str, asyncio.Task[Place | None]] = {}

    async def search(self, query: str, *, language: str) -> Place | None:
        """The best match for a typed address, from the cache when known."""
        text = normalise_query(query)
        if not text:
            return None
        return await self._lookup(
            search_cache_key(text, language), lambda: self.inner.search(text, language=language)
        )

    async def reverse(self, latitude: float, longitude: float, *, language: str) -> Place | None:
        """The address at a point, from the cache when known; the point's coordinates are kept."""
        place = await self._lookup(
            reverse_cache_key(latitude, longitude, language),
            lambda: self.inner.reverse(latitude, longitude, language=language),
        )
        # A cached answer may have been asked for a point up to a metre away.
        return None if place is None else replace(place, latitude=latitude, longitude=longitude)

    async def _lookup(self, key: str, fetch: Callable[[], Awaitable[Place | None]]) -> Place | None:
        task = self._inflight.get(key)
        if task is None:
            task = asyncio.create_task(self._load(key, fetch))
            self._inflight[key] = task
            task.add_done_callback(lambda done: self._forget(key, done))
        # Shielded: a caller giving up must not cancel the lookup other callers wait for.
        return await asyncio.shield(task)

    def _forget(self, key: str, task: asyncio.Task[Place | None]) -> None:
        if self._inflight.get(key) is task:
            del self._inflight[key]
        if not task.cancelled():
            # Mark the error as seen even if every caller gave up: it was reported to them.
            task.exception()

    async def _load(self, key: str, fetch: Callable[[], Awaitable[Place | None]]) -> Place | None:
        hit, place = await self._read(key)
        if hit:
            return place
        # Errors propagate uncached: the next attempt asks again.
        place = await fetch()
        # A fresh short transaction: none is held open while the network answers.
        async with self._database.transaction() as session:
            await cache_store.put_cached(
                session, key, None if place is None else place.to_json(), now=self._clock()
            )
        return place

    async def _read(self, key: str) -> tuple[bool, Place | None]:
        async with self._database.read() as session:
            entry = await cache_store.get_cached(session, key)
            if entry is None:
                return False, None
            created_at, result = entry.created_at, entry.result
        if self._clock() - created_at > self._ttl:
            return False, None
        if result is None:
            return True, None
        try:
            return True, Place.from_json(result)
        except ValueError:
            logger.warning("Ignoring a malformed geocode cache entry")
            return False, None

    async def aclose(self) -> None:
        """Close the wrapped geocoder."""
        await close_geocoder(self.inner)


class DisabledGeocoder:
    """No geocoding service (BRIGADE_GEOCODER=none): people locate themselves with a pin."""

    async def search(self, query: str, *, language: str) -> Place | None:
        """Always unavailable."""
        raise GeocoderUnavailable("geocoding is disabled")

    async def reverse(self, latitude: float, longitude: float, *, language: str) -> Place | None:
        """Always unavailable."""
        raise GeocoderUnavailable("geocoding is disabled")

    async def aclose(self) -> None:
        """Nothing to close."""


async def close_geocoder(geocoder: Geocoder) -> None:
    """Release a geocoder's resources, for those that hold any (call at shutdown)."""
    aclose = getattr(geocoder, "aclose", None)
    if aclose is not None:
        await aclose()


def _split_scheme(domain: str) -> tuple[str, str]:
    """Accept "host[:port]" or "http(s)://host[:port]" (handy for a self-hosted Nominatim)."""
    for scheme in ("https", "http"):
        prefix = f"{scheme}://"
        if domain.lower().startswith(prefix):
            return scheme, domain[len(prefix) :].rstrip("/")
    return "https", domain.rstrip("/")


def build_geocoder(settings: Settings, database: Database) -> Geocoder:
    """The geocoder the settings ask for: cached Nominatim, or none at all (pins only)."""
    if settings.geocoder is GeocoderKind.NONE:
        return DisabledGeocoder()
    scheme, domain = _split_scheme(settings.geocoder_domain)
    nominatim = NominatimGeocoder(
        user_agent=settings.geocoder_user_agent,
        domain=domain,
        scheme=scheme,
        country_codes=settings.geocoder_country_codes,
        min_delay_seconds=settings.geocoder_min_delay_seconds,
    )
    # Answers are typed addresses: they live no longer than the town's retention period (the
    # sweep deletes older rows, RetentionService).
    return CachedGeocoder(nominatim, database, ttl=timedelta(days=settings.retention_days))
