"""⚠️ Report a concern: the claimer says what the problem is, in one message, before anything
is sent; the referent and the coordinators then receive that sentence. /cancel, or a sentence
sent after `CONCERN_WAIT`, sends nothing.

The sentence is personal data about the person helped: it goes through the outbox (blanked once
sent) and is never stored (bot/services/requests/claims.py `concern`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from telegram.ext import ConversationHandler

from bot.callbacks import Action, Callback
from bot.context import BrigadeContext
from bot.i18n import N_
from bot.messages.claims import CONCERN_SENT, step_answer
from bot.services.outcomes import StepOutcome
from bot.services.requests.visits import MAX_WORRY_LENGTH
from conversations.base import END, Conversation, State, Texts, Turn

SENTENCE = "concern_sentence"
# A sentence typed this long after the tap is not sent: the person may have moved on.
CONCERN_WAIT = timedelta(minutes=30)
DESCRIBE_CONCERN = N_(
    "Please write what the problem is in one text message ({max} characters at most), or send "
    "/cancel."
)


@dataclass
class ConcernDraft:
    """The claim the concern is about, and when the question was asked (ISO, UTC)."""

    claim_id: int = 0
    asked_at: str = ""


CONCERN = Conversation(
    "concern",
    Action.CLAIM_STEP,
    ConcernDraft,
    Texts(
        cancelled=N_("Nothing was sent."),
        not_understood=N_("Please write what the problem is in a text message, or send /cancel."),
    ),
    # Release, Not yet… are buttons of their own (handlers/requests.py); Done is the visit's.
    owns_action=False,
    allow_reentry=True,
)
Turn_ = Turn[ConcernDraft]


async def on_concern(turn: Turn_, button: Callback) -> State:
    """⚠️ Report a concern: ask what the problem is (nothing is sent yet)."""
    claim_id = button.int_arg(1)
    outcome = await turn.services.requests.may_report_concern(turn.user_id, claim_id)
    if outcome is not StepOutcome.DONE:
        toast = step_answer("concern", outcome, turn._)
        await turn.answer(toast.text, alert=toast.alert)
        return END
    turn.draft = ConcernDraft(claim_id, turn.services.clock().isoformat())
    await turn.answer()
    await turn.say(
        turn._(
            "What is the problem? Write it in one message: it goes to the referent and the "
            "coordinators, who will call you. Nothing is sent before. /cancel to send nothing."
        )
    )
    return SENTENCE


async def on_sentence(turn: Turn_) -> State:
    """The sentence typed: the referent and the coordinators are alerted now (if still in
    time)."""
    sentence = await turn.typed(MAX_WORRY_LENGTH, DESCRIBE_CONCERN, lines=True)
    if sentence is None:
        return None
    draft = turn.draft
    if turn.services.clock() - datetime.fromisoformat(draft.asked_at) > CONCERN_WAIT:
        await turn.say(
            turn._(
                "This was a while ago, so nothing was sent. If there is still a problem, tap "
                "⚠️ Report a concern again. If someone is in danger, call 112."
            )
        )
        return END
    outcome = await turn.services.requests.concern(turn.user_id, draft.claim_id, sentence)
    if outcome is StepOutcome.DONE:
        await turn.say(turn._(CONCERN_SENT))
    else:
        await turn.say(step_answer("concern", outcome, turn._).text)
    return END


def build_concern_conversation() -> ConversationHandler[BrigadeContext]:
    """⚠️ Report a concern, then the sentence; persisted across restarts."""
    return CONCERN.build(
        entry_points=[CONCERN.start_tap(on_concern, verb="concern")],
        states={SENTENCE: [CONCERN.text(on_sentence)]},
    )
