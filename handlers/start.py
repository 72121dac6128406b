"""/start and /help: greet each person by role, with the buttons of what they do most.

The buttons under the greeting open the existing commands (`mn:<verb>`): a referent's new
request (the /new conversation, whose entry point takes `mn:new`) and /mine; a coordinator's
/pending (with how many wait), /open and /stats; an approved volunteer's /nearby and /tasks; a
newcomer's "Become a volunteer". A tap runs the command as if it had been sent, after checking the
role again in the database: the greeting may be old.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ParseMode
from telegram.helpers import escape_markdown

from bot import deeplinks
from bot.callbacks import Action, Callback
from bot.commands import commands_for
from bot.context import BrigadeContext
from bot.domain.vocabulary import Role, VolunteerStatus
from bot.i18n import N_, Translator, with_town
from bot.menus import set_member_menu
from bot.messages.commitments import NOT_A_REFERENT, NOT_A_VOLUNTEER
from bot.services.members import MemberProfile
from bot.services.outcomes import Outcome
from handlers import commitments, invites, reports, vetting
from handlers.buttons import inline_button, query_of
from handlers.common import NO_LONGER_VALID, NOT_A_COORDINATOR, SaidHandler, Speaker

# The commands a greeting's buttons open (`mn:<verb>`), with the role each needs; /new is the
# posting conversation's own entry point (conversations/posting).
MENU: Mapping[str, tuple[Role, str, SaidHandler[None]]] = {
    "mine": (Role.REFERENT, NOT_A_REFERENT, commitments.mine),
    "pending": (Role.COORDINATOR, NOT_A_COORDINATOR, vetting.pending),
    "open": (Role.COORDINATOR, NOT_A_COORDINATOR, reports.open_requests),
    "stats": (Role.COORDINATOR, NOT_A_COORDINATOR, reports.stats),
    "nearby": (Role.VOLUNTEER, NOT_A_VOLUNTEER, commitments.nearby),
    "tasks": (Role.VOLUNTEER, NOT_A_VOLUNTEER, commitments.tasks),
}


def _role_lines(member: MemberProfile, _: Translator, town: str) -> list[str]:
    lines: list[str] = []
    if Role.COORDINATOR in member.roles:
        lines.append(
            with_town(
                _,
                town,
                N_(
                    "You coordinate the brigade of {town}: you vet volunteers, invite referents, "
                    "link neighbourhood groups and follow the figures."
                ),
                N_(
                    "You coordinate the brigade: you vet volunteers, invite referents, link "
                    "neighbourhood groups and follow the figures."
                ),
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
            with_town(
                _,
                town,
                N_(
                    "You are not a member of the brigade of {town} yet. To help your neighbours, "
                    "tap “Become a volunteer”. Referents and coordinators join with an invitation "
                    "link."
                ),
                N_(
                    "You are not a member of the brigade yet. To help your neighbours, tap "
                    "“Become a volunteer”. Referents and coordinators join with an invitation "
                    "link."
                ),
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
    town = context.services.settings.town
    text = "\n\n".join(
        [
            _("Hello {name}!", name=who.member.display_name),
            *_role_lines(who.member, _, town),
            _("Send /help to see your commands."),
        ]
    )
    waiting = None
    if Role.COORDINATOR in who.member.roles:
        views = await context.services.volunteers.pending(who.member.telegram_id)
        waiting = len(views) if not isinstance(views, Outcome) else None
    rows = start_buttons(who.member, _, waiting)
    await message.reply_text(text, reply_markup=InlineKeyboardMarkup(rows) if rows else None)
    await set_member_menu(context.bot, context.services.i18n, who.member)


def start_buttons(
    member: MemberProfile, _: Translator, waiting: int | None
) -> list[list[InlineKeyboardButton]]:
    """The greeting's buttons: what each of the person's roles does most (see the docstring)."""
    rows: list[list[InlineKeyboardButton]] = []
    if Role.COORDINATOR in member.roles:
        label = (
            _("📝 Applications waiting: {count}", count=waiting)
            if waiting
            else _("📝 Applications")
        )
        rows.append([inline_button(label, Action.MENU, "pending")])
        rows.append(
            [
                inline_button(_("📋 Open requests"), Action.MENU, "open"),
                inline_button(_("📊 Figures"), Action.MENU, "stats"),
            ]
        )
    if Role.REFERENT in member.roles:
        rows.append(
            [
                inline_button(_("➕ New request"), Action.MENU, "new"),
                inline_button(_("🗂 My requests"), Action.MENU, "mine"),
            ]
        )
    if Role.VOLUNTEER in member.roles and member.volunteer_status is VolunteerStatus.APPROVED:
        rows.append(
            [
                inline_button(_("📍 Requests near me"), Action.MENU, "nearby"),
                inline_button(_("✅ My tasks"), Action.MENU, "tasks"),
            ]
        )
    if not member.roles:
        rows.append([inline_button(_("🙋 Become a volunteer"), Action.JOIN)])
    return rows


async def on_menu(update: Update, context: BrigadeContext, who: Speaker, button: Callback) -> None:
    """A greeting's button: the command it stands for, if the person still has its role."""
    query = query_of(update)
    entry = MENU.get(button.str_arg(0))
    if entry is None or not isinstance(query.message, Message):
        await query.answer(who._(NO_LONGER_VALID))
        return
    role, refusal, command = entry
    if role not in who.member.roles:
        await query.answer(who._(refusal), show_alert=True)
        return
    await query.answer()
    await command(update, context, who, query.message)


async def help_command(
    update: Update, context: BrigadeContext, who: Speaker, message: Message
) -> None:
    """List the commands of the person's roles."""
    await message.reply_text(_help_text(who._, who.member.roles), parse_mode=ParseMode.MARKDOWN_V2)


@functools.lru_cache(maxsize=64)
def _help_text(_: Translator, roles: frozenset[Role]) -> str:
    """The /help text of a language and a set of roles: built once, then reused (languages ×
    role combinations are few; translators live as long as the application)."""
    title = escape_markdown(_("Your commands:"), version=2)
    lines = [f"*{title}*"]
    for command in commands_for(roles):
        description = escape_markdown(_(command.description), version=2)
        lines.append(f"/{escape_markdown(command.name, version=2)} — {description}")
    return "\n".join(lines)
