"""/badge: an approved volunteer shows their brigade card (conversations/verify.py checks one)."""

from __future__ import annotations

from babel.dates import format_date
from telegram import Message, Update

from bot.context import BrigadeContext
from bot.i18n import N_, with_town
from bot.services.outcomes import Outcome
from handlers.common import Speaker

NOT_A_VOLUNTEER = N_(
    "The brigade card is for approved volunteers. If you want to help, send /join; if your "
    "application is waiting, a coordinator will look at it soon."
)


async def badge(update: Update, context: BrigadeContext, who: Speaker, message: Message) -> None:
    """Show the volunteer's card: name, town, approval date and code."""
    _ = who._
    card = await context.services.badges.badge(who.member.telegram_id)
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
                with_town(
                    _,
                    context.services.settings.town,
                    N_("🪪 Brigade card — {town}"),
                    N_("🪪 Brigade card"),
                ),
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
