"""Updates delivered twice are handled once; one person's updates keep their order.

Fast tests: the real application in this process (webhook mode over HTTP, or fed in-process),
and the real update processor.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import aiohttp
import pytest
from sqlalchemy import func, select
from telegram import Update
from telegram.ext import (
    Application,
    ApplicationBuilder,
    ApplicationHandlerStop,
    ContextTypes,
    TypeHandler,
)

from bot.app import build_application, webhook_arguments
from bot.context import BrigadeApplication
from bot.domain.vocabulary import Role
from bot.updates import DEDUPLICATION_GROUP, PerPersonUpdateProcessor, UpdateGate, person_key
from storage import updates as store
from storage.database import Database
from storage.models import Member, MemberRole, ProcessedUpdate
from testkit.clock import ManualClock
from testkit.geocoder import FakeGeocoder
from testkit.harness import InProcessBrigade, brigade_settings, sqlite_url
from testkit.telegram import FakeBotApiServer, FakeTelegram, InProcessRequest
from tests.reliability.support import SECRET, free_port

pytestmark = pytest.mark.e2e


def _gate(app: BrigadeApplication) -> UpdateGate:
    """The de-duplication callback the registry installed."""
    [handler] = app.handlers[DEDUPLICATION_GROUP]
    gate = handler.callback
    assert isinstance(gate, UpdateGate)
    return gate


async def _eventually(predicate: Callable[[], bool], what: str) -> None:
    try:
        async with asyncio.timeout(10):
            while True:
                if predicate():
                    return
                await asyncio.sleep(0.01)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


# --------------------------------------------------------------------------------- storage


async def test_an_update_id_is_claimed_once_even_by_concurrent_sessions(
    database: Database,
) -> None:
    async def claim(update_id: int) -> bool:
        async with database.transaction() as session:
            return await store.claim_update(session, update_id, database.clock())

    assert await claim(1)
    assert not await claim(1)
    # Twenty "processes" given the same update at once: exactly one may handle it.
    assert sum(await asyncio.gather(*(claim(2) for _ in range(20)))) == 1


async def test_a_batch_on_a_core_connection_returns_exactly_the_new_ids(
    database: Database,
) -> None:
    now = database.clock()
    async with database.core_transaction() as connection:
        assert await store.claim_updates(connection, [1, 2], now) == {1, 2}
    # Twice in a batch (a retry racing its original), known already, new: only the new ones.
    async with database.core_transaction() as connection:
        assert await store.claim_updates(connection, [3, 2, 3, 4, 1], now) == {3, 4}
        assert await store.claim_updates(connection, [5], now) == {5}
    async with database.read() as session:
        count = await session.execute(select(func.count()).select_from(ProcessedUpdate))
        assert count.scalar_one() == 5


async def test_the_gate_prunes_old_rows_before_it_claims(database: Database) -> None:
    now = database.clock()
    async with database.transaction() as session:
        session.add(ProcessedUpdate(update_id=7, processed_at=now - timedelta(days=8)))
        session.add(ProcessedUpdate(update_id=8, processed_at=now - timedelta(hours=1)))
    async with database.transaction() as session:
        assert await store.prune(session, now - timedelta(days=3)) == 1
        # After a week of silence Telegram may reuse an old id: it is new again.
        assert await store.claim_update(session, 7, now)
        assert not await store.claim_update(session, 8, now)
        count = await session.execute(select(func.count()).select_from(ProcessedUpdate))
        assert count.scalar_one() == 2


async def test_a_crowd_is_recorded_in_batches_and_each_update_passes_once(
    database: Database,
) -> None:
    gate = UpdateGate()
    context = cast(Any, SimpleNamespace(services=SimpleNamespace(database=database)))

    async def passes(update_id: int) -> bool:
        try:
            await gate(Update(update_id=update_id), context)
        except ApplicationHandlerStop:
            return False
        return True

    # 40 updates at once, two of them delivered twice within the same moment (a webhook retry
    # racing its original), one already handled earlier.
    assert await passes(1)
    ids = [*range(1, 41), 5, 6]
    outcomes = await asyncio.gather(*(passes(update_id) for update_id in ids))
    passed = [update_id for update_id, ok in zip(ids, outcomes, strict=True) if ok]
    assert sorted(passed) == list(range(2, 41))
    assert gate.skipped == 3
    async with database.read() as session:
        count = await session.execute(select(func.count()).select_from(ProcessedUpdate))
    assert count.scalar_one() == 40
    # Far fewer transactions than updates: the first alone, the crowd together.
    assert gate.batches <= 3


async def test_a_short_keep_is_pruned_as_often_as_it_asks(
    database: Database, clock: ManualClock
) -> None:
    # A benchmark's keep of 30 minutes: the gate prunes every 10 minutes, not every hour.
    gate = UpdateGate(keep=timedelta(minutes=30))
    context = cast(Any, SimpleNamespace(services=SimpleNamespace(database=database)))
    await gate(Update(update_id=1), context)
    clock.advance(timedelta(minutes=20))
    await gate(Update(update_id=2), context)
    clock.advance(timedelta(minutes=15))
    await gate(Update(update_id=3), context)
    async with database.read() as session:
        kept = (await session.execute(select(ProcessedUpdate.update_id))).scalars().all()
    # Id 1 was 35 minutes old at the third update; id 2, 15 minutes.
    assert sorted(kept) == [2, 3]


# --------------------------------------------------------------------------------- webhook


@pytest.fixture
async def server(world: FakeTelegram) -> AsyncIterator[FakeBotApiServer]:
    """The fake Bot API on 127.0.0.1."""
    async with FakeBotApiServer(world) as fake:
        yield fake


async def test_a_webhook_retry_is_handled_once(
    world: FakeTelegram, server: FakeBotApiServer, tmp_path: Path
) -> None:
    port = free_port()
    settings = brigade_settings(
        sqlite_url(tmp_path),
        api_base_url=server.base_url.removesuffix("/bot"),
        run_mode="webhook",
        webhook_listen="127.0.0.1",
        webhook_port=port,
        webhook_url="https://brigade.example.org/",
        webhook_secret=SECRET,
    )
    app = build_application(settings, geocoder=FakeGeocoder())
    ana, bea = world.add_user("Ana"), world.add_user("Béa")
    first, second = ana.send_command("start"), bea.send_command("start")
    world.pop_updates()  # delivered by POST below, not by polling
    await app.initialize()
    assert app.updater is not None
    await app.updater.start_webhook(**webhook_arguments(settings))
    await app.start()
    try:
        url = f"http://127.0.0.1:{port}/telegram"
        headers = {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": SECRET}

        async def post(update: dict[str, Any]) -> int:
            async with http.post(url, data=json.dumps(update), headers=headers) as answer:
                return answer.status

        async with aiohttp.ClientSession() as http:
            # Telegram retrying after a slow answer: the same update again, later.
            assert await post(first) == 200
            await ana.expect_message("Bonjour Ana")
            assert await post(first) == 200
            # A load balancer's retry racing the original: both copies at once.
            assert list(await asyncio.gather(post(second), post(second))) == [200, 200]
        gate = _gate(app)
        await _eventually(lambda: gate.skipped == 2, "both copies skipped")
        await bea.expect_message("Bonjour Béa")
        assert [(m.text or "").split("!")[0] for m in ana.inbox] == ["Bonjour Ana\u202f"]
        assert len(bea.inbox) == 1
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()
        if app.post_shutdown:
            await app.post_shutdown(app)


# --------------------------------------------------------------------------------- ordering


async def _processed_concurrently(app: BrigadeApplication, world: FakeTelegram) -> None:
    """Hand every queued update to the real processor at once, as PTB's fetcher does."""
    updates = [Update.de_json(data, app.bot) for data in world.pop_updates()]
    processor = app.update_processor
    assert isinstance(processor, PerPersonUpdateProcessor)
    await asyncio.gather(*(processor.process_update(u, app.process_update(u)) for u in updates))
    assert processor.people_waiting == 0  # every person's lock was dropped once idle


