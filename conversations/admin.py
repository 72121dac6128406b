"""Coordinators' guided creations: a new neighbourhood (name, centre, radius), a new skill (label,
whether a coordinator checks each volunteer). Entered from the ➕ buttons of /neighbourhoods and
/skills; only coordinators get through (the route checks the role at every step).
"""

from __future__ import annotations

from dataclasses import dataclass

from telegram import (
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)
from telegram.ext import ConversationHandler

from bot.callbacks import Action, Callback
from bot.context import BrigadeContext
from bot.domain.vocabulary import Role
from bot.i18n import N_
from bot.services.outcomes import Outcome
from conversations.base import END, Conversation, State, Texts, Turn
from conversations.places import AddressTexts, Spot, find_address
from handlers.admin import neighbourhoods_screen, skills_screen

# Conversation states: strings, because they are stored in the database between updates.
NB_NAME, NB_PLACE, NB_RADIUS = "nb_name", "nb_place", "nb_radius"
SKILL_LABEL, SKILL_VERIFY = "skill_label", "skill_verify"
NEIGHBOURHOOD_RADII_KM = ("0.5", "1", "2", "3", "5")
# In the buttons' data: tenths of a kilometre (callback data carries whole numbers).
RADII_TENTHS = [int(float(km) * 10) for km in NEIGHBOURHOOD_RADII_KM]
MAX_NAME_LENGTH = 120
NOT_FOUND = N_("I could not find this place. Try another wording, or send a pin.")
CENTRE = AddressTexts(
    too_short=NOT_FOUND,
    unavailable=N_("Address search is not available right now. Please send a pin."),
    not_found=NOT_FOUND,
    min_length=1,
)


@dataclass
class AdminDraft:
    """The neighbourhood's name and centre, or the skill's label (in `name`)."""

    name: str = ""
    centre: Spot | None = None


ADMIN = Conversation(
    "admin",
    Action.NEIGHBOURHOOD,
    AdminDraft,
    Texts(
        cancelled=N_("Cancelled. Nothing was created."),
        not_understood=N_("Sorry, I did not understand that answer. Try again, or send /cancel."),
    ),
    role=Role.COORDINATOR,
    # The screens' other buttons (group posts, retire, restore) work through their own handlers.
    owns_action=False,
)
Turn_ = Turn[AdminDraft]


async def _named(turn: Turn_) -> bool:
    """Keep a name of 1 to 120 characters, or ask for one."""
    if not 1 <= len(turn.text) <= MAX_NAME_LENGTH:
        await turn.say(turn._("Please send a name of 1 to 120 characters."))
        return False
    turn.draft.name = turn.text
    return True


# --- a neighbourhood ---------------------------------------------------------------------------


async def start_neighbourhood(turn: Turn_, button: Callback) -> State:
    """➕ New neighbourhood: its name."""
    await turn.answer()
    await turn.say(turn._("Name of the new neighbourhood? (/cancel to stop)"))
    return NB_NAME


async def on_neighbourhood_name(turn: Turn_) -> State:
    """Keep the name; ask for its centre."""
    if not await _named(turn):
        return None
    keyboard = ReplyKeyboardMarkup(
        [[KeyboardButton(turn._("📍 Send a location"), request_location=True)]],
        resize_keyboard=True,
        one_time_keyboard=True,
    )
    await turn.say(
        turn._(
            "Where is its centre? Send a location pin (📎 → Location, then move the map), "
            "or type a place such as a square or a street with the town."
        ),
        keyboard,
    )
    return NB_PLACE


async def on_neighbourhood_pin(turn: Turn_) -> State:
    """Keep the pin as the centre; ask for the radius."""
    location = turn.message.location
    assert location is not None
    turn.draft.centre = Spot(location.latitude, location.longitude)
    return await _ask_radius(turn)


