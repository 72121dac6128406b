"""/invite: coordinators make single-use links; opening one grants its role."""

from __future__ import annotations

from telegram import InlineKeyboardMarkup, Message, Update

from bot import deeplinks, formats
from bot.callbacks import Action, Callback
from bot.context import BrigadeContext
from bot.domain.vocabulary import Role
from bot.i18n import N_, with_town
from bot.menus import set_member_menu
from bot.services.invites import INVITABLE_ROLES
from bot.services.outcomes import Outcome
from handlers.buttons import inline_button, query_of
from handlers.common import NO_LONGER_VALID, NOT_A_COORDINATOR, Speaker


async def ask_role(update: Update, context: BrigadeContext, who: Speaker, message: Message) -> None:
    """Offer the roles an invitation can grant (coordinators: see the registry)."""
    _ = who._
    labels = {Role.REFERENT: _("A referent"), Role.COORDINATOR: _("A coordinator")}
    await message.reply_text(
        _("Whom do you want to invite? The link works once, for seven days."),
        reply_markup=InlineKeyboardMarkup(
            [[inline_button(labels[role], Action.INVITE, role.value)] for role in INVITABLE_ROLES]
        ),
    )


async def create_invite(
    update: Update, context: BrigadeContext, who: Speaker, button: Callback
) -> None:
    """Create the invitation and show its link."""
    query = query_of(update)
    _ = who._
    role = button.str_arg(0)
    if role not in {r.value for r in INVITABLE_ROLES}:
        await query.answer(_(NO_LONGER_VALID))
        return
    created = await context.services.invites.create(who.member.telegram_id, Role(role))
    if created is Outcome.NOT_ALLOWED or isinstance(created, Outcome):
        await query.answer(_(NOT_A_COORDINATOR), show_alert=True)
        return
    await query.answer()
    link = deeplinks.url(context.bot.username, deeplinks.Invitation(created.token))
    until = formats.day_and_time(created.expires_at, _, context.services.settings.tz)
    role_name = _("referent") if created.role is Role.REFERENT else _("coordinator")
    await query.edit_message_text(
        _(
            "Invitation for a {role}: send this link to the person, and only to them. "
            "It works once, until {until}.\n\n{link}",
            role=role_name,
            until=until,
            link=link,
        )
    )


async def redeem(update: Update, context: BrigadeContext, who: Speaker, token: str) -> None:
    """Use the invitation in a /start link and say what it did."""
    message = update.effective_message
    assert message is not None
    _ = who._
    result = await context.services.invites.redeem(token, who.member.telegram_id)
    town = context.services.settings.town
    if result.outcome is Outcome.DONE and result.role is not None:
        role_text = {
            Role.REFERENT: with_town(
                _,
                town,
                N_(
                    "You are now a referent of the brigade of {town}. You can post requests on "
                    "behalf of the people you support."
                ),
                N_(
                    "You are now a referent of the brigade. You can post requests on behalf of "
                    "the people you support."
                ),
            ),
            Role.COORDINATOR: with_town(
                _,
                town,
                N_("You are now a coordinator of the brigade of {town}."),
                N_("You are now a coordinator of the brigade."),
            ),
        }.get(result.role, "")
        text = role_text + "\n\n" + _("Send /help to see your commands.")
        markup = None
        if result.role is Role.REFERENT:
            # Optional: their claimers can always write to them through the bot.
            text += "\n\n" + _(
                "Volunteers who take your requests can always write to you through the bot. "
                "Do you also want them to see a phone number? (optional)"
            )
            markup = InlineKeyboardMarkup(
                [
                    [inline_button(_("📞 Give my number"), Action.PHONE, "ask", 0)],
                    [inline_button(_("No, through the bot only"), Action.PHONE, "no", 0)],
                ]
            )
        await message.reply_text(text, reply_markup=markup)
        member = await context.services.members.find(who.member.telegram_id)
        if member is not None:
            await set_member_menu(context.bot, context.services.i18n, member)
        return
    if result.outcome is Outcome.ALREADY_DONE and result.role is not None:
        await message.reply_text(_("You have already used this invitation."))
    elif result.outcome is Outcome.ALREADY_DONE:
        await message.reply_text(
            _("This invitation has already been used. Ask your coordinator for a new one.")
        )
    elif result.outcome is Outcome.EXPIRED:
        await message.reply_text(
            _("This invitation has expired. Ask your coordinator for a new one.")
        )
    else:
        await message.reply_text(
            _("This invitation link is not valid. Check that you copied it whole.")
        )
