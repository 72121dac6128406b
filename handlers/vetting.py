"""Vetting: coordinators see applications, approve them, and verify sensitive skills.

A rejection asks for its reason: conversations/rejection.py.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from babel.dates import format_date, get_day_names
from telegram import InlineKeyboardMarkup, Message, Update
from telegram.error import Forbidden, TelegramError

from bot import formats
from bot.callbacks import Action, Callback
from bot.context import BrigadeContext
from bot.domain.vocabulary import VolunteerStatus
from bot.i18n import N_, Translator
from bot.services.outcomes import Outcome
from bot.services.volunteers import ApplicationView, SkillHeld, skills_summary
from bot.skills import skill_label

# NOT_A_COORDINATOR lives in handlers.common; handlers/reports.py still imports it from here.
from handlers.buttons import inline_button, query_of
from handlers.common import NO_LONGER_VALID, Speaker
from handlers.common import NOT_A_COORDINATOR as NOT_A_COORDINATOR

log = logging.getLogger(__name__)

MAX_CARDS = 10

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
        VolunteerStatus.SUSPENDED: _("suspended"),
    }.get(view.status or VolunteerStatus.PENDING, "")
    return "\n".join(
        [
            _("Volunteer application: {name}", name=view.display_name),
            _("Status: {value}", value=status),
            _("Phone: {value}", value=view.phone or _("not given")),
            _("Place: {value}", value=view.address or _("location pin")),
            _("Neighbourhood: {value}", value=view.neighbourhood or _("none")),
            _("Distance: up to {value} km", value=formats.number(view.radius_km, _)),
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
                    inline_button(_("✅ Approve"), Action.VET, "approve", view.member_id),
                    inline_button(_("❌ Reject"), Action.VET, "reject", view.member_id),
                ]
            ]
        )
    rows = [
        [
            inline_button(
                _("Verify: {skill}", skill=skill_label(skill.label, _)),
                Action.VERIFY_SKILL,
                view.member_id,
                skill.skill_id,
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
                    inline_button(
                        _("Allow a new application now"), Action.VET, "reapply", view.member_id
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
    await message.reply_text(
        _.ngettext(
            "{count} application waiting:",
            "{count} applications waiting, oldest first:",
            len(views),
        )
    )
    for view in views[:MAX_CARDS]:
        await message.reply_text(
            application_card(view, _), reply_markup=application_keyboard(view, _)
        )
    if len(views) > MAX_CARDS:
        await message.reply_text(
            _.ngettext(
                "… and {count} more: decide on these first, then send /pending again.",
                "… and {count} more: decide on these first, then send /pending again.",
                len(views) - MAX_CARDS,
            )
        )


async def tell_volunteer(
    context: BrigadeContext, telegram_id: int | None, approved: bool, reason: str | None
) -> None:
    """Tell the volunteer of the decision on their application (with the reason, if given)."""
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


Card = tuple[int, int]  # (chat id, message id) of a card a coordinator tapped


def card_of(update: Update) -> Card | None:
    """The card a tap came from."""
    query = update.callback_query
    message = query.message if query is not None else None
    return (message.chat.id, message.message_id) if message is not None else None


async def show_on_card(
    context: BrigadeContext, who: Speaker, member_id: int, card: Card | None, note: str
) -> None:
    """Edit a tapped card: the application as it now stands, a note, the buttons left."""
    view = await context.services.volunteers.application(who.member.telegram_id, member_id)
    if card is None or isinstance(view, Outcome):
        return
    try:
        await context.bot.edit_message_text(
            application_card(view, who._) + "\n\n" + note,
            chat_id=card[0],
            message_id=card[1],
            reply_markup=application_keyboard(view, who._),
        )
    except TelegramError as error:
        log.debug("card not edited: %s", error)


async def answer_decision(update: Update, outcome: Outcome, _: Translator) -> None:
    """Say what a decision did: as the tap's answer, or in a message after a typed reason."""
    text = {
        Outcome.DONE: _("Done."),
        Outcome.ALREADY_DONE: _("This application has already been decided."),
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
    """✅ Approve: the volunteer is told, the card shows who approved."""
    member_id = button.int_arg(1)
    decision = await context.services.volunteers.decide(
        who.member.telegram_id, member_id, approve=True
    )
    await answer_decision(update, decision.outcome, who._)
    if decision.outcome is Outcome.DONE:
        note = who._("Approved by {name}.", name=who.member.display_name)
        await show_on_card(context, who, member_id, card_of(update), note)
        await tell_volunteer(context, decision.volunteer_telegram_id, True, None)


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
        await show_on_card(context, who, member_id, card_of(update), _("Skill verified."))
