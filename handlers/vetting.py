"""Vetting: coordinators see applications, approve them, and verify sensitive skills.

A rejection asks for its reason: conversations/rejection.py.
"""

from __future__ import annotations

import logging

from telegram import Message, Update
from telegram.error import TelegramError

from bot.callbacks import Callback
from bot.context import BrigadeContext
from bot.i18n import N_, Translator
from bot.messages.applications import (
    APPROVED_BY,
    NOT_ACCEPTED_BY,
    SKILL_VERIFIED,
    application_card,
    application_keyboard,
)
from bot.services.outcomes import Outcome
from bot.services.volunteers import ApplicationView, Card, Decision

# NOT_A_COORDINATOR lives in handlers.common; handlers/reports.py still imports it from here.
from handlers.buttons import query_of
from handlers.common import NO_LONGER_VALID, Speaker
from handlers.common import NOT_A_COORDINATOR as NOT_A_COORDINATOR

log = logging.getLogger(__name__)

MAX_CARDS = 10

# What a tap on a card decided elsewhere is answered.
ALREADY_APPROVED = N_("This application has already been decided: approved by {name}.")
ALREADY_NOT_ACCEPTED = N_("This application has already been decided: not accepted by {name}.")


async def pending(update: Update, context: BrigadeContext, who: Speaker, message: Message) -> None:
    """List the applications waiting for a decision, each with its buttons."""
    _ = who._
    views = await context.services.volunteers.pending(who.member.telegram_id)
    if isinstance(views, Outcome):
        await message.reply_text(_(NOT_A_COORDINATOR))
        return
    if not views:
        await message.reply_text(_("No application is waiting. 🎉"))
        return
    await message.reply_text(
        _.ngettext(
            "{count} application waiting:",
            "{count} applications waiting, oldest first:",
            len(views),
        )
    )
    for view in views[:MAX_CARDS]:
        sent = await message.reply_text(
            application_card(view, _), reply_markup=application_keyboard(view, _)
        )
        await context.services.volunteers.cards_sent(
            view.member_id, [(sent.chat.id, sent.message_id)]
        )
    if len(views) > MAX_CARDS:
        await message.reply_text(
            _.ngettext(
                "… and {count} more: decide on these first, then send /pending again.",
                "… and {count} more: decide on these first, then send /pending again.",
                len(views) - MAX_CARDS,
            )
        )


def card_of(update: Update) -> Card | None:
    """The card a tap came from."""
    query = update.callback_query
    message = query.message if query is not None else None
    return (message.chat.id, message.message_id) if message is not None else None


async def show_on_card(
    context: BrigadeContext, who: Speaker, member_id: int, card: Card | None, note: str
) -> ApplicationView | None:
    """Edit a tapped card: the application as it now stands, a note, the buttons left; returns
    the application read."""
    view = await context.services.volunteers.application(who.member.telegram_id, member_id)
    if isinstance(view, Outcome):
        return None
    if card is None:
        return view
    try:
        await context.bot.edit_message_text(
            application_card(view, who._) + "\n\n" + note,
            chat_id=card[0],
            message_id=card[1],
            reply_markup=application_keyboard(view, who._),
        )
    except TelegramError as error:
        log.debug("card not edited: %s", error)
    return view


def decided_note(decision: Decision, _: Translator) -> str:
    """Who decided an application, as its card says it (empty when unknown)."""
    if decision.decided_by is None:
        return ""
    note = APPROVED_BY if decision.approved else NOT_ACCEPTED_BY
    return _(note, name=decision.decided_by)


async def answer_decision(
    update: Update, outcome: Outcome, _: Translator, decision: Decision | None = None
) -> None:
    """Say what a decision did: as the tap's answer, or in a message after a typed reason; a
    decision taken before says by whom."""
    already = _("This application has already been decided.")
    if decision is not None and decision.decided_by is not None:
        already = _(
            ALREADY_APPROVED if decision.approved else ALREADY_NOT_ACCEPTED,
            name=decision.decided_by,
        )
    text = {
        Outcome.DONE: _("Done."),
        Outcome.ALREADY_DONE: already,
        Outcome.NOT_FOUND: _("This application no longer exists."),
        Outcome.NOT_ALLOWED: _(NOT_A_COORDINATOR),
    }.get(outcome, _(NO_LONGER_VALID))
    if update.callback_query is not None:
        await update.callback_query.answer(text)
    elif update.effective_message is not None:
        await update.effective_message.reply_text(text)


async def on_approve(
    update: Update, context: BrigadeContext, who: Speaker, button: Callback
) -> None:
    """✅ Approve: the volunteer is told and every copy of the card shows who approved (the
    other copies and the volunteer through the outbox); on a card decided elsewhere, who decided
    (and the card is brought up to date)."""
    member_id, card = button.int_arg(1), card_of(update)
    decision = await context.services.volunteers.decide(
        who.member.telegram_id, member_id, approve=True, tapped=card
    )
    await answer_decision(update, decision.outcome, who._, decision)
    name = who.member.display_name
    if decision.outcome is Outcome.ALREADY_DONE:
        await show_on_card(context, who, member_id, card, decided_note(decision, who._))
    if decision.outcome is Outcome.DONE:
        await show_on_card(context, who, member_id, card, who._(APPROVED_BY, name=name))
        await context.services.volunteers.tell_decision(member_id)


async def on_reapply(
    update: Update, context: BrigadeContext, who: Speaker, button: Callback
) -> None:
    """Allow a new application now, before the waiting time is over."""
    query = query_of(update)
    member_id = button.int_arg(1)
    allowed = await context.services.volunteers.allow_reapply(who.member.telegram_id, member_id)
    if allowed is Outcome.ALREADY_DONE:
        await query.answer(who._("They may already apply again."))
    else:
        await answer_decision(update, allowed, who._)
    if allowed in {Outcome.DONE, Outcome.ALREADY_DONE}:
        note = who._("{name} allowed a new application now.", name=who.member.display_name)
        await show_on_card(context, who, member_id, card_of(update), note)


async def on_verify_skill(
    update: Update, context: BrigadeContext, who: Speaker, button: Callback
) -> None:
    """Mark a sensitive skill as verified for one volunteer."""
    query = query_of(update)
    _ = who._
    member_id, skill_id, card = button.int_arg(0), button.int_arg(1), card_of(update)
    outcome = await context.services.volunteers.verify_skill(
        who.member.telegram_id, member_id, skill_id, tapped=card
    )
    texts = {
        Outcome.DONE: _(SKILL_VERIFIED),
        Outcome.ALREADY_DONE: _("This skill was already verified."),
        Outcome.NOT_FOUND: _("This volunteer does not offer this skill."),
        Outcome.NOT_ALLOWED: _(NOT_A_COORDINATOR),
    }
    await query.answer(
        texts.get(outcome, _(NO_LONGER_VALID)), show_alert=outcome is Outcome.NOT_ALLOWED
    )
    if outcome is Outcome.DONE:
        await show_on_card(context, who, member_id, card, _(SKILL_VERIFIED))
