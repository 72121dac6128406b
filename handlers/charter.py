"""/charter and the buttons of the town's charter and of "Still with us?".

/charter shows the charter in force: to a coordinator with "✏️ Replace" per language (the
conversation in conversations/charter.py), to a volunteer with whether they accepted it (and the
buttons to accept it if not), to anyone else as the text volunteers accept. A volunteer's
decision on the charter or the check-in is shown in the message they acted on.
"""

from __future__ import annotations

import logging

from telegram import CallbackQuery, InlineKeyboardMarkup, Message, Update
from telegram.error import TelegramError

from bot.callbacks import Callback
from bot.charter import charter_for
from bot.context import BrigadeContext
from bot.domain.vocabulary import VolunteerStatus
from bot.i18n import LANGUAGE_NAMES, N_, Translator
from bot.messages.base import Town
from bot.messages.charters import (
    ACCEPT,
    LATER,
    LEAVE,
    PAUSE,
    accepted_line,
    checkin_answer,
    long_date,
    not_accepted_line,
)
from bot.services.charters import CharterView, Standing
from bot.services.outcomes import Outcome
from bot.settings import SUPPORTED_LANGUAGES
from conversations.charter import replace_buttons
from conversations.profile.pause import pause_keyboard
from handlers.buttons import query_of
from handlers.common import NO_LONGER_VALID, Speaker
from handlers.privacy import ask_forget

log = logging.getLogger(__name__)

FOR_VOLUNTEERS = N_("This is for the brigade's volunteers.")
NOT_IN_FORCE = N_("This version of the charter is no longer the one in force: send /charter.")


def _town(context: BrigadeContext) -> Town:
    return Town.of(context.services.settings)


def _version_line(charter: CharterView, _: Translator, town: Town) -> str:
    """Which charter is in force."""
    if charter.published_at is None:
        return _("📜 The charter in force is the default text shipped with Brigade.")
    return _(
        "📜 The charter in force is version {version}, published on {date}.",
        version=charter.number,
        date=long_date(charter.published_at, _, town),
    )


def _coordinator_card(charter: CharterView, _: Translator, town: Town) -> str:
    """The version, which languages hold the town's own text, and the text in the reader's."""
    texts = charter.by_language
    languages = [
        _("{language}: the town's text", language=LANGUAGE_NAMES[language])
        if language in texts
        else _("{language}: the default text", language=LANGUAGE_NAMES[language])
        for language in SUPPORTED_LANGUAGES
    ]
    return "\n\n".join(
        [
            _version_line(charter, _, town),
            "\n".join(languages),
            charter_for(_, town.name, texts),
            _(
                "To replace the text of a language, tap its button: you will see a preview "
                "before publishing."
            ),
        ]
    )


async def charter_command(
    update: Update, context: BrigadeContext, who: Speaker, message: Message
) -> None:
    """/charter: the charter in force, as this person may act on it."""
    _, town = who._, _town(context)
    service = context.services.charters
    if who.member.is_coordinator:
        charter = await service.current()
        await message.reply_text(
            _coordinator_card(charter, _, town),
            reply_markup=InlineKeyboardMarkup([replace_buttons(_)]),
        )
        return
    standing = await service.standing(who.member.telegram_id)
    if isinstance(standing, Standing):
        if not standing.accepted:
            rendered = standing.charter.notice().render(_, town)
            await message.reply_text(rendered.text, reply_markup=rendered.keyboard)
            return
        await message.reply_text(_accepted_text(standing, _, town))
        return
    charter = await service.current()
    await message.reply_text(
        "\n\n".join(
            [
                charter_for(_, town.name, charter.by_language),
                _("Volunteers accept this charter when they join the brigade: /join."),
            ]
        )
    )


def _accepted_text(standing: Standing, _: Translator, town: Town) -> str:
    """The charter, and when the volunteer accepted it."""
    assert standing.accepted_at is not None
    return "\n\n".join(
        [
            charter_for(_, town.name, standing.charter.by_language),
            accepted_line(standing.charter.label, standing.accepted_at, _, town),
        ]
    )


async def _show(query: CallbackQuery, text: str) -> None:
    """The decision in the message acted on; without a markup, its buttons go."""
    try:
        await query.edit_message_text(text)
    except TelegramError as error:
        # Saved either way; a message too old to edit gets the answer anew.
        log.debug("charter message not edited: %s", error)
        if query.message is not None:
            await query.get_bot().send_message(query.message.chat.id, text)


async def on_charter_button(
    update: Update, context: BrigadeContext, who: Speaker, button: Callback
) -> None:
    """✅ I accept / Not now, under a version of the charter: the presser's own acceptance."""
    query = query_of(update)
    _, town = who._, _town(context)
    verb, version = button.str_arg(0), button.int_arg(1)
    service = context.services.charters
    if verb not in (ACCEPT, LATER):
        await query.answer(_(NO_LONGER_VALID))
        return
    standing = await service.standing(who.member.telegram_id)
    if isinstance(standing, Outcome):
        await query.answer(_(FOR_VOLUNTEERS), show_alert=True)
        return
    if version != standing.charter.number:
        await query.answer(_(NOT_IN_FORCE), show_alert=True)
        return
    if verb == LATER:
        await query.answer()
        text = charter_for(_, town.name, standing.charter.by_language)
        await _show(query, f"{text}\n\n{not_accepted_line(_)}")
        return
    accepted = await service.accept(who.member.telegram_id, version)
    if accepted is Outcome.ALREADY_DONE:
        await query.answer(_("You had already accepted this version."))
        await _show(query, _accepted_text(standing, _, town))
        return
    if not isinstance(accepted, Standing):
        await query.answer(_(NOT_IN_FORCE), show_alert=True)
        return
    await query.answer(_("Thank you!"))
    await _show(query, _accepted_text(accepted, _, town))


async def on_checkin_button(
    update: Update, context: BrigadeContext, who: Speaker, button: Callback
) -> None:
    """Still with us? Yes / Pause / Leave: recorded, shown in the question's message."""
    query = query_of(update)
    _ = who._
    choice = button.str_arg(0)
    outcome = await context.services.checkins.answer(who.member.telegram_id, choice)
    if outcome is not Outcome.DONE:
        await query.answer(_(NO_LONGER_VALID))
        return
    await query.answer()
    await _show(query, checkin_answer(choice, _))
    message = query.message
    if not isinstance(message, Message):
        return
    if choice == PAUSE:
        await message.reply_text(
            _("For how long do you want to receive no request?"),
            reply_markup=pause_keyboard(_),
        )
    elif choice == LEAVE:
        # The same path as /forget, with its confirmation.
        await ask_forget(update, context, who, message)


async def remind_charter_after(
    update: Update, context: BrigadeContext, who: Speaker, message: Message
) -> None:
    """After a volunteer's command: a line when a new charter awaits their acceptance."""
    if who.member.volunteer_status is not VolunteerStatus.APPROVED:
        return
    charter = await context.services.charters.to_accept(who.member.telegram_id)
    if charter is None or charter.accept_by is None:
        return
    _ = who._
    await message.reply_text(
        _(
            "📜 A new version of the brigade's charter awaits your acceptance (by {date}): "
            "send /charter to read it.",
            date=long_date(charter.accept_by, _, _town(context)),
        )
    )
