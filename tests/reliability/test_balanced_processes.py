"""Two webhook processes behind a round-robin balancer, on one PostgreSQL database.

Real `python -m bot` subprocesses, a fake Bot API in this process, a tiny proxy sending each
update to the next process in turn (testkit/balancer.py), and a deliverer posting the world's
updates in order, as Telegram does. A person's consecutive updates land on different processes;
their conversation must go on as with one process: bot/shared_state.py reads each person's
states and drafts back under their advisory lock before every update.

PostgreSQL only: SQLite is one process (a file, one writer), and these tests are skipped there.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.context import Services
from bot.domain.vocabulary import Role, VolunteerStatus
from conversations.posting.draft import Step
from storage.models import ConversationState, Member, MemberRole, Neighbourhood, VolunteerSkill
from testkit.balancer import RoundRobinProxy, WebhookDelivery
from testkit.telegram import FakeBotApiServer, FakeTelegram, FakeUser
from tests.conftest import POSTGRES_URL, REQUIRE_POSTGRES, fresh_database_url
from tests.factories import east
from tests.reliability.support import (
    PATIENCE,
    SECRET,
    BotProcess,
    Town,
    api_root,
    bot_status,
    drained,
    free_port,
    new_services,
    offer_counts,
    outbox_summary,
    post_request,
    seed_town,
    settings_for,
    until_listening,
)

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]
VOLUNTEERS = 6
BROADCAST = 150
WAIT = 20.0  # a guard against a hung process, not a performance requirement


@pytest.fixture
async def server(world: FakeTelegram) -> AsyncIterator[FakeBotApiServer]:
    """The fake Bot API on 127.0.0.1, in this process."""
    async with FakeBotApiServer(world) as fake:
        yield fake


@pytest.fixture
async def postgres_url(tmp_path: Path) -> AsyncIterator[str]:
    """A fresh PostgreSQL database (skipped without BRIGADE_TEST_POSTGRES_URL: SQLite is one
    process only, there is nothing to balance)."""
    if not POSTGRES_URL and not REQUIRE_POSTGRES:
        pytest.skip(
            "several processes share conversations on PostgreSQL only (SQLite is one process); "
            "set BRIGADE_TEST_POSTGRES_URL"
        )
    async for url in fresh_database_url("postgres", tmp_path):
        yield url


@dataclass
class Cluster:
    """The town, the processes, the balancer in front of them, and Telegram's deliverer."""

    world: FakeTelegram
    services: Services
    town: Town
    claire: FakeUser
    bots: dict[str, BotProcess]
    proxy: RoundRobinProxy
    delivery: WebhookDelivery
    folder: Path
    api: str
    database_url: str

    def process(self, name: str, port: int) -> BotProcess:
        """A webhook process (not started) named `name` on `port`."""
        bot = BotProcess(
            name,
            self.folder,
            api_base_url=self.api,
            database_url=self.database_url,
            env={
                "BRIGADE_RUN_MODE": "webhook",
                "BRIGADE_WEBHOOK_LISTEN": "127.0.0.1",
                "BRIGADE_WEBHOOK_PORT": str(port),
                "BRIGADE_WEBHOOK_URL": "https://brigade.example.org/",
                "BRIGADE_WEBHOOK_SECRET": SECRET,
                "BRIGADE_WAVE_SIZE": str(BROADCAST),
                "BRIGADE_COORDINATOR_IDS": str(self.claire.id),
            },
        )
        self.bots[name] = bot
        return bot

    async def start(self, name: str) -> str:
        """Start a new process, wait until it listens, put it in rotation; its upstream URL."""
        port = free_port()
        bot = self.process(name, port)
        await bot.start()
        await until_listening(port, bot)
        upstream = f"http://127.0.0.1:{port}"
        self.proxy.add(upstream)
        bot.upstream = upstream  # type: ignore[attr-defined]
        return upstream

    async def stop(self, name: str) -> None:
        """A graceful stop, as in a rolling deploy: out of rotation, then SIGTERM, exit 0."""
        bot = self.bots[name]
        self.proxy.drop(bot.upstream)  # type: ignore[attr-defined]
        bot.terminate()
        assert await bot.wait() == 0, bot_status(bot)

    def upstream(self, name: str) -> str:
        """The base URL of a process."""
        return str(self.bots[name].upstream)  # type: ignore[attr-defined]

    def logs(self) -> str:
        """Every process's output, for assertion messages."""
        return "\n".join(bot_status(bot) for bot in self.bots.values())


