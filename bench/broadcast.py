"""Benchmark 1: broadcast 1,000 offers through the real app and its outbox sender.

The bot runs as deployed (`python -m bot`, child process) against the fake Bot API server with
Telegram-like limits on (≈30 sends/s overall, 1/s per private chat with bursts of 3, 20/min per
group; past them the fake answers 429 with retry_after). A referent's request for "shopping" is
posted (first wave: 500 volunteers) and offered at once to the 500 others (`next_wave`), so the
outbox holds 1,000 offers to 1,000 distinct private chats.

Measured from the fake's call log: the sustained rate of Telegram-counted calls (sends and edits)
between the first and the last offer, divided by the 30/s the fake allows; 429s; offers lost (a
volunteer offered in the database whose chat never got the offer) and duplicated (a chat that got
it twice). `bench/claim_latency.py` runs the same broadcast with volunteers tapping meanwhile.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import func, select

from bench.common import (
    CENTRE,
    DEFAULT_POSTGRES_URL,
    FAKE_OVERALL_PER_SECOND,
    CallScanner,
    LoadWatch,
    Table,
    VolunteerRow,
    brigade_child,
    database_url,
    insert_referent,
    insert_volunteers,
    machine_line,
    migrated,
    offset,
    parent_services,
    scratch,
    skill_ids,
    wait_until,
)
from bot.domain.lifecycle import HOLDING_PLACE
from bot.services.requests import BeneficiaryDetails, RequestDraft
from storage.database import Database
from storage.models import Claim, HelpRequest, Offer, OutboxMessage, OutboxStatus
from testkit.harness import TEST_TOKEN
from testkit.telegram import (
    EDIT_METHODS,
    SEND_METHODS,
    CallRecord,
    FakeBotApiServer,
    FakeTelegram,
    StoredMessage,
)
from testkit.telegram.models import inline_rows

REFERENT_BASE_ID = 300_000_000
BROADCAST_BASE_ID = 600_000_000
TAPPER_BASE_ID = 700_000_000
# Our sender's pacing (bot.outbox.SendLimits.overall_per_second): the best it can do.
SENDER_PER_SECOND = 29.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the broadcast benchmark."""
    parser.add_argument("--offers", type=int, default=1000, help="volunteers offered (1000)")
    parser.add_argument(
        "--backend", choices=["sqlite", "postgres"], default="sqlite", help="database (sqlite)"
    )
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL)


def draft(skill_id: int, latitude: float, longitude: float, places: int = 1) -> RequestDraft:
    """A request with recognisable private details."""
    return RequestDraft(
        skill_id=skill_id,
        description="Weekly groceries",
        latitude=latitude,
        longitude=longitude,
        area_label="Rue de Boigne",
        places_needed=places,
        beneficiary=BeneficiaryDetails(
            name="Mme Jeanne Martin",
            phone="+33 4 79 00 00 00",
            address="27 rue de Boigne, Chambéry",
            latitude=latitude,
            longitude=longitude,
            access_notes="3rd floor, code 1234",
            consent=True,
        ),
    )


def is_offer_of(call: CallRecord, request_id: int) -> bool:
    """A successful first copy of request `request_id`'s offer (its claim button)."""
    return (
        call.method == "sendMessage"
        and call.ok
        and f'"cl:{request_id}"' in str(call.params.get("reply_markup", ""))
    )


@dataclass
class TapPlan:
    """Volunteers tapping "I'll do it" on other requests while the broadcast runs."""

    clusters: int = 30
    idle_clusters: int = 6
    tappers_per_cluster: int = 5
    places: int = 2
    seed: int = 7


@dataclass
class Tap:
    """One tap and what became of it."""

    query_id: str
    request_id: int
    tapped_at: float
    during_broadcast: bool
    answered_at: float | None = None
    answer: str = ""


@dataclass
class BroadcastResult:
    """Everything one broadcast run measured."""

    backend: str
    expected: int = 0
    delivered: int = 0
    duplicates: int = 0
    losses: int = 0
    window_s: float = 0.0
    offers_per_s: float = 0.0
    counted_per_s: float = 0.0
    limit_429s: int = 0
    all_429s: int = 0
    post_s: float = 0.0
    first_offer_s: float = 0.0
    outbox_unsent: int = 0
    child_warnings: int = 0
    timed_out: str = ""
    taps: list[Tap] = field(default_factory=list)
    over_booked: int = 0
    load: str = ""

    @property
    def ratio(self) -> float:
        """Achieved rate ÷ the rate the fake allows."""
        return self.counted_per_s / FAKE_OVERALL_PER_SECOND


