"""❌ Reject: a coordinator gives the reason in their next message (or /skip), then the volunteer
is told and the card tapped shows the decision. /cancel leaves the application waiting.

Persistent, and per person (not per chat): the card may be in any private chat of the person.
"""

from __future__ import annotations

from dataclasses import dataclass

from telegram.ext import ConversationHandler

from bot.callbacks import Action, Callback
from bot.context import BrigadeContext
from bot.domain.vocabulary import Role, VolunteerStatus
from bot.i18n import N_
from bot.messages.applications import NOT_ACCEPTED_BY
from bot.services.outcomes import Outcome
from bot.text import several_lines
from conversations.base import END, Conversation, State, Texts, Turn
from handlers.vetting import answer_decision, card_of, decided_note, show_on_card

REASON = "reason"
MAX_REASON_LENGTH = 500


@dataclass
class Rejection:
    """The application being rejected, and the card its ❌ was tapped on."""

    member_id: int = 0
    card: tuple[int, int] | None = None


REJECTION = Conversation(
    "rejection",
    Action.VET,
    Rejection,
    Texts(
        cancelled=N_("Nothing changed: the application is still waiting."),
        not_understood=N_("Please write the reason in a text message, or send /skip or /cancel."),
    ),
    role=Role.COORDINATOR,
    # ✅ Approve and "Allow a new application now" are buttons of their own (handlers/vetting.py).
    owns_action=False,
    per_chat=False,
)
Turn_ = Turn[Rejection]


async def on_reject(turn: Turn_, button: Callback) -> State:
    """❌ Reject: ask for the reason, unless the application was decided meanwhile."""
    _, member_id = turn._, button.int_arg(1)
    view = await turn.services.volunteers.application(turn.user_id, member_id)
    if isinstance(view, Outcome) or view.status is not VolunteerStatus.PENDING:
        # Decided elsewhere (another copy, /pending): who decided, and the card brought up to date.
        decision = await turn.services.volunteers.decided(member_id)
        await answer_decision(turn.update, Outcome.ALREADY_DONE, _, decision)
        note = decided_note(decision, _)
        await show_on_card(turn.context, turn.who, member_id, card_of(turn.update), note)
        return END
    turn.draft = Rejection(member_id, card_of(turn.update))
    await turn.answer()
    await turn.say(
        _(
            "Why is {name}'s application not accepted? Send the reason in one message: "
            "it will be passed on to them. Or /skip to give none, /cancel to go back.",
            name=view.display_name,
        )
    )
    return REASON


async def on_reason(turn: Turn_) -> State:
    """Reject with the reason just typed."""
    return await _reject(turn, several_lines(turn.message.text or "")[:MAX_REASON_LENGTH])


async def on_skip(turn: Turn_) -> State:
    """/skip: reject without a reason."""
    return await _reject(turn, None)


async def _reject(turn: Turn_, reason: str | None) -> State:
    """Reject the application (every other copy of the card is edited through the outbox), tell
    the volunteer, show it on the card tapped."""
    _, rejection = turn._, turn.draft
    decision = await turn.services.volunteers.decide(
        turn.user_id, rejection.member_id, approve=False, reason=reason, tapped=rejection.card
    )
    await answer_decision(turn.update, decision.outcome, _, decision)
    name = turn.who.member.display_name
    if decision.outcome is Outcome.ALREADY_DONE:
        note = decided_note(decision, _)
        await show_on_card(turn.context, turn.who, rejection.member_id, rejection.card, note)
    if decision.outcome is Outcome.DONE:
        note = _(NOT_ACCEPTED_BY, name=name)
        await show_on_card(turn.context, turn.who, rejection.member_id, rejection.card, note)
        await turn.say(
            _(
                "{name}'s application is not accepted; they have been told.",
                name=decision.volunteer_name,
            )
        )
        await turn.services.volunteers.tell_decision(rejection.member_id)
    return END


def build_rejection_conversation() -> ConversationHandler[BrigadeContext]:
    """❌ Reject, then the reason; persisted across restarts."""
    return REJECTION.build(
        entry_points=[REJECTION.start_tap(on_reject, verb="reject")],
        states={REASON: [REJECTION.command("skip", on_skip), REJECTION.text(on_reason)]},
    )
