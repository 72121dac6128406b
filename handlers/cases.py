"""Reported cases (from /signal): referents and coordinators follow them up and close them.

/cases lists the cases not yet closed; each case message has its buttons (Action.CASE, verb + case
id): "I'll follow up" (`assign`), "Close the case" (`close`, which shows the outcomes), and one
outcome (`o-…`), each with its handler.
"""

from __future__ import annotations

import contextlib

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.error import TelegramError

from bot.callbacks import Callback
from bot.context import BrigadeContext
from bot.domain.vocabulary import Role, SignalStatus
from bot.i18n import N_, Translator
from bot.messages.cases import OUTCOME_WORDS, CaseView, case_buttons, case_text, outcome_buttons
from bot.services.signals import CaseOutcome
from handlers.buttons import query_of
from handlers.common import NO_LONGER_VALID, Speaker

MAX_CASES_LISTED = 10
NOT_STAFF = N_("Reported cases are followed up by the brigade's referents and coordinators.")
CASE_ANSWERS = {
    CaseOutcome.ALREADY_YOURS: N_("You already follow this case up."),
    CaseOutcome.TAKEN: N_("{name} already follows this case up."),
    CaseOutcome.CLOSED: N_("This case is closed."),
    CaseOutcome.NOT_ALLOWED: NOT_STAFF,
    CaseOutcome.NOT_FOUND: NO_LONGER_VALID,
}


def _viewer_buttons(
    view: CaseView, who: Speaker, _: Translator
) -> list[list[InlineKeyboardButton]]:
    """The case's buttons, without "Close" for a referent when someone else follows it up."""
    others = view.assignee_id is not None and view.assignee_id != who.member.id
    return case_buttons(view, _, may_close=not others or Role.COORDINATOR in who.member.roles)


async def _show_case(update: Update, context: BrigadeContext, who: Speaker, case_id: int) -> None:
    """Refresh the tapped case message (HTML) as the case now stands."""
    query = query_of(update)
    view = await context.services.signals.view(who.member.telegram_id, case_id)
    if isinstance(view, CaseOutcome):
        return
    rows = _viewer_buttons(view, who, who._)
    with contextlib.suppress(TelegramError):
        await query.edit_message_text(
            case_text(view, who._),
            parse_mode="HTML",
            reply_markup=InlineKeyboardMarkup(rows) if rows else None,
        )


async def on_assign(
    update: Update, context: BrigadeContext, who: Speaker, button: Callback
) -> None:
    """I'll follow up."""
    query = query_of(update)
    _, case_id = who._, button.int_arg(1)
    result = await context.services.signals.assign(who.member.telegram_id, case_id)
    if result.outcome is CaseOutcome.DONE:
        await query.answer(_("It's yours: thank you for following it up."))
    else:
        await query.answer(
            _(CASE_ANSWERS[result.outcome], name=result.assignee or "—"),
            show_alert=result.outcome is CaseOutcome.NOT_ALLOWED,
        )
    await _show_case(update, context, who, case_id)


async def on_close(update: Update, context: BrigadeContext, who: Speaker, button: Callback) -> None:
    """Close the case: the outcomes to choose from, on the case message."""
    query = query_of(update)
    _, case_id = who._, button.int_arg(1)
    view = await context.services.signals.view(who.member.telegram_id, case_id)
    if isinstance(view, CaseOutcome):
        await query.answer(_(CASE_ANSWERS[view], name="—"), show_alert=True)
        return
    if view.status is SignalStatus.CLOSED:
        await query.answer(_(CASE_ANSWERS[CaseOutcome.CLOSED]))
        await _show_case(update, context, who, case_id)
        return
    await query.answer()
    with contextlib.suppress(TelegramError):
        await query.edit_message_reply_markup(InlineKeyboardMarkup(outcome_buttons(case_id, _)))


async def on_outcome(
    update: Update, context: BrigadeContext, who: Speaker, button: Callback
) -> None:
    """The outcome chosen: the case is closed with it."""
    query = query_of(update)
    _, verb, case_id = who._, button.str_arg(0), button.int_arg(1)
    result = await context.services.signals.close(
        who.member.telegram_id, case_id, OUTCOME_WORDS[verb]
    )
    if result.outcome is CaseOutcome.DONE:
        await query.answer(_("Case closed. Thank you!"))
    elif result.outcome is CaseOutcome.NOT_ALLOWED and result.assignee:
        await query.answer(
            _(
                "{name} follows this case up: only they or a coordinator can close it.",
                name=result.assignee,
            ),
            show_alert=True,
        )
    else:
        await query.answer(
            _(CASE_ANSWERS.get(result.outcome, NO_LONGER_VALID), name=result.assignee or "—")
        )
    await _show_case(update, context, who, case_id)


async def cases_command(
    update: Update, context: BrigadeContext, who: Speaker, message: Message
) -> None:
    """/cases: the reported cases not yet closed, each with its buttons."""
    _ = who._
    views = await context.services.signals.open_cases(who.member.telegram_id)
    if isinstance(views, CaseOutcome):
        await message.reply_text(_(NOT_STAFF))
        return
    if not views:
        await message.reply_text(_("No reported case is waiting. 🎉"))
        return
    await message.reply_text(
        _.ngettext(
            "{count} case not yet closed, oldest first:",
            "{count} cases not yet closed, oldest first:",
            len(views),
        )
    )
    for view in views[:MAX_CASES_LISTED]:
        rows = _viewer_buttons(view, who, _)
        await message.reply_text(
            case_text(view, _),
            parse_mode="HTML",
            reply_markup=InlineKeyboardMarkup(rows) if rows else None,
        )
