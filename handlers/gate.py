"""Taps refused before any handler sees them: empty data anywhere, private-only buttons in groups.

Callback data is whatever the client sends. PTB matches every pattern when the data is empty
(such a tap started the sign-up), and a group member could send a private-only button's data on
the bot's post in the group: a language change replaced an offer's text, a sign-up asked its
questions in the group. Registered first, this gate answers such taps with a short toast and no
handler after it in its group runs: nothing is stored, no message is edited or posted.
"""

from __future__ import annotations

from telegram import Update
from telegram.constants import ChatType
from telegram.ext import BaseHandler

from bot import callbacks
from bot.callbacks import GROUP_ACTIONS
from bot.context import BrigadeContext
from bot.i18n import N_
from handlers.common import speaker

NO_LONGER_VALID = N_("This button is no longer valid.")
PRIVATE_ONLY = N_("This button only works in our private chat.")


def refusal(update: Update) -> str | None:
    """Why a tap must be refused before any handler runs (a message id), or None to let it in."""
    query = update.callback_query
    if query is None:
        return None
    if not query.data:
        return NO_LONGER_VALID
    chat = update.effective_chat
    if chat is not None and chat.type == ChatType.PRIVATE:
        return None
    parsed = callbacks.parse(query.data)
    if parsed is None:
        return NO_LONGER_VALID
    return None if parsed.action in GROUP_ACTIONS else PRIVATE_ONLY


async def refuse_tap(update: Update, context: BrigadeContext) -> None:
    """Answer a refused tap with a toast; change nothing."""
    query = update.callback_query
    reason = refusal(update)
    if query is None or reason is None:
        return
    who = await speaker(update, context)
    await query.answer(who._(reason) if who else None)


class TapGate(BaseHandler[Update, BrigadeContext, None]):
    """Takes exactly the taps `refusal` refuses, so that no handler registered after it does."""

    def __init__(self) -> None:
        super().__init__(refuse_tap)

    def check_update(self, update: object) -> bool:
        """Whether this tap is refused."""
        return isinstance(update, Update) and refusal(update) is not None
