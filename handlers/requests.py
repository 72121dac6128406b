"""Buttons of the request lifecycle: claim, not for me, done, release, confirm, cancel.

Each handler parses the button, calls one RequestService use case (which checks who pressed it
and the current state in the database), and answers the tap; every other message goes out through
the outbox, written in the use case's transaction.
"""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ParseMode

from bot import callbacks
from bot.callbacks import Action, Callback
from bot.context import BrigadeContext
from bot.i18n import N_, Translator
from bot.services.requests import ClaimOutcome, StepOutcome
from bot.text import escaped
from handlers.common import Speaker, speaker

CLAIM_ANSWERS = {
    ClaimOutcome.CLAIMED: N_("It's yours, thank you! The details are in our private chat."),
    ClaimOutcome.ALREADY_YOURS: N_("You have already taken this request."),
    ClaimOutcome.FULL: N_("Sorry, other volunteers were quicker: this request is taken."),
    ClaimOutcome.CLOSED: N_("This request is no longer open."),
    ClaimOutcome.NOT_ALLOWED: N_(
        "Only approved volunteers with this skill can take this request. See /start."
    ),
    ClaimOutcome.NOT_OFFERED: N_("This request was not offered to you here."),
    ClaimOutcome.RELEASING_TOO_OFTEN: N_(
        "You gave back several requests today: you can take a new one tomorrow. "
        "The coordinators can tell you more."
    ),
    ClaimOutcome.NOT_FOUND: N_("This button is no longer valid."),
}
STEP_ANSWERS = {
    StepOutcome.DONE: N_("Done."),
    StepOutcome.NOT_ALLOWED: N_("This action is not available to you."),
    StepOutcome.STALE: N_("This has already been dealt with."),
    StepOutcome.ALREADY_DONE: N_("This has already been done."),
    StepOutcome.NOT_FOUND: N_("This button is no longer valid."),
}


async def _parse(
    update: Update, context: BrigadeContext, action: Action
) -> tuple[Speaker, Callback] | None:
    """The speaker and the parsed button, or None after answering a stale/forged tap."""
    query = update.callback_query
    who = await speaker(update, context)
    if query is None or who is None:
        return None
    parsed = callbacks.parse(query.data)
    if parsed is None or parsed.action is not action:
        await query.answer(who._("This button is no longer valid."))
        return None
    return who, parsed


async def _answer(update: Update, _: Translator, text: str, *, alert: bool = False) -> None:
    if update.callback_query is not None:
        await update.callback_query.answer(_(text), show_alert=alert)


# "How long did it take?" answers: the button's word → minutes.
TIME_SPENT = {"t30": 30, "t60": 60, "t120": 120, "t240": 240}
TIME_LABELS = {
    "t30": N_("30 min"),
    "t60": N_("1 hour"),
    "t120": N_("2 hours"),
    "t240": N_("Half a day"),
}


async def _ask_time_spent(update: Update, _: Translator, claim_id: int) -> None:
    """Right after Done: how long it took (optional; counted in the town's hours given)."""
    message = update.effective_message
    if message is None:
        return
    buttons = [
        InlineKeyboardButton(
            _(label), callback_data=callbacks.encode(Action.CLAIM_STEP, verb, claim_id)
        )
        for verb, label in TIME_LABELS.items()
    ]
    await message.get_bot().send_message(
        message.chat.id,
        _("How long did it take, roughly? (optional)"),
        reply_markup=InlineKeyboardMarkup([buttons[:2], buttons[2:]]),
    )


async def on_claim(update: Update, context: BrigadeContext) -> None:
    """Take a place on the request (in a private chat or in the neighbourhood group)."""
    parsed = await _parse(update, context, Action.CLAIM)
    if parsed is None:
        return
    who, button = parsed
    query = update.callback_query
    assert query is not None
    # The chat of the tapped copy: a claim must go through an offer made in that chat.
    chat = query.message.chat.id if query.message is not None else who.member.telegram_id
    result = await context.services.requests.claim(
        who.member.telegram_id, button.int_arg(0), in_chat=chat
    )
    await _answer(
        update,
        who._,
        CLAIM_ANSWERS[result.outcome],
        alert=result.outcome
        in {ClaimOutcome.NOT_ALLOWED, ClaimOutcome.FULL, ClaimOutcome.RELEASING_TOO_OFTEN},
    )


async def on_decline(update: Update, context: BrigadeContext) -> None:
    """ "Not for me": no further message about this request, and the offer says so."""
    parsed = await _parse(update, context, Action.DECLINE)
    if parsed is None:
        return
    who, button = parsed
    query = update.callback_query
    assert query is not None
    outcome = await context.services.requests.decline(
        who.member.telegram_id,
        button.int_arg(0),
        message_id=query.message.message_id if query.message else None,
    )
    if outcome is StepOutcome.DONE:
        await query.answer(who._("Understood. Thank you for answering!"))
        # The offer is HTML (its description quoted): keep its formatting, add one line.
        message = query.message
        offer = message.text_html if isinstance(message, Message) and message.text else ""
        note = escaped(who._("You said this one is not for you."))
        await query.edit_message_text(offer + "\n\n" + note, parse_mode=ParseMode.HTML)
        return
    await _answer(update, who._, STEP_ANSWERS[outcome])


