"""What the bot says to anything no other handler took: never silence, never a crash."""

from __future__ import annotations

from telegram import Update

from bot import callbacks
from bot.context import BrigadeContext
from handlers.common import speaker
from handlers.drafts import expired_notice


async def unknown_command(update: Update, context: BrigadeContext) -> None:
    """Answer a command this person cannot use here."""
    who = await speaker(update, context)
    if who is None or update.effective_message is None:
        return
    await update.effective_message.reply_text(
        who._("I do not know this command. Send /help to see yours.")
    )


async def unexpected_message(update: Update, context: BrigadeContext) -> None:
    """Answer text, stickers, photos… sent outside a conversation."""
    who = await speaker(update, context)
    if who is None or update.effective_message is None:
        return
    await update.effective_message.reply_text(
        expired_notice(context, who.member.telegram_id, who._)
        or who._("I did not expect a message here. Send /help to see what you can do.")
    )


async def stale_button(update: Update, context: BrigadeContext) -> None:
    """Answer a tap on a button no handler recognises (old layout or forged data)."""
    query = update.callback_query
    if query is None:
        return
    who = await speaker(update, context)
    text = who._("This button is no longer valid.") if who else None
    if callbacks.parse(query.data) is not None and who is not None:
        text = expired_notice(context, who.member.telegram_id, who._) or who._(
            "This action is not available to you."
        )
    await query.answer(text, show_alert=False)
