"""/start and /help: greet each person by role and list what they can do."""

from __future__ import annotations

from telegram import InlineKeyboardMarkup, Message, Update
from telegram.constants import ParseMode
from telegram.helpers import escape_markdown

from bot import deeplinks
from bot.callbacks import Action
from bot.commands import commands_for
from bot.context import BrigadeContext
from bot.domain.vocabulary import Role, VolunteerStatus
from bot.i18n import Translator
from bot.menus import set_member_menu
from bot.services.members import MemberProfile
from handlers import invites
from handlers.buttons import inline_button
from handlers.common import Speaker


def _role_lines(member: MemberProfile, _: Translator, town: str) -> list[str]:
    lines: list[str] = []
    if Role.COORDINATOR in member.roles:
        lines.append(
            _(
                "You coordinate the brigade of {town}: you vet volunteers, invite referents, "
                "link neighbourhood groups and follow the figures.",
                town=town,
            )
        )
    if Role.REFERENT in member.roles:
        lines.append(
            _(
                "As a referent, you post requests on behalf of the people you support, "
                "and you confirm when the service has been done."
            )
        )
    if Role.VOLUNTEER in member.roles:
        if member.volunteer_status is VolunteerStatus.APPROVED:
            lines.append(
                _(
                    "As a volunteer, you receive the requests near you that match your skills. "
                    "Tap “✋ I'll do it” to take one."
                )
            )
        elif member.volunteer_status is VolunteerStatus.REJECTED:
            lines.append(_("Your volunteer application was not accepted."))
        elif member.volunteer_status is VolunteerStatus.SUSPENDED:
            lines.append(
                _(
                    "Your participation as a volunteer is suspended by a coordinator: you "
                    "receive no requests for now."
                )
            )
        else:
            lines.append(_("Your volunteer application is waiting for a coordinator's approval."))
    if not lines:
        lines.append(
            _(
                "You are not a member of the brigade of {town} yet. To help your neighbours, "
                "tap “Become a volunteer”. Referents and coordinators join with an invitation "
                "link.",
                town=town,
            )
        )
    return lines


async def start(update: Update, context: BrigadeContext, who: Speaker, message: Message) -> None:
    """Greet the person by role and say what they can do here (or open an invitation)."""
    _ = who._
    payload = context.args[0] if context.args else ""
    link = deeplinks.parse(payload)
    if isinstance(link, deeplinks.Invitation):
        await invites.redeem(update, context, who, link.token)
        return
    if payload:
        # A link this bot did not make, or one cut when copied: say so, then greet as usual.
        await message.reply_text(
            _("This link is not valid. Check that you copied it whole, or ask for a new one.")
        )
    town = context.services.settings.town_name
    text = "\n\n".join(
        [
            _("Hello {name}!", name=who.member.display_name),
            *_role_lines(who.member, _, town),
            _("Send /help to see your commands."),
        ]
    )
    join = None
    if Role.VOLUNTEER not in who.member.roles:
        join = InlineKeyboardMarkup([[inline_button(_("🙋 Become a volunteer"), Action.JOIN)]])
    await message.reply_text(text, reply_markup=join)
    await set_member_menu(context.bot, context.services.i18n, who.member)


async def help_command(
    update: Update, context: BrigadeContext, who: Speaker, message: Message
) -> None:
    """List the commands of the person's roles."""
    _ = who._
    title = escape_markdown(_("Your commands:"), version=2)
    lines = [f"*{title}*"]
    for command in commands_for(who.member.roles):
        description = escape_markdown(_(command.description), version=2)
        lines.append(f"/{escape_markdown(command.name, version=2)} — {description}")
    await message.reply_text("\n".join(lines), parse_mode=ParseMode.MARKDOWN_V2)
