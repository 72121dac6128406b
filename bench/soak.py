"""Benchmark 6: soak — the real bot under a steady mixed load for N minutes; memory, latency, rows.

`python -m bot` (through `bench.soak_child`, which can add tracemalloc) runs on SQLite against
the fake Bot API with Telegram-like limits, on a seeded town (`--volunteers` approved and
pending volunteers over the region, 10 referents). Meanwhile, from this process:

- `--crowd` people who are not volunteers send /start, /help, /profile or /mydata, about
  `--commands-per-second` in all (one command at a time per person);
- a referent posts a request every `--request-every` seconds (1 place, a random skill and place);
- a volunteer who received an offer taps "I'll do it" (9 requests in 10), a claimer taps
  "Done" (7 in 10) and leaves the visit report unanswered, the referent taps "Confirmed"
  (8 in 10);
- about once a minute a newcomer sends /start, taps "Become a volunteer" and goes no further.

Every minute one line: RSS, CPU, command and tap latency percentiles (measured in the fake:
from the update being queued to the bot's answer arriving), outbox backlog and send lag, the
database file size and each table's rows. At the end: the RSS slope after the warm-up (least
squares over the samples every 10 s), latency drift from the first to the last quarter, rows per
hour per table, and what was lost (commands or taps unanswered after 30 s, offers never sent,
bot API errors other than 429, the bot's warnings). `--lifetimes short` shortens every lifetime
docs/deployment.md lists (outbox rows, offers of finished requests, drafts, idle members, audit
events, handled update ids, beneficiaries' details: 3 or 10 minutes, not days or months) and the
request lifecycle (a silent claimer is released and the request expires within minutes), so
that pruning shows within the run: the rows table gives each table's growth over the second
half, which is about nil for a table whose lifetime is shorter than half the run.
`--tracemalloc FRAMES` snapshots the bot's allocations every `--snapshot-every` minutes and
prints the sites that grew most between the first snapshot after the warm-up and the last
(tracing slows the bot: compare latencies only between runs without).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import heapq
import json
import os
import random
import re
import signal
import sys
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

from bench.broadcast import REFERENT_BASE_ID, draft
from bench.common import (
    CallScanner,
    ChildBot,
    LoadWatch,
    Table,
    brigade_child,
    insert_referent,
    insert_volunteers,
    machine_line,
    migrated,
    ms,
    parent_services,
    percentile,
    random_skill,
    region_point,
    regional_volunteers,
    scratch,
    skill_ids,
    wait_until,
)
from bench.pauses import GcPauses, LoopStalls
from storage.clock import system_clock
from storage.database import Database
from storage.models import Base, OutboxMessage, OutboxStatus
from testkit.harness import TEST_TOKEN
from testkit.telegram import SEND_METHODS, CallRecord, FakeBotApiServer, FakeTelegram

CROWD_BASE_ID = 910_000_000
NEWCOMER_BASE_ID = 920_000_000
COMMANDS = ("start", "help", "profile", "mydata")
ANSWER_TIMEOUT = 30.0
SAMPLE_SECONDS = 10.0
# Lifetimes short enough to be seen pruning within a run (`--lifetimes short`): every period
# docs/deployment.md lists, in minutes. The request lifecycle is shortened too, so that a
# request whose claimer goes silent is released and expires within the run (its offers are
# pruned once it has ended); one done but never confirmed waits for a coordinator (/stuck).
_MINUTE_IN_DAYS = 1 / (24 * 60)
SHORT_LIFETIMES = {
    "outbox_keep_days": 3 * _MINUTE_IN_DAYS,
    "offers_keep_days": 3 * _MINUTE_IN_DAYS,
    "confirm_window_days": 5 * _MINUTE_IN_DAYS,
    "draft_ttl_hours": 3 / 60,
    "retention_days": 10 * _MINUTE_IN_DAYS,
    "audit_retention_months": 10 * _MINUTE_IN_DAYS / (365.2425 / 12),
    "processed_updates_keep_hours": 10 / 60,
    "asap_expiry_hours": 10 / 60,
    "ask_done_after_minutes": 3,
    "asap_ask_done_after_minutes": 5,
    "nudge_after_hours": 3 / 60,
    "auto_release_after_hours": 8 / 60,
    "details_removal_hours": 5 / 60,
    "timer_interval_seconds": 10,
}
_OFFER = re.compile(r'"cl:(\d+)"')
_DONE = re.compile(r'"cs:done:(\d+)"')
_CONFIRM = re.compile(r'"rs:confirm:(\d+)"')
_JOIN = '"join"'


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the soak benchmark."""
    parser.add_argument("--minutes", type=float, default=15.0, help="length of the load (15)")
    parser.add_argument("--warmup", type=float, default=5.0, help="minutes not fitted (5)")
    parser.add_argument("--volunteers", type=int, default=5000, help="seeded volunteers (5000)")
    parser.add_argument("--crowd", type=int, default=300, help="people sending commands (300)")
    parser.add_argument("--commands-per-second", type=float, default=1.0, help="(1)")
    parser.add_argument("--request-every", type=float, default=10.0, help="seconds (10)")
    parser.add_argument(
        "--lifetimes", choices=["short", "default"], default="short", help="(short)"
    )
    parser.add_argument(
        "--setting",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a bot setting, e.g. malloc_trim=false (BRIGADE_MALLOC_TRIM); repeatable",
    )
    parser.add_argument("--tracemalloc", type=int, default=0, help="frames traced (0: off)")
    parser.add_argument("--snapshot-every", type=float, default=3.0, help="minutes (3)")
    parser.add_argument("--top", type=int, default=12, help="growth sites listed (12)")
    parser.add_argument(
        "--quick", action="store_true", help="1 minute, a small town: does it still run?"
    )


