"""Changing a request nobody has claimed yet, from its card in /mine: the description, when, or
how many volunteers — one question each, answered with /new's own checks and pickers.

Entry: the card's ✏️ buttons (`mi:editdesc|editwhen|editplaces:<request id>`). The answer goes to
`RequestService.edit_request`, which checks again that nobody has claimed it, edits every copy of
the offer, and returns the card, shown anew with what changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from telegram.constants import ParseMode
from telegram.ext import ConversationHandler

from bot.callbacks import Action, Callback
from bot.context import BrigadeContext
from bot.i18n import N_
from bot.messages.base import Town
from bot.messages.commitments import mine_card
from bot.services.outcomes import StepOutcome
from bot.services.requests import MineAnswer, RequestEdit
from conversations.base import END, Conversation, State, Texts, Turn, back, choices
from conversations.posting.answers import SLOT_PASSED, description_typed, when_states
from conversations.posting.draft import Step as PostingStep
from conversations.posting.questions import (
    MAX_DESCRIPTION_LENGTH,
    PLACES_CHOICES,
    PLACES_NEEDED,
    slot_start,
    when_questions,
)
from handlers.common import NO_LONGER_VALID


class Step(StrEnum):
    """The questions (stored between updates: keep the values)."""

    DESCRIPTION = "desc"
    # When, and the slot's pickers, are /new's (`when_questions`, `when_states`): its steps.
    WHEN = PostingStep.WHEN.value
    DAY = PostingStep.DAY.value
    PART = PostingStep.PART.value
    PLACES = "places"


# The card's ✏️ button → the question it opens.
ENTRIES = {"editdesc": Step.DESCRIPTION, "editwhen": Step.WHEN, "editplaces": Step.PLACES}
TAKEN_ALREADY = N_("Someone has already taken this request: it can no longer be changed.")
NOT_YOURS = N_("This action is not available to you.")
CHANGED = N_("Changed: every volunteer who was offered it sees the new version.")


@dataclass
class EditDraft:
    """Which request is being changed, and the day chosen for a slot."""

    request_id: int = 0
    day: str | None = None


EDITING = Conversation(
    "request_edit",
    Action.EDIT_REQUEST,
    EditDraft,
    Texts(
        cancelled=N_("Nothing was changed. Send /mine to see your requests."),
        busy=N_("You are changing a request. Answer the question above, or send /cancel."),
        ended=(NO_LONGER_VALID, N_("Send /mine to see your requests.")),
    ),
    # Another ✏️ tapped mid-way starts that change instead.
    allow_reentry=True,
)
EditTurn = Turn[EditDraft]
_PREVIOUS = {Step.DAY: Step.WHEN, Step.PART: Step.DAY}


@EDITING.previous
def previous(turn: EditTurn) -> str | None:
    """⬅ from a slot's day or part goes back one step; from a first question, out."""
    return _PREVIOUS.get(Step(turn.state)) if turn.state in set(Step) else None


@EDITING.leaving
async def leave(turn: EditTurn) -> State:
    """⬅ out of the first question: nothing changed."""
    return await turn.cancel()


@EDITING.question(Step.DESCRIPTION)
async def ask_description(turn: EditTurn) -> None:
    """The new description (the same rules as /new's)."""
    text = turn._(
        "Send the new description (at most {max} characters). Volunteers will read it: no "
        "name, phone number or address here.",
        max=MAX_DESCRIPTION_LENGTH,
    )
    await turn.say(text, back(turn))


when_questions(EDITING)
EDITING.prompt(
    Step.PLACES,
    PLACES_NEEDED,
    choices("places", [(count, str(count)) for count in PLACES_CHOICES], per_row=3),
)


async def start_edit(turn: EditTurn, button: Callback) -> State:
    """A ✏️ button of a card: its question, if the request is theirs and still unclaimed."""
    request_id = button.int_arg(1)
    answer = await turn.services.requests.my_request(turn.user_id, request_id)
    if answer.card is None:
        await turn.answer(turn._(NOT_YOURS), alert=True)
        return END
    if not answer.card.editable:
        await turn.answer(turn._(TAKEN_ALREADY), alert=True)
        return END
    turn.draft.request_id = request_id
    return await turn.ask(ENTRIES[button.str_arg(0)])


async def _save(turn: EditTurn, edit: RequestEdit) -> State:
    """Change the request; show its card anew (with what happened), and end."""
    _ = turn._
    answer: MineAnswer = await turn.services.requests.edit_request(
        turn.user_id, turn.draft.request_id, edit
    )
    await turn.answer()
    if answer.card is None:
        await turn.say(_(NOT_YOURS))
        return END
    notes = {StepOutcome.DONE: CHANGED, StepOutcome.STALE: TAKEN_ALREADY}
    note = _(notes.get(answer.outcome, NO_LONGER_VALID))
    card = mine_card(answer.card, _, Town.of(turn.services.settings), note)
    await turn.message.get_bot().send_message(
        turn.message.chat.id, card.text, reply_markup=card.keyboard, parse_mode=ParseMode.HTML
    )
    return END


async def on_description(turn: EditTurn) -> State:
    """Keep the new description, or ask for a shorter one."""
    text = await description_typed(turn)
    if text is None:
        return None
    if not text:
        return await turn.ask(Step.DESCRIPTION)
    return await _save(turn, RequestEdit(description=text))


async def on_when(turn: EditTurn, button: Callback) -> State:
    """As soon as possible, or today."""
    return await _save(turn, RequestEdit(when_kind=button.str_arg(1)))


async def on_part(turn: EditTurn, button: Callback) -> State:
    """The slot, unless it has already passed."""
    day = turn.draft.day
    if day is None:
        return await turn.stale()
    part = button.str_arg(1)
    starts_at: datetime | None = slot_start(turn, day, part)
    if starts_at is None:
        await turn.answer(turn._(SLOT_PASSED))
        return None
    return await _save(turn, RequestEdit(when_kind="slot", starts_at=starts_at, day_part=part))


async def on_places(turn: EditTurn, button: Callback) -> State:
    """How many volunteers (never fewer than the places taken: nobody has one yet)."""
    return await _save(turn, RequestEdit(places_needed=int(button.str_arg(1))))


def build_request_edit_conversation() -> ConversationHandler[BrigadeContext]:
    """Changing an unclaimed request from /mine."""
    return EDITING.build(
        entry_points=[
            EDITING.start_tap(start_edit, action=Action.MINE, verb=verb) for verb in ENTRIES
        ],
        states={
            Step.DESCRIPTION: [EDITING.text(on_description)],
            **when_states(EDITING, on_when, on_part),
            Step.PLACES: [EDITING.on("places", on_places, values=[str(n) for n in PLACES_CHOICES])],
        },
    )
