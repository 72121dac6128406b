"""Benchmark 5a: plain command throughput, Brigade's /help against a bare PTB echo bot.

Each bot runs in its own process, polling the same kind of fake Bot API server (limits off: the
bot's own pace is measured, not the fake's). 200 people first send /help once (Brigade then knows
them: the measured round is not sign-up work); then 1,000 /help messages from them are queued at
once, and the time from queuing to the last answer reaching the fake gives the rate.
Rows: the bare echo bot, the echo bot with PTB's AIORateLimiter (which Brigade's application
has: 30 calls/s overall), and Brigade.
"""

from __future__ import annotations

import argparse
import sys
import time

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


async def _measure(kind: str, messages: int, people: int) -> tuple[float, float, float, str]:
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
                child = brigade_child(server.base_url, url, folder)
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
            "load",
        ],
    )
    baseline = None
    for kind in ("bare echo bot", "echo + AIORateLimiter", "brigade"):
        rate, last, cpu, load = await _measure(kind, args.messages, args.people)
        baseline = baseline or rate
        table.add(kind, rate, rate / baseline, last, ms(cpu / args.messages), load)
    table.notes.append(machine_line())
    return [table]
