"""Self-service: /profile with one edit button per answer, /pause and /resume.

Editing one field is a short persistent conversation in the sign-up's style: the prompt, ⬅ Back
(to the profile) and /cancel everywhere, any unexpected input answered by asking again. The
working copy lives in `user_data["profile"]`; nothing is stored until the field's save, which
goes through one ProfileService method and is followed by the updated profile.
"""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Awaitable, Callable
from datetime import datetime, tzinfo
from typing import Any

from babel.dates import format_date, get_day_names
from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)
from telegram.error import Forbidden, TelegramError
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
from bot.domain.vocabulary import VolunteerStatus
from bot.i18n import N_, Translator
from bot.services.geocoding import GeocoderUnavailable, Place
from bot.services.outcomes import Outcome
from bot.services.profile import (
    MAX_NAME_LENGTH,
    PHONE_PATTERN,
    QUIET_PRESETS,
    WEEKLY_CAP_CHOICES,
    ProfileService,
    ProfileView,
    SkillsSaved,
    pause_end,
)
from bot.services.volunteers import RADIUS_CHOICES_KM
from bot.skills import skill_label
from bot.text import one_line
from conversations.common import (
    AVAILABILITY_QUESTION,
    BACK_LABEL,
    PERIOD_LABELS,
    PRESETS,
    SKILLS_QUESTION,
    Flow,
    chosen_slots,
    is_back,
    say,
)
from conversations.signup import ask_location
from handlers.common import Speaker, speaker
from handlers.drafts import expired_notice
from handlers.vetting import application_card, application_keyboard

log = logging.getLogger(__name__)

DRAFT = "profile"

# Conversation states: strings, because they are stored in the database between updates.
NAME, PHONE, PLACE, CONFIRM_PLACE, NEIGHBOURHOOD = "name", "phone", "place", "confirm", "nb"
RADIUS, SKILLS, AVAILABILITY, QUIET, CAP = "radius", "skills", "avail", "quiet", "cap"

# The edit buttons of the profile, in the order of the card: (field, label).
EDIT_BUTTONS: tuple[tuple[str, str], ...] = (
    (NAME, N_("✏️ Name")),
    (PHONE, N_("✏️ Phone")),
    (PLACE, N_("✏️ Place")),
    (NEIGHBOURHOOD, N_("✏️ Neighbourhood")),
    (RADIUS, N_("✏️ Distance")),
    (SKILLS, N_("✏️ Skills")),
    (AVAILABILITY, N_("✏️ Availability")),
    (QUIET, N_("✏️ Quiet hours")),
    (CAP, N_("✏️ Weekly limit")),
)
PAUSE_CHOICES: tuple[tuple[str, str], ...] = (
    ("1w", N_("1 week")),
    ("2w", N_("2 weeks")),
    ("1m", N_("1 month")),
    ("open", N_("Until I resume")),
)
NOT_A_VOLUNTEER = N_("This is for the brigade's volunteers. To become one, send /join.")
NO_LONGER_VALID = N_("This button is no longer valid.")
REMOVE_PHONE_LABEL = N_("Remove my number")

Ask = Callable[[Update, BrigadeContext, Speaker], Awaitable[str | int]]


def profile_service(context: BrigadeContext) -> ProfileService:
    """The application's ProfileService."""
    return context.services.profile


# --- showing the profile -----------------------------------------------------------------------


