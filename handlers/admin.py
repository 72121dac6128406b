"""Coordinators' catalogue screens: /neighbourhoods and /skills, with their buttons.

The registry lets only coordinators reach these handlers (`said` and `tap` with their role); the
services check the role again in the database.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update

from bot import deeplinks, formats
from bot.callbacks import Action, Callback
from bot.context import BrigadeContext
from bot.i18n import N_, Translator, with_town
from bot.services.outcomes import Outcome
from bot.skills import skill_label
from handlers.buttons import inline_button, query_of
from handlers.common import NOT_A_COORDINATOR, Speaker

OUTCOME_TEXTS = {
    Outcome.DONE: N_("Done."),
    Outcome.ALREADY_DONE: N_("Nothing to change."),
    Outcome.NOT_FOUND: N_("This no longer exists."),
    Outcome.NOT_ALLOWED: NOT_A_COORDINATOR,
}


Screen = Callable[[BrigadeContext, Translator], Awaitable[tuple[str, InlineKeyboardMarkup]]]


async def neighbourhoods_screen(
    context: BrigadeContext, _: Translator
) -> tuple[str, InlineKeyboardMarkup]:
    """The list of neighbourhoods with their group, volunteers and sign-up link."""
    services = context.services
    views = await services.neighbourhoods.all()
    counts = await services.neighbourhoods.volunteer_counts()
    lines = [
        with_town(_, services.settings.town, N_("Neighbourhoods of {town}:"), N_("Neighbourhoods:"))
    ]
    rows: list[list[InlineKeyboardButton]] = []
    for view in views:
        group = _("group linked") if view.group_chat_id else _("no group yet (send /link in it)")
        posting = _("requests posted in the group") if view.post_to_group else _("group posts off")
        lines.append(
            "\n"
            + _(
                "• {name} — {radius} km, volunteers: {count}, {group}, {posting}.",
                name=view.name,
                radius=formats.number(view.radius_km, _),
                count=counts.get(view.id, 0),
                group=group,
                posting=posting,
            )
            + "\n  "
            + _(
                "Sign-up link: {link}",
                link=deeplinks.url(context.bot.username, deeplinks.NeighbourhoodSignup(view.id)),
            )
        )
        toggle = _("Stop group posts: {name}") if view.post_to_group else _("Post in group: {name}")
        rows.append(
            [
                inline_button(
                    toggle.format(name=view.name),
                    Action.NEIGHBOURHOOD,
                    "off" if view.post_to_group else "on",
                    view.id,
                )
            ]
        )
    if not views:
        lines.append(_("None yet."))
    rows.append([inline_button(_("➕ New neighbourhood"), Action.NEIGHBOURHOOD, "new", 0)])
    return "\n".join(lines), InlineKeyboardMarkup(rows)


async def _show(message: Message, context: BrigadeContext, who: Speaker, screen: Screen) -> None:
    text, keyboard = await screen(context, who._)
    await message.reply_text(text, reply_markup=keyboard)


async def _refresh(
    update: Update, context: BrigadeContext, who: Speaker, outcome: Outcome, screen: Screen
) -> None:
    """Answer the tap with the outcome, then redraw the screen it was on."""
    query = query_of(update)
    await query.answer(who._(OUTCOME_TEXTS.get(outcome, "Done.")))
    text, keyboard = await screen(context, who._)
    await query.edit_message_text(text, reply_markup=keyboard)


async def neighbourhoods(
    update: Update, context: BrigadeContext, who: Speaker, message: Message
) -> None:
    """Show the neighbourhoods screen."""
    await _show(message, context, who, neighbourhoods_screen)


async def on_group_posts(
    update: Update, context: BrigadeContext, who: Speaker, button: Callback
) -> None:
    """Turn a neighbourhood's group posts on or off (`nbh:on|off:<id>`)."""
    outcome = await context.services.neighbourhoods.set_post_to_group(
        who.member.telegram_id, button.int_arg(1), button.str_arg(0) == "on"
    )
    await _refresh(update, context, who, outcome, neighbourhoods_screen)


async def skills_screen(context: BrigadeContext, _: Translator) -> tuple[str, InlineKeyboardMarkup]:
    """The catalogue with retire/restore buttons."""
    lines = [_("The skills catalogue (⚠ = checked by a coordinator before such requests):")]
    rows: list[list[InlineKeyboardButton]] = []
    for skill, retired in await context.services.skills.catalogue():
        label = skill_label(skill.label, _)
        mark = " ⚠" if skill.requires_verification else ""
        if retired:
            lines.append(_("• {skill} (retired)", skill=label + mark))
            verb, text = "restore", _("Restore: {skill}", skill=label)
        else:
            lines.append(f"• {label}{mark}")
            verb, text = "retire", _("Retire: {skill}", skill=label)
        rows.append([inline_button(text, Action.SKILL_ADMIN, verb, skill.id)])
    rows.append([inline_button(_("➕ Add a skill"), Action.SKILL_ADMIN, "add", 0)])
    return "\n".join(lines), InlineKeyboardMarkup(rows)


async def skills(update: Update, context: BrigadeContext, who: Speaker, message: Message) -> None:
    """Show the skills catalogue."""
    await _show(message, context, who, skills_screen)


async def on_skill_retirement(
    update: Update, context: BrigadeContext, who: Speaker, button: Callback
) -> None:
    """Retire or restore a skill (`ska:retire|restore:<id>`)."""
    service = context.services.skills
    change = service.retire if button.str_arg(0) == "retire" else service.restore
    outcome = await change(who.member.telegram_id, button.int_arg(1))
    await _refresh(update, context, who, outcome, skills_screen)
