"""What the bot says to anything no other handler took: never silence, never a crash."""

from __future__ import annotations

from telegram import Message, Update

from bot.callbacks import Callback
from bot.context import BrigadeContext
from bot.messages.correspondence import support_question
from handlers.buttons import query_of
from handlers.common import Speaker

# What may go to the coordinators (a sticker or a contact gets the plain answer).
WRITABLE_KINDS = ("text", "photo", "voice", "location")


async def unknown_command(
    update: Update, context: BrigadeContext, who: Speaker, message: Message
) -> None:
    """Answer a command this person cannot use here."""
    await message.reply_text(who._("I do not know this command. Send /help to see yours."))


async def unexpected_message(
    update: Update, context: BrigadeContext, who: Speaker, message: Message
) -> None:
    """Answer a message sent outside a conversation: offer to send it to the coordinators."""
    _ = who._
    if any(getattr(message, kind) for kind in WRITABLE_KINDS):
        # The message stays in the person's chat: the buttons name it by its id only.
        question = support_question(message.message_id, _)
        await message.reply_text(question.text, reply_markup=question.keyboard)
    else:
        await message.reply_text(
            _("I did not expect a message here. Send /help to see what you can do.")
        )


async def unrouted_button(
    update: Update, context: BrigadeContext, who: Speaker, button: Callback
) -> None:
    """Answer a well-formed tap no handler took (the route answers forged or stale data)."""
    query = query_of(update)
    await query.answer(who._("This action is not available to you."))