async def on_neighbourhood_place(turn: Turn_) -> State:
    """Keep the place typed (geocoded) as the centre; ask for the radius."""
    place = await find_address(turn, CENTRE)
    if place is None:
        return None
    turn.draft.centre = Spot.of(place)
    await turn.say(turn._("Found: {address}", address=place.label), ReplyKeyboardRemove())
    return await _ask_radius(turn)


async def _ask_radius(turn: Turn_) -> State:
    row = [
        ADMIN.button(f"{km} km", "radius", tenths)
        for km, tenths in zip(NEIGHBOURHOOD_RADII_KM, RADII_TENTHS, strict=True)
    ]
    await turn.say(
        turn._("How large is the neighbourhood (radius around its centre)?"),
        InlineKeyboardMarkup([row]),
    )
    return NB_RADIUS


async def on_neighbourhood_radius(turn: Turn_, button: Callback) -> State:
    """Create the neighbourhood and show the list."""
    _, draft = turn._, turn.draft
    if draft.centre is None:
        return await turn.stale()
    result = await turn.services.neighbourhoods.create(
        turn.user_id,
        draft.name,
        draft.centre.latitude,
        draft.centre.longitude,
        button.int_arg(1) / 10,
    )
    await turn.answer()
    if isinstance(result, Outcome):
        await turn.say(
            _("This name is already used, or the place is not valid. Send another name:")
        )
        return NB_NAME
    await turn.say(_("Neighbourhood {name} created.", name=result.name), ReplyKeyboardRemove())
    await turn.say(*await neighbourhoods_screen(turn.context, _))
    return END


# --- a skill -----------------------------------------------------------------------------------


async def start_skill(turn: Turn_, button: Callback) -> State:
    """➕ Add a skill: its label."""
    await turn.answer()
    await turn.say(turn._("Name of the new skill, as volunteers will see it? (/cancel to stop)"))
    return SKILL_LABEL


async def on_skill_label(turn: Turn_) -> State:
    """Keep the label; ask whether it needs verification."""
    _ = turn._
    if not await _named(turn):
        return None
    verify = [
        ADMIN.button(_("Yes, check each volunteer"), "verify", 1, action=Action.SKILL_ADMIN),
        ADMIN.button(_("No"), "verify", 0, action=Action.SKILL_ADMIN),
    ]
    await turn.say(
        _("Must a coordinator check each volunteer before they receive such requests?"),
        InlineKeyboardMarkup([verify]),
    )
    return SKILL_VERIFY


async def on_skill_verify(turn: Turn_, button: Callback) -> State:
    """Add the skill and show the catalogue."""
    _ = turn._
    result = await turn.services.skills.add(
        turn.user_id, turn.draft.name, requires_verification=button.int_arg(1) == 1
    )
    await turn.answer()
    if isinstance(result, Outcome):
        await turn.say(_("A skill with this name exists already. Send another name:"))
        return SKILL_LABEL
    text, keyboard = await skills_screen(turn.context, _)
    await turn.say(_("Skill added.") + "\n\n" + text, keyboard)
    return END


def build_admin_conversation() -> ConversationHandler[BrigadeContext]:
    """Neighbourhood and skill creation, persistent across restarts."""
    skill = Action.SKILL_ADMIN
    return ADMIN.build(
        entry_points=[
            ADMIN.start_tap(start_neighbourhood, verb="new"),
            ADMIN.start_tap(start_skill, action=skill, verb="add"),
        ],
        states={
            NB_NAME: [ADMIN.text(on_neighbourhood_name)],
            NB_PLACE: [ADMIN.pin(on_neighbourhood_pin), ADMIN.text(on_neighbourhood_place)],
            NB_RADIUS: [ADMIN.on("radius", on_neighbourhood_radius, values=RADII_TENTHS)],
            SKILL_LABEL: [ADMIN.text(on_skill_label)],
            SKILL_VERIFY: [ADMIN.on("verify", on_skill_verify, values=[0, 1], action=skill)],
        },
    )