def quick(args: argparse.Namespace) -> argparse.Namespace:
    """The options of `--quick`."""
    args.minutes, args.warmup = min(args.minutes, 1.0), 0.25
    args.volunteers, args.crowd, args.request_every = 500, 40, 5.0
    return args


@dataclass
class Sample:
    """One reading of the bot process."""

    at: float
    rss_mb: float
    cpu_s: float
    anon_mb: float = 0.0  # heaps and arenas
    file_mb: float = 0.0  # code and libraries paged in


@dataclass
class Minute:
    """One minute's line."""

    index: int
    rss_mb: float
    cpu_percent: float
    commands: list[float]
    taps: list[float]
    outbox_pending: int
    send_lag_max_s: float
    database_mb: float
    rows: dict[str, int]
    # The harness's own pauses this minute (bench/pauses.py): its event loop's latest wake-up,
    # and its longest garbage collection, in seconds.
    harness_stall_s: float = 0.0
    harness_gc_s: float = 0.0


@dataclass
class SoakResult:
    """Everything one soak run measured."""

    minutes: float
    samples: list[Sample] = field(default_factory=list)
    lines: list[Minute] = field(default_factory=list)
    commands: list[tuple[float, float]] = field(default_factory=list)  # (sent at, latency)
    taps: list[tuple[float, float, str]] = field(default_factory=list)  # (at, latency, kind)
    activity: Counter[str] = field(default_factory=Counter)
    lost: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    warnings: list[str] = field(default_factory=list)
    rows_start: dict[str, int] = field(default_factory=dict)
    rows_end: dict[str, int] = field(default_factory=dict)
    growth: list[str] = field(default_factory=list)
    started: float = 0.0
    load: str = ""
    harness_gc: GcPauses = field(default_factory=GcPauses)
    harness_stalls: LoopStalls = field(default_factory=LoopStalls)
    bot_gc: dict[str, dict[str, float]] = field(default_factory=dict)


