"""Telegram-facing layer: parse the update, call one service, render the answer.

`register_handlers` is the one place where every handler is attached, in the order that matters.
"""

from __future__ import annotations

from telegram import Update
from telegram.ext import (
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.callbacks import Action
from bot.context import BrigadeApplication, BrigadeContext
from handlers import errors, fallback, language, start


def _pattern(action: Action) -> str:
    """A regex that matches the callback data of one action (see bot.callbacks)."""
    return rf"^{action.value}(:|$)"


# Handlers in this group run after every other group, for every update.
AFTER_EVERYTHING = 100


async def flush_persistence(update: Update, context: BrigadeContext) -> None:
    """Write conversation states and drafts now rather than on PTB's timer (crash safety)."""
    await context.application.update_persistence()


def register_handlers(application: BrigadeApplication) -> None:
    """Attach every handler; PTB tries them in this order and stops at the first match."""
    private = filters.ChatType.PRIVATE

    # 1. Commands, private chats only (group commands come with neighbourhood groups).
    application.add_handler(CommandHandler("start", start.start, filters=private))
    application.add_handler(CommandHandler("help", start.help_command, filters=private))
    application.add_handler(CommandHandler("language", language.ask_language, filters=private))

    # 2. Inline buttons, one handler per callback action.
    application.add_handler(
        CallbackQueryHandler(language.set_language, pattern=_pattern(Action.SET_LANGUAGE))
    )

    # 3. Fallbacks, last: a tap or message nothing above took still gets an answer.
    application.add_handler(CallbackQueryHandler(fallback.stale_button))
    application.add_handler(MessageHandler(private & filters.COMMAND, fallback.unknown_command))
    application.add_handler(
        MessageHandler(
            private & ~filters.COMMAND & ~filters.StatusUpdate.ALL, fallback.unexpected_message
        )
    )

    # 4. After every update, whatever handled it: persist conversation states and drafts.
    application.add_handler(TypeHandler(Update, flush_persistence), group=AFTER_EVERYTHING)

    # 5. Errors anywhere above: log and apologise.
    application.add_error_handler(errors.on_error)
