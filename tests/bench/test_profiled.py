"""The benchmark's bot wrapper: lifting the pacing reaches the sender the application builds."""

from __future__ import annotations

from typing import Any, cast

import pytest
from telegram import Bot

from bench import profiled
from bot import app
from bot.outbox import OutboxSender
from storage.database import Database

# Far more sends at one instant than any budget of Telegram's pacing allows (burst 10).
CROWD = 1_000


def _sends_allowed_at_once(sender: Any) -> int:
    """How many direct answers the sender's budget lets through at one same instant."""
    allowed = 0
    for chat in range(CROWD):
        if sender.limiter.acquire_direct(chat, 0.0) == 0:
            allowed += 1
    return allowed


async def test_lifting_the_pacing_lets_every_send_through_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Restored after the test: _lift_pacing replaces the class bot.app builds its sender from.
    monkeypatch.setattr(app, "OutboxSender", OutboxSender)
    database, bot = cast(Database, object()), cast(Bot, object())
    paced = vars(app)["OutboxSender"](database, bot, owner="paced", clock=lambda: 0.0)
    assert _sends_allowed_at_once(paced) < 30  # Telegram's pace: about a second's worth

    profiled._lift_pacing()
    unpaced = vars(app)["OutboxSender"](database, bot, owner="unpaced", clock=lambda: 0.0)
    assert _sends_allowed_at_once(unpaced) == CROWD
    assert unpaced.limits.private_per_second == profiled.ENDLESS
