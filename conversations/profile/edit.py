"""Editing one answer of the profile: a short persistent conversation per ✏️ button.

The working copy (`ProfileDraft`) starts from the profile as it is; nothing is stored until the
field's save, which goes through one ProfileService method and is followed by the updated card.
⬅ (and /profile) leave the field unchanged and show the card again; a ✏️ button of an older
card switches to its field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from telegram import ReplyKeyboardRemove
from telegram.ext import ConversationHandler

from bot.callbacks import Action, Callback
from bot.context import BrigadeContext
from bot.i18n import N_
from bot.messages.applications import SKILL_TO_CHECK
from bot.messages.reach import reach_warning
from bot.services.outcomes import Outcome
from bot.services.profile import (
    MAX_NAME_LENGTH,
    QUIET_PRESETS,
    WEEKLY_CAP_CHOICES,
    ProfileView,
    SkillsSaved,
)
from conversations import pickers
from conversations.base import (
    BACK_LABEL,
    END,
    Conversation,
    Markup,
    State,
    Texts,
    Turn,
    choices,
    reply_keyboard,
)
from conversations.places import (
    Spot,
    offer_neighbourhoods,
    own_place_questions,
    pin_of,
)
from conversations.profile.card import (
    EDIT_BUTTONS,
    NOT_A_VOLUNTEER,
    Field,
    profile_card,
    profile_keyboard,
    profile_message,
    quiet_hours_label,
)

REMOVE_PHONE_LABEL = N_("Remove my number")


@dataclass
class ProfileDraft:
    """The working copy the questions start from."""

    SLOTS_CLEARABLE: ClassVar[bool] = True

    name: str = ""
    has_phone: bool = False
    place: Spot | None = None
    neighbourhood_id: int | None = None
    radius_km: float = 0.0
    skill_ids: list[int] = field(default_factory=list)
    slots: list[pickers.Slot] = field(default_factory=list)
    quiet: tuple[int, int] | None = None
    weekly_cap: int | None = None

    @classmethod
    def of(cls, view: ProfileView) -> ProfileDraft:
        """The profile as it is."""
        quiet = None
        if view.quiet_start_minute is not None and view.quiet_end_minute is not None:
            quiet = (view.quiet_start_minute, view.quiet_end_minute)
        place = None
        if view.latitude is not None and view.longitude is not None:
            place = Spot(view.latitude, view.longitude, view.address)
        return cls(
            name=view.display_name,
            has_phone=view.phone is not None,
            place=place,
            neighbourhood_id=view.neighbourhood_id,
            radius_km=view.radius_km,
            skill_ids=list(view.skill_ids),
            slots=list(view.availability),
            quiet=quiet,
            weekly_cap=view.weekly_cap,
        )


PROFILE = Conversation(
    "profile",
    Action.PROFILE,
    ProfileDraft,
    Texts(
        cancelled=N_("Nothing was changed. Send /profile to see your profile."),
        busy=N_("You are changing your profile. Answer the question above, or send /cancel."),
        ended=(N_("This button is no longer valid. Send /profile to see your profile."),),
    ),
    allow_reentry=True,
)
Turn_ = Turn[ProfileDraft]


QUIET_CHOICES = list(QUIET_PRESETS)
CAPS = ["none", *map(str, WEEKLY_CAP_CHOICES)]
PHONE_TEXTS = pickers.PhoneTexts(
    none=REMOVE_PHONE_LABEL,
    not_a_number=N_(
        "That does not look like a phone number. Share it with the button, or type it."
    ),
)


@PROFILE.previous
def _previous(turn: Turn_) -> str | None:
    """⬅ from the place found leads to the place; from any field, back to the card."""
    return Field.PLACE if turn.state == Field.CONFIRM_PLACE else None


@PROFILE.leaving
async def back_to_profile(turn: Turn_) -> State:
    """Leave the field unchanged and show the card again."""
    await turn.say(turn._("Nothing was changed."), ReplyKeyboardRemove())
    await turn.say(*await profile_message(turn.context, turn.who))
    return END


# --- the questions -----------------------------------------------------------------------------

PROFILE.prompt(
    Field.NAME,
    N_("What name should the coordinators and referents see? Now: {name}"),
    reply_keyboard([BACK_LABEL]),
    name=lambda turn: turn.draft.name,
)
on_place_text = own_place_questions(PROFILE, Field.PLACE, Field.CONFIRM_PLACE, back_on_confirm=True)


@PROFILE.question(Field.RADIUS)
async def ask_radius(turn: Turn_) -> State:
    """The distances, the current one ticked; first why none reaches a neighbourhood, if so."""
    _, draft = turn._, turn.draft
    reach = None
    if draft.place is not None:
        reach = await turn.services.neighbourhoods.reach(
            draft.place.latitude, draft.place.longitude, draft.radius_km
        )
    offered = pickers.radii(reach.suggested_km if reach else None, draft.radius_km)
    keyboard = choices("radius", offered, per_row=4, ticked=lambda turn: int(draft.radius_km))
    text = _(pickers.RADIUS_QUESTION)
    warning = reach_warning(reach, _)
    await turn.say(f"{warning}\n\n{text}" if warning else text, keyboard(turn))
    return None


PROFILE.question(Field.SKILLS)(pickers.ask_skills)
PROFILE.question(Field.AVAILABILITY)(pickers.ask_availability)
PROFILE.prompt(
    Field.CAP,
    N_("At most how many requests a week do you want to be offered?"),
    choices(
        "cap",
        [("none", N_("No limit")), *((cap, str(cap)) for cap in WEEKLY_CAP_CHOICES)],
        per_row=(1, len(WEEKLY_CAP_CHOICES)),
        ticked=lambda turn: turn.draft.weekly_cap or "none",
    ),
)


def _phone_keyboard(turn: Turn_) -> Markup:
    """Share, remove the number given (if any), ⬅."""
    rows = [[REMOVE_PHONE_LABEL]] if turn.draft.has_phone else []
    return pickers.share_number(*rows, [BACK_LABEL])(turn)


def _quiet_keyboard(turn: Turn_) -> Markup:
    """The quiet-hours presets, the current one ticked."""
    presets = [
        (key, quiet_hours_label(*window, turn._) if window else N_("No quiet hours"))
        for key, window in QUIET_PRESETS.items()
    ]
    current = [key for key, window in QUIET_PRESETS.items() if window == turn.draft.quiet]
    return choices("quiet", presets, ticked=lambda _turn: current[0] if current else None)(turn)


PROFILE.prompt(Field.PHONE, pickers.OWN_PHONE_QUESTION, _phone_keyboard)
PROFILE.prompt(
    Field.QUIET,
    N_(
        "During your quiet hours, no request is sent to you (times of {town}). "
        "Which quiet hours do you want?"
    ),
    _quiet_keyboard,
    # Without a town name of its own, its time zone ("Europe/Paris") says which times.
    town=lambda turn: turn.services.settings.town or turn.services.settings.timezone,
)


@PROFILE.question(Field.NEIGHBOURHOOD)
async def ask_neighbourhood(turn: Turn_) -> State:
    """The neighbourhoods, nearest to the volunteer's place first, the current one ticked."""
    draft = turn.draft
    if await offer_neighbourhoods(turn, draft.place, star=False, ticked=draft.neighbourhood_id):
        return None
    await turn.say(turn._("The brigade has no neighbourhood yet."))
    return await back_to_profile(turn)