def _cluster_points(count: int) -> list[tuple[float, float]]:
    """Points 4 km apart on a grid: volunteers with a 1 km radius hear of one cluster only."""
    columns = 6
    points = []
    for index in range(count):
        row, column = divmod(index, columns)
        points.append(offset(*CENTRE, -12.0 + 4.0 * row, -10.0 + 4.0 * column))
    return points


async def run_broadcast(
    *,
    offers: int,
    backend: str,
    postgres_url: str,
    taps: TapPlan | None = None,
) -> BroadcastResult:
    """Seed, start the bot, (post the tapping requests,) broadcast, measure, stop."""
    result = BroadcastResult(backend=backend)
    load = LoadWatch()
    world = FakeTelegram(token=TEST_TOKEN)
    server = FakeBotApiServer(world)
    await server.start()
    try:
        with scratch("broadcast") as folder:
            async with database_url(backend, folder, postgres_url) as url:
                await _run(world, server, url, folder, offers, taps, result)
    finally:
        await server.stop()
    result.load = load.note()
    return result


async def _run(
    world: FakeTelegram,
    server: FakeBotApiServer,
    url: str,
    folder: Path,
    offers: int,
    taps: TapPlan | None,
    result: BroadcastResult,
) -> None:
    rng = random.Random(11)
    database = await migrated(url)
    skills = await skill_ids(database)
    referents = [REFERENT_BASE_ID + i for i in range(10)]
    for index, telegram_id in enumerate(referents):
        await insert_referent(database, telegram_id, f"Referent {index}")
        world.add_user(f"Referent {index}", user_id=telegram_id, language_code="en")
    broadcast = []
    for i in range(offers):
        lat, lon = offset(*CENTRE, rng.uniform(-1.5, 1.5), rng.uniform(-1.5, 1.5))
        broadcast.append(
            VolunteerRow(
                telegram_id=BROADCAST_BASE_ID + i,
                name=f"Shopper {i}",
                latitude=lat,
                longitude=lon,
                radius_km=10.0,
                skills=("shopping",),
            )
        )
    clusters: list[list[VolunteerRow]] = []
    points: list[tuple[float, float]] = []
    if taps is not None:
        points = _cluster_points(taps.clusters + taps.idle_clusters)
        for number, (latitude, longitude) in enumerate(points):
            cluster = []
            for k in range(taps.tappers_per_cluster):
                lat, lon = offset(
                    latitude, longitude, rng.uniform(-0.3, 0.3), rng.uniform(-0.3, 0.3)
                )
                cluster.append(
                    VolunteerRow(
                        telegram_id=TAPPER_BASE_ID + number * 100 + k,
                        name=f"Gardener {number}-{k}",
                        latitude=lat,
                        longitude=lon,
                        radius_km=1.0,
                        skills=("gardening",),
                    )
                )
            clusters.append(cluster)
    everyone = broadcast + [row for cluster in clusters for row in cluster]
    await insert_volunteers(database, everyone)
    for row in everyone:
        world.add_user(row.name, user_id=row.telegram_id, language_code="en")
    await database.dispose()

    world.faults.enable_limits()
    child = brigade_child(server.base_url, url, folder, wave_size=500)
    await child.start(world)
    try:
        async with parent_services(url, wave_size=500) as services:
            requests = services.requests
            tap_requests: list[int] = []
            if taps is not None:
                for number, (latitude, longitude) in enumerate(points):
                    posted = await requests.post(
                        referents[number % len(referents)],
                        draft(skills["gardening"], latitude, longitude, taps.places),
                    )
                    assert posted is not None
                    assert posted.offered == taps.tappers_per_cluster, posted
                    tap_requests.append(posted.request_id)
                tap_offers = len(tap_requests) * taps.tappers_per_cluster
                scanner = CallScanner(world, from_now=False)
                seen = 0

                def cluster_offers_out() -> bool:
                    nonlocal seen
                    seen += sum(
                        1
                        for call in scanner.new()
                        if call.method == "sendMessage" and call.ok and '"cl:' in str(call.params)
                    )
                    return seen >= tap_offers

                await wait_until(cluster_offers_out, 60 + tap_offers / 20, "the tappers' offers")
                await asyncio.sleep(3)  # their chats' budgets refill; the outbox is idle
                # Baseline: taps on an idle bot (idle clusters, one tap every 0.2 s).
                idle = [
                    (row, tap_requests[taps.clusters + i])
                    for i, cluster in enumerate(clusters[taps.clusters :])
                    for row in cluster
                ]
                rng.shuffle(idle)
                for row, request_id in idle:
                    result.taps.append(tap(world, row.telegram_id, request_id, during=False))
                    await asyncio.sleep(0.2)

            started = time.monotonic()
            posted = await requests.post(
                referents[0], draft(skills["shopping"], CENTRE[0], CENTRE[1])
            )
            assert posted is not None
            request_id = posted.request_id
            if posted.remaining_candidates:
                await requests.next_wave(request_id)
            result.post_s = time.monotonic() - started
            async with services.database.read() as session:
                result.expected = (
                    await session.execute(
                        select(func.count())
                        .select_from(Offer)
                        .where(Offer.request_id == request_id, Offer.kind == "direct")
                    )
                ).scalar_one()

            offer_calls: list[CallRecord] = []
            scanner = CallScanner(world, from_now=False)

            def collect() -> None:
                offer_calls.extend(c for c in scanner.new() if is_offer_of(c, request_id))

            def delivered() -> int:
                collect()
                return len({call.chat_id for call in offer_calls})

            tapping: asyncio.Task[None] | None = None
            if taps is not None:
                await wait_until(lambda: delivered() > 0, 30, "the first offer")
                during = [
                    (row, tap_requests[i])
                    for i, cluster in enumerate(clusters[: taps.clusters])
                    for row in cluster
                ]
                rng.shuffle(during)
                span = 0.85 * result.expected / SENDER_PER_SECOND
                tapping = asyncio.create_task(_tap_during(world, during, span, result.taps))
            try:
                await wait_until(
                    lambda: delivered() >= result.expected,
                    90 + result.expected / 10,
                    f"{result.expected} offers",
                    interval=0.1,
                )
            except TimeoutError as error:
                result.timed_out = str(error)
            if tapping is not None:
                await tapping

                def all_answered() -> bool:
                    record_answers(world, result.taps)
                    return all(tap.answered_at is not None for tap in result.taps)

                try:
                    await wait_until(all_answered, 60, "answers to every tap", interval=0.1)
                except TimeoutError as error:
                    result.timed_out += f" {error}"
            await asyncio.sleep(1.0)  # a late duplicate would show up now
            collect()
            _measure(world, offer_calls, result)
            if offer_calls:
                result.first_offer_s = min(c.started_at for c in offer_calls) - started
            async with services.database.read() as session:
                result.outbox_unsent = (
                    await session.execute(
                        select(func.count())
                        .select_from(OutboxMessage)
                        .join(Offer, Offer.id == OutboxMessage.offer_id)
                        .where(
                            Offer.request_id == request_id,
                            OutboxMessage.method == "send_message",
                            OutboxMessage.status != OutboxStatus.SENT,
                        )
                    )
                ).scalar_one()
            if taps is not None:
                result.over_booked = await _over_booked(services.database, tap_requests)
    finally:
        await child.stop()
        result.child_warnings = len(child.warnings())
        if result.child_warnings:
            print(f"child warnings ({result.child_warnings}), last ones:\n{child.log_tail(10)}")


