"""Benchmark 5a: plain command throughput, Brigade's /help against a bare PTB echo bot.

Each bot runs in its own process, polling the same kind of fake Bot API server (limits off: the
bot's own pace is measured, not the fake's). 200 people first send /help once (Brigade then knows
them: the measured round is not sign-up work); then 1,000 /help messages from them are queued at
once, and the time from queuing to the last answer reaching the fake gives the rate.
Rows: the bare echo bot, the echo bot with PTB's AIORateLimiter (30 calls/s overall, as
Brigade's shared budget), and Brigade; each figure also as a ratio to the bare echo bot's in the
same run. `--profile DIR` profiles Brigade (cProfile) during the measured round only:
`DIR/help.prof`.
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
from testkit.harness import TEST_TOKEN
from testkit.telegram import FakeBotApiServer, FakeTelegram

PEOPLE_BASE_ID = 900_000_000


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
            if kind == "brigade":
                url = f"sqlite+aiosqlite:///{folder / 'brigade.sqlite3'}"
                await (await migrated(url)).dispose()
                if profile is not None:
                    profile = profile / "help.prof"
                child = brigade_child(server.base_url, url, folder, profile=profile)
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
                if kind == "echo + AIORateLimiter":
                    argv.append("--rate-limiter")
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
            "load",
        ],
    )
    baseline: tuple[float, float] | None = None
    for kind in ("bare echo bot", "echo + AIORateLimiter", "brigade"):
        profile = args.profile if kind == "brigade" else None
        rate, last, cpu, load = await _measure(kind, args.messages, args.people, profile)
        baseline = baseline or (rate, cpu)
        table.add(
            kind, rate, rate / baseline[0], last, ms(cpu / args.messages), cpu / baseline[1], load
        )
    table.notes.append(machine_line())
    return [table]
