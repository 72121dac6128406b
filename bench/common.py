"""What the benchmarks share: tables, percentiles, databases, a seeded region, child bots.

The bot under measurement runs as a child process (`python -m bot`, exactly as deployed) talking
HTTP to a `FakeBotApiServer` in this process: the simulated Telegram and its simulated people do
not share the bot's event loop or CPU core, and the bot's memory is its own. Times of taps and of
Bot API calls are all `time.monotonic()` readings taken in this process (the fake records the
arrival of every call in `CallRecord.started_at`).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import platform
import random
import signal
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import IO, Any, TypeVar

from sqlalchemy import Table as SqlTable
from sqlalchemy import func, insert, select
from sqlalchemy.engine import make_url

from bench.profiled import UNPACED
from bot.app import build_services
from bot.context import Services
from bot.domain.vocabulary import Role, VolunteerStatus
from bot.services.geocoding import close_geocoder
from storage import migrate
from storage.clock import system_clock
from storage.database import Database
from storage.models import Member, MemberRole, Skill, VolunteerSkill
from testkit.harness import TEST_TOKEN, brigade_settings
from testkit.telegram import CallRecord, FakeTelegram

REPO = Path(__file__).resolve().parent.parent
DEFAULT_POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
# Chambéry, the town of the test suite.
CENTRE = (45.5670, 5.9210)
COORDINATOR_ID = 424242
T = TypeVar("T")
# What the fake allows overall (testkit.telegram.faults.TelegramLimits.overall_per_second).
FAKE_OVERALL_PER_SECOND = 30.0


# ------------------------------------------------------------------------------------ tables


def fmt(value: object) -> str:
    """A cell: floats with two decimals, the rest as str()."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if math.isnan(value):
            return "—"
        return f"{value:.2f}"
    return str(value)


@dataclass
class Table:
    """One benchmark's figures, printed as a Markdown table (pasteable into the docs)."""

    title: str
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, *cells: object) -> None:
        """Append a row."""
        if len(cells) != len(self.columns):
            raise ValueError(f"{len(cells)} cells for {len(self.columns)} columns")
        self.rows.append([fmt(cell) for cell in cells])

    def render(self) -> str:
        """The table with its title and notes."""
        widths = [
            max(len(text) for text in [column, *(row[i] for row in self.rows)])
            for i, column in enumerate(self.columns)
        ]

        def line(cells: Sequence[str]) -> str:
            return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

        out = [f"### {self.title}", "", line(self.columns)]
        out.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
        out.extend(line(row) for row in self.rows)
        if self.notes:
            out.append("")
            out.extend(f"- {note}" for note in self.notes)
        return "\n".join(out)


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0–100), linear between closest ranks; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def ms(seconds: float) -> float:
    """Seconds to milliseconds."""
    return seconds * 1000


def machine_line() -> str:
    """Date, cores, load and versions: the context every figure needs."""
    import sqlalchemy
    import telegram

    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"{time.strftime('%Y-%m-%d %H:%M')} · {os.cpu_count()} cores · load average {load} · "
        f"Python {platform.python_version()} · PTB {telegram.__version__} · "
        f"SQLAlchemy {sqlalchemy.__version__}"
    )


class LoadWatch:
    """The machine's 1-minute load average at the start and the end of a measurement."""

    def __init__(self) -> None:
        self.start = os.getloadavg()[0]

    def note(self) -> str:
        """How loaded the 2 cores were (others' tests may run at the same time)."""
        return f"load average (1 min) {self.start:.2f} at start, {os.getloadavg()[0]:.2f} at end"


# ------------------------------------------------------------------------------------ databases


async def _admin_execute(base_url: str, sql: str) -> None:
    import asyncpg  # type: ignore[import-untyped]

    url = make_url(base_url)
    connection = await asyncpg.connect(
        host=url.host or "127.0.0.1",
        port=url.port or 5432,
        user=url.username or "postgres",
        password=url.password,
        database=url.database or "postgres",
        timeout=5,
    )
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


