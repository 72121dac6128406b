"""Small helpers every handler shares: who is talking, in which language to answer, and the route
every command and message takes to its handler (`said`)."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

from telegram import Message, Update, User
from telegram.constants import ChatType
from telegram.ext import filters

from bot import deeplinks
from bot.context import BrigadeContext
from bot.domain.vocabulary import Role
from bot.i18n import N_, Translator
from bot.services.members import MemberProfile, TelegramIdentity
from bot.text import one_line
from bot.updates import PREFETCHED_SENDER

R = TypeVar("R")

NO_LONGER_VALID = N_("This button is no longer valid.")
NOT_A_COORDINATOR = N_("This action is reserved for the brigade's coordinators.")


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


Identify = Callable[[Update, BrigadeContext], Awaitable[Speaker | None]]


def _speaking(context: BrigadeContext, member: MemberProfile) -> Speaker:
    translator = context.services.i18n.for_user(member.chosen_language, member.telegram_language)
    return Speaker(member, translator)


# Where an update's sender, once identified, is kept for the update's later handlers (the
# command, then the charter reminder after it): one identity read per update. The context is
# PTB's, built once per update and shared by every handler group.
_SPEAKER = "_brigade_speaker"
_KNOWN = "_brigade_known_speaker"


async def speaker(update: Update, context: BrigadeContext) -> Speaker | None:
    """Identify the sender and pick their language.

    In a private chat the sender becomes a member (talking to the bot is how one starts). In a
    group, someone Brigade does not know is answered as a guest and nothing is stored: anyone
    in a neighbourhood's group can tap its offers, and most of them never become anything.
    Identified once per update: a second call returns the first one's answer.
    """
    user = update.effective_user
    if user is None or user.is_bot:
        return None
    cached: Speaker | None = getattr(context, _SPEAKER, None)
    if cached is not None:
        return cached
    members = context.services.members
    chat = update.effective_chat
    who = identity_of(user)
    # The update gate read the sender's identity in its own transaction (bot/updates.py): a
    # known, unchanged member costs no second read.
    prefetched = getattr(context, PREFETCHED_SENDER, None)
    member = None
    if prefetched is not None and prefetched[0] == user.id:
        member = members.known_from(prefetched[1], who)
    if member is None:
        if chat is None or chat.type == ChatType.PRIVATE:
            member = await members.identify(who)
        else:
            member = await members.identify_known(who) or MemberProfile.guest(who)
    found = _speaking(context, member)
    setattr(context, _SPEAKER, found)
    return found


async def known_speaker(update: Update, context: BrigadeContext) -> Speaker | None:
    """The sender as Brigade knows them, stranger as a guest (id None): nothing is written.

    For /mydata and /forget: asking what is stored, or erasing it, must not store anything new.
    Within one update, the sender `speaker` identified already is the one Brigade knows.
    """
    user = update.effective_user
    if user is None or user.is_bot:
        return None
    cached: Speaker | None = getattr(context, _SPEAKER, None) or getattr(context, _KNOWN, None)
    if cached is not None:
        return cached
    member = await context.services.members.find(user.id)
    found = _speaking(context, member or MemberProfile.guest(identity_of(user)))
    setattr(context, _KNOWN, found)
    return found


SaidHandler = Callable[[Update, BrigadeContext, Speaker, Message], Awaitable[R]]


def said(
    handler: SaidHandler[R],
    *,
    role: Role | None = None,
    refusal: str = NOT_A_COORDINATOR,
    identify: Identify = speaker,
) -> Callable[[Update, BrigadeContext], Coroutine[Any, Any, R | None]]:
    """The route of a command or message: identify the sender once, check the role, then handle.

    `handler(update, context, who, message)` runs only for a person with `role` (if given);
    others are answered with `refusal`. Updates without a person or a message are ignored.
    """

    @functools.wraps(handler)
    async def route(update: Update, context: BrigadeContext) -> R | None:
        who = await identify(update, context)
        message = update.effective_message
        if who is None or message is None:
            return None
        if not may(who, role):
            await message.reply_text(who._(refusal))
            return None
        return await handler(update, context, who, message)

    return route


def may(who: Speaker, role: Role | None) -> bool:
    """Whether the person has the role a handler needs (anyone, when it needs none)."""
    return role is None or role in who.member.roles