async def on_claim_step(update: Update, context: BrigadeContext) -> None:
    """The claimer's follow-up: done, release, could not, not yet, concern."""
    parsed = await _parse(update, context, Action.CLAIM_STEP)
    if parsed is None:
        return
    who, button = parsed
    verb, claim_id = button.str_arg(0), button.int_arg(1)
    requests = context.services.requests
    telegram_id = who.member.telegram_id
    if verb == "done":
        outcome = await requests.mark_done(telegram_id, claim_id)
        if outcome is StepOutcome.DONE:
            await _answer(update, who._, N_("Thank you! The referent is asked to confirm."))
            await _ask_time_spent(update, who._, claim_id)
            return
    elif verb in TIME_SPENT:
        outcome = await requests.record_minutes(telegram_id, claim_id, TIME_SPENT[verb])
        if outcome is StepOutcome.DONE:
            await _answer(update, who._, N_("Noted, thank you!"))
            query = update.callback_query
            assert query is not None
            await query.edit_message_reply_markup(None)
            return
    elif verb == "release":
        outcome = await requests.release(telegram_id, claim_id)
        if outcome is StepOutcome.DONE:
            await _answer(update, who._, N_("Released: the request is offered to others again."))
            return
    elif verb == "failed":
        outcome = await requests.could_not(telegram_id, claim_id)
    elif verb == "notyet":
        outcome = await requests.not_yet(telegram_id, claim_id)
        if outcome is StepOutcome.DONE:
            await _answer(update, who._, N_("Noted. I will ask again later."))
            return
    elif verb == "concern":
        outcome = await requests.concern(telegram_id, claim_id)
        if outcome is StepOutcome.DONE:
            await _answer(
                update,
                who._,
                N_(
                    "The referent and the coordinators have been alerted. If someone is in "
                    "danger, call 112."
                ),
                alert=True,
            )
            return
        if outcome is StepOutcome.ALREADY_DONE:
            await _answer(
                update,
                who._,
                N_(
                    "You already reported a concern about this request: the referent and the "
                    "coordinators were alerted. If someone is in danger, call 112."
                ),
                alert=True,
            )
            return
    else:
        outcome = StepOutcome.NOT_FOUND
    await _answer(update, who._, STEP_ANSWERS[outcome])


async def on_referent_step(update: Update, context: BrigadeContext) -> None:
    """The referent confirms the service, or says it was not done."""
    parsed = await _parse(update, context, Action.REFERENT_STEP)
    if parsed is None:
        return
    who, button = parsed
    verb = button.str_arg(0)
    if verb not in {"confirm", "notdone"}:
        await _answer(update, who._, STEP_ANSWERS[StepOutcome.NOT_FOUND])
        return
    outcome = await context.services.requests.confirm(
        who.member.telegram_id, button.int_arg(1), done=verb == "confirm"
    )
    if outcome is StepOutcome.DONE:
        text = (
            N_("Confirmed. Thank you!")
            if verb == "confirm"
            else N_("Noted: the request is offered again.")
        )
        await _answer(update, who._, text)
        query = update.callback_query
        assert query is not None
        await query.edit_message_reply_markup(None)
        return
    await _answer(update, who._, STEP_ANSWERS[outcome])


async def on_request_admin(update: Update, context: BrigadeContext) -> None:
    """The referent (or a coordinator) cancels a request, re-sends it, or widens it."""
    parsed = await _parse(update, context, Action.REQUEST_ADMIN)
    if parsed is None:
        return
    who, button = parsed
    verb, request_id = button.str_arg(0), button.int_arg(1)
    requests = context.services.requests
    if verb == "cancel":
        outcome = await requests.cancel(who.member.telegram_id, request_id)
        if outcome is StepOutcome.DONE:
            await _answer(update, who._, N_("Request cancelled. The volunteers have been told."))
            return
    elif verb == "resend":
        outcome = await requests.resend(who.member.telegram_id, request_id)
        if outcome is StepOutcome.DONE:
            await _answer(update, who._, N_("Offered again to every volunteer who fits."))
            return
    elif verb == "widen":
        outcome = await requests.widen(who.member.telegram_id, request_id)
        if outcome is StepOutcome.DONE:
            await _answer(update, who._, N_("Offered to volunteers farther away too."))
            return
    else:
        outcome = StepOutcome.NOT_FOUND
    await _answer(update, who._, STEP_ANSWERS[outcome])