class Load:
    """The simulated town: sends, taps, and matches the bot's answers to them."""

    def __init__(self, world: FakeTelegram, result: SoakResult, rng: random.Random) -> None:
        self.world = world
        self.result = result
        self.rng = rng
        self.scanner = CallScanner(world, from_now=False)
        self.commands: dict[int, float] = {}  # chat id → when its command was queued
        self.taps: dict[str, tuple[float, str]] = {}  # callback query id → (when, kind)
        self.due: list[tuple[float, int, Callable[[], None]]] = []
        self._order = 0
        self.claimed: set[int] = set()
        self.seen: set[tuple[str, int]] = set()

    def later(self, seconds: float, action: Callable[[], None]) -> None:
        """Do `action` in `seconds`."""
        self._order += 1
        heapq.heappush(self.due, (time.monotonic() + seconds, self._order, action))

    def command(self, person: int, name: str) -> None:
        """Send a command (one at a time per person)."""
        self.world.users[person].send_command(name)
        self.commands[person] = time.monotonic()
        self.result.activity[f"/{name}"] += 1

    def tap(self, person: int, data: str, kind: str) -> None:
        """Tap a button with this data on the person's message that shows (or showed) it."""
        user = self.world.users[person]
        for message in reversed(user.inbox):
            markups = [message.reply_markup, *(v.reply_markup for v in message.history)]
            if any(data in str(markup) for markup in markups if markup):
                tapped = time.monotonic()
                update = user.tap_data(message, data)
                self.taps[str(update["callback_query"]["id"])] = (tapped, kind)
                self.result.activity[kind] += 1
                return
        self.result.lost[f"{kind}: button not found"] += 1

    def step(self) -> None:
        """Run what is due, then read the bot's new calls."""
        now = time.monotonic()
        while self.due and self.due[0][0] <= now:
            heapq.heappop(self.due)[2]()
        for call in self.scanner.new():
            self._read(call)
        for person, sent in list(self.commands.items()):
            if now - sent > ANSWER_TIMEOUT:
                del self.commands[person]
                self.result.lost["command unanswered"] += 1
        for query, (tapped, kind) in list(self.taps.items()):
            if now - tapped > ANSWER_TIMEOUT:
                del self.taps[query]
                self.result.lost[f"{kind} unanswered"] += 1

    def _read(self, call: CallRecord) -> None:
        if call.status == 429:
            self.result.errors["429 (waited out)"] += 1
        elif not call.ok and call.method != "getUpdates":
            self.result.errors[f"{call.method}: {call.description}"] += 1
            return
        if call.method == "answerCallbackQuery":
            tapped = self.taps.pop(str(call.params.get("callback_query_id")), None)
            if tapped is not None:
                self.result.taps.append((tapped[0], call.started_at - tapped[0], tapped[1]))
            return
        if call.method not in SEND_METHODS or not call.ok:
            return
        chat = call.chat_id
        if not isinstance(chat, int):
            return
        sent = self.commands.pop(chat, None)
        if sent is not None and call.started_at >= sent:
            self.result.commands.append((sent, call.started_at - sent))
        markup = str(call.params.get("reply_markup", ""))
        if not markup:
            return
        self._react(chat, markup)

    def _react(self, chat: int, markup: str) -> None:
        rng = self.rng
        if (found := _OFFER.search(markup)) is not None:
            request = int(found.group(1))
            if request not in self.claimed and rng.random() < 0.9:
                self.claimed.add(request)
                data = f"cl:{request}"
                self.later(rng.uniform(3, 20), lambda: self.tap(chat, data, "claim"))
        for pattern, kind, share, delay in (
            (_DONE, "done", 0.7, (5, 30)),
            (_CONFIRM, "confirm", 0.8, (5, 20)),
        ):
            if (found := pattern.search(markup)) is not None:
                claim = int(found.group(1))
                if (kind, claim) not in self.seen:
                    self.seen.add((kind, claim))
                    if rng.random() < share:
                        data = f"{'cs:done' if kind == 'done' else 'rs:confirm'}:{claim}"
                        self.later(
                            rng.uniform(*delay),
                            lambda d=data, k=kind: self.tap(chat, d, k),  # type: ignore[misc]
                        )
        if _JOIN in markup and chat >= NEWCOMER_BASE_ID and ("join", chat) not in self.seen:
            self.seen.add(("join", chat))
            self.later(rng.uniform(2, 8), lambda: self.tap(chat, "join", "sign-up abandoned"))