def _clock(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def quiet_hours_label(start: int | None, end: int | None, _: Translator) -> str:
    """Quiet hours as "22:00–08:00", or "none"."""
    if start is None or end is None:
        return _("none")
    return f"{_clock(start)}–{_clock(end)}"


def _long_date(moment: datetime, _: Translator, tz: tzinfo) -> str:
    """A date in the town's time zone, spelled in the reader's language."""
    return str(format_date(moment.astimezone(tz).date(), "long", locale=_.language))


def _pause_state(view: ProfileView, _: Translator, tz: tzinfo) -> str:
    if view.paused_until is None:
        return _("receiving requests")
    if view.paused_indefinitely:
        return _("paused until you send /resume")
    return _("paused until {date}", date=_long_date(view.paused_until, _, tz))


def profile_card(view: ProfileView, _: Translator, tz: tzinfo) -> str:
    """Every answer of the volunteer's profile."""
    day_names = get_day_names("abbreviated", locale=_.language)
    skills = [
        skill_label(skill.label, _)
        + (
            " " + _("(to verify)")
            if skill.requires_verification and not skill.verified
            else (" " + _("(verified)") if skill.verified else "")
        )
        for skill in view.skills
    ]
    slots = ", ".join(f"{day_names[d]} {_(PERIOD_LABELS[p])}" for d, p in view.availability)
    place = view.address or (_("location pin") if view.latitude is not None else _("not given"))
    status = (
        _("approved") if view.status is VolunteerStatus.APPROVED else _("waiting for a decision")
    )
    cap = (
        _("no limit")
        if view.weekly_cap is None
        else _.ngettext("{count} request a week", "{count} requests a week", view.weekly_cap)
    )
    accepted = (
        format_date(view.charter_accepted_at, "medium", locale=_.language)
        if view.charter_accepted_at
        else "—"
    )
    lines = [
        _("Your volunteer profile"),
        _("Status: {value}", value=status),
        "",
        _("Name: {value}", value=view.display_name),
        _("Phone: {value}", value=view.phone or _("not given")),
        _("Place: {value}", value=place),
        _("Neighbourhood: {value}", value=view.neighbourhood or _("none")),
        _("Distance: up to {value} km", value=f"{view.radius_km:g}"),
        _("Skills: {value}", value=", ".join(skills)),
        _("Availability: {value}", value=slots or _("to be agreed each time")),
        _("Requests: {value}", value=_pause_state(view, _, tz)),
        _(
            "Quiet hours: {value}",
            value=quiet_hours_label(view.quiet_start_minute, view.quiet_end_minute, _),
        ),
        _("Weekly limit: {value}", value=cap),
        _(
            "Charter version {version} accepted on {date}",
            version=view.charter_version or "—",
            date=accepted,
        ),
        "",
        _("Tap a button to change an answer."),
    ]
    return "\n".join(lines)


def profile_keyboard(view: ProfileView, _: Translator) -> InlineKeyboardMarkup:
    """One edit button per field, then pause or resume."""
    buttons = [_button(_(label), "edit", field) for field, label in EDIT_BUTTONS]
    rows = [buttons[index : index + 2] for index in range(0, len(buttons), 2)]
    if view.paused:
        toggle = InlineKeyboardButton(
            _("▶️ Resume"), callback_data=callbacks.encode(Action.PAUSE, "resume")
        )
    else:
        toggle = InlineKeyboardButton(
            _("⏸ Pause"), callback_data=callbacks.encode(Action.PAUSE, "menu")
        )
    rows.append([toggle])
    return InlineKeyboardMarkup(rows)


async def _send_profile(update: Update, context: BrigadeContext, who: Speaker) -> None:
    """Read the profile and show it, or explain that it is for volunteers."""
    view = await profile_service(context).view(who.member.telegram_id)
    if isinstance(view, Outcome):
        await _say(update, who._(NOT_A_VOLUNTEER), ReplyKeyboardRemove())
        return
    tz = context.services.settings.tz
    await _say(update, profile_card(view, who._, tz), profile_keyboard(view, who._))


async def show_profile(update: Update, context: BrigadeContext) -> None:
    """/profile: every answer with its edit button (volunteers only)."""
    who = await speaker(update, context)
    if who is None or update.effective_message is None:
        return
    await _send_profile(update, context, who)


# --- small shared helpers ----------------------------------------------------------------------


FLOW = Flow(DRAFT, Action.PROFILE)
_draft = FLOW.draft
_button = FLOW.button
_back_row = FLOW.back_row
_tracking = FLOW.tracking
_say = say
_is_back = is_back


def _drop_draft(context: BrigadeContext) -> None:
    FLOW.drop(context)


def _tick(chosen: bool) -> str:
    return "✅ " if chosen else ""


async def _who(update: Update, context: BrigadeContext) -> Speaker:
    who = await speaker(update, context)
    assert who is not None  # conversations only run in private chats with people
    return who


# --- the prompts of each field -----------------------------------------------------------------


async def ask_name(update: Update, context: BrigadeContext, who: Speaker) -> str:
    """Ask for the new name."""
    _ = who._
    keyboard = ReplyKeyboardMarkup([[_(BACK_LABEL)]], resize_keyboard=True, one_time_keyboard=True)
    await _say(
        update,
        _(
            "What name should the coordinators and referents see? Now: {name}",
            name=_draft(context).get("name", ""),
        ),
        keyboard,
    )
    return NAME


async def ask_phone(update: Update, context: BrigadeContext, who: Speaker) -> str:
    """Ask for a shared or typed number, or offer to remove the one given."""
    _ = who._
    rows: list[list[KeyboardButton]] = [
        [KeyboardButton(_("📱 Share my number"), request_contact=True)]
    ]
    if _draft(context).get("has_phone"):
        rows.append([KeyboardButton(_(REMOVE_PHONE_LABEL))])
    rows.append([KeyboardButton(_(BACK_LABEL))])
    await _say(
        update,
        _(
            "Your phone number lets the referent reach you when you take a request. "
            "It is optional and only shown to the referent of a request you take."
        ),
        ReplyKeyboardMarkup(rows, resize_keyboard=True, one_time_keyboard=True),
    )
    return PHONE


async def ask_place(update: Update, context: BrigadeContext, who: Speaker) -> str:
    """Ask for a pin or a typed address, with the sign-up's own prompt."""
    await ask_location(update, context, who)
    return PLACE


async def ask_confirm_place(update: Update, context: BrigadeContext, who: Speaker) -> str:
    """Show the address found and ask if it is right."""
    _ = who._
    keyboard = InlineKeyboardMarkup(
        [
            [_button(_("Yes, that's it"), "place", "yes"), _button(_("No"), "place", "no")],
            _back_row(_),
        ]
    )
    address = _draft(context).get("address") or ""
    await _say(update, _("I found: {address}\nIs this right?", address=address), keyboard)
    return CONFIRM_PLACE


async def ask_neighbourhood(update: Update, context: BrigadeContext, who: Speaker) -> str | int:
    """Offer the neighbourhoods, nearest to the volunteer's place first."""
    _ = who._
    draft = _draft(context)
    neighbourhoods = context.services.neighbourhoods
    if draft.get("lat") is not None and draft.get("lon") is not None:
        ranked = [
            (view, f"{distance:.1f}")
            for view, distance in await neighbourhoods.nearest(draft["lat"], draft["lon"])
        ]
    else:
        ranked = [(view, "") for view in await neighbourhoods.all()]
    if not ranked:
        await _say(update, _("The brigade has no neighbourhood yet."))
        return await _back_to_profile(update, context, who)
    rows = []
    for view, distance in ranked[:12]:
        label = (
            _("{name} ({distance} km)", name=view.name, distance=distance)
            if distance
            else view.name
        )
        rows.append([_button(_tick(view.id == draft.get("nb")) + label, "nb", view.id)])
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
    current = _draft(context).get("radius")
    row = [
        _button(_tick(km == current) + f"{km:g} km", "radius", int(km)) for km in RADIUS_CHOICES_KM
    ]
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
    """Offer the catalogue as toggles, the skills held ticked."""
    _ = who._
    await _say(
        update,
        _(SKILLS_QUESTION),
        await _skills_keyboard(context, _),
    )
    return SKILLS


def _availability_keyboard(context: BrigadeContext, _: Translator) -> InlineKeyboardMarkup:
    return FLOW.availability_keyboard(chosen_slots(_draft(context)), _, with_clear=True)


async def ask_availability(update: Update, context: BrigadeContext, who: Speaker) -> str:
    """Offer presets and the week grid, the current slots ticked."""
    _ = who._
    await _say(
        update,
        _(AVAILABILITY_QUESTION),
        _availability_keyboard(context, _),
    )
    return AVAILABILITY


async def ask_quiet_hours(update: Update, context: BrigadeContext, who: Speaker) -> str:
    """Offer the quiet-hours presets."""
    _ = who._
    current = _draft(context).get("quiet")
    rows = []
    for key, window in QUIET_PRESETS.items():
        label = (
            _("No quiet hours") if window is None else quiet_hours_label(window[0], window[1], _)
        )
        chosen = (list(window) if window else None) == current
        rows.append([_button(_tick(chosen) + label, "quiet", key)])
    rows.append(_back_row(_))
    await _say(
        update,
        _(
            "During your quiet hours, no request is sent to you (times of {town}). "
            "Which quiet hours do you want?",
            town=context.services.settings.town_name,
        ),
        InlineKeyboardMarkup(rows),
    )
    return QUIET


async def ask_weekly_cap(update: Update, context: BrigadeContext, who: Speaker) -> str:
    """Offer the weekly limits."""
    _ = who._
    current = _draft(context).get("cap")
    rows = [
        [_button(_tick(current is None) + _("No limit"), "cap", "none")],
        [_button(_tick(cap == current) + str(cap), "cap", cap) for cap in WEEKLY_CAP_CHOICES],
        _back_row(_),
    ]
    await _say(
        update,
        _("At most how many requests a week do you want to be offered?"),
        InlineKeyboardMarkup(rows),
    )
    return CAP


ASK: dict[str, Ask] = {
    NAME: ask_name,
    PHONE: ask_phone,
    PLACE: ask_place,
    CONFIRM_PLACE: ask_confirm_place,
    NEIGHBOURHOOD: ask_neighbourhood,
    RADIUS: ask_radius,
    SKILLS: ask_skills,
    AVAILABILITY: ask_availability,
    QUIET: ask_quiet_hours,
    CAP: ask_weekly_cap,
}
STATES = tuple(ASK)


def _current_state(context: BrigadeContext) -> str | None:
    state = _draft(context).get("_state")
    return state if isinstance(state, str) and state in ASK else None


# --- entry and exit ----------------------------------------------------------------------------


def _working_copy(view: ProfileView) -> dict[str, Any]:
    """The current answers the prompts start from (JSON-ready: user_data is stored)."""
    quiet = None
    if view.quiet_start_minute is not None and view.quiet_end_minute is not None:
        quiet = [view.quiet_start_minute, view.quiet_end_minute]
    return {
        "name": view.display_name,
        "has_phone": view.phone is not None,
        "lat": view.latitude,
        "lon": view.longitude,
        "nb": view.neighbourhood_id,
        "radius": view.radius_km,
        "skills": list(view.skill_ids),
        "slots": [list(slot) for slot in view.availability],
        "quiet": quiet,
        "cap": view.weekly_cap,
    }


async def start_edit(update: Update, context: BrigadeContext) -> str | int | None:
    """Begin editing the field of the tapped ✏️ button."""
    who = await _who(update, context)
    _ = who._
    query = update.callback_query
    assert query is not None
    parsed = callbacks.parse(query.data)
    field = parsed.str_arg(1) if parsed is not None and parsed.action is Action.PROFILE else ""
    if field not in ASK or field == CONFIRM_PLACE:
        await query.answer(_(NO_LONGER_VALID))
        return None  # whatever the person was doing goes on
    view = await profile_service(context).view(who.member.telegram_id)
    if isinstance(view, Outcome):
        _drop_draft(context)
        await query.answer(_(NOT_A_VOLUNTEER), show_alert=True)
        return ConversationHandler.END
    await query.answer()
    assert context.user_data is not None
    context.user_data[DRAFT] = _working_copy(view)
    return await ASK[field](update, context, who)


async def _back_to_profile(update: Update, context: BrigadeContext, who: Speaker) -> int:
    """Leave the field unchanged and show the profile again."""
    _drop_draft(context)
    await _say(update, who._("Nothing was changed."), ReplyKeyboardRemove())
    await _send_profile(update, context, who)
    return ConversationHandler.END


async def cancel(update: Update, context: BrigadeContext) -> int:
    """/cancel: leave the edit; nothing is stored."""
    who = await _who(update, context)
    _drop_draft(context)
    await _say(
        update,
        who._("Nothing was changed. Send /profile to see your profile."),
        ReplyKeyboardRemove(),
    )
    return ConversationHandler.END


async def profile_during_edit(update: Update, context: BrigadeContext) -> int:
    """/profile while editing: drop the edit and show the profile."""
    return await _back_to_profile(update, context, await _who(update, context))


async def _command_during_edit(update: Update, context: BrigadeContext) -> str | int:
    """Other commands wait until the edit is saved or cancelled."""
    who = await _who(update, context)
    state = _current_state(context)
    if state is None:
        return await _back_to_profile(update, context, who)
    await _say(
        update,
        who._("You are changing your profile. Answer the question above, or send /cancel."),
    )
    return await ASK[state](update, context, who)


async def reask(update: Update, context: BrigadeContext) -> str | int:
    """Answer anything unexpected (sticker, photo, wrong text, old button) by asking again."""
    who = await _who(update, context)
    _ = who._
    state = _current_state(context)
    query = update.callback_query
    if query is not None:
        await query.answer(_(NO_LONGER_VALID))
    elif _is_back(update.effective_message, _):
        return await _back_to_profile(update, context, who)
    if state is None:
        # The working copy is gone (it should not be): start from the profile again.
        return await _back_to_profile(update, context, who)
    if query is None:
        await _say(update, _("Sorry, I did not understand that answer."))
    return await ASK[state](update, context, who)


# --- saving ------------------------------------------------------------------------------------


async def _saved(
    update: Update,
    context: BrigadeContext,
    who: Speaker,
    result: ProfileView | Outcome,
    note: str = "",
) -> str | int:
    """Show the updated profile after a save, or say why it was not saved."""
    _ = who._
    if isinstance(result, ProfileView):
        _drop_draft(context)
        # A separate message: only it can take the reply keyboard of a text step away.
        await _say(update, "\n".join(filter(None, [_("✅ Saved."), note])), ReplyKeyboardRemove())
        tz = context.services.settings.tz
        await _say(update, profile_card(result, _, tz), profile_keyboard(result, _))
        return ConversationHandler.END
    state = _current_state(context)
    if result is Outcome.INVALID and state is not None:
        await _say(update, _("This answer cannot be saved. Please answer again."))
        return await ASK[state](update, context, who)
    _drop_draft(context)
    await _say(update, _(NOT_A_VOLUNTEER), ReplyKeyboardRemove())
    return ConversationHandler.END


async def on_name(update: Update, context: BrigadeContext) -> str | int:
    """Save the typed name, or go back."""
    who = await _who(update, context)
    message = update.effective_message
    assert message is not None
    if _is_back(message, who._):
        return await _back_to_profile(update, context, who)
    result = await profile_service(context).rename(who.member.telegram_id, message.text or "")
    if result is Outcome.INVALID:
        await _say(
            update,
            who._(
                "Please send a name of 1 to {max} characters, e.g. your first name.",
                max=MAX_NAME_LENGTH,
            ),
        )
        return NAME
    return await _saved(update, context, who, result)


async def on_phone(update: Update, context: BrigadeContext) -> str | int:
    """Save the shared or typed number, remove it, or go back."""
    who = await _who(update, context)
    _ = who._
    message = update.effective_message
    assert message is not None
    text = (message.text or "").strip()
    if _is_back(message, _):
        return await _back_to_profile(update, context, who)
    phone: str | None
    if message.contact is not None:
        if message.contact.user_id != who.member.telegram_id:
            await _say(update, _("Please share your own number, with the button below."))
            return PHONE
        phone = message.contact.phone_number
    elif text == _(REMOVE_PHONE_LABEL):
        phone = None
    elif PHONE_PATTERN.match(text):
        phone = text
    else:
        await _say(
            update,
            _("That does not look like a phone number. Share it with the button, or type it."),
        )
        return PHONE
    result = await profile_service(context).set_phone(who.member.telegram_id, phone)
    return await _saved(update, context, who, result)


async def on_place_pin(update: Update, context: BrigadeContext) -> str | int:
    """Save a shared location, named by its street when the geocoder can."""
    who = await _who(update, context)
    message = update.effective_message
    assert message is not None
    assert message.location is not None
    latitude, longitude = message.location.latitude, message.location.longitude
    try:
        place = await context.services.geocoder.reverse(
            latitude, longitude, language=who._.language
        )
    except GeocoderUnavailable:
        place = None  # a pin needs no address: the coordinates are what matching uses
    address = (place.area_label or place.label) if place is not None else None
    result = await profile_service(context).set_place(
        who.member.telegram_id, latitude, longitude, address
    )
    return await _saved(update, context, who, result)


async def on_place_text(update: Update, context: BrigadeContext) -> str | int:
    """Geocode a typed address and ask to confirm it."""
    who = await _who(update, context)
    _ = who._
    message = update.effective_message
    assert message is not None
    if _is_back(message, _):
        return await _back_to_profile(update, context, who)
    query = one_line(message.text or "")
    if len(query) < 4:
        await _say(update, _("Please type a street and a town, or send your location."))
        return PLACE
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
        return PLACE
    if place is None:
        await _say(
            update,
            _(
                "I could not find this address. Try with the street and the town "
                "(e.g. “12 rue de la Gare, Chambéry”), or send your location."
            ),
        )
        return PLACE
    _draft(context).update(lat=place.latitude, lon=place.longitude, address=place.label)
    return await ask_confirm_place(update, context, who)


async def _tell_coordinators(context: BrigadeContext, saved: SkillsSaved) -> None:
    """Send the volunteer's card to the coordinators, with a Verify button per new skill."""
    services = context.services
    targets = set(saved.coordinator_telegram_ids)
    for coordinator in await services.members.staff():
        if coordinator.telegram_id not in targets or not coordinator.is_coordinator:
            continue
        _ = services.i18n.for_user(coordinator.chosen_language, coordinator.telegram_language)
        card = await services.volunteers.application(coordinator.telegram_id, saved.view.member_id)
        if isinstance(card, Outcome):
            continue
        try:
            await context.bot.send_message(
                coordinator.telegram_id,
                _("{name} added a skill that needs your check.", name=saved.view.display_name)
                + "\n\n"
                + application_card(card, _),
                reply_markup=application_keyboard(card, _),
            )
        except Forbidden:
            await services.members.mark_unreachable(coordinator.telegram_id)
        except TelegramError as error:
            # The card's Verify button is the only way in: worth a warning, not a failure.
            log.warning("could not ask coordinator %s to verify: %s", coordinator.id, error)


async def on_button(update: Update, context: BrigadeContext) -> str | int:
    """Route a profile button to its field; stale buttons from other prompts re-ask."""
    who = await _who(update, context)
    _ = who._
    query = update.callback_query
    assert query is not None
    state = _current_state(context)
    parsed = callbacks.parse(query.data)
    if parsed is None or parsed.action is not Action.PROFILE or state is None:
        await query.answer(_(NO_LONGER_VALID))
        return state or ConversationHandler.END
    step, value = parsed.str_arg(0), parsed.str_arg(1)
    draft = _draft(context)
    service = profile_service(context)
    telegram_id = who.member.telegram_id

    async def save(result: ProfileView | Outcome, note: str = "") -> str | int:
        """Answer the tap, then show what the save gave."""
        await query.answer()
        return await _saved(update, context, who, result, note)

    if step == "back":
        await query.answer()
        if state == CONFIRM_PLACE:
            return await ask_place(update, context, who)
        return await _back_to_profile(update, context, who)
    if state == CONFIRM_PLACE and step == "place":
        if value == "yes":
            return await save(
                await service.set_place(
                    telegram_id, draft["lat"], draft["lon"], draft.get("address")
                )
            )
        await query.answer()
        return await ask_place(update, context, who)
    if state == NEIGHBOURHOOD and step == "nb" and value.isdigit():
        return await save(await service.set_neighbourhood(telegram_id, int(value)))
    if state == RADIUS and step == "radius" and value.isdigit():
        radius = float(value)
        if radius in RADIUS_CHOICES_KM:
            return await save(await service.set_radius(telegram_id, radius))
    if state == SKILLS and step == "skill" and value.isdigit():
        draft["skills"] = sorted(set(draft.get("skills", [])) ^ {int(value)})
        await query.answer()
        await query.edit_message_reply_markup(await _skills_keyboard(context, _))
        return SKILLS
    if state == SKILLS and step == "skills":
        if not draft.get("skills"):
            await query.answer(_("Choose at least one skill."), show_alert=True)
            return SKILLS
        saved = await service.set_skills(telegram_id, draft["skills"])
        if not isinstance(saved, SkillsSaved):
            return await save(saved)
        note = ""
        if saved.awaiting_verification:
            note = _("A coordinator will check your new skill before you receive such requests.")
        next_state = await save(saved.view, note)
        if saved.coordinator_telegram_ids:
            await _tell_coordinators(context, saved)
        return next_state
    if state == AVAILABILITY and step in {"slot", "preset"}:
        before = {(int(day), str(period)) for day, period in draft.get("slots", [])}
        slots = set(before)
        if step == "preset" and value in PRESETS:
            days, periods = PRESETS[value]
            slots = {(day, period) for day in days for period in periods}
        elif step == "preset" and value == "clear":
            slots = set()
        elif step == "slot" and re.fullmatch(r"[0-6]-(morning|afternoon|evening)", value):
            day, period = value.split("-")
            slots ^= {(int(day), period)}
        draft["slots"] = [list(slot) for slot in sorted(slots)]
        await query.answer()
        if slots != before:  # Telegram refuses an edit that changes nothing
            await query.edit_message_reply_markup(_availability_keyboard(context, _))
        return AVAILABILITY
    if state == AVAILABILITY and step == "avail":
        slots_chosen = [(int(day), str(period)) for day, period in draft.get("slots", [])]
        return await save(await service.set_availability(telegram_id, slots_chosen))
    if state == QUIET and step == "quiet" and value in QUIET_PRESETS:
        window = QUIET_PRESETS[value]
        start, end = window if window is not None else (None, None)
        return await save(await service.set_quiet_hours(telegram_id, start, end))
    if state == CAP and step == "cap":
        if value == "none":
            return await save(await service.set_weekly_cap(telegram_id, None))
        if value.isdigit() and int(value) in WEEKLY_CAP_CHOICES:
            return await save(await service.set_weekly_cap(telegram_id, int(value)))
    await query.answer(_(NO_LONGER_VALID))
    return state


def build_profile_conversation() -> ConversationHandler[BrigadeContext]:
    """Editing one field of the profile, persistent across restarts."""
    private = filters.ChatType.PRIVATE
    text = private & filters.TEXT & ~filters.COMMAND
    anything_else: list[BaseHandler[Update, BrigadeContext, Any]] = [
        # Only this conversation's own stale buttons: any other button (language, pause,
        # a coordinator's Verify…) keeps working during an edit, through its own handler.
        CallbackQueryHandler(_tracking(reask), pattern=rf"^{Action.PROFILE.value}:"),
        MessageHandler(private & ~filters.COMMAND, _tracking(reask)),
    ]
    buttons = CallbackQueryHandler(_tracking(on_button), pattern=rf"^{Action.PROFILE.value}:")
    states: dict[object, list[BaseHandler[Update, BrigadeContext, Any]]] = {
        NAME: [MessageHandler(text, _tracking(on_name))],
        PHONE: [
            MessageHandler(private & filters.CONTACT, _tracking(on_phone)),
            MessageHandler(text, _tracking(on_phone)),
        ],
        PLACE: [
            MessageHandler(private & filters.LOCATION, _tracking(on_place_pin)),
            MessageHandler(text, _tracking(on_place_text)),
        ],
    }
    for state in (CONFIRM_PLACE, NEIGHBOURHOOD, RADIUS, SKILLS, AVAILABILITY, QUIET, CAP):
        states[state] = [buttons]
    # The location button of the place prompt may still be on screen while confirming.
    states[CONFIRM_PLACE].append(
        MessageHandler(private & filters.LOCATION, _tracking(on_place_pin))
    )
    for state in STATES:
        states.setdefault(state, []).extend(anything_else)
    with warnings.catch_warnings():
        # PTB warns that per_message=False does not track buttons per message: intended, the
        # state is per person and stale buttons are re-checked against the stored state.
        warnings.simplefilter("ignore")
        return ConversationHandler(
            entry_points=[
                CallbackQueryHandler(
                    _tracking(start_edit), pattern=rf"^{Action.PROFILE.value}:edit:"
                ),
            ],
            states=states,
            fallbacks=[
                CommandHandler("cancel", cancel),
                CommandHandler("profile", profile_during_edit, filters=private),
                MessageHandler(private & filters.COMMAND, _tracking(_command_during_edit)),
            ],
            name="profile",
            persistent=True,
            # A ✏️ button of an older card switches to that field.
            allow_reentry=True,
        )


async def on_stale_profile_button(update: Update, context: BrigadeContext) -> None:
    """A profile button tapped after its edit ended: say so."""
    query = update.callback_query
    who = await speaker(update, context)
    if query is None or who is None:
        return
    expired = expired_notice(context, who.member.telegram_id, who._)
    await query.answer(
        expired or who._("This button is no longer valid. Send /profile to see your profile."),
        show_alert=expired is not None,
    )


# --- pause and resume --------------------------------------------------------------------------


def pause_keyboard(_: Translator) -> InlineKeyboardMarkup:
    """The pause durations."""
    buttons = [
        InlineKeyboardButton(_(label), callback_data=callbacks.encode(Action.PAUSE, word))
        for word, label in PAUSE_CHOICES
    ]
    return InlineKeyboardMarkup([buttons[:2], buttons[2:3], buttons[3:]])


def _pause_question(view: ProfileView, _: Translator, tz: tzinfo) -> str:
    if view.paused_until is None:
        return _("For how long do you want to receive no request?")
    if view.paused_indefinitely:
        now = _("You receive no request until you send /resume.")
    else:
        now = _(
            "You receive no request until {date}.",
            date=_long_date(view.paused_until, _, tz),
        )
    return now + "\n" + _("Choose another duration, or send /resume to receive requests again.")


def _paused_text(view: ProfileView, _: Translator, tz: tzinfo) -> str:
    if view.paused_until is None or view.paused_indefinitely:
        return _("Paused. You will receive no request until you send /resume.")
    return _(
        "Paused. You will receive no request until {date}. Send /resume to come back earlier.",
        date=_long_date(view.paused_until, _, tz),
    )


def _resumed_text(result: ProfileView | Outcome, _: Translator) -> str:
    if isinstance(result, ProfileView):
        return _("Welcome back! You will receive requests again.")
    if result is Outcome.ALREADY_DONE:
        return _("You were not paused: you already receive requests.")
    return _(NOT_A_VOLUNTEER)


async def pause_command(update: Update, context: BrigadeContext) -> None:
    """/pause: offer the durations (and say until when if already paused)."""
    who = await speaker(update, context)
    if who is None or update.effective_message is None:
        return
    view = await profile_service(context).view(who.member.telegram_id)
    if isinstance(view, Outcome):
        await update.effective_message.reply_text(who._(NOT_A_VOLUNTEER))
        return
    await update.effective_message.reply_text(
        _pause_question(view, who._, context.services.settings.tz),
        reply_markup=pause_keyboard(who._),
    )


async def resume_command(update: Update, context: BrigadeContext) -> None:
    """/resume: receive requests again."""
    who = await speaker(update, context)
    if who is None or update.effective_message is None:
        return
    result = await profile_service(context).resume(who.member.telegram_id)
    await update.effective_message.reply_text(_resumed_text(result, who._))


async def on_pause_button(update: Update, context: BrigadeContext) -> None:
    """A pause duration, the card's ⏸ (show durations) or ▶️ (resume)."""
    query = update.callback_query
    who = await speaker(update, context)
    if query is None or who is None:
        return
    _ = who._
    parsed = callbacks.parse(query.data)
    word = parsed.str_arg(0) if parsed is not None and parsed.action is Action.PAUSE else ""
    service = profile_service(context)
    telegram_id = who.member.telegram_id  # whoever tapped: one can only pause oneself
    tz = context.services.settings.tz
    if word == "menu":
        view = await service.view(telegram_id)
        if isinstance(view, Outcome):
            await query.answer(_(NOT_A_VOLUNTEER), show_alert=True)
            return
        await query.answer()
        await _say(update, _pause_question(view, _, tz), pause_keyboard(_))
        return
    if word == "resume":
        resumed = await service.resume(telegram_id)
        await query.answer()
        await _say(update, _resumed_text(resumed, _))
        return
    until = pause_end(word, context.services.clock())
    if until is None:
        await query.answer(_(NO_LONGER_VALID))
        return
    paused = await service.pause(telegram_id, until)
    if isinstance(paused, Outcome):
        await query.answer(_(NOT_A_VOLUNTEER), show_alert=True)
        return
    await query.answer()
    try:
        await query.edit_message_text(_paused_text(paused, _, tz))
    except TelegramError as error:
        # The choice is saved either way; a message too old to edit gets the answer anew.
        log.debug("pause menu not edited: %s", error)
        await _say(update, _paused_text(paused, _, tz))
