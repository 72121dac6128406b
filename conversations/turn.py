"""One update in a conversation: a `Turn` carries who speaks, their typed draft, and the state the
update arrived in; steps read it, change `turn.draft`, and return the next state."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Generic, TypeVar

from telegram import (
    InlineKeyboardMarkup,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import ConversationHandler

from bot.callbacks import Callback
from bot.context import BrigadeContext, Services
from bot.i18n import N_, Translator
from bot.text import one_line, several_lines
from handlers.buttons import query_of
from handlers.common import NO_LONGER_VALID, Speaker

if TYPE_CHECKING:
    from conversations.base import Conversation

D = TypeVar("D")
# What a step returns: the next state, END, or None to stay in the same state.
State = str | int | None
END = ConversationHandler.END
Markup = InlineKeyboardMarkup | ReplyKeyboardMarkup | ReplyKeyboardRemove
BACK_LABEL = N_("⬅ Back")
SKIP_LABEL = N_("Skip")
CANCEL_LABEL = N_("✖ Cancel")
NOT_UNDERSTOOD = N_("Sorry, I did not understand that answer.")
# To "yes" or "no" typed where the question waits for a tap.
USE_THE_BUTTONS = N_("Please answer with the buttons of the question below.")
BACK_NOTE = N_("Back to the previous question.")
# "Yes" and "no" as people type them, in any of the bot's languages (casefolded, no final dot).
YES_WORDS = frozenset({"oui", "ouais", "yes", "y", "yep", "ok", "okay", "d'accord", "ja", "jawel"})
NO_WORDS = frozenset({"non", "no", "n", "nope", "nee", "neen"})


@dataclass
class Turn(Generic[D]):
    """One update in a conversation: who speaks, their draft, and the state it arrived in."""

    flow: Conversation[D]
    update: Update
    context: BrigadeContext
    who: Speaker
    draft: D
    state: str | None
    _answered: bool = field(default=False, init=False)

    @property
    def _(self) -> Translator:
        """The person's translator."""
        return self.who._

    @property
    def services(self) -> Services:
        """The application's services."""
        return self.context.services

    @property
    def user_id(self) -> int:
        """The person's Telegram id (what services take)."""
        return self.who.member.telegram_id

    @property
    def message(self) -> Message:
        """The message sent, or the one whose button was tapped."""
        message = self.update.effective_message
        assert message is not None
        return message

    @property
    def text(self) -> str:
        """The message's text on one line ("" for a sticker, a pin, a tap…)."""
        message = self.update.effective_message
        return one_line(message.text or "") if message is not None else ""

    async def typed(self, max_length: int, refusal: str, *, lines: bool = False) -> str | None:
        """The text typed, 1 to `max_length` characters (one line, or several with `lines`);
        else None once `refusal` (a message id, with {max}) has been said."""
        message = self.update.effective_message
        text = several_lines(message.text or "") if lines and message else self.text
        if text and len(text) <= max_length:
            return text
        await self.say(self._(refusal, max=max_length))
        return None

    def yes_or_no(self) -> bool | None:
        """Whether the message typed is "yes" (True), "no" (False), or neither (None)."""
        word = self.text.casefold().rstrip(".!").strip()
        if word in YES_WORDS:
            return True
        return False if word in NO_WORDS else None

    def is_back(self) -> bool:
        """Whether the message is the reply keyboard's ⬅ Back."""
        return self.update.callback_query is None and self.text == self._(BACK_LABEL)

    async def say(self, text: str, markup: Markup | None = None, *, html: bool = False) -> None:
        """Send a new message (the next question, a note); one with inline buttons is the
        current step's question: the previous question's buttons are retired."""
        question = isinstance(markup, InlineKeyboardMarkup)
        if question:
            await self.flow.retire_question(self.context, self.message)
        sent = await self.message.get_bot().send_message(
            self.message.chat.id,
            text,
            reply_markup=markup,
            parse_mode=ParseMode.HTML if html else None,
        )
        if question:
            self.flow.asked_in(self.context, sent)

    async def not_understood(self) -> State:
        """Say the answer was not understood ("yes" or "no" typed: use the buttons), then the
        step's question again, if it has one."""
        typed_yes_no = self.yes_or_no() is not None
        await self.say(self._(USE_THE_BUTTONS if typed_yes_no else self.flow.texts.not_understood))
        if self.state is None or self.state not in self.flow.questions:
            return None
        return await self.ask(self.state)

    async def answer(self, text: str | None = None, *, alert: bool = False) -> None:
        """Answer the tap, if this update is one and it was not answered yet."""
        query = self.update.callback_query
        if query is None or self._answered:
            return
        self._answered = True
        await query.answer(text, show_alert=alert)

    def answered_elsewhere(self) -> None:
        """The tap was answered by a handler this step shares (a tap is answered only once)."""
        self._answered = True

    async def stale(self) -> State:
        """Answer a tap the step cannot use ("no longer valid") and stay."""
        await self.answer(self._(NO_LONGER_VALID))
        return None

    async def edit_buttons(self, markup: InlineKeyboardMarkup | None) -> None:
        """Redraw (or, with None, take away) the tapped message's buttons."""
        await query_of(self.update).edit_message_reply_markup(markup)

    async def drop_buttons(self) -> None:
        """Take the tapped message's buttons away (spent); an old message may refuse it."""
        if self.update.callback_query is not None:
            with contextlib.suppress(TelegramError):
                await self.edit_buttons(None)

    async def ask(self, state: str) -> State:
        """Answer the tap (if any), then ask the question of `state`; returns where it leads."""
        await self.answer()
        led = await self.flow.questions[state](self)
        return state if led is None else led

    async def back(self) -> State:
        """⬅: the previous step's question, or out of the conversation where `previous` says so."""
        target = self.flow.previous_of(self)
        if target is None:
            return await self.flow.leave(self)
        if self.is_back():
            # The reply keyboard's ⬅ was pressed: take that keyboard away.
            await self.say(self._(BACK_NOTE), ReplyKeyboardRemove())
        return await self.ask(target)

    async def cancel(self) -> State:
        """Leave: nothing is kept (END drops the draft); the tapped buttons go away, or with
        /cancel the current question's."""
        await self.answer()
        if self.update.callback_query is None:
            await self.flow.retire_question(self.context, self.message)
        await self.drop_buttons()
        await self.say(self._(self.flow.texts.cancelled), ReplyKeyboardRemove())
        return END


Step = Callable[[Turn[D]], Awaitable[State]]
TapStep = Callable[[Turn[D], Callback], Awaitable[State]]
Previous = Callable[[Turn[D]], str | None]
