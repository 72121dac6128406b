"""✅ Done, then the visit report: one question per message, each answered by editing it.

Steps: how long it took; how the person seemed (😊 fine / 🙂 would like more visits / 😟 I am
worried, then a sentence that goes to the referent and the coordinators at once); money advanced
(an amount typed in the person's own way, or none), then an optional receipt photo forwarded to
the referent. Every question can be skipped; /cancel leaves the rest unanswered. Each answer is
stored by its use case when it is given (bot/services/requests/visits.py), so a restart loses
nothing; the step is persisted like every conversation's, and expires with the drafts.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from enum import StrEnum

from telegram import InlineKeyboardMarkup, Message
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import ConversationHandler, filters

from bot.callbacks import Action, Callback
from bot.context import BrigadeContext
from bot.domain.vocabulary import Wellbeing
from bot.i18n import N_
from bot.messages.claims import SAID_DONE, step_answer
from bot.messages.visits import WELLBEING_LABELS
from bot.money import MAX_EXPENSE_CENTS, money_text, parse_amount
from bot.services.outcomes import StepOutcome
from bot.services.requests import TaskVerb
from bot.services.requests.visits import MAX_WORRY_LENGTH
from bot.text import escaped
from conversations.base import END, PRIVATE, SKIP_LABEL, Conversation, State, Texts, Turn
from handlers.commitments import task_step


class Step(StrEnum):
    """The report's questions (stored between updates: keep the values)."""

    TIME = "vr_time"
    WELLBEING = "vr_wellbeing"
    WORRY = "vr_worry"
    MONEY = "vr_money"
    RECEIPT = "vr_receipt"


# "How long did it take?": the button's word → minutes, and its label.
TIME_SPENT = {
    "t30": (30, N_("30 min")),
    "t60": (60, N_("1 hour")),
    "t120": (120, N_("2 hours")),
    "t240": (240, N_("Half a day")),
}
WELLBEING_WORDS = {answer.value: answer for answer in Wellbeing}
THANKS = N_("Thank you for your report! 💛")
DESCRIBE_WORRY = N_(
    "Please tell what worries you in one text message ({max} characters at most), or tap Skip."
)


@dataclass
class VisitDraft:
    """The claim whose visit is being reported."""

    claim_id: int = 0


VISIT = Conversation(
    "visit",
    Action.VISIT,
    VisitDraft,
    Texts(
        cancelled=N_("The rest of the visit report is left unanswered. Thank you for your help!"),
        not_understood=N_("Sorry, I did not understand that answer."),
    ),
    # Done on another claim starts that claim's report.
    allow_reentry=True,
)
Turn_ = Turn[VisitDraft]


def _keyboard(turn: Turn_, rows: list[list[tuple[str, str]]]) -> InlineKeyboardMarkup:
    """Buttons of the report about the draft's claim: (label msgid, answer) rows."""
    claim_id = turn.draft.claim_id
    return InlineKeyboardMarkup(
        [[VISIT.button(turn._(label), verb, claim_id) for label, verb in row] for row in rows]
    )


async def _show_choice(turn: Turn_, choice: str) -> None:
    """Edit the tapped question to show the answer given; its buttons are spent."""
    message = turn.update.callback_query.message if turn.update.callback_query else None
    if isinstance(message, Message):
        with contextlib.suppress(TelegramError):  # an old message may refuse the edit
            await message.edit_text(f"{message.text or ''}\n→ {choice}")


async def _went(turn: Turn_, outcome: StepOutcome, choice: str, then: Step | None) -> State:
    """After an answer: show it and ask the next question, or say why it cannot be taken."""
    if outcome in (StepOutcome.DONE, StepOutcome.ALREADY_DONE):
        await turn.answer()
        await _show_choice(turn, choice)
        if then is None:
            await turn.say(turn._(THANKS))
            return END
        return await turn.ask(then)
    # Released, said not done, someone else's, or a forged claim: nothing more to report.
    toast = step_answer("report", outcome, turn._)
    await turn.answer(toast.text, alert=toast.alert)
    if turn.update.callback_query is None:
        await turn.say(toast.text)
    await turn.drop_buttons()
    return END


def _ours(turn: Turn_, button: Callback) -> bool:
    """Whether the tapped button is about the claim being reported (not an older report's)."""
    return button.int_arg(1) == turn.draft.claim_id


# --- Done ------------------------------------------------------------------------------------


async def on_done(turn: Turn_, button: Callback) -> State:
    """✅ Done: the referent is asked to confirm, then the report's first question."""
    claim_id = button.int_arg(1)
    outcome = await turn.services.requests.mark_done(turn.user_id, claim_id)
    toast = step_answer("done", outcome, turn._)
    await turn.answer(toast.text, alert=toast.alert)
    if outcome is not StepOutcome.DONE:
        return END
    await _said_done(turn)
    turn.draft = VisitDraft(claim_id)
    return await turn.ask(Step.TIME)


