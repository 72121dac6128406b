"""Benchmark 3: 500 simultaneous taps on a 2-place request, on SQLite and on PostgreSQL.

500 plumbers receive the offer of a request needing two volunteers; once every offer is out, all
500 tap "I'll do it" at the same moment (every callback query is queued before the bot's next
long poll returns). Counted: answers (must be 500), winners (must be exactly 2, in the answers
and in the database), and the tap → answer latency (median, p99, max). Telegram drops answers
that come later than roughly 10–15 s ("query is too old"): the table says how many would.

The floor: right before each backend's run, a bare PTB bot (`bench/echo_bot.py`, no database,
16 updates at once as Brigade's update processor) sends the same 500 people an offer with the
same button, and they all tap it at once on the same fake; every figure of Brigade's row is also
given as a ratio to the floor's, measured minutes apart on the same machine.
`--profile DIR` profiles Brigade (cProfile) during the taps only: `DIR/taps-BACKEND.prof`.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select

from bench.broadcast import REFERENT_BASE_ID, Tap, draft, record_answers, tap
from bench.common import (
    CENTRE,
    DEFAULT_POSTGRES_URL,
    CallScanner,
    ChildBot,
    LoadWatch,
    Table,
    VolunteerRow,
    backends,
    brigade_child,
    child_env,
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
FLOOR_CONCURRENCY = 16  # bot.updates.DEFAULT_CONCURRENCY


@dataclass
class Crowd:
    """What the taps of one run measured."""

    taps: int
    latencies: list[float]
    answered_per_s: float

    @property
    def p50(self) -> float:
        return percentile(self.latencies, 50)

    @property
    def p99(self) -> float:
        return percentile(self.latencies, 99)

    @classmethod
    def of(cls, taps: list[Tap]) -> Crowd:
        latencies = [t.answered_at - t.tapped_at for t in taps if t.answered_at is not None]
        last = max(t.answered_at for t in taps if t.answered_at is not None) - taps[0].tapped_at
        return cls(len(taps), latencies, len(taps) / last)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the simultaneous-taps benchmark."""
    parser.add_argument("--tappers", type=int, default=500, help="volunteers tapping (500)")
    parser.add_argument("--places", type=int, default=2, help="places of the request (2)")
    parser.add_argument(
        "--backend", choices=["sqlite", "postgres", "both"], default="both", help="(both)"
    )
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL)
    parser.add_argument("--profile", type=Path, help="profile Brigade during the taps, into DIR")


async def _floor(tappers: int) -> tuple[Crowd, str]:
    """The same crowd tapping a bare PTB bot's button: the floor."""
    load = LoadWatch()
    world = FakeTelegram(token=TEST_TOKEN)
    server = FakeBotApiServer(world)
    await server.start()
    try:
        with scratch("taps-floor") as folder:
            argv = [sys.executable, "-m", "bench.echo_bot", "--token", TEST_TOKEN]
            argv += ["--base-url", server.base_url.removesuffix("/bot")]
            argv += ["--concurrent", str(FLOOR_CONCURRENCY)]
            child = ChildBot("floor", argv, child_env({}), folder)
            await child.start(world)
            try:
                people = [
                    world.add_user(f"Plumber {i}", user_id=PLUMBER_BASE_ID + i, language_code="en")
                    for i in range(tappers)
                ]
                for person in people:
                    person.send_command("offer")
                await wait_until(
                    lambda: all(person.inbox for person in people),
                    60 + tappers / 10,
                    "every offer",
                    interval=0.1,
                )
                await asyncio.sleep(1)
                world.faults.enable_limits()
                rng = random.Random(3)
                rng.shuffle(people)
                taps = []
                for person in people:
                    tapped_at = time.monotonic()
                    update = person.tap_data(person.inbox[-1], "cl:1")
                    taps.append(Tap(str(update["callback_query"]["id"]), 1, tapped_at, True))

                def answered() -> bool:
                    record_answers(world, taps)
                    return all(t.answered_at is not None for t in taps)

                await wait_until(answered, 60 + tappers, "every answer", interval=0.2)
            finally:
                await child.stop()
    finally:
        await server.stop()
    return Crowd.of(taps), load.note()


async def _one(
    backend: str, tappers: int, places: int, postgres_url: str, profile: Path | None
) -> tuple[tuple[object, ...], tuple[object, ...]]:
    """Brigade's run on one backend, then the floor's: their two rows."""
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
                if profile is not None:
                    profile = profile / f"taps-{backend}.prof"
                child = brigade_child(server.base_url, url, folder, profile=profile, wave_size=500)
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
                        if profile is not None:
                            child.profile(True)
                            await asyncio.sleep(0.5)
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
                        if profile is not None:
                            child.profile(False)
                            await asyncio.sleep(2)
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
    crowd = Crowd.of(taps)
    winners = sum(1 for t in taps if t.answer.startswith("It's yours"))
    floor, floor_load = await _floor(tappers)
    return (
        (
            f"bare PTB floor ({backend} run)",
            floor.taps,
            len(floor.latencies),
            "—",
            ms(floor.p50),
            ms(floor.p99),
            ms(max(floor.latencies)),
            "1.00 / 1.00",
            floor.answered_per_s,
            sum(1 for x in floor.latencies if x > TOO_OLD_SECONDS),
            floor_load,
        ),
        (
            backend,
            crowd.taps,
            len(crowd.latencies),
            f"{winners} / {holding} / {request.places_taken}",
            ms(crowd.p50),
            ms(crowd.p99),
            ms(max(crowd.latencies)),
            f"{crowd.p50 / floor.p50:.2f} / {crowd.p99 / floor.p99:.2f}",
            crowd.answered_per_s,
            sum(1 for x in crowd.latencies if x > TOO_OLD_SECONDS),
            f"{ms(queued_in):.0f} ms; {load.note()}" + (f"; {timed_out}" if timed_out else ""),
        ),
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
            "p50 / p99 ÷ floor",
            "taps answered/s",
            f"answers > {TOO_OLD_SECONDS:.0f} s",
            "taps queued within; load",
        ],
    )
    for backend in await backends(args.backend, args.postgres_url):
        for row in await _one(backend, args.tappers, args.places, args.postgres_url, args.profile):
            table.add(*row)
    table.notes.append(
        "latency = the fake receiving answerCallbackQuery − the tap being queued in the fake"
    )
    table.notes.append(
        f"floor = a bare PTB bot answering the same taps ({FLOOR_CONCURRENCY} updates at once, "
        "no database), run right after Brigade's on the same fake"
    )
    table.notes.append(machine_line())
    return [table]
