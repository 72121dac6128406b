"""Buttons of the request lifecycle: claim, not for me, done, release, confirm, cancel.

The button route (handlers/buttons.py `tap`) parses the button and identifies the person; each
handler calls one RequestService use case (which checks who pressed it, where, and the current
state in the database) and answers the tap with the text `bot.messages.claims` gives; every other
message goes out through the outbox, written in the use case's transaction.
"""

from __future__ import annotations

import contextlib
import html
from collections.abc import Awaitable, Callable
from functools import partial

from babel.dates import format_datetime
from telegram import CallbackQuery, InlineKeyboardButton, Message, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest

from bot import callbacks
from bot.callbacks import Action, Callback
from bot.context import BrigadeContext
from bot.messages.base import Layout, Town, buttons, keyboard
from bot.messages.base import button as button_of
from bot.messages.claims import (
    ASK_AGAIN_AT,
    ASK_AGAIN_FORMAT,
    CANCEL_ASKED,
    CANCEL_BUTTON,
    CANCEL_DONE,
    CANCEL_NO,
    CANCEL_YES,
    GIVE_BACK,
    PLAN_WORDS,
    RELEASE_ASKED,
    TOO_LATE_TO_UNDO,
    UNDO_LABEL,
    UNDONE,
    DetailsRemoved,
    Toast,
    claim_answer,
    declined_note,
    step_answer,
)
from bot.messages.closing import (
    CONDUCT_ASKED,
    CONDUCT_BUTTON,
    CONDUCT_QUESTION,
    CONDUCT_TOLD,
    CONFIRM_BUTTONS,
    CONFIRMED_BY,
    NOT_DONE_ASKED,
    NOT_DONE_BY,
    NOT_DONE_QUESTION,
)
from bot.messages.offers import skill_of
from bot.messages.visits import plan_chosen
from bot.services.requests import RequestService, StepOutcome, TaskVerb
from handlers.buttons import query_of
from handlers.common import Speaker

# A follow-up step: (the tapper's Telegram id, the claim's or request's id) → how it ended.
Step = Callable[[int, int], Awaitable[StepOutcome]]


async def _answer(update: Update, toast: Toast) -> None:
    if update.callback_query is not None:
        await update.callback_query.answer(toast.text, show_alert=toast.alert)


async def on_claim(update: Update, context: BrigadeContext, who: Speaker, button: Callback) -> None:
    """Take a place on the request (in a private chat or in the neighbourhood group)."""
    query = query_of(update)
    # The chat of the tapped copy: a claim must go through an offer made in that chat.
    chat = query.message.chat.id if query.message is not None else who.member.telegram_id
    result = await context.services.requests.claim(
        who.member.telegram_id, button.int_arg(0), in_chat=chat
    )
    await _answer(update, claim_answer(result.outcome, who._))


async def on_decline(
    update: Update, context: BrigadeContext, who: Speaker, button: Callback
) -> None:
    """ "Not for me": no further message about this request; the offer says so, with an Undo
    for a minute."""
    query = query_of(update)
    request_id = button.int_arg(0)
    outcome = await context.services.requests.decline(
        who.member.telegram_id,
        request_id,
        message_id=query.message.message_id if query.message else None,
    )
    await _answer(update, step_answer("decline", outcome, who._))
    if outcome is StepOutcome.DONE:
        # The offer is HTML (its description quoted): keep its formatting, add one line.
        message = query.message
        offer = message.text_html if isinstance(message, Message) and message.text else ""
        undo = [[button_of(who._(UNDO_LABEL), Action.UNDO_DECLINE, request_id)]]
        await query.edit_message_text(
            offer + "\n\n" + declined_note(who._),
            parse_mode=ParseMode.HTML,
            reply_markup=keyboard(undo),
        )


async def on_undo_decline(
    update: Update, context: BrigadeContext, who: Speaker, button: Callback
) -> None:
    """↩️ Undo "Not for me" (for a minute): the offer comes back as it now stands."""
    query = query_of(update)
    outcome = await context.services.requests.undo_decline(
        who.member.telegram_id,
        button.int_arg(0),
        message_id=query.message.message_id if query.message else None,
    )
    if outcome is StepOutcome.DONE:
        await query.answer(who._(UNDONE))  # the outbox edits the offer back (places left now)
    elif outcome is StepOutcome.STALE:
        await query.answer(who._(TOO_LATE_TO_UNDO), show_alert=True)
        with contextlib.suppress(BadRequest):  # the Undo is spent; the line stays
            await query.edit_message_reply_markup(None)
    else:
        await _answer(update, step_answer("undo", outcome, who._))