async def test_answers_sent_in_a_burst_are_taken_in_order_by_the_conversation(
    world: FakeTelegram, brigade: InProcessBrigade
) -> None:
    rita = world.add_user("Rita", language_code="en")
    async with brigade.services.database.transaction() as session:
        member = Member(telegram_id=rita.id, display_name="Rita", telegram_language="en")
        session.add(member)
        await session.flush()
        session.add(MemberRole(member_id=member.id, role=Role.REFERENT))
    rita.send_command("new")
    await brigade.deliver()
    rita.tap("➕ Someone new")
    await brigade.deliver()
    rita.tap("Yes, they agree")
    await brigade.deliver()
    assert "name and phone number" in (rita.last_message.text or "")
    # Four answers typed quickly, each for the step the previous one leads to; others meanwhile.
    rita.send_text("Jeanne M.")
    others = [world.add_user(f"Other{i}", language_code="en") for i in range(5)]
    for other in others:
        other.send_command("start")
    rita.send_text("+33 6 12 34 56 78")
    rita.send_location(45.5671, 5.9211)
    rita.send_text("3rd floor, code 1234")
    await _processed_concurrently(brigade.app, world)
    prompts = [m.text or "" for m in rita.inbox[-5:]]
    expected = [
        "What is Jeanne M.'s phone number?",
        "Where does Jeanne M. live?",
        "Location received.",
        "Anything that helps to get in",
        "What kind of help is needed?",
    ]
    # Out of order, a name would be refused as a phone number, or a phone taken as a name.
    assert [p.startswith(e) for p, e in zip(prompts, expected, strict=True)] == [True] * 5, prompts
    draft = brigade.app.user_data[rita.id]["posting"]["beneficiary"]
    assert (draft["name"], draft["phone"], draft["notes"]) == (
        "Jeanne M.",
        "+33 6 12 34 56 78",
        "3rd floor, code 1234",
    ), draft
    assert all((o.last_message.text or "").startswith("Hello") for o in others)