def tap(world: FakeTelegram, telegram_id: int, request_id: int, *, during: bool) -> Tap:
    """Tap "I'll do it" on the person's copy of the request (its original callback data)."""
    person = world.users[telegram_id]
    data = f"cl:{request_id}"
    message = next(m for m in person.inbox if data in _callback_data_ever(m))
    # Whether the button is still shown or not: a client that has not received the edit yet
    # still shows it, and a tap on it is a tap the bot must answer.
    tapped_at = time.monotonic()
    update = person.tap_data(message, data)
    return Tap(str(update["callback_query"]["id"]), request_id, tapped_at, during)


def _callback_data_ever(message: StoredMessage) -> set[str]:
    """Callback data of the message's buttons, now or before any edit."""
    markups = [message.reply_markup, *(version.reply_markup for version in message.history)]
    return {
        button.callback_data
        for markup in markups
        for row in inline_rows(markup)
        for button in row
        if button.callback_data
    }


async def _tap_during(
    world: FakeTelegram, plan: list[tuple[VolunteerRow, int]], span: float, taps: list[Tap]
) -> None:
    """Taps spread at random over `span` seconds (a Poisson-like arrival)."""
    rng = random.Random(5)
    moments = sorted(rng.uniform(0, span) for _ in plan)
    origin = time.monotonic()
    for (row, request_id), moment in zip(plan, moments, strict=True):
        delay = origin + moment - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        taps.append(tap(world, row.telegram_id, request_id, during=True))


