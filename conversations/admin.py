"""Coordinators' guided creations: a new neighbourhood (name, centre, radius), a new skill."""

from __future__ import annotations

import warnings
from typing import Any

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot import callbacks
from bot.callbacks import Action
from bot.context import BrigadeContext
from bot.domain.vocabulary import Role
from bot.services.geocoding import GeocoderUnavailable
from bot.services.outcomes import Outcome
from bot.text import one_line
from handlers.admin import neighbourhoods_screen, skills_screen
from handlers.common import Speaker, speaker
from handlers.vetting import NOT_A_COORDINATOR

DRAFT = "admin"
NB_NAME, NB_PLACE, NB_RADIUS = "nb_name", "nb_place", "nb_radius"
SKILL_LABEL, SKILL_VERIFY = "skill_label", "skill_verify"
NEIGHBOURHOOD_RADII_KM = ("0.5", "1", "2", "3", "5")


def _draft(context: BrigadeContext) -> dict[str, Any]:
    assert context.user_data is not None
    draft = context.user_data.setdefault(DRAFT, {})
    assert isinstance(draft, dict)
    return draft


async def _coordinator(update: Update, context: BrigadeContext) -> Speaker | None:
    who = await speaker(update, context)
    if who is not None and Role.COORDINATOR in who.member.roles:
        return who
    if who is not None and update.callback_query is not None:
        await update.callback_query.answer(who._(NOT_A_COORDINATOR), show_alert=True)
    return None


async def _send(update: Update, text: str, markup: Any = None) -> None:
    message = update.effective_message
    assert message is not None
    await message.get_bot().send_message(message.chat.id, text, reply_markup=markup)


async def start_neighbourhood(update: Update, context: BrigadeContext) -> str | int:
    """Ask the new neighbourhood's name."""
    who = await _coordinator(update, context)
    if who is None:
        return ConversationHandler.END
    if update.callback_query is not None:
        await update.callback_query.answer()
    _draft(context).clear()
    await _send(update, who._("Name of the new neighbourhood? (/cancel to stop)"))
    return NB_NAME


async def on_neighbourhood_name(update: Update, context: BrigadeContext) -> str:
    """Keep the name; ask for its centre."""
    who = await speaker(update, context)
    message = update.effective_message
    assert who is not None
    assert message is not None
    name = one_line(message.text or "")
    if not 1 <= len(name) <= 120:
        await _send(update, who._("Please send a name of 1 to 120 characters."))
        return NB_NAME
    _draft(context)["name"] = name
    keyboard = ReplyKeyboardMarkup(
        [[KeyboardButton(who._("📍 Send a location"), request_location=True)]],
        resize_keyboard=True,
        one_time_keyboard=True,
    )
    await _send(
        update,
        who._(
            "Where is its centre? Send a location pin (📎 → Location, then move the map), "
            "or type a place such as a square or a street with the town."
        ),
        keyboard,
    )
    return NB_PLACE


async def on_neighbourhood_place(update: Update, context: BrigadeContext) -> str:
    """Keep the centre (pin or geocoded text); ask for the radius."""
    who = await speaker(update, context)
    message = update.effective_message
    assert who is not None
    assert message is not None
    _ = who._
    draft = _draft(context)
    if message.location is not None:
        draft.update(lat=message.location.latitude, lon=message.location.longitude)
    else:
        try:
            query = one_line(message.text or "")
            place = await context.services.geocoder.search(query, language=_.language)
        except GeocoderUnavailable:
            await _send(update, _("Address search is not available right now. Please send a pin."))
            return NB_PLACE
        if place is None:
            await _send(
                update, _("I could not find this place. Try another wording, or send a pin.")
            )
            return NB_PLACE
        draft.update(lat=place.latitude, lon=place.longitude)
        await _send(update, _("Found: {address}", address=place.label), ReplyKeyboardRemove())
    row = [
        InlineKeyboardButton(
            f"{km} km",
            callback_data=callbacks.encode(Action.NEIGHBOURHOOD, "radius", int(float(km) * 10)),
        )
        for km in NEIGHBOURHOOD_RADII_KM
    ]
    await _send(
        update,
        _("How large is the neighbourhood (radius around its centre)?"),
        InlineKeyboardMarkup([row]),
    )
    return NB_RADIUS


async def on_neighbourhood_radius(update: Update, context: BrigadeContext) -> str | int:
    """Create the neighbourhood and show the list."""
    query = update.callback_query
    who = await _coordinator(update, context)
    if query is None or who is None:
        return ConversationHandler.END
    _ = who._
    parsed = callbacks.parse(query.data)
    draft = _draft(context)
    if parsed is None or parsed.str_arg(0) != "radius" or "lat" not in draft:
        await query.answer(_("This button is no longer valid."))
        return NB_RADIUS
    result = await context.services.neighbourhoods.create(
        who.member.telegram_id, draft["name"], draft["lat"], draft["lon"], parsed.int_arg(1) / 10
    )
    await query.answer()
    if isinstance(result, Outcome):
        await _send(
            update, _("This name is already used, or the place is not valid. Send another name:")
        )
        return NB_NAME
    draft.clear()
    await _send(update, _("Neighbourhood {name} created.", name=result.name), ReplyKeyboardRemove())
    text, keyboard = await neighbourhoods_screen(context, _)
    await _send(update, text, keyboard)
    return ConversationHandler.END