def _rss_cpu(child: ChildBot) -> Sample:
    memory = child.memory_kb()
    return Sample(
        time.monotonic(),
        memory["VmRSS"] / 1024,
        child.cpu_seconds(),
        memory.get("RssAnon", 0) / 1024,
        memory.get("RssFile", 0) / 1024,
    )


async def _table_rows(database: Database) -> dict[str, int]:
    rows = {}
    async with database.read() as session:
        for table in Base.metadata.sorted_tables:
            count = select(func.count()).select_from(table)
            rows[table.name] = int((await session.execute(count)).scalar_one())
    return rows


async def _outbox(database: Database) -> tuple[int, float]:
    """Rows waiting to be sent, and the longest wait of a row sent in the last minute."""
    since = system_clock() - timedelta(minutes=1)
    async with database.read() as session:
        pending = (
            await session.execute(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.status == OutboxStatus.PENDING)
            )
        ).scalar_one()
        sent = await session.execute(
            select(OutboxMessage.created_at, OutboxMessage.sent_at).where(
                OutboxMessage.sent_at >= since
            )
        )
        lags = [(done - made).total_seconds() for made, done in sent if done is not None]
    return int(pending), max(lags, default=0.0)


def _database_mb(path: Path) -> float:
    files = [path, path.with_name(path.name + "-wal")]
    return sum(f.stat().st_size for f in files if f.exists()) / 2**20


def _fit(points: list[tuple[float, float]]) -> tuple[float, float]:
    """Least-squares slope (y per x) and R² of the points."""
    if len(points) < 3:
        return float("nan"), float("nan")
    n = len(points)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    sxx = sum((x - mean_x) ** 2 for x, _ in points)
    sxy = sum((x - mean_x) * (y - mean_y) for x, y in points)
    syy = sum((y - mean_y) ** 2 for _, y in points)
    if sxx == 0:
        return float("nan"), float("nan")
    slope = sxy / sxx
    r2 = (sxy * sxy) / (sxx * syy) if syy else 1.0
    return slope, r2


async def soak(args: argparse.Namespace) -> SoakResult:
    """Seed, start the bot, play the load for `args.minutes`, measure, stop."""
    result = SoakResult(minutes=args.minutes)
    load_watch = LoadWatch()
    rng = random.Random(20)
    world = FakeTelegram(token=TEST_TOKEN)
    server = FakeBotApiServer(world)
    await server.start()
    try:
        with scratch("soak") as folder:
            await _play(world, server, folder, args, rng, result)
    finally:
        await server.stop()
    result.load = load_watch.note()
    return result


