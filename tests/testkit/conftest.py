"""Fixtures for the simulated-Telegram tests: a fake world, its HTTP server and a tiny PTB bot.

The bot here is deliberately not Brigade: it is the smallest real PTB application that
exercises what the fake must get right (updates, replies, inline keyboards, edits, callback
answers, errors), so these tests prove the fake against the real library.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import Forbidden
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from testkit.telegram import FakeBotApiServer, FakeTelegram, InProcessRequest

DemoApp = Application[Any, Any, Any, Any, Any, Any]


async def _start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.message is not None
    assert update.effective_user is not None
    keyboard = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton("Oui", callback_data="answer:yes"),
                InlineKeyboardButton("Non", callback_data="answer:no"),
            ]
        ]
    )
    await update.message.reply_text(
        f"Bienvenue {update.effective_user.first_name} ! Disponible ?", reply_markup=keyboard
    )


async def _answer(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None
    assert query.data is not None
    choice = query.data.split(":", 1)[1]
    await query.answer(f"Noté : {choice}")
    await query.edit_message_text(f"Réponse : {choice}")


async def _echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.message is not None
    await update.message.reply_text(f"echo: {update.message.text}")


async def _notify(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/notify <user_id>: message another user, as a coordinator's alert would."""
    assert update.message is not None
    assert context.args
    try:
        await context.bot.send_message(int(context.args[0]), "Une mission vous attend")
    except Forbidden as exc:
        context.bot_data.setdefault("forbidden", []).append(exc)
        await update.message.reply_text("destinataire injoignable")
        return
    await update.message.reply_text("envoyé")


async def _collect_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    context.bot_data.setdefault("errors", []).append(context.error)


def add_demo_handlers(app: DemoApp) -> DemoApp:
    """Install the demo bot's handlers on an application."""
    app.add_handler(CommandHandler("start", _start))
    app.add_handler(CommandHandler("notify", _notify))
    app.add_handler(CallbackQueryHandler(_answer, pattern=r"^answer:"))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, _echo))
    app.add_error_handler(_collect_error)
    return app


class _UnthrottledLimiter:
    """Stands in for aiolimiter.AsyncLimiter: never throttles, has the attributes PTB uses."""

    def __init__(self, max_rate: float, time_period: float = 60) -> None:
        self.max_rate = max_rate
        self.time_period = time_period

    def has_capacity(self, amount: float = 1) -> bool:
        return True

    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, *exc_info: object) -> None:
        return None


def make_rate_limiter(monkeypatch: pytest.MonkeyPatch) -> AIORateLimiter:
    """PTB's AIORateLimiter(max_retries=2), even where its aiolimiter extra is missing."""
    # Opt in to PTB's timedelta retry_after, which its limiter reads (the int form warns).
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    try:
        import aiolimiter  # noqa: F401
    except ImportError:
        # The project does not install PTB's "rate-limiter" extra. What these tests need is
        # PTB's own retry-after-429 loop, which does not depend on aiolimiter's pacing, so a
        # never-throttling stand-in is swapped in for the missing class.
        import telegram.ext._aioratelimiter as aio_module

        monkeypatch.setattr(aio_module, "AIO_LIMITER_AVAILABLE", True)
        monkeypatch.setattr(aio_module, "AsyncLimiter", _UnthrottledLimiter, raising=False)
    return AIORateLimiter(max_retries=2)


@pytest.fixture
def world() -> FakeTelegram:
    """A fresh simulated Telegram."""
    return FakeTelegram()


@pytest.fixture
def app_options() -> dict[str, Any]:
    """Options for the app fixtures; override with parametrize (e.g. {"rate_limiter": True})."""
    return {}


def _configure(builder: Any, options: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> DemoApp:
    if options.get("rate_limiter"):
        builder = builder.rate_limiter(make_rate_limiter(monkeypatch))
    return add_demo_handlers(builder.build())


@pytest.fixture
async def inprocess_app(
    world: FakeTelegram, app_options: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[DemoApp]:
    """The demo bot wired to the world without HTTP; tests feed it updates themselves."""
    read_timeout = app_options.get("read_timeout", 5.0)
    builder = (
        ApplicationBuilder()
        .token(world.token)
        .request(InProcessRequest(world, read_timeout=read_timeout))
        .get_updates_request(InProcessRequest(world, read_timeout=read_timeout))
        .updater(None)
    )
    app = _configure(builder, app_options, monkeypatch)
    await app.initialize()
    try:
        yield app
    finally:
        await app.shutdown()


@pytest.fixture
async def server(world: FakeTelegram) -> AsyncIterator[FakeBotApiServer]:
    """The world served over HTTP on 127.0.0.1."""
    fake_server = FakeBotApiServer(world)
    await fake_server.start()
    try:
        yield fake_server
    finally:
        await fake_server.stop()


@pytest.fixture
async def polling_app(
    world: FakeTelegram,
    server: FakeBotApiServer,
    app_options: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[DemoApp]:
    """The demo bot long-polling the fake server over real HTTP (httpx)."""
    # A proxy from the environment must not intercept requests to 127.0.0.1.
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    builder = (
        ApplicationBuilder()
        .token(world.token)
        .base_url(server.base_url)
        .base_file_url(server.base_file_url)
    )
    app = _configure(builder, app_options, monkeypatch)
    await app.initialize()
    try:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0, timeout=1)
        yield app
    finally:
        if app.updater is not None and app.updater.running:
            await app.updater.stop()
        if app.running:
            await app.stop()
        await app.shutdown()