@asynccontextmanager
async def cluster(
    world: FakeTelegram, server: FakeBotApiServer, tmp_path: Path, postgres_url: str
) -> AsyncIterator[Cluster]:
    """Two processes A and B behind the balancer, Telegram posting to the balancer."""
    claire = world.add_user("Claire", language_code="en")
    services = new_services(
        settings_for(postgres_url, server, wave_size=BROADCAST, coordinator_ids=[claire.id])
    )
    town = await seed_town(services, world, VOLUNTEERS)
    # Sign-up places volunteers in a neighbourhood.
    async with services.database.transaction() as session:
        session.add(Neighbourhood(name="Centre-Ville", latitude=45.5667, longitude=5.9208))
    async with (
        RoundRobinProxy([]) as proxy,
        WebhookDelivery(world, f"{proxy.url}/telegram", SECRET) as delivery,
    ):
        state = Cluster(
            world,
            services,
            town,
            claire,
            {},
            proxy,
            delivery,
            tmp_path,
            api_root(server),
            postgres_url,
        )
        try:
            for name in ("A", "B"):
                state.process(name, free_port())
            for bot in state.bots.values():
                await bot.start()  # both at once: they start in parallel
            for bot in list(state.bots.values()):
                port = int(bot.env["BRIGADE_WEBHOOK_PORT"])
                await until_listening(port, bot)
                upstream = f"http://127.0.0.1:{port}"
                bot.upstream = upstream  # type: ignore[attr-defined]
                proxy.add(upstream)
            # Claire says /start, so that she exists (and receives application cards).
            _record(claire, claire.send_command("start"))
            await claire.expect_message(timeout=WAIT)
            yield state
        finally:
            for bot in state.bots.values():
                await bot.stop()
            await services.database.dispose()


# Who sent each update (the fake world does not keep it once delivered).
_SENDERS: dict[int, int] = {}


def _record(person: FakeUser, update: dict[str, object]) -> None:
    """Note who sent an update (returned by send_text, tap…)."""
    update_id = update.get("update_id")
    assert isinstance(update_id, int)
    _SENDERS[update_id] = person.id


async def _post_a_request(rita: FakeUser, name: str) -> str:
    """Rita's /new for someone new, by pin, up to Publish; returns the confirmation."""
    _record(rita, rita.send_command("new"))
    await rita.expect_message("Who is the request for?", timeout=WAIT)
    _record(rita, rita.tap("➕ Someone new"))
    await rita.expect_message("Does the person agree", timeout=WAIT)
    _record(rita, rita.tap("Yes, they agree"))
    await rita.expect_message("name and phone number", timeout=WAIT)
    _record(rita, rita.send_text(f"{name} 04 79 00 00 00"))
    await rita.expect_message(f"Where does {name} live?", timeout=WAIT)
    _record(rita, rita.send_location(45.5667, 5.9208))
    await rita.expect_message("Anything that helps to get in", timeout=WAIT)
    _record(rita, rita.send_text("Third floor, code 1234"))
    await rita.expect_message("What kind of help is needed?", timeout=WAIT)
    _record(rita, rita.tap("Plumbing"))
    await rita.expect_message("Describe the request", timeout=WAIT)
    return await _describe_and_publish(rita, name)


async def _describe_and_publish(rita: FakeUser, name: str) -> str:
    _record(rita, rita.send_text("The kitchen tap leaks."))
    preview = await rita.expect_message("Please check the request", timeout=WAIT)
    text = preview.text or ""
    # Every earlier answer is in the draft, whichever process kept it.
    for detail in (f"Person: {name}", "04 79 00 00 00", "Access: Third floor, code 1234"):
        assert detail in text, text
    _record(rita, rita.tap(preview, "✅ Post the request"))
    posted = await rita.expect_message("is posted", timeout=WAIT)
    return posted.text or ""


async def _sign_up(world: FakeTelegram, odette: FakeUser, between: list[object]) -> None:
    """Odette's /join by pin with one skill; `between` holds coroutines run between steps."""
    steps = iter(between)

    async def pause() -> None:
        step = next(steps, None)
        if step is not None:
            await step  # type: ignore[misc]

    _record(odette, odette.send_command("join"))
    await odette.expect_message("What name should the coordinators", timeout=WAIT)
    await pause()
    _record(odette, odette.press("Use “Odette Martin”"))
    await odette.expect_message("Your phone number", timeout=WAIT)
    await pause()
    _record(odette, odette.press("Share my number"))
    await odette.expect_message("Where are you based?", timeout=WAIT)
    await pause()
    _record(odette, odette.send_location(45.5675, 5.9205))
    await odette.expect_message("What can you help with?", timeout=WAIT)
    await pause()
    _record(odette, odette.tap("Plumbing"))
    await world.wait_for(
        lambda: "✅ Plumbing" in odette.last_message.labels, WAIT, what="Plumbing ticked"
    )
    await pause()
    _record(odette, odette.tap("Shopping"))
    await world.wait_for(
        lambda: "✅ Shopping" in odette.last_message.labels, WAIT, what="Shopping ticked"
    )
    await pause()
    _record(odette, odette.tap("Done"))
    summary = await odette.expect_message("Please check your answers", timeout=WAIT)
    # Both skills ticked on different processes are in the one draft.
    assert "Skills: Plumbing, Shopping" in (summary.text or ""), summary.text
    await pause()
    _record(odette, odette.tap(summary, "I accept the charter and send my application"))
    await odette.expect_message("Your application has been sent", timeout=WAIT)


