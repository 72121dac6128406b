"""A validator edits or declines a request waiting for validation.

"✏️ Edit, then approve" asks what to change — the description (typed), or when (as soon as
possible, or today) — then approves the request with it (it is offered at once); "❌ Decline"
asks for the reason, which the person who asked reads as it is.
The service checks again, when the answer comes, that the validator may still decide and that
nobody decided meanwhile (bot/services/requests/validation.py); "Approve as is" needs no
conversation (handlers/validation.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from telegram import InlineKeyboardMarkup
from telegram.ext import ConversationHandler

from bot.callbacks import Action, Callback
from bot.context import BrigadeContext
from bot.i18n import N_
from bot.messages.validation import DECISION_ANSWERS, decision_answer
from bot.services.outcomes import StepOutcome
from bot.services.requests.validation import EDITABLE_WHEN, MAX_DECLINE_REASON, Decision
from conversations.base import (
    CANCEL_LABEL,
    END,
    Buttons,
    Conversation,
    State,
    Texts,
    Turn,
    choices,
)
from conversations.posting.questions import MAX_DESCRIPTION_LENGTH


class Step(StrEnum):
    """The one step of each (stored between updates: keep the values)."""

    REASON = "reason"
    CHANGE = "change"  # what to edit: the description, or when
    DESCRIPTION = "desc"
    WHEN = "when"


@dataclass
class ValidationDraft:
    """The request being decided on."""

    request_id: int = 0


VALIDATION = Conversation(
    "validation",
    Action.VALIDATION_STEP,
    ValidationDraft,
    Texts(
        cancelled=N_("Nothing was decided: the request still waits for validation."),
        busy=N_("Type your answer about the request above, or send /cancel."),
    ),
    # A tap on another card's Edit or Decline starts over with that request.
    allow_reentry=True,
)
ValidationTurn = Turn[ValidationDraft]
TYPE_IT = N_("Please type your answer as text, at most {max} characters, or send /cancel.")


def _cancel_only(turn: ValidationTurn) -> InlineKeyboardMarkup:
    """✖ alone."""
    return InlineKeyboardMarkup([[VALIDATION.button(turn._(CANCEL_LABEL), "cancel")]])


def _or_cancel(verb: str, options: list[tuple[str | int, str]]) -> Buttons:
    """One button per option, then ✖."""
    pick = choices(verb, options, per_row=2, with_back=False)

    def keyboard(turn: ValidationTurn) -> InlineKeyboardMarkup:
        rows = pick(turn)
        assert isinstance(rows, InlineKeyboardMarkup)
        return InlineKeyboardMarkup([*rows.inline_keyboard, *_cancel_only(turn).inline_keyboard])

    return keyboard


VALIDATION.prompt(
    Step.REASON,
    N_(
        "Why is request #{id} declined? Type the reason: the person who asked reads it as it "
        "is, so please write it kindly (at most {max} characters)."
    ),
    _cancel_only,
    id=lambda turn: turn.draft.request_id,
    max=lambda turn: MAX_DECLINE_REASON,
)
VALIDATION.prompt(
    Step.CHANGE,
    N_("What do you change in request #{id} before approving it?"),
    _or_cancel("change", [(Step.DESCRIPTION, N_("✏️ Description")), (Step.WHEN, N_("✏️ When"))]),
    id=lambda turn: turn.draft.request_id,
)
VALIDATION.prompt(
    Step.WHEN,
    N_("When is the help needed? Request #{id} is then approved and offered to volunteers."),
    _or_cancel("when", [("asap", N_("As soon as possible")), ("today", N_("Today"))]),
    id=lambda turn: turn.draft.request_id,
)
VALIDATION.prompt(
    Step.DESCRIPTION,
    N_(
        "Type the new description of request #{id} (at most {max} characters): no name, phone "
        "number or address. It is then approved and offered to volunteers."
    ),
    _cancel_only,
    id=lambda turn: turn.draft.request_id,
    max=lambda turn: MAX_DESCRIPTION_LENGTH,
)


async def _begin(turn: ValidationTurn, button: Callback, step: Step) -> State:
    """Ask for the answer, if this person may still decide on this request."""
    request_id = button.int_arg(1)
    outcome = await turn.services.requests.may_validate(turn.user_id, request_id)
    if outcome is not StepOutcome.DONE:
        await turn.answer(turn._(DECISION_ANSWERS[outcome]), alert=True)
        return END
    turn.draft.request_id = request_id
    return await turn.ask(step)


async def on_decline(turn: ValidationTurn, button: Callback) -> State:
    """❌ Decline: the reason first."""
    return await _begin(turn, button, Step.REASON)


async def on_edit(turn: ValidationTurn, button: Callback) -> State:
    """✏️ Edit: what to change first."""
    return await _begin(turn, button, Step.CHANGE)


async def on_change(turn: ValidationTurn, button: Callback) -> State:
    """The description or when: its question."""
    return await turn.ask(button.str_arg(1))


async def on_when(turn: ValidationTurn, button: Callback) -> State:
    """Approve with "as soon as possible" or "today"."""
    await turn.answer()
    await turn.drop_buttons()
    decision = await turn.services.requests.approve_request(
        turn.user_id, turn.draft.request_id, when_kind=button.str_arg(1)
    )
    return await _decided(turn, decision, approved=True)


async def _decided(turn: ValidationTurn, decision: Decision, *, approved: bool) -> State:
    """Say how the decision ended; the conversation is over."""
    await turn.say(decision_answer(decision, turn._, approved=approved))
    return END


async def on_reason(turn: ValidationTurn) -> State:
    """Decline with the reason typed."""
    reason = await turn.typed(MAX_DECLINE_REASON, TYPE_IT, lines=True)
    if reason is None:
        return None
    decision = await turn.services.requests.decline_request(
        turn.user_id, turn.draft.request_id, reason
    )
    return await _decided(turn, decision, approved=False)


async def on_description(turn: ValidationTurn) -> State:
    """Approve with the description typed."""
    text = await turn.typed(MAX_DESCRIPTION_LENGTH, TYPE_IT, lines=True)
    if text is None:
        return None
    decision = await turn.services.requests.approve_request(
        turn.user_id, turn.draft.request_id, description=text
    )
    return await _decided(turn, decision, approved=True)


def build_validation_conversation() -> ConversationHandler[BrigadeContext]:
    """Edit or decline a request waiting for validation, persistent across restarts."""
    return VALIDATION.build(
        entry_points=[
            VALIDATION.start_tap(on_decline, action=Action.VALIDATE, verb="decline"),
            VALIDATION.start_tap(on_edit, action=Action.VALIDATE, verb="edit"),
        ],
        states={
            Step.REASON: [VALIDATION.text(on_reason)],
            Step.CHANGE: [VALIDATION.on("change", on_change, values=[Step.DESCRIPTION, Step.WHEN])],
            Step.DESCRIPTION: [VALIDATION.text(on_description)],
            Step.WHEN: [VALIDATION.on("when", on_when, values=sorted(EDITABLE_WHEN))],
        },
    )
