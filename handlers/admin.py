"""Coordinators' catalogue screens: /neighbourhoods and /skills, with their buttons."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from bot import callbacks, deeplinks
from bot.callbacks import Action
from bot.context import BrigadeContext
from bot.domain.vocabulary import Role
from bot.i18n import N_, Translator
from bot.services.outcomes import Outcome
from bot.skills import skill_label
from handlers.common import Speaker, speaker
from handlers.vetting import NOT_A_COORDINATOR

OUTCOME_TEXTS = {
    Outcome.DONE: N_("Done."),
    Outcome.ALREADY_DONE: N_("Nothing to change."),
    Outcome.NOT_FOUND: N_("This no longer exists."),
    Outcome.NOT_ALLOWED: NOT_A_COORDINATOR,
}


async def _coordinator(update: Update, context: BrigadeContext) -> Speaker | None:
    """The speaker if they are a coordinator; otherwise answer politely and return None."""
    who = await speaker(update, context)
    if who is None:
        return None
    if Role.COORDINATOR in who.member.roles:
        return who
    if update.callback_query is not None:
        await update.callback_query.answer(who._(NOT_A_COORDINATOR), show_alert=True)
    elif update.effective_message is not None:
        await update.effective_message.reply_text(who._(NOT_A_COORDINATOR))
    return None


async def neighbourhoods_screen(
    context: BrigadeContext, _: Translator
) -> tuple[str, InlineKeyboardMarkup]:
    """The list of neighbourhoods with their group, volunteers and sign-up link."""
    services = context.services
    views = await services.neighbourhoods.all()
    counts = await services.neighbourhoods.volunteer_counts()
    lines = [_("Neighbourhoods of {town}:", town=services.settings.town_name)]
    rows: list[list[InlineKeyboardButton]] = []
    for view in views:
        group = _("group linked") if view.group_chat_id else _("no group yet (send /link in it)")
        posting = _("requests posted in the group") if view.post_to_group else _("group posts off")
        lines.append(
            "\n"
            + _(
                "• {name} — {radius} km, {count} volunteer(s), {group}, {posting}.",
                name=view.name,
                radius=f"{view.radius_km:g}",
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
                InlineKeyboardButton(
                    toggle.format(name=view.name),
                    callback_data=callbacks.encode(
                        Action.NEIGHBOURHOOD, "off" if view.post_to_group else "on", view.id
                    ),
                )
            ]
        )
    if not views:
        lines.append(_("None yet."))
    rows.append(
        [
            InlineKeyboardButton(
                _("➕ New neighbourhood"),
                callback_data=callbacks.encode(Action.NEIGHBOURHOOD, "new", 0),
            )
        ]
    )
    return "\n".join(lines), InlineKeyboardMarkup(rows)


async def neighbourhoods(update: Update, context: BrigadeContext) -> None:
    """Show the neighbourhoods screen."""
    who = await _coordinator(update, context)
    if who is None or update.effective_message is None:
        return
    text, keyboard = await neighbourhoods_screen(context, who._)
    await update.effective_message.reply_text(text, reply_markup=keyboard)


async def on_neighbourhood_button(update: Update, context: BrigadeContext) -> None:
    """Turn a neighbourhood's group posts on or off."""
    query = update.callback_query
    who = await _coordinator(update, context)
    if query is None or who is None:
        return
    parsed = callbacks.parse(query.data)
    if parsed is None or parsed.str_arg(0) not in {"on", "off"}:
        await query.answer(who._("This button is no longer valid."))
        return
    outcome = await context.services.neighbourhoods.set_post_to_group(
        who.member.telegram_id, parsed.int_arg(1), parsed.str_arg(0) == "on"
    )
    await query.answer(who._(OUTCOME_TEXTS.get(outcome, "Done.")))
    text, keyboard = await neighbourhoods_screen(context, who._)
    await query.edit_message_text(text, reply_markup=keyboard)


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
        rows.append(
            [
                InlineKeyboardButton(
                    text, callback_data=callbacks.encode(Action.SKILL_ADMIN, verb, skill.id)
                )
            ]
        )
    rows.append(
        [
            InlineKeyboardButton(
                _("➕ Add a skill"), callback_data=callbacks.encode(Action.SKILL_ADMIN, "add", 0)
            )
        ]
    )
    return "\n".join(lines), InlineKeyboardMarkup(rows)


async def skills(update: Update, context: BrigadeContext) -> None:
    """Show the skills catalogue."""
    who = await _coordinator(update, context)
    if who is None or update.effective_message is None:
        return
    text, keyboard = await skills_screen(context, who._)
    await update.effective_message.reply_text(text, reply_markup=keyboard)


async def on_skill_button(update: Update, context: BrigadeContext) -> None:
    """Retire or restore a skill."""
    query = update.callback_query
    who = await _coordinator(update, context)
    if query is None or who is None:
        return
    parsed = callbacks.parse(query.data)
    if parsed is None or parsed.str_arg(0) not in {"retire", "restore"}:
        await query.answer(who._("This button is no longer valid."))
        return
    service = context.services.skills
    change = service.retire if parsed.str_arg(0) == "retire" else service.restore
    outcome = await change(who.member.telegram_id, parsed.int_arg(1))
    await query.answer(who._(OUTCOME_TEXTS.get(outcome, "Done.")))
    text, keyboard = await skills_screen(context, who._)
    await query.edit_message_text(text, reply_markup=keyboard)