# --- entry and saving --------------------------------------------------------------------------


async def start_edit(turn: Turn_, button: Callback) -> State:
    """Begin editing the field of the tapped ✏️ button."""
    view = await turn.services.profile.view(turn.user_id)
    if isinstance(view, Outcome):
        await turn.answer(turn._(NOT_A_VOLUNTEER), alert=True)
        return END
    turn.draft = ProfileDraft.of(view)
    return await turn.ask(button.str_arg(1))


async def _saved(turn: Turn_, result: ProfileView | Outcome, note: str = "") -> State:
    """Show the updated card after a save, or say why it was not saved."""
    _ = turn._
    await turn.answer()
    if isinstance(result, ProfileView):
        if turn.state in {Field.PLACE, Field.CONFIRM_PLACE, Field.RADIUS}:
            # Where the volunteer or their distance changed: say at once if it reaches nothing.
            note = reach_warning(result.reach, _) or note
        # A separate message: only it can take the reply keyboard of a text step away.
        await turn.say("\n".join(filter(None, [_("✅ Saved."), note])), ReplyKeyboardRemove())
        tz = turn.services.settings.tz
        await turn.say(profile_card(result, _, tz), profile_keyboard(result, _))
        return END
    if result is Outcome.INVALID and turn.state is not None:
        await turn.say(_("This answer cannot be saved. Please answer again."))
        return await turn.ask(turn.state)
    await turn.say(_(NOT_A_VOLUNTEER), ReplyKeyboardRemove())
    return END


async def on_name(turn: Turn_) -> State:
    """Save the typed name."""
    result = await turn.services.profile.rename(turn.user_id, turn.message.text or "")
    if result is Outcome.INVALID:
        await turn.say(
            turn._(
                "Please send a name of 1 to {max} characters, e.g. your first name.",
                max=MAX_NAME_LENGTH,
            )
        )
        return None
    return await _saved(turn, result)


