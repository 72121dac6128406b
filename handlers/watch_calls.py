"""/watch (coordinators) and the buttons of a campaign's days.

`wt:show:<id>` refreshes the card's figures in place, `wt:stop:<id>` asks first in the card,
`wt:stopyes:<id>` stops and sends the campaign's report, as `wt:report:<id>` does; ▶️ Start
is the conversation in conversations/watch.py. A caller's `wc:<outcome>:<call id>` records an
outcome and edits their list in place (🙋 first asks what is needed: `wn:<skill>:<call id>`,
⬅ `wc:list:<call id>`); `wd:<post|dismiss>:<call id>` decides a 🙋's request draft; a
referent's or coordinator's `wa:<action>:<call id>` says what they do about a person nobody
reached and edits the alert they tapped. Every service call checks, in the database, who
pressed and the state.
"""

from __future__ import annotations

import contextlib

from telegram import CallbackQuery, Message, Update
from telegram.error import BadRequest

from bot.callbacks import Callback
from bot.context import BrigadeContext
from bot.domain.watch import CONCERN, Acknowledgement, CallOutcome, DraftDecision
from bot.i18n import N_, Translator
from bot.messages import spreadsheets
from bot.messages import watch as screens
from bot.messages.base import Rendered, Town
from bot.messages.watch_calls import acknowledged, caller_list, draft_decided, need_picker
from bot.services.outcomes import Outcome
from bot.services.requests import DraftPosted
from bot.services.watch.calls import Acknowledged, DraftAnswer, WatchService
from bot.services.watch.report import report_chart
from conversations.posting.preview import posted_text
from handlers.buttons import query_of
from handlers.common import NO_LONGER_VALID, Speaker
from handlers.directory import show

NOT_YOUR_CALL = N_("This person is not on your list.")
LIST_OVER = N_("This list is over: the day's calls have ended.")
ALREADY_RECORDED = N_("Already recorded.")
ALREADY_ACTING = N_("Someone has already said they are acting.")
NOT_ON_REGISTER = N_("This person is no longer on the watch register.")
DRAFT_SENT = N_("Noted: a draft request goes to their referent.")
WORRY_SENT = N_("Noted: their referent and the coordinators are told.")
NOT_THEIR_DRAFT = N_(
    "Only the person's referent or a coordinator may do this; only referents post."
)
DRAFT_GONE = N_("This draft is withdrawn: the person is no longer on the watch register.")
NO_PLACE = N_("Their address has no place on the map: tap ✏️ Edit first.")
OUTCOME_TOASTS = {
    CallOutcome.WELL: N_("Noted: reached, all well. Thank you!"),
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
    watch, verb, call_id = context.services.watch, button.str_arg(0), button.int_arg(1)
    if verb == CallOutcome.NEEDS.value:
        # What do they need? Asked in place of the list; nothing recorded yet.
        choices = await watch.need_choices(who.member.telegram_id, call_id)
        if isinstance(choices, Outcome):
            await refuse(query, choices, _)
            return
        await query.answer()
        await edit(query, need_picker(choices.name, choices.call_id, choices.skills, _))
        return
    if verb == "list":  # ⬅ from "what do they need?"
        result = await watch.caller_list(who.member.telegram_id, call_id)
        toast = None
    else:
        outcome = next((kind for kind in OUTCOME_TOASTS if kind.value == verb), None)
        if outcome is None:  # a word the list never offers (forged)
            await query.answer(_(NO_LONGER_VALID))
            return
        result = await watch.record(who.member.telegram_id, call_id, outcome)
        toast = OUTCOME_TOASTS[outcome]
    if isinstance(result, Outcome):
        await refuse(query, result, _)
        return
    await query.answer(_(toast) if toast else None)
    await edit(query, caller_list(result, _, Town.of(context.services.settings)))


async def on_need_button(
    update: Update, context: BrigadeContext, who: Speaker, button: Callback
) -> None:
    """`wn:<skill id, or 0 for a worry>:<call id>`: what the person needs; recorded, then the
    caller's list again (edited)."""
    query = query_of(update)
    _ = who._
    skill_id, call_id = button.int_arg(0), button.int_arg(1)
    result = await context.services.watch.record_need(who.member.telegram_id, call_id, skill_id)
    if isinstance(result, Outcome):
        await refuse(query, result, _)
        return
    await query.answer(_(DRAFT_SENT if skill_id != CONCERN else WORRY_SENT))
    await edit(query, caller_list(result, _, Town.of(context.services.settings)))


async def refuse(query: CallbackQuery, result: Outcome, _: Translator) -> None:
    """A caller's tap refused: whose list, the day over, already recorded, or stale."""
    refusal = {
        Outcome.NOT_ALLOWED: NOT_YOUR_CALL,
        Outcome.EXPIRED: LIST_OVER,
        Outcome.ALREADY_DONE: ALREADY_RECORDED,
        Outcome.NOT_FOUND: NOT_ON_REGISTER,
    }.get(result, NO_LONGER_VALID)
    await query.answer(_(refusal), show_alert=result is not Outcome.ALREADY_DONE)


async def edit(query: CallbackQuery, rendered: Rendered) -> None:
    """The message tapped, edited (an unchanged one refuses the edit: harmless)."""
    with contextlib.suppress(BadRequest):
        await query.edit_message_text(rendered.text, reply_markup=rendered.keyboard)


async def on_draft_button(
    update: Update, context: BrigadeContext, who: Speaker, button: Callback
) -> None:
    """`wd:<post|dismiss>:<call id>`: the referent (or a coordinator) posts a watch call's
    request draft, or says it is not needed; the draft tapped is edited here, every other copy
    by the service (✏️ Edit first is /new's: conversations/posting)."""
    query = query_of(update)
    _ = who._
    message = query.message
    tapped = None if message is None else (message.chat.id, message.message_id)
    verb, call_id = button.str_arg(0), button.int_arg(1)
    services = context.services
    result: DraftPosted | DraftAnswer | Outcome
    if verb == DraftDecision.POST.value:
        result = await services.requests.post_watch_draft(
            who.member.telegram_id, call_id, tapped=tapped
        )
    elif verb == DraftDecision.DISMISS.value:
        result = await services.watch.decide_draft(
            who.member.telegram_id, call_id, DraftDecision.DISMISS, tapped=tapped
        )
    else:
        await query.answer(_(NO_LONGER_VALID))
        return
    if isinstance(result, Outcome):
        await refuse_draft(query, services.watch, call_id, result, _)
        return
    await query.answer()
    text = draft_decided(result.done.name, result.done.who, result.done.decision, _).text
    if isinstance(result, DraftPosted):
        text += "\n\n" + posted_text(result.posted, services.settings.wave_delay_minutes, _)
    await edit(query, Rendered(text))


async def refuse_draft(
    query: CallbackQuery, watch: WatchService, call_id: int, result: Outcome, _: Translator
) -> None:
    """A tap on a draft refused: not theirs, decided already (by whom), gone, or no place."""
    if result is Outcome.ALREADY_DONE:
        done = await watch.draft_decided(call_id)
        if done is not None:
            await query.answer(
                draft_decided(done.name, done.who, done.decision, _).text, show_alert=True
            )
            await edit(query, draft_decided(done.name, done.who, done.decision, _))
            return
    refusal = {
        Outcome.NOT_ALLOWED: NOT_THEIR_DRAFT,
        Outcome.NOT_FOUND: DRAFT_GONE,
        Outcome.INVALID: NO_PLACE,
    }.get(result, NO_LONGER_VALID)
    await query.answer(_(refusal), show_alert=True)


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
