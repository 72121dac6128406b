"""Command line: `python -m bot` runs the bot, `python -m bot migrate` upgrades the database,
`python -m bot secret` prints a new webhook secret."""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys

from pydantic import ValidationError
from telegram import Bot, Update
from telegram.error import InvalidToken, NetworkError, TelegramError

from bot.logging_setup import configure_logging
from bot.settings import RunMode, Settings

HOW_TO_GET_STARTED = (
    "BRIGADE_BOT_TOKEN is not set: create a bot with @BotFather in Telegram (send it /newbot), "
    "then put the token it gives you in .env as BRIGADE_BOT_TOKEN=… (see .env.example)."
)


def _fail(message: str, code: int = 2) -> int:
    print(f"brigade: {message}", file=sys.stderr)
    return code


def _load_settings() -> Settings | str:
    try:
        return Settings()
    except ValidationError as error:
        problems = "; ".join(
            f"BRIGADE_{'_'.join(str(part) for part in issue['loc']).upper()}: {issue['msg']}"
            if issue["loc"]
            else issue["msg"].removeprefix("Value error, ")
            for issue in error.errors()
        )
        return f"the configuration is invalid: {problems}"


async def _migrate(settings: Settings) -> None:
    from storage import migrate
    from storage.clock import system_clock
    from storage.database import Database

    database = Database(settings.database_url, clock=system_clock)
    try:
        await migrate.upgrade(database)
    finally:
        await database.dispose()


async def _preflight(settings: Settings) -> None:
    """Ask the Bot API who we are, so a bad token or network fails in one clear sentence."""
    assert settings.bot_token is not None
    async with Bot(
        settings.bot_token.get_secret_value(),
        base_url=settings.api_base_url,
        base_file_url=settings.api_file_url,
    ) as bot:
        await bot.get_me()


def _run(settings: Settings) -> int:
    from bot import memory

    # Before any thread starts (the preflight's name lookup runs in one): caps every arena.
    memory.limit_arenas(settings.malloc_arena_max)
    from bot.app import build_application, webhook_arguments

    try:
        asyncio.run(_preflight(settings))
        application = build_application(settings, settle_at_start=True)
        if settings.run_mode is RunMode.WEBHOOK:
            application.run_webhook(**webhook_arguments(settings), allowed_updates=Update.ALL_TYPES)
        else:
            application.run_polling(allowed_updates=Update.ALL_TYPES)
    except InvalidToken:
        return _fail("Telegram refused the token: check BRIGADE_BOT_TOKEN with @BotFather.", 1)
    except NetworkError as error:
        return _fail(
            f"cannot reach the Bot API at {settings.bot_api_base_url} ({error.message}). "
            "Check the network or BRIGADE_BOT_API_BASE_URL.",
            1,
        )
    except TelegramError as error:
        return _fail(f"Telegram answered with an error at start: {error.message}", 1)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run it; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m bot", description=__doc__)
    parser.add_argument(
        "command",
        nargs="?",
        default="run",
        choices=["run", "migrate", "secret"],
        help="default: run; secret prints a new BRIGADE_WEBHOOK_SECRET",
    )
    args = parser.parse_args(argv)
    if args.command == "secret":
        # 32 random bytes, URL-safe base64: 43 characters Telegram accepts as a secret_token.
        print(secrets.token_urlsafe(32))
        return 0
    settings = _load_settings()
    if isinstance(settings, str):
        return _fail(settings)
    hidden = [s.get_secret_value() for s in (settings.bot_token, settings.webhook_secret) if s]
    configure_logging(settings.log_level, hidden, personal_data=settings.log_personal_data)
    if args.command == "migrate":
        asyncio.run(_migrate(settings))
        print("brigade: the database is up to date.")
        return 0
    if settings.bot_token is None or not settings.bot_token.get_secret_value().strip():
        return _fail(HOW_TO_GET_STARTED)
    return _run(settings)


if __name__ == "__main__":
    sys.exit(main())