async def _said_done(turn: Turn_) -> None:
    """The tapped message (the details, or "Is it done?") says it was said done; its claim
    buttons (Done, Release, Report a concern…) are spent, Write to the referent stays."""
    message = turn.update.callback_query.message if turn.update.callback_query else None
    if not isinstance(message, Message) or message.text is None:
        return
    rows = [
        [b for b in row if not str(b.callback_data or "").startswith(f"{Action.CLAIM_STEP}:")]
        for row in (message.reply_markup.inline_keyboard if message.reply_markup else ())
    ]
    kept = [row for row in rows if row]
    with contextlib.suppress(TelegramError):  # an old message may refuse the edit
        await message.edit_text(
            message.text_html + "\n\n" + escaped(turn._(SAID_DONE)),
            parse_mode=ParseMode.HTML,
            reply_markup=InlineKeyboardMarkup(kept) if kept else None,
        )


async def on_task_done(turn: Turn_, button: Callback) -> State:
    """✅ Done on a /tasks card: the card says so, then the report's first question."""
    claim_id = button.int_arg(1)
    outcome = await task_step(turn.update, turn.context, turn.who, claim_id, TaskVerb.DONE)
    turn.answered_elsewhere()
    if outcome is not StepOutcome.DONE:
        return END
    turn.draft = VisitDraft(claim_id)
    return await turn.ask(Step.TIME)


# --- time spent ------------------------------------------------------------------------------


@VISIT.question(Step.TIME)
async def ask_time(turn: Turn_) -> None:
    """How long it took (counted in the town's hours given)."""
    labels = [(label, verb) for verb, (_minutes, label) in TIME_SPENT.items()]
    rows = [labels[:2], labels[2:], [(SKIP_LABEL, "skip")]]
    await turn.say(turn._("How long did it take, roughly?"), _keyboard(turn, rows))


async def on_time(turn: Turn_, button: Callback) -> State:
    """A duration tapped."""
    if not _ours(turn, button):
        return await turn.stale()
    minutes, label = TIME_SPENT[button.str_arg(0)]
    outcome = await turn.services.requests.record_minutes(
        turn.user_id, turn.draft.claim_id, minutes
    )
    return await _went(turn, outcome, turn._(label), Step.WELLBEING)


async def on_skip_time(turn: Turn_, button: Callback) -> State:
    """No duration given."""
    if not _ours(turn, button):
        return await turn.stale()
    return await _went(turn, StepOutcome.DONE, turn._(SKIP_LABEL), Step.WELLBEING)


# --- how the person seemed -------------------------------------------------------------------


@VISIT.question(Step.WELLBEING)
async def ask_wellbeing(turn: Turn_) -> None:
    """How the person seemed."""
    rows = [[(label, answer.value)] for answer, label in WELLBEING_LABELS.items()]
    rows.append([(SKIP_LABEL, "skip")])
    await turn.say(turn._("How did the person seem?"), _keyboard(turn, rows))


async def on_wellbeing(turn: Turn_, button: Callback) -> State:
    """😊 or 🙂: stored (and 🙂 told the referent); 😟 asks what worries them first."""
    if not _ours(turn, button):
        return await turn.stale()
    answer = WELLBEING_WORDS[button.str_arg(0)]
    choice = turn._(WELLBEING_LABELS[answer])
    if answer is Wellbeing.WORRIED:
        return await _went(turn, StepOutcome.DONE, choice, Step.WORRY)
    outcome = await turn.services.requests.record_wellbeing(
        turn.user_id, turn.draft.claim_id, answer
    )
    return await _went(turn, outcome, choice, Step.MONEY)


async def on_skip_wellbeing(turn: Turn_, button: Callback) -> State:
    """No answer about the person."""
    if not _ours(turn, button):
        return await turn.stale()
    return await _went(turn, StepOutcome.DONE, turn._(SKIP_LABEL), Step.MONEY)


@VISIT.question(Step.WORRY)
async def ask_worry(turn: Turn_) -> None:
    """What worries the volunteer, in their words (sent at once, never stored)."""
    text = turn._(
        "What worries you? Write it in one message: it goes at once to the referent and the "
        "coordinators, and is not kept by the bot."
    )
    await turn.say(text, _keyboard(turn, [[(SKIP_LABEL, "skip")]]))


async def on_worry(turn: Turn_) -> State:
    """The sentence typed: the referent and the coordinators are alerted now."""
    sentence = await turn.typed(MAX_WORRY_LENGTH, DESCRIBE_WORRY, lines=True)
    if sentence is None:
        return None
    return await _worried(turn, sentence)