def _claim_steps(requests: RequestService) -> dict[str, Step]:
    """The claimer's follow-up, by the button's word (Done starts the visit report instead:
    conversations/visit.py; Report a concern asks for a sentence: conversations/concern.py)."""
    steps: dict[str, Step] = {"notyet": requests.not_yet}
    for verb, plan in PLAN_WORDS.items():
        steps[verb] = partial(requests.plan_visit, plan=plan)
    return steps


async def _step(
    update: Update, who: Speaker, button: Callback, steps: dict[str, Step]
) -> tuple[str, int, StepOutcome]:
    """Run the step the button names and answer the tap."""
    verb, target = button.str_arg(0), button.int_arg(1)
    step = steps.get(verb)
    outcome = StepOutcome.NOT_FOUND if step is None else await step(who.member.telegram_id, target)
    await _answer(update, step_answer(verb, outcome, who._))
    return verb, target, outcome


async def on_claim_step(
    update: Update, context: BrigadeContext, who: Speaker, button: Callback
) -> None:
    """The claimer's follow-up: release or could not (asked first), not yet, when they will go."""
    requests = context.services.requests
    query = query_of(update)
    verb, claim_id = button.str_arg(0), button.int_arg(1)
    family = verb.removesuffix("yes").removesuffix("no")
    if family in GIVE_BACK and verb != family + "yes":
        await _ask_give_back(update, context, who, claim_id, family, asking=verb == family)
        return
    if family in GIVE_BACK:
        await _give_back(update, context, who, claim_id, could_not=family == "failed")
        return
    verb, claim_id, outcome = await _step(update, who, button, _claim_steps(requests))
    message = query.message
    if outcome is not StepOutcome.DONE or not isinstance(message, Message):
        return
    plan = PLAN_WORDS.get(verb)
    if plan is not None:
        # The question shows the answer given; its buttons are spent.
        await message.edit_text(plan_chosen(message.text or "", plan, who._))
    elif verb == "notyet":
        # The question says when it comes back; its buttons are spent (/tasks has Done).
        when = await requests.asks_again_at(who.member.telegram_id, claim_id)
        if when is not None:
            local = when.astimezone(context.services.settings.tz)
            shown = format_datetime(local, ASK_AGAIN_FORMAT, locale=who._.language)
            with contextlib.suppress(BadRequest):
                await message.edit_text(
                    (message.text or "") + "\n\n" + who._(ASK_AGAIN_AT, when=shown)
                )


async def _give_back(
    update: Update, context: BrigadeContext, who: Speaker, claim_id: int, *, could_not: bool
) -> None:
    """Yes, give it back: released (or could not do it); the message says so at once — the
    details message without the details (the timer sweep's removal writes the same words)."""
    requests, message, tapper = context.services.requests, query_of(update).message, who.member
    seen = await requests.my_task(tapper.telegram_id, claim_id, TaskVerb.SHOW)
    step = requests.could_not if could_not else requests.release
    outcome = await step(tapper.telegram_id, claim_id)
    await _answer(update, step_answer("release", outcome, who._))
    if outcome is not StepOutcome.DONE or seen.card is None or not isinstance(message, Message):
        return
    request = seen.card.request
    gone = DetailsRemoved(request.id, message.message_id, given_back=True)
    text = gone.render(who._, Town.of(context.services.settings)).text
    # "Is it done?" keeps its question above the answer; the details go.
    question = who._(RELEASE_ASKED, id=request.id, skill=skill_of(request, who._))
    asked = html.escape("\n\n" + question, quote=False)
    kept = message.text_html.removesuffix(asked) + "\n\n" if could_not else ""
    with contextlib.suppress(BadRequest):
        await message.edit_text(kept + html.escape(text, quote=False), parse_mode=ParseMode.HTML)


