"""Writing through the bot: the tap on a "💬 Write to…" or "↩ Reply" button, then one message.

The tap asks the service whether the person may write (their claim, still held; a coordinator
answering; the day's limit to the coordinators) and says to whom the next message goes. The next
text, photo, voice message or location is copied to the reader through the outbox and the
conversation ends; anything else is answered and the wait goes on; /cancel writes nothing. The
draft holds only whom to write to — never the message, which stays in the writer's own chat and
is copied from there by its id. Persistent: a restart between the tap and the message loses
nothing, and an abandoned wait expires with the other drafts (BRIGADE_DRAFT_TTL_HOURS).
"""

from __future__ import annotations

from dataclasses import dataclass

from telegram import InlineKeyboardMarkup
from telegram.ext import ConversationHandler, filters

from bot.callbacks import Action, Callback
from bot.context import BrigadeContext
from bot.messages.correspondence import (
    ABOUT_CLAIM,
    ANSWER_MEMBER,
    TO_COORDINATORS,
    WRITE_BUSY,
    WRITE_CANCELLED,
    WRITE_EXPECTED,
    Opening,
    refusal,
    sent_note,
    write_prompt,
)
from bot.services.correspondence import CorrespondenceService
from bot.services.outcomes import Outcome
from conversations.base import CANCEL_LABEL, END, PRIVATE, TEXT, Conversation, State, Texts, Turn

MESSAGE = "message"
# What may be written: the kinds of message a copy carries well.
WRITABLE = TEXT | (PRIVATE & (filters.PHOTO | filters.VOICE | filters.LOCATION))


@dataclass
class WriteDraft:
    """Whom the next message goes to: the button's verb and target (never the message)."""

    verb: str = ""
    target: int = 0


WRITE = Conversation(
    "write",
    Action.WRITE,
    WriteDraft,
    # A command while the bot waits for the message: said, and the wait goes on (/cancel ends).
    Texts(cancelled=WRITE_CANCELLED, busy=WRITE_BUSY, not_understood=WRITE_EXPECTED),
    allow_reentry=True,
)


async def _open(service: CorrespondenceService, user_id: int, verb: str, target: int) -> Opening:
    """Whether the person may write now, by the button's verb."""
    if verb == ABOUT_CLAIM:
        return await service.open_claim(user_id, target)
    if verb == ANSWER_MEMBER:
        return await service.open_answer(user_id, target)
    return await service.open_support(user_id)


async def on_write(turn: Turn[WriteDraft], button: Callback) -> State:
    """A "💬 Write to…" or "↩ Reply" tap: to whom the next message goes, or why not."""
    verb, target = button.str_arg(0), button.int_arg(1)
    opening = await _open(turn.services.correspondence, turn.user_id, verb, target)
    if opening.outcome is not Outcome.DONE:
        await turn.answer(refusal(opening, turn._), alert=True)
        return END
    turn.draft.verb, turn.draft.target = verb, target
    await turn.answer()
    cancel = InlineKeyboardMarkup([[WRITE.button(turn._(CANCEL_LABEL), "cancel", 0)]])
    await turn.say(write_prompt(opening, turn._), cancel)
    return MESSAGE


async def on_message(turn: Turn[WriteDraft]) -> State:
    """The message: copied to the reader if the conversation still holds; said either way."""
    service = turn.services.correspondence
    verb, target, message_id = turn.draft.verb, turn.draft.target, turn.message.message_id
    if verb == ABOUT_CLAIM:
        opening = await service.write_about_claim(turn.user_id, target, message_id)
    elif verb == ANSWER_MEMBER:
        opening = await service.answer(turn.user_id, target, message_id)
    else:
        opening = await service.to_coordinators(turn.user_id, message_id)
    done = opening.outcome is Outcome.DONE
    await turn.say(sent_note(opening, turn._) if done else refusal(opening, turn._))
    return END


def build_write_conversation() -> ConversationHandler[BrigadeContext]:
    """The write buttons, then the one message they wait for."""
    return WRITE.build(
        entry_points=[
            WRITE.start_tap(on_write, verb=verb)
            for verb in (ABOUT_CLAIM, ANSWER_MEMBER, TO_COORDINATORS)
        ],
        states={MESSAGE: [WRITE.message(WRITABLE, on_message)]},
    )