def record_answers(world: FakeTelegram, taps: list[Tap]) -> None:
    by_id = {tap.query_id: tap for tap in taps if tap.answered_at is None}
    if not by_id:
        return
    for call in world.calls:
        if call.method != "answerCallbackQuery":
            continue
        tap = by_id.get(str(call.params.get("callback_query_id")))
        if tap is not None and call.ok:
            tap.answered_at = call.started_at
            tap.answer = str(call.params.get("text", ""))


def _measure(world: FakeTelegram, offer_calls: list[CallRecord], result: BroadcastResult) -> None:
    per_chat = Counter(call.chat_id for call in offer_calls)
    result.delivered = len(per_chat)
    result.duplicates = sum(count - 1 for count in per_chat.values())
    result.losses = max(0, result.expected - result.delivered)
    result.limit_429s = world.stats.limit_429s
    result.all_429s = world.stats.too_many_requests
    if len(offer_calls) < 2:
        return
    first = min(call.started_at for call in offer_calls)
    last = max(call.started_at for call in offer_calls)
    result.window_s = last - first
    result.offers_per_s = (len(offer_calls) - 1) / result.window_s
    counted = [
        call
        for call in world.calls
        if call.ok
        and (call.method in SEND_METHODS or call.method in EDIT_METHODS)
        and first <= call.started_at <= last
    ]
    result.counted_per_s = (len(counted) - 1) / result.window_s


async def _over_booked(database: Database, request_ids: list[int]) -> int:
    """Requests whose claims holding a place exceed its places or differ from places_taken."""
    bad = 0
    async with database.read() as session:
        for request_id in request_ids:
            request = await session.get(HelpRequest, request_id)
            holding = (
                await session.execute(
                    select(func.count())
                    .select_from(Claim)
                    .where(Claim.request_id == request_id, Claim.status.in_(HOLDING_PLACE))
                )
            ).scalar_one()
            if request is None or not holding == request.places_taken <= request.places_needed:
                bad += 1
    return bad


def broadcast_table(results: list[BroadcastResult], title: str) -> Table:
    """The broadcast figures, one row per run."""
    table = Table(
        title,
        [
            "backend",
            "offers",
            "delivered",
            "window s",
            "offers/s",
            "counted calls/s",
            "÷ 30/s (goal ≥ 0.95)",
            "429s (limits)",
            "losses",
            "duplicates",
            "post+wave s",
        ],
    )
    for r in results:
        table.add(
            r.backend,
            r.expected,
            r.delivered,
            r.window_s,
            r.offers_per_s,
            r.counted_per_s,
            r.ratio,
            f"{r.all_429s} ({r.limit_429s})",
            r.losses,
            r.duplicates,
            r.post_s,
        )
        if r.outbox_unsent:
            table.notes.append(f"{r.backend}: {r.outbox_unsent} offer rows not marked sent")
        if r.timed_out:
            table.notes.append(f"{r.backend}: {r.timed_out}")
        table.notes.append(f"{r.backend}: {r.load}; child warnings logged: {r.child_warnings}")
    table.notes.append(
        "counted calls = sends and edits the fake's limits count, between the first and the last "
        "offer; the sender paces itself at 29/s (bot.outbox.SendLimits), so ≈ 0.97 is its "
        "ceiling (a little more over a short window: the fake starts with a full bucket of 30)"
    )
    table.notes.append(machine_line())
    return table


async def run(args: argparse.Namespace) -> list[Table]:
    """Benchmark 1."""
    result = await run_broadcast(
        offers=args.offers, backend=args.backend, postgres_url=args.postgres_url
    )
    return [broadcast_table([result], f"1. Broadcast of {args.offers} offers (limits on)")]
