"""Geocoding: Place, Nominatim over HTTP (against a local fake), the cache, and the fakes.

Nothing here touches the internet: NominatimGeocoder talks to FakeNominatimServer on 127.0.0.1.
Timing assertions are lower bounds only.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.services.geocoding import (
    CachedGeocoder,
    DisabledGeocoder,
    GeocoderUnavailable,
    NominatimGeocoder,
    Place,
    RequestSpacer,
    build_geocoder,
    close_geocoder,
    normalise_query,
    place_from_nominatim,
    reverse_cache_key,
    search_cache_key,
    search_cache_key_pattern,
)
from storage import geocoding as cache_store
from storage.database import Database
from storage.models import GeocodeCacheEntry
from testkit.clock import ManualClock, VirtualTimer
from testkit.geocoder import DEFAULT_GAZETTEER, FakeGeocoder, FakeNominatimServer
from tests.conftest import make_settings

USER_AGENT = "brigade-tests/1.0 (tests@example.org)"
GARE = DEFAULT_GAZETTEER[0]  # 12 rue de la Gare, Chambéry (Centre-Ville)
BRUXELLES = DEFAULT_GAZETTEER[-1]


@pytest.fixture
async def server() -> AsyncIterator[FakeNominatimServer]:
    """A fake Nominatim on an ephemeral local port."""
    fake = FakeNominatimServer()
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()


def make_nominatim(server: FakeNominatimServer, **overrides: object) -> NominatimGeocoder:
    """A NominatimGeocoder pointed at the fake, fast by default."""
    options: dict[str, object] = {
        "user_agent": USER_AGENT,
        "domain": server.domain,
        "scheme": "http",
        "country_codes": "fr,be",
        "timeout": 2.0,
        "min_delay_seconds": 0.0,
    }
    options.update(overrides)
    return NominatimGeocoder(**options)  # type: ignore[arg-type]


@pytest.fixture
async def nominatim(server: FakeNominatimServer) -> AsyncIterator[NominatimGeocoder]:
    """A NominatimGeocoder on the fake server, closed afterwards."""
    geocoder = make_nominatim(server)
    try:
        yield geocoder
    finally:
        await geocoder.aclose()


async def cache_rows(database: Database) -> int:
    """How many entries the geocode cache holds."""
    async with database.read() as session:
        return (
            await session.execute(select(func.count()).select_from(GeocodeCacheEntry))
        ).scalar_one()


# --- Place -------------------------------------------------------------------------------------


def test_area_label_shows_street_and_district_never_the_house_number() -> None:
    place = GARE.place()
    assert "12" in place.label
    assert place.area_label == "Rue de la Gare, Centre-Ville"


@pytest.mark.parametrize(
    ("parts", "expected"),
    [
        ({"street": "Rue de Boigne", "city": "Chambéry"}, "Rue de Boigne, Chambéry"),
        ({"district": "Le Biollay", "city": "Chambéry"}, "Le Biollay, Chambéry"),
        ({"city": "Chambéry", "postcode": "73000"}, "Chambéry"),
        ({"postcode": "73000"}, "73000"),
        ({"street": "Rue de Boigne"}, "Rue de Boigne"),
        ({"district": "Chambéry", "city": "chambéry"}, "Chambéry"),
        ({}, ""),
    ],
)
def test_area_label_falls_back_on_what_is_known(parts: dict[str, str], expected: str) -> None:
    place = Place(latitude=45.0, longitude=5.0, label="12, somewhere", **parts)
    assert place.area_label == expected


@pytest.mark.parametrize(
    ("parts", "expected"),
    [
        (
            {"house_number": "27", "street": "Rue de Boigne", "city": "Chambéry"},
            "27 Rue de Boigne, Chambéry",
        ),
        ({"street": "Rue de Boigne", "district": "Centre-Ville"}, "Rue de Boigne"),
        ({"street": "Rue de Boigne", "postcode": "73000"}, "Rue de Boigne, 73000"),
        ({"district": "Le Biollay", "city": "Chambéry"}, "12, somewhere"),
    ],
)
def test_the_short_label_is_number_street_and_town(parts: dict[str, str], expected: str) -> None:
    """What a person writes, not the geocoder's whole line (without a street: that line)."""
    place = Place(latitude=45.0, longitude=5.0, label="12, somewhere", **parts)
    assert place.short_label == expected


