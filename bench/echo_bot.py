"""The bare PTB floor of benchmarks 3 and 5: /help, an echo, an offer and its button's answer.

    python -m bench.echo_bot --token TOKEN --base-url http://127.0.0.1:PORT [--rate-limiter]
        [--concurrent N]

Same PTB version and polling loop as Brigade, but no database, no persistence, no translations:
what any PTB bot pays per update on this machine. `/offer` sends a message with an "I'll do it"
button (`cl:1`, the data Brigade uses) and a tap on it is answered at once, so benchmark 3 can
time 500 taps on the floor as it does on Brigade. `--rate-limiter` adds PTB's AIORateLimiter, to
tell its cost apart from Brigade's own; `--concurrent N` handles N updates at once, as Brigade's
update processor does (default: one at a time, PTB's default).
"""

from __future__ import annotations

import argparse
import logging
import sys

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
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


async def offer(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Send a request's offer: a text and one button."""
    if update.effective_message is not None:
        button = InlineKeyboardButton("I'll do it", callback_data="cl:1")
        await update.effective_message.reply_text(
            "Plumbing, near you", reply_markup=InlineKeyboardMarkup([[button]])
        )


async def answer_tap(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer a tap at once, with a fixed text."""
    if update.callback_query is not None:
        await update.callback_query.answer("Thank you")


def build(  # type: ignore[type-arg]
    token: str, base_url: str, *, rate_limiter: bool, concurrent: int = 1
) -> Application:
    """The echo bot's application."""
    builder = ApplicationBuilder().token(token).base_url(base_url.rstrip("/") + "/bot")
    if concurrent > 1:
        builder = builder.concurrent_updates(concurrent)
    if rate_limiter:
        # PTB's builder types its rate limiter generically; AIORateLimiter fits any bot.
        builder = builder.rate_limiter(AIORateLimiter(max_retries=3))  # type: ignore[arg-type]
    application = builder.build()
    application.add_handler(CommandHandler("help", help_command))
    application.add_handler(CommandHandler("offer", offer))
    application.add_handler(CallbackQueryHandler(answer_tap))
    application.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    return application


def main(argv: list[str] | None = None) -> int:
    """Run the echo bot until SIGINT."""
    parser = argparse.ArgumentParser(prog="python -m bench.echo_bot")
    parser.add_argument("--token", required=True)
    parser.add_argument("--base-url", required=True, help="the Bot API root, without /bot")
    parser.add_argument("--rate-limiter", action="store_true")
    parser.add_argument("--concurrent", type=int, default=1, help="updates handled at once (1)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    application = build(
        args.token, args.base_url, rate_limiter=args.rate_limiter, concurrent=args.concurrent
    )
    application.run_polling(allowed_updates=Update.ALL_TYPES)
    return 0


if __name__ == "__main__":
    sys.exit(main())
