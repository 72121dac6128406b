"""Vetting: coordinators see applications, approve or reject them, and verify sensitive skills."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from babel.dates import format_date, get_day_names
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.error import Forbidden, TelegramError
from telegram.ext import (
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot import callbacks
from bot.callbacks import Action, Callback
from bot.context import BrigadeContext
from bot.domain.vocabulary import Role, VolunteerStatus
from bot.i18n import N_, Translator
from bot.services.members import MemberProfile
from bot.services.outcomes import Outcome
from bot.services.volunteers import ApplicationView, SkillHeld, skills_summary
from bot.skills import skill_label
from bot.text import several_lines

# NOT_A_COORDINATOR lives in handlers.common; handlers/reports.py still imports it from here.
from handlers.common import NO_LONGER_VALID, Speaker, speaker
from handlers.common import NOT_A_COORDINATOR as NOT_A_COORDINATOR

log = logging.getLogger(__name__)

MAX_CARDS = 10
MAX_REASON_LENGTH = 500
REASON = "reason"
REJECTING = "rejecting"
REJECTED_CARD = "rejected_card"

PERIOD_SHORT = {"morning": N_("morning"), "afternoon": N_("afternoon"), "evening": N_("evening")}


def skill_mark(skill: SkillHeld, _: Translator) -> str:
    """A skill's name, with "(to verify)" or "(verified)" where a coordinator checks it."""
    if skill.requires_verification and not skill.verified:
        return skill_label(skill.label, _) + " " + _("(to verify)")
    return skill_label(skill.label, _) + (" " + _("(verified)") if skill.verified else "")


def application_card(view: ApplicationView, _: Translator) -> str:
    """The text a coordinator reads to decide on an application."""
    day_names = get_day_names("abbreviated", locale=_.language)
    skills = [skill_mark(skill, _) for skill in skills_summary(view.skills)]
    slots = ", ".join(f"{day_names[d]} {_(PERIOD_SHORT[p])}" for d, p in view.availability)
    accepted = (
        format_date(view.charter_accepted_at, "medium", locale=_.language)
        if view.charter_accepted_at
        else "—"
    )
    status = {
        VolunteerStatus.PENDING: _("waiting for a decision"),
        VolunteerStatus.APPROVED: _("approved"),
        VolunteerStatus.REJECTED: _("not accepted"),
    }.get(view.status or VolunteerStatus.PENDING, "")
    return "\n".join(
        [
            _("Volunteer application: {name}", name=view.display_name),
            _("Status: {value}", value=status),
            _("Phone: {value}", value=view.phone or _("not given")),
            _("Place: {value}", value=view.address or _("location pin")),
            _("Neighbourhood: {value}", value=view.neighbourhood or _("none")),
            _("Distance: up to {value} km", value=f"{view.radius_km:g}"),
            _("Skills: {value}", value=", ".join(skills)),
            _("Availability: {value}", value=slots or _("to be agreed each time")),
            _(
                "Charter version {version} accepted on {date}",
                version=view.charter_version or "—",
                date=accepted,
            ),
        ]
    )


def application_keyboard(view: ApplicationView, _: Translator) -> InlineKeyboardMarkup | None:
    """Approve/Reject while pending; once approved, a Verify button per unverified skill."""
    if view.status is VolunteerStatus.PENDING:
        return InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        _("✅ Approve"),
                        callback_data=callbacks.encode(Action.VET, "approve", view.member_id),
                    ),
                    InlineKeyboardButton(
                        _("❌ Reject"),
                        callback_data=callbacks.encode(Action.VET, "reject", view.member_id),
                    ),
                ]
            ]
        )
    rows = [
        [
            InlineKeyboardButton(
                _("Verify: {skill}", skill=skill_label(skill.label, _)),
                callback_data=callbacks.encode(Action.VERIFY_SKILL, view.member_id, skill.skill_id),
            )
        ]
        for skill in view.skills
        if skill.requires_verification and not skill.verified
    ]
    if view.status is VolunteerStatus.APPROVED and rows:
        return InlineKeyboardMarkup(rows)
    if view.status is VolunteerStatus.REJECTED and view.reapply_from is not None:
        return InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        _("Allow a new application now"),
                        callback_data=callbacks.encode(Action.VET, "reapply", view.member_id),
                    )
                ]
            ]
        )
    return None


