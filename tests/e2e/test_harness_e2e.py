"""The real bot over HTTP: concurrency, taps, Telegram's errors and a server restart."""

from __future__ import annotations

import asyncio

import pytest

from testkit.harness import PollingBrigade
from testkit.telegram import FakeBotApiServer, FakeTelegram

pytestmark = pytest.mark.e2e


async def test_three_people_at_once_each_get_only_their_own_answer(
    world: FakeTelegram, live: PollingBrigade
) -> None:
    people = [
        world.add_user(name, language_code=lang)
        for name, lang in (("Ana", "fr"), ("Bram", "nl"), ("Tom", "en"))
    ]
    for person in people:
        person.send_command("start")
    replies = await asyncio.gather(*(person.expect_message() for person in people))
    assert replies[0].text.startswith("Bonjour Ana\u202f!")
    assert replies[1].text.startswith("Dag Bram!")
    assert replies[2].text.startswith("Hello Tom!")
    for person in people:
        assert len(person.inbox) == 1
    world.assert_sound()


async def test_a_tap_edits_the_right_message(world: FakeTelegram, live: PollingBrigade) -> None:
    ana, tom = world.add_user("Ana"), world.add_user("Tom", language_code="en")
    for person in (ana, tom):
        person.send_command("language")
    await ana.expect_message("Choisissez")
    await tom.expect_message("Choose")
    ana_menu = ana.last_message
    ana.tap(ana_menu, "English")
    await world.wait_for(lambda: ana.last_message.text == "Language set: English.", what="edit")
    assert ana.last_message.message_id == ana_menu.message_id  # edited in place
    assert tom.last_message.text == "Choose your language:"  # untouched
    assert [answer.text for answer in ana.callback_answers] == [None]


async def test_a_forced_429_is_waited_out_and_the_answer_arrives_once(
    world: FakeTelegram, live: PollingBrigade
) -> None:
    ana = world.add_user("Ana")
    world.faults.fail("sendMessage", status=429, retry_after=1, times=1)
    ana.send_command("start")
    reply = await ana.expect_message("Bonjour", timeout=10)
    assert reply.text.startswith("Bonjour Ana")
    statuses = [call.status for call in world.calls_to("sendMessage")]
    assert statuses == [429, 200]
    assert len(ana.inbox) == 1


async def test_a_person_who_blocked_the_bot_is_marked_unreachable(
    world: FakeTelegram, live: PollingBrigade
) -> None:
    ana, tom = world.add_user("Ana"), world.add_user("Tom")
    ana.send_command("start")
    await ana.expect_message()
    ana.block_bot()
    ana.send_command("help")  # e.g. an old update still in the queue
    await world.wait_for(
        lambda: any(c.status == 403 for c in world.calls_to("sendMessage")), what="a 403"
    )

    # The error handler marks her after the 403; poll the database briefly for it.
    for _ in range(100):
        if not await _reachable(live, ana.id):
            break
        await asyncio.sleep(0.05)
    assert not await _reachable(live, ana.id)
    # The bot keeps serving everyone else.
    tom.send_command("start")
    assert (await tom.expect_message()).text.startswith("Bonjour Tom")


async def _reachable(live: PollingBrigade, telegram_id: int) -> bool:
    from sqlalchemy import select

    from storage.models import Member

    async with live.services.database.read() as session:
        return bool(
            (
                await session.execute(
                    select(Member.reachable).where(Member.telegram_id == telegram_id)
                )
            ).scalar_one()
        )


async def test_the_bot_keeps_working_after_the_api_server_restarts(
    world: FakeTelegram, server: FakeBotApiServer, live: PollingBrigade
) -> None:
    ana = world.add_user("Ana")
    ana.send_command("start")
    await ana.expect_message()
    await server.restart()
    ana.send_command("help")
    reply = await ana.expect_message(timeout=15)
    assert reply.text.startswith("Vos commandes")