async def _play(
    world: FakeTelegram,
    server: FakeBotApiServer,
    folder: Path,
    args: argparse.Namespace,
    rng: random.Random,
    result: SoakResult,
) -> None:
    path = folder / "brigade.sqlite3"
    url = f"sqlite+aiosqlite:///{path}"
    database = await migrated(url)
    volunteers = regional_volunteers(args.volunteers, seed=3)
    await insert_volunteers(database, volunteers)
    for row in volunteers:
        world.add_user(row.name, user_id=row.telegram_id, language_code=row.language)
    referents = [REFERENT_BASE_ID + i for i in range(10)]
    for index, telegram_id in enumerate(referents):
        await insert_referent(database, telegram_id, f"Referent {index}")
        world.add_user(f"Referent {index}", user_id=telegram_id, language_code="fr")
    crowd = [CROWD_BASE_ID + i for i in range(args.crowd)]
    for person in crowd:
        world.add_user(f"Neighbour {person - CROWD_BASE_ID}", user_id=person, language_code="fr")
    skills = await skill_ids(database)
    settings: dict[str, object] = dict(SHORT_LIFETIMES) if args.lifetimes == "short" else {}
    settings |= dict(setting.split("=", 1) for setting in args.setting)
    world.faults.enable_limits()
    child = brigade_child(server.base_url, url, folder, **settings)
    child.argv = [sys.executable, "-m", "bench.soak_child"]
    snapshots = folder / "snapshots"
    snapshots.mkdir()
    child.env["BENCH_SNAPSHOT_DIR"] = str(snapshots)
    if args.tracemalloc:
        child.env["BENCH_TRACEMALLOC_FRAMES"] = str(args.tracemalloc)
    await child.start(world)
    load = Load(world, result, rng)
    taken: list[tuple[float, Path]] = []
    # The seeded town lives as long as the run: out of the harness's full collections, which
    # would otherwise walk it and pause the timing of the bot's answers (bench/pauses.py).
    gc.collect()
    gc.freeze()
    result.harness_gc.install()
    stalls = asyncio.create_task(result.harness_stalls.run())
    try:
        async with parent_services(url, **settings) as services:
            result.rows_start = await _table_rows(database)
            result.started = time.monotonic()
            end = result.started + args.minutes * 60
            next_command = next_request = next_newcomer = result.started
            next_sample, next_minute = result.started, result.started + 60
            next_snapshot = result.started + min(args.warmup, args.minutes / 4) * 60
            newcomers = 0
            while time.monotonic() < end:
                now = time.monotonic()
                if now >= next_command:
                    idle = [p for p in rng.sample(crowd, min(5, len(crowd)))]
                    idle = [p for p in idle if p not in load.commands]
                    if idle:
                        load.command(idle[0], rng.choice(COMMANDS))
                    next_command += rng.expovariate(args.commands_per_second)
                if now >= next_request:
                    latitude, longitude = region_point(rng)
                    posted = await services.requests.post(
                        rng.choice(referents),
                        draft(skills[random_skill(rng)], latitude, longitude),
                    )
                    result.activity["request posted" if posted else "request refused"] += 1
                    next_request += args.request_every
                if now >= next_newcomer:
                    newcomers += 1
                    person = NEWCOMER_BASE_ID + newcomers
                    world.add_user(f"Newcomer {newcomers}", user_id=person, language_code="fr")
                    load.command(person, "start")
                    next_newcomer += 60.0
                if now >= next_sample:
                    result.samples.append(_rss_cpu(child))
                    next_sample += SAMPLE_SECONDS
                if now >= next_minute:
                    await _minute(load, result, database, path, child)
                    next_minute += 60.0
                if now >= next_snapshot:
                    child_snapshot(child)
                    taken.append((now, snapshots / f"snapshot-{len(taken) + 1}.tracemalloc"))
                    next_snapshot += args.snapshot_every * 60
                load.step()
                await asyncio.sleep(0.05)
            # Let the answers in flight arrive (the load stops here).
            drain = time.monotonic() + ANSWER_TIMEOUT
            while (load.commands or load.taps) and time.monotonic() < drain:
                load.step()
                await asyncio.sleep(0.1)
            load.step()
            await _minute(load, result, database, path, child)
            if taken:
                child_snapshot(child)
                taken.append(
                    (time.monotonic(), snapshots / f"snapshot-{len(taken) + 1}.tracemalloc")
                )
                await _wait_files([p.with_suffix(".done") for _, p in taken])
                seconds = taken[-1][0] - taken[0][0]
                result.growth = caches(taken[0][1], taken[-1][1], seconds)
                result.bot_gc = bot_collections([path for _, path in taken])
                if args.tracemalloc:
                    result.growth += growth(taken[0][1], taken[-1][1], args.top, seconds)
            result.rows_end = await _table_rows(database)
            async with database.read() as session:
                unsent = await session.execute(
                    select(func.count())
                    .select_from(OutboxMessage)
                    .where(OutboxMessage.status.in_([OutboxStatus.FAILED]))
                )
                result.lost["outbox rows given up"] += int(unsent.scalar_one())
    finally:
        stalls.cancel()
        result.harness_gc.uninstall()
        gc.unfreeze()
        await child.stop()
        await database.dispose()
        result.warnings = child.warnings()
        if result.warnings:
            print(f"the bot logged warnings; the end of its log:\n{child.log_tail(60)}")
    for key in [k for k, v in result.lost.items() if not v]:
        del result.lost[key]