def test_a_nominatim_answer_gives_the_short_label() -> None:
    boigne = next(entry for entry in DEFAULT_GAZETTEER if entry.road == "Rue de Boigne")
    place = place_from_nominatim(boigne.nominatim_json(place_id=1))
    assert place is not None
    assert "Savoie" in place.label
    assert place.short_label == "27 Rue de Boigne, Chambéry"


def test_place_survives_a_json_round_trip() -> None:
    place = GARE.place()
    assert Place.from_json(place.to_json()) == place


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"latitude": "45", "longitude": 5.0, "label": "x"},
        {"latitude": True, "longitude": 5.0, "label": "x"},
        {"latitude": 45.0, "longitude": 5.0},
        {"latitude": 45.0, "longitude": 5.0, "label": "x", "street": 12},
    ],
)
def test_malformed_place_json_is_refused(data: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=r"cached place"):
        Place.from_json(data)


def test_cache_keys_ignore_case_and_spacing_and_round_points() -> None:
    assert search_cache_key("  12 Rue de la  GARE,\tChambéry ", "fr") == search_cache_key(
        "12 rue de la gare, chambéry", "FR"
    )
    assert search_cache_key("Rue", "fr") != search_cache_key("Rue", "en")
    assert reverse_cache_key(45.5714001, 5.9188004, "fr") == "reverse:fr:45.57140,5.91880"
    assert reverse_cache_key(-0.000001, 0.0, "fr") == "reverse:fr:0.00000,0.00000"
    assert len(search_cache_key("é" * 500, "fr")) <= 300
    assert normalise_query("  a   b  ") == "a b"
    assert len(normalise_query("x" * 1000)) == 200
    # The search key of a query in any language, LIKE's wildcards in the query escaped.
    assert search_cache_key_pattern(" 3 Rue  X, Y ") == "search:%:3 rue x, y"
    assert search_cache_key_pattern("100%_sûr\\") == "search:%:100\\%\\_sûr\\\\"


# --- NominatimGeocoder against the fake server -------------------------------------------------


async def test_search_finds_the_address_with_its_structured_parts(
    server: FakeNominatimServer, nominatim: NominatimGeocoder
) -> None:
    place = await nominatim.search("  12 rue de la Gare,   Chambéry ", language="fr")
    assert place == GARE.place()
    assert place is not None
    assert place.area_label == "Rue de la Gare, Centre-Ville"
    assert "12" not in place.area_label


async def test_requests_identify_us_and_ask_for_address_details(
    server: FakeNominatimServer, nominatim: NominatimGeocoder
) -> None:
    await nominatim.search("12 rue de la Gare, Chambéry", language="fr")
    [request] = server.requests_to("/search")
    assert request.user_agent == USER_AGENT
    assert request.params["q"] == "12 rue de la Gare, Chambéry"
    assert request.params["addressdetails"] == "1"
    assert request.params["countrycodes"] == "fr,be"
    assert request.params["accept-language"] == "fr"
    assert request.params["limit"] == "1"


async def test_nothing_found_is_none(
    server: FakeNominatimServer, nominatim: NominatimGeocoder
) -> None:
    assert await nominatim.search("99 rue qui n'existe pas, Nulle-part", language="fr") is None
    assert len(server.requests) == 1


async def test_country_codes_restrict_the_search(server: FakeNominatimServer) -> None:
    query = BRUXELLES.queries[0]
    france_only = make_nominatim(server, country_codes="fr")
    both = make_nominatim(server, country_codes=["fr", "be"])
    try:
        assert await france_only.search(query, language="fr") is None
        found = await both.search(query, language="fr")
    finally:
        await france_only.aclose()
        await both.aclose()
    assert found is not None
    assert found.city == BRUXELLES.city


async def test_empty_query_makes_no_request(
    server: FakeNominatimServer, nominatim: NominatimGeocoder
) -> None:
    assert await nominatim.search("   \n ", language="fr") is None
    assert server.requests == []


async def test_long_queries_are_capped(
    server: FakeNominatimServer, nominatim: NominatimGeocoder
) -> None:
    await nominatim.search("rue " * 200, language="fr")
    assert len(server.requests[0].params["q"]) <= 200


