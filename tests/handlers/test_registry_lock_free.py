"""Lock-free taps (bot/callbacks.py LOCK_FREE_ACTIONS) are never a conversation's to handle.

On PostgreSQL they skip the person's lock and the read-back of their conversation states
(bot/shared_state.py): that is only right if no conversation, in any state, takes them.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

from telegram import CallbackQuery, Chat, Message, Update, User
from telegram.ext import BaseHandler, ConversationHandler

from bot import callbacks
from bot.callbacks import Action
from testkit.harness import InProcessBrigade

TAPPER = User(id=4242, first_name="Ana", is_bot=False)
CHATS = (Chat(id=4242, type=Chat.PRIVATE), Chat(id=-100777, type=Chat.SUPERGROUP))


def _tap(chat: Chat, data: str) -> Update:
    message = Message(message_id=7, date=datetime(2026, 12, 7, tzinfo=UTC), chat=chat)
    query = CallbackQuery(id="1", from_user=TAPPER, chat_instance="x", data=data, message=message)
    return Update(update_id=1, callback_query=query)


def _every_conversation_handler(brigade: InProcessBrigade) -> Iterator[tuple[str, BaseHandler]]:
    """Each handler of each conversation: entry points, every state's, fallbacks."""
    for handlers in brigade.app.handlers.values():
        for conversation in handlers:
            if not isinstance(conversation, ConversationHandler):
                continue
            name = conversation.name or repr(conversation)
            yield from ((name, handler) for handler in conversation.entry_points)
            for state_handlers in conversation.states.values():
                yield from ((name, handler) for handler in state_handlers)
            yield from ((name, handler) for handler in conversation.fallbacks)


def _takers(brigade: InProcessBrigade, data: str) -> set[str]:
    """The conversations with a handler that would take this tap, in a chat or a group."""
    return {
        name
        for chat in CHATS
        for name, handler in _every_conversation_handler(brigade)
        if handler.check_update(_tap(chat, data))
    }


async def test_no_conversation_takes_a_lock_free_tap_in_any_state(
    brigade: InProcessBrigade,
) -> None:
    """A claim tap goes to the claim handler whatever step of a conversation the tapper is at."""
    assert callbacks.LOCK_FREE_ACTIONS  # the set this test guards
    for action in callbacks.LOCK_FREE_ACTIONS:
        data = callbacks.encode(action, 12)
        assert _takers(brigade, data) == set(), data
    # The check can fail: "Done" on a claim is another action, and it opens the visit report.
    assert _takers(brigade, callbacks.encode(Action.CLAIM_STEP, "done", 12)) == {"visit"}
