"""The command menus Telegram shows next to the text field, per language and per role."""

from __future__ import annotations

import logging

from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeAllChatAdministrators,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeChat,
)
from telegram.error import TelegramError

from bot.commands import commands_for
from bot.domain.vocabulary import Role
from bot.i18n import N_, I18n, Translator
from bot.services.members import MemberProfile

log = logging.getLogger(__name__)


def _menu(roles: frozenset[Role], translator: Translator) -> list[BotCommand]:
    return [
        BotCommand(command.name, translator(command.description)) for command in commands_for(roles)
    ]


LINK_DESCRIPTION = N_("Attach this group to a neighbourhood (coordinators)")


async def set_default_menus(bot: Bot, i18n: I18n) -> None:
    """Menus for people without a personal one: one per language, the town's language by default.

    Group administrators see /link, with which a coordinator attaches a group to a neighbourhood.
    """
    for language in (None, *i18n.languages):
        translator = i18n.translator(language or i18n.default_language)
        await bot.set_my_commands(
            _menu(frozenset(), translator),
            scope=BotCommandScopeAllPrivateChats(),
            language_code=language,
        )
        await bot.set_my_commands(
            [BotCommand("link", translator(LINK_DESCRIPTION))],
            scope=BotCommandScopeAllChatAdministrators(),
            language_code=language,
        )


async def set_member_menu(bot: Bot, i18n: I18n, member: MemberProfile) -> None:
    """A personal menu for members whose role or chosen language differs from the default menu."""
    if not member.roles and member.chosen_language is None:
        return
    translator = i18n.for_user(member.chosen_language, member.telegram_language)
    try:
        await bot.set_my_commands(
            _menu(member.roles, translator), scope=BotCommandScopeChat(member.telegram_id)
        )
    except TelegramError as error:
        # A menu is a convenience: failing to set one must not break the answer to the member.
        log.warning("could not set the command menu of member %s: %s", member.id, error)
