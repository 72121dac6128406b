"""/language: each member chooses French, English or Dutch."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from bot import callbacks
from bot.callbacks import Action
from bot.context import BrigadeContext
from bot.i18n import LANGUAGE_NAMES
from bot.menus import set_member_menu
from handlers.common import speaker


def language_keyboard(languages: tuple[str, ...], current: str) -> InlineKeyboardMarkup:
    """One button per language, the current one ticked."""
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    ("✓ " if language == current else "") + LANGUAGE_NAMES[language],
                    callback_data=callbacks.encode(Action.SET_LANGUAGE, language),
                )
            ]
            for language in languages
        ]
    )


async def ask_language(update: Update, context: BrigadeContext) -> None:
    """Show the language buttons."""
    who = await speaker(update, context)
    if who is None or update.effective_message is None:
        return
    await update.effective_message.reply_text(
        who._("Choose your language:"),
        reply_markup=language_keyboard(context.services.i18n.languages, who._.language),
    )


async def set_language(update: Update, context: BrigadeContext) -> None:
    """Store the tapped language and confirm in it."""
    query = update.callback_query
    if query is None or query.from_user is None:
        return
    services = context.services
    parsed = callbacks.parse(query.data)
    language = parsed.str_arg(0) if parsed else None
    if language not in services.i18n.languages:
        who = await speaker(update, context)
        await query.answer(who._("This button is no longer valid.") if who else None)
        return
    # Identifying first creates the member if this tap is the first thing they ever did. (In a
    # group the tap never gets here: handlers/gate.py refuses private-only buttons there.)
    await speaker(update, context)
    member = await services.members.set_language(query.from_user.id, language)
    if member is None:
        return
    _ = services.i18n.translator(language)
    await query.answer()
    await query.edit_message_text(
        _("Language set: {language}.", language=LANGUAGE_NAMES[language]),
        reply_markup=language_keyboard(services.i18n.languages, language),
    )
    await set_member_menu(context.bot, services.i18n, member)