# --------------------------------------------------------------------------------- processor


def _bare_application(
    world: FakeTelegram, processor: PerPersonUpdateProcessor
) -> Application[Any, Any, Any, Any, Any, Any]:
    return (
        ApplicationBuilder()
        .token(world.token)
        .request(InProcessRequest(world))
        .get_updates_request(InProcessRequest(world))
        .concurrent_updates(processor)
        .context_types(ContextTypes())
        .build()
    )


async def test_the_processor_serialises_each_person_and_runs_people_concurrently(
    world: FakeTelegram,
) -> None:
    processor = PerPersonUpdateProcessor(4)
    app = _bare_application(world, processor)
    # Spans on a logical clock (one tick per event), so the order is exact on any machine.
    spans: dict[int, list[tuple[int, int, int]]] = {}
    ticks = itertools.count()
    running = peak = 0
    rng = random.Random(5)

    async def record(update: Update, _: object) -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        began = next(ticks)
        await asyncio.sleep(rng.uniform(0.001, 0.02))
        running -= 1
        key = person_key(update)
        assert key is not None
        spans.setdefault(key, []).append((update.update_id, began, next(ticks)))

    app.add_handler(TypeHandler(Update, record))
    people = [world.add_user(f"P{i}") for i in range(6)]
    for round_ in range(8):
        for person in people:
            person.send_text(f"m{round_}")
    async with app:
        await app.start()
        for data in world.pop_updates():
            await app.update_queue.put(Update.de_json(data, app.bot))
        await app.update_queue.join()
        await app.stop()
    assert peak == 4  # several people at once, never more than the limit
    assert processor.people_waiting == 0
    for person in people:
        handled = spans[person.id]
        assert [update_id for update_id, _, _ in handled] == sorted(u for u, _, _ in handled)
        for (_, _, ended), (_, began, _) in itertools.pairwise(handled):
            assert began > ended  # one person's updates never overlap


async def test_one_persons_burst_does_not_hold_up_everyone_else(world: FakeTelegram) -> None:
    processor = PerPersonUpdateProcessor(2)
    app = _bare_application(world, processor)
    finished: list[int] = []
    spammer, other = world.add_user("Spam"), world.add_user("Olga")

    async def slow(update: Update, _: object) -> None:
        await asyncio.sleep(0.02)
        assert update.effective_user is not None
        finished.append(update.effective_user.id)

    app.add_handler(TypeHandler(Update, slow))
    for index in range(30):
        spammer.send_text(f"spam {index}")
    other.send_text("hello")
    async with app:
        await app.start()
        for data in world.pop_updates():
            await app.update_queue.put(Update.de_json(data, app.bot))
        await app.update_queue.join()
        await app.stop()
    # PTB's own semaphore would have let the spammer's 30 waiting updates fill every slot.
    assert finished.index(other.id) <= 2, finished.index(other.id)
