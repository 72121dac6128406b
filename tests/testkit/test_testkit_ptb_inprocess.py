"""The fake driven by a real PTB application without HTTP (InProcessRequest + process_update)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from telegram import InputFile
from telegram.error import BadRequest, Forbidden, TimedOut
from telegram.ext import Application

from testkit.telegram import FakeTelegram, process_pending_updates

DemoApp = Application[Any, Any, Any, Any, Any, Any]


async def test_get_me_identifies_the_fake_bot(world: FakeTelegram, inprocess_app: DemoApp) -> None:
    assert inprocess_app.bot.username == "brigade_test_bot"
    assert inprocess_app.bot.id == world.bot_id
    assert world.calls[0].method == "getMe"


async def test_three_users_at_once_get_their_own_answer(
    world: FakeTelegram, inprocess_app: DemoApp
) -> None:
    users = [world.add_user(name) for name in ("Alice", "Bob", "Chloé")]
    for user in users:
        user.send_text(f"je suis {user.first_name}")
    processed = await process_pending_updates(inprocess_app, world, concurrently=True)
    assert len(processed) == 3
    for user in users:
        assert [m.text for m in user.inbox] == [f"echo: je suis {user.first_name}"]
    assert world.stats.sends == 3
    world.assert_sound()


async def test_tap_edits_the_right_message(world: FakeTelegram, inprocess_app: DemoApp) -> None:
    alice = world.add_user("Alice")
    bob = world.add_user("Bob")
    alice.start()
    alice.start()
    bob.start()
    await process_pending_updates(inprocess_app, world)
    first, second = alice.inbox
    assert first.labels == second.labels == ["Oui", "Non"]

    alice.tap(first, "Non")
    await process_pending_updates(inprocess_app, world)

    assert first.text == "Réponse : no"
    assert first.buttons == []
    assert [v.text for v in first.history] == ["Bienvenue Alice ! Disponible ?"]
    assert second.text == "Bienvenue Alice ! Disponible ?"
    assert second.labels == ["Oui", "Non"]
    assert bob.last_message.labels == ["Oui", "Non"]
    assert [(a.text, a.show_alert) for a in alice.callback_answers] == [("Noté : no", False)]
    assert bob.callback_answers == []
    world.assert_sound()


@pytest.mark.parametrize("app_options", [{"rate_limiter": True}])
async def test_forced_429_is_waited_out_by_aio_rate_limiter(
    world: FakeTelegram, inprocess_app: DemoApp
) -> None:
    alice = world.add_user("Alice")
    world.faults.fail("sendMessage", 429, retry_after=1, times=1)
    alice.send_text("ça marche ?")
    loop = asyncio.get_running_loop()
    started = loop.time()
    await process_pending_updates(inprocess_app, world)
    assert loop.time() - started >= 1.0
    assert [m.text for m in alice.inbox] == ["echo: ça marche ?"]
    assert [c.status for c in world.calls_to("sendMessage")] == [429, 200]
    assert world.stats.too_many_requests == 1
    assert inprocess_app.bot_data.get("errors") is None


async def test_blocked_user_raises_forbidden_and_the_fake_stays_sound(
    world: FakeTelegram, inprocess_app: DemoApp
) -> None:
    coordinator = world.add_user("Coordinatrice")
    volunteer = world.add_user("Bénévole")
    volunteer.block_bot()
    coordinator.send_command("notify", str(volunteer.id))
    await process_pending_updates(inprocess_app, world)

    errors = inprocess_app.bot_data["forbidden"]
    assert len(errors) == 1
    assert isinstance(errors[0], Forbidden)
    assert errors[0].message == "Forbidden: bot was blocked by the user"
    assert [m.text for m in coordinator.inbox] == ["destinataire injoignable"]
    assert volunteer.inbox == []
    assert world.stats.forbidden == 1

    # Everything else keeps working, and unblocking restores delivery.
    volunteer.unblock_bot()
    coordinator.send_command("notify", str(volunteer.id))
    await process_pending_updates(inprocess_app, world)
    assert [m.text for m in volunteer.inbox] == ["Une mission vous attend"]
    assert coordinator.last_message.text == "envoyé"
    world.assert_sound()


async def test_unknown_methods_are_recorded(world: FakeTelegram, inprocess_app: DemoApp) -> None:
    alice = world.add_user("Alice")
    with pytest.raises(BadRequest, match="not supported by the fake Bot API"):
        await inprocess_app.bot.send_poll(alice.id, "Dispo ?", ["oui", "non"])
    assert [c.method for c in world.unsupported_calls] == ["sendPoll"]
    assert world.unsupported_calls[0].params["question"] == "Dispo ?"


@pytest.mark.parametrize("app_options", [{"read_timeout": 0.2}])
async def test_hanging_server_times_out_in_ptb(world: FakeTelegram, inprocess_app: DemoApp) -> None:
    alice = world.add_user("Alice")
    world.faults.hang("sendMessage", 5, deliver=True)
    with pytest.raises(TimedOut):
        await inprocess_app.bot.send_message(alice.id, "arrivé ?")
    # Telegram got it even though the bot saw a timeout: a blind retry would duplicate it.
    assert [m.text for m in alice.inbox] == ["arrivé ?"]
    await inprocess_app.bot.send_message(alice.id, "suivant")
    assert [m.text for m in alice.inbox] == ["arrivé ?", "suivant"]


async def test_upload_and_download_files(world: FakeTelegram, inprocess_app: DemoApp) -> None:
    alice = world.add_user("Alice")
    bot = inprocess_app.bot
    sent = await bot.send_document(
        alice.id,
        InputFile(b"nom;quartier\nAlice;Nord\n", filename="benevoles.csv"),
        caption="<b>Liste</b>",
        parse_mode="HTML",
    )
    assert sent.document is not None
    assert sent.document.file_name == "benevoles.csv"
    assert sent.caption == "Liste"
    stored = alice.last_message.file
    assert stored is not None
    assert stored.content == b"nom;quartier\nAlice;Nord\n"
    assert stored.filename == "benevoles.csv"

    photo = await bot.send_photo(alice.id, b"\xff\xd8fake-jpeg")
    assert len(photo.photo) == 2

    update = alice.send_photo(b"\xff\xd8user-photo")
    file_id = update["message"]["photo"][-1]["file_id"]
    telegram_file = await bot.get_file(file_id)
    assert await telegram_file.download_as_bytearray() == bytearray(b"\xff\xd8user-photo")


async def test_inline_keyboard_edit_and_menu_from_ptb(
    world: FakeTelegram, inprocess_app: DemoApp
) -> None:
    from telegram import BotCommand, BotCommandScopeChat

    alice = world.add_user("Alice", language_code="fr")
    bot = inprocess_app.bot
    await bot.set_my_commands([BotCommand("start", "Commencer")])
    await bot.set_my_commands(
        [BotCommand("missions", "Mes missions")], scope=BotCommandScopeChat(alice.id)
    )
    assert [c["command"] for c in alice.menu] == ["missions"]
    other = world.add_user("Bob")
    assert [c["command"] for c in other.menu] == ["start"]
    commands: Any = await bot.get_my_commands(scope=BotCommandScopeChat(alice.id))
    assert [c.command for c in commands] == ["missions"]

    sent = await bot.send_message(alice.id, "Étape 1")
    with pytest.raises(BadRequest, match="Message is not modified"):
        await bot.edit_message_text("Étape 1", chat_id=alice.id, message_id=sent.message_id)
    await bot.edit_message_text("Étape 2", chat_id=alice.id, message_id=sent.message_id)
    assert alice.last_message.text == "Étape 2"