async def test_reverse_gives_the_nearest_address_at_the_given_point(
    server: FakeNominatimServer, nominatim: NominatimGeocoder
) -> None:
    place = await nominatim.reverse(45.5715, 5.9189, language="fr")
    assert place is not None
    assert (place.latitude, place.longitude) == (45.5715, 5.9189)
    assert place.area_label == "Rue de la Gare, Centre-Ville"
    [request] = server.requests_to("/reverse")
    assert request.user_agent == USER_AGENT
    assert request.params["addressdetails"] == "1"
    # Far from every known address: Nominatim's {"error": "Unable to geocode"}.
    assert await nominatim.reverse(0.0, 0.0, language="fr") is None


async def test_reverse_refuses_impossible_points(nominatim: NominatimGeocoder) -> None:
    with pytest.raises(ValueError, match="not a point"):
        await nominatim.reverse(91.0, 5.0, language="fr")


async def test_server_error_is_unavailable(
    server: FakeNominatimServer, nominatim: NominatimGeocoder
) -> None:
    server.fail_with = 500
    with pytest.raises(GeocoderUnavailable):
        await nominatim.search(GARE.queries[0], language="fr")
    # No retry behind our back: one request, one failure.
    assert len(server.requests) == 1


async def test_a_hang_past_the_timeout_is_unavailable(server: FakeNominatimServer) -> None:
    server.hang = True
    geocoder = make_nominatim(server, timeout=0.5)
    try:
        with pytest.raises(GeocoderUnavailable):
            await geocoder.search(GARE.queries[0], language="fr")
    finally:
        await geocoder.aclose()
    # The one request reached the server, which never answered: the client gave up on it.
    assert len(server.requests) == 1


async def test_rate_limiting_pauses_all_requests(server: FakeNominatimServer) -> None:
    server.fail_with = 429
    server.retry_after = 120
    geocoder = make_nominatim(server, min_delay_seconds=0.2)
    try:
        # The second caller is already queued when the 429 arrives: it gives up, unsent.
        outcomes = await asyncio.gather(
            geocoder.search(GARE.queries[0], language="fr"),
            geocoder.search(GARE.queries[1], language="fr"),
            return_exceptions=True,
        )
        assert all(isinstance(outcome, GeocoderUnavailable) for outcome in outcomes)
        server.fail_with = None
        # Asked to wait two minutes: a later caller is told at once, without a request.
        with pytest.raises(GeocoderUnavailable):
            await geocoder.search(GARE.queries[0], language="fr")
    finally:
        await geocoder.aclose()
    assert len(server.requests) == 1


def test_the_public_nominatim_gets_at_most_one_request_per_second() -> None:
    with pytest.raises(ValueError, match="one request per second"):
        NominatimGeocoder(user_agent=USER_AGENT, min_delay_seconds=0.5)
    with pytest.raises(ValueError, match="User-Agent"):
        NominatimGeocoder(user_agent="  ")


async def test_an_unreachable_server_is_unavailable(server: FakeNominatimServer) -> None:
    geocoder = make_nominatim(server)
    await server.stop()
    try:
        with pytest.raises(GeocoderUnavailable):
            await geocoder.search(GARE.queries[0], language="fr")
    finally:
        await geocoder.aclose()


async def test_a_closed_geocoder_is_unavailable(nominatim: NominatimGeocoder) -> None:
    await nominatim.aclose()
    with pytest.raises(GeocoderUnavailable):
        await nominatim.search(GARE.queries[0], language="fr")


async def test_concurrent_searches_reach_the_server_spaced_out(
    server: FakeNominatimServer,
) -> None:
    # The client spaces its requests on a virtual clock: the waits are exact, whatever the
    # machine's load (real seconds are measured in bench/, not asserted here).
    timer = VirtualTimer()
    delay = 1.0
    geocoder = make_nominatim(
        server, min_delay_seconds=delay, monotonic=timer.monotonic, sleep=timer.sleep
    )
    try:
        await asyncio.gather(
            *(geocoder.search(entry.queries[0], language="fr") for entry in DEFAULT_GAZETTEER[:4])
        )
    finally:
        await geocoder.aclose()
    assert len(server.requests) == 4
    # The first went at once; each of the three others waited the whole delay after the one
    # before it (the virtual clock does not move while a request travels).
    assert timer.slept == [delay] * 3


async def test_the_spacer_queues_callers_in_order_at_least_min_delay_apart() -> None:
    timer = VirtualTimer()
    spacer = RequestSpacer(0.5, monotonic=timer.monotonic, sleep=timer.sleep)
    starts: list[tuple[int, float]] = []

    async def caller(number: int) -> None:
        await spacer.wait_turn()
        starts.append((number, timer.monotonic()))

    await asyncio.gather(*(caller(number) for number in range(4)))
    assert [number for number, _ in starts] == [0, 1, 2, 3]
    assert [later - earlier for (_, earlier), (_, later) in itertools.pairwise(starts)] == [0.5] * 3


