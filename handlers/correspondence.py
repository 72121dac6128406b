"""Buttons around writing through the bot: "Send this to the coordinators?" and a new
referent's "No" to showing their phone (the writing itself is conversations/write.py)."""

from __future__ import annotations

from telegram import Message, Update

from bot.callbacks import Callback
from bot.context import BrigadeContext
from bot.messages.correspondence import SUPPORT_KEPT, refusal, sent_note
from bot.services.outcomes import Outcome
from handlers.buttons import query_of
from handlers.common import NO_LONGER_VALID, Speaker


async def on_support(
    update: Update, context: BrigadeContext, who: Speaker, button: Callback
) -> None:
    """ "📨 Send it" copies the message to the coordinators; "No" keeps it; the question says so."""
    query = query_of(update)
    _ = who._
    verb, message_id = button.str_arg(0), button.int_arg(1)
    if verb != "send":
        await query.answer()
        await query.edit_message_text(_(SUPPORT_KEPT))
        return
    opening = await context.services.correspondence.to_coordinators(
        who.member.telegram_id, message_id
    )
    done = opening.outcome is Outcome.DONE
    text = sent_note(opening, _) if done else refusal(opening, _)
    await query.answer(text if not done else None, show_alert=not done)
    if done or opening.outcome is Outcome.ALREADY_DONE:
        await query.edit_message_text(sent_note(opening, _))


async def on_phone_hidden(
    update: Update, context: BrigadeContext, who: Speaker, button: Callback
) -> None:
    """A referent's "No": their phone is not shown to their claimers; the question says so."""
    query = query_of(update)
    _ = who._
    outcome = await context.services.correspondence.share_phone(who.member.telegram_id, None)
    if outcome is not Outcome.DONE:
        await query.answer(_(NO_LONGER_VALID))
        return
    await query.answer()
    # The welcome stays; the question's answer is added under it, and its buttons go.
    message = query.message
    welcome = message.text if isinstance(message, Message) and message.text else ""
    note = _("Understood: your phone is not shown. Volunteers write to you through the bot.")
    await query.edit_message_text(welcome + "\n\n" + note)