async def _announce(claire: FakeUser, text: str, audience: str) -> None:
    _record(claire, claire.send_command("announce"))
    choice = await claire.expect_message("Who should receive the announcement?", timeout=WAIT)
    _record(claire, claire.tap(choice, audience))
    await claire.expect_message("Now send the text of the announcement", timeout=WAIT)
    _record(claire, claire.send_text(text))
    preview = await claire.expect_message("Preview", timeout=WAIT)
    label = next((label for label in preview.labels if "Send to" in label), None)
    assert label is not None, (preview.text, preview.labels)
    _record(claire, claire.tap(preview, label))
    await claire.expect_message("Queued for", timeout=WAIT)


async def _stop_while_sending(c: Cluster, name: str) -> None:
    """Stop a process while the broadcast is still being sent."""
    summary = await outbox_summary(c.services)
    assert summary.get("pending", 0) > 0, summary
    await c.stop(name)


async def _more_volunteers(c: Cluster, count: int) -> list[FakeUser]:
    """`count` more approved plumbers within reach of the town centre."""
    people = [c.world.add_user(f"More{i:03d}", language_code="en") for i in range(count)]
    async with c.services.database.transaction() as session:
        for index, person in enumerate(people):
            latitude, longitude = east(0.2 + (index % 10) * 0.1)
            member = Member(
                telegram_id=person.id,
                display_name=person.first_name,
                telegram_language="en",
                latitude=latitude,
                longitude=longitude,
                radius_km=3.0,
                volunteer_status=VolunteerStatus.APPROVED,
            )
            session.add(member)
            await session.flush()
            session.add(MemberRole(member_id=member.id, role=Role.VOLUNTEER))
            session.add(VolunteerSkill(member_id=member.id, skill_id=c.town.skill_id))
    return people


async def _committed_step(services: Services, user_id: int, name: str, step: str) -> None:
    """Wait until the database holds the person's step in the conversation."""
    async with asyncio.timeout(WAIT):
        while True:
            async with services.database.read() as session:
                found = await session.execute(
                    select(ConversationState.state).where(
                        ConversationState.telegram_id == user_id,
                        ConversationState.conversation == name,
                    )
                )
                if found.scalar_one_or_none() == step:
                    return
            await asyncio.sleep(0.05)


def _routes(proxy: RoundRobinProxy, person: FakeUser) -> list[str]:
    """The process that answered each of the person's updates, in order."""
    return [
        upstream for update_id, upstream in proxy.routed if _SENDERS.get(update_id) == person.id
    ]


def _no_message_twice(world: FakeTelegram, chat_id: int) -> None:
    texts = Counter(message.text or message.caption or "" for message in world.messages_in(chat_id))
    repeated = {text: count for text, count in texts.items() if count > 1 and text}
    assert not repeated, repeated


async def test_new_sign_up_and_announce_complete_while_updates_alternate_processes(
    world: FakeTelegram, server: FakeBotApiServer, tmp_path: Path, postgres_url: str
) -> None:
    async with cluster(world, server, tmp_path, postgres_url) as c:
        rita, volunteers = c.town.referent, c.town.volunteers
        odette = world.add_user(
            "Odette", last_name="Martin", language_code="en", phone_number="+33 6 12 34 56 78"
        )
        posted = await _post_a_request(rita, "Jeanne")
        await _sign_up(world, odette, [])
        card = await c.claire.expect_message("New volunteer application", timeout=WAIT)
        assert "Odette Martin" in (card.text or "")
        await _announce(c.claire, "Meeting on Thursday at 6 pm.", f"All volunteers ({VOLUNTEERS})")
        for volunteer in volunteers:
            await volunteer.expect_message("Meeting on Thursday", timeout=WAIT)
        await drained(c.services)

        # Every step of every conversation went to the other process than the step before.
        a, b = c.upstream("A"), c.upstream("B")
        for person in (rita, odette, c.claire):
            routes = _routes(c.proxy, person)
            assert len(routes) >= 4, routes
            assert {a, b} <= set(routes), routes
            # Round robin over the two, one update at a time: strictly alternating overall.
        everything = [upstream for _, upstream in c.proxy.routed]
        assert all(x != y for x, y in itertools.pairwise(everything)), everything
        assert "volunteers received it now" in posted
        # Nothing said twice: each volunteer has one offer and one announcement.
        for volunteer in volunteers:
            texts = [message.text or "" for message in world.messages_in(volunteer.id)]
            assert sum("Meeting on Thursday" in text for text in texts) == 1, texts
            assert sum("The kitchen tap leaks" in text for text in texts) == 1, texts
        for person in (rita, odette, c.claire):
            _no_message_twice(world, person.id)
        world.assert_sound()
        print(
            f"\nalternating: {len(everything)} updates, {c.proxy.served_by(a)} on A, "
            f"{c.proxy.served_by(b)} on B"
        )


