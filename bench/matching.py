"""Benchmark 4: `find_candidates` among 100,000 volunteers, against a naive geodesic scan.

A ~30×30 km region around Chambéry is seeded with bulk INSERTs (towns and countryside; 1–3 skills
each, radii 1, 2, 5 or 10 km; a few pending, rejected, paused, capped, unreachable or with quiet
hours) plus a week of history (2,000 requests, their offers and claims, which the weekly cap and
"not offered yet" conditions read). Needs are drawn where people live, with skills as popular as
among volunteers, each tied to one of the past requests (as a next wave is). With
`--availability-share` (default 0.5) that share of the volunteers gave their availability (one of
the sign-up's presets) and each need has a time (a random slot): matching then also says, for
each candidate, whether the slot fits them.

Timed: `find_candidates(session, Need, now=, tz=)` inside a read transaction (median of the
queries; goal ≤ 20 ms), and a naive scan that loads every volunteer and computes geopy's
`geodesic` distance to each, with the same rules applied in Python. Their candidates are compared.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from geopy.distance import geodesic
from sqlalchemy import insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from bench.common import (
    DEFAULT_POSTGRES_URL,
    LoadWatch,
    Table,
    backends,
    chunks,
    database_url,
    insert_volunteers,
    machine_line,
    migrated,
    ms,
    percentile,
    random_skill,
    region_point,
    regional_volunteers,
    scratch,
    skill_ids,
    table_of,
)
from bot.domain.availability import PERIODS, PICKER_PRESETS, Wanted
from bot.domain.vocabulary import ClaimStatus, RequestStatus, VolunteerStatus
from bot.services.matching import WEEK, Need, find_candidates
from storage.clock import system_clock
from storage.database import Database
from storage.models import (
    Availability,
    Claim,
    HelpRequest,
    Member,
    Offer,
    Skill,
    VolunteerSkill,
)

TZ = ZoneInfo("Europe/Paris")
HISTORY_REQUESTS = 2000
OFFERS_PER_REQUEST = 10


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the matching benchmark."""
    parser.add_argument("--volunteers", type=int, default=100_000, help="(100000)")
    parser.add_argument("--queries", type=int, default=40, help="timed find_candidates (40)")
    parser.add_argument("--naive-runs", type=int, default=3, help="timed naive scans (3)")
    parser.add_argument(
        "--backend", choices=["sqlite", "postgres", "both"], default="both", help="(both)"
    )
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL)
    parser.add_argument(
        "--availability-share",
        type=float,
        default=0.5,
        help="share of volunteers with availability; > 0 also gives each need a time (0.5)",
    )


async def seed_region(
    database: Database, volunteers: int, *, seed: int = 1, availability_share: float = 0.0
) -> list[int]:
    """The region's volunteers and a week of history; returns the past requests' ids."""
    rows = regional_volunteers(volunteers, seed=seed)
    ids = list((await insert_volunteers(database, rows)).values())
    skills = await skill_ids(database)
    rng = random.Random(seed + 1)
    chooser = random.Random(seed + 2)  # its own: the history stays the same whatever the share
    slots = [
        {"member_id": member_id, "weekday": day, "period": period}
        for member_id in ids
        if chooser.random() < availability_share
        for day, period in sorted(chooser.choice(PICKER_PRESETS).slots)
    ]
    async with database.transaction() as session:
        for part in chunks(slots, 5000):
            await session.execute(insert(table_of(Availability)), list(part))
    now = system_clock()
    request_rows = []
    for _ in range(HISTORY_REQUESTS):
        latitude, longitude = region_point(rng)
        created = now - timedelta(hours=rng.uniform(1, 24 * 10))
        request_rows.append(
            {
                "skill_id": skills[random_skill(rng)],
                "description": "history",
                "latitude": latitude,
                "longitude": longitude,
                "area_label": "somewhere",
                "places_needed": 1,
                "places_taken": 1,
                "status": RequestStatus.CLOSED,
                "wave": 1,
                "created_at": created,
                "updated_at": created,
            }
        )
    async with database.transaction() as session:
        await session.execute(insert(table_of(HelpRequest)), request_rows)
        request_ids = list((await session.execute(select(HelpRequest.id))).scalars())
        offers = []
        claims = []
        for request_id, request in zip(request_ids, request_rows, strict=True):
            chosen = rng.sample(ids, OFFERS_PER_REQUEST)
            offers += [
                {
                    "request_id": request_id,
                    "member_id": member_id,
                    "chat_id": member_id,
                    "kind": "direct",
                    "wave": 1,
                    "created_at": request["created_at"],
                }
                for member_id in chosen
            ]
            claims.append(
                {
                    "request_id": request_id,
                    "volunteer_id": chosen[0],
                    "status": ClaimStatus.CONFIRMED,
                    "claimed_at": request["created_at"],
                }
            )
        for part in chunks(offers, 5000):
            await session.execute(insert(table_of(Offer)), list(part))
        await session.execute(insert(table_of(Claim)), claims)
    return request_ids


