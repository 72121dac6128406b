"""The fake served over HTTP to a real PTB application in long-polling mode."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from telegram.ext import Application

from testkit.harness import updates_handled
from testkit.telegram import FakeBotApiServer, FakeTelegram

DemoApp = Application[Any, Any, Any, Any, Any, Any]


async def test_three_users_writing_at_once(world: FakeTelegram, polling_app: DemoApp) -> None:
    users = [world.add_user(name) for name in ("Alice", "Bob", "Chloé")]
    for user in users:
        user.send_text(f"bonjour de {user.first_name}")
    replies = await asyncio.gather(*(user.expect_message("echo") for user in users))
    for user, reply in zip(users, replies, strict=True):
        assert reply.text == f"echo: bonjour de {user.first_name}"
        assert len(user.inbox) == 1
    assert {c.method for c in world.calls} >= {"getMe", "deleteWebhook", "getUpdates"}
    world.assert_sound()


async def test_tap_edits_the_right_message_over_http(
    world: FakeTelegram, polling_app: DemoApp
) -> None:
    alice = world.add_user("Alice")
    alice.start()
    first = await alice.expect_message("Bienvenue")
    alice.start()
    second = await alice.expect_message("Bienvenue")
    alice.tap(second, "Oui")
    await world.wait_for(lambda: second.text == "Réponse : yes", what="the edit")
    await world.wait_for(lambda: len(alice.callback_answers) == 1, what="the callback answer")
    assert first.labels == ["Oui", "Non"]
    assert second.buttons == []
    assert alice.callback_answers[0].text == "Noté : yes"
    world.assert_sound()


async def test_answer_to_waits_for_that_tap_not_an_earlier_one(
    world: FakeTelegram, polling_app: DemoApp
) -> None:
    alice = world.add_user("Alice")
    alice.start()
    first = await alice.expect_message("Bienvenue")
    alice.start()
    second = await alice.expect_message("Bienvenue")
    yes = alice.tap(first, "Oui")
    assert await alice.answer_to(yes) == "Noté : yes"
    # The earlier answer is there already; the helper still waits for the new tap's own.
    no = alice.tap(second, "Non")
    assert await alice.answer_to(no) == "Noté : no"
    assert [a.text for a in alice.callback_answers] == ["Noté : yes", "Noté : no"]
    with pytest.raises(AssertionError, match="timed out"):
        await alice.answer_to({"callback_query": {"id": "never-sent"}}, timeout=0.2)


@pytest.mark.parametrize("app_options", [{"rate_limiter": True}])
async def test_forced_429_is_retried_once_over_http(
    world: FakeTelegram, polling_app: DemoApp
) -> None:
    alice = world.add_user("Alice")
    world.faults.fail("sendMessage", 429, retry_after=1)
    alice.send_text("urgent")
    reply = await alice.expect_message("echo", timeout=5)
    assert reply.text == "echo: urgent"
    # Once the update is handled, its retries are over: a duplicate send would be there.
    await updates_handled(polling_app, world)
    assert len(alice.inbox) == 1
    assert [c.status for c in world.calls_to("sendMessage")] == [429, 200]


async def test_forbidden_over_http(world: FakeTelegram, polling_app: DemoApp) -> None:
    coordinator = world.add_user("Coordinatrice")
    volunteer = world.add_user("Bénévole")
    volunteer.block_bot()
    coordinator.send_command("notify", str(volunteer.id))
    reply = await coordinator.expect_message()
    assert reply.text == "destinataire injoignable"
    assert str(polling_app.bot_data["forbidden"][0]) == "Forbidden: bot was blocked by the user"
    coordinator.send_text("toujours là ?")
    assert (await coordinator.expect_message()).text == "echo: toujours là ?"


async def test_polling_survives_server_restart(
    world: FakeTelegram, server: FakeBotApiServer, polling_app: DemoApp
) -> None:
    alice = world.add_user("Alice")
    alice.send_text("avant")
    assert (await alice.expect_message()).text == "echo: avant"
    port = server.port
    await server.restart()
    assert server.port == port
    alice.send_text("après")
    # PTB backs off about a second after the connection drops, then polls again.
    assert (await alice.expect_message(timeout=10)).text == "echo: après"
    assert [m.text for m in alice.inbox] == ["echo: avant", "echo: après"]