async def _ask_give_back(
    update: Update,
    context: BrigadeContext,
    who: Speaker,
    claim_id: int,
    family: str,
    *,
    asking: bool,
) -> None:
    """↩️ Release on the details, "I could not do it" on "Is it done?": the message asks first
    (Yes, give it back / No, keep it) in place of the button, while the claim is theirs and
    active; "No" puts the button back."""
    query = query_of(update)
    seen = await context.services.requests.my_task(who.member.telegram_id, claim_id, TaskVerb.SHOW)
    if seen.card is None or not seen.card.active:
        refused = seen.outcome if seen.card is None else StepOutcome.STALE
        await _answer(update, step_answer(family, refused, who._))
        return
    await query.answer()
    request = seen.card.request
    button_layout, question_layout = GIVE_BACK[family]
    await _swap(
        query,
        question=who._(RELEASE_ASKED, id=request.id, skill=skill_of(request, who._)),
        asking=asking,
        ours={f"cs:{family}{end}:{claim_id}" for end in ("", "yes", "no")},
        instead=buttons(
            who._, Action.CLAIM_STEP, claim_id, question_layout if asking else button_layout
        )[0],
    )


async def on_referent_step(
    update: Update, context: BrigadeContext, who: Speaker, button: Callback
) -> None:
    """The referent confirms the service, says it was not done (asked first), or raises the
    volunteer's conduct with the coordinators (asked first, then told in the message tapped)."""
    requests = context.services.requests
    query = query_of(update)
    verb, claim_id = button.str_arg(0), button.int_arg(1)
    if verb in {"conduct", "conductno"}:
        outcome = await requests.may_report_conduct(who.member.telegram_id, claim_id)
        if outcome is not StepOutcome.DONE:
            await _answer(update, step_answer(verb, outcome, who._))
            return
        asking = verb == "conduct"
        await query.answer(who._(CONDUCT_ASKED) if asking else who._("Nothing was sent."))
        layout = CONDUCT_QUESTION if asking else (CONDUCT_BUTTON,)
        await _redraw(query, _other_rows(query) + buttons(who._, *_referent_step(claim_id), layout))
        return
    if verb in {"notdone", "notdoneno"}:
        # Not done reopens the request and tells the volunteer: asked first, in place.
        outcome = await requests.may_confirm(who.member.telegram_id, claim_id)
        if outcome is not StepOutcome.DONE:
            await _answer(update, step_answer("notdone", outcome, who._))
            return
        await query.answer()
        asking = verb == "notdone"
        answers: Layout = NOT_DONE_QUESTION if asking else CONFIRM_BUTTONS[:1]
        await _swap(
            query,
            question=who._(NOT_DONE_ASKED),
            asking=asking,
            ours=_answer_data(claim_id),
            instead=buttons(who._, *_referent_step(claim_id), answers)[0],
        )
        return
    steps: dict[str, Step] = {
        "confirm": partial(requests.confirm, done=True),
        "notdoneyes": partial(requests.confirm, done=False),
        "conductok": requests.report_conduct,
    }
    _verb, _claim, outcome = await _step(update, who, button, steps)
    if outcome is StepOutcome.STALE and verb in {"confirm", "notdoneyes"}:
        # Answered on another copy (a reminder's): here too its answers are spent.
        await _redraw(query, _rows_without(query, _answer_data(claim_id)))
        return
    if outcome is not StepOutcome.DONE or not isinstance(query.message, Message):
        return
    text = query.message.text or ""
    if verb == "conductok":
        # Shown in the message acted on; Confirmed / Not done stay if not answered yet.
        await query.edit_message_text(
            text + "\n\n" + who._(CONDUCT_TOLD), reply_markup=keyboard(_other_rows(query))
        )
        return
    # The outcome and who decided, in the question; the answers are spent, the conduct button
    # (if not used yet) still makes sense.
    name = who.member.display_name
    said = who._(CONFIRMED_BY, name=name) if verb == "confirm" else who._(NOT_DONE_BY, name=name)
    text = text.removesuffix("\n\n" + who._(NOT_DONE_ASKED))
    rows = _rows_without(query, _answer_data(claim_id))
    with contextlib.suppress(BadRequest):
        await query.edit_message_text(text + "\n\n" + said, reply_markup=keyboard(rows))


def _referent_step(claim_id: int) -> tuple[Action, int]:
    return Action.REFERENT_STEP, claim_id


def _answer_data(claim_id: int) -> set[str]:
    """The callback data of the referent's answers (Confirmed, Not done, and its question)."""
    verbs = ("confirm", "notdone", "notdoneyes", "notdoneno")
    return {callbacks.encode(Action.REFERENT_STEP, verb, claim_id) for verb in verbs}


