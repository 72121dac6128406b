"""/badge (approved volunteers) shows the brigade card; /verify (referents, coordinators) checks it.

`/verify CODE` answers at once; `/verify` alone asks for the code in a short persistent
conversation (the next text message is the code; /cancel leaves).
"""

from __future__ import annotations

import warnings
from typing import Any

from babel.dates import format_date
from telegram import Message, Update
from telegram.ext import (
    BaseHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot.context import BrigadeContext
from bot.domain.vocabulary import Role
from bot.i18n import N_, Translator
from bot.services.badges import BadgeService, Check, Verification
from bot.services.outcomes import Outcome
from bot.text import one_line
from handlers.common import Speaker, speaker

CODE = "code"

NOT_A_VOLUNTEER = N_(
    "The brigade card is for approved volunteers. If you want to help, send /join; if your "
    "application is waiting, a coordinator will look at it soon."
)
NOT_STAFF = N_("Checking a card is reserved for referents and coordinators.")


def badge_service(context: BrigadeContext) -> BadgeService:
    """The application's BadgeService."""
    return context.services.badges


async def badge(update: Update, context: BrigadeContext, who: Speaker, message: Message) -> None:
    """Show the volunteer's card: name, town, approval date and code."""
    _ = who._
    card = await badge_service(context).badge(who.member.telegram_id)
    if isinstance(card, Outcome):
        if card is Outcome.NOT_ALLOWED:
            await message.reply_text(_(NOT_A_VOLUNTEER))
        else:
            await message.reply_text(_("Your card could not be made right now. Please try later."))
        return
    approved = format_date(card.approved_at, "long", locale=_.language) if card.approved_at else "—"
    await message.reply_text(
        "\n".join(
            [
                _("🪪 Brigade card — {town}", town=context.services.settings.town_name),
                "",
                _("Volunteer: {name}", name=card.display_name),
                _("Volunteer since: {date}", date=approved),
                _("Card code: {code}", code=card.code),
                "",
                _(
                    "Show this card to the person you visit. Their referent, or a coordinator, "
                    "can check the code with /verify {code}.",
                    code=card.code,
                ),
            ]
        )
    )


def verification_text(result: Verification, code: str, _: Translator) -> str:
    """What the checker reads for each answer."""
    if result.check is Check.VALID:
        approved = (
            format_date(result.approved_at, "long", locale=_.language)
            if result.approved_at
            else "—"
        )
        text = _(
            "✅ Code {code} is valid: {name} is a volunteer of the brigade, approved on {date}.",
            code=code,
            name=result.first_name or "—",
            date=approved,
        )
        if result.paused:
            text += "\n" + _("They have paused their requests for now.")
        return text
    if result.check is Check.MALFORMED:
        return _(
            "A card code has 6 letters and digits, e.g. “K7M2QX”. Please check it and send "
            "it again."
        )
    if result.check is Check.TOO_MANY:
        return _(
            "Too many unsuccessful checks in the last hour. Please wait a little, or call a "
            "coordinator."
        )
    if result.check is Check.NOT_ALLOWED:
        return _(NOT_STAFF)
    return _(
        "❌ Code {code} is not valid: it does not belong to an active volunteer of the "
        "brigade. Do not let the person in on the brigade's behalf; call a coordinator if "
        "in doubt.",
        code=code,
    )


async def _check(update: Update, context: BrigadeContext, raw: str) -> None:
    who = await speaker(update, context)
    message = update.effective_message
    if who is None or message is None:
        return
    result = await badge_service(context).verify(who.member.telegram_id, raw)
    shown = "".join(raw.split()).upper()[:12]
    await message.reply_text(verification_text(result, shown, who._))


async def verify_command(update: Update, context: BrigadeContext) -> str | int:
    """/verify CODE answers at once; /verify alone asks for the code."""
    who = await speaker(update, context)
    message = update.effective_message
    if who is None or message is None:
        return ConversationHandler.END
    if context.args:
        await _check(update, context, " ".join(context.args))
        return ConversationHandler.END
    if not who.member.roles & {Role.REFERENT, Role.COORDINATOR}:
        await message.reply_text(who._(NOT_STAFF))
        return ConversationHandler.END
    await message.reply_text(
        who._("Send the code shown on the volunteer's card (6 letters and digits), or /cancel.")
    )
    return CODE


async def on_code(update: Update, context: BrigadeContext) -> int:
    """The code typed after /verify."""
    message = update.effective_message
    await _check(update, context, one_line(message.text or "") if message else "")
    return ConversationHandler.END


async def on_not_a_code(update: Update, context: BrigadeContext) -> str:
    """Anything but text while a code is awaited."""
    who = await speaker(update, context)
    if who is not None and update.effective_message is not None:
        await update.effective_message.reply_text(
            who._("Please type the card code in a message, or send /cancel.")
        )
    return CODE


async def cancel(update: Update, context: BrigadeContext) -> int:
    """Leave the check."""
    who = await speaker(update, context)
    if who is not None and update.effective_message is not None:
        await update.effective_message.reply_text(who._("No code checked."))
    return ConversationHandler.END


def build_verify_conversation() -> ConversationHandler[BrigadeContext]:
    """/verify, persistent: a restart between /verify and the code loses nothing."""
    private = filters.ChatType.PRIVATE
    states: dict[object, list[BaseHandler[Update, BrigadeContext, Any]]] = {
        CODE: [
            MessageHandler(private & filters.TEXT & ~filters.COMMAND, on_code),
            MessageHandler(private & ~filters.COMMAND, on_not_a_code),
        ]
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # per_message=False: intended, the state is per person
        return ConversationHandler(
            entry_points=[CommandHandler("verify", verify_command, filters=private)],
            states=states,
            fallbacks=[
                CommandHandler("cancel", cancel, filters=private),
                # Another command while a code is awaited: ask for the code again.
                MessageHandler(private & filters.COMMAND, on_not_a_code),
            ],
            name="verify",
            persistent=True,
            allow_reentry=True,
        )