@dataclass(frozen=True)
class Query:
    """A need to match, tied to a past request."""

    need: Need
    label: str


def make_queries(
    count: int, request_ids: list[int], skills: dict[str, int], *, timed: bool = False
) -> list[Query]:
    """Needs where people live, with skills as popular as among volunteers (and a time)."""
    rng = random.Random(99)
    times = random.Random(100)  # its own: the same needs, with or without a time
    queries = []
    for _ in range(count):
        latitude, longitude = region_point(rng)
        code = random_skill(rng)
        wanted = Wanted(times.randrange(7), (times.choice(PERIODS),)) if timed else None
        need = Need(
            skills[code], latitude, longitude, request_id=rng.choice(request_ids), wanted=wanted
        )
        queries.append(Query(need, code))
    return queries


async def naive_candidates(database: Database, need: Need, now: datetime) -> set[int]:
    """Every volunteer loaded, geopy's geodesic to each, the same rules in Python."""
    async with database.read() as session:
        members = (
            await session.execute(
                select(
                    Member.id,
                    Member.telegram_id,
                    Member.latitude,
                    Member.longitude,
                    Member.radius_km,
                    Member.volunteer_status,
                    Member.reachable,
                    Member.forgotten_at,
                    Member.paused_until,
                    Member.weekly_cap,
                )
            )
        ).all()
        skill = await session.get(Skill, need.skill_id)
        held = {
            member_id: verified
            for member_id, verified in await session.execute(
                select(VolunteerSkill.member_id, VolunteerSkill.verified_at).where(
                    VolunteerSkill.skill_id == need.skill_id
                )
            )
        }
        taken = Counter(
            (
                await session.execute(
                    select(Claim.volunteer_id).where(
                        Claim.claimed_at >= now - WEEK,
                        Claim.status.in_(
                            [ClaimStatus.ACTIVE, ClaimStatus.DONE, ClaimStatus.CONFIRMED]
                        ),
                    )
                )
            ).scalars()
        )
        offered = set(
            (
                await session.execute(
                    select(Offer.member_id).where(Offer.request_id == need.request_id)
                )
            ).scalars()
        )
    assert skill is not None
    found = set()
    for (
        member_id,
        telegram_id,
        latitude,
        longitude,
        radius,
        status,
        reachable,
        forgotten,
        paused,
        cap,
    ) in members:
        if latitude is None or longitude is None:
            continue
        distance = geodesic((need.latitude, need.longitude), (latitude, longitude)).km
        if (
            distance <= radius
            and status is VolunteerStatus.APPROVED
            and reachable
            and telegram_id is not None
            and forgotten is None
            and (paused is None or paused <= now)
            and member_id in held
            and (not skill.requires_verification or held[member_id] is not None)
            and (cap is None or taken[member_id] < cap)
            and member_id not in offered
        ):
            found.add(member_id)
    return found