async def test_a_back_off_holds_every_caller_until_it_ends() -> None:
    timer = VirtualTimer()
    spacer = RequestSpacer(1.0, max_wait_seconds=60.0, monotonic=timer.monotonic, sleep=timer.sleep)
    await spacer.wait_turn()
    spacer.back_off(30.0)
    started = timer.monotonic()
    await spacer.wait_turn()
    assert timer.monotonic() - started == 30.0


async def test_the_spacer_refuses_callers_who_would_wait_too_long() -> None:
    spacer = RequestSpacer(10.0, max_wait_seconds=1.0)
    await spacer.wait_turn()
    with pytest.raises(GeocoderUnavailable):
        await spacer.wait_turn()


# --- CachedGeocoder on both databases ----------------------------------------------------------


async def test_a_repeated_search_is_answered_from_the_cache(
    database: Database, server: FakeNominatimServer, nominatim: NominatimGeocoder
) -> None:
    cached = CachedGeocoder(nominatim, database)
    first = await cached.search("12 rue de la Gare, Chambéry", language="fr")
    second = await cached.search("  12 RUE DE LA GARE,   chambéry", language="fr")
    assert first == second == GARE.place()
    assert len(server.requests) == 1
    # Another language is another answer (labels are localised).
    await cached.search("12 rue de la Gare, Chambéry", language="en")
    assert len(server.requests) == 2


async def test_not_found_is_cached(
    database: Database, server: FakeNominatimServer, nominatim: NominatimGeocoder
) -> None:
    cached = CachedGeocoder(nominatim, database)
    assert await cached.search("nowhere at all", language="fr") is None
    assert await cached.search("Nowhere  at all", language="fr") is None
    assert len(server.requests) == 1
    assert await cache_rows(database) == 1


async def test_errors_are_not_cached(
    database: Database, server: FakeNominatimServer, nominatim: NominatimGeocoder
) -> None:
    cached = CachedGeocoder(nominatim, database)
    server.fail_with = 500
    with pytest.raises(GeocoderUnavailable):
        await cached.search(GARE.queries[0], language="fr")
    assert await cache_rows(database) == 0
    server.fail_with = None
    assert await cached.search(GARE.queries[0], language="fr") == GARE.place()
    assert len(server.requests) == 2


async def test_concurrent_identical_searches_share_one_request(database: Database) -> None:
    inner = FakeGeocoder(delay_seconds=0.05)
    cached = CachedGeocoder(inner, database)
    results = await asyncio.gather(
        *(cached.search(GARE.queries[0].upper(), language="fr") for _ in range(5))
    )
    assert results == [GARE.place()] * 5
    assert inner.search_calls == 1


async def test_concurrent_cache_inserts_of_one_key_do_not_fail(database: Database) -> None:
    """Two application instances sharing a database both miss, both ask, both store."""
    inners = [FakeGeocoder(delay_seconds=0.05) for _ in range(3)]
    results = await asyncio.gather(
        *(
            CachedGeocoder(inner, database).search(GARE.queries[0], language="fr")
            for inner in inners
        )
    )
    assert results == [GARE.place()] * 3
    assert [inner.search_calls for inner in inners] == [1, 1, 1]
    assert await cache_rows(database) == 1


async def test_put_cached_replaces_and_survives_races(database: Database) -> None:
    key = search_cache_key("race", "fr")

    async def put(result: dict[str, object] | None) -> None:
        async with database.transaction() as session:
            await cache_store.put_cached(session, key, result)

    await asyncio.gather(*(put({"n": n}) for n in range(8)), put(None))
    async with database.read() as session:
        entry = await cache_store.get_cached(session, key)
    assert entry is not None
    assert entry.result is None or entry.result in [{"n": n} for n in range(8)]
    await put({"n": 42})
    async with database.read() as session:
        entry = await cache_store.get_cached(session, key)
        assert await cache_store.get_cached(session, "search:fr:unknown") is None
    assert entry is not None
    assert entry.result == {"n": 42}
    assert await cache_rows(database) == 1


