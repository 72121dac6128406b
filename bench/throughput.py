"""Benchmark 5a: plain command throughput, Brigade's /help against a bare PTB echo bot.

Each bot runs in its own process, polling the same kind of fake Bot API server (limits off: the
bot's own pace is measured, not the fake's). 200 people first send /help once (Brigade then knows
them: the measured round is not sign-up work); then 1,000 /help messages from them are queued at
once, and the time from queuing to the last answer reaching the fake gives the rate.
Rows: the bare echo bot handling one update at a time (PTB's default, the first floor) and
handling 16 at once (as Brigade's update processor, and as `bench taps`'s floor); the echo bot
with PTB's AIORateLimiter (30 calls/s overall, as Brigade's shared budget), 16 at once; Brigade
as deployed (paced at ~30 messages/s); Brigade with its pacing lifted (bench.profiled,
BENCH_UNPACED). Each CPU figure is given as a ratio to the first floor, and to the echo bot run
alike (16 at once, paced or not as the row): paced, a bot answers 1,000 queued messages over
~34 s, each update handled alone as its turn to send comes, so what it pays per update (a
database transaction, the event loop's wake-ups) is not shared with the updates around it as in
a burst; handling 16 at once costs the echo bot itself more per update than one at a time.
`--profile DIR` profiles Brigade (cProfile) during the measured round only: `DIR/help.prof`
(paced) and `DIR/help-unpaced.prof`.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

from bench.common import (
    CallScanner,
    ChildBot,
    LoadWatch,
    Table,
    brigade_child,
    child_env,
    machine_line,
    migrated,
    ms,
    scratch,
    wait_until,
)
from bot.updates import DEFAULT_CONCURRENCY
from testkit.harness import TEST_TOKEN
from testkit.telegram import FakeBotApiServer, FakeTelegram

PEOPLE_BASE_ID = 900_000_000
BARE_ECHO = "bare echo bot, 1 at a time"
# The echo rows "at once" handle as many updates at once as Brigade does.
CONCURRENT_ECHO = f"bare echo bot, {DEFAULT_CONCURRENCY} at once"
PACED_ECHO = f"echo + AIORateLimiter, {DEFAULT_CONCURRENCY} at once"
BRIGADE = "brigade"
UNPACED_BRIGADE = "brigade, pacing lifted"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the throughput benchmark."""
    parser.add_argument("--messages", type=int, default=1000, help="/help messages timed (1000)")
    parser.add_argument("--people", type=int, default=200, help="who send them (200)")
    parser.add_argument("--profile", type=Path, help="profile Brigade's measured round, into DIR")


async def _measure(
    kind: str, messages: int, people: int, profile: Path | None = None
) -> tuple[float, float, float, str]:
    """Rate (answers/s), seconds to the last answer, CPU s used, and the load note."""
    load = LoadWatch()
    world = FakeTelegram(token=TEST_TOKEN)
    server = FakeBotApiServer(world)
    await server.start()
    try:
        with scratch("throughput") as folder:
            if kind.startswith("brigade"):
                url = f"sqlite+aiosqlite:///{folder / 'brigade.sqlite3'}"
                await (await migrated(url)).dispose()
                unpaced = kind == UNPACED_BRIGADE
                if profile is not None:
                    profile = profile / ("help-unpaced.prof" if unpaced else "help.prof")
                child = brigade_child(
                    server.base_url, url, folder, profile=profile, unpaced=unpaced
                )
            else:
                argv = [
                    sys.executable,
                    "-m",
                    "bench.echo_bot",
                    "--token",
                    TEST_TOKEN,
                    "--base-url",
                    server.base_url.removesuffix("/bot"),
                ]
                if kind == PACED_ECHO:
                    argv.append("--rate-limiter")
                if kind != BARE_ECHO:
                    argv += ["--concurrent", str(DEFAULT_CONCURRENCY)]
                child = ChildBot("echo", argv, child_env({}), folder)
            await child.start(world)
            try:
                crowd = [
                    world.add_user(f"Person {i}", user_id=PEOPLE_BASE_ID + i, language_code="en")
                    for i in range(people)
                ]
                replies = CallScanner(world)
                answered = 0

                def count(target: int) -> bool:
                    nonlocal answered
                    answered += sum(1 for c in replies.new() if c.method == "sendMessage" and c.ok)
                    return answered >= target

                for person in crowd:
                    person.send_command("help")
                await wait_until(lambda: count(people), 120, "the warm-up answers")
                scanner = CallScanner(world)
                if profile is not None:
                    child.profile(True)
                    await asyncio.sleep(0.5)
                cpu = child.cpu_seconds()
                started = time.monotonic()
                for index in range(messages):
                    crowd[index % people].send_command("help")
                done: list[float] = []

                def finished() -> bool:
                    done.extend(
                        c.started_at for c in scanner.new() if c.method == "sendMessage" and c.ok
                    )
                    return len(done) >= messages

                await wait_until(finished, 60 + messages / 5, f"{messages} answers", interval=0.05)
                cpu = child.cpu_seconds() - cpu
                if profile is not None:
                    child.profile(False)
                    await asyncio.sleep(2)
            finally:
                await child.stop()
    finally:
        await server.stop()
    last = max(done) - started
    return messages / last, last, cpu, load.note()


async def run(args: argparse.Namespace) -> list[Table]:
    """Benchmark 5a."""
    table = Table(
        f"5a. Command throughput: {args.messages} × /help queued at once",
        [
            "bot",
            "answers/s",
            "÷ bare echo bot",
            "last answer after s",
            "bot CPU ms per update",
            "CPU ÷ bare echo bot",
            "CPU ÷ echo bot run alike",
            "load",
        ],
    )
    # Each row's floor run as it is: Brigade as deployed is compared with the echo bot behind
    # PTB's rate limiter, Brigade unpaced with the bare echo bot; both 16 at once, as Brigade.
    floor_of = {
        BARE_ECHO: BARE_ECHO,
        CONCURRENT_ECHO: CONCURRENT_ECHO,
        PACED_ECHO: PACED_ECHO,
        BRIGADE: PACED_ECHO,
        UNPACED_BRIGADE: CONCURRENT_ECHO,
    }
    cpu_of: dict[str, float] = {}
    rate_of: dict[str, float] = {}
    for kind in floor_of:
        profile = args.profile if kind.startswith("brigade") else None
        rate, last, cpu, load = await _measure(kind, args.messages, args.people, profile)
        cpu_of[kind], rate_of[kind] = cpu, rate
        table.add(
            kind,
            rate,
            rate / rate_of[BARE_ECHO],
            last,
            ms(cpu / args.messages),
            cpu / cpu_of[BARE_ECHO],
            cpu / cpu_of[floor_of[kind]],
            load,
        )
    table.notes.append(machine_line())
    return [table]
