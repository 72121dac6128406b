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

from telegram import CallbackQuery, InlineKeyboardButton, Message, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest

from bot.callbacks import Action, Callback
from bot.context import BrigadeContext
from bot.messages.base import buttons, keyboard
from bot.messages.claims import (
    CANCEL_ASKED,
    CANCEL_BUTTON,
    CANCEL_DONE,
    CANCEL_NO,
    CANCEL_YES,
    PLAN_WORDS,
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
)
from bot.messages.visits import plan_chosen
from bot.services.requests import RequestService, StepOutcome
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
    """ "Not for me": no further message about this request, and the offer says so."""
    query = query_of(update)
    outcome = await context.services.requests.decline(
        who.member.telegram_id,
        button.int_arg(0),
        message_id=query.message.message_id if query.message else None,
    )
    await _answer(update, step_answer("decline", outcome, who._))
    if outcome is StepOutcome.DONE:
        # The offer is HTML (its description quoted): keep its formatting, add one line.
        message = query.message
        offer = message.text_html if isinstance(message, Message) and message.text else ""
        await query.edit_message_text(
            offer + "\n\n" + declined_note(who._), parse_mode=ParseMode.HTML
        )


def _claim_steps(requests: RequestService) -> dict[str, Step]:
    """The claimer's follow-up, by the button's word (Done starts the visit report instead:
    conversations/visit.py)."""
    steps: dict[str, Step] = {
        "release": requests.release,
        "failed": requests.could_not,
        "notyet": requests.not_yet,
        "concern": requests.concern,
    }
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
    """The claimer's follow-up: release, could not, not yet, concern, when they will go."""
    steps = _claim_steps(context.services.requests)
    verb, _claim, outcome = await _step(update, who, button, steps)
    message = query_of(update).message
    plan = PLAN_WORDS.get(verb)
    if plan is not None and outcome is StepOutcome.DONE and isinstance(message, Message):
        # The question shows the answer given; its buttons are spent.
        await message.edit_text(plan_chosen(message.text or "", plan, who._))


async def on_referent_step(
    update: Update, context: BrigadeContext, who: Speaker, button: Callback
) -> None:
    """The referent confirms the service, says it was not done, or raises the volunteer's
    conduct with the coordinators (asked first, then told in the message tapped)."""
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
    steps: dict[str, Step] = {
        "confirm": partial(requests.confirm, done=True),
        "notdone": partial(requests.confirm, done=False),
        "conductok": requests.report_conduct,
    }
    _verb, _claim, outcome = await _step(update, who, button, steps)
    if outcome is not StepOutcome.DONE:
        return
    if verb == "conductok" and isinstance(query.message, Message) and query.message.text:
        # Shown in the message acted on; Confirmed / Not done stay if not answered yet.
        await query.edit_message_text(
            query.message.text + "\n\n" + who._(CONDUCT_TOLD),
            reply_markup=keyboard(_other_rows(query)),
        )
    elif verb == "notdone":
        # Not done: the volunteer's conduct may be why.
        await _redraw(query, buttons(who._, *_referent_step(claim_id), (CONDUCT_BUTTON,)))
    else:
        await query.edit_message_reply_markup(None)


def _referent_step(claim_id: int) -> tuple[Action, int]:
    return Action.REFERENT_STEP, claim_id


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
    message = query.message
    if not isinstance(message, Message) or message.text is None:
        return
    question = html.escape("\n\n" + who._(CANCEL_ASKED, id=request_id), quote=False)
    text = message.text_html.removesuffix(question)
    if asking:
        text += question
        labels = ((CANCEL_YES, "cancelyes"), (CANCEL_NO, "cancelno"))
        instead = buttons(who._, Action.REQUEST_ADMIN, request_id, (labels,))[0]
    elif done:
        text += "\n\n" + html.escape(who._(CANCEL_DONE, id=request_id), quote=False)
        instead = []
    else:
        instead = buttons(who._, Action.REQUEST_ADMIN, request_id, CANCEL_BUTTON)[0]
    # The request's cancel button (or its Yes / No) becomes `instead`; the other buttons stay.
    ours = {f"ra:{verb}:{request_id}" for verb in ("cancel", "cancelyes", "cancelno")}
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