def _rows_without(query: CallbackQuery, spent: set[str]) -> list[list[InlineKeyboardButton]]:
    """The tapped message's buttons but those whose callback data is in `spent`."""
    message = query.message
    markup = message.reply_markup if isinstance(message, Message) else None
    rows = [
        [b for b in row if b.callback_data not in spent]
        for row in (markup.inline_keyboard if markup else ())
    ]
    return [row for row in rows if row]


def _other_rows(query: CallbackQuery) -> list[list[InlineKeyboardButton]]:
    """The tapped message's buttons but those about the volunteer's conduct."""
    message = query.message
    markup = message.reply_markup if isinstance(message, Message) else None
    if markup is None:
        return []
    rows = [
        [b for b in row if not str(b.callback_data or "").startswith("rs:conduct")]
        for row in markup.inline_keyboard
    ]
    return [row for row in rows if row]


async def _redraw(query: CallbackQuery, rows: list[list[InlineKeyboardButton]]) -> None:
    with contextlib.suppress(BadRequest):  # "not modified": tapped twice
        await query.edit_message_reply_markup(keyboard(rows))


async def on_request_admin(
    update: Update, context: BrigadeContext, who: Speaker, button: Callback
) -> None:
    """The referent (or a coordinator) cancels a request (asked first), re-sends it, widens it."""
    requests = context.services.requests
    query = query_of(update)
    verb, request_id = button.str_arg(0), button.int_arg(1)
    if verb in {"cancel", "cancelno"}:
        # Cancelling cannot be undone: the tapped message asks first, in place of its button —
        # only someone who may cancel it (its referent or a coordinator), while it may be.
        seen = await requests.my_request(who.member.telegram_id, request_id)
        if seen.card is None or not seen.card.may_cancel:
            refused = seen.outcome if seen.card is None else StepOutcome.STALE
            await _answer(update, step_answer("cancel", refused, who._))
            return
        await query.answer()
        await _ask_cancel(query, who, request_id, asking=verb == "cancel")
        return
    steps: dict[str, Step] = {
        "cancelyes": requests.cancel,
        "resend": requests.resend,
        "widen": requests.widen,
    }
    _verb, _target, outcome = await _step(update, who, button, steps)
    if verb == "cancelyes" and outcome is StepOutcome.DONE:
        await _ask_cancel(query, who, request_id, asking=False, done=True)


async def _ask_cancel(
    query: CallbackQuery, who: Speaker, request_id: int, *, asking: bool, done: bool = False
) -> None:
    """The tapped message with "Cancel request n° X? Yes / No" in place of its cancel button
    (`asking`), back as it was ("No"), or saying the request was cancelled (`done`)."""
    labels = ((CANCEL_YES, "cancelyes"), (CANCEL_NO, "cancelno"))
    await _swap(
        query,
        question=who._(CANCEL_ASKED, id=request_id),
        asking=asking,
        ours={f"ra:{verb}:{request_id}" for verb in ("cancel", "cancelyes", "cancelno")},
        instead=[]
        if done
        else buttons(
            who._, Action.REQUEST_ADMIN, request_id, (labels,) if asking else CANCEL_BUTTON
        )[0],
        outcome=who._(CANCEL_DONE, id=request_id) if done else None,
    )


async def _swap(
    query: CallbackQuery,
    *,
    question: str,
    asking: bool,
    ours: set[str],
    instead: list[InlineKeyboardButton],
    outcome: str | None = None,
) -> None:
    """Ask first in the tapped message: `question` added under its text (`asking`) or taken
    away, then `outcome` if given; the buttons whose data is in `ours` become `instead`, in
    the first row that held one of them; the other buttons stay."""
    message = query.message
    if not isinstance(message, Message) or message.text is None:
        return
    asked = html.escape("\n\n" + question, quote=False)
    text = message.text_html.removesuffix(asked)
    if asking:
        text += asked
    if outcome is not None:
        text += "\n\n" + html.escape(outcome, quote=False)
    rows: list[list[InlineKeyboardButton]] = []
    for row in message.reply_markup.inline_keyboard if message.reply_markup else ():
        kept = [b for b in row if b.callback_data not in ours]
        if len(kept) < len(row) and instead:
            kept += instead
            instead = []
        if kept:
            rows.append(kept)
    with contextlib.suppress(BadRequest):  # "not modified": tapped twice
        await query.edit_message_text(
            text, parse_mode=ParseMode.HTML, reply_markup=keyboard(rows) if rows else None
        )
