"""Neighbourhood group chats: a coordinator runs /link in a group to attach it."""

from __future__ import annotations

import logging

from telegram import ChatMember, InlineKeyboardMarkup, Message, Update
from telegram.error import TelegramError

from bot.callbacks import Action, Callback
from bot.context import BrigadeContext
from bot.domain.vocabulary import Role
from bot.services.outcomes import Outcome
from handlers.buttons import inline_button
from handlers.common import NO_LONGER_VALID, Speaker

log = logging.getLogger(__name__)


async def _bot_may_post(context: BrigadeContext, chat_id: int) -> bool:
    """Whether the bot is in the group and allowed to send messages there."""
    try:
        me = await context.bot.get_chat_member(chat_id, context.bot.id)
    except TelegramError as error:
        log.info("cannot read the bot's membership in %s: %s", chat_id, error)
        return False
    if me.status == ChatMember.ADMINISTRATOR or me.status == ChatMember.OWNER:
        return True
    if me.status == ChatMember.MEMBER:
        return True
    if me.status == ChatMember.RESTRICTED:
        return bool(getattr(me, "can_send_messages", False))
    return False


async def link(update: Update, context: BrigadeContext, who: Speaker, message: Message) -> None:
    """Offer the neighbourhoods this group can be attached to (coordinators only)."""
    chat = message.chat
    _ = who._
    if Role.COORDINATOR not in who.member.roles:
        await message.reply_text(_("Only a coordinator can link this group to a neighbourhood."))
        return
    if not await _bot_may_post(context, chat.id):
        # Saying so in the group would fail for the same reason: tell the coordinator privately.
        try:
            await context.bot.send_message(
                who.member.telegram_id,
                _(
                    "I cannot post in the group “{title}”. Make me a member allowed to send "
                    "messages there, then send /link in it again.",
                    title=chat.title or "",
                ),
            )
        except TelegramError as error:
            log.info(
                "could not tell coordinator %s about group %s: %s", who.member.id, chat.id, error
            )
        return
    neighbourhoods = await context.services.neighbourhoods.all()
    if not neighbourhoods:
        await message.reply_text(
            _("There is no neighbourhood yet: create one with /neighbourhoods in our private chat.")
        )
        return
    rows = [
        [
            inline_button(
                ("✓ " if view.group_chat_id == chat.id else "") + view.name,
                Action.LINK_GROUP,
                view.id,
            )
        ]
        for view in neighbourhoods
    ]
    await message.reply_text(
        _("Which neighbourhood is this group for? Its requests will be posted here."),
        reply_markup=InlineKeyboardMarkup(rows),
    )


async def on_link_button(
    update: Update, context: BrigadeContext, who: Speaker, button: Callback
) -> None:
    """Attach the group to the tapped neighbourhood, if the person tapping is a coordinator."""
    query, chat = update.callback_query, update.effective_chat
    assert query is not None
    _ = who._
    if chat is None or chat.type == "private":
        await query.answer(_(NO_LONGER_VALID))
        return
    neighbourhood_id = button.int_arg(0)
    outcome = await context.services.neighbourhoods.link_group(
        who.member.telegram_id, neighbourhood_id, chat.id
    )
    if outcome is Outcome.NOT_ALLOWED:
        await query.answer(
            _("Only a coordinator can link this group to a neighbourhood."), show_alert=True
        )
        return
    if outcome is Outcome.NOT_FOUND:
        await query.answer(_("This neighbourhood no longer exists."), show_alert=True)
        return
    linked = await context.services.neighbourhoods.by_group_chat(chat.id)
    name = linked.name if linked else ""
    await query.answer()
    await query.edit_message_text(
        _(
            "This group is now the group of the neighbourhood {name}. Its requests will be "
            "posted here, with a button to take them.",
            name=name,
        )
    )
