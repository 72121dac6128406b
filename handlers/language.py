"""/language: each member chooses French, English or Dutch."""

from __future__ import annotations

from telegram import InlineKeyboardMarkup, Message, Update

from bot.callbacks import Action, Callback
from bot.context import BrigadeContext
from bot.i18n import LANGUAGE_NAMES
from bot.menus import set_member_menu
from handlers.buttons import inline_button, query_of
from handlers.common import NO_LONGER_VALID, Speaker


def language_keyboard(languages: tuple[str, ...], current: str) -> InlineKeyboardMarkup:
    """One button per language, the current one ticked."""
    return InlineKeyboardMarkup(
        [
            [
                inline_button(
                    ("✓ " if language == current else "") + LANGUAGE_NAMES[language],
                    Action.SET_LANGUAGE,
                    language,
                )
            ]
            for language in languages
        ]
    )


async def ask_language(
    update: Update, context: BrigadeContext, who: Speaker, message: Message
) -> None:
    """Show the language buttons."""
    await message.reply_text(
        who._("Choose your language:"),
        reply_markup=language_keyboard(context.services.i18n.languages, who._.language),
    )


async def set_language(
    update: Update, context: BrigadeContext, who: Speaker, button: Callback
) -> None:
    """Store the tapped language and confirm in it."""
    query = query_of(update)
    services = context.services
    language = button.str_arg(0)
    if language not in services.i18n.languages:
        await query.answer(who._(NO_LONGER_VALID))
        return
    # The route identified the person first, which creates the member if this tap is the first
    # thing they ever did. (In a group the tap never gets here: handlers/gate.py refuses it.)
    member = await services.members.set_language(who.member.telegram_id, language)
    if member is None:
        return
    _ = services.i18n.translator(language)
    await query.answer()
    text = _("Language set: {language}.", language=LANGUAGE_NAMES[language])
    keyboard = language_keyboard(services.i18n.languages, language)
    tapped = query.message
    if isinstance(tapped, Message) and tapped.text is not None:
        await query.edit_message_text(text, reply_markup=keyboard)
    else:
        # Data forged onto a message without text (a /mydata document, a photo): nothing there
        # can be edited into the confirmation, so it comes as a message of its own.
        await context.bot.send_message(who.member.telegram_id, text, reply_markup=keyboard)
    await set_member_menu(context.bot, services.i18n, member)
