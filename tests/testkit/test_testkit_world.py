"""The simulated Telegram's core, called directly: parameters, errors, state and updates."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from telegram import ChatFullInfo, ChatMember, Message, Update

from testkit.telegram import FakeTelegram, UploadedFile

KEYBOARD = {"inline_keyboard": [[{"text": "Oui", "callback_data": "yes"}]]}


async def send(world: FakeTelegram, chat_id: int, text: str, **extra: object) -> dict[str, object]:
    status, body = await world.call("sendMessage", {"chat_id": chat_id, "text": text, **extra})
    assert status == 200, body
    result = body["result"]
    assert isinstance(result, dict)
    return result


async def test_form_encoded_params_are_decoded(world: FakeTelegram) -> None:
    alice = world.add_user("Alice")
    # Exactly what PTB puts in a form: every value a string, nested objects as JSON.
    status, body = await world.call(
        "sendMessage",
        {
            "chat_id": str(alice.id),
            "text": "Choisissez",
            "reply_markup": json.dumps(KEYBOARD),
            "disable_notification": "true",
        },
    )
    assert status == 200
    assert body["result"]["reply_markup"] == KEYBOARD
    assert body["result"]["from"]["username"] == "brigade_test_bot"
    message = alice.last_message
    assert message.labels == ["Oui"]
    assert message.params["disable_notification"] == "true"
    # The answer is a Message PTB can parse.
    parsed = Message.de_json(body["result"], None)
    assert parsed.reply_markup is not None
    assert parsed.reply_markup.inline_keyboard[0][0].callback_data == "yes"


async def test_message_ids_are_counted_per_chat(world: FakeTelegram) -> None:
    alice, bob = world.add_user("Alice"), world.add_user("Bob")
    alice.send_text("bonjour")
    first_alice = await send(world, alice.id, "a1")
    second_alice = await send(world, alice.id, "a2")
    first_bob = await send(world, bob.id, "b1")
    assert [first_alice["message_id"], second_alice["message_id"]] == [2, 3]
    assert first_bob["message_id"] == 1
    assert abs(int(str(first_bob["date"])) - time.time()) < 5


async def test_method_names_are_case_insensitive(world: FakeTelegram) -> None:
    status, body = await world.call("getme", {})
    assert status == 200
    assert body["result"]["id"] == world.bot_id
    assert world.calls_to("getMe")[0].ok


async def test_unknown_method_and_chat(world: FakeTelegram) -> None:
    status, body = await world.call("sendPoll", {"chat_id": 1, "question": "?"})
    assert status == 400
    assert body == {
        "ok": False,
        "error_code": 400,
        "description": "Not Found: method 'sendPoll' is not supported by the fake Bot API",
    }
    assert [c.method for c in world.unsupported_calls] == ["sendPoll"]
    with pytest.raises(AssertionError, match="sendPoll"):
        world.assert_sound()

    status, body = await world.call("sendMessage", {"chat_id": 424242, "text": "hi"})
    assert (status, body["description"]) == (400, "Bad Request: chat not found")


async def test_text_validation(world: FakeTelegram) -> None:
    alice = world.add_user("Alice")
    status, body = await world.call("sendMessage", {"chat_id": alice.id, "text": "x" * 4097})
    assert (status, body["description"]) == (400, "Bad Request: message is too long")
    status, body = await world.call("sendMessage", {"chat_id": alice.id, "text": "   "})
    assert (status, body["description"]) == (400, "Bad Request: message text is empty")
    assert (await send(world, alice.id, "x" * 4096))["text"] == "x" * 4096
    # Telegram trims surrounding whitespace.
    assert (await send(world, alice.id, "  salut \n"))["text"] == "salut"


async def test_callback_data_limit(world: FakeTelegram) -> None:
    alice = world.add_user("Alice")
    too_long = {"inline_keyboard": [[{"text": "X", "callback_data": "é" * 33}]]}
    status, body = await world.call(
        "sendMessage", {"chat_id": alice.id, "text": "t", "reply_markup": json.dumps(too_long)}
    )
    assert (status, body["description"]) == (400, "Bad Request: BUTTON_DATA_INVALID")
    no_action = {"inline_keyboard": [[{"text": "X"}]]}
    status, body = await world.call(
        "sendMessage", {"chat_id": alice.id, "text": "t", "reply_markup": no_action}
    )
    assert status == 400
    assert "Text buttons are unallowed" in body["description"]
    assert alice.inbox == []


async def test_html_parse_mode(world: FakeTelegram) -> None:
    alice = world.add_user("Alice")
    result = await send(
        world,
        alice.id,
        '<b>Mission</b> pour <a href="https://example.org">toi</a> &lt;3 é',
        parse_mode="HTML",
    )
    assert result["text"] == "Mission pour toi <3 é"
    assert result["entities"] == [
        {"type": "bold", "offset": 0, "length": 7},
        {"type": "text_link", "offset": 13, "length": 3, "url": "https://example.org"},
    ]
    # An unescaped user-provided "<" breaks HTML parsing on Telegram, so here too.
    status, body = await world.call(
        "sendMessage", {"chat_id": alice.id, "text": "Jean <jean@x.fr>", "parse_mode": "HTML"}
    )
    assert status == 400
    assert body["description"].startswith("Bad Request: can't parse entities: Unsupported start")
    status, body = await world.call(
        "sendMessage", {"chat_id": alice.id, "text": "<b>gras", "parse_mode": "HTML"}
    )
    assert status == 400
    assert "Can't find end tag" in body["description"]


async def test_markdown_v2_parse_mode(world: FakeTelegram) -> None:
    alice = world.add_user("Alice")
    result = await send(world, alice.id, r"*Rendez\-vous* à 10h\.", parse_mode="MarkdownV2")
    assert result["text"] == "Rendez-vous à 10h."
    assert result["entities"] == [{"type": "bold", "offset": 0, "length": 11}]
    status, body = await world.call(
        "sendMessage", {"chat_id": alice.id, "text": "Fin.", "parse_mode": "MarkdownV2"}
    )
    assert status == 400
    assert "Character '.' is reserved" in body["description"]


async def test_edits_keep_history_and_refuse_no_change(world: FakeTelegram) -> None:
    alice = world.add_user("Alice")
    sent = await send(world, alice.id, "Question", reply_markup=json.dumps(KEYBOARD))
    edit = {"chat_id": alice.id, "message_id": sent["message_id"]}

    status, body = await world.call(
        "editMessageText", {**edit, "text": "Question", "reply_markup": KEYBOARD}
    )
    assert status == 400
    assert body["description"].startswith("Bad Request: message is not modified: ")

    status, body = await world.call("editMessageText", {**edit, "text": "Réponse : oui"})
    assert status == 200
    assert "edit_date" in body["result"]
    message = alice.last_message
    assert message.text == "Réponse : oui"
    # editMessageText without reply_markup removes the inline keyboard, as on Telegram.
    assert message.reply_markup is None
    assert [(v.text, v.reply_markup) for v in message.history] == [("Question", KEYBOARD)]

    status, body = await world.call("editMessageReplyMarkup", {**edit})
    assert status == 400
    assert "not modified" in body["description"]
    status, body = await world.call("editMessageText", {**edit, "message_id": 99, "text": "x"})
    assert (status, body["description"]) == (400, "Bad Request: message to edit not found")
    assert world.stats.edits == 1
    assert world.stats.chat(alice.id).edits == 1


async def test_user_messages_cannot_be_edited_and_deletion(world: FakeTelegram) -> None:
    alice = world.add_user("Alice")
    update = alice.send_text("bonjour")
    user_message_id = update["message"]["message_id"]
    status, body = await world.call(
        "editMessageText", {"chat_id": alice.id, "message_id": user_message_id, "text": "x"}
    )
    assert (status, body["description"]) == (400, "Bad Request: message can't be edited")

    sent = await send(world, alice.id, "Question", reply_markup=json.dumps(KEYBOARD))
    params = {"chat_id": alice.id, "message_id": sent["message_id"]}
    assert await world.call("deleteMessage", params) == (200, {"ok": True, "result": True})
    status, body = await world.call("deleteMessage", params)
    assert (status, body["description"]) == (400, "Bad Request: message to delete not found")
    assert alice.inbox == []
    assert world.messages_in(alice, include_deleted=True)[0].deleted
    with pytest.raises(AssertionError, match="no bot message"):
        alice.tap("Oui")


async def test_callback_query_flow(world: FakeTelegram) -> None:
    alice = world.add_user("Alice")
    await send(world, alice.id, "Q1", reply_markup=json.dumps(KEYBOARD))
    await send(world, alice.id, "Q2", reply_markup=json.dumps(KEYBOARD))
    update = alice.tap("Oui")
    query = update["callback_query"]
    # Defaults to the newest message having that button.
    assert query["message"]["text"] == "Q2"
    assert query["data"] == "yes"
    assert query["chat_instance"]
    parsed = Update.de_json(update, None)
    assert parsed.callback_query is not None
    assert parsed.callback_query.from_user.id == alice.id

    answer = {"callback_query_id": query["id"], "text": "Noté", "show_alert": "true"}
    assert (await world.call("answerCallbackQuery", answer))[0] == 200
    status, body = await world.call("answerCallbackQuery", answer)
    assert status == 400
    assert body["description"] == (
        "Bad Request: query is too old and response timeout expired or query ID is invalid"
    )
    assert [(a.text, a.show_alert, a.data) for a in alice.callback_answers] == [
        ("Noté", True, "yes")
    ]

    update = alice.tap("Oui")
    status, body = await world.call(
        "answerCallbackQuery",
        {"callback_query_id": update["callback_query"]["id"], "text": "x" * 201},
    )
    assert (status, body["description"]) == (400, "Bad Request: MESSAGE_TOO_LONG")

    forged = alice.tap_data(alice.inbox[0], "admin:delete_all")
    assert forged["callback_query"]["message"]["text"] == "Q1"
    assert forged["callback_query"]["data"] == "admin:delete_all"


async def test_get_updates_offset_limit_and_ack(world: FakeTelegram) -> None:
    alice = world.add_user("Alice")
    ids = [alice.send_text(f"m{i}")["update_id"] for i in range(5)]
    assert ids == sorted(ids)
    assert len(set(ids)) == 5

    async def poll(params: dict[str, object]) -> list[int]:
        status, body = await world.call("getUpdates", params)
        assert status == 200, body
        return [u["update_id"] for u in body["result"]]

    assert await poll({"limit": "2"}) == ids[:2]
    # offset acknowledges everything before it, for good.
    assert await poll({"offset": str(ids[2])}) == ids[2:]
    assert await poll({"offset": "0"}) == ids[2:]
    # A negative offset keeps only the last updates.
    assert await poll({"offset": "-1"}) == ids[4:]
    assert [u["update_id"] for u in world.pop_updates()] == ids[4:]
    assert world.pending_updates == []


async def test_get_updates_long_polls(world: FakeTelegram) -> None:
    alice = world.add_user("Alice")
    status, body = await world.call("getUpdates", {"timeout": "0.05"})
    assert (status, body["result"]) == (200, [])

    # A long poll stays open until an update arrives, then answers with it.
    poll = asyncio.create_task(world.call("getUpdates", {"timeout": 30}))
    await world.wait_for(
        lambda: any(c.method == "getUpdates" for c in world.active_calls), what="a long poll"
    )
    assert not poll.done()
    alice.send_text("réveil")
    status, body = await asyncio.wait_for(poll, 10)
    assert status == 200
    assert body["result"][0]["message"]["text"] == "réveil"


async def test_newer_get_updates_terminates_older(world: FakeTelegram) -> None:
    older = asyncio.create_task(world.call("getUpdates", {"timeout": 10}))
    await asyncio.sleep(0.02)
    newer = asyncio.create_task(world.call("getUpdates", {"timeout": 0.05}))
    status, body = await asyncio.wait_for(older, 2)
    assert status == 409
    assert "terminated by other getUpdates request" in body["description"]
    assert (await newer)[0] == 200


async def test_webhook_blocks_polling(world: FakeTelegram) -> None:
    status, body = await world.call("setWebhook", {"url": "http://example.org/hook"})
    assert status == 400
    assert "HTTPS" in body["description"]
    assert (await world.call("setWebhook", {"url": "https://example.org/hook"}))[0] == 200
    _status, body = await world.call("getWebhookInfo", {})
    assert body["result"]["url"] == "https://example.org/hook"
    status, body = await world.call("getUpdates", {})
    assert status == 409
    assert (await world.call("deleteWebhook", {"drop_pending_updates": "true"}))[0] == 200
    assert (await world.call("getUpdates", {}))[0] == 200


async def test_blocked_user(world: FakeTelegram) -> None:
    alice = world.add_user("Alice")
    update = alice.block_bot()
    parsed = Update.de_json(update, None)
    assert parsed.my_chat_member is not None
    assert parsed.my_chat_member.new_chat_member.status == "kicked"

    status, body = await world.call("sendMessage", {"chat_id": alice.id, "text": "hello"})
    assert body == {
        "ok": False,
        "error_code": 403,
        "description": "Forbidden: bot was blocked by the user",
    }
    assert status == 403
    assert world.stats.forbidden == 1
    assert world.stats.chat(alice.id).forbidden == 1
    alice.unblock_bot()
    assert (await world.call("sendMessage", {"chat_id": alice.id, "text": "re"}))[0] == 200
    assert [m.text for m in alice.inbox] == ["re"]

    stranger = world.add_user("Zoé", started=False)
    status, body = await world.call("sendMessage", {"chat_id": stranger.id, "text": "hi"})
    assert (status, body["description"]) == (
        403,
        "Forbidden: bot can't initiate conversation with a user",
    )


async def test_commands_follow_scope_rules(world: FakeTelegram) -> None:
    alice = world.add_user("Alice", language_code="fr")
    bob = world.add_user("Bob", language_code="en")
    group = world.add_group("Quartier Nord", [alice, bob])
    group.set_status(alice, "administrator")

    def commands(*names: str) -> str:
        return json.dumps([{"command": n, "description": f"{n} !"} for n in names])

    await world.call("setMyCommands", {"commands": commands("start", "help")})
    await world.call(
        "setMyCommands", {"commands": commands("start", "aide"), "language_code": "fr"}
    )
    await world.call(
        "setMyCommands",
        {
            "commands": commands("missions"),
            "scope": json.dumps({"type": "chat_administrators", "chat_id": group.id}),
        },
    )
    assert [c["command"] for c in alice.menu] == ["start", "aide"]
    assert [c["command"] for c in bob.menu] == ["start", "help"]
    assert [c["command"] for c in group.menu_for(alice)] == ["missions"]
    assert [c["command"] for c in group.menu_for(bob)] == ["start", "help"]

    _status, body = await world.call("getMyCommands", {"language_code": "fr"})
    assert [c["command"] for c in body["result"]] == ["start", "aide"]
    await world.call("deleteMyCommands", {"language_code": "fr"})
    assert [c["command"] for c in alice.menu] == ["start", "help"]

    status, body = await world.call("setMyCommands", {"commands": commands("Start")})
    assert (status, body["description"]) == (400, "Bad Request: BOT_COMMAND_INVALID")


async def test_get_chat_and_members_parse_in_ptb(world: FakeTelegram) -> None:
    alice, bob = world.add_user("Alice"), world.add_user("Bob")
    outsider = world.add_user("Carl")
    group = world.add_group("Quartier Sud", [alice, bob])
    group.set_status(bob, "creator")

    async def member(chat_id: int, user_id: int) -> ChatMember:
        status, body = await world.call("getChatMember", {"chat_id": chat_id, "user_id": user_id})
        assert status == 200, body
        return ChatMember.de_json(body["result"], None)

    assert (await member(group.id, world.bot_id)).status == "administrator"
    assert (await member(group.id, alice.id)).status == "member"
    assert (await member(group.id, bob.id)).status == "creator"
    assert (await member(group.id, outsider.id)).status == "left"
    group.set_bot_status("member")
    assert (await member(group.id, world.bot_id)).status == "member"
    group.set_status(alice, "kicked")
    assert (await member(group.id, alice.id)).status == "kicked"
    group.set_status(alice, "restricted")
    assert (await member(group.id, alice.id)).status == "restricted"

    _status, body = await world.call("getChat", {"chat_id": str(group.id)})
    info = ChatFullInfo.de_json(body["result"], None)
    assert (info.type, info.title) == ("supergroup", "Quartier Sud")
    assert group.id < 0


async def test_group_privacy_mode(world: FakeTelegram) -> None:
    alice = world.add_user("Alice")
    group = world.add_group("Entraide", [alice], bot_status="member")
    assert alice.send_text("bonjour à tous", chat=group) == {}
    assert alice.send_command("dispo", chat=group)["message"]["chat"]["id"] == group.id
    sent = await send(world, group.id, "Qui est dispo ?")
    reply_to = world.message(group.id, sent["message_id"])
    assert alice.send_text("moi", chat=group, reply_to=reply_to)["message"]["reply_to_message"]
    group.set_bot_status("administrator")
    assert alice.send_text("admin voit tout", chat=group)["message"]["text"]
    outsider = world.add_user("Zed")
    with pytest.raises(AssertionError, match="not a member"):
        outsider.send_text("hi", chat=group)


async def test_user_side_content_parses_in_ptb(world: FakeTelegram) -> None:
    alice = world.add_user("Alice", last_name="Martin", username="alice_m")
    location = Update.de_json(alice.send_location(48.85, 2.35), None).message
    contact = Update.de_json(alice.send_contact("+33611223344"), None).message
    sticker = Update.de_json(alice.send_sticker(), None).message
    photo = Update.de_json(alice.send_photo(caption="mon chat"), None).message
    command = Update.de_json(alice.send_command("start", "ref42"), None).message
    assert location is not None
    assert location.location is not None
    assert location.location.latitude == pytest.approx(48.85)
    assert contact is not None
    assert contact.contact is not None
    assert contact.contact.user_id == alice.id
    assert contact.contact.phone_number == "+33611223344"
    assert sticker is not None
    assert sticker.sticker is not None
    assert photo is not None
    assert len(photo.photo) == 2
    assert photo.caption == "mon chat"
    assert command is not None
    assert command.text == "/start ref42"
    assert command.entities[0].type == "bot_command"
    assert command.entities[0].length == len("/start")
    assert command.from_user is not None
    assert command.from_user.username == "alice_m"


async def test_reply_keyboard_press(world: FakeTelegram) -> None:
    alice = world.add_user("Alice", phone_number="+33600000001")
    keyboard = {
        "keyboard": [[{"text": "Partager mon numéro", "request_contact": True}], ["Annuler"]],
        "one_time_keyboard": True,
    }
    await send(world, alice.id, "Votre numéro ?", reply_markup=json.dumps(keyboard))
    assert alice.reply_keyboard == [["Partager mon numéro"], ["Annuler"]]
    # Reply keyboards are not part of the Message object, only inline ones are.
    assert alice.last_message.reply_markup is None
    update = alice.press("numéro")
    assert update["message"]["contact"]["phone_number"] == "+33600000001"
    assert alice.reply_keyboard == []
    with pytest.raises(AssertionError, match="no keyboard button"):
        alice.press("Annuler")


async def test_documents_and_photos_are_recorded(world: FakeTelegram) -> None:
    alice = world.add_user("Alice")
    upload = UploadedFile("planning.csv", b"jour;heure\n", "text/csv")
    status, body = await world.call(
        "sendDocument", {"chat_id": alice.id, "document": upload, "caption": "Planning"}
    )
    assert status == 200
    document = body["result"]["document"]
    assert (document["file_name"], document["file_size"]) == ("planning.csv", 11)
    stored = alice.last_message.file
    assert stored is not None
    assert stored.content == b"jour;heure\n"
    # Re-sending by file_id works, unknown ids do not.
    status, _body = await world.call(
        "sendDocument", {"chat_id": alice.id, "document": document["file_id"]}
    )
    assert status == 200
    status, body = await world.call("sendDocument", {"chat_id": alice.id, "document": "nope"})
    assert status == 400
    status, body = await world.call("getFile", {"file_id": document["file_id"]})
    assert world.file_by_path(body["result"]["file_path"]) is stored

    status, body = await world.call(
        "sendPhoto", {"chat_id": alice.id, "photo": UploadedFile("a.jpg", b"jpeg", None)}
    )
    assert status == 200
    assert len(body["result"]["photo"]) == 2
    assert world.stats.sends == 3


async def test_chat_action_and_location(world: FakeTelegram) -> None:
    alice = world.add_user("Alice")
    assert (await world.call("sendChatAction", {"chat_id": alice.id, "action": "typing"}))[0] == 200
    status, _ = await world.call("sendChatAction", {"chat_id": alice.id, "action": "dancing"})
    assert status == 400
    assert world.chat_state(alice).actions == ["typing"]
    status, body = await world.call(
        "sendLocation", {"chat_id": alice.id, "latitude": "45.76", "longitude": "4.83"}
    )
    assert status == 200
    assert body["result"]["location"] == {"latitude": 45.76, "longitude": 4.83}
    status, _ = await world.call(
        "sendLocation", {"chat_id": alice.id, "latitude": "95", "longitude": "4.83"}
    )
    assert status == 400


async def test_wait_for_wakes_on_calls_and_reports_on_timeout(world: FakeTelegram) -> None:
    alice = world.add_user("Alice")
    alice.send_text("allô ?")

    async def bot_answers_later() -> None:
        await asyncio.sleep(0.05)
        await world.call("sendMessage", {"chat_id": alice.id, "text": "oui ?"})

    task = asyncio.create_task(bot_answers_later())
    message = await alice.expect_message("oui")
    await task
    assert message.text == "oui ?"
    with pytest.raises(AssertionError) as failure:
        await world.wait_for(lambda: len(alice.inbox) > 1, timeout=0.1, what="a second reply")
    report = str(failure.value)
    assert "a second reply" in report
    assert "'allô ?'" in report
    assert "'oui ?'" in report


async def test_scripted_faults(world: FakeTelegram) -> None:
    alice = world.add_user("Alice")
    world.faults.fail("sendMessage", 500, times=2)
    params = {"chat_id": alice.id, "text": "x"}
    assert [(await world.call("sendMessage", params))[0] for _ in range(3)] == [500, 500, 200]
    assert world.stats.server_errors == 2

    world.faults.fail("sendMessage", 429, retry_after=7)
    status, body = await world.call("sendMessage", params)
    assert status == 429
    assert body == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 7",
        "parameters": {"retry_after": 7},
    }
    assert world.calls_to("sendMessage")[-1].fault == "rule:429"

    world.faults.delay("getMe", 0.05)
    delayed = asyncio.create_task(world.call("getMe", {}))
    await world.wait_for(lambda: any(c.method == "getMe" for c in world.active_calls))
    assert not delayed.done()  # held by the delay…
    assert (await delayed)[0] == 200  # …then answered normally

    # A hang that delivers: the message exists although the client never got the answer.
    world.faults.hang("sendMessage", 5, deliver=True)
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.1):
            await world.call("sendMessage", {"chat_id": alice.id, "text": "perdu ?"})
    assert alice.last_message.text == "perdu ?"
    assert world.calls_to("sendMessage")[-1].cancelled
    assert world.stats.timeouts == 1


async def test_random_faults_are_reproducible() -> None:
    async def run(seed: int) -> list[int]:
        world = FakeTelegram()
        alice = world.add_user("Alice")
        world.faults.random_faults(0.3, seed=seed, kinds=("429", "500"))
        params = {"chat_id": alice.id, "text": "x"}
        return [(await world.call("sendMessage", params))[0] for _ in range(40)]

    first, again = await run(3), await run(3)
    assert first == again
    assert set(first) == {200, 429, 500}
    assert first.count(200) >= 4
    assert first.count(200) <= 38


async def test_copy_message_sends_the_content_again_from_the_bot(world: FakeTelegram) -> None:
    alice, bob = world.add_user("Alice", username="alice"), world.add_user("Bob")
    photo = Update.de_json(alice.send_photo(caption="ma porte"), None).message
    voice = Update.de_json(alice.send_voice(duration=4), None).message
    assert photo is not None
    assert voice is not None
    keyboard = json.dumps({"inline_keyboard": [[{"text": "↩", "callback_data": "x"}]]})
    for original in (photo, voice):
        status, body = await world.call(
            "copyMessage",
            {
                "chat_id": bob.id,
                "from_chat_id": alice.id,
                "message_id": original.message_id,
                "reply_markup": keyboard,
            },
        )
        assert status == 200
        assert set(body["result"]) == {"message_id"}
    copied_photo, copied_voice = bob.inbox[-2:]
    assert copied_photo.caption == "ma porte"
    assert copied_photo.content["photo"]
    assert copied_voice.content["voice"]["duration"] == 4
    for copy in (copied_photo, copied_voice):
        assert copy.from_bot
        assert copy.labels == ["↩"]
        assert "alice" not in json.dumps(copy.to_api())
    status, _ = await world.call(
        "copyMessage", {"chat_id": bob.id, "from_chat_id": alice.id, "message_id": 999}
    )
    assert status == 400
