"""Benchmark 5b: resident memory of the Brigade process with 100,000 volunteers in its database.

A SQLite file is seeded as for benchmark 4 (100,000 volunteers over the region, a week of
history); `python -m bot` starts on it against the fake Bot API. Its VmRSS is read from
/proc/PID/status once it polls, then after matching ran in it: requests are posted at random
places (first wave of 10: matching in this process), and their referent taps "Offer again to
everyone" and "Widen" on each (forged taps with the real callback data: `find_candidates` runs in
the bot, over every volunteer in reach, and offers go to the outbox). Goal: ≤ 200 MB.
VmHWM is the peak resident size the process reached.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time

from bench.broadcast import REFERENT_BASE_ID, draft
from bench.common import (
    LoadWatch,
    Table,
    brigade_child,
    insert_referent,
    machine_line,
    migrated,
    parent_services,
    random_skill,
    region_point,
    scratch,
    skill_ids,
    wait_until,
)
from bench.matching import seed_region
from testkit.harness import TEST_TOKEN
from testkit.telegram import FakeBotApiServer, FakeTelegram

GOAL_MB = 200


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the memory benchmark."""
    parser.add_argument("--volunteers", type=int, default=100_000, help="(100000)")
    parser.add_argument("--requests", type=int, default=6, help="requests resent and widened (6)")


def _mb(kb: int) -> float:
    return kb / 1024


async def run(args: argparse.Namespace) -> list[Table]:
    """Benchmark 5b."""
    load = LoadWatch()
    rng = random.Random(21)
    world = FakeTelegram(token=TEST_TOKEN)
    server = FakeBotApiServer(world)
    await server.start()
    samples: list[tuple[str, dict[str, int]]] = []
    matching_s = 0.0
    try:
        with scratch("memory") as folder:
            url = f"sqlite+aiosqlite:///{folder / 'brigade.sqlite3'}"
            database = await migrated(url)
            await seed_region(database, args.volunteers)
            referent = world.add_user("Rita", user_id=REFERENT_BASE_ID, language_code="en")
            await insert_referent(database, referent.id, "Rita")
            skills = await skill_ids(database)
            await database.dispose()
            child = brigade_child(server.base_url, url, folder)
            await child.start(world)
            try:
                await asyncio.sleep(2)
                samples.append(("polling, before any update", child.memory_kb()))
                referent.send_command("start")
                await referent.expect_message(timeout=30)
                async with parent_services(url) as services:
                    request_ids = []
                    for _ in range(args.requests):
                        latitude, longitude = region_point(rng)
                        posted = await services.requests.post(
                            referent.id, draft(skills[random_skill(rng)], latitude, longitude)
                        )
                        assert posted is not None
                        request_ids.append(posted.request_id)
                anchor = referent.last_message
                started = time.monotonic()
                for request_id in request_ids:
                    for verb in ("resend", "widen"):
                        referent.tap_data(anchor, f"ra:{verb}:{request_id}")
                wanted = 2 * len(request_ids)
                await wait_until(
                    lambda: len(referent.callback_answers) >= wanted,
                    600,
                    "the referent's taps answered",
                    interval=0.1,
                )
                matching_s = time.monotonic() - started
                answers = {answer.text for answer in referent.callback_answers}
                samples.append(("after matching (resend + widen)", child.memory_kb()))
                await asyncio.sleep(5)
                samples.append(("5 s later, outbox sending", child.memory_kb()))
            finally:
                await child.stop()
    finally:
        await server.stop()
    table = Table(
        f"5b. Resident memory of `python -m bot` with {args.volunteers:,} volunteers (SQLite; "
        f"goal ≤ {GOAL_MB} MB)",
        ["moment", "VmRSS MB", "VmHWM (peak) MB", f"≤ {GOAL_MB} MB"],
    )
    for label, values in samples:
        rss, peak = _mb(values["VmRSS"]), _mb(values["VmHWM"])
        table.add(label, rss, peak, peak <= GOAL_MB)
    table.notes.append(
        f"{args.requests} requests, each resent and widened by its referent: "
        f"{2 * args.requests} matchings over the whole region in {matching_s:.1f} s; "
        f"answers: {sorted(a or '' for a in answers)}"
    )
    table.notes.append(load.note())
    table.notes.append(machine_line())
    return [table]