async def test_stale_entries_are_refreshed(clock: ManualClock, database: Database) -> None:
    inner = FakeGeocoder()
    cached = CachedGeocoder(inner, database, ttl=timedelta(days=180))
    await cached.search(GARE.queries[0], language="fr")
    clock.advance(days=179)
    await cached.search(GARE.queries[0], language="fr")
    assert inner.search_calls == 1
    now = clock.advance(days=2)
    await cached.search(GARE.queries[0], language="fr")
    assert inner.search_calls == 2
    async with database.read() as session:
        entry = await cache_store.get_cached(session, search_cache_key(GARE.queries[0], "fr"))
    assert entry is not None
    assert entry.created_at == now


async def test_a_malformed_cache_entry_is_asked_again(database: Database) -> None:
    async with database.transaction() as session:
        await cache_store.put_cached(session, search_cache_key(GARE.queries[0], "fr"), {"x": 1})
    inner = FakeGeocoder()
    assert await CachedGeocoder(inner, database).search(GARE.queries[0], language="fr") == (
        GARE.place()
    )
    assert inner.search_calls == 1


async def test_reverse_is_cached_per_rounded_point_and_keeps_the_asked_point(
    database: Database,
) -> None:
    inner = FakeGeocoder()
    cached = CachedGeocoder(inner, database)
    first = await cached.reverse(45.571401, 5.918801, language="fr")
    second = await cached.reverse(45.571402, 5.918802, language="fr")
    assert first is not None
    assert second is not None
    assert (second.latitude, second.longitude) == (45.571402, 5.918802)
    assert second.area_label == "Rue de la Gare, Centre-Ville"
    assert inner.reverse_calls == 1


async def test_cached_empty_query_asks_nobody(database: Database) -> None:
    inner = FakeGeocoder()
    assert await CachedGeocoder(inner, database).search("  ", language="fr") is None
    assert inner.calls == 0
    assert await cache_rows(database) == 0


# --- FakeGeocoder, DisabledGeocoder, build_geocoder --------------------------------------------


async def test_fake_geocoder_finds_known_addresses_in_any_case() -> None:
    fake = FakeGeocoder()
    place = await fake.search("12 RUE DE LA GARE,  chambéry", language="fr")
    assert place == GARE.place()
    assert await fake.search("1 rue Inconnue, Chambéry", language="fr") is None
    assert fake.search_calls == 2


async def test_fake_geocoder_reverse_finds_the_nearest_known_place_within_200_m() -> None:
    fake = FakeGeocoder()
    near = await fake.reverse(45.5586, 5.9108, language="fr")  # ~60 m from rue du Pré de l'Âne
    assert near is not None
    assert near.street == "Rue du Pré de l'Âne"
    assert near.district == "Le Biollay"
    assert await fake.reverse(45.60, 5.95, language="fr") is None
    assert fake.reverse_calls == 2


async def test_fake_geocoder_can_be_down() -> None:
    fake = FakeGeocoder({"Mairie": GARE.place()})
    fake.down = True
    with pytest.raises(GeocoderUnavailable):
        await fake.search("mairie", language="fr")
    with pytest.raises(GeocoderUnavailable):
        await fake.reverse(GARE.latitude, GARE.longitude, language="fr")
    assert fake.calls == 2
    fake.down = False
    assert await fake.search("MAIRIE", language="fr") == GARE.place()


async def test_disabled_geocoder_is_always_unavailable() -> None:
    disabled = DisabledGeocoder()
    with pytest.raises(GeocoderUnavailable):
        await disabled.search("12 rue de la Gare", language="fr")
    with pytest.raises(GeocoderUnavailable):
        await disabled.reverse(45.0, 5.0, language="fr")


async def test_build_geocoder_follows_the_settings(
    tmp_path: Path, sqlite_database: Database
) -> None:
    assert isinstance(
        build_geocoder(make_settings(tmp_path, geocoder="none"), sqlite_database),
        DisabledGeocoder,
    )
    settings = make_settings(
        tmp_path,
        geocoder="nominatim",
        geocoder_user_agent=USER_AGENT,
        geocoder_domain="http://127.0.0.1:9",
        geocoder_country_codes="fr, be",
    )
    geocoder = build_geocoder(settings, sqlite_database)
    try:
        assert isinstance(geocoder, CachedGeocoder)
        assert isinstance(geocoder.inner, NominatimGeocoder)
        assert geocoder.inner.country_codes == ["fr", "be"]
        assert geocoder.inner.spacer.min_delay_seconds == 1.0
    finally:
        await close_geocoder(geocoder)
