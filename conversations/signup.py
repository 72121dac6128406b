"""Volunteer sign-up: name, phone, place, neighbourhood, radius, skills, availability, charter.

Every step can go back (⬅) or be left with /cancel; any unexpected input (a sticker, a photo, text
where a pin is expected) is answered with a re-ask of the same step, never lost silently.
The answers live in `user_data["signup"]` and the step in the conversation state, both persisted in
the database after every update, so a restart continues where the person was.
"""

from __future__ import annotations

import re
import warnings
from typing import Any

from babel.dates import format_date, get_day_names
from telegram import (
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

from bot import callbacks, deeplinks
from bot.callbacks import Action
from bot.charter import CHARTER_VERSION, charter_text
from bot.context import BrigadeContext
from bot.domain.vocabulary import Role, VolunteerStatus
from bot.i18n import Translator
from bot.services.geocoding import GeocoderUnavailable, Place
from bot.services.outcomes import Outcome
from bot.services.volunteers import PERIODS, RADIUS_CHOICES_KM, VolunteerApplication
from bot.skills import skill_label
from bot.text import one_line
from conversations.common import (
    AVAILABILITY_QUESTION,
    BACK_LABEL,
    PERIOD_LABELS,
    PRESETS,
    SKILLS_QUESTION,
    SKIP_LABEL,
    Flow,
    chosen_slots,
    is_back,
    say,
)
from handlers.common import Speaker, StartLink, speaker
from handlers.vetting import notify_coordinators_of_application

DRAFT = "signup"
MAX_NAME_LENGTH = 64
PHONE_PATTERN = re.compile(r"^\+?[0-9 ().-]{6,20}$")

# Conversation states: strings, because they are stored in the database between updates.
NAME, PHONE, LOCATION, CONFIRM_PLACE, NEIGHBOURHOOD = "name", "phone", "location", "place", "nb"
RADIUS, SKILLS, AVAILABILITY, CHARTER, SUMMARY = "radius", "skills", "avail", "charter", "summary"
STEPS: tuple[str, ...] = (NAME, PHONE, LOCATION, CONFIRM_PLACE, NEIGHBOURHOOD, RADIUS, SKILLS)
STEPS += (AVAILABILITY, CHARTER, SUMMARY)

FLOW = Flow(DRAFT, Action.SIGNUP)
_draft = FLOW.draft
_button = FLOW.button
_back_row = FLOW.back_row
_tracking = FLOW.tracking
_say = say
_is_back = is_back


# --- the prompts of each step ------------------------------------------------------------------


async def ask_name(update: Update, context: BrigadeContext, who: Speaker) -> str:
    """Ask which name the brigade will see."""
    _ = who._
    suggestion = who.member.display_name[:MAX_NAME_LENGTH] or None
    keyboard = ReplyKeyboardMarkup(
        [[suggestion]] if suggestion else [["/cancel"]],
        resize_keyboard=True,
        one_time_keyboard=True,
    )
    await _say(
        update,
        _(
            "Welcome to the brigade! A few questions, about three minutes. "
            "You can go back at every step, or stop with /cancel.\n\n"
            "What name should the coordinators and referents see?"
        ),
        keyboard,
    )
    return NAME


async def ask_phone(update: Update, context: BrigadeContext, who: Speaker) -> str:
    """Ask for a phone number (optional): the referents call volunteers they send."""
    _ = who._
    keyboard = ReplyKeyboardMarkup(
        [
            [KeyboardButton(_("📱 Share my number"), request_contact=True)],
            [_(SKIP_LABEL), _(BACK_LABEL)],
        ],
        resize_keyboard=True,
        one_time_keyboard=True,
    )
    await _say(
        update,
        _(
            "Your phone number lets the referent reach you when you take a request. "
            "It is optional and only shown to the referent of a request you take."
        ),
        keyboard,
    )
    return PHONE


async def ask_location(update: Update, context: BrigadeContext, who: Speaker) -> str:
    """Ask where the volunteer is: a pin, or a typed address."""
    _ = who._
    keyboard = ReplyKeyboardMarkup(
        [[KeyboardButton(_("📍 Send my location"), request_location=True)], [_(BACK_LABEL)]],
        resize_keyboard=True,
        one_time_keyboard=True,
    )
    await _say(
        update,
        _(
            "Where are you based? Tap “Send my location”, or type your address "
            "(street and town). It is used to offer you requests near you, and is never shown "
            "to other volunteers."
        ),
        keyboard,
    )
    return LOCATION


async def ask_confirm_place(update: Update, context: BrigadeContext, who: Speaker) -> str:
    """Show the address found and ask if it is right."""
    _ = who._
    label = _draft(context).get("address") or ""
    keyboard = InlineKeyboardMarkup(
        [
            [_button(_("Yes, that's it"), "place", "yes"), _button(_("No"), "place", "no")],
        ]
    )
    await _say(update, _("I found: {address}\nIs this right?", address=label), keyboard)
    return CONFIRM_PLACE


async def ask_neighbourhood(update: Update, context: BrigadeContext, who: Speaker) -> str:
    """Offer the neighbourhoods, nearest first; skip the step when the town has none."""
    _ = who._
    draft = _draft(context)
    ranked = await context.services.neighbourhoods.nearest(draft["lat"], draft["lon"])
    if not ranked:
        draft["nb"] = None
        return await ask_radius(update, context, who)
    rows = []
    for index, (view, distance) in enumerate(ranked[:12]):
        label = _("{name} ({distance} km)", name=view.name, distance=f"{distance:.1f}")
        if index == 0:
            label = "⭐ " + label
        rows.append([_button(label, "nb", view.id)])
    rows.append(_back_row(_))
    await _say(
        update,
        _("Which neighbourhood do you want to help in? The nearest one is suggested first."),
        InlineKeyboardMarkup(rows),
    )
    return NEIGHBOURHOOD


async def ask_radius(update: Update, context: BrigadeContext, who: Speaker) -> str:
    """Ask how far the volunteer is ready to go."""
    _ = who._
    row = [_button(f"{km:g} km", "radius", int(km)) for km in RADIUS_CHOICES_KM]
    await _say(
        update,
        _("How far from you are you ready to go?"),
        InlineKeyboardMarkup([row, _back_row(_)]),
    )
    return RADIUS


async def _skills_keyboard(context: BrigadeContext, _: Translator) -> InlineKeyboardMarkup:
    chosen = set(_draft(context).get("skills", []))
    return FLOW.skills_keyboard(await context.services.skills.active(), chosen, _)


async def ask_skills(update: Update, context: BrigadeContext, who: Speaker) -> str:
    """Offer the catalogue as toggles."""
    _ = who._
    await _say(
        update,
        _(SKILLS_QUESTION),
        await _skills_keyboard(context, _),
    )
    return SKILLS


def _availability_keyboard(context: BrigadeContext, _: Translator) -> InlineKeyboardMarkup:
    return FLOW.availability_keyboard(chosen_slots(_draft(context)), _)


async def ask_availability(update: Update, context: BrigadeContext, who: Speaker) -> str:
    """Offer presets and a week grid."""
    _ = who._
    await _say(
        update,
        _(AVAILABILITY_QUESTION),
        _availability_keyboard(context, _),
    )
    return AVAILABILITY


async def ask_charter(update: Update, context: BrigadeContext, who: Speaker) -> str:
    """Show the whole charter and ask for an explicit acceptance."""
    _ = who._
    keyboard = InlineKeyboardMarkup(
        [
            [_button(_("I accept the charter"), "charter", "accept")],
            [_button(_("I do not accept"), "charter", "decline")],
            _back_row(_),
        ]
    )
    text = charter_text(_, context.services.settings.town_name)
    await _say(update, text + "\n\n" + _("Do you accept this charter?"), keyboard)
    return CHARTER


def _summary(context: BrigadeContext, _: Translator, skills: dict[int, str]) -> str:
    draft = _draft(context)
    day_names = get_day_names("abbreviated", locale=_.language)
    slots = sorted(
        {(int(day), str(period)) for day, period in draft.get("slots", [])},
        key=lambda slot: (slot[0], PERIODS.index(slot[1])),
    )
    lines = [
        _("Please check your answers:"),
        _("Name: {value}", value=draft.get("name", "")),
        _("Phone: {value}", value=draft.get("phone") or _("not given")),
        _("Place: {value}", value=draft.get("address") or _("location pin")),
        _("Neighbourhood: {value}", value=draft.get("nb_name") or _("none")),
        _("Distance: up to {value} km", value=f"{draft.get('radius', 2):g}"),
        _(
            "Skills: {value}",
            value=", ".join(skills[s] for s in draft.get("skills", []) if s in skills),
        ),
        _(
            "Availability: {value}",
            value=", ".join(f"{day_names[d]} {_(PERIOD_LABELS[p])}" for d, p in slots)
            or _("to be agreed each time"),
        ),
        _("Charter: accepted"),
    ]
    return "\n".join(lines)


async def ask_summary(update: Update, context: BrigadeContext, who: Speaker) -> str:
    """Show every answer with a final confirmation."""
    _ = who._
    skills = {s.id: skill_label(s.label, _) for s in await context.services.skills.active()}
    keyboard = InlineKeyboardMarkup(
        [
            [_button(_("✅ Send my application"), "confirm", "yes")],
            [_button(_("Start again"), "confirm", "restart")],
            _back_row(_),
        ]
    )
    await _say(update, _summary(context, _, skills), keyboard)
    return SUMMARY


ASK = {
    NAME: ask_name,
    PHONE: ask_phone,
    LOCATION: ask_location,
    CONFIRM_PLACE: ask_confirm_place,
    NEIGHBOURHOOD: ask_neighbourhood,
    RADIUS: ask_radius,
    SKILLS: ask_skills,
    AVAILABILITY: ask_availability,
    CHARTER: ask_charter,
    SUMMARY: ask_summary,
}
PREVIOUS = {
    PHONE: NAME,
    LOCATION: PHONE,
    CONFIRM_PLACE: LOCATION,
    NEIGHBOURHOOD: LOCATION,
    RADIUS: NEIGHBOURHOOD,
    SKILLS: RADIUS,
    AVAILABILITY: SKILLS,
    CHARTER: AVAILABILITY,
    SUMMARY: CHARTER,
}


async def _who(update: Update, context: BrigadeContext) -> Speaker:
    who = await speaker(update, context)
    assert who is not None  # conversations only run in private chats with people
    return who


# --- entry and exit ----------------------------------------------------------------------------


async def start_signup(update: Update, context: BrigadeContext) -> str | int:
    """Begin the sign-up (from the Join button, /join, or a neighbourhood link)."""
    who = await _who(update, context)
    if update.callback_query is not None:
        await update.callback_query.answer()
    member = who.member
    if Role.VOLUNTEER in member.roles and member.volunteer_status in {
        VolunteerStatus.APPROVED,
        VolunteerStatus.PENDING,
    }:
        text = (
            who._(
                "You are already a volunteer of the brigade. Use /profile to change your answers."
            )
            if member.volunteer_status is VolunteerStatus.APPROVED
            else who._("Your volunteer application is waiting for a coordinator's approval.")
        )
        await _say(update, text)
        return ConversationHandler.END
    if await _refused_too_recently(update, context, who):
        return ConversationHandler.END
    user_data = context.user_data
    assert user_data is not None
    user_data[DRAFT] = {}
    link = deeplinks.parse(context.args[0]) if context.args else None
    if isinstance(link, deeplinks.NeighbourhoodSignup):
        # Arrived by a neighbourhood link: remember it to pre-select it.
        linked = link.neighbourhood_id
        if linked in {view.id for view in await context.services.neighbourhoods.all()}:
            user_data[DRAFT]["link_nb"] = linked
        else:
            await _say(
                update,
                who._(
                    "This neighbourhood link is no longer valid. You can still sign up and "
                    "choose your neighbourhood."
                ),
            )
    return await ask_name(update, context, who)


async def _refused_too_recently(update: Update, context: BrigadeContext, who: Speaker) -> bool:
    """Say when someone whose application was not accepted may apply again, if not yet."""
    until = await context.services.volunteers.reapply_from(who.member.telegram_id)
    if until is None:
        return False
    local = until.astimezone(context.services.settings.tz)
    await _say(
        update,
        who._(
            "Your last application was not accepted. You may apply again from {date}; "
            "a coordinator can allow it sooner.",
            date=format_date(local, "long", locale=who._.language),
        ),
    )
    return True


async def cancel(update: Update, context: BrigadeContext) -> int:
    """Leave the sign-up; nothing is kept."""
    who = await _who(update, context)
    if context.user_data is not None:
        context.user_data.pop(DRAFT, None)
    if update.callback_query is not None:
        await update.callback_query.answer()
    message = update.effective_message
    assert message is not None
    await message.get_bot().send_message(
        message.chat.id,
        who._("Sign-up cancelled. Nothing was kept. You can start again with /join."),
        reply_markup=ReplyKeyboardRemove(),
    )
    return ConversationHandler.END


# --- answers to text steps ---------------------------------------------------------------------


async def on_name(update: Update, context: BrigadeContext) -> str:
    """Store the name, or explain what a name must look like."""
    who = await _who(update, context)
    message = update.effective_message
    text = one_line(message.text or "") if message else ""
    if not text or len(text) > MAX_NAME_LENGTH:
        await _say(
            update,
            who._(
                "Please send a name of 1 to {max} characters, e.g. your first name.",
                max=MAX_NAME_LENGTH,
            ),
        )
        return NAME
    _draft(context)["name"] = text
    return await ask_phone(update, context, who)


async def on_phone(update: Update, context: BrigadeContext) -> str:
    """Store the shared or typed phone number, or skip it."""
    who = await _who(update, context)
    _ = who._
    message = update.effective_message
    assert message is not None
    if _is_back(message, _):
        return await ask_name(update, context, who)
    draft = _draft(context)
    if message.contact is not None:
        if message.contact.user_id != who.member.telegram_id:
            await _say(update, _("Please share your own number, with the button below."))
            return PHONE
        draft["phone"] = message.contact.phone_number
    elif (message.text or "").strip() == _(SKIP_LABEL):
        draft["phone"] = None
    elif PHONE_PATTERN.match((message.text or "").strip()):
        draft["phone"] = (message.text or "").strip()
    else:
        await _say(
            update,
            _("That does not look like a phone number. Share it with the button, or tap “Skip”."),
        )
        return PHONE
    return await ask_location(update, context, who)


async def on_location_pin(update: Update, context: BrigadeContext) -> str:
    """Store a shared location; name its street if the geocoder can."""
    who = await _who(update, context)
    message = update.effective_message
    assert message is not None
    assert message.location is not None
    latitude, longitude = message.location.latitude, message.location.longitude
    draft = _draft(context)
    draft.update(lat=latitude, lon=longitude, address=None)
    try:
        place = await context.services.geocoder.reverse(
            latitude, longitude, language=who._.language
        )
    except GeocoderUnavailable:
        place = None  # a pin needs no address: the coordinates are what matching uses
    if place is not None:
        draft["address"] = place.area_label or place.label
    # Remove the location keyboard: the next steps use buttons under the messages.
    await _say(update, who._("Location received."), ReplyKeyboardRemove())
    return await _after_place(update, context, who)


async def on_location_text(update: Update, context: BrigadeContext) -> str:
    """Geocode a typed address and show what was found."""
    who = await _who(update, context)
    _ = who._
    message = update.effective_message
    assert message is not None
    if _is_back(message, _):
        return await ask_phone(update, context, who)
    query = one_line(message.text or "")
    if len(query) < 4:
        await _say(update, _("Please type a street and a town, or send your location."))
        return LOCATION
    try:
        place: Place | None = await context.services.geocoder.search(query, language=_.language)
    except GeocoderUnavailable:
        await _say(
            update,
            _(
                "Address search is not available right now. Please tap “Send my location” "
                "instead (you can send any point: 📎 → Location)."
            ),
        )
        return LOCATION
    if place is None:
        await _say(
            update,
            _(
                "I could not find this address. Try with the street and the town "
                "(e.g. “12 rue de la Gare, Chambéry”), or send your location."
            ),
        )
        return LOCATION
    _draft(context).update(lat=place.latitude, lon=place.longitude, address=place.label)
    return await ask_confirm_place(update, context, who)


async def _after_place(update: Update, context: BrigadeContext, who: Speaker) -> str:
    draft = _draft(context)
    linked = draft.get("link_nb")
    if linked is not None:
        for view in await context.services.neighbourhoods.all():
            if view.id == linked:
                draft.update(nb=view.id, nb_name=view.name)
                return await ask_radius(update, context, who)
    return await ask_neighbourhood(update, context, who)


async def reask(update: Update, context: BrigadeContext) -> str:
    """Answer anything unexpected (sticker, photo, wrong text) by asking the same step again."""
    who = await _who(update, context)
    state = _current_state(context, update)
    if update.callback_query is not None:
        await update.callback_query.answer(who._("This button is no longer valid."))
    else:
        await _say(update, who._("Sorry, I did not understand that answer."))
    return await ASK[state](update, context, who)


def _current_state(context: BrigadeContext, update: Update) -> str:
    draft = _draft(context)
    state = draft.get("_state")
    return state if isinstance(state, str) and state in ASK else NAME


# --- answers to button steps -------------------------------------------------------------------


async def on_button(update: Update, context: BrigadeContext) -> str | int:
    """Route a sign-up button to its step; stale buttons from earlier steps re-ask."""
    who = await _who(update, context)
    _ = who._
    query = update.callback_query
    assert query is not None
    parsed = callbacks.parse(query.data)
    if parsed is None or parsed.action is not Action.SIGNUP:
        await query.answer(_("This button is no longer valid."))
        return _current_state(context, update)
    step, value = parsed.str_arg(0), parsed.str_arg(1)
    state = _current_state(context, update)
    draft = _draft(context)

    async def go(ask: Any) -> str:
        """Answer the tap, then ask the next step."""
        await query.answer()
        return await ask(update, context, who)  # type: ignore[no-any-return]

    if step == "back":
        return await go(ASK[PREVIOUS.get(state, NAME)])
    if state == CONFIRM_PLACE and step == "place":
        if value == "yes":
            return await go(_after_place)
        return await go(ask_location)
    if state == NEIGHBOURHOOD and step == "nb" and value.isdigit():
        views = {view.id: view for view in await context.services.neighbourhoods.all()}
        if int(value) in views:
            draft.update(nb=int(value), nb_name=views[int(value)].name)
            return await go(ask_radius)
    if (
        state == RADIUS
        and step == "radius"
        and value.isdigit()
        and float(value) in RADIUS_CHOICES_KM
    ):
        draft["radius"] = float(value)
        return await go(ask_skills)
    if state == SKILLS and step == "skill" and value.isdigit():
        chosen = set(draft.get("skills", []))
        chosen ^= {int(value)}
        draft["skills"] = sorted(chosen)
        await query.answer()
        await query.edit_message_reply_markup(await _skills_keyboard(context, _))
        return SKILLS
    if state == SKILLS and step == "skills":
        if not draft.get("skills"):
            await query.answer(_("Choose at least one skill."), show_alert=True)
            return SKILLS
        return await go(ask_availability)
    if state == AVAILABILITY and step in {"slot", "preset"}:
        slots = {tuple(slot) for slot in draft.get("slots", [])}
        if step == "preset" and value in PRESETS:
            days, periods = PRESETS[value]
            slots = {(day, period) for day in days for period in periods}
        elif step == "slot" and re.fullmatch(r"[0-6]-(morning|afternoon|evening)", value):
            day, period = value.split("-")
            slots ^= {(int(day), period)}
        draft["slots"] = [list(slot) for slot in sorted(slots)]
        await query.answer()
        await query.edit_message_reply_markup(_availability_keyboard(context, _))
        return AVAILABILITY
    if state == AVAILABILITY and step == "avail":
        return await go(ask_charter)
    if state == CHARTER and step == "charter":
        if value == "accept":
            draft["charter"] = CHARTER_VERSION
            return await go(ask_summary)
        await query.answer()
        await _say(
            update,
            _(
                "Accepting the charter is needed to join the brigade. You can read it again "
                "and accept it, or stop with /cancel."
            ),
        )
        return await ask_charter(update, context, who)
    if state == SUMMARY and step == "confirm":
        if value == "restart":
            draft.clear()
            return await go(ask_name)
        return await go(_submit)
    await query.answer(_("This button is no longer valid."))
    return state


async def _submit(update: Update, context: BrigadeContext, who: Speaker) -> str | int:
    draft = _draft(context)
    application = VolunteerApplication(
        display_name=draft["name"],
        phone=draft.get("phone"),
        latitude=draft["lat"],
        longitude=draft["lon"],
        address=draft.get("address"),
        neighbourhood_id=draft.get("nb"),
        radius_km=float(draft.get("radius", 2.0)),
        skill_ids=tuple(draft.get("skills", [])),
        availability=tuple((int(d), str(p)) for d, p in draft.get("slots", [])),
        charter_version=draft.get("charter", CHARTER_VERSION),
    )
    result = await context.services.volunteers.submit(who.member.telegram_id, application)
    if isinstance(result, Outcome):
        if result is Outcome.ALREADY_DONE:
            await _say(update, who._("You are already a volunteer of the brigade."))
            return ConversationHandler.END
        if result is Outcome.TOO_SOON and await _refused_too_recently(update, context, who):
            if context.user_data is not None:
                context.user_data.pop(DRAFT, None)
            return ConversationHandler.END
        await _say(update, who._("Some answers are missing or no longer valid. Let's check them."))
        return await ask_summary(update, context, who)
    if context.user_data is not None:
        context.user_data.pop(DRAFT, None)
    await _say(
        update,
        who._(
            "Thank you! Your application has been sent to the coordinators. "
            "You will receive requests once a coordinator has approved it."
        ),
    )
    await notify_coordinators_of_application(
        context, result.member_id, result.coordinator_telegram_ids
    )
    return ConversationHandler.END


def build_signup_conversation() -> ConversationHandler[BrigadeContext]:
    """The sign-up conversation, persistent across restarts."""
    private = filters.ChatType.PRIVATE
    anything_else: list[BaseHandler[Update, BrigadeContext, Any]] = [
        CallbackQueryHandler(_tracking(reask)),
        MessageHandler(private & ~filters.COMMAND, _tracking(reask)),
    ]
    buttons = CallbackQueryHandler(_tracking(on_button), pattern=rf"^{Action.SIGNUP.value}:")
    states: dict[object, list[BaseHandler[Update, BrigadeContext, Any]]] = {
        NAME: [MessageHandler(private & filters.TEXT & ~filters.COMMAND, _tracking(on_name))],
        PHONE: [
            MessageHandler(private & filters.CONTACT, _tracking(on_phone)),
            MessageHandler(private & filters.TEXT & ~filters.COMMAND, _tracking(on_phone)),
        ],
        LOCATION: [
            MessageHandler(private & filters.LOCATION, _tracking(on_location_pin)),
            MessageHandler(private & filters.TEXT & ~filters.COMMAND, _tracking(on_location_text)),
        ],
    }
    for state in (CONFIRM_PLACE, NEIGHBOURHOOD, RADIUS, SKILLS, AVAILABILITY, CHARTER, SUMMARY):
        states[state] = [buttons]
    for state in STEPS:
        states.setdefault(state, []).extend(anything_else)
    with warnings.catch_warnings():
        # PTB warns that per_message=False does not track buttons per message: intended, the
        # state is per person and stale buttons are re-checked against the stored state.
        warnings.simplefilter("ignore")
        return ConversationHandler(
            entry_points=[
                CallbackQueryHandler(_tracking(start_signup), pattern=rf"^{Action.JOIN.value}$"),
                CommandHandler("join", _tracking(start_signup), filters=private),
                CommandHandler(
                    "start",
                    _tracking(start_signup),
                    filters=private & StartLink(deeplinks.NeighbourhoodSignup),
                ),
            ],
            states=states,
            fallbacks=[
                CommandHandler("cancel", cancel),
                MessageHandler(private & filters.COMMAND, _tracking(_command_during_signup)),
            ],
            name="signup",
            persistent=True,
            allow_reentry=False,
        )


async def _command_during_signup(update: Update, context: BrigadeContext) -> str:
    """Commands other than /cancel wait until the sign-up is finished or cancelled."""
    who = await _who(update, context)
    await _say(
        update,
        who._("You are in the middle of your sign-up. Answer the question above, or send /cancel."),
    )
    return await ASK[_current_state(context, update)](update, context, who)
