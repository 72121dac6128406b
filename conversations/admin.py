"""Coordinators' guided creations: a new neighbourhood (name, centre, radius), a new skill (label,
whether a coordinator checks each volunteer). Entered from the ➕ buttons of /neighbourhoods and
/skills; only coordinators get through (the route checks the role at every step).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from enum import StrEnum

from telegram import (
    ReplyKeyboardRemove,
)
from telegram.ext import ConversationHandler

from bot import formats
from bot.callbacks import Action, Callback
from bot.context import BrigadeContext
from bot.domain.vocabulary import Role
from bot.i18n import N_
from bot.services.outcomes import Outcome
from conversations.base import END, Conversation, State, Texts, Turn, choices
from conversations.places import AddressTexts, Spot, address_said, location
from handlers.admin import neighbourhoods_screen, skills_screen


class Step(StrEnum):
    """The creations' steps (stored between updates: keep the values)."""

    NB_NAME = "nb_name"
    NB_PLACE = "nb_place"
    NB_RADIUS = "nb_radius"
    SKILL_LABEL = "skill_label"
    SKILL_VERIFY = "skill_verify"


RADII_KM = ("0.5", "1", "2", "3", "5")
# In the buttons' data: tenths of a kilometre (callback data carries whole numbers).
RADII_TENTHS = [int(float(km) * 10) for km in RADII_KM]
MAX_NAME_LENGTH = 120
BAD_NAME = N_("Please send a name of 1 to 120 characters.")
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


ADMIN.prompt(Step.NB_NAME, N_("Name of the new neighbourhood? (/cancel to stop)"))
ADMIN.prompt(
    Step.NB_PLACE,
    N_(
        "Where is its centre? Send a location pin (📎 → Location, then move the map), "
        "or type a place such as a square or a street with the town."
    ),
    location(N_("📍 Send a location"), with_back=False),
)
ADMIN.prompt(
    Step.NB_RADIUS,
    N_("How large is the neighbourhood (radius around its centre)?"),
    choices(
        "radius",
        [
            (tenths, functools.partial(formats.kilometres, float(km)))
            for km, tenths in zip(RADII_KM, RADII_TENTHS, strict=True)
        ],
        per_row=len(RADII_KM),
        with_back=False,
    ),
)
ADMIN.prompt(
    Step.SKILL_LABEL, N_("Name of the new skill, as volunteers will see it? (/cancel to stop)")
)
ADMIN.prompt(
    Step.SKILL_VERIFY,
    N_("Must a coordinator check each volunteer before they receive such requests?"),
    choices(
        "verify",
        [(1, N_("Yes, check each volunteer")), (0, N_("No"))],
        per_row=2,
        with_back=False,
        action=Action.SKILL_ADMIN,
    ),
)


# --- a neighbourhood ---------------------------------------------------------------------------


async def new_neighbourhood(turn: Turn_, button: Callback) -> State:
    """➕ New neighbourhood: its name."""
    return await turn.ask(Step.NB_NAME)


async def on_centre_pin(turn: Turn_) -> State:
    """Keep the pin as the centre; ask for the radius."""
    location_ = turn.message.location
    assert location_ is not None
    turn.draft.centre = Spot(location_.latitude, location_.longitude)
    return await turn.ask(Step.NB_RADIUS)


async def on_centre_text(turn: Turn_) -> State:
    """Keep the place typed (geocoded) as the centre; ask for the radius."""
    place = await address_said(turn, CENTRE, N_("Found: {address}"))
    if place is None:
        return None
    turn.draft.centre = Spot.of(place)
    return await turn.ask(Step.NB_RADIUS)


async def create_neighbourhood(turn: Turn_, button: Callback) -> State:
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
        return Step.NB_NAME
    await turn.say(_("Neighbourhood {name} created.", name=result.name), ReplyKeyboardRemove())
    await turn.say(*await neighbourhoods_screen(turn.context, _))
    return END


# --- a skill -----------------------------------------------------------------------------------


async def new_skill(turn: Turn_, button: Callback) -> State:
    """➕ Add a skill: its label."""
    return await turn.ask(Step.SKILL_LABEL)


async def add_skill(turn: Turn_, button: Callback) -> State:
    """Add the skill and show the catalogue."""
    _ = turn._
    result = await turn.services.skills.add(
        turn.user_id, turn.draft.name, requires_verification=button.int_arg(1) == 1
    )
    await turn.answer()
    if isinstance(result, Outcome):
        await turn.say(_("A skill with this name exists already. Send another name:"))
        return Step.SKILL_LABEL
    text, keyboard = await skills_screen(turn.context, _)
    await turn.say(_("Skill added.") + "\n\n" + text, keyboard)
    return END


def build_admin_conversation() -> ConversationHandler[BrigadeContext]:
    """Neighbourhood and skill creation, persistent across restarts."""
    skill = Action.SKILL_ADMIN
    return ADMIN.build(
        entry_points=[
            ADMIN.start_tap(new_neighbourhood, verb="new"),
            ADMIN.start_tap(new_skill, action=skill, verb="add"),
        ],
        states={
            Step.NB_NAME: [ADMIN.keep_text("name", MAX_NAME_LENGTH, BAD_NAME, then=Step.NB_PLACE)],
            Step.NB_PLACE: [ADMIN.pin(on_centre_pin), ADMIN.text(on_centre_text)],
            Step.NB_RADIUS: [ADMIN.on("radius", create_neighbourhood, values=RADII_TENTHS)],
            Step.SKILL_LABEL: [
                ADMIN.keep_text("name", MAX_NAME_LENGTH, BAD_NAME, then=Step.SKILL_VERIFY)
            ],
            Step.SKILL_VERIFY: [ADMIN.on("verify", add_skill, values=[0, 1], action=skill)],
        },
    )