async def test_a_killed_process_leaves_the_conversation_at_the_same_step_on_the_other(
    world: FakeTelegram, server: FakeBotApiServer, tmp_path: Path, postgres_url: str
) -> None:
    async with cluster(world, server, tmp_path, postgres_url) as c:
        rita = c.town.referent
        _record(rita, rita.send_command("new"))
        await rita.expect_message("Who is the request for?", timeout=WAIT)
        _record(rita, rita.tap("➕ Someone new"))
        await rita.expect_message("Does the person agree", timeout=WAIT)
        _record(rita, rita.tap("Yes, they agree"))
        await rita.expect_message("name and phone number", timeout=WAIT)
        _record(rita, rita.send_text("Jeanne 04 79 00 00 00"))
        await rita.expect_message("Where does Jeanne live?", timeout=WAIT)
        _record(rita, rita.send_location(45.5667, 5.9208))
        await rita.expect_message("Anything that helps to get in", timeout=WAIT)
        # Between two updates (a process killed during one loses that update, as with a single
        # process: docs/deployment.md): the step is committed once the answer was handled.
        await _committed_step(c.services, rita.id, "posting", Step.B_NOTES)
        # The last answer was handled by one process: kill the one that handled it (its
        # memory holds the newest step), without any cleanup.
        last = _routes(c.proxy, rita)[-1]
        victim = next(name for name in c.bots if c.upstream(name) == last)
        survivor = next(name for name in c.bots if name != victim)
        c.bots[victim].kill()
        assert await c.bots[victim].wait() < 0
        # The balancer still sends it every other update: refused, they go to the survivor.
        _record(rita, rita.send_text("Third floor, code 1234"))
        await rita.expect_message("What kind of help is needed?", timeout=WAIT)
        _record(rita, rita.tap("Plumbing"))
        await rita.expect_message("Describe the request", timeout=WAIT)
        posted = await _describe_and_publish(rita, "Jeanne")
        assert "volunteers received it now" in posted
        for volunteer in c.town.volunteers:
            await volunteer.expect_message("The kitchen tap leaks", timeout=WAIT)
        after_kill = _routes(c.proxy, rita)[-4:]
        assert set(after_kill) == {c.upstream(survivor)}, after_kill
        assert c.proxy.refused[last] >= 1
        _no_message_twice(world, rita.id)
        world.assert_sound()


async def test_a_rolling_restart_during_a_broadcast_and_a_sign_up_loses_and_repeats_nothing(
    world: FakeTelegram, server: FakeBotApiServer, tmp_path: Path, postgres_url: str
) -> None:
    async with cluster(world, server, tmp_path, postgres_url) as c:
        # A broadcast big enough to be under way during the restart (a wave to every plumber).
        more = await _more_volunteers(c, BROADCAST - VOLUNTEERS)
        request_id = await post_request(c.services, c.town)
        odette = world.add_user(
            "Odette", last_name="Martin", language_code="en", phone_number="+33 6 12 34 56 78"
        )
        # Stop A, start A', stop B, start B': one move between each of Odette's answers.
        await _sign_up(
            world,
            odette,
            [_stop_while_sending(c, "A"), c.start("A2"), c.stop("B"), c.start("B2")],
        )
        card = await c.claire.expect_message("New volunteer application", timeout=WAIT)
        assert "Odette Martin" in (card.text or "")
        summary = await drained(c.services, PATIENCE)
        everyone = c.town.volunteers + more
        assert offer_counts(world, everyone, request_id) == [1] * len(everyone), c.logs()
        assert not summary.get("pending"), summary
        assert not summary.get("leased"), summary
        for person in (odette, c.claire, *everyone):
            _no_message_twice(world, person.id)
        # Odette's answers were served by all four processes between them.
        served = set(_routes(c.proxy, odette))
        assert len(served) >= 3, served
        world.assert_sound()
