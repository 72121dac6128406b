"""The HTTP transport seen from a plain HTTP client: routing, tokens and body encodings."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import aiohttp
import pytest

from testkit.telegram import FakeBotApiServer, FakeTelegram


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(trust_env=False) as session:
        yield session


def api(server: FakeBotApiServer, world: FakeTelegram, method: str) -> str:
    return f"{server.base_url}{world.token}/{method}"


async def test_wrong_token_is_unauthorized(
    world: FakeTelegram, server: FakeBotApiServer, http: aiohttp.ClientSession
) -> None:
    async with http.post(f"{server.base_url}123:wrong/getMe") as response:
        assert response.status == 401
        assert await response.json() == {
            "ok": False,
            "error_code": 401,
            "description": "Unauthorized",
        }
    assert world.calls == []


async def test_form_encoded_reply_markup_parses(
    world: FakeTelegram, server: FakeBotApiServer, http: aiohttp.ClientSession
) -> None:
    alice = world.add_user("Alice")
    markup = {"inline_keyboard": [[{"text": "J'y vais", "callback_data": "go:42"}]]}
    form = {"chat_id": str(alice.id), "text": "Mission 42", "reply_markup": json.dumps(markup)}
    async with http.post(api(server, world, "sendMessage"), data=form) as response:
        assert response.status == 200
        body = await response.json()
    assert body["result"]["reply_markup"] == markup
    assert alice.last_message.button("J'y vais").callback_data == "go:42"


async def test_json_body_and_query_string(
    world: FakeTelegram, server: FakeBotApiServer, http: aiohttp.ClientSession
) -> None:
    alice = world.add_user("Alice")
    payload = {"chat_id": alice.id, "text": "<i>json</i>", "parse_mode": "HTML"}
    async with http.post(api(server, world, "sendMessage"), json=payload) as response:
        body = await response.json()
    assert body["result"]["entities"] == [{"type": "italic", "offset": 0, "length": 4}]
    url = api(server, world, "getChat")
    async with http.get(url, params={"chat_id": str(alice.id)}) as response:
        assert (await response.json())["result"]["first_name"] == "Alice"


async def test_multipart_upload_and_file_download(
    world: FakeTelegram, server: FakeBotApiServer, http: aiohttp.ClientSession
) -> None:
    alice = world.add_user("Alice")
    form = aiohttp.FormData()
    form.add_field("chat_id", str(alice.id))
    form.add_field("caption", "Attestation")
    form.add_field(
        "document", b"%PDF-1.4 fake", filename="attestation.pdf", content_type="application/pdf"
    )
    async with http.post(api(server, world, "sendDocument"), data=form) as response:
        assert response.status == 200
        document = (await response.json())["result"]["document"]
    assert document["file_name"] == "attestation.pdf"
    assert document["mime_type"] == "application/pdf"
    stored = alice.last_message.file
    assert stored is not None
    assert stored.content == b"%PDF-1.4 fake"

    url = api(server, world, "getFile")
    async with http.post(url, data={"file_id": document["file_id"]}) as response:
        file_path = (await response.json())["result"]["file_path"]
    async with http.get(f"{server.base_file_url}{world.token}/{file_path}") as response:
        assert response.status == 200
        assert await response.read() == b"%PDF-1.4 fake"


async def test_unknown_method_over_http(
    world: FakeTelegram, server: FakeBotApiServer, http: aiohttp.ClientSession
) -> None:
    async with http.post(api(server, world, "banChatMember"), data={"chat_id": "1"}) as response:
        assert response.status == 400
        body = await response.json()
    assert body["description"] == (
        "Not Found: method 'banChatMember' is not supported by the fake Bot API"
    )
    assert [c.method for c in world.unsupported_calls] == ["banChatMember"]


async def test_stop_cuts_long_polls_and_restart_keeps_state(
    world: FakeTelegram, server: FakeBotApiServer, http: aiohttp.ClientSession
) -> None:
    alice = world.add_user("Alice")
    alice.send_text("en attente")
    poll = asyncio.create_task(
        http.post(api(server, world, "getUpdates"), data={"offset": "999", "timeout": "30"})
    )
    await world.wait_for(
        lambda: any(c.method == "getUpdates" for c in world.active_calls), what="a long poll"
    )
    assert world.pending_updates == []  # the offset acknowledged the update for good
    await server.stop()
    try:
        response = await asyncio.wait_for(poll, 10)
    except aiohttp.ClientError:
        outcome: object = "disconnected"
    else:
        outcome = response.status
        response.release()
    # Either the connection drops or a proxy-like 502 comes back; never a long wait.
    assert outcome in ("disconnected", 502)
    assert not server.running

    await server.restart()
    alice.send_text("de retour")
    async with http.post(api(server, world, "getUpdates"), data={"offset": "0"}) as response:
        updates = (await response.json())["result"]
    assert [u["message"]["text"] for u in updates] == ["de retour"]
    assert [m.text for m in world.messages_in(alice, include_users=True)] == [
        "en attente",
        "de retour",
    ]


async def test_hang_outlasts_the_client_timeout(
    world: FakeTelegram, server: FakeBotApiServer, http: aiohttp.ClientSession
) -> None:
    alice = world.add_user("Alice")
    world.faults.hang("sendMessage", 30, deliver=True)
    form = {"chat_id": str(alice.id), "text": "livré quand même"}
    with pytest.raises(TimeoutError):
        async with http.post(
            api(server, world, "sendMessage"), data=form, timeout=aiohttp.ClientTimeout(total=0.3)
        ):
            pass
    assert alice.last_message.text == "livré quand même"
    assert world.stats.timeouts == 1
    # The server is still sleeping on that request (30 s); stopping must not wait for it.
    await asyncio.wait_for(server.stop(), 10)
    assert world.calls_to("sendMessage")[-1].cancelled