async def on_phone(turn: Turn_) -> State:
    """Save the shared or typed number, or remove it."""
    phone = await pickers.phone_reply(turn, PHONE_TEXTS)
    if phone is pickers.Again.ASKED:
        return None
    return await _saved(turn, await turn.services.profile.set_phone(turn.user_id, phone))


async def on_place_pin(turn: Turn_) -> State:
    """Save a shared location, named by its street when the geocoder can."""
    latitude, longitude, place = await pin_of(turn)
    address = (place.area_label or place.label) if place is not None else None
    result = await turn.services.profile.set_place(turn.user_id, latitude, longitude, address)
    return await _saved(turn, result)


async def on_place_confirmed(turn: Turn_, button: Callback) -> State:
    """Yes: save the place found."""
    place = turn.draft.place
    if place is None:
        return await turn.ask(Field.PLACE)
    result = await turn.services.profile.set_place(
        turn.user_id, place.latitude, place.longitude, place.label
    )
    return await _saved(turn, result)


async def on_place_refused(turn: Turn_, button: Callback) -> State:
    """No: the place again."""
    return await turn.ask(Field.PLACE)


async def on_neighbourhood(turn: Turn_, button: Callback) -> State:
    """Save the neighbourhood tapped (the service checks it exists)."""
    value = button.str_arg(1)
    if not value.isdigit():
        return await turn.stale()
    result = await turn.services.profile.set_neighbourhood(turn.user_id, int(value))
    return await _saved(turn, result)


async def on_radius(turn: Turn_, button: Callback) -> State:
    """Save the distance."""
    result = await turn.services.profile.set_radius(turn.user_id, float(button.str_arg(1)))
    return await _saved(turn, result)


async def on_skills_done(turn: Turn_, button: Callback) -> State:
    """Save the skills; the coordinators are asked to check the new ones that need it."""
    if not await pickers.some_skill(turn):
        return None
    saved = await turn.services.profile.set_skills(turn.user_id, turn.draft.skill_ids)
    if not isinstance(saved, SkillsSaved):
        return await _saved(turn, saved)
    note = ""
    if saved.awaiting_verification:
        note = turn._("A coordinator will check your new skill before you receive such requests.")
    next_state = await _saved(turn, saved.view, note)
    if saved.coordinator_telegram_ids:
        await turn.services.volunteers.send_card(
            saved.view.member_id, SKILL_TO_CHECK, name=saved.view.display_name
        )
    return next_state


async def on_availability_done(turn: Turn_, button: Callback) -> State:
    """Save the availability."""
    result = await turn.services.profile.set_availability(turn.user_id, turn.draft.slots)
    return await _saved(turn, result)


async def on_quiet_hours(turn: Turn_, button: Callback) -> State:
    """Save the quiet hours chosen."""
    start, end = QUIET_PRESETS[button.str_arg(1)] or (None, None)
    result = await turn.services.profile.set_quiet_hours(turn.user_id, start, end)
    return await _saved(turn, result)


async def on_weekly_cap(turn: Turn_, button: Callback) -> State:
    """Save the weekly limit chosen."""
    value = button.str_arg(1)
    cap = None if value == "none" else int(value)
    return await _saved(turn, await turn.services.profile.set_weekly_cap(turn.user_id, cap))


# --- the conversation --------------------------------------------------------------------------


def build_profile_conversation() -> ConversationHandler[BrigadeContext]:
    """Editing one field of the profile, persistent across restarts."""
    place = [PROFILE.pin(on_place_pin), PROFILE.text(on_place_text)]
    fields = [field for field, _label in EDIT_BUTTONS]
    return PROFILE.build(
        entry_points=[PROFILE.start_tap(start_edit, verb="edit", values=fields)],
        states={
            Field.NAME: [PROFILE.text(on_name)],
            Field.PHONE: [PROFILE.contact(on_phone), PROFILE.text(on_phone)],
            Field.PLACE: place,
            Field.CONFIRM_PLACE: [
                PROFILE.on("place", on_place_confirmed, values=["yes"]),
                PROFILE.on("place", on_place_refused),
                # The location button of the place question may still be on screen.
                place[0],
            ],
            Field.NEIGHBOURHOOD: [PROFILE.on("nb", on_neighbourhood)],
            Field.RADIUS: pickers.radius_handlers(PROFILE, on_radius),
            Field.SKILLS: pickers.skills_handlers(PROFILE, on_skills_done),
            Field.AVAILABILITY: pickers.availability_handlers(PROFILE, on_availability_done),
            Field.QUIET: [PROFILE.on("quiet", on_quiet_hours, values=QUIET_CHOICES)],
            Field.CAP: [PROFILE.on("cap", on_weekly_cap, values=CAPS)],
        },
        fallbacks=[PROFILE.command("profile", back_to_profile)],
    )
