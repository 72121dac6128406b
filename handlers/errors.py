"""The error handler: log what went wrong (never the token) and apologise to the person."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import Forbidden, TelegramError

from bot.context import BrigadeContext

log = logging.getLogger(__name__)


async def on_error(update: object, context: BrigadeContext) -> None:
    """Log the exception and tell the person, in their language, that it failed."""
    update_id = update.update_id if isinstance(update, Update) else None
    services = context.services
    if isinstance(context.error, Forbidden):
        # Blocked by the person (or removed from the group): permanent, never retried.
        chat = update.effective_chat if isinstance(update, Update) else None
        log.info("the bot may not write to chat %s: %s", chat.id if chat else None, context.error)
        if chat is not None and chat.type == "private":
            await services.members.mark_unreachable(chat.id)
        return
    log.error("error while handling update %s", update_id, exc_info=context.error)
    if not isinstance(update, Update) or update.effective_user is None:
        return
    user = update.effective_user
    chosen: str | None = None
    try:
        member = await services.members.find(user.id)
        chosen = member.chosen_language if member else None
    except Exception:  # the database may be what failed; fall back to Telegram's language
        log.debug("could not read the language of user %s", user.id, exc_info=True)
    _ = services.i18n.for_user(chosen, user.language_code)
    apology = _("Sorry, something went wrong on our side. Please try again in a moment.")
    if update.callback_query is not None:
        try:
            await update.callback_query.answer(apology, show_alert=True)
            return
        except TelegramError:
            # The handler had answered the tap before what failed (a write, say): a tap is
            # answered once, so the apology goes to the person's private chat instead.
            pass
    chat = update.effective_chat
    # Never in a group: the person who failed is told alone.
    target = chat.id if chat is not None and chat.type == "private" else user.id
    try:
        await context.bot.send_message(target, apology)
    except TelegramError:
        log.warning("could not send the apology for update %s", update_id)
