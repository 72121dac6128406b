"""Webhook mode: updates need Telegram's secret header; with it they are handled."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import aiohttp
import pytest

from bot.app import build_application, webhook_arguments
from testkit.geocoder import FakeGeocoder
from testkit.harness import brigade_settings, sqlite_url
from testkit.telegram import FakeBotApiServer, FakeTelegram

pytestmark = pytest.mark.e2e
SECRET = "s3cret-Header_value-0123456789abcdef"  # 40 characters of the allowed alphabet


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_webhook_refuses_updates_without_the_secret_and_handles_the_others(
    world: FakeTelegram, server: FakeBotApiServer, tmp_path: Path
) -> None:
    port = _free_port()
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
    ana = world.add_user("Ana")
    update = ana.send_command("start")
    world.pop_updates()  # delivered by POST below, not by polling
    await app.initialize()
    assert app.updater is not None
    await app.updater.start_webhook(**webhook_arguments(settings))
    await app.start()
    try:
        assert world.webhook_url == "https://brigade.example.org/telegram"
        url = f"http://127.0.0.1:{port}/telegram"
        body = json.dumps(update)
        headers = {"Content-Type": "application/json"}
        async with aiohttp.ClientSession() as http:
            async with http.post(url, data=body, headers=headers) as refused:
                assert refused.status == 403
            wrong = headers | {"X-Telegram-Bot-Api-Secret-Token": "guess"}
            async with http.post(url, data=body, headers=wrong) as refused_again:
                assert refused_again.status == 403
            assert ana.inbox == []
            right = headers | {"X-Telegram-Bot-Api-Secret-Token": SECRET}
            async with http.post(url, data=body, headers=right) as accepted:
                assert accepted.status == 200
        reply = await ana.expect_message("Bonjour Ana")
        assert reply.chat_id == ana.id
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()
        if app.post_shutdown:
            await app.post_shutdown(app)


async def test_webhook_answers_400_to_a_body_that_is_not_json_and_keeps_serving(
    world: FakeTelegram, server: FakeBotApiServer, tmp_path: Path
) -> None:
    port = _free_port()
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
    ana = world.add_user("Ana")
    update = ana.send_command("start")
    world.pop_updates()  # delivered by POST below, not by polling
    await app.initialize()
    assert app.updater is not None
    await app.updater.start_webhook(**webhook_arguments(settings))
    await app.start()
    try:
        url = f"http://127.0.0.1:{port}/telegram"
        json_type = {"Content-Type": "application/json"}
        right = json_type | {"X-Telegram-Bot-Api-Secret-Token": SECRET}
        async with aiohttp.ClientSession() as http:
            for body in [b'{"update_id": 1, "message": ', b"\xff\xfe{}", b"", b"[" * 50_000]:
                async with http.post(url, data=body, headers=right) as malformed:
                    assert malformed.status == 400, body[:30]
            # Without the secret, the body is not even looked at.
            async with http.post(url, data=b"{", headers=json_type) as refused:
                assert refused.status == 403
            async with http.post(url, data=json.dumps(update), headers=right) as accepted:
                assert accepted.status == 200
        await ana.expect_message("Bonjour Ana")
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()
        if app.post_shutdown:
            await app.post_shutdown(app)
