"""/pause and /resume, and their buttons: a volunteer stops the offers for a while, or for good."""

from __future__ import annotations

import logging
from datetime import tzinfo

from telegram import InlineKeyboardMarkup, Message, Update
from telegram.error import TelegramError

from bot.callbacks import Action, Callback
from bot.context import BrigadeContext
from bot.i18n import N_, Translator
from bot.services.outcomes import Outcome
from bot.services.profile import ProfileView, pause_end
from conversations.profile.card import NOT_A_VOLUNTEER, long_date
from handlers.buttons import inline_button, query_of
from handlers.common import NO_LONGER_VALID, Speaker

log = logging.getLogger(__name__)

PAUSE_CHOICES: tuple[tuple[str, str], ...] = (
    ("1w", N_("1 week")),
    ("2w", N_("2 weeks")),
    ("1m", N_("1 month")),
    ("open", N_("Until I resume")),
)


def pause_keyboard(_: Translator) -> InlineKeyboardMarkup:
    """The pause durations."""
    buttons = [inline_button(_(label), Action.PAUSE, word) for word, label in PAUSE_CHOICES]
    return InlineKeyboardMarkup([buttons[:2], buttons[2:3], buttons[3:]])


def _pause_question(view: ProfileView, _: Translator, tz: tzinfo) -> str:
    if view.paused_until is None:
        return _("For how long do you want to receive no request?")
    if view.paused_indefinitely:
        now = _("You receive no request until you send /resume.")
    else:
        now = _(
            "You receive no request until {date}.",
            date=long_date(view.paused_until, _, tz),
        )
    return now + "\n" + _("Choose another duration, or send /resume to receive requests again.")


def _paused_text(view: ProfileView, _: Translator, tz: tzinfo) -> str:
    if view.paused_until is None or view.paused_indefinitely:
        return _("Paused. You will receive no request until you send /resume.")
    return _(
        "Paused. You will receive no request until {date}. Send /resume to come back earlier.",
        date=long_date(view.paused_until, _, tz),
    )


def _resumed_text(result: ProfileView | Outcome, _: Translator) -> str:
    if isinstance(result, ProfileView):
        return _("Welcome back! You will receive requests again.")
    if result is Outcome.ALREADY_DONE:
        return _("You were not paused: you already receive requests.")
    return _(NOT_A_VOLUNTEER)


async def _question(
    context: BrigadeContext, who: Speaker
) -> tuple[str, InlineKeyboardMarkup | None]:
    """The durations, saying until when offers are paused already; or who this is for."""
    view = await context.services.profile.view(who.member.telegram_id)
    if isinstance(view, Outcome):
        return who._(NOT_A_VOLUNTEER), None
    return _pause_question(view, who._, context.services.settings.tz), pause_keyboard(who._)


async def pause_command(
    update: Update, context: BrigadeContext, who: Speaker, message: Message
) -> None:
    """/pause: offer the durations (and say until when if already paused)."""
    text, keyboard = await _question(context, who)
    await message.reply_text(text, reply_markup=keyboard)


async def resume_command(
    update: Update, context: BrigadeContext, who: Speaker, message: Message
) -> None:
    """/resume: receive requests again."""
    result = await context.services.profile.resume(who.member.telegram_id)
    await message.reply_text(_resumed_text(result, who._))


async def on_pause_menu(
    update: Update, context: BrigadeContext, who: Speaker, button: Callback
) -> None:
    """The card's ⏸: the durations, as a new message."""
    query = query_of(update)
    assert query.message is not None
    text, keyboard = await _question(context, who)
    if keyboard is None:
        await query.answer(text, show_alert=True)
        return
    await query.answer()
    await query.get_bot().send_message(query.message.chat.id, text, reply_markup=keyboard)


async def on_resume(
    update: Update, context: BrigadeContext, who: Speaker, button: Callback
) -> None:
    """The card's ▶️: receive requests again."""
    query = query_of(update)
    assert query.message is not None
    resumed = await context.services.profile.resume(who.member.telegram_id)
    await query.answer()
    await query.get_bot().send_message(query.message.chat.id, _resumed_text(resumed, who._))


async def on_pause(update: Update, context: BrigadeContext, who: Speaker, button: Callback) -> None:
    """A pause duration: offers stop until then (whoever taps can only pause themselves)."""
    query = query_of(update)
    _, tz = who._, context.services.settings.tz
    until = pause_end(button.str_arg(0), context.services.clock())
    if until is None:
        await query.answer(_(NO_LONGER_VALID))
        return
    paused = await context.services.profile.pause(who.member.telegram_id, until)
    if isinstance(paused, Outcome):
        await query.answer(_(NOT_A_VOLUNTEER), show_alert=True)
        return
    await query.answer()
    try:
        await query.edit_message_text(_paused_text(paused, _, tz))
    except TelegramError as error:
        # The choice is saved either way; a message too old to edit gets the answer anew.
        log.debug("pause menu not edited: %s", error)
        assert query.message is not None
        await query.get_bot().send_message(query.message.chat.id, _paused_text(paused, _, tz))