def child_snapshot(child: ChildBot) -> None:
    """Ask the bot process for a tracemalloc snapshot (SIGUSR1, see bench.soak_child)."""
    os.kill(child.pid, signal.SIGUSR1)


async def _wait_files(paths: list[Path]) -> None:
    await wait_until(lambda: all(p.exists() for p in paths), 300, "the snapshots", interval=0.2)


def growth(first: Path, last: Path, top: int, seconds: float) -> list[str]:
    """The allocation sites that grew most between two snapshots, with their tracebacks."""
    filters = [
        tracemalloc.Filter(False, tracemalloc.__file__),
        tracemalloc.Filter(False, "<frozen importlib._bootstrap*>"),
        tracemalloc.Filter(False, "*/bench/soak_child.py"),
    ]
    before = tracemalloc.Snapshot.load(str(first)).filter_traces(filters)
    after = tracemalloc.Snapshot.load(str(last)).filter_traces(filters)
    lines = [
        "tracemalloc: traced memory "
        f"{sum(s.size for s in before.statistics('filename')) / 2**20:.1f} MB → "
        f"{sum(s.size for s in after.statistics('filename')) / 2**20:.1f} MB over "
        f"{seconds / 60:.1f} minutes"
    ]
    for stat in after.compare_to(before, "traceback")[:top]:
        frames = [f"{f.filename.split('site-packages/')[-1]}:{f.lineno}" for f in stat.traceback]
        lines.append(
            f"{stat.size_diff / 1024:+.1f} KiB ({stat.count_diff:+d} blocks) at "
            + " ← ".join(reversed(frames[-6:]))
        )
    return lines


def bot_collections(snapshots: list[Path]) -> dict[str, dict[str, float]]:
    """The bot's garbage collections between the first and the last snapshot: per generation,
    how many and the longest (bench.soak_child reports them with each snapshot)."""
    reports = [json.loads(p.with_suffix(".caches.json").read_text()) for p in snapshots]
    found: dict[str, dict[str, float]] = {}
    for generation in ("0", "1", "2"):
        counts = [r.get("gc", {}).get(generation, {}).get("count", 0) for r in reports]
        longest = [
            r.get("gc longest since the last report", {}).get(generation, 0.0) for r in reports
        ]
        found[generation] = {
            "count": counts[-1] - counts[0],
            "max ms": max(longest[1:], default=0.0),
        }
    return found


def caches(first: Path, last: Path, seconds: float) -> list[str]:
    """What tracemalloc cannot see, first → last snapshot: SQLite's heap, threads, pools, and
    SQLAlchemy's statement caches (see bench.soak_child)."""
    before, after = (json.loads(p.with_suffix(".caches.json").read_text()) for p in (first, last))
    lines = [
        f"over {seconds / 60:.1f} minutes: "
        f"SQLite heap {before['sqlite heap bytes'] / 2**20:.1f} → "
        f"{after['sqlite heap bytes'] / 2**20:.1f} MB; threads {before['threads']} → "
        f"{after['threads']} (started since launch {before.get('threads started', '?')} → "
        f"{after.get('threads started', '?')}); pools {before['pools']} → {after['pools']}",
        f"Python blocks {before['python allocated blocks']:,} → "
        f"{after['python allocated blocks']:,}; glibc malloc (bytes) "
        f"{before['malloc']} → {after['malloc']}",
        f"pymalloc {before.get('pymalloc')} → {after.get('pymalloc')}",
        f"malloc_trim after each sweep: {after.get('malloc_trim calls')}",
    ]
    for name, cache in after.items():
        if name.startswith("statement cache") and cache["entries"]:
            was = before.get(name, {}).get("entries", 0)
            lines.append(
                f"{name}: {was} → {cache['entries']} entries (of {cache['capacity']}); same SQL "
                f"under several keys: {cache['same SQL under several keys'][:3]}"
            )
    counts_before = dict(before["objects by type"])
    grown = sorted(
        ((n - counts_before.get(t, 0), t) for t, n in after["objects by type"]), reverse=True
    )
    lines.append("objects by type, grown: " + ", ".join(f"{t} {d:+d}" for d, t in grown[:8]))
    return lines


