"""/watch (coordinators) and the buttons of a campaign's days.

`wt:show:<id>` refreshes the card's figures in place, `wt:stop:<id>` asks first in the card,
`wt:stopyes:<id>` stops and sends the campaign's report, as `wt:report:<id>` does; ▶️ Start
is the conversation in conversations/watch.py. A caller's `wc:<outcome>:<call id>` records an
outcome and edits their list in place; a referent's or coordinator's `wa:<action>:<call id>`
says what they do about a person nobody reached and edits the alert they tapped. Every service
call checks, in the database, who pressed and the state.
"""

from __future__ import annotations

import contextlib

from telegram import Message, Update
from telegram.error import BadRequest

from bot.callbacks import Callback
from bot.context import BrigadeContext
from bot.domain.watch import Acknowledgement, CallOutcome
from bot.i18n import N_
from bot.messages import spreadsheets
from bot.messages import watch as screens
from bot.messages.base import Rendered, Town
from bot.messages.watch_calls import acknowledged, caller_list
from bot.services.outcomes import Outcome
from bot.services.watch.calls import Acknowledged
from bot.services.watch.report import report_chart
from handlers.buttons import query_of
from handlers.common import NO_LONGER_VALID, Speaker
from handlers.directory import show

NOT_YOUR_CALL = N_("This person is not on your list.")
LIST_OVER = N_("This list is over: the day's calls have ended.")
ALREADY_RECORDED = N_("Already recorded.")
ALREADY_ACTING = N_("Someone has already said they are acting.")
OUTCOME_TOASTS = {
    CallOutcome.WELL: N_("Noted: reached, all well. Thank you!"),
    CallOutcome.NEEDS: N_("Noted: their referent and the coordinators are told."),
    CallOutcome.NO_ANSWER: N_("Noted: no answer. I will remind you to call again."),
    CallOutcome.EMERGENCY: N_("Noted: their referent and the coordinators are told."),
}


async def card_screen(context: BrigadeContext, who: Speaker) -> Rendered:
    """The running campaign with today's figures, or the way to start one."""
    found = await context.services.watch.figures(who.member.telegram_id)
    if isinstance(found, Outcome):
        return Rendered(who._(screens.NOT_A_COORDINATOR_WATCH))
    if found is None:
        last = await context.services.watch_reports.last_campaign(who.member.telegram_id)
        return screens.no_campaign(who._, last if isinstance(last, int) else None)
    return screens.campaign_card(*found, who._)


async def watch_command(
    update: Update, context: BrigadeContext, who: Speaker, message: Message
) -> None:
    """/watch: the running campaign and today's figures, or ▶️ Start."""
    await show(update, await card_screen(context, who), edit=False)


async def on_watch_button(
    update: Update, context: BrigadeContext, who: Speaker, button: Callback
) -> None:
    """`wt:show|stop|stopyes:<campaign id>`: refresh, ask before stopping, stop."""
    query = query_of(update)
    verb, campaign_id = button.str_arg(0), button.int_arg(1)
    services, _ = context.services, who._
    if verb == "show":
        await query.answer()
        await show(update, await card_screen(context, who), edit=True)
        return
    if verb == "stop":
        found = await services.watch.figures(who.member.telegram_id)
        if isinstance(found, tuple) and found[0].id == campaign_id:
            await query.answer()
            await show(update, screens.stop_question(found[0], _), edit=True)
            return
        await query.answer(_(NO_LONGER_VALID))
        await show(update, await card_screen(context, who), edit=True)
        return
    if verb == "stopyes":
        outcome = await services.watch.stop(who.member.telegram_id, campaign_id)
        if outcome is Outcome.DONE:
            await query.answer()
            await show(update, screens.stopped(_), edit=True)
            await send_report(update, context, who, campaign_id)
            return
        await query.answer(_(NO_LONGER_VALID))
        await show(update, await card_screen(context, who), edit=True)
        return
    if verb == "report":
        await query.answer()
        await send_report(update, context, who, campaign_id)
        return
    await query.answer(_(NO_LONGER_VALID))


async def send_report(
    update: Update, context: BrigadeContext, who: Speaker, campaign_id: int
) -> None:
    """The campaign's report: its totals, the CSV file of its days, the same as an .xlsx workbook
    (headers in the reader's language) and a chart (no name, no phone)."""
    report = await context.services.watch_reports.report(who.member.telegram_id, campaign_id)
    message = update.effective_message
    if message is None:
        return
    bot = message.get_bot()
    if isinstance(report, Outcome):
        await bot.send_message(message.chat.id, who._(NO_LONGER_VALID))
        return
    await bot.send_document(
        message.chat.id,
        report.csv(),
        filename=report.filename,
        caption=screens.report_summary(report, who._),
    )
    await bot.send_document(
        message.chat.id,
        spreadsheets.workbook([report.sheet()], who._),
        filename=report.workbook_name,
    )
    chart = await report_chart(report, who._, context.services.settings.town_name)
    await bot.send_photo(message.chat.id, chart, filename=report.filename.replace(".csv", ".png"))


async def on_call_button(
    update: Update, context: BrigadeContext, who: Speaker, button: Callback
) -> None:
    """`wc:<outcome>:<call id>`: a caller's outcome, shown in their list (edited)."""
    query = query_of(update)
    _ = who._
    outcome = next((kind for kind in OUTCOME_TOASTS if kind.value == button.str_arg(0)), None)
    if outcome is None:  # a word the list never offers (forged)
        await query.answer(_(NO_LONGER_VALID))
        return
    result = await context.services.watch.record(who.member.telegram_id, button.int_arg(1), outcome)
    if isinstance(result, Outcome):
        refusal = {
            Outcome.NOT_ALLOWED: NOT_YOUR_CALL,
            Outcome.EXPIRED: LIST_OVER,
            Outcome.ALREADY_DONE: ALREADY_RECORDED,
        }.get(result, NO_LONGER_VALID)
        await query.answer(_(refusal), show_alert=result is not Outcome.ALREADY_DONE)
        return
    await query.answer(_(OUTCOME_TOASTS[outcome]))
    rendered = caller_list(result, _, Town.of(context.services.settings))
    with contextlib.suppress(BadRequest):
        await query.edit_message_text(rendered.text, reply_markup=rendered.keyboard)


async def on_alert_button(
    update: Update, context: BrigadeContext, who: Speaker, button: Callback
) -> None:
    """`wa:<go|police|reached>:<call id>`: who acts about a person nobody reached: the alert
    tapped is edited here, every other copy by the service, through the outbox."""
    query = query_of(update)
    _ = who._
    try:
        action = Acknowledgement(button.str_arg(0))
    except ValueError:
        await query.answer(_(NO_LONGER_VALID))
        return
    message = query.message
    tapped = None if message is None else (message.chat.id, message.message_id)
    result = await context.services.watch.acknowledge(
        who.member.telegram_id, button.int_arg(1), action, tapped=tapped
    )
    if result is Outcome.NOT_ALLOWED:
        await query.answer(_(screens.NOT_REFERENT_OR_COORDINATOR), show_alert=True)
        return
    if result is Outcome.ALREADY_DONE:
        await query.answer(_(ALREADY_ACTING), show_alert=True)
        return
    if not isinstance(result, Acknowledged):
        await query.answer(_(NO_LONGER_VALID))
        return
    await query.answer()
    rendered = acknowledged(result.name, result.who, result.acknowledgement, _)
    with contextlib.suppress(BadRequest):
        await query.edit_message_text(rendered.text, reply_markup=None)
