"""What PTB keeps in memory about a person's conversations, dropped when the database's goes.

PTB loads conversation states and drafts (`user_data`) once, at start, and writes its own copy
back after every update: deleting the rows alone would not do, the next update would bring them
back. `/forget` and the expiry of abandoned drafts both go through `forget_in_memory`. The person
whose conversation expired is told at once, through the outbox (`RetentionService.expire_drafts`).
"""

from __future__ import annotations

from typing import Any

from telegram.ext import Application, ConversationHandler

from bot.context import SERVICES_KEY, Services


def forget_in_memory(application: Application[Any, Any, Any, Any, Any, Any], user_id: int) -> None:
    """Drop what PTB holds about the person in memory: drafts and conversation states."""
    for handlers in application.handlers.values():
        for handler in handlers:
            if not isinstance(handler, ConversationHandler):
                continue
            # PTB offers no public way to end someone's conversation from outside it. Deleting
            # from its (tracking) dict ends it and makes PTB drop the persisted state too.
            conversations = handler._conversations
            for key in [key for key in conversations if user_id in key]:
                del conversations[key]
    application.drop_user_data(user_id)
    # A private chat's id is the user's id; chat data is not persisted but may sit in memory.
    application.drop_chat_data(user_id)


async def drop_expired_drafts(application: Application[Any, Any, Any, Any, Any, Any]) -> int:
    """Expire abandoned drafts in the database, then in memory; returns how many people."""
    services: Services = application.bot_data[SERVICES_KEY]
    expired = await services.retention.expire_drafts()
    for user_id in expired:
        forget_in_memory(application, user_id)
    if expired:
        # Written at once, so that the person's next update starts from nothing.
        await application.update_persistence()
    return len(expired)