async def _minute(
    load: Load, result: SoakResult, database: Database, path: Path, child: ChildBot
) -> None:
    index = len(result.lines) + 1
    since = time.monotonic() - 60
    pending, lag = await _outbox(database)
    samples = [s for s in result.samples if s.at >= since] or result.samples[-1:]
    sample = _rss_cpu(child)
    cpu = 100 * (sample.cpu_s - samples[0].cpu_s) / max(sample.at - samples[0].at, 1e-9)
    line = Minute(
        index=index,
        rss_mb=sample.rss_mb,
        cpu_percent=cpu,
        commands=[lat for at, lat in result.commands if at >= since],
        taps=[lat for at, lat, _ in result.taps if at >= since],
        outbox_pending=pending,
        send_lag_max_s=lag,
        database_mb=_database_mb(path),
        rows=await _table_rows(database),
        harness_stall_s=result.harness_stalls.take_longest(),
        harness_gc_s=result.harness_gc.take_longest(),
    )
    result.lines.append(line)
    busy = {name: count for name, count in line.rows.items() if count}
    print(
        f"[soak {index:3d} min] RSS {line.rss_mb:.1f} MB · CPU {cpu:.0f} % · "
        f"commands {len(line.commands)} p50/p99 {ms(percentile(line.commands, 50)):.0f}/"
        f"{ms(percentile(line.commands, 99)):.0f} ms · taps {len(line.taps)} p50/p99 "
        f"{ms(percentile(line.taps, 50)):.0f}/{ms(percentile(line.taps, 99)):.0f} ms · outbox "
        f"pending {pending}, lag ≤ {lag:.1f} s · db {line.database_mb:.1f} MB · harness stall "
        f"≤ {ms(line.harness_stall_s):.0f} ms (GC ≤ {ms(line.harness_gc_s):.0f}) · rows {busy}",
        flush=True,
    )


def _quarter(
    values: list[tuple[float, float]], start: float, span: float, which: int
) -> list[float]:
    low, high = start + span * which / 4, start + span * (which + 1) / 4
    return [latency for at, latency in values if low <= at < high]


