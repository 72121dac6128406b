"""Small helpers every handler shares: who is talking, and in which language to answer."""

from __future__ import annotations

from dataclasses import dataclass

from telegram import Message, Update, User
from telegram.constants import ChatType
from telegram.ext import filters

from bot import deeplinks
from bot.context import BrigadeContext
from bot.i18n import Translator
from bot.services.members import MemberProfile, TelegramIdentity
from bot.text import one_line


def identity_of(user: User) -> TelegramIdentity:
    """The parts of a Telegram user Brigade keeps."""
    return TelegramIdentity(
        telegram_id=user.id,
        # A name made only of invisible characters keeps a visible stand-in.
        first_name=one_line(user.first_name) or "—",
        last_name=one_line(user.last_name) if user.last_name else None,
        username=user.username,
        language_code=user.language_code,
    )


class StartLink(filters.MessageFilter):
    """`/start <payload>` messages whose payload is one kind of link (see bot/deeplinks.py)."""

    def __init__(self, kind: type[deeplinks.DeepLink]) -> None:
        super().__init__(name=f"StartLink({kind.__name__})")
        self._kind = kind

    def filter(self, message: Message) -> bool:
        """Whether the message opens a link of this kind."""
        command, _space, payload = (message.text or "").partition(" ")
        return command == "/start" and isinstance(deeplinks.parse(payload), self._kind)


@dataclass(frozen=True)
class Speaker:
    """The member behind an update and the translator to answer them with."""

    member: MemberProfile
    _: Translator


async def speaker(update: Update, context: BrigadeContext) -> Speaker | None:
    """Identify the sender and pick their language.

    In a private chat the sender becomes a member (talking to the bot is how one starts). In a
    group, someone Brigade does not know is answered as a guest and nothing is stored: anyone
    in a neighbourhood's group can tap its offers, and most of them never become anything.
    """
    user = update.effective_user
    if user is None or user.is_bot:
        return None
    services = context.services
    chat = update.effective_chat
    who = identity_of(user)
    if chat is None or chat.type == ChatType.PRIVATE:
        member = await services.members.identify(who)
    else:
        member = await services.members.identify_known(who) or MemberProfile.guest(who)
    translator = services.i18n.for_user(member.chosen_language, member.telegram_language)
    return Speaker(member, translator)
