"""The baseline of benchmark 5: a bare PTB bot answering /help and echoing text, nothing else.

    python -m bench.echo_bot --token TOKEN --base-url http://127.0.0.1:PORT [--rate-limiter]

Same PTB version, same polling loop and same defaults as Brigade (updates handled one at a time),
but no database, no persistence, no translations. `--rate-limiter` adds PTB's AIORateLimiter,
as Brigade's application has, to tell its cost apart from Brigade's own.
"""

from __future__ import annotations

import argparse
import logging
import sys

from telegram import Update
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

HELP = "Your commands:\n/start — Start\n/help — Your commands\n/language — Choose your language"


async def help_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer /help with a fixed list."""
    if update.effective_message is not None:
        await update.effective_message.reply_text(HELP)


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Say the text back."""
    message = update.effective_message
    if message is not None and message.text:
        await message.reply_text(message.text)


def build(token: str, base_url: str, *, rate_limiter: bool) -> Application:  # type: ignore[type-arg]
    """The echo bot's application."""
    builder = ApplicationBuilder().token(token).base_url(base_url.rstrip("/") + "/bot")
    if rate_limiter:
        # PTB's builder types its rate limiter generically; AIORateLimiter fits any bot.
        builder = builder.rate_limiter(AIORateLimiter(max_retries=3))  # type: ignore[arg-type]
    application = builder.build()
    application.add_handler(CommandHandler("help", help_command))
    application.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    return application


def main(argv: list[str] | None = None) -> int:
    """Run the echo bot until SIGINT."""
    parser = argparse.ArgumentParser(prog="python -m bench.echo_bot")
    parser.add_argument("--token", required=True)
    parser.add_argument("--base-url", required=True, help="the Bot API root, without /bot")
    parser.add_argument("--rate-limiter", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    build(args.token, args.base_url, rate_limiter=args.rate_limiter).run_polling(
        allowed_updates=Update.ALL_TYPES
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