async def postgres_reachable(base_url: str) -> bool:
    """Whether the PostgreSQL server answers."""
    try:
        await _admin_execute(base_url, "SELECT 1")
    except (OSError, TimeoutError, ImportError) as error:
        print(f"PostgreSQL at {base_url} is not reachable: {error!r}", file=sys.stderr)
        return False
    except Exception as error:  # asyncpg's own errors (authentication, missing database…)
        print(f"PostgreSQL at {base_url} refused: {error!r}", file=sys.stderr)
        return False
    return True


@asynccontextmanager
async def fresh_postgres(base_url: str) -> AsyncIterator[str]:
    """A new, empty PostgreSQL database, dropped afterwards (as tests/conftest.py does)."""
    name = f"brigade_bench_{uuid.uuid4().hex[:12]}"
    await _admin_execute(base_url, f'CREATE DATABASE "{name}"')
    try:
        yield make_url(base_url).set(database=name).render_as_string(hide_password=False)
    finally:
        await _admin_execute(base_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@asynccontextmanager
async def database_url(backend: str, folder: Path, postgres_url: str) -> AsyncIterator[str]:
    """An empty database of the given backend: a SQLite file in `folder`, or a fresh PostgreSQL."""
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{folder / f'brigade-{uuid.uuid4().hex[:8]}.sqlite3'}"
        return
    async with fresh_postgres(postgres_url) as url:
        yield url


async def backends(wanted: str, postgres_url: str) -> list[str]:
    """The backends to run on: "sqlite", "postgres" or "both" (PostgreSQL only if reachable)."""
    chosen = ["sqlite", "postgres"] if wanted == "both" else [wanted]
    if "postgres" in chosen and not await postgres_reachable(postgres_url):
        print("skipping PostgreSQL", file=sys.stderr)
        chosen.remove("postgres")
    return chosen


async def migrated(url: str) -> Database:
    """A Database on `url` with the schema at head."""
    database = Database(url, clock=system_clock)
    await migrate.upgrade(database)
    return database


@asynccontextmanager
async def parent_services(url: str, **settings: Any) -> AsyncIterator[Services]:
    """Brigade's use cases in this process, on the bot's database (to seed and to post)."""
    services = build_services(brigade_settings(url, coordinator_ids=[COORDINATOR_ID], **settings))
    try:
        yield services
    finally:
        await close_geocoder(services.geocoder)
        await services.database.dispose()


# ------------------------------------------------------------------------------------ a region

# Popular skills are held by more volunteers. (code → weight)
SKILL_WEIGHTS: dict[str, float] = {
    "shopping": 5,
    "visit": 4,
    "phone_call": 3,
    "odd_jobs": 3,
    "appointment": 2,
    "outing": 2,
    "digital": 2,
    "plumbing": 1.5,
    "paperwork": 1.5,
    "gardening": 1.5,
    "electricity": 1,
}
RADII_KM = (1.0, 2.0, 5.0, 10.0)
RADIUS_WEIGHTS = (0.25, 0.35, 0.25, 0.15)
REGION_KM = 30.0
# Towns of the region: (km north, km east of the centre, spread in km, share of the people).
TOWNS = (
    (0.0, 0.0, 2.5, 0.30),
    (6.0, -5.0, 1.5, 0.12),
    (-7.0, 4.0, 1.5, 0.10),
    (9.0, 8.0, 1.2, 0.08),
    (-10.0, -9.0, 1.2, 0.06),
    (3.0, 11.0, 1.0, 0.04),
)
UNIFORM_SHARE = 0.30


def offset(
    latitude: float, longitude: float, north_km: float, east_km: float
) -> tuple[float, float]:
    """The point `north_km` north and `east_km` east of a point (flat-Earth, fine at 15 km)."""
    return (
        latitude + north_km / 111.2,
        longitude + east_km / (111.32 * math.cos(math.radians(latitude))),
    )


def region_point(rng: random.Random) -> tuple[float, float]:
    """Where someone lives in the ~30×30 km region: mostly in towns, the rest spread out."""
    half = REGION_KM / 2
    if rng.random() < UNIFORM_SHARE:
        north, east = rng.uniform(-half, half), rng.uniform(-half, half)
    else:
        weights = [town[3] for town in TOWNS]
        north0, east0, spread, _share = rng.choices(TOWNS, weights=weights)[0]
        north = max(-half, min(half, rng.gauss(north0, spread)))
        east = max(-half, min(half, rng.gauss(east0, spread)))
    return offset(*CENTRE, north, east)


def random_skill(rng: random.Random) -> str:
    """A skill code, popular ones more often."""
    return rng.choices(list(SKILL_WEIGHTS), weights=list(SKILL_WEIGHTS.values()))[0]


@dataclass(frozen=True)
class VolunteerRow:
    """One volunteer to bulk-insert."""

    telegram_id: int
    name: str
    latitude: float
    longitude: float
    radius_km: float
    skills: tuple[str, ...]
    language: str = "en"
    status: VolunteerStatus = VolunteerStatus.APPROVED
    reachable: bool = True
    paused: bool = False
    weekly_cap: int | None = None
    quiet: tuple[int, int] | None = None
    verified: bool = True


def regional_volunteers(
    count: int, *, seed: int = 1, first_telegram_id: int = 500_000_000
) -> list[VolunteerRow]:
    """A realistic population: towns and countryside, 1–3 skills, radii 1–10 km, a few paused,
    capped, pending, unreachable or with quiet hours."""
    rng = random.Random(seed)
    rows = []
    for index in range(count):
        latitude, longitude = region_point(rng)
        skills: set[str] = set()
        for _ in range(rng.choices((1, 2, 3), weights=(0.5, 0.35, 0.15))[0]):
            skills.add(random_skill(rng))
        status = rng.choices(
            (VolunteerStatus.APPROVED, VolunteerStatus.PENDING, VolunteerStatus.REJECTED),
            weights=(0.90, 0.06, 0.04),
        )[0]
        rows.append(
            VolunteerRow(
                telegram_id=first_telegram_id + index,
                name=f"Volunteer {index}",
                latitude=latitude,
                longitude=longitude,
                radius_km=rng.choices(RADII_KM, weights=RADIUS_WEIGHTS)[0],
                skills=tuple(sorted(skills)),
                language=rng.choices(("fr", "en", "nl"), weights=(0.85, 0.10, 0.05))[0],
                status=status,
                reachable=rng.random() > 0.03,
                paused=rng.random() < 0.03,
                weekly_cap=rng.choice((1, 2, 3)) if rng.random() < 0.2 else None,
                quiet=(22 * 60, 7 * 60) if rng.random() < 0.3 else None,
                verified=rng.random() < 0.5,
            )
        )
    return rows


def table_of(model: type[Any]) -> SqlTable:
    """The Core table of a mapped class (bulk INSERTs skip the ORM's row-by-row unit of work)."""
    table = model.__table__
    assert isinstance(table, SqlTable)
    return table


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """`items` in slices of `size`."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


async def skill_ids(database: Database) -> dict[str, int]:
    """Skill code → id (the catalogue is seeded by the migrations)."""
    async with database.read() as session:
        return {code: id_ for code, id_ in (await session.execute(select(Skill.code, Skill.id)))}


async def insert_volunteers(
    database: Database, rows: Sequence[VolunteerRow], *, chunk: int = 5000
) -> dict[int, int]:
    """Bulk-insert approved (or not) volunteers with their role and skills; telegram id → member id.

    Straight INSERTs, not the sign-up use cases: seeding 100,000 people through them would take
    longer than every benchmark together, and would queue an approval message for each.
    """
    skills = await skill_ids(database)
    now = system_clock()
    week_later = now + timedelta(days=7)
    ids: dict[int, int] = {}
    for part in chunks(rows, chunk):
        members = [
            {
                "telegram_id": row.telegram_id,
                "display_name": row.name,
                "phone": f"+33 6 {row.telegram_id % 100_000_000:08d}",
                "language": None,
                "telegram_language": row.language,
                "latitude": row.latitude,
                "longitude": row.longitude,
                "radius_km": row.radius_km,
                "volunteer_status": row.status,
                "approved_at": now if row.status is VolunteerStatus.APPROVED else None,
                "charter_version": "2026-11",
                "charter_accepted_at": now,
                "paused_until": week_later if row.paused else None,
                "quiet_start_minute": row.quiet[0] if row.quiet else None,
                "quiet_end_minute": row.quiet[1] if row.quiet else None,
                "weekly_cap": row.weekly_cap,
                "reachable": row.reachable,
                "created_at": now,
                "updated_at": now,
            }
            for row in part
        ]
        async with database.transaction() as session:
            await session.execute(insert(table_of(Member)), members)
            found = await session.execute(
                select(Member.telegram_id, Member.id).where(
                    Member.telegram_id.in_([row.telegram_id for row in part])
                )
            )
            part_ids = {int(tid): int(mid) for tid, mid in found if tid is not None}
            ids.update(part_ids)
            await session.execute(
                insert(table_of(MemberRole)),
                [
                    {
                        "member_id": part_ids[row.telegram_id],
                        "role": Role.VOLUNTEER,
                        "granted_at": now,
                    }
                    for row in part
                ],
            )
            held = [
                {
                    "member_id": part_ids[row.telegram_id],
                    "skill_id": skills[code],
                    "verified_at": now if row.verified else None,
                }
                for row in part
                for code in row.skills
            ]
            if held:
                await session.execute(insert(table_of(VolunteerSkill)), held)
    return ids


async def insert_referent(database: Database, telegram_id: int, name: str) -> int:
    """A referent (member + role), as an invitation would make one; returns the member id."""
    now = system_clock()
    async with database.transaction() as session:
        member = Member(
            telegram_id=telegram_id,
            display_name=name,
            phone="+33 4 79 00 00 01",
            telegram_language="en",
            created_at=now,
            updated_at=now,
        )
        session.add(member)
        await session.flush()
        session.add(MemberRole(member_id=member.id, role=Role.REFERENT, granted_at=now))
        return member.id


async def count_rows(database: Database, model: Any) -> int:
    """How many rows a table holds."""
    async with database.read() as session:
        return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


# ------------------------------------------------------------------------------------ child bots


class CallScanner:
    """Reads the fake's call log incrementally (it only grows)."""

    def __init__(self, world: FakeTelegram, *, from_now: bool = True) -> None:
        self.world = world
        self._index = len(world.calls) if from_now else 0

    def new(self) -> list[CallRecord]:
        """Calls finished since the last look."""
        calls = self.world.calls[self._index :]
        self._index += len(calls)
        return calls


async def wait_until(
    predicate: Callable[[], bool],
    timeout: float,  # noqa: ASYNC109 - a deadline reads best here
    what: str,
    *,
    interval: float = 0.02,
) -> None:
    """Poll `predicate` until it holds; TimeoutError naming `what` otherwise."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        await asyncio.sleep(interval)


class ChildBot:
    """A bot in its own process, talking HTTP to the fake Bot API server of this process."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], workdir: Path) -> None:
        self.name = name
        self.argv = argv
        self.env = env
        self.workdir = workdir
        self.log_path = workdir / f"{name}.log"
        self._process: asyncio.subprocess.Process | None = None
        self._log: IO[bytes] | None = None

    @property
    def pid(self) -> int:
        """The child's process id."""
        assert self._process is not None
        return self._process.pid

    async def start(self, world: FakeTelegram, timeout: float = 90.0) -> None:  # noqa: ASYNC109
        """Start the process and wait until it long-polls the fake (initialised and serving)."""
        self._log = self.log_path.open("wb")
        self._process = await asyncio.create_subprocess_exec(
            *self.argv,
            cwd=self.workdir,
            env=self.env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=self._log,
            stderr=self._log,
        )
        deadline = time.monotonic() + timeout
        while not any(call.method == "getUpdates" for call in world.active_calls):
            if self._process.returncode is not None:
                raise RuntimeError(f"{self.name} exited at start:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name} did not start polling:\n{self.log_tail()}")
            await asyncio.sleep(0.05)

    def memory_kb(self) -> dict[str, int]:
        """VmRSS (resident now), VmHWM (peak resident), and the resident split into anonymous
        memory (heaps, arenas) and file pages (code, libraries) of the child, in kB."""
        values: dict[str, int] = {}
        status = Path(f"/proc/{self.pid}/status").read_text()
        for line in status.splitlines():
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
                values[key] = int(rest.split()[0])
        return values

    def profile(self, on: bool) -> None:
        """Start (True) or stop and save (False) the profile of a `profiled` child."""
        assert self._process is not None
        self._process.send_signal(signal.SIGUSR1 if on else signal.SIGUSR2)

    def cpu_seconds(self) -> float:
        """User + system CPU time the child has used so far."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        # utime and stime are the 14th and 15th fields of the line (11th, 12th after the name).
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def log_tail(self, lines: int = 30) -> str:
        """The end of the child's output."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def warnings(self) -> list[str]:
        """Lines the child logged at WARNING or above (its log level is WARNING)."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return []
        return [line for line in text.splitlines() if " ERROR " in line or " WARNING " in line]

    async def stop(self, timeout: float = 60.0) -> int | None:  # noqa: ASYNC109
        """SIGINT (PTB stops gracefully: polling, then the outbox sender), then wait."""
        process = self._process
        if process is None:
            return None
        if process.returncode is None:
            process.send_signal(signal.SIGINT)
            try:
                async with asyncio.timeout(timeout):
                    await process.wait()
            except TimeoutError:
                process.kill()
                await process.wait()
        if self._log is not None:
            self._log.close()
        return process.returncode


def child_env(extra: dict[str, str]) -> dict[str, str]:
    """The parent's environment without any BRIGADE_* variable, plus `extra`."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("BRIGADE_")}
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


def brigade_child(
    server_base_url: str,
    url: str,
    workdir: Path,
    *,
    profile: Path | None = None,
    unpaced: bool = False,
    **settings: object,
) -> ChildBot:
    """`python -m bot` as deployed, configured by BRIGADE_* variables only (no .env: its cwd is
    a scratch folder). With `profile`, run through `bench.profiled`: `ChildBot.profile(True)`
    starts cProfile, `profile(False)` writes it to that file. `unpaced` lifts the bot's pacing
    of its sends (bench.profiled, BENCH_UNPACED)."""
    extra = {
        "BRIGADE_BOT_TOKEN": TEST_TOKEN,
        "BRIGADE_DATABASE_URL": url,
        "BRIGADE_BOT_API_BASE_URL": server_base_url.removesuffix("/bot"),
        "BRIGADE_COORDINATOR_IDS": str(COORDINATOR_ID),
        "BRIGADE_GEOCODER": "none",
        "BRIGADE_LOG_LEVEL": "WARNING",
        "BRIGADE_TOWN_NAME": "Chambéry",
    }
    extra.update({f"BRIGADE_{key.upper()}": str(value) for key, value in settings.items()})
    argv = [sys.executable, "-m", "bot"]
    if unpaced:
        extra[UNPACED] = "1"
        argv = [sys.executable, "-m", "bench.profiled"]
    if profile is not None:
        profile.parent.mkdir(parents=True, exist_ok=True)
        argv = [sys.executable, "-m", "bench.profiled", str(profile.resolve())]
    return ChildBot("brigade", argv, child_env(extra), workdir)


@contextlib.contextmanager
def scratch(prefix: str) -> Iterator[Path]:
    """A temporary folder for databases and child logs."""
    with tempfile.TemporaryDirectory(prefix=f"brigade-bench-{prefix}-") as folder:
        yield Path(folder)