async def start_skill(update: Update, context: BrigadeContext) -> str | int:
    """Ask the new skill's label."""
    who = await _coordinator(update, context)
    if who is None:
        return ConversationHandler.END
    if update.callback_query is not None:
        await update.callback_query.answer()
    _draft(context).clear()
    await _send(
        update, who._("Name of the new skill, as volunteers will see it? (/cancel to stop)")
    )
    return SKILL_LABEL


async def on_skill_label(update: Update, context: BrigadeContext) -> str:
    """Keep the label; ask whether it needs verification."""
    who = await speaker(update, context)
    message = update.effective_message
    assert who is not None
    assert message is not None
    label = one_line(message.text or "")
    if not 1 <= len(label) <= 120:
        await _send(update, who._("Please send a name of 1 to 120 characters."))
        return SKILL_LABEL
    _draft(context)["label"] = label
    keyboard = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    who._("Yes, check each volunteer"),
                    callback_data=callbacks.encode(Action.SKILL_ADMIN, "verify", 1),
                ),
                InlineKeyboardButton(
                    who._("No"), callback_data=callbacks.encode(Action.SKILL_ADMIN, "verify", 0)
                ),
            ]
        ]
    )
    await _send(
        update,
        who._("Must a coordinator check each volunteer before they receive such requests?"),
        keyboard,
    )
    return SKILL_VERIFY


async def on_skill_verify(update: Update, context: BrigadeContext) -> str | int:
    """Add the skill and show the catalogue."""
    query = update.callback_query
    who = await _coordinator(update, context)
    if query is None or who is None:
        return ConversationHandler.END
    _ = who._
    parsed = callbacks.parse(query.data)
    draft = _draft(context)
    if parsed is None or parsed.str_arg(0) != "verify" or "label" not in draft:
        await query.answer(_("This button is no longer valid."))
        return SKILL_VERIFY
    result = await context.services.skills.add(
        who.member.telegram_id, draft["label"], requires_verification=parsed.int_arg(1) == 1
    )
    await query.answer()
    if isinstance(result, Outcome):
        await _send(update, _("A skill with this name exists already. Send another name:"))
        return SKILL_LABEL
    draft.clear()
    text, keyboard = await skills_screen(context, _)
    await _send(update, _("Skill added.") + "\n\n" + text, keyboard)
    return ConversationHandler.END


async def cancel(update: Update, context: BrigadeContext) -> int:
    """Stop the creation; nothing is kept."""
    who = await speaker(update, context)
    _draft(context).clear()
    if who is not None:
        await _send(update, who._("Cancelled. Nothing was created."), ReplyKeyboardRemove())
    return ConversationHandler.END


async def reask(update: Update, context: BrigadeContext) -> None:
    """Unexpected input: say what is expected, stay in the same step."""
    who = await speaker(update, context)
    if who is None:
        return
    if update.callback_query is not None:
        await update.callback_query.answer(who._("This button is no longer valid."))
        return
    await _send(
        update, who._("Sorry, I did not understand that answer. Try again, or send /cancel.")
    )


def build_admin_conversation() -> ConversationHandler[BrigadeContext]:
    """Neighbourhood and skill creation, persistent across restarts."""
    private = filters.ChatType.PRIVATE
    text = private & filters.TEXT & ~filters.COMMAND
    other: list[BaseHandler[Update, BrigadeContext, Any]] = [
        CallbackQueryHandler(reask),
        MessageHandler(private & ~filters.COMMAND, reask),
    ]
    nb_buttons = rf"^{Action.NEIGHBOURHOOD.value}:radius:"
    skill_buttons = rf"^{Action.SKILL_ADMIN.value}:verify:"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # per_message=False with button entries: intended
        return ConversationHandler(
            entry_points=[
                CallbackQueryHandler(
                    start_neighbourhood, pattern=rf"^{Action.NEIGHBOURHOOD.value}:new:"
                ),
                CallbackQueryHandler(start_skill, pattern=rf"^{Action.SKILL_ADMIN.value}:add:"),
            ],
            states={
                NB_NAME: [MessageHandler(text, on_neighbourhood_name), *other],
                NB_PLACE: [
                    MessageHandler(
                        private & (filters.LOCATION | filters.TEXT) & ~filters.COMMAND,
                        on_neighbourhood_place,
                    ),
                    *other,
                ],
                NB_RADIUS: [
                    CallbackQueryHandler(on_neighbourhood_radius, pattern=nb_buttons),
                    *other,
                ],
                SKILL_LABEL: [MessageHandler(text, on_skill_label), *other],
                SKILL_VERIFY: [
                    CallbackQueryHandler(on_skill_verify, pattern=skill_buttons),
                    *other,
                ],
            },
            fallbacks=[CommandHandler("cancel", cancel)],
            name="admin",
            persistent=True,
        )