def tables(result: SoakResult, args: argparse.Namespace) -> list[Table]:
    """The soak's Markdown tables."""
    minutes = Table(
        f"6. Soak, {args.minutes:g} minutes: one line a minute",
        [
            "min",
            "RSS MB",
            "CPU %",
            "commands",
            "cmd p50 ms",
            "cmd p99 ms",
            "taps",
            "tap p50 ms",
            "tap p99 ms",
            "outbox pending",
            "send lag max s",
            "db MB",
            "harness stall ms",
        ],
    )
    for line in result.lines:
        minutes.add(
            line.index,
            line.rss_mb,
            line.cpu_percent,
            len(line.commands),
            ms(percentile(line.commands, 50)),
            ms(percentile(line.commands, 99)),
            len(line.taps),
            ms(percentile(line.taps, 50)),
            ms(percentile(line.taps, 99)),
            line.outbox_pending,
            line.send_lag_max_s,
            line.database_mb,
            ms(line.harness_stall_s),
        )
    minutes.notes.append(result.load)
    minutes.notes.append(machine_line())

    summary = Table(f"6b. Soak, {args.minutes:g} minutes: summary", ["figure", "value"])
    warmup = min(args.warmup, args.minutes / 4) * 60
    fitted = [
        ((s.at - result.started) / 3600, s.rss_mb)
        for s in result.samples
        if s.at - result.started >= warmup
    ]
    slope, r2 = _fit(fitted)
    summary.add(
        f"RSS slope after {warmup / 60:g} min of warm-up (least squares, {len(fitted)} samples)",
        f"{slope:+.2f} MB/hour (R² {r2:.2f})",
    )
    for part in ("anon", "file"):
        values = [
            ((s.at - result.started) / 3600, getattr(s, f"{part}_mb"))
            for s in result.samples
            if s.at - result.started >= warmup
        ]
        part_slope, part_r2 = _fit(values)
        summary.add(
            f"of which Rss{part.capitalize()} slope after the warm-up",
            f"{part_slope:+.2f} MB/hour (R² {part_r2:.2f}); "
            f"{values[0][1] if values else 0:.1f} → {values[-1][1] if values else 0:.1f} MB",
        )
    if result.samples:
        summary.add(
            "RSS first → last sample",
            f"{result.samples[0].rss_mb:.1f} → {result.samples[-1].rss_mb:.1f} MB",
        )
    span = args.minutes * 60
    taps = [(at, latency) for at, latency, _ in result.taps]
    for label, values in (("command", result.commands), ("tap", taps)):
        first = _quarter(values, result.started, span, 0)
        last = _quarter(values, result.started, span, 3)
        for q in (50, 99):
            a, b = ms(percentile(first, q)), ms(percentile(last, q))
            summary.add(
                f"{label} p{q}, first → last quarter", f"{a:.0f} → {b:.0f} ms (× {b / a:.2f})"
            )
    summary.add(
        "garbage collections, bot (after start-up) / harness: gen 2 count, longest",
        " / ".join(
            f"{gc_stats.get('2', {}).get('count', '?')}, "
            f"{gc_stats.get('2', {}).get('max ms', '?')} ms"
            for gc_stats in (result.bot_gc, result.harness_gc.summary())
        ),
    )
    summary.add(
        "harness event loop: latest wake-up over the run",
        f"{ms(result.harness_stalls.longest):.0f} ms",
    )
    summary.add(
        "allocator",
        f"MALLOC_ARENA_MAX={os.environ.get('MALLOC_ARENA_MAX', 'unset')}; settings: "
        + (", ".join(args.setting) or "the defaults"),
    )
    summary.add("activity", ", ".join(f"{k} {v}" for k, v in sorted(result.activity.items())))
    summary.add("lost", ", ".join(f"{k} {v}" for k, v in result.lost.items()) or "0")
    summary.add("errors", ", ".join(f"{k} {v}" for k, v in result.errors.items()) or "0")
    summary.add("bot warnings and errors logged", len(result.warnings))
    for logged in sorted(set(result.warnings))[:5]:
        summary.notes.append(f"logged: {logged[:200]}")
    summary.notes.append(result.load)

    rows = Table(
        f"6c. Soak, {args.minutes:g} minutes: rows per table (lifetimes: {args.lifetimes})",
        [
            "table",
            "at start",
            "max during",
            "at half time",
            "at end",
            "per hour (end − start)",
            "per hour, second half",
        ],
    )
    hours = args.minutes / 60
    # A table with a lifetime shorter than half the run stops growing in the second half.
    half = result.lines[len(result.lines) // 2] if result.lines else None
    for name, end in sorted(result.rows_end.items()):
        start = result.rows_start.get(name, 0)
        peak = max([line.rows.get(name, 0) for line in result.lines] or [end])
        middle = half.rows.get(name, 0) if half else start
        half_hours = (args.minutes - half.index) / 60 if half else hours
        if start or end or peak:
            rows.add(
                name,
                start,
                peak,
                middle,
                end,
                round((end - start) / hours),
                round((end - middle) / half_hours) if half_hours > 0 else "—",
            )
    if half:
        rows.notes.append(f"half time: the line of minute {half.index}")
    if result.lines:
        first_mb, last_mb = result.lines[0].database_mb, result.lines[-1].database_mb
        rows.notes.append(f"database file + WAL: {first_mb:.1f} MB → {last_mb:.1f} MB")
    out = [minutes, summary, rows]
    if result.growth:
        top = Table(
            "6d. Soak: memory outside and inside Python, first → last probe after the warm-up",
            ["growth"],
        )
        for site in result.growth:
            top.add(site)
        out.append(top)
    return out


async def run(args: argparse.Namespace) -> list[Table]:
    """Benchmark 6."""
    if args.quick:
        quick(args)
    return tables(await soak(args), args)