def _time_statements(session: AsyncSession) -> list[float]:
    """Time every `session.execute` of this session (the statement, its rows fetched and typed).

    What find_candidates spends outside of them is its Python work on the rows.
    """
    spent: list[float] = []
    execute = session.execute

    async def timed(*args: Any, **kwargs: Any) -> Any:
        begun = time.perf_counter()
        try:
            return await execute(*args, **kwargs)
        finally:
            spent.append(time.perf_counter() - begun)

    session.execute = timed  # type: ignore[method-assign]
    return spent


async def _one(backend: str, args: argparse.Namespace) -> list[object]:
    load = LoadWatch()
    with scratch("matching") as folder:
        async with database_url(backend, folder, args.postgres_url) as url:
            database = await migrated(url)
            try:
                started = time.monotonic()
                request_ids = await seed_region(
                    database, args.volunteers, availability_share=args.availability_share
                )
                seeded_s = time.monotonic() - started
                if not database.is_sqlite:
                    # What autovacuum does shortly after a bulk load; SQLite gets no ANALYZE
                    # (the product never runs one), so its planner works without statistics.
                    async with database.transaction() as session:
                        await session.execute(text("ANALYZE"))
                # As a bot (re)started on this database finds it: SQLite's write-ahead log
                # checkpointed, no connection warmed by the seeding.
                await database.dispose()
                database = Database(url, clock=system_clock)
                queries = make_queries(
                    args.queries,
                    request_ids,
                    await skill_ids(database),
                    timed=args.availability_share > 0,
                )
                now = system_clock()
                timings: list[float] = []
                sql_timings: list[float] = []
                counts: list[int] = []
                results: dict[int, set[int]] = {}
                async with database.read() as session:
                    for query in queries[:3]:  # warm-up: connections, statement caches
                        await find_candidates(session, query.need, now=now, tz=TZ)
                for index, query in enumerate(queries):
                    async with database.read() as session:
                        sql = _time_statements(session)
                        begun = time.perf_counter()
                        found = await find_candidates(session, query.need, now=now, tz=TZ)
                        timings.append(time.perf_counter() - begun)
                        sql_timings.append(sum(sql))
                    counts.append(len(found))
                    results[index] = {candidate.member_id for candidate in found}
                naive_timings: list[float] = []
                differences: list[int] = []
                for index in range(min(args.naive_runs, len(queries))):
                    begun = time.perf_counter()
                    naive = await naive_candidates(database, queries[index].need, now)
                    naive_timings.append(time.perf_counter() - begun)
                    differences.append(len(naive ^ results[index]))
            finally:
                await database.dispose()
    median = statistics.median(timings)
    naive_median = statistics.median(naive_timings) if naive_timings else float("nan")
    return [
        backend,
        f"{args.volunteers:,}",
        len(timings),
        ms(median),
        ms(statistics.median(sql_timings)),
        ms(percentile(timings, 90)),
        ms(max(timings)),
        f"{statistics.median(counts):.0f} ({min(counts)}–{max(counts)})",
        ms(naive_median),
        naive_median / median,
        ", ".join(str(d) for d in differences),
        f"{seeded_s:.0f} s; {load.note()}",
    ]


async def run(args: argparse.Namespace) -> list[Table]:
    """Benchmark 4 on each backend."""
    table = Table(
        f"4. Matching among {args.volunteers:,} volunteers, {args.availability_share:.0%} with "
        "availability (goal: median ≤ 20 ms)",
        [
            "backend",
            "volunteers",
            "queries",
            "median ms",
            "of which SQL ms",
            "p90 ms",
            "max ms",
            "candidates median (range)",
            "naive scan ms",
            "naive ÷ find_candidates",
            "candidates differing (naive runs)",
            "seeding; load",
        ],
    )
    for backend in await backends(args.backend, args.postgres_url):
        table.add(*await _one(backend, args))
    table.notes.append(
        "naive scan = load every volunteer, geopy geodesic to each, same rules in Python "
        "(median of the naive runs, on the first queries); differing = symmetric difference of "
        "the two candidate sets (haversine vs geodesic at a radius' edge)"
    )
    table.notes.append(machine_line())
    return [table]
