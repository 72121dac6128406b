"""Benchmark 6: a watch campaign's morning — 2,000 registered people, 250 callers.

The real application runs in this process (its outbox sender included), its Bot API calls
answered by the simulated Telegram with Telegram-like limits on (≈30 sends/s overall, 1/s per
private chat; 429 with retry_after past them). The people and callers are bulk-inserted; a
coordinator's campaign has a window that has begun. Measured: the window's opening (fetch the
register and the callers, assign in memory, insert the calls, queue each caller's list — one
transaction), then how long until the last caller has their list, and the 429s on the way.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from sqlalchemy import insert

from bench.common import (
    CENTRE,
    COORDINATOR_ID,
    DEFAULT_POSTGRES_URL,
    Table,
    VolunteerRow,
    database_url,
    insert_referent,
    insert_volunteers,
    machine_line,
    offset,
    scratch,
    table_of,
    wait_until,
)
from bot.domain.watch import CampaignKind, Consent, RegisteredBy
from bot.services.members import TelegramIdentity
from bot.services.watch.campaigns import CampaignPlan, CampaignView
from storage import migrate
from storage.database import Database
from storage.watch_models import WatchPerson
from testkit.clock import ManualClock
from testkit.harness import TEST_TOKEN, InProcessBrigade, brigade_settings
from testkit.telegram import FakeTelegram

CALLER_BASE_ID = 800_000_000
REFERENT_ID = 300_000_001


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the watch benchmark."""
    parser.add_argument("--people", type=int, default=2000, help="registered people (2000)")
    parser.add_argument("--callers", type=int, default=250, help="callers (250)")
    parser.add_argument(
        "--backend", choices=["sqlite", "postgres"], default="sqlite", help="database (sqlite)"
    )
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL)


async def _seed(database: Database, people: int, callers: int) -> None:
    """The callers (phone-calls skill, around the centre), a referent and the register."""
    rows = [
        VolunteerRow(
            telegram_id=CALLER_BASE_ID + index,
            name=f"Caller {index}",
            latitude=offset(*CENTRE, (index % 20) * 0.3, (index // 20) * 0.3)[0],
            longitude=offset(*CENTRE, (index % 20) * 0.3, (index // 20) * 0.3)[1],
            radius_km=5.0,
            skills=("phone_call",),
        )
        for index in range(callers)
    ]
    await insert_volunteers(database, rows)
    referent = await insert_referent(database, REFERENT_ID, "Rita")
    now = database.clock()
    async with database.transaction() as session:
        await session.execute(
            insert(table_of(WatchPerson)),
            [
                {
                    "referent_id": referent,
                    "name": f"Personne {index}",
                    "phone": f"+33 2 35 {index // 100:02d} {index % 100:02d} 00",
                    "address": f"{index} rue de la Canicule",
                    "registered_by": RegisteredBy.SELF.value,
                    "consent": Consent.WRITTEN.value,
                    "language": "fr",
                    "created_at": now,
                    "updated_at": now,
                }
                for index in range(people)
            ],
        )


async def _one(backend: str, args: argparse.Namespace, folder: Path) -> list[object]:
    """One morning on one backend: the opening's time, the last list's delay, the 429s."""
    async with database_url(backend, folder, args.postgres_url) as url:
        world = FakeTelegram(token=TEST_TOKEN)
        for index in range(args.callers):
            world.add_user(f"Caller {index}", user_id=CALLER_BASE_ID + index, language_code="fr")
        world.add_user("Claire", user_id=COORDINATOR_ID, language_code="fr")
        settings = brigade_settings(
            url, coordinator_ids=[COORDINATOR_ID], timer_interval_seconds=3600
        )
        clock = ManualClock(ticking=True)
        database = Database(url, clock=clock)
        await migrate.upgrade(database)
        await _seed(database, args.people, args.callers)
        async with InProcessBrigade(world, settings, database=database) as bot:
            services = bot.services
            await services.members.identify(TelegramIdentity(COORDINATOR_ID, "Claire"))
            # 10:00 in Paris on the test clock: a 9:00–12:00 window has begun.
            plan = CampaignPlan(CampaignKind.HEAT, window_start=9 * 60, window_end=12 * 60)
            assert isinstance(await services.watch.start(COORDINATOR_ID, plan), CampaignView)
            world.faults.enable_limits()
            started = time.perf_counter()
            done = await services.watch.open_due_windows()
            opened = time.perf_counter() - started
            callers = [CALLER_BASE_ID + index for index in range(args.callers)]
            await wait_until(
                lambda: all(world.messages_in(chat) for chat in callers),
                timeout=600,
                what="every caller's list",
            )
            last = time.perf_counter() - started
            await database.dispose()
            return [
                backend,
                args.people,
                args.callers,
                done["watch_calls"],
                done["watch_uncovered"],
                round(opened * 1000),
                round(last, 1),
                round(args.callers / last, 1),
                world.stats.limit_429s,
            ]


async def run(args: argparse.Namespace) -> list[Table]:
    """Benchmark 6 on the chosen backend."""
    table = Table(
        f"6. A watch campaign's morning: {args.people:,} people, {args.callers} callers",
        [
            "backend",
            "people",
            "callers",
            "calls assigned",
            "uncovered",
            "window opening ms",
            "last list after s",
            "lists/s",
            "429s",
        ],
    )
    with scratch("brigade-watch-") as folder:
        table.add(*await _one(args.backend, args, folder))
    table.notes.append(machine_line())
    table.notes.append(
        "Opening: fetch the register and the callers, assign in memory, insert the calls and "
        "queue one list per caller, in one transaction. Lists go out at the sender's pace under "
        "Telegram-like limits (≈30 messages/s overall)."
    )
    return [table]