async def send_card_to_coordinators(
    context: BrigadeContext,
    member_id: int,
    coordinator_telegram_ids: Iterable[int],
    intro: str,
    **values: object,
) -> None:
    """Send a volunteer's card (with its buttons) to these coordinators, each in their language.

    `intro` (a message id, with `values`) says why: a new application, a skill to verify.
    """
    services = context.services
    targets = set(coordinator_telegram_ids)
    for coordinator in await services.members.staff():
        if coordinator.telegram_id not in targets or not coordinator.is_coordinator:
            continue
        _ = services.i18n.for_user(coordinator.chosen_language, coordinator.telegram_language)
        view = await services.volunteers.application(coordinator.telegram_id, member_id)
        if isinstance(view, Outcome):
            continue
        try:
            await context.bot.send_message(
                coordinator.telegram_id,
                _(intro, **values) + "\n\n" + application_card(view, _),
                reply_markup=application_keyboard(view, _),
            )
        except Forbidden:
            await services.members.mark_unreachable(coordinator.telegram_id)
        except TelegramError as error:
            # /pending lists the applications, and the card's buttons are on every card sent:
            # a lost notification loses nothing.
            log.warning("could not send a card to coordinator %s: %s", coordinator.id, error)


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
    await message.reply_text(_("{count} application(s) waiting, oldest first:", count=len(views)))
    for view in views[:MAX_CARDS]:
        await message.reply_text(
            application_card(view, _), reply_markup=application_keyboard(view, _)
        )
    if len(views) > MAX_CARDS:
        await message.reply_text(
            _(
                "… and {count} more: decide on these first, then send /pending again.",
                count=len(views) - MAX_CARDS,
            )
        )


async def _tell_volunteer(
    context: BrigadeContext, telegram_id: int | None, approved: bool, reason: str | None
) -> None:
    if telegram_id is None:
        return
    services = context.services
    volunteer = await services.members.find(telegram_id)
    _ = services.i18n.for_user(
        volunteer.chosen_language if volunteer else None,
        volunteer.telegram_language if volunteer else None,
    )
    if approved:
        text = _(
            "Good news: your application was approved. Welcome to the brigade! You will now "
            "receive the requests near you that match your skills."
        )
    else:
        text = _("Your volunteer application was not accepted.")
        if reason:
            text += "\n" + _("The coordinator's reason: {reason}", reason=reason)
    try:
        await context.bot.send_message(telegram_id, text)
    except Forbidden:
        await services.members.mark_unreachable(telegram_id)
    except TelegramError as error:
        log.warning("could not tell volunteer of the decision: %s", error)


async def _refresh_card(
    update: Update, context: BrigadeContext, member_id: int, _: Translator, note: str
) -> None:
    """Show the decision on the card that was tapped, with the buttons that still apply."""
    query = update.callback_query
    coordinator = update.effective_user
    if query is None or coordinator is None:
        return
    view = await context.services.volunteers.application(coordinator.id, member_id)
    if isinstance(view, Outcome):
        return
    try:
        await query.edit_message_text(
            application_card(view, _) + "\n\n" + note,
            reply_markup=application_keyboard(view, _),
        )
    except TelegramError as error:
        log.debug("card not edited: %s", error)


async def on_vet_button(update: Update, context: BrigadeContext) -> str | int:
    """Approve at once, or ask for the reason of a rejection."""
    query = update.callback_query
    who = await speaker(update, context)
    if query is None or who is None:
        return ConversationHandler.END
    _ = who._
    parsed = callbacks.parse(query.data)
    if parsed is None or parsed.action is not Action.VET:
        await query.answer(_("This button is no longer valid."))
        return ConversationHandler.END
    verb, member_id = parsed.str_arg(0), parsed.int_arg(1)
    if Role.COORDINATOR not in who.member.roles:
        await query.answer(_(NOT_A_COORDINATOR), show_alert=True)
        return ConversationHandler.END
    if verb == "reject":
        view = await context.services.volunteers.application(who.member.telegram_id, member_id)
        if isinstance(view, Outcome) or view.status is not VolunteerStatus.PENDING:
            await query.answer(_("This application has already been decided."))
            await _refresh_card(update, context, member_id, _, "")
            return ConversationHandler.END
        assert context.user_data is not None
        context.user_data[REJECTING] = member_id
        if query.message is not None:
            # The card tapped shows the decision once the reason is given.
            context.user_data[REJECTED_CARD] = [query.message.chat.id, query.message.message_id]
        await query.answer()
        await context.bot.send_message(
            who.member.telegram_id,
            _(
                "Why is {name}'s application not accepted? Send the reason in one message: "
                "it will be passed on to them. Or /skip to give none, /cancel to go back.",
                name=view.display_name,
            ),
        )
        return REASON
    if verb == "reapply":
        allowed = await context.services.volunteers.allow_reapply(who.member.telegram_id, member_id)
        if allowed is Outcome.ALREADY_DONE:
            await query.answer(_("They may already apply again."))
        else:
            await _answer_decision(update, context, allowed, _)
        if allowed in {Outcome.DONE, Outcome.ALREADY_DONE}:
            await _refresh_card(
                update,
                context,
                member_id,
                _,
                _("{name} allowed a new application now.", name=who.member.display_name),
            )
        return ConversationHandler.END
    if verb != "approve":
        await query.answer(_("This button is no longer valid."))
        return ConversationHandler.END
    decision = await context.services.volunteers.decide(
        who.member.telegram_id, member_id, approve=True
    )
    await _answer_decision(update, context, decision.outcome, _)
    if decision.outcome is Outcome.DONE:
        await _refresh_card(
            update, context, member_id, _, _("Approved by {name}.", name=who.member.display_name)
        )
        await _tell_volunteer(context, decision.volunteer_telegram_id, True, None)
    return ConversationHandler.END


