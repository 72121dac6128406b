"""Benchmark 3: 500 simultaneous taps on a 2-place request, on SQLite and on PostgreSQL.

500 plumbers receive the offer of a request needing two volunteers; once every offer is out, all
500 tap "I'll do it" at the same moment (every callback query is queued before the bot's next
long poll returns). Counted: answers (must be 500), winners (must be exactly 2, in the answers
and in the database), and the tap → answer latency (median, p99, max). Telegram drops answers
that come later than roughly 10–15 s ("query is too old"): the table says how many would.
"""

from __future__ import annotations

import argparse
import asyncio
import random

from sqlalchemy import func, select

from bench.broadcast import REFERENT_BASE_ID, Tap, draft, record_answers, tap
from bench.common import (
    CENTRE,
    DEFAULT_POSTGRES_URL,
    CallScanner,
    LoadWatch,
    Table,
    VolunteerRow,
    backends,
    brigade_child,
    database_url,
    insert_referent,
    insert_volunteers,
    machine_line,
    migrated,
    ms,
    offset,
    parent_services,
    percentile,
    scratch,
    skill_ids,
    wait_until,
)
from bot.domain.lifecycle import HOLDING_PLACE
from storage.models import Claim, HelpRequest
from testkit.harness import TEST_TOKEN
from testkit.telegram import FakeBotApiServer, FakeTelegram

PLUMBER_BASE_ID = 800_000_000
TOO_OLD_SECONDS = 10.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the simultaneous-taps benchmark."""
    parser.add_argument("--tappers", type=int, default=500, help="volunteers tapping (500)")
    parser.add_argument("--places", type=int, default=2, help="places of the request (2)")
    parser.add_argument(
        "--backend", choices=["sqlite", "postgres", "both"], default="both", help="(both)"
    )
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL)


async def _one(backend: str, tappers: int, places: int, postgres_url: str) -> tuple[object, ...]:
    load = LoadWatch()
    rng = random.Random(3)
    world = FakeTelegram(token=TEST_TOKEN)
    server = FakeBotApiServer(world)
    await server.start()
    try:
        with scratch("taps") as folder:
            async with database_url(backend, folder, postgres_url) as url:
                database = await migrated(url)
                referent = REFERENT_BASE_ID
                await insert_referent(database, referent, "Rita")
                world.add_user("Rita", user_id=referent, language_code="en")
                rows = []
                for i in range(tappers):
                    lat, lon = offset(*CENTRE, rng.uniform(-2, 2), rng.uniform(-2, 2))
                    rows.append(
                        VolunteerRow(
                            PLUMBER_BASE_ID + i, f"Plumber {i}", lat, lon, 5.0, ("plumbing",)
                        )
                    )
                await insert_volunteers(database, rows)
                for row in rows:
                    world.add_user(row.name, user_id=row.telegram_id, language_code="en")
                skill = (await skill_ids(database))["plumbing"]
                await database.dispose()
                world.faults.enable_limits()
                child = brigade_child(server.base_url, url, folder, wave_size=500)
                await child.start(world)
                try:
                    async with parent_services(url, wave_size=500) as services:
                        posted = await services.requests.post(
                            referent, draft(skill, CENTRE[0], CENTRE[1], places)
                        )
                        assert posted is not None
                        request_id = posted.request_id
                        if posted.remaining_candidates:
                            await services.requests.next_wave(request_id)
                        scanner = CallScanner(world, from_now=False)
                        offered: set[object] = set()

                        def all_offered() -> bool:
                            offered.update(
                                c.chat_id
                                for c in scanner.new()
                                if c.ok and f'"cl:{request_id}"' in str(c.params)
                            )
                            return len(offered) >= tappers

                        await wait_until(
                            all_offered, 60 + tappers / 10, "every offer", interval=0.1
                        )
                        await asyncio.sleep(2)  # the outbox is idle again
                        order = list(rows)
                        rng.shuffle(order)
                        taps: list[Tap] = [
                            tap(world, row.telegram_id, request_id, during=True) for row in order
                        ]
                        queued_in = taps[-1].tapped_at - taps[0].tapped_at

                        def answered() -> bool:
                            record_answers(world, taps)
                            return all(t.answered_at is not None for t in taps)

                        timed_out = ""
                        try:
                            await wait_until(answered, 60 + tappers, "every answer", interval=0.2)
                        except TimeoutError as error:
                            timed_out = str(error)
                        async with services.database.read() as session:
                            request = await session.get(HelpRequest, request_id)
                            holding = (
                                await session.execute(
                                    select(func.count())
                                    .select_from(Claim)
                                    .where(
                                        Claim.request_id == request_id,
                                        Claim.status.in_(HOLDING_PLACE),
                                    )
                                )
                            ).scalar_one()
                        assert request is not None
                finally:
                    await child.stop()
    finally:
        await server.stop()
    latencies = [t.answered_at - t.tapped_at for t in taps if t.answered_at is not None]
    winners = sum(1 for t in taps if t.answer.startswith("It's yours"))
    last = max(t.answered_at for t in taps if t.answered_at is not None) - taps[0].tapped_at
    return (
        backend,
        len(taps),
        len(latencies),
        f"{winners} / {holding} / {request.places_taken}",
        ms(percentile(latencies, 50)),
        ms(percentile(latencies, 99)),
        ms(max(latencies)),
        sum(1 for x in latencies if x > TOO_OLD_SECONDS),
        len(taps) / last,
        f"{ms(queued_in):.0f} ms; {load.note()}" + (f"; {timed_out}" if timed_out else ""),
    )


async def run(args: argparse.Namespace) -> list[Table]:
    """Benchmark 3 on each backend."""
    table = Table(
        f"3. {args.tappers} simultaneous taps on a {args.places}-place request",
        [
            "backend",
            "taps",
            "answers",
            "winners: answers / claims / places_taken",
            "p50 ms",
            "p99 ms",
            "max ms",
            f"answers > {TOO_OLD_SECONDS:.0f} s",
            "taps answered/s",
            "taps queued within; load",
        ],
    )
    for backend in await backends(args.backend, args.postgres_url):
        table.add(*await _one(backend, args.tappers, args.places, args.postgres_url))
    table.notes.append(
        "latency = the fake receiving answerCallbackQuery − the tap being queued in the fake"
    )
    table.notes.append(machine_line())
    return [table]
