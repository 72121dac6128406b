"""Blocked or back: `my_chat_member` updates say when a person blocks or unblocks the bot."""

from __future__ import annotations

from telegram import ChatMember, Update

from bot.context import BrigadeContext
from handlers.common import identity_of


async def on_my_chat_member(update: Update, context: BrigadeContext) -> None:
    """Mark a person unreachable when they block the bot, reachable when they come back."""
    change = update.my_chat_member
    if change is None or change.chat.type != "private":
        return
    members = context.services.members
    if change.new_chat_member.status == ChatMember.BANNED:
        await members.mark_unreachable(change.from_user.id)
    elif change.new_chat_member.status == ChatMember.MEMBER:
        await members.identify(identity_of(change.from_user))