async def _answer_decision(
    update: Update, context: BrigadeContext, outcome: Outcome, _: Translator
) -> None:
    query = update.callback_query
    text = {
        Outcome.DONE: _("Done."),
        Outcome.ALREADY_DONE: _("This application has already been decided."),
        Outcome.NOT_FOUND: _("This application no longer exists."),
        Outcome.NOT_ALLOWED: _(NOT_A_COORDINATOR),
    }.get(outcome, _("This button is no longer valid."))
    if query is not None:
        await query.answer(text)
    elif update.effective_message is not None:
        await update.effective_message.reply_text(text)


async def on_reason(update: Update, context: BrigadeContext) -> int | str:
    """Reject with the reason just typed (or none after /skip)."""
    who = await speaker(update, context)
    message = update.effective_message
    if who is None or message is None or context.user_data is None:
        return ConversationHandler.END
    _ = who._
    member_id = context.user_data.pop(REJECTING, None)
    if not isinstance(member_id, int):
        return ConversationHandler.END
    text = several_lines(message.text or "")
    reason = None if text.startswith("/skip") else text[:MAX_REASON_LENGTH]
    decision = await context.services.volunteers.decide(
        who.member.telegram_id, member_id, approve=False, reason=reason
    )
    await _answer_decision(update, context, decision.outcome, _)
    card = context.user_data.pop(REJECTED_CARD, None)
    if decision.outcome is Outcome.DONE and isinstance(card, list) and len(card) == 2:
        await _show_rejection_on_card(context, card, member_id, who.member, _)
    if decision.outcome is Outcome.DONE:
        await message.reply_text(
            _(
                "{name}'s application is not accepted; they have been told.",
                name=decision.volunteer_name,
            )
        )
        await _tell_volunteer(context, decision.volunteer_telegram_id, False, reason)
    return ConversationHandler.END


async def _show_rejection_on_card(
    context: BrigadeContext,
    card: list[int],
    member_id: int,
    coordinator: MemberProfile,
    _: Translator,
) -> None:
    """Edit the card the Reject button was on: decided, by whom, and what can still be done."""
    view = await context.services.volunteers.application(coordinator.telegram_id, member_id)
    if isinstance(view, Outcome):
        return
    try:
        await context.bot.edit_message_text(
            application_card(view, _)
            + "\n\n"
            + _("Not accepted by {name}.", name=coordinator.display_name),
            chat_id=card[0],
            message_id=card[1],
            reply_markup=application_keyboard(view, _),
        )
    except TelegramError as error:
        log.debug("card not edited: %s", error)


async def on_reason_not_text(update: Update, context: BrigadeContext) -> str:
    """Ask again for a written reason."""
    who = await speaker(update, context)
    if who is not None and update.effective_message is not None:
        await update.effective_message.reply_text(
            who._("Please write the reason in a text message, or send /skip or /cancel.")
        )
    return REASON


async def cancel_rejection(update: Update, context: BrigadeContext) -> int:
    """Give up rejecting: the application stays pending."""
    who = await speaker(update, context)
    if context.user_data is not None:
        context.user_data.pop(REJECTING, None)
        context.user_data.pop(REJECTED_CARD, None)
    if who is not None and update.effective_message is not None:
        await update.effective_message.reply_text(
            who._("Nothing changed: the application is still waiting.")
        )
    return ConversationHandler.END


async def on_verify_skill(
    update: Update, context: BrigadeContext, who: Speaker, button: Callback
) -> None:
    """Mark a sensitive skill as verified for one volunteer."""
    query = update.callback_query
    assert query is not None
    _ = who._
    member_id, skill_id = button.int_arg(0), button.int_arg(1)
    outcome = await context.services.volunteers.verify_skill(
        who.member.telegram_id, member_id, skill_id
    )
    texts = {
        Outcome.DONE: _("Skill verified."),
        Outcome.ALREADY_DONE: _("This skill was already verified."),
        Outcome.NOT_FOUND: _("This volunteer does not offer this skill."),
        Outcome.NOT_ALLOWED: _(NOT_A_COORDINATOR),
    }
    await query.answer(
        texts.get(outcome, _(NO_LONGER_VALID)), show_alert=outcome is Outcome.NOT_ALLOWED
    )
    if outcome is Outcome.DONE:
        await _refresh_card(update, context, member_id, _, _("Skill verified."))


def build_rejection_conversation() -> ConversationHandler[BrigadeContext]:
    """Approve/Reject buttons; a rejection waits for its reason (persisted across restarts)."""
    private = filters.ChatType.PRIVATE
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # per_message=False with a button entry: intended
        return ConversationHandler(
            entry_points=[
                CallbackQueryHandler(on_vet_button, pattern=rf"^{Action.VET.value}:"),
            ],
            states={
                REASON: [
                    CommandHandler("skip", on_reason, filters=private),
                    MessageHandler(private & filters.TEXT & ~filters.COMMAND, on_reason),
                    MessageHandler(private & ~filters.COMMAND, on_reason_not_text),
                ]
            },
            # Private too: the state is per person (per_chat=False), a group must not end it.
            fallbacks=[CommandHandler("cancel", cancel_rejection, filters=private)],
            name="rejection",
            persistent=True,
            per_chat=False,
        )
