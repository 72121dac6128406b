"""What the bot says to anything no other handler took: never silence, never a crash."""

from __future__ import annotations

from telegram import Message, Update

from bot.callbacks import Callback
from bot.context import BrigadeContext
from handlers.buttons import query_of
from handlers.common import Speaker
from handlers.drafts import expired_notice


async def unknown_command(
    update: Update, context: BrigadeContext, who: Speaker, message: Message
) -> None:
    """Answer a command this person cannot use here."""
    await message.reply_text(who._("I do not know this command. Send /help to see yours."))


async def unexpected_message(
    update: Update, context: BrigadeContext, who: Speaker, message: Message
) -> None:
    """Answer text, stickers, photos… sent outside a conversation."""
    await message.reply_text(
        expired_notice(context, who.member.telegram_id, who._)
        or who._("I did not expect a message here. Send /help to see what you can do.")
    )


async def unrouted_button(
    update: Update, context: BrigadeContext, who: Speaker, button: Callback
) -> None:
    """Answer a well-formed tap no handler took (the route answers forged or stale data)."""
    query = query_of(update)
    await query.answer(
        expired_notice(context, who.member.telegram_id, who._)
        or who._("This action is not available to you.")
    )