async def on_skip_worry(turn: Turn_, button: Callback) -> State:
    """No sentence: the alert goes without it."""
    if not _ours(turn, button):
        return await turn.stale()
    return await _worried(turn, None)


async def _worried(turn: Turn_, sentence: str | None) -> State:
    """Alert the referent and the coordinators, then ask about money."""
    outcome = await turn.services.requests.record_wellbeing(
        turn.user_id, turn.draft.claim_id, Wellbeing.WORRIED, sentence
    )
    if outcome is StepOutcome.DONE:
        await turn.answer()
        await turn.drop_buttons()
        await turn.say(
            turn._(
                "The referent and the coordinators have been alerted. If someone is in danger, "
                "call 112."
            )
        )
        return await turn.ask(Step.MONEY)
    return await _went(turn, outcome, "", Step.MONEY)


# --- money advanced --------------------------------------------------------------------------


@VISIT.question(Step.MONEY)
async def ask_money(turn: Turn_) -> None:
    """Money advanced: an amount typed, or none."""
    text = turn._(
        "Did you advance money for the person? Type the amount (for example {example}), or tap No.",
        example=money_text(1250, turn.services.settings.currency, turn._.language),
    )
    await turn.say(text, _keyboard(turn, [[(N_("No"), "none")]]))


async def on_amount(turn: Turn_) -> State:
    """An amount typed: the referent is told it in their own locale."""
    cents = parse_amount(turn.message.text or "")
    currency = turn.services.settings.currency
    if cents is None:
        await turn.say(
            turn._(
                "Please type an amount such as {example} (at most {max}), or tap No.",
                example=money_text(1250, currency, turn._.language),
                max=money_text(MAX_EXPENSE_CENTS, currency, turn._.language),
            )
        )
        return None
    outcome = await turn.services.requests.record_expense(turn.user_id, turn.draft.claim_id, cents)
    if outcome is StepOutcome.DONE:
        amount = money_text(cents, currency, turn._.language)
        await turn.say(turn._("Noted: {amount}. The referent has been told.", amount=amount))
    return await _went(turn, outcome, "", Step.RECEIPT)


async def on_no_money(turn: Turn_, button: Callback) -> State:
    """No money advanced: the report is complete."""
    if not _ours(turn, button):
        return await turn.stale()
    outcome = await turn.services.requests.record_expense(turn.user_id, turn.draft.claim_id, 0)
    return await _went(turn, outcome, turn._("No"), None)


@VISIT.question(Step.RECEIPT)
async def ask_receipt(turn: Turn_) -> None:
    """The receipt, as a photo (forwarded, not kept)."""
    text = turn._("Do you have the receipt? Send a photo of it: it goes to the referent.")
    await turn.say(text, _keyboard(turn, [[(N_("No receipt"), "skip")]]))


async def on_receipt(turn: Turn_) -> State:
    """A photo: forwarded to the referent by its file id."""
    photos = turn.message.photo
    outcome = await turn.services.requests.send_receipt(
        turn.user_id, turn.draft.claim_id, photos[-1].file_id
    )
    if outcome is StepOutcome.DONE:
        await turn.say(turn._("The receipt has been sent to the referent."))
    return await _went(turn, outcome, "", None)


async def on_no_receipt(turn: Turn_, button: Callback) -> State:
    """No receipt: the report is complete."""
    if not _ours(turn, button):
        return await turn.stale()
    return await _went(turn, StepOutcome.DONE, turn._("No receipt"), None)


def build_visit_conversation() -> ConversationHandler[BrigadeContext]:
    """✅ Done and the visit report; persisted across restarts."""
    return VISIT.build(
        entry_points=[
            VISIT.start_tap(on_done, action=Action.CLAIM_STEP, verb="done"),
            VISIT.start_tap(on_task_done, action=Action.TASK, verb="done"),
        ],
        states={
            Step.TIME: [
                *(VISIT.on(verb, on_time) for verb in TIME_SPENT),
                VISIT.on("skip", on_skip_time),
            ],
            Step.WELLBEING: [
                *(VISIT.on(word, on_wellbeing) for word in WELLBEING_WORDS),
                VISIT.on("skip", on_skip_wellbeing),
            ],
            Step.WORRY: [VISIT.text(on_worry), VISIT.on("skip", on_skip_worry)],
            Step.MONEY: [VISIT.text(on_amount), VISIT.on("none", on_no_money)],
            Step.RECEIPT: [
                VISIT.message(PRIVATE & filters.PHOTO, on_receipt),
                VISIT.on("skip", on_no_receipt),
            ],
        },
    )
